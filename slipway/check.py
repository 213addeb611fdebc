"""`slipway check`: the policy pack on plain Kubernetes YAML (raw manifests, Helm output).

Each object becomes the resource the Kubernetes provider would register for it (type token
from apiVersion and kind, inputs = the object), all objects of one run form one made-up
stack, and ``run_pack`` judges them over the analyzer protocol, stack rules included.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slipway.errors import BadInput
from slipway.policy import PARALLEL_FROM, Diagnostic, PackSession, stack_urn, workers_for
from slipway.yamlfile import BadScalar, SafeLoader, problem, read_text, where

MANIFEST_SUFFIXES = (".yaml", ".yml")
"""What a folder is searched for; a file named on the command line is read whatever its name."""
MAX_FILE_BYTES = 32 * 1024 * 1024
"""One manifest file. The largest single-file installs (operator bundles with their CRDs) are
a few MB; loaded, a file takes about ten times its size in memory."""
MAX_ALIASED_NODES = 100_000
"""YAML nodes a file may gain through alias references (``*name``) once expanded."""
MAX_DEPTH = 200
"""Nesting of collections in one document. Deep CRD schemas stay under 100; past about 300
the conversion to protobuf for the policy pack runs out of Python stack."""

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
        if _is_folder(p):
            try:
                found = sorted(p.rglob("*"))
            except OSError as exc:
                raise BadInput(f"cannot search: {exc.strerror}", file=exc.filename) from None
            for f in found:
                rel = f.relative_to(p).parts
                hidden = any(part.startswith(".") for part in rel)
                if f.is_file() and f.suffix.lower() in MANIFEST_SUFFIXES and not hidden:
                    files.append(f)
        else:
            files.append(p)
    if not files:
        shown = ", ".join(str(p) for p in paths) or "(none)"
        raise BadInput(f"no *.yaml or *.yml files under {shown}")
    return files


def _is_folder(path: Path) -> bool:
    """True for a folder, False for a regular file; anything else named is bad input."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise BadInput("no such file or folder", file=str(path)) from None
    except OSError as exc:  # too long a name, a symlink loop, no permission, EIO
        raise BadInput(f"cannot read: {exc.strerror}", file=str(path)) from None
    if stat.S_ISDIR(mode):
        return True
    if stat.S_ISREG(mode):
        return False
    raise BadInput(
        "not a regular file (a FIFO, device or socket); name a YAML file or a folder",
        file=str(path),
    )


def load_file(path: Path) -> list[Manifest]:
    """Every object of a (multi-document) YAML file; kind List is expanded into its items.

    A file that does not parse, or a document without apiVersion and kind, is bad input
    with the file and line; so is one past the bounds below, before anything walks it.
    """
    text = read_text(path, max_bytes=MAX_FILE_BYTES)
    out: list[Manifest] = []
    loader = SafeLoader(text)
    aliased = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1
            aliased += bound_expansion(node, path, aliased_before=aliased)
            doc = loader.construct_document(node)
            out.extend(_objects(doc, path, line))
    except BadScalar as e:
        raise BadInput(f"{where(e, text)}: {problem(e)}", file=str(path)) from None
    except yaml.YAMLError as e:
        at = where(e, text).split(",")[0] or "somewhere"
        raise BadInput(f"{at}: not valid YAML: {problem(e)}", file=str(path)) from None
    except RecursionError:  # the pure-Python parser on deep nesting; libyaml stops at 1000
        raise BadInput(f"nests deeper than {MAX_DEPTH} levels", file=str(path)) from None
    finally:
        loader.dispose()
    return out


def bound_expansion(root: yaml.Node, path: Path, *, aliased_before: int = 0) -> int:
    """Nodes the document gains through aliases; refuses a bomb, a cycle or deep nesting.

    Why bound the expansion instead of refusing aliases as the catalog does: real manifests
    (hand-written ones, some chart output) do use anchors for repeated fragments, and that
    is harmless. What is not is the expansion: PyYAML shares an aliased object, so loading a
    "billion laughs" file is cheap, but everything after it (records, protobuf, JSON) copies
    each reference and runs out of memory. So the composed node graph is walked once, each
    distinct collection visited once with its expanded size remembered, and a file may gain
    at most MAX_ALIASED_NODES nodes through aliased collections (counted over all its
    documents) and nest at most MAX_DEPTH deep. An alias of a scalar adds one node for at
    least two bytes of text, so the file size bounds those. The walk is iterative and linear
    in the distinct nodes; scalars are counted in bulk, not visited one by one.
    """
    if root.__class__ is yaml.ScalarNode:
        return 0
    done: dict[int, tuple[int, int]] = {}  # collection -> (expanded nodes, levels)
    on_path: set[int] = set()
    aliased = aliased_before

    def refuse(message: str, node: yaml.Node) -> BadInput:
        return BadInput(f"line {node.start_mark.line + 1}: {message}", file=str(path))

    def frame(node: yaml.Node) -> list[Any]:
        """[node, its collection children, next index, expanded nodes, levels]."""
        if node.__class__ is yaml.MappingNode:
            values = [n for pair in node.value for n in pair]
        else:
            values = node.value
        kids = [n for n in values if n.__class__ is not yaml.ScalarNode]
        on_path.add(id(node))
        return [node, kids, 0, 1 + len(values) - len(kids), 1]

    stack = [frame(root)]
    while stack:
        top = stack[-1]
        node, kids, i = top[0], top[1], top[2]
        if i == len(kids):
            stack.pop()
            on_path.discard(id(node))
            done[id(node)] = (top[3], top[4])
            if stack:
                parent = stack[-1]
                parent[3] += top[3]
                parent[4] = max(parent[4], top[4] + 1)
            continue
        top[2] = i + 1
        child = kids[i]
        key = id(child)
        if key in on_path:
            raise refuse("a YAML alias refers to a collection that contains it", node)
        seen = done.get(key)
        if seen is not None:  # a second reference to a collection: an alias
            aliased += seen[0]
            if aliased > MAX_ALIASED_NODES:
                raise refuse(
                    f"YAML aliases expand this file by more than {MAX_ALIASED_NODES} "
                    "nodes (a billion-laughs bomb?); write the repeated parts out",
                    node,
                )
            if len(stack) + seen[1] > MAX_DEPTH:
                raise refuse(f"nests deeper than {MAX_DEPTH} levels", node)
            top[3] += seen[0]
            top[4] = max(top[4], seen[1] + 1)
        else:
            if len(stack) >= MAX_DEPTH:
                raise refuse(f"nests deeper than {MAX_DEPTH} levels", child)
            stack.append(frame(child))
    return aliased - aliased_before


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
    size = 0
    for f in files:  # refuse an oversized file before the pack boots; the reader re-checks
        try:
            file_size = f.stat().st_size
        except OSError:
            continue  # the reader names the error
        if file_size > MAX_FILE_BYTES:
            raise BadInput(f"file is {file_size} bytes; the limit is {MAX_FILE_BYTES}", file=str(f))
        size += file_size
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
