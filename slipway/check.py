"""`slipway check`: the policy pack on plain Kubernetes YAML (raw manifests, Helm output).

Each object becomes the resource the Kubernetes provider would register for it (type token
from apiVersion and kind, inputs = the object), all objects of one run form one made-up
stack, and ``run_pack`` judges them over the analyzer protocol, stack rules included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slipway.errors import BadInput
from slipway.policy import PARALLEL_FROM, Diagnostic, PackSession, stack_urn, workers_for

try:  # libyaml is ~10x faster; fall back to the pure-Python loader where it is missing
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

MANIFEST_SUFFIXES = (".yaml", ".yml")
"""What a folder is searched for; a file named on the command line is read whatever its name."""

CHECK_PROJECT = "slipway-check"


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object and where it was read."""

    file: str
    line: int
    obj: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def label(self) -> str:
        meta = self.obj.get("metadata") or {}
        ns = meta.get("namespace")
        name = meta.get("name", "?")
        return f"{self.obj.get('kind')} {ns}/{name}" if ns else f"{self.obj.get('kind')} {name}"


@dataclass
class CheckResult:
    """Diagnostics plus what is needed to show them next to the file they came from."""

    stack: str
    diagnostics: list[Diagnostic]
    manifests: list[Manifest]
    by_urn: dict[str, Manifest] = field(default_factory=dict)


def manifest_files(paths: Iterable[Path]) -> list[Path]:
    """Files named, plus every *.yaml / *.yml under folders named (hidden folders skipped)."""
    paths = list(paths)
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                hidden = any(part.startswith(".") for part in rel)
                if f.is_file() and f.suffix.lower() in MANIFEST_SUFFIXES and not hidden:
                    files.append(f)
        elif p.is_file():
            files.append(p)
        else:
            raise BadInput("no such file or folder", file=str(p))
    if not files:
        shown = ", ".join(str(p) for p in paths) or "(none)"
        raise BadInput(f"no *.yaml or *.yml files under {shown}")
    return files


def load_file(path: Path) -> list[Manifest]:
    """Every object of a (multi-document) YAML file; kind List is expanded into its items.

    A file that does not parse, or a document without apiVersion and kind, is bad input
    with the file and line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read: {e}", file=str(path)) from None
    out: list[Manifest] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1
            doc = loader.construct_document(node)
            out.extend(_objects(doc, path, line))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        problem = getattr(e, "problem", None) or str(e)
        raise BadInput(f"{where}: not valid YAML: {problem}", file=str(path), field=None) from None
    finally:
        loader.dispose()
    return out


def _objects(doc: Any, path: Path, line: int) -> list[Manifest]:
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise BadInput(
            f"line {line}: a document must be a mapping, got {type(doc).__name__}", file=str(path)
        )
    missing = [
        k for k in ("apiVersion", "kind") if not isinstance(doc.get(k), str) or not doc.get(k)
    ]
    if missing:
        raise BadInput(f"line {line}: document has no {' and no '.join(missing)}", file=str(path))
    if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
        items: list[Manifest] = []
        for item in doc["items"]:
            items.extend(_objects(item, path, line))
        return items
    return [Manifest(str(path), line, doc)]


def type_token(api_version: str, kind: str) -> str:
    """The pulumi-kubernetes type token: ``v1`` is the core group."""
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind}"


def to_records(
    manifests: list[Manifest],
    stack: str,
    project: str = CHECK_PROJECT,
    by_urn: dict[str, Manifest] | None = None,
) -> tuple[list[dict], dict[str, Manifest]]:
    """Resource records (as in resources.json) for the objects, and URN -> manifest.

    Names are ``<namespace>/<name>`` like the provider's YAML resources; an object seen twice
    (overlays, several charts) gets a ``#n`` suffix so every URN stays unique. Pass the
    same ``by_urn`` to convert files one after another.
    """
    records: list[dict] = []
    by_urn = {} if by_urn is None else by_urn
    for m in manifests:
        meta = m.obj.get("metadata") if isinstance(m.obj.get("metadata"), dict) else {}
        name = str(meta.get("name") or meta.get("generateName") or "unnamed")
        if meta.get("namespace"):
            name = f"{meta['namespace']}/{name}"
        token = type_token(m.obj["apiVersion"], m.obj["kind"])
        base = f"urn:pulumi:{stack}::{project}::{token}::{name}"
        urn, n = base, 1
        while urn in by_urn:
            n += 1
            urn = f"{base}#{n}"
        by_urn[urn] = m
        records.append(
            {
                "urn": urn,
                "type": token,
                "name": urn.rsplit("::", 1)[-1],
                "parent": "",
                "provider": "",
                "protect": False,
                "aliases": [],
                "custom": True,
                "inputs": m.obj,
            }
        )
    return records, by_urn


def check(
    paths: Iterable[Path],
    *,
    stack: str = "prod",
    config_path: Path | None = None,
    pack_dir: Path | None = None,
) -> CheckResult:
    """Load every object under ``paths`` and judge them together with the stack's config.

    The pack boots while the files are read; many files get a second pack process.
    """
    files = manifest_files(paths)
    size = sum(f.stat().st_size for f in files)
    workers = workers_for(PARALLEL_FROM if size >= _PARALLEL_BYTES else 0)
    manifests: list[Manifest] = []
    by_urn: dict[str, Manifest] = {}

    def batches() -> Iterator[list[dict]]:
        pending: list[dict] = []
        for f in files:
            found = load_file(f)
            manifests.extend(found)
            pending += to_records(found, stack, by_urn=by_urn)[0]
            if len(pending) >= _BATCH:
                yield pending
                pending = []
        yield pending

    with PackSession(
        stack, project=CHECK_PROJECT, pack_dir=pack_dir, config_path=config_path, workers=workers
    ) as session:
        _, diags = session.run_batches(batches())
    return CheckResult(stack, diags, manifests, by_urn)


_BATCH = 128
"""Objects read before they are handed to the pack (reading and judging overlap)."""
_PARALLEL_BYTES = 256 * 1024
"""Input size from which a check uses a second pack process (about 150 objects)."""


def describe(result: CheckResult, urn: str) -> tuple[str, str]:
    """(object, file:line) for a diagnostic's URN; stack-wide ones have neither."""
    m = result.by_urn.get(urn)
    if m is None:
        return ("(stack)" if urn == stack_urn(result.stack, CHECK_PROJECT) else urn, "")
    return m.label, m.where
