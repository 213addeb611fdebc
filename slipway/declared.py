"""Declared deployment state: read and edit a service's catalog file, keeping it as people wrote it.

Every traffic change is one value in `services/<svc>.yaml`, under the environment of the stack
(`environments.<env>.strategy.activeSlot`, `...strategy.weight`, `environments.<env>.flags.<f>`).
Edits go through ruamel.yaml's round-trip mode, so comments, key order, quoting, flow maps and
indentation stay as they were and a review shows a one-line change. A file that ruamel cannot
reproduce byte for byte unedited is refused rather than reformatted.

Before writing, the edited file is validated exactly like the program would (catalog model with
the environment's override applied, plus the stack's constraints), so an edit can never leave a
catalog the preview rejects. Writes are atomic (temp file, then rename).

Undo: each traffic edit (`promote`, `canary`, `abort`) is journaled in
`.slipway/journal/<stack>.json` with the file's previous bytes and a hash of the bytes written.
`rollback` restores those previous bytes exactly when the file is still what the edit wrote;
if it was changed since, it reverses only the traffic value. Catalog files hold no secret
values (only references), so the journal holds none either.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from slipway.errors import BadInput
from slipway.stackfile import project_name, read_stack_file
from stacks.catalog import Service, load_yaml_document, parse_service
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
    text: str
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
    """The stack's `slipway:` config, validated (BadInput names the stack file)."""
    from pydantic import ValidationError

    from stacks.catalog import _format_errors
    from stacks.loader import _parse

    sf = read_stack_file(project_dir, stack)
    project = project_name(project_dir)
    raw = {
        key.split(":", 1)[1]: _parse(value)
        for key, value in sf.config.items()
        if key.startswith(f"{project}:") and key.split(":", 1)[1] in _stack_keys()
    }
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as exc:
        _, msg = _format_errors(exc, prefix="slipway")
        raise BadInput(msg, file=str(sf.path)) from exc


def _stack_keys() -> set[str]:
    return {f.alias or n for n, f in StackConfig.model_fields.items()}


def locate(project_dir: Path, stack: str, service_name: str) -> Declared:
    """Find `service_name` in the stack's catalog; BadInput naming what exists when not."""
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
    text = path.read_text(encoding="utf-8")
    service = parse_service(load_yaml_document(path), cfg.environment, str(path))
    return Declared(project_dir, stack, cfg, path, text, service)


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

    data = pyyaml.safe_load(new_text)
    service = parse_service(data, declared.environment, declared.relpath)
    check_strategy(service, declared.stack_config, declared.relpath)
    return service


def write_text(path: Path, text: str) -> None:
    """Replace `path` atomically, keeping its permissions."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- journal -----------------------------------------------------------------------------------


def _journal_path(project_dir: Path, stack: str) -> Path:
    return project_dir / JOURNAL_DIR / f"{stack}.json"


def read_journal(project_dir: Path, stack: str) -> list[dict[str, Any]]:
    path = _journal_path(project_dir, stack)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"journal unreadable: {exc}", file=str(path)) from exc
    if not isinstance(data, list):
        raise BadInput("journal is not a list of entries", file=str(path))
    return data


def _write_journal(project_dir: Path, stack: str, entries: list[dict[str, Any]]) -> None:
    path = _journal_path(project_dir, stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(entries[-MAX_JOURNAL_ENTRIES:], indent=2, sort_keys=True) + "\n")


def record(declared: Declared, command: str, field: str, old: Any, new: Any, text: str) -> None:
    """Journal an edit (previous bytes, hash of new ones), then write the new text."""
    entries = read_journal(declared.project_dir, declared.stack)
    entries.append(
        {
            "service": declared.service.name,
            "command": command,
            "file": declared.relpath,
            "field": field,
            "old": old,
            "new": new,
            "before": declared.text,
            "after_sha256": sha256(text),
        }
    )
    _write_journal(declared.project_dir, declared.stack, entries)
    write_text(declared.path, text)


def last_entry(declared: Declared) -> tuple[int, dict[str, Any]] | None:
    """Index and entry of the latest journaled traffic edit of this service."""
    entries = read_journal(declared.project_dir, declared.stack)
    for i in range(len(entries) - 1, -1, -1):
        if entries[i].get("service") == declared.service.name:
            return i, entries[i]
    return None


def drop_entry(declared: Declared, index: int) -> None:
    entries = read_journal(declared.project_dir, declared.stack)
    del entries[index]
    _write_journal(declared.project_dir, declared.stack, entries)
