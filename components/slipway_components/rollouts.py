"""Progressive delivery with automatic rollback, delegated to Argo Rollouts.

Children of the Microservice, built from its `WorkloadKit`:

- `<name>-rollout`: `argoproj.io/v1alpha1` Rollout `<svc>`, the hardened pod template
- `<name>-analysis`: AnalysisTemplate `<svc>-analysis`, success rate and p99 on Prometheus
- `<name>-service`: Service `<svc>` (blue-green `activeService`)
- `<name>-preview`: Service `<svc>-preview` (blue-green `previewService`)
- `<name>-service-stable`, `<name>-service-canary`: canary `stableService` / `canaryService`
  (Gateway API)
- `<name>-hpa`: HPA targeting the Rollout (with autoscaling); `<name>-pdb`: PDB
- traffic: Istio VirtualService/DestinationRule (subset-level split) or a Gateway API HTTPRoute

Argo Rollouts owns what it changes at run time: the Services' pod-template-hash selector key
(server-side apply keeps Pulumi's keys and Argo's apart), and the route weights and subsets'
labels, which sit in atomic lists: Pulumi creates those lists and then leaves them whole to
Argo (`traffic.ARGO_OWNED`), so the route's timeout, retries and fault are set at creation.
The analysis measures only the new version's pods: its `pod-template-hash` argument comes from
the Rollout (`podTemplateHashValue: Latest`), and pod names start with `<svc>-<hash>-`.

`pulumi up` waits for the Rollout through the provider's `pulumi.com/waitFor` annotation:
`jsonpath={.status.phase}=Healthy` when the rollout can finish on its own (auto-promotion, or
canary steps without an open-ended pause); `condition=Available` when a person has to promote
(waiting for Healthy would block `pulumi up` until the timeout). `pulumi.com/timeoutSeconds`
covers the progress deadline, every timed pause and the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from slipway_components.kit import WorkloadKit
from slipway_components.podspec import pod_template
from slipway_components.strategies import StrategyArgs
from slipway_components.traffic import (
    SKIP_AWAIT,
    IstioParts,
    TrafficArgs,
    build_http_route,
    build_istio,
    canary_split,
    mesh_route_name,
)

ARGO = "argoproj.io/v1alpha1"
GATEWAY_PLUGIN = "argoproj-labs/gatewayAPI"


def _analysis_args(kit: WorkloadKit) -> list[dict[str, Any]]:
    return [
        {"name": "service-name", "value": kit.args.service_name},
        {"name": "namespace", "value": kit.args.namespace},
        {"name": "pod-template-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
    ]


def analysis_template_spec(strategy: StrategyArgs, *, bounded: bool) -> dict[str, Any]:
    """Success rate and p99 latency of the new version's pods, with thresholds and a
    failure limit. `bounded`: a fixed number of measurements (pre-promotion analysis must
    end); otherwise it runs in the background until the rollout completes."""
    an = strategy.analysis
    pods = (
        'namespace="{{args.namespace}}",pod=~"{{args.service-name}}-{{args.pod-template-hash}}-.*"'
    )
    window = f"{max(2 * an.interval_seconds, 60)}s"
    success = (
        f'sum(rate({an.requests_metric}{{{pods},code!~"5.."}}[{window}]))'
        f" / sum(rate({an.requests_metric}{{{pods}}}[{window}]))"
    )
    latency = (
        f"histogram_quantile(0.99, sum by (le) "
        f"(rate({an.duration_metric}_bucket{{{pods}}}[{window}])))"
    )
    common: dict[str, Any] = {
        "interval": f"{an.interval_seconds}s",
        "failureLimit": an.failure_limit,
    }
    if bounded:
        common["count"] = an.count
    return {
        "args": [{"name": "service-name"}, {"name": "namespace"}, {"name": "pod-template-hash"}],
        "metrics": [
            {
                "name": "success-rate",
                **common,
                "successCondition": f"result[0] >= {an.success_rate_min:g}",
                "provider": {"prometheus": {"address": an.prometheus_address, "query": success}},
            },
            {
                "name": "latency-p99",
                **common,
                "successCondition": f"result[0] <= {an.latency_p99_max_seconds:g}",
                "provider": {"prometheus": {"address": an.prometheus_address, "query": latency}},
            },
        ],
    }


def await_annotations(kit: WorkloadKit, strategy: StrategyArgs) -> dict[str, str]:
    """What `pulumi up` waits for, and for how long."""
    st = strategy
    an = st.analysis
    if st.type == "blue-green":
        unattended = st.auto_promotion
        budget = an.interval_seconds * an.count + st.scale_down_delay_seconds
    else:
        unattended = all(s.set_weight is not None or s.pause_seconds for s in st.steps)
        budget = sum(s.pause_seconds or 0 for s in st.steps)
    timeout = kit.args.rolling.progress_deadline_seconds + budget
    return {
        "pulumi.com/waitFor": (
            "jsonpath={.status.phase}=Healthy" if unattended else "condition=Available"
        ),
        "pulumi.com/timeoutSeconds": str(timeout),
    }


@dataclass(frozen=True)
class RolloutParts:
    """What `build_rollout` created."""

    rollout: k8s.apiextensions.CustomResource
    """`<name>-rollout`: the Rollout `<svc>`."""
    analysis_template: k8s.apiextensions.CustomResource
    """`<name>-analysis`: AnalysisTemplate `<svc>-analysis`."""
    service: k8s.core.v1.Service
    """`<name>-service`: Service `<svc>`."""
    pdb: k8s.policy.v1.PodDisruptionBudget
    """`<name>-pdb`."""
    hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler | None = None
    """`<name>-hpa`: scales the Rollout (with autoscaling)."""
    preview_service: k8s.core.v1.Service | None = None
    """Blue-green: `<name>-preview`, the `previewService`."""
    track_services: dict[str, k8s.core.v1.Service] = field(default_factory=dict)
    """Canary with the Gateway API: `stableService` and `canaryService`."""
    mesh: IstioParts | None = None
    """Canary with Istio: the mesh objects Argo steers."""
    http_route: k8s.apiextensions.CustomResource | None = None
    """Canary with the Gateway API: the HTTPRoute Argo steers."""


def build_rollout(kit: WorkloadKit, strategy: StrategyArgs, traffic: TrafficArgs) -> RolloutParts:
    """Rollout, AnalysisTemplate, Services, HPA, PDB and the traffic objects Argo steers."""
    a = kit.args
    st = strategy
    svc = a.service_name
    analysis_name = f"{svc}-analysis"
    analysis_template = k8s.apiextensions.CustomResource(
        f"{kit.name}-analysis",
        api_version=ARGO,
        kind="AnalysisTemplate",
        metadata=kit.meta(analysis_name, annotations=SKIP_AWAIT),
        spec=analysis_template_spec(st, bounded=st.type == "blue-green"),
        opts=kit.opts(),
    )
    analysis_ref = {"templates": [{"templateName": analysis_name}], "args": _analysis_args(kit)}

    service = kit.service(f"{kit.name}-service", svc, kit.selector)
    preview_service: k8s.core.v1.Service | None = None
    track_services: dict[str, k8s.core.v1.Service] = {}
    mesh: IstioParts | None = None
    http_route: k8s.apiextensions.CustomResource | None = None
    traffic_objects: list[pulumi.Resource] = []
    if st.type == "blue-green":
        preview_service = kit.service(f"{kit.name}-preview", f"{svc}-preview", kit.selector)
        strategy_spec: dict[str, Any] = {
            "blueGreen": {
                "activeService": svc,
                "previewService": f"{svc}-preview",
                "autoPromotionEnabled": st.auto_promotion,
                "prePromotionAnalysis": analysis_ref,
                "scaleDownDelaySeconds": st.scale_down_delay_seconds,
            }
        }
        traffic_objects = [service, preview_service]
    else:
        canary: dict[str, Any] = {
            "steps": [s.render() for s in st.steps],
            "analysis": {**analysis_ref, "startingStep": 1},
        }
        split = canary_split(0)
        if traffic.layer == "istio":
            mesh = build_istio(kit, traffic, subsets=True, split=split, argo_managed=True)
            canary["trafficRouting"] = {
                "istio": {
                    "virtualService": {"name": svc, "routes": ["primary"]},
                    "destinationRule": {
                        "name": svc,
                        "canarySubsetName": "canary",
                        "stableSubsetName": "stable",
                    },
                }
            }
            traffic_objects = [service, mesh.virtual_service, mesh.destination_rule]
        else:
            track_services = {
                t: kit.service(f"{kit.name}-service-{t}", f"{svc}-{t}", kit.selector)
                for t in ("stable", "canary")
            }
            http_route = build_http_route(kit, traffic, split, argo_managed=True)
            canary["stableService"] = f"{svc}-stable"
            canary["canaryService"] = f"{svc}-canary"
            canary["trafficRouting"] = {
                "plugins": {
                    GATEWAY_PLUGIN: {"httpRoute": mesh_route_name(svc), "namespace": a.namespace}
                }
            }
            traffic_objects = [*track_services.values(), http_route]
        strategy_spec = {"canary": canary}

    spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(kit.selector)},
        "revisionHistoryLimit": 5,
        "minReadySeconds": a.rolling.min_ready_seconds,
        "progressDeadlineSeconds": a.rolling.progress_deadline_seconds,
        "progressDeadlineAbort": True,
        "template": pod_template(kit.pod_args()),
        "strategy": strategy_spec,
    }
    if a.autoscaling is None:
        spec["replicas"] = a.replicas
    rollout = k8s.apiextensions.CustomResource(
        f"{kit.name}-rollout",
        api_version=ARGO,
        kind="Rollout",
        metadata=kit.meta(svc, annotations=await_annotations(kit, st)),
        spec=spec,
        opts=kit.workload_opts(analysis_template, *traffic_objects),
    )
    return RolloutParts(
        rollout=rollout,
        analysis_template=analysis_template,
        service=service,
        hpa=kit.hpa("Rollout", svc, api_version=ARGO),
        pdb=kit.pdb(f"{kit.name}-pdb", svc, kit.selector),
        preview_service=preview_service,
        track_services=track_services,
        mesh=mesh,
        http_route=http_route,
    )
