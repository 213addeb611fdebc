"""What the runbooks and the tutorial name must exist: namespaces, workloads, labels, services.

A cluster command in a runbook cannot run here, but the objects it names can be checked: every
`-n NAMESPACE`, `-l key=value`, `deployment/NAME`, `get KIND NAME` and `kubectl argo rollouts
... NAME` of a block must exist in the manifests `slipway preview` renders for the stacks the
block is meant for. Those are the stacks of its `<!-- stack: ... -->` marker, else the stacks
the block itself names (`--stack S`, `-s S`, `slipway preview|deploy S`), else every stack: an
alert can fire in any of them. Words holding `<`, `$` or `{` are placeholders and skipped.

The claims about diffs are asserted by tests/test_docs.py (`<!-- expect-diff: ... -->`).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field

import pytest
import yaml

from tests.test_docs import REPO, Block, parse_blocks

STACKS = ("dev", "staging", "prod")
CHECKED_DOCS = [*sorted((REPO / "docs" / "runbooks").glob("*.md")), REPO / "docs" / "tutorial.md"]

KINDS = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "rollout": "Rollout",
    "rollouts": "Rollout",
    "ro": "Rollout",
    "service": "Service",
    "services": "Service",
    "svc": "Service",
    "servicemonitor": "ServiceMonitor",
    "servicemonitors": "ServiceMonitor",
    "prometheusrule": "PrometheusRule",
    "configmap": "ConfigMap",
    "cm": "ConfigMap",
    "secret": "Secret",
    "hpa": "HorizontalPodAutoscaler",
    "pdb": "PodDisruptionBudget",
    "networkpolicy": "NetworkPolicy",
    "netpol": "NetworkPolicy",
    "externalsecret": "ExternalSecret",
}
"""kubectl resource words -> the kind slipway renders (pods and replica sets are not rendered)."""


@dataclass
class Rendered:
    """The objects of one stack, over all its targets."""

    namespaces: set[str] = field(default_factory=set)
    objects: set[tuple[str, str, str]] = field(default_factory=set)
    labels: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def add(self, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "Namespace":
            self.namespaces.add(meta["name"])
            return
        ns = meta.get("namespace", "")
        self.objects.add((ns, obj.get("kind", ""), meta.get("name", "")))
        self.labels.setdefault(ns, []).append(meta.get("labels") or {})
        template = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
        if template.get("labels"):
            self.labels[ns].append(template["labels"])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Rendered]:
    """Every stack rendered once, offline, as the docs' reader would render it."""
    out: dict[str, Rendered] = {}
    for stack in STACKS:
        dest = tmp_path_factory.mktemp("render") / stack
        subprocess.run(
            [str(REPO / ".venv" / "bin" / "slipway"), "preview", stack, "--out", str(dest)],
            cwd=REPO,
            check=True,
            capture_output=True,
            timeout=300,
        )
        r = Rendered()
        for f in sorted((dest / "manifests").rglob("*.yaml")):
            for obj in yaml.safe_load_all(f.read_text()):
                if isinstance(obj, dict):
                    r.add(obj)
        out[stack] = r
    return out


def block_stacks(block: Block) -> tuple[str, ...]:
    """The stacks a block's cluster commands are meant for."""
    if block.stacks:
        return tuple(s for s in STACKS if s in block.stacks)
    named: set[str] = set()
    for words in _lines(block.code):
        for i, w in enumerate(words[:-1]):
            if w in ("--stack", "-s") or (
                w in ("preview", "deploy") and i and "slipway" in words[i - 1]
            ):
                named.add(words[i + 1])
    return tuple(s for s in STACKS if s in named) or STACKS


def _lines(code: str) -> list[list[str]]:
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if words:
            out.append(words)
    return out


@dataclass(frozen=True)
class Ref:
    """One thing a kubectl line names."""

    namespace: str | None
    kind: str | None = None
    name: str | None = None
    labels: tuple[tuple[str, str], ...] = ()


def kubectl_refs(code: str) -> list[Ref]:
    """The namespaces, objects and label selectors named by a block's kubectl lines."""
    refs: list[Ref] = []
    for words in _lines(code):
        if "kubectl" not in words:
            continue
        words = words[words.index("kubectl") + 1 :]
        if any(c in w for w in words for c in "<${"):
            continue
        ns = None
        labels: list[tuple[str, str]] = []
        rest: list[str] = []
        i = 0
        while i < len(words):
            w = words[i]
            if w in ("-n", "--namespace") and i + 1 < len(words):
                ns = words[i + 1]
                i += 2
                continue
            if w in ("-l", "--selector") and i + 1 < len(words):
                labels += [tuple(kv.split("=", 1)) for kv in words[i + 1].split(",") if "=" in kv]
                i += 2
                continue
            if w.startswith("-"):
                i += 1 + (w in ("-o", "--since", "--tail", "--timeout", "--sort-by"))
                continue
            rest.append(w)
            i += 1
        found: list[Ref] = [Ref(ns, labels=tuple(labels))]
        for w in rest:
            if "/" in w and w.split("/", 1)[0].lower() in KINDS:
                kind, name = w.split("/", 1)
                found.append(Ref(ns, KINDS[kind.lower()], name))
        if rest[:2] == ["argo", "rollouts"] and len(rest) >= 4:
            name = rest[4] if rest[2] == "get" and len(rest) > 4 else rest[3]
            found.append(Ref(ns, "Rollout", name))
        elif rest[:1] in (["get"], ["describe"]) and len(rest) >= 3 and rest[1].lower() in KINDS:
            found.append(Ref(ns, KINDS[rest[1].lower()], rest[2]))
        refs += found
    return refs


def missing(ref: Ref, r: Rendered) -> str | None:
    """Why `ref` does not hold in one rendered stack, or None."""
    if ref.namespace is not None and ref.namespace not in r.namespaces:
        return f"namespace {ref.namespace}"
    if ref.kind and not any(
        (ref.namespace in (None, ns)) and kind == ref.kind and name == ref.name
        for ns, kind, name in r.objects
    ):
        return f"{ref.kind} {ref.name} in namespace {ref.namespace}"
    if ref.labels:
        pools = [r.labels.get(ref.namespace, [])] if ref.namespace else list(r.labels.values())
        if not any(all(lab.get(k) == v for k, v in ref.labels) for pool in pools for lab in pool):
            return f"an object labelled {dict(ref.labels)} in namespace {ref.namespace}"
    return None


def cluster_blocks() -> list[Block]:
    return [
        b for doc in CHECKED_DOCS for b in parse_blocks(doc, doc.read_text()) if "kubectl" in b.code
    ]


# ---- the guard's own parsing


def test_kubectl_refs_read_namespaces_objects_and_labels():
    code = (
        "kubectl -n commerce rollout restart deployment/orders-blue deployment/orders-green\n"
        "kubectl argo rollouts get rollout inventory -n commerce --watch\n"
        "kubectl -n commerce get servicemonitor orders -o yaml\n"
        "kubectl -n shop get pods -l app.kubernetes.io/name=orders\n"
        "kubectl -n <namespace> get pods\n"
    )
    assert kubectl_refs(code) == [
        Ref("commerce"),
        Ref("commerce", "Deployment", "orders-blue"),
        Ref("commerce", "Deployment", "orders-green"),
        Ref("commerce"),
        Ref("commerce", "Rollout", "inventory"),
        Ref("commerce"),
        Ref("commerce", "ServiceMonitor", "orders"),
        Ref("shop", labels=(("app.kubernetes.io/name", "orders"),)),
    ]


def test_a_block_without_a_stack_is_meant_for_every_stack():
    doc = REPO / "docs" / "x.md"
    assert block_stacks(Block(doc, 1, "kubectl -n commerce get pods\n", frozenset())) == STACKS
    named = Block(doc, 1, "slipway deploy prod --skip-gate\n", frozenset())
    assert block_stacks(named) == ("prod",)
    marked = Block(doc, 1, "kubectl get pods\n", frozenset(), frozenset({"staging", "dev"}))
    assert block_stacks(marked) == ("dev", "staging")


# ---- the documents


def test_runbooks_name_only_objects_that_exist(rendered):
    """`-n shop`, `rollout orders`, `deployment/orders` in prod: each was in a runbook once."""
    wrong = []
    for block in cluster_blocks():
        for ref in kubectl_refs(block.code):
            for stack in block_stacks(block):
                if why := missing(ref, rendered[stack]):
                    wrong.append(f"{block.where}: no {why} in stack {stack}")
    assert wrong == []


def test_the_guard_sees_the_cluster_commands():
    """Cannot pass by finding nothing: the runbooks hold cluster commands for each stack."""
    blocks = cluster_blocks()
    assert len([r for b in blocks for r in kubectl_refs(b.code) if r.kind]) >= 8
    assert {s for b in blocks for s in block_stacks(b)} == set(STACKS)


def test_add_service_adds_a_service_that_does_not_exist_yet():
    """Writing `services/<existing>.yaml` changes that service: the diff is no longer an add."""
    existing = {p.stem for p in (REPO / "services").glob("*.yaml")}
    written = [
        (b.where, words[2].removeprefix("services/").removesuffix(".yaml"))
        for doc in (REPO / "docs" / "runbooks" / "add-service.md", REPO / "docs" / "tutorial.md")
        for b in parse_blocks(doc, doc.read_text())
        for words in _lines(b.code)
        if words[:2] == ["cat", ">"] and len(words) > 2 and words[2].startswith("services/")
    ]
    assert written, "the add-service example writes no catalog file"
    assert [(where, name) for where, name in written if name in existing] == []
