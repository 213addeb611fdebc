"""Argo Rollouts: Rollout (blue-green and canary), AnalysisTemplate on Prometheus, await
annotations, the hardened pod template, and the traffic objects Argo steers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slipway_components.strategies import AnalysisArgs, StepArgs, StrategyArgs
from slipway_components.traffic import TrafficArgs
from tests.strategy_fixtures import by_kind, istio, make_args, run

ARGO_BG = StrategyArgs(type="blue-green", engine="argo-rollouts")
ARGO_CANARY = StrategyArgs(type="canary", engine="argo-rollouts")


def _rollout(records):
    return by_kind(records, "Rollout")["shop"].inputs


def test_blue_green_rollout_fields():
    records = run(make_args(strategy=ARGO_BG))
    ro = _rollout(records)
    assert ro["apiVersion"] == "argoproj.io/v1alpha1"
    bg = ro["spec"]["strategy"]["blueGreen"]
    assert bg["activeService"] == "shop"
    assert bg["previewService"] == "shop-preview"
    assert bg["autoPromotionEnabled"] is False
    assert bg["scaleDownDelaySeconds"] == 60 * 5 + 60, "outlasts the post-promotion analysis"
    assert bg["postPromotionAnalysis"]["templates"] == [{"templateName": "shop-analysis"}]
    assert "prePromotionAnalysis" not in bg, "no user traffic reaches the preview"
    assert sorted(by_kind(records, "Service")) == ["shop", "shop-preview"]
    assert by_kind(records, "Deployment") == {}


def test_canary_rollout_steps_and_background_analysis():
    steps = (StepArgs(set_weight=20), StepArgs(pause=True, pause_seconds=60), StepArgs(pause=True))
    strategy = StrategyArgs(type="canary", engine="argo-rollouts", steps=steps)
    canary = _rollout(run(make_args(strategy=strategy, traffic=istio())))["spec"]["strategy"][
        "canary"
    ]
    assert canary["steps"] == [{"setWeight": 20}, {"pause": {"duration": "60s"}}, {"pause": {}}]
    assert canary["analysis"]["templates"] == [{"templateName": "shop-analysis"}]
    assert canary["analysis"]["startingStep"] == 1
    assert {"name": "pod-template-hash", "valueFrom": {"podTemplateHashValue": "Latest"}} in (
        canary["analysis"]["args"]
    )


def test_canary_routes_through_istio_subsets():
    records = run(make_args(strategy=ARGO_CANARY, traffic=istio()))
    routing = _rollout(records)["spec"]["strategy"]["canary"]["trafficRouting"]
    assert routing == {
        "istio": {
            "virtualService": {"name": "shop", "routes": ["primary"]},
            "destinationRule": {
                "name": "shop",
                "canarySubsetName": "canary",
                "stableSubsetName": "stable",
            },
        }
    }
    vs = by_kind(records, "VirtualService")["shop"].inputs["spec"]["http"][0]
    assert vs["name"] == "primary"
    assert [r["weight"] for r in vs["route"]] == [100, 0]


def test_canary_routes_through_the_gateway_api_plugin():
    records = run(make_args(strategy=ARGO_CANARY, traffic=TrafficArgs(layer="gateway-api")))
    canary = _rollout(records)["spec"]["strategy"]["canary"]
    assert canary["trafficRouting"] == {
        "plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "shop-mesh", "namespace": "retail"}}
    }
    assert canary["stableService"] == "shop-stable"
    assert canary["canaryService"] == "shop-canary"
    assert "shop-mesh" in by_kind(records, "HTTPRoute")


def test_analysis_template_measures_success_rate_and_p99_with_thresholds():
    analysis = AnalysisArgs(success_rate_min=0.995, latency_p99_max_seconds=0.3, failure_limit=3)
    strategy = StrategyArgs(type="blue-green", engine="argo-rollouts", analysis=analysis)
    at = by_kind(run(make_args(strategy=strategy)), "AnalysisTemplate")["shop-analysis"].inputs
    metrics = {m["name"]: m for m in at["spec"]["metrics"]}
    guard = "len(result) > 0 && "
    assert metrics["success-rate"]["successCondition"] == (
        guard + "all(result, {!isNaN(#) && # >= 0.995})"
    )
    assert (
        metrics["success-rate"]["failureCondition"]
        == guard + "any(result, {!isNaN(#) && # < 0.995})"
    )
    assert (
        metrics["latency-p99"]["successCondition"] == guard + "all(result, {!isNaN(#) && # <= 0.3})"
    )
    assert (
        metrics["latency-p99"]["failureCondition"] == guard + "any(result, {!isNaN(#) && # > 0.3})"
    )
    for m in metrics.values():
        assert m["failureLimit"] == 3
        assert m["count"] == 5, "post-promotion analysis must end"
        prom = m["provider"]["prometheus"]
        assert prom["address"].startswith("http://prometheus-operated.monitoring")
        assert 'pod=~"{{args.service-name}}-{{args.pod-template-hash}}-.*"' in prom["query"]
    assert "histogram_quantile(0.99" in metrics["latency-p99"]["provider"]["prometheus"]["query"]
    assert 'code!~"5.."' in metrics["success-rate"]["provider"]["prometheus"]["query"]


def test_background_analysis_has_no_count():
    at = by_kind(run(make_args(strategy=ARGO_CANARY, traffic=istio())), "AnalysisTemplate")
    for m in at["shop-analysis"].inputs["spec"]["metrics"]:
        assert "count" not in m


def test_manual_promotion_waits_for_available_within_the_progress_deadline():
    meta = _rollout(run(make_args(strategy=ARGO_BG)))["metadata"]["annotations"]
    assert meta["pulumi.com/waitFor"] == "condition=Available"
    assert meta["pulumi.com/timeoutSeconds"] == "600"


def test_rollout_uses_the_hardened_pod_template():
    spec = _rollout(run(make_args(strategy=ARGO_BG)))["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "shop"}
    assert "replicas" not in spec, "the HPA owns the count"


def test_hpa_targets_the_rollout():
    hpa = by_kind(run(make_args(strategy=ARGO_BG)), "HorizontalPodAutoscaler")["shop"]
    assert hpa.inputs["spec"]["scaleTargetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": "shop",
    }


def test_argo_rollouts_with_rolling_type_is_refused():
    with pytest.raises(ValidationError, match="needs type blue-green or canary"):
        make_args(strategy=StrategyArgs(engine="argo-rollouts"))


def test_argo_canary_without_a_traffic_layer_is_refused():
    with pytest.raises(ValidationError, match="needs a traffic layer"):
        make_args(strategy=ARGO_CANARY)


def test_step_with_weight_and_pause_is_refused():
    with pytest.raises(ValidationError, match="exactly one of them"):
        StepArgs(set_weight=10, pause=True)
