"""The helpers of scripts/consumer_check.py (`make consumer`), fast: which versions each
dependency set installs, what counts as a wheel's top-level names and as a test result; and
components/README.md's code names only what the package exports."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import slipway_components
from tests.conftest import load_script

REPO = Path(__file__).resolve().parents[1]


cc = load_script("consumer_check")


def _pyproject(tmp_path: Path, *deps: str) -> Path:
    path = tmp_path / "pyproject.toml"
    listed = ", ".join(f'"{d}"' for d in deps)
    path.write_text(f'[project]\nname = "x"\nversion = "0"\ndependencies = [{listed}]\n')
    return path


def test_lowest_bounds_are_the_lower_ends_of_the_ranges(tmp_path: Path) -> None:
    path = _pyproject(tmp_path, "pulumi>=3.230,<4", "pulumi_kubernetes<5,>=4.33", "Pydantic>=2.11")
    assert cc.lowest_bounds(path) == {
        "pulumi": "3.230",
        "pulumi-kubernetes": "4.33",
        "pydantic": "2.11",
    }


def test_a_dependency_without_a_lower_bound_is_refused(tmp_path: Path) -> None:
    path = _pyproject(tmp_path, "pulumi>=3.230,<4", "pydantic<3")
    with pytest.raises(cc.CheckFailed, match="pydantic<3 has no lower bound"):
        cc.lowest_bounds(path)


def test_pins_skip_editables_options_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text(
        "# pins\n-e ./components\n--find-links /x\nPyYAML==6.0.4  # parser\n"
        "pulumi==3.272.0\nrich>=15\n\n"
    )
    assert cc.pinned_versions(path) == {"pyyaml": "6.0.4", "pulumi": "3.272.0"}


def test_a_declared_dependency_without_a_pin_is_refused(tmp_path: Path) -> None:
    pyproject = _pyproject(tmp_path, "pulumi>=3.230,<4", "pydantic>=2.11,<3")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pulumi==3.272.0\n")
    with pytest.raises(cc.CheckFailed, match="pins no version of pydantic"):
        cc.dependency_sets(pyproject, requirements)


def test_the_project_sets_cover_exactly_the_declared_dependencies() -> None:
    pyproject = REPO / "components" / "pyproject.toml"
    sets = cc.dependency_sets(pyproject, REPO / "requirements.txt")
    declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    names = {Requirement(d).name for d in declared}
    assert set(sets) == {"lowest", "pins"}
    assert set(sets["lowest"]) == set(sets["pins"]) == names
    pinned = cc.pinned_versions(REPO / "requirements.txt")
    assert sets["pins"] == {name: pinned[name] for name in names}
    for name, lowest in sets["lowest"].items():
        req = next(Requirement(d) for d in declared if Requirement(d).name == name)
        assert req.specifier.contains(lowest), f"{name} {lowest} outside {req.specifier}"
        assert req.specifier.contains(sets["pins"][name]), f"pin of {name} outside its range"


def test_top_level_names_leave_out_metadata_folders() -> None:
    names = [
        "slipway/__init__.py",
        "slipway/commands/check.py",
        "slipway_policy_pack/config/prod.json",
        "helper.py",
        "slipway-0.1.0.dist-info/RECORD",
        "slipway-0.1.0.data/scripts/x",
    ]
    assert cc.top_level(names) == {"slipway", "slipway_policy_pack", "helper"}


def test_junit_counts_errors_as_failures_and_leaves_skips_out(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuites><testsuite name="pytest" tests="9" failures="2" errors="1" skipped="1">'
        "</testsuite></testsuites>"
    )
    assert cc.junit_counts(report) == (5, 3)


def test_the_consumer_must_run_outside_the_repository(tmp_path: Path) -> None:
    assert cc.outside_repository(tmp_path) == tmp_path
    with pytest.raises(cc.CheckFailed, match="inside the repository"):
        cc.outside_repository(REPO / "build" / "consumer")


def _readme_python_blocks() -> list[str]:
    text = (REPO / "components" / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_code_parses_and_imports_only_exported_names() -> None:
    blocks = _readme_python_blocks()
    assert len(blocks) >= 5
    for block in blocks:
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "slipway_components":
                missing = {a.name for a in node.names} - set(slipway_components.__all__)
                assert not missing, f"README imports {missing} the package does not export"
