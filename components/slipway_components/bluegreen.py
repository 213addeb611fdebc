"""Blue-green slots, Pulumi-native: a promote is one declared value, and its diff is two
Service selectors.

Children of the Microservice (`<name>` is its Pulumi name, `<svc>` the Kubernetes name), built
from its `WorkloadKit`:

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

from dataclasses import dataclass, field

import pulumi_kubernetes as k8s

from slipway_components.kit import WorkloadKit
from slipway_components.strategies import SLOTS, StrategyArgs


def slot_selector(kit: WorkloadKit, slot: str) -> dict[str, str]:
    """Labels selecting one slot's pods."""
    return {**kit.selector, "slot": slot}


@dataclass(frozen=True)
class BlueGreenParts:
    """What `build_blue_green` created."""

    slots: dict[str, k8s.apps.v1.Deployment]
    """Slot -> its Deployment `<svc>-<slot>` (child `<name>-<slot>`)."""
    service: k8s.core.v1.Service
    """`<name>-service`: the live Service `<svc>`, selecting the active slot."""
    preview_service: k8s.core.v1.Service
    """`<name>-preview`: Service `<svc>-preview`, selecting the idle slot."""
    slot_pdbs: dict[str, k8s.policy.v1.PodDisruptionBudget]
    """Slot -> its PDB (child `<name>-pdb-<slot>`)."""
    slot_hpas: dict[str, k8s.autoscaling.v2.HorizontalPodAutoscaler] = field(default_factory=dict)
    """Slot -> its HPA (child `<name>-hpa-<slot>`), with autoscaling and unless parked."""
    track_config_maps: dict[str, k8s.core.v1.ConfigMap] = field(default_factory=dict)
    """Slot -> its own ConfigMap (child `<name>-config-<slot>`), when it overrides config."""


def build_blue_green(kit: WorkloadKit, strategy: StrategyArgs) -> BlueGreenParts:
    """Two slot Deployments with their own HPA and PDB, the live and the preview Service."""
    st = strategy
    svc = kit.args.service_name
    slots: dict[str, k8s.apps.v1.Deployment] = {}
    hpas: dict[str, k8s.autoscaling.v2.HorizontalPodAutoscaler] = {}
    pdbs: dict[str, k8s.policy.v1.PodDisruptionBudget] = {}
    config_maps: dict[str, k8s.core.v1.ConfigMap] = {}
    for slot in SLOTS:
        track = st.track(slot)
        config_map_name, config_map = kit.track_config_map(slot, track.config)
        if config_map is not None:
            config_maps[slot] = config_map
        pod_args = kit.pod_args(track, config_map_name=config_map_name, extra_labels={"slot": slot})
        parked = slot == st.idle_slot and st.idle_replicas is not None
        slots[slot] = kit.deployment(
            slot,
            f"{svc}-{slot}",
            pod_args,
            slot_selector(kit, slot),
            replicas=st.idle_replicas if parked else None,
            extra_labels={"slot": slot},
        )
        hpa = None
        if not parked:
            hpa = kit.hpa(
                "Deployment",
                f"{svc}-{slot}",
                resource_name=f"{kit.name}-hpa-{slot}",
                object_name=f"{svc}-{slot}",
            )
        if hpa is not None:
            hpas[slot] = hpa
        pdbs[slot] = kit.pdb(f"{kit.name}-pdb-{slot}", f"{svc}-{slot}", slot_selector(kit, slot))
    return BlueGreenParts(
        slots=slots,
        service=kit.service(f"{kit.name}-service", svc, slot_selector(kit, st.active_slot)),
        preview_service=kit.service(
            f"{kit.name}-preview", f"{svc}-preview", slot_selector(kit, st.idle_slot)
        ),
        slot_pdbs=pdbs,
        slot_hpas=hpas,
        track_config_maps=config_maps,
    )
