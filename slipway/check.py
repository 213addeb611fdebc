"""`slipway check`: the policy pack's rules on plain Kubernetes manifests (raw YAML, Helm
output, a repository's folders).

Each object becomes the resource the Kubernetes provider would register for it (type token
from apiVersion and kind, inputs = the object), and all objects of one run form one made-up
stack, so stack rules (NetworkPolicy and PDB coverage, HPA targets) see them all.

The rules run in this process, called the way the SDK's analyzer calls them (the same
``ResourceValidationArgs`` and ``StackValidationArgs``, the same reconciled config and
enforcement levels): a scanner pays no pack process, no gRPC and no protobuf conversion
per object, which is most of the time on a repository's worth of files.
``check(..., analyzer=True)`` runs the same objects through the pack over its real analyzer
protocol instead (as `slipway preview` and the engine do), and a test holds both to
identical diagnostics on a corpus of public manifests.

In process, rules may say which field is at fault (``report(..., at=path)``), which becomes
the line of a finding; an object's ``slipway.dev/exempt`` annotation turns a finding into
an exempted one, shown with its reason (see ``policies/_base.exemptions``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from slipway.collect import few_collections
from slipway.errors import BadInput
from slipway.forked import Forked, can_fork, cores
from slipway.manifests import Manifest, find_files, load_files
from slipway.policy import (
    PACK_DIR,
    PolicyInfo,
    config_path_for,
    load_policy_config,
    reconcile_config,
    stack_urn,
)
from slipway.scan_types import Finding, Notice, RuleInfo, ScanResult

CHECK_PROJECT = "slipway-check"
STACK_WIDE = "(all objects)"


@dataclass
class Diagnostic:
    """One report of a rule, before it is placed in a file."""

    policy: str
    level: str
    urn: str
    message: str
    at: tuple[str | int, ...] | None = None
    line: int = 0
    """The line of ``at`` once placed (0: not yet)."""


@dataclass
class Judged:
    """Objects read (for `--analyzer`), the files that held them, and the notices."""

    manifests: list[Manifest] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


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


def read(paths: Iterable[Path], stack: str) -> Judged:
    """Every object under ``paths`` with its record; nothing judged yet."""
    judged = Judged()
    for found, notice, name in load_files(find_files(paths)):
        if notice is not None:
            judged.notices.append(notice)
        if found:
            judged.manifests.extend(found)
            judged.files.append(name)
    _refuse_empty(judged.manifests, list(paths), judged.notices)
    return judged


# --- the pack, in process ----------------------------------------------------------------

_PACKAGE = "slipway_policy_pack"
EXCEPTIONS = "exceptions"
"""The config setting every rule takes (`policies/_base.EXCEPTIONS`)."""


def pack_module(pack_dir: Path | None = None) -> ModuleType:
    """The pack folder as a package, loaded as the pack's ``__main__`` loads it (under a
    private name, so its relative imports work), without serving it."""
    here = Path(pack_dir or PACK_DIR).resolve()
    name = _PACKAGE if here == Path(PACK_DIR).resolve() else f"{_PACKAGE}_{abs(hash(here))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, here / "__init__.py", submodule_search_locations=[str(here)]
    )
    if spec is None or spec.loader is None or not (here / "__init__.py").is_file():
        raise BadInput("not a policy pack folder (no __init__.py)", file=str(here))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Rules:
    """The pack's rules with their reconciled config, as the analyzer would run them."""

    resource: list[tuple[Any, str, dict[str, Any]]]
    stack: list[tuple[Any, str, dict[str, Any]]]
    info: dict[str, RuleInfo]
    exemptions: Callable[[Any], list[Any]]


def rules(config_path: Path, pack_dir: Path | None = None) -> Rules:
    """Every rule, its level and its config (schema defaults, then the file: the engine's
    reconciliation); disabled rules are left out as the SDK leaves them out."""
    given = load_policy_config(config_path)
    pack = pack_module(pack_dir)
    policies = pack.all_policies()
    base = sys.modules[f"{pack.__name__}._base"]
    infos = [_info(p) for p in policies]
    config = reconcile_config(infos, {}, given, source=str(config_path))
    out = Rules([], [], {}, base.exemptions)
    for p, info in zip(policies, infos, strict=True):
        level = config[p.name]["enforcementLevel"]
        out.info[p.name] = RuleInfo(
            p.name, info.description, info.remediation, info.severity, level, info.tags
        )
        if level == "disabled":
            continue
        level = "mandatory" if level == "remediate" else level
        entry = (p, level, config[p.name]["properties"])
        (out.stack if info.kind == "stack" else out.resource).append(entry)
    return out


def _info(policy: Any) -> PolicyInfo:
    from pulumi_policy import StackValidationPolicy

    schema = policy.config_schema.properties if policy.config_schema else {}
    return PolicyInfo(
        name=policy.name,
        description=policy.description,
        level=policy.enforcement_level.value,
        kind="stack" if isinstance(policy, StackValidationPolicy) else "resource",
        severity=policy.severity.value if policy.severity else "",
        tags=tuple(policy.tags or ()),
        remediation=policy.remediation_steps or "",
        config_schema=dict(schema),
    )


class _Judge:
    """Calls rules the way the SDK's analyzer does (``Analyze`` and ``AnalyzeStack``)."""

    def __init__(self, pack: Rules) -> None:
        from pulumi_policy import PolicyResourceOptions
        from pulumi_policy.policy import PolicyCustomTimeouts

        self.pack = pack
        self.opts = PolicyResourceOptions(
            False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None
        )
        self.by_type: dict[str, list[tuple[Any, str, dict[str, Any]]]] = {}

    def _for(self, token: str) -> list[tuple[Any, str, dict[str, Any]]]:
        """The resource rules that judge this type (``applies_to``), worked out once."""
        found = self.by_type.get(token)
        if found is None:
            found = self.by_type[token] = [
                entry
                for entry in self.pack.resource
                if getattr(entry[0], "applies_to", None) is None or entry[0].applies_to(token)
            ]
        return found

    @staticmethod
    def _reporter(out: list[Diagnostic], policy: str, level: str, urn: str) -> Callable[..., None]:
        def report(message: str, to: str | None = None, *, at: Any = None) -> None:
            out.append(Diagnostic(policy, level, to or urn, message, at))

        report.locates = True  # type: ignore[attr-defined]
        return report

    def resource(self, r: dict) -> list[Diagnostic]:
        """Every resource rule on one record."""
        from pulumi_policy import ResourceValidationArgs

        out: list[Diagnostic] = []
        token, props, urn, name = r["type"], r["inputs"], r["urn"], r["name"]
        for policy, level, config in self._for(token):
            args = ResourceValidationArgs(
                token, props, urn, name, self.opts, None, dict(config), {}
            )
            policy.validate(args, self._reporter(out, policy.name, level, urn))
        return out

    def stack(self, records: list[dict], stack: str) -> list[Diagnostic]:
        """Every stack rule on all records at once."""
        from pulumi_policy import PolicyResource, StackValidationArgs

        out: list[Diagnostic] = []
        resources = [
            PolicyResource(
                r["type"], r["inputs"], r["urn"], r["name"], self.opts, None, None, [], {}
            )
            for r in records
        ]
        root = stack_urn(stack, CHECK_PROJECT)
        types = {r["type"] for r in records}
        for policy, level, config in self.pack.stack:
            applies = getattr(policy, "applies_to", None)
            if applies is not None and not any(applies(t) for t in types):
                continue
            args = StackValidationArgs(resources, dict(config), {})
            policy.validate(args, self._reporter(out, policy.name, level, root))
        return out


def judge(records: list[dict], pack: Rules, stack: str) -> list[Diagnostic]:
    """Every resource rule on every record, then every stack rule on all of them."""
    judge = _Judge(pack)
    out = [d for r in records for d in judge.resource(r)]
    return out + judge.stack(records, stack)


@dataclass
class FileScan:
    """One file read and its objects judged by the resource rules, as findings."""

    name: str
    notice: Notice | None
    manifests: list[Manifest]
    findings: list[list[Finding]]
    """Per object: its resource rules' findings, placed and exempted where it was read."""


def scan_files(
    files: list[tuple[Path, bool]], pack: Rules, stack: str, judge: _Judge | None = None
) -> list[FileScan]:
    """Read each file and run the resource rules on its objects; a file named on the
    command line that cannot be read is bad input, one found in a folder a notice."""
    judge = judge or _Judge(pack)
    out: list[FileScan] = []
    for found, notice, name in load_files(files):
        records, _ = to_records(found, stack)
        findings = [
            [finding(d, m, pack) for d in judge.resource(r)]
            for m, r in zip(found, records, strict=True)
        ]
        out.append(FileScan(name, notice, found, findings))
    return out


PARALLEL_BYTES = 256 * 1024
"""Input size from which half the files are read and judged in a forked child."""


Lines = Callable[[list[tuple[str, int, tuple[str | int, ...]]]], list[int]]
"""Lines of fields of objects read in the child: (file, span start, path) -> line (0: not
known), answered where their YAML nodes are."""


def _scan_all(
    files: list[tuple[Path, bool]], pack: Rules, stack: str, stack_on: contextlib.ExitStack
) -> tuple[list[FileScan], Lines | None]:
    """`scan_files` over every file, on two cores when there is enough to read; with the
    child, a way to ask it for the lines of fields (it lives until ``stack_on`` closes).

    The two processes share the work as it goes: the files' indexes, largest file first,
    wait in a pipe, and each process takes the next one when it is free (a read of four
    bytes from a pipe is atomic), so neither waits for the other at the end whatever the
    files hold."""
    sizes = []
    for f, _ in files:
        try:
            sizes.append(f.stat().st_size)
        except OSError:
            sizes.append(0)
    if (
        sum(sizes) < PARALLEL_BYTES
        or cores() < 2
        or not can_fork()
        or len(files) * _INDEX > _QUEUE_BYTES
    ):
        return scan_files(files, pack, stack), None
    read_fd, write_fd = os.pipe()
    stack_on.callback(os.close, read_fd)
    order = sorted(range(len(files)), key=lambda i: -sizes[i])
    os.write(write_fd, b"".join(i.to_bytes(_INDEX, "little") for i in order))
    os.close(write_fd)  # both processes read to the end of the queue
    child: Forked[dict[int, FileScan]] = Forked(
        _scan_queue, files, read_fd, pack, stack, True, serve=_lines_of
    )
    stack_on.callback(child.close)
    scans = _scan_queue(files, read_fd, pack, stack, False)
    scans.update(child.result())
    return [scans[i] for i in range(len(files))], child.ask


_INDEX = 4
"""Bytes of one file index in the work queue."""
_QUEUE_BYTES = 60_000
"""The queue is written whole before the child starts: it must fit a pipe's buffer (64 KiB
on Linux); more files than that are read in one process."""


def _scan_queue(
    files: list[tuple[Path, bool]], queue: int, pack: Rules, stack: str, child: bool
) -> Any:
    """Scan the files whose indexes this process takes from the queue. In the child:
    (scans without YAML nodes, to send; its objects by place, kept for `_lines_of`)."""
    scans: dict[int, FileScan] = {}
    judge = _Judge(pack)
    while len(data := os.read(queue, _INDEX)) == _INDEX:
        i = int.from_bytes(data, "little")
        [scans[i]] = scan_files([files[i]], pack, stack, judge)
    if not child:
        return scans
    kept = {(m.file, m.span[0]): m for s in scans.values() for m in s.manifests}
    light = {
        i: dataclasses.replace(s, manifests=[_without_node(m) for m in s.manifests])
        for i, s in scans.items()
    }
    return light, kept


def _without_node(m: Manifest) -> Manifest:
    return dataclasses.replace(m, node=None)


def _lines_of(
    kept: dict[tuple[str, int], Manifest], queries: list[tuple[str, int, tuple[str | int, ...]]]
) -> list[int]:
    out = []
    for file, start, path in queries:
        m = kept.get((file, start))
        out.append(m.line_of(path) if m is not None else 0)
    return out


def check(
    paths: Iterable[Path],
    *,
    stack: str = "prod",
    config_path: Path | None = None,
    pack_dir: Path | None = None,
    analyzer: bool = False,
) -> ScanResult:
    """Read every object under ``paths`` and judge them together with the stack's config.

    ``analyzer``: run the pack over its analyzer protocol (slower; no field lines)."""
    paths = list(paths)
    config_file = Path(config_path) if config_path else config_path_for(stack, pack_dir)
    pack = rules(config_file, pack_dir)  # a bad config is bad input before any file is read
    config_name = str(config_path) if config_path else stack
    with few_collections(), contextlib.ExitStack() as stack_on:
        if analyzer:
            return _check_over_analyzer(paths, stack, config_name, config_file, pack, pack_dir)
        scans, lines = _scan_all(find_files(paths), pack, stack, stack_on)
        manifests = [m for s in scans for m in s.manifests]
        notices = [s.notice for s in scans if s.notice is not None]
        _refuse_empty(manifests, paths, notices)
        records, by_urn = to_records(manifests, stack)
        judge = _Judge(pack)
        # A resource's name reaches a rule only through its config's `exceptions`
        # (`_base.excepted`); without any, a copy's findings are the first copy's.
        names_matter = any(config.get(EXCEPTIONS) for _, _, config in pack.resource)
        findings: set[Finding] = set()
        alone = iter([f for s in scans for f in s.findings])
        for r, m in zip(records, manifests, strict=True):
            found = next(alone)
            if names_matter and r["urn"].rpartition("#")[1]:  # a copy: rules see its name
                # (its lines are the ones placed where the file was read: a child's
                # objects come back without their YAML nodes)
                lines = {f.field: f.line for f in found}
                found = []
                for d in judge.resource(r):
                    d.line = lines.get(_dotted(d.at), 0)
                    found.append(finding(d, m, pack))
            findings.update(found)
        findings.update(place(judge.stack(records, stack), by_urn, pack, lines))
        files = [s.name for s in scans if s.manifests]
        ordered = sorted(findings, key=_finding_order)
        return ScanResult(config_name, ordered, pack.info, len(manifests), files, notices)


def _refuse_empty(manifests: list[Manifest], paths: list[Path], notices: list[Notice]) -> None:
    """Nothing to judge is bad input: the first file that could not be read says why (with
    its line), else the first file named that holds no object, else what was searched."""
    if manifests:
        return
    named = {str(p) for p in paths}
    errors = [n for n in notices if n.kind == "error"]
    skipped = [n for n in notices if n.kind == "skipped" and n.file in named]
    if errors or skipped:
        first = (errors or skipped)[0]
        others = len(errors or skipped) - 1
        more = f" (and {others} more files)" if others else ""
        at = f"line {first.line}, " if first.line and first.reason.startswith("column ") else ""
        at = at or (f"line {first.line}: " if first.line else "")
        raise BadInput(f"{at}{first.reason}{more}; no Kubernetes object to check", file=first.file)
    shown = ", ".join(str(p) for p in paths) or "(none)"
    raise BadInput(f"no Kubernetes objects (YAML or JSON with apiVersion and kind) in {shown}")


def _check_over_analyzer(
    paths: list[Path],
    stack: str,
    config_name: str,
    config_file: Path,
    pack: Rules,
    pack_dir: Path | None,
) -> ScanResult:
    """The same objects through the pack over its analyzer protocol (no field lines)."""
    from slipway.policy import run_pack

    judged = read(paths, stack)
    records, by_urn = to_records(judged.manifests, stack)
    diagnostics = [
        Diagnostic(d.policy, d.level, d.urn, d.message)
        for d in run_pack(
            records, stack, project=CHECK_PROJECT, pack_dir=pack_dir, config_path=config_file
        )
    ]
    findings = place(diagnostics, by_urn, pack)
    return ScanResult(
        config_name, findings, pack.info, len(judged.manifests), judged.files, judged.notices
    )


def place(
    diagnostics: Iterable[Diagnostic],
    by_urn: dict[str, Manifest],
    pack: Rules,
    lines: Lines | None = None,
) -> list[Finding]:
    """Findings with their file, the line of their field, and their exemption if any.

    An object read in the child has no YAML node here: the child answers for the lines of
    its objects' fields (``lines``, one round trip)."""
    diagnostics = list(diagnostics)
    unplaced = [
        d
        for d in diagnostics
        if not d.line and d.at and (m := by_urn.get(d.urn)) is not None and m.node is None
    ]
    if unplaced and lines is not None:
        asked = [(by_urn[d.urn].file, by_urn[d.urn].span[0], tuple(d.at or ())) for d in unplaced]
        for d, line in zip(unplaced, lines(asked), strict=True):
            d.line = line
    findings: set[Finding] = set()
    for d in diagnostics:
        m = by_urn.get(d.urn)
        if m is None:
            findings.add(Finding(d.policy, d.level, d.message, "", 0, STACK_WIDE))
            continue
        findings.add(finding(d, m, pack))
    return sorted(findings, key=_finding_order)


def _finding_order(f: Finding) -> tuple[str, int, str, str, str]:
    return (f.file, f.line, f.rule, f.object, f.message)


def finding(d: Diagnostic, m: Manifest, pack: Rules) -> Finding:
    """A rule's report on object ``m`` as a finding: the line of its field (``d.line`` when
    already placed), the object's label, and its exemption if the object records one."""
    line = d.line or (m.line_of(d.at) if d.at else m.line)
    reason = _exempted(pack, m, d.policy)
    return Finding(d.policy, d.level, d.message, m.file, line, m.label, _dotted(d.at), reason)


EXEMPTION_RULE = "exemption-has-reason"
"""The rule that flags an exemption without a reason; it cannot itself be exempted."""


def _exempted(pack: Rules, m: Manifest, rule: str) -> str | None:
    if rule == EXEMPTION_RULE or not _annotated(m):
        return None
    for e in pack.exemptions(m.obj):
        if e.rule == rule and e.reason:
            return str(e.reason)
    return None


def _annotated(m: Manifest) -> bool:
    """Whether the object has annotations at all (most findings are on objects without)."""
    meta = m.obj.get("metadata")
    return isinstance(meta, dict) and bool(meta.get("annotations"))


def _dotted(path: tuple[str | int, ...] | None) -> str:
    """``("spec", "containers", 0, "image")`` -> ``spec.containers[0].image``."""
    out = ""
    for step in path or ():
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
