"""Stack rules: they see every resource at once (coverage, references, regional spread)."""

from __future__ import annotations

import copy

from slipway.policy import run_pack
from tests.policies.harness import FIXTURES, PROJECT, fixture_records, urn


def _provider(name: str, region: str, cloud: str = "aws") -> dict:
    return {
        "urn": urn(f"pulumi:providers:{cloud}", name),
        "type": f"pulumi:providers:{cloud}",
        "name": name,
        "parent": "",
        "provider": "",
        "protect": False,
        "aliases": [],
        "custom": True,
        "inputs": {"region": region},
    }


def _policies(records: list[dict], stack: str = "prod") -> set[str]:
    return {d.policy for d in run_pack(records, stack, project=PROJECT)}


def test_prod_in_one_region_is_a_violation() -> None:
    assert "stack-min-regions" in _policies([_provider("east", "us-east-1")])


def test_prod_in_two_regions_passes() -> None:
    records = [_provider("east", "us-east-1"), _provider("eu", "europe-west1", "gcp")]
    assert "stack-min-regions" not in _policies(records)


def test_dev_needs_one_region_only() -> None:
    assert "stack-min-regions" not in _policies([_provider("east", "us-east-1")], "dev")


def test_plain_manifests_have_no_region_to_count() -> None:
    records = fixture_records(FIXTURES / "pod-security" / "good-hardened-deployment.yaml")
    assert _policies(records) == set()


def test_min_regions_is_reported_on_the_stack() -> None:
    diags = run_pack([_provider("east", "us-east-1")], "prod", project=PROJECT)
    (d,) = [d for d in diags if d.policy == "stack-min-regions"]
    assert d.urn == f"urn:pulumi:prod::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-prod"
    assert "1 region(s) (us-east-1)" in d.message


def _bundle(name: str) -> list[dict]:
    return fixture_records(FIXTURES / "pod-security" / f"{name}.yaml")


def test_coverage_counts_objects_from_other_files_in_the_same_namespace() -> None:
    records = _bundle("good-hardened-deployment")
    deployment = records[0]
    others = [
        r for r in records[1:] if not r["type"].endswith(("NetworkPolicy", "PodDisruptionBudget"))
    ]
    guards = copy.deepcopy(
        [r for r in records if r["type"].endswith(("NetworkPolicy", "PodDisruptionBudget"))]
    )
    for g in guards:
        g["urn"] += "-elsewhere"
    assert _policies([deployment, *others, *guards]) == set()


def test_coverage_in_another_namespace_does_not_count() -> None:
    records = _bundle("good-hardened-deployment")
    for r in records:
        if r["type"].endswith(("NetworkPolicy", "PodDisruptionBudget")):
            r["inputs"]["metadata"]["namespace"] = "elsewhere"
    assert _policies(records) == {"stack-workloads-have-network-policy", "stack-workloads-have-pdb"}


def test_network_policy_with_match_expressions_covers_the_workload() -> None:
    records = _bundle("good-hardened-deployment")
    netpol = next(r for r in records if r["type"].endswith("NetworkPolicy"))
    netpol["inputs"]["spec"]["podSelector"] = {
        "matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "In", "values": ["app", "other"]}
        ]
    }
    assert _policies(records) == set()


def test_a_rollout_through_workload_ref_is_covered_by_its_deployments_labels() -> None:
    assert _policies(_bundle("good-rollout-workload-ref")) == set()


def test_stack_rules_report_the_offending_resource() -> None:
    records = [
        r
        for r in _bundle("good-hardened-deployment")
        if not r["type"].endswith("PodDisruptionBudget")
    ]
    diags = run_pack(records, "prod", project=PROJECT)
    assert [(d.policy, d.urn) for d in diags] == [("stack-workloads-have-pdb", records[0]["urn"])]
