"""One resource excepted from one rule, with a reason, in the stack's policy config.

The exception lives in the config the engine gets (`--policy-pack-config`), so `pulumi up`,
`slipway preview` and `slipway check` all honour the same reviewed list.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from slipway.cli import app
from slipway.policy import run_pack
from tests.policies.harness import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
PRIVILEGED = FIXTURES / "pod-security" / "bad-privileged.yaml"


def config_with(tmp_path: Path, rule: str, exceptions: list[dict]) -> Path:
    base = json.loads((ROOT / "policies" / "config" / "prod.json").read_text())
    base[rule] = {**base.get(rule, {}), "exceptions": exceptions}
    path = tmp_path / "policy-config.json"
    path.write_text(json.dumps(base))
    return path


def check(*args: str):
    return CliRunner().invoke(app, ["check", *args], catch_exceptions=False)


def test_without_an_exception_the_privileged_deployment_fails() -> None:
    result = check(str(PRIVILEGED))
    assert result.exit_code == 1
    assert "pod-no-privileged" in result.output


def test_an_exception_by_kind_namespace_and_name_lets_it_pass(tmp_path: Path) -> None:
    reason = "vendor CNI agent needs host access; tracked in PLAT-42"
    config = config_with(
        tmp_path,
        "pod-no-privileged",
        [{"resource": "Deployment bad-privileged/app", "reason": reason}],
    )
    result = check(str(PRIVILEGED), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "pod-no-privileged" not in result.output


def test_an_exception_covers_only_its_rule_and_its_resource(tmp_path: Path) -> None:
    exception = {"resource": "Deployment other/app", "reason": "a different object entirely"}
    config = config_with(tmp_path, "pod-no-privileged", [exception])
    assert check(str(PRIVILEGED), "--config", str(config)).exit_code == 1
    config = config_with(
        tmp_path,
        "pod-no-host-network",
        [{"resource": "Deployment bad-privileged/app", "reason": "excepts another rule"}],
    )
    assert check(str(PRIVILEGED), "--config", str(config)).exit_code == 1


def test_a_glob_and_a_type_token_label_match(tmp_path: Path) -> None:
    for pattern in ("Deployment bad-privileged/*", "kubernetes:apps/v1:Deployment::*"):
        config = config_with(
            tmp_path, "pod-no-privileged", [{"resource": pattern, "reason": "lab cluster only"}]
        )
        assert check(str(PRIVILEGED), "--config", str(config)).exit_code == 0, pattern


@pytest.mark.parametrize(
    "entry",
    [
        {"resource": "Deployment bad-privileged/app"},
        {"resource": "Deployment bad-privileged/app", "reason": "short"},
        {"resource": "", "reason": "an empty pattern excepts nothing"},
        {"resource": "Deployment x/y", "reason": "long enough reason", "until": "never"},
    ],
    ids=["no-reason", "short-reason", "empty-resource", "unknown-key"],
)
def test_an_exception_without_a_real_reason_is_bad_input(tmp_path: Path, entry: dict) -> None:
    config = config_with(tmp_path, "pod-no-privileged", [entry])
    result = check(str(PRIVILEGED), "--config", str(config))
    assert result.exit_code == 2, result.output
    assert "exceptions" in result.output


def test_a_stack_rule_skips_the_excepted_resource_only(tmp_path: Path) -> None:
    """stack-workloads-have-pdb: two Deployments without a PDB; one is excepted."""
    docs = []
    for name in ("a", "b"):
        text = (FIXTURES / "pod-security" / "good-hardened-deployment.yaml").read_text()
        doc = next(d for d in yaml.safe_load_all(text) if d and d.get("kind") == "Deployment")
        doc["metadata"]["name"] = name
        docs.append(doc)
    records = [
        {
            "urn": f"urn:pulumi:prod::x::kubernetes:apps/v1:Deployment::{d['metadata']['name']}",
            "type": "kubernetes:apps/v1:Deployment",
            "name": d["metadata"]["name"],
            "parent": "",
            "provider": "",
            "protect": False,
            "aliases": [],
            "custom": True,
            "inputs": d,
        }
        for d in docs
    ]
    ns = docs[0]["metadata"].get("namespace")
    label = f"Deployment {ns}/a" if ns else "Deployment a"
    plain = [d for d in run_pack(records, "prod") if d.policy == "stack-workloads-have-pdb"]
    assert sorted(d.urn.rsplit("::", 1)[1] for d in plain) == ["a", "b"]
    config = config_with(
        tmp_path, "stack-workloads-have-pdb", [{"resource": label, "reason": "batch worker"}]
    )
    excepted = [
        d
        for d in run_pack(records, "prod", config_path=config)
        if d.policy == "stack-workloads-have-pdb"
    ]
    assert [d.urn.rsplit("::", 1)[1] for d in excepted] == ["b"]
