"""scripts/judges.py: the six judges on every stack, held to the known-defects list.

The real stacks have no defect the judges find (the list is empty); a defect planted in a
project copy (dev reading an unset Pulumi config secret) stands for a real one: new when not
listed, known when listed, and a listed one no longer found fails the run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from slipway.errors import BadInput
from tests.conftest import ALL_STACKS, ROOT, copy_project, load_script

judges = load_script("judges")
GENERATED = "        source: generated\n        key: orders-db-password\n"
PLANTED = (
    "required secret config slipway:orders-db-password is not set in Pulumi.dev.yaml "
    "(offline it reads [secret]; the real engine stops): "
    "pulumi config set --secret slipway:orders-db-password -s dev"
)


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    """Every stack as `make judges` renders it."""
    return {name: judges.render(ROOT, name) for name in ALL_STACKS}


@pytest.fixture(scope="module")
def dev(real: dict[str, Any]) -> Any:
    return real["dev"]


@pytest.fixture(scope="module")
def planted_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project whose dev reads orders' database password from a Pulumi config
    secret its stack file does not set (a real defect: `pulumi up` stops on it)."""
    project = copy_project(tmp_path_factory.mktemp("planted") / "project", ("dev",))
    orders = project / "services" / "orders.yaml"
    text = orders.read_text()
    assert text.count(GENERATED) == 1
    orders.write_text(text.replace(GENERATED, GENERATED.replace("generated", "pulumi-config")))
    return project


@pytest.fixture(scope="module")
def planted_dev(planted_project: Path) -> Any:
    return judges.render(planted_project, "dev")


def _listing(path: Path, found: list[Any]) -> Path:
    """A known-findings file listing `found`, each fixed by issue 15."""
    entries = [
        {"judge": f.judge, "stack": f.stack, "finding": f.finding, "fixed_by": 15} for f in found
    ]
    path.write_text(yaml.safe_dump(entries))
    return path


def test_every_judge_gets_its_input_and_the_real_stacks_find_nothing(real: dict[str, Any]) -> None:
    """`make judges`: nothing found on any stack, and nothing listed as known."""
    stacks = [real[name] for name in ALL_STACKS]
    assert judges.read_known(judges.KNOWN, list(ALL_STACKS)) == {}
    assert judges.judge_all(stacks) == []
    # each stack rendered both ways, with what its judges read
    for stack in stacks:
        assert stack.resources and len(stack.first_run) == len(stack.resources), stack.name
        assert stack.missing_config == [], stack.name
    assert all(real[name].manifests for name in ("dev", "staging", "prod"))
    # crds-installed counts a services stack's platform stack as installing for it
    assert {s.name: s.builds_on for s in stacks} == {
        "dev": [],
        "staging-platform": [],
        "staging": ["staging-platform"],
        "prod-platform": [],
        "prod": ["prod-platform"],
    }


def test_a_planted_real_defect_is_new_unless_listed(planted_dev: Any, tmp_path: Path) -> None:
    found = judges.judge_all([planted_dev])
    assert [(f.judge, f.stack, f.finding) for f in found] == [("required-config", "dev", PLANTED)]
    assert judges.held_to(found, {}) == (found, [])
    known = judges.read_known(_listing(tmp_path / "known.yaml", found), ["dev"])
    assert known == {found[0]: 15}
    assert judges.held_to(found, known) == ([], [])


def test_a_platform_without_its_add_ons_is_new_crds_installed_findings(
    real: dict[str, Any],
) -> None:
    """judge_all judges a services stack's custom resources against its own platform stack:
    prod-platform without its Helm releases leaves prod's custom resources uninstalled, though
    staging-platform and dev install most of their kinds."""
    platform = copy.deepcopy(real["prod-platform"])
    platform.resources = [r for r in platform.resources if "helm.sh" not in r["type"]]
    platform.first_run = [r for r in platform.first_run if "helm.sh" not in r["type"]]
    stacks = [real["dev"], real["staging-platform"], real["staging"], platform, real["prod"]]
    found = judges.judge_all(stacks)
    assert {f.judge for f in found} == {"crds-installed"}
    assert {f.stack for f in found} == {"prod", "prod-platform"}
    assert any(f.stack == "prod" and f.finding.startswith("ServiceMonitor ") for f in found)


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
    # required-config: a missing key
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


def test_a_listed_defect_no_longer_found_fails_the_run(
    dev: Any, planted_dev: Any, tmp_path: Path
) -> None:
    """The planted defect listed, then fixed (the real dev): it is no longer found."""
    listed = judges.judge_all([planted_dev])
    known = judges.read_known(_listing(tmp_path / "known.yaml", listed), ["dev"])
    new, fixed = judges.held_to(judges.judge_all([dev]), known)
    assert new == []
    assert fixed == listed and {f.judge for f in fixed} == {"required-config"}


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


def test_cli_exit_codes(
    tmp_path: Path, planted_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert judges.main(["dev"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["judge", "dev"]
    assert "NEW" not in out and "NO LONGER FOUND" not in out
    planted = ["--project-dir", str(planted_project)]
    empty = tmp_path / "known.yaml"
    empty.write_text("[]\n")
    # a finding not listed: new, exit 1
    assert judges.main([*planted, "--known", str(empty), "dev"]) == 1
    assert f"NEW required-config dev: {PLANTED}" in capsys.readouterr().out.splitlines()
    # listed: a known defect, exit 0
    listed = tmp_path / "listed.yaml"
    listed.write_text(
        yaml.safe_dump(
            [{"judge": "required-config", "stack": "dev", "finding": PLANTED, "fixed_by": 15}]
        )
    )
    assert judges.main([*planted, "--known", str(listed), "dev"]) == 0
    out = capsys.readouterr().out
    assert "1 (1 known)" in out and "NEW" not in out
    # listed but no longer found (the real dev): exit 1
    assert judges.main(["--known", str(listed), "dev"]) == 1
    assert "NO LONGER FOUND (take it off listed.yaml; issue 15) required-config dev:" in (
        capsys.readouterr().out
    )
    assert judges.main(["--known", str(empty), "nosuchstack"]) == 2
