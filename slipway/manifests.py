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

import contextlib
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
    span: tuple[int, int] = field(default=(0, 0), compare=False, repr=False)
    """Where its text is in the file (from the start of its first line); with ``file``, what
    names the object between the processes of a scan (`slipway.check._lines_of`)."""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def label(self) -> str:
        meta = self.obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        ns = meta.get("namespace")
        name = meta.get("name") or meta.get("generateName") or "?"
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


_RESOLVED: dict[str, str] = {}
"""Tags of plain scalars by text: manifests repeat the same keys and values
(``name``, ``app``, ``TCP``) thousands of times, and PyYAML's resolver tries its regular
expressions on each one. Only short scalars are kept, at most `_RESOLVED_MAX` of them."""
_RESOLVED_MAX = 65_536


_TAG_STR = "tag:yaml.org,2002:str"
_TAG_OF_KIND = {
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
    yaml.MappingNode: "tag:yaml.org,2002:map",
}


def _resolve(self: Any, kind: Any, value: Any, implicit: Any) -> Any:
    """PyYAML's resolver without its detours (the loader has no path resolvers): a quoted
    scalar is text, a collection its default tag, and a plain scalar's tag is remembered."""
    if kind is not yaml.ScalarNode:
        return _TAG_OF_KIND[kind]
    if not implicit[0]:
        return _TAG_STR
    tag = _RESOLVED.get(value)
    if tag is None:
        tag = yaml.resolver.BaseResolver.resolve(self, kind, value, implicit)
        if len(value) <= 64 and len(_RESOLVED) < _RESOLVED_MAX:
            _RESOLVED[value] = tag
    return tag


ManifestLoader.resolve = _resolve  # type: ignore[method-assign]
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


def load_files(
    files: Iterable[tuple[Path, bool]],
) -> Iterator[tuple[list[Manifest], Notice | None, str]]:
    """Per file (as `find_files` gives them): its objects, a notice when it was skipped or
    not parsed, and its name. A file named on the command line that cannot be read is bad
    input; one found in a folder gives an error notice instead."""
    for path, named in files:
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
    broken: Notice | None = None
    try:
        docs = _documents(text, path)
    except _Unparsed as bad:
        if "{{" in text:
            why = "a template (Go or Helm), not a manifest: render it first (helm template)"
            return [], Notice(name, "skipped", why)
        docs = bad.docs  # the documents before the broken one are still checked
        broken = Notice(name, "error", bad.reason, bad.line)
        if not docs and path.suffix.lower() == ".json":
            with contextlib.suppress(ValueError):  # JSON that YAML 1.1 reads wrong (tabs)
                docs, broken = [(json.loads(text), None, 1)], None
        if not docs:
            return [], broken
    out: list[Manifest] = []
    others: list[tuple[int, str]] = []
    tools: set[str] = set()
    errors: list[tuple[int, str]] = []  # wrong in a way that is never a non-manifest
    for doc, node, line in docs:
        _collect(doc, node, name, line, out, others, tools, errors)
    if broken is not None:  # objects before the break are checked; the break is said
        return out, broken
    others = errors + others
    if out or errors:
        notice = None
        if others:
            line, why = others[0]
            more = f" (and {len(others) - 1} more)" if len(others) > 1 else ""
            notice = Notice(name, "error", f"{why}{more}", line)
        return out, notice
    if tools:
        return [], Notice(name, "skipped", f"{sorted(tools)[0]}, not a cluster object")
    if others and all("must be a mapping" in why for _, why in others):
        why = "holds no Kubernetes object (its documents are lists or text, not mappings)"
        return [], Notice(name, "skipped", why)
    return [], Notice(name, "skipped", "holds no Kubernetes object (no apiVersion and kind)")


class _Unparsed(Exception):
    """A file that stops parsing somewhere, with the documents read before that point."""

    def __init__(
        self, reason: str, line: int, docs: list[tuple[Any, yaml.Node | None, int]] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason, self.line, self.docs = reason, line, docs or []


def _documents(text: str, path: Path) -> list[tuple[Any, yaml.Node | None, int]]:
    """(document, its node, its first line) for every document of the file."""
    loader = ManifestLoader(text)
    docs: list[tuple[Any, yaml.Node | None, int]] = []
    build = _Builder(loader, merges="<<" in text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            docs.append((build.document(node), node, node.start_mark.line + 1))
    except BadScalar as e:
        raise _Unparsed(f"{_column(e, text)}{problem(e)}", _mark_line(e, text), docs) from None
    except yaml.YAMLError as e:
        at = _column(e, text)
        why = f"{at}not valid YAML: {problem(e)}"
        raise _Unparsed(why, _mark_line(e, text), docs) from None
    except RecursionError:  # the pure-Python parser on deep nesting; libyaml stops at 1000
        raise _Unparsed(f"nests deeper than {MAX_DEPTH} levels", 0, docs) from None
    except _Refused as e:
        raise _Unparsed(e.reason, e.line, docs) from None
    finally:
        loader.dispose()
    return docs


class _Refused(Exception):
    def __init__(self, reason: str, node: yaml.Node) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, node.start_mark.line + 1


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_SCALAR, _MAPPING = yaml.ScalarNode, yaml.MappingNode
_KEY_TEXT = {True: "true", False: "false", None: "null"}


class _Builder:
    """Python values from composed nodes, in one walk that also bounds what aliases add.

    PyYAML's constructor plus a separate walk for the bounds took two passes over every
    node; this takes one. Why the bounds: real manifests do use anchors for repeated
    fragments, which is harmless, but an alias is shared when loaded and copied by
    everything after (records, protobuf, JSON), so a "billion laughs" file is cheap to load
    and then exhausts memory. A file may gain at most MAX_ALIASED_NODES nodes through
    aliased collections (over all its documents) and nest at most MAX_DEPTH deep; a
    collection that contains itself is refused. Like kubectl (sigs.k8s.io/yaml, which goes
    through JSON), a mapping key is text: ``80:`` is ``"80"``, ``on:`` is ``"true"``; a
    mapping or sequence is a dict or list whatever its tag.
    """

    def __init__(self, loader: ManifestLoader, *, merges: bool = True) -> None:
        self.loader = loader
        self.merges = merges
        """Whether the text may hold a merge key (``<<``) at all."""
        self.aliased = 0
        self.done: dict[int, tuple[Any, int, int]] = {}
        self.on_path: set[int] = set()

    def document(self, node: yaml.Node) -> Any:
        self.done = {}  # anchors do not cross documents
        return self.build(node, 0)[0]

    def scalar(self, node: yaml.Node) -> Any:
        tag = node.tag
        make = self.loader.yaml_constructors.get(tag)
        if make is None:
            return _untagged(self.loader, tag, node)
        return make(self.loader, node)

    def build(self, node: yaml.Node, depth: int) -> tuple[Any, int, int]:
        """(value, nodes once expanded, levels below) of ``node``."""
        if node.__class__ is _SCALAR:
            return (node.value if node.tag == _STR else self.scalar(node)), 1, 0
        key = id(node)
        hit = self.done.get(key)
        if hit is not None:  # a second reference to a collection: an alias
            self.aliased += hit[1]
            if self.aliased > MAX_ALIASED_NODES:
                raise _Refused(
                    f"YAML aliases expand this file by more than {MAX_ALIASED_NODES} nodes "
                    "(a billion-laughs bomb?); write the repeated parts out",
                    node,
                )
            if depth + hit[2] > MAX_DEPTH:
                raise _Refused(f"nests deeper than {MAX_DEPTH} levels", node)
            return hit
        if key in self.on_path:
            raise _Refused("a YAML alias refers to a collection that contains it", node)
        if depth >= MAX_DEPTH:
            raise _Refused(f"nests deeper than {MAX_DEPTH} levels", node)
        self.on_path.add(key)
        size, height = 1, 0
        obj: Any
        if node.__class__ is _MAPPING:
            if self.merges and any(k.tag == _MERGE for k, _ in node.value):
                self.loader.flatten_mapping(node)
            obj = {}
            for k, v in node.value:
                if k.__class__ is _SCALAR and k.tag == _STR:
                    name = k.value
                else:
                    name = self.build(k, depth + 1)[0]
                    if isinstance(name, dict | list):
                        raise _Refused("a mapping key must be text, not a collection", k)
                    name = (
                        _KEY_TEXT.get(name, name)
                        if isinstance(name, bool) or name is None
                        else str(name)
                    )
                if v.__class__ is _SCALAR:  # most values: no call, no levels below
                    obj[name] = v.value if v.tag == _STR else self.scalar(v)
                    size += 2
                    height = height or 1
                    continue
                value, n, h = self.build(v, depth + 1)
                obj[name] = value
                size += 1 + n
                if h >= height:
                    height = h + 1
        else:
            obj = []
            for v in node.value:
                if v.__class__ is _SCALAR:
                    obj.append(v.value if v.tag == _STR else self.scalar(v))
                    size += 1
                    height = height or 1
                    continue
                value, n, h = self.build(v, depth + 1)
                obj.append(value)
                size += n
                if h >= height:
                    height = h + 1
        self.on_path.discard(key)
        found = (obj, size, height)
        self.done[key] = found
        return found


def _column(exc: yaml.YAMLError, text: str) -> str:
    """``column C: `` of a YAML error (its line is the notice's own), or ''."""
    shown = where(exc, text)
    return f"{shown.split(', ', 1)[1]}: " if ", column" in shown else ""


def _mark_line(exc: yaml.YAMLError, text: str) -> int:
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
    errors: list[tuple[int, str]],
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
    if kind.endswith("List") and "items" in doc and not isinstance(items, list):
        if items is not None:  # kubectl refuses it too; its objects would go unjudged
            errors.append((line, f"line {line}: {kind}.items must be a list of objects"))
        return
    if kind.endswith("List") and isinstance(items, list):
        item_nodes = _value_node(node, "items")
        for i, item in enumerate(items):
            item_node = (
                item_nodes.value[i]
                if isinstance(item_nodes, yaml.SequenceNode) and i < len(item_nodes.value)
                else None
            )
            item_line = item_node.start_mark.line + 1 if item_node is not None else line
            _collect(item, item_node, file, item_line, out, others, tools, errors)
        return
    out.append(Manifest(file, line, doc, node, _span(node)))


def _span(node: yaml.Node | None) -> tuple[int, int]:
    if node is None:
        return (0, 0)
    return (node.start_mark.index - node.start_mark.column, node.end_mark.index)


def _value_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        hit = _mapping_value(node, key)
        return hit[1] if hit is not None else None
    return None
