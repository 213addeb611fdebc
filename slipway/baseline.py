"""The "before" side of a diff: a previous preview output, or the stack rendered at a git ref.

`slipway preview <stack> --against <dir|ref>` compares the working tree with a baseline. A
directory is read as it is. A git ref is rendered by that ref's own code, so the baseline is
what the old program really produced, not today's code reading yesterday's catalog: the ref is
checked out in a temporary `git worktree` and `python -m slipway preview` runs there. The
worktree is always removed afterwards, whether the preview worked or not; the render dies with
this process, and what a killed run left (scratch folder, git's worktree record) is removed by
the next one (`slipway.children`).

A ref's render is cached (`slipway.cache`) under the content it reads: the blob ids of the
ref's project tree (all but the folders no render reads, `NOT_READ`), the stack, and the
interpreter with its installed packages. The same content at another ref or commit hits the
same entry; a changed catalog file, stack file, line of code or pinned package misses it.
`Pending` loads a baseline on a thread, so the preview renders its own stack meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from slipway import cache as caching
from slipway import children, say
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
    cache: caching.Cache | None = None,
    started: Callable[[subprocess.Popen], None] | None = None,
) -> list[dict]:
    """Resource records of the baseline `against` (an output directory or a git ref).

    A directory holds `resources.json` directly or under `<dir>/<stack>/`. Anything else is
    taken as a git ref of the repository holding `project_dir`, read from `cache` when it
    holds that content's render. Raises `BadInput` naming `against` and the cause when
    neither works. `started` gets the ref's render process (see `Pending.cancel`).
    """
    project_dir = Path(project_dir).resolve()
    directory = _as_directory(against, project_dir)
    if directory is not None:
        return read_resources(directory, stack)
    return render_at_ref(
        against,
        stack,
        project_dir,
        python=python,
        timeout_seconds=timeout_seconds,
        cache=cache,
        started=started,
    )


class Cancelled(Exception):
    """The baseline was no longer wanted (the head's render failed or was interrupted)."""


class Pending:
    """A baseline loaded on its own thread while the caller renders the head.

    `with Pending(...) as pending:` starts it; `result()` waits and returns the records (or
    raises what loading raised); leaving the block early stops the ref's render, whose
    worktree is removed as always."""

    def __init__(
        self,
        against: str,
        stack: str,
        project_dir: Path,
        *,
        python: str | None = None,
        timeout_seconds: float = PREVIEW_TIMEOUT_SECONDS,
        cache: caching.Cache | None = None,
    ) -> None:
        self.against = against
        self._args = (against, stack, project_dir)
        self._kwargs = {"python": python, "timeout_seconds": timeout_seconds, "cache": cache}
        self._records: list[dict] | None = None
        self._error: BaseException | None = None
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._cancelled = False
        self._thread = threading.Thread(target=self._load, name="baseline", daemon=True)

    def start(self) -> Pending:
        self._thread.start()
        return self

    def _started(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._proc = proc
            if self._cancelled:
                children.stop(proc, grace_seconds=1)

    def _load(self) -> None:
        try:
            if self._cancelled:
                raise Cancelled
            self._records = load_baseline(*self._args, **self._kwargs, started=self._started)
        except BaseException as exc:  # handed to the caller by result()
            self._error = Cancelled() if self._cancelled else exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self) -> list[dict]:
        """The baseline's records, once loaded; what loading raised otherwise."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._records is not None
        return self._records

    def cancel(self) -> None:
        """Stop the ref's render if it runs, and wait until its worktree is gone."""
        with self._lock:
            self._cancelled = True
            if self._proc is not None:
                children.stop(self._proc, grace_seconds=1)
        if self._thread.ident is not None:
            self._thread.join()

    def __enter__(self) -> Pending:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if not self.done():
            self.cancel()


def read_resources(directory: Path, stack: str) -> list[dict]:
    """Records from `<directory>/resources.json` or `<directory>/<stack>/resources.json`."""
    return _parse(_resources_path(directory, stack))


def _resources_path(directory: Path, stack: str) -> Path:
    for candidate in (directory / RESOURCES, directory / stack / RESOURCES):
        if candidate.is_file():
            return candidate
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
    cache: caching.Cache | None = None,
    started: Callable[[subprocess.Popen], None] | None = None,
) -> list[dict]:
    """Render `stack` with the code and catalog of git `ref`, in a temporary worktree; with
    `cache`, read a render of the same content from there, or store this one there."""
    if ref.startswith("-"):
        raise BadInput(f"{ref!r} is not a git ref", field="--against")
    toplevel = _git_toplevel(project_dir, ref)
    commit = _resolve_ref(toplevel, ref)
    relative = project_dir.relative_to(toplevel)
    key = None
    if cache is not None:
        key = baseline_key(toplevel, commit, relative, stack, python=python, ref=ref)
        files = cache.get("baseline", key)
        if files is not None:
            entry = cache.entry("baseline", key)
            try:
                return _parse_bytes(files[RESOURCES], entry / RESOURCES)
            except BadInput as exc:  # whole and checked, yet not records: never trusted
                say.note(f"cache entry {entry} is damaged ({exc}); rendering it again")
                cache.remove("baseline", key)
    records, raw = _render_commit(
        ref, commit, stack, toplevel, relative, python, timeout_seconds, cache, started
    )
    if cache is not None and key is not None:
        cache.put("baseline", key, {RESOURCES: raw})
    return records


def baseline_key(
    toplevel: Path,
    commit: str,
    relative: Path,
    stack: str,
    *,
    python: str | None = None,
    ref: str = "",
) -> str:
    """The cache key of `stack` rendered at `commit`: the blob ids of everything the render
    may read in the project's tree at that commit, the stack, and the interpreter with its
    packages (`cache.environment`). No ref name, commit id or time: same content, same key."""
    spec = [] if relative == Path(".") else ["--", relative.as_posix()]
    listing = _git(toplevel, "ls-tree", "-r", "-z", "--full-tree", commit, *spec, ref=ref)
    prefix = "" if relative == Path(".") else relative.as_posix() + "/"
    kept = []
    for line in listing.split("\0"):
        meta, _, path = line.partition("\t")
        if not path.startswith(prefix):
            continue
        path = path[len(prefix) :]
        top = path.split("/", 1)[0]
        if top in caching.NOT_READ or ("/" not in path and path.endswith(".md")):
            continue
        kept.append(f"{meta}\t{path}")
    # A package the ref does not hold is imported from outside its tree (an installed or
    # editable copy): its files are part of what the render reads.
    held = {p.split("\t", 1)[1].split("/", 2)[0] for p in kept}
    held |= (
        {"slipway_components"}
        if any("\tcomponents/slipway_components/" in p for p in kept)
        else set()
    )
    outside = [f for name in caching.CODE if name not in held for f in caching.package_files(name)]
    return caching.digest(
        [
            "slipway baseline: preview --no-policy",
            caching.FORMAT,
            stack,
            caching.environment(python),
            "\0".join(sorted(kept)).encode(),
            *(part for label, data in outside for part in (label, data)),
        ]
    )


def _render_commit(
    ref: str,
    commit: str,
    stack: str,
    toplevel: Path,
    relative: Path,
    python: str | None,
    timeout_seconds: float,
    cache: caching.Cache | None,
    started: Callable[[subprocess.Popen], None] | None,
) -> tuple[list[dict], bytes]:
    """Records and `resources.json` bytes of `stack` rendered by `commit`'s own code."""
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
        if cache is not None:  # the ref's own platform render (when it has one) shares it
            env[caching.ENV] = str(cache.root)
        env["SLIPWAY_BASELINE_RENDER"] = "1"  # only resources.json is read: no manifests
        cmd = children.module_command(
            python or sys.executable,
            "slipway",
            ["preview", stack, "--out", str(out), "--no-policy"],
        )
        try:
            proc = children.run_tied(
                cmd, cwd=project, env=env, timeout=timeout_seconds, started=started
            )
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
            path = _resources_path(out, stack)
            raw = _read_raw(path)
            return _parse_bytes(raw, path), raw
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
    return _parse_bytes(_read_raw(path), path)


def _read_raw(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise BadInput("not a regular file", file=str(path))
            raw = fh.read(MAX_BASELINE_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"cannot read the baseline: {exc.strerror or exc}", file=str(path)) from exc
    if len(raw) > MAX_BASELINE_BYTES:
        raise BadInput(
            f"larger than {MAX_BASELINE_BYTES} bytes; not a preview's resources.json",
            file=str(path),
        )
    return raw


def _parse_bytes(raw: bytes, path: Path) -> list[dict]:
    """Resource records from the bytes of a `resources.json` (`path` names it in errors)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"cannot read the baseline: {exc}", file=str(path)) from exc
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
