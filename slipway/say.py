"""Messages to people on stderr: `error:`, `warning:`, `note:`, one way everywhere.

The text is data, never console markup (an error quoting `[/x]` from a stack file must not
crash the printer), and it is never wrapped by the printer: a wrap inside a long value would
split a secret in two halves that the redaction (`slipway.redact`) no longer recognises.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

_err = Console(stderr=True, highlight=False, soft_wrap=True)

STYLES = {"error": "bold red", "warning": "bold yellow", "note": "yellow"}


def say(kind: str, message: object) -> None:
    """Print `<kind>: <message>` to stderr, the label styled, the message as plain text."""
    _err.print(Text.assemble((f"{kind}:", STYLES.get(kind, "bold")), " ", str(message)))


def error(message: object) -> None:
    say("error", message)


def warning(message: object) -> None:
    say("warning", message)


def note(message: object) -> None:
    say("note", message)


def line(message: object, style: str = "") -> None:
    """A plain stderr line (progress of a long command), unwrapped, no markup."""
    _err.print(Text(str(message), style=style))
