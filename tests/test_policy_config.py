"""Per-stack policy config: the shipped files, overrides of levels and settings, bad files.

The files are `--policy-pack-config` files; here they go through the same reconciliation
as under the engine (schema defaults, then the file, `all` first) and the pack's Configure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from slipway.errors import BadInput
from slipway.policy import (
    PACK_DIR,
    PolicyInfo,
    PolicyPackProcess,
    config_path_for,
    load_policy_config,
    reconcile_config,
    run_pack,
)
from tests.policies.harness import FIXTURES, PROJECT, fixture_of, fixture_records

STACKS = ("dev", "staging", "prod")
RANK = {"disabled": 0, "advisory": 1, "remediate": 2, "mandatory": 2}


@pytest.fixture(scope="module")
def rules() -> list[PolicyInfo]:
    with PolicyPackProcess(stack="prod") as proc:
        _, found, _ = proc.info()
    return found


def _levels(stack: str, rules: list[PolicyInfo]) -> dict[str, str]:
    cfg = reconcile_config(rules, {}, load_policy_config(config_path_for(stack)))
    return {name: c["enforcementLevel"] for name, c in cfg.items()}


@pytest.mark.parametrize("stack", STACKS)
def test_security_rules_are_mandatory_in_every_stack(stack: str, rules: list[PolicyInfo]) -> None:
    levels = _levels(stack, rules)
    weaker = [r.name for r in rules if "security" in r.tags and levels[r.name] != "mandatory"]
    assert weaker == []


@pytest.mark.parametrize("looser", ["dev", "staging"])
def test_prod_is_at_least_as_strict_as(looser: str, rules: list[PolicyInfo]) -> None:
    prod, other = _levels("prod", rules), _levels(looser, rules)
    assert [n for n in prod if RANK[prod[n]] < RANK[other[n]]] == []


def test_digest_pinning_is_mandatory_in_prod_and_advisory_in_dev(rules: list[PolicyInfo]) -> None:
    assert _levels("prod", rules)["image-digest-pinned"] == "mandatory"
    assert _levels("dev", rules)["image-digest-pinned"] == "advisory"


def test_prod_allowed_regions_cover_the_prod_stack_targets(rules: list[PolicyInfo]) -> None:
    stack_file = PACK_DIR.parent / "Pulumi.prod.yaml"
    if not stack_file.exists():
        pytest.skip("no Pulumi.prod.yaml")
    cfg = yaml.safe_load(stack_file.read_text())["config"]
    regions = {t["region"] for t in cfg["slipway:targets"]}
    settings = reconcile_config(rules, {}, load_policy_config(config_path_for("prod")))
    assert regions <= set(settings["allowed-regions"]["properties"]["allowedRegions"])
    assert settings["stack-min-regions"]["properties"]["minRegions"] == 2


def _bad(*names: str) -> list[dict]:
    out: list[dict] = []
    for n in names:
        family, _, stem = n.partition("/")
        out += fixture_records(FIXTURES / family / f"{stem}.yaml")
    return out


def _run(tmp_path: Path, config: dict, *fixtures: str) -> dict[tuple[str, str], str]:
    """(fixture, policy) -> level under ``config``."""
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(config))
    diags = run_pack(_bad(*fixtures), "prod", project=PROJECT, config_path=path)
    return {(fixture_of(d.urn), d.policy): d.level for d in diags}


def test_a_level_set_in_the_file_wins(tmp_path: Path) -> None:
    got = _run(tmp_path, {"pod-no-privileged": "advisory"}, "pod-security/bad-privileged")
    assert got == {("bad-privileged", "pod-no-privileged"): "advisory"}


def test_a_disabled_rule_reports_nothing(tmp_path: Path) -> None:
    got = _run(
        tmp_path,
        {"pod-no-privileged": {"enforcementLevel": "disabled"}},
        "pod-security/bad-privileged",
    )
    assert got == {}


def test_all_sets_every_level_and_a_named_rule_overrides_it(tmp_path: Path) -> None:
    got = _run(
        tmp_path,
        {"all": "advisory", "pod-no-host-pid": "mandatory"},
        "pod-security/bad-privileged",
        "pod-security/bad-host-pid",
    )
    assert got == {
        ("bad-privileged", "pod-no-privileged"): "advisory",
        ("bad-host-pid", "pod-no-host-pid"): "mandatory",
    }


def test_settings_override_the_schema_defaults(tmp_path: Path) -> None:
    config = {
        "image-allowed-registries": {"allowedRegistries": ["docker.io"]},
        "workload-min-replicas": {"minReplicas": 1},
        "k8s-required-labels": {"requiredLabels": ["team"]},
    }
    got = _run(
        tmp_path,
        config,
        "supply-chain/bad-docker-hub-image",
        "reliability/bad-single-replica",
        "compliance/bad-missing-cost-center-label",
    )
    # Docker Hub is now the one allowed registry, so the other two fixtures' ECR images are
    # out; one replica is enough; cost-center is no longer required.
    assert got == {
        ("bad-single-replica", "image-allowed-registries"): "mandatory",
        ("bad-missing-cost-center-label", "image-allowed-registries"): "mandatory",
    }


def test_without_a_setting_the_schema_default_and_the_rule_default_level_apply(
    tmp_path: Path,
) -> None:
    got = _run(tmp_path, {}, "supply-chain/bad-docker-hub-image", "reliability/bad-single-replica")
    assert got == {
        ("bad-docker-hub-image", "image-allowed-registries"): "mandatory",  # security rule
        ("bad-single-replica", "workload-min-replicas"): "advisory",  # minReplicas default 2
    }


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (
            '{"pod-no-privileged": "sometimes"}',
            "pod-no-privileged: 'sometimes' is not an enforcement",
        ),
        ('{"pod-no-privileged": 3}', "must be a level string or an object"),
        ('{"no-such-rule": "advisory"}', "no policy named 'no-such-rule'"),
        ('{"image-allowed-registries": {"allowedRegistries": "ecr"}}', "expected array"),
        ('{"workload-min-replicas": {"minReplicas": "two"}}', "expected number"),
        ('{"pod-no-privileged": {"colour": "red"}}', "unknown setting 'colour'"),
        ('{"pod-no-privileged": ', "not valid JSON"),
        ("[]", "must be a JSON object"),
    ],
    ids=[
        "bad-level",
        "bad-value-type",
        "unknown-rule",
        "setting-wrong-type",
        "number-wrong-type",
        "unknown-setting",
        "not-json",
        "not-an-object",
    ],
)
def test_a_bad_config_file_is_bad_input_naming_the_file(
    tmp_path: Path, content: str, needle: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    with pytest.raises(BadInput) as err:
        run_pack(_bad("pod-security/bad-privileged"), "prod", config_path=path)
    assert needle in str(err.value)
    assert err.value.file == str(path)


def test_a_stack_without_a_config_file_is_bad_input() -> None:
    with pytest.raises(BadInput) as err:
        run_pack([], "qa")
    assert err.value.file == str(config_path_for("qa"))
