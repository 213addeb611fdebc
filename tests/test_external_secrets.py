"""External secrets: SecretStore with workload identity, ExternalSecret with exact grants."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from slipway_components.external_secrets import (
    ExternalSecret,
    ExternalSecretArgs,
    RemoteSecret,
    SecretStore,
    SecretStoreArgs,
)
from tests.cloud_mocks import RecordingMonitor, install, run

TAGS = {"team": "platform", "cost-center": "platform"}
ESO = "kubernetes:external-secrets.io/v1"
SECRETS = [RemoteSecret(key="DB_PASSWORD", remote_name="prod/payments/db", property="password")]


@pytest.fixture
def mon() -> RecordingMonitor:
    return install()


def build_aws(mon: RecordingMonitor) -> None:
    def program() -> None:
        store = SecretStore(
            "use1-shop-secrets",
            SecretStoreArgs(
                cloud="aws",
                namespace="shop",
                region="us-east-1",
                tags=TAGS,
                name_prefix="prod-aws-us-east-1",
                oidc_provider_arn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.x/id/ABC",
                oidc_issuer="oidc.eks.x/id/ABC",
            ),
        )
        ExternalSecret(
            "use1-payments-external",
            ExternalSecretArgs(service="payments", secrets=SECRETS, tags=TAGS),
            store,
        )

    run(program)


def build_gcp(mon: RecordingMonitor) -> None:
    def program() -> None:
        store = SecretStore(
            "ew1-shop-secrets",
            SecretStoreArgs(
                cloud="gcp",
                namespace="shop",
                region="europe-west1",
                tags=TAGS,
                name_prefix="prod-gcp-europe-west1",
                project="slipway-prod",
                cluster_name="prod-gcp-europe-west1",
            ),
        )
        ExternalSecret(
            "ew1-payments-external",
            ExternalSecretArgs(service="payments", secrets=SECRETS, tags=TAGS),
            store,
        )

    run(program)


def test_aws_store_uses_irsa_pinned_to_its_service_account(mon: RecordingMonitor) -> None:
    build_aws(mon)
    role = mon.one("aws:iam/role:Role")
    stmt = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity", role.urn
    cond = stmt["Condition"]["StringEquals"]
    assert cond["oidc.eks.x/id/ABC:sub"] == "system:serviceaccount:shop:external-secrets"
    assert cond["oidc.eks.x/id/ABC:aud"] == "sts.amazonaws.com"
    sa = mon.one("kubernetes:core/v1:ServiceAccount")
    assert sa.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        role.inputs["name"]
    ), sa.urn
    store = mon.one(f"{ESO}:SecretStore")
    aws = store.inputs["spec"]["provider"]["aws"]
    assert aws["service"] == "SecretsManager" and aws["region"] == "us-east-1", store.urn
    assert aws["auth"]["jwt"]["serviceAccountRef"]["name"] == "external-secrets", store.urn


def test_aws_grant_reads_exactly_the_named_secrets(mon: RecordingMonitor) -> None:
    build_aws(mon)
    pol = json.loads(mon.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    stmt = pol["Statement"][0]
    assert stmt["Resource"] == [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-??????"
    ]
    assert "*" not in stmt["Action"] and all(
        a.startswith("secretsmanager:Get") or a.startswith("secretsmanager:Describe")
        for a in stmt["Action"]
    )


def test_external_secret_syncs_into_an_owned_secret(mon: RecordingMonitor) -> None:
    build_aws(mon)
    es = mon.one(f"{ESO}:ExternalSecret")
    spec = es.inputs["spec"]
    assert spec["secretStoreRef"] == {"name": "slipway", "kind": "SecretStore"}, es.urn
    assert spec["target"]["name"] == "payments-external", es.urn
    assert spec["data"] == [
        {
            "secretKey": "DB_PASSWORD",
            "remoteRef": {"key": "prod/payments/db", "property": "password"},
        }
    ]
    assert es.inputs["metadata"]["namespace"] == "shop", es.urn


def test_gcp_store_uses_workload_identity(mon: RecordingMonitor) -> None:
    build_gcp(mon)
    wi = mon.one("gcp:serviceaccount/iAMMember:IAMMember")
    assert wi.inputs["role"] == "roles/iam.workloadIdentityUser", wi.urn
    assert wi.inputs["member"] == "serviceAccount:slipway-prod.svc.id.goog[shop/external-secrets]"
    store = mon.one(f"{ESO}:SecretStore")
    gcpsm = store.inputs["spec"]["provider"]["gcpsm"]
    assert gcpsm["projectID"] == "slipway-prod", store.urn
    assert gcpsm["auth"]["workloadIdentity"]["clusterName"] == "prod-gcp-europe-west1"
    sa = mon.one("kubernetes:core/v1:ServiceAccount")
    assert sa.inputs["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(
        "@slipway-prod.iam.gserviceaccount.com"
    ), sa.urn


def test_gcp_grant_is_per_secret_accessor(mon: RecordingMonitor) -> None:
    build_gcp(mon)
    grant = mon.one("gcp:secretmanager/secretIamMember:SecretIamMember")
    assert grant.inputs["secretId"] == "prod/payments/db", grant.urn
    assert grant.inputs["role"] == "roles/secretmanager.secretAccessor", grant.urn
    assert mon.of_type("gcp:projects/iAMMember:IAMMember") == []


def test_aws_store_without_oidc_is_refused() -> None:
    with pytest.raises(ValidationError, match="IRSA"):
        SecretStoreArgs(
            cloud="aws", namespace="shop", region="us-east-1", tags=TAGS, name_prefix="p"
        )


def test_repeated_secret_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="repeated"):
        ExternalSecretArgs(service="a", tags=TAGS, secrets=[SECRETS[0], SECRETS[0]])


def test_store_service_account_does_not_mount_a_token(mon: RecordingMonitor) -> None:
    build_aws(mon)
    sa = mon.one("kubernetes:core/v1:ServiceAccount")
    assert sa.inputs["automountServiceAccountToken"] is False, sa.urn
