"""Per-service observability: what watches a deployment and what on-call reads at 3 a.m.

`ServiceObservability` renders, for one service in one target, the three objects the
Prometheus Operator and the Grafana sidecar pick up:

- a `ServiceMonitor` scraping the service's metrics port,
- a `PrometheusRule` with SLO alerts (multi-window error-budget burn in the style of the
  Google SRE workbook, p99 latency, availability), each alert pointing to its runbook,
- a Grafana dashboard (JSON in a ConfigMap labelled `grafana_dashboard: "1"`).

`SloArgs` is the catalog's `slo:` block; the component takes it as a typed arg and never reads
config or files.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, field_validator

from slipway_components.naming import check_dns_label
from slipway_components.slo import CamelArgs, SloArgs

TYPE_TOKEN = "slipway:observability:ServiceObservability"

DEFAULT_RUNBOOK_BASE_URL = "https://github.com/slipway-dev/slipway/blob/main/docs/runbooks"
"""Where `runbook_url` annotations point by default: this repository's `docs/runbooks/`."""

# Multi-window, multi-burn-rate alerts (Google SRE workbook, "Alerting on SLOs", table 5-8):
# a burn rate of 14.4 over 1h spends 2% of a 30-day budget (page); 6 over 6h spends 5% (page);
# 1 over 3d spends 10% (ticket). The short window makes the alert stop soon after the burn
# stops. Pages are `critical`, the ticket tier `warning` (kube-prometheus-stack's routing).
FAST_BURN = {"rate": 14.4, "long": "1h", "short": "5m", "for": "2m", "severity": "critical"}
SLOW_BURN = {"rate": 6.0, "long": "6h", "short": "30m", "for": "15m", "severity": "critical"}
TICKET_BURN = {"rate": 1.0, "long": "3d", "short": "6h", "for": "1h", "severity": "warning"}

ALERT_RUNBOOKS: dict[str, str] = {
    "ErrorBudgetFastBurn": "alert-error-budget-fast-burn.md",
    "ErrorBudgetSlowBurn": "alert-error-budget-slow-burn.md",
    "ErrorBudgetTicketBurn": "alert-error-budget-ticket-burn.md",
    "LatencyP99High": "alert-latency-p99-high.md",
    "ServiceUnavailable": "alert-service-unavailable.md",
}
"""Alert name -> runbook file in `docs/runbooks/` (a test checks every file exists)."""


class ServiceObservabilityArgs(CamelArgs):
    """Everything `ServiceObservability` needs, as plain values."""

    service_name: str
    """Kubernetes name of the service (metadata names derive from it, not the Pulumi name)."""
    namespace: str
    """Namespace of the service; the ServiceMonitor and PrometheusRule live there too."""
    team: str
    """Owning team: `team` label on objects and alerts (routes the page)."""
    cost_center: str = "shared"
    """`cost-center` label on every object; default: shared."""
    slo: SloArgs = Field(default_factory=SloArgs)
    """Objectives and metric names; default: `SloArgs()` (99.9%, p99 300 ms, port http)."""
    strategy: Literal["rolling", "blue-green", "canary"] = "rolling"
    """Deployment strategy, as in the catalog; decides the dashboard's delivery panel."""
    engine: Literal["native", "argo-rollouts"] = "native"
    """Progressive-delivery engine, as in the catalog; default: native."""
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL
    """Base URL of `docs/runbooks/`; each alert's `runbook_url` is `<base>/<file>.md`."""
    dashboard_namespace: str | None = None
    """Namespace of the dashboard ConfigMap; default: the service's namespace (the sidecar
    must watch it: set `sidecar.dashboards.searchNamespace: ALL` or name this namespace)."""
    dashboard_folder: str = "slipway"
    """Grafana folder (annotation `grafana_folder`, honoured when the sidecar sets
    `folderAnnotation: grafana_folder`); default: slipway."""
    prometheus_labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels on the ServiceMonitor and PrometheusRule so the Prometheus instance
    selects them (kube-prometheus-stack wants `release: <name>`); default: none."""

    @field_validator("service_name", "namespace", "team", "cost_center")
    @classmethod
    def _dns(cls, v: str) -> str:
        return check_dns_label(v)

    @field_validator("dashboard_namespace")
    @classmethod
    def _dns_opt(cls, v: str | None) -> str | None:
        return None if v is None else cls._dns(v)

    @field_validator("runbook_base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s\"]+$", v):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v.rstrip("/")

    def runbook_url(self, alert: str) -> str:
        """The runbook URL of one of the `ALERT_RUNBOOKS` alerts."""
        return f"{self.runbook_base_url}/{ALERT_RUNBOOKS[alert]}"


def _num(value: float) -> str:
    """A PromQL number without float noise (0.0144, not 0.014400000000000001)."""
    return f"{value:.6g}"


def _selector(args: ServiceObservabilityArgs, extra: str = "") -> str:
    """Series of this service: the ServiceMonitor sets `job` to the service's name label."""
    sel = f'namespace="{args.namespace}",job="{args.service_name}"'
    return "{" + sel + (f",{extra}" if extra else "") + "}"


def error_ratio(args: ServiceObservabilityArgs, window: str) -> str:
    """PromQL: share of requests that failed over `window` (the SLI the budget is spent on)."""
    slo = args.slo
    errors = _selector(args, f'{slo.status_label}=~"{slo.error_status_regex}"')
    return (
        f"sum(rate({slo.requests_metric}{errors}[{window}]))"
        f" / sum(rate({slo.requests_metric}{_selector(args)}[{window}]))"
    )


def latency_quantile(args: ServiceObservabilityArgs, quantile: float, window: str = "5m") -> str:
    """PromQL: request-duration quantile (seconds) over `window`."""
    bucket = f"{args.slo.duration_metric}_bucket{_selector(args)}"
    return f"histogram_quantile({quantile}, sum by (le) (rate({bucket}[{window}])))"


def up_targets(args: ServiceObservabilityArgs, extra: str = "") -> str:
    """PromQL: number of healthy scrape targets (0, not no data, when none are up); `extra`
    narrows them (e.g. `slot="blue"`: the live slot's pods only)."""
    return f"sum(up{_selector(args, extra)}) or vector(0)"


def request_count(args: ServiceObservabilityArgs, window: str) -> str:
    """PromQL: requests handled over `window` (0, not no data, when there were none)."""
    return f"sum(increase({args.slo.requests_metric}{_selector(args)}[{window}])) or vector(0)"


def _burn_alert(args: ServiceObservabilityArgs, alert: str, burn: dict[str, Any]) -> dict:
    threshold = _num(burn["rate"] * args.slo.error_budget)
    # The short window first: an `and` keeps its left side's value, so `$value` in the
    # description is the short window's ratio, as the text says.
    expr = (
        f"({error_ratio(args, burn['short'])}) > {threshold}\n"
        f"and\n({error_ratio(args, burn['long'])}) > {threshold}"
    )
    budget_pct = _num(args.slo.error_budget * 100)
    return _alert(
        args,
        alert,
        expr=expr,
        for_=burn["for"],
        severity=burn["severity"],
        summary=(f"{args.service_name} is burning its error budget {_num(burn['rate'])}x too fast"),
        description=(
            f"Over both the last {burn['long']} and {burn['short']}, more than {threshold} of "
            f"requests to {args.namespace}/{args.service_name} failed (error budget "
            f"{budget_pct}% over {args.slo.window_days} days, SLO "
            f"{_num(args.slo.availability_target)}%). Current {burn['short']} error ratio: "
            "{{ $value | humanizePercentage }}."
        ),
    )


def _alert(
    args: ServiceObservabilityArgs,
    alert: str,
    *,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
) -> dict:
    return {
        "alert": alert,
        "expr": expr,
        "for": for_,
        "labels": {
            "severity": severity,
            "team": args.team,
            "service": args.service_name,
            "namespace": args.namespace,
        },
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": args.runbook_url(alert),
        },
    }


def build_alert_rules(args: ServiceObservabilityArgs) -> list[dict]:
    """The SLO alerts of one service, in `ALERT_RUNBOOKS` order."""
    slo = args.slo
    p99_seconds = _num(slo.latency_p99_ms / 1000)
    rules = [
        _burn_alert(args, "ErrorBudgetFastBurn", FAST_BURN),
        _burn_alert(args, "ErrorBudgetSlowBurn", SLOW_BURN),
        _burn_alert(args, "ErrorBudgetTicketBurn", TICKET_BURN),
        _alert(
            args,
            "LatencyP99High",
            expr=f"{latency_quantile(args, 0.99)} > {p99_seconds}",
            for_="10m",
            severity="warning",
            summary=f"{args.service_name} p99 latency is above {slo.latency_p99_ms} ms",
            description=(
                f"The 99th percentile of request duration of {args.namespace}/"
                f"{args.service_name} has been above its objective of {slo.latency_p99_ms} ms "
                "for 10 minutes. Current p99: {{ $value | humanizeDuration }}."
            ),
        ),
        _alert(
            args,
            "ServiceUnavailable",
            expr=f"({up_targets(args)}) < 1",
            for_="5m",
            severity="critical",
            summary=f"{args.service_name} has no healthy metrics target",
            description=(
                f"No pod of {args.namespace}/{args.service_name} has answered a scrape on port "
                f"{slo.metrics_port!r} for 5 minutes: the service is down or unreachable, and "
                "the error-budget alerts cannot see it (no requests, no ratio)."
            ),
        ),
    ]
    return rules


def dashboard_uid(namespace: str, service_name: str) -> str:
    """A stable Grafana uid (at most 40 characters) unique per namespace and service."""
    digest = hashlib.sha256(f"{namespace}/{service_name}".encode()).hexdigest()[:10]
    return f"{service_name[:29]}-{digest}"


def _target(expr: str, legend: str, ref: str) -> dict:
    return {
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
    }


def _timeseries(
    panel_id: int, title: str, unit: str, grid: tuple[int, int, int, int], targets: list[dict]
) -> dict:
    x, y, w, h = grid
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": targets,
    }


DELIVERY_LABEL = {"blue-green": "slot", "canary": "track", "rolling": "app_kubernetes_io_version"}
"""Pod label (as the ServiceMonitor copies it onto every series) that tells versions apart."""


def _delivery_panel(args: ServiceObservabilityArgs, grid: tuple[int, int, int, int]) -> dict:
    """Live traffic share by slot (blue-green), track (canary) or version (rolling).

    Measured, not declared: the ServiceMonitor copies the pods' `slot`/`track`/version labels
    onto every series, so a promote or a canary step shows up here as it takes effect, and the
    dashboard itself never changes with it (a promote's diff stays a selector change)."""
    x, y, w, h = grid
    label = DELIVERY_LABEL[args.strategy]
    req = args.slo.requests_metric
    sel = _selector(args)
    share = (
        f"sum by ({label}) (rate({req}{sel}[5m])) / ignoring({label}) group_left "
        f"sum(rate({req}{sel}[5m]))"
    )
    panel = _timeseries(
        7,
        f"Traffic share by {label.replace('app_kubernetes_io_', '')} ({args.strategy})",
        "percentunit",
        (x, y, w, h),
        [_target(share, "{{" + label + "}}", "A")],
    )
    if args.engine == "argo-rollouts":
        panel["description"] = (
            f"Rollout progress: kubectl argo rollouts get rollout {args.service_name} "
            f"-n {args.namespace}"
        )
    return panel


def build_dashboard(args: ServiceObservabilityArgs) -> dict:
    """Grafana dashboard model (schemaVersion 39): requests, errors, latency, saturation."""
    slo = args.slo
    sel = _selector(args)
    pods = f'namespace="{args.namespace}",pod=~"{args.service_name}-.*",container!=""'
    req = slo.requests_metric
    panels = [
        _timeseries(
            1,
            "Requests per second by status",
            "reqps",
            (0, 0, 12, 8),
            [
                _target(
                    f"sum by ({slo.status_label}) (rate({req}{sel}[5m]))",
                    "{{" + slo.status_label + "}}",
                    "A",
                )
            ],
        ),
        _timeseries(
            2,
            "Error ratio (SLO budget)",
            "percentunit",
            (12, 0, 12, 8),
            [
                _target(error_ratio(args, "5m"), "errors 5m", "A"),
                _target(_num(slo.error_budget), "budget", "B"),
            ],
        ),
        _timeseries(
            3,
            "Request duration p50 / p99",
            "s",
            (0, 8, 12, 8),
            [
                _target(latency_quantile(args, 0.5), "p50", "A"),
                _target(latency_quantile(args, 0.99), "p99", "B"),
                _target(_num(slo.latency_p99_ms / 1000), "p99 objective", "C"),
            ],
        ),
        _timeseries(
            4,
            "Healthy targets",
            "short",
            (12, 8, 12, 8),
            [_target(up_targets(args), "up", "A")],
        ),
        _timeseries(
            5,
            "CPU usage (cores) by pod",
            "short",
            (0, 16, 12, 8),
            [
                _target(
                    f"sum by (pod) (rate(container_cpu_usage_seconds_total{{{pods}}}[5m]))",
                    "{{pod}}",
                    "A",
                )
            ],
        ),
        _timeseries(
            6,
            "Memory working set by pod",
            "bytes",
            (12, 16, 12, 8),
            [
                _target(
                    f"sum by (pod) (container_memory_working_set_bytes{{{pods}}})", "{{pod}}", "A"
                )
            ],
        ),
        _delivery_panel(args, (0, 24, 24, 5)),
    ]
    return {
        "uid": dashboard_uid(args.namespace, args.service_name),
        "title": f"{args.service_name} ({args.namespace})",
        "description": f"SLO view of {args.service_name}, owned by {args.team}.",
        "tags": ["slipway", f"team:{args.team}", f"service:{args.service_name}"],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "links": [
            {
                "title": "Runbooks",
                "type": "link",
                "url": args.runbook_base_url,
                "targetBlank": True,
                "icon": "doc",
                "tags": [],
                "asDropdown": False,
                "includeVars": False,
                "keepTime": False,
                "tooltip": "What to do when an alert of this dashboard fires",
            }
        ],
        # Grafana adds its built-in "Annotations & Alerts" query on load.
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "hide": 0,
                    "current": {},
                }
            ]
        },
        "panels": panels,
    }


class ServiceObservability(pulumi.ComponentResource):
    """ServiceMonitor, SLO PrometheusRule and Grafana dashboard of one service in one target."""

    service_monitor: k8s.apiextensions.CustomResource
    """The `monitoring.coreos.com/v1` ServiceMonitor."""
    prometheus_rule: k8s.apiextensions.CustomResource
    """The `monitoring.coreos.com/v1` PrometheusRule with the SLO alerts."""
    dashboard: k8s.core.v1.ConfigMap
    """The ConfigMap holding the Grafana dashboard JSON."""
    dashboard_uid: str
    """Grafana uid of the dashboard (stable per namespace and service)."""
    alert_names: list[str]
    """Names of the alerts in the PrometheusRule."""

    def __init__(
        self,
        name: str,
        args: ServiceObservabilityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {
            "app.kubernetes.io/name": args.service_name,
            "team": args.team,
            "cost-center": args.cost_center,
        }
        prom_labels = {**args.prometheus_labels, **labels}

        self.service_monitor = k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.service_name, namespace=args.namespace, labels=prom_labels
            ),
            spec={
                # `job` = the Service's app.kubernetes.io/name, so every Service of the
                # service (live, preview, canary) reports under one job the alerts select.
                "jobLabel": "app.kubernetes.io/name",
                "podTargetLabels": ["slot", "track", "app.kubernetes.io/version"],
                "selector": {"matchLabels": {"app.kubernetes.io/name": args.service_name}},
                "namespaceSelector": {"matchNames": [args.namespace]},
                "endpoints": [
                    {
                        "port": args.slo.metrics_port,
                        "path": args.slo.metrics_path,
                        "interval": args.slo.scrape_interval,
                        "scheme": "http",
                    }
                ],
            },
            opts=child,
        )

        rules = build_alert_rules(args)
        self.alert_names = [r["alert"] for r in rules]
        self.prometheus_rule = k8s.apiextensions.CustomResource(
            f"{name}-prometheusrule",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{args.service_name}-slo", namespace=args.namespace, labels=prom_labels
            ),
            spec={"groups": [{"name": f"{args.service_name}.slo", "rules": rules}]},
            opts=child,
        )

        board = build_dashboard(args)
        self.dashboard_uid = board["uid"]
        self.dashboard = k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{args.service_name}-dashboard",
                namespace=args.dashboard_namespace or args.namespace,
                labels={**labels, "grafana_dashboard": "1"},
                annotations={"grafana_folder": args.dashboard_folder},
            ),
            data={f"{args.service_name}.json": json.dumps(board, indent=2, sort_keys=True)},
            opts=child,
        )

        self.register_outputs(
            {
                "service_monitor_name": args.service_name,
                "prometheus_rule_name": f"{args.service_name}-slo",
                "dashboard_uid": self.dashboard_uid,
                "alert_names": self.alert_names,
            }
        )
