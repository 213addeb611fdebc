"""GkeCluster: private nodes, workload identity, shielded nodes, encryption, kubeconfig."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from policies.compliance import STATEFUL_TYPES
from slipway.engine import run_program
from slipway.judges import typed_inputs
from slipway_components.gke import GkeCluster, GkeClusterArgs
from tests.cloud_mocks import CloudMocks, RecordingMonitor, run

TAGS = {"team": "platform", "cost-center": "platform"}
SERVICE = "gcp:projects/service:Service"
AGENT = "gcp:projects/serviceIdentity:ServiceIdentity"
PROVIDER = "pulumi:providers:kubernetes"


@pytest.fixture
def mon() -> RecordingMonitor:
    monitor = RecordingMonitor(CloudMocks())
    pulumi.runtime.set_mocks(
        CloudMocks(), project="slipway", stack="test", preview=False, monitor=monitor
    )
    return monitor


def args_of(**kw: Any) -> GkeClusterArgs:
    return GkeClusterArgs(
        project="slipway-prod", region="europe-west1", cluster_name="prod-ew1", tags=TAGS, **kw
    )


def build(mon: RecordingMonitor, **kw: Any) -> dict:
    out: dict = {}

    def program() -> object:
        c = GkeCluster("ew1", args_of(**kw))
        return c.kubeconfig.apply(lambda k: out.setdefault("kubeconfig", k))

    run(program)
    return out


def api_urns(mon: RecordingMonitor) -> dict[str, str]:
    """Service name -> URN of the resource enabling it."""
    return {r.inputs["service"]: r.urn for r in mon.of_type(SERVICE)}


def cluster(mon: RecordingMonitor) -> tuple[str, dict]:
    c = mon.one("gcp:container/cluster:Cluster")
    return c.urn, c.inputs


def test_private_nodes_and_private_endpoint(mon: RecordingMonitor) -> None:
    build(mon)
    urn, c = cluster(mon)
    assert c["privateClusterConfig"]["enablePrivateNodes"] is True, urn
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is True, urn
    assert c["networkingMode"] == "VPC_NATIVE", urn


def test_public_endpoint_only_for_the_allow_list(mon: RecordingMonitor) -> None:
    build(mon, public_access_cidrs=["198.51.100.0/24"])
    urn, c = cluster(mon)
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is False, urn
    blocks = [b["cidrBlock"] for b in c["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    assert "198.51.100.0/24" in blocks, urn


def test_workload_identity_on_cluster_and_nodes(mon: RecordingMonitor) -> None:
    build(mon)
    urn, c = cluster(mon)
    assert c["workloadIdentityConfig"]["workloadPool"] == "slipway-prod.svc.id.goog", urn
    pool = mon.one("gcp:container/nodePool:NodePool")
    assert pool.inputs["nodeConfig"]["workloadMetadataConfig"]["mode"] == "GKE_METADATA", pool.urn


def test_shielded_nodes_with_secure_boot_and_integrity(mon: RecordingMonitor) -> None:
    build(mon)
    urn, c = cluster(mon)
    assert c["enableShieldedNodes"] is True, urn
    pool = mon.one("gcp:container/nodePool:NodePool")
    shielded = pool.inputs["nodeConfig"]["shieldedInstanceConfig"]
    assert shielded == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}, pool.urn


def test_secrets_encrypted_with_rotating_cloud_kms_key(mon: RecordingMonitor) -> None:
    build(mon)
    urn, c = cluster(mon)
    assert c["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": "ew1-secrets-key-id"}, urn
    key = mon.one("gcp:kms/cryptoKey:CryptoKey")
    assert key.inputs["rotationPeriod"] == "7776000s", key.urn
    grant = mon.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert grant.inputs["member"].endswith("@container-engine-robot.iam.gserviceaccount.com")


KMS = ("gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey")


def test_key_ring_and_key_are_auto_named_so_a_recreated_stack_gets_new_ones(
    mon: RecordingMonitor,
) -> None:
    # Neither can ever be deleted: a fixed name fails a recreated stack on "already exists".
    build(mon)
    for type_ in KMS:
        r = mon.one(type_)
        assert "name" not in r.inputs, f"{r.urn} has the fixed name {r.inputs.get('name')!r}"
        # A stack made with the old fixed names keeps them instead of replacing its key.
        assert mon.ignored[r.urn] == ["name"], r.urn
    assert mon.one(KMS[1]).inputs["keyRing"] == "ew1-keyring-id"


def test_longest_name_whose_kms_auto_names_fit(mon: RecordingMonitor) -> None:
    name = "a" * 43
    run(lambda: GkeCluster(name, args_of()))
    # The provider appends "-" and 7 hex digits; Cloud KMS ids are at most 63 characters.
    assert max(len(mon.one(t).name) + 8 for t in KMS) == 63


@pytest.mark.parametrize("name", ["a" * 44, "ew1.prod"])
def test_name_the_kms_auto_names_cannot_hold_is_refused(mon: RecordingMonitor, name: str) -> None:
    with pytest.raises(ValueError, match="use at most 43 of those characters"):
        GkeCluster(name, args_of())
    assert mon.registered == []


def test_release_channel_network_policy_binary_authorization(mon: RecordingMonitor) -> None:
    build(mon)
    urn, c = cluster(mon)
    assert c["releaseChannel"]["channel"] == "REGULAR", urn
    assert c["networkPolicy"]["enabled"] is True, urn
    assert c["addonsConfig"]["networkPolicyConfig"]["disabled"] is False, urn
    assert c["binaryAuthorization"]["evaluationMode"] == "PROJECT_SINGLETON_POLICY_ENFORCE", urn
    assert c["masterAuth"]["clientCertificateConfig"]["issueClientCertificate"] is False, urn


def test_node_pool_autoscaling_repair_upgrade(mon: RecordingMonitor) -> None:
    build(mon)
    pool = mon.one("gcp:container/nodePool:NodePool")
    assert pool.inputs["autoscaling"]["totalMinNodeCount"] == 2, pool.urn
    assert pool.inputs["autoscaling"]["totalMaxNodeCount"] == 6, pool.urn
    assert pool.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}, pool.urn


def test_nodes_run_as_least_privilege_account_without_primitive_roles(
    mon: RecordingMonitor,
) -> None:
    build(mon)
    pool = mon.one("gcp:container/nodePool:NodePool")
    assert pool.inputs["nodeConfig"]["serviceAccount"].startswith("prod-ew1-nodes@"), pool.urn
    roles = {m.inputs["role"] for m in mon.of_type("gcp:projects/iAMMember:IAMMember")}
    assert not roles & {"roles/owner", "roles/editor"}, roles


def test_kubeconfig_uses_gke_auth_plugin_and_is_secret(mon: RecordingMonitor) -> None:
    out = build(mon)
    kc = json.loads(out["kubeconfig"])
    exec_ = kc["users"][0]["user"]["exec"]
    assert exec_["command"] == "gke-gcloud-auth-plugin"
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert kc["clusters"][0]["cluster"]["server"].startswith("https://")
    assert mon.one("pulumi:providers:kubernetes").has_secret("kubeconfig")


def test_key_protected_in_prod(mon: RecordingMonitor) -> None:
    build(mon, protect=True)
    assert mon.one("gcp:kms/cryptoKey:CryptoKey").protect
    assert cluster(mon)[1]["deletionProtection"] is True


def test_overlapping_ranges_are_refused() -> None:
    with pytest.raises(ValidationError, match="overlaps"):
        GkeClusterArgs(
            project="p",
            region="europe-west1",
            cluster_name="x",
            tags=TAGS,
            subnet_cidr="10.0.0.0/16",
            pods_cidr="10.0.128.0/17",
        )


def test_urns_are_pinned(mon: RecordingMonitor) -> None:
    build(mon)
    urn, _ = cluster(mon)
    assert urn.endswith("slipway:gcp:GkeCluster$gcp:container/cluster:Cluster::ew1-cluster"), urn
    pool = mon.one("gcp:container/nodePool:NodePool")
    assert pool.urn.endswith("slipway:gcp:GkeCluster$gcp:container/nodePool:NodePool::ew1-nodes")


def test_default_authorizes_only_the_node_subnet(mon: RecordingMonitor) -> None:
    build(mon)
    urn, c = cluster(mon)
    blocks = [b["cidrBlock"] for b in c["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    assert blocks == ["10.0.0.0/20"], urn


# --- a fresh project: APIs and the GKE service agent ---------------------------------------


def test_the_apis_the_cluster_uses_are_enabled_and_left_on_destroy(mon: RecordingMonitor) -> None:
    build(mon)
    services = mon.of_type(SERVICE)
    assert sorted(r.inputs["service"] for r in services) == [
        "binaryauthorization.googleapis.com",
        "cloudkms.googleapis.com",
        "cloudresourcemanager.googleapis.com",
        "compute.googleapis.com",
        "container.googleapis.com",
        "iam.googleapis.com",
        "logging.googleapis.com",
        "monitoring.googleapis.com",
        "secretmanager.googleapis.com",
    ]
    for r in services:
        assert r.inputs["project"] == "slipway-prod", r.urn
        assert r.inputs["disableOnDestroy"] is False, r.urn


def test_every_resource_waits_for_the_apis_it_needs(mon: RecordingMonitor) -> None:
    build(mon)
    apis = api_urns(mon)
    wants = {
        "gcp:compute/network:Network": ["compute"],
        "gcp:compute/subnetwork:Subnetwork": ["compute"],
        "gcp:compute/router:Router": ["compute"],
        "gcp:compute/routerNat:RouterNat": ["compute"],
        "gcp:compute/address:Address": ["compute"],
        "gcp:kms/keyRing:KeyRing": ["cloudkms"],
        "gcp:kms/cryptoKey:CryptoKey": ["cloudkms"],
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": ["cloudkms"],
        "gcp:serviceaccount/account:Account": ["iam"],
        "gcp:projects/iAMMember:IAMMember": ["cloudresourcemanager"],
        "gcp:container/cluster:Cluster": [
            "container",
            "compute",
            "binaryauthorization",
            "logging",
            "monitoring",
        ],
        "gcp:container/nodePool:NodePool": ["container"],
        AGENT: ["container"],
    }
    for type_, names in wants.items():
        found = mon.of_type(type_)
        assert found, type_
        for r in found:
            for api in names:
                assert apis[f"{api}.googleapis.com"] in mon.deps[r.urn], f"{r.urn} vs {api}"


def test_the_gke_agent_exists_before_it_is_granted_the_key(mon: RecordingMonitor) -> None:
    build(mon)
    agent = mon.one(AGENT)
    assert agent.inputs == {"project": "slipway-prod", "service": "container.googleapis.com"}
    grant = mon.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert agent.urn in mon.deps[grant.urn]
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    # ...and the cluster, whose secrets the key encrypts, waits for the grant.
    assert grant.urn in mon.deps[mon.one("gcp:container/cluster:Cluster").urn]


def test_apis_managed_elsewhere_are_left_alone(mon: RecordingMonitor) -> None:
    build(mon, manage_project_services=False)
    assert mon.of_type(SERVICE) == [] and mon.of_type(AGENT) == []
    grant = mon.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert grant.inputs["member"].endswith("@container-engine-robot.iam.gserviceaccount.com")


# --- reachability ----------------------------------------------------------------------------


def test_any_ip_is_refused_without_allow_any_ip_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="allow_any_ip") as err:
        args_of(public_access_cidrs=["0.0.0.0/0"])
    assert err.value.errors()[0]["loc"] == ("public_access_cidrs",)


def test_any_ip_with_allow_any_ip_opens_the_public_endpoint(mon: RecordingMonitor) -> None:
    build(mon, public_access_cidrs=["0.0.0.0/0"], allow_any_ip=True)
    urn, c = cluster(mon)
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is False, urn
    blocks = [b["cidrBlock"] for b in c["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    assert blocks == ["10.0.0.0/20", "0.0.0.0/0"], urn


@pytest.mark.parametrize(
    ("cidrs", "says"),
    [
        (["198.51.100.0/24", "198.51.100.0/24"], "repeat"),
        (["not-a-network"], "is invalid"),
        (
            [str(n) for n in ipaddress.IPv4Network("198.51.100.0/24").subnets(new_prefix=30)][:50],
            "at most 49",
        ),
    ],
)
def test_bad_allow_lists_are_refused(cidrs: list[str], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        args_of(public_access_cidrs=cidrs)


# --- the Kubernetes provider is not replaced by a new kubeconfig ----------------------------


def test_provider_cluster_identifier_is_known_on_a_first_preview() -> None:
    def program() -> None:
        GkeCluster("ew1", args_of())

    result = run_program(
        program, project="slipway", stack="test", config={}, secret_keys=[], first_run=True
    )
    (provider,) = [r for r in result.records if r.type == PROVIDER]
    assert provider.inputs["kubeconfig"] == "[unknown]"
    assert provider.inputs["clusterIdentifier"] == (
        "projects/slipway-prod/locations/europe-west1/clusters/prod-ew1"
    )


# --- protect ----------------------------------------------------------------------------------


STATEFUL = {
    "gcp:container/cluster:Cluster",
    "gcp:container/nodePool:NodePool",
    "gcp:kms/keyRing:KeyRing",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:compute/address:Address",
}
"""The children a deletion would lose for good (a key, the address DNS points at) or that
take the workloads down with them: `protect` covers these and nothing else."""


@pytest.mark.parametrize("protect", [True, False])
def test_protect_covers_every_stateful_child_and_only_those(
    mon: RecordingMonitor, protect: bool
) -> None:
    build(mon, protect=protect)
    registered = {r.type for r in mon.registered}
    assert registered >= STATEFUL
    # What the stateful-resources-protected policy judges is among them.
    assert registered & STATEFUL_TYPES <= STATEFUL
    stateful = {r.urn for r in mon.registered if r.type in STATEFUL}
    protected = {r.urn for r in mon.registered if r.protect}
    assert protected == (stateful if protect else set())


# --- the SDK accepts what is registered ------------------------------------------------------


def test_every_input_fits_the_sdk_types() -> None:
    def program() -> None:
        GkeCluster("ew1", args_of(public_access_cidrs=["198.51.100.0/24"], protect=True))

    result = run_program(program, project="slipway", stack="test", config={}, secret_keys=[])
    assert {SERVICE, AGENT} <= {r.type for r in result.records}
    assert typed_inputs.judge([r.to_json() for r in result.records]) == []
