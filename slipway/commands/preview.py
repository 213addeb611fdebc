"""`slipway preview`: the offline preview command."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from slipway import say
from slipway.commands import PROJECT_DIR_HELP, lazy_module
from slipway.errors import BadInput

render_process = lazy_module("slipway.render_process")

if TYPE_CHECKING:
    from slipway.preview import Rendered

err = Console(stderr=True)

BASELINE_RENDER = "SLIPWAY_BASELINE_RENDER"
"""Set to 1 by `slipway.baseline` for the ref's `preview --no-policy`, which reads only its
resources.json: that run makes no manifests (the YAML of every object is a good part of a
fleet's render). A ref whose code predates it ignores it and writes them as before."""


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def fail(exc: BadInput) -> typer.Exit:
    """Print a bad-input error (file, field, what is allowed) and return exit 2."""
    say.error(exc)
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
    *,
    manifests: bool = True,
) -> tuple[Rendered, list[dict] | None]:
    """While the program runs (in its own process), hand every record to the policy pack
    (one Analyze each, in the pack's process) and turn Kubernetes objects into YAML.

    Once the program has ended, the pack's AnalyzeStack and `rendered_hook` (which writes
    the output) run side by side. No `pack_project`: no pack, no diagnostics. Without
    `manifests` (a baseline render) no YAML is made: only the records are wanted."""
    from slipway import preview as pv
    from slipway.policy import PackSession, policy_rows

    job = run.job
    texts: dict[str, str] = {}

    def rendered() -> Rendered:
        done = run.rendered
        assert done is not None
        done.manifests = pv.manifests(done.records, texts, job.catalog) if manifests else {}
        rendered_hook(done)
        return done

    if pack_project is None:
        for batch in run.batches():
            if manifests:
                texts.update((r.urn, pv.manifest_text(r)) for r in batch if pv.is_manifest(r))
        return rendered(), None
    q: queue.Queue = queue.Queue()
    with (
        PackSession(job.stack, project=job.project, pack_dir=pack_project / "policies") as session,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):

        def stack_resources() -> list[dict[str, Any]]:
            # Every batch is in (the program has ended): AnalyzeStack gets the records again
            # rather than the session keeping each batch while the program runs.
            assert run.arrived is not None
            return [r.to_json() for r in run.arrived]

        # The submit is inside the `try`: a Ctrl-C raised once the judging thread has started
        # but before `try` would leave that thread waiting on `q` for ever, and leaving the
        # `with` waits for it (the pool's shutdown): the preview hung instead of exiting 130.
        judging = None
        try:
            judging = pool.submit(session.run_batches, _batches(q), stack_resources)
            for batch in run.batches():
                q.put([r.to_json() for r in batch])
                texts.update((r.urn, pv.manifest_text(r)) for r in batch if pv.is_manifest(r))
        except BaseException as exc:
            q.put(exc)
            if judging is not None:
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
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Folder of renders kept between runs, keyed by the content they read: the "
            "baseline of --against REF, a services stack's platform. Default: "
            "$SLIPWAY_CACHE_DIR, else .slipway-cache in the project. Never the project "
            "folder or one holding it.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="Terminal output: table, json or markdown.")
    ] = Format.table,
    no_policy: Annotated[
        bool, typer.Option("--no-policy", help="Skip the policy pack (faster; for baselines).")
    ] = False,
    plan: Annotated[
        bool,
        typer.Option("--plan", help="Also list what the stack holds, per target and namespace."),
    ] = False,
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help=PROJECT_DIR_HELP, show_default=False),
    ] = None,
    strict_config: Annotated[
        bool,
        typer.Option(
            "--strict-config",
            help="Fail as the real engine does when the program requires a config key the "
            "stack does not set: exit 2, nothing written. Without it each missing key is a "
            "note with its `pulumi config set` command and the preview goes on.",
        ),
    ] = False,
    first_run: Annotated[
        bool,
        typer.Option(
            "--first-run",
            help="Answer as the engine's first preview of an empty stack: every id and "
            "every output only the cloud computes (ARNs, endpoints, kubeconfigs) is unknown; "
            "other stacks' outputs come from stack-outputs.yaml. A required config key "
            "without a value stops the run as in the engine (implies --strict-config).",
        ),
    ] = False,
) -> None:
    """Render a stack offline: run the real program under Pulumi's mock runtime, write
    resources.json and manifests, run the policy pack, and diff against a ref if asked.

    No cloud account, cluster or Pulumi CLI is needed. The report lists the changes first
    (with what they delete or replace said in words), then the policy findings, each with
    the file and field to change and how, then a last line with the verdict. Off a terminal
    it is plain lines. Exit codes: 0 fine, 1 a mandatory policy violation (or the program
    failed), 2 bad input (nothing is written), 70 internal error, 130 interrupted.

    Required config (`Config.require*`) that the stack does not set is named, key by key,
    with the command that sets it; `--strict-config` makes that exit 2, as `pulumi up` would
    stop there.

    `--first-run` models the first `pulumi preview` of a stack that has never been deployed:
    what only the cloud computes is unknown, so a resource made inside an `apply` on such a
    value, or a branch taken on one, shows up as a difference to the normal preview.
    """
    from slipway import preview as pv
    from slipway.cache import Cache
    from slipway.cache import cache_dir as choose_cache_dir
    from slipway.outdir import check_out

    staging: list[pv.Staging] = []
    baseline: list[dict] = []
    diff = None
    try:
        from slipway.stackfile import resolve_project_dir

        project_dir = resolve_project_dir(project_dir)
        out_arg = out if out is not None else project_dir / "build" / stack
        out_dir = check_out(out_arg, protected=[project_dir])
        cache = Cache(choose_cache_dir(cache_dir, project_dir, protected=[out_dir]))
        job = pv.prepare(project_dir, stack, first_run=first_run, cache=cache)
        strict_config = strict_config or first_run
        out_dir = check_out(out_arg, protected=[project_dir, job.catalog])
        for w in job.warnings:  # one line each, never wrapped inside a command
            say.note(w)
        rendering = f"Rendering stack [bold]{escape(stack)}[/] under the mock runtime"
        if against:
            rendering += f", the baseline {escape(against)} beside it"
        with contextlib.ExitStack() as running:
            # The child is forked before any thread of ours exists (the spinner's, the
            # baseline's): a fork copies no lock another thread holds.
            run = running.enter_context(render_process.RenderRun(job))
            status = running.enter_context(err.status(rendering + "…"))
            pending = None
            if against:
                from slipway.baseline import Pending

                # On a cache miss the baseline renders in its own process meanwhile.
                pending = running.enter_context(Pending(against, stack, project_dir, cache=cache))

            def write_all_but_policy(rendered: Rendered) -> None:
                nonlocal diff
                if strict_config and rendered.missing_config:
                    raise missing_config_error(rendered)
                if pending is not None:
                    from slipway.diff import compute_diff

                    if not pending.done():
                        status.update(f"Waiting for the baseline {escape(against or '')}…")
                    old = pending.result()
                    baseline.extend(old)
                    diff = compute_diff(old, rendered.resources)
                status.update("Writing the output; the policy pack judges the whole stack…")
                staging.append(pv.Staging(out_dir, stack))
                staging[0].write(pv.output_files(rendered, None, diff))

            rendered, diagnostics = _judge(
                run,
                None if no_policy else project_dir,
                write_all_but_policy,
                manifests=not (no_policy and os.environ.get(BASELINE_RENDER) == "1"),
            )
        if diagnostics is not None:
            from slipway.findings import attribute

            diagnostics = attribute(
                diagnostics,
                {r.urn: r for r in rendered.records},
                catalog=job.catalog,
                stack_file=f"Pulumi.{stack}.yaml",
                environment=job.config.get(f"{job.project}:environment", ""),
            )
            staging[0].write(pv.policy_file(diagnostics))
        staging[0].commit()
    except BadInput as exc:
        raise fail(exc) from None
    except render_process.ProgramFailed as exc:
        say.error(f"the program failed\n{exc}")
        raise typer.Exit(code=1) from None
    finally:
        for st in staging:
            st.discard()

    for line in pv.missing_config_lines(rendered):
        say.note(line)
    mandatory = [d for d in diagnostics or [] if d["level"] == "mandatory"]
    wave_rows, wave_lines = _wave_plan(project_dir, stack, rendered)
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
            "waves": wave_rows,
        }
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    elif fmt is Format.markdown:
        from slipway.report import to_markdown

        empty = {"added": [], "deleted": [], "updated": [], "replaced": []}
        sys.stdout.write(to_markdown(stack, diff or empty, diagnostics, rendered.resources))
    else:
        _report(stack, rendered, diagnostics, diff, baseline, out_dir, plan=plan, waves=wave_lines)
    if mandatory:
        raise typer.Exit(code=1)


def missing_config_error(rendered: Rendered) -> BadInput:
    """--strict-config: the missing required keys as the bad input the engine would stop on."""
    from slipway import preview as pv

    keys = [k.key for k in rendered.missing_config]
    lines = "\n".join(pv.missing_config_lines(rendered))
    return BadInput(
        f"{len(keys)} required config key(s) not set (--strict-config; `pulumi up` would "
        f"stop): {', '.join(keys)}\n{lines}",
        file=f"Pulumi.{rendered.stack}.yaml",
    )


def _report(
    stack: str,
    rendered: Rendered,
    diagnostics: list[dict] | None,
    diff: dict | None,
    baseline: list[dict],
    out_dir: Path,
    *,
    plan: bool,
    waves: list[str] | None = None,
) -> None:
    """The human report: changes, what they delete, findings, the plan if asked, verdict.

    On a terminal the changes and the plan are tables whose cells fold (nothing is cut);
    anywhere else (a file, a pipe, CI logs) everything is plain lines of any length.
    """
    from slipway import preview as pv
    from slipway.findings import consequences, finding_lines, group
    from slipway.report import diff_lines, diff_table, summary_line

    console = Console(soft_wrap=True, highlight=False)
    terminal = console.is_terminal

    def emit(line: str = "", style: str | None = None) -> None:
        if terminal:
            console.print(Text(line, style=style or ""))
        else:
            sys.stdout.write(line + "\n")

    if diff is not None:
        if terminal:
            console.print(diff_table(diff))
        else:
            emit(f"Changes {summary_line(diff)}")
            for line in diff_lines(diff):
                emit(f"  {line}")
        for sentence in consequences(diff, [*baseline, *rendered.resources]):
            emit(f"warning: {sentence}", "yellow")
        emit()
    if diagnostics:
        groups = group(diagnostics)
        emit(f"Policy findings ({len(diagnostics)} on {len(groups)} rules and messages):")
        for line in finding_lines(groups):
            style = "red" if line.startswith("mandatory") else None
            emit(line, style)
        emit()
    if plan:
        rows = pv.plan_rows(rendered)
        if terminal:
            table = Table(title=f"Plan for stack {stack}")
            for col in ("target", "namespace", "kind", "count"):
                table.add_column(col, justify="right" if col == "count" else "left")
            for t, n, k, c in rows:
                table.add_row(*(Text(v) for v in (t, n, k, str(c))))  # data, not markup
            console.print(table)
        else:
            emit(f"Plan for stack {stack}:")
            for t, n, k, c in rows:
                emit(f"  {t}  {n}  {k}  {c}")
        emit()
    if waves:
        for line in waves:
            emit(line)
        emit()
    emit(verdict(stack, rendered, diagnostics, diff, out_dir))


def _wave_plan(
    project_dir: Path, stack: str, rendered: Rendered
) -> tuple[list[dict], list[str] | None]:
    """The region-by-region plan of `slipway deploy --waves` (rows for JSON; lines for the
    report, shown when the stack has several targets or declares `slipway:waves`)."""
    from slipway import waves as wv
    from slipway.deploy import read_stack_settings

    try:
        settings = read_stack_settings(project_dir, stack)
    except BadInput:  # the program accepted it; the plan is a courtesy, never a failure
        return [], None
    plan = wv.plan(settings)
    urns = wv.urns_by_target(rendered.records)
    shown = len(settings.targets) > 1 or settings.waves is not None
    return wv.plan_rows(plan, urns), (wv.plan_lines(stack, plan, urns) if shown else None)


def verdict(
    stack: str,
    rendered: Rendered,
    diagnostics: list[dict] | None,
    diff: dict | None,
    out_dir: Path,
) -> str:
    """The last line: the exit code and why, the changes, where the output went."""
    from slipway.report import summary_line

    if diagnostics is None:
        policy = "policy not run (--no-policy)"
        code = 0
    else:
        mandatory = sum(d["level"] == "mandatory" for d in diagnostics)
        advisory = len(diagnostics) - mandatory
        code = 1 if mandatory else 0
        if mandatory:
            policy = f"{mandatory} mandatory policy violations block `pulumi up`"
        else:
            policy = "no mandatory policy violations"
        policy += f" ({advisory} advisory)" if advisory else ""
    changes = f"; changes {summary_line(diff)}" if diff is not None else ""
    return (
        f"exit {code}: stack {stack}: {policy}{changes}; {len(rendered.records)} resources, "
        f"{len(rendered.manifests)} manifests in {out_dir}"
    )


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
