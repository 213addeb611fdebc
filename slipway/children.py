"""Child processes that die with the command, and scratch folders the next run cleans up.

A command killed with SIGKILL runs no cleanup code, so a child must notice on its own that
its parent is gone. Each Python child slipway starts (the policy pack, the baseline render) is
started through a small launcher that runs the real module after starting one thread: it
reads the child's stdin, a pipe whose other end only the parent holds, and ends the process
when that pipe closes. The kernel closes it when the parent exits in any way, SIGKILL
included; the parent closes it on purpose to stop the child, so stopping needs no signal
that the child may ignore (a background job or a CI runner starts processes with SIGINT
ignored). The launcher is plain Python with no imports of ours, so it also works in the
policy pack's own virtualenv.

Scratch folders (`slipway-<kind>-<pid>-*` in the temp folder) carry the pid of the run that
made them; `sweep` removes those whose run is gone, with git's record of the worktree that
lived there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_LAUNCHER = """\
import os, runpy, sys, threading
def _watch():
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    os._exit(0)
threading.Thread(target=_watch, name="parent-watch", daemon=True).start()
module = sys.argv[1]
sys.argv = [module, *sys.argv[2:]]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""
"""Runs `python -m <module> args...` after starting the stdin watch."""


def module_command(python: str, module: str, args: Sequence[str], *, unbuffered: bool = False):
    """The command line that runs `python -m module args` tied to this process."""
    flags = ["-u"] if unbuffered else []
    return [python, *flags, "-c", _LAUNCHER, module, *args]


def popen_tied(cmd: list[str], **kwargs: Any) -> subprocess.Popen:
    """Start `cmd` (from `module_command`) with the tie pipe as its stdin."""
    if "stdin" in kwargs:
        raise TypeError("stdin is the tie to the parent; it cannot be set")
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, **kwargs)


def stop(proc: subprocess.Popen, *, grace_seconds: float = 5.0) -> None:
    """Stop a tied child: close its tie (it exits at once), kill it if it has not."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace_seconds)


def run_tied(
    cmd: list[str],
    *,
    timeout: float,
    started: Callable[[subprocess.Popen], None] | None = None,
    **kwargs: Any,
) -> subprocess.CompletedProcess:
    """`subprocess.run` for a tied child, output captured as text; the child is killed on
    timeout or on any exception here (Ctrl-C included). `started` gets the process once it
    runs (another thread may `stop` it: the run then ends with the child's exit status)."""
    # Not `communicate`: it closes stdin first, which is the tie, and the child would end.
    proc = popen_tied(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    if started is not None:
        started(proc)
    texts: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda n=n, s=s: texts.__setitem__(n, s.read()), daemon=True)
        for n, s in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        for reader in readers:
            reader.join(timeout=10)
        stop(proc)
        for stream in (proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                stream.close()
    return subprocess.CompletedProcess(cmd, proc.returncode, texts.get("out"), texts.get("err"))


def scratch_dir(kind: str) -> Path:
    """A new scratch folder for this run; `sweep(kind)` removes it once this run is gone."""
    return Path(tempfile.mkdtemp(prefix=f"slipway-{kind}-{os.getpid()}-"))


def alive(pid: int) -> bool:
    """Whether a process `pid` exists (left-overs of live runs are never touched)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_worktree(git_dir: Path, tree: Path) -> None:
    """`git worktree remove --force` of one worktree this process made; never raises (the
    caller removes the folder anyway, and a sweep retries what is left)."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)],
            cwd=git_dir,
            capture_output=True,
            check=False,
            timeout=120,
        )


def sweep(kind: str, git_dir: Path | None = None) -> list[Path]:
    """Remove scratch folders of `kind` left by runs that were killed; with `git_dir`, also
    git's record of the worktree (`<scratch>/tree`) each held. Only those records go: a
    general `git worktree prune` would also drop the user's own worktrees whose folders
    are missing for a while (an unmounted drive). Returns what was removed."""
    removed: list[Path] = []
    root = Path(tempfile.gettempdir())
    for path in root.glob(f"slipway-{kind}-*-*"):
        pid = path.name[len(f"slipway-{kind}-") :].split("-", 1)[0]
        if not pid.isdigit() or alive(int(pid)) or path.is_symlink() or not path.is_dir():
            continue
        tree = path / "tree"
        if git_dir is not None and tree.exists():
            remove_worktree(git_dir, tree)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
