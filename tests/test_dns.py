"""GlobalTraffic: records per service over every target, health checks, evacuation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slipway_components.dns import DnsEndpoint, GlobalTraffic, GlobalTrafficArgs, HealthCheckArgs
from tests.cloud_mocks import RecordingMonitor, install, run

TAGS = {"team": "platform", "cost-center": "platform"}


@pytest.fixture
def mon() -> RecordingMonitor:
    return install()


def endpoints(evacuated: str | None = None) -> list[DnsEndpoint]:
    return [
        DnsEndpoint(
            target="aws-us-east-1",
            addresses=["203.0.113.1", "203.0.113.2"],
            latency_region="us-east-1",
            evacuated=evacuated == "aws-us-east-1",
        ),
        DnsEndpoint(
            target="gcp-europe-west1",
            addresses=["203.0.113.9"],
            latency_region="eu-west-3",
            weight=50,
            evacuated=evacuated == "gcp-europe-west1",
        ),
    ]


def build(mon: RecordingMonitor, **kw: object) -> None:
    kw.setdefault("endpoints", endpoints())
    args = GlobalTrafficArgs(
        domain="shop.example.com", services=["orders", "cart"], tags=TAGS, **kw
    )
    run(lambda: GlobalTraffic("global-dns", args))


def test_a_latency_record_per_service_and_target_with_health_check(mon: RecordingMonitor) -> None:
    build(mon)
    records = mon.of_type("aws:route53/record:Record")
    got = {(r.inputs["name"], r.inputs["setIdentifier"]) for r in records}
    assert got == {
        (f"{s}.shop.example.com", t)
        for s in ("orders", "cart")
        for t in ("aws-us-east-1", "gcp-europe-west1")
    }
    for r in records:
        assert r.inputs["healthCheckId"] == f"global-dns-{r.inputs['setIdentifier']}-health-id"
        assert r.inputs["latencyRoutingPolicies"], r.urn
        assert r.inputs["type"] == "A" and r.inputs["ttl"] == 60, r.urn


def test_one_health_check_per_target_endpoint(mon: RecordingMonitor) -> None:
    build(mon)
    checks = mon.of_type("aws:route53/healthCheck:HealthCheck")
    assert {c.inputs["ipAddress"] for c in checks} == {"203.0.113.1", "203.0.113.9"}
    assert all(c.inputs["type"] == "TCP" and c.inputs["port"] == 443 for c in checks)


def test_https_health_check_carries_path_and_host(mon: RecordingMonitor) -> None:
    build(mon, health_check=HealthCheckArgs(type="HTTPS", host="orders.shop.example.com"))
    c = mon.of_type("aws:route53/healthCheck:HealthCheck")[0]
    assert c.inputs["resourcePath"] == "/healthz", c.urn
    assert c.inputs["fqdn"] == "orders.shop.example.com", c.urn


def test_zone_created_and_protected_in_prod(mon: RecordingMonitor) -> None:
    build(mon, protect=True)
    zone = mon.one("aws:route53/zone:Zone")
    assert zone.inputs["name"] == "shop.example.com" and zone.protect, zone.urn


def test_existing_zone_is_used_by_id(mon: RecordingMonitor) -> None:
    build(mon, zone_id="Z123EXISTING")
    assert mon.of_type("aws:route53/zone:Zone") == []
    assert {r.inputs["zoneId"] for r in mon.of_type("aws:route53/record:Record")} == {
        "Z123EXISTING"
    }


def test_evacuated_target_loses_its_records_but_keeps_its_health_check(
    mon: RecordingMonitor,
) -> None:
    build(mon, endpoints=endpoints(evacuated="gcp-europe-west1"))
    targets = {r.inputs["setIdentifier"] for r in mon.of_type("aws:route53/record:Record")}
    assert targets == {"aws-us-east-1"}
    assert len(mon.of_type("aws:route53/healthCheck:HealthCheck")) == 2


def test_weighted_routing_uses_target_weights(mon: RecordingMonitor) -> None:
    build(mon, routing="weighted")
    weights = {
        r.inputs["setIdentifier"]: r.inputs["weightedRoutingPolicies"][0]["weight"]
        for r in mon.of_type("aws:route53/record:Record")
    }
    assert weights == {"aws-us-east-1": 100, "gcp-europe-west1": 50}


def test_failover_routing_has_one_primary_and_one_secondary(mon: RecordingMonitor) -> None:
    build(mon, routing="failover")
    roles = sorted(
        r.inputs["failoverRoutingPolicies"][0]["type"]
        for r in mon.of_type("aws:route53/record:Record")
        if r.inputs["name"].startswith("orders.")
    )
    assert roles == ["PRIMARY", "SECONDARY"]


def test_evacuating_every_target_is_refused() -> None:
    with pytest.raises(ValidationError, match="keep at least one"):
        GlobalTrafficArgs(
            domain="d.example.com",
            services=["a"],
            tags=TAGS,
            endpoints=[
                DnsEndpoint(
                    target="a",
                    addresses=["203.0.113.1"],
                    latency_region="us-east-1",
                    evacuated=True,
                )
            ],
        )


def test_repeated_target_is_refused() -> None:
    ep = DnsEndpoint(target="a", addresses=["203.0.113.1"], latency_region="us-east-1")
    with pytest.raises(ValidationError, match="repeat targets"):
        GlobalTrafficArgs(domain="d.example.com", services=["a"], tags=TAGS, endpoints=[ep, ep])
