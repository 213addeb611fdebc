"""`slipway deploy <stack>`: policy-checked preview, `up`, a health gate, automated rollback.

The real engine is driven through Pulumi's Automation API (a `LocalWorkspace` on this project
directory, `select_stack`); everything the flow needs from the outside world sits behind two
small interfaces so tests drive the same code with fakes:

- `StackRunner`: `preview(work_dir, stack, policy)` and `up(work_dir, stack, policy)`;
- `HealthGate`: `check(services) -> GateResult`, after `up`.

With `auto_rollback`, a failed `up` or a failed gate re-applies the last good declared state:
the catalog folder and `Pulumi.<stack>.yaml` of an earlier commit (default `HEAD~1`), laid over
today's program in a temporary `git worktree`, then `up` there.

Exit codes (`DeployReport.exit_code`), as everywhere in the CLI plus one:

- 0: preview, up and health gate passed;
- 1: deploy failed (preview refused by a mandatory policy, up failed, or the gate failed);
  with `--auto-rollback` the last good state was re-applied successfully;
- 2: bad input, or the Pulumi CLI is missing (`ToolMissing`);
- 3: the rollback itself failed: the stack is in an unknown state and a human must act now.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError

from slipway import children
from slipway.errors import BadInput, ToolMissing

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ROLLBACK_FAILED = 3

POLICY_PACK_DIR = "policies"
PULUMI_INSTALL_HINT = (
    "install it with `curl -fsSL https://get.pulumi.com | sh` (then add ~/.pulumi/bin to PATH) "
    "or see https://www.pulumi.com/docs/iac/download-install/"
)
OUTPUT_TAIL_CHARS = 4000
"""How much of a failed command's output a report keeps (Pulumi masks secrets as [secret])."""


# --------------------------------------------------------------------------------------------
# What the flow needs from the engine and from the cluster


@dataclass(frozen=True)
class PolicyArgs:
    """Policy packs and their per-stack config, passed to both preview and up."""

    packs: tuple[str, ...]
    configs: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpResult:
    """Outcome of one engine operation (preview or up)."""

    ok: bool
    summary: str = ""
    """Change counts, e.g. `create 3, update 1, same 40`."""
    error: str = ""
    """Tail of the engine's output when `ok` is false."""


class StackRunner(Protocol):
    """The engine: preview and apply one stack of the program in `work_dir`."""

    def preview(self, work_dir: Path, stack: str, policy: PolicyArgs) -> OpResult: ...

    def up(self, work_dir: Path, stack: str, policy: PolicyArgs) -> OpResult: ...


@dataclass(frozen=True)
class GateService:
    """One service the health gate looks at."""

    name: str
    namespace: str
    team: str
    argo_rollouts: bool
    slo: Any
    """`slipway_components.observability.SloArgs` of the service."""


@dataclass(frozen=True)
class Check:
    """One health check result, for the report."""

    service: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class GateResult:
    """All checks of one gate run; the gate passes when every check passes."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


class HealthGate(Protocol):
    """Decides whether the services are healthy after `up`."""

    def check(self, services: Sequence[GateService]) -> GateResult: ...


# --------------------------------------------------------------------------------------------
# The report


@dataclass
class RollbackReport:
    """What the rollback did."""

    ref: str
    commit: str = ""
    result: OpResult | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok and not self.error


@dataclass
class DeployReport:
    """Everything that happened during one `deploy`, in order."""

    stack: str
    preview: OpResult | None = None
    up: OpResult | None = None
    gate: GateResult | None = None
    gate_skipped: bool = False
    rollback: RollbackReport | None = None
    failure: str = ""
    """Which step failed first (`preview`, `up`, `gate`), empty on success."""

    @property
    def exit_code(self) -> int:
        if self.rollback is not None and not self.rollback.ok:
            return EXIT_ROLLBACK_FAILED
        return EXIT_FAILED if self.failure else EXIT_OK

    def lines(self) -> list[str]:
        """Human-readable account, one line per fact."""
        out = [f"stack {self.stack}:"]
        if self.preview is not None:
            out.append(_op_line("preview (policy-checked)", self.preview))
        if self.up is not None:
            out.append(_op_line("up", self.up))
        if self.gate_skipped:
            out.append("health gate: SKIPPED (--skip-gate); health was not verified")
        elif self.gate is not None:
            out.append(f"health gate: {'passed' if self.gate.ok else 'FAILED'}")
            out.extend(
                f"  {'ok  ' if c.ok else 'FAIL'} {c.service}: {c.detail}" for c in self.gate.checks
            )
        if self.rollback is not None:
            rb = self.rollback
            target = f"{rb.ref} ({rb.commit[:12]})" if rb.commit else rb.ref
            if rb.ok:
                out.append(f"rollback: re-applied the declared state of {target}")
                if rb.result and rb.result.summary:
                    out.append(f"  {rb.result.summary}")
            else:
                out.append(f"ROLLBACK FAILED while restoring {target}: the stack is in an")
                out.append("  unknown state; follow docs/runbooks/rollback.md by hand NOW")
                detail = rb.error or (rb.result.error if rb.result else "")
                if detail:
                    out.append(f"  {detail}")
        elif self.failure and self.failure != "preview":
            out.append(
                "rollback: not attempted (run with --auto-rollback to restore automatically)"
            )
        verdict = {
            EXIT_OK: "deployed",
            EXIT_FAILED: f"deploy failed at {self.failure}",
            EXIT_ROLLBACK_FAILED: f"deploy failed at {self.failure} and the rollback failed",
        }[self.exit_code]
        out.append(f"result: {verdict} (exit {self.exit_code})")
        return out


def _op_line(what: str, op: OpResult) -> str:
    if op.ok:
        return f"{what}: ok" + (f" ({op.summary})" if op.summary else "")
    return f"{what}: FAILED\n  " + "\n  ".join(op.error.strip().splitlines()[-20:])


# --------------------------------------------------------------------------------------------
# The flow


def run_deploy(
    stack: str,
    *,
    project_dir: Path,
    runner: StackRunner,
    gate: HealthGate | None,
    services: Sequence[GateService],
    policy: PolicyArgs,
    auto_rollback: bool,
    rollback_ref: str = "HEAD~1",
    catalog_dir: str = "services",
    echo: Callable[[str], None] = lambda _line: None,
) -> DeployReport:
    """Preview with policies, up, gate; on failure and `auto_rollback`, restore `rollback_ref`.

    `gate=None` skips the health gate (reported as skipped, never as passed).
    """
    report = DeployReport(stack=stack, gate_skipped=gate is None)

    echo(f"preview {stack} with policy packs {', '.join(policy.packs)} ...")
    report.preview = runner.preview(project_dir, stack, policy)
    if not report.preview.ok:
        # Nothing was applied: there is nothing to roll back.
        report.failure = "preview"
        return report

    echo(f"up {stack} ...")
    report.up = runner.up(project_dir, stack, policy)
    if not report.up.ok:
        report.failure = "up"
    elif gate is not None:
        echo(f"health gate on {len(services)} service(s) ...")
        report.gate = gate.check(services)
        if not report.gate.ok:
            report.failure = "gate"

    if report.failure and auto_rollback:
        echo(f"rolling back {stack} to the declared state of {rollback_ref} ...")
        report.rollback = rollback(
            stack,
            project_dir=project_dir,
            runner=runner,
            policy=policy,
            ref=rollback_ref,
            catalog_dir=catalog_dir,
        )
    return report


def rollback(
    stack: str,
    *,
    project_dir: Path,
    runner: StackRunner,
    policy: PolicyArgs,
    ref: str,
    catalog_dir: str,
) -> RollbackReport:
    """Re-apply `ref`'s catalog and stack config with today's program; never raises."""
    report = RollbackReport(ref=ref)
    try:
        with last_good_worktree(project_dir, ref, stack, catalog_dir) as (work_dir, commit):
            report.commit = commit
            report.result = runner.up(work_dir, stack, policy)
    except Exception as exc:  # report, never hide: the caller exits 3
        report.error = f"{type(exc).__name__}: {exc}"
    return report


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


@contextlib.contextmanager
def last_good_worktree(
    project_dir: Path, ref: str, stack: str, catalog_dir: str
) -> Iterator[tuple[Path, str]]:
    """A temporary worktree of HEAD whose catalog and `Pulumi.<stack>.yaml` come from `ref`.

    Yields (project directory inside the worktree, full commit id of `ref`). The worktree is
    removed afterwards, whatever happened.
    """
    project_dir = Path(project_dir).resolve()
    top = Path(_git(project_dir, "rev-parse", "--show-toplevel"))
    rel = project_dir.relative_to(top)
    commit = _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    children.sweep("rollback", top)  # what killed runs left behind
    tmp = children.scratch_dir("rollback")
    tree = tmp / "tree"
    _git(top, "worktree", "add", "--detach", str(tree), "HEAD")
    try:
        paths = [str(rel / catalog_dir), str(rel / f"Pulumi.{stack}.yaml")]
        work_dir = tree / rel
        for p in paths:
            # The catalog and the stack file exactly as at `ref`: files added since are gone.
            # Only ever inside the temporary worktree, whatever the stack file says.
            target = _inside(tree, p)
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            _git(tree, "checkout", commit, "--", p)
        _link_venv(project_dir, work_dir)
        yield work_dir, commit
    finally:
        children.remove_worktree(top, tree)
        shutil.rmtree(tmp, ignore_errors=True)


def _inside(root: Path, relative: str) -> Path:
    """`root / relative`, refusing any path that would land outside `root` (an absolute
    catalog, `..`, a symlink out): the rollback deletes what it finds there."""
    target = root / relative
    if Path(relative).is_absolute() or not target.resolve().is_relative_to(root.resolve()):
        raise RuntimeError(f"{relative!r} is outside the temporary worktree; nothing was removed")
    return target


def _link_venv(project_dir: Path, work_dir: Path) -> None:
    """The program's virtualenv (Pulumi.yaml `virtualenv: .venv`) is not in git: reuse it."""
    venv = project_dir / ".venv"
    if venv.is_dir() and not (work_dir / ".venv").exists():
        (work_dir / ".venv").symlink_to(venv, target_is_directory=True)


# --------------------------------------------------------------------------------------------
# Real implementations


def require_pulumi_cli() -> str:
    """Path of the `pulumi` executable, or `ToolMissing` saying how to install it."""
    path = shutil.which("pulumi")
    if path is None:
        raise ToolMissing(
            "the Pulumi CLI (`pulumi`) is not installed or not on PATH; `slipway deploy` "
            f"drives the real engine and cannot run without it: {PULUMI_INSTALL_HINT}. "
            "To render and policy-check without it, run `slipway preview <stack>`.",
            field="pulumi",
        )
    return path


def _summary(counts: dict[str, int] | None) -> str:
    if not counts:
        return ""
    return ", ".join(f"{op} {n}" for op, n in sorted(counts.items()) if n)


def _tail(text: str) -> str:
    return text[-OUTPUT_TAIL_CHARS:]


class AutomationRunner:
    """`StackRunner` on Pulumi's Automation API: a LocalWorkspace on the project directory."""

    def __init__(self, on_output: Callable[[str], None] | None = None) -> None:
        self.on_output = on_output

    def _stack(self, work_dir: Path, stack: str) -> Any:
        from pulumi import automation as auto

        return auto.select_stack(stack_name=stack, work_dir=str(work_dir))

    def preview(self, work_dir: Path, stack: str, policy: PolicyArgs) -> OpResult:
        from pulumi import automation as auto

        try:
            res = self._stack(work_dir, stack).preview(
                policy_packs=list(policy.packs),
                policy_pack_configs=list(policy.configs) or None,
                on_output=self.on_output,
                color="never",
            )
        except auto.CommandError as exc:
            return OpResult(ok=False, error=_tail(str(exc)))
        counts = {
            str(getattr(k, "value", k)): int(v) for k, v in (res.change_summary or {}).items()
        }
        return OpResult(ok=True, summary=_summary(counts))

    def up(self, work_dir: Path, stack: str, policy: PolicyArgs) -> OpResult:
        from pulumi import automation as auto

        try:
            res = self._stack(work_dir, stack).up(
                policy_packs=list(policy.packs),
                policy_pack_configs=list(policy.configs) or None,
                on_output=self.on_output,
                color="never",
                suppress_outputs=True,
            )
        except auto.CommandError as exc:
            return OpResult(ok=False, error=_tail(str(exc)))
        counts = res.summary.resource_changes if res.summary else None
        return OpResult(ok=True, summary=_summary(counts))


class ArgoRolloutStatus:
    """Health of an Argo Rollouts service: the Rollout's own `status.phase` via the API.

    `Healthy` passes; `Paused` passes (the rollout stopped at a declared step and waits for
    `slipway promote`); `Degraded` or an aborted rollout fails; anything else is polled until
    `timeout_seconds`.
    """

    def __init__(
        self,
        kube_context: str | None = None,
        timeout_seconds: float = 600,
        poll_seconds: float = 10,
        kubectl: Callable[[list[str]], str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube_context = kube_context
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds
        self.kubectl = kubectl or _kubectl
        self.sleep = sleep
        self.clock = clock

    def status(self, svc: GateService) -> Check:
        args = ["get", "rollouts.argoproj.io", svc.name, "-n", svc.namespace, "-o", "json"]
        if self.kube_context:
            args = ["--context", self.kube_context, *args]
        deadline = self.clock() + self.timeout_seconds
        last = "no status yet"
        while True:
            try:
                obj = json.loads(self.kubectl(args))
            except (RuntimeError, json.JSONDecodeError) as exc:
                return Check(svc.name, False, f"cannot read Rollout: {exc}")
            status = obj.get("status") or {}
            generation = (obj.get("metadata") or {}).get("generation")
            observed = status.get("observedGeneration")
            phase = status.get("phase", "")
            message = status.get("message", "")
            current = generation is None or str(observed) == str(generation)
            last = f"phase {phase or '?'}" + (f": {message}" if message else "")
            if status.get("abort"):
                return Check(svc.name, False, f"Rollout aborted ({last})")
            if current and phase == "Degraded":
                return Check(svc.name, False, f"Rollout {last}")
            if current and phase in ("Healthy", "Paused"):
                return Check(svc.name, True, f"Rollout {last}")
            if self.clock() >= deadline:
                return Check(
                    svc.name,
                    False,
                    f"Rollout not healthy after {self.timeout_seconds:.0f}s ({last})",
                )
            self.sleep(self.poll_seconds)


def _kubectl(args: list[str]) -> str:
    exe = shutil.which("kubectl")
    if exe is None:
        raise RuntimeError("kubectl is not installed; the Argo Rollouts gate reads the Rollout")
    proc = subprocess.run([exe, *args], capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or f"kubectl exited {proc.returncode}")
    return proc.stdout


class PrometheusSlo:
    """Health of a service from its SLO: error ratio, p99 latency and healthy targets.

    The queries are the ones `ServiceObservability` alerts on, over `window`: the gate fails
    when the error ratio exceeds the error budget, when p99 exceeds the objective, or when no
    target is up. No traffic in the window (no ratio) is reported, not failed.
    """

    def __init__(
        self,
        url: str,
        window: str = "5m",
        query: Callable[[str], float | None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.window = window
        self.query = query or self._http_query

    def _http_query(self, promql: str) -> float | None:
        qs = urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{qs}", timeout=30) as resp:
                body = json.load(resp)
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise RuntimeError(f"Prometheus at {self.url}: {exc}") from exc
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus at {self.url}: {body.get('error', body)}")
        result = body["data"]["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value

    def status(self, svc: GateService) -> list[Check]:
        from slipway_components.observability import (
            ServiceObservabilityArgs,
            error_ratio,
            latency_quantile,
            up_targets,
        )

        args = ServiceObservabilityArgs(
            service_name=svc.name, namespace=svc.namespace, team=svc.team, slo=svc.slo
        )
        budget = args.slo.error_budget
        p99_objective = args.slo.latency_p99_ms / 1000
        try:
            up = self.query(up_targets(args)) or 0.0
            ratio = self.query(error_ratio(args, self.window))
            p99 = self.query(latency_quantile(args, 0.99, self.window))
        except RuntimeError as exc:
            return [Check(svc.name, False, str(exc))]
        checks = [Check(svc.name, up >= 1, f"{up:.0f} healthy target(s)")]
        if ratio is None:
            checks.append(Check(svc.name, True, f"no requests in the last {self.window}"))
        else:
            checks.append(
                Check(
                    svc.name,
                    ratio <= budget,
                    f"error ratio {ratio:.4%} (budget {budget:.4%}) over {self.window}",
                )
            )
        if p99 is not None:
            checks.append(
                Check(
                    svc.name,
                    p99 <= p99_objective,
                    f"p99 {p99 * 1000:.0f} ms (objective {args.slo.latency_p99_ms} ms)",
                )
            )
        return checks


class SloGate:
    """`HealthGate`: Argo Rollouts services by their Rollout, the others by Prometheus.

    Waits `settle_seconds` first so the new pods serve a full query window of traffic.
    """

    def __init__(
        self,
        rollouts: ArgoRolloutStatus,
        prometheus: PrometheusSlo | None,
        settle_seconds: float = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rollouts = rollouts
        self.prometheus = prometheus
        self.settle_seconds = settle_seconds
        self.sleep = sleep

    def check(self, services: Sequence[GateService]) -> GateResult:
        checks: list[Check] = []
        if self.settle_seconds and any(not s.argo_rollouts for s in services):
            self.sleep(self.settle_seconds)
        for svc in services:
            if svc.argo_rollouts:
                checks.append(self.rollouts.status(svc))
            elif self.prometheus is None:
                checks.append(Check(svc.name, False, "no --prometheus-url to check the SLO"))
            else:
                checks.extend(self.prometheus.status(svc))
        return GateResult(tuple(checks))


# --------------------------------------------------------------------------------------------
# Reading the project: stack config, catalog, policy config


@dataclass
class Project:
    """What `deploy` needs to know about the stack before touching the engine."""

    catalog_dir: str
    services: list[GateService] = field(default_factory=list)


def read_stack_settings(project_dir: Path, stack: str) -> Any:
    """`StackConfig` from `Pulumi.<stack>.yaml` (`slipway:` keys), validated like the program."""
    from stacks.catalog import _format_errors
    from stacks.config import StackConfig

    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml")
        )
        raise BadInput(
            f"no stack file; expected {path.name} in {project_dir} (known stacks: "
            f"{', '.join(known) or 'none'})",
            file=path.name,
        )
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BadInput(f"not valid YAML: {exc}", file=path.name) from exc
    config = doc.get("config") or {}
    raw = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("slipway:")}
    keys = {f.alias or n for n, f in StackConfig.model_fields.items()}
    try:
        return StackConfig.model_validate({k: v for k, v in raw.items() if k in keys})
    except ValidationError as exc:
        _, msg = _format_errors(exc, prefix="slipway")
        raise BadInput(msg, file=path.name) from exc


def read_project(project_dir: Path, stack: str) -> Project:
    """The stack's catalog folder and the services the health gate checks."""
    from slipway_components.slo import SloArgs
    from stacks.catalog import load_catalog

    settings = read_stack_settings(project_dir, stack)
    services = load_catalog(project_dir / settings.catalog, settings.environment)
    gate_services = [
        GateService(
            name=s.name,
            namespace=f"{settings.namespace_prefix}{s.team}",
            team=s.team,
            argo_rollouts=s.strategy.engine == "argo-rollouts",
            slo=getattr(s, "slo", None) or SloArgs(),
        )
        for s in services
    ]
    return Project(catalog_dir=settings.catalog, services=gate_services)


def policy_args(project_dir: Path, stack: str, config_file: Path | None) -> PolicyArgs:
    """The project's policy pack, with a per-stack config file when one exists.

    Looked up in order: `config_file` (from `--policy-config`), then
    `policies/config/<stack>.json`.
    """
    pack = project_dir / POLICY_PACK_DIR
    if not (pack / "PulumiPolicy.yaml").is_file():
        raise BadInput(
            f"no policy pack at {pack} (PulumiPolicy.yaml missing); deploy always runs it",
            file=str(pack),
        )
    configs: tuple[str, ...] = ()
    if config_file is not None:
        if not config_file.is_file():
            raise BadInput("policy config file not found", file=str(config_file))
        configs = (str(config_file.resolve()),)
    else:
        default = pack / "config" / f"{stack}.json"
        if default.is_file():
            configs = (str(default),)
    return PolicyArgs(packs=(str(pack),), configs=configs)
