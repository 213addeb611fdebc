"""Stack configuration: what `Pulumi.<stack>.yaml` says under the `slipway:` namespace.

The stack file is the one place where topology lives (which clouds, regions and clusters);
services never name a region. Everything is validated here, before any resource exists.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import PurePosixPath
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from slipway_components.naming import check_dns_label


class Model(BaseModel):
    """Base for config models: camelCase in YAML, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class NodePoolConfig(Model):
    """Worker nodes of a cluster the stack creates."""

    instance_type: str | None = None
    """Machine type; default: m6i.large on AWS, e2-standard-4 on GCP."""
    min_nodes: int = Field(default=2, ge=1, le=1000)
    """Autoscaling lower bound; default: 2 (one per zone survives a zone loss)."""
    max_nodes: int = Field(default=6, ge=1, le=1000)
    """Autoscaling upper bound; default: 6."""
    disk_size_gb: int = Field(default=50, ge=20, le=2000)

    @model_validator(mode="after")
    def _bounds(self) -> NodePoolConfig:
        if self.min_nodes > self.max_nodes:
            raise ValueError(
                f"minNodes ({self.min_nodes}) must not exceed maxNodes ({self.max_nodes})"
            )
        return self


class ClusterConfig(Model):
    """Settings for a cluster the stack creates (cloud `aws` or `gcp`)."""

    kubernetes_version: str = "1.33"
    """Control-plane version; default: 1.33."""
    vpc_cidr: str = "10.0.0.0/16"
    """Address space of the cluster network; default: 10.0.0.0/16."""
    public_access_cidrs: list[str] = Field(default_factory=list)
    """Allow-list for a public API endpoint; default: empty, i.e. private endpoint only. CI
    reaches the cluster through it: list the runners' static egress ranges
    (docs/ci.md, "Reaching the clusters")."""
    admin_principal_arns: list[str] = Field(default_factory=list)
    """AWS: IAM roles or users given cluster-admin through EKS access entries (an admin group's
    role); default: none."""
    ci_principal_arns: list[str] = Field(default_factory=list)
    """AWS: the CI role(s) that run `pulumi up`, given cluster-admin through access entries;
    default: none."""
    bootstrap_creator_admin: bool | None = None
    """AWS: EKS gives the principal that creates the cluster admin access of its own. Fixed
    when the cluster is created (a change replaces it). Default: only when no admin or CI
    principal is listed, since an access entry of ours for the creator would collide with
    the one EKS makes; set true for a cluster created with it."""
    node_pool: NodePoolConfig = Field(default_factory=NodePoolConfig)


class TargetGateConfig(Model):
    """Where `slipway deploy`'s health gate reads this target (each region its own)."""

    prometheus_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    """Base URL of the Prometheus that scrapes this target's services; default: none (the
    gate cannot judge a non-Argo service here and fails it; `--prometheus-url` stands in
    for a one-target stack)."""
    kube_context: str | None = None
    """kubeconfig context of this target's cluster, for reading Rollouts and Services;
    default: `kubeconfigContext` for an `existing` target, else `--kube-context`."""


ECR_HOST = re.compile(r"^([0-9]{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:/|$)")


class TargetConfig(Model):
    """One (cloud, region) placement of the stack's services."""

    name: str
    """Target id, a DNS label; prefixes every resource of the target (e.g. `aws-us-east-1`)."""
    cloud: Literal["existing", "aws", "gcp"]
    """`existing`: a cluster named by kubeconfig context; `aws`: EKS; `gcp`: GKE."""
    region: str
    """Cloud region (`us-east-1`, `europe-west1`); `local` for an existing dev cluster."""
    kubeconfig_context: str | None = None
    """For `existing`: the kubeconfig context to deploy into."""
    project: str | None = None
    """For `gcp`: the GCP project id."""
    registry: str | None = None
    """Registry host/path images are pulled from in this target (e.g. the target's ECR);
    default: the repository named in the catalog."""
    account_id: str | None = Field(default=None, pattern=r"^[0-9]{12}$")
    """For `aws`: the AWS account the target deploys to; its AWS provider refuses to act in
    any other (`allowed_account_ids`), so credentials for the wrong account fail before
    anything changes. Default: the account of an ECR `registry` host
    (`<account>.dkr.ecr.<region>.amazonaws.com`)."""
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    weight: int = Field(default=100, ge=0, le=255)
    """Share of global traffic (Route53 weight); default: 100."""
    evacuated: bool = False
    """True takes the target out of global DNS; its workloads stay up for a fast restore."""
    gate: TargetGateConfig = Field(default_factory=TargetGateConfig)
    """Endpoints of `slipway deploy`'s health gate in this target; default: none set."""
    kubernetes_api_cidrs: list[str] = Field(default_factory=list)
    """Addresses (CIDRs) of the cluster's Kubernetes API server, which pods that read the API
    (flagd's sidecar, with `traffic.flags: flagd`) may reach on 443 and 6443. A NetworkPolicy
    cannot name the API server by Service: the `kubernetes` Service's ClusterIP is rewritten to
    the API's endpoint addresses before most network plugins apply the policy, so list those
    (`kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes`; EKS: the
    VPC's subnets, GKE: the control plane's range). Required with flagd; default: none."""

    @field_validator("kubernetes_api_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"kubernetesApiCidrs: {cidr!r} is not a CIDR ({exc})") from None
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns_label(v, max_len=40)

    @model_validator(mode="after")
    def _cloud_fields(self) -> TargetConfig:
        if self.cloud == "existing" and not self.kubeconfig_context:
            raise ValueError(f"target {self.name!r}: cloud 'existing' needs kubeconfigContext")
        if self.cloud == "gcp" and not self.project:
            raise ValueError(f"target {self.name!r}: cloud 'gcp' needs project")
        if self.account_id and self.cloud != "aws":
            raise ValueError(f"target {self.name!r}: accountId is for cloud 'aws' only")
        registry_account = self.registry_account
        if self.account_id and registry_account and registry_account != self.account_id:
            raise ValueError(
                f"target {self.name!r}: accountId {self.account_id} but the registry "
                f"{self.registry} is in account {registry_account}"
            )
        return self

    @property
    def registry_account(self) -> str | None:
        """The AWS account of an ECR registry host, if the registry is one."""
        match = ECR_HOST.match(self.registry or "")
        return match.group(1) if match else None

    @property
    def aws_account(self) -> str | None:
        """The account an `aws` target is held to: `accountId`, else the registry's."""
        if self.cloud != "aws":
            return None
        return self.account_id or self.registry_account


class RenderConfig(Model):
    """Kubernetes provider render mode (YAML to a directory instead of a cluster)."""

    yaml_directory: str | None = None
    """When set, `pulumi up` writes manifests there instead of applying them."""


class TrafficConfig(Model):
    """The in-cluster traffic layer that splits canary traffic."""

    layer: Literal["none", "istio", "gateway-api"] = "none"
    """default: none (a canary strategy is then refused)."""
    flags: Literal["configmap", "flagd"] = "configmap"
    """Feature-flag provider: `configmap` (a mounted file) or `flagd` (OpenFeature
    FeatureFlag resources; needs the OpenFeature operator, and each target's
    `kubernetesApiCidrs`); default: configmap."""
    mesh: Literal["sidecar", "ambient", "none"] | None = None
    """The mesh data plane: `sidecar` (Istio's Envoy sidecar in every pod, set up by the Istio
    CNI node agent so the namespaces stay `restricted`), `ambient` (Istio's ztunnel node proxy:
    mTLS without sidecars; no L7 routing without a waypoint, so a canary is refused) or `none`
    (no mesh: a canary is refused, since the Service would split by replicas, not weights).
    Default: sidecar with `layer: istio`, none otherwise. docs/addons.md, "Choosing the mesh"."""

    @model_validator(mode="after")
    def _mesh_fits_layer(self) -> TrafficConfig:
        if self.layer == "istio" and self.mesh == "none":
            raise ValueError(
                "mesh 'none' with layer 'istio': the VirtualServices, retries and mTLS would act "
                "on nothing; allowed: sidecar or ambient (or layer none / gateway-api)"
            )
        if self.layer != "istio" and self.mesh not in (None, "none"):
            raise ValueError(
                f"mesh {self.mesh!r} is Istio's data plane and needs layer 'istio' (it is "
                f"{self.layer!r}); allowed here: none"
            )
        return self

    @property
    def mesh_mode(self) -> Literal["sidecar", "ambient", "none"]:
        """`mesh`, or its default for the layer."""
        if self.mesh is not None:
            return self.mesh
        return "sidecar" if self.layer == "istio" else "none"


class DnsConfig(Model):
    """Global DNS for public services (Route53)."""

    domain: str | None = None
    """Zone apex, e.g. `example.com`; no domain means no global records."""
    zone_id: str | None = None
    """An existing hosted zone; default: the stack creates one for `domain`."""


class ObservabilityConfig(Model):
    """Per-service monitoring (Prometheus Operator and Grafana sidecar conventions)."""

    enabled: bool = True
    """ServiceMonitor, PrometheusRule and dashboard per service; needs the Prometheus Operator
    CRDs in the cluster; default: on."""
    prometheus_namespace: str = "monitoring"
    """Namespace Prometheus scrapes from; allowed in by each service's NetworkPolicy."""
    runbook_base_url: str | None = None
    """Where alerts' `runbook_url` point; default: the project's docs/runbooks on GitHub."""
    prometheus_labels: dict[str, str] = Field(default_factory=dict)
    """Labels on every ServiceMonitor and PrometheusRule, for a Prometheus that selects them by
    label: a kube-prometheus-stack installed with its defaults selects `release: <its Helm
    release name>` (e.g. `{release: kube-prometheus-stack}`); default: none (the add-ons'
    kube-prometheus-stack selects every rule and monitor)."""

    @field_validator("prometheus_labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not re.fullmatch(
                r"([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", key
            ):
                raise ValueError(f"{key!r} is not a Kubernetes label key")
            if not re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?", value):
                raise ValueError(f"label {key}: {value!r} is not a Kubernetes label value")
        return v


def check_catalog_path(v: str) -> str:
    """The catalog is part of the project: `deploy` checks it out of git and its rollback
    replaces that folder, so a path outside the project (absolute, `..`) is refused.
    Used by the model and by the readers that need the folder before the model runs."""
    parts = PurePosixPath(v.replace("\\", "/")).parts
    if not v.strip() or v.startswith(("/", "\\", "~")) or ":" in v or ".." in parts:
        raise ValueError(
            f"{v!r} is not a folder inside the project; give a relative path without "
            "'..', e.g. services"
        )
    if not parts:  # PurePosixPath drops "." parts: ".", "./" and "./." have none
        raise ValueError(f"{v!r} is the project folder itself; give its own folder")
    return v


class AddonsConfig(Model):
    """Cluster add-ons the platform installs on each target (`ClusterAddons`), chosen from the
    stack's traffic layer, observability, catalog and clouds."""

    acme_email: str | None = None
    """Let's Encrypt account contact, for the certificates of public services; required when
    a cloud target has public services."""
    rollouts_webhook_url: str | None = None
    """Argo Rollouts notifications: URL of the webhook service `slipway` (https, or http to
    an in-cluster Service) that services' `strategy.notifications` subscribe to; default:
    none."""


Layer = Literal["all", "platform", "services"]


class StackConfig(Model):
    """Everything under `slipway:` in `Pulumi.<stack>.yaml`."""

    environment: Literal["dev", "staging", "prod"]
    """Which `environments:` overrides of the catalog apply, and how strict defaults are."""
    catalog: str = "services"
    """Folder of service YAML files, relative to the project; default: services."""
    targets: list[TargetConfig] = Field(min_length=1)
    render: RenderConfig = Field(default_factory=RenderConfig)
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)
    dns: DnsConfig = Field(default_factory=DnsConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    allowed_regions: list[str] = Field(default_factory=list)
    """Data residency: regions targets may use; empty means any."""
    namespace_prefix: str = ""
    """Prepended to team namespaces (`<prefix><team>`); default: none."""
    layer: Layer = "all"
    """`platform`: network, clusters, registries and cluster add-ons; `services`: namespaces,
    workloads, traffic and DNS on the clusters of `platformStack`; `all`: both in one stack
    (an existing cluster, dev); default: all."""
    platform_stack: str | None = None
    """Services layer: the platform stack it builds on, `<stack>` (same organization and
    project) or `<org>/<project>/<stack>`; default: `<environment>-platform`."""
    addons: AddonsConfig = Field(default_factory=AddonsConfig)
    waves: list[str | list[str]] | None = None
    """`slipway deploy --waves`: the order targets are deployed in, one wave after another,
    each a target name or a list of names deployed together; every target exactly once.
    Default: the `targets` order, one target per wave (the first is the canary wave)."""

    @field_validator("waves")
    @classmethod
    def _waves(
        cls, v: list[str | list[str]] | None, info: ValidationInfo
    ) -> list[str | list[str]] | None:
        # A field check (not a model check), so an error names slipway.waves and the list.
        if v is None or "targets" not in info.data:  # a bad `targets` is reported itself
            return v
        known = [t.name for t in info.data["targets"]]
        seen: list[str] = []
        for wave in v:
            names = [wave] if isinstance(wave, str) else wave
            if not names:
                raise ValueError("a wave lists at least one target")
            for name in names:
                if name not in known:
                    raise ValueError(
                        f"{name!r} is not a target of this stack; targets: {', '.join(known)}"
                    )
                if name in seen:
                    raise ValueError(f"target {name!r} is in more than one wave")
                seen.append(name)
        missing = [n for n in known if n not in seen]
        if missing:
            raise ValueError(f"every target needs a wave; missing: {', '.join(missing)}")
        return v

    @field_validator("namespace_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        """`<prefix><team>` must be a DNS-1123 label: lower-case letters, digits and '-',
        starting with a letter or digit; at most 22 characters, so prefix plus a 40-character
        team still fits in 63."""
        if v and not re.fullmatch(r"[a-z0-9][-a-z0-9]{0,21}", v):
            raise ValueError(
                f"{v!r} cannot start a namespace name: use lower-case letters, digits and '-', "
                "starting with a letter or digit, at most 22 characters (e.g. 'acme-')"
            )
        return v

    @field_validator("catalog")
    @classmethod
    def _catalog_inside(cls, v: str) -> str:
        """The catalog is part of the project: `deploy` checks it out of git and its
        rollback replaces that folder, so a path outside the project (absolute, `..`) is
        refused."""
        return check_catalog_path(v)

    @model_validator(mode="after")
    def _layer_fields(self) -> StackConfig:
        if self.platform_stack is not None and self.layer != "services":
            raise ValueError(f"platformStack is for layer 'services' (this stack's: {self.layer})")
        if self.layer == "services":
            for t in self.targets:
                stray = sorted({"cluster", "registry"} & t.model_fields_set)
                if t.cloud != "existing" and stray:
                    raise ValueError(
                        f"target {t.name!r}: {', '.join(stray)} belong in the platform stack's "
                        "file (layer services reads them from the platform's outputs)"
                    )
        if self.layer == "platform" and self.render.yaml_directory:
            raise ValueError("render.yamlDirectory is for services: add-ons are Helm releases")
        return self

    def platform_reference(self, organization: str, project: str) -> str:
        """The services layer's StackReference name, fully qualified."""
        name = self.platform_stack or f"{self.environment}-platform"
        return name if "/" in name else f"{organization}/{project}/{name}"

    @model_validator(mode="after")
    def _unique_targets(self) -> StackConfig:
        names = [t.name for t in self.targets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"target names must be unique; repeated: {', '.join(dupes)}")
        if self.allowed_regions:
            for t in self.targets:
                if t.cloud != "existing" and t.region not in self.allowed_regions:
                    raise ValueError(
                        f"target {t.name!r} uses region {t.region!r}; allowedRegions is "
                        f"{self.allowed_regions}"
                    )
        return self
