"""Declared deployment state: read and edit a service's catalog file, keeping it as people wrote it.

Every traffic change is one value in `services/<svc>.yaml`, under the environment of the stack
(`environments.<env>.strategy.activeSlot`, `...strategy.weight`, `environments.<env>.flags.<f>`).
Edits go through ruamel.yaml's round-trip mode, so comments, key order, quoting, flow maps and
indentation stay as they were and a review shows a one-line change. A file that ruamel cannot
reproduce byte for byte unedited is refused rather than reformatted.

Before writing, the edited file is validated exactly like the program would (catalog model with
the environment's override applied, plus the stack's constraints), so an edit can never leave a
catalog the preview rejects. Writes are atomic (temp file in the same folder, then rename) and
keep what the edit is not about: the dominant line ending (ruamel works in `\n`; CRLF goes
back), a UTF-8 BOM, the permission bits, and a symlink (its target is edited, the link stays).
A file without any write bit is refused, not replaced: read-only is someone's decision.

Undo: each edit (`promote`, `canary`, `abort`, `flag`) is journaled in
`.slipway/journal/<stack>.json` with the file's previous bytes and a hash of the bytes written,
and only after the catalog write succeeded (a failed write leaves no entry that `rollback`
could act on). `rollback` acts only on an entry: it restores the previous bytes exactly when
the file is still what the edit wrote; if the file changed since, it reverses only the
recorded value, and only when that value is still what the edit wrote; otherwise it refuses.

The journal lives in the project (beside the catalog it describes, so any checkout has its own
and `--project-dir` finds it) but it is local operator state, not part of the reviewed change:
`.slipway/` is in `.gitignore`, and what gets reviewed and committed is the one-line catalog
change itself. Catalog files hold no secret values (only references), so the journal holds
none either.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from slipway.errors import BadInput
from slipway.stackfile import project_name, read_stack_file, stack_setting_keys

if TYPE_CHECKING:  # the program's own code: imported from the project, when a command runs
    from stacks.catalog import Service
    from stacks.config import StackConfig

JOURNAL_DIR = Path(".slipway") / "journal"
MAX_JOURNAL_ENTRIES = 50
"""Per stack; older entries are dropped."""


@dataclass
class Declared:
    """One service's declared state as seen by one stack."""

    project_dir: Path
    stack: str
    stack_config: StackConfig
    path: Path
    """As found in the catalog folder (a symlink stays one; writes go to its target)."""
    raw: bytes
    """The file's bytes when it was read: what `rollback` restores and a write must still find."""
    text: str
    """`raw` decoded, without a BOM, with `\n` line endings: what ruamel edits."""
    newline: str
    """The file's dominant line ending, put back on write."""
    bom: bool
    service: Service
    """The service with the stack environment's override applied."""

    @property
    def environment(self) -> str:
        return self.stack_config.environment

    @property
    def relpath(self) -> str:
        try:
            return str(self.path.relative_to(self.project_dir))
        except ValueError:
            return str(self.path)

    def field(self, *keys: str) -> str:
        """Dotted path of a value under this environment's override (for messages)."""
        return ".".join(("environments", self.environment, *keys))


def stack_config(project_dir: Path, stack: str) -> StackConfig:
    """The stack's `slipway:` config, validated (BadInput names the stack file).

    `read_stack_file` has already refused keys of the project's namespace that are neither a
    setting nor a catalog secret; the secrets are not settings, so only settings go on.
    """
    from pydantic import ValidationError

    from stacks.catalog import _format_errors
    from stacks.config import StackConfig
    from stacks.loader import _parse

    sf = read_stack_file(project_dir, stack)
    prefix = f"{project_name(project_dir)}:"
    settings = stack_setting_keys()
    raw = {
        key[len(prefix) :]: _parse(value)
        for key, value in sf.config.items()
        if key.startswith(prefix) and key[len(prefix) :] in settings
    }
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as exc:
        _, msg = _format_errors(exc, prefix="slipway")
        raise BadInput(msg, file=str(sf.path)) from exc


def locate(project_dir: Path, stack: str, service_name: str) -> Declared:
    """Find `service_name` in the stack's catalog; BadInput naming what exists when not."""
    from stacks.catalog import load_yaml_document, parse_service

    project_dir = project_dir.resolve()
    cfg = stack_config(project_dir, stack)
    catalog = project_dir / cfg.catalog
    if not catalog.is_dir():
        raise BadInput("catalog folder not found", file=str(catalog))
    names: dict[str, Path] = {}
    for path in sorted(catalog.iterdir()):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        data = load_yaml_document(path)
        if isinstance(data.get("name"), str):
            names[data["name"]] = path
    if service_name not in names:
        raise BadInput(
            f"unknown service {service_name!r}; services in the catalog: "
            f"{', '.join(sorted(names)) or 'none'}",
            file=str(catalog),
            field="name",
        )
    path = names[service_name]
    service = parse_service(load_yaml_document(path), cfg.environment, str(path))
    try:
        raw = path.read_bytes()
        decoded = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read: {exc}", file=str(path)) from exc
    text, newline, bom = normalise(decoded)
    return Declared(project_dir, stack, cfg, path, raw, text, newline, bom, service)


def normalise(decoded: str) -> tuple[str, str, bool]:
    """(text without BOM, with `\n` line endings; the dominant line ending; had a BOM)."""
    bom = decoded.startswith("\ufeff")
    if bom:
        decoded = decoded[1:]
    crlf = decoded.count("\r\n")
    newline = "\r\n" if crlf > decoded.count("\n") - crlf else "\n"
    return decoded.replace("\r\n", "\n"), newline, bom


def encode(declared: Declared, text: str) -> bytes:
    """`text` (as `edit` returns it) in the file's own line ending and BOM."""
    if declared.newline != "\n":
        text = text.replace("\n", declared.newline)
    return (("\ufeff" if declared.bom else "") + text).encode("utf-8")


# -- round-trip editing ------------------------------------------------------------------------


INDENTS = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 4, 0), (2, 3, 1), (4, 6, 4))
"""(mapping, sequence, offset) layouts tried, most common first."""


def _yaml_for(text: str) -> tuple[YAML, Any] | None:
    """A round-trip loader whose dump reproduces `text` exactly, and the loaded document;
    None when no common layout does."""
    for mapping, sequence, offset in INDENTS:
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        try:
            doc = yaml.load(text)
        except YAMLError as exc:
            raise BadInput(f"YAML syntax error: {exc}") from exc
        if _dump(yaml, doc) == text:
            return yaml, doc
    return None


def _dump(yaml: YAML, doc: Any) -> str:
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()


def edit(declared: Declared, keys: tuple[str, ...], value: Any) -> str:
    """The file's text with `environments.<env>.<keys>` set to `value`, nothing else changed.

    Missing maps on the way are added at the end of their parent, in block style.
    """
    loaded = _yaml_for(declared.text)
    if loaded is None:
        raise BadInput(
            "this file's layout cannot be kept by an automatic edit; set "
            f"{declared.field(*keys)}: {json.dumps(value)} by hand",
            file=declared.relpath,
        )
    yaml, doc = loaded
    node = doc
    for key in ("environments", declared.environment, *keys[:-1]):
        child = node.get(key)
        if child is None:
            child = CommentedMap()
            node[key] = child
        elif not isinstance(child, dict):
            raise BadInput(
                f"expected a mapping at {key!r}, found {type(child).__name__}",
                file=declared.relpath,
                field=declared.field(*keys),
            )
        node = child
    node[keys[-1]] = value
    return _dump(yaml, doc)


def validate(declared: Declared, new_text: str) -> Service:
    """Parse `new_text` as the program would for this stack; BadInput when it would fail."""
    import yaml as pyyaml

    from stacks.build import check_strategy
    from stacks.catalog import parse_service

    data = pyyaml.safe_load(new_text)
    service = parse_service(data, declared.environment, declared.relpath)
    check_strategy(service, declared.stack_config, declared.relpath)
    return service


def check_writable(declared: Declared, field: str) -> None:
    """Refuse a catalog file nobody may write (mode bits, so it holds for root too)."""
    real = declared.path.resolve()
    try:
        mode = real.stat().st_mode
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror}", file=declared.relpath) from exc
    if not mode & 0o222 or not os.access(real, os.W_OK):
        where = "" if real == declared.path else f" (symlink to {real})"
        raise BadInput(
            f"the file{where} is read-only (mode {stat.S_IMODE(mode):04o}); nothing changed. "
            "Make it writable to let slipway edit it, or edit it by hand",
            file=declared.relpath,
            field=field,
        )


def write_catalog(declared: Declared, data: bytes, field: str) -> None:
    """Replace the catalog file with `data`, refusing when it is read-only or changed since
    it was read (another edit would be lost). BadInput when the write fails."""
    check_writable(declared, field)
    real = declared.path.resolve()
    try:
        current = real.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror}", file=declared.relpath) from exc
    if current != declared.raw:
        raise BadInput(
            "the file changed while slipway was editing it; nothing changed, run the command again",
            file=declared.relpath,
            field=field,
        )
    try:
        write_bytes(declared.path, data)
    except OSError as exc:
        raise BadInput(
            f"could not write: {exc.strerror or exc}; nothing changed",
            file=declared.relpath,
            field=field,
        ) from exc


def write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` atomically: a temp file beside the real file (the target of a symlink,
    which stays a symlink), its permission bits and, where allowed, owner, then a rename."""
    real = path.resolve()
    try:
        st: os.stat_result | None = real.stat()
    except FileNotFoundError:
        st = None
    fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", dir=real.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st else 0o644)
        if st is not None:
            with contextlib.suppress(OSError):
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_MISSING = object()


def declared_value(declared: Declared, keys: tuple[str, ...] | list[str]) -> Any:
    """The value written at `environments.<env>.<keys>` (not the merged one), or `_MISSING`:
    what a journal entry's `new` is compared with."""
    import yaml as pyyaml

    node: Any = pyyaml.safe_load(declared.text)
    for key in ("environments", declared.environment, *keys):
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def is_missing(value: Any) -> bool:
    return value is _MISSING


# -- journal -----------------------------------------------------------------------------------


def journal_path(project_dir: Path, stack: str) -> Path:
    return project_dir / JOURNAL_DIR / f"{stack}.json"


def journal_relpath(declared: Declared) -> str:
    return str(JOURNAL_DIR / f"{declared.stack}.json")


def read_journal(project_dir: Path, stack: str) -> list[dict[str, Any]]:
    path = journal_path(project_dir, stack)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(
            f"journal unreadable: {exc}; nothing changed. Move it aside to start a new one",
            file=str(path),
        ) from exc
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise BadInput("journal is not a list of entries; nothing changed", file=str(path))
    return data


def _write_journal(project_dir: Path, stack: str, entries: list[dict[str, Any]]) -> None:
    path = journal_path(project_dir, stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(entries[-MAX_JOURNAL_ENTRIES:], indent=2, sort_keys=True) + "\n"
    write_bytes(path, text.encode("utf-8"))


def apply(
    declared: Declared,
    command: str,
    keys: tuple[str, ...],
    old: Any,
    new: Any,
    text: str,
) -> str | None:
    """Write the edited `text`, then journal the edit. The journal is read first (an
    unreadable one refuses before anything is written) and written last, so an entry always
    stands for a write that happened. Returns a warning when the write happened but the
    journal could not be written: the change stands, `rollback` will not know it."""
    entries = read_journal(declared.project_dir, declared.stack)
    data = encode(declared, text)
    write_catalog(declared, data, declared.field(*keys))
    entries.append(
        {
            "service": declared.service.name,
            "command": command,
            "file": declared.relpath,
            "field": declared.field(*keys),
            "keys": list(keys),
            "old": old,
            "new": new,
            "before": declared.raw.decode("utf-8"),
            "after_sha256": sha256(data),
        }
    )
    try:
        _write_journal(declared.project_dir, declared.stack, entries)
    except OSError as exc:
        return (
            f"the journal {journal_relpath(declared)} could not be written "
            f"({exc.strerror or exc}): the change above stands, but rollback will not find "
            f"this change; undo it by hand with {declared.field(*keys)}: {json.dumps(old)}"
        )
    return None


def entries_of(declared: Declared) -> list[tuple[int, dict[str, Any]]]:
    """Index and entry of each journaled edit of this service, oldest first."""
    entries = read_journal(declared.project_dir, declared.stack)
    return [(i, e) for i, e in enumerate(entries) if e.get("service") == declared.service.name]


def last_entry(declared: Declared, field: str | None = None) -> tuple[int, dict[str, Any]] | None:
    """Index and entry of the latest journaled edit of this service (of `field`, if given)."""
    for i, entry in reversed(entries_of(declared)):
        if field is None or entry.get("field") == field:
            return i, entry
    return None


def entry_keys(entry: dict[str, Any]) -> tuple[str, ...]:
    """The keys under `environments.<env>` an entry changed (entries written before `keys`
    was recorded: from the dotted field)."""
    keys = entry.get("keys")
    if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
        return tuple(keys)
    return tuple(str(entry.get("field", "")).split(".")[2:])


def drop_entry(declared: Declared, index: int) -> str | None:
    """Remove a rolled-back entry; a warning when the journal could not be written."""
    entries = read_journal(declared.project_dir, declared.stack)
    del entries[index]
    try:
        _write_journal(declared.project_dir, declared.stack, entries)
    except OSError as exc:
        return (
            f"the journal {journal_relpath(declared)} could not be updated "
            f"({exc.strerror or exc}): the rolled-back entry is still there; a second "
            "rollback will refuse rather than act on it"
        )
    return None
