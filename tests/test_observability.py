"""ServiceObservability under Pulumi mocks: the three objects, the alerts, the dashboard."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pulumi
import pytest
import yaml
from pulumi.runtime import settings as pulumi_settings
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = ROOT / "docs" / "runbooks"
SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "grafana-dashboard.schema.json").read_text()
)


class _Recorder(pulumi.runtime.Mocks):
    """Echo inputs back as state and remember every registration."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


@pytest.fixture
def mocks():
    """Pulumi mocks for this module only; the previous runtime settings come back after."""
    saved_settings = pulumi_settings.SETTINGS
    saved_root = pulumi_settings.ROOT.get()
    pulumi_settings.ROOT.set(None)
    recorder = _Recorder()
    pulumi.runtime.set_mocks(recorder, project="slipway", stack="test", preview=False)
    yield recorder
    pulumi_settings.configure(saved_settings)
    pulumi_settings.ROOT.set(saved_root)


from slipway_components.observability import (  # noqa: E402
    ALERT_RUNBOOKS,
    DEFAULT_RUNBOOK_BASE_URL,
    ServiceObservability,
    ServiceObservabilityArgs,
    SloArgs,
    build_alert_rules,
    build_dashboard,
)


def _args(**kw) -> ServiceObservabilityArgs:
    base = {"service_name": "orders", "namespace": "shop", "team": "checkout"}
    return ServiceObservabilityArgs(**{**base, **kw})


def _render(recorder: _Recorder, name: str, args: ServiceObservabilityArgs):
    """Build the component and wait until the engine saw every child."""
    comp = ServiceObservability(name, args)

    def by_type() -> dict[str, pulumi.runtime.MockResourceArgs]:
        return {r.typ: r for r in recorder.resources}

    return comp, pulumi.Output.all(
        comp.service_monitor.urn, comp.prometheus_rule.urn, comp.dashboard.urn
    ).apply(lambda urns: (urns, by_type()))


SM = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PR = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CM = "kubernetes:core/v1:ConfigMap"


@pulumi.runtime.test
def test_renders_servicemonitor_prometheusrule_and_dashboard(mocks):
    _, out = _render(mocks, "aws-us-east-1-orders", _args())

    def check(result):
        urns, res = result
        assert {SM, PR, CM} <= set(res), f"missing objects, got {sorted(res)}"
        assert res[SM].inputs["kind"] == "ServiceMonitor"
        assert res[PR].inputs["kind"] == "PrometheusRule"
        assert res[SM].inputs["apiVersion"] == "monitoring.coreos.com/v1"
        parent = "urn:pulumi:test::slipway::slipway:observability:ServiceObservability$"
        assert urns == [
            f"{parent}{SM}::aws-us-east-1-orders-servicemonitor",
            f"{parent}{PR}::aws-us-east-1-orders-prometheusrule",
            f"{parent}{CM}::aws-us-east-1-orders-dashboard",
        ], f"child URNs changed: {urns}"

    return out.apply(check)


@pulumi.runtime.test
def test_metadata_names_come_from_service_name_not_pulumi_name(mocks):
    _, out = _render(mocks, "gcp-europe-west1-orders", _args())

    def check(result):
        _, res = result
        assert res[SM].inputs["metadata"]["name"] == "orders"
        assert res[PR].inputs["metadata"]["name"] == "orders-slo"
        assert res[CM].inputs["metadata"]["name"] == "orders-dashboard"
        for t in (SM, PR, CM):
            assert res[t].inputs["metadata"]["namespace"] == "shop", t

    return out.apply(check)


@pulumi.runtime.test
def test_every_object_carries_team_name_and_cost_center_labels(mocks):
    _, out = _render(mocks, "orders", _args(cost_center="cc-42"))

    def check(result):
        _, res = result
        for t in (SM, PR, CM):
            labels = res[t].inputs["metadata"]["labels"]
            assert labels["team"] == "checkout", t
            assert labels["app.kubernetes.io/name"] == "orders", t
            assert labels["cost-center"] == "cc-42", t

    return out.apply(check)


@pulumi.runtime.test
def test_prometheus_selector_labels_do_not_override_standard_labels(mocks):
    args = _args(prometheus_labels={"release": "kube-prometheus-stack", "team": "other"})
    _, out = _render(mocks, "orders", args)

    def check(result):
        _, res = result
        for t in (SM, PR):
            labels = res[t].inputs["metadata"]["labels"]
            assert labels["release"] == "kube-prometheus-stack", t
            assert labels["team"] == "checkout", t
        assert "release" not in res[CM].inputs["metadata"]["labels"]

    return out.apply(check)


@pulumi.runtime.test
def test_servicemonitor_scrapes_the_slo_metrics_port(mocks):
    slo = SloArgs(metrics_port="metrics", metrics_path="/prom", scrape_interval="15s")
    _, out = _render(mocks, "orders", _args(slo=slo))

    def check(result):
        _, res = result
        spec = res[SM].inputs["spec"]
        assert spec["selector"] == {"matchLabels": {"app.kubernetes.io/name": "orders"}}
        assert spec["namespaceSelector"] == {"matchNames": ["shop"]}
        assert spec["jobLabel"] == "app.kubernetes.io/name"
        # The dashboard's traffic-share panel groups by these pod labels.
        assert spec["podTargetLabels"] == ["slot", "track", "app.kubernetes.io/version"]
        assert spec["endpoints"] == [
            {"port": "metrics", "path": "/prom", "interval": "15s", "scheme": "http"}
        ]

    return out.apply(check)


@pulumi.runtime.test
def test_prometheusrule_alerts_have_severity_team_and_runbook(mocks):
    _, out = _render(mocks, "orders", _args())

    def check(result):
        _, res = result
        groups = res[PR].inputs["spec"]["groups"]
        assert [g["name"] for g in groups] == ["orders.slo"]
        rules = groups[0]["rules"]
        assert [r["alert"] for r in rules] == list(ALERT_RUNBOOKS)
        for r in rules:
            assert r["labels"]["severity"] in {"critical", "warning"}, r["alert"]
            assert r["labels"]["team"] == "checkout", r["alert"]
            ann = r["annotations"]
            assert ann["summary"] and ann["description"], r["alert"]
            assert ann["runbook_url"].startswith(DEFAULT_RUNBOOK_BASE_URL + "/"), r["alert"]
            assert 'namespace="shop",job="orders"' in r["expr"], r["alert"]

    return out.apply(check)


def _runbook_file(url: str, base: str) -> Path:
    assert url.startswith(base + "/"), f"{url} is not under {base}"
    return RUNBOOKS / url[len(base) + 1 :]


@pytest.mark.parametrize(
    "base",
    [DEFAULT_RUNBOOK_BASE_URL, "https://git.example.com/platform/slipway/-/blob/v2/docs/runbooks"],
)
def test_every_runbook_url_maps_to_an_existing_runbook(base):
    rules = build_alert_rules(_args(runbook_base_url=base + "/"))
    assert rules, "no alerts"
    for r in rules:
        path = _runbook_file(r["annotations"]["runbook_url"], base)
        assert path.is_file(), f"{r['alert']}: {path} does not exist"
        text = path.read_text()
        assert r["alert"] in text, f"{path.name} does not name the alert {r['alert']}"


def test_runbook_url_of_unknown_file_is_caught():
    """The mapping check itself fails for a runbook that does not exist."""
    assert not _runbook_file(
        DEFAULT_RUNBOOK_BASE_URL + "/nope.md", DEFAULT_RUNBOOK_BASE_URL
    ).exists()


def _rule(rules: list[dict], name: str) -> dict:
    return next(r for r in rules if r["alert"] == name)


def test_burn_rate_alerts_use_two_windows_and_the_budget():
    rules = build_alert_rules(_args(slo=SloArgs(availability_target=99.5)))
    fast, slow = _rule(rules, "ErrorBudgetFastBurn"), _rule(rules, "ErrorBudgetSlowBurn")
    # budget 0.005: 14.4x -> 0.072, 6x -> 0.03
    assert "[1h]" in fast["expr"] and "[5m]" in fast["expr"] and "\nand\n" in fast["expr"]
    assert fast["expr"].count("> 0.072") == 2
    assert fast["labels"]["severity"] == "critical"
    assert "[6h]" in slow["expr"] and "[30m]" in slow["expr"] and "\nand\n" in slow["expr"]
    assert slow["expr"].count("> 0.03") == 2


def test_slow_burn_pages_and_a_three_day_burn_opens_a_ticket():
    """SRE workbook table 5-8: 14.4x/1h and 6x/6h page, 1x over 3 days is a ticket."""
    rules = build_alert_rules(_args(slo=SloArgs(availability_target=99.5)))
    assert _rule(rules, "ErrorBudgetSlowBurn")["labels"]["severity"] == "critical"
    ticket = _rule(rules, "ErrorBudgetTicketBurn")
    assert "[3d]" in ticket["expr"] and "[6h]" in ticket["expr"]
    assert ticket["expr"].count("> 0.005") == 2
    assert ticket["labels"]["severity"] == "warning"


@pytest.mark.parametrize(
    "alert", ["ErrorBudgetFastBurn", "ErrorBudgetSlowBurn", "ErrorBudgetTicketBurn"]
)
def test_burn_alert_value_is_the_short_window_the_text_names(alert):
    """`A and B` keeps A's value: the short window's ratio must come first, since the
    description says `Current <short> error ratio: {{ $value }}`."""
    rule = _rule(build_alert_rules(_args()), alert)
    first, second = rule["expr"].split("\nand\n")
    text = rule["annotations"]["description"]
    window = text.split("Current ", 1)[1].split(" error ratio", 1)[0]
    assert f"[{window}]" in first and f"[{window}]" not in second


def test_default_budget_thresholds_have_no_float_noise():
    rules = build_alert_rules(_args())
    assert _rule(rules, "ErrorBudgetFastBurn")["expr"].count("> 0.0144") == 2
    assert _rule(rules, "ErrorBudgetSlowBurn")["expr"].count("> 0.006") == 2


def test_errors_are_counted_by_the_configured_status_regex():
    slo = SloArgs(requests_metric="rpc_total", status_label="grpc_code", error_status_regex="13|14")
    expr = _rule(build_alert_rules(_args(slo=slo)), "ErrorBudgetFastBurn")["expr"]
    assert 'rpc_total{namespace="shop",job="orders",grpc_code=~"13|14"}' in expr


def test_latency_alert_uses_the_p99_objective_in_seconds():
    rules = build_alert_rules(_args(slo=SloArgs(latency_p99_ms=250)))
    lat = _rule(rules, "LatencyP99High")
    assert lat["expr"].startswith("histogram_quantile(0.99, ")
    assert "http_request_duration_seconds_bucket{" in lat["expr"]
    assert lat["expr"].endswith("> 0.25")


def test_availability_alert_fires_when_no_target_is_up():
    down = _rule(build_alert_rules(_args()), "ServiceUnavailable")
    # `or vector(0)` makes "no series at all" compare as 0 instead of no data.
    assert down["expr"] == '(sum(up{namespace="shop",job="orders"}) or vector(0)) < 1'
    assert down["labels"]["severity"] == "critical"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Prometheus) not installed")
def test_rules_pass_promtool(tmp_path):
    path = tmp_path / "rules.yaml"
    groups = [{"name": "orders.slo", "rules": build_alert_rules(_args())}]
    path.write_text(yaml.safe_dump({"groups": groups}))
    proc = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pulumi.runtime.test
def test_dashboard_configmap_is_labelled_for_the_grafana_sidecar(mocks):
    _, out = _render(mocks, "orders", _args(dashboard_namespace="monitoring"))

    def check(result):
        _, res = result
        meta = res[CM].inputs["metadata"]
        assert meta["labels"]["grafana_dashboard"] == "1"
        assert meta["namespace"] == "monitoring"
        assert meta["annotations"] == {"grafana_folder": "slipway"}
        data = res[CM].inputs["data"]
        assert list(data) == ["orders.json"]
        board = json.loads(data["orders.json"])
        jsonschema.validate(board, SCHEMA)

    return out.apply(check)


STRATEGIES = [
    {},
    {"strategy": "blue-green"},
    {"strategy": "blue-green"},
    {"strategy": "canary"},
    {"strategy": "canary", "engine": "argo-rollouts"},
]


@pytest.mark.parametrize(
    "kw", STRATEGIES, ids=lambda kw: "-".join(map(str, kw.values())) or "rolling"
)
def test_dashboard_json_is_valid_grafana_dashboard(kw):
    board = build_dashboard(_args(**kw))
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(board), key=str)
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda b: b.pop("schemaVersion"), "schemaVersion is required"),
        (lambda b: b["panels"][0]["gridPos"].update(w=30), "grid is 24 columns wide"),
        (lambda b: b["panels"][0].update(colour="red"), "panels are closed objects"),
        (lambda b: b.update(graphTooltip=5), "graphTooltip is 0, 1 or 2"),
        (lambda b: b["panels"][0]["targets"][0].pop("refId"), "queries need a refId"),
    ],
    ids=["no-schemaVersion", "wide-panel", "unknown-panel-key", "bad-tooltip", "no-refId"],
)
def test_schema_rejects_broken_dashboards(mutate, why):
    board = build_dashboard(_args())
    mutate(board)
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(board)), why


def test_dashboard_round_trips_through_grafana_foundation_sdk():
    """Grafana's generated types keep every key we write (an unknown key would be dropped)."""
    sdk = pytest.importorskip("grafana_foundation_sdk.models.dashboard")
    encoder = pytest.importorskip("grafana_foundation_sdk.cog.encoder")
    board = build_dashboard(_args(strategy="canary"))
    again = json.loads(json.dumps(sdk.Dashboard.from_json(board), cls=encoder.JSONEncoder))

    def lost(a, b, path="$"):
        if isinstance(a, dict):
            for k, v in a.items():
                if k not in b:
                    yield f"{path}.{k}"
                else:
                    yield from lost(v, b[k], f"{path}.{k}")
        elif isinstance(a, list):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                yield from lost(x, y, f"{path}[{i}]")
        elif a != b:
            yield f"{path}: {a!r} != {b!r}"

    assert list(lost(board, again)) == []


def _panel_exprs(board: dict) -> dict[str, list[str]]:
    return {p["title"]: [t["expr"] for t in p.get("targets", [])] for p in board["panels"]}


def test_dashboard_has_requests_errors_latency_and_saturation_panels():
    exprs = _panel_exprs(build_dashboard(_args()))
    joined = {title: " ".join(e) for title, e in exprs.items()}
    assert "http_requests_total" in joined["Requests per second by status"]
    assert 'code=~"5.."' in joined["Error ratio (SLO budget)"]
    assert "histogram_quantile(0.5," in joined["Request duration p50 / p99"]
    assert "histogram_quantile(0.99," in joined["Request duration p50 / p99"]
    assert "container_cpu_usage_seconds_total" in joined["CPU usage (cores) by pod"]
    assert "container_memory_working_set_bytes" in joined["Memory working set by pod"]


def _delivery(board: dict) -> dict:
    return next(p for p in board["panels"] if p["title"].startswith("Traffic share by"))


@pytest.mark.parametrize(
    ("strategy", "label"),
    [("blue-green", "slot"), ("canary", "track"), ("rolling", "app_kubernetes_io_version")],
)
def test_dashboard_shows_live_traffic_share_by_slot_track_or_version(strategy, label):
    panel = _delivery(build_dashboard(_args(strategy=strategy)))
    (target,) = panel["targets"]
    assert target["expr"].startswith(f"sum by ({label}) (rate(http_requests_total")
    assert target["legendFormat"] == "{{" + label + "}}"


def test_dashboard_points_argo_rollouts_to_the_live_rollout():
    panel = _delivery(build_dashboard(_args(strategy="canary", engine="argo-rollouts")))
    assert "kubectl argo rollouts get rollout orders -n shop" in panel["description"]


def test_dashboard_uid_is_stable_short_and_distinct_per_namespace():
    a = build_dashboard(_args())["uid"]
    assert a == build_dashboard(_args())["uid"]
    assert len(a) <= 40
    assert a != build_dashboard(_args(namespace="shop-eu"))["uid"]
    long_name = "a" * 40
    assert len(build_dashboard(_args(service_name=long_name))["uid"]) <= 40


def test_slo_defaults_are_documented_values():
    slo = SloArgs()
    assert (slo.availability_target, slo.latency_p99_ms, slo.metrics_port) == (99.9, 300, "http")
    assert slo.error_budget == 0.001


def test_slo_accepts_catalog_camel_case():
    slo = SloArgs.model_validate({"availabilityTarget": 99.95, "latencyP99Ms": 120})
    assert (slo.availability_target, slo.latency_p99_ms) == (99.95, 120)


def test_slo_rejects_unknown_keys():
    with pytest.raises(ValidationError, match="extra"):
        SloArgs.model_validate({"availability": 99})


def test_slo_rejects_target_of_100_percent():
    with pytest.raises(ValidationError, match="availability_target"):
        SloArgs(availability_target=100)


def test_slo_rejects_bad_port_name():
    with pytest.raises(ValidationError, match="not a DNS-1123 label"):
        SloArgs(metrics_port="Metrics_Port")


def test_slo_rejects_bad_scrape_interval():
    with pytest.raises(ValidationError, match="Prometheus duration"):
        SloArgs(scrape_interval="thirty seconds")


def test_slo_rejects_quotes_in_status_regex():
    with pytest.raises(ValidationError, match="without quotes"):
        SloArgs(error_status_regex='5.."}')


def test_args_reject_non_dns_service_name():
    with pytest.raises(ValidationError, match="DNS-1123"):
        _args(service_name="Orders_API")


def test_args_reject_non_http_runbook_base():
    with pytest.raises(ValidationError, match="http"):
        _args(runbook_base_url="docs/runbooks")


def test_stack_prometheus_labels_reach_every_monitor_and_rule(tmp_path):
    """`slipway:observability.prometheusLabels` is the rule-selector label a
    kube-prometheus-stack installed with its defaults needs (`release: <name>`)."""
    import yaml

    from slipway import preview as pv
    from tests.conftest import copy_project

    dest = copy_project(tmp_path / "p", stacks=("dev",))
    path = dest / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["slipway:observability"] = {"prometheusLabels": {"release": "kps"}}
    path.write_text(yaml.safe_dump(doc))
    rendered = pv.render(dest, "dev")
    kinds = [
        r.inputs
        for r in rendered.records
        if pv.is_manifest(r) and r.inputs["kind"] in ("ServiceMonitor", "PrometheusRule")
    ]
    assert len(kinds) >= 2
    for obj in kinds:
        assert obj["metadata"]["labels"]["release"] == "kps", obj["metadata"]["name"]


def test_stack_prometheus_labels_must_be_label_shaped():
    from pydantic import ValidationError

    from stacks.config import ObservabilityConfig

    with pytest.raises(ValidationError, match="not a Kubernetes label value"):
        ObservabilityConfig(prometheus_labels={"release": "kube prometheus"})
