"""Find and read Kubernetes manifests the way users keep them: folders of YAML and JSON
beside kustomizations, chart metadata, templates and READMEs.

A file named on the command line must be readable (else exit 2); inside a folder, every
``*.yaml``, ``*.yml`` and ``*.json`` is read, a file holding no Kubernetes object is skipped
with one notice, and a file that cannot be read or parsed is reported with its line while
the rest is scanned. The YAML loader takes what kubectl takes (``sigs.k8s.io/yaml`` over
go-yaml): the ``=`` scalar of a CRD enum, dates as strings, unknown local tags, while
keeping the bounds of `slipway.yamlfile` (64-bit integers, alias expansion, nesting, size).
Each object keeps its composed YAML node, so a finding can name the line of its field.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slipway.errors import BadInput
from slipway.scan_types import Notice
from slipway.yamlfile import BadScalar, SafeLoader, problem, read_text, where

SUFFIXES = (".yaml", ".yml", ".json")
"""What a folder is searched for; a file named on the command line is read whatever its name."""
MAX_FILE_BYTES = 32 * 1024 * 1024
"""One manifest file. The largest single-file installs (operator bundles with their CRDs) are
a few MB; loaded, a file takes about ten times its size in memory."""
MAX_ALIASED_NODES = 100_000
"""YAML nodes a file may gain through alias references (``*name``) once expanded."""
MAX_DEPTH = 200
"""Nesting of collections in one document. Deep CRD schemas stay under 100."""

NOT_CLUSTER_OBJECTS = {
    "kustomize.config.k8s.io": "a kustomize file",
    "config.kubernetes.io": "a kustomize function config",
    "kind.x-k8s.io": "a kind cluster config",
    "kubeadm.k8s.io": "a kubeadm config",
    "kubelet.config.k8s.io": "a kubelet config",
    "kubeproxy.config.k8s.io": "a kube-proxy config",
    "kubescheduler.config.k8s.io": "a scheduler config",
    "apiserver.config.k8s.io": "an API server config",
    "audit.k8s.io": "an audit policy",
    "client.authentication.k8s.io": "a client credential config",
    "ctlptl.dev": "a ctlptl config",
}
"""API groups of tool configuration files that look like objects (apiVersion and kind) but
are never sent to a cluster; files of these are skipped, not judged."""


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object, where it was read, and its YAML node (for field lines)."""

    file: str
    line: int
    obj: dict[str, Any]
    node: yaml.Node | None = field(default=None, compare=False, repr=False)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def label(self) -> str:
        meta = self.obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        ns, name = meta.get("namespace"), meta.get("name", "?")
        return f"{self.obj.get('kind')} {ns}/{name}" if ns else f"{self.obj.get('kind')} {name}"

    def line_of(self, path: Iterable[str | int]) -> int:
        """Line of the field at ``path``, or of the nearest enclosing field that exists."""
        node, line = self.node, self.line
        for step in path:
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                found = _mapping_value(node, step)
                if found is None:
                    break
                key, node = found
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if not 0 <= step < len(node.value):
                    break
                node = node.value[step]
                line = node.start_mark.line + 1
            else:
                break
        return line


def _mapping_value(node: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key node, value node) of ``key``: the last one wins, as in the loaded object;
    merged (``<<``) mappings are searched after the mapping's own keys."""
    merged: list[yaml.Node] = []
    for k, v in reversed(node.value):
        if isinstance(k, yaml.ScalarNode):
            if k.value == key and k.tag != "tag:yaml.org,2002:merge":
                return k, v
            if k.tag == "tag:yaml.org,2002:merge":
                merged.extend(v.value if isinstance(v, yaml.SequenceNode) else [v])
    for m in merged:
        if isinstance(m, yaml.MappingNode):
            hit = _mapping_value(m, key)
            if hit is not None:
                return hit
    return None


@dataclass
class Loaded:
    """What reading the paths gave: objects, files that held them, and notices."""

    manifests: list[Manifest] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


def _as_string(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _untagged(loader: yaml.constructor.SafeConstructor, suffix: str, node: yaml.Node) -> Any:
    """A node under a tag nothing defines (``!Ref x``), read as if it had none: go-yaml
    decodes such a node into its plain value, so kubectl sees ``x``."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)  # type: ignore[arg-type]
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


class ManifestLoader(SafeLoader):  # type: ignore[misc,valid-type]
    """`slipway.yamlfile.SafeLoader` (bounded integers and floats) reading what kubectl reads.

    - ``=`` alone is a string: PyYAML resolves it to ``tag:yaml.org,2002:value`` (a YAML
      1.1 type of default values) and has no constructor for it, so an enum item ``- =`` in
      a CRD schema stopped the whole file;
    - dates and timestamps stay strings, as go-yaml gives them to an untyped field (a
      Python date would not survive JSON or protobuf either);
    - a tag nothing defines is read as the plain value.
    """


ManifestLoader.add_constructor("tag:yaml.org,2002:value", _as_string)
ManifestLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_string)
ManifestLoader.add_multi_constructor("!", _untagged)
ManifestLoader.add_multi_constructor("tag:", _untagged)


def find_files(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """(file, named) for every file to read: those named, then every *.yaml, *.yml and
    *.json under the folders named (hidden folders and files skipped; links to folders
    not followed, so a link loop cannot trap the search). A path named that cannot be
    read is bad input (exit 2)."""
    found: list[tuple[Path, bool]] = []
    for p in paths:
        p = Path(p)
        if not _is_folder(p):
            found.append((p, True))
            continue
        for root, dirs, files in os.walk(p, onerror=_raise_walk_error):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith(".") and name.lower().endswith(SUFFIXES):
                    found.append((Path(root) / name, False))
    return found


def _raise_walk_error(exc: OSError) -> None:
    raise BadInput(f"cannot search: {exc.strerror}", file=str(exc.filename)) from None


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


def load(paths: Iterable[Path]) -> Iterator[tuple[list[Manifest], Notice | None, str]]:
    """Per file: its objects, a notice when it was skipped or not parsed, and its name.

    A file named on the command line that cannot be read is bad input; one found in a
    folder gives an error notice instead."""
    for path, named in find_files(paths):
        try:
            found, notice = load_file(path)
        except BadInput as exc:
            if named:
                raise
            found, notice = [], Notice(str(path), "error", _reason(exc), _line_of(exc))
        yield found, notice, str(path)


def _reason(exc: BadInput) -> str:
    """The message without the ``<file>: `` prefix the notice shows by itself."""
    text = str(exc)
    return text.removeprefix(f"{exc.file}: ") if exc.file else text


def _line_of(exc: BadInput) -> int:
    """The line a message starts with (``line 12: ...``), else 0."""
    head = _reason(exc).split(":", 1)[0]
    return int(head[5:]) if head.startswith("line ") and head[5:].isdigit() else 0


def load_file(path: Path) -> tuple[list[Manifest], Notice | None]:
    """Every object of a (multi-document) YAML or JSON file, ``kind: ...List`` expanded.

    Raises BadInput when the file cannot be read at all (missing, not regular, too large,
    not UTF-8); a file that reads but does not parse, or holds no object, gives a notice.
    """
    text = read_text(path, max_bytes=MAX_FILE_BYTES)
    name = str(path)
    try:
        docs = _documents(text, path)
    except _Unparsed as bad:
        if "{{" in text:
            why = "a template (Go or Helm), not a manifest: render it first (helm template)"
            return [], Notice(name, "skipped", why)
        if path.suffix.lower() == ".json":
            try:
                docs = [(json.loads(text), None, 1)]
            except ValueError:
                return [], Notice(name, "error", bad.reason, bad.line)
        else:
            return [], Notice(name, "error", bad.reason, bad.line)
    out: list[Manifest] = []
    others: list[tuple[int, str]] = []
    tools: set[str] = set()
    for doc, node, line in docs:
        _collect(doc, node, name, line, out, others, tools)
    if out:
        notice = None
        if others:
            line, why = others[0]
            more = f" (and {len(others) - 1} more)" if len(others) > 1 else ""
            notice = Notice(name, "error", f"{why}{more}", line)
        return out, notice
    if tools:
        return [], Notice(name, "skipped", f"{sorted(tools)[0]}, not a cluster object")
    return [], Notice(name, "skipped", "holds no Kubernetes object (no apiVersion and kind)")


class _Unparsed(Exception):
    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


def _documents(text: str, path: Path) -> list[tuple[Any, yaml.Node | None, int]]:
    """(document, its node, its first line) for every document of the file."""
    loader = ManifestLoader(text)
    docs: list[tuple[Any, yaml.Node | None, int]] = []
    aliased = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            aliased += bound_expansion(node, path, aliased_before=aliased)
            docs.append((loader.construct_document(node), node, line))
    except BadScalar as e:
        raise _Unparsed(problem(e), _mark_line(e)) from None
    except yaml.YAMLError as e:
        raise _Unparsed(f"not valid YAML: {problem(e)}", _mark_line(e, text)) from None
    except RecursionError:  # the pure-Python parser on deep nesting; libyaml stops at 1000
        raise _Unparsed(f"nests deeper than {MAX_DEPTH} levels", 0) from None
    except BadInput as e:  # bound_expansion: an alias bomb, a cycle, too deep
        raise _Unparsed(_reason(e), _line_of(e)) from None
    finally:
        loader.dispose()
    return docs


def _mark_line(exc: yaml.YAMLError, text: str = "") -> int:
    shown = where(exc, text)
    if shown.startswith("line "):
        return int(shown.split(",")[0].removeprefix("line "))
    return 0


def _collect(
    doc: Any,
    node: yaml.Node | None,
    file: str,
    line: int,
    out: list[Manifest],
    others: list[tuple[int, str]],
    tools: set[str],
) -> None:
    if doc is None:
        return
    if not isinstance(doc, dict):
        others.append((line, f"line {line}: a document must be a mapping, not a list or text"))
        return
    kind, api = doc.get("kind"), doc.get("apiVersion")
    if not (isinstance(kind, str) and kind and isinstance(api, str) and api):
        missing = " and no ".join(
            k for k, v in (("apiVersion", api), ("kind", kind)) if not isinstance(v, str) or not v
        )
        others.append((line, f"line {line}: document has no {missing}"))
        return
    group = api.rpartition("/")[0]
    if (
        group in NOT_CLUSTER_OBJECTS
        or api.startswith("skaffold/")
        or (api == "v1" and kind == "Config")
    ):
        tools.add(NOT_CLUSTER_OBJECTS.get(group) or f"a {kind} file for a tool")
        return
    items = doc.get("items")
    if kind.endswith("List") and isinstance(items, list):
        item_nodes = _value_node(node, "items")
        for i, item in enumerate(items):
            item_node = (
                item_nodes.value[i]
                if isinstance(item_nodes, yaml.SequenceNode) and i < len(item_nodes.value)
                else None
            )
            item_line = item_node.start_mark.line + 1 if item_node is not None else line
            _collect(item, item_node, file, item_line, out, others, tools)
        return
    out.append(Manifest(file, line, doc, node))


def _value_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        hit = _mapping_value(node, key)
        return hit[1] if hit is not None else None
    return None


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
