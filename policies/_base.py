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


def exemptions(props: Any) -> list[Exemption]:
    """Every exemption an object's annotations record, malformed ones included (a rule
    name with no reason, or too short a one, gives ``reason=None``)."""
    annotations = get(props, "metadata", "annotations")
    if not isinstance(annotations, Mapping):
        return []
    found: list[Exemption] = []
    for key, value in annotations.items():
        if not isinstance(key, str) or not (
            key == EXEMPT_ANNOTATION or key.startswith(EXEMPT_ANNOTATION + ".")
        ):
            continue
        for line in str(value).splitlines() or [""]:
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
    applies_to: Iterable[str] | None = None,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Declare a function as a resource rule; the SDK policy object hangs off ``fn.policy``.

    ``applies_to`` lists the resources the rule judges: Kubernetes kinds (``Service``),
    type tokens (``aws:kms/key:Key``) or token prefixes ending in ":" (``gcp:``). It is
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


def type_matcher(entries: Iterable[str]) -> Callable[[str], bool]:
    """A predicate over type tokens from kinds, full tokens and prefixes (see resource_rule)."""
    entries = list(entries)
    kinds = frozenset(e for e in entries if ":" not in e)
    prefixes = tuple(e for e in entries if e.endswith(":"))
    tokens = frozenset(e for e in entries if ":" in e and not e.endswith(":"))

    def applies(resource_type: str) -> bool:
        return (
            resource_type in tokens
            or resource_type.startswith(prefixes)
            or (bool(kinds) and k8s_kind(resource_type) in kinds)
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
    applies_to: Iterable[str] | None = None,
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
        if isinstance(key, int):
            if not _is_seq(cur) or key >= len(cur):
                return default
            cur = cur[key]
        else:
            if not isinstance(cur, Mapping) or key not in cur:
                return default
            cur = cur[key]
        if cur is None:
            return default
    return cur


def _is_seq(v: Any) -> bool:
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
"""Every kind that carries a pod spec (Argo Rollout included)."""

REPLICATED_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "Rollout"})
"""Kinds with a replica count that serve traffic (what needs replicas and a PDB)."""

LONG_RUNNING_KINDS = REPLICATED_KINDS | {"DaemonSet", "Pod", "ReplicationController"}
"""Kinds whose containers serve until stopped (what needs probes); Jobs run to completion."""


@dataclass(frozen=True)
class Workload:
    """A pod-bearing object: its kind, metadata, and pod spec (None for a workloadRef)."""

    kind: str
    name: str
    namespace: str | None
    obj: Mapping[str, Any]
    pod_metadata: Mapping[str, Any]
    pod: Mapping[str, Any] | None
    pod_path: FieldPath = ()
    """Where ``pod`` sits in ``obj`` (``("spec", "template", "spec")``)."""


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


def workload(resource_type: str, props: Mapping[str, Any]) -> Workload | None:
    """The workload view of a resource, or None when it carries no pod spec.

    Pod: ``spec``; CronJob: ``spec.jobTemplate.spec.template``; the rest (including Argo
    Rollout): ``spec.template``. A Rollout with ``spec.workloadRef`` has no template of its
    own: its pods come from the referenced Deployment, which is judged as itself.

    Thirty rules ask for the same view of one resource, so the last answer per thread is
    kept (keyed by the identity of the very props object, which is kept alive with it).
    """
    hit = getattr(_last, "workload", None)
    if hit is not None and hit[0] is props and hit[1] == resource_type:
        return hit[2]
    view = _workload(resource_type, props)
    _last.workload = (props, resource_type, view)
    return view


def _workload(resource_type: str, props: Mapping[str, Any]) -> Workload | None:
    kind = k8s_kind(resource_type)
    if kind not in WORKLOAD_KINDS:
        return None
    template_path: FieldPath
    if kind == "Pod":
        template: Any = {"metadata": get(props, "metadata", default={}), "spec": get(props, "spec")}
        pod_path: FieldPath = ("spec",)
    elif kind == "CronJob":
        template_path = ("spec", "jobTemplate", "spec", "template")
        template = get(props, *template_path, default={})
        pod_path = (*template_path, "spec")
    else:
        template_path = ("spec", "template")
        template = get(props, *template_path, default={})
        pod_path = (*template_path, "spec")
    pod = get(template, "spec")
    return Workload(
        kind=kind,
        name=str(get(props, "metadata", "name", default="")),
        namespace=get(props, "metadata", "namespace"),
        obj=props,
        pod_metadata=get(template, "metadata", default={}),
        pod=pod if isinstance(pod, Mapping) else None,
        pod_path=pod_path,
    )


_SECTIONS = (
    ("containers", "container", False, False),
    ("initContainers", "init container", True, False),
    ("ephemeralContainers", "ephemeral container", False, True),
)


def containers(args: ResourceValidationArgs | Any) -> Iterator[Container]:
    """Every container, init container and ephemeral container of a workload resource."""
    w = workload(args.resource_type, args.props)
    if w is None or w.pod is None:
        return
    yield from pod_containers(w.pod, w.pod_path)


def pod_containers(pod: Mapping[str, Any], pod_path: FieldPath = ()) -> list[Container]:
    """Every container of one pod spec, with its section (the last answer is kept)."""
    hit = getattr(_last, "containers", None)
    if hit is not None and hit[0] is pod and hit[1] == pod_path:
        return hit[2]
    found = list(_pod_containers(pod, pod_path))
    _last.containers = (pod, pod_path, found)
    return found


def _pod_containers(pod: Mapping[str, Any], pod_path: FieldPath) -> Iterator[Container]:
    for key, label, init, eph in _SECTIONS:
        for i, c in enumerate(as_list(get(pod, key))):
            if isinstance(c, Mapping):
                name = get(c, "name", default="?")
                yield Container(f'{label} "{name}"', c, pod, init, eph, (*pod_path, key, i))


def pod_spec(args: ResourceValidationArgs | Any) -> Mapping[str, Any] | None:
    """The pod spec of a workload resource (None for other resources)."""
    w = workload(args.resource_type, args.props)
    return None if w is None else w.pod


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
