"""The attack list, run on a copy of the repository as a stranger or an attacker would.

Every attack runs the real CLI (`python -m slipway`, the code path of the console command) in
a git repository holding a copy of the project, with a secret value marked in the stack file.
After each attack:

- every file outside the output folder is byte-identical (checksums), and `git status` and the
  list of git worktrees are what they were;
- no process of the run is left (children are found by a token in their environment);
- the exit code is a documented one, and nothing printed a traceback;
- the secret value is in no output stream and no written file.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_project, git_repo
from tests.test_process_hygiene import (
    as_from_a_terminal,
    finish,
    processes_with,
    wait_for_entry,
    wait_until_gone,
)

SECRET = "Adv3rsarial-Secret-7Kq"
TOKEN_VAR = "SLIPWAY_TEST_RUN"
DOCUMENTED = {0, 1, 2, 3, 130}

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


@dataclass
class Repo:
    root: Path
    outside: Path
    """A folder of the user's beside the repository, that nothing may touch."""
    outputs: list[Path] = field(default_factory=list)
    """Folders the attack may legitimately write (excluded from the checksums)."""

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True
        ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    root = copy_project(tmp_path / "repo")
    stack_file = root / "Pulumi.dev.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["slipway:orders-db-password"] = {"value": SECRET, "secret": True}
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    (root / "mine").mkdir()
    (root / "mine" / "notes.txt").write_text("uncommitted work\n")
    git_repo(root)
    (root / "scratch.txt").write_text("untracked\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine\n")
    return Repo(root, outside)


def checksums(repo: Repo) -> dict[str, str]:
    """Every file and link in the repository (but .git's object store and the outputs) and
    in the outside folder."""
    skip = {p.resolve() for p in repo.outputs}
    out: dict[str, str] = {}
    for top in (repo.root, repo.outside):
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            dirnames[:] = [
                d
                for d in dirnames
                if (here / d).resolve() not in skip and not (here == repo.root and d == ".git")
            ]
            for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
                path = here / name
                key = str(path)
                if path.is_symlink():
                    out[key] = "-> " + os.readlink(path)
                else:
                    out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def written_files(repo: Repo) -> list[Path]:
    files = []
    for out in repo.outputs:
        if out.is_dir():
            files.extend(p for p in out.rglob("*") if p.is_file())
        elif out.is_file():
            files.append(out)
    return files


@dataclass
class Run:
    code: int
    out: str
    err: str


def slipway(
    repo: Repo,
    *args: str,
    token: str,
    signal_after: float | None = None,
    sig: int = signal.SIGINT,
    ignore_sigint: bool = False,
) -> Run:
    env = {**os.environ, TOKEN_VAR: token}

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "slipway", *args],
        cwd=repo.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore if ignore_sigint else as_from_a_terminal,
    )
    if signal_after is not None:
        if sig == signal.SIGINT:
            wait_for_entry(proc)
        time.sleep(signal_after)
        proc.send_signal(sig)
    out, err = finish(proc, timeout=300)
    return Run(proc.returncode, out, err)


def attack(
    repo: Repo,
    *args: str,
    expect: set[int],
    outputs: tuple[str, ...] = (),
    **kwargs,
) -> Run:
    """Run one attack and assert everything the module docstring promises."""
    repo.outputs = [repo.root / o for o in outputs]
    before = checksums(repo)
    status = repo.git("status", "--porcelain", "--ignored")
    worktrees = repo.git("worktree", "list")
    token = uuid.uuid4().hex
    run = slipway(repo, *args, token=token, **kwargs)
    shown = f"slipway {' '.join(args)} -> {run.code}\n{run.err[-2000:]}"
    assert run.code in expect, shown
    assert run.code in DOCUMENTED or run.code < 0, shown
    assert "Traceback" not in run.out + run.err, shown
    assert wait_until_gone(token) == [], f"processes left by: {shown}"
    assert checksums(repo) == before, f"files outside the output changed: {shown}"
    after_status = repo.git("status", "--porcelain", "--ignored")
    assert _without_outputs(after_status, outputs) == _without_outputs(status, outputs), shown
    assert repo.git("worktree", "list") == worktrees, shown
    assert SECRET not in run.out + run.err, f"the secret was printed: {shown}"
    for path in written_files(repo):
        assert SECRET.encode() not in path.read_bytes(), f"the secret is in {path}"
    return run


def _without_outputs(status: str, outputs: tuple[str, ...]) -> list[str]:
    tops = {o.split("/")[0] for o in outputs}
    return [line for line in status.splitlines() if line[3:].rstrip("/").split("/")[0] not in tops]


# -- --out --------------------------------------------------------------------------------------

OUT_REFUSED = [
    ".",
    "",
    "..",
    "services",
    "services/orders.yaml",
    "services/orders.yaml/below",
    "mine",
    "link-to-mine",
    "/",
    "/proc/slipway-out",
    "{outside}",
    "{root}",
]


@pytest.mark.parametrize("out", OUT_REFUSED)
def test_out_never_replaces_what_slipway_did_not_make(repo: Repo, out: str) -> None:
    (repo.root / "link-to-mine").symlink_to(repo.root / "mine", target_is_directory=True)
    value = out.format(outside=repo.outside, root=repo.root)
    run = attack(repo, "preview", "dev", "--out", value, expect={2})
    assert "--out" in run.err


def test_a_first_preview_writes_only_its_output(repo: Repo) -> None:
    attack(repo, "preview", "dev", expect={0}, outputs=("build",))
    assert (repo.root / "build" / "dev" / ".slipway-output").is_file()


def test_a_diff_against_head_leaves_no_worktree_and_no_scratch(repo: Repo) -> None:
    attack(
        repo,
        "preview",
        "dev",
        "--against",
        "HEAD",
        "--format",
        "markdown",
        expect={0},
        outputs=("build", ".slipway-cache"),  # the baseline's render cache
    )


def test_a_deeply_nested_baseline_is_bad_input(repo: Repo) -> None:
    (repo.outside / "base").mkdir()
    (repo.outside / "base" / "resources.json").write_text("[" * 100_000 + "]" * 100_000)
    attack(repo, "preview", "dev", "--against", str(repo.outside / "base"), expect={2})


# -- killed, interrupted, concurrent -----------------------------------------------------------


def test_a_killed_preview_leaves_no_process_and_the_next_run_cleans_up(repo: Repo) -> None:
    attack(
        repo,
        "preview",
        "prod",
        expect={-signal.SIGKILL},
        outputs=("build", ".slipway-cache"),  # the platform's render cache
        signal_after=2.0,
        sig=signal.SIGKILL,
    )
    attack(repo, "preview", "prod", expect={0, 1}, outputs=("build", ".slipway-cache"))
    assert sorted(p.name for p in (repo.root / "build").iterdir()) == ["prod"]
    assert not list((repo.root / ".slipway-cache").glob(".tmp-*")), "a partial cache entry"


@pytest.mark.parametrize("delay", [0.1, 0.4, 1.0])
def test_ctrl_c_exits_130_or_finishes(repo: Repo, delay: float) -> None:
    attack(repo, "preview", "dev", expect={0, 130}, outputs=("build",), signal_after=delay)


def test_a_run_with_sigint_ignored_finishes_and_leaves_nothing(repo: Repo) -> None:
    attack(repo, "preview", "dev", expect={0}, outputs=("build",), ignore_sigint=True)


def test_two_previews_creating_the_same_new_folder(repo: Repo) -> None:
    token = uuid.uuid4().hex
    env = {**os.environ, TOKEN_VAR: token}
    cmd = [sys.executable, "-m", "slipway", "preview", "dev", "--out", "new/dev", "--no-policy"]
    procs = [
        subprocess.Popen(
            cmd, cwd=repo.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    assert sorted(p.name for p in (repo.root / "new").iterdir()) == ["dev"]
    assert wait_until_gone(token) == []


# -- catalog, stack file, strategy commands -----------------------------------------------------


def _stack_config(repo: Repo, key: str, value: object) -> None:
    path = repo.root / "Pulumi.dev.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"][key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_rollback_with_nothing_recorded_changes_nothing(repo: Repo) -> None:
    attack(repo, "rollback", "payments", "--stack", "dev", expect={2})


def test_deploy_with_a_catalog_outside_the_project_touches_nothing(repo: Repo) -> None:
    _stack_config(repo, "slipway:catalog", str(repo.outside))
    attack(repo, "deploy", "dev", "--auto-rollback", expect={2})


def test_a_system_namespace_team_is_refused(repo: Repo) -> None:
    path = repo.root / "services" / "inventory.yaml"
    path.write_text(path.read_text().replace("team: commerce", "team: kube-system"))
    run = attack(repo, "preview", "dev", expect={2})
    assert "inventory.yaml" in run.err


def test_a_secret_in_a_bad_value_is_not_printed(repo: Repo) -> None:
    _stack_config(repo, "slipway:namespacePrefix", {"value": SECRET.upper(), "secret": True})
    upper = SECRET.upper()
    run = attack(repo, "preview", "dev", expect={2})
    assert upper not in run.out + run.err


@pytest.mark.parametrize("where", ["catalog", "stack"])
def test_a_5000_digit_integer_is_bad_input(repo: Repo, where: str) -> None:
    big = "9" * 5000
    if where == "catalog":
        path = repo.root / "services" / "inventory.yaml"
        path.write_text(path.read_text() + f"replicas: {big}\n")
    else:
        path = repo.root / "Pulumi.dev.yaml"
        path.write_text(path.read_text() + f"  slipway:huge: {big}\n")
    attack(repo, "preview", "dev", expect={2})


# -- check on hostile files ----------------------------------------------------------------------

LOL = ",".join(["lol"] * 9)
BILLION_LAUGHS = "\n".join(
    [f"a: &a [{LOL}]"]
    + [f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in pairwise("abcdefghi")]
)

HOSTILE: dict[str, Callable[[], str]] = {
    "billion-laughs.yaml": lambda: BILLION_LAUGHS + "\n",
    "huge-int.yaml": lambda: (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nspec: {n: " + "9" * 5000 + "}\n"
    ),
    "int-400.yaml": lambda: (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: "
        + "9" * 400
        + "}\n"
    ),
    "deep.yaml": lambda: "[" * 100_000 + "]" * 100_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_check_on_hostile_input_is_bad_input(repo: Repo, name: str) -> None:
    target = repo.outside / name
    target.write_text(HOSTILE[name]())
    run = attack(repo, "check", str(target), expect={2})
    assert name in run.err


def test_processes_helper_sees_this_process() -> None:
    """The token check finds live processes, so `wait_until_gone` can fail."""
    token = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], env={**os.environ, TOKEN_VAR: token}
    )
    try:
        deadline = time.monotonic() + 10
        while not processes_with(token) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert processes_with(token) == [proc.pid]
    finally:
        proc.kill()
        proc.wait()
