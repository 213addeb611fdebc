"""The runner speaks the analyzer protocol like the engine: process start and stop,
provider resolution, diagnostics, policy.json, and the speed-ups that must not change a
single diagnostic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slipway.policy import (
    Diagnostic,
    PackSession,
    PolicyPackError,
    PolicyPackProcess,
    _provider_record,
    policy_json,
    run_pack,
    write_policy_json,
)
from tests.policies.harness import FIXTURES, PROJECT, fixture_files, fixture_records, urn


def _records(path: str) -> list[dict]:
    family, _, stem = path.partition("/")
    return fixture_records(FIXTURES / family / f"{stem}.yaml")


def test_region_comes_from_the_provider_record_the_reference_points_to() -> None:
    diags = run_pack(_records("compliance/bad-region-not-allowed"), "prod", project=PROJECT)
    key = next(d for d in diags if d.urn.endswith("::bad-region-not-allowed.key"))
    assert key.policy == "allowed-regions" and "sa-east-1" in key.message


def test_without_its_provider_record_a_resource_has_no_region_and_no_default_tags() -> None:
    records = [
        r for r in _records("compliance/bad-region-not-allowed") if "providers" not in r["type"]
    ]
    diags = run_pack(records, "prod", project=PROJECT)
    assert [(d.policy, d.message) for d in diags] == [
        ("cloud-required-tags", "tags/labels miss team, cost-center")
    ]


def test_only_custom_resources_get_the_provider_field() -> None:
    provider = {
        "urn": urn("pulumi:providers:aws", "p"),
        "type": "pulumi:providers:aws",
        "inputs": {},
    }
    by_urn = {provider["urn"]: provider}
    custom = {"type": "aws:kms/key:Key", "provider": f"{provider['urn']}::id", "custom": True}
    component = {
        "type": "slipway:apps:Microservice",
        "provider": f"{provider['urn']}::id",
        "custom": False,
    }
    assert _provider_record(custom, by_urn) is provider
    assert _provider_record(component, by_urn) is None
    assert _provider_record({**provider, "provider": provider["urn"] + "::id"}, by_urn) is None


def test_components_are_analyzed_without_crashing() -> None:
    component = {
        "urn": urn("slipway:apps:Microservice", "orders"),
        "type": "slipway:apps:Microservice",
        "name": "orders",
        "parent": "",
        "provider": "",
        "protect": False,
        "aliases": [],
        "custom": False,
        "inputs": {},
    }
    assert run_pack([component], "dev", project=PROJECT) == []


def test_diagnostics_are_sorted_and_carry_the_detail_not_the_description() -> None:
    diags = run_pack(_records("pod-security/bad-run-as-uid-0"), "prod", project=PROJECT)
    assert diags == sorted(diags, key=lambda d: (d.urn, d.policy, d.message))
    assert {d.message for d in diags} == {
        'container "app": runAsUser 0 is below 10000',
        'container "app": runAsUser is 0 (root)',
    }


def test_policy_json_is_stable_and_written_atomically(tmp_path: Path) -> None:
    diags = [
        Diagnostic("b-rule", "advisory", "urn:b", "second"),
        Diagnostic("a-rule", "mandatory", "urn:a", "first"),
    ]
    target = tmp_path / "out" / "policy.json"
    write_policy_json(diags, target)
    text = target.read_text()
    assert text == policy_json(list(reversed(diags)))
    assert [row["urn"] for row in json.loads(text)] == ["urn:a", "urn:b"]
    assert sorted(json.loads(text)[0]) == ["level", "message", "policy", "remediation", "urn"]
    assert [p.name for p in target.parent.iterdir()] == ["policy.json"]


def _all_records() -> list[dict]:
    return [r for f in fixture_files() for r in fixture_records(f)]


@pytest.fixture(scope="module")
def one_process() -> list[Diagnostic]:
    """Every fixture through one pack process, with the pack's speed-ups."""
    with PackSession("prod", project=PROJECT, workers=1) as session:
        return session.run(_all_records())


def test_two_pack_processes_give_the_same_diagnostics_as_one(one_process: list) -> None:
    with PackSession("prod", project=PROJECT, workers=2) as two:
        assert two.run(_all_records()) == one_process
    assert one_process


def test_the_pack_as_the_sdk_ships_it_gives_the_same_diagnostics(
    one_process: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_POLICY_PLAIN_SDK", "1")
    with PackSession("prod", project=PROJECT, workers=1) as plain:
        assert plain.run(_all_records()) == one_process


def test_close_leaves_no_pack_process() -> None:
    proc = PolicyPackProcess(stack="dev")
    proc.info()
    proc.close()
    assert proc.proc.poll() is not None


def _broken_pack(tmp_path: Path, main: str, runtime: str = "python") -> Path:
    (tmp_path / "PulumiPolicy.yaml").write_text(f"runtime: {runtime}\nname: broken\n")
    (tmp_path / "__main__.py").write_text(main)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "dev.json").write_text("{}")
    return tmp_path


def test_a_pack_that_fails_to_start_is_reported_with_its_error(tmp_path: Path) -> None:
    pack = _broken_pack(tmp_path, "raise RuntimeError('rules failed to import')\n")
    with pytest.raises(PolicyPackError) as err:
        run_pack([], "dev", pack_dir=pack)
    assert "rules failed to import" in str(err.value)


def test_a_pack_for_another_runtime_is_refused(tmp_path: Path) -> None:
    pack = _broken_pack(tmp_path, "", runtime="nodejs")
    with pytest.raises(PolicyPackError) as err:
        run_pack([], "dev", pack_dir=pack)
    assert "runtime 'nodejs' is not python" in str(err.value)


def test_a_rule_that_raises_fails_the_run_naming_the_resource(tmp_path: Path) -> None:
    main = (
        "from pulumi_policy import PolicyPack, ResourceValidationPolicy\n"
        "def boom(args, report):\n"
        "    raise ValueError('boom')\n"
        "PolicyPack('broken', [ResourceValidationPolicy('boom', 'explodes', boom)])\n"
    )
    pack = _broken_pack(tmp_path, main)
    record = _records("pod-security/good-hardened-pod")[0]
    with pytest.raises(PolicyPackError) as err:
        run_pack([record], "dev", pack_dir=pack)
    assert record["urn"] in str(err.value) and "boom" in str(err.value)


class _Tracked(dict):
    """A resource dict that can be watched with a weak reference."""


def test_batches_given_again_at_the_end_are_not_kept_and_judge_the_same(
    one_process: list,
) -> None:
    """A preview hands each batch over while its program runs and every resource again once
    it has ended: the session keeps no batch (nor any resource's protobuf) meanwhile, and
    the diagnostics are those of one `run`."""
    import gc
    import weakref

    records = _all_records()
    watched: list[weakref.ref] = []
    held: list[list[str]] = []

    def batches():
        for start in range(0, len(records), 50):
            batch = [_Tracked(r) for r in records[start : start + 50]]
            watched.extend(weakref.ref(r) for r in batch)
            yield batch
            del batch
        held.extend(u for u in session.procs[0].structs if "pulumi:providers:" not in u)

    with PackSession("prod", project=PROJECT, workers=1) as session:
        resources, diags = session.run_batches(batches(), lambda: list(records))
    assert held == [], "no resource's protobuf is kept while the batches come"
    gc.collect()
    assert watched and all(w() is None for w in watched), "a judged batch is not kept"
    assert resources == records
    assert diags == one_process
