"""`slipway deploy`: the flow with a fake engine and gate, the real rollback worktree, the gates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from slipway import deploy as d
from slipway.commands import deploy as deploy_cmd
from slipway.errors import BadInput, ToolMissing
from slipway_components.observability import SloArgs

REPO = Path(__file__).resolve().parents[1]

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

STACK = """\
config:
  slipway:environment: dev
  slipway:catalog: services
  slipway:targets:
    - name: local
      cloud: existing
      region: local
      kubeconfigContext: {context}
"""


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git project with two commits: v1 (orders 1.0.0) and v2 (orders 2.0.0 + a new file)."""
    root = tmp_path / "proj"
    (root / "services").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "policies" / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (root / "Pulumi.yaml").write_text("name: slipway\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text(STACK.format(context="kind-v1"))
    (root / "services" / "orders.yaml").write_text(SERVICE.format(tag="1.0.0"))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "v1")
    (root / "services" / "orders.yaml").write_text(SERVICE.format(tag="2.0.0"))
    (root / "services" / "extra.yaml").write_text(SERVICE.format(tag="9.9.9"))
    (root / "Pulumi.dev.yaml").write_text(STACK.format(context="kind-v2"))
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "v2")
    return root


class FakeRunner:
    """Records every call and what the catalog looked like in the directory it was given."""

    def __init__(self, preview_ok: bool = True, up_results: list[bool] | None = None) -> None:
        self.preview_ok = preview_ok
        self.up_results = list(up_results or [True])
        self.calls: list[dict] = []

    def _record(self, op: str, work_dir: Path, stack: str, policy: d.PolicyArgs) -> None:
        services = work_dir / "services"
        self.calls.append(
            {
                "op": op,
                "work_dir": work_dir,
                "stack": stack,
                "policy": policy,
                "catalog": {p.name: p.read_text() for p in sorted(services.glob("*.yaml"))},
                "stack_file": (work_dir / f"Pulumi.{stack}.yaml").read_text(),
            }
        )

    def preview(self, work_dir: Path, stack: str, policy: d.PolicyArgs) -> d.OpResult:
        self._record("preview", work_dir, stack, policy)
        if self.preview_ok:
            return d.OpResult(True, "create 2")
        return d.OpResult(False, error="mandatory policy violation: no-latest-tag")

    def up(self, work_dir: Path, stack: str, policy: d.PolicyArgs, targets=None) -> d.OpResult:
        self._record("up", work_dir, stack, policy)
        self.calls[-1]["targets"] = targets
        ok = self.up_results.pop(0)
        return d.OpResult(True, "update 1") if ok else d.OpResult(False, error="error: boom")


class FakeGate:
    def __init__(self, ok: bool) -> None:
        self.ok = ok
        self.seen: list[list[str]] = []

    def check(self, services):
        self.seen.append([s.name for s in services])
        return d.GateResult((d.Check("orders", self.ok, "error ratio 0.01%" if self.ok else "5%"),))


SERVICES = [d.GateService("orders", "commerce", "commerce", False, SloArgs())]
POLICY = d.PolicyArgs(packs=("/p/policies",), configs=("/p/policies/config/dev.json",))


def _deploy(project: Path, runner: FakeRunner, gate, *, auto_rollback: bool, ref: str = "HEAD~1"):
    return d.run_deploy(
        "dev",
        project_dir=project,
        runner=runner,
        gate=gate,
        services=SERVICES,
        policy=POLICY,
        auto_rollback=auto_rollback,
        rollback_ref=ref,
    )


def test_success_applies_once_and_does_not_roll_back(project):
    runner, gate = FakeRunner(), FakeGate(ok=True)
    report = _deploy(project, runner, gate, auto_rollback=True)
    assert [c["op"] for c in runner.calls] == ["preview", "up"]
    assert gate.seen == [["orders"]]
    assert report.rollback is None
    assert report.exit_code == 0
    assert report.lines()[-1] == "result: deployed (exit 0)"


def test_preview_and_up_run_with_the_policy_packs(project):
    runner = FakeRunner()
    _deploy(project, runner, FakeGate(ok=True), auto_rollback=False)
    assert all(c["policy"] == POLICY for c in runner.calls)


def test_refused_preview_applies_nothing_and_rolls_nothing_back(project):
    runner, gate = FakeRunner(preview_ok=False), FakeGate(ok=True)
    report = _deploy(project, runner, gate, auto_rollback=True)
    assert [c["op"] for c in runner.calls] == ["preview"]
    assert gate.seen == []
    assert report.rollback is None
    assert report.exit_code == 1
    assert "no-latest-tag" in "\n".join(report.lines())


def test_failed_up_rolls_back_to_previous_commit(project):
    runner, gate = FakeRunner(up_results=[False, True]), FakeGate(ok=True)
    report = _deploy(project, runner, gate, auto_rollback=True)
    assert [c["op"] for c in runner.calls] == ["preview", "up", "up"]
    assert gate.seen == [], "the gate must not run after a failed up"
    restore = runner.calls[2]
    assert restore["work_dir"] != project
    assert restore["catalog"] == {"orders.yaml": SERVICE.format(tag="1.0.0")}
    assert "kind-v1" in restore["stack_file"]
    assert report.failure == "up"
    assert report.rollback is not None and report.rollback.ok
    assert report.rollback.commit == _git(project, "rev-parse", "HEAD~1")
    assert report.exit_code == 1
    text = "\n".join(report.lines())
    assert "rollback: re-applied the declared state of HEAD~1" in text


def test_failed_gate_rolls_back(project):
    runner, gate = FakeRunner(up_results=[True, True]), FakeGate(ok=False)
    report = _deploy(project, runner, gate, auto_rollback=True)
    assert [c["op"] for c in runner.calls] == ["preview", "up", "up"]
    assert runner.calls[2]["catalog"]["orders.yaml"] == SERVICE.format(tag="1.0.0")
    assert report.failure == "gate"
    assert report.rollback is not None and report.rollback.ok
    assert report.exit_code == 1
    assert "FAIL orders: 5%" in "\n".join(report.lines())


def test_failure_without_auto_rollback_leaves_the_stack_and_says_so(project):
    runner = FakeRunner(up_results=[True])
    report = _deploy(project, runner, FakeGate(ok=False), auto_rollback=False)
    assert [c["op"] for c in runner.calls] == ["preview", "up"]
    assert report.rollback is None
    assert report.exit_code == 1
    assert "rollback: not attempted" in "\n".join(report.lines())


def test_rollback_that_fails_exits_3_loudly(project):
    runner = FakeRunner(up_results=[False, False])
    report = _deploy(project, runner, FakeGate(ok=True), auto_rollback=True)
    assert [c["op"] for c in runner.calls] == ["preview", "up", "up"]
    assert report.rollback is not None and not report.rollback.ok
    assert report.exit_code == d.EXIT_ROLLBACK_FAILED == 3
    text = "\n".join(report.lines())
    assert "ROLLBACK FAILED" in text
    assert "error: boom" in text


def test_rollback_to_a_ref_that_does_not_exist_exits_3(project):
    runner = FakeRunner(up_results=[False])
    report = _deploy(project, runner, FakeGate(ok=True), auto_rollback=True, ref="no-such-tag")
    assert [c["op"] for c in runner.calls] == ["preview", "up"]
    assert report.exit_code == 3
    assert "no-such-tag" in "\n".join(report.lines())


def test_rollback_to_a_commit_without_the_stack_file_exits_3(project):
    _git(project, "rm", "-q", "Pulumi.dev.yaml")
    _git(project, "commit", "-q", "-m", "drop the dev stack")
    (project / "Pulumi.dev.yaml").write_text(STACK.format(context="kind-v3"))
    _git(project, "add", "Pulumi.dev.yaml")
    _git(project, "commit", "-q", "-m", "bring it back")
    runner = FakeRunner(up_results=[False])
    report = _deploy(project, runner, FakeGate(ok=True), auto_rollback=True)
    assert [c["op"] for c in runner.calls] == ["preview", "up"]
    assert report.exit_code == 3
    assert "Pulumi.dev.yaml" in report.rollback.error


def test_rollback_worktree_is_removed_afterwards(project):
    _deploy(project, FakeRunner(up_results=[False, True]), FakeGate(ok=True), auto_rollback=True)
    listing = _git(project, "worktree", "list", "--porcelain")
    assert listing.count("worktree ") == 1, listing


def test_rollback_does_not_touch_the_working_tree(project):
    (project / "services" / "orders.yaml").write_text(SERVICE.format(tag="3.0.0-dirty"))
    _deploy(project, FakeRunner(up_results=[False, True]), FakeGate(ok=True), auto_rollback=True)
    assert (project / "services" / "orders.yaml").read_text() == SERVICE.format(tag="3.0.0-dirty")
    assert (project / "services" / "extra.yaml").exists()


def test_skipped_gate_is_reported_as_skipped_not_passed(project):
    report = _deploy(project, FakeRunner(), None, auto_rollback=True)
    text = "\n".join(report.lines())
    assert "health gate: SKIPPED" in text
    assert "health gate: passed" not in text
    assert report.exit_code == 0


# ---- the project and the tool


def test_read_project_lists_services_with_their_namespace_and_engine(project):
    (project / "services" / "extra.yaml").unlink()
    argo = SERVICE.format(tag="2.0.0").replace("name: orders", "name: cart")
    (project / "services" / "cart.yaml").write_text(
        argo + "strategy: {type: canary, engine: argo-rollouts}\n"
    )
    proj = d.read_project(project, "dev")
    assert proj.catalog_dir == "services"
    by_name = {s.name: s for s in proj.services}
    assert by_name["cart"].argo_rollouts is True
    assert by_name["orders"].argo_rollouts is False
    assert by_name["orders"].namespace == "commerce"
    assert by_name["orders"].slo == SloArgs()


def test_read_project_names_the_missing_stack_file(project):
    with pytest.raises(BadInput, match=r"Pulumi\.qa\.yaml.*known stacks: dev"):
        d.read_project(project, "qa")


def test_read_project_rejects_bad_stack_config(project):
    (project / "Pulumi.dev.yaml").write_text("config:\n  slipway:environment: moon\n")
    with pytest.raises(BadInput, match="environment"):
        d.read_project(project, "dev")


def test_policy_args_use_the_stack_policy_config_when_present(project):
    assert d.policy_args(project, "dev", None).configs == ()
    cfg = project / "policies" / "config" / "dev.json"
    cfg.parent.mkdir()
    cfg.write_text("{}")
    args = d.policy_args(project, "dev", None)
    assert args.packs == (str(project / "policies"),)
    assert args.configs == (str(cfg),)


def test_policy_args_require_the_pack(tmp_path):
    with pytest.raises(BadInput, match=r"PulumiPolicy\.yaml"):
        d.policy_args(tmp_path, "dev", None)


def test_missing_pulumi_cli_is_tool_missing_with_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissing) as info:
        d.require_pulumi_cli()
    assert info.value.exit_code == 2
    assert "not installed" in str(info.value)
    assert "https://get.pulumi.com" in str(info.value)


def _path_without_pulumi(tmp_path: Path) -> str:
    """PATH with git but without any `pulumi`."""
    dirs = [
        p for p in os.environ["PATH"].split(os.pathsep) if p and not (Path(p) / "pulumi").exists()
    ]
    return os.pathsep.join(dirs)


def test_cli_deploy_without_pulumi_exits_2_with_message(tmp_path, monkeypatch):
    app = typer.Typer()
    deploy_cmd.register(app)

    @app.callback()
    def _main() -> None:
        """Test app."""

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["deploy", "dev"], env={"PATH": _path_without_pulumi(tmp_path)}
    )
    assert result.exit_code == 2, result.output
    assert "Pulumi CLI" in result.output and "not installed" in result.output
    assert "get.pulumi.com" in result.output


def test_slipway_deploy_command_without_pulumi_exits_2(tmp_path):
    """The installed entry point: `python -m slipway deploy dev` with no pulumi on PATH."""
    env = {**os.environ, "PATH": _path_without_pulumi(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "slipway", "deploy", "dev"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not installed" in proc.stderr and "get.pulumi.com" in proc.stderr


# ---- the Automation API runner, against the SDK's real signatures


class _RecordingStack:
    """Stands in for `pulumi.automation.Stack`; binds every call to the real signature."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, dict]] = []

    def _run(self, op: str, kwargs: dict):
        import inspect

        from pulumi import automation as auto

        inspect.signature(getattr(auto.Stack, op)).bind(None, **kwargs)
        self.calls.append((op, kwargs))
        if self.fail:
            from pulumi.automation._cmd import CommandResult

            raise auto.CommandError(CommandResult("", "error: policy violation: x", 255))

    def preview(self, **kwargs):
        from pulumi import automation as auto

        self._run("preview", kwargs)
        return auto.PreviewResult("", "", {auto.OpType.CREATE: 2, auto.OpType.SAME: 5})

    def up(self, **kwargs):
        from types import SimpleNamespace

        self._run("up", kwargs)
        return SimpleNamespace(summary=SimpleNamespace(resource_changes={"update": 1, "same": 6}))


def _patch_select(monkeypatch, stack: _RecordingStack) -> list[dict]:
    from pulumi import automation as auto

    selected: list[dict] = []

    def select_stack(**kwargs):
        selected.append(kwargs)
        return stack

    monkeypatch.setattr(auto, "select_stack", select_stack)
    return selected


def test_automation_runner_selects_the_stack_in_the_work_dir_with_policy_packs(monkeypatch):
    stack = _RecordingStack()
    selected = _patch_select(monkeypatch, stack)
    runner = d.AutomationRunner()
    assert runner.preview(Path("/p"), "dev", POLICY) == d.OpResult(True, "create 2, same 5")
    assert runner.up(Path("/p"), "dev", POLICY) == d.OpResult(True, "same 6, update 1")
    assert selected == [{"stack_name": "dev", "work_dir": "/p"}] * 2
    for _, kwargs in stack.calls:
        assert kwargs["policy_packs"] == ["/p/policies"]
        assert kwargs["policy_pack_configs"] == ["/p/policies/config/dev.json"]


def test_automation_runner_turns_command_errors_into_failed_results(monkeypatch):
    _patch_select(monkeypatch, _RecordingStack(fail=True))
    result = d.AutomationRunner().up(Path("/p"), "dev", POLICY)
    assert not result.ok
    assert "policy violation" in result.error


def test_a_catalog_outside_the_project_is_refused_when_the_stack_file_is_read(project, tmp_path):
    """An absolute `slipway:catalog` once made the rollback delete that real folder."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text() + f"  slipway:catalog: {outside}\n")
    with pytest.raises(BadInput, match=r"slipway\.catalog") as err:
        d.read_project(project, "dev")
    assert "inside the project" in str(err.value)
    assert (outside / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("catalog", ["{outside}", "../outside", "services/../../outside"])
def test_the_rollback_never_removes_a_path_outside_its_worktree(project, tmp_path, catalog):
    """Even a catalog path that got past the stack-file check is only ever looked for
    inside the temporary worktree: the rollback fails (exit 3), nothing outside moves."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.iterdir())
    report = d.rollback(
        "dev",
        project_dir=project,
        runner=FakeRunner(),
        policy=POLICY,
        ref="HEAD~1",
        catalog_dir=catalog.format(outside=outside),
    )
    assert report.error and "outside the temporary worktree" in report.error
    assert (outside / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_automation_runner_preview_reports_the_urns_that_would_change(monkeypatch):
    """The gate judges what the engine says will change (main judged the whole stack)."""
    from types import SimpleNamespace as NS

    from pulumi import automation as auto

    class EventStack(_RecordingStack):
        def preview(self, **kwargs):
            for urn, op in (("urn:a", auto.OpType.SAME), ("urn:b", auto.OpType.UPDATE)):
                kwargs["on_event"](NS(resource_pre_event=NS(metadata=NS(urn=urn, op=op))))
            kwargs["on_event"](NS(resource_pre_event=None))
            return super().preview(**kwargs)

    _patch_select(monkeypatch, EventStack())
    assert d.AutomationRunner().preview(Path("/p"), "dev", POLICY).changed == ("urn:b",)


def test_automation_runner_targets_an_up_at_the_given_urns(monkeypatch):
    stack = _RecordingStack()
    _patch_select(monkeypatch, stack)
    d.AutomationRunner().up(Path("/p"), "dev", POLICY, targets=["urn:x", "urn:y"])
    ((_op, kwargs),) = stack.calls
    assert kwargs["target"] == ["urn:x", "urn:y"] and kwargs["target_dependents"] is True
    d.AutomationRunner().up(Path("/p"), "dev", POLICY)
    assert "target" not in stack.calls[1][1]


MULTI = """\
config:
  slipway:environment: dev
  slipway:catalog: services
  slipway:targets:
    - {name: one, cloud: existing, region: local, kubeconfigContext: kind-one}
    - {name: two, cloud: existing, region: local, kubeconfigContext: kind-two}
"""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prometheus-url", "http://prom:9090"], "none is set for one, two"),
        (["--waves", "--target", "one"], "--waves or --target, not both"),
        (["--target", "three"], "unknown target(s) three"),
    ],
)
def test_cli_deploy_refuses_one_prometheus_for_several_targets(project, monkeypatch, args, message):
    """Main queried one --prometheus-url for every region of the stack."""
    (project / "Pulumi.dev.yaml").write_text(MULTI)
    (project / "services" / "extra.yaml").unlink()
    monkeypatch.setattr(d, "require_pulumi_cli", lambda: "/usr/bin/pulumi")
    monkeypatch.setattr(d, "AutomationRunner", lambda **kw: pytest.fail("must not run"))
    from slipway.cli import app

    result = CliRunner().invoke(app, ["deploy", "dev", *args, "--project-dir", str(project)])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_cli_deploy_needs_each_cloud_targets_kube_context_for_rollouts(project, monkeypatch):
    """Main read every region's Rollouts through one kube context (kubectl's current one)."""
    targets = "\n".join(
        f"    - {{name: {n}, cloud: aws, region: us-east-1, "
        f"gate: {{prometheusUrl: 'http://p-{n}:9090'{ctx}}}}}"
        for n, ctx in (("one", ", kubeContext: ctx-one"), ("two", ""))
    )
    (project / "Pulumi.dev.yaml").write_text(
        "config:\n  slipway:environment: dev\n  slipway:targets:\n" + targets + "\n"
    )
    (project / "services" / "extra.yaml").unlink()
    orders = project / "services" / "orders.yaml"
    orders.write_text(orders.read_text() + "strategy: {type: canary, engine: argo-rollouts}\n")
    monkeypatch.setattr(d, "require_pulumi_cli", lambda: "/usr/bin/pulumi")
    monkeypatch.setattr(d, "AutomationRunner", lambda **kw: pytest.fail("must not run"))
    from slipway.cli import app

    result = CliRunner().invoke(app, ["deploy", "dev", "--project-dir", str(project)])
    assert result.exit_code == 2, result.output
    assert "no kube context is set for two" in " ".join(result.output.split())
