"""Composition wiring: cloud secret stores, entry-point and Prometheus access, per target."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway import preview as pv
from slipway.errors import BadInput
from tests.conftest import copy_project

CLOUD_TARGETS = ("aws-us-east-1", "aws-eu-west-1", "gcp-europe-west1")


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The prod stack's Kubernetes objects, keyed by manifest path."""
    dest = copy_project(tmp_path_factory.mktemp("prod"), stacks=("prod",))
    rendered = pv.render(dest, "prod")
    return {pv.manifest_path(r): r.inputs for r in rendered.records if pv.is_manifest(r)}


def test_cloud_secret_manager_becomes_an_external_secret_in_every_cloud_target(prod) -> None:
    for target in CLOUD_TARGETS:
        es = prod[f"manifests/{target}/payments/ExternalSecret-payments.yaml"]
        assert es["spec"]["target"]["name"] == "payments-external", target
        assert [d["secretKey"] for d in es["spec"]["data"]] == ["PROVIDER_API_KEY"], target
        pod = prod[f"manifests/{target}/payments/Deployment-payments-stable.yaml"]["spec"][
            "template"
        ]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
        assert volume["secret"]["secretName"] == "payments-external", target
        env = pod["containers"][0]["env"]
        assert {
            "name": "PROVIDER_API_KEY_FILE",
            "value": "/var/run/secrets/app/PROVIDER_API_KEY",
        } in env


def test_a_cloud_secret_source_on_an_existing_cluster_is_bad_input(project: Path) -> None:
    # Dev's catalog generates its secrets; plant a cloud store where dev reads payments' key.
    path = project / "services" / "payments.yaml"
    text = path.read_text()
    generated = "        source: generated\n        key: payments-api-key\n"
    assert generated in text
    path.write_text(
        text.replace(
            generated, "        source: cloud-secret-manager\n        key: payments-api-key\n"
        )
    )
    with pytest.raises(BadInput, match=r"payments\.yaml: secrets: .*cloud-secret-manager"):
        pv.render(project, "dev")


@pytest.mark.parametrize(
    ("key", "stack", "cloud"),
    [("prod/payments/provider-api-key", "prod", "gcp"), ("payments key", "staging", "aws")],
)
def test_a_cloud_secret_name_its_store_cannot_hold_is_bad_input(
    project: Path, key: str, stack: str, cloud: str
) -> None:
    # GCP Secret Manager ids allow [A-Za-z0-9_-] and AWS Secrets Manager names no space: the
    # store would refuse the secret, and the External Secrets Operator would never sync it.
    path = project / "services" / "payments.yaml"
    text = path.read_text()
    catalog_key = f"key: {stack}-payments-provider-api-key\n"
    assert catalog_key in text
    path.write_text(text.replace(catalog_key, f"key: {key}\n"))
    with pytest.raises(BadInput) as info:
        pv.render(project, stack)
    assert info.value.file.endswith("payments.yaml")
    assert info.value.field == "secrets[].key"
    assert f"cannot exist in the {cloud} target's store" in str(info.value)


def test_a_slash_in_a_secret_name_is_fine_where_only_aws_reads_it(project: Path) -> None:
    # Staging's only target is on AWS, whose store takes `/` in names.
    path = project / "services" / "payments.yaml"
    text = path.read_text()
    catalog_key = "key: staging-payments-provider-api-key\n"
    assert catalog_key in text
    path.write_text(text.replace(catalog_key, "key: staging/payments/api-key\n"))
    rendered = pv.render(project, "staging")
    names = [
        r.inputs.get("spec", {}).get("data", [{}])[0].get("remoteRef", {}).get("key")
        for r in rendered.records
        if r.type == "kubernetes:external-secrets.io/v1:ExternalSecret"
    ]
    assert "staging/payments/api-key" in names


def test_public_services_admit_the_entry_point_and_all_admit_prometheus(prod) -> None:
    for target in CLOUD_TARGETS:
        public = prod[f"manifests/{target}/web/NetworkPolicy-frontend.yaml"]["spec"]["ingress"]
        private = prod[f"manifests/{target}/commerce/NetworkPolicy-orders.yaml"]["spec"]["ingress"]

        def namespaces(rules: list[dict]) -> set[str]:
            return {
                peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                for rule in rules
                for peer in rule["from"]
                if "podSelector" not in peer
            }

        assert "gateway" in namespaces(public), target
        assert "monitoring" in namespaces(public) and "monitoring" in namespaces(private), target
        assert "gateway" not in namespaces(private), target
