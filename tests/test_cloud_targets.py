"""build_cloud_target / build_global_traffic: one target, the globe, isolation between targets."""

from __future__ import annotations

import pytest

from slipway.errors import BadInput
from slipway_components.exposure import PublicRoute
from slipway_components.external_secrets import RemoteSecret
from stacks.cloud import (
    CloudTarget,
    build_cloud_target,
    build_exposure,
    build_external_secret,
    build_global_traffic,
    build_registry_replication,
    build_secret_store,
    gke_ranges,
)
from stacks.config import StackConfig
from tests.cloud_mocks import RecordingMonitor, install, run

SERVICES = ["orders", "payments"]


def prod_config(
    extra_targets: list[dict] | None = None, evacuate: str | None = None
) -> StackConfig:
    targets = [
        {
            "name": "aws-us-east-1",
            "cloud": "aws",
            "region": "us-east-1",
            "cluster": {"vpcCidr": "10.10.0.0/16"},
        },
        {
            "name": "aws-eu-west-1",
            "cloud": "aws",
            "region": "eu-west-1",
            "cluster": {"vpcCidr": "10.20.0.0/16"},
        },
        {
            "name": "gcp-europe-west1",
            "cloud": "gcp",
            "region": "europe-west1",
            "project": "slipway-prod",
            "cluster": {"vpcCidr": "10.30.0.0/16"},
        },
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
    for expected in (
        "aws-us-east-1-aws",
        "aws-us-east-1-cluster",
        "aws-us-east-1-nodes",
        "aws-us-east-1-k8s",
        "aws-us-east-1-ecr-orders",
        "aws-us-east-1-ecr-payments",
    ):
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
                    f"{t}-{t.split('-')[0]}"
                    for t in ("aws-us-east-1", "aws-eu-west-1", "gcp-europe-west1")
                    if r.name.startswith(t)
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
        "aws-us-east-1",
        "aws-eu-west-1",
        "gcp-europe-west1",
    }
    for r in records:
        assert r.inputs.get("healthCheckId"), f"{r.urn} has no health check"
    regions = {
        r.inputs["setIdentifier"]: r.inputs["latencyRoutingPolicies"][0]["region"] for r in records
    }
    assert regions["gcp-europe-west1"] == "eu-west-3", regions


def test_stateful_resources_are_protected_in_prod() -> None:
    mon = build_all(prod_config())
    for type_ in (
        "aws:kms/key:Key",
        "aws:ecr/repository:Repository",
        "gcp:kms/cryptoKey:CryptoKey",
        "gcp:artifactregistry/repository:Repository",
        "aws:route53/zone:Zone",
    ):
        for r in mon.of_type(type_):
            assert r.protect, f"{r.urn} is not protected in prod"


def test_adding_a_target_only_adds_resources() -> None:
    before = snapshot(build_all(prod_config()))
    after = snapshot(
        build_all(
            prod_config(
                [
                    {
                        "name": "gcp-us-central1",
                        "cloud": "gcp",
                        "region": "us-central1",
                        "project": "slipway-prod",
                        "cluster": {"vpcCidr": "10.40.0.0/16"},
                    }
                ]
            )
        )
    )
    changed = [u for u in before if u not in after or after[u] != before[u]]
    assert changed == [], f"existing resources changed: {changed}"
    assert len(after) > len(before)


def test_adding_an_aws_target_changes_only_the_replication_configuration() -> None:
    before = snapshot(build_all(prod_config()))
    after = snapshot(
        build_all(
            prod_config(
                [
                    {
                        "name": "aws-ap-southeast-1",
                        "cloud": "aws",
                        "region": "ap-southeast-1",
                        "cluster": {"vpcCidr": "10.50.0.0/16"},
                    }
                ]
            )
        )
    )
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
    stack = prod_config(
        [
            {
                "name": "gcp-mars",
                "cloud": "gcp",
                "region": "mars-north1",
                "project": "p",
                "cluster": {"vpcCidr": "10.60.0.0/16"},
            }
        ]
    )
    install()
    with pytest.raises(BadInput, match="mars-north1"):
        run(lambda: build_cloud_target(stack.targets[-1], stack, SERVICES, None))


def test_existing_target_is_refused() -> None:
    stack = StackConfig.model_validate(
        {
            "environment": "dev",
            "targets": [
                {
                    "name": "local",
                    "cloud": "existing",
                    "region": "local",
                    "kubeconfigContext": "kind",
                }
            ],
        }
    )
    with pytest.raises(BadInput, match="existing"):
        build_cloud_target(stack.targets[0], stack, SERVICES, None)


def test_gke_ranges_are_disjoint_and_inside_the_target_cidr() -> None:
    import ipaddress

    r = gke_ranges("10.30.0.0/16")
    nets = [ipaddress.IPv4Network(v) for v in r.values()]
    assert all(n.subnet_of(ipaddress.IPv4Network("10.30.0.0/16")) for n in nets), r
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :]), r


def test_no_domain_means_no_global_traffic() -> None:
    stack = StackConfig.model_validate(
        {
            "environment": "prod",
            "targets": [{"name": "aws-us-east-1", "cloud": "aws", "region": "us-east-1"}],
        }
    )
    assert build_global_traffic(stack, [], ["orders"], None) is None


ROUTE = PublicRoute(service="orders", namespace="shop", hostname="orders.shop.example.com")


def build_target_with_extras(stack: StackConfig, index: int) -> RecordingMonitor:
    mon = install()

    def program() -> None:
        ct = build_cloud_target(stack.targets[index], stack, SERVICES, None)
        build_exposure(ct, stack, [ROUTE], None)
        store = build_secret_store(ct, stack, "shop", None)
        assert build_secret_store(ct, stack, "shop", None) is store
        build_external_secret(
            ct,
            stack,
            store,
            "payments",
            [RemoteSecret(key="DB", remote_name="prod/payments/db")],
            None,
        )

    run(program)
    return mon


def test_aws_entry_point_uses_the_reserved_elastic_ips() -> None:
    mon = build_target_with_extras(prod_config(), 0)
    gw = mon.one("kubernetes:gateway.networking.k8s.io/v1:Gateway")
    ann = gw.inputs["spec"]["infrastructure"]["annotations"]
    eips = ann["service.beta.kubernetes.io/aws-load-balancer-eip-allocations"].split(",")
    assert len(eips) == 3 and all(e.startswith("eipalloc-") for e in eips), gw.urn
    assert gw.inputs["spec"]["gatewayClassName"] == "eg", gw.urn
    assert gw.provider.split("::")[-2] == "aws-us-east-1-k8s", gw.urn


def test_gcp_entry_point_uses_the_reserved_static_address() -> None:
    mon = build_target_with_extras(prod_config(), 2)
    gw = mon.one("kubernetes:gateway.networking.k8s.io/v1:Gateway")
    assert gw.inputs["spec"]["addresses"] == [
        {"type": "NamedAddress", "value": "prod-gcp-europe-west1-ingress"}
    ], gw.urn
    assert gw.inputs["spec"]["gatewayClassName"] == "gke-l7-regional-external-managed"


def test_dns_records_point_at_the_entry_point_addresses() -> None:
    mon = build_all(prod_config())
    eips = {r.name: r for r in mon.of_type("aws:ec2/eip:Eip")}
    record = mon.one("aws:route53/record:Record", "global-dns-orders-aws-us-east-1")
    assert len(record.inputs["records"]) == 3, record.urn
    assert len([n for n in eips if n.startswith("aws-us-east-1-ingress")]) == 3
    gcp = mon.one("aws:route53/record:Record", "global-dns-orders-gcp-europe-west1")
    address = mon.one("gcp:compute/address:Address")
    assert address.name == "gcp-europe-west1-ingress-address"
    assert gcp.inputs["records"][0].startswith("203.0.113."), gcp.urn


def test_secret_store_per_namespace_with_target_providers() -> None:
    mon = build_target_with_extras(prod_config(), 1)
    store = mon.one("kubernetes:external-secrets.io/v1:SecretStore")
    assert store.inputs["spec"]["provider"]["aws"]["region"] == "eu-west-1", store.urn
    assert store.provider.split("::")[-2] == "aws-eu-west-1-k8s", store.urn
    role = mon.one("aws:iam/role:Role", "aws-eu-west-1-shop-secrets-role")
    assert role.provider.split("::")[-2] == "aws-eu-west-1-aws", role.urn


def test_replication_from_the_first_aws_region_to_the_others() -> None:
    mon = build_all(prod_config())
    cfg = mon.one("aws:ecr/replicationConfiguration:ReplicationConfiguration")
    dests = cfg.inputs["replicationConfiguration"]["rules"][0]["destinations"]
    assert [d["region"] for d in dests] == ["eu-west-1"], cfg.urn
    assert cfg.inputs["region"] == "us-east-1", cfg.urn


def test_exposure_without_a_domain_is_bad_input() -> None:
    stack = StackConfig.model_validate(
        {
            "environment": "prod",
            "targets": [{"name": "aws-us-east-1", "cloud": "aws", "region": "us-east-1"}],
        }
    )
    install()
    with pytest.raises(BadInput, match=r"dns\.domain"):
        run(
            lambda: build_exposure(
                build_cloud_target(stack.targets[0], stack, SERVICES, None), stack, [ROUTE], None
            )
        )


def test_prod_cloud_resources_pass_every_rule_of_the_policy_pack() -> None:
    """The pack judges resources as the engine hands them over; nothing may be reported."""
    import json
    from pathlib import Path

    from pulumi_policy import (
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )
    from pulumi_policy.policy import (
        PolicyCustomTimeouts,
        PolicyProviderResource,
        PolicyResource,
        PolicyResourceOptions,
    )

    import policies

    stack = prod_config()
    mon = install()

    def program() -> None:
        built = []
        for t in stack.targets:
            ct = build_cloud_target(t, stack, SERVICES, None)
            build_exposure(ct, stack, [ROUTE], None)
            store = build_secret_store(ct, stack, "shop", None)
            build_external_secret(
                ct,
                stack,
                store,
                "payments",
                [RemoteSecret(key="DB", remote_name="prod/payments/db")],
                None,
            )
            built.append(ct)
        build_registry_replication(stack, built)
        build_global_traffic(stack, built, ["orders"], None)

    run(program)
    config = json.loads(
        (Path(__file__).parent.parent / "policies" / "config" / "prod.json").read_text()
    )
    by_urn = {r.urn: r for r in mon.registered}

    def provider(r):  # type: ignore[no-untyped-def]
        p = by_urn.get(r.provider.rsplit("::", 1)[0]) if r.provider else None
        return PolicyProviderResource(p.type, p.inputs, p.urn, p.name) if p else None

    def options(r):  # type: ignore[no-untyped-def]
        return PolicyResourceOptions(r.protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])

    found: list[tuple[str, str, str]] = []
    resources = []
    for pol in policies.all_policies():
        conf = config.get(pol.name, {})
        if isinstance(pol, ResourceValidationPolicy):
            fns = pol.validate if isinstance(pol.validate, list) else [pol.validate]
            for r in mon.registered:
                args = ResourceValidationArgs(
                    r.type, r.inputs, r.urn, r.name, options(r), provider(r), conf
                )
                for fn in fns:
                    fn(args, lambda m, u=None, p=pol.name, urn=r.urn: found.append((p, urn, m)))
        elif isinstance(pol, StackValidationPolicy):
            if not resources:
                resources = [
                    PolicyResource(
                        r.type, r.inputs, r.urn, r.name, options(r), provider(r), None, [], {}
                    )
                    for r in mon.registered
                ]
            pol.validate(
                StackValidationArgs(resources, conf),
                lambda m, u=None, p=pol.name: found.append((p, u or "", m)),
            )
    assert found == [], found


def _aws_target(**fields: object) -> dict:
    return {"name": "aws-us-east-1", "cloud": "aws", "region": "us-east-1", **fields}


def test_aws_providers_are_held_to_the_targets_account() -> None:
    # allowed_account_ids: credentials for another account fail before anything changes.
    base = prod_config().model_dump(by_alias=True, exclude_none=True)
    for t in base["targets"]:
        if t["cloud"] == "aws":
            t["accountId"] = "111122223333"
    mon = build_all(StackConfig.model_validate(base))
    allowed = {
        r.name: r.inputs.get("allowedAccountIds")
        for r in mon.registered
        if r.type == "pulumi:providers:aws"
    }
    # Provider inputs travel as JSON strings.
    assert allowed == {
        "aws-us-east-1-aws": '["111122223333"]',
        "aws-eu-west-1-aws": '["111122223333"]',
        "global-aws": '["111122223333"]',
    }


def test_dns_is_not_held_to_an_account_when_the_targets_use_two() -> None:
    base = prod_config().model_dump(by_alias=True, exclude_none=True)
    accounts = iter(["111122223333", "444455556666"])
    for t in base["targets"]:
        if t["cloud"] == "aws":
            t["accountId"] = next(accounts)
    mon = build_all(StackConfig.model_validate(base))
    (dns,) = [r for r in mon.registered if r.name == "global-aws"]
    assert dns.inputs.get("allowedAccountIds") is None


def test_the_account_comes_from_the_ecr_registry_host() -> None:
    stack = StackConfig.model_validate(
        {
            "environment": "staging",
            "targets": [_aws_target(registry="444455556666.dkr.ecr.us-east-1.amazonaws.com")],
        }
    )
    assert stack.targets[0].aws_account == "444455556666"
    no_registry = StackConfig.model_validate({"environment": "dev", "targets": [_aws_target()]})
    assert no_registry.targets[0].aws_account is None


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            _aws_target(
                accountId="111122223333",
                registry="444455556666.dkr.ecr.us-east-1.amazonaws.com",
            ),
            "is in account 444455556666",
        ),
        (_aws_target(accountId="1234"), "accountId"),
        (
            {
                "name": "gcp-1",
                "cloud": "gcp",
                "region": "europe-west1",
                "project": "p",
                "accountId": "111122223333",
            },
            "accountId is for cloud 'aws' only",
        ),
    ],
)
def test_a_wrong_account_id_is_refused(target: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StackConfig.model_validate({"environment": "prod", "targets": [target]})
