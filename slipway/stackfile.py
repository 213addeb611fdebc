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

from slipway.engine import REDACTED
from slipway.errors import BadInput


@dataclass
class StackFile:
    path: Path
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)


def project_name(project_dir: Path) -> str:
    """The `name:` of `Pulumi.yaml`."""
    path = project_dir / "Pulumi.yaml"
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise BadInput("no Pulumi.yaml here: run from the project folder", file=str(path)) from exc
    except yaml.YAMLError as exc:
        raise BadInput(f"YAML syntax error: {exc}", file=str(path)) from exc
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
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise BadInput(f"YAML syntax error: {where}{exc.problem}", file=str(path)) from exc
    except yaml.YAMLError as exc:
        raise BadInput(f"YAML error: {exc}", file=str(path)) from exc
    if not isinstance(data, dict):
        raise BadInput("expected a mapping with a `config:` key", file=str(path))
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise BadInput("must be a mapping of keys to values", file=str(path), field="config")
    out = StackFile(path=path)
    for key, value in config.items():
        full = key if ":" in str(key) else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            out.config[full] = REDACTED
            out.secret_keys.append(full)
        elif isinstance(value, dict) and "value" in value and set(value) <= {"value", "secret"}:
            out.config[full] = _as_config_string(value["value"])
        else:
            out.config[full] = _as_config_string(value)
    return out


def _as_config_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)
