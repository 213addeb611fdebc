"""Rollback for `slipway deploy`: what was last deployed, and putting it back.

**The record of what is deployed.** After a target passes its health gate, `deploy` records
the commit it deployed there as a **stack tag** (`slipway:deployed:<target>` = the full
commit id), through the Automation API (`Stack.set_tag`). Why a stack tag: it lives in the
same backend as the stack's state, so every runner that can deploy the stack sees it (a file
under `.slipway/` stays on one machine, a CI runner's is gone after the job; a git note needs
push rights and a fetch of `refs/notes`); it is per target, so a wave that failed goes back
to what that region last ran while the regions that passed keep the new version; and it is
written only after the gate passed, so a failed or interrupted deploy never becomes "the last
deployed state". A deploy of uncommitted catalog or stack-file changes is not recorded
(there is no commit to go back to), and the report says so.

**The rollback** re-applies, with today's program, the catalog folder and
`Pulumi.<stack>.yaml` of the recorded commit, laid over a temporary `git worktree` of HEAD,
then `up` there (for a wave: only that wave's targets' resources). `--rollback-to <ref>`
overrides the record; with neither, the rollback refuses and says what to give.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from slipway import children

TAG_PREFIX = "slipway:deployed:"
TAG_MAX = 40
"""Pulumi stack tag names are at most 40 characters."""


def tag_name(target: str) -> str:
    """The stack tag holding `target`'s deployed commit; a long target name is shortened
    with a hash of it, so two targets never share a tag."""
    name = TAG_PREFIX + target
    if len(name) <= TAG_MAX:
        return name
    digest = hashlib.sha256(target.encode()).hexdigest()[:8]
    keep = TAG_MAX - len(TAG_PREFIX) - len(digest) - 1
    return f"{TAG_PREFIX}{target[:keep]}-{digest}"


class DeployRecord(Protocol):
    """Which commit each target of a stack last deployed successfully (gate passed)."""

    def get(self, target: str) -> str | None: ...

    def set(self, targets: list[str], commit: str) -> None: ...


class StackTagRecord:
    """`DeployRecord` in the stack's tags, through the Automation API."""

    def __init__(self, project_dir: Path, stack: str, select: Any = None) -> None:
        self.project_dir = project_dir
        self.stack_name = stack
        self._select = select
        self._stack: Any = None

    def _stack_obj(self) -> Any:
        if self._stack is None:
            select = self._select
            if select is None:
                from pulumi import automation as auto

                select = auto.select_stack
            self._stack = select(stack_name=self.stack_name, work_dir=str(self.project_dir))
        return self._stack

    def get(self, target: str) -> str | None:
        from pulumi import automation as auto

        try:
            value = self._stack_obj().get_tag(tag_name(target))
        except auto.CommandError:
            return None  # no such tag: never recorded
        return value.strip() or None

    def set(self, targets: list[str], commit: str) -> None:
        stack = self._stack_obj()
        for target in targets:
            stack.set_tag(tag_name(target), commit)


@dataclass
class MemoryRecord:
    """`DeployRecord` in a dict (tests, and `--no-record` runs)."""

    commits: dict[str, str]

    def get(self, target: str) -> str | None:
        return self.commits.get(target)

    def set(self, targets: list[str], commit: str) -> None:
        for t in targets:
            self.commits[t] = commit


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def deployable_commit(project_dir: Path, stack: str, catalog_dir: str) -> tuple[str | None, str]:
    """(HEAD's commit id, "") when the catalog and stack file are as committed, else
    (None, why not): only a committed state can be recorded and rolled back to."""
    try:
        head = git(project_dir, "rev-parse", "--verify", "HEAD^{commit}")
        dirty = git(
            project_dir,
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--",
            catalog_dir,
            f"Pulumi.{stack}.yaml",
        )
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return None, f"not a git checkout ({exc})"
    if dirty:
        return None, f"uncommitted changes in {catalog_dir}/ or Pulumi.{stack}.yaml"
    return head, ""


@contextlib.contextmanager
def last_good_worktree(
    project_dir: Path, ref: str, stack: str, catalog_dir: str
) -> Iterator[tuple[Path, str]]:
    """A temporary worktree of HEAD whose catalog and `Pulumi.<stack>.yaml` come from `ref`.

    Yields (project directory inside the worktree, full commit id of `ref`). The worktree is
    removed afterwards, whatever happened.
    """
    project_dir = Path(project_dir).resolve()
    top = Path(git(project_dir, "rev-parse", "--show-toplevel"))
    rel = project_dir.relative_to(top)
    commit = git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    children.sweep("rollback", top)  # what killed runs left behind
    tmp = children.scratch_dir("rollback")
    tree = tmp / "tree"
    git(top, "worktree", "add", "--detach", str(tree), "HEAD")
    try:
        paths = [str(rel / catalog_dir), str(rel / f"Pulumi.{stack}.yaml")]
        work_dir = tree / rel
        for p in paths:
            # The catalog and the stack file exactly as at `ref`: files added since are gone.
            # Only ever inside the temporary worktree, whatever the stack file says.
            target = _inside(tree, p)
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            git(tree, "checkout", commit, "--", p)
        _link_venv(project_dir, work_dir)
        yield work_dir, commit
    finally:
        children.remove_worktree(top, tree)
        shutil.rmtree(tmp, ignore_errors=True)


def _inside(root: Path, relative: str) -> Path:
    """`root / relative`, refusing any path that would land outside `root` (an absolute
    catalog, `..`, a symlink out): the rollback deletes what it finds there."""
    target = root / relative
    if Path(relative).is_absolute() or not target.resolve().is_relative_to(root.resolve()):
        raise RuntimeError(f"{relative!r} is outside the temporary worktree; nothing was removed")
    return target


def _link_venv(project_dir: Path, work_dir: Path) -> None:
    """The program's virtualenv (Pulumi.yaml `virtualenv: .venv`) is not in git: reuse it."""
    venv = project_dir / ".venv"
    if venv.is_dir() and not (work_dir / ".venv").exists():
        (work_dir / ".venv").symlink_to(venv, target_is_directory=True)
