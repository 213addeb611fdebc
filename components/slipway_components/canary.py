"""Canary, Pulumi-native: a stable and a canary track, split by one declared weight.

Children of the Microservice:

- `<name>-stable`: Deployment `<svc>-stable`, pods `track: stable`, autoscaled by `<name>-hpa`
- `<name>-canary`: Deployment `<svc>-canary`, pods `track: canary`, `canary_replicas` of them
  (only once a canary track is declared)
- `<name>-service`: Service `<svc>` over both tracks (the mesh route picks the track)
- `<name>-service-stable`, `<name>-service-canary`: Gateway API backends `<svc>-<track>`
- `<name>-pdb`: PDB over both tracks
- traffic: Istio VirtualService + DestinationRule subsets, or a Gateway API HTTPRoute

The weight lives only in the route: the canary Deployment's size does not follow it, so a step
(`slipway canary <svc> --weight 25`) changes two route weights and nothing else. A stack
without a traffic layer cannot split by weight and is refused when the args are built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s

from slipway_components.traffic import build_http_route, build_istio, canary_split

if TYPE_CHECKING:
    from slipway_components.microservice import Microservice

TRACKS = ("stable", "canary")


def track_selector(ms: Microservice, track: str) -> dict[str, str]:
    return {**ms.selector, "track": track}


def build_canary(ms: Microservice) -> None:
    """Stable (and canary) Deployments, Services, PDB and the weighted route."""
    a = ms.args
    st = a.strategy
    svc = a.service_name
    stable_args = ms._pod_args(
        a.image,
        ms._track_config_map("stable", {}),
        version=a.version_label,
        extra_labels={"track": "stable"},
    )
    ms.deployment = k8s.apps.v1.Deployment(
        f"{ms._name}-stable",
        metadata=ms._meta(f"{svc}-stable", {"track": "stable"}),
        spec=ms._deployment_spec(stable_args, track_selector(ms, "stable")),
        opts=pulumi.ResourceOptions(parent=ms, depends_on=list(ms.workload_deps)),
    )
    ms.canary_deployment: k8s.apps.v1.Deployment | None = None
    if st.canary is not None:
        track = st.canary
        canary_args = ms._pod_args(
            track.image or a.image,
            ms._track_config_map("canary", track.config),
            version=track.version_label or (None if track.image else a.version_label),
            extra_labels={"track": "canary"},
        )
        ms.canary_deployment = k8s.apps.v1.Deployment(
            f"{ms._name}-canary",
            metadata=ms._meta(f"{svc}-canary", {"track": "canary"}),
            spec=ms._deployment_spec(canary_args, track_selector(ms, "canary"), st.canary_replicas),
            opts=pulumi.ResourceOptions(parent=ms, depends_on=list(ms.workload_deps)),
        )
    ms.service = ms._service(f"{ms._name}-service", svc, ms.selector)
    ms.hpa = None
    if a.autoscaling:
        ms.hpa = ms._hpa("Deployment", f"{svc}-stable")
    ms.pdb = ms._pdb(f"{ms._name}-pdb", svc, ms.selector)

    split = canary_split(st.weight) if st.canary is not None else [("stable", 100)]
    if a.traffic.layer == "istio":
        build_istio(ms, subsets=True, split=split)
    else:
        ms.track_services = {
            t: ms._service(f"{ms._name}-service-{t}", f"{svc}-{t}", track_selector(ms, t))
            for t in TRACKS
        }
        build_http_route(ms, split)
