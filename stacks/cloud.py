"""Cloud targets: what the composition calls for `aws` and `gcp` targets, and stack-wide
global traffic.

Every resource of a target is named with the target's name, and nothing of a target depends
on another target, so adding or removing a target leaves the others' URNs and inputs alone.
Stack-wide pieces (DNS, registry replication) are built from the list of targets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from slipway.errors import BadInput
from slipway_components.cloud_common import short_name
from slipway_components.dns import DnsEndpoint, GlobalTraffic, GlobalTrafficArgs
from slipway_components.eks import (
    EksCluster,
    EksClusterArgs,
    EksNodeGroupArgs,
    eks_cluster_identifier,
)
from slipway_components.exposure import Exposure, ExposureArgs, PublicRoute
from slipway_components.external_secrets import (
    ExternalSecret,
    ExternalSecretArgs,
    RemoteSecret,
    SecretStore,
    SecretStoreArgs,
)
from slipway_components.gke import (
    GkeCluster,
    GkeClusterArgs,
    GkeNodePoolArgs,
    gke_cluster_identifier,
)
from slipway_components.registry import (
    ArtifactRegistry,
    ArtifactRegistryArgs,
    EcrReplication,
    EcrReplicationArgs,
    EcrRepositories,
    EcrRepositoriesArgs,
)
from stacks.config import StackConfig, TargetConfig

PLATFORM_TEAM = "platform"
"""Owner of shared infrastructure (clusters, registries, DNS)."""

GATEWAY_CLASS = {"aws": "eg", "gcp": "gke-l7-regional-external-managed"}
"""Default GatewayClass per cloud: Envoy Gateway on EKS, GKE's regional external gateway."""

GCP_LATENCY_REGION = {
    "europe-west1": "eu-west-3",
    "europe-west2": "eu-west-2",
    "europe-west3": "eu-central-1",
    "europe-west4": "eu-central-1",
    "europe-west9": "eu-west-3",
    "europe-north1": "eu-north-1",
    "europe-southwest1": "eu-south-2",
    "us-central1": "us-east-2",
    "us-east1": "us-east-1",
    "us-east4": "us-east-1",
    "us-west1": "us-west-2",
    "us-west2": "us-west-1",
    "northamerica-northeast1": "ca-central-1",
    "southamerica-east1": "sa-east-1",
    "asia-northeast1": "ap-northeast-1",
    "asia-southeast1": "ap-southeast-1",
    "asia-south1": "ap-south-1",
    "australia-southeast1": "ap-southeast-2",
}
"""Nearest AWS region of a GCP region: Route53 measures latency against AWS regions only."""

CONFIG_FILE = "Pulumi.<stack>.yaml"


@dataclass
class Endpoint:
    """A target's public entry point: where global DNS sends that target's share of traffic."""

    target: TargetConfig
    addresses: list[pulumi.Output[str]]
    """Public IPv4 addresses reserved for the entry point."""
    latency_region: str
    """AWS region Route53 measures latency against."""


@dataclass
class CloudTarget:
    """Everything the composition needs from one cloud target, whichever stack built it.

    In the platform layer (and `all`) `facts` hold the new cluster's and registry's outputs;
    in the services layer they are read from the platform stack (`stacks.layers`), so the
    same code exposes, secures and publishes services either way."""

    k8s_provider: k8s.Provider
    """Talks to the cluster (the workloads' provider in the services layer)."""
    cloud_provider: pulumi.ProviderResource
    """`aws.Provider(region=...)` or `gcp.Provider(project=..., region=...)`."""
    images: dict[str, Any]
    """Service name -> image repository URL in this target (append `:tag` / `@digest`)."""
    target: TargetConfig | None = None
    """The target's config."""
    facts: dict[str, Any] = field(default_factory=dict)
    """What the services layer needs of the cluster and registry (`platform_facts`)."""
    endpoint: Endpoint | None = None
    """The entry point's addresses, for global DNS."""
    cluster: pulumi.ComponentResource | None = None
    """`EksCluster` or `GkeCluster` (platform layer only)."""
    registry: pulumi.ComponentResource | None = None
    """`EcrRepositories` or `ArtifactRegistry` (platform layer only)."""
    secret_stores: dict[str, SecretStore] = field(default_factory=dict)
    """Namespace -> its SecretStore (filled by `build_secret_store`)."""


def platform_tags(stack: StackConfig, target: TargetConfig | None = None) -> dict[str, str]:
    """Tags on shared infrastructure: owner, cost center, environment, and target."""
    tags = {
        "team": PLATFORM_TEAM,
        "cost-center": PLATFORM_TEAM,
        "environment": stack.environment,
        "managed-by": "slipway",
    }
    if target is not None:
        tags["target"] = target.name
    return tags


def _render_dir(stack: StackConfig, target: TargetConfig) -> str | None:
    if not stack.render.yaml_directory:
        return None
    return f"{stack.render.yaml_directory.rstrip('/')}/{target.name}"


def gke_ranges(vpc_cidr: str) -> dict[str, str]:
    """Split a target's address space for GKE: nodes, services and proxy in the first half,
    pods in the second half (pods need the most addresses)."""
    net = ipaddress.IPv4Network(vpc_cidr)
    if net.prefixlen > 18:
        raise ValueError(f"vpcCidr {vpc_cidr} is too small for GKE; allowed: /18 or larger")
    first, second = net.subnets(prefixlen_diff=1)
    blocks = list(first.subnets(new_prefix=min(first.prefixlen + 3, 24)))
    return {
        "subnet_cidr": str(blocks[0]),
        "services_cidr": str(blocks[1]),
        "proxy_cidr": str(next(blocks[2].subnets(new_prefix=max(blocks[2].prefixlen, 23)))),
        "pods_cidr": str(second),
    }


def build_cloud_target(
    target: TargetConfig,
    stack: StackConfig,
    services: list[str],
    parent: pulumi.Resource,
) -> CloudTarget:
    """Providers, cluster and image registry of one `aws` or `gcp` target."""
    field_name = f"targets[{target.name}]"
    try:
        if target.cloud == "aws":
            return _aws_target(target, stack, services, parent)
        if target.cloud == "gcp":
            return _gcp_target(target, stack, services, parent)
    except ValueError as exc:
        raise BadInput(str(exc), file=CONFIG_FILE, field=f"{field_name}.cluster") from exc
    raise BadInput(
        f"cloud {target.cloud!r} has no cluster to build; allowed here: aws, gcp",
        file=CONFIG_FILE,
        field=f"{field_name}.cloud",
    )


def services_cloud_provider(
    target: TargetConfig, stack: StackConfig, parent: pulumi.Resource | None
) -> pulumi.ProviderResource:
    """The target's cloud provider, held to its account (AWS) or project (GCP); named alike
    in every layer, so the platform and the services stacks act on the same place."""
    tags = platform_tags(stack, target)
    if target.cloud == "aws":
        return aws.Provider(
            f"{target.name}-aws",
            region=target.region,
            default_tags={"tags": tags},
            allowed_account_ids=[target.aws_account] if target.aws_account else None,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return gcp.Provider(
        f"{target.name}-gcp",
        project=target.project,
        region=target.region,
        default_labels=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _aws_target(
    target: TargetConfig, stack: StackConfig, services: list[str], parent: pulumi.Resource
) -> CloudTarget:
    tags = platform_tags(stack, target)
    protect = stack.environment != "dev"
    provider = services_cloud_provider(target, stack, parent)
    in_target = pulumi.ResourceOptions(parent=parent, providers=[provider])
    cc = target.cluster
    pool = cc.node_pool
    cluster = EksCluster(
        target.name,
        EksClusterArgs(
            region=target.region,
            cluster_name=f"{stack.environment}-{target.name}",
            tags=tags,
            kubernetes_version=cc.kubernetes_version,
            vpc_cidr=cc.vpc_cidr,
            public_access_cidrs=list(cc.public_access_cidrs),
            admin_principal_arns=list(cc.admin_principal_arns),
            ci_principal_arns=list(cc.ci_principal_arns),
            bootstrap_creator_admin=(
                cc.bootstrap_creator_admin
                if cc.bootstrap_creator_admin is not None
                else not (cc.admin_principal_arns or cc.ci_principal_arns)
            ),
            node_group=EksNodeGroupArgs(
                instance_type=pool.instance_type or "m6i.large",
                min_nodes=pool.min_nodes,
                max_nodes=pool.max_nodes,
                disk_size_gb=pool.disk_size_gb,
            ),
            protect=protect,
            render_yaml_directory=_render_dir(stack, target),
        ),
        opts=in_target,
    )
    # Repositories are named per environment: staging and prod may share an account.
    registry = EcrRepositories(
        f"{target.name}-ecr",
        EcrRepositoriesArgs(
            region=target.region,
            services=services,
            tags=tags,
            protect=protect,
            repository_prefix=f"{stack.environment}/",
        ),
        opts=in_target,
    )
    facts: dict[str, Any] = {
        "cloud": "aws",
        "region": target.region,
        "clusterName": cluster.cluster_name,
        "clusterIdentifier": eks_cluster_identifier(
            target.region, f"{stack.environment}-{target.name}"
        ),
        "vpcId": cluster.vpc_id,
        "oidcProviderArn": cluster.oidc_provider_arn,
        "oidcIssuer": cluster.oidc_issuer,
        "ingressAllocationIds": list(cluster.ingress_allocation_ids),
        "publicSubnetIds": list(cluster.public_subnet_ids),
        "ingressAddresses": list(cluster.ingress_addresses),
        "images": dict(registry.urls),
    }
    return CloudTarget(
        k8s_provider=cluster.provider,
        cloud_provider=provider,
        cluster=cluster,
        images=dict(registry.urls),
        target=target,
        facts=facts,
        endpoint=Endpoint(target, list(cluster.ingress_addresses), target.region),
        registry=registry,
    )


def _gcp_target(
    target: TargetConfig, stack: StackConfig, services: list[str], parent: pulumi.Resource
) -> CloudTarget:
    tags = platform_tags(stack, target)
    protect = stack.environment != "dev"
    if target.region not in GCP_LATENCY_REGION:
        raise ValueError(
            f"region {target.region!r} has no nearest AWS region for latency routing; "
            f"known: {sorted(GCP_LATENCY_REGION)}"
        )
    provider = services_cloud_provider(target, stack, parent)
    in_target = pulumi.ResourceOptions(parent=parent, providers=[provider])
    cc = target.cluster
    pool = cc.node_pool
    cluster = GkeCluster(
        target.name,
        GkeClusterArgs(
            project=target.project or "",
            region=target.region,
            cluster_name=short_name(stack.environment, target.name, max_len=40),
            tags=tags,
            kubernetes_version=cc.kubernetes_version,
            public_access_cidrs=list(cc.public_access_cidrs),
            node_pool=GkeNodePoolArgs(
                machine_type=pool.instance_type or "e2-standard-4",
                min_nodes=pool.min_nodes,
                max_nodes=pool.max_nodes,
                disk_size_gb=pool.disk_size_gb,
            ),
            protect=protect,
            render_yaml_directory=_render_dir(stack, target),
            **gke_ranges(cc.vpc_cidr),
        ),
        opts=in_target,
    )
    registry = ArtifactRegistry(
        f"{target.name}-registry",
        ArtifactRegistryArgs(
            project=target.project or "",
            region=target.region,
            tags=tags,
            protect=protect,
            repository_id=f"{stack.environment}-services",
        ),
        opts=in_target,
    )
    images = {s: registry.url.apply(lambda u, s=s: f"{u}/{s}") for s in sorted(services)}
    assert cluster.ingress_address is not None
    facts: dict[str, Any] = {
        "cloud": "gcp",
        "region": target.region,
        "project": target.project,
        "clusterName": cluster.cluster_name,
        "clusterIdentifier": gke_cluster_identifier(
            target.project or "",
            target.region,
            short_name(stack.environment, target.name, max_len=40),
        ),
        "ingressAddress": cluster.ingress_address,
        "ingressAddressName": cluster.ingress_address_name,
        "images": images,
    }
    return CloudTarget(
        k8s_provider=cluster.provider,
        cloud_provider=provider,
        cluster=cluster,
        images=images,
        target=target,
        facts=facts,
        endpoint=Endpoint(target, [cluster.ingress_address], GCP_LATENCY_REGION[target.region]),
        registry=registry,
    )


def build_exposure(
    cloud: CloudTarget,
    stack: StackConfig,
    routes: list[PublicRoute],
    parent: pulumi.Resource,
    cluster_issuer: str | None = "letsencrypt",
) -> Exposure:
    """The target's entry point: a TLS Gateway on the target's reserved addresses and one
    HTTPRoute per public service (pass canary `backend_refs` in the routes)."""
    target = _target_of(cloud)
    if not stack.dns.domain:
        raise BadInput(
            "public services need a domain for their host names and certificates",
            file=CONFIG_FILE,
            field="dns.domain",
        )
    extra: dict[str, Any] = {}
    facts = cloud.facts
    if target.cloud == "aws":
        extra["infrastructure_annotations"] = {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-eip-allocations": joined(
                facts["ingressAllocationIds"]
            ),
            "service.beta.kubernetes.io/aws-load-balancer-subnets": joined(
                facts["publicSubnetIds"]
            ),
        }
    elif target.cloud == "gcp" and facts.get("ingressAddressName") is not None:
        extra["addresses"] = [facts["ingressAddressName"]]
    try:
        args = ExposureArgs(
            gateway_class_name=GATEWAY_CLASS[target.cloud],
            domain=stack.dns.domain,
            routes=routes,
            tags=platform_tags(stack, target),
            cluster_issuer=cluster_issuer,
            **extra,
        )
    except ValueError as exc:
        raise BadInput(str(exc), file=f"{stack.catalog}/*.yaml", field="public") from exc
    return Exposure(
        f"{target.name}-exposure",
        args,
        opts=pulumi.ResourceOptions(parent=parent, providers=[cloud.k8s_provider]),
    )


def build_secret_store(
    cloud: CloudTarget,
    stack: StackConfig,
    namespace: str,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource] | None = None,
) -> SecretStore:
    """The SecretStore of one namespace in one target (created once, then reused)."""
    if namespace in cloud.secret_stores:
        return cloud.secret_stores[namespace]
    target = _target_of(cloud)
    facts = cloud.facts
    common = {
        "namespace": namespace,
        "region": target.region,
        "tags": platform_tags(stack, target),
        "name_prefix": short_name(stack.environment, target.name, max_len=40),
    }
    if target.cloud == "aws":
        args = SecretStoreArgs(
            cloud="aws",
            oidc_provider_arn=facts["oidcProviderArn"],
            oidc_issuer=facts["oidcIssuer"],
            **common,
        )
    elif target.cloud == "gcp":
        args = SecretStoreArgs(
            cloud="gcp", project=target.project, cluster_name=facts["clusterName"], **common
        )
    else:
        raise BadInput(
            f"target {target.name!r} has no cloud secret store",
            file=CONFIG_FILE,
            field="targets",
        )
    store = SecretStore(
        f"{target.name}-{namespace}-secrets",
        args,
        opts=pulumi.ResourceOptions(
            parent=parent,
            providers=[cloud.cloud_provider, cloud.k8s_provider],
            depends_on=depends_on or [],
        ),
    )
    cloud.secret_stores[namespace] = store
    return store


def build_external_secret(
    cloud: CloudTarget,
    stack: StackConfig,
    store: SecretStore,
    service: str,
    secrets: list[RemoteSecret],
    parent: pulumi.Resource,
    cost_center: str = PLATFORM_TEAM,
    team: str = PLATFORM_TEAM,
    source: str | None = None,
) -> ExternalSecret:
    """One service's secrets from its namespace's store; the Kubernetes Secret is
    `<service>-external`. `source` is the catalog file the service came from (messages)."""
    target = _target_of(cloud)
    try:
        args = ExternalSecretArgs(
            service=service,
            secrets=secrets,
            tags={"team": team, "cost-center": cost_center},
        )
    except ValueError as exc:
        file = source or f"{stack.catalog}/{service}.yaml"
        raise BadInput(str(exc), file=file, field="secrets") from exc
    return ExternalSecret(
        f"{target.name}-{service}-external",
        args,
        store,
        opts=pulumi.ResourceOptions(
            parent=parent, providers=[cloud.cloud_provider, cloud.k8s_provider]
        ),
    )


def joined(ids: Any) -> pulumi.Output[str]:
    """A list of ids (Outputs, or one Output of a list) as one comma-separated string."""
    return pulumi.Output.from_input(ids).apply(lambda xs: ",".join(xs))


def build_registry_replication(
    stack: StackConfig, targets: list[CloudTarget], parent: pulumi.Resource | None = None
) -> EcrReplication | None:
    """Replicate the first AWS target's registry to the other AWS targets' regions.

    CI pushes once, to the first AWS target's region. ECR allows one replication configuration
    per registry, so adding an AWS region updates this one resource (stack-wide, like DNS).
    """
    aws_targets = [c for c in targets if isinstance(c.cluster, EksCluster)]
    if len(aws_targets) < 2:
        return None
    source = aws_targets[0]
    regions = sorted({_target_of(c).region for c in aws_targets} - {_target_of(source).region})
    if not regions:
        return None
    assert isinstance(source.registry, EcrRepositories)
    return EcrReplication(
        f"{stack.environment}-ecr-replication",
        EcrReplicationArgs(
            source_region=_target_of(source).region,
            destination_regions=regions,
            # only this environment's repositories: staging and prod may share an account
            repository_prefix=f"{stack.environment}/",
        ),
        registry_id=source.registry.registry_id,
        opts=pulumi.ResourceOptions(parent=parent, providers=[source.cloud_provider]),
    )


def build_global_traffic(
    stack: StackConfig,
    endpoints: list[Endpoint] | list[CloudTarget],
    public_services: list[str],
    parent: pulumi.Resource | None,
) -> pulumi.ComponentResource | None:
    """Route53 records for every public service over every target's entry point.

    Returns None when there is nothing to publish (no domain, or no public service).
    """
    if not stack.dns.domain or not public_services:
        return None
    eps = [e.endpoint if isinstance(e, CloudTarget) else e for e in endpoints]
    eps = [e for e in eps if e is not None]
    if not eps:
        return None
    # The hosted zone lives in the AWS targets' account when they share one.
    accounts = {t.aws_account for t in stack.targets if t.cloud == "aws"}
    dns_account = sorted(accounts) if len(accounts) == 1 and None not in accounts else None
    provider = aws.Provider(
        "global-aws",
        region="us-east-1",  # Route53 is a global service served from us-east-1
        default_tags={"tags": platform_tags(stack)},
        allowed_account_ids=dns_account,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    try:
        args = GlobalTrafficArgs(
            domain=stack.dns.domain,
            zone_id=stack.dns.zone_id,
            services=public_services,
            endpoints=[
                DnsEndpoint(
                    target=e.target.name,
                    addresses=e.addresses,
                    latency_region=e.latency_region,
                    weight=e.target.weight,
                    evacuated=e.target.evacuated,
                )
                for e in eps
            ],
            tags=platform_tags(stack),
            protect=stack.environment != "dev",
        )
    except ValueError as exc:
        raise BadInput(str(exc), file=CONFIG_FILE, field="targets") from exc
    return GlobalTraffic(
        "global-dns", args, opts=pulumi.ResourceOptions(parent=parent, providers=[provider])
    )


def _target_of(cloud: CloudTarget) -> TargetConfig:
    if cloud.target is None:
        raise BadInput("cloud target without its config", file=CONFIG_FILE, field="targets")
    return cloud.target
