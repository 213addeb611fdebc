"""scripts/judges.py: the six judges on every stack, held to the known-defects list."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from slipway.errors import BadInput
from tests.conftest import ROOT, load_script

judges = load_script("judges")


@pytest.fixture(scope="module")
def dev() -> Any:
    return judges.render(ROOT, "dev")


def _by_judge(found: list[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in found:
        out.setdefault(f.judge, []).append(f.finding)
    return out


def test_every_judge_runs_and_dev_finds_only_its_known_defects(dev: Any) -> None:
    found = judges.judge_all([dev])
    known = judges.read_known(judges.KNOWN, ["dev"])
    assert judges.held_to(found, known) == ([], [])
    kinds = _by_judge(found)
    assert set(kinds) == {"crds-installed", "required-config"}
    assert all(issue == 15 for issue in known.values())


def test_a_planted_defect_for_each_judge_is_a_new_finding(dev: Any) -> None:
    stack = copy.deepcopy(dev)
    # typed-inputs: a list where the SDK wants a string
    ns = next(r for r in stack.resources if r["type"] == "kubernetes:core/v1:Namespace")
    ns["inputs"]["metadata"]["name"] = ["web"]
    # crd-schemas: an unknown field in a PrometheusRule
    rule = next(p for p in stack.manifests if "PrometheusRule" in p)
    stack.manifests[rule] = stack.manifests[rule].replace("spec:\n", "spec:\n  bogus: 1\n", 1)
    # first-run: a resource only the normal render has
    stack.resources.append(dict(stack.resources[0], urn=stack.resources[0]["urn"] + "-extra"))
    # required-config: another missing key
    stack.missing_config.append("required config slipway:owner is not set")
    # name-rules: a repository name ECR refuses
    stack.resources.append(
        {
            "urn": "urn:pulumi:dev::slipway::aws:ecr/repository:Repository::bad",
            "type": "aws:ecr/repository:Repository",
            "name": "bad",
            "custom": True,
            "parent": "",
            "provider": "",
            "protect": False,
            "aliases": [],
            "inputs": {"name": "Not A Repository"},
        }
    )
    # crds-installed: a custom resource of a kind no stack installs
    stack.resources.append(
        {
            "urn": "urn:pulumi:dev::slipway::kubernetes:example.com/v1:Widget::w",
            "type": "kubernetes:example.com/v1:Widget",
            "name": "w",
            "custom": True,
            "parent": "",
            "provider": "",
            "protect": False,
            "aliases": [],
            "inputs": {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "metadata": {"name": "w", "namespace": "web"},
            },
        }
    )
    known = judges.read_known(judges.KNOWN, ["dev"])
    new, fixed = judges.held_to(judges.judge_all([stack]), known)
    assert fixed == []
    assert {f.judge for f in new} == set(judges.JUDGES)


def test_a_listed_defect_no_longer_found_fails_the_run(dev: Any) -> None:
    known = judges.read_known(judges.KNOWN, ["dev"])
    found = [f for f in judges.judge_all([dev]) if f.judge != "required-config"]
    new, fixed = judges.held_to(found, known)
    assert new == []
    assert {f.judge for f in fixed} == {"required-config"}


ENTRY = {"judge": "name-rules", "stack": "dev", "finding": "x", "fixed_by": 15}


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({"judge": "first-run"}, None, "given dict"),
        ([{**ENTRY, "judge": "typo"}], "[0].judge", "'typo' is not one of"),
        ([{**ENTRY, "fixed_by": "soon"}], "[0].fixed_by", "given 'soon'"),
        ([{**ENTRY, "fixed_by": True}], "[0].fixed_by", "given True"),
        ([{k: v for k, v in ENTRY.items() if k != "fixed_by"}], "[0]", "given ['finding'"),
        ([ENTRY, ENTRY], "[1]", "repeats an earlier entry"),
    ],
)
def test_a_bad_known_list_is_bad_input(
    tmp_path: Path, doc: Any, field: str | None, words: str
) -> None:
    path = tmp_path / "known.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(BadInput) as info:
        judges.read_known(path, ["dev"])
    assert info.value.file == str(path)
    assert info.value.field == field
    assert words in str(info.value)


def test_a_missing_or_broken_known_list_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.yaml"
    assert judges.main(["--known", str(missing), "dev"]) == 2
    assert "no known-findings list here" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("- judge: [unclosed\n")
    assert judges.main(["--known", str(broken), "dev"]) == 2
    assert "YAML syntax error" in capsys.readouterr().err


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert judges.main(["dev"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["judge", "dev"]
    empty = tmp_path / "known.yaml"
    empty.write_text("[]\n")
    assert judges.main(["--known", str(empty), "dev"]) == 1
    assert "NEW required-config dev:" in capsys.readouterr().out
    assert judges.main(["--known", str(empty), "nosuchstack"]) == 2
