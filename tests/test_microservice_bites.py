"""Microservice behaviours pinned exactly: which options produce which objects and
attributes, what the kit is told (mesh, the API's addresses, the flag mount), the outputs,
the capacity rule and every refusal's whole message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from slipway_components.kit import AutoscalingArgs
from slipway_components.microservice import (
    Microservice,
    MicroserviceArgs,
    as_microservice_args,
    build_rolling,
    capacity_problem,
)
from slipway_components.podspec import content_hash
from slipway_components.strategies import MirrorRouteArgs, StepArgs, StrategyArgs
from tests.conftest import records_of
from tests.test_kit_bites import SERVICE_FIELDS

IMAGE = "ghcr.io/acme/orders:1.2.3"
NEW_IMAGE = "ghcr.io/acme/orders:2.0.0"
PREFIX = "urn:pulumi:test::slipway::slipway:apps:Microservice"


def fields(**overrides: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SERVICE_FIELDS), **overrides}


def margs(**overrides: Any) -> MicroserviceArgs:
    return MicroserviceArgs(**fields(**overrides))


def build(
    a: MicroserviceArgs | Callable[[], MicroserviceArgs], held: list[Microservice] | None = None
) -> dict[str, Any]:
    """Records of one Microservice `orders` (the component's own record left out)."""

    def program() -> None:
        ms = Microservice("orders", a() if callable(a) else a)
        if held is not None:
            held.append(ms)

    recs = records_of(program)
    del recs["orders"]
    return recs


def built(a: MicroserviceArgs) -> Microservice:
    held: list[Microservice] = []
    build(a, held)
    return held[0]


def names(value: Any) -> Any:
    """Pulumi names of a part (or of a dict of parts)."""
    if isinstance(value, dict):
        return {key: part._name for key, part in value.items()}
    return None if value is None else value._name


PARTS = (
    "deployment",
    "canary_deployment",
    "canary_hpa",
    "rollout",
    "analysis_template",
    "pre_rollout_template",
    "service",
    "preview_service",
    "hpa",
    "pdb",
    "peer_authentication",
    "destination_rule",
    "virtual_service",
    "http_route",
    "service_account",
    "config_map",
    "secret",
    "flags_config_map",
    "feature_flag",
    "feature_flag_source",
    "network_policy",
    "slots",
    "slot_hpas",
    "slot_pdbs",
    "track_services",
    "track_config_maps",
)


def parts_of(ms: Microservice) -> dict[str, Any]:
    return {p: names(getattr(ms, p)) for p in PARTS if names(getattr(ms, p)) not in (None, {})}


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[tuple[Any, ...], str]]:
    return [(e["loc"], e["msg"]) for e in exc.value.errors()]


SHARED = {
    "service_account": "orders-sa",
    "config_map": "orders-config",
    "network_policy": "orders-netpol",
    "service": "orders-service",
}
CANARY = {"type": "canary", "canary": {"image": NEW_IMAGE}, "weight": 10}


# -- the capacity rule --------------------------------------------------------------------------


def camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(word.title() for word in rest)


def test_capacity_is_no_problem_for_rolling_argo_or_fixed_replicas() -> None:
    tiny = AutoscalingArgs(min_replicas=1, max_replicas=1)
    assert capacity_problem(StrategyArgs(), tiny) is None
    assert capacity_problem(StrategyArgs(canary={"image": NEW_IMAGE}), tiny) is None
    argo = StrategyArgs(type="blue-green", engine="argo-rollouts", live_replicas=9)
    assert capacity_problem(argo, tiny) is None
    assert capacity_problem(StrategyArgs(type="blue-green", live_replicas=9), None) is None


def test_a_canary_at_weight_100_without_a_live_count_is_a_problem_of_the_weight() -> None:
    st = StrategyArgs(type="canary", canary={"image": NEW_IMAGE}, weight=100)
    wide = AutoscalingArgs(max_replicas=50)
    assert capacity_problem(st, wide) == (
        "weight",
        "strategy.weight 100 sends every request to the canary track, which is sized from the "
        "stable track's live pods: give strategy.live_replicas (slipway canary reads it), or "
        "promote the canary instead (slipway promote)",
    )
    assert capacity_problem(st, wide, camel) == (
        "weight",
        "strategy.weight 100 sends every request to the canary track, which is sized from the "
        "stable track's live pods: give strategy.liveReplicas (slipway canary reads it), or "
        "promote the canary instead (slipway promote)",
    )


def test_a_canary_at_weight_100_with_a_live_count_fits_when_there_is_room() -> None:
    st = StrategyArgs(type="canary", canary={"image": NEW_IMAGE}, weight=100, live_replicas=4)
    assert capacity_problem(st, AutoscalingArgs(max_replicas=5)) is None
    st = StrategyArgs(type="canary", canary={"image": NEW_IMAGE}, weight=99)
    assert capacity_problem(st, AutoscalingArgs(max_replicas=50)) is None


def test_a_held_blue_green_slot_must_stay_below_the_autoscaling_maximum() -> None:
    st = StrategyArgs(type="blue-green", live_replicas=6)
    assert capacity_problem(st, AutoscalingArgs(max_replicas=7)) is None
    assert capacity_problem(st, AutoscalingArgs(max_replicas=6)) == (
        "live_replicas",
        "strategy: live_replicas is 6 pods, not below autoscaling.max_replicas 6: the HPA's "
        "minReplicas is held there and needs room to scale above it; raise max_replicas",
    )
    assert capacity_problem(st, AutoscalingArgs(max_replicas=6), camel) == (
        "live_replicas",
        "strategy: liveReplicas is 6 pods, not below autoscaling.maxReplicas 6: the HPA's "
        "minReplicas is held there and needs room to scale above it; raise maxReplicas",
    )


def test_a_blue_green_slot_is_held_at_least_at_the_autoscaling_minimum() -> None:
    st = StrategyArgs(type="blue-green")
    assert capacity_problem(st, AutoscalingArgs(min_replicas=4, max_replicas=5)) is None
    problem = capacity_problem(st, AutoscalingArgs(min_replicas=4, max_replicas=4))
    assert problem is not None and problem[1].startswith("strategy: live_replicas is 4 pods,")
    st = StrategyArgs(type="blue-green", live_replicas=2)
    problem = capacity_problem(st, AutoscalingArgs(min_replicas=9, max_replicas=9))
    assert problem is not None and problem[1].startswith("strategy: live_replicas is 9 pods,")


def test_a_sized_canary_must_stay_below_the_autoscaling_maximum() -> None:
    st = StrategyArgs(type="canary", canary={"image": NEW_IMAGE}, weight=50, live_replicas=10)
    assert capacity_problem(st, AutoscalingArgs(max_replicas=6)) is None
    assert capacity_problem(st, AutoscalingArgs(max_replicas=5)) == (
        "live_replicas",
        "strategy: the canary's size for weight 50 is 5 pods, not below "
        "autoscaling.max_replicas 5: the HPA's minReplicas is held there and needs room to "
        "scale above it; raise max_replicas",
    )


def test_a_canary_is_sized_from_the_larger_of_live_pods_and_the_autoscaling_minimum() -> None:
    st = StrategyArgs(type="canary", canary={"image": NEW_IMAGE}, weight=100, live_replicas=2)
    problem = capacity_problem(st, AutoscalingArgs(min_replicas=10, max_replicas=10))
    assert problem is not None and "weight 100 is 10 pods" in problem[1]
    st = StrategyArgs(type="canary", canary={"image": NEW_IMAGE}, weight=10, canary_replicas=3)
    problem = capacity_problem(st, AutoscalingArgs(min_replicas=3, max_replicas=3))
    assert problem is not None and "weight 10 is 3 pods" in problem[1]


def test_a_canary_strategy_without_a_canary_track_needs_no_room() -> None:
    st = StrategyArgs(type="canary")
    assert capacity_problem(st, AutoscalingArgs(min_replicas=1, max_replicas=1)) is None


def test_the_args_refuse_a_capacity_problem_with_its_message() -> None:
    with pytest.raises(ValidationError) as exc:
        margs(
            strategy={"type": "blue-green", "live_replicas": 6},
            autoscaling={"max_replicas": 6},
        )
    assert errors_of(exc) == [
        (
            (),
            "Value error, strategy: live_replicas is 6 pods, not below autoscaling.max_replicas "
            "6: the HPA's minReplicas is held there and needs room to scale above it; raise "
            "max_replicas",
        )
    ]


# -- the args' refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "why"),
    [
        ("10.0.0.1/8", "10.0.0.1/8 has host bits set"),
        ("nope", "'nope' does not appear to be an IPv4 or IPv6 network"),
    ],
)
def test_a_kubernetes_api_address_that_is_not_a_cidr_is_refused(cidr: str, why: str) -> None:
    with pytest.raises(ValidationError) as exc:
        margs(kubernetes_api_cidrs=["10.0.0.0/8", cidr])
    assert errors_of(exc) == [
        (
            ("kubernetes_api_cidrs",),
            f"Value error, kubernetes_api_cidrs: {cidr!r} is not a CIDR ({why})",
        )
    ]


def test_flags_on_flagd_without_the_apis_addresses_are_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        margs(flags={"dark-mode": True}, flag_provider="flagd")
    assert errors_of(exc) == [
        (
            ("kubernetes_api_cidrs",),
            "Value error, flags on provider flagd need kubernetes_api_cidrs: the injected flagd "
            "sidecar reads the FeatureFlag from the Kubernetes API, which the NetworkPolicy "
            "otherwise blocks (give the API server's endpoint addresses)",
        )
    ]


def test_the_apis_addresses_are_needed_only_by_flags_on_flagd() -> None:
    assert margs(flags={"x": True}).kubernetes_api_cidrs == []
    assert margs(flag_provider="flagd").kubernetes_api_cidrs == []
    a = margs(flags={"x": True}, flag_provider="flagd", kubernetes_api_cidrs=["10.1.0.0/16"])
    assert a.kubernetes_api_cidrs == ["10.1.0.0/16"]


def test_only_pods_with_flags_on_flagd_read_the_kubernetes_api() -> None:
    cidrs = ["10.1.0.0/16"]
    flagd = margs(flags={"x": True}, flag_provider="flagd", kubernetes_api_cidrs=cidrs)
    assert flagd.reads_kubernetes_api is True
    assert margs(flags={"x": True}, kubernetes_api_cidrs=cidrs).reads_kubernetes_api is False
    assert margs(flag_provider="flagd", kubernetes_api_cidrs=cidrs).reads_kubernetes_api is False


def test_microservice_defaults() -> None:
    a = margs()
    assert a.strategy == StrategyArgs()
    assert (a.traffic.layer, a.flags, a.flag_provider) == ("none", {}, "configmap")


@pytest.mark.parametrize("track", ["blue", "green", "canary"])
def test_a_track_config_key_that_is_also_a_secret_is_refused(track: str) -> None:
    strategy = {track: {"config": {"Z": "1", "DB": "2", "PLAIN": "3"}}}
    with pytest.raises(ValidationError) as exc:
        margs(secrets={"DB": "s", "Z": "t"}, strategy=strategy)
    assert errors_of(exc) == [
        (
            ("strategy",),
            f"Value error, strategy.{track}.config ['DB', 'Z'] are also secrets; pick one",
        )
    ]


def test_track_config_apart_from_the_secrets_is_accepted() -> None:
    a = margs(secrets={"DB": "s"}, strategy={"canary": {"config": {"LOG": "debug"}}})
    assert a.strategy.track("canary").config == {"LOG": "debug"}


def test_a_canary_without_a_traffic_layer_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        margs(strategy=CANARY)
    assert errors_of(exc) == [
        (
            ("traffic",),
            "Value error, strategy canary needs a traffic layer to split requests by weight; "
            "traffic.layer is 'none' (allowed: istio, gateway-api; or use strategy.type "
            "rolling or blue-green)",
        )
    ]


MIRROR_STEPS = (
    StepArgs(set_weight=5),
    StepArgs(set_mirror_route=MirrorRouteArgs(name="shadow")),
)


def test_mirroring_an_argo_canary_without_istio_is_refused_naming_the_layer() -> None:
    strategy = StrategyArgs(type="canary", engine="argo-rollouts", steps=MIRROR_STEPS)
    with pytest.raises(ValidationError) as exc:
        margs(strategy=strategy, traffic={"layer": "gateway-api"})
    assert errors_of(exc) == [
        (
            ("traffic",),
            "Value error, set_mirror_route needs the istio traffic layer (here 'gateway-api'): "
            "the Gateway API plugin pinned for Argo Rollouts does not mirror",
        )
    ]


def test_mirroring_is_accepted_on_istio_and_ignored_outside_an_argo_canary() -> None:
    argo = StrategyArgs(type="canary", engine="argo-rollouts", steps=MIRROR_STEPS)
    assert margs(strategy=argo, traffic={"layer": "istio"}).traffic.layer == "istio"
    plain = StrategyArgs(type="canary", engine="argo-rollouts")
    assert margs(strategy=plain, traffic={"layer": "gateway-api"}).strategy == plain
    native = StrategyArgs(type="canary", steps=MIRROR_STEPS)
    assert margs(strategy=native, traffic={"layer": "gateway-api"}).strategy == native
    bg = StrategyArgs(type="blue-green", engine="argo-rollouts", steps=MIRROR_STEPS)
    assert margs(strategy=bg).strategy == bg


def test_track_config_is_not_checked_against_secrets_that_failed_their_own_check() -> None:
    with pytest.raises(ValidationError) as exc:
        margs(secrets="DB", strategy={"blue": {"config": {"DB": "1"}}})
    assert [loc for loc, _ in errors_of(exc)] == [("secrets",)]


def test_the_traffic_layer_is_not_checked_against_a_strategy_that_failed_its_own_check() -> None:
    with pytest.raises(ValidationError) as exc:
        margs(strategy={"type": "canary", "weight": 500})
    assert [loc for loc, _ in errors_of(exc)] == [("strategy", "weight")]


# -- args as given -------------------------------------------------------------------------------


def test_microservice_args_are_taken_as_given() -> None:
    a = margs()
    assert as_microservice_args(a) is a


def test_a_dict_or_any_mapping_of_fields_is_validated_into_args() -> None:
    assert as_microservice_args(fields()) == margs()
    assert as_microservice_args(MappingProxyType(fields(replicas=3))) == margs(replicas=3)


def test_args_of_another_type_are_refused_naming_the_type() -> None:
    with pytest.raises(TypeError) as exc:
        as_microservice_args([("service_name", "orders")])
    assert str(exc.value) == (
        "Microservice args must be a MicroserviceArgs or a dict of its fields, not builtins.list"
    )
    with pytest.raises(TypeError) as exc:
        as_microservice_args(Fraction(1, 2))
    assert str(exc.value) == (
        "Microservice args must be a MicroserviceArgs or a dict of its fields, "
        "not fractions.Fraction"
    )


# -- what gets built ----------------------------------------------------------------------------


def test_rolling_builds_one_deployment_its_service_pdb_and_no_hpa() -> None:
    ms = built(margs())
    assert parts_of(ms) == {
        **SHARED,
        "deployment": "orders-deployment",
        "pdb": "orders-pdb",
    }
    assert (ms.slots, ms.slot_hpas, ms.slot_pdbs) == ({}, {}, {})
    assert (ms.track_services, ms.track_config_maps) == ({}, {})


def test_the_component_takes_its_resource_options() -> None:
    def program() -> None:
        Microservice("orders", margs(), pulumi.ResourceOptions(protect=True))

    assert records_of(program)["orders"].protect is True


def test_rolling_with_autoscaling_adds_the_hpa_on_the_deployment() -> None:
    held: list[Microservice] = []
    recs = build(margs(autoscaling={}), held)
    assert parts_of(held[0]) == {
        **SHARED,
        "deployment": "orders-deployment",
        "pdb": "orders-pdb",
        "hpa": "orders-hpa",
    }
    assert recs["orders-hpa"].inputs["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "orders",
    }


def test_the_rolling_parts_are_named_after_the_service_and_select_its_pods() -> None:
    held: list[Any] = []

    def program() -> None:
        owner = pulumi.ComponentResource("test:kit:Owner", "shop-orders")
        from slipway_components.kit import WorkloadKit

        held.append(build_rolling(WorkloadKit(owner, "shop-orders", margs(autoscaling={}))))

    recs = records_of(program)
    (parts,) = held
    assert (names(parts.deployment), names(parts.service)) == (
        "shop-orders-deployment",
        "shop-orders-service",
    )
    assert (names(parts.pdb), names(parts.hpa)) == ("shop-orders-pdb", "shop-orders-hpa")
    selector = {"app.kubernetes.io/name": "orders"}
    for name in ("deployment", "service", "pdb", "hpa"):
        assert recs[f"shop-orders-{name}"].inputs["metadata"]["name"] == "orders"
    assert recs["shop-orders-service"].inputs["spec"]["selector"] == selector
    assert recs["shop-orders-pdb"].inputs["spec"]["selector"] == {"matchLabels": selector}
    assert recs["shop-orders-deployment"].inputs["spec"]["selector"] == {"matchLabels": selector}
    assert recs["shop-orders-hpa"].inputs["spec"]["scaleTargetRef"]["kind"] == "Deployment"


def test_secrets_add_the_secret_object() -> None:
    ms = built(margs(secrets={"DB": "s"}))
    assert parts_of(ms)["secret"] == "orders-secrets"


def test_blue_green_builds_two_slots_a_preview_service_and_a_pdb_per_slot() -> None:
    ms = built(margs(strategy={"type": "blue-green"}))
    assert parts_of(ms) == {
        **SHARED,
        "preview_service": "orders-preview",
        "slots": {"blue": "orders-blue", "green": "orders-green"},
        "slot_pdbs": {"blue": "orders-pdb-blue", "green": "orders-pdb-green"},
    }


def test_a_canary_on_istio_builds_both_tracks_and_its_own_weighted_mesh_objects() -> None:
    held: list[Microservice] = []
    recs = build(margs(strategy=CANARY, traffic={"layer": "istio"}), held)
    assert parts_of(held[0]) == {
        **SHARED,
        "deployment": "orders-stable",
        "canary_deployment": "orders-canary",
        "pdb": "orders-pdb",
        "peer_authentication": "orders-peerauth",
        "destination_rule": "orders-destrule",
        "virtual_service": "orders-vs",
    }
    subsets = recs["orders-destrule"].inputs["spec"]["subsets"]
    assert [s["name"] for s in subsets] == ["stable", "canary"]


def test_a_canary_on_the_gateway_api_builds_track_services_and_a_route() -> None:
    ms = built(margs(strategy=CANARY, traffic={"layer": "gateway-api"}))
    assert parts_of(ms) == {
        **SHARED,
        "deployment": "orders-stable",
        "canary_deployment": "orders-canary",
        "pdb": "orders-pdb",
        "http_route": "orders-route",
        "track_services": {"stable": "orders-service-stable", "canary": "orders-service-canary"},
    }


def test_argo_rollouts_builds_a_rollout_and_its_analysis() -> None:
    ms = built(margs(strategy={"type": "blue-green", "engine": "argo-rollouts"}))
    assert parts_of(ms) == {
        **SHARED,
        "rollout": "orders-rollout",
        "analysis_template": "orders-analysis",
        "preview_service": "orders-preview",
        "pdb": "orders-pdb",
    }


def test_an_argo_canary_on_istio_takes_the_rollouts_mesh_objects() -> None:
    ms = built(
        margs(strategy={"type": "canary", "engine": "argo-rollouts"}, traffic={"layer": "istio"})
    )
    assert parts_of(ms) == {
        **SHARED,
        "rollout": "orders-rollout",
        "analysis_template": "orders-analysis",
        "pdb": "orders-pdb",
        "peer_authentication": "orders-peerauth",
        "destination_rule": "orders-destrule",
        "virtual_service": "orders-vs",
    }


def test_the_istio_layer_adds_mesh_objects_without_subsets_to_a_rolling_service() -> None:
    held: list[Microservice] = []
    recs = build(margs(traffic={"layer": "istio"}), held)
    assert parts_of(held[0]) == {
        **SHARED,
        "deployment": "orders-deployment",
        "pdb": "orders-pdb",
        "peer_authentication": "orders-peerauth",
        "destination_rule": "orders-destrule",
        "virtual_service": "orders-vs",
    }
    assert "subsets" not in recs["orders-destrule"].inputs["spec"]
    (route,) = recs["orders-vs"].inputs["spec"]["http"]
    assert [d["destination"] for d in route["route"]] == [
        {"host": "orders.commerce.svc.cluster.local", "port": {"number": 8080}}
    ]


def test_the_gateway_api_layer_adds_nothing_to_a_rolling_service() -> None:
    ms = built(margs(traffic={"layer": "gateway-api"}))
    assert parts_of(ms) == {**SHARED, "deployment": "orders-deployment", "pdb": "orders-pdb"}


def test_configmap_flags_add_the_flag_file_and_mount_it() -> None:
    held: list[Microservice] = []
    recs = build(margs(flags={"dark-mode": True}), held)
    assert parts_of(held[0])["flags_config_map"] == "orders-flags"
    spec = recs["orders-deployment"].inputs["spec"]["template"]["spec"]
    assert {"name": "flags", "configMap": {"name": "orders-flags"}} in spec["volumes"]
    assert spec["automountServiceAccountToken"] is False
    assert "annotations" not in recs["orders-deployment"].inputs["spec"]["template"]["metadata"]


def test_flags_on_flagd_annotate_the_pods_mount_the_token_and_reach_the_api() -> None:
    held: list[Microservice] = []
    recs = build(
        margs(flags={"x": True}, flag_provider="flagd", kubernetes_api_cidrs=["10.9.0.0/16"]),
        held,
    )
    parts = parts_of(held[0])
    assert (parts["feature_flag"], parts["feature_flag_source"]) == (
        "orders-flags",
        "orders-flagsource",
    )
    template = recs["orders-deployment"].inputs["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "openfeature.dev/enabled": "true",
        "openfeature.dev/featureflagsource": "orders-flags",
    }
    assert template["spec"]["automountServiceAccountToken"] is True
    egress = recs["orders-netpol"].inputs["spec"]["egress"]
    assert egress[-1] == {
        "to": [{"ipBlock": {"cidr": "10.9.0.0/16"}}],
        "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
    }


def test_api_addresses_without_flags_on_flagd_open_nothing() -> None:
    recs = build(margs(flags={"x": True}, kubernetes_api_cidrs=["10.9.0.0/16"]))
    assert len(recs["orders-netpol"].inputs["spec"]["egress"]) == 1
    spec = recs["orders-deployment"].inputs["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False


def test_the_network_policy_follows_the_mesh_of_the_traffic_layer() -> None:
    sidecar = build(margs(traffic={"layer": "istio"}))["orders-netpol"].inputs["spec"]
    assert sidecar["egress"][-1]["ports"] == [{"port": 15012, "protocol": "TCP"}]
    assert sidecar["ingress"] == []
    ambient = build(margs(traffic={"layer": "istio", "mesh": "ambient"}))["orders-netpol"]
    assert ambient.inputs["spec"]["ingress"] == [
        {
            "from": [{"ipBlock": {"cidr": "169.254.7.127/32"}}],
            "ports": [{"port": "http", "protocol": "TCP"}, {"port": 15008, "protocol": "TCP"}],
        }
    ]


def test_every_child_is_parented_to_the_microservice() -> None:
    recs = build(margs(strategy={"type": "blue-green"}, autoscaling={}))
    assert {r.parent for r in recs.values()} == {f"{PREFIX}::orders"}


# -- outputs -------------------------------------------------------------------------------------


def test_the_outputs_name_the_service_its_namespace_config_map_and_first_ports_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[list[str]] = []

    def export(self: pulumi.ComponentResource, outputs: dict[str, Any]) -> None:
        registered.append(list(outputs))
        for key, value in outputs.items():
            pulumi.export(key, value)

    monkeypatch.setattr(Microservice, "register_outputs", export)
    ports = [{"name": "http", "port": 8080}, {"name": "admin", "port": 9090}]

    def program() -> None:
        ns = pulumi.Output.from_input("commerce-eu")
        Microservice("orders", margs(namespace=ns, ports=ports, config={"A": "1"}))

    from slipway.engine import run_program

    result = run_program(program, project="slipway", stack="test", config={}, secret_keys=[])
    assert registered == [["service_name", "namespace", "config_map_name", "url"]]
    assert result.outputs == {
        "service_name": "orders",
        "namespace": "commerce-eu",
        "config_map_name": f"orders-config-{content_hash({'A': '1'})}",
        "url": "http://orders.commerce-eu.svc.cluster.local:8080",
    }


def test_the_args_are_kept_on_the_component() -> None:
    a = margs()
    held: list[Microservice] = []
    build(a, held)
    assert held[0].args is a
