"""A preview killed at any moment leaves the previous output whole, never a half-written one.

The killed previews are real `python -m slipway preview` processes sent SIGKILL: no cleanup
handler runs, exactly as when CI cancels a job or the machine runs out of memory.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slipway import preview as pv
from slipway.outdir import MARKER, marker_bytes

ROOT = Path(__file__).resolve().parent.parent
STACK = "dev"


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _preview_cmd(project: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "slipway",
        "preview",
        STACK,
        "--project-dir",
        str(project),
        "--out",
        str(out),
        "--no-policy",
        "--format",
        "json",
    ]


def _start(project: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        _preview_cmd(project, out),
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (the forked program, the policy pack), from /proc."""
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process and its live descendants, from /proc."""
    total = 0
    for p in (pid, *_descendants(pid)):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _gone(pids: list[int], timeout: float = 10.0) -> bool:
    """True once none of `pids` is running any more (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for p in pids:
            try:
                state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(p)
        if not alive:
            return True
        time.sleep(0.05)
    return False


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the preview ended before it could be killed"


ATTEMPTS = 5
"""The write lasts milliseconds: on a loaded machine the poller may miss it; try again."""


def _kill_while_writing(project: Path, out: Path) -> bool:
    """Start a preview and SIGKILL it once its temporary output exists; False when the
    preview finished first (the window was missed)."""
    proc = _start(project, out)
    try:
        while proc.poll() is None and not _leftovers(out):
            time.sleep(0.0005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def previous(project: Path) -> tuple[Path, dict[str, bytes], dict[str, bytes], float]:
    """A project with a finished previous preview in build/dev, and a catalog change made
    since, so that any mix of old and new output would show. Returns (out, old, new, CPU
    seconds a whole preview of the change takes)."""
    out = project / "build" / STACK
    first = subprocess.run(_preview_cmd(project, out), cwd=project, capture_output=True)
    assert first.returncode == 0, first.stderr.decode()
    old = tree(out)
    orders = project / "services" / "orders.yaml"
    text = orders.read_text()
    assert "DB_HOST: orders-db." in text
    orders.write_text(text.replace("DB_HOST: orders-db.", "DB_HOST: orders-db2."))
    reference = project / "reference"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    second = subprocess.run(_preview_cmd(project, reference), cwd=project, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert second.returncode == 0, second.stderr.decode()
    new = tree(reference)
    assert new != old, "the catalog change must change the output"
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return out, old, new, cpu


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def test_kill_while_rendering_keeps_the_previous_output(previous) -> None:
    out, old, _, cpu = previous
    proc = _start(out.parent.parent, out)
    try:
        # Halfway through its work: past start-up, inside the program run, nothing written.
        while proc.poll() is None and _cpu_seconds(proc.pid) < cpu / 2:
            time.sleep(0.02)
        assert not _leftovers(out), "still rendering: no output may have been started"
        helpers = _descendants(proc.pid)
        assert helpers, "the program runs in a process of its own"
        _kill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert tree(out) == old
    assert _gone(helpers), "the program's process must end with the killed preview"


def test_kill_while_writing_leaves_old_or_new_output_never_a_mix(previous) -> None:
    out, old, new, _ = previous
    killed = 0
    for _ in range(ATTEMPTS):
        killed += _kill_while_writing(out.parent.parent, out)
        assert out.is_dir(), "the output folder must never be missing"
        assert tree(out) in (old, new), "the output is a mix of two runs"
        if killed:
            break
    assert killed, f"no preview could be killed while writing in {ATTEMPTS} attempts"


def test_next_run_cleans_up_after_a_killed_one(previous) -> None:
    out, _, new, _ = previous
    assert any(_kill_while_writing(out.parent.parent, out) for _ in range(ATTEMPTS))
    done = subprocess.run(_preview_cmd(out.parent.parent, out), capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert tree(out) == new
    assert _leftovers(out) == []


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    probe = subprocess.Popen(["true"])
    probe.wait()
    return probe.pid


def test_output_parked_by_a_crash_between_renames_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the atomic exchange is unavailable, the swap is two renames; a crash between
    them parks the previous output beside the missing one. The next write recovers it
    before swapping, so no step of a later run sees the output missing."""
    out = tmp_path / "build" / STACK
    parked = tmp_path / "build" / f".{STACK}.old-{_dead_pid()}"
    parked.mkdir(parents=True)
    (parked / "resources.json").write_bytes(b"[]\n")
    (parked / MARKER).write_bytes(marker_bytes(STACK))  # a parked output is a marked one
    seen: list[bool] = []
    real_exchange = pv._exchange

    def exchange(a: Path, b: Path) -> bool:
        seen.append((b / "resources.json").read_bytes() == b"[]\n")
        return real_exchange(a, b)

    monkeypatch.setattr(pv, "_exchange", exchange)
    pv.write_atomically(out, {"resources.json": b"[1]\n"})
    assert seen == [True], "the parked output must be back in place before the swap"
    assert (out / "resources.json").read_bytes() == b"[1]\n"
    assert not parked.exists()


def test_fallback_swap_without_exchange_replaces_the_output(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "build" / STACK
    pv.write_atomically(out, {"a.txt": b"old"})
    monkeypatch.setattr(pv, "_exchange", lambda a, b: False)
    pv.write_atomically(out, {"b.txt": b"new"})
    assert tree(out) == {"b.txt": b"new", MARKER: marker_bytes("")}
    assert _leftovers(out) == []


def test_temp_dirs_of_live_runs_are_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "build" / STACK
    live = tmp_path / "build" / f".{STACK}.tmp-{os.getpid()}-abc"
    live.mkdir(parents=True)
    pv.write_atomically(out, {"a.txt": b"x"})
    assert live.is_dir(), "another run's temp dir (its process alive) must not be touched"
