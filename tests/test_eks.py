"""EksCluster: the security properties of the cluster and the kubeconfig shape."""

from __future__ import annotations

import json

import pulumi
import pytest
from pydantic import ValidationError

from slipway_components.eks import LOG_TYPES, EksCluster, EksClusterArgs, subnet_plan
from tests.cloud_mocks import RecordingMonitor, install, run

TAGS = {"team": "platform", "cost-center": "platform"}


@pytest.fixture
def mon() -> RecordingMonitor:
    return install()


def build(mon: RecordingMonitor, **kw: object) -> dict:
    out: dict = {}

    def program() -> object:
        args = EksClusterArgs(region="us-east-1", cluster_name="prod-use1", tags=TAGS, **kw)
        c = EksCluster("use1", args)
        return c.kubeconfig.apply(lambda k: out.setdefault("kubeconfig", k))

    run(program)
    return out


def test_endpoint_is_private_by_default(mon: RecordingMonitor) -> None:
    build(mon)
    c = mon.one("aws:eks/cluster:Cluster")
    vpc = c.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True, c.urn
    assert vpc["endpointPublicAccess"] is False, c.urn
    assert "publicAccessCidrs" not in vpc, c.urn


def test_public_endpoint_only_with_its_allow_list(mon: RecordingMonitor) -> None:
    build(mon, public_access_cidrs=["198.51.100.0/24"])
    c = mon.one("aws:eks/cluster:Cluster")
    assert c.inputs["vpcConfig"]["endpointPublicAccess"] is True, c.urn
    assert c.inputs["vpcConfig"]["publicAccessCidrs"] == ["198.51.100.0/24"], c.urn


def test_open_internet_allow_list_is_refused() -> None:
    with pytest.raises(ValidationError, match="opens the API to the internet"):
        EksClusterArgs(
            region="us-east-1", cluster_name="x", tags=TAGS, public_access_cidrs=["0.0.0.0/0"]
        )


def test_secrets_encrypted_with_a_rotating_key(mon: RecordingMonitor) -> None:
    build(mon)
    key = mon.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True, key.urn
    c = mon.one("aws:eks/cluster:Cluster")
    enc = c.inputs["encryptionConfig"]
    assert enc["resources"] == ["secrets"], c.urn
    assert enc["provider"]["keyArn"].startswith("arn:aws:kms:us-east-1:"), c.urn


def test_every_control_plane_log_type_enabled(mon: RecordingMonitor) -> None:
    build(mon)
    c = mon.one("aws:eks/cluster:Cluster")
    assert sorted(c.inputs["enabledClusterLogTypes"]) == sorted(LOG_TYPES), c.urn
    assert len(LOG_TYPES) == 5


def test_nodes_in_private_subnets_with_bounds_and_imdsv2(mon: RecordingMonitor) -> None:
    build(mon)
    ng = mon.one("aws:eks/nodeGroup:NodeGroup")
    assert sorted(ng.inputs["subnetIds"]) == [f"use1-private-{z}-id" for z in "abc"], ng.urn
    assert ng.inputs["scalingConfig"] == {"minSize": 2, "maxSize": 6, "desiredSize": 2}, ng.urn
    lt = mon.one("aws:ec2/launchTemplate:LaunchTemplate")
    assert lt.inputs["metadataOptions"]["httpTokens"] == "required", lt.urn
    assert lt.inputs["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true", lt.urn


def test_three_zones_each_with_a_nat_gateway(mon: RecordingMonitor) -> None:
    build(mon)
    zones = sorted(s.inputs["availabilityZone"] for s in mon.of_type("aws:ec2/subnet:Subnet"))
    assert zones == sorted(["us-east-1a", "us-east-1b", "us-east-1c"] * 2)
    assert len(mon.of_type("aws:ec2/natGateway:NatGateway")) == 3


def test_oidc_provider_for_workload_roles(mon: RecordingMonitor) -> None:
    build(mon)
    oidc = mon.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert oidc.inputs["url"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/"), oidc.urn
    assert oidc.inputs["clientIdLists"] == ["sts.amazonaws.com"], oidc.urn


def test_kubeconfig_uses_aws_eks_get_token_and_is_secret(mon: RecordingMonitor) -> None:
    out = build(mon)
    kc = json.loads(out["kubeconfig"])
    exec_ = kc["users"][0]["user"]["exec"]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["command"] == "aws"
    assert exec_["args"][:2] == ["eks", "get-token"]
    assert exec_["args"][exec_["args"].index("--cluster-name") + 1] == "prod-use1"
    assert exec_["args"][exec_["args"].index("--region") + 1] == "us-east-1"
    provider = mon.one("pulumi:providers:kubernetes")
    assert provider.has_secret("kubeconfig"), f"{provider.urn} kubeconfig not secret"


def test_protect_in_prod_and_deletion_protection(mon: RecordingMonitor) -> None:
    build(mon, protect=True)
    assert mon.one("aws:kms/key:Key").protect
    assert mon.one("aws:eks/cluster:Cluster").inputs["deletionProtection"] is True


def test_key_not_protected_outside_prod(mon: RecordingMonitor) -> None:
    build(mon)
    assert not mon.one("aws:kms/key:Key").protect


def test_urns_are_pinned(mon: RecordingMonitor) -> None:
    build(mon)
    c = mon.one("aws:eks/cluster:Cluster")
    assert c.urn.endswith("slipway:aws:EksCluster$aws:eks/cluster:Cluster::use1-cluster"), c.urn


def test_missing_cost_center_tag_is_refused() -> None:
    with pytest.raises(ValidationError, match="cost-center"):
        EksClusterArgs(region="us-east-1", cluster_name="x", tags={"team": "platform"})


def test_zones_of_another_region_are_refused() -> None:
    with pytest.raises(ValidationError, match="not zones of region"):
        EksClusterArgs(
            region="us-east-1",
            cluster_name="x",
            tags=TAGS,
            availability_zones=["eu-west-1a", "eu-west-1b", "eu-west-1c"],
        )


def test_subnet_plan_is_disjoint() -> None:
    private, public = subnet_plan("10.0.0.0/16")
    assert private == ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18"]
    assert public == ["10.0.192.0/20", "10.0.208.0/20", "10.0.224.0/20"]


def test_workload_trust_policy_lets_one_service_account_of_this_cluster_in(
    mon: RecordingMonitor,
) -> None:
    out: dict = {}

    def program() -> object:
        args = EksClusterArgs(region="us-east-1", cluster_name="prod-use1", tags=TAGS)
        c = EksCluster("use1", args)
        policy = c.workload_trust_policy("shop", "orders")
        return pulumi.Output.all(policy, c.oidc_provider_arn, c.oidc_issuer).apply(
            lambda v: out.update(policy=v[0], arn=v[1], issuer=v[2])
        )

    run(program)
    (stmt,) = json.loads(out["policy"])["Statement"]
    assert stmt["Principal"] == {"Federated": out["arn"]}
    assert stmt["Condition"]["StringEquals"] == {
        f"{out['issuer']}:sub": "system:serviceaccount:shop:orders",
        f"{out['issuer']}:aud": "sts.amazonaws.com",
    }
