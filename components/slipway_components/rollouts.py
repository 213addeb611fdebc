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

Argo Rollouts owns what it changes at run time. The Services' `spec.selector` is an atomic map
(core/v1 `+mapType=atomic`): when Argo adds `rollouts-pod-template-hash` it owns the whole map,
and re-applying Pulumi's selector would either conflict with the controller or drop the hash
(every pod of both versions behind the Service). So the Services Argo steers (`activeService`,
`previewService`, `stableService`, `canaryService`) are created with the plain selector and
then leave `spec.selector` to Argo (`ARGO_OWNED_SERVICE`), the way `traffic.ARGO_OWNED`
leaves the route weights and subsets' labels. The route's timeout, retries and fault are set
at creation.
The analysis measures only the new version's pods: its `pod-template-hash` argument comes from
the Rollout (`podTemplateHashValue: Latest`), and pod names start with `<svc>-<hash>-`.

Analysis tells "no traffic" from "bad version". A Prometheus ratio over no requests is NaN,
and a selector matching nothing gives an empty vector; Argo counts a failed condition, and an
error (`result[0]` of an empty result), against the failure and error limits, so a quiet
canary aborted. Now each query returns nothing unless the new pods served `min_requests` in
the window, the success condition needs a non-empty, non-NaN result that meets the
threshold, and the failure condition only a measured breach: no data is Inconclusive, which
pauses the rollout (after `inconclusive_limit`) instead of aborting it. Blue-green runs the
Prometheus analysis after promotion (`postPromotionAnalysis`), once the new pods serve
traffic; a failure aborts and Argo switches the active Service back to the old ReplicaSet, so
`scaleDownDelaySeconds` is longer than that analysis. Pre-promotion is only for a check that
needs no user traffic (`pre_rollout`, a webhook or load test).

Capacity: blue-green switches only once the preview runs the full `spec.replicas` (no
`previewReplicaCount`; with an HPA the Rollout's replicas are the HPA's live count). A canary
with traffic routing keeps the stable ReplicaSet at full size (`dynamicStableScale: false`)
so an abort sends traffic back to warm pods, and the old version stays up for
`scaleDownDelaySeconds` after a promote.

`pulumi up` does not wait for a rollout. pulumi-kubernetes (provider/pkg/await, ReadyCondition
and condition/jsonpath.go) evaluates `pulumi.com/waitFor` on the object the apply returns and
its watch events, without comparing `status.observedGeneration` with `metadata.generation`
(a JSON list of conditions is supported, but no expression can refer to the new
generation). Right after a spec change the Rollout still carries the previous revision's
status, so `{.status.phase}=Healthy` was satisfied at once and `up` returned before the
rollout started. The annotation is therefore `condition=Available` (at least the minimum of
pods serve, which a stale status states truthfully), with the progress deadline as its
timeout; `slipway deploy`'s gate does the real wait for the new revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from slipway_components.kit import WorkloadKit
from slipway_components.podspec import pod_template
from slipway_components.strategies import PreRolloutArgs, StrategyArgs
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
ARGO_OWNED_SERVICE = ("spec.selector",)
"""What Argo Rollouts owns in the Services it steers: the selector, an atomic map to which it
adds `rollouts-pod-template-hash`. Pulumi sets it at creation and ignores it afterwards."""


def _analysis_args(kit: WorkloadKit) -> list[dict[str, Any]]:
    return [
        {"name": "service-name", "value": kit.args.service_name},
        {"name": "namespace", "value": kit.args.namespace},
        {"name": "pod-template-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
    ]


def _measured(quantifier: str, value: str, compare: str) -> str:
    """`<compare> <value>` on a non-empty, non-NaN result only. Written with expr-lang's
    `len`, `all`/`any` and Argo's `isNaN` (utils/evaluate/evaluate.go EvalCondition's env;
    a Prometheus vector arrives as `[]float64`, metricproviders/prometheus processResponse),
    never `result[0]`: unguarded, it is an expr runtime error on an empty result, which Argo
    counts as an Error, and a proposed evaluate.go check (validateIndexedResultAccess, not
    on main as of 2026-08) would refuse any indexing of an empty result, guarded or not.
    The queries are sums, one element each, so `all` and `any` read that element."""
    return f"len(result) > 0 && {quantifier}(result, {{!isNaN(#) && # {compare} {value}}})"


def analysis_template_spec(strategy: StrategyArgs, *, bounded: bool) -> dict[str, Any]:
    """Success rate and p99 latency of the new version's pods, with thresholds and a
    failure limit. `bounded`: a fixed number of measurements (post-promotion analysis must
    end); otherwise it runs in the background until the rollout completes.

    Each query returns an empty vector unless the new pods served `min_requests` in the
    window (`and on() ... >= min_requests`); an empty or NaN result meets neither condition
    and is Inconclusive, not Failed."""
    an = strategy.analysis
    pods = (
        'namespace="{{args.namespace}}",pod=~"{{args.service-name}}-{{args.pod-template-hash}}-.*"'
    )
    window = f"{max(2 * an.interval_seconds, 60)}s"
    served = f"sum(increase({an.requests_metric}{{{pods}}}[{window}]))"
    enough = f" and on() ({served} >= {an.min_requests})"
    success = (
        f'(sum(rate({an.requests_metric}{{{pods},code!~"5.."}}[{window}]))'
        f" / sum(rate({an.requests_metric}{{{pods}}}[{window}])))" + enough
    )
    latency = (
        f"histogram_quantile(0.99, sum by (le) "
        f"(rate({an.duration_metric}_bucket{{{pods}}}[{window}])))" + enough
    )
    common: dict[str, Any] = {
        "interval": f"{an.interval_seconds}s",
        "failureLimit": an.failure_limit,
        "inconclusiveLimit": an.inconclusive_limit,
    }
    if bounded:
        common["count"] = an.count
    rate_min = f"{an.success_rate_min:g}"
    p99_max = f"{an.latency_p99_max_seconds:g}"
    return {
        "args": [{"name": "service-name"}, {"name": "namespace"}, {"name": "pod-template-hash"}],
        "metrics": [
            {
                "name": "success-rate",
                **common,
                "successCondition": _measured("all", rate_min, ">="),
                "failureCondition": _measured("any", rate_min, "<"),
                "provider": {"prometheus": {"address": an.prometheus_address, "query": success}},
            },
            {
                "name": "latency-p99",
                **common,
                "successCondition": _measured("all", p99_max, "<="),
                "failureCondition": _measured("any", p99_max, ">"),
                "provider": {"prometheus": {"address": an.prometheus_address, "query": latency}},
            },
        ],
    }


def pre_rollout_template_spec(check: PreRolloutArgs) -> dict[str, Any]:
    """A `web` metric: Argo calls the URL and judges the JSON answer; any failure aborts."""
    metric: dict[str, Any] = {
        "name": "pre-rollout",
        "count": check.count,
        "failureLimit": 0,
        "successCondition": check.success_condition,
        "provider": {
            "web": {
                "url": check.url,
                "method": check.method,
                "timeoutSeconds": check.timeout_seconds,
                "jsonPath": check.json_path,
            }
        },
    }
    if check.count > 1:
        metric["interval"] = f"{check.interval_seconds}s"
    return {"args": [{"name": "service-name"}, {"name": "namespace"}], "metrics": [metric]}


def await_annotations(kit: WorkloadKit) -> dict[str, str]:
    """What `pulumi up` waits for, and for how long: availability within the progress deadline
    (see the module docstring for why not the rollout's end)."""
    return {
        "pulumi.com/waitFor": "condition=Available",
        "pulumi.com/timeoutSeconds": str(kit.args.rolling.progress_deadline_seconds),
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
    pre_rollout_template: k8s.apiextensions.CustomResource | None = None
    """`<name>-pre-rollout`: AnalysisTemplate `<svc>-pre-rollout` (with `pre_rollout`)."""
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
    pre_rollout_template: k8s.apiextensions.CustomResource | None = None
    pre_rollout_ref: dict[str, Any] | None = None
    if st.pre_rollout is not None:
        pre_rollout_template = k8s.apiextensions.CustomResource(
            f"{kit.name}-pre-rollout",
            api_version=ARGO,
            kind="AnalysisTemplate",
            metadata=kit.meta(f"{svc}-pre-rollout", annotations=SKIP_AWAIT),
            spec=pre_rollout_template_spec(st.pre_rollout),
            opts=kit.opts(),
        )
        pre_rollout_ref = {
            "templates": [{"templateName": f"{svc}-pre-rollout"}],
            "args": _analysis_args(kit)[:2],
        }
    templates = [t for t in (analysis_template, pre_rollout_template) if t is not None]

    def argo_service(resource_name: str, object_name: str) -> k8s.core.v1.Service:
        return kit.service(
            resource_name,
            object_name,
            kit.selector,
            opts=kit.opts(ignore_changes=list(ARGO_OWNED_SERVICE)),
        )

    # The canary's `<svc>` selects both versions (Argo steers the subsets or the track
    # Services); blue-green's is the `activeService`, whose selector Argo sets.
    service = (
        argo_service(f"{kit.name}-service", svc)
        if st.type == "blue-green"
        else kit.service(f"{kit.name}-service", svc, kit.selector)
    )
    preview_service: k8s.core.v1.Service | None = None
    track_services: dict[str, k8s.core.v1.Service] = {}
    mesh: IstioParts | None = None
    http_route: k8s.apiextensions.CustomResource | None = None
    traffic_objects: list[pulumi.Resource] = []
    if st.type == "blue-green":
        preview_service = argo_service(f"{kit.name}-preview", f"{svc}-preview")
        blue_green: dict[str, Any] = {
            "activeService": svc,
            "previewService": f"{svc}-preview",
            "autoPromotionEnabled": st.auto_promotion,
            "postPromotionAnalysis": analysis_ref,
            "scaleDownDelaySeconds": st.scale_down_delay,
        }
        if pre_rollout_ref is not None:
            blue_green["prePromotionAnalysis"] = pre_rollout_ref
        strategy_spec: dict[str, Any] = {"blueGreen": blue_green}
        traffic_objects = [service, preview_service]
    else:
        steps = st.rendered_steps()
        if pre_rollout_ref is not None:
            steps.insert(0, {"analysis": pre_rollout_ref})
        canary: dict[str, Any] = {
            "steps": steps,
            # The background analysis starts with the first traffic step after the check.
            "analysis": {**analysis_ref, "startingStep": 2 if pre_rollout_ref else 1},
            "dynamicStableScale": False,
            "scaleDownDelaySeconds": st.scale_down_delay,
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
                t: argo_service(f"{kit.name}-service-{t}", f"{svc}-{t}")
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
        if st.managed_routes:
            canary["trafficRouting"]["managedRoutes"] = [{"name": n} for n in st.managed_routes]
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
    annotations = await_annotations(kit)
    if st.notifications is not None:
        annotations |= st.notifications.annotations()
    rollout = k8s.apiextensions.CustomResource(
        f"{kit.name}-rollout",
        api_version=ARGO,
        kind="Rollout",
        metadata=kit.meta(svc, annotations=annotations),
        spec=spec,
        opts=kit.workload_opts(*templates, *traffic_objects),
    )
    return RolloutParts(
        rollout=rollout,
        analysis_template=analysis_template,
        service=service,
        hpa=kit.hpa("Rollout", svc, api_version=ARGO),
        pdb=kit.pdb(f"{kit.name}-pdb", svc, kit.selector),
        pre_rollout_template=pre_rollout_template,
        preview_service=preview_service,
        track_services=track_services,
        mesh=mesh,
        http_route=http_route,
    )
