"""What a team checks before adopting the library: a license, a changelog with a version
policy, a way to report vulnerabilities, and how to contribute."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]

APACHE_MARKERS = (
    "Apache License\n                           Version 2.0, January 2004",
    "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
    "2. Grant of Copyright License.",
    "3. Grant of Patent License.",
    "9. Accepting Warranty or Additional Liability.",
    "END OF TERMS AND CONDITIONS",
    "http://www.apache.org/licenses/LICENSE-2.0",
)


def _text(name: str) -> str:
    path = REPO / name
    assert path.is_file(), f"{name} is missing"
    return path.read_text()


def test_license_is_the_full_apache_2_0_text():
    text = _text("LICENSE")
    for marker in APACHE_MARKERS:
        assert marker in text, marker
    # all nine sections, in order
    positions = [text.index(f"\n   {n}. ") for n in range(1, 10)]
    assert positions == sorted(positions)
    assert "Copyright 2026 The slipway authors" in text
    assert "[yyyy]" not in text


def test_pyproject_declares_the_license():
    assert PROJECT.get("license") == "Apache-2.0"  # PEP 639 SPDX expression
    assert PROJECT.get("license-files") == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in PROJECT.get("classifiers", [])), (
        "license classifiers are superseded by the SPDX expression (setuptools refuses both)"
    )


def test_build_backend_understands_spdx_license_strings():
    requires = " ".join(PYPROJECT["build-system"]["requires"])
    m = re.search(r"setuptools>=(\d+)", requires)
    assert m and int(m.group(1)) >= 77, 'setuptools < 77 rejects `license = "Apache-2.0"`'


def test_installed_metadata_declares_the_license():
    try:
        meta = importlib.metadata.metadata("slipway")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("slipway is not installed")
    if meta.get("License-Expression") is None and meta.get("License") is None:
        pytest.skip("installed metadata predates the license; `make setup` reinstalls it")
    assert meta.get("License-Expression", meta.get("License")) == "Apache-2.0"


def test_changelog_has_unreleased_section_and_the_current_version():
    text = _text("CHANGELOG.md")
    assert re.search(r"^## \[Unreleased\]$", text, re.M)
    version = PROJECT["version"]
    release = re.search(rf"^## \[{re.escape(version)}\]", text, re.M)
    unreleased = text.split("## [Unreleased]", 1)[1].split("\n## [", 1)[0]
    assert release or re.search(rf"\b{re.escape(version)}\b", unreleased), (
        f"pyproject's version {version} is neither released nor announced under Unreleased"
    )


def test_changelog_states_what_breaks_importers():
    text = _text("CHANGELOG.md").lower()
    assert "semantic versioning" in text
    for what in ("args", "child names", "urn", "type token", "outputs"):
        assert what in text, what


def test_security_policy_says_how_to_report_privately():
    text = _text("SECURITY.md")
    assert "Report a vulnerability" in text
    assert "/security/advisories/new" in text
    assert re.search(r"^## Supported versions$", text, re.M)
    assert re.search(r"^## Scope$", text, re.M)


def test_contributing_guide_names_the_test_command():
    text = _text("CONTRIBUTING.md")
    assert "make test" in text
    assert "make preview" in text
    assert "expected.yaml" in text  # how to add a policy rule with fixtures
