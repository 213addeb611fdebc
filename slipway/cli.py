"""The `slipway` command line: thin commands; the logic lives in importable modules.

Each command module exposes `register(app)`; adding a command is one line here. Command
modules import heavy things (Pulumi, the stacks) inside their functions, so `slipway check`
does not pay for what `slipway preview` needs. The console command is `slipway.entry.run`.

A few things hold for every command, so they live here rather than in each module: a switch
(a boolean flag) is shown without a value placeholder (typer 0.29 shows `<bool>` for one,
which reads as if it took `true`); help paragraphs are reflowed to the terminal (typer keeps a
docstring's line breaks, so wrapped source lines came out ragged); and bad input that escapes
a command still ends as the documented exit 2 with an `error:` line, never as an internal
error.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from slipway import __version__
from slipway.commands import check, deploy, images, preview, secrets, strategy
from slipway.errors import BadInput


def _switches_without_placeholder(params: list[Any]) -> list[Any]:
    """A flag takes no value: show none (an explicit metavar is left as it is)."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


def _reflow(text: str | None) -> str | None:
    """Each paragraph of a docstring on one line, for the terminal to wrap (a paragraph
    starting with a backspace line keeps its breaks, as click's convention says)."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


class SlipwayCommand(TyperCommand):
    """A command whose help shows switches as switches and reads as paragraphs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflow(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _switches_without_placeholder(super().get_params(ctx))


class SlipwayGroup(TyperGroup):
    """The `slipway` group: switches shown as switches, and BadInput from any command
    reported like every command reports it (exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflow(self.help)

    def get_params(self, ctx: Any) -> list[Any]:
        return _switches_without_placeholder(super().get_params(ctx))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BadInput as exc:
            from slipway import say

            say.error(exc)
            raise typer.Exit(code=exc.exit_code) from None


app = typer.Typer(
    name="slipway",
    cls=SlipwayGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"slipway {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Deploy microservices with Pulumi: offline preview, policy checks, diffs.

    Every command finds the project (the folder with Pulumi.yaml) from the current folder
    upwards, or takes --project-dir.

    Exit codes: 0 fine, 1 a mandatory policy violation or a failed deploy, 2 bad input (the
    message names the file and the field; nothing is written), 3 deploy: its automatic
    rollback failed, 70 an internal error (a bug in slipway), 130 interrupted.
    """
    from slipway import redact

    redact.install()  # also when the app is invoked in-process (tests, other programs)


for command_module in (preview, check, deploy, strategy, images, secrets):
    command_module.register(app)
for command_info in app.registered_commands:
    if command_info.cls in (None, TyperCommand):  # typer fills in its own class
        command_info.cls = SlipwayCommand
