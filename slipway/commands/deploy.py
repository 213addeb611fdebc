"""`slipway deploy <stack>`: the real engine, with a health gate and automated rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from slipway import say
from slipway.commands import PROJECT_DIR_HELP
from slipway.errors import BadInput

err = Console(stderr=True)
out = Console()


def deploy(
    stack: Annotated[str, typer.Argument(help="Stack to deploy (dev, staging, prod).")],
    auto_rollback: Annotated[
        bool,
        typer.Option(
            "--auto-rollback",
            help="On a failed up or health gate, re-apply the last deployed state there.",
        ),
    ] = False,
    rollback_to: Annotated[
        str | None,
        typer.Option(
            help="Git ref whose catalog and stack config to roll back to; default: the commit "
            "recorded as last deployed in each target (stack tags slipway:deployed:<target>).",
            show_default=False,
        ),
    ] = None,
    waves: Annotated[
        bool,
        typer.Option(
            "--waves",
            help="Deploy region by region: each wave of targets (slipway:waves, default the "
            "targets order) is applied and gated before the next; a failed wave stops the "
            "deploy and only it is rolled back.",
        ),
    ] = False,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            metavar="<name>",
            help="Apply and gate only this target's resources (repeatable); stack-wide "
            "resources are left as they are. E.g. a flag toggle in one region first.",
            show_default=False,
        ),
    ] = None,
    prometheus_url: Annotated[
        str | None,
        typer.Option(
            help="Prometheus base URL for a one-target stack; a stack of several targets "
            "names each one's in targets[].gate.prometheusUrl."
        ),
    ] = None,
    kube_context: Annotated[
        str | None,
        typer.Option(
            help="kubeconfig context for a one-target stack (targets[].gate.kubeContext)."
        ),
    ] = None,
    gate_duration: Annotated[
        int, typer.Option(min=1, help="Seconds the SLO gate measures at most.")
    ] = 600,
    gate_interval: Annotated[
        int, typer.Option(min=1, help="Seconds between the SLO gate's measurements.")
    ] = 60,
    settle_seconds: Annotated[
        int, typer.Option(min=0, help="Wait before the first SLO measurement.")
    ] = 60,
    min_requests: Annotated[
        int,
        typer.Option(min=1, help="Requests over 5m a measurement needs; fewer is inconclusive."),
    ] = 100,
    burn_rate: Annotated[
        float,
        typer.Option(min=1, help="Error-budget burn rate that fails over both 1h and 5m."),
    ] = 14.4,
    rollout_timeout: Annotated[
        int, typer.Option(min=1, help="Seconds to wait for an Argo Rollout to be promoted.")
    ] = 600,
    skip_gate: Annotated[
        bool,
        typer.Option("--skip-gate", help="Do not check health after up (reported as skipped)."),
    ] = False,
    policy_config: Annotated[
        Path | None,
        typer.Option(help="Policy pack config JSON; default: policies/config/<stack>.json."),
    ] = None,
    project_dir: Annotated[
        Path | None,
        typer.Option(help=PROJECT_DIR_HELP, file_okay=False, show_default=False),
    ] = None,
) -> None:
    """Deploy a stack with the real engine: policy-checked preview, up, health gate.

    The health gate judges the services this deploy changes, in each target through that
    target's kube context and Prometheus: Argo Rollouts services by the Rollout of the
    revision just applied (promoted and Healthy; Paused waits), the others by repeated SLO
    measurements (enough traffic, error-budget burn over 1h and 5m, p99, live pods). A target
    whose gate passed is recorded as deployed at this commit. With --auto-rollback, a failed
    up or gate re-applies the last deployed state (or --rollback-to) of the failed targets.

    Exit codes: 0 deployed, 1 failed (rolled back if asked), 2 bad input or no Pulumi CLI
    (nothing was deployed), 3 the rollback itself failed, 70 internal error, 130
    interrupted.
    """
    from slipway import deploy as d
    from slipway import waves as wv

    try:
        if waves and target:
            raise BadInput("give --waves or --target, not both", field="--target")
        d.require_pulumi_cli()
        from slipway.stackfile import read_stack_file, resolve_project_dir

        project_dir = resolve_project_dir(project_dir)
        read_stack_file(project_dir, stack)  # unknown keys refused, as preview refuses them
        project = d.read_project(project_dir, stack)
        policy = d.policy_args(project_dir, stack, policy_config)
        names = [t.name for t in project.settings.targets]
        unknown = [t for t in target or [] if t not in names]
        if unknown:
            raise BadInput(
                f"unknown target(s) {', '.join(unknown)}; targets of {stack}: {', '.join(names)}",
                field="--target",
            )
        plan = None
        if waves:
            plan = wv.plan(project.settings)
        elif target:
            plan = [wv.Wave(1, tuple(t for t in names if t in target))]
        endpoints = project.endpoints(prometheus_url, kube_context)
        needs_prometheus = {s.target for s in project.services if not s.argo_rollouts}
        if plan is not None:
            in_plan = {t for w in plan for t in w.targets}
            needs_prometheus &= in_plan
        lacking = sorted(t for t in needs_prometheus if not endpoints[t].prometheus_url)
        if not skip_gate and lacking:
            raise BadInput(
                "the health gate checks non-Argo services in each target's Prometheus; "
                f"none is set for {', '.join(lacking)}: set targets[].gate.prometheusUrl in "
                f"Pulumi.{stack}.yaml (or --prometheus-url for a one-target stack), or give "
                "--skip-gate to deploy without a health check",
                field="--prometheus-url",
            )
        # Rollouts and blue-green Services are read in each target's own cluster; only a
        # one-target stack may fall back to kubectl's current context.
        needs_kube = {
            s.target for s in project.services if s.argo_rollouts or s.strategy == "blue-green"
        }
        if plan is not None:
            needs_kube &= in_plan
        no_context = sorted(t for t in needs_kube if not endpoints[t].kube_context)
        if not skip_gate and len(names) > 1 and no_context:
            raise BadInput(
                "the health gate reads Rollouts and blue-green Services in each target's "
                f"cluster; no kube context is set for {', '.join(no_context)}: set "
                f"targets[].gate.kubeContext in Pulumi.{stack}.yaml, or give --skip-gate",
                field="--kube-context",
            )
        target_urns = None
        if plan is not None or (auto_rollback and not rollback_to and len(names) > 1):
            # A wave is a targeted up of its targets' resources; a rollback of targets
            # last deployed at different commits is one targeted up per commit.
            from slipway import preview as pv

            say.line("> rendering offline for the URNs of each target's resources ...")
            target_urns = wv.urns_by_target(pv.render(project_dir, stack).records)
    except BadInput as exc:
        say.error(exc)
        raise typer.Exit(code=d.EXIT_BAD_INPUT) from None

    echo = lambda line: say.line(f"> {line}")  # noqa: E731
    gate = None
    if not skip_gate:
        gate = d.target_gates(
            endpoints,
            policy=d.SloPolicy(
                min_requests=min_requests,
                burn_rate=burn_rate,
                duration_seconds=gate_duration,
                interval_seconds=gate_interval,
                settle_seconds=settle_seconds,
            ),
            rollout_timeout=rollout_timeout,
            needs_prometheus=needs_prometheus,
            echo=echo,
        )
    report = d.run_deploy(
        stack,
        project_dir=project_dir,
        runner=d.AutomationRunner(
            on_output=lambda line: err.print(line, end="", markup=False, soft_wrap=True)
        ),
        gate=gate,
        services=project.services,
        policy=policy,
        auto_rollback=auto_rollback,
        rollback_ref=rollback_to,
        catalog_dir=project.catalog_dir,
        echo=echo,
        waves=plan,
        target_urns=target_urns,
        record=d.StackTagRecord(project_dir, stack),
        stack_wide=not target,
    )
    console = err if report.exit_code else out
    for line in report.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if report.exit_code == d.EXIT_ROLLBACK_FAILED:
        say.line("!!! ROLLBACK FAILED: the stack needs a human now !!!", "bold red")
    raise typer.Exit(code=report.exit_code)


def register(app: typer.Typer) -> None:
    """Add `deploy` to the CLI."""
    app.command("deploy")(deploy)
