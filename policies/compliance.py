"""Compliance: ownership labels and tags, data residency, protected state, and the stack
rules that need every resource at once (NetworkPolicy and PDB coverage, HPA targets,
Rollout workload references, regional spread).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from ._base import (
    HIGH,
    LOW,
    MEDIUM,
    REPLICATED_KINDS,
    WORKLOAD_KINDS,
    as_list,
    autoscaler_minimums,
    get,
    k8s_kind,
    labels_of,
    least_replicas,
    number,
    object_key,
    policies_in,
    resource_rule,
    selector_matches,
    stack_rule,
    workload,
)
from ._kinds import group_kind, namespaced, nearest

FAMILY = "compliance"

Args = ResourceValidationArgs
Report = ReportViolation

DEFAULT_LABELS = ["team", "app.kubernetes.io/name", "cost-center|cost-centre"]
"""An entry with "|" lists the spellings that satisfy it."""
DEFAULT_TAGS = ["team", "cost-center|cost-centre"]


def _has_any(labels: Mapping[str, Any], wanted: str) -> bool:
    """A non-empty value under one of the spellings of ``wanted`` ("a|b")."""
    return any(str(labels.get(k) or "").strip() for k in wanted.split("|"))


def _strings(v: Any, default: list[str]) -> list[str]:
    items = [str(x) for x in as_list(v)]
    return items if v is not None else default


@resource_rule(
    id="k8s-required-labels",
    applies_to=[*WORKLOAD_KINDS, "Namespace"],
    family=FAMILY,
    security=False,
    description="Workloads and Namespaces must carry the ownership labels.",
    severity=LOW,
    remediation="Add the labels listed in requiredLabels (default: team, "
    'app.kubernetes.io/name, cost-center) to metadata.labels; "a|b" accepts either.',
    standards=["SLIPWAY:ownership"],
    config={
        "requiredLabels": {"type": "array", "items": {"type": "string"}, "default": DEFAULT_LABELS}
    },
)
def required_labels(args: Args, report: Report) -> None:
    """Namespaces need team and cost-center only (they hold many apps); empty values count
    as missing."""
    kind = k8s_kind(args.resource_type)
    if kind not in WORKLOAD_KINDS and kind != "Namespace":
        return
    wanted = _strings(args.get_config().get("requiredLabels"), DEFAULT_LABELS)
    if kind == "Namespace":
        wanted = [w for w in wanted if not w.startswith("app.kubernetes.io/")]
    labels = labels_of(args.props)
    missing = [k for k in wanted if not _has_any(labels, k)]
    if missing:
        report(
            f"metadata.labels misses {', '.join(k.split('|')[0] for k in missing)}",
            at=nearest(args.props, "metadata", "labels"),
        )


_TAGGABLE = {
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:ecr/repository:Repository",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:kms/key:Key",
    "aws:secretsmanager/secret:Secret",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:iam/role:Role",
    "aws:route53/healthCheck:HealthCheck",
    "aws:route53/zone:Zone",
    "gcp:container/cluster:Cluster",
    "gcp:storage/bucket:Bucket",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:secretmanager/secret:Secret",
    "gcp:artifactregistry/repository:Repository",
}


def _tag_key(t: str) -> str:
    """The property holding a cloud resource's own tags (AWS) or labels (GCP)."""
    if t.startswith("aws:"):
        return "tags"
    return "resourceLabels" if t == "gcp:container/cluster:Cluster" else "labels"


def _tags_of(args: Args) -> dict[str, Any] | None:
    """Own tags/labels merged over the provider's default tags/labels; None when the
    resource is not taggable."""
    t = args.resource_type
    props = args.props
    if t.startswith("aws:"):
        default_path: tuple[str, ...] = ("defaultTags", "tags")
    elif t.startswith("gcp:"):
        default_path = ("defaultLabels",)
    else:
        return None
    key = _tag_key(t)
    if t not in _TAGGABLE and key not in props:
        return None
    merged: dict[str, Any] = {}
    provider = args.provider
    if provider is not None:
        defaults = get(provider.props, *default_path)
        if isinstance(defaults, Mapping):
            merged.update(defaults)
    own = get(props, key)
    if isinstance(own, Mapping):
        merged.update(own)
    return merged


@resource_rule(
    id="cloud-required-tags",
    applies_to=["aws:", "gcp:"],
    family=FAMILY,
    security=False,
    description="Taggable cloud resources must carry the ownership tags (AWS tags, GCP labels).",
    severity=LOW,
    remediation="Add the keys in requiredTags (default: team, cost-center) to tags/labels, "
    "or to the provider's defaultTags / defaultLabels.",
    standards=["SLIPWAY:ownership"],
    config={
        "requiredTags": {"type": "array", "items": {"type": "string"}, "default": DEFAULT_TAGS}
    },
)
def required_tags(args: Args, report: Report) -> None:
    """Provider default tags count: they land on every resource of that provider."""
    tags = _tags_of(args)
    if tags is None:
        return
    wanted = _strings(args.get_config().get("requiredTags"), DEFAULT_TAGS)
    missing = [k for k in wanted if not _has_any(tags, k)]
    if missing:
        report(
            f"tags/labels miss {', '.join(k.split('|')[0] for k in missing)}",
            at=nearest(args.props, _tag_key(args.resource_type)),
        )


_ZONE = re.compile(r"^([a-z]+-[a-z]+\d)-[a-z]$")


def region_of(resource_type: str, props: Any, provider: Any) -> str | None:
    """The region a cloud resource lives in: its own region/location, else its provider's.

    Lower-cased; GCP zones (europe-west1-b) count as their region; multi-regions (eu) stay.
    """
    if resource_type.startswith("pulumi:providers:"):
        return get(props, "region")
    if not resource_type.startswith(("aws:", "gcp:")):
        return None
    own = get(props, "region") or get(props, "location")
    if own is None and provider is not None:
        own = get(provider.props, "region")
    if own is None:
        return None
    text = str(own).lower()
    m = _ZONE.match(text)
    return m.group(1) if m else text


@resource_rule(
    id="allowed-regions",
    applies_to=["aws:", "gcp:", "pulumi:providers:"],
    family=FAMILY,
    security=False,
    description="Cloud resources must stay in the stack's allowed regions (data residency).",
    severity=HIGH,
    remediation="Place the target in a region listed in allowedRegions of the stack's "
    "policy config.",
    standards=["SLIPWAY:data-residency"],
    config={"allowedRegions": {"type": "array", "items": {"type": "string"}, "default": []}},
)
def allowed_regions(args: Args, report: Report) -> None:
    """An empty list allows any region; entries are globs (europe-*); case-insensitive."""
    allowed = [str(r).lower() for r in as_list(args.get_config().get("allowedRegions"))]
    if not allowed:
        return
    region = region_of(args.resource_type, args.props, args.provider)
    if region is None:
        return
    if not any(fnmatch.fnmatchcase(region.lower(), pattern) for pattern in allowed):
        own = "region" if get(args.props, "region") is not None else "location"
        report(
            f"region {region} is not in allowedRegions ({', '.join(allowed)})",
            at=nearest(args.props, own),
        )


STATEFUL_TYPES = {
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:ecr/repository:Repository",
    "aws:secretsmanager/secret:Secret",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:dynamodb/table:Table",
    "aws:efs/fileSystem:FileSystem",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:kms/keyRing:KeyRing",
    "gcp:storage/bucket:Bucket",
    "gcp:artifactregistry/repository:Repository",
    "gcp:secretmanager/secret:Secret",
    "gcp:sql/databaseInstance:DatabaseInstance",
}


@resource_rule(
    id="stateful-resources-protected",
    applies_to=sorted(STATEFUL_TYPES),
    family=FAMILY,
    security=False,
    description="Stateful cloud resources (keys, buckets, registries, secrets, databases) "
    "must be protected from deletion.",
    severity=HIGH,
    remediation="Pass ResourceOptions(protect=True) for the resource.",
    standards=["SLIPWAY:data-protection"],
)
def stateful_protected(args: Args, report: Report) -> None:
    """`pulumi destroy` or a rename must not silently delete data."""
    if args.resource_type in STATEFUL_TYPES and not args.opts.protect:
        report("stateful resource is not protect=True", at=())


@resource_rule(
    id="object-no-default-namespace",
    family=FAMILY,
    security=True,
    description="Namespaced objects must not be placed in the `default` namespace "
    "(workloads: workload-no-default-namespace).",
    severity=MEDIUM,
    remediation="Set metadata.namespace to the team's namespace.",
    standards=["CIS-K8S:5.7.4"],
)
def object_no_default_namespace(args: Args, report: Report) -> None:
    """`default` holds whatever nobody placed: policies, quotas and RBAC written for a
    team's namespace miss it, and its `default` ServiceAccount is shared by every stray pod.
    Only an explicit `default` is reported (a raw manifest or Helm output without a
    namespace lands wherever it is applied, which is the installer's choice); cluster-scoped
    kinds have no namespace (`_kinds.CLUSTER_SCOPED`), and a custom kind that names one is
    namespaced by definition. Workloads are workload-no-default-namespace's (one finding
    per object). Security rule, like that one: CIS 5.7.4 is about isolation."""
    if group_kind(args.resource_type) is None or workload(args.resource_type, args.props):
        return
    ns = get(args.props, "metadata", "namespace")
    if ns == "default" and namespaced(args.resource_type, ns):
        report("metadata.namespace is default", at=("metadata", "namespace"))


# --- stack rules -------------------------------------------------------------------------


def _ns(r: Any) -> str:
    return object_key(r.props)[1]


def _pod_labels(r: Any, by_key: Mapping[tuple[str, str, str], Any]) -> Mapping[str, Any] | None:
    """Pod labels of a workload; a Rollout with workloadRef borrows its Deployment's."""
    w = workload(r.resource_type, r.props)
    if w is None:
        return None
    ref = get(r.props, "spec", "workloadRef")
    if w.kind == "Rollout" and ref is not None:
        target = by_key.get(
            (str(get(ref, "kind", default="Deployment")), _ns(r), str(get(ref, "name")))
        )
        if target is None:  # dangling: stack-rollout-workload-ref-exists reports it
            return None
        tw = workload(target.resource_type, target.props)
        return get(tw.pod_metadata, "labels", default={}) if tw else {}
    return get(w.pod_metadata, "labels", default={})


def _index(resources: list[Any]) -> dict[tuple[str, str, str], Any]:
    """(kind, namespace, name) -> resource, for the Kubernetes objects of the stack."""
    index = {}
    for r in resources:
        kind = k8s_kind(r.resource_type)
        if kind:
            _, ns, name = object_key(r.props)
            index[(kind, ns, name)] = r
    return index


def _by_namespace(resources: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for r in resources:
        grouped.setdefault(_ns(r), []).append(r)
    return grouped


def _k8s(resources: list[Any], *kinds: str) -> list[Any]:
    return [r for r in resources if k8s_kind(r.resource_type) in kinds]


def _labels_at(r: Any) -> tuple[str | int, ...]:
    """Where a workload's pod labels are (a Rollout's workloadRef when it borrows them)."""
    if get(r.props, "spec", "workloadRef") is not None:
        return ("spec", "workloadRef")
    w = workload(r.resource_type, r.props)
    template = w.pod_path[:-1] if w is not None and w.pod_path else ()
    return nearest(r.props, *template, "metadata", "labels")


def _name(r: Any) -> str:
    kind = k8s_kind(r.resource_type)
    ns = _ns(r)
    meta = get(r.props, "metadata", default={})
    name = get(meta, "name") or get(meta, "generateName") or r.name
    return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"


@stack_rule(
    id="stack-workloads-have-network-policy",
    applies_to=sorted(WORKLOAD_KINDS),
    family=FAMILY,
    security=True,
    description="Every workload must be selected by a NetworkPolicy in its namespace.",
    severity=HIGH,
    remediation="Add a NetworkPolicy whose podSelector matches the workload's pod labels "
    "(a default-deny policy plus explicit allows).",
    standards=["CIS-K8S:5.3.2", "NSA-K8S:network-separation"],
)
def workloads_have_network_policy(args: StackValidationArgs, report: Report) -> None:
    """An unselected pod accepts traffic from every pod in the cluster."""
    resources = list(args.resources)
    index = _index(resources)
    policies = _by_namespace(_k8s(resources, "NetworkPolicy"))
    for r in _k8s(resources, *WORKLOAD_KINDS):
        labels = _pod_labels(r, index)
        if labels is None:
            continue
        covered = any(
            selector_matches(get(p.props, "spec", "podSelector"), labels)
            for p in policies.get(_ns(r), [])
        )
        if not covered:
            report(f"{_name(r)} is not selected by any NetworkPolicy", r.urn, at=_labels_at(r))


@stack_rule(
    id="stack-workloads-have-pdb",
    applies_to=sorted(REPLICATED_KINDS),
    family=FAMILY,
    security=False,
    description="Every replicated workload must be covered by a PodDisruptionBudget.",
    severity=MEDIUM,
    remediation="Add a PodDisruptionBudget whose selector matches the workload's pods.",
    standards=["SLIPWAY:reliability"],
)
def workloads_have_pdb(args: StackValidationArgs, report: Report) -> None:
    """Only workloads that run at least two pods (by their autoscaler's minReplicas when one
    targets them): a parked one (0) has no pods to protect, and for a single pod a budget
    can only block every drain or allow the outage anyway; `workload-min-replicas` says
    that it runs too few."""
    resources = list(args.resources)
    index = _index(resources)
    pdbs = _by_namespace(_k8s(resources, "PodDisruptionBudget"))
    minimums = autoscaler_minimums(resources)
    for r in _k8s(resources, *REPLICATED_KINDS):
        w = workload(r.resource_type, r.props)
        least = least_replicas(w, minimums)[0] if w is not None else None
        if least is not None and least < 2:
            continue
        labels = _pod_labels(r, index)
        if labels is None:
            continue
        covered = any(
            get(p.props, "spec", "selector") is not None
            and selector_matches(get(p.props, "spec", "selector"), labels)
            for p in pdbs.get(_ns(r), [])
        )
        if not covered:
            report(f"{_name(r)} is not covered by any PodDisruptionBudget", r.urn, at=_labels_at(r))


@stack_rule(
    id="stack-hpa-targets-exist",
    applies_to=["HorizontalPodAutoscaler"],
    family=FAMILY,
    security=False,
    description="Every HorizontalPodAutoscaler must target a workload of the stack.",
    severity=MEDIUM,
    remediation="Fix scaleTargetRef (kind and name) or remove the autoscaler.",
    standards=["SLIPWAY:reliability"],
)
def hpa_targets_exist(args: StackValidationArgs, report: Report) -> None:
    """Same namespace, same kind, same name."""
    resources = list(args.resources)
    index = _index(resources)
    for h in _k8s(resources, "HorizontalPodAutoscaler"):
        ref = get(h.props, "spec", "scaleTargetRef", default={})
        key = (str(get(ref, "kind", default="")), _ns(h), str(get(ref, "name", default="")))
        if key not in index:
            report(
                f"{_name(h)} targets {key[0]} {key[2]}, which the stack does not define",
                h.urn,
                at=nearest(h.props, "spec", "scaleTargetRef"),
            )


@stack_rule(
    id="stack-rollout-workload-ref-exists",
    applies_to=["Rollout"],
    family=FAMILY,
    security=False,
    description="An Argo Rollout's workloadRef must name a workload of the stack.",
    severity=MEDIUM,
    remediation="Fix spec.workloadRef (kind, name) or give the Rollout its own template.",
    standards=["SLIPWAY:reliability"],
)
def rollout_workload_ref_exists(args: StackValidationArgs, report: Report) -> None:
    """A dangling reference leaves the Rollout with no pods."""
    resources = list(args.resources)
    index = _index(resources)
    for r in _k8s(resources, "Rollout"):
        ref = get(r.props, "spec", "workloadRef")
        if ref is None:
            continue
        key = (
            str(get(ref, "kind", default="Deployment")),
            _ns(r),
            str(get(ref, "name", default="")),
        )
        if key not in index:
            report(
                f"{_name(r)} references {key[0]} {key[2]}, which the stack does not define",
                r.urn,
                at=("spec", "workloadRef"),
            )


@stack_rule(
    id="stack-min-regions",
    applies_to=["aws:", "gcp:", "pulumi:providers:"],
    family=FAMILY,
    security=False,
    description="The stack must span at least minRegions cloud regions (prod: two).",
    severity=HIGH,
    remediation="Add a target in another region to the stack.",
    standards=["SLIPWAY:reliability"],
    config={"minRegions": {"type": "number", "default": 1}},
)
def min_regions(args: StackValidationArgs, report: Report) -> None:
    """Regions come from the cloud providers (and resources' own region). A stack with no
    cloud resource at all (plain manifests) has no region to count and is not judged."""
    minimum = number(args.get_config().get("minRegions")) or 1
    regions = set()
    for r in args.resources:
        region = region_of(r.resource_type, r.props, r.provider)
        if region and "-" in region:  # multi-regions (EU, US, NAM4) span no single region
            regions.add(region)
    if regions and len(regions) < minimum:
        report(
            f"the stack spans {len(regions)} region(s) ({', '.join(sorted(regions))}); "
            f"at least {minimum:g} required"
        )


POLICIES = policies_in(globals())
