"""The `slipway` command line: thin commands; the logic lives in importable modules.

Each command module exposes `register(app)`; adding a command is one line here.
"""

from __future__ import annotations

import typer

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


def _register() -> None:
    from slipway.commands import preview

    preview.register(app)

    from slipway.commands import deploy

    deploy.register(app)
    __import__("slipway.commands.check", fromlist=["register"]).register(app)
    __import__("slipway.commands.strategy", fromlist=["register"]).register(app)


_register()
