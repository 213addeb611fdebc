"""Registries: ECR per service (immutable, scanned, KMS, replicated), Artifact Registry (CMEK)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from policies.compliance import STATEFUL_TYPES
from slipway.engine import run_program
from slipway.judges import typed_inputs
from slipway_components.registry import (
    ArtifactRegistry,
    ArtifactRegistryArgs,
    EcrReplication,
    EcrReplicationArgs,
    EcrRepositories,
    EcrRepositoriesArgs,
)
from tests.cloud_mocks import CloudMocks, RecordingMonitor, run

TAGS = {"team": "platform", "cost-center": "platform"}
SERVICE = "gcp:projects/service:Service"
AGENT = "gcp:projects/serviceIdentity:ServiceIdentity"


@pytest.fixture
def mon() -> RecordingMonitor:
    monitor = RecordingMonitor(CloudMocks())
    pulumi.runtime.set_mocks(
        CloudMocks(), project="slipway", stack="test", preview=False, monitor=monitor
    )
    return monitor


def artifact_registry(**kw: Any) -> ArtifactRegistry:
    return ArtifactRegistry(
        "ew1-registry",
        ArtifactRegistryArgs(project="slipway-prod", region="europe-west1", tags=TAGS, **kw),
    )


def build_ecr(mon: RecordingMonitor, protect: bool = False) -> dict:
    out: dict = {}

    def program() -> object:
        repos = EcrRepositories(
            "use1-ecr",
            EcrRepositoriesArgs(
                region="us-east-1", services=["payments", "orders"], tags=TAGS, protect=protect
            ),
        )
        return repos.urls["orders"].apply(lambda u: out.setdefault("orders", u))

    run(program)
    return out


def test_one_repository_per_service_named_after_it(mon: RecordingMonitor) -> None:
    build_ecr(mon)
    names = sorted(r.inputs["name"] for r in mon.of_type("aws:ecr/repository:Repository"))
    assert names == ["orders", "payments"]


def test_repositories_immutable_scanned_and_kms_encrypted(mon: RecordingMonitor) -> None:
    build_ecr(mon)
    for r in mon.of_type("aws:ecr/repository:Repository"):
        assert r.inputs["imageTagMutability"] == "IMMUTABLE", r.urn
        assert r.inputs["imageScanningConfiguration"] == {"scanOnPush": True}, r.urn
        enc = r.inputs["encryptionConfigurations"][0]
        assert enc["encryptionType"] == "KMS", r.urn
        assert enc["kmsKey"].startswith("arn:aws:kms:"), r.urn
    assert mon.one("aws:kms/key:Key").inputs["enableKeyRotation"] is True


def test_image_url_is_in_the_repository_region(mon: RecordingMonitor) -> None:
    out = build_ecr(mon)
    assert out["orders"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders"


def test_lifecycle_policy_expires_untagged_images(mon: RecordingMonitor) -> None:
    build_ecr(mon)
    pols = mon.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert len(pols) == 2
    rules = json.loads(pols[0].inputs["policy"])["rules"]
    assert rules[0]["selection"]["tagStatus"] == "untagged", pols[0].urn


def protect_covers_exactly(mon: RecordingMonitor, stateful: set[str], protect: bool) -> None:
    """Every child of a `stateful` type (all of them registered) is protected when `protect`
    is set, and nothing else is; what the stateful-resources-protected policy judges is
    among those types."""
    registered = {r.type for r in mon.registered}
    assert registered >= stateful
    assert registered & STATEFUL_TYPES <= stateful
    expected = {r.urn for r in mon.registered if r.type in stateful}
    protected = {r.urn for r in mon.registered if r.protect}
    assert protected == (expected if protect else set())


@pytest.mark.parametrize("protect", [True, False])
def test_ecr_protect_covers_the_repositories_and_key_and_only_those(
    mon: RecordingMonitor, protect: bool
) -> None:
    build_ecr(mon, protect=protect)
    assert len(mon.of_type("aws:ecr/repository:Repository")) == 2
    protect_covers_exactly(
        mon, {"aws:ecr/repository:Repository", "aws:kms/key:Key"}, protect=protect
    )


def test_replication_to_the_other_regions(mon: RecordingMonitor) -> None:
    run(
        lambda: EcrReplication(
            "prod-ecr-replication",
            EcrReplicationArgs(source_region="us-east-1", destination_regions=["eu-west-1"]),
            registry_id="123456789012",
        )
    )
    cfg = mon.one("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    rule = cfg.inputs["replicationConfiguration"]["rules"][0]
    assert rule["destinations"] == [{"region": "eu-west-1", "registryId": "123456789012"}], cfg.urn
    assert cfg.inputs["region"] == "us-east-1", cfg.urn


def test_replication_to_its_own_region_is_refused() -> None:
    with pytest.raises(ValidationError, match="replicate to itself"):
        EcrReplicationArgs(source_region="us-east-1", destination_regions=["us-east-1"])


def test_invalid_service_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="not valid repository names"):
        EcrRepositoriesArgs(region="us-east-1", services=["Orders"], tags=TAGS)


def test_artifact_registry_cmek_immutable_cleanup(mon: RecordingMonitor) -> None:
    out: dict = {}

    def program() -> object:
        reg = ArtifactRegistry(
            "ew1-registry",
            ArtifactRegistryArgs(
                project="slipway-prod", region="europe-west1", tags=TAGS, protect=True
            ),
        )
        return reg.url.apply(lambda u: out.setdefault("url", u))

    run(program)
    repo = mon.one("gcp:artifactregistry/repository:Repository")
    assert repo.inputs["kmsKeyName"] == "ew1-registry-key-id", repo.urn
    assert repo.inputs["dockerConfig"] == {"immutableTags": True}, repo.urn
    assert {p["id"] for p in repo.inputs["cleanupPolicies"]} == {"delete-untagged", "keep-recent"}
    assert repo.inputs["cleanupPolicyDryRun"] is False, repo.urn
    assert repo.protect and mon.one("gcp:kms/cryptoKey:CryptoKey").protect
    grant = mon.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert grant.inputs["member"].endswith("@gcp-sa-artifactregistry.iam.gserviceaccount.com")
    assert out["url"] == "europe-west1-docker.pkg.dev/slipway-prod/services"


def test_artifact_registry_enables_its_apis_and_leaves_them_on_destroy(
    mon: RecordingMonitor,
) -> None:
    run(artifact_registry)
    services = mon.of_type(SERVICE)
    assert sorted(r.inputs["service"] for r in services) == [
        "artifactregistry.googleapis.com",
        "cloudkms.googleapis.com",
    ]
    for r in services:
        assert r.inputs["project"] == "slipway-prod", r.urn
        assert r.inputs["disableOnDestroy"] is False, r.urn


def test_registry_agent_exists_before_it_is_granted_the_key(mon: RecordingMonitor) -> None:
    run(artifact_registry)
    apis = {r.inputs["service"]: r.urn for r in mon.of_type(SERVICE)}
    agent = mon.one(AGENT)
    assert agent.inputs == {"project": "slipway-prod", "service": "artifactregistry.googleapis.com"}
    assert apis["artifactregistry.googleapis.com"] in mon.deps[agent.urn]
    grant = mon.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert agent.urn in mon.deps[grant.urn]
    repo = mon.one("gcp:artifactregistry/repository:Repository")
    assert {grant.urn, apis["artifactregistry.googleapis.com"]} <= mon.deps[repo.urn]
    for type_ in ("gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey"):
        r = mon.one(type_)
        assert apis["cloudkms.googleapis.com"] in mon.deps[r.urn], r.urn


def test_artifact_registry_apis_managed_elsewhere_are_left_alone(mon: RecordingMonitor) -> None:
    run(lambda: artifact_registry(manage_project_services=False))
    assert mon.of_type(SERVICE) == [] and mon.of_type(AGENT) == []
    assert mon.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")


KMS = ("gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey")


def test_artifact_registry_key_ring_and_key_are_auto_named(mon: RecordingMonitor) -> None:
    # Neither can ever be deleted: a fixed name (it was `<repository>-<region>-registry`, the
    # same for every stack of a project) fails a recreated or second stack on "already exists".
    run(artifact_registry)
    for type_ in KMS:
        r = mon.one(type_)
        assert "name" not in r.inputs, f"{r.urn} has the fixed name {r.inputs.get('name')!r}"
        # A stack made with the old fixed names keeps them instead of replacing its key.
        assert mon.ignored[r.urn] == ["name"], r.urn
    assert mon.one(KMS[1]).inputs["keyRing"] == "ew1-registry-keyring-id"


def test_longest_registry_name_whose_kms_auto_names_fit(mon: RecordingMonitor) -> None:
    name = "r" * 47
    run(lambda: ArtifactRegistry(name, ArtifactRegistryArgs(project="p", region="r", tags=TAGS)))
    # The provider appends "-" and 7 hex digits; Cloud KMS ids are at most 63 characters.
    assert max(len(mon.one(t).name) + 8 for t in KMS) == 63


@pytest.mark.parametrize("name", ["r" * 48, "ew1/registry"])
def test_registry_name_the_kms_auto_names_cannot_hold_is_refused(
    mon: RecordingMonitor, name: str
) -> None:
    with pytest.raises(ValueError, match="use at most 47 of those characters"):
        ArtifactRegistry(name, ArtifactRegistryArgs(project="p", region="r", tags=TAGS))
    assert mon.registered == []


@pytest.mark.parametrize("protect", [True, False])
def test_artifact_registry_protect_covers_the_repository_key_ring_and_key_and_only_those(
    mon: RecordingMonitor, protect: bool
) -> None:
    run(lambda: artifact_registry(protect=protect))
    stateful = {
        "gcp:artifactregistry/repository:Repository",
        "gcp:kms/keyRing:KeyRing",
        "gcp:kms/cryptoKey:CryptoKey",
    }
    protect_covers_exactly(mon, stateful, protect=protect)


def test_every_input_fits_the_sdk_types() -> None:
    def program() -> None:
        artifact_registry(protect=True)
        EcrRepositories(
            "use1-ecr",
            EcrRepositoriesArgs(region="us-east-1", services=["orders"], tags=TAGS, protect=True),
        )

    result = run_program(program, project="slipway", stack="test", config={}, secret_keys=[])
    assert {SERVICE, AGENT} <= {r.type for r in result.records}
    assert typed_inputs.judge([r.to_json() for r in result.records]) == []
