"""`slipway images STACK`: the image copies a services stack needs before `pulumi up`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from slipway import say
from slipway.errors import BadInput

FORMATS = ("table", "tsv")


def images(
    stack: Annotated[str, typer.Argument(help="A services stack (Pulumi.<stack>.yaml).")],
    platform_outputs: Annotated[
        Path | None,
        typer.Option(
            "--platform-outputs",
            help="`pulumi stack output --json -s <platform stack>` saved to a file; default: "
            "the outputs recorded in stack-outputs.yaml (never the offline preview's).",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table (people) or tsv: `SOURCE<TAB>DESTINATION`.")
    ] = "table",
    project_dir: Annotated[
        Path | None, typer.Option("--project-dir", help="The project folder (Pulumi.yaml).")
    ] = None,
) -> None:
    """List the copies that put each released image into every target's registry.

    A services stack pulls its images by digest from the registries of its platform stack,
    which start empty; copy them first, e.g. with
    `slipway images prod --platform-outputs p.json --format tsv | while IFS=$'\\t' read -r src
    dst; do crane copy "$src" "$dst"; done` (crane keeps the digest). Nothing is written.
    Exit codes: 0 listed (nothing to copy for a stack without cloud targets), 2 bad input:
    not a services stack, no platform outputs given or recorded, unreadable outputs, a
    target or repository the platform lacks, a version without a digest.
    """
    from slipway import images as im
    from slipway.declared import stack_config
    from slipway.preview import PLATFORM_FROM_PREVIEW, STACK_OUTPUTS, platform_stack_of, prepare
    from slipway.stackfile import resolve_project_dir

    try:
        if fmt not in FORMATS:
            raise BadInput(f"--format {fmt!r} is not one of {', '.join(FORMATS)}", field="--format")
        root = resolve_project_dir(project_dir)
        config = stack_config(root, stack)
        if all(t.cloud == "existing" for t in config.targets):
            print(f"stack {stack}: nothing to copy (no cloud target)")
            return
        if config.layer != "services":
            raise BadInput(
                f"stack {stack!r} is of layer {config.layer!r}; images are copied for a "
                "services stack, whose targets pull from the platform's registries",
                file=f"Pulumi.{stack}.yaml",
                field="slipway:layer",
            )
        from stacks.catalog import load_catalog

        services = load_catalog(root / config.catalog, config.environment)
        if platform_outputs is not None:
            outputs = im.read_platform_outputs(platform_outputs)
            source = str(platform_outputs)
        else:
            job = prepare(root, stack)
            ref = platform_stack_of(job.config, job.project)
            assert ref is not None  # a services stack has a platform
            if any(PLATFORM_FROM_PREVIEW in w for w in job.warnings):
                # the offline preview's registries are mock ones: copying there is a guess
                raise BadInput(
                    f"no outputs of {ref[1]} are recorded in {STACK_OUTPUTS}; pass the "
                    f"deployed platform's with --platform-outputs (`pulumi stack output "
                    f"--json -s {ref[1]} > platform.json`)",
                    field="--platform-outputs",
                )
            outputs = job.stack_outputs.get(ref[1], {})
            source = STACK_OUTPUTS
        targets = [(t.name, t.cloud) for t in config.targets]
        copies = im.plan(services, targets, outputs, source, config.environment)
    except BadInput as exc:
        say.error(exc)
        raise typer.Exit(code=2) from None
    if fmt == "tsv":
        for c in copies:
            sys.stdout.write(f"{c.source}\t{c.destination}\n")
        return
    table = Table("service", "target", "source", "destination")
    for column in table.columns:
        column.overflow = "fold"
    for c in copies:
        table.add_row(c.service, c.target, c.source, c.destination)
    Console(soft_wrap=True).print(table)


def register(app: typer.Typer) -> None:
    """Add `images` to the CLI."""
    app.command("images")(images)
