"""The "before" side of a diff: a previous preview output, or the stack rendered at a git ref.

`slipway preview <stack> --against <dir|ref>` compares the working tree with a baseline. A
directory is read as it is. A git ref is rendered by that ref's own code, so the baseline is
what the old program really produced, not today's code reading yesterday's catalog: the ref is
checked out in a temporary `git worktree` and `python -m slipway preview` runs there. The
worktree is always removed afterwards, whether the preview worked or not; the render dies with
this process, and what a killed run left (scratch folder, git's worktree record) is removed by
the next one (`slipway.children`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from slipway import children
from slipway.errors import BadInput
from slipway.stackfile import read_stack_file

RESOURCES = "resources.json"
PREVIEW_TIMEOUT_SECONDS = 900
"""Upper bound for rendering the baseline; a whole stack previews in well under a minute."""


def load_baseline(
    against: str,
    stack: str,
    project_dir: Path,
    *,
    python: str | None = None,
    timeout_seconds: float = PREVIEW_TIMEOUT_SECONDS,
) -> list[dict]:
    """Resource records of the baseline `against` (an output directory or a git ref).

    A directory holds `resources.json` directly or under `<dir>/<stack>/`. Anything else is
    taken as a git ref of the repository holding `project_dir`. Raises `BadInput` naming
    `against` and the cause when neither works.
    """
    project_dir = Path(project_dir).resolve()
    directory = _as_directory(against, project_dir)
    if directory is not None:
        return read_resources(directory, stack)
    return render_at_ref(
        against, stack, project_dir, python=python, timeout_seconds=timeout_seconds
    )


def read_resources(directory: Path, stack: str) -> list[dict]:
    """Records from `<directory>/resources.json` or `<directory>/<stack>/resources.json`."""
    for candidate in (directory / RESOURCES, directory / stack / RESOURCES):
        if candidate.is_file():
            return _parse(candidate)
    raise BadInput(
        f"no {RESOURCES} in {directory} nor in {directory / stack}; point --against at a "
        f"previous preview output (build/ or build/{stack}/) or at a git ref",
        field="--against",
    )


def render_at_ref(
    ref: str,
    stack: str,
    project_dir: Path,
    *,
    python: str | None = None,
    timeout_seconds: float = PREVIEW_TIMEOUT_SECONDS,
) -> list[dict]:
    """Render `stack` with the code and catalog of git `ref`, in a temporary worktree."""
    if ref.startswith("-"):
        raise BadInput(f"{ref!r} is not a git ref", field="--against")
    toplevel = _git_toplevel(project_dir, ref)
    commit = _resolve_ref(toplevel, ref)
    relative = project_dir.relative_to(toplevel)
    children.sweep("baseline", toplevel)  # what runs killed mid-render left behind
    scratch = children.scratch_dir("baseline")
    worktree = scratch / "tree"
    try:
        _git(toplevel, "worktree", "add", "--detach", str(worktree), commit, ref=ref)
        project = worktree / relative
        # Reading the ref's stack file registers the values marked secret there, so the
        # error tail below is redacted even when the ref's own code does not redact.
        with contextlib.suppress(BadInput):
            read_stack_file(project, stack)
        out = scratch / "out"
        env = dict(os.environ)
        # The ref's own code, ahead of what is installed: its program, its CLI and (when the
        # ref has the package layout) its components package.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(project), str(project / "components"), env.get("PYTHONPATH", "")) if p
        )
        cmd = children.module_command(
            python or sys.executable,
            "slipway",
            ["preview", stack, "--out", str(out), "--no-policy"],
        )
        try:
            proc = children.run_tied(cmd, cwd=project, env=env, timeout=timeout_seconds)
        except subprocess.TimeoutExpired as exc:
            raise BadInput(
                f"the preview of stack {stack!r} at git ref {ref!r} took longer than "
                f"{timeout_seconds:g}s",
                field="--against",
            ) from exc
        if proc.returncode != 0:
            raise BadInput(
                f"the preview of stack {stack!r} at git ref {ref!r} ({commit[:12]}) failed "
                f"with exit code {proc.returncode}: {_tail(proc.stderr or proc.stdout)}",
                field="--against",
            )
        try:
            return read_resources(out, stack)
        except BadInput as exc:
            raise BadInput(
                f"the preview at git ref {ref!r} wrote no {RESOURCES}: {exc}", field="--against"
            ) from exc
    finally:
        _remove_worktree(toplevel, worktree, scratch)


# --- helpers -------------------------------------------------------------------------------------


def _as_directory(against: str, project_dir: Path) -> Path | None:
    for candidate in (Path(against), project_dir / against):
        if candidate.is_dir():
            return candidate.resolve()
    return None


MAX_BASELINE_BYTES = 1 << 30
"""A 400-service fleet's resources.json is about 60 MB; anything past 1 GiB is not one."""


def _parse(path: Path) -> list[dict]:
    try:
        with path.open("rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise BadInput("not a regular file", file=str(path))
            raw = fh.read(MAX_BASELINE_BYTES + 1)
        if len(raw) > MAX_BASELINE_BYTES:
            raise BadInput(
                f"larger than {MAX_BASELINE_BYTES} bytes; not a preview's resources.json",
                file=str(path),
            )
        data = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise BadInput(f"cannot read the baseline: {reason}", file=str(path)) from exc
    except RecursionError as exc:
        raise BadInput(
            "the baseline nests too deeply to be a preview's output", file=str(path)
        ) from exc
    except ValueError as exc:  # an integer past Python's digit limit
        raise BadInput(f"cannot read the baseline: {exc}", file=str(path)) from exc
    if isinstance(data, dict) and isinstance(data.get("resources"), list):
        data = data["resources"]
    if not isinstance(data, list) or not all(isinstance(r, dict) and "urn" in r for r in data):
        raise BadInput("expected a list of resource records, each with a urn", file=str(path))
    return data


def _git(cwd: Path, *args: str, ref: str) -> str:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
        )
    except FileNotFoundError as exc:
        raise BadInput(
            f"--against {ref!r} is not a directory, and git is not installed to read it as a ref",
            field="--against",
        ) from exc
    if proc.returncode != 0:
        raise BadInput(
            f"--against {ref!r}: git {args[0]} failed: {_tail(proc.stderr)}", field="--against"
        )
    return proc.stdout.strip()


def _git_toplevel(project_dir: Path, ref: str) -> Path:
    try:
        return Path(_git(project_dir, "rev-parse", "--show-toplevel", ref=ref)).resolve()
    except BadInput as exc:
        raise BadInput(
            f"--against {ref!r} is not a directory, and {project_dir} is not inside a git "
            f"repository to read it as a ref",
            field="--against",
        ) from exc


def _resolve_ref(toplevel: Path, ref: str) -> str:
    try:
        return _git(toplevel, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", ref=ref)
    except BadInput as exc:
        raise BadInput(
            f"--against {ref!r} is neither a directory nor a commit of the repository at "
            f"{toplevel}",
            field="--against",
        ) from exc


def _remove_worktree(toplevel: Path, worktree: Path, scratch: Path) -> None:
    """Remove the worktree, the scratch folder and git's record of both; never raises."""
    children.remove_worktree(toplevel, worktree)
    shutil.rmtree(scratch, ignore_errors=True)
    # Prune only when the remove left git's record behind: a prune also drops the user's
    # own worktrees whose folders are missing for a while.
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listed = subprocess.run(
            ["git", "worktree", "list", "--porcelain"],
            cwd=toplevel,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        ).stdout
        if f"worktree {worktree}" in listed:
            _git_quiet(toplevel, "worktree", "prune")


def _git_quiet(cwd: Path, *args: str) -> None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
        )


def _tail(text: str, lines: int = 8) -> str:
    kept = [line for line in (text or "").strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) if kept else "(no output)"
