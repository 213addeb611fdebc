"""Turn fixture files into resource records and run them through the pack in one go.

A fixture file holds Kubernetes manifests (judged as `slipway check` would register them)
or cloud resource records (``type``, ``name``, ``inputs``, optional ``provider`` naming a
provider record of the same file, ``protect``). Every URN carries the fixture name, so one
pack run can judge every fixture and each diagnostic maps back to its file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from slipway.check import type_token
from slipway.policy import Diagnostic, run_pack

FIXTURES = Path(__file__).parent / "fixtures"
STACK, PROJECT = "prod", "fixtures"


def urn(type_: str, name: str, stack: str = STACK) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def fixture_records(path: Path, stack: str = STACK) -> list[dict[str, Any]]:
    """Records for one fixture file; names are prefixed with the fixture's name."""
    prefix = path.stem
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    records: list[dict[str, Any]] = []
    providers: dict[str, str] = {}
    for d in docs:
        if "apiVersion" in d:
            meta = d.get("metadata") or {}
            t = type_token(d["apiVersion"], d["kind"])
            name = f"{prefix}.{meta.get('namespace', '')}/{meta.get('name')}"
            records.append(_record(urn(t, name, stack), t, name, d))
        else:
            name = f"{prefix}.{d['name']}"
            rec = _record(urn(d["type"], name, stack), d["type"], name, d.get("inputs") or {})
            rec["protect"] = bool(d.get("protect", False))
            if d["type"].startswith("pulumi:providers:"):
                providers[d["name"]] = rec["urn"]
                rec["custom"] = True
            if d.get("provider"):
                rec["provider"] = f"{providers[d['provider']]}::{d['provider']}-id"
            records.append(rec)
    return records


def _record(u: str, t: str, name: str, inputs: dict) -> dict[str, Any]:
    return {
        "urn": u,
        "type": t,
        "name": name,
        "parent": "",
        "provider": "",
        "protect": False,
        "aliases": [],
        "custom": True,
        "inputs": inputs,
    }


def fixture_files(family: str | None = None) -> list[Path]:
    folders = [FIXTURES / family] if family else sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    return [
        f for folder in folders for f in sorted(folder.glob("*.yaml")) if f.name != "expected.yaml"
    ]


def expected(family: str) -> dict[str, set[str]]:
    data = yaml.safe_load((FIXTURES / family / "expected.yaml").read_text())
    return {k: set(v) for k, v in data.items()}


def fixture_of(u: str) -> str:
    """The fixture a URN belongs to (its name's prefix)."""
    return u.rsplit("::", 1)[-1].split(".", 1)[0]


def run_fixtures(files: list[Path], **kw: Any) -> list[Diagnostic]:
    records = [r for f in files for r in fixture_records(f)]
    return run_pack(records, kw.pop("stack", STACK), project=PROJECT, **kw)
