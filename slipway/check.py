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

import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from slipway.collect import few_collections
from slipway.errors import BadInput
from slipway.manifests import Manifest, load
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


@dataclass
class Judged:
    """Objects read and what the rules said about them."""

    manifests: list[Manifest]
    by_urn: dict[str, Manifest]
    diagnostics: list[Diagnostic]
    files: list[str]
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
    judged = Judged([], {}, [], [])
    for found, notice, name in load(paths):
        if notice is not None:
            judged.notices.append(notice)
        if found:
            judged.manifests.extend(found)
            judged.files.append(name)
    if not judged.manifests:
        shown = ", ".join(str(p) for p in paths) or "(none)"
        raise BadInput(f"no Kubernetes objects (YAML or JSON with apiVersion and kind) in {shown}")
    return judged


# --- the pack, in process ----------------------------------------------------------------

_PACKAGE = "slipway_policy_pack"


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


def judge(records: list[dict], pack: Rules, stack: str) -> list[Diagnostic]:
    """Every resource rule on every record, then every stack rule on all of them."""
    from pulumi_policy import (
        PolicyResource,
        PolicyResourceOptions,
        ResourceValidationArgs,
        StackValidationArgs,
    )
    from pulumi_policy.policy import PolicyCustomTimeouts

    out: list[Diagnostic] = []

    def reporter(policy: str, level: str, default_urn: str) -> Callable[..., None]:
        def report(message: str, urn: str | None = None, *, at: Any = None) -> None:
            out.append(Diagnostic(policy, level, urn or default_urn, message, at))

        report.locates = True  # type: ignore[attr-defined]
        return report

    def options() -> PolicyResourceOptions:
        return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)

    for r in records:
        kind = r["type"]
        for policy, level, config in pack.resource:
            applies = getattr(policy, "applies_to", None)
            if applies is not None and not applies(kind):
                continue
            args = ResourceValidationArgs(
                kind, r["inputs"], r["urn"], r["name"], options(), None, dict(config), {}
            )
            policy.validate(args, reporter(policy.name, level, r["urn"]))
    resources = [
        PolicyResource(r["type"], r["inputs"], r["urn"], r["name"], options(), None, None, [], {})
        for r in records
    ]
    root = stack_urn(stack, CHECK_PROJECT)
    types = {r["type"] for r in records}
    for policy, level, config in pack.stack:
        applies = getattr(policy, "applies_to", None)
        if applies is not None and not any(applies(t) for t in types):
            continue
        args = StackValidationArgs(resources, dict(config), {})
        policy.validate(args, reporter(policy.name, level, root))
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
    with few_collections():
        return _check(paths, stack, config_path, config_file, pack, pack_dir, analyzer)


def _check(
    paths: list[Path],
    stack: str,
    config_path: Path | None,
    config_file: Path,
    pack: Rules,
    pack_dir: Path | None,
    analyzer: bool,
) -> ScanResult:
    judged = read(paths, stack)
    records, by_urn = to_records(judged.manifests, stack)
    if analyzer:
        from slipway.policy import run_pack

        diagnostics = [
            Diagnostic(d.policy, d.level, d.urn, d.message)
            for d in run_pack(
                records, stack, project=CHECK_PROJECT, pack_dir=pack_dir, config_path=config_file
            )
        ]
    else:
        diagnostics = judge(records, pack, stack)
    config_name = str(config_path) if config_path else stack
    findings = place(diagnostics, by_urn, pack)
    return ScanResult(
        config_name, findings, pack.info, len(judged.manifests), judged.files, judged.notices
    )


def place(
    diagnostics: Iterable[Diagnostic], by_urn: dict[str, Manifest], pack: Rules
) -> list[Finding]:
    """Findings with their file, the line of their field, and their exemption if any."""
    findings: set[Finding] = set()
    for d in diagnostics:
        m = by_urn.get(d.urn)
        if m is None:
            findings.add(Finding(d.policy, d.level, d.message, "", 0, STACK_WIDE))
            continue
        line = m.line_of(d.at) if d.at else m.line
        reason = _exempted(pack, m, d.policy)
        findings.add(
            Finding(d.policy, d.level, d.message, m.file, line, m.label, _dotted(d.at), reason)
        )
    return sorted(findings, key=lambda f: (f.file, f.line, f.rule, f.object, f.message))


EXEMPTION_RULE = "exemption-has-reason"
"""The rule that flags an exemption without a reason; it cannot itself be exempted."""


def _exempted(pack: Rules, m: Manifest, rule: str) -> str | None:
    if rule == EXEMPTION_RULE:
        return None
    for e in pack.exemptions(m.obj):
        if e.rule == rule and e.reason:
            return str(e.reason)
    return None


def _dotted(path: tuple[str | int, ...] | None) -> str:
    """``("spec", "containers", 0, "image")`` -> ``spec.containers[0].image``."""
    out = ""
    for step in path or ():
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
