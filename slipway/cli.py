"""The `slipway` command line: thin commands; the logic lives in importable modules.

Each command module exposes `register(app)`; adding a command is one line here. Command
modules import heavy things (Pulumi, the stacks) inside their functions, so `slipway check`
does not pay for what `slipway preview` needs. The console command is `slipway.entry.run`.
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
    from slipway import redact

    redact.install()  # also when the app is invoked in-process (tests, other programs)


for command_module in (preview, check, deploy, strategy):
    command_module.register(app)
