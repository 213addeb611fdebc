"""The `slipway` command line: thin commands; the logic lives in importable modules.

Each command module exposes `register(app)`; adding a command is one line here. Command
modules import heavy things (Pulumi, the stacks) inside their functions, so `slipway check`
does not pay for what `slipway preview` needs.
"""

from __future__ import annotations

import typer

from slipway.commands import check, deploy, preview, strategy

app = typer.Typer(
    name="slipway",
    help="Deploy microservices with Pulumi: offline preview, policy checks, diffs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """Deploy microservices with Pulumi: offline preview, policy checks, diffs."""


for command_module in (preview, check, deploy, strategy):
    command_module.register(app)


def run() -> None:
    """The `slipway` command: the CLI, then a prompt exit.

    A preview of a large fleet leaves hundreds of thousands of objects behind; tearing them
    down one by one at interpreter exit took seconds for nothing. Everything the commands
    write is closed and flushed before they return, so this flushes the standard streams
    and logging and leaves with the CLI's exit code.
    """
    import logging
    import os
    import sys

    try:
        app()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            code = code or 1
    os._exit(code)
