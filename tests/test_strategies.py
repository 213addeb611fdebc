"""The catalog's `strategy`: validation, translation into component args, the stack's refusals,
and the rolling strategy's pinned child names."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from slipway.errors import BadInput
from stacks.build import microservice_args
from stacks.catalog import Service, Strategy, parse_service
from stacks.config import StackConfig, TargetConfig
from tests.strategy_fixtures import make_args, run, service_doc

DIGEST = "sha256:" + "a" * 64
TARGET = TargetConfig(name="local", cloud="existing", region="local", kubeconfig_context="kind")


def _doc(strategy: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    doc = service_doc(**extra)
    if strategy is not None:
        doc["strategy"] = strategy
    return doc


def _stack(layer: str = "none", environment: str = "dev", flags: str = "configmap") -> StackConfig:
    return StackConfig(
        environment=environment,
        targets=[TARGET],
        traffic={"layer": layer, "flags": flags},
    )


def _args(service: Service, stack: StackConfig):
    return microservice_args(service, stack, TARGET, {service.name: service}, lambda key: key)


# -- the catalog model -----------------------------------------------------------------------


def test_default_strategy_is_rolling_native_with_blue_active():
    st = Strategy()
    assert (st.type, st.engine, st.active_slot, st.weight) == ("rolling", "native", "blue", 0)
    assert st.idle_replicas is None


def test_full_blue_green_declaration_parses():
    st = Strategy.model_validate(
        {
            "type": "blue-green",
            "activeSlot": "green",
            "idleReplicas": 0,
            "slots": {"green": {"version": {"tag": "2.0.0"}, "config": {"A": "b"}}},
        }
    )
    assert st.active_slot == "green"
    assert st.slots["green"].version is not None and st.slots["green"].version.tag == "2.0.0"


def test_unknown_strategy_key_is_refused():
    with pytest.raises(ValidationError, match="extra"):
        Strategy.model_validate({"type": "canary", "wieght": 5})


def test_unknown_slot_is_refused():
    with pytest.raises(ValidationError, match="unknown slot"):
        Strategy.model_validate({"type": "blue-green", "slots": {"red": {}}})


def test_unknown_active_slot_is_refused():
    with pytest.raises(ValidationError, match="'blue' or 'green'"):
        Strategy.model_validate({"type": "blue-green", "activeSlot": "red"})


def test_weight_outside_0_to_100_is_refused():
    with pytest.raises(ValidationError, match="less than or equal to 100"):
        Strategy.model_validate({"type": "canary", "canary": {}, "weight": 120})


def test_weight_on_rolling_is_refused():
    with pytest.raises(ValidationError, match="applies to type canary with engine native"):
        Strategy.model_validate({"weight": 10})


def test_weight_without_canary_track_is_refused():
    with pytest.raises(ValidationError, match=r"declare canary\.version first"):
        Strategy.model_validate({"type": "canary", "weight": 10})


def test_argo_rollouts_with_rolling_is_refused():
    with pytest.raises(ValidationError, match="needs type blue-green or canary"):
        Strategy.model_validate({"engine": "argo-rollouts"})


def test_step_with_weight_and_pause_is_refused():
    with pytest.raises(ValidationError, match="exactly one of setWeight, pause"):
        Strategy.model_validate({"steps": [{"setWeight": 10, "pause": {}}]})


def test_pause_with_a_bad_duration_is_refused():
    with pytest.raises(ValidationError, match="is not a duration"):
        Strategy.model_validate({"steps": [{"pause": {"duration": "5 minutes"}}]})


def test_empty_steps_are_refused():
    with pytest.raises(ValidationError, match="steps is empty"):
        Strategy.model_validate({"type": "canary", "engine": "argo-rollouts", "steps": []})


def test_environment_override_sets_the_strategy_of_that_environment_only():
    doc = _doc(environments={"prod": {"strategy": {"type": "blue-green", "activeSlot": "green"}}})
    assert parse_service(doc, "dev", "x.yaml").strategy.type == "rolling"
    prod = parse_service(doc, "prod", "x.yaml").strategy
    assert (prod.type, prod.active_slot) == ("blue-green", "green")


# -- translation into component args -----------------------------------------------------------


def test_slot_versions_become_slot_images():
    svc = parse_service(
        _doc(
            {
                "type": "blue-green",
                "slots": {"green": {"version": {"tag": "2.0.0", "digest": DIGEST}}},
            }
        ),
        "dev",
        "x.yaml",
    )
    st = _args(svc, _stack()).strategy
    assert st.green.image == f"ghcr.io/acme/shop:2.0.0@{DIGEST}"
    assert st.green.version_label == "2.0.0"
    assert st.blue.image is None, "a slot without a version runs the service's"


def test_argo_steps_and_analysis_are_passed_through():
    svc = parse_service(
        _doc(
            {
                "type": "canary",
                "engine": "argo-rollouts",
                "steps": [{"setWeight": 30}, {"pause": {"duration": "2m"}}, {"pause": {}}],
                "analysis": {"successRate": 0.98, "latencyP99Seconds": 0.2, "failureLimit": 1},
            }
        ),
        "dev",
        "x.yaml",
    )
    st = _args(svc, _stack("istio")).strategy
    assert [s.render() for s in st.steps] == [
        {"setWeight": 30},
        {"pause": {"duration": "120s"}},
        {"pause": {}},
    ]
    assert (st.analysis.success_rate_min, st.analysis.latency_p99_max_seconds) == (0.98, 0.2)
    assert st.analysis.failure_limit == 1


def test_stack_traffic_layer_and_flag_provider_reach_the_component():
    svc = parse_service(_doc(flags={"beta": True}), "dev", "x.yaml")
    target = TARGET.model_copy(update={"kubernetes_api_cidrs": ["10.0.0.1/32"]})
    args = microservice_args(
        svc, _stack("gateway-api", flags="flagd"), target, {svc.name: svc}, lambda key: key
    )
    assert args.traffic.layer == "gateway-api"
    assert args.flag_provider == "flagd"
    assert args.flags == {"beta": True}
    assert args.kubernetes_api_cidrs == ["10.0.0.1/32"]


def test_mesh_policy_reaches_the_component():
    svc = parse_service(
        _doc({"mesh": {"timeoutSeconds": 3, "retries": {"attempts": 0}}}), "dev", "x.yaml"
    )
    traffic = _args(svc, _stack("istio")).traffic
    assert traffic.timeout_seconds == 3
    assert traffic.retries.attempts == 0


# -- refusals by the stack ----------------------------------------------------------------------


def test_canary_on_a_stack_without_traffic_layer_is_refused_with_file_and_field():
    svc = parse_service(_doc({"type": "canary"}), "dev", "x.yaml")
    with pytest.raises(BadInput) as exc:
        _args(svc, _stack("none"))
    assert exc.value.file == "x.yaml", "the file the service was read from"
    assert exc.value.field == "strategy (environment dev).type"
    assert "traffic.layer is 'none'" in str(exc.value)
    assert "allowed here: rolling or blue-green" in str(exc.value)


def test_fault_injection_in_prod_is_refused():
    svc = parse_service(_doc({"mesh": {"fault": {"abortPercent": 5}}}), "prod", "x.yaml")
    with pytest.raises(BadInput, match="refused in prod") as exc:
        _args(svc, _stack("istio", environment="prod"))
    assert exc.value.field == "strategy (environment prod).mesh.fault"


def test_fault_injection_without_istio_is_refused():
    svc = parse_service(_doc({"mesh": {"fault": {"abortPercent": 5}}}), "dev", "x.yaml")
    with pytest.raises(BadInput, match="needs the istio traffic layer"):
        _args(svc, _stack("gateway-api"))


def test_fault_injection_outside_prod_with_istio_is_accepted():
    svc = parse_service(_doc({"mesh": {"fault": {"abortPercent": 5}}}), "staging", "x.yaml")
    fault = _args(svc, _stack("istio", environment="staging")).traffic.fault
    assert fault is not None and fault.abort_percent == 5


# -- rolling stays as it was --------------------------------------------------------------------


def test_rolling_child_names_and_urns_are_pinned():
    records = run(make_args())
    prefix = "urn:pulumi:test::slipway::slipway:apps:Microservice$"
    expected = {
        "shop-sa": "kubernetes:core/v1:ServiceAccount",
        "shop-config": "kubernetes:core/v1:ConfigMap",
        "shop-deployment": "kubernetes:apps/v1:Deployment",
        "shop-service": "kubernetes:core/v1:Service",
        "shop-hpa": "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "shop-pdb": "kubernetes:policy/v1:PodDisruptionBudget",
        "shop-netpol": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    }
    children = {n: r for n, r in records.items() if n != "shop"}
    assert {n: r.type for n, r in children.items()} == expected
    for name, type_ in expected.items():
        assert children[name].urn == f"{prefix}{type_}::{name}"
