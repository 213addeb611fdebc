"""Secrets from real stores through the External Secrets Operator (ESO).

`SecretStore` (one per target and namespace) gives ESO a cloud identity through workload
identity — an IAM role trusted by the cluster's OIDC provider on AWS, a Google service account
bound to a Kubernetes service account on GCP — with no access of its own. Each
`ExternalSecret` (one per service) grants that identity read access to exactly the secrets the
service names, and asks ESO to sync them into a Kubernetes Secret. Secret values never pass
through Pulumi.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slipway_components.cloud_common import check_tags, cloud_sdk, irsa_trust_policy, short_name

ESO_API = "external-secrets.io/v1"
STORE_SERVICE_ACCOUNT = "external-secrets"
"""Name of the Kubernetes service account each store authenticates as."""

_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _labels(name: str, tags: dict[str, str]) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/managed-by": "slipway",
        "team": tags["team"],
        "cost-center": tags["cost-center"],
    }


class SecretStoreArgs(BaseModel):
    """Inputs of `SecretStore`: which cloud store, and the identity that reads it."""

    cloud: Literal["aws", "gcp"]
    """`aws`: Secrets Manager through IRSA; `gcp`: Secret Manager through workload identity."""
    namespace: str = Field(min_length=1, max_length=63)
    """Namespace the store serves (stores are namespaced on purpose: no cross-team reads)."""
    region: str = Field(min_length=1)
    """Region of the secrets (AWS) or of the cluster (GCP)."""
    tags: dict[str, str]
    """Tags and labels; must include `team` and `cost-center`."""
    name_prefix: str = Field(min_length=1, max_length=40)
    """Prefix of cloud identity names, unique per stack and target (e.g. `prod-aws-us-east-1`)."""
    oidc_provider_arn: Any = None
    """AWS: the cluster's IAM OIDC provider."""
    oidc_issuer: Any = None
    """AWS: the issuer host/path (no scheme), used in the trust condition keys."""
    project: str | None = None
    """GCP: project holding the secrets and the cluster."""
    cluster_name: Any = None
    """GCP: the GKE cluster ESO exchanges tokens with."""
    refresh_interval: str = "1h"
    """How often ESO re-reads; default: 1h."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("namespace")
    @classmethod
    def _ns(cls, v: str) -> str:
        if not _K8S_NAME.match(v):
            raise ValueError(f"namespace {v!r} is not a DNS-1123 label")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        return check_tags(v)

    @model_validator(mode="after")
    def _cloud_fields(self) -> SecretStoreArgs:
        if self.cloud == "aws" and (self.oidc_provider_arn is None or self.oidc_issuer is None):
            raise ValueError("cloud 'aws' needs oidc_provider_arn and oidc_issuer (IRSA)")
        if self.cloud == "gcp" and (not self.project or self.cluster_name is None):
            raise ValueError("cloud 'gcp' needs project and cluster_name (workload identity)")
        return self


class SecretStore(pulumi.ComponentResource):
    """An ESO `SecretStore` in one namespace, with a workload identity and no grants yet."""

    name: str
    """The SecretStore's Kubernetes name (reference it from ExternalSecrets)."""
    namespace: str
    """Its namespace."""
    cloud: str
    """`aws` or `gcp`."""
    role_name: pulumi.Output[str] | None
    """AWS: the IAM role ESO assumes; ExternalSecrets attach their read policies to it."""
    gcp_member: pulumi.Output[str] | None
    """GCP: `serviceAccount:<email>` ExternalSecrets grant `secretAccessor` to."""
    region: str
    """Region of the secrets."""
    project: str | None
    """GCP project."""

    def __init__(
        self, name: str, args: SecretStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("slipway:secrets:SecretStore", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = args.namespace
        labels = _labels("external-secrets", args.tags)
        self.name = "slipway"
        self.namespace = ns
        self.cloud = args.cloud
        self.region = args.region
        self.project = args.project
        self.role_name = None
        self.gcp_member = None

        if args.cloud == "aws":
            aws = cloud_sdk("aws")
            trust = irsa_trust_policy(
                args.oidc_provider_arn, args.oidc_issuer, ns, STORE_SERVICE_ACCOUNT
            )
            role = aws.iam.Role(
                f"{name}-role",
                name=short_name(args.name_prefix, ns, "eso", max_len=64),
                assume_role_policy=trust,
                description=f"External Secrets Operator in namespace {ns}",
                tags=args.tags,
                opts=child,
            )
            self.role_name = role.name
            annotations = {"eks.amazonaws.com/role-arn": role.arn}
            provider_spec: dict = {
                "aws": {
                    "service": "SecretsManager",
                    "region": args.region,
                    "auth": {"jwt": {"serviceAccountRef": {"name": STORE_SERVICE_ACCOUNT}}},
                }
            }
        else:
            gcp = cloud_sdk("gcp")
            account = gcp.serviceaccount.Account(
                f"{name}-gsa",
                account_id=short_name(args.name_prefix, ns, max_len=30),
                display_name=f"External Secrets Operator in namespace {ns}",
                project=args.project,
                opts=child,
            )
            gcp.serviceaccount.IAMMember(
                f"{name}-wi",
                service_account_id=account.name,
                role="roles/iam.workloadIdentityUser",
                member=f"serviceAccount:{args.project}.svc.id.goog[{ns}/{STORE_SERVICE_ACCOUNT}]",
                opts=child,
            )
            self.gcp_member = account.member
            annotations = {"iam.gke.io/gcp-service-account": account.email}
            provider_spec = {
                "gcpsm": {
                    "projectID": args.project,
                    "auth": {
                        "workloadIdentity": {
                            "clusterLocation": args.region,
                            "clusterName": args.cluster_name,
                            "clusterProjectID": args.project,
                            "serviceAccountRef": {"name": STORE_SERVICE_ACCOUNT},
                        }
                    },
                }
            }

        sa = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={
                "name": STORE_SERVICE_ACCOUNT,
                "namespace": ns,
                "labels": labels,
                "annotations": annotations,
            },
            automount_service_account_token=False,
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version=ESO_API,
            kind="SecretStore",
            metadata={"name": self.name, "namespace": ns, "labels": labels},
            spec={"provider": provider_spec, "refreshInterval": _seconds(args.refresh_interval)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[sa]),
        )
        self.register_outputs({"name": self.name, "namespace": ns})


def _seconds(interval: str) -> int:
    """SecretStore.refreshInterval is in seconds; accept `30m`, `1h` like ExternalSecret does."""
    m = re.fullmatch(r"(\d+)([smh])", interval)
    if not m:
        raise ValueError(f"refresh interval {interval!r} must look like 30s, 15m or 1h")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


class RemoteSecret(BaseModel):
    """One key of the synced Kubernetes Secret, read from the cloud store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=253)
    """Key in the Kubernetes Secret (what the container sees as env var or file)."""
    remote_name: str = Field(min_length=1, max_length=255)
    """Secret name in AWS Secrets Manager / GCP Secret Manager."""
    property: str | None = None
    """JSON property inside the secret value; default: the whole value."""
    version: str | None = None
    """Pinned version; default: the latest (AWSCURRENT / latest)."""

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not _ENV_KEY.match(v):
            raise ValueError(f"key {v!r} is not a valid Secret key ([-._a-zA-Z0-9]+)")
        return v


class ExternalSecretArgs(BaseModel):
    """Inputs of `ExternalSecret`: one service's secrets from the store of its namespace."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str = Field(min_length=1, max_length=63)
    """Service name; the Kubernetes Secret is `<service>-external`."""
    secrets: list[RemoteSecret] = Field(min_length=1)
    """What to sync."""
    tags: dict[str, str]
    """Labels; must include `team` and `cost-center`."""
    refresh_interval: str = "1h"
    """How often ESO re-reads the store; default: 1h."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        return check_tags(v)

    @model_validator(mode="after")
    def _unique_keys(self) -> ExternalSecretArgs:
        keys = [s.key for s in self.secrets]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"service {self.service!r}: secret keys repeated: {dupes}")
        return self


def aws_secret_arns(region: str, account: str, names: list[str]) -> list[str]:
    """ARNs of named secrets; AWS appends a 6-character suffix, hence `-??????`."""
    return [f"arn:aws:secretsmanager:{region}:{account}:secret:{n}-??????" for n in sorted(names)]


class ExternalSecret(pulumi.ComponentResource):
    """An ESO `ExternalSecret` plus least-privilege read access to exactly its secrets."""

    secret_name: str
    """Name of the Kubernetes Secret ESO writes (mount or envFrom it)."""

    def __init__(
        self,
        name: str,
        args: ExternalSecretArgs,
        store: SecretStore,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("slipway:secrets:ExternalSecret", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.secret_name = f"{args.service}-external"
        remote_names = sorted({s.remote_name for s in args.secrets})
        grants: list[pulumi.Resource] = []
        if store.cloud == "aws":
            aws = cloud_sdk("aws")
            account = aws.get_caller_identity_output(
                opts=pulumi.InvokeOutputOptions(parent=self)
            ).account_id
            policy = account.apply(
                lambda acct: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "secretsmanager:GetSecretValue",
                                    "secretsmanager:DescribeSecret",
                                ],
                                "Resource": aws_secret_arns(store.region, acct, remote_names),
                            }
                        ],
                    },
                    sort_keys=True,
                )
            )
            grants.append(
                aws.iam.RolePolicy(f"{name}-read", role=store.role_name, policy=policy, opts=child)
            )
        else:
            gcp = cloud_sdk("gcp")
            for remote in remote_names:
                grants.append(
                    gcp.secretmanager.SecretIamMember(
                        f"{name}-read-{remote.lower().replace('_', '-')}",
                        project=store.project,
                        secret_id=remote,
                        role="roles/secretmanager.secretAccessor",
                        member=store.gcp_member,
                        opts=child,
                    )
                )

        data = []
        for s in args.secrets:
            ref: dict = {"key": s.remote_name}
            if s.property:
                ref["property"] = s.property
            if s.version:
                ref["version"] = s.version
            data.append({"secretKey": s.key, "remoteRef": ref})
        labels = _labels(args.service, args.tags)
        k8s.apiextensions.CustomResource(
            f"{name}-es",
            api_version=ESO_API,
            kind="ExternalSecret",
            metadata={"name": args.service, "namespace": store.namespace, "labels": labels},
            spec={
                "refreshInterval": args.refresh_interval,
                "secretStoreRef": {"name": store.name, "kind": "SecretStore"},
                "target": {
                    "name": self.secret_name,
                    "creationPolicy": "Owner",
                    "deletionPolicy": "Retain",
                    "template": {"metadata": {"labels": labels}},
                },
                "data": data,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )
        self.register_outputs({"secret_name": self.secret_name})
