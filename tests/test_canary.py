"""Native canary: stable and canary tracks, split by one weight in the stack's traffic layer."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slipway_components.strategies import StrategyArgs
from slipway_components.traffic import TrafficArgs
from tests.strategy_fixtures import (
    IMAGE,
    NEW_IMAGE,
    by_kind,
    canary,
    changed_paths,
    istio,
    make_args,
    run,
)

GATEWAY = TrafficArgs(layer="gateway-api")


def _weights(records, kind="VirtualService"):
    vs = by_kind(records, kind)["shop" if kind == "VirtualService" else "shop-mesh"].inputs["spec"]
    if kind == "VirtualService":
        return [(r["destination"]["subset"], r["weight"]) for r in vs["http"][0]["route"]]
    return [(b["name"], b["weight"]) for b in vs["rules"][0]["backendRefs"]]


def test_stable_and_canary_tracks_run_their_own_versions():
    deployments = by_kind(run(make_args(strategy=canary(), traffic=istio())), "Deployment")
    assert sorted(deployments) == ["shop-canary", "shop-stable"]
    for track, image in (("stable", IMAGE), ("canary", NEW_IMAGE)):
        spec = deployments[f"shop-{track}"].inputs["spec"]
        assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "shop", "track": track}
        assert spec["template"]["spec"]["containers"][0]["image"] == image


def test_canary_replicas_are_the_floor_of_a_small_weight():
    for weight in (0, 50):
        records = run(make_args(strategy=canary(weight=weight, canary_replicas=3), traffic=istio()))
        assert by_kind(records, "Deployment")["shop-canary"].inputs["spec"]["replicas"] == 3


def test_canary_replicas_grow_with_the_weight():
    strategy = canary(weight=75, live_replicas=4)
    records = run(make_args(strategy=strategy, traffic=istio()))
    assert by_kind(records, "Deployment")["shop-canary"].inputs["spec"]["replicas"] == 3
    hpas = by_kind(records, "HorizontalPodAutoscaler")
    assert hpas["shop-canary"].inputs["spec"]["scaleTargetRef"]["name"] == "shop-canary"
    assert hpas["shop-canary"].inputs["spec"]["minReplicas"] == 3


def test_istio_route_carries_the_weight_on_subsets():
    records = run(make_args(strategy=canary(weight=25), traffic=istio()))
    assert _weights(records) == [("stable", 75), ("canary", 25)]
    subsets = by_kind(records, "DestinationRule")["shop"].inputs["spec"]["subsets"]
    assert {s["name"]: s["labels"]["track"] for s in subsets} == {
        "stable": "stable",
        "canary": "canary",
    }


def test_weight_step_changes_only_route_weights_with_istio():
    before = run(make_args(strategy=canary(weight=0), traffic=istio()))
    after = run(make_args(strategy=canary(weight=25), traffic=istio()))
    assert changed_paths(before, after) == {
        "shop-vs": ["spec.http[0].route[0].weight", "spec.http[0].route[1].weight"]
    }


def test_weight_step_changes_only_backend_weights_with_gateway_api():
    before = run(make_args(strategy=canary(weight=10), traffic=GATEWAY))
    after = run(make_args(strategy=canary(weight=50), traffic=GATEWAY))
    assert changed_paths(before, after) == {
        "shop-route": [
            "spec.rules[0].backendRefs[0].weight",
            "spec.rules[0].backendRefs[1].weight",
        ]
    }


def test_gateway_api_splits_between_track_services():
    records = run(make_args(strategy=canary(weight=10), traffic=GATEWAY))
    assert _weights(records, "HTTPRoute") == [("shop-stable", 90), ("shop-canary", 10)]
    route = by_kind(records, "HTTPRoute")["shop-mesh"].inputs
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [
        {"group": "", "kind": "Service", "name": "shop", "port": 8080}
    ]
    services = by_kind(records, "Service")
    assert services["shop-canary"].inputs["spec"]["selector"]["track"] == "canary"
    assert services["shop-stable"].inputs["spec"]["selector"]["track"] == "stable"
    assert by_kind(records, "VirtualService") == {}


def test_without_a_canary_track_everything_goes_to_stable():
    records = run(make_args(strategy=StrategyArgs(type="canary"), traffic=istio()))
    assert _weights(records) == [("stable", 100)]
    assert sorted(by_kind(records, "Deployment")) == ["shop-stable"]


def test_hpa_scales_the_stable_track():
    records = run(make_args(strategy=canary(), traffic=istio()))
    ref = by_kind(records, "HorizontalPodAutoscaler")["shop"].inputs["spec"]["scaleTargetRef"]
    assert ref["name"] == "shop-stable"
    canary_hpa = by_kind(records, "HorizontalPodAutoscaler")["shop-canary"].inputs["spec"]
    assert canary_hpa["minReplicas"] == 2


def test_canary_without_a_traffic_layer_is_refused():
    with pytest.raises(ValidationError, match=r"needs a traffic layer.*allowed: istio, gateway"):
        make_args(strategy=canary())


def test_weight_without_a_canary_track_is_refused():
    with pytest.raises(ValidationError, match="needs a canary track"):
        StrategyArgs(type="canary", weight=10)


def test_weight_on_a_blue_green_strategy_is_refused():
    with pytest.raises(ValidationError, match="applies to a native canary only"):
        StrategyArgs(type="blue-green", weight=10)


def test_weight_above_100_is_refused():
    with pytest.raises(ValidationError, match="less than or equal to 100"):
        canary(weight=101)
