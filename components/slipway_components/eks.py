"""EksCluster: an EKS cluster in its own three-zone VPC, built from `pulumi_aws` only.

Secure by default: the API endpoint is private (public only with an explicit allow-list),
Kubernetes secrets are envelope-encrypted with a rotating KMS key, every control-plane log
type goes to CloudWatch, nodes live in private subnets behind one NAT gateway per zone, node
volumes are encrypted and the instance metadata service requires IMDSv2 tokens. An OIDC
provider lets workloads assume IAM roles (IRSA) instead of sharing the node role. Who may use
the Kubernetes API is stated in code: access entries for the admin and CI roles.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Awaitable
from typing import Annotated, Any

import pulumi
import pulumi_aws as aws
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
    irsa_trust_policy,
)
from slipway_components.podspec import StrInput

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
"""Every EKS control-plane log type."""

_MANAGED = "arn:aws:iam::aws:policy/"

CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
"""EKS access policy equal to Kubernetes `cluster-admin`, for admins and the CI deploy role.

CI gets it too, not the narrower `AmazonEKSAdminPolicy` (Kubernetes `admin`): the stacks create
cluster-scoped objects (each service's Namespace, the Gateway's), which `admin` cannot."""

_PRINCIPAL_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov|-iso[a-z-]*)?:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$"
)


def check_principal_arn(arn: str) -> str:
    """An IAM role or user ARN, as EKS access entries take them (not an STS session ARN)."""
    if ":assumed-role/" in arn:
        raise ValueError(
            f"{arn!r} is an STS session ARN; give the role's own ARN "
            "(arn:aws:iam::<account>:role/<name>)"
        )
    if not _PRINCIPAL_ARN.match(arn):
        raise ValueError(
            f"{arn!r} is not an IAM role or user ARN "
            "(arn:aws:iam::<account>:role/<name> or :user/<name>)"
        )
    return arn


PrincipalArn = Annotated[str | Awaitable[str] | pulumi.Output[str], StrInput(check_principal_arn)]
"""A `pulumi.Input[str]` IAM principal ARN: a plain one is checked at once, an Output when it
resolves."""


class EksNodeGroupArgs(NodeBounds):
    """The managed node group: size bounds and machine shape."""

    instance_type: str = "m6i.large"
    """EC2 instance type; default: m6i.large."""


class EksClusterArgs(BaseModel):
    """Inputs of `EksCluster`; every optional field has a secure default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str = Field(min_length=1)
    """AWS region; set on every regional resource so nothing lands elsewhere by accident."""
    cluster_name: str = Field(min_length=1, max_length=100)
    """EKS cluster name, unique per account and region (e.g. `prod-aws-us-east-1`)."""
    tags: dict[str, str]
    """Tags on every resource; must include `team` and `cost-center`."""
    kubernetes_version: str = "1.33"
    """Control-plane version; default: 1.33."""
    vpc_cidr: str = "10.0.0.0/16"
    """VPC address space, /16 to /20; default: 10.0.0.0/16."""
    availability_zones: list[str] | None = None
    """Three zones of the region; default: the region's zones a, b and c."""
    allow_any_ip: bool = False
    """Lets `public_access_cidrs` hold `0.0.0.0/0` (the API then relies on IAM alone); default:
    false."""
    public_access_cidrs: list[str] = Field(default_factory=list)
    """Allow-list for a public API endpoint (e.g. the CI runners' egress addresses); default:
    empty, i.e. private endpoint only."""
    admin_principal_arns: list[PrincipalArn] = Field(default_factory=list)
    """IAM roles (or users) of the cluster admins: each gets an access entry with
    `AmazonEKSClusterAdminPolicy` on the whole cluster, and the Kubernetes provider waits for
    it (an admin may deploy too); default: none."""
    ci_principal_arns: list[PrincipalArn] = Field(default_factory=list)
    """IAM roles of the CI deploy jobs: each gets an access entry with
    `AmazonEKSClusterAdminPolicy` (the stacks create cluster-scoped objects), and the
    Kubernetes provider waits for it; default: none."""
    bootstrap_creator_admin: bool = True
    """EKS makes whoever creates the cluster an admin outside any code; default: true. Set it
    false on a new cluster whose creator is in `ci_principal_arns` or `admin_principal_arns`
    (else its explicit access entry collides with the implicit one). Changing it replaces the
    cluster."""
    node_group: EksNodeGroupArgs = Field(default_factory=EksNodeGroupArgs)
    """Worker nodes; default: m6i.large, 2 to 6 nodes."""
    log_retention_days: int = 365
    """Control-plane log retention in CloudWatch; default: 365 days."""
    ingress_addresses: bool = True
    """Reserve one Elastic IP per zone for the entry point; default: true."""
    network_policy: bool = True
    """Enforce Kubernetes NetworkPolicies: the VPC CNI as an EKS managed add-on with its
    network policy agent on (`enableNetworkPolicy`). Without it EKS accepts NetworkPolicy
    objects and enforces none, so deny-by-default would be a label only; default: true."""
    protect: bool = False
    """Protect the cluster, its node group, KMS key and ingress addresses from deletion and
    enable the cluster's deletion protection (prod); default: false."""
    render_yaml_directory: str | None = None
    """When set, the Kubernetes provider writes manifests there instead of applying them."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        return check_tags(v)

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, v: str) -> str:
        try:
            net = ipaddress.IPv4Network(v)
        except ValueError as exc:
            raise ValueError(f"vpc_cidr {v!r} is not an IPv4 network ({exc})") from None
        if not 16 <= net.prefixlen <= 20:
            raise ValueError(f"vpc_cidr {v!r} has prefix /{net.prefixlen}; allowed: /16 to /20")
        return str(net)

    @field_validator("public_access_cidrs")
    @classmethod
    def _public_cidrs(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return check_public_cidrs(v, any_ip=bool(info.data.get("allow_any_ip")))

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        allowed = [90, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
        if v not in allowed:
            raise ValueError(
                f"log_retention_days {v} is not a CloudWatch value; allowed: {allowed}"
            )
        return v

    @model_validator(mode="after")
    def _access(self) -> EksClusterArgs:
        plain = [
            a for a in [*self.admin_principal_arns, *self.ci_principal_arns] if isinstance(a, str)
        ]
        repeated = sorted({a for a in plain if plain.count(a) > 1})
        if repeated:
            raise ValueError(
                f"admin_principal_arns/ci_principal_arns name {repeated} more than once; "
                "a principal has one access entry"
            )
        if not (
            self.bootstrap_creator_admin or self.admin_principal_arns or self.ci_principal_arns
        ):
            raise ValueError(
                "bootstrap_creator_admin is false and admin_principal_arns and "
                "ci_principal_arns are empty: nobody could reach the cluster"
            )
        return self

    @model_validator(mode="after")
    def _zones(self) -> EksClusterArgs:
        zones = self.zones
        if len(zones) != 3 or len(set(zones)) != 3:
            raise ValueError(f"availability_zones {zones} must be three distinct zones")
        wrong = [z for z in zones if not z.startswith(self.region) or z == self.region]
        if wrong:
            raise ValueError(f"availability_zones {wrong} are not zones of region {self.region!r}")
        return self

    @property
    def zones(self) -> list[str]:
        """The three zones used (given, or the region's a, b, c)."""
        return list(self.availability_zones or [f"{self.region}{s}" for s in "abc"])


def subnet_plan(vpc_cidr: str) -> tuple[list[str], list[str]]:
    """Split the VPC into three private subnets (a quarter each) and three small public ones.

    Private subnets hold nodes and pods (VPC CNI gives each pod an address), so they get most
    of the space; public subnets only hold NAT gateways and load balancers.
    """
    net = ipaddress.IPv4Network(vpc_cidr)
    quarters = list(net.subnets(prefixlen_diff=2))
    private = [str(q) for q in quarters[:3]]
    public = [str(s) for s in list(quarters[3].subnets(prefixlen_diff=2))[:3]]
    return private, public


def eks_kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """Kubeconfig that gets short-lived tokens from `aws eks get-token` (no static credentials)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {"server": endpoint, "certificate-authority-data": ca_data},
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
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster_name,
                                "--region",
                                region,
                                "--output",
                                "json",
                            ],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


def eks_cluster_identifier(region: str, cluster_name: str) -> str:
    """What names the cluster to the Kubernetes provider: known from inputs, on a first
    preview too; a cluster name is unique per account and region."""
    return f"eks/{region}/{cluster_name}"


def principal_key(arn: pulumi.Input[str], index: int) -> str:
    """Resource-name part for a principal's access entry: its role name and a short hash of
    the ARN, so removing one principal leaves the others' entries alone; an Output's value is
    not known yet, so it goes by its position in the list."""
    if not isinstance(arn, str):
        return str(index)
    tail = re.sub(r"[^a-z0-9-]+", "-", arn.rsplit("/", 1)[-1].lower()).strip("-")
    return f"{tail[:40]}-{hashlib.sha256(arn.encode()).hexdigest()[:6]}"


def _assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster with its network, encryption, logging, nodes, IRSA and a k8s provider."""

    cluster_name: pulumi.Output[str]
    """The EKS cluster name."""
    endpoint: pulumi.Output[str]
    """API server URL."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (a secret) using `aws eks get-token`."""
    oidc_provider_arn: pulumi.Output[str]
    """IAM OIDC provider for workload roles."""
    oidc_issuer: pulumi.Output[str]
    """Issuer host and path without `https://`, as IAM condition keys want it."""
    vpc_id: pulumi.Output[str]
    """The cluster VPC."""
    private_subnet_ids: list[pulumi.Output[str]]
    """Node subnets, one per zone."""
    public_subnet_ids: list[pulumi.Output[str]]
    """Load-balancer subnets, one per zone."""
    ingress_allocation_ids: list[pulumi.Output[str]]
    """Elastic IP allocations for the entry point (empty when `ingress_addresses` is false)."""
    ingress_addresses: list[pulumi.Output[str]]
    """Public addresses of the entry point, one per zone."""
    kms_key_arn: pulumi.Output[str]
    """Key encrypting Kubernetes secrets."""
    access_entries: list[pulumi.Resource]
    """Access entries and their policy associations, for `admin_principal_arns` and
    `ci_principal_arns`."""
    node_group: aws.eks.NodeGroup
    """The managed node group."""
    provider: k8s.Provider
    """Kubernetes provider talking to this cluster."""

    def __init__(
        self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("slipway:aws:EksCluster", name, {}, opts)
        region = args.region
        tags = args.tags
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)

        # --- network: three zones, private subnets behind one NAT gateway per zone ---------
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            region=region,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        # The default security group of a VPC allows all traffic between members: empty it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            region=region,
            tags={**tags, "Name": f"{name}-default"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw",
            vpc_id=vpc.id,
            region=region,
            tags={**tags, "Name": f"{name}-igw"},
            opts=child,
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            region=region,
            tags={**tags, "Name": f"{name}-public"},
            opts=child,
        )
        private_cidrs, public_cidrs = subnet_plan(args.vpc_cidr)
        self.private_subnet_ids = []
        self.public_subnet_ids = []
        self.ingress_allocation_ids = []
        self.ingress_addresses = []
        for zone, priv_cidr, pub_cidr in zip(args.zones, private_cidrs, public_cidrs, strict=True):
            z = zone.removeprefix(region)
            public = aws.ec2.Subnet(
                f"{name}-public-{z}",
                vpc_id=vpc.id,
                cidr_block=pub_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                region=region,
                tags={**tags, "Name": f"{name}-public-{z}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{z}-rta",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                region=region,
                opts=child,
            )
            nat_eip = aws.ec2.Eip(
                f"{name}-nat-{z}-eip",
                domain="vpc",
                region=region,
                tags={**tags, "Name": f"{name}-nat-{z}"},
                opts=child,
            )
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{z}",
                subnet_id=public.id,
                allocation_id=nat_eip.allocation_id,
                region=region,
                tags={**tags, "Name": f"{name}-nat-{z}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{z}",
                vpc_id=vpc.id,
                cidr_block=priv_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                region=region,
                tags={
                    **tags,
                    "Name": f"{name}-private-{z}",
                    "kubernetes.io/role/internal-elb": "1",
                },
                opts=child,
            )
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-{z}-rt",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                region=region,
                tags={**tags, "Name": f"{name}-private-{z}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{z}-rta",
                subnet_id=private.id,
                route_table_id=private_rt.id,
                region=region,
                opts=child,
            )
            if args.ingress_addresses:
                eip = aws.ec2.Eip(
                    f"{name}-ingress-{z}-eip",
                    domain="vpc",
                    region=region,
                    tags={**tags, "Name": f"{name}-ingress-{z}"},
                    opts=stateful,
                )
                self.ingress_allocation_ids.append(eip.allocation_id)
                self.ingress_addresses.append(eip.public_ip)
            self.private_subnet_ids.append(private.id)
            self.public_subnet_ids.append(public.id)

        # --- encryption key for Kubernetes secrets ------------------------------------------
        key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"Envelope encryption of Kubernetes secrets in {args.cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            region=region,
            tags=tags,
            opts=stateful,
        )
        aws.kms.Alias(
            f"{name}-secrets-key-alias",
            name=f"alias/{args.cluster_name}-secrets",
            target_key_id=key.key_id,
            region=region,
            opts=child,
        )

        # --- control-plane role ---------------------------------------------------------------
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=_assume_role_policy("eks.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=f"{_MANAGED}AmazonEKSClusterPolicy",
            opts=child,
        )
        cluster_kms = aws.iam.RolePolicy(
            f"{name}-cluster-kms",
            role=cluster_role.id,
            policy=key.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "kms:Encrypt",
                                    "kms:Decrypt",
                                    "kms:ListGrants",
                                    "kms:DescribeKey",
                                    "kms:CreateGrant",
                                ],
                                "Resource": arn,
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/eks/{args.cluster_name}/cluster",
            retention_in_days=args.log_retention_days,
            region=region,
            tags=tags,
            opts=child,
        )

        public_endpoint = bool(args.public_access_cidrs)
        vpc_config: dict[str, Any] = {
            "subnet_ids": self.private_subnet_ids,
            "endpoint_private_access": True,
            "endpoint_public_access": public_endpoint,
        }
        if public_endpoint:
            vpc_config["public_access_cidrs"] = args.public_access_cidrs
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=args.cluster_name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=vpc_config,
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": key.arn}},
            enabled_cluster_log_types=LOG_TYPES,
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": args.bootstrap_creator_admin,
            },
            deletion_protection=args.protect,
            region=region,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=[cluster_policy, cluster_kms, log_group],
            ),
        )

        # --- who may use the Kubernetes API: access entries in code, not only the creator ---
        self.access_entries = []
        for kind, arns in (("admin", args.admin_principal_arns), ("ci", args.ci_principal_arns)):
            for i, arn in enumerate(arns):
                res = f"{name}-{kind}-{principal_key(arn, i)}"
                entry = aws.eks.AccessEntry(
                    res,
                    cluster_name=cluster.name,
                    principal_arn=arn,
                    type="STANDARD",
                    region=region,
                    tags=tags,
                    opts=child,
                )
                association = aws.eks.AccessPolicyAssociation(
                    f"{res}-admin",
                    cluster_name=cluster.name,
                    # From the entry, so the association waits for it.
                    principal_arn=entry.principal_arn,
                    policy_arn=CLUSTER_ADMIN_POLICY,
                    access_scope={"type": "cluster"},
                    region=region,
                    opts=child,
                )
                self.access_entries += [entry, association]

        # --- workload identity: IAM OIDC provider ---------------------------------------------
        issuer_url = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            tags=tags,
            opts=child,
        )

        # --- nodes ------------------------------------------------------------------------------
        node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=_assume_role_policy("ec2.amazonaws.com"),
            tags=tags,
            opts=child,
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{short}",
                role=node_role.name,
                policy_arn=f"{_MANAGED}{policy}",
                opts=child,
            )
            for short, policy in (
                ("worker", "AmazonEKSWorkerNodePolicy"),
                ("cni", "AmazonEKS_CNI_Policy"),
                ("ecr", "AmazonEC2ContainerRegistryPullOnly"),
            )
        ]
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-nodes-lt",
            description=f"Nodes of {args.cluster_name}: IMDSv2 only, encrypted gp3 root volume",
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                # One hop: pods cannot reach the node's credentials; they use IRSA instead.
                "http_put_response_hop_limit": 1,
            },
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": args.node_group.disk_size_gb,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            tag_specifications=[
                {"resource_type": "instance", "tags": tags},
                {"resource_type": "volume", "tags": tags},
            ],
            update_default_version=True,
            region=region,
            tags=tags,
            opts=child,
        )
        cni = []
        if args.network_policy:
            # Before the nodes, so their pods start on a CNI that enforces the policies. The
            # version is EKS's default for the cluster's (any since v1.14 has the agent).
            cni.append(
                aws.eks.Addon(
                    f"{name}-vpc-cni",
                    cluster_name=cluster.name,
                    addon_name="vpc-cni",
                    configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
                    resolve_conflicts_on_create="OVERWRITE",
                    resolve_conflicts_on_update="PRESERVE",
                    region=region,
                    tags=tags,
                    opts=child,
                )
            )
        ng = args.node_group
        self.node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=self.private_subnet_ids,
            instance_types=[ng.instance_type],
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            scaling_config={
                "min_size": ng.min_nodes,
                "max_size": ng.max_nodes,
                "desired_size": ng.min_nodes,
            },
            update_config={"max_unavailable": 1},
            launch_template={
                "id": launch_template.id,
                "version": launch_template.latest_version.apply(str),
            },
            labels={"slipway.dev/pool": "default"},
            region=region,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                depends_on=[*node_policies, *cni],
                # The autoscaler owns the current size; Pulumi owns the bounds.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.kms_key_arn = key.arn
        self.vpc_id = vpc.id
        self.oidc_provider_arn = oidc.arn
        self.oidc_issuer = issuer_url.apply(lambda u: u.removeprefix("https://"))
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                cluster.name,
                cluster.endpoint,
                cluster.certificate_authority.apply(lambda c: c.data),
            ).apply(lambda a: eks_kubeconfig(a[0], a[1], a[2], region))
        )
        # Server-side apply; mutable ConfigMaps (flags) update in place, while the hashed,
        # immutable config ConfigMaps still roll pods by being replaced.
        # The cluster identifier comes from inputs alone: a kubeconfig that changes (or is
        # unknown in a preview) updates the provider instead of replacing it, and every
        # workload with it.
        provider_args: dict[str, Any] = {
            "kubeconfig": self.kubeconfig,
            "cluster_identifier": eks_cluster_identifier(region, args.cluster_name),
            "enable_server_side_apply": True,
            "enable_config_map_mutable": True,
        }
        if args.render_yaml_directory:
            provider_args["render_yaml_to_directory"] = args.render_yaml_directory
        self.provider = k8s.Provider(
            f"{name}-k8s",
            **provider_args,
            # The deploying principal (CI or an admin) is let in by its access entry.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.node_group, *self.access_entries]
            ),
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "kubeconfig": self.kubeconfig,
                "oidc_provider_arn": self.oidc_provider_arn,
                "vpc_id": self.vpc_id,
                "kms_key_arn": self.kms_key_arn,
                "ingress_addresses": self.ingress_addresses,
            }
        )

    def workload_trust_policy(self, namespace: str, service_account: str) -> pulumi.Output[str]:
        """Trust policy letting one Kubernetes service account of this cluster assume a role
        (IRSA), pinned to `sub` and `aud` (`cloud_common.irsa_trust_policy`)."""
        return irsa_trust_policy(
            self.oidc_provider_arn, self.oidc_issuer, namespace, service_account
        )
