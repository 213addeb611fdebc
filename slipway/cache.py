"""A folder of renders keyed by the content they read, kept between CI runs.

`slipway preview --against REF` renders the stack as REF's code and catalog make it, and a
services stack's preview renders its platform stack first when no outputs are recorded.
Both depend only on the content they read (code, catalog, stack files, the installed
packages), so the result is stored under a hash of that content, never under a time or a
ref's name: a later run with the same content reads it back instead of rendering again.

Layout of the cache folder (default `.slipway-cache/` in the project, `$SLIPWAY_CACHE_DIR`
or `--cache-dir`):

- `CACHEDIR.TAG`: the standard tag (backup tools skip the folder); a folder that holds
  anything else and not this tag is not slipway's, and is refused rather than written to.
- `<kind>-<sha256>/`: one entry, `entry.json` (format, kind, key, each file's size and
  sha256) and its files. An entry is written in a temporary folder beside it and renamed
  into place, so it is whole or absent; one whose manifest does not parse, names another
  key, misses a file, holds an extra one or fails a checksum is reported in one line,
  removed and rendered again, never used.
- `.tmp-<pid>-*`: an entry being written; what a killed run left is removed by the next.

Only names of those shapes are ever removed, and only inside the cache folder; the least
recently used entries beyond `MAX_ENTRIES` go when a new one is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from slipway import children, say
from slipway.errors import BadInput

ENV = "SLIPWAY_CACHE_DIR"
DEFAULT_DIR = ".slipway-cache"
MANIFEST = "entry.json"
FORMAT = 1
MAX_ENTRIES = 24
"""Entries kept, least recently used evicted first. A pull request's preview of every stack
uses about two per stack (the baseline; the platform of a services stack, at the head and at
the base), and an LRU bound below what one run uses would evict each entry just before it is
needed again. A 400-service fleet's baseline is about 60 MB."""
MAX_FILE_BYTES = 1 << 30
TAG_NAME = "CACHEDIR.TAG"
TAG_SIGNATURE = b"Signature: 8a477f597d28d172789f06886806bc55"
TAG = (
    TAG_SIGNATURE + b"\n# slipway's render cache (slipway preview --against; docs/ci.md).\n"
    b"# Safe to delete: every entry is rendered again when missing.\n"
)
KINDS = ("baseline", "platform")
_ENTRY = re.compile(r"(?:baseline|platform)-[0-9a-f]{64}")
_TMP = re.compile(r"\.tmp-(\d+)-[A-Za-z0-9_]+")
_KEY = re.compile(r"[0-9a-f]{64}")


class Damaged(Exception):
    """An entry that cannot be trusted; the message says why, in a few words."""


def cache_dir(
    option: str | Path | None,
    project_dir: Path,
    *,
    protected: Iterable[Path] = (),
) -> Path:
    """The cache folder to use: `option`, else `$SLIPWAY_CACHE_DIR`, else
    `<project>/.slipway-cache`; nothing is created here.

    BadInput (exit 2) for a folder whose entries could hurt: the project itself or a folder
    holding it (eviction works inside the folder), one inside `protected` (the catalog, the
    output folder), a path that is not a folder, or a folder holding other things and no
    slipway `CACHEDIR.TAG`."""
    source = "--cache-dir" if option else ENV if os.environ.get(ENV) else None
    raw = option or os.environ.get(ENV) or Path(project_dir) / DEFAULT_DIR
    path = Path(os.path.abspath(Path(raw).expanduser()))
    resolved = path.resolve()
    project = Path(project_dir).resolve()
    field = source or "--cache-dir"
    if resolved == project or resolved in project.parents:
        raise BadInput(
            f"{path} is the project folder or holds it; the cache needs a folder of its own "
            f"(default: {project / DEFAULT_DIR})",
            field=field,
        )
    for guarded in protected:
        guarded = Path(guarded).resolve()
        if resolved == guarded or guarded in resolved.parents:
            raise BadInput(
                f"{path} lies in {guarded}, which the preview reads or replaces; put the "
                "cache elsewhere",
                field=field,
            )
    if os.path.lexists(path):
        if not resolved.is_dir():
            raise BadInput(f"{path} exists and is not a folder", field=field)
        if not _tagged(resolved) and any(resolved.iterdir()):
            raise BadInput(
                f"{path} holds files and is not slipway's cache (no {TAG_NAME}); name a new "
                "or empty folder",
                field=field,
            )
    return resolved


def _tagged(root: Path) -> bool:
    with contextlib.suppress(OSError), (root / TAG_NAME).open("rb") as fh:
        return fh.read(len(TAG_SIGNATURE)) == TAG_SIGNATURE
    return False


def digest(parts: Iterable[Any]) -> str:
    """sha256 of a sequence of JSON-able parts (the key of an entry)."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True).encode()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


class Cache:
    """Entries of one cache folder (`cache_dir` chose and checked it)."""

    def __init__(self, root: Path, *, max_entries: int = MAX_ENTRIES) -> None:
        self.root = Path(root)
        self.max_entries = max_entries

    def entry(self, kind: str, key: str) -> Path:
        if kind not in KINDS or not _KEY.fullmatch(key):
            raise ValueError(f"bad cache entry {kind}-{key}")
        return self.root / f"{kind}-{key}"

    def get(self, kind: str, key: str) -> dict[str, bytes] | None:
        """The files of entry (`kind`, `key`), checked; None when absent or damaged (a
        damaged one is reported on stderr in one line and removed)."""
        entry = self.entry(kind, key)
        if not os.path.lexists(entry):
            return None
        try:
            files = _read_entry(entry, kind, key)
        except Damaged as exc:
            say.note(f"cache entry {entry} is damaged ({exc}); rendering it again")
            self._remove(entry)
            return None
        with contextlib.suppress(OSError):
            os.utime(entry)  # recently used: evicted last
        return files

    def put(self, kind: str, key: str, files: Mapping[str, bytes]) -> None:
        """Store an entry: written beside, renamed into place, then the oldest entries past
        `max_entries` removed. A cache that cannot be written is noted, never an error."""
        entry = self.entry(kind, key)
        for name in files:
            if name == MANIFEST or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
                raise ValueError(f"bad cache file name {name!r}")
        tmp: Path | None = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not _tagged(self.root):
                _write_new(self.root / TAG_NAME, TAG)
            self._sweep()
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-", dir=self.root))
            listed = {}
            for name, data in files.items():
                (tmp / name).write_bytes(data)
                listed[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            manifest = {"format": FORMAT, "kind": kind, "key": key, "files": listed}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            if os.path.lexists(entry):
                self._remove(entry)  # damaged (get removes it too) or written meanwhile
            try:
                tmp.rename(entry)
                tmp = None
            except OSError:  # another run stored the same content just now
                pass
            self._evict(keep=entry)
        except OSError as exc:
            say.note(f"the render cache {self.root} could not be written ({exc.strerror or exc})")
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def remove(self, kind: str, key: str) -> None:
        """Remove an entry (found damaged by its reader)."""
        self._remove(self.entry(kind, key))

    def entries(self) -> list[Path]:
        """Entry folders, least recently used first."""
        found = []
        with contextlib.suppress(OSError):
            for child in self.root.iterdir():
                if _ENTRY.fullmatch(child.name):
                    with contextlib.suppress(OSError):
                        found.append((child.lstat().st_mtime_ns, child.name, child))
        return [p for _, _, p in sorted(found)]

    def _evict(self, keep: Path) -> None:
        entries = [e for e in self.entries() if e != keep]
        for old in entries[: max(0, len(entries) + 1 - self.max_entries)]:
            self._remove(old)

    def _sweep(self) -> None:
        """Remove entries being written by runs that are gone."""
        for child in self.root.iterdir():
            found = _TMP.fullmatch(child.name)
            if found and int(found.group(1)) != os.getpid() and not children.alive(int(found[1])):
                self._remove(child)

    def _remove(self, path: Path) -> None:
        """Remove one of our names inside the cache folder (a link: only the link)."""
        if path.parent != self.root:
            raise ValueError(f"{path} is not in the cache folder {self.root}")
        with contextlib.suppress(OSError):
            if path.is_symlink() or not path.is_dir():
                path.unlink()
            else:
                shutil.rmtree(path)


def _write_new(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-tag")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _read_entry(entry: Path, kind: str, key: str) -> dict[str, bytes]:
    """The files of a whole, matching entry; Damaged otherwise."""
    if entry.is_symlink() or not entry.is_dir():
        raise Damaged("not a folder")
    try:
        manifest = json.loads(_read_regular(entry / MANIFEST, 1 << 20))
    except FileNotFoundError:
        raise Damaged(f"no {MANIFEST}") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Damaged(f"{MANIFEST} unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Damaged(f"{MANIFEST} is not of format {FORMAT}")
    if manifest.get("kind") != kind or manifest.get("key") != key:
        raise Damaged(f"{MANIFEST} names another key")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("size"), int) and isinstance(v.get("sha256"), str)
        for v in listed.values()
    ):
        raise Damaged(f"{MANIFEST} lists no files")
    try:
        present = {p.name for p in entry.iterdir()} - {MANIFEST}
    except OSError as exc:
        raise Damaged(str(exc)) from None
    if present != set(listed):
        missing, extra = sorted(set(listed) - present), sorted(present - set(listed))
        raise Damaged(
            "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unexpected {', '.join(extra)}" if extra else "",
                )
                if part
            )
        )
    files = {}
    for name, meta in sorted(listed.items()):
        try:
            data = _read_regular(entry / name, MAX_FILE_BYTES)
        except OSError as exc:
            raise Damaged(f"{name}: {exc.strerror or exc}") from None
        if len(data) != meta["size"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
            raise Damaged(f"{name} fails its checksum")
        files[name] = data
    return files


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file (never a link, a pipe or a device), at most `limit`."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path.name} is larger than {limit} bytes")
    return data


# --- what a render depends on besides its files ------------------------------------------------

_FINGERPRINT = """\
def fingerprint():
    import importlib.metadata as m, os, sys
    return {
        "python": sys.version,
        "implementation": sys.implementation.name,
        "packages": sorted(
            [(d.metadata["Name"] or "").lower(), d.version] for d in m.distributions()
        ),
        "env": {k: os.environ[k] for k in sorted(os.environ) if k in ("SLIPWAY_PLAIN_SDK",)},
    }
"""
"""The interpreter, every installed package's version and the environment the program reads:
computed by the interpreter that renders (in this process, or run in another)."""

_fingerprints: dict[str, Any] = {}


def environment(python: str | None = None) -> Any:
    """What a render depends on besides its files: Python, installed packages (the Pulumi
    SDK and providers among them), the environment variables the program reads."""
    import subprocess
    import sys

    python = python or sys.executable
    if python not in _fingerprints:
        same = False
        with contextlib.suppress(OSError):
            same = os.path.samefile(python, sys.executable)
        if same:
            space: dict[str, Any] = {}
            exec(_FINGERPRINT, space)
            text = json.dumps(space["fingerprint"]())
        else:
            script = _FINGERPRINT + "import json\nprint(json.dumps(fingerprint()))\n"
            text = subprocess.run(
                [python, "-c", script], capture_output=True, text=True, check=True, timeout=120
            ).stdout
        _fingerprints[python] = json.loads(text)
    return _fingerprints[python]


NOT_READ = ("docs", "tests", "benchmarks", ".github")
"""Top-level folders of a project that no render reads (nor top-level `*.md` files): a
change there alone keeps the cached renders."""

CODE = ("slipway", "stacks", "slipway_components")
"""The packages a render runs besides the program's own folder."""


def package_files(name: str) -> list[tuple[str, bytes]]:
    """(`<name>/<relative path>`, bytes) of every file of the importable package `name`, as
    this interpreter would import it (sources and data, no `__pycache__`); empty when none."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        roots = [Path(p) for p in spec.submodule_search_locations]
    elif spec.origin and os.path.isfile(spec.origin):
        return [(f"{name}.py", Path(spec.origin).read_bytes())]
    else:
        return []
    return [item for root in roots for item in tree_files(root, name)]


def tree_files(root: Path, label: str) -> list[tuple[str, bytes]]:
    """(`<label>/<relative path>`, bytes) of the regular files under `root`, sorted, without
    `__pycache__` and compiled files."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = Path(folder) / name
            if path.is_file():
                rel = path.relative_to(root).as_posix()
                found.append((f"{label}/{rel}", path.read_bytes()))
    return found
