"""docs/going-live.md stays true to the project: every placeholder it must name, every custom
resource API the stacks render, the dev cluster's context, and the steps of a first deploy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from slipway import preview as pv
from slipway.preview import is_manifest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "going-live.md"
PLACEHOLDER = re.compile(r"111122223333|444455556666|(?:[a-z0-9.-]+\.)?example\.com")
CORE_GROUPS = {"v1", "apps/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1"}


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _project_files() -> list[Path]:
    files = [*ROOT.glob("Pulumi.*.yaml"), *(ROOT / "services").glob("*.yaml")]
    return sorted([*files, *(ROOT / "policies" / "config").glob("*.json")])


def test_every_placeholder_in_the_project_is_in_the_checklist() -> None:
    text = _text()
    missing = []
    for path in _project_files():
        for value in sorted(set(PLACEHOLDER.findall(path.read_text(encoding="utf-8")))):
            if value not in text:
                missing.append(f"{path.relative_to(ROOT)}: {value}")
    assert missing == [], "placeholders the going-live checklist does not name"


def test_the_dev_context_named_is_the_one_the_dev_stack_expects() -> None:
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    contexts = {
        t["kubeconfigContext"] for t in config["slipway:targets"] if "kubeconfigContext" in t
    }
    assert contexts and all(f"`{c}`" in _text() for c in contexts)


@pytest.mark.parametrize(
    "topic",
    [
        "state backend",
        "secrets provider",
        "Cloud credentials",
        "dev cluster",
        "Cluster prerequisites",
        "secrets",
        "first `pulumi up`",
    ],
)
def test_each_step_of_going_live_has_its_section(topic: str) -> None:
    headings = [line for line in _text().splitlines() if line.startswith("## ")]
    assert any(topic.lower() in h.lower() for h in headings), headings


def test_every_custom_resource_api_the_stacks_render_is_a_listed_prerequisite() -> None:
    text = _text()
    needed: set[str] = set()
    for stack in ("dev", "staging", "prod"):
        for record in pv.render(ROOT, stack).records:
            if is_manifest(record):
                needed.add(str(record.inputs["apiVersion"]))
    custom = sorted(v for v in needed - CORE_GROUPS)
    assert custom, "the stacks render custom resources; the test would prove nothing"
    unlisted = [v for v in custom if v.split("/")[0] not in text]
    assert unlisted == [], "custom resource APIs going-live.md does not list"
