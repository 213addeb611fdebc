"""The strategy builders' behaviours no other test pinned: the strategy args' refusals and
renderings (steps, routes, analysis, checks, notifications, capacity), and which objects the
native canary, native blue-green and Argo Rollouts builders render, with their selectors,
weights, sizes and analysis templates."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pytest
from pydantic import BaseModel, ValidationError

from slipway.engine import Record, run_program
from slipway_components import Microservice, MicroserviceArgs
from slipway_components.bluegreen import held_replicas, slot_selector
from slipway_components.canary import stable_reference, track_selector
from slipway_components.kit import WorkloadKit
from slipway_components.microservice import AutoscalingArgs, RollingArgs
from slipway_components.rollouts import (
    _measured,
    analysis_template_spec,
    await_annotations,
    pre_rollout_template_spec,
)
from slipway_components.strategies import (
    AnalysisArgs,
    HeaderRouteArgs,
    MirrorRouteArgs,
    NotificationsArgs,
    PreRolloutArgs,
    StepArgs,
    StrategyArgs,
    TrackArgs,
    canary_capacity,
    check_hook_url,
)
from slipway_components.traffic import TrafficArgs
from tests.strategy_fixtures import (
    IMAGE,
    NEW_IMAGE,
    blue_green,
    canary,
    istio,
    make_args,
    run,
)

DNS_LABEL_40 = (
    "is not a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a "
    "letter or digit, at most 40 characters"
)


def refusal(model: type[BaseModel], at: tuple[str, ...] = (), **fields: Any) -> str:
    """The one validation error's message, without pydantic's `Value error, ` prefix; the
    error is at field `at` (the whole model when empty)."""
    with pytest.raises(ValidationError) as exc:
        model(**fields)
    (error,) = exc.value.errors()
    assert error["loc"] == at
    return error["msg"].removeprefix("Value error, ")


def hook_refusal(url: str) -> str:
    with pytest.raises(ValueError) as exc:
        check_hook_url(url)
    return str(exc.value)


def header(name: str = "beta") -> StepArgs:
    return StepArgs(set_header_route=HeaderRouteArgs(name=name, header="X-Canary", value="1"))


def mirror(name: str = "shadow") -> StepArgs:
    return StepArgs(set_mirror_route=MirrorRouteArgs(name=name))


# == strategies.py ==========================================================================

# -- header routes ---------------------------------------------------------------------------


def test_a_header_route_name_of_40_characters_is_accepted_and_41_refused() -> None:
    assert HeaderRouteArgs(name="a" * 40, header="X-Canary", value="1").name == "a" * 40
    message = refusal(HeaderRouteArgs, ("name",), name="a" * 41, header="X-Canary", value="1")
    assert message == f"{'a' * 41!r} {DNS_LABEL_40}"


def test_a_header_route_name_that_is_not_a_dns_label_is_refused() -> None:
    message = refusal(HeaderRouteArgs, ("name",), name="Beta", header="X-Canary", value="1")
    assert message == f"'Beta' {DNS_LABEL_40}"


@pytest.mark.parametrize("field", ["header", "cookie"])
def test_a_header_or_cookie_name_that_is_not_a_token_is_refused(field: str) -> None:
    message = refusal(HeaderRouteArgs, (field,), name="beta", value="1", **{field: "X Canary"})
    assert message == "'X Canary' is not a header or cookie name (an RFC 9110 token)"


def test_a_header_route_with_both_header_and_cookie_is_refused() -> None:
    message = refusal(HeaderRouteArgs, name="beta", header="X-Canary", cookie="beta", value="1")
    assert message == "a header route matches exactly one of header or cookie"


def test_a_header_route_with_neither_header_nor_cookie_is_refused() -> None:
    message = refusal(HeaderRouteArgs, name="beta", value="1")
    assert message == "a header route matches exactly one of header or cookie"


@pytest.mark.parametrize("name", ["Cookie", "cookie", "COOKIE"])
def test_a_header_route_on_the_cookie_header_is_refused(name: str) -> None:
    message = refusal(HeaderRouteArgs, name="beta", header=name, value="a=1")
    assert message == "match a cookie with `cookie: <name>`, not `header: Cookie`"


def test_a_header_route_with_an_empty_value_is_refused() -> None:
    message = refusal(HeaderRouteArgs, name="beta", header="X-Canary", value="")
    assert message == "a header route needs a non-empty value"


@pytest.mark.parametrize("value", ["", "a b", 'a"b', "a,b", "a;b", "a\\b"])
def test_a_cookie_route_value_that_is_not_cookie_octets_is_refused(value: str) -> None:
    message = refusal(HeaderRouteArgs, name="beta", cookie="beta", value=value)
    assert message == (
        f"cookie value {value!r} must be non-empty cookie-octets (no spaces, quotes, commas, "
        "semicolons or backslashes)"
    )


def test_a_header_value_may_hold_what_a_cookie_value_may_not() -> None:
    route = HeaderRouteArgs(name="beta", header="X-Canary", value="a b; c")
    assert route.render()["match"][0]["headerValue"] == {"exact": "a b; c"}


def test_a_header_route_renders_an_exact_match_on_its_header() -> None:
    route = HeaderRouteArgs(name="beta", header="X-Canary", value="yes")
    assert route.render() == {
        "name": "beta",
        "match": [{"headerName": "X-Canary", "headerValue": {"exact": "yes"}}],
    }


def test_a_cookie_route_renders_a_regex_on_the_cookie_header() -> None:
    route = HeaderRouteArgs(name="beta", cookie="canary", value="a.b")
    assert route.render() == {
        "name": "beta",
        "match": [
            {"headerName": "Cookie", "headerValue": {"regex": r"^(.*; )?canary=a\.b(;.*)?$"}}
        ],
    }


@pytest.mark.parametrize(
    ("cookie", "hit"),
    [
        ("canary=yes", True),
        ("a=1; canary=yes", True),
        ("canary=yes; b=2", True),
        ("a=1; canary=yes; b=2", True),
        ("xcanary=yes", False),
        ("canary=yesno", False),
        ("canary=no", False),
    ],
)
def test_the_cookie_route_matches_the_pair_alone_or_between_others(cookie: str, hit: bool) -> None:
    route = HeaderRouteArgs(name="beta", cookie="canary", value="yes").render()
    pattern = route["match"][0]["headerValue"]["regex"]
    assert bool(re.match(pattern, cookie)) is hit


# -- mirror routes -----------------------------------------------------------------------------


def test_a_mirror_route_name_of_40_characters_is_accepted_and_41_refused() -> None:
    assert MirrorRouteArgs(name="m" * 40).name == "m" * 40
    assert refusal(MirrorRouteArgs, ("name",), name="m" * 41) == f"{'m' * 41!r} {DNS_LABEL_40}"


@pytest.mark.parametrize("prefix", ["api", "", "/a b", "https://x/api"])
def test_a_mirror_path_prefix_that_is_not_an_absolute_path_is_refused(prefix: str) -> None:
    message = refusal(MirrorRouteArgs, ("path_prefix",), name="shadow", path_prefix=prefix)
    assert message == f"path_prefix {prefix!r} must be an absolute URL path such as /api"


def test_a_mirror_route_renders_its_share_method_and_path() -> None:
    route = MirrorRouteArgs(name="shadow", percentage=30, method="HEAD", path_prefix="/api")
    assert route.render() == {
        "name": "shadow",
        "percentage": 30,
        "match": [{"method": {"exact": "HEAD"}, "path": {"prefix": "/api"}}],
    }


def test_a_mirror_route_copies_every_get_under_the_root_by_default() -> None:
    assert MirrorRouteArgs(name="shadow").render() == {
        "name": "shadow",
        "percentage": 100,
        "match": [{"method": {"exact": "GET"}, "path": {"prefix": "/"}}],
    }


# -- steps -------------------------------------------------------------------------------------

STEP_KINDS = (
    "a step is either set_weight, a pause, set_header_route, set_mirror_route or "
    "set_canary_replicas, exactly one of them"
)


def test_a_step_with_a_pause_length_is_a_timed_pause() -> None:
    step = StepArgs(pause_seconds=90)
    assert step.pause is True
    assert step.render() == {"pause": {"duration": "90s"}}


def test_a_pause_without_a_length_waits_for_a_promote() -> None:
    assert StepArgs(pause=True).render() == {"pause": {}}


def test_an_empty_step_is_refused() -> None:
    assert refusal(StepArgs) == STEP_KINDS


@pytest.mark.parametrize(
    "fields",
    [
        {"set_weight": 10, "pause": True},
        {"set_weight": 10, "pause_seconds": 30},
        {"set_weight": 0, "set_canary_replicas": 1},
        {"pause": True, "set_canary_replicas": 1},
        {"set_weight": 10, "set_mirror_route": {"name": "shadow"}},
        {
            "set_header_route": {"name": "beta", "header": "X-Canary", "value": "1"},
            "set_mirror_route": {"name": "shadow"},
        },
        {"set_weight": 5, "pause": True, "set_canary_replicas": 2},
    ],
)
def test_a_step_of_two_kinds_is_refused(fields: dict[str, Any]) -> None:
    assert refusal(StepArgs, **fields) == STEP_KINDS


def test_each_step_kind_renders_its_argo_step() -> None:
    assert StepArgs(set_weight=0).render() == {"setWeight": 0}
    assert StepArgs(set_weight=35).render() == {"setWeight": 35}
    assert StepArgs(set_canary_replicas=3).render() == {"setCanaryScale": {"replicas": 3}}
    assert header().render() == {
        "setHeaderRoute": {
            "name": "beta",
            "match": [{"headerName": "X-Canary", "headerValue": {"exact": "1"}}],
        }
    }
    assert mirror().render() == {
        "setMirrorRoute": {
            "name": "shadow",
            "percentage": 100,
            "match": [{"method": {"exact": "GET"}, "path": {"prefix": "/"}}],
        }
    }


def test_a_step_names_the_route_it_sets() -> None:
    assert header("beta").route_name == "beta"
    assert mirror("shadow").route_name == "shadow"
    assert StepArgs(set_weight=10).route_name is None
    assert StepArgs(pause=True).route_name is None


# -- analysis, checks, notifications ---------------------------------------------------------


def test_a_bounded_analysis_lasts_its_interval_times_its_count() -> None:
    assert AnalysisArgs(interval_seconds=30, count=4).duration_seconds == 120
    assert AnalysisArgs().duration_seconds == 300


@pytest.mark.parametrize(
    "url",
    [
        "https://checks.example.com/run",
        "https://checks.example.com:8443/run?x=1",
        "http://loadtest.perf.svc:8080/run",
        "http://loadtest.perf.svc.cluster.local/run",
        "HTTPS://Checks.Example.com/run",
    ],
)
def test_a_check_url_over_https_or_to_an_in_cluster_service_is_accepted(url: str) -> None:
    assert check_hook_url(url) == url


@pytest.mark.parametrize("url", ["ftp://checks.example.com/run", "checks.example.com/run", ""])
def test_a_check_url_that_is_not_http_is_refused(url: str) -> None:
    assert hook_refusal(url) == f"{url!r} is not an http(s) URL with a host"


@pytest.mark.parametrize("url", ["https:///run", "http://:8080/run"])
def test_a_check_url_without_a_host_is_refused(url: str) -> None:
    assert hook_refusal(url) == f"{url!r} is not an http(s) URL with a host"


def test_a_check_url_that_does_not_parse_is_refused_with_the_parser_s_reason() -> None:
    assert hook_refusal("https://[::1/run") == "'https://[::1/run' is not a URL: Invalid IPv6 URL"


@pytest.mark.parametrize(
    "url",
    [
        "https://bot:s3cret@checks.example.com/run",
        "https://bot@checks.example.com/run",
        "https://:s3cret@checks.example.com/run",
    ],
)
def test_a_check_url_with_credentials_is_refused_without_echoing_them(url: str) -> None:
    message = hook_refusal(url)
    assert message == (
        "URL https://checks.example.com... carries credentials; put them in a header from a "
        "secret instead"
    )
    assert "s3cret" not in message and "bot" not in message


@pytest.mark.parametrize(
    "url",
    ["http://checks.example.com/run", "http://svc.example.com/run", "http://perf.svcx/run"],
)
def test_a_check_url_over_plain_http_outside_the_cluster_is_refused(url: str) -> None:
    assert hook_refusal(url) == (
        f"{url!r}: plain http is allowed only to an in-cluster Service "
        "(<svc>.<namespace>.svc[.cluster.local]); use https"
    )


def test_a_pre_rollout_check_refuses_a_bad_url() -> None:
    message = refusal(PreRolloutArgs, ("url",), url="http://checks.example.com/run")
    assert message.startswith("'http://checks.example.com/run': plain http is allowed only")


@pytest.mark.parametrize("path", ["$.ok", "{$.ok", "$.ok}", "{.ok}", "ok"])
def test_a_json_path_not_in_argo_s_braces_is_refused(path: str) -> None:
    message = refusal(
        PreRolloutArgs, ("json_path",), url="https://checks.example.com", json_path=path
    )
    assert message == f"json_path {path!r} must look like {{$.field}} (Argo's jsonPath)"


def test_a_json_path_in_argo_s_braces_is_accepted() -> None:
    check = PreRolloutArgs(url="https://checks.example.com", json_path="{$.result.passed}")
    assert check.json_path == "{$.result.passed}"


def test_a_notifier_service_that_is_not_a_dns_label_is_refused() -> None:
    message = refusal(NotificationsArgs, ("service",), service="Team_Hook")
    assert message == (
        "'Team_Hook' is not a DNS-1123 label: lower-case letters, digits and '-', starting and "
        "ending with a letter or digit, at most 63 characters"
    )


def test_notifications_without_triggers_are_refused() -> None:
    assert (
        refusal(NotificationsArgs, ("triggers",), triggers=())
        == "triggers is empty; name at least one"
    )


def test_notifications_subscribe_each_trigger_once_in_the_order_given() -> None:
    triggers = ("on-rollout-paused", "on-analysis-run-failed", "on-rollout-paused")
    notes = NotificationsArgs(service="ops", recipient="#deploys", triggers=triggers)
    assert notes.triggers == ("on-rollout-paused", "on-analysis-run-failed")
    assert notes.annotations() == {
        "notifications.argoproj.io/subscribe.on-rollout-paused.ops": "#deploys",
        "notifications.argoproj.io/subscribe.on-analysis-run-failed.ops": "#deploys",
    }


def test_notifications_by_default_tell_slipway_of_promote_abort_and_pause() -> None:
    assert NotificationsArgs().annotations() == {
        "notifications.argoproj.io/subscribe.on-rollout-completed.slipway": "",
        "notifications.argoproj.io/subscribe.on-rollout-aborted.slipway": "",
        "notifications.argoproj.io/subscribe.on-rollout-paused.slipway": "",
    }


# -- canary capacity -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weight", "floor", "stable", "pods"),
    [
        (0, 2, 10, 2),
        (10, 1, 15, 2),
        (3, 1, 67, 3),
        (1, 1, 101, 2),
        (50, 1, 10, 5),
        (75, 1, 4, 3),
        (100, 1, 7, 7),
        (25, 4, 8, 4),
    ],
)
def test_a_canary_runs_its_weight_s_share_of_stable_rounded_up_never_below_its_floor(
    weight: int, floor: int, stable: int, pods: int
) -> None:
    assert canary_capacity(weight, floor, stable) == pods


def test_the_strategy_sizes_its_canary_from_its_weight_and_floor() -> None:
    strategy = StrategyArgs(type="canary", canary=TrackArgs(), weight=30, canary_replicas=1)
    assert strategy.canary_capacity(10) == 3
    assert strategy.canary_capacity(2) == 1


# -- the strategy's refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"type": "rolling"}, "(type 'rolling', engine 'native')"),
        ({"type": "blue-green"}, "(type 'blue-green', engine 'native')"),
        ({"type": "canary", "engine": "argo-rollouts"}, "(type 'canary', engine 'argo-rollouts')"),
    ],
)
def test_a_weight_outside_a_native_canary_is_refused(fields: dict[str, Any], where: str) -> None:
    message = refusal(StrategyArgs, weight=10, canary=TrackArgs(), **fields)
    assert message == (
        f"weight 10 applies to a native canary only {where}; Argo Rollouts sets weights from steps"
    )


def test_a_weight_without_a_canary_track_is_refused() -> None:
    message = refusal(StrategyArgs, type="canary", weight=10)
    assert message == "weight 10 needs a canary track to send traffic to"


def test_a_native_canary_with_a_track_takes_a_weight() -> None:
    assert StrategyArgs(type="canary", canary=TrackArgs(), weight=100).weight == 100


def test_weight_zero_needs_no_canary_track_on_any_strategy() -> None:
    for kind in ("rolling", "blue-green", "canary"):
        assert StrategyArgs(type=kind, weight=0).canary is None


def test_an_argo_canary_without_steps_is_refused() -> None:
    message = refusal(StrategyArgs, type="canary", engine="argo-rollouts", steps=())
    assert message == "an argo-rollouts canary needs at least one step"


def test_only_an_argo_canary_needs_steps() -> None:
    assert StrategyArgs(type="canary", steps=()).steps == ()
    assert StrategyArgs(type="blue-green", engine="argo-rollouts", steps=()).steps == ()


def test_argo_rollouts_with_the_rolling_type_is_refused() -> None:
    message = refusal(StrategyArgs, engine="argo-rollouts")
    assert message == (
        "engine argo-rollouts needs type blue-green or canary (rolling is a Deployment)"
    )


def test_an_argo_blue_green_scale_down_delay_within_the_analysis_is_refused() -> None:
    message = refusal(
        StrategyArgs,
        type="blue-green",
        engine="argo-rollouts",
        scale_down_delay_seconds=120,
        analysis=AnalysisArgs(interval_seconds=30, count=4),
    )
    assert message == (
        "scale_down_delay_seconds 120 must exceed the post-promotion analysis (30 s x 4 = "
        "120 s): a failed analysis switches back to the old version, which must still be "
        "running; leave it unset to derive it"
    )


def test_an_argo_blue_green_scale_down_delay_past_the_analysis_is_accepted() -> None:
    an = AnalysisArgs(interval_seconds=30, count=4)
    strategy = StrategyArgs(
        type="blue-green", engine="argo-rollouts", scale_down_delay_seconds=121, analysis=an
    )
    assert strategy.scale_down_delay == 121


def test_a_short_scale_down_delay_is_left_to_argo_canaries_and_native_slots() -> None:
    canary = StrategyArgs(type="canary", engine="argo-rollouts", scale_down_delay_seconds=0)
    assert canary.scale_down_delay == 0
    native = StrategyArgs(type="blue-green", scale_down_delay_seconds=10)
    assert native.scale_down_delay == 10


@pytest.mark.parametrize(
    ("count", "failures", "inconclusive"), [(2, 3, 0), (2, 0, 3), (2, 3, 3), (1, 2, 2)]
)
def test_an_argo_blue_green_analysis_shorter_than_its_limits_is_refused(
    count: int, failures: int, inconclusive: int
) -> None:
    an = AnalysisArgs(count=count, failure_limit=failures, inconclusive_limit=inconclusive)
    message = refusal(StrategyArgs, type="blue-green", engine="argo-rollouts", analysis=an)
    assert message == (
        f"analysis count {count} must be at least failure_limit ({failures}) and "
        f"inconclusive_limit ({inconclusive}): Argo Rollouts refuses a bounded metric with "
        "fewer measurements than its limits"
    )


def test_an_argo_blue_green_analysis_as_long_as_its_limits_is_accepted() -> None:
    an = AnalysisArgs(count=3, failure_limit=3, inconclusive_limit=1)
    assert StrategyArgs(type="blue-green", engine="argo-rollouts", analysis=an).analysis == an


def test_only_a_bounded_analysis_must_outlast_its_limits() -> None:
    an = AnalysisArgs(count=1, failure_limit=5, inconclusive_limit=5)
    assert StrategyArgs(type="canary", engine="argo-rollouts", analysis=an).analysis == an
    assert StrategyArgs(type="blue-green", analysis=an).analysis == an


@pytest.mark.parametrize(
    ("steps", "index", "route"),
    [
        ((header("beta"), StepArgs(set_weight=10)), 0, "beta"),
        ((StepArgs(set_weight=0), mirror("shadow")), 1, "shadow"),
        ((StepArgs(pause=True), StepArgs(set_weight=0), header("ab")), 2, "ab"),
    ],
)
def test_a_route_before_the_new_version_has_pods_is_refused(
    steps: tuple[StepArgs, ...], index: int, route: str
) -> None:
    message = refusal(StrategyArgs, type="canary", engine="argo-rollouts", steps=steps)
    assert message == (
        f"step {index} sets route {route!r} before the new version has pods: put a set_weight "
        "above 0 or a set_canary_replicas step before it"
    )


@pytest.mark.parametrize(
    "first", [StepArgs(set_weight=5), StepArgs(set_canary_replicas=1)], ids=["weight", "scale"]
)
def test_a_route_after_a_weight_or_a_canary_scale_is_accepted(first: StepArgs) -> None:
    steps = (first, StepArgs(pause=True), header("beta"), mirror("shadow"))
    strategy = StrategyArgs(type="canary", engine="argo-rollouts", steps=steps)
    assert strategy.managed_routes == ["beta", "shadow"]


def test_a_route_first_is_checked_on_canaries_only() -> None:
    strategy = StrategyArgs(type="blue-green", engine="argo-rollouts", steps=(header("beta"),))
    assert strategy.managed_routes == ["beta"]


@pytest.mark.parametrize("order", ["header-first", "mirror-first"])
def test_one_route_name_for_a_header_and_a_mirror_route_is_refused(order: str) -> None:
    routes = [header("beta"), mirror("beta")]
    if order == "mirror-first":
        routes.reverse()
    steps = (StepArgs(set_weight=5), *routes)
    message = refusal(StrategyArgs, type="canary", engine="argo-rollouts", steps=steps)
    assert message == (
        "route name 'beta' is used by a header and a mirror route; give each its own name"
    )


def test_a_route_set_twice_with_the_same_kind_is_one_managed_route() -> None:
    steps = (StepArgs(set_weight=5), header("beta"), mirror("shadow"), header("beta"))
    strategy = StrategyArgs(type="canary", engine="argo-rollouts", steps=steps)
    assert strategy.managed_routes == ["beta", "shadow"]


# -- the strategy's renderings -----------------------------------------------------------------


def test_after_a_fixed_canary_scale_the_next_weight_lets_pods_follow_the_weight_again() -> None:
    steps = (
        StepArgs(set_weight=5),
        StepArgs(set_canary_replicas=2),
        header("beta"),
        StepArgs(pause=True),
        StepArgs(set_weight=20),
        StepArgs(set_weight=40),
        StepArgs(set_canary_replicas=3),
        StepArgs(set_weight=60),
    )
    strategy = StrategyArgs(type="canary", engine="argo-rollouts", steps=steps)
    assert strategy.rendered_steps() == [
        {"setWeight": 5},
        {"setCanaryScale": {"replicas": 2}},
        {
            "setHeaderRoute": {
                "name": "beta",
                "match": [{"headerName": "X-Canary", "headerValue": {"exact": "1"}}],
            }
        },
        {"pause": {}},
        {"setCanaryScale": {"matchTrafficWeight": True}},
        {"setWeight": 20},
        {"setWeight": 40},
        {"setCanaryScale": {"replicas": 3}},
        {"setCanaryScale": {"matchTrafficWeight": True}},
        {"setWeight": 60},
    ]


def test_the_default_steps_go_10_25_50_with_timed_pauses() -> None:
    assert StrategyArgs(type="canary", engine="argo-rollouts").rendered_steps() == [
        {"setWeight": 10},
        {"pause": {"duration": "300s"}},
        {"setWeight": 25},
        {"pause": {"duration": "300s"}},
        {"setWeight": 50},
        {"pause": {"duration": "600s"}},
    ]


def test_no_routes_means_no_managed_routes() -> None:
    assert StrategyArgs(type="canary", engine="argo-rollouts").managed_routes == []


def test_the_scale_down_delay_is_derived_from_the_analysis_for_blue_green_and_300_s_else() -> None:
    an = AnalysisArgs(interval_seconds=30, count=4)
    blue_green = StrategyArgs(type="blue-green", engine="argo-rollouts", analysis=an)
    assert blue_green.scale_down_delay == 180
    assert StrategyArgs(type="canary", engine="argo-rollouts", analysis=an).scale_down_delay == 300


def test_each_slot_and_the_canary_track_have_their_own_build() -> None:
    blue, green, canary = (TrackArgs(image=f"ghcr.io/acme/shop:{v}") for v in ("1", "2", "3"))
    strategy = StrategyArgs(type="canary", blue=blue, green=green, canary=canary)
    assert strategy.track("blue") is blue
    assert strategy.track("green") is green
    assert strategy.track("canary") is canary


def test_an_undeclared_canary_track_runs_the_service_s_own_build() -> None:
    assert StrategyArgs(type="canary").track("canary") == TrackArgs()


def test_the_idle_slot_is_the_one_not_active() -> None:
    assert StrategyArgs(type="blue-green").idle_slot == "green"
    assert StrategyArgs(type="blue-green", active_slot="green").idle_slot == "blue"


# == canary.py ==============================================================================

GATEWAY = TrafficArgs(layer="gateway-api")
SHOP = {"app.kubernetes.io/name": "shop"}


def build(args: MicroserviceArgs) -> tuple[dict[str, Record], Microservice]:
    """The records of one Microservice `shop`, and the component (what the builder returned)."""
    made: list[Microservice] = []
    result = run_program(
        lambda: made.append(Microservice("shop", args)),
        project="slipway",
        stack="test",
        config={},
        secret_keys=[],
    )
    return {r.name: r for r in result.records}, made[0]


def named(resource: pulumi.Resource | None) -> str | None:
    return None if resource is None else resource.pulumi_resource_name


def kinds(records: dict[str, Record]) -> dict[str, str]:
    """Child resource name -> its type's last segment (e.g. `apps/v1:Deployment`)."""
    return {n: r.type.split(":", 1)[1] for n, r in records.items() if n != "shop"}


def depends_on(records: dict[str, Record], name: str) -> list[str]:
    """Names of the resources `name` waits for."""
    return sorted(urn.rsplit("::", 1)[1] for urn in records[name].dependencies)


def meta(name: str, labels: dict[str, str] | None = None, **annotations: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "labels": {
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/name": "shop",
            "app.kubernetes.io/part-of": "slipway",
            "cost-center": "shared",
            "team": "retail",
            **(labels or {}),
        },
        "name": name,
        "namespace": "retail",
    }
    if annotations:
        out["annotations"] = annotations
    return out


FORCED = {"pulumi.com/patchForce": "true"}


def test_a_canary_with_istio_renders_two_tracks_their_hpas_one_service_and_one_pdb() -> None:
    records, shop = build(make_args(strategy=canary(weight=25), traffic=istio()))
    assert kinds(records) == {
        "shop-sa": "core/v1:ServiceAccount",
        "shop-config": "core/v1:ConfigMap",
        "shop-stable": "apps/v1:Deployment",
        "shop-canary": "apps/v1:Deployment",
        "shop-hpa-canary": "autoscaling/v2:HorizontalPodAutoscaler",
        "shop-service": "core/v1:Service",
        "shop-hpa": "autoscaling/v2:HorizontalPodAutoscaler",
        "shop-pdb": "policy/v1:PodDisruptionBudget",
        "shop-peerauth": "security.istio.io/v1:PeerAuthentication",
        "shop-destrule": "networking.istio.io/v1:DestinationRule",
        "shop-vs": "networking.istio.io/v1:VirtualService",
        "shop-netpol": "networking.k8s.io/v1:NetworkPolicy",
    }
    assert {
        "deployment": named(shop.deployment),
        "canary_deployment": named(shop.canary_deployment),
        "canary_hpa": named(shop.canary_hpa),
        "hpa": named(shop.hpa),
        "service": named(shop.service),
        "pdb": named(shop.pdb),
        "virtual_service": named(shop.virtual_service),
        "destination_rule": named(shop.destination_rule),
        "http_route": named(shop.http_route),
    } == {
        "deployment": "shop-stable",
        "canary_deployment": "shop-canary",
        "canary_hpa": "shop-hpa-canary",
        "hpa": "shop-hpa",
        "service": "shop-service",
        "pdb": "shop-pdb",
        "virtual_service": "shop-vs",
        "destination_rule": "shop-destrule",
        "http_route": None,
    }
    assert shop.track_services == {}
    assert shop.track_config_maps == {}


def test_each_canary_track_deployment_is_named_labelled_and_selected_by_its_track() -> None:
    records = run(make_args(strategy=canary(weight=25), traffic=istio()))
    stable, canary_track = records["shop-stable"].inputs, records["shop-canary"].inputs
    assert stable["metadata"] == meta("shop-stable", {"track": "stable"})
    assert canary_track["metadata"] == meta("shop-canary", {"track": "canary"}, **FORCED)
    for track, inputs in (("stable", stable), ("canary", canary_track)):
        assert inputs["spec"]["selector"] == {"matchLabels": {**SHOP, "track": track}}
        assert inputs["spec"]["template"]["metadata"]["labels"]["track"] == track
    assert "replicas" not in stable["spec"], "the stable track's count is its HPA's"
    assert canary_track["spec"]["replicas"] == 2


def test_the_canary_track_has_its_own_hpa_held_at_the_weight_s_share() -> None:
    records = run(make_args(strategy=canary(weight=75, live_replicas=4), traffic=istio()))
    hpa = records["shop-hpa-canary"].inputs
    assert hpa["metadata"] == meta("shop-canary")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "shop-canary",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 5)
    assert records["shop-canary"].inputs["spec"]["replicas"] == 3


def test_the_service_hpa_scales_the_stable_track() -> None:
    hpa = run(make_args(strategy=canary(weight=75, live_replicas=4), traffic=istio()))["shop-hpa"]
    assert hpa.inputs["metadata"] == meta("shop")
    assert hpa.inputs["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "shop-stable",
    }
    assert hpa.inputs["spec"]["minReplicas"] == 2


def test_the_service_and_the_pdb_cover_both_canary_tracks() -> None:
    records = run(make_args(strategy=canary(weight=25), traffic=istio()))
    assert records["shop-service"].inputs["metadata"] == meta("shop")
    assert records["shop-service"].inputs["spec"]["selector"] == SHOP
    assert records["shop-pdb"].inputs["metadata"] == meta("shop")
    assert records["shop-pdb"].inputs["spec"]["selector"] == {"matchLabels": SHOP}


def test_a_canary_without_autoscaling_declares_its_count_unforced_and_has_no_hpa() -> None:
    args = make_args(
        strategy=canary(weight=50, canary_replicas=1), traffic=istio(), autoscaling=None, replicas=6
    )
    records, shop = build(args)
    assert records["shop-canary"].inputs["metadata"] == meta("shop-canary", {"track": "canary"})
    assert records["shop-canary"].inputs["spec"]["replicas"] == 3
    assert records["shop-stable"].inputs["spec"]["replicas"] == 6
    assert (shop.hpa, shop.canary_hpa) == (None, None)
    assert "shop-hpa-canary" not in records and "shop-hpa" not in records


@pytest.mark.parametrize(
    ("live", "autoscaling", "replicas", "reference"),
    [
        (None, AutoscalingArgs(min_replicas=3, max_replicas=9), 2, 3),
        (7, AutoscalingArgs(min_replicas=3, max_replicas=9), 2, 7),
        (2, AutoscalingArgs(min_replicas=3, max_replicas=9), 2, 3),
        (None, None, 5, 5),
        (8, None, 5, 8),
        (None, None, 0, 0),
    ],
)
def test_a_canary_is_measured_against_the_live_stable_size_or_the_least_it_runs(
    live: int | None, autoscaling: AutoscalingArgs | None, replicas: int, reference: int
) -> None:
    args = make_args(autoscaling=autoscaling, replicas=replicas)
    strategy = StrategyArgs(type="canary", canary=TrackArgs(), live_replicas=live)
    assert stable_reference(WorkloadKit(None, "shop", args), strategy) == reference


def test_the_live_stable_size_sizes_the_canary() -> None:
    strategy = canary(weight=50, canary_replicas=1, live_replicas=8)
    records = run(make_args(strategy=strategy, traffic=istio()))
    assert records["shop-canary"].inputs["spec"]["replicas"] == 4
    assert records["shop-hpa-canary"].inputs["spec"]["minReplicas"] == 4


def test_a_canary_track_selector_adds_the_track_to_the_service_selector() -> None:
    kit = WorkloadKit(None, "shop", make_args())
    assert track_selector(kit, "canary") == {**SHOP, "track": "canary"}
    assert kit.selector == SHOP


def test_the_istio_route_waits_for_both_tracks_and_splits_by_the_weight() -> None:
    records = run(make_args(strategy=canary(weight=25), traffic=istio()))
    assert depends_on(records, "shop-vs") == ["shop-canary", "shop-stable"]
    route = records["shop-vs"].inputs["spec"]["http"][0]["route"]
    assert [(r["destination"]["subset"], r["weight"]) for r in route] == [
        ("stable", 75),
        ("canary", 25),
    ]


def test_a_canary_with_the_gateway_api_renders_a_backend_service_per_track() -> None:
    records, shop = build(make_args(strategy=canary(weight=25), traffic=GATEWAY))
    assert {n: t for n, t in kinds(records).items() if "Service" in t} == {
        "shop-service": "core/v1:Service",
        "shop-service-stable": "core/v1:Service",
        "shop-service-canary": "core/v1:Service",
        "shop-sa": "core/v1:ServiceAccount",
    }
    for track in ("stable", "canary"):
        service = records[f"shop-service-{track}"].inputs
        assert service["metadata"] == meta(f"shop-{track}")
        assert service["spec"]["selector"] == {**SHOP, "track": track}
    assert {t: named(s) for t, s in shop.track_services.items()} == {
        "stable": "shop-service-stable",
        "canary": "shop-service-canary",
    }
    assert named(shop.http_route) == "shop-route"
    assert (shop.virtual_service, shop.destination_rule) == (None, None)
    assert depends_on(records, "shop-route") == ["shop-canary", "shop-stable"]
    rule = records["shop-route"].inputs["spec"]["rules"][0]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [
        ("shop-stable", 75),
        ("shop-canary", 25),
    ]


@pytest.mark.parametrize("traffic", [istio(), GATEWAY], ids=["istio", "gateway-api"])
def test_without_a_canary_track_only_stable_runs_and_takes_all_traffic(
    traffic: TrafficArgs,
) -> None:
    records, shop = build(make_args(strategy=StrategyArgs(type="canary"), traffic=traffic))
    assert (shop.canary_deployment, shop.canary_hpa) == (None, None)
    assert "shop-canary" not in records and "shop-hpa-canary" not in records
    route = "shop-vs" if traffic.layer == "istio" else "shop-route"
    assert depends_on(records, route) == ["shop-stable"]
    spec = records[route].inputs["spec"]
    if traffic.layer == "istio":
        split = [(r["destination"]["subset"], r["weight"]) for r in spec["http"][0]["route"]]
    else:
        split = [(b["name"], b["weight"]) for b in spec["rules"][0]["backendRefs"]]
    assert split == [("stable" if traffic.layer == "istio" else "shop-stable", 100)]


def test_a_canary_that_overrides_config_gets_its_own_configmap_stable_the_service_s() -> None:
    track = TrackArgs(image=NEW_IMAGE, config={"LOG_LEVEL": "debug"})
    strategy = StrategyArgs(type="canary", canary=track, weight=10)
    records, shop = build(make_args(strategy=strategy, traffic=istio()))
    config = records["shop-config-canary"].inputs
    assert config["data"] == {"LOG_LEVEL": "debug"}
    assert {t: named(c) for t, c in shop.track_config_maps.items()} == {
        "canary": "shop-config-canary"
    }

    def config_map_of(deployment: str) -> str:
        (container,) = records[deployment].inputs["spec"]["template"]["spec"]["containers"]
        (source,) = container["envFrom"]
        return source["configMapRef"]["name"]

    assert config_map_of("shop-canary") == config["metadata"]["name"]
    assert config_map_of("shop-stable") == records["shop-config"].inputs["metadata"]["name"]
    assert depends_on(records, "shop-canary") == ["shop-config", "shop-config-canary"]
    assert depends_on(records, "shop-stable") == ["shop-config"]


def test_the_canary_track_runs_its_own_image_and_stable_the_service_s() -> None:
    records = run(make_args(strategy=canary(weight=5), traffic=istio()))
    images = {
        d: records[d].inputs["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in ("shop-stable", "shop-canary")
    }
    assert images == {"shop-stable": IMAGE, "shop-canary": NEW_IMAGE}


# == bluegreen.py ===========================================================================


def slot_meta(slot: str, **annotations: str) -> dict[str, Any]:
    return meta(f"shop-{slot}", {"slot": slot}, **annotations)


def test_blue_green_renders_two_slots_each_with_its_hpa_and_pdb_and_two_services() -> None:
    records, shop = build(make_args(strategy=blue_green()))
    assert kinds(records) == {
        "shop-sa": "core/v1:ServiceAccount",
        "shop-config": "core/v1:ConfigMap",
        "shop-blue": "apps/v1:Deployment",
        "shop-green": "apps/v1:Deployment",
        "shop-hpa-blue": "autoscaling/v2:HorizontalPodAutoscaler",
        "shop-hpa-green": "autoscaling/v2:HorizontalPodAutoscaler",
        "shop-pdb-blue": "policy/v1:PodDisruptionBudget",
        "shop-pdb-green": "policy/v1:PodDisruptionBudget",
        "shop-service": "core/v1:Service",
        "shop-preview": "core/v1:Service",
        "shop-netpol": "networking.k8s.io/v1:NetworkPolicy",
    }
    assert {s: named(d) for s, d in shop.slots.items()} == {
        "blue": "shop-blue",
        "green": "shop-green",
    }
    assert {s: named(h) for s, h in shop.slot_hpas.items()} == {
        "blue": "shop-hpa-blue",
        "green": "shop-hpa-green",
    }
    assert {s: named(p) for s, p in shop.slot_pdbs.items()} == {
        "blue": "shop-pdb-blue",
        "green": "shop-pdb-green",
    }
    assert (named(shop.service), named(shop.preview_service)) == ("shop-service", "shop-preview")
    assert shop.track_config_maps == {}


def test_each_slot_deployment_is_named_labelled_and_selected_by_its_slot() -> None:
    records = run(make_args(strategy=blue_green()))
    for slot in ("blue", "green"):
        inputs = records[f"shop-{slot}"].inputs
        assert inputs["metadata"] == slot_meta(slot)
        assert inputs["spec"]["selector"] == {"matchLabels": {**SHOP, "slot": slot}}
        assert inputs["spec"]["template"]["metadata"]["labels"]["slot"] == slot
        assert "replicas" not in inputs["spec"], "nothing held: the slot's HPA owns its count"


def test_each_slot_has_an_hpa_and_a_pdb_named_and_aimed_at_it() -> None:
    records = run(make_args(strategy=blue_green()))
    for slot in ("blue", "green"):
        hpa = records[f"shop-hpa-{slot}"].inputs
        assert hpa["metadata"] == meta(f"shop-{slot}")
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"shop-{slot}",
        }
        assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
        pdb = records[f"shop-pdb-{slot}"].inputs
        assert pdb["metadata"] == meta(f"shop-{slot}")
        assert pdb["spec"]["selector"] == {"matchLabels": {**SHOP, "slot": slot}}


@pytest.mark.parametrize(("active", "idle"), [("blue", "green"), ("green", "blue")])
def test_the_live_service_selects_and_waits_for_the_active_slot_the_preview_the_idle(
    active: str, idle: str
) -> None:
    records = run(make_args(strategy=blue_green(active_slot=active)))
    live, preview = records["shop-service"].inputs, records["shop-preview"].inputs
    assert live["metadata"] == meta("shop")
    assert live["spec"]["selector"] == {**SHOP, "slot": active}
    assert depends_on(records, "shop-service") == [f"shop-{active}"]
    assert preview["metadata"] == meta("shop-preview")
    assert preview["spec"]["selector"] == {**SHOP, "slot": idle}
    assert depends_on(records, "shop-preview") == []


def test_a_slot_selector_adds_the_slot_to_the_service_selector() -> None:
    kit = WorkloadKit(None, "shop", make_args())
    assert slot_selector(kit, "green") == {**SHOP, "slot": "green"}
    assert kit.selector == SHOP


@pytest.mark.parametrize(
    ("live", "autoscaling", "replicas", "held"),
    [
        (None, AutoscalingArgs(min_replicas=3, max_replicas=9), 2, None),
        (None, None, 4, None),
        (7, AutoscalingArgs(min_replicas=3, max_replicas=9), 2, 7),
        (1, AutoscalingArgs(min_replicas=3, max_replicas=9), 2, 3),
        (2, None, 4, 4),
        (6, None, 4, 6),
    ],
)
def test_a_warm_slot_is_held_at_the_live_count_never_below_the_service_s_floor(
    live: int | None, autoscaling: AutoscalingArgs | None, replicas: int, held: int | None
) -> None:
    kit = WorkloadKit(None, "shop", make_args(autoscaling=autoscaling, replicas=replicas))
    assert held_replicas(kit, blue_green(live_replicas=live)) == held


def test_a_live_count_holds_both_autoscaled_slots_forced_and_raises_both_hpas() -> None:
    records = run(make_args(strategy=blue_green(live_replicas=4)))
    for slot in ("blue", "green"):
        assert records[f"shop-{slot}"].inputs["metadata"] == slot_meta(slot, **FORCED)
        assert records[f"shop-{slot}"].inputs["spec"]["replicas"] == 4
        assert records[f"shop-hpa-{slot}"].inputs["spec"]["minReplicas"] == 4


@pytest.mark.parametrize(("active", "idle"), [("blue", "green"), ("green", "blue")])
def test_a_parked_idle_slot_holds_its_count_without_an_hpa(active: str, idle: str) -> None:
    records, shop = build(make_args(strategy=blue_green(active_slot=active, idle_replicas=0)))
    assert records[f"shop-{idle}"].inputs["metadata"] == slot_meta(idle, **FORCED)
    assert records[f"shop-{idle}"].inputs["spec"]["replicas"] == 0
    assert f"shop-hpa-{idle}" not in records
    assert list(shop.slot_hpas) == [active]
    assert sorted(shop.slot_pdbs) == ["blue", "green"], "a parked slot keeps its PDB"
    assert records[f"shop-{active}"].inputs["metadata"] == slot_meta(active)
    assert "replicas" not in records[f"shop-{active}"].inputs["spec"]


def test_parking_the_old_slot_ends_the_hold_on_the_live_slot_s_hpa() -> None:
    records = run(make_args(strategy=blue_green(live_replicas=4, idle_replicas=1)))
    assert records["shop-blue"].inputs["spec"]["replicas"] == 4, "the declared count stays"
    assert records["shop-hpa-blue"].inputs["spec"]["minReplicas"] == 2
    assert records["shop-green"].inputs["spec"]["replicas"] == 1
    assert "shop-hpa-green" not in records


def test_fixed_replica_slots_declare_their_counts_unforced_and_have_no_hpas() -> None:
    args = make_args(
        strategy=blue_green(live_replicas=5, idle_replicas=1), autoscaling=None, replicas=3
    )
    records, shop = build(args)
    assert records["shop-blue"].inputs["metadata"] == slot_meta("blue")
    assert records["shop-blue"].inputs["spec"]["replicas"] == 5
    assert records["shop-green"].inputs["metadata"] == slot_meta("green")
    assert records["shop-green"].inputs["spec"]["replicas"] == 1
    assert shop.slot_hpas == {}


def test_fixed_replica_slots_without_a_hold_run_the_service_s_count() -> None:
    records = run(make_args(strategy=blue_green(), autoscaling=None, replicas=3))
    for slot in ("blue", "green"):
        assert records[f"shop-{slot}"].inputs["metadata"] == slot_meta(slot)
        assert records[f"shop-{slot}"].inputs["spec"]["replicas"] == 3


def test_a_slot_that_overrides_config_gets_its_own_configmap_the_other_the_service_s() -> None:
    strategy = blue_green(green=TrackArgs(image=NEW_IMAGE, config={"LOG_LEVEL": "debug"}))
    records, shop = build(make_args(strategy=strategy))
    config = records["shop-config-green"].inputs
    assert config["data"] == {"LOG_LEVEL": "debug"}
    assert {s: named(c) for s, c in shop.track_config_maps.items()} == {
        "green": "shop-config-green"
    }

    def config_map_of(deployment: str) -> str:
        (container,) = records[deployment].inputs["spec"]["template"]["spec"]["containers"]
        (source,) = container["envFrom"]
        return source["configMapRef"]["name"]

    assert config_map_of("shop-green") == config["metadata"]["name"]
    assert config_map_of("shop-blue") == records["shop-config"].inputs["metadata"]["name"]
    assert depends_on(records, "shop-green") == ["shop-config", "shop-config-green"]


def test_each_slot_runs_its_own_image() -> None:
    strategy = blue_green(blue=TrackArgs(image="ghcr.io/acme/shop:1.5.0"))
    records = run(make_args(strategy=strategy))
    images = {
        d: records[d].inputs["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in ("shop-blue", "shop-green")
    }
    assert images == {"shop-blue": "ghcr.io/acme/shop:1.5.0", "shop-green": NEW_IMAGE}


# == rollouts.py ============================================================================

POD_TEMPLATE_HASH = {"name": "pod-template-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}
ANALYSIS_ARGS = [
    {"name": "service-name", "value": "shop"},
    {"name": "namespace", "value": "retail"},
    POD_TEMPLATE_HASH,
]
PODS = 'namespace="{{args.namespace}}",pod=~"{{args.service-name}}-{{args.pod-template-hash}}-.*"'
ANALYSIS = AnalysisArgs(
    prometheus_address="http://prom.obs.svc:9090",
    success_rate_min=0.995,
    latency_p99_max_seconds=0.25,
    interval_seconds=45,
    failure_limit=1,
    count=6,
    requests_metric="reqs_total",
    duration_metric="req_seconds",
    min_requests=50,
    inconclusive_limit=3,
)


def argo(kind: str = "canary", **fields: Any) -> StrategyArgs:
    return StrategyArgs(type=kind, engine="argo-rollouts", **fields)


def rollout_spec(records: dict[str, Record]) -> dict[str, Any]:
    return records["shop-rollout"].inputs["spec"]


def test_a_measured_condition_holds_only_on_a_non_empty_non_nan_result() -> None:
    assert _measured("all", "0.99", ">=") == (
        "len(result) > 0 && all(result, {!isNaN(#) && # >= 0.99})"
    )


def test_a_bounded_analysis_template_measures_success_rate_and_p99_of_the_new_pods() -> None:
    served = f"sum(increase(reqs_total{{{PODS}}}[90s]))"
    enough = f" and on() ({served} >= 50)"
    common = {"interval": "45s", "failureLimit": 1, "inconclusiveLimit": 3, "count": 6}
    spec = analysis_template_spec(argo("blue-green", analysis=ANALYSIS), bounded=True)
    assert spec == {
        "args": [{"name": "service-name"}, {"name": "namespace"}, {"name": "pod-template-hash"}],
        "metrics": [
            {
                "name": "success-rate",
                **common,
                "successCondition": "len(result) > 0 && all(result, {!isNaN(#) && # >= 0.995})",
                "failureCondition": "len(result) > 0 && any(result, {!isNaN(#) && # < 0.995})",
                "provider": {
                    "prometheus": {
                        "address": "http://prom.obs.svc:9090",
                        "query": f'(sum(rate(reqs_total{{{PODS},code!~"5.."}}[90s])) / '
                        f"sum(rate(reqs_total{{{PODS}}}[90s])))" + enough,
                    }
                },
            },
            {
                "name": "latency-p99",
                **common,
                "successCondition": "len(result) > 0 && all(result, {!isNaN(#) && # <= 0.25})",
                "failureCondition": "len(result) > 0 && any(result, {!isNaN(#) && # > 0.25})",
                "provider": {
                    "prometheus": {
                        "address": "http://prom.obs.svc:9090",
                        "query": "histogram_quantile(0.99, sum by (le) "
                        f"(rate(req_seconds_bucket{{{PODS}}}[90s])))" + enough,
                    }
                },
            },
        ],
    }


def test_a_background_analysis_has_no_count() -> None:
    spec = analysis_template_spec(argo(analysis=ANALYSIS), bounded=False)
    for metric in spec["metrics"]:
        assert "count" not in metric
        assert (metric["interval"], metric["failureLimit"], metric["inconclusiveLimit"]) == (
            "45s",
            1,
            3,
        )


@pytest.mark.parametrize(("interval", "window"), [(10, "60s"), (30, "60s"), (31, "62s")])
def test_the_analysis_window_is_two_intervals_and_at_least_a_minute(
    interval: int, window: str
) -> None:
    spec = analysis_template_spec(
        argo(analysis=AnalysisArgs(interval_seconds=interval)), bounded=False
    )
    windows = {"success-rate": 3, "latency-p99": 2}
    for metric in spec["metrics"]:
        query = metric["provider"]["prometheus"]["query"]
        assert re.findall(r"\[(\d+s)\]", query) == [window] * windows[metric["name"]]


def test_a_one_call_pre_rollout_check_is_a_web_metric_that_fails_at_the_first_failure() -> None:
    check = PreRolloutArgs(url="https://checks.example.com/run")
    assert pre_rollout_template_spec(check) == {
        "args": [{"name": "service-name"}, {"name": "namespace"}],
        "metrics": [
            {
                "name": "pre-rollout",
                "count": 1,
                "failureLimit": 0,
                "successCondition": "result == true",
                "provider": {
                    "web": {
                        "url": "https://checks.example.com/run",
                        "method": "GET",
                        "timeoutSeconds": 60,
                        "jsonPath": "{$.ok}",
                    }
                },
            }
        ],
    }


def test_a_repeated_pre_rollout_check_calls_at_its_interval() -> None:
    check = PreRolloutArgs(
        url="https://checks.example.com/run",
        method="POST",
        json_path="{$.passed}",
        success_condition='result == "yes"',
        timeout_seconds=120,
        count=2,
        interval_seconds=10,
    )
    (metric,) = pre_rollout_template_spec(check)["metrics"]
    assert metric == {
        "name": "pre-rollout",
        "count": 2,
        "failureLimit": 0,
        "successCondition": 'result == "yes"',
        "interval": "10s",
        "provider": {
            "web": {
                "url": "https://checks.example.com/run",
                "method": "POST",
                "timeoutSeconds": 120,
                "jsonPath": "{$.passed}",
            }
        },
    }


def test_pulumi_waits_for_the_rollout_to_be_available_within_the_progress_deadline() -> None:
    kit = WorkloadKit(None, "shop", make_args(rolling=RollingArgs(progress_deadline_seconds=900)))
    assert await_annotations(kit) == {
        "pulumi.com/waitFor": "condition=Available",
        "pulumi.com/timeoutSeconds": "900",
    }


def test_an_argo_blue_green_renders_a_rollout_its_analysis_two_services_an_hpa_and_a_pdb() -> None:
    records, shop = build(make_args(strategy=argo("blue-green")))
    assert kinds(records) == {
        "shop-sa": "core/v1:ServiceAccount",
        "shop-config": "core/v1:ConfigMap",
        "shop-analysis": "argoproj.io/v1alpha1:AnalysisTemplate",
        "shop-rollout": "argoproj.io/v1alpha1:Rollout",
        "shop-service": "core/v1:Service",
        "shop-preview": "core/v1:Service",
        "shop-hpa": "autoscaling/v2:HorizontalPodAutoscaler",
        "shop-pdb": "policy/v1:PodDisruptionBudget",
        "shop-netpol": "networking.k8s.io/v1:NetworkPolicy",
    }
    assert {
        "rollout": named(shop.rollout),
        "analysis_template": named(shop.analysis_template),
        "pre_rollout_template": named(shop.pre_rollout_template),
        "service": named(shop.service),
        "preview_service": named(shop.preview_service),
        "hpa": named(shop.hpa),
        "pdb": named(shop.pdb),
        "http_route": named(shop.http_route),
    } == {
        "rollout": "shop-rollout",
        "analysis_template": "shop-analysis",
        "pre_rollout_template": None,
        "service": "shop-service",
        "preview_service": "shop-preview",
        "hpa": "shop-hpa",
        "pdb": "shop-pdb",
        "http_route": None,
    }
    assert shop.track_services == {}
    assert depends_on(records, "shop-rollout") == [
        "shop-analysis",
        "shop-config",
        "shop-preview",
        "shop-service",
    ]


def test_the_rollout_is_named_for_the_service_and_waits_for_availability() -> None:
    args = make_args(
        strategy=argo("blue-green"),
        rolling=RollingArgs(min_ready_seconds=15, progress_deadline_seconds=900),
    )
    inputs = run(args)["shop-rollout"].inputs
    assert (inputs["apiVersion"], inputs["kind"]) == ("argoproj.io/v1alpha1", "Rollout")
    assert inputs["metadata"] == meta(
        "shop",
        **{"pulumi.com/timeoutSeconds": "900", "pulumi.com/waitFor": "condition=Available"},
    )
    spec = dict(inputs["spec"])
    template = spec.pop("template")
    spec.pop("strategy")
    assert spec == {
        "selector": {"matchLabels": SHOP},
        "revisionHistoryLimit": 5,
        "minReadySeconds": 15,
        "progressDeadlineSeconds": 900,
        "progressDeadlineAbort": True,
    }, "no replicas: with autoscaling the HPA owns the count"
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "shop"
    assert "slot" not in template["metadata"]["labels"]
    assert "track" not in template["metadata"]["labels"]
    assert template["spec"]["containers"][0]["image"] == IMAGE


def test_a_rollout_without_autoscaling_declares_its_replicas_and_has_no_hpa() -> None:
    records, shop = build(make_args(strategy=argo("blue-green"), autoscaling=None, replicas=4))
    assert rollout_spec(records)["replicas"] == 4
    assert shop.hpa is None and "shop-hpa" not in records


def test_the_hpa_scales_the_rollout_and_the_pdb_covers_its_pods() -> None:
    records = run(make_args(strategy=argo("blue-green")))
    hpa = records["shop-hpa"].inputs
    assert hpa["metadata"] == meta("shop")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": "shop",
    }
    assert records["shop-pdb"].inputs["metadata"] == meta("shop")
    assert records["shop-pdb"].inputs["spec"]["selector"] == {"matchLabels": SHOP}


def test_the_analysis_template_is_named_for_the_service_and_not_awaited() -> None:
    records = run(make_args(strategy=argo("blue-green", analysis=ANALYSIS)))
    inputs = records["shop-analysis"].inputs
    assert (inputs["apiVersion"], inputs["kind"]) == ("argoproj.io/v1alpha1", "AnalysisTemplate")
    assert inputs["metadata"] == meta("shop-analysis", **{"pulumi.com/skipAwait": "true"})
    expected = analysis_template_spec(argo("blue-green", analysis=ANALYSIS), bounded=True)
    assert inputs["spec"] == expected, "blue-green's post-promotion analysis is bounded"


def test_a_canary_s_analysis_template_runs_in_the_background_unbounded() -> None:
    strategy = argo(analysis=ANALYSIS)
    records = run(make_args(strategy=strategy, traffic=istio()))
    assert records["shop-analysis"].inputs["spec"] == analysis_template_spec(
        strategy, bounded=False
    )


def test_an_argo_blue_green_promotes_by_hand_and_analyses_after_promotion() -> None:
    records = run(make_args(strategy=argo("blue-green", analysis=ANALYSIS)))
    assert rollout_spec(records)["strategy"] == {
        "blueGreen": {
            "activeService": "shop",
            "previewService": "shop-preview",
            "autoPromotionEnabled": False,
            "postPromotionAnalysis": {
                "templates": [{"templateName": "shop-analysis"}],
                "args": ANALYSIS_ARGS,
            },
            "scaleDownDelaySeconds": 45 * 6 + 60,
        }
    }


def test_an_argo_blue_green_may_promote_itself_after_a_given_delay() -> None:
    strategy = argo("blue-green", auto_promotion=True, scale_down_delay_seconds=900)
    blue_green_spec = rollout_spec(run(make_args(strategy=strategy)))["strategy"]["blueGreen"]
    assert blue_green_spec["autoPromotionEnabled"] is True
    assert blue_green_spec["scaleDownDelaySeconds"] == 900


def test_the_argo_blue_green_services_start_on_the_service_s_pods() -> None:
    records = run(make_args(strategy=argo("blue-green")))
    for name, object_name in (("shop-service", "shop"), ("shop-preview", "shop-preview")):
        assert records[name].inputs["metadata"] == meta(object_name)
        assert records[name].inputs["spec"]["selector"] == SHOP


def test_a_pre_rollout_check_runs_before_a_blue_green_promotion() -> None:
    check = PreRolloutArgs(url="https://checks.example.com/run")
    records, shop = build(make_args(strategy=argo("blue-green", pre_rollout=check)))
    template = records["shop-pre-rollout"].inputs
    assert (template["apiVersion"], template["kind"]) == (
        "argoproj.io/v1alpha1",
        "AnalysisTemplate",
    )
    assert template["metadata"] == meta("shop-pre-rollout", **{"pulumi.com/skipAwait": "true"})
    assert template["spec"] == pre_rollout_template_spec(check)
    assert named(shop.pre_rollout_template) == "shop-pre-rollout"
    assert rollout_spec(records)["strategy"]["blueGreen"]["prePromotionAnalysis"] == {
        "templates": [{"templateName": "shop-pre-rollout"}],
        "args": ANALYSIS_ARGS[:2],
    }
    assert "shop-pre-rollout" in depends_on(records, "shop-rollout")


def test_an_argo_canary_with_istio_steps_analyses_and_steers_the_mesh() -> None:
    steps = (StepArgs(set_weight=20), StepArgs(pause=True))
    records, shop = build(make_args(strategy=argo(steps=steps), traffic=istio()))
    assert rollout_spec(records)["strategy"] == {
        "canary": {
            "steps": [{"setWeight": 20}, {"pause": {}}],
            "analysis": {
                "templates": [{"templateName": "shop-analysis"}],
                "args": ANALYSIS_ARGS,
                "startingStep": 1,
            },
            "dynamicStableScale": False,
            "scaleDownDelaySeconds": 300,
            "trafficRouting": {
                "istio": {
                    "virtualService": {"name": "shop", "routes": ["primary"]},
                    "destinationRule": {
                        "name": "shop",
                        "canarySubsetName": "canary",
                        "stableSubsetName": "stable",
                    },
                }
            },
        }
    }
    assert depends_on(records, "shop-rollout") == [
        "shop-analysis",
        "shop-config",
        "shop-destrule",
        "shop-service",
        "shop-vs",
    ]
    assert (named(shop.virtual_service), named(shop.destination_rule)) == (
        "shop-vs",
        "shop-destrule",
    )
    assert shop.track_services == {} and shop.preview_service is None
    assert records["shop-service"].inputs["metadata"] == meta("shop")
    assert records["shop-service"].inputs["spec"]["selector"] == SHOP


def test_an_argo_canary_starts_everything_on_stable() -> None:
    records = run(make_args(strategy=argo(), traffic=istio()))
    route = records["shop-vs"].inputs["spec"]["http"][0]["route"]
    assert [(r["destination"]["subset"], r["weight"]) for r in route] == [
        ("stable", 100),
        ("canary", 0),
    ]
    records = run(make_args(strategy=argo(), traffic=GATEWAY))
    rule = records["shop-route"].inputs["spec"]["rules"][0]
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [
        ("shop-stable", 100),
        ("shop-canary", 0),
    ]


def test_an_argo_canary_with_the_gateway_api_steers_track_services_through_the_plugin() -> None:
    records, shop = build(
        make_args(strategy=argo(steps=(StepArgs(set_weight=20),)), traffic=GATEWAY)
    )
    canary_spec = rollout_spec(records)["strategy"]["canary"]
    assert canary_spec["stableService"] == "shop-stable"
    assert canary_spec["canaryService"] == "shop-canary"
    assert canary_spec["trafficRouting"] == {
        "plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "shop-mesh", "namespace": "retail"}}
    }
    for track in ("stable", "canary"):
        service = records[f"shop-service-{track}"].inputs
        assert service["metadata"] == meta(f"shop-{track}")
        assert service["spec"]["selector"] == SHOP, "Argo adds the pod-template hash"
    assert {t: named(s) for t, s in shop.track_services.items()} == {
        "stable": "shop-service-stable",
        "canary": "shop-service-canary",
    }
    assert named(shop.http_route) == "shop-route"
    assert (shop.virtual_service, shop.destination_rule) == (None, None)
    assert depends_on(records, "shop-rollout") == [
        "shop-analysis",
        "shop-config",
        "shop-route",
        "shop-service-canary",
        "shop-service-stable",
    ]


@pytest.mark.parametrize("traffic", [istio(), GATEWAY], ids=["istio", "gateway-api"])
def test_an_argo_canary_lists_the_routes_its_steps_set_as_managed(traffic: TrafficArgs) -> None:
    steps = (StepArgs(set_weight=5), header("beta"), StepArgs(pause=True), header("beta"))
    routing = rollout_spec(run(make_args(strategy=argo(steps=steps), traffic=traffic)))["strategy"][
        "canary"
    ]["trafficRouting"]
    assert routing["managedRoutes"] == [{"name": "beta"}]


def test_an_argo_canary_without_routes_lists_no_managed_routes() -> None:
    routing = rollout_spec(run(make_args(strategy=argo(), traffic=GATEWAY)))["strategy"]["canary"][
        "trafficRouting"
    ]
    assert "managedRoutes" not in routing


def test_a_pre_rollout_check_is_the_canary_s_first_step_and_analysis_starts_after_it() -> None:
    check = PreRolloutArgs(url="https://checks.example.com/run")
    steps = (StepArgs(set_canary_replicas=1), StepArgs(set_weight=20))
    strategy = argo(steps=steps, pre_rollout=check)
    canary_spec = rollout_spec(run(make_args(strategy=strategy, traffic=istio())))["strategy"][
        "canary"
    ]
    assert canary_spec["steps"] == [
        {
            "analysis": {
                "templates": [{"templateName": "shop-pre-rollout"}],
                "args": ANALYSIS_ARGS[:2],
            }
        },
        {"setCanaryScale": {"replicas": 1}},
        {"setCanaryScale": {"matchTrafficWeight": True}},
        {"setWeight": 20},
    ]
    assert canary_spec["analysis"]["startingStep"] == 2


def test_notifications_add_their_subscriptions_to_the_await_annotations() -> None:
    notes = NotificationsArgs(service="ops", triggers=("on-rollout-aborted",))
    records = run(make_args(strategy=argo("blue-green", notifications=notes)))
    assert records["shop-rollout"].inputs["metadata"]["annotations"] == {
        "notifications.argoproj.io/subscribe.on-rollout-aborted.ops": "",
        "pulumi.com/timeoutSeconds": "600",
        "pulumi.com/waitFor": "condition=Available",
    }


# == every builder ==========================================================================


@pytest.mark.parametrize(
    ("strategy", "traffic"),
    [
        (blue_green(green=TrackArgs(image=NEW_IMAGE, config={"A": "b"})), None),
        (
            StrategyArgs(type="canary", canary=TrackArgs(config={"A": "b"}), weight=5),
            TrafficArgs(layer="istio"),
        ),
        (StrategyArgs(type="canary", canary=TrackArgs(), weight=5), GATEWAY),
        (
            argo("blue-green", pre_rollout=PreRolloutArgs(url="https://checks.example.com")),
            None,
        ),
        (argo(), TrafficArgs(layer="istio")),
        (argo(), GATEWAY),
    ],
    ids=[
        "blue-green",
        "canary-istio",
        "canary-gateway-api",
        "argo-blue-green",
        "argo-canary-istio",
        "argo-canary-gateway-api",
    ],
)
def test_every_object_a_strategy_renders_is_a_child_of_the_component(
    strategy: StrategyArgs, traffic: TrafficArgs | None
) -> None:
    records = run(make_args(strategy=strategy, **({"traffic": traffic} if traffic else {})))
    component = records.pop("shop").urn
    assert {n: r.parent for n, r in records.items()} == dict.fromkeys(records, component)
