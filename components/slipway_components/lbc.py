"""LoadBalancerControllerRole: the IAM role the AWS Load Balancer Controller runs as.

`ClusterAddons` installs the controller on EKS and needs `load_balancer_role_arn`; this
component makes that role. The controller reaches AWS through IRSA: the role trusts the
cluster's OIDC provider for exactly one service account (`LBC_NAMESPACE`/`LBC_SERVICE_ACCOUNT`,
the ones the chart's release uses), never the node role, so no other pod gets the controller's
Elastic Load Balancing and EC2 permissions.

The permissions are upstream's own policy for the pinned controller version, vendored unchanged
in `data/lbc_iam_policy.json` (`data/README.md` says from which tag and commit): a hand-kept
copy would drift from what the controller calls and fail only when a load balancer is made.

Role and policy names are left to Pulumi's auto-naming (or AWS's `name_prefix`), so two stacks
in one account never collide on the account-wide IAM names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable
from importlib import resources
from typing import Annotated

import pulumi
from pydantic import field_validator

from slipway_components.cloud_common import check_tags, cloud_sdk, irsa_trust_policy
from slipway_components.podspec import Args, StrInput

LBC_NAMESPACE = "aws-load-balancer-controller"
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"
"""The controller's namespace and service account, as `addons` installs it. Declared again
here, not imported, because `addons` loads the Kubernetes SDK, which an IAM-only program
does not need; a test holds the two copies equal."""

POLICY_FILE = "lbc_iam_policy.json"
"""Upstream's `docs/install/iam_policy.json`, in the package's `data` folder."""

_OIDC_PROVIDER_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::\d{12}:oidc-provider/\S+$")
_NAME_PREFIX = re.compile(r"^[\w+=,.@-]{1,38}$")


def check_oidc_provider_arn(arn: str) -> str:
    """An IAM OIDC provider ARN in the commercial partition: the vendored policy names
    `arn:aws:` resources, so a role elsewhere would be allowed nothing."""
    m = _OIDC_PROVIDER_ARN.match(arn)
    if not m:
        raise ValueError(
            f"{arn!r} is not an IAM OIDC provider ARN "
            "(arn:aws:iam::<account>:oidc-provider/<issuer>)"
        )
    if m.group(1) != "aws":
        raise ValueError(
            f"{arn!r} is in partition {m.group(1)!r}; the vendored controller policy is the "
            "commercial one (arn:aws:), other partitions need upstream's partition policy"
        )
    return arn


def check_oidc_issuer(issuer: str) -> str:
    """The issuer as IAM condition keys spell it: host and path, no scheme, no trailing
    slash (`oidc.eks.<region>.amazonaws.com/id/<id>`); with a scheme the trust never matches."""
    if not issuer or "://" in issuer or issuer.endswith("/") or any(c.isspace() for c in issuer):
        raise ValueError(
            f"oidc_issuer {issuer!r} must be the issuer's host and path without scheme or "
            "trailing slash (EksCluster.oidc_issuer)"
        )
    return issuer


_Str = str | Awaitable[str] | pulumi.Output[str]
OidcProviderArn = Annotated[_Str, StrInput(check_oidc_provider_arn)]
"""A `pulumi.Input[str]` IAM OIDC provider ARN (commercial partition)."""
OidcIssuer = Annotated[_Str, StrInput(check_oidc_issuer)]
"""A `pulumi.Input[str]` OIDC issuer without scheme."""


@functools.cache
def controller_policy() -> str:
    """The vendored controller policy, byte for byte (read once per process)."""
    data = resources.files("slipway_components").joinpath("data").joinpath(POLICY_FILE)
    return data.read_text(encoding="utf-8")


class LoadBalancerControllerRoleArgs(Args):
    """Inputs of `LoadBalancerControllerRole`: the EKS cluster's OIDC provider, and tags."""

    oidc_provider_arn: OidcProviderArn
    """The cluster's IAM OIDC provider (`EksCluster.oidc_provider_arn`)."""
    oidc_issuer: OidcIssuer
    """Its issuer without `https://` (`EksCluster.oidc_issuer`), used in the trust condition
    keys."""
    tags: dict[str, str]
    """Tags on the role and the policy; must include `team` and `cost-center`."""
    name_prefix: str | None = None
    """Prefix of the role's and policy's IAM names, to which AWS adds a unique suffix
    (at most 38 characters); default: none, Pulumi's auto-names from the resource names."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        return check_tags(v)

    @field_validator("name_prefix")
    @classmethod
    def _prefix(cls, v: str | None) -> str | None:
        if v is not None and not _NAME_PREFIX.match(v):
            raise ValueError(
                f"name_prefix {v!r} must be 1-38 characters of letters, digits and +=,.@_- "
                "(an IAM role name is at most 64, and AWS adds 26)"
            )
        return v


class LoadBalancerControllerRole(pulumi.ComponentResource):
    """An IAM role for the AWS Load Balancer Controller (IRSA), carrying upstream's policy.

    Creates the role, trusted by the cluster's OIDC provider for `LBC_NAMESPACE`/
    `LBC_SERVICE_ACCOUNT` only (`sub` and `aud` pinned), a customer-managed policy from the
    vendored document, and the attachment. Pass `role_arn` to
    `ClusterAddonsArgs.load_balancer_role_arn`.
    """

    role_arn: pulumi.Output[str]
    """The role's ARN (the service account's `eks.amazonaws.com/role-arn`)."""
    role_name: pulumi.Output[str]
    """The role's IAM name (auto-named)."""
    policy_arn: pulumi.Output[str]
    """The controller policy's ARN."""

    def __init__(
        self,
        name: str,
        args: LoadBalancerControllerRoleArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("slipway:aws:LoadBalancerControllerRole", name, {}, opts)
        aws = cloud_sdk("aws")
        child = pulumi.ResourceOptions(parent=self)
        subject = f"{LBC_NAMESPACE}/{LBC_SERVICE_ACCOUNT}"
        role = aws.iam.Role(
            f"{name}-role",
            name_prefix=args.name_prefix,
            assume_role_policy=irsa_trust_policy(
                args.oidc_provider_arn, args.oidc_issuer, LBC_NAMESPACE, LBC_SERVICE_ACCOUNT
            ),
            description=f"AWS Load Balancer Controller, service account {subject} (IRSA)",
            tags=args.tags,
            opts=child,
        )
        policy = aws.iam.Policy(
            f"{name}-policy",
            name_prefix=args.name_prefix,
            policy=controller_policy(),
            description="AWS Load Balancer Controller: upstream docs/install/iam_policy.json",
            tags=args.tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-attach",
            role=role.name,
            policy_arn=policy.arn,
            opts=child,
        )
        self.role_arn = role.arn
        self.role_name = role.name
        self.policy_arn = policy.arn
        self.register_outputs(
            {"role_arn": self.role_arn, "role_name": self.role_name, "policy_arn": self.policy_arn}
        )
