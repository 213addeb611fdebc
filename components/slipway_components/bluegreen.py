"""Blue-green slots, Pulumi-native: a promote is one declared value, and its diff is two
Service selectors.

Children of the Microservice (`<name>` is its Pulumi name, `<svc>` the Kubernetes name):

- `<name>-blue`, `<name>-green`: Deployments `<svc>-blue`, `<svc>-green`, pods `slot: blue|green`
- `<name>-service`: the live Service `<svc>`, selecting the active slot
- `<name>-preview`: Service `<svc>-preview`, selecting the idle slot (smoke tests)
- `<name>-hpa-blue`, `<name>-hpa-green`: each slot's HPA (with autoscaling)
- `<name>-pdb-blue`, `<name>-pdb-green`: each slot's PDB
- `<name>-config-blue`, `<name>-config-green`: a slot's own hashed ConfigMap, only when the
  slot overrides config

Decision: "HPA and PDB follow the active slot" is met by giving each slot its own HPA and PDB.
Whichever slot is active is therefore always autoscaled and protected from disruption, and a
promote or rollback does not touch them: nothing is created, deleted or retargeted, only the
live and preview Services' `slot` selectors swap. (One HPA/PDB retargeted on promote would turn
the promote into four changes, and an HPA switching targets starts from a cold history.)

The idle slot is warm by default: same replicas and autoscaling as the active one, so a promote
or a rollback is instant. `idle_replicas` scales it down explicitly (0 parks it): its HPA is then
left out and its Deployment holds that count. Promoting onto a parked slot would send all
traffic to too few pods, so `slipway promote` refuses it until the slot is scaled up again.
Each slot runs its own version (`blue` / `green` track args) and may override config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s

from slipway_components.strategies import SLOTS

if TYPE_CHECKING:
    from slipway_components.microservice import Microservice


def slot_selector(ms: Microservice, slot: str) -> dict[str, str]:
    return {**ms.selector, "slot": slot}


def build_blue_green(ms: Microservice) -> None:
    """Two slot Deployments with their own HPA and PDB, the live and the preview Service."""
    a = ms.args
    st = a.strategy
    svc = a.service_name
    ms.slots: dict[str, k8s.apps.v1.Deployment] = {}
    ms.slot_hpas: dict[str, k8s.autoscaling.v2.HorizontalPodAutoscaler] = {}
    ms.slot_pdbs: dict[str, k8s.policy.v1.PodDisruptionBudget] = {}
    for slot in SLOTS:
        track = st.track(slot)
        image = track.image or a.image
        pod_args = ms._pod_args(
            image,
            ms._track_config_map(slot, track.config),
            version=track.version_label or (None if track.image else a.version_label),
            extra_labels={"slot": slot},
        )
        parked = slot == st.idle_slot and st.idle_replicas is not None
        ms.slots[slot] = k8s.apps.v1.Deployment(
            f"{ms._name}-{slot}",
            metadata=ms._meta(f"{svc}-{slot}", {"slot": slot}),
            spec=ms._deployment_spec(
                pod_args, slot_selector(ms, slot), st.idle_replicas if parked else None
            ),
            opts=pulumi.ResourceOptions(parent=ms, depends_on=list(ms.workload_deps)),
        )
        if a.autoscaling and not parked:
            ms.slot_hpas[slot] = ms._hpa(
                "Deployment",
                f"{svc}-{slot}",
                resource_name=f"{ms._name}-hpa-{slot}",
                object_name=f"{svc}-{slot}",
            )
        ms.slot_pdbs[slot] = ms._pdb(
            f"{ms._name}-pdb-{slot}", f"{svc}-{slot}", slot_selector(ms, slot)
        )
    ms.service = ms._service(f"{ms._name}-service", svc, slot_selector(ms, st.active_slot))
    ms.preview_service = ms._service(
        f"{ms._name}-preview", f"{svc}-preview", slot_selector(ms, st.idle_slot)
    )
