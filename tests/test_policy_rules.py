"""Every rule against its fixtures: the exact set of fixtures each rule flags, and the exact
set of rules each fixture triggers (good ones: none), through the real analyzer protocol.

One pack run judges every fixture (prod config, the strictest); URNs carry the fixture
name so each diagnostic maps back to its file.
"""

from __future__ import annotations

import pytest

import policies
from tests.policies.harness import FIXTURES, expected, fixture_files, fixture_of, run_fixtures

FAMILIES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
EXPECTED = {name: rules for family in FAMILIES for name, rules in expected(family).items()}
CASES = [(family, name) for family in FAMILIES for name in sorted(expected(family))]
RULES = sorted(p.name for p in policies.all_policies())
COVERED_ELSEWHERE = {"stack-min-regions"}
"""Rules whose cases need a stack of their own (tests/test_policy_stack.py)."""


@pytest.fixture(scope="module")
def flagged() -> dict[str, set[str]]:
    """fixture name -> rules that reported it."""
    out: dict[str, set[str]] = {}
    for d in run_fixtures(fixture_files()):
        out.setdefault(fixture_of(d.urn), set()).add(d.policy)
    return out


def test_every_fixture_file_is_listed_in_expected() -> None:
    files = {f.stem for f in fixture_files()}
    assert files == set(EXPECTED)


@pytest.mark.parametrize(("family", "name"), CASES, ids=[f"{f}/{n}" for f, n in CASES])
def test_fixture_triggers_exactly_its_rules(family: str, name: str, flagged: dict) -> None:
    assert flagged.get(name, set()) == EXPECTED[name], f"{family}/{name}.yaml"


@pytest.mark.parametrize("rule", RULES)
def test_rule_flags_exactly_its_bad_fixtures(rule: str, flagged: dict) -> None:
    want = {name for name, rules in EXPECTED.items() if rule in rules}
    got = {name for name, rules in flagged.items() if rule in rules}
    assert got == want


@pytest.mark.parametrize("rule", sorted(set(RULES) - COVERED_ELSEWHERE))
def test_rule_has_a_bad_fixture(rule: str) -> None:
    assert any(rule in rules for rules in EXPECTED.values()), f"no fixture shows {rule} failing"


def test_no_diagnostic_escapes_the_fixtures(flagged: dict) -> None:
    assert set(flagged) <= set(EXPECTED)


def test_the_pack_readme_lists_every_rule() -> None:
    readme = (FIXTURES.parent.parent.parent / "policies" / "README.md").read_text()
    listed = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    assert listed == set(RULES)
