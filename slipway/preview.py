"""Offline preview: the real program under mocks, manifests, policy, diff — written atomically.

API (also used by tests, diffs and benchmarks):

- `render(project_dir, stack, *, config_overrides=None) -> Rendered`: run the stack's program
  offline; returns the resource records (as in `resources.json`), the manifests
  (`manifests/<target>/<namespace or _cluster>/<Kind>-<name>.yaml` -> YAML text) and warnings.
- `output_files(rendered, diagnostics=None, diff=None) -> dict[str, bytes]`: every output file.
- `write_atomically(out_dir, files)`: replace `out_dir` in one rename; on error nothing changes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slipway.engine import REDACTED, Record, run_program, to_json_bytes
from slipway.errors import BadInput
from slipway.stackfile import read_stack_file

PROGRAM = "__main__.py"


@dataclass
class Rendered:
    stack: str
    records: list[Record]
    manifests: dict[str, str]
    warnings: list[str] = field(default_factory=list)

    @property
    def resources(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.records]


def _catalog_secret_keys(project_dir: Path, config: dict[str, str], project: str) -> list[str]:
    """Config keys the catalog reads secrets from (so missing ones can be reported)."""
    from stacks.catalog import load_catalog
    from stacks.loader import _parse

    env = config.get(f"{project}:environment", "dev")
    catalog = project_dir / str(_parse(config.get(f"{project}:catalog", "services")))
    keys = set()
    for svc in load_catalog(catalog, env):
        keys.update(s.key for s in svc.secrets if s.source == "pulumi-config")
    return sorted(keys)


def render(
    project_dir: Path,
    stack: str,
    *,
    config_overrides: dict[str, str] | None = None,
    secret_overrides: dict[str, str] | None = None,
) -> Rendered:
    """Run `__main__.py` of `project_dir` for `stack` under the mock runtime.

    `secret_overrides` are config values treated as secrets (tests use them to prove values
    never reach the output). Raises BadInput for bad config or catalog.
    """
    project_dir = project_dir.resolve()
    from slipway.stackfile import project_name

    project = project_name(project_dir)
    sf = read_stack_file(project_dir, stack)
    config = dict(sf.config)
    secret_keys = list(sf.secret_keys)
    config.update(config_overrides or {})
    for key, value in (secret_overrides or {}).items():
        config[key] = value
        secret_keys.append(key)
    warnings: list[str] = []
    for key in _catalog_secret_keys(project_dir, config, project):
        full = f"{project}:{key}"
        if full not in config:
            warnings.append(
                f"secret {key!r} is not set in {sf.path.name}; shown redacted here, and "
                f"`pulumi up` needs it: pulumi config set --secret {key} -s {stack}"
            )
            config[full] = REDACTED
            secret_keys.append(full)
    program = project_dir / PROGRAM
    if not program.is_file():
        raise BadInput("no Pulumi program here", file=str(program))
    cwd = os.getcwd()
    os.chdir(project_dir)
    try:
        result = run_program(
            program, project=project, stack=stack, config=config, secret_keys=secret_keys
        )
    finally:
        os.chdir(cwd)
    return Rendered(
        stack=stack,
        records=result.records,
        manifests=manifests(result.records),
        warnings=warnings,
    )


# -- manifests -------------------------------------------------------------------------------

KIND_ORDER = ("apiVersion", "kind", "metadata")


def _order(obj: dict[str, Any]) -> dict[str, Any]:
    head = {k: obj[k] for k in KIND_ORDER if k in obj}
    tail = {k: obj[k] for k in sorted(obj) if k not in KIND_ORDER}
    return {**head, **tail}


def is_manifest(record: Record) -> bool:
    """A Kubernetes object (custom resource of the kubernetes package, not a provider)."""
    return (
        record.custom
        and record.type.startswith("kubernetes:")
        and isinstance(record.inputs.get("kind"), str)
        and isinstance(record.inputs.get("metadata"), dict)
    )


def manifest_path(record: Record) -> str:
    meta = record.inputs["metadata"]
    ns = meta.get("namespace") or "_cluster"
    name = meta.get("name") or record.name
    target = record.target or "_stack"
    return f"manifests/{target}/{ns}/{record.inputs['kind']}-{name}.yaml"


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def to_yaml(obj: Any) -> str:
    """Block YAML, keys in Kubernetes order, multi-line strings as literal blocks."""
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)


def manifests(records: list[Record]) -> dict[str, str]:
    """Every Kubernetes object as YAML, keyed by its path under the output folder."""
    out: dict[str, str] = {}
    for record in records:
        if not is_manifest(record):
            continue
        path = manifest_path(record)
        if path in out:
            raise BadInput(
                f"two resources render to {path}; object names must be unique per namespace",
                field=record.urn,
            )
        out[path] = to_yaml(_order(record.inputs))
    return dict(sorted(out.items()))


# -- output ----------------------------------------------------------------------------------


def output_files(
    rendered: Rendered,
    diagnostics: list[dict[str, Any]] | None = None,
    diff: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """All files of one preview, keyed by relative path. Deterministic bytes."""
    files: dict[str, bytes] = {"resources.json": to_json_bytes(rendered.resources)}
    for path, text in rendered.manifests.items():
        files[path] = text.encode()
    if diagnostics is not None:
        files["policy.json"] = to_json_bytes(diagnostics)
    if diff is not None:
        files["diff.json"] = to_json_bytes(diff)
    return files


def write_atomically(out_dir: Path, files: dict[str, bytes]) -> None:
    """Write `files` into a sibling temp dir, then swap it in with renames.

    A crash before the swap leaves the previous output untouched; the swap itself is two
    renames on the same filesystem.
    """
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        for rel, data in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        old = None
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            if old.exists():
                shutil.rmtree(old)
            out_dir.rename(old)
        tmp.rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def plan_rows(rendered: Rendered) -> list[tuple[str, str, str, int]]:
    """(target, namespace, kind, count) for the plan table; cloud resources by type."""
    counts: dict[tuple[str, str, str], int] = {}
    for r in rendered.records:
        if not r.custom:
            continue
        if is_manifest(r):
            ns = r.inputs["metadata"].get("namespace") or "(cluster)"
            key = (r.target or "(stack)", ns, r.inputs["kind"])
        else:
            key = (r.target or "(stack)", "(cloud)", r.type)
        counts[key] = counts.get(key, 0) + 1
    return [(t, n, k, c) for (t, n, k), c in sorted(counts.items())]
