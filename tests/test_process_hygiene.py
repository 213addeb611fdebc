"""No child process outlives a command, and what a killed run leaves is cleaned by the next.

Children are found by a token in their environment (every child inherits the command's), so
the tests see exactly the processes of their own run, whoever became their parent.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from slipway import children
from slipway.policy import PolicyPackProcess
from tests.conftest import git_repo

ROOT = Path(__file__).resolve().parent.parent
TOKEN_VAR = "SLIPWAY_TEST_RUN"


def processes_with(token: str) -> list[int]:
    """Pids of live processes whose environment holds `TOKEN_VAR=token`."""
    needle = f"{TOKEN_VAR}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def wait_until_gone(token: str, seconds: float = 10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_with(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def as_from_a_terminal() -> None:
    """`preexec_fn` for a child that must take Ctrl-C as a terminal user's command does.

    A test run started in the background (`make test &`, some CI runners) has SIGINT
    ignored, and children inherit that: a Ctrl-C test would then prove nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def finish(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """`proc.communicate`, killing a run that hangs past `timeout` (Popen does not), so a
    hung run never outlives the test."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def wait_for_entry(proc: subprocess.Popen, seconds: float = 60.0) -> None:
    """Wait until the CLI's entry point handles Ctrl-C itself (`slipway.entry`).

    Before that the process is Python starting up (site, .pth files), where a Ctrl-C gives
    Python's own traceback whatever the program does; the entry point sets its SIGALRM
    handler when it takes over, which shows in the caught-signal mask in /proc."""
    bit = 1 << (signal.SIGALRM - 1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
        except OSError:
            return
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & bit:
            return
        time.sleep(0.002)
    assert proc.poll() is not None, f"the entry point did not take over Ctrl-C in {seconds} s"


def env_with(token: str) -> dict[str, str]:
    return {**os.environ, TOKEN_VAR: token}


pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def test_a_killed_preview_takes_the_policy_pack_with_it(project: Path) -> None:
    """SIGKILL runs no cleanup: the pack must notice on its own that its parent is gone."""
    token = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "slipway", "preview", "prod", "--out", str(project / "o")],
        cwd=project,
        env=env_with(token),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        b"pulumi.policy" in Path(f"/proc/{p}/cmdline").read_bytes()
        for p in processes_with(token)
        if Path(f"/proc/{p}/cmdline").exists()
    ):
        time.sleep(0.02)
    assert proc.poll() is None, "the preview ended before its pack was seen"
    # Freeze the preview so that it cannot finish while the pack comes up (a small stack's
    # preview may end within a second of starting its pack); its children run on.
    proc.send_signal(signal.SIGSTOP)
    time.sleep(1.0)  # the pack is serving by now (a pack killed while starting dies anyway)
    assert proc.poll() is None, "the preview ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert wait_until_gone(token) == [], "processes of the killed preview are still running"


def test_the_pack_stops_without_a_signal_when_sigint_is_ignored() -> None:
    """A background job starts with SIGINT ignored; the pack stops through its tie at once,
    not by the kill that follows a timeout."""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pack = PolicyPackProcess(stack="dev")
    finally:
        signal.signal(signal.SIGINT, old)
    try:
        pack.handshake()
    finally:
        started = time.monotonic()
        pack.close()
    assert pack.proc.returncode == 0, "the pack was killed, not stopped"
    assert time.monotonic() - started < 4.0


def test_a_tied_child_dies_with_its_killed_parent(tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    (tmp_path / "sleeper.py").write_text("import time\ntime.sleep(120)\n")
    parent = (
        "import subprocess, sys, time\n"
        "from slipway import children\n"
        f"cmd = children.module_command(sys.executable, 'sleeper', [])\n"
        f"children.popen_tied(cmd, cwd={str(tmp_path)!r})\n"
        "print('started', flush=True)\n"
        "time.sleep(120)\n"
    )
    env = env_with(token)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path)])
    proc = subprocess.Popen(
        [sys.executable, "-c", parent], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 20
    while len(processes_with(token)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(processes_with(token)) == 2
    proc.kill()
    proc.wait()
    assert wait_until_gone(token) == []


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_next_run_removes_what_a_killed_baseline_left(tmp_path: Path) -> None:
    """A run killed during `--against` leaves its scratch folder and a registered git
    worktree; the next baseline render removes both, and leaves a live run's alone."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.txt").write_text("a")
    git_repo(repo)
    dead = children.scratch_dir("baseline")
    dead = dead.rename(dead.parent / f"slipway-baseline-{_dead_pid()}-zz")
    live = children.scratch_dir("baseline")
    try:
        _git(repo, "worktree", "add", "-q", "--detach", str(dead / "tree"), "HEAD")
        assert str(dead / "tree") in _git(repo, "worktree", "list")
        removed = children.sweep("baseline", repo)
        assert dead in removed and not dead.exists()
        assert live.is_dir(), "the scratch folder of a live run must stay"
        assert str(dead / "tree") not in _git(repo, "worktree", "list")
    finally:
        live.rmdir()


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.5])
def test_ctrl_c_at_any_moment_exits_130_without_a_traceback(project: Path, delay: float) -> None:
    token = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "slipway", "preview", "prod", "--out", str(project / "o")],
        cwd=project,
        env=env_with(token),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=as_from_a_terminal,
    )
    wait_for_entry(proc)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _out, err = finish(proc, timeout=120)
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err
    assert "did not end in time" not in err, "the clean-up hung; the watchdog ended it"
    if proc.returncode == 130:
        assert not (project / "o").exists(), "an interrupted preview wrote output"
    assert wait_until_gone(token) == []


def test_sweeping_keeps_the_users_own_worktrees_whose_folder_is_away(tmp_path: Path) -> None:
    """A worktree of the user's on an unmounted drive has no folder for a while; a general
    `git worktree prune` would drop its record. The sweep removes only its own."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.txt").write_text("a")
    git_repo(repo)
    away = tmp_path / "usb" / "feature"
    _git(repo, "worktree", "add", "-q", "--detach", str(away), "HEAD")
    shutil.rmtree(tmp_path / "usb")
    dead = children.scratch_dir("baseline")
    dead = dead.rename(dead.parent / f"slipway-baseline-{_dead_pid()}-yy")
    _git(repo, "worktree", "add", "-q", "--detach", str(dead / "tree"), "HEAD")
    children.sweep("baseline", repo)
    listing = _git(repo, "worktree", "list", "--porcelain")
    assert f"worktree {away}" in listing
    assert str(dead / "tree") not in listing


def test_a_ctrl_c_just_after_the_judging_thread_starts_ends_the_preview(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl-C that lands right after the judging thread starts (before any record is
    handed over) must stop that thread too: it waited on its queue for ever, and leaving
    the thread pool waited for it, so the preview hung instead of exiting 130."""
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    from slipway.commands import preview as command

    real_submit = ThreadPoolExecutor.submit

    def submit_then_ctrl_c(self: ThreadPoolExecutor, *args: object, **kwargs: object) -> object:
        real_submit(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(ThreadPoolExecutor, "submit", submit_then_ctrl_c)
    run = SimpleNamespace(
        job=SimpleNamespace(stack="dev", project="slipway"), batches=lambda: iter(())
    )
    raised: list[BaseException] = []

    def judge() -> None:
        try:
            command._judge(run, ROOT, lambda _rendered: None)  # type: ignore[arg-type]
        except BaseException as exc:  # the test reads what ended it
            raised.append(exc)

    thread = threading.Thread(target=judge, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the interrupted judging hung"
    assert [type(e) for e in raised] == [KeyboardInterrupt]


def test_a_clean_up_that_hangs_after_ctrl_c_is_ended_by_the_watchdog_with_130() -> None:
    """One Ctrl-C always ends the command: a clean-up that waits for ever (a bug) is cut
    short after the grace, with 130 and a line that says so."""
    script = (
        "import signal, threading\n"
        "from slipway import entry\n"
        "entry.INTERRUPT_GRACE_SECONDS = 0.5\n"
        "assert entry.DeferredInterrupt.install() is not None\n"
        "try:\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "except KeyboardInterrupt:\n"
        "    threading.Event().wait()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        preexec_fn=as_from_a_terminal,
    )
    from slipway.entry import GRACE_EXCEEDED

    assert (proc.returncode, proc.stderr) == (130, GRACE_EXCEEDED)
