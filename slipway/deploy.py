"""`slipway deploy <stack>`: policy-checked preview, `up`, a health gate, automated rollback.

The real engine is driven through Pulumi's Automation API (a `LocalWorkspace` on this project
directory, `select_stack`); everything the flow needs from the outside world sits behind
small interfaces so tests drive the same code with fakes:

- `StackRunner`: `preview(work_dir, stack, policy)` (which also says which resources would
  change) and `up(work_dir, stack, policy, targets=None)` (`targets`: only those URNs);
- `HealthGate` (`slipway.gate`): `check(services) -> GateResult`, after `up`, on the
  services this deploy changed, each judged through its own target's endpoints;
- `DeployRecord` (`slipway.rollback`): the commit each target last deployed (a stack tag).

The deploy runs in waves (`slipway.waves`): without `--waves` one wave holds every target
and its `up` is the whole stack; with `--waves` each wave is a targeted `up` of its targets'
resources, then its gate, and a failed wave stops the deploy. A wave that passed records
its targets' commit. With `auto_rollback`, a failed `up` or gate re-applies, for the failed
wave's targets only, the catalog and `Pulumi.<stack>.yaml` of the commit recorded as last
deployed there (or `rollback_ref`), laid over today's program in a temporary `git worktree`.

Exit codes (`DeployReport.exit_code`), as everywhere in the CLI plus one:

- 0: preview, up and health gate passed;
- 1: deploy failed (preview refused by a mandatory policy, up failed, or the gate failed or
  stayed inconclusive); with `--auto-rollback` the last deployed state was re-applied;
- 2: bad input, or the Pulumi CLI is missing (`ToolMissing`);
- 3: the rollback itself failed: the stack is in an unknown state and a human must act now.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError

from slipway.errors import BadInput, ToolMissing
from slipway.gate import (
    UNCHANGED_OPS,
    ArgoRolloutStatus,
    Check,
    GateResult,
    GateService,
    HealthGate,
    PrometheusSlo,
    SloGate,
    SloPolicy,
    TargetEndpoints,
    TargetGates,
    changed_services,
    target_gates,
)
from slipway.rollback import (
    DeployRecord,
    MemoryRecord,
    StackTagRecord,
    deployable_commit,
    last_good_worktree,
)
from slipway.waves import Wave, single_wave

__all__ = [
    "ArgoRolloutStatus",
    "Check",
    "DeployRecord",
    "GateResult",
    "GateService",
    "HealthGate",
    "MemoryRecord",
    "PrometheusSlo",
    "SloGate",
    "SloPolicy",
    "StackTagRecord",
    "TargetEndpoints",
    "TargetGates",
    "Wave",
    "changed_services",
    "target_gates",
]

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
# What the flow needs from the engine


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
    changed: tuple[str, ...] | None = None
    """Preview: URNs of the resources that would change; None when the engine did not say
    (then every service is judged)."""


class StackRunner(Protocol):
    """The engine: preview and apply one stack of the program in `work_dir`."""

    def preview(self, work_dir: Path, stack: str, policy: PolicyArgs) -> OpResult: ...

    def up(
        self,
        work_dir: Path,
        stack: str,
        policy: PolicyArgs,
        targets: Sequence[str] | None = None,
    ) -> OpResult: ...


# --------------------------------------------------------------------------------------------
# The report


@dataclass
class RollbackReport:
    """What the rollback of one group of targets did."""

    ref: str
    commit: str = ""
    result: OpResult | None = None
    error: str = ""
    targets: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok and not self.error


@dataclass
class WaveReport:
    """One wave: its up, its gate, its rollback."""

    wave: Wave
    targeted: bool
    up: OpResult | None = None
    gate: GateResult | None = None
    judged: tuple[str, ...] = ()
    rollbacks: list[RollbackReport] = field(default_factory=list)
    recorded: str = ""
    """The commit recorded as deployed in the wave's targets, or why none was."""

    @property
    def failure(self) -> str:
        if self.up is not None and not self.up.ok:
            return "up"
        if self.gate is not None and not self.gate.ok:
            return "gate"
        return ""


@dataclass
class DeployReport:
    """Everything that happened during one `deploy`, in order."""

    stack: str
    preview: OpResult | None = None
    waves: list[WaveReport] = field(default_factory=list)
    final_up: OpResult | None = None
    """With --waves: the untargeted `up` after every wave passed (stack-wide resources)."""
    gate_skipped: bool = False
    failure: str = ""
    """Which step failed first (`preview`, `up`, `gate`, `wave N up`, ...), empty on success."""

    @property
    def up(self) -> OpResult | None:
        """The last `up` of the deploy's waves."""
        ups = [w.up for w in self.waves if w.up is not None]
        return ups[-1] if ups else None

    @property
    def gate(self) -> GateResult | None:
        gates = [w.gate for w in self.waves if w.gate is not None]
        return gates[-1] if gates else None

    @property
    def rollbacks(self) -> list[RollbackReport]:
        return [r for w in self.waves for r in w.rollbacks]

    @property
    def rollback(self) -> RollbackReport | None:
        """The first rollback (a wave's targets may need several: one per recorded commit)."""
        rbs = self.rollbacks
        bad = [r for r in rbs if not r.ok]
        return (bad or rbs or [None])[0]

    @property
    def exit_code(self) -> int:
        if any(not r.ok for r in self.rollbacks):
            return EXIT_ROLLBACK_FAILED
        return EXIT_FAILED if self.failure else EXIT_OK

    def lines(self) -> list[str]:
        """Human-readable account, one line per fact."""
        out = [f"stack {self.stack}:"]
        if self.preview is not None:
            out.append(_op_line("preview (policy-checked)", self.preview))
        several = len(self.waves) > 1 or any(w.targeted for w in self.waves)
        for w in self.waves:
            prefix = f"{w.wave.name}: " if several else ""
            if w.up is not None:
                out.append(_op_line(f"{prefix}up", w.up))
            if self.gate_skipped and w.up is not None and w.up.ok:
                out.append(f"{prefix}health gate: SKIPPED (--skip-gate); health was not verified")
            elif w.gate is not None:
                verdict = "passed" if w.gate.ok else "FAILED"
                if not w.gate.ok and w.gate.inconclusive:
                    verdict = "INCONCLUSIVE (not passed)"
                judged = f" on {', '.join(w.judged)}" if w.judged else " (nothing changed)"
                out.append(f"{prefix}health gate{judged}: {verdict}")
                for c in w.gate.checks:
                    mark = "ok  " if c.ok else ("WAIT" if c.inconclusive else "FAIL")
                    out.append(f"  {mark} {c.service}: {c.detail}")
            if w.recorded:
                out.append(f"{prefix}{w.recorded}")
            for rb in w.rollbacks:
                out.extend(_rollback_lines(rb))
        if self.final_up is not None:
            out.append(_op_line("stack-wide up (after every wave)", self.final_up))
        if self.failure and self.failure != "preview" and not self.rollbacks:
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


def _rollback_lines(rb: RollbackReport) -> list[str]:
    where = f" in {', '.join(rb.targets)}" if rb.targets else ""
    target = f"{rb.ref} ({rb.commit[:12]})" if rb.commit else rb.ref
    if rb.ok:
        out = [f"rollback: re-applied the declared state of {target}{where}"]
        if rb.result and rb.result.summary:
            out.append(f"  {rb.result.summary}")
        return out
    out = [
        f"ROLLBACK FAILED while restoring {target}{where}: the stack is in an",
        "  unknown state; follow docs/runbooks/rollback.md by hand NOW",
    ]
    detail = rb.error or (rb.result.error if rb.result else "")
    if detail:
        out.append(f"  {detail}")
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
    rollback_ref: str | None = None,
    catalog_dir: str = "services",
    echo: Callable[[str], None] = lambda _line: None,
    waves: Sequence[Wave] | None = None,
    target_urns: dict[str, list[str]] | None = None,
    record: DeployRecord | None = None,
    stack_wide: bool = True,
) -> DeployReport:
    """Preview with policies, then each wave: up, gate, record; on failure stop there and,
    with `auto_rollback`, restore that wave's targets to their last deployed state.

    `waves=None` is one untargeted wave of every target (a plain deploy); otherwise each
    wave's `up` is targeted at `target_urns` of its targets. `gate=None` skips the health
    gate (reported as skipped, never as passed). `rollback_ref` overrides the record.
    `stack_wide=False` (`--target`) leaves out the last untargeted `up` of a waved deploy.
    """
    report = DeployReport(stack=stack, gate_skipped=gate is None)
    all_targets = list(dict.fromkeys(s.target for s in services)) or [""]
    targeted = waves is not None
    plan = list(waves) if waves is not None else [single_wave(all_targets)]
    if targeted and target_urns is None:
        raise BadInput("a deploy in waves needs each target's resource URNs", field="--waves")

    echo(f"preview {stack} with policy packs {', '.join(policy.packs)} ...")
    report.preview = runner.preview(project_dir, stack, policy)
    if not report.preview.ok:
        # Nothing was applied: there is nothing to roll back.
        report.failure = "preview"
        return report
    changed = changed_services(services, report.preview.changed)
    commit, not_recorded = deployable_commit(project_dir, stack, catalog_dir)

    for wave in plan:
        w = WaveReport(wave=wave, targeted=targeted)
        report.waves.append(w)
        urns = _wave_urns(wave, target_urns) if targeted else None
        label = wave.name if targeted else stack
        echo(f"up {label} ...")
        w.up = runner.up(project_dir, stack, policy, targets=urns)
        if w.up.ok and gate is not None:
            judged = [s for s in changed if not targeted or s.target in wave.targets]
            w.judged = tuple(s.label for s in judged)
            echo(f"health gate on {len(judged)} changed service(s) of {label} ...")
            w.gate = gate.check(judged)
        if w.failure:
            report.failure = f"{wave.name} {w.failure}" if targeted else w.failure
            if auto_rollback:
                w.rollbacks = rollback_wave(
                    stack,
                    wave,
                    project_dir=project_dir,
                    runner=runner,
                    policy=policy,
                    ref=rollback_ref,
                    record=record,
                    catalog_dir=catalog_dir,
                    target_urns=target_urns,
                    targeted=targeted,
                    echo=echo,
                )
            return report
        w.recorded = _record(record, wave, commit, not_recorded, gate is None)

    if targeted and stack_wide:
        echo(f"up {stack}: stack-wide resources after every wave ...")
        report.final_up = runner.up(project_dir, stack, policy, targets=None)
        if not report.final_up.ok:
            report.failure = "stack-wide up"
    return report


def _wave_urns(wave: Wave, target_urns: dict[str, list[str]] | None) -> list[str]:
    urns = [u for t in wave.targets for u in (target_urns or {}).get(t, [])]
    if not urns:
        raise BadInput(
            f"{wave.name}: the offline render holds no resource of these targets",
            field="slipway:waves",
        )
    return urns


def _record(
    record: DeployRecord | None, wave: Wave, commit: str | None, why_not: str, skipped: bool
) -> str:
    """Record the wave's targets as deployed at `commit`; the report line."""
    if record is None:
        return ""
    if skipped:
        return "not recorded as deployed: the health gate was skipped"
    if commit is None:
        return f"not recorded as deployed: {why_not}"
    try:
        record.set(list(wave.targets), commit)
    except Exception as exc:  # the deploy stands; the next rollback will not know it
        return f"WARNING: could not record {commit[:12]} as deployed: {exc}"
    return f"recorded {commit[:12]} as deployed in {', '.join(wave.targets)}"


def rollback_wave(
    stack: str,
    wave: Wave,
    *,
    project_dir: Path,
    runner: StackRunner,
    policy: PolicyArgs,
    ref: str | None,
    record: DeployRecord | None,
    catalog_dir: str,
    target_urns: dict[str, list[str]] | None,
    targeted: bool = True,
    echo: Callable[[str], None] = lambda _line: None,
) -> list[RollbackReport]:
    """Put the wave's targets back to their last deployed state: one rollback per distinct
    commit (`ref` if given, else each target's record). Untargeted only for an untargeted
    wave whose targets all go back to one commit; never raises."""
    groups: dict[str, list[str]] = {}
    unknown: list[str] = []
    for t in wave.targets:
        where = ref or (record.get(t) if record is not None else None)
        if where:
            groups.setdefault(where, []).append(t)
        else:
            unknown.append(t)
    reports: list[RollbackReport] = []
    if unknown:
        reports.append(
            RollbackReport(
                ref="(none)",
                targets=tuple(unknown),
                error="no deployed state is recorded for these targets (a first deploy, or "
                "one made before slipway recorded it): give --rollback-to <ref>",
            )
        )
    for where, targets in groups.items():
        urns = None
        if targeted or len(groups) > 1 or unknown:
            urns = [u for t in targets for u in (target_urns or {}).get(t, [])]
        echo(f"rolling back {', '.join(t for t in targets if t) or stack} to {where} ...")
        rb = rollback(
            stack,
            project_dir=project_dir,
            runner=runner,
            policy=policy,
            ref=where,
            catalog_dir=catalog_dir,
            targets=urns,
        )
        rb.targets = tuple(t for t in targets if t) if urns is not None else ()
        reports.append(rb)
    return reports


def rollback(
    stack: str,
    *,
    project_dir: Path,
    runner: StackRunner,
    policy: PolicyArgs,
    ref: str,
    catalog_dir: str,
    targets: Sequence[str] | None = None,
) -> RollbackReport:
    """Re-apply `ref`'s catalog and stack config with today's program; never raises."""
    report = RollbackReport(ref=ref)
    try:
        if targets is not None and not targets:
            raise RuntimeError(
                "these targets go back to different commits, and the offline render that "
                "names their resources is missing: give --rollback-to <ref> for all of them"
            )
        with last_good_worktree(project_dir, ref, stack, catalog_dir) as (work_dir, commit):
            report.commit = commit
            report.result = runner.up(work_dir, stack, policy, targets=targets)
    except Exception as exc:  # report, never hide: the caller exits 3
        report.error = f"{type(exc).__name__}: {exc}"
    return report


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

        changed: list[str] = []
        saw_steps = False

        def on_event(event: Any) -> None:
            """Each resource step's URN and op: what the gate will judge."""
            nonlocal saw_steps
            pre = getattr(event, "resource_pre_event", None)
            meta = getattr(pre, "metadata", None)
            if meta is None:
                return
            saw_steps = True
            op = str(getattr(meta.op, "value", meta.op))
            if op not in UNCHANGED_OPS:
                changed.append(meta.urn)

        try:
            res = self._stack(work_dir, stack).preview(
                policy_packs=list(policy.packs),
                policy_pack_configs=list(policy.configs) or None,
                on_output=self.on_output,
                on_event=on_event,
                color="never",
            )
        except auto.CommandError as exc:
            return OpResult(ok=False, error=_tail(str(exc)))
        counts = {
            str(getattr(k, "value", k)): int(v) for k, v in (res.change_summary or {}).items()
        }
        return OpResult(
            ok=True,
            summary=_summary(counts),
            changed=tuple(sorted(set(changed))) if saw_steps else None,
        )

    def up(
        self,
        work_dir: Path,
        stack: str,
        policy: PolicyArgs,
        targets: Sequence[str] | None = None,
    ) -> OpResult:
        from pulumi import automation as auto

        extra: dict[str, Any] = {}
        if targets is not None:
            # Only these resources, and what depends on them (`pulumi up --target ...
            # --target-dependents`): one wave's targets.
            extra = {"target": list(targets), "target_dependents": True}
        try:
            res = self._stack(work_dir, stack).up(
                policy_packs=list(policy.packs),
                policy_pack_configs=list(policy.configs) or None,
                on_output=self.on_output,
                color="never",
                suppress_outputs=True,
                **extra,
            )
        except auto.CommandError as exc:
            return OpResult(ok=False, error=_tail(str(exc)))
        counts = res.summary.resource_changes if res.summary else None
        return OpResult(ok=True, summary=_summary(counts))


# --------------------------------------------------------------------------------------------
# Reading the project: stack config, catalog, policy config


@dataclass
class Project:
    """What `deploy` needs to know about the stack before touching the engine."""

    catalog_dir: str
    services: list[GateService] = field(default_factory=list)
    """Every service in every target (the gate judges those a deploy changed)."""
    settings: Any = None
    """The validated `StackConfig`."""

    def endpoints(
        self, prometheus_url: str | None = None, kube_context: str | None = None
    ) -> dict[str, TargetEndpoints]:
        """Each target's gate endpoints: `targets[].gate` of the stack file; the command
        line's `--prometheus-url` / `--kube-context` stand in only for a one-target stack
        (three regions behind one Prometheus cannot be told apart)."""
        targets = self.settings.targets
        single = len(targets) == 1
        out = {}
        for t in targets:
            out[t.name] = TargetEndpoints(
                kube_context=t.gate.kube_context
                or (t.kubeconfig_context if t.cloud == "existing" else None)
                or (kube_context if single else None),
                prometheus_url=t.gate.prometheus_url or (prometheus_url if single else None),
            )
        return out


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
            target=t.name,
            strategy=s.strategy.type,
        )
        for t in settings.targets
        for s in services
    ]
    return Project(catalog_dir=settings.catalog, services=gate_services, settings=settings)


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
