"""EksCluster: the security properties of the cluster and the kubeconfig shape."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from policies.compliance import STATEFUL_TYPES
from slipway.engine import run_program
from slipway.judges import typed_inputs
from slipway_components.eks import LOG_TYPES, EksCluster, EksClusterArgs, subnet_plan
from tests.cloud_mocks import CloudMocks, RecordingMonitor, Registered, run

TAGS = {"team": "platform", "cost-center": "platform"}
ADMINS = "arn:aws:iam::123456789012:role/platform-admins"
CI = "arn:aws:iam::123456789012:role/ci-deploy"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
PROVIDER = "pulumi:providers:kubernetes"


@pytest.fixture
def mon() -> RecordingMonitor:
    monitor = RecordingMonitor(CloudMocks())
    pulumi.runtime.set_mocks(
        CloudMocks(), project="slipway", stack="test", preview=False, monitor=monitor
    )
    return monitor


def args_of(**kw: Any) -> EksClusterArgs:
    return EksClusterArgs(region="us-east-1", cluster_name="prod-use1", tags=TAGS, **kw)


def build(mon: RecordingMonitor, **kw: Any) -> dict:
    out: dict = {}

    def program() -> object:
        c = EksCluster("use1", args_of(**kw))
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


# --- access: admins and CI get access entries in code --------------------------------------


def test_admins_and_ci_get_cluster_admin_access_entries(mon: RecordingMonitor) -> None:
    build(mon, admin_principal_arns=[ADMINS], ci_principal_arns=[CI])
    entries = {e.inputs["principalArn"]: e for e in mon.of_type(ENTRY)}
    assert sorted(entries) == sorted([ADMINS, CI])
    for e in entries.values():
        assert e.inputs["clusterName"] == "prod-use1", e.urn
        assert e.inputs["type"] == "STANDARD", e.urn
        assert e.inputs["region"] == "us-east-1", e.urn
        assert e.inputs["tags"] == TAGS, e.urn
    assocs = {a.inputs["principalArn"]: a for a in mon.of_type(ASSOCIATION)}
    assert sorted(assocs) == sorted([ADMINS, CI])
    for a in assocs.values():
        assert a.inputs["policyArn"] == (
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        ), a.urn
        assert a.inputs["accessScope"] == {"type": "cluster"}, a.urn
        assert a.inputs["clusterName"] == "prod-use1", a.urn
        # An association needs its entry to exist first.
        assert entries[a.inputs["principalArn"]].urn in mon.deps[a.urn], a.urn


def test_kubernetes_provider_waits_for_the_deployers_access(mon: RecordingMonitor) -> None:
    build(mon, admin_principal_arns=[ADMINS], ci_principal_arns=[CI])
    provider = mon.one(PROVIDER)
    waited = mon.deps[provider.urn]
    for r in mon.of_type(ENTRY) + mon.of_type(ASSOCIATION):
        assert r.urn in waited, f"{provider.urn} does not wait for {r.urn}"


def test_no_principals_keeps_the_creator_as_the_only_admin(mon: RecordingMonitor) -> None:
    build(mon)
    assert mon.of_type(ENTRY) == [] and mon.of_type(ASSOCIATION) == []
    access = mon.one("aws:eks/cluster:Cluster").inputs["accessConfig"]
    assert access == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": True}


def test_creator_bootstrap_can_be_turned_off_for_explicit_entries(mon: RecordingMonitor) -> None:
    build(mon, ci_principal_arns=[CI], bootstrap_creator_admin=False)
    access = mon.one("aws:eks/cluster:Cluster").inputs["accessConfig"]
    assert access["bootstrapClusterCreatorAdminPermissions"] is False
    assert mon.one(ENTRY).inputs["principalArn"] == CI


def test_removing_a_principal_leaves_the_others_entries_alone(mon: RecordingMonitor) -> None:
    other = "arn:aws:iam::123456789012:role/ci-deploy-staging"
    build(mon, ci_principal_arns=[other, CI])
    before = {e.inputs["principalArn"]: e.urn for e in mon.of_type(ENTRY)}
    mon.registered.clear()
    build(mon, ci_principal_arns=[CI])
    assert mon.one(ENTRY).urn == before[CI]


def test_a_principal_given_as_an_output_gets_its_entry(mon: RecordingMonitor) -> None:
    def program() -> None:
        EksCluster("use1", args_of(ci_principal_arns=[pulumi.Output.from_input(CI)]))

    run(program)
    entry = mon.one(ENTRY)
    assert entry.inputs["principalArn"] == CI
    assert entry.name == "use1-ci-0"


@pytest.mark.parametrize(
    ("arn", "says"),
    [
        ("arn:aws:sts::123456789012:assumed-role/ci-deploy/run-42", "STS session ARN"),
        ("ci-deploy", "not an IAM role or user ARN"),
        ("arn:aws:iam::1234:role/ci-deploy", "not an IAM role or user ARN"),
        ("arn:aws:iam::123456789012:group/admins", "not an IAM role or user ARN"),
    ],
)
def test_a_principal_that_is_not_a_role_or_user_arn_is_refused(arn: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as err:
        args_of(ci_principal_arns=[arn])
    assert err.value.errors()[0]["loc"][0] == "ci_principal_arns"


def test_a_principal_named_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="more than once"):
        args_of(admin_principal_arns=[CI], ci_principal_arns=[CI])


def test_no_creator_and_no_principal_is_refused() -> None:
    with pytest.raises(ValidationError, match="nobody could reach the cluster"):
        args_of(bootstrap_creator_admin=False)


# --- reachability: a public endpoint only for an allow-list ----------------------------------


def test_any_ip_is_refused_without_allow_any_ip_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="allow_any_ip") as err:
        args_of(public_access_cidrs=["198.51.100.0/24", "0.0.0.0/0"])
    assert err.value.errors()[0]["loc"] == ("public_access_cidrs",)


def test_any_ip_with_allow_any_ip_opens_the_public_endpoint(mon: RecordingMonitor) -> None:
    build(mon, public_access_cidrs=["0.0.0.0/0"], allow_any_ip=True)
    vpc = mon.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["0.0.0.0/0"]


@pytest.mark.parametrize(
    ("cidrs", "says"),
    [(["198.51.100.0/33"], "is invalid"), (["198.51.100.0/24", "198.51.100.0/24"], "repeat")],
)
def test_bad_allow_lists_are_refused(cidrs: list[str], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        args_of(public_access_cidrs=cidrs)


# --- the Kubernetes provider is not replaced by a new kubeconfig ----------------------------


def test_provider_cluster_identifier_is_known_on_a_first_preview() -> None:
    def program() -> None:
        EksCluster("use1", args_of())

    result = run_program(
        program, project="slipway", stack="test", config={}, secret_keys=[], first_run=True
    )
    (provider,) = [r for r in result.records if r.type == PROVIDER]
    # The kubeconfig is built from what the cloud computes: unknown on a first preview.
    assert provider.inputs["kubeconfig"] == "[unknown]"
    assert provider.inputs["clusterIdentifier"] == "eks/us-east-1/prod-use1"


# --- protect ----------------------------------------------------------------------------------


STATEFUL = {"aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:kms/key:Key"}
"""The children a deletion would lose for good (the secrets key) or that take the workloads
down with them; with the ingress addresses, `protect` covers these and nothing else."""


def stateful(r: Registered) -> bool:
    """A stateful child: one of `STATEFUL`, or an entry point's Elastic IP (DNS points at
    it; the NAT gateways' addresses can change freely)."""
    return r.type in STATEFUL or (r.type == "aws:ec2/eip:Eip" and "-ingress-" in r.name)


@pytest.mark.parametrize("protect", [True, False])
def test_protect_covers_every_stateful_child_and_only_those(
    mon: RecordingMonitor, protect: bool
) -> None:
    build(mon, protect=protect)
    registered = {r.type for r in mon.registered}
    assert registered >= STATEFUL
    # What the stateful-resources-protected policy judges is among them.
    assert registered & STATEFUL_TYPES <= STATEFUL
    eips = [r.name for r in mon.registered if stateful(r) and r.type == "aws:ec2/eip:Eip"]
    assert len(eips) == 3, eips
    expected = {r.urn for r in mon.registered if stateful(r)}
    protected = {r.urn for r in mon.registered if r.protect}
    assert protected == (expected if protect else set())


# --- the SDK accepts what is registered ------------------------------------------------------


def test_every_input_fits_the_sdk_types() -> None:
    def program() -> None:
        EksCluster(
            "use1",
            args_of(
                admin_principal_arns=[ADMINS],
                ci_principal_arns=[CI],
                public_access_cidrs=["198.51.100.0/24"],
                protect=True,
            ),
        )

    result = run_program(program, project="slipway", stack="test", config={}, secret_keys=[])
    types = {r.type for r in result.records}
    assert {ENTRY, ASSOCIATION} <= types
    assert typed_inputs.judge([r.to_json() for r in result.records]) == []


def test_network_policies_are_enforced_by_the_managed_vpc_cni(mon: RecordingMonitor) -> None:
    """Without the VPC CNI's agent, EKS accepts NetworkPolicies and enforces none."""
    build(mon)
    cni = mon.one("aws:eks/addon:Addon")
    assert cni.inputs["addonName"] == "vpc-cni"
    assert json.loads(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert cni.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
    nodes = mon.one("aws:eks/nodeGroup:NodeGroup")
    assert cni.urn in mon.deps[nodes.urn], "the nodes start on the enforcing CNI"
    assert typed_inputs.judge([{"urn": cni.urn, "type": cni.type, "inputs": cni.inputs}]) == []


def test_network_policy_enforcement_can_be_left_to_the_cluster_owner(mon: RecordingMonitor) -> None:
    build(mon, network_policy=False)
    assert mon.of_type("aws:eks/addon:Addon") == []
