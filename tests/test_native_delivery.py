"""Native (Pulumi-owned) progressive delivery in a real cluster: capacity parity for blue-green
and canary, and mesh retries that never repeat a request the application has seen.

The registrations are checked as the engine receives them (`tests.cloud_mocks.RecordingMonitor`):
what a resource waits for (`depends_on`), the declared `spec.replicas` and the HPAs'
`minReplicas`; the custom resources are judged against their vendored CRD schemas.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from slipway_components import Microservice
from slipway_components.microservice import AutoscalingArgs, MicroserviceArgs
from slipway_components.strategies import StrategyArgs, TrackArgs
from slipway_components.traffic import DEFAULT_RETRY_ON, RetryArgs, TrafficArgs
from stacks.config import StackConfig, TargetConfig
from tests import cloud_mocks
from tests.strategy_fixtures import NEW_IMAGE, blue_green, canary, istio, make_args

REPO = Path(__file__).resolve().parents[1]
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
FORCE = {"pulumi.com/patchForce": "true"}
WIDE = AutoscalingArgs(min_replicas=3, max_replicas=40)
"""A service whose live slot may run far more pods than its idle slot's HPA minimum."""


def _record(args: MicroserviceArgs) -> cloud_mocks.RecordingMonitor:
    monitor = cloud_mocks.install()
    cloud_mocks.run(lambda: Microservice("shop", args))
    return monitor


def _inputs(monitor: cloud_mocks.RecordingMonitor, name: str) -> dict[str, Any]:
    (found,) = [r for r in monitor.registered if r.name == name]
    return found.inputs


def _crd_judge() -> Any:
    spec = importlib.util.spec_from_file_location("crd_validate", REPO / "scripts/crd_validate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _valid_custom_resources(monitor: cloud_mocks.RecordingMonitor) -> int:
    """Judge every custom resource registered against its CRD schema; returns how many."""
    cv = _crd_judge()
    core = ("kubernetes:core/", "kubernetes:apps/", "kubernetes:autoscaling/", "kubernetes:policy/")
    docs = [
        (Path(r.name), r.inputs)
        for r in monitor.registered
        if r.type.startswith("kubernetes:")
        and not r.type.startswith(core)
        and "networking.k8s.io/v1:NetworkPolicy" not in r.type
    ]
    findings, judged = cv.judge_documents(docs)
    assert findings == []
    return judged


# ---- defect 6: blue-green flips onto a slot scaled to the live size, and waits for it ----------


def test_live_service_waits_for_the_slot_it_switches_to():
    for active in ("blue", "green"):
        monitor = _record(make_args(strategy=blue_green(active_slot=active), autoscaling=WIDE))
        other = "green" if active == "blue" else "blue"
        assert monitor.depends("shop-service", f"shop-{active}")
        assert not monitor.depends("shop-service", f"shop-{other}")


def test_a_promote_scales_the_target_slot_to_the_live_count_before_the_switch():
    monitor = _record(
        make_args(strategy=blue_green(active_slot="green", live_replicas=30), autoscaling=WIDE)
    )
    green = _inputs(monitor, "shop-green")
    assert green["spec"]["replicas"] == 30
    assert green["metadata"]["annotations"] == FORCE, "the HPA co-owns spec.replicas"
    assert _inputs(monitor, "shop-hpa-green")["spec"]["minReplicas"] == 30
    assert monitor.depends("shop-service", "shop-green")
    assert _inputs(monitor, "shop-service")["spec"]["selector"]["slot"] == "green"


def test_the_old_slot_stays_full_size_after_the_flip():
    monitor = _record(
        make_args(strategy=blue_green(active_slot="green", live_replicas=30), autoscaling=WIDE)
    )
    assert _inputs(monitor, "shop-blue")["spec"]["replicas"] == 30
    assert _inputs(monitor, "shop-hpa-blue")["spec"]["minReplicas"] == 30


def test_without_a_hold_the_autoscalers_own_the_counts():
    monitor = _record(make_args(strategy=blue_green(), autoscaling=WIDE))
    for slot in ("blue", "green"):
        assert "replicas" not in _inputs(monitor, f"shop-{slot}")["spec"]
        assert "annotations" not in _inputs(monitor, f"shop-{slot}")["metadata"]
        assert _inputs(monitor, f"shop-hpa-{slot}")["spec"]["minReplicas"] == 3


def test_a_hold_below_the_autoscaling_minimum_keeps_the_minimum():
    monitor = _record(make_args(strategy=blue_green(live_replicas=1), autoscaling=WIDE))
    assert _inputs(monitor, "shop-blue")["spec"]["replicas"] == 3
    assert _inputs(monitor, "shop-hpa-green")["spec"]["minReplicas"] == 3


def test_an_image_change_and_a_flip_in_one_up_switch_after_the_rollout():
    """The flip and the new green build land in one declaration: the Service changes only
    after the green Deployment (whose template changes) is awaited, so never onto a
    half-rolled slot. Nothing tells Pulumi to skip that await."""
    strategy = blue_green(
        active_slot="green", live_replicas=12, green=TrackArgs(image="ghcr.io/acme/shop:3.0.0")
    )
    monitor = _record(make_args(strategy=strategy, autoscaling=WIDE))
    green = _inputs(monitor, "shop-green")
    assert green["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":3.0.0")
    assert green["spec"]["replicas"] == 12
    assert "pulumi.com/skipAwait" not in green["metadata"].get("annotations", {})
    assert monitor.depends("shop-service", "shop-green")


def test_parking_the_old_slot_ends_the_hold():
    strategy = blue_green(active_slot="green", live_replicas=30, idle_replicas=2)
    monitor = _record(make_args(strategy=strategy, autoscaling=WIDE))
    blue = _inputs(monitor, "shop-blue")
    assert blue["spec"]["replicas"] == 2
    assert blue["metadata"]["annotations"] == FORCE
    assert [r.name for r in monitor.of_type(HPA)] == ["shop-hpa-green"]
    assert _inputs(monitor, "shop-hpa-green")["spec"]["minReplicas"] == 3
    assert _inputs(monitor, "shop-green")["spec"]["replicas"] == 30, "never removed (SSA: 1)"


def test_fixed_replicas_hold_both_slots_without_forcing():
    monitor = _record(make_args(strategy=blue_green(live_replicas=5), autoscaling=None, replicas=3))
    for slot in ("blue", "green"):
        dep = _inputs(monitor, f"shop-{slot}")
        assert dep["spec"]["replicas"] == 5
        assert "annotations" not in dep["metadata"]
    assert monitor.of_type(HPA) == []


def test_a_hold_above_the_autoscaling_maximum_is_refused():
    with pytest.raises(ValidationError, match=r"live_replicas is 40 pods, not below autoscaling"):
        make_args(strategy=blue_green(live_replicas=40), autoscaling=WIDE)


# ---- defect 7: a canary sized for its weight, promoted by becoming the stable build -----------


def test_canary_capacity_follows_its_weight_share_of_the_live_stable_track():
    for weight, expected in ((0, 2), (10, 2), (25, 5), (50, 10), (60, 12)):
        strategy = canary(weight=weight, live_replicas=20)
        monitor = _record(make_args(strategy=strategy, traffic=istio(), autoscaling=WIDE))
        dep = _inputs(monitor, "shop-canary")
        assert dep["spec"]["replicas"] == expected, weight
        assert dep["metadata"]["annotations"] == FORCE
        hpa = _inputs(monitor, "shop-hpa-canary")["spec"]
        assert hpa["scaleTargetRef"]["name"] == "shop-canary"
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (max(expected, 3), 40)


def test_canary_without_autoscaling_is_sized_from_the_fixed_stable_count():
    strategy = canary(weight=50)
    monitor = _record(make_args(strategy=strategy, traffic=istio(), autoscaling=None, replicas=8))
    assert _inputs(monitor, "shop-canary")["spec"]["replicas"] == 4
    assert monitor.of_type(HPA) == []


@pytest.mark.parametrize("layer", ["istio", "gateway-api"])
def test_the_route_waits_for_both_tracks(layer):
    strategy = canary(weight=25, live_replicas=8)
    monitor = _record(
        make_args(strategy=strategy, traffic=TrafficArgs(layer=layer), autoscaling=WIDE)
    )
    route = "shop-vs" if layer == "istio" else "shop-route"
    assert monitor.depends(route, "shop-canary")
    assert monitor.depends(route, "shop-stable")
    assert _valid_custom_resources(monitor) >= 1


def test_weight_100_on_an_autoscaled_canary_without_a_live_count_is_refused():
    with pytest.raises(ValidationError, match="weight 100 sends every request to the canary"):
        make_args(strategy=canary(weight=100), traffic=istio(), autoscaling=WIDE)


def test_weight_100_sizes_the_canary_like_the_stable_track():
    strategy = canary(weight=100, live_replicas=24)
    monitor = _record(make_args(strategy=strategy, traffic=istio(), autoscaling=WIDE))
    assert _inputs(monitor, "shop-canary")["spec"]["replicas"] == 24
    assert _inputs(monitor, "shop-hpa-canary")["spec"]["minReplicas"] == 24


def test_a_canary_bigger_than_the_autoscaling_maximum_is_refused():
    with pytest.raises(ValidationError, match="the canary's size for weight 50 is 20 pods, not"):
        make_args(
            strategy=canary(weight=50, live_replicas=40),
            traffic=istio(),
            autoscaling=AutoscalingArgs(min_replicas=3, max_replicas=20),
        )


def test_a_promoted_canary_is_the_stable_build_with_no_canary_track():
    """What `slipway promote` declares: the canary's image as the service's, no canary track:
    stable runs the new build at its autoscaled size and gets all traffic; no canary pods."""
    promoted = make_args(
        image=NEW_IMAGE, strategy=StrategyArgs(type="canary"), traffic=istio(), autoscaling=WIDE
    )
    monitor = _record(promoted)
    deployments = {r.name: r.inputs for r in monitor.of_type(DEPLOYMENT)}
    assert sorted(deployments) == ["shop-stable"]
    stable = deployments["shop-stable"]["spec"]
    assert stable["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
    assert "replicas" not in stable, "the stable HPA keeps its full size"
    route = _inputs(monitor, "shop-vs")["spec"]["http"][0]["route"]
    assert [(r["destination"]["subset"], r["weight"]) for r in route] == [("stable", 100)]
    assert monitor.depends("shop-vs", "shop-stable")


# ---- defect 8: retries that never repeat a request the application has seen -----------------


def _route(traffic: TrafficArgs, strategy: StrategyArgs | None = None) -> dict[str, Any]:
    args = make_args(traffic=traffic, **({"strategy": strategy} if strategy else {}))
    monitor = _record(args)
    assert _valid_custom_resources(monitor) >= 1
    return _inputs(monitor, "shop-vs")["spec"]["http"][0]


def test_default_retries_only_failures_before_the_request_reached_the_app():
    retries = _route(istio())["retries"]
    assert retries == {
        "attempts": 2,
        "retryOn": "connect-failure,refused-stream,reset-before-request",
    }
    conditions = retries["retryOn"].split(",")
    for unsafe in ("5xx", "gateway-error", "reset", "retriable-status-codes", "unavailable"):
        assert unsafe not in conditions
    assert "perTryTimeout" not in retries, "a slow POST is not cut and failed at 2 s"


@pytest.mark.parametrize(
    "retry_on", ["5xx", "connect-failure,gateway-error", "reset", "503", "unavailable"]
)
def test_retries_that_can_repeat_a_request_need_idempotent(retry_on):
    with pytest.raises(ValidationError, match="may already have processed"):
        RetryArgs(retry_on=retry_on)


def test_a_per_try_timeout_needs_idempotent():
    with pytest.raises(ValidationError, match="it needs idempotent: true"):
        RetryArgs(per_try_timeout_seconds=2)


def test_unknown_retry_conditions_are_refused():
    with pytest.raises(ValidationError, match=r"\['5xxx'\] are not Envoy/Istio retry conditions"):
        RetryArgs(retry_on="5xxx", idempotent=True)


@pytest.mark.parametrize("code", ["520", "599", "306"])
def test_status_codes_go_does_not_name_are_refused(code):
    """Istio accepts a bare code only if Go's http.StatusText names it."""
    with pytest.raises(ValidationError, match="are not Envoy/Istio retry conditions"):
        RetryArgs(retry_on=f"connect-failure,{code}", idempotent=True)
    assert RetryArgs(retry_on="503,429", idempotent=True).render()["retryOn"] == "503,429"


def test_an_idempotent_service_opts_in_to_5xx_retries():
    retries = RetryArgs(
        attempts=3, retry_on="5xx,connect-failure", per_try_timeout_seconds=2, idempotent=True
    )
    route = _route(TrafficArgs(layer="istio", timeout_seconds=10, retries=retries))
    assert route["retries"] == {
        "attempts": 3,
        "retryOn": "5xx,connect-failure",
        "perTryTimeout": "2s",
    }
    assert route["timeout"] == "10s"


def test_zero_attempts_render_no_retry_conditions():
    """istio/istio pkg/config/validation validateHTTPRetry refuses retryOn or perTryTimeout
    beside `attempts: 0` ("http retry policy configured when attempts are set to 0")."""
    route = _route(TrafficArgs(layer="istio", retries=RetryArgs(attempts=0)))
    assert route["retries"] == {"attempts": 0}
    with pytest.raises(ValidationError, match="needs attempts > 0"):
        RetryArgs(attempts=0, per_try_timeout_seconds=2, idempotent=True)


def test_a_per_try_timeout_longer_than_the_request_is_refused():
    retries = RetryArgs(per_try_timeout_seconds=20, idempotent=True)
    with pytest.raises(ValidationError, match="longer than timeout_seconds 15"):
        TrafficArgs(layer="istio", retries=retries)


def test_gateway_api_route_renders_no_retry_and_the_per_try_timeout_as_backend_request():
    """Gateway API v1.6.1's standard channel (the vendored CRD) has no `retry`: the route
    declares none. A per-try timeout is `timeouts.backendRequest`."""
    retries = RetryArgs(per_try_timeout_seconds=1.5, idempotent=True)
    traffic = TrafficArgs(layer="gateway-api", timeout_seconds=9, retries=retries)
    monitor = _record(make_args(strategy=canary(weight=10), traffic=traffic))
    rule = _inputs(monitor, "shop-route")["spec"]["rules"][0]
    assert "retry" not in rule
    assert rule["timeouts"] == {"request": "9s", "backendRequest": "1500ms"}
    assert _valid_custom_resources(monitor) == 1
    default = _record(make_args(strategy=canary(), traffic=TrafficArgs(layer="gateway-api")))
    assert _inputs(default, "shop-route")["spec"]["rules"][0]["timeouts"] == {"request": "15s"}


# ---- docs/native-delivery.md: every catalog example renders what the page says ---------------

DOC = REPO / "docs" / "native-delivery.md"
EXAMPLE = re.compile(r"<!-- example: ([a-z0-9-]+) -->\n```yaml\n(.*?)```", re.S)
BASE_SERVICE: dict[str, Any] = {
    "name": "shop",
    "team": "retail",
    "image": "ghcr.io/acme/shop",
    "version": {"tag": "1.0.0"},
    "ports": [{"name": "http", "port": 8080}],
    "probes": {"liveness": {"path": "/healthz"}, "readiness": {"path": "/ready"}},
}
DOC_TARGET = TargetConfig(name="local", cloud="existing", region="local", kubeconfig_context="k")


def _doc_examples() -> dict[str, dict[str, Any]]:
    return {name: yaml.safe_load(body) for name, body in EXAMPLE.findall(DOC.read_text())}


def _render_example(name: str) -> cloud_mocks.RecordingMonitor:
    from stacks.build import microservice_args
    from stacks.catalog import deep_merge, parse_service

    data = deep_merge(BASE_SERVICE, _doc_examples()[name])
    service = parse_service(data, "prod", f"{name}.yaml")
    stack = StackConfig(environment="prod", targets=[DOC_TARGET], traffic={"layer": "istio"})
    args = microservice_args(service, stack, DOC_TARGET, {service.name: service}, lambda k: k)
    return _record(args)


def test_the_page_has_each_example_the_tests_render():
    assert sorted(_doc_examples()) == [
        "blue-green-hold",
        "blue-green-parked",
        "canary-sized",
        "retries-idempotent",
        "retries-refused",
    ]


def test_doc_example_blue_green_hold():
    monitor = _render_example("blue-green-hold")
    for slot in ("blue", "green"):
        assert _inputs(monitor, f"shop-{slot}")["spec"]["replicas"] == 12
        assert _inputs(monitor, f"shop-{slot}")["metadata"]["annotations"] == FORCE
        assert _inputs(monitor, f"shop-hpa-{slot}")["spec"]["minReplicas"] == 12
    assert monitor.depends("shop-service", "shop-green")


def test_doc_example_blue_green_parked():
    monitor = _render_example("blue-green-parked")
    assert _inputs(monitor, "shop-blue")["spec"]["replicas"] == 3
    assert [r.name for r in monitor.of_type(HPA)] == ["shop-hpa-green"]
    assert _inputs(monitor, "shop-hpa-green")["spec"]["minReplicas"] == 3
    assert _inputs(monitor, "shop-green")["spec"]["replicas"] == 12


def test_doc_example_canary_sized():
    monitor = _render_example("canary-sized")
    assert _inputs(monitor, "shop-canary")["spec"]["replicas"] == 5
    assert _inputs(monitor, "shop-hpa-canary")["spec"]["minReplicas"] == 5
    assert monitor.depends("shop-vs", "shop-canary")


def test_doc_example_retries_idempotent():
    monitor = _render_example("retries-idempotent")
    route = _inputs(monitor, "shop-vs")["spec"]["http"][0]
    assert route["timeout"] == "10s"
    assert route["retries"] == {
        "attempts": 3,
        "retryOn": "5xx,connect-failure",
        "perTryTimeout": "2s",
    }
    assert _valid_custom_resources(monitor) >= 1


def test_doc_example_retries_refused():
    from slipway.errors import BadInput

    with pytest.raises(BadInput, match=r"strategy\.mesh\.retries.*may already have processed"):
        _render_example("retries-refused")


def test_catalog_retries_apply_per_environment():
    """The base's retries hold in dev; prod's override opts in to 5xx retries."""
    from stacks.build import microservice_args
    from stacks.catalog import deep_merge, parse_service

    data = deep_merge(BASE_SERVICE, _doc_examples()["retries-idempotent"])
    for env, expected in (("dev", DEFAULT_RETRY_ON), ("prod", "5xx,connect-failure")):
        service = parse_service(data, env, "shop.yaml")
        stack = StackConfig(environment=env, targets=[DOC_TARGET], traffic={"layer": "istio"})
        args = microservice_args(service, stack, DOC_TARGET, {"shop": service}, lambda k: k)
        assert args.traffic.retries.retry_on == expected
        assert args.traffic.retries.attempts == 3


# ---- the commands: slipway canary / promote / scale-down keep the capacity declared ------------


def _say(result: Any) -> str:
    return " ".join(result.output.split())


def _autoscaled_payments(project: Path) -> Path:
    """payments in prod with autoscaling (the example catalog runs it at fixed replicas)."""
    path = project / "services" / "payments.yaml"
    path.write_text(
        path.read_text().replace(
            "  prod:\n    replicas: 4\n",
            "  prod:\n    autoscaling: {minReplicas: 4, maxReplicas: 40}\n",
        )
    )
    return path


def _declared(project: Path, service: str) -> Any:
    from slipway import declared as dc

    return dc.locate(project, "prod", service).service


def test_canary_weight_100_is_refused_as_a_promotion(project, run):
    before = (project / "services" / "payments.yaml").read_bytes()
    result = run("canary", "payments", "--stack", "prod", "--weight", "100")
    assert result.exit_code == 2
    assert "that is a promotion: slipway promote payments --stack prod" in _say(result)
    assert (project / "services" / "payments.yaml").read_bytes() == before


def test_canary_step_of_an_autoscaled_service_declares_the_stable_live_count(project, run):
    _autoscaled_payments(project)
    result = run("canary", "payments", "--stack", "prod", "--weight", "25", "--live-replicas", "20")
    assert result.exit_code == 0, _say(result)
    assert "strategy.liveReplicas unset -> 20" in _say(result)
    st = _declared(project, "payments").strategy
    assert (st.weight, st.live_replicas) == (25, 20)


def test_canary_step_reads_the_stable_count_from_the_cluster(project, run, monkeypatch):
    from slipway.commands import strategy

    seen: list[list[str]] = []
    monkeypatch.setattr(strategy, "_kubectl", lambda args: seen.append(args) or "16")
    _autoscaled_payments(project)
    assert run("canary", "payments", "--stack", "prod", "--weight", "50").exit_code == 0
    assert [a[a.index("deployment") + 1] for a in seen] == ["payments-stable"] * len(seen)
    assert _declared(project, "payments").strategy.live_replicas == 16


def test_canary_step_of_an_autoscaled_service_without_a_count_is_refused(project, run, monkeypatch):
    from slipway.commands import strategy

    def unreachable(args: list[str]) -> str:
        raise RuntimeError("no cluster")

    monkeypatch.setattr(strategy, "_kubectl", unreachable)
    path = _autoscaled_payments(project)
    before = path.read_bytes()
    result = run("canary", "payments", "--stack", "prod", "--weight", "25")
    assert result.exit_code == 2
    assert "cannot read the pods of deployment payments-stable" in _say(result)
    assert path.read_bytes() == before


def test_promote_of_a_canary_takes_its_config_and_is_rolled_back_whole(project, run):
    path = project / "services" / "payments.yaml"
    original = path.read_bytes()
    path.write_text(
        path.read_text().replace(
            "      weight: 0\n", "        config: {PROVIDER_ENDPOINT: https://v2.example.com}\n"
        )
    )
    before = path.read_bytes()
    result = run("promote", "payments", "--stack", "prod")
    assert result.exit_code == 0, _say(result)
    service = _declared(project, "payments")
    assert service.config["PROVIDER_ENDPOINT"] == "https://v2.example.com"
    assert (service.version.tag, service.strategy.canary) == ("3.1.0", None)
    assert run("rollback", "payments", "--stack", "prod").exit_code == 0
    assert path.read_bytes() == before != original


def test_scale_down_parks_the_old_slot_at_the_autoscaling_minimum(project, run):
    assert run("promote", "orders", "--stack", "prod", "--live-replicas", "12").exit_code == 0
    result = run("scale-down", "orders", "--stack", "prod")
    assert result.exit_code == 0, _say(result)
    st = _declared(project, "orders").strategy
    assert (st.active_slot, st.live_replicas, st.idle_replicas) == ("green", 12, 3)
    again = run("scale-down", "orders", "--stack", "prod")
    assert "nothing changed" in _say(again)


def test_scale_down_of_a_canary_is_refused(project, run):
    result = run("scale-down", "payments", "--stack", "prod")
    assert result.exit_code == 2
    assert "scale-down parks the idle slot of a native blue-green service" in _say(result)


def test_a_promote_above_the_autoscaling_maximum_is_refused_before_writing(project, run):
    before = (project / "services" / "orders.yaml").read_bytes()
    result = run("promote", "orders", "--stack", "prod", "--live-replicas", "30")
    assert result.exit_code == 2
    assert "liveReplicas is 30 pods, not below autoscaling.maxReplicas 30" in _say(result)
    assert (project / "services" / "orders.yaml").read_bytes() == before


def test_retry_conditions_are_rendered_without_spaces():
    retries = RetryArgs(retry_on="connect-failure, refused-stream")
    assert retries.render()["retryOn"] == "connect-failure,refused-stream"
