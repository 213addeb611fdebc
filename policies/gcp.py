"""GCP: GKE, Cloud Storage, Cloud KMS and IAM, judged on pulumi-gcp input names."""

from __future__ import annotations

import json
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import (
    CRITICAL,
    HIGH,
    MEDIUM,
    as_list,
    get,
    is_false,
    is_true,
    policies_in,
    resource_rule,
)

FAMILY = "gcp"

Args = ResourceValidationArgs
Report = ReportViolation

GKE = "gcp:container/cluster:Cluster"


def _rule(**kw: Any):
    return resource_rule(family=FAMILY, security=True, **kw)


def _first(v: Any) -> Any:
    items = as_list(v)
    return items[0] if items else v


def _gke(args: Args) -> bool:
    return args.resource_type == GKE


@_rule(
    id="gke-private-nodes",
    applies_to=[GKE],
    description="GKE nodes must have private IPs only.",
    severity=HIGH,
    remediation="Set privateClusterConfig.enablePrivateNodes: true.",
    standards=["CIS-GKE:5.6.5"],
)
def gke_private_nodes(args: Args, report: Report) -> None:
    """Unset gives nodes public IPs."""
    if _gke(args) and not is_true(
        get(_first(get(args.props, "privateClusterConfig")), "enablePrivateNodes")
    ):
        report("privateClusterConfig.enablePrivateNodes is not true")


@_rule(
    id="gke-workload-identity",
    applies_to=[GKE],
    description="GKE clusters must enable Workload Identity.",
    severity=HIGH,
    remediation='Set workloadIdentityConfig.workloadPool: "<project>.svc.id.goog".',
    standards=["CIS-GKE:5.2.2"],
)
def gke_workload_identity(args: Args, report: Report) -> None:
    """Unset lets pods use the node's service account (and the metadata server)."""
    if _gke(args) and not get(_first(get(args.props, "workloadIdentityConfig")), "workloadPool"):
        report("workloadIdentityConfig.workloadPool is unset")


@_rule(
    id="gke-shielded-nodes",
    applies_to=[GKE],
    description="GKE clusters must keep Shielded GKE Nodes on.",
    severity=MEDIUM,
    remediation="Remove enableShieldedNodes: false (the provider default is true).",
    standards=["CIS-GKE:5.5.5"],
)
def gke_shielded_nodes(args: Args, report: Report) -> None:
    """Unset is true in the provider; only an explicit false is a violation."""
    if _gke(args) and is_false(get(args.props, "enableShieldedNodes")):
        report("enableShieldedNodes is false")


_CHANNELS = {"REGULAR", "STABLE"}


@_rule(
    id="gke-release-channel",
    applies_to=[GKE],
    description="GKE clusters must follow the REGULAR or STABLE release channel.",
    severity=MEDIUM,
    remediation='Set releaseChannel.channel: "STABLE" (or "REGULAR").',
    standards=["CIS-GKE:5.5.4"],
)
def gke_release_channel(args: Args, report: Report) -> None:
    """Unset or UNSPECIFIED means manual upgrades, which fall behind on security patches."""
    if not _gke(args):
        return
    channel = get(_first(get(args.props, "releaseChannel")), "channel")
    if channel not in _CHANNELS:
        report(f"releaseChannel.channel is {channel or 'unset'}")


@_rule(
    id="gke-binary-authorization",
    applies_to=[GKE],
    description="GKE clusters must enforce Binary Authorization.",
    severity=HIGH,
    remediation='Set binaryAuthorization.evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE".',
    standards=["CIS-GKE:5.10.5"],
)
def gke_binary_authorization(args: Args, report: Report) -> None:
    """Unset is DISABLED."""
    if not _gke(args):
        return
    ba = _first(get(args.props, "binaryAuthorization"))
    mode = get(ba, "evaluationMode")
    if mode != "PROJECT_SINGLETON_POLICY_ENFORCE" and not (
        mode is None and is_true(get(ba, "enabled"))
    ):
        report(f"binaryAuthorization.evaluationMode is {mode or 'unset'}")


@_rule(
    id="gke-network-policy",
    applies_to=[GKE],
    description="GKE clusters must enforce NetworkPolicies.",
    severity=HIGH,
    remediation='Set datapathProvider: "ADVANCED_DATAPATH" (Dataplane V2) or '
    "networkPolicy.enabled: true.",
    standards=["CIS-GKE:5.6.7"],
)
def gke_network_policy(args: Args, report: Report) -> None:
    """Unset means NetworkPolicy objects are accepted but not enforced."""
    if not _gke(args):
        return
    dataplane_v2 = get(args.props, "datapathProvider") == "ADVANCED_DATAPATH"
    if not dataplane_v2 and not is_true(get(_first(get(args.props, "networkPolicy")), "enabled")):
        report("neither Dataplane V2 nor networkPolicy.enabled")


@_rule(
    id="gcs-uniform-access",
    applies_to=["gcp:storage/bucket:Bucket"],
    description="Cloud Storage buckets must use uniform bucket-level access.",
    severity=HIGH,
    remediation="Set uniformBucketLevelAccess: true.",
    standards=["CIS-GCP:5.2"],
)
def gcs_uniform_access(args: Args, report: Report) -> None:
    """Unset keeps per-object ACLs."""
    if args.resource_type == "gcp:storage/bucket:Bucket" and not is_true(
        get(args.props, "uniformBucketLevelAccess")
    ):
        report("uniformBucketLevelAccess is not true")


@_rule(
    id="gcs-public-access-prevention",
    applies_to=["gcp:storage/bucket:Bucket"],
    description="Cloud Storage buckets must enforce public access prevention.",
    severity=CRITICAL,
    remediation='Set publicAccessPrevention: "enforced".',
    standards=["CIS-GCP:5.1"],
)
def gcs_public_access_prevention(args: Args, report: Report) -> None:
    """Unset is "inherited", which allows public grants in most organisations."""
    if args.resource_type == "gcp:storage/bucket:Bucket" and (
        get(args.props, "publicAccessPrevention") != "enforced"
    ):
        report(f"publicAccessPrevention is {get(args.props, 'publicAccessPrevention') or 'unset'}")


_MAX_ROTATION_SECONDS = 90 * 24 * 3600


@_rule(
    id="gcp-kms-key-rotation",
    applies_to=["gcp:kms/cryptoKey:CryptoKey"],
    description="Cloud KMS keys must rotate at least every 90 days.",
    severity=MEDIUM,
    remediation='Set rotationPeriod, e.g. "7776000s" (90 days).',
    standards=["CIS-GCP:1.10"],
)
def gcp_kms_rotation(args: Args, report: Report) -> None:
    """Unset is no rotation."""
    if args.resource_type != "gcp:kms/cryptoKey:CryptoKey":
        return
    period = get(args.props, "rotationPeriod")
    if period is None:
        report("rotationPeriod is unset")
        return
    try:
        seconds = float(str(period).rstrip("s"))
    except ValueError:
        report(f"rotationPeriod {period} is not a duration in seconds")
        return
    if seconds > _MAX_ROTATION_SECONDS:
        report(f"rotationPeriod {period} is longer than 90 days")


_PRIMITIVE = {"roles/owner", "roles/editor"}
_IAM_TYPES = ("IAMMember", "IAMBinding")


@_rule(
    id="gcp-no-primitive-roles",
    applies_to=["gcp:"],
    description="IAM grants must not use the primitive owner or editor roles.",
    severity=CRITICAL,
    remediation="Grant predefined or custom roles that name the permissions needed.",
    standards=["CIS-GCP:1.5"],
)
def gcp_no_primitive_roles(args: Args, report: Report) -> None:
    """IAMMember / IAMBinding of any resource kind, and IAMPolicy documents."""
    t = args.resource_type
    if not t.startswith("gcp:"):
        return
    kind = t.rsplit(":", 1)[-1]
    if kind.endswith(_IAM_TYPES):
        role = get(args.props, "role")
        if role in _PRIMITIVE:
            report(f"grants {role}")
    elif kind.endswith("IAMPolicy"):
        data = get(args.props, "policyData")
        try:
            doc = json.loads(data) if isinstance(data, str) else data
        except ValueError:
            return
        for b in as_list(get(doc, "bindings")):
            if get(b, "role") in _PRIMITIVE:
                report(f"policy binds {get(b, 'role')}")


POLICIES = policies_in(globals())
