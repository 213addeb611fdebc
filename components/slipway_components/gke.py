"""GkeCluster: a regional, VPC-native, private GKE cluster built from `pulumi_gcp` only.

Secure by default: private nodes (the API endpoint is private too unless an allow-list is
given), workload identity, shielded nodes with secure boot and integrity monitoring, a release
channel, network policy enforcement, Kubernetes secrets encrypted with a rotating Cloud KMS
key, binary authorization, and nodes running as a least-privilege service account instead of
the default compute account (which holds the primitive editor role). On a fresh project it
enables the APIs it uses and creates the GKE service agent before granting it the key.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Literal

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from slipway_components.cloud_common import (
    NodeBounds,
    check_public_cidrs,
    check_tags,
    gcp_labels,
    short_name,
)
from slipway_components.registry import KEEP_KMS_NAME, check_kms_names

NODE_ROLES = [
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
]
"""What a node needs: write logs and metrics, pull images. Nothing else."""

_SA_DOMAIN = "iam.gserviceaccount.com"

GKE_APIS = (
    "cloudkms.googleapis.com",  # the secrets key
    "cloudresourcemanager.googleapis.com",  # the nodes' project role grants
    "compute.googleapis.com",  # network, subnets, router, NAT, ingress address
    "container.googleapis.com",  # cluster and node pool
    "iam.googleapis.com",  # the nodes' service account
    "binaryauthorization.googleapis.com",  # the cluster's enforced project policy
    "logging.googleapis.com",  # the cluster's logging config
    "monitoring.googleapis.com",  # the cluster's monitoring config
    "secretmanager.googleapis.com",  # where the cluster's workloads read their secrets
)
"""APIs a GKE cluster of this shape needs enabled in its project."""

MAX_AUTHORIZED_NETWORKS = 50
"""GKE's limit of authorized networks for a cluster with a public endpoint (the node subnet is
one of them)."""


def check_gke_public_cidrs(cidrs: list[str], *, any_ip: bool) -> list[str]:
    """`check_public_cidrs`, within GKE's limit of authorized networks."""
    out = check_public_cidrs(cidrs, any_ip=any_ip)
    if len(out) > MAX_AUTHORIZED_NETWORKS - 1:
        raise ValueError(
            f"public_access_cidrs has {len(out)} networks; GKE allows "
            f"{MAX_AUTHORIZED_NETWORKS} authorized networks and the node subnet is one, so at "
            f"most {MAX_AUTHORIZED_NETWORKS - 1}"
        )
    return out


def gke_cluster_identifier(project: str, region: str, cluster_name: str) -> str:
    """What names the cluster to the Kubernetes provider: GKE's own id of it, known from inputs
    (on a first preview too)."""
    return f"projects/{project}/locations/{region}/clusters/{cluster_name}"


class GkeNodePoolArgs(NodeBounds):
    """The node pool: machine shape and autoscaling bounds (totals across zones)."""

    machine_type: str = "e2-standard-4"
    """Machine type; default: e2-standard-4."""


class GkeClusterArgs(BaseModel):
    """Inputs of `GkeCluster`; every optional field has a secure default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(min_length=1)
    """GCP project id."""
    region: str = Field(min_length=1)
    """GCP region; the cluster is regional (control plane and nodes over the region's zones)."""
    cluster_name: str = Field(min_length=1, max_length=40)
    """Cluster name and prefix of the network and account names (e.g. `prod-gcp-ew1`)."""
    tags: dict[str, str]
    """Labels on every resource; must include `team` and `cost-center`."""
    kubernetes_version: str | None = None
    """Minimum control-plane version; default: what the release channel provides."""
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = "REGULAR"
    """Upgrade channel; default: REGULAR."""
    subnet_cidr: str = "10.0.0.0/20"
    """Node addresses; default: 10.0.0.0/20."""
    pods_cidr: str = "10.4.0.0/14"
    """Pod addresses (secondary range); default: 10.4.0.0/14."""
    services_cidr: str = "10.8.0.0/20"
    """Service addresses (secondary range); default: 10.8.0.0/20."""
    proxy_cidr: str = "10.9.0.0/23"
    """Proxy-only subnet for regional Envoy load balancers; default: 10.9.0.0/23."""
    master_cidr: str = "172.16.0.0/28"
    """Control-plane peering range, a /28; default: 172.16.0.0/28."""
    allow_any_ip: bool = False
    """Lets `public_access_cidrs` hold `0.0.0.0/0` (the API then relies on IAM alone); default:
    false."""
    public_access_cidrs: list[str] = Field(default_factory=list)
    """Allow-list for a public API endpoint (e.g. the CI runners' egress addresses), at most
    49; default: empty, i.e. private endpoint only."""
    manage_project_services: bool = True
    """Enable the APIs the cluster uses (never disabled on destroy) and create the GKE service
    agent; default: true. False when the project's APIs are managed elsewhere (the deployer
    then needs no Service Usage admin)."""
    node_pool: GkeNodePoolArgs = Field(default_factory=GkeNodePoolArgs)
    """Worker nodes; default: e2-standard-4, 2 to 6 nodes."""
    ingress_address: bool = True
    """Reserve a regional static address for the entry point; default: true."""
    protect: bool = False
    """Protect the cluster, node pool, KMS key ring, key and ingress address from deletion and
    enable the cluster's deletion protection (prod); default: false."""
    render_yaml_directory: str | None = None
    """When set, the Kubernetes provider writes manifests there instead of applying them."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        check_tags(v)
        gcp_labels(v)
        return dict(sorted(v.items()))

    @field_validator("subnet_cidr", "pods_cidr", "services_cidr", "proxy_cidr", "master_cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        try:
            return str(ipaddress.IPv4Network(v))
        except ValueError as exc:
            raise ValueError(f"{v!r} is not an IPv4 network ({exc})") from None

    @field_validator("public_access_cidrs")
    @classmethod
    def _public_cidrs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return check_gke_public_cidrs(v, any_ip=bool(info.data.get("allow_any_ip")))

    @model_validator(mode="after")
    def _ranges(self) -> GkeClusterArgs:
        if ipaddress.IPv4Network(self.master_cidr).prefixlen != 28:
            raise ValueError(f"master_cidr {self.master_cidr!r} must be a /28")
        nets = {
            "subnet_cidr": self.subnet_cidr,
            "pods_cidr": self.pods_cidr,
            "services_cidr": self.services_cidr,
            "proxy_cidr": self.proxy_cidr,
            "master_cidr": self.master_cidr,
        }
        items = [(k, ipaddress.IPv4Network(v)) for k, v in nets.items()]
        for i, (ka, a) in enumerate(items):
            for kb, b in items[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(f"{ka} {a} overlaps {kb} {b}; the ranges must be disjoint")
        return self


def gke_kubeconfig(cluster_name: str, endpoint: str, ca_data: str) -> str:
    """Kubeconfig that authenticates through `gke-gcloud-auth-plugin` (no static credentials)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {
                        "server": f"https://{endpoint}",
                        "certificate-authority-data": ca_data,
                    },
                }
            ],
            "contexts": [
                {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
            ],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "gke-gcloud-auth-plugin",
                            "installHint": (
                                "Install gke-gcloud-auth-plugin: "
                                "gcloud components install gke-gcloud-auth-plugin"
                            ),
                            "provideClusterInfo": True,
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


class GkeCluster(pulumi.ComponentResource):
    """A private regional GKE cluster with its network, KMS key, node pool and a k8s provider.

    The KMS key ring and key are auto-named after the component (e.g. `<name>-keyring-` and 7
    random hex digits): neither can be deleted, so a recreated stack gets new ones. The name
    is therefore at most 43 characters of `a-z A-Z 0-9 _ -`."""

    cluster_name: pulumi.Output[str]
    """The GKE cluster name."""
    endpoint: pulumi.Output[str]
    """API server address."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (a secret) using `gke-gcloud-auth-plugin`."""
    workload_pool: str
    """Workload identity pool, `<project>.svc.id.goog`."""
    network_id: pulumi.Output[str]
    """The cluster VPC network."""
    kms_key_id: pulumi.Output[str]
    """Key encrypting Kubernetes secrets."""
    node_service_account: pulumi.Output[str]
    """E-mail of the nodes' service account."""
    ingress_address: pulumi.Output[str] | None
    """Static address of the entry point (None when `ingress_address` is false)."""
    ingress_address_name: pulumi.Output[str] | None
    """Name of that address, for a Gateway `NamedAddress`."""
    apis: dict[str, gcp.projects.Service]
    """The APIs enabled here, by name (empty when `manage_project_services` is false): what
    else uses one (a SecretStore reading Secret Manager) can depend on it."""
    service_agent: gcp.projects.ServiceIdentity | None
    """The GKE service agent, created before it is granted the key (None when
    `manage_project_services` is false)."""
    node_pool: gcp.container.NodePool
    """The node pool."""
    provider: k8s.Provider
    """Kubernetes provider talking to this cluster."""

    def __init__(
        self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_kms_names(name, "keyring", "secrets-key")
        super().__init__("slipway:gcp:GkeCluster", name, {}, opts)
        project, region, cname = args.project, args.region, args.cluster_name
        labels = gcp_labels(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        self.workload_pool = f"{project}.svc.id.goog"

        # --- APIs: a fresh project has none of them enabled -----------------------------------
        self.apis = {}
        if args.manage_project_services:
            for api in GKE_APIS:
                self.apis[api] = gcp.projects.Service(
                    f"{name}-api-{api.split('.')[0]}",
                    project=project,
                    service=api,
                    # Other clusters or registries of the project may still use it.
                    disable_on_destroy=False,
                    opts=child,
                )

        def needs(
            *apis: str, protect: bool = False, also: list[pulumi.Resource] | None = None
        ) -> pulumi.ResourceOptions:
            """Options of a child that may only be created once `apis` are enabled."""
            waits = [self.apis[a] for a in apis if a in self.apis] + list(also or [])
            return pulumi.ResourceOptions(parent=self, protect=protect, depends_on=waits)

        compute = "compute.googleapis.com"
        kms = "cloudkms.googleapis.com"

        # --- network ----------------------------------------------------------------------------
        network = gcp.compute.Network(
            f"{name}-network",
            name=cname,
            project=project,
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=needs(compute),
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            name=f"{cname}-nodes",
            project=project,
            region=region,
            network=network.id,
            ip_cidr_range=args.subnet_cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                {"range_name": "pods", "ip_cidr_range": args.pods_cidr},
                {"range_name": "services", "ip_cidr_range": args.services_cidr},
            ],
            log_config={
                "aggregation_interval": "INTERVAL_5_SEC",
                "flow_sampling": 0.5,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=needs(compute),
        )
        gcp.compute.Subnetwork(
            f"{name}-proxy-subnet",
            name=f"{cname}-proxy",
            project=project,
            region=region,
            network=network.id,
            ip_cidr_range=args.proxy_cidr,
            purpose="REGIONAL_MANAGED_PROXY",
            role="ACTIVE",
            opts=needs(compute),
        )
        router = gcp.compute.Router(
            f"{name}-router",
            name=cname,
            project=project,
            region=region,
            network=network.id,
            opts=needs(compute),
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            name=cname,
            project=project,
            region=region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[{"name": subnet.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=needs(compute),
        )

        # --- encryption key for Kubernetes secrets ------------------------------------------
        # Auto-named: neither can ever be deleted, so a recreated stack needs new ones.
        key_ring = gcp.kms.KeyRing(
            f"{name}-keyring",
            project=project,
            location=region,
            opts=needs(kms, protect=args.protect).merge(KEEP_KMS_NAME),
        )
        key = gcp.kms.CryptoKey(
            f"{name}-secrets-key",
            key_ring=key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period="7776000s",  # 90 days
            labels=labels,
            opts=needs(kms, protect=args.protect).merge(KEEP_KMS_NAME),
        )
        # The GKE service agent encrypts secrets with the key; granting it the key before the
        # agent exists fails on a fresh project.
        self.service_agent = None
        if args.manage_project_services:
            self.service_agent = gcp.projects.ServiceIdentity(
                f"{name}-gke-agent",
                project=project,
                service="container.googleapis.com",
                opts=needs("container.googleapis.com"),
            )
        project_number = gcp.organizations.get_project_output(
            project_id=project, opts=pulumi.InvokeOutputOptions(parent=self)
        ).number
        key_grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-key-gke",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=project_number.apply(
                lambda n: f"serviceAccount:service-{n}@container-engine-robot.{_SA_DOMAIN}"
            ),
            opts=needs(kms, also=[self.service_agent] if self.service_agent else []),
        )

        # --- node identity: least privilege --------------------------------------------------
        node_sa = gcp.serviceaccount.Account(
            f"{name}-nodes-sa",
            account_id=short_name(cname, "nodes", max_len=30),
            display_name=f"GKE nodes of {cname}",
            project=project,
            opts=needs("iam.googleapis.com"),
        )
        node_roles = [
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1].replace('.', '-').lower()}",
                project=project,
                role=role,
                member=node_sa.member,
                opts=needs("cloudresourcemanager.googleapis.com"),
            )
            for role in NODE_ROLES
        ]

        node_config: dict[str, Any] = {
            "machine_type": args.node_pool.machine_type,
            "disk_size_gb": args.node_pool.disk_size_gb,
            "disk_type": "pd-balanced",
            "image_type": "COS_CONTAINERD",
            "service_account": node_sa.email,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "shielded_instance_config": {
                "enable_secure_boot": True,
                "enable_integrity_monitoring": True,
            },
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "metadata": {"disable-legacy-endpoints": "true"},
            "resource_labels": labels,
            "labels": {"slipway.dev/pool": "default"},
        }

        public_endpoint = bool(args.public_access_cidrs)
        cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=cname,
            project=project,
            location=region,
            network=network.id,
            subnetwork=subnet.id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={
                "cluster_secondary_range_name": "pods",
                "services_secondary_range_name": "services",
            },
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": not public_endpoint,
                "master_ipv4_cidr_block": args.master_cidr,
                "master_global_access_config": {"enabled": False},
            },
            master_authorized_networks_config={
                "cidr_blocks": [
                    {"cidr_block": c, "display_name": f"allow-{i}"}
                    for i, c in enumerate([args.subnet_cidr, *args.public_access_cidrs])
                ],
            },
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            workload_identity_config={"workload_pool": self.workload_pool},
            release_channel={"channel": args.release_channel},
            min_master_version=args.kubernetes_version,
            network_policy={"enabled": True, "provider": "CALICO"},
            addons_config={
                "network_policy_config": {"disabled": False},
                "http_load_balancing": {"disabled": False},
            },
            gateway_api_config={"channel": "CHANNEL_STANDARD"},
            database_encryption={"state": "ENCRYPTED", "key_name": key.id},
            binary_authorization={"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            enable_intranode_visibility=True,
            logging_config={
                "enable_components": [
                    "SYSTEM_COMPONENTS",
                    "APISERVER",
                    "CONTROLLER_MANAGER",
                    "SCHEDULER",
                    "WORKLOADS",
                ]
            },
            monitoring_config={"enable_components": ["SYSTEM_COMPONENTS"]},
            # The default pool is removed right away; it still starts with the secure settings.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=node_config,
            resource_labels=labels,
            deletion_protection=args.protect,
            opts=needs(
                "container.googleapis.com",
                compute,
                "binaryauthorization.googleapis.com",
                "logging.googleapis.com",
                "monitoring.googleapis.com",
                protect=args.protect,
                also=[key_grant],
            ),
        )

        np = args.node_pool
        self.node_pool = gcp.container.NodePool(
            f"{name}-nodes",
            name=f"{cname}-default",
            project=project,
            location=region,
            cluster=cluster.name,
            autoscaling={
                "total_min_node_count": np.min_nodes,
                "total_max_node_count": np.max_nodes,
                "location_policy": "BALANCED",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            upgrade_settings={"max_surge": 1, "max_unavailable": 0},
            node_config=node_config,
            opts=needs("container.googleapis.com", protect=args.protect, also=node_roles),
        )

        self.ingress_address = None
        self.ingress_address_name = None
        if args.ingress_address:
            address = gcp.compute.Address(
                f"{name}-ingress-address",
                name=f"{cname}-ingress",
                project=project,
                region=region,
                address_type="EXTERNAL",
                network_tier="PREMIUM",
                labels=labels,
                opts=needs(compute, protect=args.protect),
            )
            self.ingress_address = address.address
            self.ingress_address_name = address.name

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.network_id = network.id
        self.kms_key_id = key.id
        self.node_service_account = node_sa.email
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                cluster.name,
                cluster.endpoint,
                cluster.master_auth.apply(lambda m: m.cluster_ca_certificate),
            ).apply(lambda a: gke_kubeconfig(a[0], a[1], a[2]))
        )
        # Server-side apply; mutable ConfigMaps (flags) update in place, while the hashed,
        # immutable config ConfigMaps still roll pods by being replaced.
        # The cluster identifier comes from inputs alone: a kubeconfig that changes (or is
        # unknown in a preview) updates the provider instead of replacing it, and every
        # workload with it.
        provider_args: dict[str, Any] = {
            "kubeconfig": self.kubeconfig,
            "cluster_identifier": gke_cluster_identifier(project, region, cname),
            "enable_server_side_apply": True,
            "enable_config_map_mutable": True,
        }
        if args.render_yaml_directory:
            provider_args["render_yaml_to_directory"] = args.render_yaml_directory
        self.provider = k8s.Provider(
            f"{name}-k8s",
            **provider_args,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.node_pool]),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "kubeconfig": self.kubeconfig,
                "network_id": self.network_id,
                "kms_key_id": self.kms_key_id,
                "ingress_address": self.ingress_address,
            }
        )
