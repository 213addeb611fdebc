"""Errors the CLI maps to exit codes (DESIGN.md: 0 fine, 1 mandatory violation, 2 bad input)."""

from __future__ import annotations


class BadInput(Exception):
    """Bad catalog, config or arguments: exit 2, nothing written.

    The message names the file and the field, what was given and what is allowed.
    """

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None):
        self.file = file
        self.field = field
        prefix = ""
        if file:
            prefix = f"{file}: "
        if field:
            prefix += f"{field}: "
        super().__init__(prefix + message)


class ToolMissing(BadInput):
    """A code path needs something this machine lacks (the Pulumi CLI): exit 2, say how to fix."""
