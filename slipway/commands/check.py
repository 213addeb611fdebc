"""`slipway check PATH...`: the policy pack on Kubernetes YAML files or folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from slipway import say
from slipway.errors import BadInput

out_console = Console()
err_console = Console(stderr=True)


def check(
    paths: Annotated[
        list[Path], typer.Argument(help="YAML files or folders (multi-document files are fine).")
    ],
    stack: Annotated[
        str,
        typer.Option("--stack", "-s", help="Policy config to apply: policies/config/<stack>.json."),
    ] = "prod",
    config: Annotated[
        Path | None,
        typer.Option("--config", help="A --policy-pack-config file instead of the stack's."),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Write policy.json here (a folder, or a path ending .json); an existing file "
            "is replaced only if it is an earlier policy.json.",
        ),
    ] = None,
) -> None:
    """Check Kubernetes manifests (raw YAML, Helm output) against the policy pack.

    Every object becomes the resource the Kubernetes provider would register; all objects
    are judged together, so stack rules (NetworkPolicy and PDB coverage, HPA targets) see
    them all. The prod policy config (the strictest) applies unless --stack names another.
    Nothing is written unless --out is given. Exit codes: 0 no mandatory violation,
    1 a mandatory violation, 2 bad input with its file and line: a file that does not
    parse, is not a regular file or is over 32 MB, an integer outside 64 bits, YAML aliases
    that expand a file by more than 100,000 nodes, nesting deeper than 200 levels;
    70 internal error, 130 interrupted.
    """
    from slipway.check import check as run_check
    from slipway.check import describe
    from slipway.findings import finding_lines, group
    from slipway.outdir import check_out_file
    from slipway.policy import has_mandatory, policy_rows, write_policy_rows

    try:
        target = check_out_file(out) if out is not None else None
        with err_console.status("Running the policy pack over the analyzer protocol…"):
            result = run_check(paths, stack=stack, config_path=config)
        rows = policy_rows(result.diagnostics)
        for row in rows:  # where each finding is: the manifest's file and line
            where = describe(result, row["urn"])[1]
            if where:
                row["file"] = where
        if target is not None:
            write_policy_rows(rows, check_out_file(target))
    except BadInput as exc:
        say.error(exc)
        raise typer.Exit(code=2) from None

    mandatory = sum(d.level == "mandatory" for d in result.diagnostics)
    advisory = len(result.diagnostics) - mandatory
    emit = _printer()
    if rows:
        groups = group(rows, name_of=lambda urn: describe(result, urn)[0])
        emit(f"Policy findings (config: {stack}):")
        for line in finding_lines(groups):
            emit(line, "red" if line.startswith("mandatory") else None)
        emit()
    files = len({m.file for m in result.manifests})
    code = 1 if has_mandatory(result.diagnostics) else 0
    emit(
        f"exit {code}: {len(result.manifests)} objects in {files} files: "
        f"{mandatory} mandatory, {advisory} advisory violations"
    )
    if code:
        raise typer.Exit(code=1)


def _printer():  # type: ignore[no-untyped-def]
    """Lines to stdout: styled on a terminal, plain (never wrapped or cut) elsewhere."""
    import sys

    from rich.text import Text

    def say(line: str = "", style: str | None = None) -> None:
        if out_console.is_terminal:
            out_console.print(Text(line, style=style or ""), soft_wrap=True)
        else:
            sys.stdout.write(line + "\n")

    return say


def register(app: typer.Typer) -> None:
    """Add `check` to the CLI."""
    app.command("check")(check)
