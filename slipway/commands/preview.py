"""`slipway preview`: the offline preview command."""

from __future__ import annotations

import contextlib
import json
import queue
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from slipway import render_process
from slipway.errors import BadInput
from slipway.render_process import ProgramFailed

if TYPE_CHECKING:
    from slipway.preview import Rendered

err = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def fail(exc: BadInput) -> typer.Exit:
    """Print a bad-input error (file, field, what is allowed) and return exit 2."""
    err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _batches(q: queue.Queue) -> Iterator[list[dict[str, Any]]]:
    """What the render thread puts on `q`, until None; an exception put there is raised."""
    while (item := q.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def _judge(
    run: render_process.RenderRun,
    pack_project: Path | None,
    rendered_hook: Callable[[Rendered], None],
) -> tuple[Rendered, list[dict] | None]:
    """While the program runs (in its own process), hand every record to the policy pack
    (one Analyze each, in the pack's process) and turn Kubernetes objects into YAML.

    Once the program has ended, the pack's AnalyzeStack and `rendered_hook` (which writes
    the output) run side by side. No `pack_project`: no pack, no diagnostics."""
    from slipway import preview as pv
    from slipway.policy import PackSession, policy_rows

    job = run.job
    texts: dict[str, str] = {}

    def rendered() -> Rendered:
        done = run.rendered
        assert done is not None
        done.manifests = pv.manifests(done.records, texts, job.catalog)
        rendered_hook(done)
        return done

    if pack_project is None:
        for batch in run.batches():
            texts.update((r.urn, pv.manifest_text(r)) for r in batch if pv.is_manifest(r))
        return rendered(), None
    q: queue.Queue = queue.Queue()
    with (
        PackSession(job.stack, project=job.project, pack_dir=pack_project / "policies") as session,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        judging = pool.submit(session.run_batches, _batches(q))
        try:
            for batch in run.batches():
                q.put([r.to_json() for r in batch])
                texts.update((r.urn, pv.manifest_text(r)) for r in batch if pv.is_manifest(r))
        except BaseException as exc:
            q.put(exc)
            with contextlib.suppress(BaseException):
                judging.result()
            raise
        q.put(None)
        done = rendered()
        judged = judging.result()[1]
    return done, policy_rows(judged)


def preview(
    stack: Annotated[str, typer.Argument(help="Stack name: reads Pulumi.<stack>.yaml.")],
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Output folder; default: build/<stack>. Must be new or a folder a previous "
            "preview wrote: any other existing path is refused.",
        ),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option("--against", help="Git ref or previous output folder to diff against."),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="Terminal output: table, json or markdown.")
    ] = Format.table,
    no_policy: Annotated[
        bool, typer.Option("--no-policy", help="Skip the policy pack (faster; for baselines).")
    ] = False,
    project_dir: Annotated[
        Path, typer.Option("--project-dir", help="Project folder; default: current folder.")
    ] = Path("."),
) -> None:
    """Render a stack offline: run the real program under Pulumi's mock runtime, write
    resources.json and manifests, run the policy pack, and diff against a ref if asked.

    No cloud account, cluster or Pulumi CLI is needed. Exit codes: 0 fine, 1 a mandatory
    policy violation, 2 bad input (nothing is written).
    """
    from slipway import preview as pv
    from slipway.outdir import check_out

    project_dir = project_dir.resolve()
    staging: list[pv.Staging] = []
    diff = None
    try:
        out_arg = out if out is not None else project_dir / "build" / stack
        out_dir = check_out(out_arg, protected=[project_dir])
        job = pv.prepare(project_dir, stack)
        out_dir = check_out(out_arg, protected=[project_dir, job.catalog])
        for w in job.warnings:
            err.print(f"[yellow]warning:[/] {w}", highlight=False)
        # The child is forked before the spinner's thread exists.
        with (
            render_process.RenderRun(job) as run,
            err.status(f"Rendering stack [bold]{stack}[/] under the mock runtime…") as status,
        ):

            def write_all_but_policy(rendered: Rendered) -> None:
                nonlocal diff
                if against:
                    from slipway.baseline import load_baseline
                    from slipway.diff import compute_diff

                    status.update(f"Rendering the baseline {against}…")
                    old = load_baseline(against, stack, project_dir)
                    diff = compute_diff(old, rendered.resources)
                status.update("Writing the output; the policy pack judges the whole stack…")
                staging.append(pv.Staging(out_dir, stack))
                staging[0].write(pv.output_files(rendered, None, diff))

            rendered, diagnostics = _judge(
                run, None if no_policy else project_dir, write_all_but_policy
            )
        if diagnostics is not None:
            staging[0].write(pv.policy_file(diagnostics))
        staging[0].commit()
    except BadInput as exc:
        raise fail(exc) from None
    except ProgramFailed as exc:
        err.print(f"[bold red]error:[/] the program failed\n{exc}", highlight=False)
        raise typer.Exit(code=1) from None
    finally:
        for st in staging:
            st.discard()

    mandatory = [d for d in diagnostics or [] if d["level"] == "mandatory"]
    if fmt is Format.json:
        summary = {
            "stack": stack,
            "out": str(out_dir),
            "resources": len(rendered.records),
            "manifests": len(rendered.manifests),
            "plan": [
                {"target": t, "namespace": n, "kind": k, "count": c}
                for t, n, k, c in pv.plan_rows(rendered)
            ],
            "policy": diagnostics,
            "diff": diff,
        }
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    elif fmt is Format.markdown:
        from slipway.report import to_markdown

        empty = {"added": [], "deleted": [], "updated": [], "replaced": []}
        sys.stdout.write(to_markdown(stack, diff or empty, diagnostics, rendered.resources))
    else:
        _print_tables(stack, rendered, diagnostics, diff, out_dir)
    if mandatory:
        raise typer.Exit(code=1)


def _print_tables(stack, rendered, diagnostics, diff, out_dir: Path) -> None:
    from slipway import preview as pv

    console = Console()
    table = Table(title=f"Plan for stack {stack}", show_lines=False)
    for col in ("target", "namespace", "kind", "count"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for t, n, k, c in pv.plan_rows(rendered):
        table.add_row(*(Text(v) for v in (t, n, k, str(c))))  # values are data, not markup
    console.print(table)
    if diff is not None:
        from slipway.report import diff_table

        console.print(diff_table(diff))
    if diagnostics:
        pt = Table(title="Policy")
        for col in ("level", "policy", "resource", "message"):
            pt.add_column(col)
        for d in diagnostics:
            cells = (d["level"], d["policy"], d["urn"].rsplit("::", 1)[-1], d["message"])
            pt.add_row(*(Text(v) for v in cells))
        console.print(pt)
    elif diagnostics is not None:
        console.print("Policy: no violations")
    console.print(
        f"{len(rendered.records)} resources, {len(rendered.manifests)} manifests → {out_dir}"
    )


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
