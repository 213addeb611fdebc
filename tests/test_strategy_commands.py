"""`slipway promote | rollback | canary | abort | flag`, in-process, on a private copy of the
project: each command's edit, each refusal (exit 2 and its message), the byte-exact rollback,
and the preview diff a promote and a canary step produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.diff import compute_diff
from slipway.preview import render


def _text(result) -> str:
    """What the command printed (stdout and stderr), whitespace-normalised."""
    return " ".join(result.output.split())


def _read(project: Path, service: str) -> bytes:
    return (project / "services" / f"{service}.yaml").read_bytes()


def _changed_lines(before: bytes, after: bytes) -> list[tuple[str, str]]:
    old, new = before.decode().splitlines(), after.decode().splitlines()
    assert len(old) == len(new), "the edit added or removed lines"
    return [(a.strip(), b.strip()) for a, b in zip(old, new, strict=True) if a != b]


# -- promote / rollback ------------------------------------------------------------------------


LIVE = ("--live-replicas", "12")
"""orders is autoscaled in prod: its promote needs the live slot's pod count (no cluster here)."""


def test_promote_flips_the_active_slot_and_holds_the_live_count(project, run):
    before = _read(project, "orders").decode()
    result = run("promote", "orders", "--stack", "prod", *LIVE)
    assert result.exit_code == 0, _text(result)
    assert "environments.prod.strategy.activeSlot blue -> green" in _text(result)
    assert "environments.prod.strategy.liveReplicas unset -> 12" in _text(result)
    after = _read(project, "orders").decode()
    assert after == before.replace("activeSlot: green", "activeSlot: green").replace(
        "      activeSlot: blue\n", "      activeSlot: green\n"
    ).replace("bab28\n", "bab28\n      liveReplicas: 12\n")


def test_promote_of_an_autoscaled_slot_without_a_live_count_is_refused(project, run, monkeypatch):
    from slipway.commands import strategy

    def unreachable(args: list[str]) -> str:
        raise RuntimeError("The connection to the server was refused")

    monkeypatch.setattr(strategy, "_kubectl", unreachable)
    before = _read(project, "orders")
    result = run("promote", "orders", "--stack", "prod")
    assert result.exit_code == 2
    assert "cannot read the pods of deployment orders-blue in namespace commerce" in _text(result)
    assert "--live-replicas N" in _text(result)
    assert _read(project, "orders") == before


def test_promote_reads_the_live_count_from_the_cluster(project, run, monkeypatch):
    from slipway.commands import strategy

    calls: list[list[str]] = []

    def kubectl(args: list[str]) -> str:
        calls.append(args)
        return "17"

    monkeypatch.setattr(strategy, "_kubectl", kubectl)
    result = run("promote", "orders", "--stack", "prod", "--kube-context", "prod-use1")
    assert result.exit_code == 0, _text(result)
    assert calls == [
        [
            *("--context", "prod-use1", "get", "deployment", "orders-blue"),
            *("-n", "commerce", "-o", "jsonpath={.spec.replicas}"),
        ]
    ]
    assert "liveReplicas: 17" in _read(project, "orders").decode()


def test_promote_keeps_comments(project, run):
    run("promote", "orders", "--stack", "prod", *LIVE)
    text = _read(project, "orders").decode()
    assert text.startswith("# Order management: called by frontend")
    assert "# Blue-green: both slots stay warm" in text


def test_rollback_restores_the_file_byte_for_byte(project, run):
    before = _read(project, "orders")
    assert run("promote", "orders", "--stack", "prod", *LIVE).exit_code == 0
    result = run("rollback", "orders", "--stack", "prod")
    assert result.exit_code == 0, _text(result)
    assert _read(project, "orders") == before


def test_rollback_after_an_unrelated_edit_flips_only_the_slot(project, run):
    assert run("promote", "orders", "--stack", "prod", *LIVE).exit_code == 0
    path = project / "services" / "orders.yaml"
    path.write_text(path.read_text() + "# reviewed\n")
    assert run("rollback", "orders", "--stack", "prod").exit_code == 0
    text = path.read_text()
    assert "activeSlot: blue" in text
    assert text.endswith("# reviewed\n")


def test_rollback_without_history_is_refused(project, run):
    before = _read(project, "orders")
    result = run("rollback", "orders", "--stack", "prod")
    assert result.exit_code == 2
    assert "no recorded promote/canary/abort/flag of orders in stack prod" in _text(result)
    assert _read(project, "orders") == before


def test_rollback_undoes_a_canary_step_byte_for_byte(project, run):
    before = _read(project, "payments")
    assert run("canary", "payments", "--stack", "prod", "--weight", "25").exit_code == 0
    assert run("rollback", "payments", "--stack", "prod").exit_code == 0
    assert _read(project, "payments") == before


def test_rollback_of_a_canary_without_history_is_refused(project, run):
    result = run("rollback", "payments", "--stack", "prod")
    assert result.exit_code == 2
    assert "no recorded promote/canary/abort/flag of payments in stack prod" in _text(result)
    assert "use `slipway abort` to send all traffic to the stable track" in _text(result)


def test_rollback_of_a_rolling_service_is_refused(project, run):
    result = run("rollback", "frontend", "--stack", "prod")
    assert result.exit_code == 2
    assert "uses strategy rolling in prod" in _text(result)


def test_promote_of_a_rolling_service_is_refused(project, run):
    before = _read(project, "frontend")
    result = run("promote", "frontend", "--stack", "prod")
    assert result.exit_code == 2
    assert "services/frontend.yaml: environments.prod.strategy.type:" in _text(result)
    assert "allowed for blue-green and canary services" in _text(result)
    assert _read(project, "frontend") == before


def test_promote_of_an_argo_rollouts_service_is_refused(project, run):
    result = run("promote", "inventory", "--stack", "prod")
    assert result.exit_code == 2
    assert "kubectl argo rollouts promote inventory -n commerce" in _text(result)


def test_promote_onto_a_parked_slot_warms_it_in_the_same_edit(project, run):
    path = project / "services" / "orders.yaml"
    path.write_text(
        path.read_text().replace("activeSlot: blue", "activeSlot: blue\n      idleReplicas: 0")
    )
    result = run("promote", "orders", "--stack", "prod", *LIVE)
    assert result.exit_code == 0, _text(result)
    assert "environments.prod.strategy.idleReplicas 0 -> unset" in _text(result)
    from slipway import declared as dc

    st = dc.locate(project, "prod", "orders").service.strategy
    assert (st.active_slot, st.idle_replicas, st.live_replicas) == ("green", None, 12)


def test_promote_of_an_unknown_service_is_refused(project, run):
    result = run("promote", "billing", "--stack", "prod")
    assert result.exit_code == 2
    assert "unknown service 'billing'" in _text(result)
    assert "frontend, inventory, orders, payments" in _text(result)


def test_promote_on_an_unknown_stack_is_refused(project, run):
    result = run("promote", "orders", "--stack", "qa")
    assert result.exit_code == 2
    assert "no such stack 'qa'" in _text(result)


def test_promote_of_a_canary_makes_its_build_the_stable_one(project, run):
    result = run("promote", "payments", "--stack", "prod")
    assert result.exit_code == 0, _text(result)
    from slipway import declared as dc

    service = dc.locate(project, "prod", "payments").service
    assert service.version.tag == "3.1.0"
    assert service.version.digest == (
        "sha256:ab2aa4db1cfa4454cf0dc6dfdd0913f869dc71dc0309f991890dac37737f7128"
    )
    assert (service.strategy.canary, service.strategy.weight) == (None, 0)
    assert "weight: 100" not in _read(project, "payments").decode()


# -- canary / abort ----------------------------------------------------------------------------


def test_canary_sets_the_weight(project, run):
    before = _read(project, "payments")
    result = run("canary", "payments", "--stack", "prod", "--weight", "25")
    assert result.exit_code == 0, _text(result)
    assert _changed_lines(before, _read(project, "payments")) == [("weight: 0", "weight: 25")]


@pytest.mark.parametrize("weight", ["101", "-1"])
def test_canary_weight_outside_0_to_100_is_refused(project, run, weight):
    before = _read(project, "payments")
    result = run("canary", "payments", "--stack", "prod", "--weight", weight)
    assert result.exit_code == 2
    assert f"weight {weight} is outside 0–100" in _text(result)
    assert _read(project, "payments") == before


def test_canary_of_a_blue_green_service_is_refused(project, run):
    result = run("canary", "orders", "--stack", "prod", "--weight", "10")
    assert result.exit_code == 2
    assert "uses strategy blue-green in prod; canary applies to canary services" in _text(result)


def test_canary_of_an_argo_rollouts_service_is_refused(project, run):
    result = run("canary", "inventory", "--stack", "prod", "--weight", "10")
    assert result.exit_code == 2
    assert "kubectl argo rollouts set weight inventory" in _text(result)


def test_canary_on_a_stack_without_traffic_layer_is_refused(project, run):
    path = project / "services" / "payments.yaml"
    dev_blue_green = "        key: payments-api-key\n    strategy:\n      type: blue-green\n"
    assert dev_blue_green in path.read_text(), "dev's override: its secrets, then its strategy"
    dev_canary = (
        "        key: payments-api-key\n    strategy:\n      type: canary\n"
        '      canary: {version: {tag: "3.1.0"}}\n'
    )
    path.write_text(path.read_text().replace(dev_blue_green, dev_canary))
    before = path.read_bytes()
    result = run("canary", "payments", "--stack", "dev", "--weight", "10")
    assert result.exit_code == 2
    text = _text(result)
    assert "slipway:traffic.layer is 'none'" in text
    assert "allowed here: rolling or blue-green" in text
    assert path.read_bytes() == before


def test_abort_sends_all_traffic_back_to_stable(project, run):
    assert run("canary", "payments", "--stack", "prod", "--weight", "40").exit_code == 0
    result = run("abort", "payments", "--stack", "prod")
    assert result.exit_code == 0, _text(result)
    assert "weight: 0" in _read(project, "payments").decode()


def test_abort_of_a_blue_green_service_is_refused(project, run):
    result = run("abort", "orders", "--stack", "prod")
    assert result.exit_code == 2
    assert "abort applies to canary services" in _text(result)


# -- flag --------------------------------------------------------------------------------------


def test_flag_on_writes_the_environment_override(project, run):
    result = run("flag", "frontend", "new-checkout", "on", "--stack", "prod")
    assert result.exit_code == 0, _text(result)
    text = _read(project, "frontend").decode()
    assert text.endswith("      maxReplicas: 20\n    flags:\n      new-checkout: true\n")


def test_flag_off_edits_the_existing_override_in_place(project, run):
    before = _read(project, "frontend")
    assert run("flag", "frontend", "new-checkout", "off", "--stack", "dev").exit_code == 0
    assert _changed_lines(before, _read(project, "frontend")) == [
        ("new-checkout: true", "new-checkout: false")
    ]


def test_flag_of_an_unknown_flag_is_refused(project, run):
    result = run("flag", "frontend", "new-chekout", "on", "--stack", "prod")
    assert result.exit_code == 2
    assert "unknown flag 'new-chekout'; flags of frontend: dark-mode, new-checkout" in _text(result)


def test_flag_state_other_than_on_or_off_is_refused(project, run):
    result = run("flag", "frontend", "new-checkout", "maybe", "--stack", "prod")
    assert result.exit_code == 2


# -- the preview diff of a declared change -----------------------------------------------------


def _diff_after(project: Path, run, *command: str) -> dict:
    before = render(project, "prod").resources
    assert run(*command, "--stack", "prod").exit_code == 0
    return compute_diff(before, render(project, "prod").resources)


def _updated(diff: dict) -> dict[str, list[str]]:
    return {
        u["urn"].rsplit("::", 1)[-1]: [c["path"] for c in u["changes"]] for u in diff["updated"]
    }


def test_promote_scales_the_target_slot_and_flips_the_selectors(project, run):
    diff = _diff_after(project, run, "promote", "orders", *LIVE)
    assert (diff["added"], diff["deleted"], diff["replaced"]) == ([], [], [])
    targets = ("aws-us-east-1", "aws-eu-west-1", "gcp-europe-west1")
    held = ["metadata.annotations", "spec.replicas"]
    assert _updated(diff) == {
        f"{t}-orders-{role}": paths
        for t in targets
        for role, paths in (
            ("service", ["spec.selector.slot"]),
            ("preview", ["spec.selector.slot"]),
            ("blue", held),
            ("green", held),
            ("hpa-blue", ["spec.minReplicas"]),
            ("hpa-green", ["spec.minReplicas"]),
        )
    }


def test_canary_step_changes_only_route_weights(project, run):
    diff = _diff_after(project, run, "canary", "payments", "--weight", "25")
    assert (diff["added"], diff["deleted"], diff["replaced"]) == ([], [], [])
    weights = ["spec.http[0].route[0].weight", "spec.http[0].route[1].weight"]
    assert _updated(diff) == {
        f"{t}-payments-vs": weights for t in ("aws-us-east-1", "aws-eu-west-1", "gcp-europe-west1")
    }


def test_flag_toggle_updates_only_the_flags_configmap_in_place(project, run):
    before = render(project, "dev").resources
    assert run("flag", "frontend", "dark-mode", "off", "--stack", "dev").exit_code == 0
    diff = compute_diff(before, render(project, "dev").resources)
    assert (diff["added"], diff["deleted"], diff["replaced"]) == ([], [], [])
    assert list(_updated(diff)) == ["local-frontend-flags"]
