"""`slipway check PATH...`: the policy pack on Kubernetes YAML and JSON files or folders."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from slipway import say
from slipway.errors import BadInput

out_console = Console()
err_console = Console(stderr=True)


class Format(StrEnum):
    """How the report is written."""

    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"


SUFFIX_FORMATS = {
    ".json": Format.json,
    ".sarif": Format.sarif,
    ".xml": Format.junit,
    ".txt": Format.table,
    ".log": Format.table,
}
"""--out's suffix chooses the format when --format is not given."""


def check(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="YAML or JSON files, or folders to search (*.yaml, *.yml, *.json).",
            readable=False,  # read (and refused) by slipway, with its own message
        ),
    ],
    stack: Annotated[
        str,
        typer.Option("--stack", "-s", help="Policy config to apply: policies/config/<stack>.json."),
    ] = "prod",
    config: Annotated[
        Path | None,
        typer.Option("--config", help="A --policy-pack-config file instead of the stack's."),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            help="table (default on stdout), json, sarif (GitHub code scanning) or junit.",
            case_sensitive=False,
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Write the report here (a file, or a folder for slipway-check.<ext>) in "
            "--format, else as its suffix says (.json, .sarif, .xml); the table still goes "
            "to stdout. An existing file is replaced only if it is an earlier report of "
            "slipway's in that format.",
        ),
    ] = None,
    analyzer: Annotated[
        bool,
        typer.Option(
            "--analyzer",
            help="Run the pack over its analyzer protocol in a pack process, as the engine "
            "does, instead of in this process (slower; the same findings, without field lines).",
        ),
    ] = False,
) -> None:
    """Check Kubernetes manifests (raw YAML or JSON, Helm output, whole repositories)
    against the policy pack.

    Folders are searched for *.yaml, *.yml and *.json; a file holding no Kubernetes object
    (a kustomization, Chart.yaml, values, a template) is skipped with a notice, and one that
    does not parse is reported with its line while the rest is checked. Every object is
    judged as the resource the Kubernetes provider would register, all together, so stack
    rules (NetworkPolicy and PDB coverage, HPA targets) see them all. The prod policy
    config (the strictest) applies unless --stack or --config says otherwise. An object's
    `slipway.dev/exempt: "<rule>: <reason>"` annotation exempts it from one rule, shown
    with the reason. Exit codes: 0 no mandatory violation, 1 a mandatory violation that is
    not exempted, 2 bad input (a path named that cannot be read, no Kubernetes object at
    all, a bad --config or --out), 70 internal error, 130 interrupted.
    """
    from slipway import entry, scan_report
    from slipway.check import check as run_check

    if entry.LEAVES_AFTER_COMMAND:
        # The process ends with the report: a collection over every YAML node and value
        # read (a fifth of a repository's check) would free nothing the exit does not.
        import gc

        gc.disable()
    try:
        chosen = fmt or (_format_of(out) if out is not None else Format.table)
        target = scan_report.report_path(out, chosen.value) if out is not None else None
        if out_console.is_terminal:
            with err_console.status("Checking…"):
                result = run_check(paths, stack=stack, config_path=config, analyzer=analyzer)
        else:
            result = run_check(paths, stack=stack, config_path=config, analyzer=analyzer)
        if target is not None:
            text = scan_report.render(result, chosen.value)
            scan_report.write_report(text, out, chosen.value)  # type: ignore[arg-type]
    except BadInput as exc:
        say.error(exc)
        raise typer.Exit(code=2) from None

    if target is None and chosen is not Format.table:
        sys.stdout.write(scan_report.render(result, chosen.value))
    else:
        _print_table(result)
    if result.exit_code:
        raise typer.Exit(code=result.exit_code)


def _format_of(out: str) -> Format:
    """The format --out's suffix names; JSON when it names none (a folder, say)."""
    return SUFFIX_FORMATS.get(Path(out).suffix.lower(), Format.json)


def _print_table(result: object) -> None:
    """Styled on a terminal, plain elsewhere: one finding per line, never wrapped or cut."""
    from rich.text import Text

    from slipway import scan_report

    terminal = out_console.is_terminal
    for line, style in scan_report.table_lines(result, terminal=terminal):  # type: ignore[arg-type]
        if terminal:
            out_console.print(Text(line, style=style or ""), soft_wrap=True)
        else:
            sys.stdout.write(line + "\n")


def register(app: typer.Typer) -> None:
    """Add `check` to the CLI."""
    app.command("check")(check)
