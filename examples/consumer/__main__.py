"""`pulumi up` runs this: the whole program lives in program.py, where the tests reach it."""

import program

program.main()
