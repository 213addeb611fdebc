"""Shared pieces of the cloud components: required tags, names the clouds accept.

Every cloud resource carries `team` and `cost-center` so billing and ownership reports work
across AWS and GCP; the functions here validate them once and shape them per cloud.
"""

from __future__ import annotations

import hashlib
import importlib
import ipaddress
import json
import re
from types import ModuleType
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict, Field, model_validator

REQUIRED_TAGS = ("team", "cost-center")

_SDKS = {"aws": "pulumi_aws", "gcp": "pulumi_gcp"}


def cloud_sdk(cloud: str) -> ModuleType:
    """The cloud's Pulumi SDK, imported when a cloud resource is built: the SDKs are the
    package's extras (`slipway-components[aws]`, `[gcp]`), so a program using one cloud, or
    only the Kubernetes components, never needs the other."""
    module = _SDKS[cloud]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:
            raise
        raise ModuleNotFoundError(
            f'{module} is not installed: pip install "slipway-components[{cloud}]"',
            name=module,
        ) from err


_GCP_LABEL = re.compile(r"^[a-z0-9_-]{0,63}$")


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    """Refuse a tag set without the keys every resource must carry (ownership and billing)."""
    missing = [k for k in REQUIRED_TAGS if not tags.get(k)]
    if missing:
        raise ValueError(
            f"tags {sorted(tags)} lack required key(s) {missing}; every cloud resource "
            f"must carry {list(REQUIRED_TAGS)}"
        )
    return dict(sorted(tags.items()))


def gcp_labels(tags: dict[str, str]) -> dict[str, str]:
    """GCP labels from tags: keys and values lower-case `[a-z0-9_-]`, at most 63 characters."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        k = re.sub(r"[^a-z0-9_-]", "-", key.lower())[:63]
        v = re.sub(r"[^a-z0-9_-]", "-", value.lower())[:63]
        if not k or not k[0].isalpha() or not _GCP_LABEL.match(v):
            raise ValueError(f"tag {key!r}={value!r} cannot be a GCP label")
        out[k] = v
    return dict(sorted(out.items()))


def short_name(*parts: str, max_len: int = 63) -> str:
    """Join name parts with '-', cutting to `max_len` with a stable hash suffix when too long.

    Cloud names have length limits (a GCP service account id is 6-30 characters); a cut with
    a hash keeps names unique and the same on every run.
    """
    name = "-".join(p for p in parts if p)
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: max_len - 7].rstrip('-')}-{digest}"


class NodeBounds(BaseModel):
    """Size bounds shared by EKS node groups and GKE node pools."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_nodes: int = Field(default=2, ge=1, le=1000)
    """Autoscaling lower bound (GKE: over all zones); default: 2."""
    max_nodes: int = Field(default=6, ge=1, le=1000)
    """Autoscaling upper bound (GKE: over all zones); default: 6."""
    disk_size_gb: int = Field(default=50, ge=20, le=2000)
    """Encrypted root/boot disk size; default: 50 GB."""

    @model_validator(mode="after")
    def _bounds(self) -> NodeBounds:
        if self.min_nodes > self.max_nodes:
            raise ValueError(
                f"min_nodes ({self.min_nodes}) must not exceed max_nodes ({self.max_nodes})"
            )
        return self


def irsa_trust_policy(
    oidc_provider_arn: pulumi.Input[str],
    oidc_issuer: pulumi.Input[str],
    namespace: str,
    service_account: str,
) -> pulumi.Output[str]:
    """Trust policy letting one Kubernetes service account assume an AWS role (IRSA).

    Pinned to `sub` and `aud`, so no other service account of the cluster can use it."""

    def policy(a: list[Any]) -> str:
        arn, issuer = a
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{issuer}:sub": (
                                    f"system:serviceaccount:{namespace}:{service_account}"
                                ),
                                f"{issuer}:aud": "sts.amazonaws.com",
                            }
                        },
                    }
                ],
            },
            sort_keys=True,
        )

    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(policy)


def check_public_cidrs(cidrs: list[str], *, any_ip: bool) -> list[str]:
    """IPv4 networks for a cluster's public API endpoint, none repeated; `0.0.0.0/0` only when
    `any_ip` says so (secure default)."""
    out = []
    for cidr in cidrs:
        try:
            net = ipaddress.IPv4Network(cidr)
        except ValueError as exc:
            raise ValueError(f"public_access_cidrs entry {cidr!r} is invalid ({exc})") from None
        if net.prefixlen == 0 and not any_ip:
            raise ValueError(
                f"public_access_cidrs entry {cidr!r} opens the API to the internet; allowed: "
                "specific networks (e.g. an office range /24), or set allow_any_ip"
            )
        out.append(str(net))
    repeated = sorted({c for c in out if out.count(c) > 1})
    if repeated:
        raise ValueError(f"public_access_cidrs repeat {repeated}")
    return out
