"""The deploy gate: is what this deploy changed healthy, in each target it changed?

What it judges, and why:

- **Only the services this deploy changed** (`changed_services`, from the URNs the engine's
  preview reported as create/update/replace/delete): noise in a service the deploy did not
  touch must not roll back this change.
- **Per target**: each target is read through its own kube context and its own Prometheus
  (`TargetEndpoints`, from the stack file's `targets[].gate`), since one Prometheus cannot
  tell three regions apart and one kube context sees one cluster.
- **Argo Rollouts services** by the Rollout of the revision just applied
  (`ArgoRolloutStatus`): the controller has observed it (`status.observedGeneration` ==
  `metadata.generation`), it is fully promoted (`status.currentPodHash == status.stableRS`)
  and `Healthy`. `Paused` waits for promotion until the deadline (never passes); an abort or
  `Degraded` of this revision fails. A Rollout this deploy did not change is not judged by
  an abort an earlier revision left set.
- **The other services** by repeated SLO measurements over the gate window
  (`PrometheusSlo`): a measurement needs at least `min_requests` requests (fewer is
  "inconclusive", it waits, and a gate that only ever saw too little traffic does not pass);
  errors are judged by a multi-window burn rate (by default 14.4x the error budget over
  both 1 h and 5 m, the SRE workbook's page condition); only the live pods count as up (the
  blue-green slot the Service selects, the canary's stable track).

Everything outside the process (kubectl, the Prometheus HTTP API, the clock) is injectable.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

KubeCtl = Callable[[list[str]], str]
PromQuery = Callable[[str], float | None]


@dataclass(frozen=True)
class GateService:
    """One service in one target, as the gate looks at it."""

    name: str
    namespace: str
    team: str
    argo_rollouts: bool
    slo: Any
    """`slipway_components.slo.SloArgs` of the service."""
    target: str = ""
    """The stack target (region) the service runs in; its endpoints judge it."""
    strategy: str = "rolling"
    """`rolling`, `blue-green` or `canary` (native engine): which pods are live."""
    rollout_changed: bool = True
    """This deploy changed the service's Rollout (false: only other objects of it changed)."""

    @property
    def label(self) -> str:
        return f"{self.target}/{self.name}" if self.target else self.name


@dataclass(frozen=True)
class Check:
    """One health check result, for the report."""

    service: str
    ok: bool
    detail: str
    inconclusive: bool = False
    """Not failed, not passed: too little traffic, or still waiting at the deadline."""


@dataclass(frozen=True)
class GateResult:
    """All checks of one gate run; the gate passes when every check passes."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def inconclusive(self) -> bool:
        """Nothing failed outright, but something could not be shown healthy."""
        bad = [c for c in self.checks if not c.ok]
        return bool(bad) and all(c.inconclusive for c in bad)


class HealthGate(Protocol):
    """Decides whether the services are healthy after `up`."""

    def check(self, services: Sequence[GateService]) -> GateResult: ...


# --------------------------------------------------------------------------------------------
# Which services a deploy changed


UNCHANGED_OPS = frozenset({"same", "read", "refresh", "discard"})
"""Engine step ops that change nothing in the cluster."""


def changed_services(
    services: Sequence[GateService], changed_urns: Iterable[str] | None
) -> list[GateService]:
    """The services (per target) whose resources are among `changed_urns`.

    A resource belongs to a service when its name is `<target>-<service>` or starts with
    `<target>-<service>-` (the composition names every child that way; the longest service
    name wins, so `orders-api` is not taken for `orders`). A change to a target's own
    resources (its namespaces, provider, mesh) concerns every service of that target.
    Stack-wide resources (global DNS) move no pod and are not judged here.
    `changed_urns=None` (the engine did not say) judges every service.
    """
    if changed_urns is None:
        return list(services)
    by_prefix = sorted(
        ((f"{s.target}-{s.name}" if s.target else s.name, s) for s in services),
        key=lambda p: -len(p[0]),
    )
    hit: dict[tuple[str, str], GateService] = {}
    rollouts: set[tuple[str, str]] = set()
    whole_targets: set[str] = set()
    for urn in changed_urns:
        name = urn.rsplit("::", 1)[-1]
        owner = next(
            (s for prefix, s in by_prefix if name == prefix or name.startswith(prefix + "-")),
            None,
        )
        if owner is not None:
            hit[(owner.target, owner.name)] = owner
            if ":argoproj.io/v1alpha1:Rollout::" in urn:
                rollouts.add((owner.target, owner.name))
            continue
        for s in services:
            if s.target and name.startswith(s.target + "-"):
                whole_targets.add(s.target)
    out = []
    for s in services:
        key = (s.target, s.name)
        if key in hit:
            out.append(replace(s, rollout_changed=key in rollouts))
        elif s.target in whole_targets:
            out.append(replace(s, rollout_changed=False))
    return out


# --------------------------------------------------------------------------------------------
# Argo Rollouts


def run_kubectl(args: list[str], *, timeout: float = 60) -> str:
    """Run kubectl read-only and return its stdout; RuntimeError with the last line of its
    error when it is missing or fails (the gate and the strategy commands read the cluster
    through this one function)."""
    exe = shutil.which("kubectl")
    if exe is None:
        raise RuntimeError("kubectl is not installed")
    proc = subprocess.run(
        [exe, *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"kubectl exited {proc.returncode}")
    return proc.stdout


def _time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp of a Kubernetes status (`2026-01-02T03:04:05Z`), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _with_context(context: str | None, args: list[str]) -> list[str]:
    return ["--context", context, *args] if context else args


class ArgoRolloutStatus:
    """Health of an Argo Rollouts service: the Rollout of the revision just applied.

    Passes only when the controller has observed the applied spec, the revision is fully
    promoted (`currentPodHash == stableRS`) and the phase is `Healthy`. `Paused` is waiting
    for promotion: polled until `timeout_seconds`, then not passed. `Degraded` or an abort
    of this revision fails.
    """

    def __init__(
        self,
        kube_context: str | None = None,
        timeout_seconds: float = 600,
        poll_seconds: float = 10,
        kubectl: KubeCtl | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        echo: Callable[[str], None] = lambda _line: None,
        started_at: datetime | None = None,
    ) -> None:
        self.kube_context = kube_context
        # When this deploy started: an abort (`status.abortedAt`) before it is an earlier
        # revision's.
        self.started_at = started_at or datetime.now(UTC)
        self.timeout_seconds = timeout_seconds
        self.poll_seconds = poll_seconds
        self.kubectl = kubectl or run_kubectl
        self.sleep = sleep
        self.clock = clock
        self.echo = echo

    def status(self, svc: GateService) -> Check:
        args = _with_context(
            self.kube_context,
            ["get", "rollouts.argoproj.io", svc.name, "-n", svc.namespace, "-o", "json"],
        )
        label = svc.label
        deadline = self.clock() + self.timeout_seconds
        said_waiting = False
        while True:
            try:
                obj = json.loads(self.kubectl(args))
            except (RuntimeError, json.JSONDecodeError) as exc:
                return Check(label, False, f"cannot read Rollout: {exc}")
            status = obj.get("status") or {}
            generation = (obj.get("metadata") or {}).get("generation")
            observed = status.get("observedGeneration")  # a string in Argo's status
            phase = status.get("phase", "") or "?"
            message = status.get("message", "")
            current_hash = status.get("currentPodHash")
            stable = status.get("stableRS")
            observed_now = (
                generation is not None and observed is not None and str(observed) == str(generation)
            )
            last = f"phase {phase}" + (f": {message}" if message else "")
            if observed_now and not svc.rollout_changed:
                # This deploy did not change the Rollout: an abort or pause belongs to an
                # earlier revision, handled when that one was deployed.
                return Check(
                    label,
                    True,
                    f"Rollout not changed by this deploy ({last}"
                    + ("; an earlier revision's abort is still set" if status.get("abort") else "")
                    + ")",
                )
            if observed_now and status.get("abort"):
                aborted_at = _time(status.get("abortedAt"))
                if aborted_at is not None and aborted_at < self.started_at:
                    # Spec changed without a new revision (Argo clears the abort on a new
                    # pod template): the abort is the earlier revision's, the stable serves.
                    return Check(
                        label,
                        True,
                        f"Rollout: an earlier revision's abort (at {status['abortedAt']}) is "
                        f"still set, stable {stable or '?'} serves ({last})",
                    )
                return Check(label, False, f"Rollout of this revision aborted ({last})")
            if observed_now and phase == "Degraded":
                return Check(label, False, f"Rollout of this revision {last}")
            if observed_now and phase == "Healthy" and current_hash and current_hash == stable:
                return Check(label, True, f"Rollout Healthy, revision {current_hash} is stable")
            remaining = deadline - self.clock()
            if remaining <= 0:
                if observed_now and phase == "Paused":
                    return Check(
                        label,
                        False,
                        f"Rollout still waiting for promotion after {self.timeout_seconds:.0f}s "
                        f"({last}); promote or abort it",
                        inconclusive=True,
                    )
                why = last if observed_now else "the controller has not observed the new spec"
                return Check(
                    label,
                    False,
                    f"Rollout not healthy after {self.timeout_seconds:.0f}s ({why}; "
                    f"revision {current_hash or '?'}, stable {stable or '?'})",
                    inconclusive=not observed_now,
                )
            if observed_now and phase == "Paused" and not said_waiting:
                self.echo(
                    f"{label}: Rollout paused, waiting for promotion (deadline in {remaining:.0f}s)"
                )
                said_waiting = True
            self.sleep(self.poll_seconds)


# --------------------------------------------------------------------------------------------
# Prometheus


@dataclass(frozen=True)
class SloPolicy:
    """How the SLO gate measures: windows, thresholds, how often and how long."""

    short_window: str = "5m"
    """Short burn-rate window (and the p99 and request-count window)."""
    long_window: str = "1h"
    """Long burn-rate window: both must burn above `burn_rate` to count as bad."""
    burn_rate: float = 14.4
    """Burn rate (multiples of the error budget) that is bad over both windows; 14.4 spends
    2% of a 30-day budget in an hour (SRE workbook, page)."""
    min_requests: float = 100
    """Requests over `short_window` a measurement needs to judge anything."""
    duration_seconds: float = 600
    """How long the gate measures at most."""
    interval_seconds: float = 60
    """Pause between measurements."""
    settle_seconds: float = 0
    """Wait before the first measurement."""
    passes_needed: int = 3
    """Good measurements (with enough traffic) needed to pass."""
    failures_needed: int = 2
    """Consecutive bad measurements that fail the service."""


@dataclass
class Measurement:
    verdict: str
    """`good`, `bad` or `wait` (not enough traffic to judge)."""
    detail: str


def _http_prom(url: str) -> PromQuery:
    base = url.rstrip("/")

    def query(promql: str) -> float | None:
        qs = urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(f"{base}/api/v1/query?{qs}", timeout=30) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            try:
                body = json.load(exc)
            except (json.JSONDecodeError, ValueError):
                raise RuntimeError(f"Prometheus at {base}: {exc}") from exc
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise RuntimeError(f"Prometheus at {base}: {exc}") from exc
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus at {base}: {body.get('error', body)}")
        result = body["data"]["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value

    return query


class PrometheusSlo:
    """One target's SLO measurements of a service (the queries its alerts use)."""

    def __init__(
        self,
        url: str,
        policy: SloPolicy | None = None,
        query: PromQuery | None = None,
        kube_context: str | None = None,
        kubectl: KubeCtl | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.policy = policy or SloPolicy()
        self.query = query or _http_prom(self.url)
        self.kube_context = kube_context
        self.kubectl = kubectl or run_kubectl

    def live_pods(self, svc: GateService) -> tuple[str, str]:
        """(PromQL label matcher, description) of the pods that take traffic.

        Blue-green: the slot the live Service selects (read from the cluster, since a
        promote flips it); canary: the stable track; rolling: every pod.
        """
        if svc.strategy == "blue-green":
            args = _with_context(
                self.kube_context, ["get", "service", svc.name, "-n", svc.namespace, "-o", "json"]
            )
            obj = json.loads(self.kubectl(args))
            slot = ((obj.get("spec") or {}).get("selector") or {}).get("slot")
            if not slot:
                raise RuntimeError(f"Service {svc.namespace}/{svc.name} selects no slot")
            return f'slot="{slot}"', f"live slot {slot}"
        if svc.strategy == "canary":
            return 'track="stable"', "stable track"
        return "", "all pods"

    def measure(self, svc: GateService) -> Measurement:
        from slipway_components.observability import (
            ServiceObservabilityArgs,
            error_ratio,
            latency_quantile,
            request_count,
            up_targets,
        )

        p = self.policy
        args = ServiceObservabilityArgs(
            service_name=svc.name, namespace=svc.namespace, team=svc.team, slo=svc.slo
        )
        budget = args.slo.error_budget
        try:
            live, live_what = self.live_pods(svc)
            up = self.query(up_targets(args, live)) or 0.0
            if up < 1:
                return Measurement("bad", f"0 healthy target(s) among the {live_what}")
            requests = self.query(request_count(args, p.short_window)) or 0.0
            if requests < p.min_requests:
                return Measurement(
                    "wait",
                    f"{requests:.0f} request(s) in {p.short_window}, fewer than the "
                    f"{p.min_requests:.0f} needed to judge",
                )
            short = self.query(error_ratio(args, p.short_window)) or 0.0
            long = self.query(error_ratio(args, p.long_window)) or 0.0
            p99 = self.query(latency_quantile(args, 0.99, p.short_window))
        except (RuntimeError, json.JSONDecodeError) as exc:
            return Measurement("bad", str(exc))
        burn_short, burn_long = short / budget, long / budget
        facts = (
            f"{up:.0f} healthy ({live_what}), {requests:.0f} requests; burn rate "
            f"{burn_short:.1f}x over {p.short_window}, {burn_long:.1f}x over {p.long_window} "
            f"(bad above {p.burn_rate:g}x on both)"
        )
        if burn_short > p.burn_rate and burn_long > p.burn_rate:
            return Measurement("bad", f"error budget burning: {facts}")
        objective = args.slo.latency_p99_ms / 1000
        if p99 is not None:
            facts += f"; p99 {p99 * 1000:.0f} ms (objective {args.slo.latency_p99_ms} ms)"
            if p99 > objective:
                return Measurement("bad", f"p99 above objective: {facts}")
        return Measurement("good", facts)


class SloGate:
    """`HealthGate` for one target: Argo services by their Rollout, the others by repeated
    SLO measurements until each has passed, failed, or the window ran out."""

    def __init__(
        self,
        rollouts: ArgoRolloutStatus,
        prometheus: PrometheusSlo | None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        echo: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.rollouts = rollouts
        self.prometheus = prometheus
        self.sleep = sleep
        self.clock = clock
        self.echo = echo

    def check(self, services: Sequence[GateService]) -> GateResult:
        checks: list[Check] = []
        slo_services = []
        for svc in services:
            if svc.argo_rollouts:
                checks.append(self.rollouts.status(svc))
            elif self.prometheus is None:
                checks.append(
                    Check(svc.label, False, "no Prometheus endpoint for this target to judge it")
                )
            else:
                slo_services.append(svc)
        if slo_services:
            checks.extend(self._measure(slo_services))
        return GateResult(tuple(checks))

    def _measure(self, services: list[GateService]) -> list[Check]:
        assert self.prometheus is not None
        p = self.prometheus.policy
        if p.settle_seconds:
            self.sleep(p.settle_seconds)
        deadline = self.clock() + p.duration_seconds
        good = {s.label: 0 for s in services}
        bad = {s.label: 0 for s in services}
        last: dict[str, Measurement] = {}
        done: dict[str, Check] = {}
        while True:
            for svc in services:
                if svc.label in done:
                    continue
                m = self.prometheus.measure(svc)
                last[svc.label] = m
                if m.verdict == "good":
                    good[svc.label] += 1
                    bad[svc.label] = 0
                elif m.verdict == "bad":
                    bad[svc.label] += 1
                self.echo(f"{svc.label}: {m.verdict}: {m.detail}")
                if bad[svc.label] >= p.failures_needed:
                    done[svc.label] = Check(svc.label, False, m.detail)
                elif good[svc.label] >= p.passes_needed:
                    done[svc.label] = Check(
                        svc.label, True, f"{good[svc.label]} good measurements; {m.detail}"
                    )
            if len(done) == len(services) or self.clock() + p.interval_seconds > deadline:
                break
            self.sleep(p.interval_seconds)
        for svc in services:
            if svc.label not in done:
                m = last[svc.label]
                done[svc.label] = Check(
                    svc.label,
                    False,
                    f"inconclusive after {p.duration_seconds:.0f}s: {good[svc.label]} of "
                    f"{p.passes_needed} good measurements needed; last: {m.detail}",
                    inconclusive=True,
                )
        return [done[s.label] for s in services]


# --------------------------------------------------------------------------------------------
# One gate per target


@dataclass(frozen=True)
class TargetEndpoints:
    """Where the gate reads one target: its kube context and its Prometheus."""

    kube_context: str | None = None
    prometheus_url: str | None = None


@dataclass
class TargetGates:
    """`HealthGate` over several targets: each target's services through its own endpoints."""

    gates: dict[str, HealthGate]
    missing: dict[str, str] = field(default_factory=dict)
    """Target -> why it has no gate (no endpoints configured)."""

    def check(self, services: Sequence[GateService]) -> GateResult:
        checks: list[Check] = []
        by_target: dict[str, list[GateService]] = {}
        for svc in services:
            by_target.setdefault(svc.target, []).append(svc)
        for target, group in by_target.items():
            gate = self.gates.get(target)
            if gate is None:
                why = self.missing.get(target, f"no gate endpoints for target {target!r}")
                checks.extend(Check(s.label, False, why) for s in group)
            else:
                checks.extend(gate.check(group).checks)
        return GateResult(tuple(checks))


def target_gates(
    endpoints: dict[str, TargetEndpoints],
    *,
    policy: SloPolicy,
    rollout_timeout: float,
    needs_prometheus: set[str],
    kubectl: KubeCtl | None = None,
    query_for: Callable[[str], PromQuery] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    echo: Callable[[str], None] = lambda _line: None,
) -> TargetGates:
    """One `SloGate` per target from its endpoints; a target that needs Prometheus (it has
    non-Argo services) without a URL gets no gate, and its services fail with the reason."""
    gates: dict[str, HealthGate] = {}
    missing: dict[str, str] = {}
    for target, ep in endpoints.items():
        if target in needs_prometheus and not ep.prometheus_url:
            missing[target] = (
                f"no Prometheus for target {target!r}: set targets[].gate.prometheusUrl in "
                "the stack file (or --prometheus-url for a one-target stack)"
            )
            continue
        prom = None
        if ep.prometheus_url:
            prom = PrometheusSlo(
                ep.prometheus_url,
                policy,
                query=query_for(ep.prometheus_url) if query_for else None,
                kube_context=ep.kube_context,
                kubectl=kubectl,
            )
        gates[target] = SloGate(
            ArgoRolloutStatus(
                ep.kube_context,
                timeout_seconds=rollout_timeout,
                kubectl=kubectl,
                sleep=sleep,
                clock=clock,
                echo=echo,
            ),
            prom,
            sleep=sleep,
            clock=clock,
            echo=echo,
        )
    return TargetGates(gates, missing)
