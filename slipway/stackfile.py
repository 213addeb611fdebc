"""Read `Pulumi.<stack>.yaml` the way the CLI would hand its config to a program.

Structured values become JSON strings (what `pulumi.Config.get_object` parses); keys without a
namespace belong to the project. `secure:` values cannot be decrypted offline: they become a
redacted placeholder, still marked secret, so the program runs and nothing leaks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slipway import redact
from slipway.engine import REDACTED
from slipway.errors import BadInput
from slipway.yamlfile import PySafeLoader, read_yaml

MAX_FILE_BYTES = 1024 * 1024
"""Stack and project files are hand-written config; anything bigger is a mistake."""
MAX_VALUES = 100_000
"""Values a file may expand to once YAML aliases are resolved (an alias bomb expands to
billions from a few lines)."""
MAX_DEPTH = 64
"""Nesting depth of a config value."""


@dataclass
class StackFile:
    path: Path
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)


def project_name(project_dir: Path) -> str:
    """The `name:` of `Pulumi.yaml`."""
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise BadInput("no Pulumi.yaml here: run from the project folder", file=str(path))
    data = load_yaml_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise BadInput("needs a string `name`", file=str(path), field="name")
    return data["name"]


def read_stack_file(project_dir: Path, stack: str) -> StackFile:
    """Config of one stack, ready for `pulumi.runtime.set_all_config`."""
    project = project_name(project_dir)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[7:-5] for p in project_dir.glob("Pulumi.*.yaml"))
        raise BadInput(
            f"no such stack {stack!r}; stacks here: {', '.join(known) or 'none'}", file=str(path)
        )
    data = load_yaml_file(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput("expected a mapping with a `config:` key", file=str(path))
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise BadInput("must be a mapping of keys to values", file=str(path), field="config")
    out = StackFile(path=path)
    for key, value in config.items():
        if not isinstance(key, str) or not key.strip():
            raise BadInput(
                f"config keys are strings like `slipway:environment`; got {key!r}",
                file=str(path),
                field="config",
            )
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            out.config[full] = REDACTED
            out.secret_keys.append(full)
        elif isinstance(value, dict) and "value" in value and set(value) <= {"value", "secret"}:
            out.config[full] = _as_config_string(value["value"])
            if value.get("secret") is True:
                out.secret_keys.append(full)
                redact.register([value["value"], out.config[full]])
        else:
            out.config[full] = _as_config_string(value)
    return out


class _Loader(PySafeLoader):
    """SafeLoader (64-bit integers, finite floats) that refuses duplicate keys, as the Pulumi
    CLI's YAML reader does."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key; the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def load_yaml_file(path: Path) -> Any:
    """One YAML document, every way it can be wrong turned into BadInput naming the file.

    Aliases are allowed (Pulumi accepts them) but the document may not expand past
    MAX_VALUES values or MAX_DEPTH levels, so an alias bomb or a runaway nesting is refused
    before anything walks it.
    """
    data = read_yaml(path, max_bytes=MAX_FILE_BYTES, loader=_Loader)
    _check_size(data, path)
    return data


def _check_size(data: Any, path: Path) -> None:
    """Refuse documents that expand past MAX_VALUES values or MAX_DEPTH levels.

    Shared (aliased) objects are counted once per reference without walking them again, so
    the check itself stays linear in the size of the file.
    """
    sizes: dict[int, int] = {}

    def size(value: Any, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise BadInput(f"values nest deeper than {MAX_DEPTH} levels", file=str(path))
        if not isinstance(value, dict | list):
            return 1
        known = sizes.get(id(value))
        if known is not None:
            return known
        children = value.values() if isinstance(value, dict) else value
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_VALUES:
                raise BadInput(
                    f"expands to more than {MAX_VALUES} values (a YAML alias bomb?)",
                    file=str(path),
                )
        sizes[id(value)] = total
        return total

    size(data, 0)


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
