"""Shared test fixtures.

Component tests either use `@pulumi.runtime.test` with the mocks set here, or the engine's
`run_program`, which runs a program in a fresh runtime context and returns every registration
(type, name, URN, parent, provider, inputs) — the way the offline preview sees it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pulumi
import pytest
from hypothesis import settings
from typer.testing import CliRunner

from slipway import mock_outputs
from slipway.engine import Record, run_program

# CI runs each property test on the same examples every time (a failure is reproducible
# and no run fails by the luck of the draw); developers' runs keep exploring.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "services", "policies")


class EchoMocks(pulumi.runtime.Mocks):
    """Outputs are inputs plus deterministic synthesised cloud outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        state.update(mock_outputs.synthesize(args.typ, args.name, args.inputs))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


pulumi.runtime.set_mocks(EchoMocks(), project="slipway", stack="test", preview=False)


def records_of(program: Callable[[], Any], stack: str = "test") -> dict[str, Record]:
    """Run `program` under the recording mocks; records keyed by resource name."""
    result = run_program(program, project="slipway", stack=stack, config={}, secret_keys=[])
    return {r.name: r for r in result.records}


@pytest.fixture(autouse=True)
def _no_secrets_carried_over() -> Any:
    """Values one test marked secret are not redacted from the next test's output."""
    from slipway import redact

    yield
    redact.clear()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the project (program, catalog, stack files, pack) to edit freely."""
    return copy_project(tmp_path / "project")


def copy_project(dest: Path, stacks: tuple[str, ...] | None = None) -> Path:
    """Copy the program, catalog, pack and stack files (all, or those of `stacks` with the
    platform stacks they build on) to `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("venv", "__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    wanted = None if stacks is None else {*stacks, *(f"{s}-platform" for s in stacks)}
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        if wanted is None or stack_file.name in {f"Pulumi.{s}.yaml" for s in wanted}:
            shutil.copy2(stack_file, dest / stack_file.name)
    return dest


@pytest.fixture
def cli() -> Callable[..., Any]:
    """Invoke the slipway CLI in-process; returns the click Result."""
    from slipway.cli import app

    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def run(project: Path, cli: Callable[..., Any]) -> Callable[..., Any]:
    """The CLI in-process on the private project copy (`--project-dir` added)."""

    def invoke(*args: str) -> Any:
        return cli(*args, "--project-dir", str(project))

    return invoke


def git_repo(root: Path, message: str = "base") -> Path:
    """Make `root` a git repository with everything in it committed (for --against HEAD)."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return root


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name: str) -> ModuleType:
    """`scripts/<name>.py` as a module, loaded once: registered under its own name, so its
    dataclasses find their module and a script importing another (`import gen_reference`)
    gets this same copy."""
    if name in sys.modules:
        return sys.modules[name]
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


KNOWN_FINDINGS = ROOT / "tests" / "data" / "known-findings.yaml"

ALL_STACKS = ("dev", "staging-platform", "staging", "prod-platform", "prod")
"""Every stack file of the project: dev (one stack), and a platform and a services stack for
staging and for prod."""


def known_findings(judge: str, stack: str) -> set[str]:
    """The real defects a judge reports on a stack today, as `tests/data/known-findings.yaml`
    lists them (one list for `make judges` and the judges' own tests)."""
    import yaml

    entries = yaml.safe_load(KNOWN_FINDINGS.read_text())
    return {e["finding"] for e in entries if e["judge"] == judge and e["stack"] == stack}


@pytest.fixture(scope="session")
def stacks() -> dict[str, list[dict[str, Any]]]:
    """resources.json of every stack (`ALL_STACKS`) as the preview writes it (unknowns and
    secrets marked), rendered once for every judge's tests; read-only: copy a record to
    change it."""
    from slipway import preview
    from slipway.engine import to_json_bytes

    return {s: json.loads(to_json_bytes(preview.render(ROOT, s).resources)) for s in ALL_STACKS}


@pytest.fixture
def scratch_tmp(tmp_path, monkeypatch) -> Path:
    """Route tempfile's folders into one that the test can inspect for leftovers."""
    import tempfile

    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
