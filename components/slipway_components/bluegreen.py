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
promote or rollback does not touch them: nothing is created, deleted or retargeted; the live
and preview Services' `slot` selectors swap (and, with autoscaling, the held size below).
(One HPA/PDB retargeted on promote would turn the promote into four changes, and an HPA
switching targets starts from a cold history.)

The idle slot is warm by default: same replicas and autoscaling as the active one. With
autoscaling, "the same autoscaling" is not the same size: the idle slot gets no traffic, so its
HPA holds it at `minReplicas` while the live slot may run many more. Capacity parity, as Argo
Rollouts does it (it switches only once the preview runs the full `spec.replicas`):

- `live_replicas` is the live slot's pod count when the promote is declared (`slipway promote`
  reads it from the cluster and writes it with `activeSlot`). While it is set, each warm slot
  declares that count as `spec.replicas` and its HPA's `minReplicas` is raised to it (at or
  above `maxReplicas` it is refused: no room to scale). So the slot about to take traffic is
  scaled to the live size in the same `up`, and the old slot stays at full size after the
  flip: a rollback finds it warm (delayed scale-down).
- The live Service depends on the active slot's Deployment. Pulumi's Deployment await waits
  until the Deployment's current template runs all its declared pods, ready, so the selector
  switches only after the target slot is fully rolled and scaled: an image change and a flip in
  one `up` are ordered, never a switch onto a half-rolled slot.
- A declared count on an autoscaled Deployment carries `pulumi.com/patchForce`: the HPA's
  manager owns `spec.replicas` after it last scaled, and server-side apply would otherwise fail
  on that conflict.
- Why the count is declared rather than only `minReplicas`: Pulumi does not wait for an HPA, and
  a Deployment whose spec is unchanged is not awaited at all, so only a changed `spec.replicas`
  makes the switch wait for the pods. Why it is never removed again: under server-side apply a
  removed field that no other manager owns is reset to its default (1 pod). A new promote
  replaces the value instead.
- The explicit later step is parking the old slot (`idle_replicas`, `slipway scale-down`): the
  old slot then holds that count without an HPA, and the live slot's HPA may go below the
  promote-time size again (its Deployment keeps the declared count, re-applied only when the
  Deployment itself changes).

`idle_replicas` scales the idle slot down explicitly (0 parks it): its HPA is then left out and
its Deployment holds that count. Promoting onto a parked slot would send all traffic to too few
pods, so `slipway promote` warms it up (removes `idle_replicas`) in the same edit that flips
and holds it. Each slot runs its own version (`blue` / `green` track args) and may override
config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi_kubernetes as k8s

from slipway_components.kit import WorkloadKit
from slipway_components.strategies import SLOTS, StrategyArgs

PATCH_FORCE = {"pulumi.com/patchForce": "true"}
"""On a Deployment that declares its count while an HPA scales it: the HPA's manager owns
`spec.replicas` after its last scale, and pulumi-kubernetes' server-side apply fails on that
conflict unless forced (it does not force by default)."""


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


def held_replicas(kit: WorkloadKit, strategy: StrategyArgs) -> int | None:
    """Pods a warm slot is held at while `live_replicas` is declared: the live slot's count at
    the promote, never below the service's own floor (HPA minimum or fixed replicas); None
    when nothing is held."""
    if strategy.live_replicas is None:
        return None
    a = kit.args
    floor = a.autoscaling.min_replicas if a.autoscaling is not None else a.replicas
    return max(strategy.live_replicas, floor)


def build_blue_green(kit: WorkloadKit, strategy: StrategyArgs) -> BlueGreenParts:
    """Two slot Deployments with their own HPA and PDB, the live and the preview Service."""
    st = strategy
    svc = kit.args.service_name
    autoscaled = kit.args.autoscaling is not None
    held = held_replicas(kit, st)
    idle_parked = st.idle_replicas is not None
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
        parked = slot == st.idle_slot and idle_parked
        replicas = st.idle_replicas if parked else held
        slots[slot] = kit.deployment(
            slot,
            f"{svc}-{slot}",
            pod_args,
            slot_selector(kit, slot),
            replicas=replicas,
            extra_labels={"slot": slot},
            # The HPA co-owns `spec.replicas` (it scales through the scale subresource), so a
            # server-side apply of a declared count conflicts unless forced.
            annotations=PATCH_FORCE if autoscaled and replicas is not None else None,
        )
        hpa = None
        if not parked:
            # The hold ends for the live slot's autoscaler once the old slot is parked: that
            # is the explicit step that gives up the warm rollback.
            floor = held if slot == st.idle_slot or not idle_parked else None
            hpa = kit.hpa(
                "Deployment",
                f"{svc}-{slot}",
                resource_name=f"{kit.name}-hpa-{slot}",
                object_name=f"{svc}-{slot}",
                min_replicas=floor,
            )
        if hpa is not None:
            hpas[slot] = hpa
        pdbs[slot] = kit.pdb(f"{kit.name}-pdb-{slot}", f"{svc}-{slot}", slot_selector(kit, slot))
    return BlueGreenParts(
        slots=slots,
        # The switch waits for the slot it sends traffic to: Pulumi's Deployment await holds
        # the Service until that slot's current template runs all its declared pods, ready.
        service=kit.service(
            f"{kit.name}-service",
            svc,
            slot_selector(kit, st.active_slot),
            wait_for=[slots[st.active_slot]],
        ),
        preview_service=kit.service(
            f"{kit.name}-preview", f"{svc}-preview", slot_selector(kit, st.idle_slot)
        ),
        slot_pdbs=pdbs,
        slot_hpas=hpas,
        track_config_maps=config_maps,
    )
