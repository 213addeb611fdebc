"""build_cloud_target / build_global_traffic: one target, the globe, isolation between targets."""

from __future__ import annotations

import pytest

from slipway.errors import BadInput
from stacks.cloud import (
    CloudTarget,
    build_cloud_target,
    build_global_traffic,
    build_registry_replication,
    gke_ranges,
)
from stacks.config import StackConfig
from tests.cloud_mocks import RecordingMonitor, install, run

SERVICES = ["orders", "payments"]


def prod_config(
    extra_targets: list[dict] | None = None, evacuate: str | None = None
) -> StackConfig:
    targets = [
        {"name": "aws-us-east-1", "cloud": "aws", "region": "us-east-1",
         "cluster": {"vpcCidr": "10.10.0.0/16"}},
        {"name": "aws-eu-west-1", "cloud": "aws", "region": "eu-west-1",
         "cluster": {"vpcCidr": "10.20.0.0/16"}},
        {"name": "gcp-europe-west1", "cloud": "gcp", "region": "europe-west1",
         "project": "slipway-prod", "cluster": {"vpcCidr": "10.30.0.0/16"}},
        *(extra_targets or []),
    ]
    for t in targets:
        if t["name"] == evacuate:
            t["evacuated"] = True
    return StackConfig.model_validate(
        {"environment": "prod", "targets": targets, "dns": {"domain": "shop.example.com"}}
    )


def build_all(stack: StackConfig) -> RecordingMonitor:
    mon = install()

    def program() -> None:
        built: list[CloudTarget] = [
            build_cloud_target(t, stack, SERVICES, None) for t in stack.targets
        ]
        build_registry_replication(stack, built)
        build_global_traffic(stack, built, ["orders"], None)

    run(program)
    return mon


def snapshot(mon: RecordingMonitor) -> dict[str, dict]:
    return {r.urn: r.inputs for r in mon.registered}


def test_one_aws_target_builds_cluster_nodes_registry_and_provider() -> None:
    stack = prod_config()
    mon = install()
    got: dict[str, CloudTarget] = {}
    run(lambda: got.setdefault("t", build_cloud_target(stack.targets[0], stack, SERVICES, None)))
    names = {r.name for r in mon.registered}
    for expected in ("aws-us-east-1-aws", "aws-us-east-1-cluster", "aws-us-east-1-nodes",
                     "aws-us-east-1-k8s", "aws-us-east-1-ecr-orders", "aws-us-east-1-ecr-payments"):
        assert expected in names, f"{expected} missing from {sorted(names)}"
    assert set(got["t"].images) == set(SERVICES)


def test_every_target_resource_uses_the_target_provider() -> None:
    mon = build_all(prod_config())
    for r in mon.registered:
        if r.type.startswith(("aws:", "gcp:")) and not r.type.startswith("pulumi:providers"):
            if r.name.startswith("global-dns") or r.name.startswith("prod-ecr-replication"):
                expected = "global-aws" if r.name.startswith("global-dns") else "aws-us-east-1-aws"
            else:
                expected = next(
                    f"{t}-{t.split('-')[0]}" for t in
                    ("aws-us-east-1", "aws-eu-west-1", "gcp-europe-west1") if r.name.startswith(t)
                )
            assert f"::{expected}::" in r.provider, f"{r.urn} uses provider {r.provider!r}"


def test_prod_builds_two_eks_one_gke_and_health_checked_records() -> None:
    mon = build_all(prod_config())
    assert len(mon.of_type("aws:eks/cluster:Cluster")) == 2
    assert len(mon.of_type("aws:eks/nodeGroup:NodeGroup")) == 2
    assert len(mon.of_type("gcp:container/cluster:Cluster")) == 1
    assert len(mon.of_type("gcp:container/nodePool:NodePool")) == 1
    records = mon.of_type("aws:route53/record:Record")
    assert {r.inputs["setIdentifier"] for r in records} == {
        "aws-us-east-1", "aws-eu-west-1", "gcp-europe-west1"}
    for r in records:
        assert r.inputs.get("healthCheckId"), f"{r.urn} has no health check"
    regions = {r.inputs["setIdentifier"]: r.inputs["latencyRoutingPolicies"][0]["region"]
               for r in records}
    assert regions["gcp-europe-west1"] == "eu-west-3", regions


def test_stateful_resources_are_protected_in_prod() -> None:
    mon = build_all(prod_config())
    for type_ in ("aws:kms/key:Key", "aws:ecr/repository:Repository", "gcp:kms/cryptoKey:CryptoKey",
                  "gcp:artifactregistry/repository:Repository", "aws:route53/zone:Zone"):
        for r in mon.of_type(type_):
            assert r.protect, f"{r.urn} is not protected in prod"


def test_adding_a_target_only_adds_resources() -> None:
    before = snapshot(build_all(prod_config()))
    after = snapshot(build_all(prod_config([
        {"name": "gcp-us-central1", "cloud": "gcp", "region": "us-central1",
         "project": "slipway-prod", "cluster": {"vpcCidr": "10.40.0.0/16"}}])))
    changed = [u for u in before if u not in after or after[u] != before[u]]
    assert changed == [], f"existing resources changed: {changed}"
    assert len(after) > len(before)


def test_adding_an_aws_target_changes_only_the_replication_configuration() -> None:
    before = snapshot(build_all(prod_config()))
    after = snapshot(build_all(prod_config([
        {"name": "aws-ap-southeast-1", "cloud": "aws", "region": "ap-southeast-1",
         "cluster": {"vpcCidr": "10.50.0.0/16"}}])))
    changed = sorted(u for u in before if u not in after or after[u] != before[u])
    assert [u.rsplit("::", 1)[1] for u in changed] == ["prod-ecr-replication-config"], changed


def test_evacuating_a_target_removes_only_its_dns_records() -> None:
    before = build_all(prod_config())
    after = build_all(prod_config(evacuate="aws-eu-west-1"))
    b, a = snapshot(before), snapshot(after)
    removed = sorted(set(b) - set(a))
    assert [u.rsplit("::", 1)[1] for u in removed] == ["global-dns-orders-aws-eu-west-1"], removed
    assert set(a) <= set(b)
    assert all(a[u] == b[u] for u in a), "a kept resource changed on evacuation"


def test_gcp_target_needs_a_region_with_a_latency_mapping() -> None:
    stack = prod_config([{"name": "gcp-mars", "cloud": "gcp", "region": "mars-north1",
                          "project": "p", "cluster": {"vpcCidr": "10.60.0.0/16"}}])
    install()
    with pytest.raises(BadInput, match="mars-north1"):
        run(lambda: build_cloud_target(stack.targets[-1], stack, SERVICES, None))


def test_existing_target_is_refused() -> None:
    stack = StackConfig.model_validate({"environment": "dev", "targets": [
        {"name": "local", "cloud": "existing", "region": "local", "kubeconfigContext": "kind"}]})
    with pytest.raises(BadInput, match="existing"):
        build_cloud_target(stack.targets[0], stack, SERVICES, None)


def test_gke_ranges_are_disjoint_and_inside_the_target_cidr() -> None:
    import ipaddress

    r = gke_ranges("10.30.0.0/16")
    nets = [ipaddress.IPv4Network(v) for v in r.values()]
    assert all(n.subnet_of(ipaddress.IPv4Network("10.30.0.0/16")) for n in nets), r
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:]), r


def test_no_domain_means_no_global_traffic() -> None:
    stack = StackConfig.model_validate({"environment": "prod", "targets": [
        {"name": "aws-us-east-1", "cloud": "aws", "region": "us-east-1"}]})
    assert build_global_traffic(stack, [], ["orders"], None) is None
