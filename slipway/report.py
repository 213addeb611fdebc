"""Renderings of a diff: the terminal table, JSON, and markdown for a pull-request comment.

Reviewers read a pull request's infrastructure change from one sticky comment, so the markdown
is built for GitHub: a summary line per stack (`+added ~updated ±replaced -deleted`), a section
per target, property-level changes folded in `<details>`, the policy results, and a Mermaid
topology (targets → clusters → namespaces → services, with each service's strategy and active
slot). Output is deterministic: the same inputs give the same bytes, so an unchanged comment is
not rewritten.

Every value that comes from input (names, types, targets, paths, config values, policy ids and
messages) is data, never markup: in markdown it sits in a code span whose fence no backtick run
inside it can close (so no link, image, HTML, mention or issue reference can come out of it), in
HTML as escaped text inside `<code>`, in Mermaid as a quoted label with only plain characters
left as they are, and in the terminal table as rich `Text` (no console markup).
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from rich.table import Table
from rich.text import Text

from slipway.diff import OPTION_PROVIDER, summary

KINDS = ("added", "updated", "replaced", "deleted")
"""Reading order of summaries and tables: `+created ~updated ±replaced -deleted`."""
SYMBOL = {"added": "+", "updated": "~", "replaced": "±", "deleted": "-"}
VERB = {"added": "create", "updated": "update", "replaced": "replace", "deleted": "delete"}
STYLE = {"added": "green", "updated": "yellow", "replaced": "magenta", "deleted": "red"}

STACK_WIDE = "stack-wide"
"""Section name for resources that belong to no target (global DNS, stack-level policies)."""

MAX_VALUE_CHARS = 120
"""A value longer than this is cut in tables; diff.json keeps it whole."""

DETAIL_BUDGET_CHARS = 20_000
"""Property details beyond this many characters are left to diff.json: a GitHub comment holds
at most 65,536 characters, and the comment carries every stack."""

CLUSTER_TYPES = ("aws:eks/cluster:Cluster", "gcp:container/cluster:Cluster")
WORKLOAD_TYPES = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:argoproj.io/v1alpha1:Rollout",
)
SERVICE_LABELS = ("app.kubernetes.io/name", "app")
ROUTE_KINDS = ("VirtualService", "HTTPRoute")


# --- terminal ------------------------------------------------------------------------------------


def summary_line(diff: dict) -> str:
    """`+N ~N ±N -N`: created, updated, replaced, deleted."""
    counts = summary(diff)
    return " ".join(f"{SYMBOL[k]}{counts[k]}" for k in KINDS)


def diff_table(diff: dict) -> Table:
    """A rich table of the diff, one row per resource, replacements with their cause."""
    table = Table(title=f"Changes {summary_line(diff)}", title_justify="left")
    table.add_column("", no_wrap=True)
    for col in ("Target", "Type", "Name", "Changes"):
        table.add_column(col, overflow="fold")  # folded, never cut with an ellipsis
    for kind, entry in _rows(diff):
        table.add_row(
            Text(f"{SYMBOL[kind]} {VERB[kind]}", style=STYLE[kind]),
            Text(str(entry.get("target") or STACK_WIDE)),
            Text(str(entry["type"])),
            Text(str(entry["name"])),
            Text(_brief(kind, entry)),
        )
    if not table.rows:
        table.add_row("", "", "", "", "no changes")
    return table


def diff_lines(diff: dict) -> list[str]:
    """The diff as plain lines (for files, pipes and CI logs): one per resource, whole."""
    rows = _rows(diff)
    if not rows:
        return ["no changes"]
    out = []
    for kind, entry in rows:
        brief = _brief(kind, entry, _all_paths=True)
        line = (
            f"{SYMBOL[kind]} {VERB[kind]} {entry.get('target') or STACK_WIDE} "
            f"{entry['type']} {entry['name']}"
        )
        out.append(f"{line}: {_one_line(brief)}" if brief else line)
    return out


def to_json(diff: dict) -> str:
    """The diff as stable, indented JSON (what `diff.json` holds)."""
    return json.dumps(diff, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- markdown ------------------------------------------------------------------------------------


def to_markdown(
    stack: str,
    diff: dict,
    diagnostics: list[dict] | None,
    resources: list[dict],
    *,
    detail_budget: int = DETAIL_BUDGET_CHARS,
) -> str:
    """One stack's part of the pull-request comment (GitHub-flavoured markdown + Mermaid).

    `resources` are the new preview's records (for the topology); `diagnostics` the policy
    results (`policy`, `level`, `urn`, `message`), or None when policies did not run.
    Several stacks' parts concatenate into one comment (the preview workflow does that).
    """
    counts = summary(diff)
    lines = [
        f"### Stack {_code(stack, cell=False)}: `{summary_line(diff)}`",
        "",
        f"{counts['added']} to create, {counts['updated']} to update, "
        f"{counts['replaced']} to replace, {counts['deleted']} to delete"
        + (f" · {_policy_headline(diagnostics)}" if diagnostics is not None else ""),
        "",
    ]
    by_target: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for kind, entry in _rows(diff):
        by_target[entry.get("target") or STACK_WIDE].append((kind, entry))
    if not by_target:
        lines += ["No infrastructure changes.", ""]
    budget = [detail_budget]
    for target in sorted(by_target, key=lambda t: (t == STACK_WIDE, t)):
        lines += _target_section(target, by_target[target], budget)
    lines += _policy_section(diagnostics)
    lines += _topology_section(resources, diff)
    return "\n".join(lines).rstrip() + "\n"


def _target_section(target: str, rows: list[tuple[str, dict]], budget: list[int]) -> list[str]:
    counts = defaultdict(int)
    for kind, _ in rows:
        counts[kind] += 1
    title = (
        "Stack-wide resources" if target == STACK_WIDE else f"Target {_code(target, cell=False)}"
    )
    line = " ".join(f"{SYMBOL[k]}{counts[k]}" for k in KINDS)
    out = [
        f"#### {title}: `{line}`",
        "",
        "| | Type | Name | Changes |",
        "| --- | --- | --- | --- |",
    ]
    for kind, entry in rows:
        out.append(
            f"| {SYMBOL[kind]} {VERB[kind]} | {_code(entry['type'])} | {_code(entry['name'])} "
            f"| {_brief(kind, entry, code=_code)} |"
        )
    out.append("")
    detailed = [(k, e) for k, e in rows if e.get("changes")]
    if detailed:
        where = "stack-wide resources" if target == STACK_WIDE else _html_code(target)
        out += [
            "<details>",
            f"<summary>Property changes in {where} "
            f"({sum(len(e['changes']) for _, e in detailed)})</summary>",
            "",
        ]
        shown = 0
        for kind, entry in detailed:
            block = _detail_block(kind, entry)
            size = sum(len(x) + 1 for x in block)
            if size > budget[0]:
                break
            budget[0] -= size
            out += block
            shown += 1
        if shown < len(detailed):
            out += [
                f"_{len(detailed) - shown} more changed resources are not shown here: "
                f"see the `diff.json` artifact._",
                "",
            ]
        out += ["</details>", ""]
    return out


def _detail_block(kind: str, entry: dict) -> list[str]:
    head = (
        f"**{SYMBOL[kind]} {_code(entry['name'], cell=False)}** "
        f"({_code(entry['type'], cell=False)})"
    )
    if kind == "replaced":
        head += f": replaced because {_code(entry['reason'], cell=False)} changed"
    if entry.get("old_urn"):
        head += f", formerly {_code(entry['old_urn'], cell=False)}"
    out = [head, "", "| Property | Old | New |", "| --- | --- | --- |"]
    for change in entry["changes"]:
        out.append(
            f"| {_code(change['path'])} | {_value(change['old'])} | {_value(change['new'])} |"
        )
    out.append("")
    return out


# --- policy --------------------------------------------------------------------------------------


_LEVEL_ORDER = {"mandatory": 0, "advisory": 1}


def _policy_headline(diagnostics: list[dict]) -> str:
    mandatory = sum(1 for d in diagnostics if d.get("level") == "mandatory")
    advisory = len(diagnostics) - mandatory
    if not diagnostics:
        return "policy: no findings"
    return f"policy: {mandatory} mandatory, {advisory} advisory"


def _level(level: Any) -> str:
    """A known level as a word; anything else is shown as the value it is."""
    return level if level in _LEVEL_ORDER else _code(level)


def _policy_section(diagnostics: list[dict] | None) -> list[str]:
    if diagnostics is None:
        return []
    out = ["#### Policy results", ""]
    if not diagnostics:
        return [*out, "No policy findings.", ""]
    mandatory = [d for d in diagnostics if d.get("level") == "mandatory"]
    out += [
        f"{'⛔' if mandatory else '⚠️'} {len(mandatory)} mandatory, "
        f"{len(diagnostics) - len(mandatory)} advisory"
        + (" (mandatory findings block `pulumi up`)" if mandatory else ""),
        "",
        "| Level | Policy | Resources | Message | Fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    from slipway.findings import MAX_MESSAGES, group

    for g in group(diagnostics, name_of=lambda urn: _urn_name(str(urn or "")) or "(stack)"):
        names = ", ".join(_code(n) for n in g.resources[:3])
        if len(g.resources) > 3:
            names += f" (+{len(g.resources) - 3} more)"
        fix = "; ".join(_code(place) for place in g.places)
        if g.remediation:
            fix = f"{fix}: {_code(g.remediation)}" if fix else _code(g.remediation)
        shown = g.messages[:MAX_MESSAGES]
        messages = "; ".join(_code(m) for m in shown)
        if len(g.messages) > len(shown):
            messages += f" (+{len(g.messages) - len(shown)} more)"
        out.append(f"| {_level(g.level)} | {_code(g.policy)} | {names} | {messages} | {fix} |")
    out.append("")
    return out


# --- topology ------------------------------------------------------------------------------------


def _topology_section(resources: list[dict], diff: dict) -> list[str]:
    graph = topology(resources)
    if not graph:
        return []
    touched = _touched_services(resources, diff)
    out = ["<details open>", "<summary>Topology</summary>", "", "```mermaid", "flowchart LR"]
    edges: list[str] = []
    classes: dict[str, list[str]] = defaultdict(list)
    for ti, (target, clusters) in enumerate(sorted(graph.items())):
        tid = f"t{ti}"
        out.append(f'  {tid}["{_mm(target)}"]')
        for ci, (cluster, namespaces) in enumerate(sorted(clusters.items())):
            cid = f"{tid}c{ci}"
            out.append(f'  {cid}[["{_mm(cluster)}"]]')
            edges.append(f"  {tid} --> {cid}")
            for ni, (namespace, services) in enumerate(sorted(namespaces.items())):
                nid = f"{cid}n{ni}"
                out.append(f'  {nid}["ns {_mm(namespace)}"]')
                edges.append(f"  {cid} --> {nid}")
                for si, (service, info) in enumerate(sorted(services.items())):
                    sid = f"{nid}s{si}"
                    out.append(f'  {sid}(["{_mm(service)}<br/>{_mm(info)}"])')
                    edges.append(f"  {nid} --> {sid}")
                    mark = touched.get((target, namespace, service))
                    if mark:
                        classes[mark].append(sid)
    out += edges
    if classes:
        out += [
            "  classDef added fill:#dafbe1,stroke:#1a7f37",
            "  classDef changed fill:#fff8c5,stroke:#9a6700",
        ]
        for name in sorted(classes):
            out.append(f"  class {','.join(classes[name])} {name}")
    out += ["```", "", "</details>", ""]
    return out


def topology(resources: list[dict]) -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    """target -> cluster -> namespace -> service -> "strategy" text, from preview records."""
    clusters: dict[str, str] = {}
    contexts: dict[str, str] = {}
    for r in sorted(resources, key=lambda r: r.get("urn", "")):
        target = r.get("target")
        if not target:
            continue
        inputs = r.get("inputs") or {}
        if r.get("type") in CLUSTER_TYPES:
            clusters.setdefault(target, _cloud(r) + " " + str(inputs.get("name") or r["name"]))
        elif r.get("type") == "pulumi:providers:kubernetes" and inputs.get("context"):
            contexts.setdefault(target, f"context {inputs['context']}")

    services = _services(resources)
    graph: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for (target, namespace, service), info in services.items():
        cluster = clusters.get(target) or contexts.get(target) or "cluster"
        graph.setdefault(target, {}).setdefault(cluster, {}).setdefault(namespace, {})[service] = (
            info
        )
    for target, cluster in {**contexts, **clusters}.items():
        graph.setdefault(target, {}).setdefault(cluster, {})
    return graph


def _cloud(record: dict) -> str:
    return "EKS" if record["type"].startswith("aws:") else "GKE"


def _services(resources: list[dict]) -> dict[tuple[str, str, str], str]:
    """(target, namespace, service) -> strategy text."""
    workloads: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    live_selectors: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    weights: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for r in resources:
        target = r.get("target")
        if not target:
            continue
        inputs = r.get("inputs") or {}
        meta = inputs.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        type_ = r.get("type", "")
        if type_ in WORKLOAD_TYPES:
            key = (target, namespace, _service_name(meta, r["name"]))
            workloads[key].append(r)
        elif type_ == "kubernetes:core/v1:Service":
            selector = (inputs.get("spec") or {}).get("selector") or {}
            name = str(meta.get("name") or r["name"])
            if "slot" in selector and not name.endswith("-preview"):
                svc = _service_name(meta, name)
                live_selectors[(target, namespace, svc)].append(selector)
        elif type_.rsplit(":", 1)[-1] in ROUTE_KINDS:
            svc = _service_name(meta, str(meta.get("name") or r["name"]))
            split = _route_weights(inputs.get("spec") or {})
            if split:
                weights[(target, namespace, svc)].append(split)
    out: dict[tuple[str, str, str], str] = {}
    for key, items in workloads.items():
        out[key] = _strategy(items, live_selectors.get(key, []), weights.get(key, []))
    return out


def _service_name(meta: dict, fallback: str) -> str:
    labels = meta.get("labels") or {}
    for label in SERVICE_LABELS:
        if labels.get(label):
            return str(labels[label])
    return re.sub(r"-(blue|green|canary|stable|preview)$", "", str(meta.get("name") or fallback))


def _strategy(workloads: list[dict], selectors: list[dict], weights: list[str]) -> str:
    if any(w["type"].endswith(":Rollout") for w in workloads):
        return "progressive (Argo Rollouts)"
    slots = sorted(
        {
            str(((w.get("inputs") or {}).get("metadata") or {}).get("labels", {}).get("slot"))
            for w in workloads
        }
        - {"None"}
    )
    if slots:
        active = sorted({str(s["slot"]) for s in selectors})
        text = "blue-green"
        return f"{text}, active {'/'.join(active)}" if active else text
    if weights:
        return f"canary {'; '.join(sorted(weights))}"
    kinds = sorted({w["type"].rsplit(":", 1)[-1] for w in workloads})
    return "rolling" if kinds == ["Deployment"] else ", ".join(k.lower() for k in kinds)


def _route_weights(spec: dict) -> str:
    """`stable 90 / canary 10` from an Istio VirtualService or a Gateway API HTTPRoute."""
    parts: list[str] = []
    for rule in (spec.get("http") or []) + (spec.get("rules") or []):
        refs = (rule.get("route") or []) + (rule.get("backendRefs") or [])
        if len(refs) < 2:
            continue
        for ref in refs:
            dest = ref.get("destination") or {}
            label = dest.get("subset") or dest.get("host") or ref.get("name") or "?"
            parts.append(f"{label} {_num(ref.get('weight', 0))}")
        break
    return " / ".join(parts)


def _touched_services(resources: list[dict], diff: dict) -> dict[tuple[str, str, str], str]:
    """(target, namespace, service) -> "added" when all its changes are creations, else
    "changed"; services with no change are left out."""
    kind_by_urn = {e["urn"]: k for k in ("added", "updated", "replaced") for e in diff.get(k, [])}
    kinds: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in resources:
        kind = kind_by_urn.get(r.get("urn", ""))
        if not kind or not r.get("target"):
            continue
        meta = (r.get("inputs") or {}).get("metadata") or {}
        labels = meta.get("labels") or {}
        if not any(labels.get(label) for label in SERVICE_LABELS):
            continue
        key = (r["target"], meta.get("namespace") or "default", _service_name(meta, r["name"]))
        kinds[key].add(kind)
    return {key: "added" if k == {"added"} else "changed" for key, k in kinds.items()}


# --- shared helpers ------------------------------------------------------------------------------


def _rows(diff: dict) -> list[tuple[str, dict]]:
    rows = [(k, e) for k in KINDS for e in diff.get(k) or []]
    rows.sort(key=lambda ke: (ke[1].get("target") or "~", KINDS.index(ke[0]), ke[1]["urn"]))
    return rows


def _brief(
    kind: str, entry: dict, code: Callable[[str], str] = str, *, _all_paths: bool = False
) -> str:
    """The Changes column; `code` formats each property path (a code span in markdown).
    Tables and comments show three paths; plain lines show them all."""
    if kind == "replaced":
        return f"replace: {code(entry['reason'])} changed"
    if kind != "updated":
        return ""
    paths = list(dict.fromkeys(c["path"] for c in entry.get("changes", [])))
    shown = paths if _all_paths else paths[:3]
    text = ", ".join(code(p) for p in shown)
    if len(paths) > len(shown):
        text += f" (+{len(paths) - len(shown)} more)"
    if OPTION_PROVIDER in paths:
        text += " (provider)"
    return text


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _one_line(text: str) -> str:
    """Whitespace runs (newlines included) as one space: a table row or heading is one line."""
    return " ".join(str(text).split())


_BACKTICKS = re.compile(r"`+")


def _code(text: Any, *, cell: bool = True) -> str:
    """`text` as one code span that nothing inside it can end (CommonMark code spans).

    The fence is one backtick longer than the longest run inside, and padded with a space
    when the text holds a backtick (one space each side is stripped again by the renderer).
    In a table `cell`, `|` is escaped: GFM splits cells before it parses code spans.
    """
    text = _one_line(text)
    if not text:
        return "` `"
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    if cell:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def _html_code(text: Any) -> str:
    """A value inside a raw HTML line (`<summary>`): escaped, in `<code>` like a code span."""
    return f"<code>{html.escape(_one_line(text))}</code>"


def _value(value: Any) -> str:
    if value is None:
        return "_(none)_"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return _code(text)


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_MERMAID_NAMED = {'"': "#quot;", "<": "#lt;", ">": "#gt;"}
_MERMAID_PLAIN = re.compile(r"[A-Za-z0-9 ._,:/()+=@-]")


def _mm(text: Any) -> str:
    """Text safe inside a quoted Mermaid label: one line, and every character outside a
    small plain set written as a Mermaid entity code (`#quot;`, `#35;`), so no quote ends
    the label, no backtick starts a markdown label, no `%%` makes a directive or comment,
    and no `<` makes HTML."""
    return "".join(
        c if _MERMAID_PLAIN.fullmatch(c) else _MERMAID_NAMED.get(c, f"#{ord(c)};")
        for c in _one_line(text)
    )
