"""`--out` only ever replaces a folder slipway made; every other path is refused untouched.

Each refusal is exit 2 with `--out` named, and the path (and everything in the project) is
byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from slipway import preview as pv
from slipway.errors import BadInput
from slipway.outdir import MARKER, check_out, is_slipway_output, marker_bytes


def snapshot(root: Path) -> dict[str, str]:
    """Every file and link under `root` with a hash of its content (links: their target)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    return project


def refused(cli, project: Path, out: str) -> str:
    before = snapshot(project.parent)
    result = cli("preview", "dev", "--project-dir", str(project), "--out", out, "--no-policy")
    assert result.exit_code == 2, result.output
    assert "--out" in result.output
    assert snapshot(project.parent) == before, f"--out {out!r} changed files"
    return result.output


@pytest.mark.parametrize(
    "out",
    [".", "", "   ", "services", "services/orders.yaml", "policies", "..", "/"],
    ids=["dot", "empty", "blank", "catalog", "catalog-file", "pack", "parent", "root"],
)
def test_paths_of_the_project_and_the_user_are_refused(cli, in_project: Path, out: str) -> None:
    refused(cli, in_project, out)


def test_an_existing_folder_of_the_user_is_refused(cli, in_project: Path) -> None:
    mine = in_project / "reports"
    mine.mkdir()
    (mine / "q3.txt").write_text("mine")
    text = refused(cli, in_project, "reports")
    assert "not written by slipway" in text


def test_an_empty_existing_folder_is_refused_too(cli, in_project: Path) -> None:
    (in_project / "empty").mkdir()
    refused(cli, in_project, "empty")


def test_a_symlink_is_refused_even_to_slipway_output(cli, in_project: Path) -> None:
    real = in_project / "build" / "dev"
    pv.write_atomically(real, {"resources.json": b"[]\n"}, "dev")
    (in_project / "link").symlink_to(real, target_is_directory=True)
    assert "symbolic link" in refused(cli, in_project, "link")


def test_a_path_under_a_file_is_refused(cli, in_project: Path) -> None:
    text = refused(cli, in_project, "services/orders.yaml/out")
    assert "Not a directory" in text or "is a file" in text


def test_a_marker_does_not_make_the_project_replaceable(cli, in_project: Path) -> None:
    (in_project / MARKER).write_bytes(marker_bytes("dev"))
    refused(cli, in_project, ".")


def test_a_new_folder_is_made_marked_and_reused(cli, in_project: Path) -> None:
    for _ in range(2):
        result = cli("preview", "dev", "--out", "out/dev", "--no-policy")
        assert result.exit_code == 0, result.output
    out = in_project / "out" / "dev"
    assert (out / MARKER).read_bytes() == marker_bytes("dev")
    assert is_slipway_output(out)


def test_output_folder_modes_follow_the_umask(cli, in_project: Path) -> None:
    old = os.umask(0o027)
    try:
        result = cli("preview", "dev", "--out", "fresh", "--no-policy")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert (in_project / "fresh").stat().st_mode & 0o777 == 0o750
    assert (in_project / "fresh" / "manifests").stat().st_mode & 0o777 == 0o750


def test_a_folder_that_only_looks_like_output_is_refused(tmp_path: Path) -> None:
    """Contents prove nothing (a user's folder may hold a resources.json); only the marker
    makes a folder slipway's, and the message says how to get past an old unmarked one."""
    lookalike = tmp_path / "build" / "dev"
    (lookalike / "manifests").mkdir(parents=True)
    (lookalike / "resources.json").write_text("[]")
    with pytest.raises(BadInput, match="older slipway"):
        check_out(lookalike, protected=[tmp_path / "project"])


def test_folders_holding_the_catalog_are_refused(tmp_path: Path) -> None:
    catalog = tmp_path / "project" / "teams" / "services"
    catalog.mkdir(parents=True)
    for out in (catalog, catalog.parent, tmp_path / "project", tmp_path):
        with pytest.raises(BadInput, match="--out"):
            check_out(out, protected=[tmp_path / "project", catalog])
    assert check_out(catalog / "new", protected=[catalog]) == catalog / "new"


def test_a_path_in_proc_is_bad_input_not_a_traceback(cli, in_project: Path) -> None:
    result = cli("preview", "dev", "--out", "/proc/slipway-out", "--no-policy")
    assert result.exit_code == 2, result.output
    assert "cannot write the output" in result.output or "--out" in result.output
    assert "Traceback" not in result.output


def test_a_failed_start_removes_the_folders_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staging fails before it has a folder of its own (disk full at mkdtemp): the parents
    it made are gone again, nothing is written."""
    import errno
    import tempfile

    def full(*args: object, **kwargs: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    with pytest.raises(BadInput, match="No space left"):
        pv.Staging(tmp_path / "a" / "b" / "dev", "dev")
    assert list(tmp_path.iterdir()) == []


def test_a_refusal_after_the_run_removes_the_folders_it_made(tmp_path: Path) -> None:
    """Missing parents are made for the staged output and removed again on failure."""
    out = tmp_path / "a" / "b" / "dev"
    staging = pv.Staging(out, "dev")
    assert (tmp_path / "a" / "b").is_dir()
    staging.discard()
    assert list(tmp_path.iterdir()) == []


def test_two_runs_creating_the_same_new_folder_both_succeed(tmp_path: Path) -> None:
    """Two previews that both saw `--out` missing: the second swaps its output in."""
    out = tmp_path / "build" / "dev"
    first, second = pv.Staging(out, "dev"), pv.Staging(out, "dev")
    first.write({"resources.json": b"[1]\n"})
    second.write({"resources.json": b"[2]\n"})
    errors: list[BaseException] = []

    def commit(st: pv.Staging) -> None:
        try:
            st.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=commit, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (out / "resources.json").read_bytes() in (b"[1]\n", b"[2]\n")
    assert sorted(p.name for p in out.parent.iterdir()) == ["dev"]


def test_a_folder_that_appears_during_the_run_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "build" / "dev"
    staging = pv.Staging(out, "dev")
    staging.write({"resources.json": b"[]\n"})
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    with pytest.raises(BadInput, match="not written by slipway"):
        staging.commit()
    assert (out / "precious.txt").read_text() == "mine"
    assert sorted(p.name for p in out.parent.iterdir()) == ["dev"]


def test_leftovers_that_are_not_slipway_output_are_never_removed(tmp_path: Path) -> None:
    """A user's folder that happens to look like a killed run's temp dir stays."""
    out = tmp_path / "build" / "dev"
    lookalike = tmp_path / "build" / ".dev.tmp-999999999-x"
    lookalike.mkdir(parents=True)
    (lookalike / "keep.txt").write_text("mine")
    pv.write_atomically(out, {"resources.json": b"[]\n"}, "dev")
    assert (lookalike / "keep.txt").read_text() == "mine"


def test_a_run_killed_while_writing_its_marker_is_cleaned_up(tmp_path: Path) -> None:
    """Killed between creating the marker file and filling it: the folder holds only an
    empty marker; it is a staging folder of ours and the next run removes it."""
    out = tmp_path / "build" / "dev"
    leftover = tmp_path / "build" / f".dev.tmp-{_dead_pid()}-x"
    leftover.mkdir(parents=True)
    (leftover / MARKER).write_bytes(b"")
    pv.write_atomically(out, {"resources.json": b"[]\n"}, "dev")
    assert not leftover.exists()


def _dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
