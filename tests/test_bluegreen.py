"""Blue-green slots: two slot Deployments, live and preview Services, per-slot HPA and PDB, and a
promote whose only effect is the two Services' selectors."""

from __future__ import annotations

from slipway_components.strategies import TrackArgs
from tests.strategy_fixtures import (
    IMAGE,
    NEW_IMAGE,
    blue_green,
    by_kind,
    changed_paths,
    make_args,
    run,
)


def test_two_slot_deployments_each_with_its_own_version_and_slot_label():
    deployments = by_kind(run(make_args(strategy=blue_green())), "Deployment")
    assert sorted(deployments) == ["shop-blue", "shop-green"]
    for slot, image, version in (("blue", IMAGE, "1.0.0"), ("green", NEW_IMAGE, "2.0.0")):
        spec = deployments[f"shop-{slot}"].inputs["spec"]
        pod = spec["template"]
        assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "shop", "slot": slot}
        assert pod["metadata"]["labels"]["slot"] == slot
        assert pod["metadata"]["labels"]["app.kubernetes.io/version"] == version
        assert pod["spec"]["containers"][0]["image"] == image


def test_live_service_selects_the_active_slot_and_preview_the_idle_one():
    services = by_kind(run(make_args(strategy=blue_green(active_slot="green"))), "Service")
    assert services["shop"].inputs["spec"]["selector"]["slot"] == "green"
    assert services["shop-preview"].inputs["spec"]["selector"]["slot"] == "blue"
    assert services["shop-preview"].name == "shop-preview"


def test_each_slot_has_its_own_hpa_and_pdb():
    records = run(make_args(strategy=blue_green()))
    hpas = by_kind(records, "HorizontalPodAutoscaler")
    pdbs = by_kind(records, "PodDisruptionBudget")
    for slot in ("blue", "green"):
        target = hpas[f"shop-{slot}"].inputs["spec"]["scaleTargetRef"]
        assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"shop-{slot}"}
        assert pdbs[f"shop-{slot}"].inputs["spec"]["selector"]["matchLabels"]["slot"] == slot
    assert sorted(hpas) == ["shop-blue", "shop-green"]


def test_promote_changes_only_the_two_service_selectors():
    before = run(make_args(strategy=blue_green(active_slot="blue")))
    after = run(make_args(strategy=blue_green(active_slot="green")))
    assert changed_paths(before, after) == {
        "shop-preview": ["spec.selector.slot"],
        "shop-service": ["spec.selector.slot"],
    }


def test_idle_slot_is_warm_by_default():
    records = run(make_args(strategy=blue_green()))
    green = by_kind(records, "Deployment")["shop-green"].inputs["spec"]
    assert "replicas" not in green, "the HPA owns the idle slot's count, like the active one's"
    assert "shop-green" in by_kind(records, "HorizontalPodAutoscaler")


def test_idle_replicas_parks_the_idle_slot_without_an_hpa():
    records = run(make_args(strategy=blue_green(idle_replicas=0)))
    deployments = by_kind(records, "Deployment")
    assert deployments["shop-green"].inputs["spec"]["replicas"] == 0
    assert "replicas" not in deployments["shop-blue"].inputs["spec"]
    assert sorted(by_kind(records, "HorizontalPodAutoscaler")) == ["shop-blue"]


def test_fixed_replicas_apply_to_both_slots_without_autoscaling():
    records = run(make_args(strategy=blue_green(), autoscaling=None, replicas=3))
    for dep in by_kind(records, "Deployment").values():
        assert dep.inputs["spec"]["replicas"] == 3
    assert by_kind(records, "HorizontalPodAutoscaler") == {}


def test_slot_config_override_gets_its_own_hashed_configmap():
    strategy = blue_green(green=TrackArgs(image=NEW_IMAGE, config={"LOG_LEVEL": "debug"}))
    records = run(make_args(strategy=strategy))
    maps = by_kind(records, "ConfigMap")
    green_map = next(n for n in maps if n.startswith("shop-green-config-"))
    assert maps[green_map].inputs["data"] == {"LOG_LEVEL": "debug"}
    assert maps[green_map].inputs["immutable"] is True
    green = by_kind(records, "Deployment")["shop-green"].inputs["spec"]["template"]["spec"]
    blue = by_kind(records, "Deployment")["shop-blue"].inputs["spec"]["template"]["spec"]
    assert green["containers"][0]["envFrom"] == [{"configMapRef": {"name": green_map}}]
    assert blue["containers"][0]["envFrom"][0]["configMapRef"]["name"].startswith("shop-config-")


def test_both_slots_use_the_hardened_pod_template():
    for dep in by_kind(run(make_args(strategy=blue_green())), "Deployment").values():
        pod = dep.inputs["spec"]["template"]["spec"]
        sc = pod["containers"][0]["securityContext"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}


def test_children_are_parented_to_the_component():
    records = run(make_args(strategy=blue_green()))
    component = records["shop"].urn
    for name in ("shop-blue", "shop-green", "shop-service", "shop-preview", "shop-pdb-blue"):
        assert records[name].parent == component, name


def test_promote_with_a_live_count_holds_both_slots_at_it():
    """An autoscaled promote declares the live slot's count: both slots hold it (the target is
    scaled before the switch, the old one stays warm), the selectors swap."""
    before = run(make_args(strategy=blue_green(active_slot="blue")))
    after = run(make_args(strategy=blue_green(active_slot="green", live_replicas=4)))
    held = ["metadata.annotations", "spec.replicas"]
    assert changed_paths(before, after) == {
        "shop-blue": held,
        "shop-green": held,
        "shop-hpa-blue": ["spec.minReplicas"],
        "shop-hpa-green": ["spec.minReplicas"],
        "shop-preview": ["spec.selector.slot"],
        "shop-service": ["spec.selector.slot"],
    }
    assert after["shop-service"].dependencies == [after["shop-green"].urn]
