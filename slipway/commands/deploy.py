"""`slipway deploy <stack>`: the real engine, with a health gate and automated rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from slipway import say
from slipway.errors import BadInput
from slipway.stackfile import PROJECT_DIR_HELP, read_stack_file, resolve_project_dir

err = Console(stderr=True)
out = Console()


def deploy(
    stack: Annotated[str, typer.Argument(help="Stack to deploy (dev, staging, prod).")],
    auto_rollback: Annotated[
        bool,
        typer.Option(
            "--auto-rollback",
            help="On a failed up or health gate, re-apply the last good declared state.",
        ),
    ] = False,
    rollback_to: Annotated[
        str,
        typer.Option(help="Git ref whose catalog and stack config are the last good state."),
    ] = "HEAD~1",
    prometheus_url: Annotated[
        str | None,
        typer.Option(help="Prometheus base URL for the SLO gate of non-Argo services."),
    ] = None,
    gate_window: Annotated[
        str, typer.Option(help="PromQL range the SLO gate evaluates, e.g. 5m.")
    ] = "5m",
    settle_seconds: Annotated[
        int, typer.Option(min=0, help="Wait before the SLO gate so new pods serve traffic.")
    ] = 300,
    rollout_timeout: Annotated[
        int, typer.Option(min=1, help="Seconds to wait for an Argo Rollout to settle.")
    ] = 600,
    kube_context: Annotated[
        str | None, typer.Option(help="kubeconfig context for reading Argo Rollouts.")
    ] = None,
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

    The health gate reads each Argo Rollouts service's Rollout status and checks the other
    services' SLO (error ratio, p99, healthy targets) in Prometheus. With --auto-rollback, a
    failed up or gate re-applies the catalog and stack config of --rollback-to.

    Exit codes: 0 deployed, 1 failed (rolled back if asked), 2 bad input or no Pulumi CLI
    (nothing was deployed), 3 the rollback itself failed, 70 internal error, 130
    interrupted.
    """
    from slipway import deploy as d

    try:
        d.require_pulumi_cli()
        project_dir = resolve_project_dir(project_dir)
        read_stack_file(project_dir, stack)  # unknown keys refused, as preview refuses them
        project = d.read_project(project_dir, stack)
        policy = d.policy_args(project_dir, stack, policy_config)
        needs_prometheus = any(not s.argo_rollouts for s in project.services)
        if not skip_gate and needs_prometheus and not prometheus_url:
            raise BadInput(
                "the health gate checks non-Argo services in Prometheus: give "
                "--prometheus-url URL, or --skip-gate to deploy without a health check",
                field="--prometheus-url",
            )
    except BadInput as exc:
        say.error(exc)
        raise typer.Exit(code=d.EXIT_BAD_INPUT) from None

    gate = None
    if not skip_gate:
        gate = d.SloGate(
            rollouts=d.ArgoRolloutStatus(kube_context, timeout_seconds=rollout_timeout),
            prometheus=d.PrometheusSlo(prometheus_url, gate_window) if prometheus_url else None,
            settle_seconds=settle_seconds,
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
        echo=lambda line: say.line(f"> {line}"),
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
