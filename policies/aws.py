"""AWS: EKS, ECR, S3, KMS, IAM and Route53, judged on pulumi-aws input names.

S3 settings live in companion resources (BucketPublicAccessBlock, ...ServerSideEncryption...,
BucketVersioning) in pulumi-aws 7, so those rules are stack rules: each bucket must have
a companion that names it and has the right settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

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
    stack_rule,
)

FAMILY = "aws"

Args = ResourceValidationArgs
Report = ReportViolation


def _rule(**kw: Any):
    return resource_rule(family=FAMILY, security=True, **kw)


def _first(v: Any) -> Any:
    items = as_list(v)
    return items[0] if items else v


@_rule(
    id="eks-private-endpoint",
    applies_to=["aws:eks/cluster:Cluster"],
    description="EKS API endpoints must be private (public only for an allow-list).",
    severity=HIGH,
    remediation="Set vpcConfig.endpointPrivateAccess: true and endpointPublicAccess: false "
    "(or publicAccessCidrs without 0.0.0.0/0).",
    standards=["CIS-EKS:5.4.2"],
)
def eks_private_endpoint(args: Args, report: Report) -> None:
    """AWS defaults: private access off, public access on from 0.0.0.0/0."""
    if args.resource_type != "aws:eks/cluster:Cluster":
        return
    vpc = _first(get(args.props, "vpcConfig"))
    if not is_true(get(vpc, "endpointPrivateAccess")):
        report("vpcConfig.endpointPrivateAccess is not true")
    if not is_false(get(vpc, "endpointPublicAccess")):
        cidrs = [str(c) for c in as_list(get(vpc, "publicAccessCidrs"))]
        if not cidrs or "0.0.0.0/0" in cidrs:
            report("the public endpoint is open to 0.0.0.0/0")


_LOG_TYPES = ["api", "audit", "authenticator"]


@_rule(
    id="eks-control-plane-logging",
    applies_to=["aws:eks/cluster:Cluster"],
    description="EKS clusters must ship api, audit and authenticator logs.",
    severity=MEDIUM,
    remediation='Set enabledClusterLogTypes: ["api", "audit", "authenticator", '
    '"controllerManager", "scheduler"].',
    standards=["CIS-EKS:2.1.1"],
)
def eks_logging(args: Args, report: Report) -> None:
    """Unset means no control-plane logs at all."""
    if args.resource_type != "aws:eks/cluster:Cluster":
        return
    enabled = {str(t) for t in as_list(get(args.props, "enabledClusterLogTypes"))}
    missing = [t for t in _LOG_TYPES if t not in enabled]
    if missing:
        report(f"enabledClusterLogTypes misses {', '.join(missing)}")


@_rule(
    id="ecr-immutable-tags",
    applies_to=["aws:ecr/repository:Repository"],
    description="ECR repositories must make tags immutable.",
    severity=HIGH,
    remediation='Set imageTagMutability: "IMMUTABLE".',
    standards=["CIS-EKS:5.1.1", "SLSA:build-provenance"],
)
def ecr_immutable_tags(args: Args, report: Report) -> None:
    """Unset is MUTABLE: a pushed tag can be overwritten."""
    if args.resource_type != "aws:ecr/repository:Repository":
        return
    if not str(get(args.props, "imageTagMutability", default="MUTABLE")).startswith("IMMUTABLE"):
        report("imageTagMutability is not IMMUTABLE")


@_rule(
    id="ecr-scan-on-push",
    applies_to=["aws:ecr/repository:Repository"],
    description="ECR repositories must scan images on push.",
    severity=MEDIUM,
    remediation="Set imageScanningConfiguration: {scanOnPush: true}.",
    standards=["CIS-EKS:5.1.1"],
)
def ecr_scan_on_push(args: Args, report: Report) -> None:
    """Unset is off."""
    if args.resource_type != "aws:ecr/repository:Repository":
        return
    if not is_true(get(_first(get(args.props, "imageScanningConfiguration")), "scanOnPush")):
        report("imageScanningConfiguration.scanOnPush is not true")


_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
_PAB = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
_VERSIONING = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)


def _bucket_keys(bucket: Any) -> set[str]:
    """What a companion's `bucket` input may hold for this bucket: its name or id."""
    keys = {bucket.name}
    for k in ("bucket", "id", "bucketPrefix"):
        v = get(bucket.props, k)
        if isinstance(v, str) and v:
            keys.add(v)
    return keys


def _companions(bucket: Any, resources: list[Any], types: tuple[str, ...]) -> list[Any]:
    """Companions naming the bucket, or children of it, or siblings under one parent when
    the bucket is the only bucket there (its id is not known until the bucket exists)."""
    keys = _bucket_keys(bucket)
    parent = bucket.opts.parent
    siblings = [r for r in resources if r.resource_type in _BUCKETS and r.opts.parent == parent]
    found = []
    for r in resources:
        if r.resource_type not in types:
            continue
        ref = get(r.props, "bucket")
        named = isinstance(ref, str) and ref in keys
        child = r.opts.parent == bucket.urn
        sibling = bool(parent) and r.opts.parent == parent and len(siblings) == 1
        if named or child or sibling:
            found.append(r)
    return found


def _buckets(args: StackValidationArgs) -> list[Any]:
    return [r for r in args.resources if r.resource_type in _BUCKETS]


_PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


@stack_rule(
    id="s3-public-access-block",
    applies_to=list(_BUCKETS),
    family=FAMILY,
    security=True,
    description="S3 buckets must have a public access block with all four settings on.",
    severity=CRITICAL,
    remediation="Add aws.s3.BucketPublicAccessBlock for the bucket with blockPublicAcls, "
    "blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets true.",
    standards=["CIS-AWS:2.1.4"],
)
def s3_public_access_block(args: StackValidationArgs, report: Report) -> None:
    """Unset flags are false."""
    resources = list(args.resources)
    for b in _buckets(args):
        blocks = _companions(b, resources, _PAB)
        if not blocks:
            report(f"bucket {b.name} has no BucketPublicAccessBlock", b.urn)
        for pab in blocks:
            off = [f for f in _PAB_FLAGS if not is_true(get(pab.props, f))]
            if off:
                report(f"bucket {b.name}: public access block leaves {', '.join(off)} off", b.urn)


def _sse_algorithms(resource: Any) -> list[str]:
    rules = as_list(get(resource.props, "rules")) or as_list(get(resource.props, "rule"))
    inline = _first(get(resource.props, "serverSideEncryptionConfiguration"))
    rules += as_list(get(inline, "rules")) + ([get(inline, "rule")] if get(inline, "rule") else [])
    algos = []
    for rule in rules:
        default = _first(get(rule, "applyServerSideEncryptionByDefault"))
        algos.append(str(get(default, "sseAlgorithm", default="")))
    return algos


@stack_rule(
    id="s3-kms-encryption",
    applies_to=list(_BUCKETS),
    family=FAMILY,
    security=True,
    description="S3 buckets must encrypt objects with KMS by default.",
    severity=HIGH,
    remediation="Add a BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms and "
    "a customer-managed key.",
    standards=["CIS-AWS:2.1.1"],
)
def s3_kms_encryption(args: StackValidationArgs, report: Report) -> None:
    """Without a configuration S3 uses SSE-S3 (AES256) keys the account cannot control."""
    resources = list(args.resources)
    for b in _buckets(args):
        algos = _sse_algorithms(b)
        for sse in _companions(b, resources, _SSE):
            algos += _sse_algorithms(sse)
        if not any(a.startswith("aws:kms") for a in algos):
            report(f"bucket {b.name} is not encrypted with aws:kms by default", b.urn)


@stack_rule(
    id="s3-versioning",
    applies_to=list(_BUCKETS),
    family=FAMILY,
    security=False,
    description="S3 buckets must have versioning enabled.",
    severity=MEDIUM,
    remediation='Add aws.s3.BucketVersioning with versioningConfiguration.status "Enabled".',
    standards=["CIS-AWS:2.1.3"],
)
def s3_versioning(args: StackValidationArgs, report: Report) -> None:
    """Unset versioning means an overwrite or delete loses data."""
    resources = list(args.resources)
    for b in _buckets(args):
        enabled = is_true(get(_first(get(b.props, "versioning")), "enabled"))
        for v in _companions(b, resources, _VERSIONING):
            status = get(_first(get(v.props, "versioningConfiguration")), "status")
            enabled = enabled or status == "Enabled"
        if not enabled:
            report(f"bucket {b.name} has no versioning enabled", b.urn)


@_rule(
    id="aws-kms-key-rotation",
    applies_to=["aws:kms/key:Key"],
    description="Symmetric KMS keys must rotate automatically.",
    severity=MEDIUM,
    remediation="Set enableKeyRotation: true.",
    standards=["CIS-AWS:3.6"],
)
def kms_key_rotation(args: Args, report: Report) -> None:
    """Unset is no rotation; asymmetric and HMAC keys cannot rotate and are skipped."""
    if args.resource_type != "aws:kms/key:Key":
        return
    spec = (
        get(args.props, "customerMasterKeySpec")
        or get(args.props, "keySpec")
        or "SYMMETRIC_DEFAULT"
    )
    if spec == "SYMMETRIC_DEFAULT" and not is_true(get(args.props, "enableKeyRotation")):
        report("enableKeyRotation is not true")


_IAM_POLICY_TYPES = {
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
}


def _statements(doc: Any) -> list[Mapping[str, Any]]:
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            return []
    stmts = get(doc, "Statement")
    if isinstance(stmts, Mapping):
        return [stmts]
    return [s for s in as_list(stmts) if isinstance(s, Mapping)]


def _wildcards(value: Any) -> bool:
    values = [value] if isinstance(value, str) else as_list(value)
    return any(str(v) in ("*", "*:*") for v in values)


def admin_statements(doc: Any) -> list[Mapping[str, Any]]:
    """Allow statements with a wildcard action on a wildcard resource."""
    return [
        s
        for s in _statements(doc)
        if get(s, "Effect") == "Allow"
        and _wildcards(get(s, "Action"))
        and _wildcards(get(s, "Resource"))
    ]


@_rule(
    id="iam-no-wildcard-admin",
    applies_to=[*_IAM_POLICY_TYPES, "aws:iam/role:Role"],
    description="IAM policies must not allow every action on every resource.",
    severity=CRITICAL,
    remediation='Name the actions and resources the role needs; never "Action": "*" with '
    '"Resource": "*".',
    standards=["CIS-AWS:1.16"],
)
def iam_no_wildcard_admin(args: Args, report: Report) -> None:
    """Policies (JSON string or object), and a Role's inline policies."""
    if args.resource_type in _IAM_POLICY_TYPES:
        if admin_statements(get(args.props, "policy")):
            report('the policy allows "*" actions on "*" resources')
    elif args.resource_type == "aws:iam/role:Role":
        for p in as_list(get(args.props, "inlinePolicies")):
            if admin_statements(get(p, "policy")):
                report(f'inline policy {get(p, "name")} allows "*" actions on "*" resources')


@_rule(
    id="route53-failover-health-check",
    applies_to=["aws:route53/record:Record"],
    description="Route53 failover records must carry a health check.",
    severity=HIGH,
    remediation="Set healthCheckId on every record with failoverRoutingPolicies.",
    standards=["SLIPWAY:reliability"],
)
def route53_failover_health_check(args: Args, report: Report) -> None:
    """Without a health check Route53 never fails over."""
    if args.resource_type != "aws:route53/record:Record":
        return
    if as_list(get(args.props, "failoverRoutingPolicies")) and not get(args.props, "healthCheckId"):
        report("failover record has no healthCheckId")


POLICIES = policies_in(globals())
