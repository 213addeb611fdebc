"""The output writer's rules, in-process: which `--out` folders slipway may replace (only its
own, marked ones; never a link, a file, the project or a folder holding it, `--out .` in the
project), each refusal's whole message, the marker's bytes, and the atomic text write (mode
from the umask, no temp file left behind, OS errors said plainly)."""

from __future__ import annotations

import ctypes
import json
import locale
import os
from pathlib import Path

import pytest

from slipway import __version__, outdir
from slipway.errors import BadInput
from slipway.outdir import (
    MARKER,
    check_out,
    check_parents,
    current_umask,
    is_slipway_output,
    marker_bytes,
    write_error,
    write_text_atomically,
)


def marked(folder: Path, content: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_bytes(marker_bytes("dev") if content is None else content)
    return folder


def refusal(raw: str | os.PathLike[str], protected: list[Path] | None = None) -> str:
    with pytest.raises(BadInput) as info:
        check_out(raw, protected=protected or [])
    assert info.value.field == "--out"
    return str(info.value)


# --- the marker ----------------------------------------------------------------------------------


def test_the_marker_names_tool_output_stack_and_version_as_sorted_json() -> None:
    expected = (
        f'{{"output": "preview", "stack": "prod", "tool": "slipway", "version": "{__version__}"}}\n'
    )
    assert marker_bytes("prod") == expected.encode()
    assert MARKER == ".slipway-output"


def test_a_marked_folder_is_slipway_output(tmp_path: Path) -> None:
    assert is_slipway_output(marked(tmp_path / "out"))


def test_a_marker_of_another_tool_does_not_make_slipway_output(tmp_path: Path) -> None:
    doc = json.dumps({"tool": "other", "output": "preview"}).encode()
    assert not is_slipway_output(marked(tmp_path / "out", doc))


def test_a_marker_without_a_tool_does_not_make_slipway_output(tmp_path: Path) -> None:
    assert not is_slipway_output(marked(tmp_path / "out", b"{}"))


def test_a_marker_that_is_not_a_json_object_does_not_make_slipway_output(tmp_path: Path) -> None:
    assert not is_slipway_output(marked(tmp_path / "a", b'["tool", "slipway"]'))
    assert not is_slipway_output(marked(tmp_path / "b", b"not json"))
    assert not is_slipway_output(marked(tmp_path / "c", b"\xff\xfe"))


def test_a_marker_of_exactly_4096_bytes_is_read_and_one_byte_more_is_not(tmp_path: Path) -> None:
    body = b'{"tool": "slipway", "pad": "'
    tail = b'"}'
    exact = body + b"x" * (4096 - len(body) - len(tail)) + tail
    assert len(exact) == 4096
    assert is_slipway_output(marked(tmp_path / "exact", exact))
    over = body + b"x" * (4097 - len(body) - len(tail)) + tail
    assert not is_slipway_output(marked(tmp_path / "over", over))


def test_a_marker_that_is_a_folder_does_not_make_slipway_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / MARKER).mkdir(parents=True)
    assert not is_slipway_output(out)


def test_a_marker_that_is_a_symlink_does_not_make_slipway_output(tmp_path: Path) -> None:
    real = tmp_path / "real-marker"
    real.write_bytes(marker_bytes("dev"))
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).symlink_to(real)
    assert not is_slipway_output(out)


def test_a_symlink_to_marked_output_is_not_slipway_output(tmp_path: Path) -> None:
    real = marked(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert not is_slipway_output(link)


def test_a_file_or_a_missing_path_is_not_slipway_output(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(marker_bytes("dev"))
    assert not is_slipway_output(tmp_path / "file")
    assert not is_slipway_output(tmp_path / "missing")


def test_an_unreadable_marker_is_not_slipway_output(tmp_path: Path, monkeypatch) -> None:
    out = marked(tmp_path / "out")

    def fail(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", fail)
    assert not is_slipway_output(out)


# --- check_out: what it accepts ------------------------------------------------------------------


def test_a_new_path_is_accepted_as_its_absolute_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_out("build/dev", protected=[tmp_path / "project"]) == tmp_path / "build" / "dev"


def test_a_marked_folder_is_accepted(tmp_path: Path) -> None:
    out = marked(tmp_path / "build" / "dev")
    assert check_out(out, protected=[tmp_path / "project"]) == out


def test_out_dot_inside_a_marked_folder_is_accepted(tmp_path: Path, monkeypatch) -> None:
    out = marked(tmp_path / "build" / "dev")
    monkeypatch.chdir(out)
    assert check_out(".", protected=[tmp_path / "project"]) == out


def test_a_folder_inside_the_project_is_accepted(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    assert check_out(project / "build" / "dev", protected=[project]) == project / "build" / "dev"


def test_a_sibling_whose_name_starts_like_the_project_is_accepted(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    assert check_out(tmp_path / "project-out", protected=[project]) == tmp_path / "project-out"


# --- check_out: each refusal, whole message --------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_out_is_refused_naming_an_unset_variable(raw: str) -> None:
    assert refusal(raw) == (
        "--out: an empty path is not an output folder (an unset variable?); give a new "
        "folder or one a previous preview wrote, e.g. build/dev"
    )


def test_a_symlink_out_is_refused(tmp_path: Path, monkeypatch) -> None:
    real = marked(tmp_path / "real")
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    assert refusal("link") == (
        "--out: link is a symbolic link; slipway replaces the output folder as a whole and "
        "does not follow links there: give the real folder or a new path"
    )


def test_a_dangling_symlink_out_is_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    assert "link is a symbolic link" in refusal("link")


def test_out_dot_in_the_project_is_refused(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "project"
    marked(project)  # a marker does not make the project replaceable
    monkeypatch.chdir(project)
    assert refusal(".", [project]) == (
        f"--out: . is {project}; the output folder is replaced as a whole, so it must be a "
        "folder of its own, e.g. build/<stack>"
    )


def test_a_folder_holding_the_project_is_refused(tmp_path: Path, monkeypatch) -> None:
    project = tmp_path / "a" / "project"
    project.mkdir(parents=True)
    monkeypatch.chdir(project)
    assert refusal("../..", [project]) == (
        f"--out: ../.. is a folder holding {project}; the output folder is replaced as a "
        "whole, so it must be a folder of its own, e.g. build/<stack>"
    )


def test_the_protected_folder_is_compared_resolved(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "via").symlink_to(project, target_is_directory=True)
    # The protected entry is given through a link; the output is the real folder.
    text = refusal(project, [tmp_path / "via"])
    assert text.startswith(f"--out: {project} is {project}; ")


def test_a_marked_project_reached_through_a_linked_parent_is_refused(tmp_path: Path) -> None:
    project = marked(tmp_path / "real" / "project")
    (tmp_path / "via").symlink_to(tmp_path / "real", target_is_directory=True)
    given = tmp_path / "via" / "project"
    assert refusal(given, [project]).startswith(f"--out: {given} is {project}; ")


def test_every_protected_folder_is_checked_not_only_the_first(tmp_path: Path) -> None:
    project, catalog = tmp_path / "project", tmp_path / "catalog"
    project.mkdir()
    catalog.mkdir()
    assert f"is {catalog};" in refusal(catalog, [project, catalog])


def test_an_existing_file_out_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("mine")
    assert refusal(target) == (
        f"--out: {target} exists and is not a folder; slipway will not replace it"
    )
    assert target.read_text() == "mine"


def test_an_existing_folder_without_the_marker_is_refused(tmp_path: Path) -> None:
    mine = tmp_path / "reports"
    mine.mkdir()
    assert refusal(mine) == (
        f"--out: {mine} exists and was not written by slipway (no .slipway-output in it); "
        "slipway only replaces its own output: give a new path, or remove that folder "
        "yourself (also when an older slipway, from before the marker, wrote it)"
    )


def test_a_path_under_a_file_is_refused_with_the_os_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    given = str(tmp_path / "file" / "out")
    assert refusal(given) == f"--out: {given}: cannot be used: Not a directory"


def test_check_out_checks_the_parents_of_a_new_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(outdir.os, "access", lambda path, mode: False)
    assert refusal(tmp_path / "new" / "out") == (
        f"--out: {tmp_path / 'new' / 'out'}: {tmp_path} is not writable"
    )


# --- check_parents ----------------------------------------------------------------------------


def test_the_nearest_existing_parent_must_be_writable_and_searchable(
    tmp_path: Path, monkeypatch
) -> None:
    asked: list[tuple[Path, int]] = []

    def access(path: Path, mode: int) -> bool:
        asked.append((Path(path), mode))
        return False

    monkeypatch.setattr(outdir.os, "access", access)
    with pytest.raises(BadInput) as info:
        check_parents(tmp_path / "a" / "b" / "out", "given/out")
    assert str(info.value) == f"--out: given/out: {tmp_path} is not writable"
    assert info.value.field == "--out"
    assert asked == [(tmp_path, os.W_OK | os.X_OK)]


def test_a_writable_nearest_parent_passes(tmp_path: Path) -> None:
    assert check_parents(tmp_path / "a" / "b" / "out", "out") is None


def test_a_nearest_parent_that_is_a_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "file").write_text("x")
    real_stat = os.stat

    def stat(path, *args, **kwargs):  # the file is seen, the missing child beneath is not
        if Path(path) == tmp_path / "file" / "gone":
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(outdir.os, "stat", stat)
    with pytest.raises(BadInput) as info:
        check_parents(tmp_path / "file" / "gone" / "out", "x/out")
    assert str(info.value) == f"--out: x/out: {tmp_path / 'file'} is a file, not a folder"
    assert info.value.field == "--out"


def test_an_os_error_on_a_parent_is_refused_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInput) as info:
        check_parents(tmp_path / "file" / "sub" / "out", "x/out")
    assert str(info.value) == f"--out: x/out: {tmp_path / 'file' / 'sub'}: Not a directory"
    assert info.value.field == "--out"


# --- the umask ----------------------------------------------------------------------------------


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_current_umask_reads_the_process_umask(umask_027) -> None:
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027  # and leaves it as it was


def test_current_umask_reads_proc_without_touching_the_umask(umask_027, monkeypatch) -> None:
    """Setting the umask to read it is a race with other threads: /proc is read instead."""

    def umask(mask: int) -> int:
        raise AssertionError(f"os.umask({mask:#o}) called")

    monkeypatch.setattr(outdir.os, "umask", umask)
    assert current_umask() == 0o027


def set_process_name(name: bytes) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(15, name, 0, 0, 0) != 0:  # PR_SET_NAME
        pytest.skip("prctl(PR_SET_NAME) refused")


def test_current_umask_reads_proc_even_with_a_non_ascii_process_name(
    umask_027, monkeypatch
) -> None:
    """/proc/self/status starts with the process name, which may be any bytes: the umask is
    still read there, not by setting it."""
    comm = Path("/proc/self/comm")
    if not comm.exists():
        pytest.skip("no /proc/self/comm")
    old = comm.read_bytes().rstrip(b"\n")

    def umask(mask: int) -> int:
        raise AssertionError(f"os.umask({mask:#o}) called")

    set_process_name("slipway-\u00e9t\u00e9".encode())
    try:
        monkeypatch.setattr(outdir.os, "umask", umask)
        assert current_umask() == 0o027
    finally:
        set_process_name(old)


def test_current_umask_without_proc_reads_and_restores_it(umask_027, monkeypatch) -> None:
    def no_proc(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "/proc/self/status")

    monkeypatch.setattr(outdir, "open", no_proc, raising=False)
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027


def test_current_umask_with_an_unreadable_status_line_falls_back(umask_027, monkeypatch) -> None:
    import io

    monkeypatch.setattr(outdir, "open", lambda *a, **k: io.BytesIO(b"Umask:\tzz\n"), raising=False)
    assert current_umask() == 0o027


# --- write_error ------------------------------------------------------------------------------


def test_a_write_error_names_the_file_and_the_reason() -> None:
    err = write_error(PermissionError(13, "Permission denied", "/out/x.yaml"), Path("/out"))
    assert str(err) == (
        "--out: cannot write the output: /out/x.yaml: Permission denied; nothing was changed there"
    )
    assert err.field == "--out"


def test_a_write_error_without_a_file_names_where_it_was_writing() -> None:
    err = write_error(OSError(28, "No space left on device"), Path("/out/resources.json"))
    assert str(err) == (
        "--out: cannot write the output: /out/resources.json: No space left on device; "
        "nothing was changed there"
    )


def test_a_write_error_without_strerror_says_the_error_text_or_its_type() -> None:
    said = write_error(OSError("disk gone"), Path("/out"))
    assert str(said) == "--out: cannot write the output: /out: disk gone; nothing was changed there"
    bare = write_error(OSError(), Path("/out"))
    assert str(bare) == "--out: cannot write the output: /out: OSError; nothing was changed there"


# --- write_text_atomically -------------------------------------------------------------------


def test_atomic_write_makes_missing_folders_and_writes_utf8(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "report.md"
    write_text_atomically(target, "héllo\nworld\n", prefix=".report-")
    assert target.read_bytes() == "héllo\nworld\n".encode()
    assert os.listdir(target.parent) == ["report.md"]


def test_atomic_write_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("old")
    write_text_atomically(target, "new", prefix=".report-")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["report.md"]


@pytest.mark.parametrize(("mask", "mode"), [(0o027, 0o640), (0o022, 0o644), (0, 0o666)])
def test_atomic_write_mode_follows_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    old = os.umask(mask)
    try:
        target = tmp_path / "report.md"
        write_text_atomically(target, "x", prefix=".report-")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == mode


def test_atomic_write_is_utf8_whatever_the_locale(tmp_path: Path) -> None:
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")  # an ASCII locale
    try:
        write_text_atomically(tmp_path / "r.md", "h\u00e9llo\r\n", prefix=".r-")
    finally:
        locale.setlocale(locale.LC_CTYPE, old)
    assert (tmp_path / "r.md").read_bytes() == b"h\xc3\xa9llo\r\n"


def test_an_os_error_without_a_file_name_names_the_target(tmp_path: Path, monkeypatch) -> None:
    def chmod(path, mode):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(outdir.os, "chmod", chmod)
    target = tmp_path / "report.md"
    with pytest.raises(BadInput) as info:
        write_text_atomically(target, "x", prefix=".report-")
    assert str(info.value) == (
        f"--out: cannot write the output: {target}: Operation not permitted; nothing was "
        "changed there"
    )
    assert os.listdir(tmp_path) == []


def test_a_temp_file_already_gone_is_no_second_error(tmp_path: Path, monkeypatch) -> None:
    def replace(src, dst):
        os.unlink(src)
        raise FileNotFoundError(2, "No such file or directory", str(src))

    monkeypatch.setattr(outdir.os, "replace", replace)
    with pytest.raises(BadInput, match="No such file or directory; nothing was changed there"):
        write_text_atomically(tmp_path / "report.md", "x", prefix=".report-")
    assert os.listdir(tmp_path) == []


def test_atomic_write_goes_through_a_prefixed_temp_file_beside_the_target(
    tmp_path: Path, monkeypatch
) -> None:
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append((str(src), str(dst)))
        assert Path(src).read_text() == "text"
        real_replace(src, dst)

    monkeypatch.setattr(outdir.os, "replace", replace)
    target = tmp_path / "report.md"
    write_text_atomically(target, "text", prefix=".report-")
    [(src, dst)] = seen
    assert dst == str(target)
    assert Path(src).parent == tmp_path
    assert Path(src).name.startswith(".report-")
    assert Path(src).name.endswith(".tmp")
    assert target.read_text() == "text"


def test_a_failed_atomic_write_leaves_no_temp_file_and_the_old_file(
    tmp_path: Path, monkeypatch
) -> None:
    target = tmp_path / "report.md"
    target.write_text("old")

    def replace(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(outdir.os, "replace", replace)
    with pytest.raises(BadInput) as info:
        write_text_atomically(target, "new", prefix=".report-")
    assert str(info.value) == (
        f"--out: cannot write the output: {target}: Permission denied; nothing was changed there"
    )
    assert os.listdir(tmp_path) == ["report.md"]
    assert target.read_text() == "old"


def test_an_atomic_write_under_a_file_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "report.md"
    with pytest.raises(BadInput) as info:
        write_text_atomically(target, "new", prefix=".report-")
    assert str(info.value).startswith("--out: cannot write the output: ")
    assert str(info.value).endswith("; nothing was changed there")
    assert os.listdir(tmp_path) == ["file"]
