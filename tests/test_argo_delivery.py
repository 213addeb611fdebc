"""Argo Rollouts in a real cluster: what the rendered Rollout, AnalysisTemplates and Services do
(issue 19, defects 2, 3 and 4, capacity parity, and the A/B, mirroring, pre-rollout check,
manual approval and notification fields), and docs/argo-rollouts.md's examples rendered.

Argo's verdict on a measurement is reproduced here from argo-rollouts
utils/evaluate/evaluate.go (`EvaluateResult`): an error evaluating a condition is `Error`; with
only a success condition, not meeting it is `Failed`; with both, meeting neither is
`Inconclusive`. The conditions are expr-lang expressions; `_expr` translates the few
operators they use into Python, and refuses anything else.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from slipway.errors import BadInput
from slipway_components.addons import ClusterAddonsArgs, release_values
from slipway_components.strategies import (
    AnalysisArgs,
    HeaderRouteArgs,
    MirrorRouteArgs,
    NotificationsArgs,
    PreRolloutArgs,
    StepArgs,
    StrategyArgs,
)
from slipway_components.traffic import TrafficArgs
from stacks.catalog import Service
from tests.cloud_mocks import install
from tests.cloud_mocks import run as run_program
from tests.strategy_fixtures import by_kind, istio, make_args, run
from tests.test_addons import TAGS
from tests.test_crd_judge import cv
from tests.test_strategies import _args, _doc, _stack

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "argo-rollouts.md"
GATEWAY_API = TrafficArgs(layer="gateway-api")
ARGO_BG = StrategyArgs(type="blue-green", engine="argo-rollouts")
ARGO_CANARY = StrategyArgs(type="canary", engine="argo-rollouts")
LOADTEST = "http://loadtest.perf.svc.cluster.local:8080/run"


def _rollout(records: dict) -> dict[str, Any]:
    return by_kind(records, "Rollout")["shop"].inputs


def _judge(records: dict) -> list[str]:
    """CRD-schema findings for every custom resource rendered (none expected)."""
    docs = [
        (Path(r.name), r.inputs)
        for r in records.values()
        if r.inputs.get("apiVersion") and r.inputs.get("kind")
    ]
    findings, judged = cv.judge_documents(docs)
    assert judged > 0
    return [str(f) for f in findings]


# -- Argo's verdict on a measurement ---------------------------------------------------------


INDEXED = re.compile(r"\bresult\s*\[")
"""A condition matching this is an Error on an empty result (expr's index out of range; a
proposed argo-rollouts evaluate.go check, validateIndexedResultAccess, would refuse it however
it is guarded)."""


def _expr(condition: str, result: list[float]) -> bool:
    """An Argo condition over `result`, evaluated as expr-lang does for these operators:
    `&&`, `!`, `len`, `isNaN`, comparisons, and `all`/`any(result, {... # ...})`."""
    if INDEXED.search(condition) and not result:
        raise IndexError("indexes an empty result")
    allowed = re.compile(r"^[\w\s\[\]().<>=!&|{},#]+$")
    assert allowed.match(condition), condition
    py = re.sub(
        r"\b(all|any)\(result, \{(.*?)\}\)",
        lambda m: f"{m.group(1)}(({m.group(2).replace('#', 'x')}) for x in result)",
        condition,
    )
    py = py.replace("&&", " and ").replace("||", " or ").replace("!isNaN(", " not isNaN(")
    env = {"__builtins__": {}, "result": result, "len": len, "isNaN": math.isnan}
    env |= {"all": all, "any": any}  # globals: the generator's scope reads these
    return bool(eval(py, env))  # the pattern is checked above


def verdict(metric: dict[str, Any], result: list[float]) -> str:
    """argo-rollouts EvaluateResult: Successful, Failed, Inconclusive or Error."""
    try:
        ok = _expr(metric["successCondition"], result) if "successCondition" in metric else None
        bad = _expr(metric["failureCondition"], result) if "failureCondition" in metric else None
    except (IndexError, TypeError):
        return "Error"
    if ok is None and bad is None:
        return "Successful"
    if bad is None:
        bad = not ok
    if ok is None:
        ok = not bad
    if bad:
        return "Failed"
    return "Successful" if ok else "Inconclusive"


def _metrics(strategy: StrategyArgs, traffic: TrafficArgs | None = None) -> dict[str, dict]:
    records = run(make_args(strategy=strategy, **({"traffic": traffic} if traffic else {})))
    at = by_kind(records, "AnalysisTemplate")["shop-analysis"].inputs
    return {m["name"]: m for m in at["spec"]["metrics"]}


# -- defect 2: no traffic is not a bad version -------------------------------------------------


@pytest.mark.parametrize("quiet", [[], [math.nan]], ids=["empty", "NaN"])
def test_a_quiet_canary_is_inconclusive_not_failed(quiet: list[float]) -> None:
    """Empty (no pods matched) and NaN (0/0 requests) results neither pass nor fail: Argo
    pauses after `inconclusiveLimit` of them instead of aborting (on main: Error / Failed)."""
    for name, metric in _metrics(ARGO_CANARY, istio()).items():
        assert verdict(metric, quiet) == "Inconclusive", name
        assert metric["inconclusiveLimit"] == 2


def test_the_inconclusive_limit_is_documented_as_argo_counts_it() -> None:
    """argo-rollouts analysis/analysis.go: `metricResult.Inconclusive++` is never reset, and
    assessMetricFailureInconclusiveOrError compares that total with inconclusiveLimit; the
    docs said "in a row" / "Consecutive" (on main)."""
    docs = Path(__file__).parent.parent / "docs"
    row = next(
        line
        for line in (docs / "reference.md").read_text().splitlines()
        if line.startswith("| `inconclusiveLimit` |")
    )
    page = (docs / "argo-rollouts.md").read_text()
    for text in (row, page):
        assert not re.search(r"(?<!not )in a row|consecutive", text, re.I), text[:200]
    assert "whole analysis run" in row and "whole\n  analysis run" in page


def test_conditions_never_index_the_result() -> None:
    """`result[0]` errors on an empty result, and a proposed Argo check would refuse it even
    behind `len(result) > 0`; `all`/`any` over `result` need neither."""
    for metric in _metrics(ARGO_CANARY, istio()).values():
        assert not INDEXED.search(metric["successCondition"] + metric["failureCondition"])


def test_a_measured_breach_still_fails_and_a_good_value_passes() -> None:
    metrics = _metrics(ARGO_CANARY, istio())
    assert verdict(metrics["success-rate"], [0.9]) == "Failed"
    assert verdict(metrics["success-rate"], [0.999]) == "Successful"
    assert verdict(metrics["latency-p99"], [2.0]) == "Failed"
    assert verdict(metrics["latency-p99"], [0.1]) == "Successful"


def test_queries_return_nothing_below_the_minimum_request_count() -> None:
    strategy = StrategyArgs(
        type="canary", engine="argo-rollouts", analysis=AnalysisArgs(min_requests=75)
    )
    for metric in _metrics(strategy, istio()).values():
        query = metric["provider"]["prometheus"]["query"]
        assert query.endswith(
            ' and on() (sum(increase(http_requests_total{namespace="{{args.namespace}}",'
            'pod=~"{{args.service-name}}-{{args.pod-template-hash}}-.*"}[120s])) >= 75)'
        ), query


def test_blue_green_analyses_after_promotion_when_traffic_reaches_the_new_pods() -> None:
    bg = _rollout(run(make_args(strategy=ARGO_BG)))["spec"]["strategy"]["blueGreen"]
    assert bg["postPromotionAnalysis"]["templates"] == [{"templateName": "shop-analysis"}]
    assert "prePromotionAnalysis" not in bg, "the preview gets no user traffic to measure"


def test_blue_green_keeps_the_old_version_up_through_the_post_promotion_analysis() -> None:
    analysis = AnalysisArgs(interval_seconds=120, count=4)
    strategy = StrategyArgs(type="blue-green", engine="argo-rollouts", analysis=analysis)
    bg = _rollout(run(make_args(strategy=strategy)))["spec"]["strategy"]["blueGreen"]
    assert bg["scaleDownDelaySeconds"] == 120 * 4 + 60
    with pytest.raises(ValidationError, match=r"must exceed the post-promotion analysis"):
        StrategyArgs(
            type="blue-green",
            engine="argo-rollouts",
            analysis=analysis,
            scale_down_delay_seconds=480,
        )


@pytest.mark.parametrize(
    "analysis",
    [AnalysisArgs(count=1), AnalysisArgs(count=3, inconclusive_limit=4)],
    ids=["count-below-failure-limit", "count-below-inconclusive-limit"],
)
def test_a_bounded_analysis_has_at_least_as_many_measurements_as_its_limits(
    analysis: AnalysisArgs,
) -> None:
    """argo-rollouts utils/analysis/factory.go ValidateMetric: `count (1) must be >=
    failureLimit + consecutiveSuccessLimit`, `count must be >= inconclusiveLimit`; a
    post-promotion analysis Argo refuses never runs (on main: accepted and rendered)."""
    with pytest.raises(ValidationError, match=r"analysis count \d+ must be at least"):
        StrategyArgs(type="blue-green", engine="argo-rollouts", analysis=analysis)
    # The canary's background analysis renders no count, so the limits are free there.
    StrategyArgs(type="canary", engine="argo-rollouts", analysis=analysis)
    bounded = _metrics(ARGO_BG)
    for metric in bounded.values():
        assert metric["count"] >= metric["failureLimit"], metric["name"]
        assert metric["count"] >= metric["inconclusiveLimit"], metric["name"]
        assert metric["interval"], "Argo requires an interval when count > 1"


def test_a_too_short_scale_down_delay_in_the_catalog_names_the_file() -> None:
    service = Service.model_validate(
        _doc({"type": "blue-green", "engine": "argo-rollouts", "scaleDownDelaySeconds": 30})
    )
    with pytest.raises(BadInput, match="must exceed the post-promotion analysis"):
        _args(service, _stack())


# -- defect 3: what `pulumi up` waits for ------------------------------------------------------


@pytest.mark.parametrize(
    "strategy, traffic",
    [
        (StrategyArgs(type="blue-green", engine="argo-rollouts", auto_promotion=True), None),
        (ARGO_CANARY, istio()),
        (ARGO_BG, None),
    ],
    ids=["blue-green-auto", "canary-timed-pauses", "blue-green-manual"],
)
def test_the_await_cannot_be_satisfied_by_the_previous_revisions_status(
    strategy: StrategyArgs, traffic: TrafficArgs | None
) -> None:
    """`.status.phase=Healthy` holds for the old revision right after the apply (the provider
    compares no generations); `Available` claims only that pods serve, which stays true."""
    extra = {"traffic": traffic} if traffic else {}
    meta = _rollout(run(make_args(strategy=strategy, **extra)))["metadata"]["annotations"]
    assert meta["pulumi.com/waitFor"] == "condition=Available"
    assert meta["pulumi.com/timeoutSeconds"] == "600"
    assert not any("status.phase" in v for v in meta.values())


# -- defect 4: Argo owns the selectors of the Services it steers ------------------------------


def _ignored(strategy: StrategyArgs, traffic: TrafficArgs | None = None) -> dict[str, dict]:
    mon = install()
    from slipway_components import Microservice

    args = make_args(strategy=strategy, **({"traffic": traffic} if traffic else {}))
    run_program(lambda: Microservice("shop", args))
    services = {
        r.urn: r.inputs["metadata"]["name"] for r in mon.of_type("kubernetes:core/v1:Service")
    }
    return {name: mon.ignored[urn] for urn, name in services.items()}


@pytest.mark.parametrize(
    "strategy, traffic, names",
    [
        (ARGO_BG, None, {"shop", "shop-preview"}),
        (ARGO_CANARY, GATEWAY_API, {"shop-stable", "shop-canary"}),
        (ARGO_CANARY, TrafficArgs(layer="istio"), set()),
    ],
    ids=["blue-green", "canary-gateway-api", "canary-istio"],
)
def test_argo_managed_service_selectors_are_left_to_argo(
    strategy: StrategyArgs, traffic: TrafficArgs | None, names: set[str]
) -> None:
    """`spec.selector` is an atomic map: re-applying it would take Argo's
    `rollouts-pod-template-hash` away (or conflict). With Istio the plain Service `<svc>` is
    not Argo's (the DestinationRule subsets are)."""
    ignored = _ignored(strategy, traffic)
    for name, paths in ignored.items():
        if name in names:
            assert paths == ["spec.selector"], name
        else:
            assert "spec.selector" not in paths, name
    assert names <= set(ignored)


def test_native_blue_green_keeps_its_selectors() -> None:
    """Native blue-green flips its Services' selectors by declared value: Pulumi owns them."""
    from tests.strategy_fixtures import blue_green

    for name, paths in _ignored(blue_green()).items():
        assert "spec.selector" not in paths, name


# -- capacity parity ----------------------------------------------------------------------------


def test_blue_green_switches_only_at_full_size_with_the_hpas_live_count() -> None:
    """No `previewReplicaCount`: Argo scales the preview to `spec.replicas` before the switch;
    the Rollout declares no replicas, so that is the HPA's live count."""
    records = run(make_args(strategy=ARGO_BG))
    spec = _rollout(records)["spec"]
    assert "previewReplicaCount" not in spec["strategy"]["blueGreen"]
    assert "replicas" not in spec
    hpa = by_kind(records, "HorizontalPodAutoscaler")["shop"].inputs["spec"]
    assert hpa["scaleTargetRef"]["kind"] == "Rollout"
    fixed = _rollout(run(make_args(strategy=ARGO_BG, autoscaling=None, replicas=4)))["spec"]
    assert fixed["replicas"] == 4


def test_canary_abort_finds_the_stable_version_warm() -> None:
    records = run(make_args(strategy=ARGO_CANARY, traffic=istio()))
    canary = _rollout(records)["spec"]["strategy"]["canary"]
    assert canary["dynamicStableScale"] is False
    assert canary["scaleDownDelaySeconds"] == 300
    assert "abortScaleDownDelaySeconds" not in canary
    assert _judge(records) == []


# -- A/B routes, mirroring, canary scale --------------------------------------------------------


def _canary(*steps: StepArgs, traffic: TrafficArgs | None = None) -> tuple[dict, dict]:
    strategy = StrategyArgs(type="canary", engine="argo-rollouts", steps=steps)
    records = run(make_args(strategy=strategy, traffic=traffic or istio()))
    return _rollout(records)["spec"]["strategy"]["canary"], records


def test_header_and_cookie_routes_render_argo_steps_and_managed_routes() -> None:
    canary, records = _canary(
        StepArgs(set_canary_replicas=2),
        StepArgs(set_header_route=HeaderRouteArgs(name="beta", header="X-Beta", value="1")),
        StepArgs(set_header_route=HeaderRouteArgs(name="ab", cookie="exp", value="b")),
        StepArgs(pause=True),
        StepArgs(set_weight=20),
    )
    assert canary["steps"] == [
        {"setCanaryScale": {"replicas": 2}},
        {
            "setHeaderRoute": {
                "name": "beta",
                "match": [{"headerName": "X-Beta", "headerValue": {"exact": "1"}}],
            }
        },
        {
            "setHeaderRoute": {
                "name": "ab",
                "match": [
                    {"headerName": "Cookie", "headerValue": {"regex": "^(.*; )?exp=b(;.*)?$"}}
                ],
            }
        },
        {"pause": {}},
        {"setCanaryScale": {"matchTrafficWeight": True}},
        {"setWeight": 20},
    ]
    assert canary["trafficRouting"]["managedRoutes"] == [{"name": "beta"}, {"name": "ab"}]
    assert _judge(records) == []


@pytest.mark.parametrize(
    "cookie, hit",
    [
        ("exp=b", True),
        ("a=1; exp=b", True),
        ("a=1; exp=b; c=2", True),
        ("xexp=b", False),
        ("exp=bb", False),
        ("a=exp=b", False),
    ],
)
def test_the_cookie_regex_matches_the_pair_only(cookie: str, hit: bool) -> None:
    """Envoy matches a header regex (RE2) against the whole value."""
    regex = HeaderRouteArgs(name="ab", cookie="exp", value="b").render()["match"][0]
    assert bool(re.fullmatch(regex["headerValue"]["regex"], cookie)) is hit


def test_header_routes_work_through_the_gateway_api_plugin() -> None:
    canary, records = _canary(
        StepArgs(set_weight=10),
        StepArgs(set_header_route=HeaderRouteArgs(name="beta", header="X-Beta", value="1")),
        traffic=GATEWAY_API,
    )
    routing = canary["trafficRouting"]
    assert routing["managedRoutes"] == [{"name": "beta"}]
    assert "argoproj-labs/gatewayAPI" in routing["plugins"]
    assert _judge(records) == []


def test_mirror_route_copies_only_safe_requests() -> None:
    canary, records = _canary(
        StepArgs(set_weight=5),
        StepArgs(
            set_mirror_route=MirrorRouteArgs(name="shadow", percentage=30, path_prefix="/api")
        ),
    )
    assert canary["steps"][1] == {
        "setMirrorRoute": {
            "name": "shadow",
            "percentage": 30,
            "match": [{"method": {"exact": "GET"}, "path": {"prefix": "/api"}}],
        }
    }
    assert canary["trafficRouting"]["managedRoutes"] == [{"name": "shadow"}]
    assert _judge(records) == []
    with pytest.raises(ValidationError, match="GET"):
        MirrorRouteArgs(name="shadow", method="POST")


def test_mirroring_through_the_gateway_api_plugin_is_refused() -> None:
    steps = (
        StepArgs(set_weight=5),
        StepArgs(set_mirror_route=MirrorRouteArgs(name="shadow")),
    )
    with pytest.raises(ValidationError, match="set_mirror_route needs the istio traffic layer"):
        make_args(
            strategy=StrategyArgs(type="canary", engine="argo-rollouts", steps=steps),
            traffic=GATEWAY_API,
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "Beta", "header": "X-Beta", "value": "1"}, "DNS-1123"),
        ({"name": "beta", "header": "X Beta", "value": "1"}, "RFC 9110 token"),
        ({"name": "beta", "value": "1"}, "exactly one of header or cookie"),
        ({"name": "beta", "header": "X", "cookie": "c", "value": "1"}, "exactly one"),
        ({"name": "beta", "header": "Cookie", "value": "1"}, "not `header: Cookie`"),
        ({"name": "beta", "cookie": "c", "value": "a;b"}, "cookie-octets"),
        ({"name": "beta", "header": "X-Beta", "value": ""}, "non-empty value"),
    ],
)
def test_bad_header_routes_are_refused_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        HeaderRouteArgs(**kwargs)


def test_a_route_before_the_new_version_has_pods_is_refused() -> None:
    route = StepArgs(set_header_route=HeaderRouteArgs(name="beta", header="X-Beta", value="1"))
    with pytest.raises(ValidationError, match="before the new version has pods"):
        StrategyArgs(type="canary", engine="argo-rollouts", steps=(route, StepArgs(set_weight=5)))


# -- pre-rollout check --------------------------------------------------------------------------


def test_pre_rollout_check_runs_before_blue_green_promotion() -> None:
    strategy = StrategyArgs(
        type="blue-green", engine="argo-rollouts", pre_rollout=PreRolloutArgs(url=LOADTEST)
    )
    records = run(make_args(strategy=strategy))
    bg = _rollout(records)["spec"]["strategy"]["blueGreen"]
    assert bg["prePromotionAnalysis"] == {
        "templates": [{"templateName": "shop-pre-rollout"}],
        "args": [
            {"name": "service-name", "value": "shop"},
            {"name": "namespace", "value": "retail"},
        ],
    }
    assert bg["postPromotionAnalysis"]["templates"] == [{"templateName": "shop-analysis"}]
    metric = by_kind(records, "AnalysisTemplate")["shop-pre-rollout"].inputs["spec"]["metrics"][0]
    assert metric["provider"] == {
        "web": {"url": LOADTEST, "method": "GET", "timeoutSeconds": 60, "jsonPath": "{$.ok}"}
    }
    assert metric["successCondition"] == "result == true"
    assert metric["failureLimit"] == 0
    assert _judge(records) == []


def test_pre_rollout_check_is_the_first_canary_step() -> None:
    strategy = StrategyArgs(
        type="canary", engine="argo-rollouts", pre_rollout=PreRolloutArgs(url=LOADTEST)
    )
    records = run(make_args(strategy=strategy, traffic=istio()))
    canary = _rollout(records)["spec"]["strategy"]["canary"]
    assert canary["steps"][0]["analysis"]["templates"] == [{"templateName": "shop-pre-rollout"}]
    assert canary["steps"][1] == {"setWeight": 10}
    assert canary["analysis"]["startingStep"] == 2, "background analysis from the first weight"
    assert _judge(records) == []


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://hooks.example.com/check", True),
        ("http://loadtest.perf.svc.cluster.local:8080/run", True),
        ("http://loadtest.perf.svc/run", True),
        ("http://hooks.example.com/check", False),
        ("https://user:secret@hooks.example.com/check", False),
        ("ftp://hooks.example.com/check", False),
        ("hooks.example.com/check", False),
    ],
)
def test_pre_rollout_urls_are_https_unless_cluster_local(url: str, ok: bool) -> None:
    if ok:
        assert PreRolloutArgs(url=url).url == url
    else:
        with pytest.raises(ValidationError, match="url"):
            PreRolloutArgs(url=url)


def test_a_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ValidationError) as caught:
        PreRolloutArgs(url="https://user:hunter2@hooks.example.com/check")
    assert "hunter2" not in str(caught.value).split("input_value")[0]


# -- manual approval and notifications -----------------------------------------------------------


def test_manual_approval_is_an_open_pause_step() -> None:
    canary, _ = _canary(StepArgs(set_weight=10), StepArgs(pause=True), StepArgs(set_weight=50))
    assert canary["steps"][1] == {"pause": {}}


def test_notifications_subscribe_the_rollout_to_promote_abort_and_pause() -> None:
    strategy = StrategyArgs(
        type="canary", engine="argo-rollouts", notifications=NotificationsArgs()
    )
    meta = _rollout(run(make_args(strategy=strategy, traffic=istio())))["metadata"]
    subscribed = {k: v for k, v in meta["annotations"].items() if k.startswith("notif")}
    assert subscribed == {
        "notifications.argoproj.io/subscribe.on-rollout-completed.slipway": "",
        "notifications.argoproj.io/subscribe.on-rollout-aborted.slipway": "",
        "notifications.argoproj.io/subscribe.on-rollout-paused.slipway": "",
    }
    with pytest.raises(ValidationError):
        NotificationsArgs(triggers=("on-rollout-exploded",))


def test_the_add_on_configures_the_webhook_service_and_its_templates() -> None:
    base = {"cloud": "existing", "traffic_layer": "istio", "tags": TAGS, "rollouts": True}
    args = ClusterAddonsArgs(**base, rollouts_webhook_url="https://hooks.example.com/r")
    notifications = release_values("argo-rollouts", args)["notifications"]
    notifier = yaml.safe_load(notifications["notifiers"]["service.webhook.slipway"])
    assert notifier["url"] == "https://hooks.example.com/r"
    completed = yaml.safe_load(notifications["templates"]["template.rollout-completed"])
    assert completed["webhook"]["slipway"]["method"] == "POST"
    assert '"event": "rollout-completed"' in completed["webhook"]["slipway"]["body"]
    assert len(notifications["templates"]) == 7
    assert "notifications" not in release_values("argo-rollouts", ClusterAddonsArgs(**base))
    with pytest.raises(ValidationError, match="use https"):
        ClusterAddonsArgs(**base, rollouts_webhook_url="http://hooks.example.com/r")


# -- docs/argo-rollouts.md: every example renders and passes the CRD schemas -------------------


def _examples() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    return [yaml.safe_load(b) for b in blocks]


def test_the_page_has_its_examples() -> None:
    assert len(_examples()) == 6


@pytest.mark.parametrize("index", range(6))
def test_each_doc_example_renders_valid_argo_objects(index: int) -> None:
    example = _examples()[index]
    assert set(example) == {"strategy"}
    service = Service.model_validate(_doc(example["strategy"]))
    args = _args(service, _stack(layer="istio", environment="prod"))
    records = run(args)
    assert _judge(records) == []
    rollout = _rollout_of(records)
    st = example["strategy"]
    spec = rollout["spec"]["strategy"]
    if "preRollout" in st:
        assert spec["blueGreen"]["prePromotionAnalysis"]["templates"] == [
            {"templateName": "shop-pre-rollout"}
        ]
    if "notifications" in st:
        assert any(
            k.startswith("notifications.argoproj.io/") for k in rollout["metadata"]["annotations"]
        )
    for step in st.get("steps", []):
        (kind,) = step
        rendered = {"setCanaryReplicas": "setCanaryScale"}.get(kind, kind)
        assert any(rendered in s for s in spec["canary"]["steps"]), kind


def _rollout_of(records: dict) -> dict[str, Any]:
    (rollout,) = by_kind(records, "Rollout").values()
    return rollout.inputs
