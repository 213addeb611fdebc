"""Mesh traffic policy with Istio: mTLS STRICT, retries, timeouts, outlier detection, and fault
injection only when declared."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slipway_components.traffic import FaultArgs, RetryArgs, TrafficArgs, _duration
from tests.strategy_fixtures import by_kind, istio, make_args, run

MESH_KINDS = ("PeerAuthentication", "DestinationRule", "VirtualService", "HTTPRoute")


def test_peer_authentication_is_strict_for_the_service_pods():
    pa = by_kind(run(make_args(traffic=istio())), "PeerAuthentication")["shop"].inputs
    assert pa["apiVersion"] == "security.istio.io/v1"
    assert pa["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "shop"}},
        "mtls": {"mode": "STRICT"},
    }


def test_destination_rule_has_mutual_tls_and_outlier_detection():
    dr = by_kind(run(make_args(traffic=istio())), "DestinationRule")["shop"].inputs["spec"]
    assert dr["host"] == "shop.retail.svc.cluster.local"
    assert dr["trafficPolicy"]["tls"] == {"mode": "ISTIO_MUTUAL"}
    assert dr["trafficPolicy"]["outlierDetection"] == {
        "consecutive5xxErrors": 5,
        "interval": "10s",
        "baseEjectionTime": "30s",
        "maxEjectionPercent": 50,
    }
    assert "subsets" not in dr


def test_virtual_service_sets_timeout_and_retries():
    traffic = TrafficArgs(
        layer="istio",
        timeout_seconds=7.5,
        retries=RetryArgs(attempts=3, per_try_timeout_seconds=1, idempotent=True),
    )
    vs = by_kind(run(make_args(traffic=traffic)), "VirtualService")["shop"].inputs["spec"]
    route = vs["http"][0]
    assert vs["hosts"] == ["shop.retail.svc.cluster.local"]
    assert route["timeout"] == "7500ms"
    assert route["retries"]["attempts"] == 3
    assert route["retries"]["perTryTimeout"] == "1s"
    assert route["route"] == [
        {"destination": {"host": "shop.retail.svc.cluster.local", "port": {"number": 8080}}}
    ]


def test_no_fault_injection_unless_declared():
    vs = by_kind(run(make_args(traffic=istio())), "VirtualService")["shop"].inputs["spec"]
    assert "fault" not in vs["http"][0]


def test_declared_fault_is_rendered_for_drills():
    fault = FaultArgs(delay_percent=10, delay_seconds=2, abort_percent=5, abort_http_status=503)
    traffic = TrafficArgs(layer="istio", fault=fault)
    vs = by_kind(run(make_args(traffic=traffic)), "VirtualService")["shop"].inputs["spec"]
    assert vs["http"][0]["fault"] == {
        "delay": {"percentage": {"value": 10}, "fixedDelay": "2s"},
        "abort": {"percentage": {"value": 5}, "httpStatus": 503},
    }


def test_fault_without_istio_is_refused():
    with pytest.raises(ValidationError, match="fault injection needs the istio layer"):
        TrafficArgs(layer="gateway-api", fault=FaultArgs(abort_percent=1))


def test_fault_with_nothing_to_inject_is_refused():
    with pytest.raises(ValidationError, match="delay_percent and/or abort_percent"):
        FaultArgs()


def test_layer_none_creates_no_mesh_objects():
    records = run(make_args())
    for kind in MESH_KINDS:
        assert by_kind(records, kind) == {}, kind


def test_mesh_objects_skip_await_and_are_children_of_the_component():
    records = run(make_args(traffic=istio()))
    for name in ("shop-peerauth", "shop-destrule", "shop-vs"):
        assert records[name].parent == records["shop"].urn
        assert records[name].inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}


def test_rolling_core_objects_are_unchanged_by_the_istio_layer():
    plain = run(make_args())
    meshed = run(make_args(traffic=istio()))
    for name, record in plain.items():
        if record.inputs.get("kind") == "NetworkPolicy":
            # sidecars add one egress rule: to istiod, for their configuration
            before, after = record.inputs["spec"]["egress"], meshed[name].inputs["spec"]["egress"]
            assert after[: len(before)] == before and len(after) == len(before) + 1, name
            continue
        assert meshed[name].inputs == record.inputs, name


@pytest.mark.parametrize(("seconds", "text"), [(15, "15s"), (0.25, "250ms"), (2.0, "2s")])
def test_durations_are_istio_durations(seconds, text):
    assert _duration(seconds) == text
