"""Argo Rollouts owns the canary weights: what Pulumi registers for the routes it steers.

Under server-side apply an `ignore_changes` path holds only where the provider can leave the
field out of what it applies: a path of plain field names (pulumi-kubernetes splits it on
"."), reaching the unit the API server tracks ownership by. For a weight that unit is the
atomic list around it (`spec.http`, `spec.rules`, `spec.subsets`), as the CRD schemas in
tests/schemas/crds say. These tests derive that unit from the schemas and check the options
registered under the mock runtime against it (see `traffic.ARGO_OWNED` for the sources).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slipway import engine
from slipway_components.strategies import StrategyArgs
from slipway_components.traffic import TrafficArgs
from tests.strategy_fixtures import canary, istio, make_args, run

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "crds"
ARGO_CANARY = StrategyArgs(type="canary", engine="argo-rollouts")
GATEWAY_API = TrafficArgs(layer="gateway-api")

# Where Argo Rollouts writes in each object: the destination weights (Istio route, Gateway
# API backendRefs) and the subsets' labels. `[]` stands for every item of a list.
ARGO_WRITES = {
    ("networking.istio.io", "VirtualService"): "spec.http[].route[].weight",
    ("networking.istio.io", "DestinationRule"): "spec.subsets[].labels",
    ("gateway.networking.k8s.io", "HTTPRoute"): "spec.rules[].backendRefs[].weight",
}


@pytest.fixture
def options(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[str, Any]]]:
    """Resource name -> the options it was registered with (the recording monitor keeps
    inputs only)."""
    seen: dict[str, dict[str, Any]] = {}
    make = engine._make_monitor_class

    def spying() -> type:
        base = make()

        class Spy(base):  # type: ignore[misc, valid-type]
            def RegisterResource(self, request: Any) -> Any:
                seen[request.name] = {
                    "ignore_changes": list(request.ignoreChanges),
                    "replace_on_changes": list(request.replaceOnChanges),
                }
                return super().RegisterResource(request)

        return Spy

    monkeypatch.setattr(engine, "_make_monitor_class", spying)
    yield seen


def _schema(api_version: str, kind: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    return json.loads((SCHEMAS / group / f"{kind}-{version}.json").read_text())


def ownership_unit(schema: dict[str, Any], path: str) -> str:
    """The field server-side apply tracks ownership of for `path`: the path up to the first
    atomic list on the way (a CRD list without `x-kubernetes-list-type` is atomic)."""
    node = schema
    walked: list[str] = []
    for part in path.split("."):
        name = part.removesuffix("[]")
        node = node["properties"][name]
        walked.append(name)
        if part.endswith("[]"):
            assert node["type"] == "array", f"{'.'.join(walked)} is not a list"
            if node.get("x-kubernetes-list-type", "atomic") == "atomic":
                return ".".join(walked)
            node = node["items"]
    return ".".join(walked)


def _argo_objects(records: dict[str, Any]) -> dict[str, Any]:
    """Resource name -> record, for the objects Argo Rollouts writes to."""
    out = {}
    for name, r in records.items():
        api_version, kind = r.inputs.get("apiVersion", ""), r.inputs.get("kind")
        if (api_version.split("/")[0], kind) in ARGO_WRITES:
            out[name] = r
    return out


@pytest.mark.parametrize(
    ("group", "kind", "unit"),
    [
        ("networking.istio.io", "VirtualService", "spec.http"),
        ("networking.istio.io", "DestinationRule", "spec.subsets"),
        ("gateway.networking.k8s.io", "HTTPRoute", "spec.rules"),
    ],
)
def test_a_weight_is_owned_with_its_whole_atomic_list(group: str, kind: str, unit: str) -> None:
    # The premise of the guard, read off the pinned CRDs: no weight is a field of its own.
    schema = _schema(f"{group}/v1", kind)
    assert ownership_unit(schema, ARGO_WRITES[(group, kind)]) == unit


@pytest.mark.parametrize("traffic", [istio(), GATEWAY_API], ids=["istio", "gateway-api"])
def test_argo_steered_objects_ignore_the_unit_argo_writes(
    options: dict[str, dict[str, Any]], traffic: TrafficArgs
) -> None:
    records = run(make_args(strategy=ARGO_CANARY, traffic=traffic))
    steered = _argo_objects(records)
    assert steered, "no object for Argo Rollouts to steer"
    for name, r in steered.items():
        kind = r.inputs["kind"]
        writes = ARGO_WRITES[(r.inputs["apiVersion"].split("/")[0], kind)]
        unit = ownership_unit(_schema(r.inputs["apiVersion"], kind), writes)
        ignored = options[name]["ignore_changes"]
        assert ignored == [unit], f"{kind} {name} ignores {ignored}, Argo owns {unit}"


@pytest.mark.parametrize("traffic", [istio(), GATEWAY_API], ids=["istio", "gateway-api"])
def test_ignore_paths_are_plain_field_names(
    options: dict[str, dict[str, Any]], traffic: TrafficArgs
) -> None:
    # The provider splits an ignore path on "."; `http[0]` would never match the managed
    # fields, and the declared weights would be applied over Argo's.
    run(make_args(strategy=ARGO_CANARY, traffic=traffic))
    paths = [p for o in options.values() for p in o["ignore_changes"]]
    assert paths
    assert all("[" not in p and '"' not in p for p in paths), paths


def test_istio_names_the_exact_paths(options: dict[str, dict[str, Any]]) -> None:
    run(make_args(strategy=ARGO_CANARY, traffic=istio()))
    assert options["shop-vs"]["ignore_changes"] == ["spec.http"]
    assert options["shop-destrule"]["ignore_changes"] == ["spec.subsets"]
    assert options["shop-peerauth"]["ignore_changes"] == []


def test_gateway_api_names_the_exact_path(options: dict[str, dict[str, Any]]) -> None:
    run(make_args(strategy=ARGO_CANARY, traffic=GATEWAY_API))
    assert options["shop-route"]["ignore_changes"] == ["spec.rules"]


@pytest.mark.parametrize("traffic", [istio(), GATEWAY_API], ids=["istio", "gateway-api"])
def test_argo_routes_are_created_with_everything_on_stable(traffic: TrafficArgs) -> None:
    records = run(make_args(strategy=ARGO_CANARY, traffic=traffic))
    inputs = {r.inputs["kind"]: r.inputs for r in _argo_objects(records).values()}
    if traffic.layer == "istio":
        route = inputs["VirtualService"]["spec"]["http"][0]["route"]
        assert [(d["destination"]["subset"], d["weight"]) for d in route] == [
            ("stable", 100),
            ("canary", 0),
        ]
        assert [s["name"] for s in inputs["DestinationRule"]["spec"]["subsets"]] == [
            "stable",
            "canary",
        ]
    else:
        refs = inputs["HTTPRoute"]["spec"]["rules"][0]["backendRefs"]
        assert [(b["name"], b["weight"]) for b in refs] == [
            ("shop-stable", 100),
            ("shop-canary", 0),
        ]


@pytest.mark.parametrize("traffic", [istio(), GATEWAY_API], ids=["istio", "gateway-api"])
def test_argo_routes_never_force_conflicts(traffic: TrafficArgs) -> None:
    # `pulumi.com/patchForce` makes the provider force the apply: Argo's weights overwritten.
    records = run(make_args(strategy=ARGO_CANARY, traffic=traffic))
    for r in _argo_objects(records).values():
        annotations = r.inputs["metadata"].get("annotations", {})
        assert "pulumi.com/patchForce" not in annotations
        assert annotations.get("pulumi.com/skipAwait") == "true"


@pytest.mark.parametrize("traffic", [istio(), GATEWAY_API], ids=["istio", "gateway-api"])
def test_native_canary_keeps_its_weights_managed(
    options: dict[str, dict[str, Any]], traffic: TrafficArgs
) -> None:
    # Without Argo, Pulumi is the only writer: `slipway canary --weight` must reach the route.
    records = run(make_args(strategy=canary(weight=25), traffic=traffic))
    steered = _argo_objects(records)
    assert steered
    for name in steered:
        assert options[name]["ignore_changes"] == [], name
