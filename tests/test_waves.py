"""Region-by-region deploys (`slipway deploy --waves`) with a fake engine and a fake
Prometheus per target; the rollback to the last deployed state; the plan in the preview."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from slipway import deploy as d
from slipway import waves as wv
from slipway.rollback import tag_name
from tests.test_deploy import _git
from tests.test_gate import Clock

SERVICE = """\
name: orders
team: commerce
image: ghcr.io/acme/orders
version: {{tag: "{tag}"}}
ports: [{{name: http, port: 8080}}]
probes:
  liveness: {{path: /healthz}}
  readiness: {{path: /ready}}
"""

TARGETS = ("eu-1", "us-1", "ap-1")


def stack_file(waves: list | None = None) -> str:
    targets = [
        {
            "name": t,
            "cloud": "existing",
            "region": "local",
            "kubeconfigContext": f"kind-{t}",
            "gate": {"prometheusUrl": f"http://prom-{t}:9090"},
        }
        for t in TARGETS
    ]
    config = {
        "slipway:environment": "dev",
        "slipway:catalog": "services",
        "slipway:targets": targets,
    }
    if waves is not None:
        config["slipway:waves"] = waves
    return yaml.safe_dump({"config": config}, sort_keys=False)


def _commit(root: Path, tag: str) -> str:
    (root / "services" / "orders.yaml").write_text(SERVICE.format(tag=tag))
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", tag)
    return _git(root, "rev-parse", "HEAD")


@pytest.fixture
def project(tmp_path: Path) -> dict:
    """Three commits: 1.0.0 (deployed everywhere), 2.0.0 (never deployed), 3.0.0 (HEAD)."""
    root = tmp_path / "proj"
    (root / "services").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "policies" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (root / "Pulumi.yaml").write_text("name: slipway\nruntime: python\n")
    (root / "Pulumi.prod.yaml").write_text(stack_file())
    _git(root, "init", "-q", "-b", "main")
    commits = {tag: _commit(root, tag) for tag in ("1.0.0", "2.0.0", "3.0.0")}
    return {"root": root, "commits": commits}


URNS = {
    t: [
        f"urn:pulumi:prod::slipway::slipway:stacks:Target::{t}",
        f"urn:pulumi:prod::slipway::slipway:stacks:Target$slipway:index:Microservice::{t}-orders",
    ]
    for t in TARGETS
}
CHANGED = tuple(
    f"urn:pulumi:prod::slipway::x$kubernetes:apps/v1:Deployment::{t}-orders-deployment"
    for t in TARGETS
)


class FakeEngine:
    """Records each preview/up: where, which URNs, and which orders tag it applied."""

    def __init__(self, up_fails: set[int] | None = None) -> None:
        self.calls: list[dict] = []
        self.up_fails = up_fails or set()

    def preview(self, work_dir, stack, policy):
        self.calls.append({"op": "preview"})
        return d.OpResult(True, "update 3", changed=CHANGED)

    def up(self, work_dir, stack, policy, targets=None):
        text = (work_dir / "services" / "orders.yaml").read_text()
        tag = text.split('tag: "')[1].split('"')[0]
        n = sum(c["op"] == "up" for c in self.calls) + 1
        self.calls.append({"op": "up", "work_dir": work_dir, "targets": targets, "tag": tag})
        if n in self.up_fails:
            return d.OpResult(False, error="error: boom")
        return d.OpResult(True, "update 1")


class FakeProm:
    """One target's Prometheus: healthy traffic unless told otherwise."""

    def __init__(self, requests=1000.0, errors=0.0) -> None:
        self.requests, self.errors = requests, errors
        self.queries: list[str] = []

    def __call__(self, promql: str):
        self.queries.append(promql)
        if promql.startswith("sum(up"):
            return 3.0
        if promql.startswith("sum(increase("):
            return self.requests
        if promql.startswith("histogram_quantile"):
            return 0.05
        return self.errors


def _run(project: dict, proms: dict[str, FakeProm], *, engine=None, record=None, **kw):
    root = project["root"]
    proj = d.read_project(root, "prod")
    clock = Clock()
    gate = d.target_gates(
        proj.endpoints(),
        policy=d.SloPolicy(duration_seconds=300, interval_seconds=60),
        rollout_timeout=60,
        needs_prometheus=set(TARGETS),
        kubectl=lambda args: "{}",
        query_for=lambda url: proms[url.split("//prom-")[1].split(":")[0]],
        sleep=clock.sleep,
        clock=clock,
    )
    engine = engine or FakeEngine()
    v1 = project["commits"]["1.0.0"]
    record = record if record is not None else d.MemoryRecord({t: v1 for t in TARGETS})
    report = d.run_deploy(
        "prod",
        project_dir=root,
        runner=engine,
        gate=gate,
        services=proj.services,
        policy=d.PolicyArgs(packs=("/p",)),
        auto_rollback=True,
        catalog_dir=proj.catalog_dir,
        waves=kw.pop("waves", wv.plan(proj.settings)),
        target_urns=URNS,
        record=record,
        **kw,
    )
    return report, engine, record, clock


def test_all_waves_pass_one_target_at_a_time_then_the_stack_wide_rest(project):
    proms = {t: FakeProm() for t in TARGETS}
    report, engine, record, _ = _run(project, proms)
    assert report.exit_code == 0, report.lines()
    ups = [c for c in engine.calls if c["op"] == "up"]
    assert [c["targets"] for c in ups] == [URNS["eu-1"], URNS["us-1"], URNS["ap-1"], None]
    assert all(c["tag"] == "3.0.0" for c in ups)
    # Each wave's gate judged its own target, through its own Prometheus.
    assert [w.judged for w in report.waves] == [
        ("eu-1/orders",),
        ("us-1/orders",),
        ("ap-1/orders",),
    ]
    assert all(p.queries for p in proms.values())
    head = project["commits"]["3.0.0"]
    assert record.commits == {t: head for t in TARGETS}
    text = "\n".join(report.lines())
    assert "wave 1 (eu-1): health gate on eu-1/orders: passed" in text
    assert "stack-wide up (after every wave): ok" in text


def test_the_second_wave_fails_and_only_it_is_rolled_back(project):
    budget_burn = 0.02  # 20x the default 0.1% budget over both windows
    proms = {"eu-1": FakeProm(), "us-1": FakeProm(errors=budget_burn), "ap-1": FakeProm()}
    report, engine, record, _ = _run(project, proms)
    assert report.exit_code == 1
    assert report.failure == "wave 2 (us-1) gate"
    ups = [c for c in engine.calls if c["op"] == "up"]
    assert [(c["targets"], c["tag"]) for c in ups] == [
        (URNS["eu-1"], "3.0.0"),
        (URNS["us-1"], "3.0.0"),
        (URNS["us-1"], "1.0.0"),  # the rollback: us-1 only, to its last deployed state
    ]
    assert ups[2]["work_dir"] != project["root"]
    assert not proms["ap-1"].queries, "the third wave was never started"
    v1, head = project["commits"]["1.0.0"], project["commits"]["3.0.0"]
    assert record.commits == {"eu-1": head, "us-1": v1, "ap-1": v1}
    (rb,) = report.rollbacks
    assert rb.ok and rb.targets == ("us-1",) and rb.commit == v1
    assert "rollback: re-applied the declared state of" in "\n".join(report.lines())


def test_a_gate_with_no_traffic_waits_instead_of_passing(project):
    proms = {t: FakeProm(requests=0.0) for t in TARGETS}
    report, engine, record, clock = _run(project, proms, record=d.MemoryRecord({}))
    assert report.exit_code == 3, "no record and no --rollback-to: the rollback cannot guess"
    assert report.failure == "wave 1 (eu-1) gate"
    gate = report.waves[0].gate
    assert gate is not None and gate.inconclusive
    assert clock.now >= 240, "it kept measuring for the gate window"
    assert sum(q.startswith("sum(increase(") for q in proms["eu-1"].queries) >= 5
    assert record.commits == {}, "an unproven wave is never recorded as deployed"
    assert [c["targets"] for c in engine.calls if c["op"] == "up"] == [URNS["eu-1"]]
    assert "INCONCLUSIVE" in "\n".join(report.lines())
    assert "give --rollback-to" in "\n".join(report.lines())


def test_rollback_goes_to_the_last_deployed_commit_not_head_minus_one(project):
    """Main rolled back to HEAD~1 (2.0.0 here), a state that was never deployed."""
    proms = {t: FakeProm(errors=0.05) for t in TARGETS}
    report, engine, _, _ = _run(project, proms, waves=None)
    assert report.failure == "gate"
    restore = [c for c in engine.calls if c["op"] == "up"][-1]
    assert restore["tag"] == "1.0.0" and restore["targets"] is None
    assert report.rollback.commit == project["commits"]["1.0.0"]


def test_rollback_to_overrides_the_record(project):
    proms = {t: FakeProm(errors=0.05) for t in TARGETS}
    report, engine, _, _ = _run(project, proms, waves=None, rollback_ref="HEAD~1")
    assert [c for c in engine.calls if c["op"] == "up"][-1]["tag"] == "2.0.0"
    assert report.exit_code == 1


def test_targets_recorded_at_different_commits_roll_back_each_to_its_own(project):
    c = project["commits"]
    record = d.MemoryRecord({"eu-1": c["2.0.0"], "us-1": c["1.0.0"], "ap-1": c["1.0.0"]})
    proms = {t: FakeProm(errors=0.05) for t in TARGETS}
    report, engine, _, _ = _run(project, proms, waves=None, record=record)
    restores = [(x["tag"], x["targets"]) for x in engine.calls if x["op"] == "up"][1:]
    assert restores == [("2.0.0", URNS["eu-1"]), ("1.0.0", URNS["us-1"] + URNS["ap-1"])]
    assert report.exit_code == 1


def test_a_dirty_catalog_is_deployed_but_not_recorded(project):
    (project["root"] / "services" / "orders.yaml").write_text(SERVICE.format(tag="9.9.9"))
    report, _, record, _ = _run(project, {t: FakeProm() for t in TARGETS})
    assert report.exit_code == 0
    assert set(record.commits.values()) == {project["commits"]["1.0.0"]}
    assert "not recorded as deployed: uncommitted changes" in "\n".join(report.lines())


def test_one_target_apply_leaves_the_rest_of_the_stack_alone(project):
    """`slipway deploy prod --target us-1` (e.g. a flag toggle in one region first)."""
    report, engine, record, _ = _run(
        project,
        {t: FakeProm() for t in TARGETS},
        waves=[wv.Wave(1, ("us-1",))],
        stack_wide=False,
    )
    assert report.exit_code == 0
    assert [c["targets"] for c in engine.calls if c["op"] == "up"] == [URNS["us-1"]]
    assert record.commits["us-1"] == project["commits"]["3.0.0"]
    assert record.commits["eu-1"] == project["commits"]["1.0.0"]


# ---- the plan


def test_default_plan_is_the_targets_order_first_wave_canary(project):
    settings = d.read_project(project["root"], "prod").settings
    plan = wv.plan(settings)
    assert [w.targets for w in plan] == [("eu-1",), ("us-1",), ("ap-1",)]
    assert plan[0].role == "canary wave" and plan[1].role == "wave"


def test_configured_waves_group_targets(project):
    root = project["root"]
    (root / "Pulumi.prod.yaml").write_text(stack_file(["us-1", ["eu-1", "ap-1"]]))
    plan = wv.plan(d.read_project(root, "prod").settings)
    assert [w.targets for w in plan] == [("us-1",), ("eu-1", "ap-1")]


@pytest.mark.parametrize(
    ("waves", "message"),
    [
        (["eu-1", "us-1"], "missing: ap-1"),
        (["eu-1", ["us-1", "eu-1"], "ap-1"], "more than one wave"),
        (["eu-1", "us-1", "ap-1", "mars-1"], "'mars-1' is not a target"),
        (["eu-1", [], "us-1", "ap-1"], "at least one target"),
    ],
)
def test_bad_waves_are_refused_with_the_reason(waves, message):
    from stacks.config import StackConfig

    doc = yaml.safe_load(stack_file(waves))["config"]
    raw = {k.split(":", 1)[1]: v for k, v in doc.items()}
    with pytest.raises(ValidationError, match=message):
        StackConfig.model_validate(raw)


def test_long_target_names_get_distinct_stack_tags_of_at_most_40_characters():
    a, b = "x" * 40, "x" * 39 + "y"
    assert len(tag_name(a)) <= 40 and len(tag_name(b)) <= 40
    assert tag_name(a) != tag_name(b)
    assert tag_name("aws-us-east-1") == "slipway:deployed:aws-us-east-1"


def test_stack_tag_record_reads_and_writes_tags_through_the_automation_api():
    from pulumi import automation as auto
    from pulumi.automation._cmd import CommandResult

    class Stack:
        tags: dict[str, str] = {}

        def get_tag(self, key):
            if key not in self.tags:
                raise auto.CommandError(CommandResult("", "tag not found", 255))
            return self.tags[key]

        def set_tag(self, key, value):
            self.tags[key] = value

    stack = Stack()
    rec = d.StackTagRecord(Path("/p"), "prod", select=lambda **kw: stack)
    assert rec.get("eu-1") is None
    rec.set(["eu-1", "us-1"], "abc123")
    assert stack.tags == {"slipway:deployed:eu-1": "abc123", "slipway:deployed:us-1": "abc123"}
    assert rec.get("us-1") == "abc123"


def test_preview_shows_the_wave_plan(run, project_dir_copy):
    result = run("preview", "prod", "--no-policy", "--out", str(project_dir_copy / "o"))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Wave plan for stack prod (slipway deploy prod --waves):" in out
    lines = out[out.index("Wave plan") :].splitlines()
    assert lines[1].split()[:4] == ["1", "canary", "wave", "aws-us-east-1"]
    assert lines[2].split()[:3] == ["2", "wave", "aws-eu-west-1"]
    assert lines[3].split()[:3] == ["3", "wave", "gcp-europe-west1"]
    assert out.strip().splitlines()[-1].startswith("exit 0:")


def test_preview_json_lists_the_configured_waves(run, project_dir_copy):
    path = project_dir_copy / "Pulumi.prod.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["slipway:waves"] = ["gcp-europe-west1", ["aws-us-east-1", "aws-eu-west-1"]]
    path.write_text(yaml.safe_dump(doc))
    result = run(
        "preview", "prod", "--no-policy", "--format", "json", "--out", str(project_dir_copy / "o")
    )
    assert result.exit_code == 0, result.output
    waves = json.loads(result.stdout)["waves"]
    assert [(w["wave"], w["role"], w["targets"]) for w in waves] == [
        (1, "canary wave", ["gcp-europe-west1"]),
        (2, "wave", ["aws-us-east-1", "aws-eu-west-1"]),
    ]
    assert all(w["resources"] > 0 for w in waves)


@pytest.fixture
def project_dir_copy(tmp_path: Path) -> Path:
    from tests.conftest import copy_project

    return copy_project(tmp_path / "p", stacks=("prod",))


@pytest.fixture
def run(project_dir_copy: Path, cli):
    def invoke(*args: str):
        return cli(*args, "--project-dir", str(project_dir_copy))

    return invoke


# ---- docs/waves.md: every example is the real thing

DOC = Path(__file__).resolve().parents[1] / "docs" / "waves.md"


def _blocks(lang: str) -> list[str]:
    text = DOC.read_text()
    parts = text.split(f"```{lang}\n")[1:]
    return [p.split("```", 1)[0] for p in parts]


def test_doc_stack_file_examples_validate_and_render(project_dir_copy):
    """Each YAML example of docs/waves.md, laid over the prod stack file, is a valid stack
    file that renders, and says what the page says."""
    from slipway import preview as pv

    path = project_dir_copy / "Pulumi.prod.yaml"
    doc = yaml.safe_load(path.read_text())
    examples = [yaml.safe_load(b)["config"] for b in _blocks("yaml")]
    assert len(examples) == 3
    for example in examples:
        doc["config"].update(example)
    path.write_text(yaml.safe_dump(doc))
    proj = d.read_project(project_dir_copy, "prod")
    assert [w.targets for w in wv.plan(proj.settings)] == [
        ("aws-us-east-1",),
        ("aws-eu-west-1", "gcp-europe-west1"),
    ]
    ep = proj.endpoints()
    assert ep["aws-eu-west-1"] == d.TargetEndpoints(
        "prod-eu-west-1", "http://prometheus.eu-west-1.internal:9090"
    )
    rendered = pv.render(project_dir_copy, "prod")
    rules = [
        r.inputs
        for r in rendered.records
        if pv.is_manifest(r) and r.inputs["kind"] in ("PrometheusRule", "ServiceMonitor")
    ]
    assert rules and all(
        o["metadata"]["labels"]["release"] == "kube-prometheus-stack" for o in rules
    )


def test_doc_wave_plan_output_is_what_preview_prints(run, project_dir_copy):
    (expected,) = _blocks("text")
    result = run("preview", "prod", "--no-policy", "--out", str(project_dir_copy / "o"))
    assert result.exit_code == 0, result.output
    out = result.output
    start = out.index("Wave plan for stack prod")
    shown = out[start:].split("\n\n", 1)[0].strip()
    # The counts move with every change to the stack; the plan's shape must not.
    assert re.sub(r"\d+ resources", "N resources", shown) == re.sub(
        r"\d+ resources", "N resources", expected.strip()
    )


@pytest.mark.parametrize(
    "waves", [["us-1", "eu-1", "ap-1", "mars-1"], ["us-1", ["eu-1", "us-1"], "ap-1"]]
)
def test_bad_waves_are_reported_at_the_waves_key_with_the_list_given(project, waves):
    """Was reported at the top of the file (`slipway: waves: ... (given: a mapping)`)."""
    from slipway.errors import BadInput

    root = project["root"]
    (root / "Pulumi.prod.yaml").write_text(stack_file(waves))
    with pytest.raises(BadInput) as caught:
        d.read_project(root, "prod")
    text = str(caught.value)
    assert "slipway.waves: " in text and "given: a list" in text
    assert "a mapping" not in text
