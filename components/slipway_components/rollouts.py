"""Progressive delivery with automatic rollback, delegated to Argo Rollouts.

Children of the Microservice:

- `<name>-rollout`: `argoproj.io/v1alpha1` Rollout `<svc>`, the hardened pod template
- `<name>-analysis`: AnalysisTemplate `<svc>-analysis`, success rate and p99 on Prometheus
- `<name>-service`: Service `<svc>` (blue-green `activeService`)
- `<name>-preview`: Service `<svc>-preview` (blue-green `previewService`)
- `<name>-service-stable`, `<name>-service-canary`: canary `stableService` / `canaryService`
  (Gateway API)
- `<name>-hpa`: HPA targeting the Rollout (with autoscaling); `<name>-pdb`: PDB
- traffic: Istio VirtualService/DestinationRule (subset-level split) or a Gateway API HTTPRoute

Argo Rollouts owns what it changes at run time: the Services' pod-template-hash selector key
(server-side apply keeps Pulumi's keys and Argo's apart), the route weights and the subsets'
labels (Pulumi ignores those paths). The analysis measures only the new version's pods: its
`pod-template-hash` argument comes from the Rollout (`podTemplateHashValue: Latest`), and pod
names start with `<svc>-<hash>-`.

`pulumi up` waits for the Rollout through the provider's `pulumi.com/waitFor` annotation:
`jsonpath={.status.phase}=Healthy` when the rollout can finish on its own (auto-promotion, or
canary steps without an open-ended pause); `condition=Available` when a person has to promote
(waiting for Healthy would block `pulumi up` until the timeout). `pulumi.com/timeoutSeconds`
covers the progress deadline, every timed pause and the analysis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as k8s

from slipway_components.podspec import pod_template
from slipway_components.traffic import (
    SKIP_AWAIT,
    build_http_route,
    build_istio,
    canary_split,
    mesh_route_name,
)

if TYPE_CHECKING:
    from slipway_components.microservice import Microservice

ARGO = "argoproj.io/v1alpha1"
GATEWAY_PLUGIN = "argoproj-labs/gatewayAPI"


def _analysis_args(ms: Microservice) -> list[dict[str, Any]]:
    return [
        {"name": "service-name", "value": ms.args.service_name},
        {"name": "namespace", "value": ms.args.namespace},
        {"name": "pod-template-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
    ]


def analysis_template_spec(ms: Microservice, *, bounded: bool) -> dict[str, Any]:
    """Success rate and p99 latency of the new version's pods, with thresholds and a
    failure limit. `bounded`: a fixed number of measurements (pre-promotion analysis must
    end); otherwise it runs in the background until the rollout completes."""
    an = ms.args.strategy.analysis
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


def await_annotations(ms: Microservice) -> dict[str, str]:
    """What `pulumi up` waits for, and for how long."""
    st = ms.args.strategy
    an = st.analysis
    if st.type == "blue-green":
        unattended = st.auto_promotion
        budget = an.interval_seconds * an.count + st.scale_down_delay_seconds
    else:
        unattended = all(s.set_weight is not None or s.pause_seconds for s in st.steps)
        budget = sum(s.pause_seconds or 0 for s in st.steps)
    timeout = ms.args.rolling.progress_deadline_seconds + budget
    return {
        "pulumi.com/waitFor": (
            "jsonpath={.status.phase}=Healthy" if unattended else "condition=Available"
        ),
        "pulumi.com/timeoutSeconds": str(timeout),
    }


def build_rollout(ms: Microservice) -> None:
    """Rollout, AnalysisTemplate, Services, HPA, PDB and the traffic objects Argo steers."""
    a = ms.args
    st = a.strategy
    svc = a.service_name
    analysis_name = f"{svc}-analysis"
    ms.analysis_template = k8s.apiextensions.CustomResource(
        f"{ms._name}-analysis",
        api_version=ARGO,
        kind="AnalysisTemplate",
        metadata=ms._meta(analysis_name, annotations=SKIP_AWAIT),
        spec=analysis_template_spec(ms, bounded=st.type == "blue-green"),
        opts=pulumi.ResourceOptions(parent=ms),
    )
    analysis_ref = {"templates": [{"templateName": analysis_name}], "args": _analysis_args(ms)}

    ms.service = ms._service(f"{ms._name}-service", svc, ms.selector)
    traffic_objects: list[pulumi.Resource] = []
    if st.type == "blue-green":
        ms.preview_service = ms._service(f"{ms._name}-preview", f"{svc}-preview", ms.selector)
        strategy: dict[str, Any] = {
            "blueGreen": {
                "activeService": svc,
                "previewService": f"{svc}-preview",
                "autoPromotionEnabled": st.auto_promotion,
                "prePromotionAnalysis": analysis_ref,
                "scaleDownDelaySeconds": st.scale_down_delay_seconds,
            }
        }
        traffic_objects = [ms.service, ms.preview_service]
    else:
        canary: dict[str, Any] = {
            "steps": [s.render() for s in st.steps],
            "analysis": {**analysis_ref, "startingStep": 1},
        }
        split = canary_split(0)
        if a.traffic.layer == "istio":
            build_istio(ms, subsets=True, split=split, argo_managed=True)
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
            traffic_objects = [ms.service, ms.virtual_service, ms.destination_rule]
        else:
            ms.track_services = {
                t: ms._service(f"{ms._name}-service-{t}", f"{svc}-{t}", ms.selector)
                for t in ("stable", "canary")
            }
            build_http_route(ms, split, argo_managed=True)
            canary["stableService"] = f"{svc}-stable"
            canary["canaryService"] = f"{svc}-canary"
            canary["trafficRouting"] = {
                "plugins": {
                    GATEWAY_PLUGIN: {"httpRoute": mesh_route_name(svc), "namespace": a.namespace}
                }
            }
            traffic_objects = [*ms.track_services.values(), ms.http_route]
        strategy = {"canary": canary}

    spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(ms.selector)},
        "revisionHistoryLimit": 5,
        "minReadySeconds": a.rolling.min_ready_seconds,
        "progressDeadlineSeconds": a.rolling.progress_deadline_seconds,
        "progressDeadlineAbort": True,
        "template": pod_template(ms.pod_args),
        "strategy": strategy,
    }
    if a.autoscaling is None:
        spec["replicas"] = a.replicas
    ms.rollout = k8s.apiextensions.CustomResource(
        f"{ms._name}-rollout",
        api_version=ARGO,
        kind="Rollout",
        metadata=ms._meta(svc, annotations=await_annotations(ms)),
        spec=spec,
        opts=pulumi.ResourceOptions(
            parent=ms,
            depends_on=[*ms.workload_deps, ms.analysis_template, *traffic_objects],
        ),
    )
    ms.hpa = None
    if a.autoscaling:
        ms.hpa = ms._hpa("Rollout", svc, api_version=ARGO)
    ms.pdb = ms._pdb(f"{ms._name}-pdb", svc, ms.selector)
