"""Which folders slipway may replace: only the ones it made.

A preview swaps its whole output folder in at once, so whatever was at `--out` before is
gone afterwards. That is right for a previous preview and a disaster for anything else (the
project root, `services/`, a folder of the user's). Every output folder therefore carries a
marker file, `.slipway-output`, naming the tool, the stack and the version that wrote it, and
`--out` is checked before anything runs:

- refused (exit 2, nothing touched): an empty path, a symlink, a file, an existing folder
  without the marker, the project folder, and any folder that holds the project or its
  catalog (replacing it would replace them);
- accepted: a path that does not exist yet (its missing parent folders are made), or a
  folder with the marker.

A folder an older slipway wrote (before the marker existed) is refused like any other: its
contents cannot prove who wrote them. The message says to remove it once.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from slipway import __version__
from slipway.errors import BadInput

MARKER = ".slipway-output"


def marker_bytes(stack: str) -> bytes:
    """The marker's content: deterministic, so two runs give the same bytes."""
    doc = {"tool": "slipway", "output": "preview", "stack": stack, "version": __version__}
    return (json.dumps(doc, sort_keys=True) + "\n").encode()


def is_slipway_output(path: Path) -> bool:
    """True when `path` is a real folder (not a symlink) that slipway wrote."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return False
        marker = path / MARKER
        return marker.is_file() and not marker.is_symlink() and _marker_ok(marker)
    except OSError:
        return False


def _marker_ok(marker: Path) -> bool:
    try:
        if marker.stat().st_size > 4096:
            return False
        doc = json.loads(marker.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("tool") == "slipway"


def check_out(raw: str | os.PathLike[str], *, protected: list[Path]) -> Path:
    """The absolute output folder for `raw`, or BadInput (field `--out`) when slipway must not
    replace what is there. `protected` are folders that must survive (the project, the
    catalog): neither they nor any folder holding them may be the output."""
    text = os.fspath(raw)
    if not text.strip():
        raise BadInput(
            "an empty path is not an output folder (an unset variable?); give a new folder "
            "or one a previous preview wrote, e.g. build/dev",
            field="--out",
        )
    given = Path(text)
    absolute = Path(os.path.abspath(given))
    try:
        st = os.lstat(absolute)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise BadInput(f"{text}: cannot be used: {exc.strerror}", field="--out") from exc
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise BadInput(
            f"{text} is a symbolic link; slipway replaces the output folder as a whole and "
            "does not follow links there: give the real folder or a new path",
            field="--out",
        )
    resolved = absolute.resolve()
    for keep in protected:
        keep = keep.resolve()
        if resolved == keep or resolved in keep.parents:
            raise BadInput(
                f"{text} is {'' if resolved == keep else 'a folder holding '}{keep}; the output "
                "folder is replaced as a whole, so it must be a folder of its own, e.g. "
                "build/<stack>",
                field="--out",
            )
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            raise BadInput(
                f"{text} exists and is not a folder; slipway will not replace it", field="--out"
            )
        if not is_slipway_output(absolute):
            raise BadInput(
                f"{text} exists and was not written by slipway (no {MARKER} in it); slipway "
                "only replaces its own output: give a new path, or remove that folder yourself "
                "(also when an older slipway, from before the marker, wrote it)",
                field="--out",
            )
    check_parents(absolute, text)
    return absolute


def check_parents(path: Path, text: str) -> None:
    """The nearest existing parent of an output must be a folder we can write in (BadInput,
    field `--out`, naming ``text`` as given)."""
    parent = path.parent
    while True:
        try:
            st = os.stat(parent)
        except FileNotFoundError:
            parent = parent.parent
            continue
        except OSError as exc:
            raise BadInput(f"{text}: {parent}: {exc.strerror}", field="--out") from exc
        break
    if not stat.S_ISDIR(st.st_mode):
        raise BadInput(f"{text}: {parent} is a file, not a folder", field="--out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"{text}: {parent} is not writable", field="--out")


def current_umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", "rb") as fh:  # bytes: the process name may be any
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_error(exc: OSError, where: Path) -> BadInput:
    """An OS error while writing the output, said plainly (exit 2; the previous output
    stays as it was)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    name = exc.filename or where
    return BadInput(
        f"cannot write the output: {name}: {reason}; nothing was changed there",
        field="--out",
    )


def write_text_atomically(path: Path, text: str, *, prefix: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder renamed over it, with
    the mode the umask gives: a reader sees the old file or the new one, never half of one.
    OS errors become BadInput (`write_error`); the temp file never stays behind."""
    import os
    import tempfile

    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise write_error(exc, path) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
