"""Policy results that teach: what to change, where, grouped; and diffs said in words.

A finding names a Kubernetes object or a cloud resource; the person reading it edits a
catalog file or a stack file. `attribute` adds that file, and the field when the rule is
about one the catalog or the stack file sets. `group` folds the same finding on many
resources (one region mistake, fifty identical lines) into one entry. `consequences`
turns a diff that deletes or replaces workloads into sentences.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slipway.errors import BadInput

MICROSERVICE_TYPE = "slipway:apps:Microservice"

CATALOG_FIELDS: dict[str, tuple[str, ...]] = {
    "workload-min-replicas": ("autoscaling.minReplicas", "replicas"),
    "pdb-sanity": ("autoscaling.minReplicas", "replicas"),
    "hpa-sanity": ("autoscaling.minReplicas", "autoscaling.maxReplicas", "autoscaling"),
    "container-resource-requests": ("resources.requests",),
    "container-resource-limits": ("resources.limits",),
    "container-liveness-probe": ("probes.liveness",),
    "container-readiness-probe": ("probes.readiness",),
    "image-no-latest-tag": ("version.tag",),
    "image-digest-pinned": ("version.digest",),
    "image-allowed-registries": ("image",),
    "configmap-no-secrets": ("config",),
    "env-no-literal-secrets": ("config",),
    "workload-no-default-namespace": ("team",),
    "service-no-public-load-balancer": ("public",),
}
"""Rules about a value a service's catalog file sets: the fields that may hold it, most
specific first. The one the file really sets is named, under `environments.<env>.` when the
stack's environment overrides it there."""

STACK_FIELDS: dict[str, str] = {
    "allowed-regions": "slipway:targets[].region (or slipway:allowedRegions)",
    "stack-min-regions": "slipway:targets",
    "route53-failover-health-check": "slipway:dns",
    "eks-private-endpoint": "slipway:targets[].eks",
    "eks-control-plane-logging": "slipway:targets[].eks",
    "eks-secrets-encryption": "slipway:targets[].eks",
    "gke-private-nodes": "slipway:targets[].gke",
    "gke-workload-identity": "slipway:targets[].gke",
    "gke-shielded-nodes": "slipway:targets[].gke",
    "gke-release-channel": "slipway:targets[].gke",
    "gke-binary-authorization": "slipway:targets[].gke",
    "gke-network-policy": "slipway:targets[].gke",
    "gke-secrets-encryption": "slipway:targets[].gke",
}
"""Rules about what a stack file decides, and the key."""


def catalog_files(catalog: Path | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Service name -> (its catalog file relative to the project, the document), read once."""
    from stacks.catalog import load_yaml_document

    out: dict[str, tuple[str, dict[str, Any]]] = {}
    if catalog is None or not catalog.is_dir():
        return out
    for path in sorted(catalog.iterdir()):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            with contextlib.suppress(BadInput):
                doc = load_yaml_document(path)
                if isinstance(doc, dict) and isinstance(doc.get("name"), str):
                    rel = str(path.relative_to(catalog.parent))
                    out.setdefault(doc["name"], (rel, doc))
    return out


def _has(doc: Any, dotted: str) -> bool:
    for key in dotted.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return False
        doc = doc[key]
    return True


def catalog_field(doc: dict[str, Any], candidates: tuple[str, ...], environment: str) -> str:
    """The field to change: an environment override of a candidate first, then a candidate
    the file sets, else the first candidate (the file does not set it: add it)."""
    override = (doc.get("environments") or {}).get(environment)
    for path in candidates:
        if _has(override, path):
            return f"environments.{environment}.{path}"
    for path in candidates:
        if _has(doc, path):
            return path
    return candidates[0]


def owning_service(urn: str, records: Mapping[str, Any]) -> str | None:
    """The catalog service a resource belongs to: the nearest Microservice component above
    it, named `<target>-<service>`. `records` maps URN -> record (`.type`, `.parent`,
    `.name`, `.target`, as `slipway.engine.Record` has them)."""
    node = records.get(urn)
    while node is not None and node.type != MICROSERVICE_TYPE:
        node = records.get(node.parent)
    if node is None:
        return None
    return node.name.removeprefix(f"{node.target}-") if node.target else node.name


def attribute(
    rows: list[dict[str, Any]],
    records: Mapping[str, Any],
    *,
    catalog: Path | None,
    stack_file: str,
    environment: str,
) -> list[dict[str, Any]]:
    """`rows` (policy.json rows) with `file` and, where known, `field` added: the catalog
    file of the owning service, else the stack file for the stack's own resources."""
    files = catalog_files(catalog)
    out = []
    for row in rows:
        row = dict(row)
        service = owning_service(row["urn"], records)
        fld: str | None
        if service is not None and service in files:
            row["file"], doc = files[service]
            candidates = CATALOG_FIELDS.get(row["policy"])
            fld = None
            if row["policy"] in TRACK_RULES:
                track = _track_of(row["urn"], records, service)
                fld = _track_field(doc, track, environment, TRACK_RULES[row["policy"]])
            if fld is None and candidates:
                fld = catalog_field(doc, candidates, environment)
        else:
            row["file"] = stack_file
            fld = STACK_FIELDS.get(row["policy"])
        if fld:
            row["field"] = fld
        out.append(row)
    return out


TRACK_RULES = {"image-no-latest-tag": "tag", "image-digest-pinned": "digest"}
"""Rules about a build that a canary track or a blue-green slot may declare, and the
version field each is about."""


def _track_of(urn: str, records: Mapping[str, Any], service: str) -> str | None:
    """`canary`, `blue` or `green` when the resource is that track's or slot's workload
    (named `<target>-<service>-<track>`)."""
    record = records.get(urn)
    name = str(getattr(record, "name", "") or urn.rsplit("::", 1)[-1])
    track = name.rpartition(f"{service}-")[2]
    return track if track in ("canary", "blue", "green") else None


def _track_field(doc: dict[str, Any], track: str | None, environment: str, key: str) -> str | None:
    """`[environments.<env>.]strategy.<track>.version.<key>` when the file declares a build
    for that track, where it declares it; None otherwise (a slot without a build of its own
    runs the service's version)."""
    if track is None:
        return None
    prefix = "strategy.canary" if track == "canary" else f"strategy.slots.{track}"
    override = (doc.get("environments") or {}).get(environment)
    if _has(override, f"{prefix}.version"):
        return f"environments.{environment}.{prefix}.version.{key}"
    if _has(doc, f"{prefix}.version"):
        return f"{prefix}.version.{key}"
    return None


@dataclass
class Group:
    """One finding on one or more resources."""

    level: str
    policy: str
    message: str
    remediation: str
    resources: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    """`file: field` (or file:line) to change, without repeats."""
    messages: list[str] = field(default_factory=list)
    """Every distinct message of the group, the first being `message`."""


def group(
    rows: Iterable[Mapping[str, Any]], name_of: Any = lambda urn: urn.rsplit("::", 1)[-1]
) -> list[Group]:
    """Rows of one level and rule as one group when they point at the same catalog or stack
    field (one value behind a finding in every target: the messages differ only by the
    target's registry or region), else when their messages are the same; mandatory first."""
    groups: dict[tuple[str, ...], Group] = {}
    for row in rows:
        place = _place(row)
        message = str(row["message"])
        # A catalog or stack field behind findings in several targets is one thing to fix;
        # anything else (a manifest's file:line in `check`) groups by the message.
        by = ("field", place) if row.get("field") else ("message", message)
        key = (str(row["level"]), str(row["policy"]), *by)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(
                key[0], key[1], message, remediation=str(row.get("remediation") or "")
            )
        name = name_of(row["urn"])
        if name not in g.resources:
            g.resources.append(name)
        if message not in g.messages:
            g.messages.append(message)
        if place and place not in g.places:
            g.places.append(place)
    order = {"mandatory": 0, "advisory": 1}
    return sorted(groups.values(), key=lambda g: (order.get(g.level, 2), g.policy, g.message))


def _place(row: Mapping[str, Any]) -> str:
    file = row.get("file")
    if not file:
        return ""
    return f"{file}: {row['field']}" if row.get("field") else str(file)


MAX_MESSAGES = 4
"""Distinct messages shown per group; policy.json keeps every one."""


def finding_lines(groups: list[Group], *, max_names: int = 5) -> list[str]:
    """Plain lines for people and files: no table, nothing cut."""
    lines: list[str] = []
    for g in groups:
        names = ", ".join(g.resources[:max_names])
        if len(g.resources) > max_names:
            names += f" and {len(g.resources) - max_names} more"
        count = f" ({len(g.resources)} resources)" if len(g.resources) > 1 else ""
        lines.append(f"{g.level} {g.policy}{count}: {g.message}")
        for other in g.messages[1:MAX_MESSAGES]:  # other findings on the same field
            lines.append(f"  also: {other}")
        if len(g.messages) > MAX_MESSAGES:
            lines.append(f"  also: {len(g.messages) - MAX_MESSAGES} more messages")
        lines.append(f"  on: {names}")
        if g.places:
            places = ", ".join(g.places[:max_names])
            if len(g.places) > max_names:
                places += f" and {len(g.places) - max_names} more"
            lines.append(f"  change: {places}")
        if g.remediation:
            lines.append(f"  how: {' '.join(g.remediation.split())}")
    return lines


WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Rollout", "Job", "CronJob"})


def consequences(diff: Mapping[str, Any], resources: Iterable[Mapping[str, Any]]) -> list[str]:
    """Sentences for diff entries that stop pods: workloads deleted or replaced, with the
    workloads the same change creates in that namespace (a strategy switch reads as one).
    One sentence per namespace, naming the targets it happens in. `resources` are the
    records of both sides (a deleted one is only in the baseline)."""
    kinds = {r["urn"]: _kind_ns_name(r) for r in resources}
    by_ns: dict[str, dict[str, set[str]]] = {}
    for verb, entries in (
        ("deletes", diff.get("deleted") or []),
        ("replaces", diff.get("replaced") or []),
        ("creates", diff.get("added") or []),
    ):
        for e in entries:
            kind, ns, name = kinds.get(e["urn"]) or _from_urn(e)
            if kind not in WORKLOAD_KINDS:
                continue
            slot = by_ns.setdefault(ns, {"deletes": set(), "replaces": set(), "creates": set()})
            slot[verb].add(f"{kind} {name}")
            slot.setdefault("targets", set()).add(str(e.get("target") or "stack-wide"))
    out = []
    for ns in sorted(by_ns):
        slot = by_ns[ns]
        if not slot["deletes"] and not slot["replaces"]:
            continue
        parts = []
        if slot["deletes"]:
            parts.append(f"deletes {', '.join(sorted(slot['deletes']))} (their pods stop)")
        if slot["replaces"]:
            parts.append(f"replaces {', '.join(sorted(slot['replaces']))} (pods are recreated)")
        if slot["creates"]:
            parts.append(f"creates {', '.join(sorted(slot['creates']))}")
        where = f"namespace {ns}" if ns else "the stack"
        targets = ", ".join(sorted(slot["targets"]))
        out.append(f"in {where} (targets {targets}) this change {'; '.join(parts)}.")
    return out


def _kind_ns_name(record: Mapping[str, Any]) -> tuple[str, str, str]:
    inputs = record.get("inputs") or {}
    meta = inputs.get("metadata") or {}
    return (
        str(inputs.get("kind") or ""),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or record.get("name") or ""),
    )


def _from_urn(entry: Mapping[str, Any]) -> tuple[str, str, str]:
    """Kind and name from a diff entry alone (a deleted resource is not in the new run)."""
    kind = str(entry.get("type", "")).rsplit(":", 1)[-1]
    inputs = entry.get("old") or entry.get("inputs") or {}
    meta = inputs.get("metadata") if isinstance(inputs, Mapping) else None
    if isinstance(meta, Mapping):
        return kind, str(meta.get("namespace") or ""), str(meta.get("name") or entry.get("name"))
    return kind, "", str(entry.get("name", ""))
