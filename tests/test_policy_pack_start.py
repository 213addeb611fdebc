"""The pack starts the way the engine starts it and lists every rule in GetAnalyzerInfo.

The engine's shim runs ``python -u -m pulumi.policy <engine> .`` in the pack folder with the
pack's own virtualenv. Here the "virtualenv" is a folder holding only what
``policies/requirements.txt`` installs (its packages and their dependencies, linked from
this interpreter's site-packages), Python runs with ``-S`` so nothing else (the editable
install of this repository included) is importable, and the repository root is not on the
path.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2
from packaging.requirements import Requirement
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

import policies

PACK = Path(__file__).resolve().parent.parent / "policies"


def _requirements() -> list[str]:
    lines = (PACK / "requirements.txt").read_text().splitlines()
    return [Requirement(line).name for line in lines if line.strip() and not line.startswith("#")]


def _closure(names: list[str]) -> list[metadata.Distribution]:
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        dist = metadata.distribution(name)
        seen[name] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(seen.values())


@pytest.fixture(scope="module")
def pack_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder with exactly the pack's requirements and their dependencies."""
    site = tmp_path_factory.mktemp("pack-site")
    for dist in _closure(_requirements()):
        root = Path(dist.locate_file(""))
        for top in {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}:
            src, dst = root / top, site / top
            if src.exists() and not dst.exists() and not top.endswith(".pth"):
                dst.symlink_to(src)
    return site


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PYTHONPATH=str(site),
        PULUMI_PROJECT="slipway",
        PULUMI_STACK="prod",
        PULUMI_DRY_RUN="true",
    )
    return env


def test_repository_is_not_importable_in_the_pack_environment(pack_site: Path) -> None:
    for module in ("slipway", "slipway_components", "stacks", "kubernetes_validate", "pydantic"):
        proc = subprocess.run(
            [sys.executable, "-S", "-c", f"import {module}"],
            cwd=PACK,
            env=_env(pack_site),
            capture_output=True,
            text=True,
        )
        assert proc.returncode != 0, f"{module} is importable next to the pack"


def test_pack_starts_like_the_engine_and_lists_every_rule(pack_site: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-S", "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=PACK,
        env=_env(pack_site),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.poll() is not None else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)
    finally:  # the engine kills its plugins; SIGINT first, then make sure
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    listed = {p.name for p in info.policies}
    assert info.name == "slipway-policies"
    assert listed == {p.name for p in policies.all_policies()}
    assert len(listed) >= 45
    for p in info.policies:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", p.name), p.name
        assert p.description and p.remediation_steps, p.name
        assert p.severity != analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED, p.name
        assert any(":" in t for t in p.tags), f"{p.name} maps to no standard"
        assert p.framework.name, p.name


def test_pack_metadata_names_python_runtime_and_its_virtualenv() -> None:
    import yaml

    meta = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert meta["runtime"]["name"] == "python"
    assert meta["runtime"]["options"]["virtualenv"] == "venv"
    assert set(_requirements()) == {"pulumi-policy", "pulumi"}
