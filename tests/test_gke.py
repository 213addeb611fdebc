"""GkeCluster: private nodes, workload identity, shielded nodes, encryption, kubeconfig."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from slipway_components.gke import GkeCluster, GkeClusterArgs
from tests.cloud_mocks import RecordingMonitor, install, run

TAGS = {"team": "platform", "cost-center": "platform"}


@pytest.fixture
def mon() -> RecordingMonitor:
    return install()


def build(mon: RecordingMonitor, **kw: object) -> dict:
    out: dict = {}

    def program() -> object:
        args = GkeClusterArgs(
            project="slipway-prod", region="europe-west1", cluster_name="prod-ew1", tags=TAGS, **kw
        )
        c = GkeCluster("ew1", args)
        return c.kubeconfig.apply(lambda k: out.setdefault("kubeconfig", k))

    run(program)
    return out


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
