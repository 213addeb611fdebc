"""Canary, Pulumi-native: a stable and a canary track, split by one declared weight.

Children of the Microservice, built from its `WorkloadKit`:

- `<name>-stable`: Deployment `<svc>-stable`, pods `track: stable`, autoscaled by `<name>-hpa`
- `<name>-canary`: Deployment `<svc>-canary`, pods `track: canary` (only once a canary track
  is declared), sized for its weight
- `<name>-hpa-canary`: the canary track's HPA (with autoscaling)
- `<name>-service`: Service `<svc>` over both tracks (the mesh route picks the track)
- `<name>-service-stable`, `<name>-service-canary`: Gateway API backends `<svc>-<track>`
- `<name>-pdb`: PDB over both tracks
- traffic: Istio VirtualService + DestinationRule subsets, or a Gateway API HTTPRoute

Capacity follows the weight: the canary runs at least `ceil(weight% x stable pods)` (the
stable track's pods are `live_replicas`, which `slipway canary` reads from the cluster, else its
HPA minimum or fixed count), never fewer than `canary_replicas`. The count is declared on the
Deployment (forced over the HPA's ownership, as for blue-green slots), and with autoscaling
the canary has its own HPA whose `minReplicas` is that count. The route (VirtualService or
HTTPRoute) depends on both track Deployments, so a weight step waits until the canary is
rolled and scaled for it (Pulumi's Deployment await).

Promotion is not weight 100: `slipway promote` makes the canary's build the stable track's
build (the service's version and config), removes the canary track and sets the weight to 0;
the route then sends everything to stable once the stable Deployment has rolled to that build,
and the canary Deployment is deleted at the end of that `up`. Weight 100 on the canary track is
refused unless the canary is sized for all traffic (`live_replicas` known, or no autoscaling).
A stack without a traffic layer cannot split by weight and is refused when the args are built.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pulumi_kubernetes as k8s

from slipway_components.bluegreen import PATCH_FORCE
from slipway_components.kit import WorkloadKit
from slipway_components.strategies import StrategyArgs
from slipway_components.traffic import (
    IstioParts,
    TrafficArgs,
    build_http_route,
    build_istio,
    canary_split,
)

TRACKS = ("stable", "canary")


def track_selector(kit: WorkloadKit, track: str) -> dict[str, str]:
    """Labels selecting one track's pods."""
    return {**kit.selector, "track": track}


@dataclass(frozen=True)
class CanaryParts:
    """What `build_canary` created."""

    deployment: k8s.apps.v1.Deployment
    """`<name>-stable`: the stable track's Deployment `<svc>-stable`."""
    service: k8s.core.v1.Service
    """`<name>-service`: Service `<svc>` over both tracks."""
    pdb: k8s.policy.v1.PodDisruptionBudget
    """`<name>-pdb`: PDB over both tracks."""
    hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler | None = None
    """`<name>-hpa`: scales the stable track (with autoscaling)."""
    canary_deployment: k8s.apps.v1.Deployment | None = None
    """`<name>-canary`: the canary track's Deployment, once a canary track is declared."""
    canary_hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler | None = None
    """`<name>-hpa-canary`: scales the canary track (with autoscaling), never below the
    weight's share."""
    track_config_maps: dict[str, k8s.core.v1.ConfigMap] = field(default_factory=dict)
    """`canary` -> its own ConfigMap (child `<name>-config-canary`), when it overrides config."""
    track_services: dict[str, k8s.core.v1.Service] = field(default_factory=dict)
    """Gateway API: track -> its backend Service `<svc>-<track>`."""
    mesh: IstioParts | None = None
    """Istio: the mesh objects carrying the weights."""
    http_route: k8s.apiextensions.CustomResource | None = None
    """Gateway API: the HTTPRoute carrying the weights."""


def stable_reference(kit: WorkloadKit, strategy: StrategyArgs) -> int:
    """The stable track's size a canary is measured against: `live_replicas` when declared
    (read from the cluster by `slipway canary`), else the least it runs (HPA minimum or fixed
    replicas)."""
    a = kit.args
    floor = a.autoscaling.min_replicas if a.autoscaling is not None else a.replicas
    return max(strategy.live_replicas or 0, floor)


def build_canary(kit: WorkloadKit, strategy: StrategyArgs, traffic: TrafficArgs) -> CanaryParts:
    """Stable (and canary) Deployments, Services, PDB and the weighted route."""
    st = strategy
    svc = kit.args.service_name
    autoscaled = kit.args.autoscaling is not None
    stable_args = kit.pod_args(extra_labels={"track": "stable"})
    deployment = kit.deployment(
        "stable",
        f"{svc}-stable",
        stable_args,
        track_selector(kit, "stable"),
        extra_labels={"track": "stable"},
    )
    canary_deployment = None
    canary_hpa = None
    config_maps: dict[str, k8s.core.v1.ConfigMap] = {}
    if st.canary is not None:
        config_map_name, config_map = kit.track_config_map("canary", st.canary.config)
        if config_map is not None:
            config_maps["canary"] = config_map
        canary_args = kit.pod_args(
            st.canary, config_map_name=config_map_name, extra_labels={"track": "canary"}
        )
        capacity = st.canary_capacity(stable_reference(kit, st))
        canary_deployment = kit.deployment(
            "canary",
            f"{svc}-canary",
            canary_args,
            track_selector(kit, "canary"),
            replicas=capacity,
            extra_labels={"track": "canary"},
            annotations=PATCH_FORCE if autoscaled else None,
        )
        canary_hpa = kit.hpa(
            "Deployment",
            f"{svc}-canary",
            resource_name=f"{kit.name}-hpa-canary",
            object_name=f"{svc}-canary",
            min_replicas=capacity,
        )
    service = kit.service(f"{kit.name}-service", svc, kit.selector)
    hpa = kit.hpa("Deployment", f"{svc}-stable")
    pdb = kit.pdb(f"{kit.name}-pdb", svc, kit.selector)

    split = canary_split(st.weight) if st.canary is not None else [("stable", 100)]
    # The route changes only once the tracks it sends traffic to are rolled and sized.
    wait_for = [d for d in (deployment, canary_deployment) if d is not None]
    parts = CanaryParts(
        deployment=deployment,
        service=service,
        pdb=pdb,
        hpa=hpa,
        canary_deployment=canary_deployment,
        canary_hpa=canary_hpa,
        track_config_maps=config_maps,
    )
    if traffic.layer == "istio":
        return replace(
            parts, mesh=build_istio(kit, traffic, subsets=True, split=split, wait_for=wait_for)
        )
    track_services = {
        t: kit.service(f"{kit.name}-service-{t}", f"{svc}-{t}", track_selector(kit, t))
        for t in TRACKS
    }
    return replace(
        parts,
        track_services=track_services,
        http_route=build_http_route(kit, traffic, split, wait_for=wait_for),
    )
