"""Reliability: probes, resources, replicas, disruption budgets and autoscalers.

Operational rules: advisory by default, mandatory in prod through the stack's policy config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi_policy import ResourceValidationArgs, StackValidationArgs

from ._base import (
    LONG_RUNNING_GROUP_KINDS,
    MEDIUM,
    REPLICATED_GROUP_KINDS,
    autoscaler_minimums,
    containers,
    get,
    k8s_kind,
    least_replicas,
    may_carry_pods,
    nearest,
    number,
    pods,
    policies_in,
    resource_rule,
    stack_rule,
    workload,
    workload_containers,
)

FAMILY = "reliability"

Args = ResourceValidationArgs
Report = Callable[..., None]
"""``report(message, urn=None, *, at=path)``: see ``_base.locating``."""

_MIN_REPLICAS = {"minReplicas": {"type": "number", "default": 2}}


def _rule(**kw: Any):
    return resource_rule(family=FAMILY, security=False, **kw)


def _serving_containers(args: Args):
    """Regular containers of long-running workloads (Jobs finish; init containers exit),
    matched by API group and kind (a Deployment of another group is not one)."""
    for w in pods(args):
        if not w.pod_kind.long_running:
            continue
        for c in workload_containers(w):
            if not c.init and not c.ephemeral:
                yield c


@_rule(
    id="container-liveness-probe",
    applies_to=sorted(LONG_RUNNING_GROUP_KINDS),
    description="Serving containers must declare a liveness probe.",
    severity=MEDIUM,
    remediation="Add livenessProbe (httpGet, tcpSocket, grpc or exec).",
    standards=["SLIPWAY:reliability"],
)
def liveness_probe(args: Args, report: Report) -> None:
    """Unset means a hung process is never restarted."""
    for c in _serving_containers(args):
        if get(c.spec, "livenessProbe") is None:
            report(f"{c.where} has no livenessProbe", at=c.path)


@_rule(
    id="container-readiness-probe",
    applies_to=sorted(LONG_RUNNING_GROUP_KINDS),
    description="Serving containers must declare a readiness probe.",
    severity=MEDIUM,
    remediation="Add readinessProbe so traffic only reaches ready pods.",
    standards=["SLIPWAY:reliability"],
)
def readiness_probe(args: Args, report: Report) -> None:
    """Unset means a pod gets traffic as soon as it starts."""
    for c in _serving_containers(args):
        if get(c.spec, "readinessProbe") is None:
            report(f"{c.where} has no readinessProbe", at=c.path)


def _resources(args: Args, report: Report, section: str) -> None:
    """A partial pod spec (an operator's) is skipped: the operator sets its containers'
    resources from fields of its own."""
    for c in containers(args):
        if c.ephemeral or c.partial:  # ephemeral containers may not set resources
            continue
        missing = [r for r in ("cpu", "memory") if get(c.spec, "resources", section, r) is None]
        if missing:
            report(
                f"{c.where} sets no {section} for {' and '.join(missing)}",
                at=nearest(args.props, c.at("resources", section)),
            )


@_rule(
    id="container-resource-requests",
    applies_to=may_carry_pods,
    description="Containers must request CPU and memory.",
    severity=MEDIUM,
    remediation="Set resources.requests.cpu and resources.requests.memory.",
    standards=["CIS-K8S:5.7", "SLIPWAY:reliability"],
)
def resource_requests(args: Args, report: Report) -> None:
    """Unset requests make the pod BestEffort, first to be evicted."""
    _resources(args, report, "requests")


@_rule(
    id="container-resource-limits",
    applies_to=may_carry_pods,
    description="Containers must set CPU and memory limits.",
    severity=MEDIUM,
    remediation="Set resources.limits.cpu and resources.limits.memory.",
    standards=["NSA-K8S:resource-policies", "SLIPWAY:reliability"],
)
def resource_limits(args: Args, report: Report) -> None:
    """Unset limits let one pod starve its node."""
    _resources(args, report, "limits")


@stack_rule(
    id="workload-min-replicas",
    applies_to=sorted(REPLICATED_GROUP_KINDS),
    family=FAMILY,
    security=False,
    description="Serving workloads must run enough replicas to survive losing one.",
    severity=MEDIUM,
    remediation="Set spec.replicas (or the HorizontalPodAutoscaler's minReplicas) to at "
    "least minReplicas (prod: 2).",
    standards=["SLIPWAY:reliability"],
    config=_MIN_REPLICAS,
)
def min_replicas(args: StackValidationArgs, report: Report) -> None:
    """A stack rule because an autoscaler owns the count when one targets the workload
    (spec.replicas is then usually unset). Without one, unset replicas means 1. Zero is a
    deliberate park (idle blue-green slot, a Deployment a Rollout takes over through
    workloadRef) and is accepted."""
    minimum = number(args.get_config().get("minReplicas")) or 2
    minimums = autoscaler_minimums(args.resources)
    for r in args.resources:
        w = workload(r.resource_type, r.props)
        if w is None or not w.pod_kind.replicated:
            continue
        replicas, shown = least_replicas(w, minimums)
        if replicas is not None and 0 < replicas < minimum:
            report(
                f"{shown}, below {minimum:g}",
                r.urn,
                at=nearest(r.props, ("spec", "replicas")),
            )


def _ns(props: Any) -> str:
    return str(get(props, "metadata", "namespace", default="") or "")


def _is_zero(v: Any) -> bool:
    return v is not None and str(v).strip() in ("0", "0%", "0.0")


@_rule(
    id="pdb-sanity",
    applies_to=["PodDisruptionBudget"],
    description="PodDisruptionBudgets must select pods and allow at least one disruption.",
    severity=MEDIUM,
    remediation="Set exactly one of minAvailable / maxUnavailable; maxUnavailable >= 1 "
    "(or minAvailable below 100%); a non-empty selector.",
    standards=["SLIPWAY:reliability"],
)
def pdb_sanity(args: Args, report: Report) -> None:
    """A budget that allows no disruption blocks node drains and cluster upgrades."""
    if k8s_kind(args.resource_type) != "PodDisruptionBudget":
        return
    spec = get(args.props, "spec", default={})
    min_available, max_unavailable = get(spec, "minAvailable"), get(spec, "maxUnavailable")
    if min_available is None and max_unavailable is None:
        report("sets neither minAvailable nor maxUnavailable", at=nearest(args.props, ("spec",)))
    if min_available is not None and max_unavailable is not None:
        report("sets both minAvailable and maxUnavailable", at=("spec", "maxUnavailable"))
    if _is_zero(max_unavailable):
        report(
            "maxUnavailable is 0: no voluntary disruption is ever allowed",
            at=("spec", "maxUnavailable"),
        )
    if min_available is not None and str(min_available).strip() == "100%":
        report(
            "minAvailable is 100%: no voluntary disruption is ever allowed",
            at=("spec", "minAvailable"),
        )
    selector = get(spec, "selector")
    if not get(selector, "matchLabels") and not get(selector, "matchExpressions"):
        report("selector is empty", at=nearest(args.props, ("spec", "selector")))


@_rule(
    id="hpa-sanity",
    applies_to=["HorizontalPodAutoscaler"],
    description="HorizontalPodAutoscalers must keep enough replicas and room to scale.",
    severity=MEDIUM,
    remediation="Set minReplicas >= the stack's minimum, maxReplicas > minReplicas, and a "
    "scaleTargetRef naming the workload.",
    standards=["SLIPWAY:reliability"],
    config=_MIN_REPLICAS,
)
def hpa_sanity(args: Args, report: Report) -> None:
    """Unset minReplicas means 1."""
    if k8s_kind(args.resource_type) != "HorizontalPodAutoscaler":
        return
    spec = get(args.props, "spec", default={})
    minimum = number(args.get_config().get("minReplicas")) or 2
    lo = number(get(spec, "minReplicas"))
    lo = 1.0 if lo is None else lo
    hi = number(get(spec, "maxReplicas"))
    if lo < minimum:
        report(
            f"minReplicas is {lo:g}, below {minimum:g}",
            at=nearest(args.props, ("spec", "minReplicas")),
        )
    if hi is None:
        report("maxReplicas is unset", at=nearest(args.props, ("spec", "maxReplicas")))
    elif hi <= lo:
        report(
            f"maxReplicas {hi:g} leaves no room above minReplicas {lo:g}",
            at=("spec", "maxReplicas"),
        )
    if not get(spec, "scaleTargetRef", "name") or not get(spec, "scaleTargetRef", "kind"):
        report(
            "scaleTargetRef does not name a kind and a workload",
            at=nearest(args.props, ("spec", "scaleTargetRef")),
        )


POLICIES = policies_in(globals())
