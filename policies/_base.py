"""What every rule module shares: rule declaration, property walking, workload traversal.

Rules judge a resource by its type token and its properties exactly as the engine hands them
over (camelCase inputs; Kubernetes objects in full). Two kinds of "missing" are handled on
purpose here, so that no rule has to think about them:

- an unset property reads as ``None`` (``get``), and each rule says what unset means
  (usually: the Kubernetes or cloud default, which is the insecure one);
- an unknown value (the engine's sentinel during preview) raises the SDK's
  ``UnknownValueError`` on access. The SDK turns that into an advisory "can't run policy
  during preview" diagnostic; the same rule runs again with the real value on update, so
  an unknown never blocks a preview and never passes silently.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL

_FRAMEWORKS = {
    "PSS": ("Kubernetes Pod Security Standards", "v1.33"),
    "CIS-K8S": ("CIS Kubernetes Benchmark", "1.10"),
    "CIS-EKS": ("CIS Amazon EKS Benchmark", "1.7"),
    "CIS-GKE": ("CIS Google Kubernetes Engine Benchmark", "1.6"),
    "CIS-AWS": ("CIS AWS Foundations Benchmark", "3.0"),
    "CIS-GCP": ("CIS Google Cloud Platform Foundation Benchmark", "3.0"),
    "NSA-K8S": ("NSA/CISA Kubernetes Hardening Guide", "1.2"),
    "SLSA": ("Supply-chain Levels for Software Artifacts", "1.0"),
    "SLIPWAY": ("slipway platform standard", "1"),
}


def _framework(standards: Sequence[str]) -> PolicyComplianceFramework:
    """The first standard becomes the SDK's framework field (it takes only one)."""
    family, _, reference = standards[0].partition(":")
    name, version = _FRAMEWORKS[family]
    return PolicyComplianceFramework(name=name, version=version, reference=reference or None)


def _level(security: bool) -> EnforcementLevel:
    """Security rules ship mandatory; the per-stack config raises the others where needed."""
    return EnforcementLevel.MANDATORY if security else EnforcementLevel.ADVISORY


EXCEPTIONS = "exceptions"
EXCEPTIONS_SCHEMA: Mapping[str, Any] = {
    "type": "array",
    "description": (
        "Resources this rule does not judge, each with the reason; kept in the stack's "
        "policy config so every exception is reviewed like code."
    ),
    "items": {
        "type": "object",
        "properties": {
            "resource": {
                "type": "string",
                "minLength": 1,
                "description": "`Kind namespace/name` (`Kind name` when cluster-scoped) or "
                "`<type token>::<resource name>`; shell-style patterns (`*`, `?`, `[...]`).",
            },
            "reason": {"type": "string", "minLength": 10, "pattern": "\\S"},
        },
        "required": ["resource", "reason"],
        "additionalProperties": False,
    },
    "default": [],
}
"""Every rule takes `exceptions` in its config (see `excepted`)."""


def _schema(config: Mapping[str, Mapping[str, Any]] | None) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties={**(config or {}), EXCEPTIONS: EXCEPTIONS_SCHEMA})


def resource_labels(resource_type: str, name: str, props: Any) -> list[str]:
    """The names an exception may give a resource: `<type>::<name>` always, and for a
    Kubernetes object `Kind namespace/name` (what `slipway check` and the preview show)."""
    labels = [f"{resource_type}::{name}"]
    try:
        kind, meta = get(props, "kind"), get(props, "metadata")
        obj_name = get(meta, "name")
        ns = get(meta, "namespace")
    except Exception:  # an unknown value during preview: only the token label
        return labels
    if isinstance(kind, str) and isinstance(obj_name, str):
        labels.append(f"{kind} {ns}/{obj_name}" if isinstance(ns, str) else f"{kind} {obj_name}")
    return labels


def excepted(config: Mapping[str, Any], resource_type: str, name: str, props: Any) -> bool:
    """Whether the rule's config excepts this resource (any label matches any pattern)."""
    entries = config.get(EXCEPTIONS) if isinstance(config, Mapping) else None
    if not entries:  # nearly every call: no exceptions configured for the rule
        return False
    patterns = [
        e["resource"] for e in as_list(entries) if isinstance(e, Mapping) and e.get("resource")
    ]
    if not patterns:
        return False
    labels = resource_labels(resource_type, name, props)
    return any(fnmatch.fnmatchcase(label, str(p)) for p in patterns for label in labels)


FieldPath = tuple[str | int, ...]
"""Where a finding is inside the object it names: keys and list indexes from the object's
root (``("spec", "template", "spec", "containers", 0, "image")``)."""


def locating(report_violation: Callable[..., None]) -> Callable[..., None]:
    """The report function rules call: ``report(message, urn=None, *, at=None)``.

    ``at`` (a `FieldPath`) says which field is at fault, so `slipway check` can point at its line.
    The SDK's own ``report_violation`` takes a message and a URN only, so ``at`` is dropped
    on the way there; a caller whose function is marked ``locates = True`` (the scanner's
    in-process runner) gets it.
    """
    if getattr(report_violation, "locates", False):
        return report_violation

    def report(message: str, urn: str | None = None, *, at: FieldPath | None = None) -> None:
        if urn is None:
            report_violation(message)
        else:
            report_violation(message, urn)

    return report


def _resource_validate(fn: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(fn)
    def validate(args: ResourceValidationArgs, report_violation: Callable[..., None]) -> None:
        if excepted(args.get_config(), args.resource_type, args.name, args.props):
            return
        fn(args, locating(report_violation))

    return validate


def _stack_validate(fn: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(fn)
    def validate(args: Any, report_violation: Callable[..., None]) -> None:
        config = args.get_config()
        report_at = locating(report_violation)
        if not as_list(config.get(EXCEPTIONS)):
            fn(args, report_at)
            return
        skip = {r.urn for r in args.resources if excepted(config, r.resource_type, r.name, r.props)}

        def report(message: str, urn: str | None = None, *, at: FieldPath | None = None) -> None:
            if urn is None or urn not in skip:
                report_at(message, urn, at=at)

        fn(args, report)

    return validate


EXEMPT_ANNOTATION = "slipway.dev/exempt"
"""Annotation key (or key prefix: ``slipway.dev/exempt.<anything>`` for more than one) by
which a third-party manifest records a reviewed exemption for `slipway check`:
``"<rule>[, <rule>...]: <reason>"``, one exemption per line."""
MIN_REASON = 10
"""The shortest reason accepted, as for the policy config's ``exceptions``."""


@dataclass(frozen=True)
class Exemption:
    """One exemption read from an object's annotations; ``reason`` None when it has none."""

    rule: str
    reason: str | None
    key: str
    text: bool = True
    """False when the annotation's value is not text (annotations are strings)."""


def exemptions(props: Any) -> list[Exemption]:
    """Every exemption an object's annotations record, malformed ones included (a rule
    name with no reason, or too short a one, gives ``reason=None``)."""
    annotations = get(props, "metadata", "annotations")
    if not isinstance(annotations, Mapping):
        return []
    found: list[Exemption] = []
    for key in list(annotations):  # keys only: another annotation may be unknown (preview)
        if not isinstance(key, str) or not (
            key == EXEMPT_ANNOTATION or key.startswith(EXEMPT_ANNOTATION + ".")
        ):
            continue
        value = annotations[key]
        if not isinstance(value, str):
            found.append(Exemption("", None, key, text=False))
            continue
        for line in value.splitlines() or [""]:
            if not line.strip():
                found.append(Exemption("", None, key))
                continue
            rules, sep, reason = line.partition(":")
            text = reason.strip()
            names = [r.strip() for r in rules.split(",") if r.strip()]
            for name in names or [""]:
                found.append(
                    Exemption(name, text if sep and len(text) >= MIN_REASON else None, key)
                )
    return found


def _tags(family: str, security: bool, standards: Sequence[str]) -> list[str]:
    return [family, "security" if security else "operations", *standards]


def resource_rule(
    *,
    id: str,
    family: str,
    description: str,
    severity: Severity,
    remediation: str,
    standards: Sequence[str],
    security: bool,
    applies_to: AppliesTo | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Declare a function as a resource rule; the SDK policy object hangs off ``fn.policy``.

    ``applies_to`` lists the resources the rule judges: Kubernetes kinds (``Service``),
    ``group/Kind`` pairs (``apps/Deployment``), type tokens (``aws:kms/key:Key``) or token
    prefixes ending in ":" (``gcp:``), or is a predicate over type tokens (`may_carry_pods`). It is
    metadata: the rule checks the type itself too, and ``_speed`` uses it to skip the
    SDK's per-policy work for resources a rule ignores anyway.
    """

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        fn.policy = ResourceValidationPolicy(  # type: ignore[attr-defined]
            name=id,
            description=description,
            validate=_resource_validate(fn),
            enforcement_level=_level(security),
            config_schema=_schema(config),
            severity=severity,
            framework=_framework(standards),
            tags=_tags(family, security, standards),
            remediation_steps=remediation,
        )
        fn.policy.applies_to = None if applies_to is None else type_matcher(applies_to)  # type: ignore[attr-defined]
        return fn

    return wrap


AppliesTo = Iterable[str] | Callable[[str], bool]
"""What ``applies_to`` takes: entries for `type_matcher`, or a predicate over type tokens."""


def type_matcher(entries: AppliesTo) -> Callable[[str], bool]:
    """A predicate over type tokens from kinds (any group), ``group/Kind`` pairs (any
    version: ``apps/Deployment``, ``core/Pod``), full tokens and prefixes (see
    resource_rule); a predicate is used as it is.

    `WORKLOAD_KINDS` itself (the very set, not a copy) stands for `may_carry_pods`: the
    container helpers find pods in every kind `POD_KINDS` lists and in custom resources,
    so a rule declared for it must run wherever they may find one, or ``_speed`` would
    skip what the plain SDK reports."""
    if callable(entries):
        return entries
    if entries is WORKLOAD_KINDS:
        return may_carry_pods
    entries = list(entries)
    kinds = frozenset(e for e in entries if ":" not in e and "/" not in e)
    group_kinds = frozenset(tuple(e.rsplit("/", 1)) for e in entries if ":" not in e and "/" in e)
    prefixes = tuple(e for e in entries if e.endswith(":"))
    tokens = frozenset(e for e in entries if ":" in e and not e.endswith(":"))

    def applies(resource_type: str) -> bool:
        return (
            resource_type in tokens
            or resource_type.startswith(prefixes)
            or (bool(kinds) and k8s_kind(resource_type) in kinds)
            or (bool(group_kinds) and k8s_group_kind(resource_type) in group_kinds)
        )

    return applies


def stack_rule(
    *,
    id: str,
    family: str,
    description: str,
    severity: Severity,
    remediation: str,
    standards: Sequence[str],
    security: bool,
    applies_to: AppliesTo | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Declare a function as a stack rule (runs once over every resource in AnalyzeStack).

    ``applies_to`` (as for resource rules) names the resources without which the rule has
    nothing to report: a stack holding none of them is not worth the SDK's work.
    """

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        fn.policy = StackValidationPolicy(  # type: ignore[attr-defined]
            name=id,
            description=description,
            validate=_stack_validate(fn),
            enforcement_level=_level(security),
            config_schema=_schema(config),
            severity=severity,
            framework=_framework(standards),
            tags=_tags(family, security, standards),
            remediation_steps=remediation,
        )
        fn.policy.applies_to = None if applies_to is None else type_matcher(applies_to)  # type: ignore[attr-defined]
        return fn

    return wrap


def policies_in(namespace: Mapping[str, Any]) -> list[Policy]:
    """Every rule declared in a module, in definition order (pass ``globals()``)."""
    return [v.policy for v in namespace.values() if callable(v) and hasattr(v, "policy")]


# --- property access -------------------------------------------------------------------


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Walk ``path`` into mappings and sequences; a missing step gives ``default``.

    Unknown values raise the SDK's ``UnknownValueError`` through its proxy (see module doc).
    """
    cur = obj
    for key in path:
        if key.__class__ is int:
            if not _is_seq(cur) or key >= len(cur):
                return default
            cur = cur[key]
        else:
            # dict first: the ABC check behind isinstance(..., Mapping) is the slow path
            if not (cur.__class__ is dict or isinstance(cur, Mapping)) or key not in cur:
                return default
            cur = cur[key]
        if cur is None:
            return default
    return cur


def _is_seq(v: Any) -> bool:
    if v.__class__ is list:
        return True
    return isinstance(v, Sequence) and not isinstance(v, str | bytes)


def as_list(v: Any) -> list[Any]:
    """A list property as a Python list; unset (or not a list) is empty."""
    return list(v) if _is_seq(v) else []


def is_true(v: Any) -> bool:
    """True only for an explicit true (YAML/JSON bool or the string "true")."""
    return v is True or (isinstance(v, str) and v.lower() == "true")


def is_false(v: Any) -> bool:
    """True only for an explicit false."""
    return v is False or (isinstance(v, str) and v.lower() == "false")


def labels_of(obj: Any) -> Mapping[str, Any]:
    """metadata.labels of an object; unset is empty."""
    labels = get(obj, "metadata", "labels")
    return labels if isinstance(labels, Mapping) else {}


# --- Kubernetes type tokens and workloads -------------------------------------------------

_K8S_TOKEN = re.compile(r"^kubernetes:(?P<gv>[^:]+):(?P<kind>[A-Za-z0-9]+)$")


@functools.lru_cache(maxsize=1024)
def k8s_kind(resource_type: str) -> str | None:
    """Kind of a Kubernetes type token (``kubernetes:apps/v1:Deployment`` -> Deployment).

    Patch and List variants (``DeploymentPatch``, ``DeploymentList``) are not objects to
    judge on their own; they give None like non-Kubernetes types.
    """
    m = _K8S_TOKEN.match(resource_type)
    if not m or m["kind"].endswith(("Patch", "List")):
        return None
    return m["kind"]


@functools.lru_cache(maxsize=1024)
def k8s_group_kind(resource_type: str) -> tuple[str, str] | None:
    """(API group, kind) of a Kubernetes type token: ``kubernetes:apps/v1:Deployment`` ->
    ("apps", "Deployment"), ``kubernetes:core/v1:Pod`` -> ("core", "Pod"). None where
    `k8s_kind` gives None."""
    kind = k8s_kind(resource_type)
    if kind is None:
        return None
    group_version = resource_type.split(":", 2)[1]
    group = group_version.rsplit("/", 1)[0] if "/" in group_version else "core"
    return group, kind


ANY = "*"
"""In a pod path: every item of the list at that point (``spec.metrics[*]...``)."""


@dataclass(frozen=True)
class PodKind:
    """Where one (API group, kind) keeps its pod specs, and how the rules read them.

    ``paths`` are pod-spec paths from the object's root; `ANY` stands for every item of a
    list. ``metadata`` is where the pods' metadata sits (None: next to the pod spec, as in a
    pod template; a path without `ANY` otherwise).

    ``partial`` marks an operator's custom resource whose "pod spec" is only a patch over
    the pod the operator builds (Prometheus, Alertmanager, ThanosRuler, PrometheusAgent:
    the operator writes the StatefulSet, its own containers with their images, probes,
    resources and security settings, and merges ``spec.containers`` into them by name, so
    an entry may be a patch of a few fields; ``spec.securityContext`` is the pod security
    context, left to the operator's defaults when unset). What such an object leaves unset
    is the operator's to fill, so rules judge only what it sets explicitly (``privileged:
    true``, ``hostNetwork: true``, ``runAsUser: 0``, an added capability, a hostPath volume,
    an Unconfined seccomp profile, an image tagged ``latest``), never a missing field (no
    ``allowPrivilegeEscalation``, no probe, no resources, no image).

    ``resolves_tags``: the controller resolves image tags to digests when it creates the
    pods (Knative Serving's tag-to-digest resolution), so a node never runs a stale copy of
    a moved tag and the pull policy does not matter.

    ``replicated`` (a replica count serving traffic: replicas and PDB rules) and
    ``long_running`` (containers serve until stopped: probe rules) say which kind-specific
    rules apply. ``namespaced`` is False for a cluster-scoped kind (ClusterAnalysisTemplate:
    its jobs run in the namespace of the analysis that uses it).
    """

    paths: tuple[FieldPath, ...]
    metadata: FieldPath | None = None
    partial: bool = False
    resolves_tags: bool = False
    replicated: bool = False
    long_running: bool = False
    namespaced: bool = True

    def __post_init__(self) -> None:
        if not all(isinstance(p, tuple) and p for p in self.paths):
            raise TypeError(f"PodKind.paths must be a tuple of paths, got {self.paths!r}")


_TEMPLATE: FieldPath = ("spec", "template", "spec")
_JOB_TEMPLATE: FieldPath = ("spec", "jobTemplate", "spec", "template", "spec")
_REPLICATED = PodKind((_TEMPLATE,), replicated=True, long_running=True)
_ANALYSIS = PodKind((("spec", "metrics", ANY, "provider", "job", *_TEMPLATE),))
_KNATIVE = PodKind((_TEMPLATE,), resolves_tags=True)
_MONITORING = PodKind((("spec",),), metadata=("spec", "podMetadata"), partial=True)

POD_KINDS: Mapping[tuple[str, str], PodKind] = {
    ("core", "Pod"): PodKind((("spec",),), metadata=("metadata",), long_running=True),
    ("core", "ReplicationController"): PodKind((_TEMPLATE,), long_running=True),
    ("apps", "Deployment"): _REPLICATED,
    ("apps", "StatefulSet"): _REPLICATED,
    ("apps", "ReplicaSet"): _REPLICATED,
    ("apps", "DaemonSet"): PodKind((_TEMPLATE,), long_running=True),
    # extensions/v1beta1 served these until Kubernetes 1.16; old manifests still use it.
    ("extensions", "Deployment"): _REPLICATED,
    ("extensions", "ReplicaSet"): _REPLICATED,
    ("extensions", "DaemonSet"): PodKind((_TEMPLATE,), long_running=True),
    ("batch", "Job"): PodKind((_TEMPLATE,)),
    ("batch", "CronJob"): PodKind((_JOB_TEMPLATE,)),
    # A Rollout with spec.workloadRef has no template: its Deployment is judged as itself.
    ("argoproj.io", "Rollout"): _REPLICATED,
    ("argoproj.io", "AnalysisTemplate"): _ANALYSIS,
    ("argoproj.io", "ClusterAnalysisTemplate"): dataclasses.replace(_ANALYSIS, namespaced=False),
    ("argoproj.io", "AnalysisRun"): _ANALYSIS,
    ("argoproj.io", "Experiment"): PodKind((("spec", "templates", ANY, "template", "spec"),)),
    ("serving.knative.dev", "Service"): _KNATIVE,
    ("serving.knative.dev", "Configuration"): _KNATIVE,
    ("serving.knative.dev", "Revision"): PodKind(
        (("spec",),), metadata=("metadata",), resolves_tags=True
    ),
    ("monitoring.coreos.com", "Prometheus"): _MONITORING,
    ("monitoring.coreos.com", "PrometheusAgent"): _MONITORING,
    ("monitoring.coreos.com", "Alertmanager"): _MONITORING,
    ("monitoring.coreos.com", "ThanosRuler"): _MONITORING,
}
"""Every (API group, kind) known to carry pod specs, and where. Argo Workflows are not
here: their templates hold bare containers and scripts, not pod specs."""

CUSTOM_POD_KIND = PodKind((_TEMPLATE, _JOB_TEMPLATE))
"""Any other custom resource: a pod template at one of the usual places counts when its
``containers`` is a list of objects (an operator's ``spec.template`` of another shape does
not)."""

_BUILTIN_GROUPS = frozenset(
    {"core", "apps", "batch", "extensions", "policy", "autoscaling", "yaml", "helm.sh"}
)


def _builtin_group(group: str) -> bool:
    """Kubernetes' own API groups (and pulumi-kubernetes' pseudo-groups): their kinds are
    known, so only `POD_KINDS` entries carry pods there."""
    return group in _BUILTIN_GROUPS or "." not in group or group.endswith(".k8s.io")


def pod_kind(resource_type: str) -> PodKind | None:
    """How a resource type keeps pod specs: its `POD_KINDS` entry, `CUSTOM_POD_KIND` for a
    custom resource of an unknown kind, None for a Kubernetes kind that has none."""
    gk = k8s_group_kind(resource_type)
    if gk is None:
        return None
    known = POD_KINDS.get(gk)
    if known is not None:
        return known
    return None if _builtin_group(gk[0]) else CUSTOM_POD_KIND


def may_carry_pods(resource_type: str) -> bool:
    """``applies_to`` of the rules that judge pod specs: every type `pod_kind` knows or
    might find a pod template in (an unknown custom resource is looked into)."""
    return pod_kind(resource_type) is not None


def _group_kinds(pred: Callable[[PodKind], bool]) -> frozenset[str]:
    return frozenset(f"{g}/{k}" for (g, k), pk in POD_KINDS.items() if pred(pk))


REPLICATED_GROUP_KINDS = _group_kinds(lambda pk: pk.replicated)
"""``group/Kind`` of the kinds with a replica count serving traffic (for ``applies_to``)."""
LONG_RUNNING_GROUP_KINDS = _group_kinds(lambda pk: pk.long_running)
"""``group/Kind`` of the kinds whose containers serve until stopped."""

# Kind names only, whatever the group: kept for the rules that still match by name.
# Pod specs are found through `POD_KINDS` (group and kind), not through these.
POD_TEMPLATE_KINDS = frozenset(
    {
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "Rollout",
        "ReplicationController",
    }
)
WORKLOAD_KINDS = POD_TEMPLATE_KINDS | {"CronJob", "Pod"}
"""Names of the core workload kinds (Argo Rollout included); see `POD_KINDS` for the rest."""

REPLICATED_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "Rollout"})
"""Names of the kinds with a replica count that serve traffic (`REPLICATED_GROUP_KINDS`)."""

LONG_RUNNING_KINDS = REPLICATED_KINDS | {"DaemonSet", "Pod", "ReplicationController"}
"""Names of the kinds whose containers serve until stopped; Jobs run to completion."""


def dotted(path: FieldPath) -> str:
    """A field path as people write it: ``spec.metrics[0].provider``."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


@dataclass(frozen=True)
class Workload:
    """One pod spec of a pod-bearing object: the object's kind and metadata, the pod's
    metadata, and the pod spec (None for a Rollout's workloadRef or a missing template).

    An object may carry several (an AnalysisTemplate's job metrics, an Experiment's
    templates): `workloads` gives one view per pod spec.
    """

    kind: str
    name: str
    namespace: str | None
    obj: Mapping[str, Any]
    pod_metadata: Mapping[str, Any]
    pod: Mapping[str, Any] | None
    pod_path: FieldPath = ()
    """Where ``pod`` sits in ``obj`` (``("spec", "template", "spec")``)."""
    group: str = ""
    pod_kind: PodKind = CUSTOM_POD_KIND
    where: str = "pod"
    """How messages name this pod: "pod", or "pod at <path>" when the object has several."""
    metadata_path: FieldPath = ("metadata",)
    """Where ``pod_metadata`` sits in ``obj``."""

    @property
    def partial(self) -> bool:
        return self.pod_kind.partial

    def at(self, *field: str | int) -> FieldPath:
        """The path of one of the pod spec's fields, for ``report(..., at=...)``."""
        return (*self.pod_path, *field)


@dataclass(frozen=True)
class Container:
    """One container of a pod spec, with where it sits, for messages and locations."""

    where: str
    spec: Mapping[str, Any]
    pod: Mapping[str, Any]
    init: bool = False
    ephemeral: bool = False
    path: FieldPath = ()
    """Where the container sits in its object (``(..., "containers", 0)``)."""
    partial: bool = False
    """The pod is a partial spec an operator completes (see `PodKind`)."""
    pod_path: FieldPath = ()
    resolves_tags: bool = False
    """The controller pins image tags to digests itself (see `PodKind`)."""

    def at(self, *field: str | int) -> FieldPath:
        """The path of one of this container's fields, for ``report(..., at=...)``."""
        return (*self.path, *field)

    @property
    def name(self) -> str:
        return str(get(self.spec, "name", default="?"))

    def sc(self, field: str) -> Any:
        """The container's own securityContext field (None when unset)."""
        return get(self.spec, "securityContext", field)

    def effective(self, field: str) -> Any:
        """A field the container inherits from the pod securityContext when it sets none."""
        own = self.sc(field)
        return own if own is not None else get(self.pod, "securityContext", field)

    def effective_at(self, field: str) -> FieldPath:
        """Where `effective` read ``field`` from: the container's securityContext, else the
        pod's, else (unset on both) the container's securityContext or the container."""
        if self.sc(field) is not None:
            return self.at("securityContext", field)
        if get(self.pod, "securityContext", field) is not None:
            return (*self.pod_path, "securityContext", field)
        if get(self.spec, "securityContext") is not None:
            return self.at("securityContext")
        return self.path


def nearest(obj: Any, path: FieldPath) -> FieldPath:
    """The longest start of ``path`` that exists in ``obj``: where to point at a field
    that is missing (its nearest existing parent)."""
    cur = obj
    for i, key in enumerate(path):
        if isinstance(key, int):
            ok = _is_seq(cur) and key < len(cur)
        else:
            ok = isinstance(cur, Mapping) and key in cur
        if not ok or cur[key] is None:
            return path[:i]
        cur = cur[key]
    return path


_last = threading.local()
_rpc = threading.local()


def rpc_cache() -> dict[Any, Any] | None:
    """A cache living for one Analyze/AnalyzeStack call (opened by ``_speed``), or None.

    Entries must be keyed by the identity of a props object and keep it alive, so the
    same id never names two objects within one call.
    """
    return getattr(_rpc, "cache", None)


def object_key(props: Any) -> tuple[str, str, str]:
    """(kind, namespace, name) of a Kubernetes object's props; cached per call."""
    cache = rpc_cache()
    if cache is not None:
        hit = cache.get(("object_key", id(props)))
        if hit is not None and hit[0] is props:
            return hit[1]
    kind = str(get(props, "kind", default=""))
    ns = str(get(props, "metadata", "namespace", default="") or "")
    name = str(get(props, "metadata", "name", default=""))
    value = (kind, ns, name)
    if cache is not None:
        cache[("object_key", id(props))] = (props, value)
    return value


def workloads(resource_type: str, props: Mapping[str, Any]) -> list[Workload]:
    """One view per pod spec a resource carries (see `POD_KINDS`); empty when it has none.

    A kind with one fixed pod path always gives its one view, with ``pod`` None when the
    template is missing (a Rollout's ``workloadRef``); paths through lists give one view
    per pod found; a custom resource of unknown kind gives a view only for a template
    whose ``containers`` is a list of objects.

    Thirty rules ask for the same views of one resource, so the last answer per thread is
    kept (keyed by the identity of the very props object, which is kept alive with it).
    """
    hit = getattr(_last, "workloads", None)
    if hit is not None and hit[0] is props and hit[1] == resource_type:
        return hit[2]
    views = _workloads(resource_type, props)
    _last.workloads = (props, resource_type, views)
    return views


def workload(resource_type: str, props: Mapping[str, Any]) -> Workload | None:
    """The first pod view of a resource (`workloads`), or None when it carries none. Rules
    that judge pods use `workloads`: an object may carry several."""
    views = workloads(resource_type, props)
    return views[0] if views else None


def _expand(obj: Any, pattern: FieldPath, prefix: FieldPath = ()) -> Iterator[FieldPath]:
    """Every concrete path matching ``pattern`` (`ANY` = each list item) that exists."""
    if not pattern:
        yield prefix
        return
    step, rest = pattern[0], pattern[1:]
    if step == ANY:
        for i, item in enumerate(as_list(obj)):
            yield from _expand(item, rest, (*prefix, i))
    elif isinstance(obj, Mapping) and obj.get(step) is not None:
        yield from _expand(obj[step], rest, (*prefix, step))


def _workloads(resource_type: str, props: Mapping[str, Any]) -> list[Workload]:
    gk = k8s_group_kind(resource_type)
    pk = pod_kind(resource_type)
    if gk is None or pk is None:
        return []
    group, kind = gk
    fixed = len(pk.paths) == 1 and ANY not in pk.paths[0]
    if fixed:
        found: list[FieldPath] = list(pk.paths)
    else:
        found = [p for pattern in pk.paths for p in _expand(props, pattern)]
    if pk is CUSTOM_POD_KIND:
        found = [
            p
            for p in found
            if _is_seq(get(props, *p, "containers"))
            and all(isinstance(c, Mapping) for c in get(props, *p, "containers"))
        ]
    several = not fixed
    views = []
    for path in found:
        pod = get(props, *path)
        meta_path = pk.metadata if pk.metadata is not None else (*path[:-1], "metadata")
        meta = get(props, *meta_path)
        views.append(
            Workload(
                kind=kind,
                name=str(get(props, "metadata", "name", default="")),
                namespace=get(props, "metadata", "namespace"),
                obj=props,
                pod_metadata=meta if isinstance(meta, Mapping) else {},
                pod=pod if isinstance(pod, Mapping) else None,
                pod_path=path,
                group=group,
                pod_kind=pk,
                where=f"pod at {dotted(path)}" if several else "pod",
                metadata_path=meta_path,
            )
        )
    return views


def pods(args: ResourceValidationArgs | Any) -> list[Workload]:
    """The views of a resource that hold a pod spec (`workloads` without the empty ones)."""
    return [w for w in workloads(args.resource_type, args.props) if w.pod is not None]


_SECTIONS = (
    ("containers", "container", False, False),
    ("initContainers", "init container", True, False),
    ("ephemeralContainers", "ephemeral container", False, True),
)


def containers(args: ResourceValidationArgs | Any) -> Iterator[Container]:
    """Every container, init container and ephemeral container of every pod spec of a
    resource (an object may carry several, see `workloads`)."""
    for w in pods(args):
        yield from workload_containers(w)


def workload_containers(w: Workload) -> list[Container]:
    """Every container of one pod view; messages name the pod when the object has several."""
    if w.pod is None:
        return []
    scope = "" if w.where == "pod" else f" ({w.where})"
    return pod_containers(w.pod, w.pod_path, partial=w.partial, scope=scope, kind=w.pod_kind)


def _container_label(label: str, c: Mapping[str, Any], section: str, i: int) -> str:
    """``container "web"``; an unnamed one (Knative names its single container itself) by
    its place: ``container containers[0] (unnamed)``."""
    name = get(c, "name")
    return f'{label} "{name}"' if name else f"{label} {section}[{i}] (unnamed)"


def pod_containers(
    pod: Mapping[str, Any],
    pod_path: FieldPath = (),
    *,
    partial: bool = False,
    scope: str = "",
    kind: PodKind | None = None,
) -> list[Container]:
    """Every container of one pod spec, with its section (the last answer is kept)."""
    key = (pod_path, partial, scope, kind)
    hit = getattr(_last, "containers", None)
    if hit is not None and hit[0] is pod and hit[1] == key:
        return hit[2]
    resolves = kind is not None and kind.resolves_tags
    found = [
        Container(
            f"{_container_label(label, c, section, i)}{scope}",
            c,
            pod,
            init,
            eph,
            (*pod_path, section, i),
            partial,
            pod_path,
            resolves,
        )
        for section, label, init, eph in _SECTIONS
        for i, c in enumerate(as_list(get(pod, section)))
        if isinstance(c, Mapping)
    ]
    _last.containers = (pod, key, found)
    return found


def pod_spec(args: ResourceValidationArgs | Any) -> Mapping[str, Any] | None:
    """The first pod spec of a resource (None when it has none); rules use `pods`."""
    found = pods(args)
    return found[0].pod if found else None


def selector_matches(selector: Any, labels: Mapping[str, Any]) -> bool:
    """A Kubernetes LabelSelector (matchLabels + matchExpressions) against labels.

    An empty selector matches everything, as in NetworkPolicy.podSelector.
    """
    if not isinstance(selector, Mapping):
        return True
    for k, v in (get(selector, "matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in as_list(get(selector, "matchExpressions")):
        key, op = get(expr, "key"), get(expr, "operator")
        values = [str(x) for x in as_list(get(expr, "values"))]
        present = key in labels
        value = str(labels.get(key)) if present else None
        ok = {
            "In": present and value in values,
            "NotIn": not present or value not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(op, False)
        if not ok:
            return False
    return True


def number(v: Any) -> float | None:
    """A number property (Struct makes every integer a float; YAML may quote it)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def autoscaler_minimums(resources: Iterable[Any]) -> dict[tuple[str, str, str], float]:
    """(kind, namespace, name) of each HorizontalPodAutoscaler's target -> its minReplicas
    (unset: 1), for the rules that need the fewest replicas a workload runs."""
    found: dict[tuple[str, str, str], float] = {}
    for h in resources:
        if k8s_kind(h.resource_type) == "HorizontalPodAutoscaler":
            ref = get(h.props, "spec", "scaleTargetRef", default={})
            ns = str(get(h.props, "metadata", "namespace", default="") or "")
            found[(str(get(ref, "kind")), ns, str(get(ref, "name")))] = (
                number(get(h.props, "spec", "minReplicas")) or 1.0
            )
    return found


def least_replicas(
    w: Workload, minimums: Mapping[tuple[str, str, str], float]
) -> tuple[float | None, str]:
    """The fewest replicas workload ``w`` runs, and how to say it: its autoscaler's
    minReplicas when one targets it (spec.replicas is then usually unset), else
    spec.replicas, unset meaning 1."""
    key = (w.kind, str(w.namespace or ""), w.name)
    if key in minimums:
        return minimums[key], f"autoscaler minReplicas {minimums[key]:g}"
    raw = get(w.obj, "spec", "replicas")
    if raw is None:
        return 1.0, "replicas unset (1)"
    replicas = number(raw)
    return replicas, f"replicas {replicas:g}" if replicas is not None else f"replicas {raw!r}"
