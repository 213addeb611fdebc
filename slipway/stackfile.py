"""Read `Pulumi.<stack>.yaml` the way the CLI would hand its config to a program.

Structured values become JSON strings (what `pulumi.Config.get_object` parses); keys without a
namespace belong to the project. `secure:` values cannot be decrypted offline: they become a
redacted placeholder, still marked secret, so the program runs and nothing leaks.

Keys are checked as the catalog is: a key of the project's namespace must be a stack setting
(a `StackConfig` field) or a secret the catalog reads, so a typo (`slipway:dsn`) is refused
here, naming the file, instead of being ignored and previewed as a deletion. Keys of other
namespaces (`pulumi:`, `aws:`, `gcp:`, `kubernetes:`) belong to their owners and pass as they
are. This is the one stack-file reader, so preview, deploy and the strategy commands all get
the check.

The project folder is found as the Pulumi CLI finds it: the nearest folder with `Pulumi.yaml`,
from the current folder up (`find_project`).
"""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
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


def find_project(start: Path) -> Path:
    """The nearest folder holding `Pulumi.yaml`: `start` or one above it.

    The search stops at the git toplevel (a project never spans repositories, and a
    Pulumi.yaml above the checkout is someone else's) or at the filesystem root.
    """
    start = start.resolve()
    top = _git_toplevel(start)
    for folder in (start, *start.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
        if folder == top:
            break
    raise BadInput(
        f"no Pulumi.yaml in {start} or any folder above it; run from the project or pass "
        "--project-dir"
    )


def resolve_project_dir(given: Path | None) -> Path:
    """The project folder a command works on: `--project-dir` as given, else found from the
    current folder (`find_project`). Its program code becomes importable (`use_project_code`)."""
    project = find_project(Path.cwd()) if given is None else given.resolve()
    use_project_code(project)
    return project


def use_project_code(project: Path) -> None:
    """Put the project's own code first on `sys.path`, as the engine does when it runs the
    program: `stacks/` is the program's code, not part of the installed CLI, and a project's
    `components/` folder holds its `slipway_components` package."""
    for folder in (project / "components", project):
        entry = str(folder)
        if folder.is_dir() and entry not in sys.path:
            sys.path.insert(0, entry)


def _git_toplevel(folder: Path) -> Path | None:
    """The work tree `folder` lies in, or None (no git, not a checkout)."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    return Path(proc.stdout.strip()).resolve()


def project_name(project_dir: Path) -> str:
    """The `name:` of `Pulumi.yaml`: the namespace of the project's own config keys."""
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        raise BadInput(
            f"no Pulumi.yaml in {project_dir}; pass the project folder to --project-dir, or "
            "run from the project without it",
            file=str(path),
        )
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
        full = _full_key(key, project, path)
        if full in out.config:
            raise BadInput(
                f"{key!r} sets {full} a second time (keys without a namespace are the "
                f"project's, and `<namespace>:config:<name>` is `<namespace>:<name>`)",
                file=str(path),
                field=key,
            )
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
    # After the loop: values marked secret are registered for redaction even when a key is
    # refused (the baseline reads a ref's stack file only for that).
    _check_project_keys(out, project, project_dir)
    return out


def _full_key(key: Any, project: str, path: Path) -> str:
    """`<namespace>:<name>` as Pulumi parses config keys (`config.ParseKey`): one colon, or
    the old `<namespace>:config:<name>` form; a key without a namespace is the project's."""
    if not isinstance(key, str) or not key.strip():
        raise BadInput(
            f"config keys are strings like `{project}:environment`; got {key!r}",
            file=str(path),
            field="config",
        )
    parts = key.split(":")
    if len(parts) == 3 and parts[1] == "config":
        parts = [parts[0], parts[2]]
    if len(parts) == 1:
        parts = [project, key]
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise BadInput(
            f"{key!r} is not a config key: Pulumi reads keys as `<namespace>:<name>`, e.g. "
            f"`{project}:dns` (nested values go under the key, as a mapping)",
            file=str(path),
            field=key,
        )
    return ":".join(parts)


def _check_project_keys(sf: StackFile, project: str, project_dir: Path) -> None:
    """Refuse keys of the project's namespace that nothing reads: every such key is either a
    stack setting (a `StackConfig` field, camelCase) or a secret the catalog reads from
    config. Each unknown key is named with the closest valid one."""
    prefix = f"{project}:"
    settings = stack_setting_keys()
    unknown = sorted(
        k[len(prefix) :]
        for k in sf.config
        if k.startswith(prefix) and k[len(prefix) :] not in settings
    )
    if not unknown:
        return
    secrets = catalog_secret_keys(project_dir, sf.config.get(f"{prefix}catalog"))
    unknown = [k for k in unknown if k not in secrets]
    if not unknown:
        return
    valid = sorted(settings | secrets)
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        if not close:  # snake_case for camelCase, or a case slip
            folded = {v.lower().replace("_", ""): v for v in valid}
            close = [folded[f]] if (f := name.lower().replace("_", "")) in folded else []
        hint = f"; did you mean `{prefix}{close[0]}`?" if close else "."
        problems.append(f"{prefix}{name}: unknown key{hint}")
    listed = ", ".join(sorted(settings))
    secret_note = f"; secrets the catalog reads: {', '.join(sorted(secrets))}" if secrets else ""
    raise BadInput(
        f"{'; '.join(problems)} Keys of the {prefix} namespace are the stack settings "
        f"({listed}){secret_note}",
        file=str(sf.path),
    )


def stack_setting_keys() -> set[str]:
    """The keys a stack file may set in the project's namespace (`StackConfig` aliases)."""
    from stacks.config import StackConfig

    return {f.alias or name for name, f in StackConfig.model_fields.items()}


def catalog_secret_keys(project_dir: Path, catalog: str | None) -> set[str]:
    """Config keys the catalog's services read secrets from (`secrets: - key: …` with source
    pulumi-config, the default), in any environment: these are also keys of the project's
    namespace. A catalog file that cannot be read is refused here, naming that file."""
    from stacks.catalog import load_yaml_document
    from stacks.config import check_catalog_path

    folder = catalog if catalog is not None else "services"
    try:
        check_catalog_path(folder)
    except ValueError:
        return set()  # the stack's own validation reports `catalog`, naming the stack file
    directory = project_dir / folder
    if not directory.is_dir():
        return set()
    keys: set[str] = set()
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        data = load_yaml_document(path)
        envs = data.get("environments")
        overrides = (
            [o for o in envs.values() if isinstance(o, dict)] if isinstance(envs, dict) else []
        )
        for doc in (data, *overrides):
            refs = doc.get("secrets")
            for ref in refs if isinstance(refs, list) else []:
                if (
                    isinstance(ref, dict)
                    and isinstance(ref.get("key"), str)
                    and ref.get("source", "pulumi-config") == "pulumi-config"
                ):
                    keys.add(ref["key"])
    return keys


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
