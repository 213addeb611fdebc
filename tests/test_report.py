"""Renderings of a diff: terminal table, JSON, pull-request markdown and its topology diagram."""

from __future__ import annotations

import html
import io
import json
import os
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import Console

from slipway.diff import compute_diff
from slipway.report import (
    diff_table,
    summary_line,
    to_json,
    to_markdown,
    topology,
)

STACK = "urn:pulumi:dev::slipway"


def k8s(kind: str, name: str, namespace: str, target: str, **inputs) -> dict:
    api = {"Deployment": "apps/v1", "Rollout": "argoproj.io/v1alpha1"}.get(kind, "v1")
    if kind == "HTTPRoute":
        api = "gateway.networking.k8s.io/v1"
    if kind == "VirtualService":
        api = "networking.istio.io/v1"
    type_ = f"kubernetes:{'core/' if api == 'v1' else ''}{api}:{kind}"
    metadata = {"name": name, "namespace": namespace}
    metadata.update(inputs.pop("metadata", {}))
    return {
        "urn": f"{STACK}::{type_}::{target}-{name}",
        "type": type_,
        "name": f"{target}-{name}",
        "parent": "",
        "provider": "",
        "protect": False,
        "aliases": [],
        "inputs": {"apiVersion": api, "kind": kind, "metadata": metadata, **inputs},
        "target": target,
    }


def labelled(svc: str, **extra) -> dict:
    return {"labels": {"app.kubernetes.io/name": svc, **extra}}


def deployment(svc: str, target: str = "local", image: str = "img:1", **labels) -> dict:
    name = f"{svc}-{labels['slot']}" if "slot" in labels else svc
    return k8s(
        "Deployment",
        name,
        "team-a",
        target,
        metadata=labelled(svc, **labels),
        spec={"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
    )


def provider(target: str, context: str) -> dict:
    return {
        "urn": f"{STACK}::pulumi:providers:kubernetes::{target}",
        "type": "pulumi:providers:kubernetes",
        "name": target,
        "parent": "",
        "provider": "",
        "protect": False,
        "aliases": [],
        "inputs": {"context": context},
        "target": target,
    }


def example() -> tuple[list[dict], list[dict]]:
    """Old and new records: one update, one replacement, one add, one delete."""
    cm_old = k8s("ConfigMap", "api-config", "team-a", "local", data={"LOG": "info"})
    cm_new = k8s("ConfigMap", "api-config", "team-a", "local", data={"LOG": "debug"})
    old = [
        provider("local", "kind-dev"),
        deployment("api"),
        cm_old,
        deployment("legacy"),
    ]
    new = [
        provider("local", "kind-dev"),
        deployment("api", image="img:2"),
        cm_new,
        deployment("web"),
    ]
    return old, new


def render(table) -> str:
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(table)
    return buf.getvalue()


# --- terminal and JSON ---------------------------------------------------------------------------


def test_summary_line_counts_in_reading_order():
    old, new = example()
    assert summary_line(compute_diff(old, new)) == "+1 ~1 ±1 -1"


def test_table_has_one_row_per_changed_resource_with_its_cause():
    old, new = example()
    text = render(diff_table(compute_diff(old, new)))
    assert "+1 ~1 ±1 -1" in text
    assert "replace: data changed" in text
    assert "spec.template.spec.containers[0].image" in text
    assert "local-web" in text
    assert "local-legacy" in text
    assert len(diff_table(compute_diff(old, new)).rows) == 4


def test_table_shows_console_markup_in_names_as_text():
    old = [k8s("ConfigMap", "[/]", "ns", "local", data={"x": "1"})]
    new = [k8s("ConfigMap", "[/]", "ns", "local", data={"x": "2"}), deployment("[bold]web[/bold]")]
    text = render(diff_table(compute_diff(old, new)))
    assert "local-[/]" in text
    assert "local-[bold]web[/bold]" in text


def test_table_of_an_empty_diff_says_no_changes():
    old, _ = example()
    assert "no changes" in render(diff_table(compute_diff(old, old)))


def test_json_is_stable_and_round_trips():
    old, new = example()
    diff = compute_diff(old, new)
    text = to_json(diff)
    assert json.loads(text) == diff
    assert text == to_json(json.loads(text))


# --- markdown ------------------------------------------------------------------------------------


def test_markdown_has_the_stack_summary_line():
    old, new = example()
    md = to_markdown("dev", compute_diff(old, new), [], new)
    assert md.startswith("### Stack `dev`: `+1 ~1 ±1 -1`\n")
    assert "1 to create, 1 to update, 1 to replace, 1 to delete" in md


def test_markdown_has_one_section_per_target_stack_wide_last():
    old, new = example()
    extra = deployment("api", target="aws-us-east-1")
    dns = {
        "urn": f"{STACK}::aws:route53/record:Record::api",
        "type": "aws:route53/record:Record",
        "name": "api",
        "inputs": {"name": "api.example.com"},
        "target": None,
    }
    md = to_markdown("prod", compute_diff(old, [*new, extra, dns]), [], new)
    headings = re.findall(r"^#### (.*)$", md, flags=re.M)
    assert headings[:3] == [
        "Target `aws-us-east-1`: `+1 ~0 ±0 -0`",
        "Target `local`: `+1 ~1 ±1 -1`",
        "Stack-wide resources: `+1 ~0 ±0 -0`",
    ]


def test_markdown_folds_property_changes_in_details():
    old, new = example()
    md = to_markdown("dev", compute_diff(old, new), [], new)
    block = md[md.index("<details>") : md.index("</details>")]
    assert "<summary>Property changes in <code>local</code> (2)</summary>" in block
    assert "| `data.LOG` | `info` | `debug` |" in block
    assert "replaced because `data` changed" in block
    assert "| `spec.template.spec.containers[0].image` | `img:1` | `img:2` |" in block


def test_markdown_of_no_change_says_so():
    old, _ = example()
    md = to_markdown("dev", compute_diff(old, old), [], old)
    assert "No infrastructure changes." in md
    assert "<summary>Property changes" not in md


def test_markdown_escapes_pipes_and_backticks_in_values():
    old = [k8s("ConfigMap", "c", "ns", "local", data={"x": "a|b"})]
    new = [k8s("ConfigMap", "c", "ns", "local", data={"x": "a`b"})]
    md = to_markdown("dev", compute_diff(old, new), [], new)
    assert "| `data.x` | `a\\|b` | `` a`b `` |" in md


def test_markdown_cuts_long_values():
    old = [k8s("ConfigMap", "c", "ns", "local", data={"x": "a" * 500})]
    new = [k8s("ConfigMap", "c", "ns", "local", data={"x": "b" * 500})]
    md = to_markdown("dev", compute_diff(old, new), [], new)
    assert "a" * 500 not in md
    assert "a" * 119 + "…" in md


def test_markdown_leaves_details_beyond_the_budget_to_diff_json():
    old = [k8s("ConfigMap", f"c{i}", "ns", "local", data={"x": "1"}) for i in range(30)]
    new = [k8s("ConfigMap", f"c{i}", "ns", "local", data={"x": "2"}) for i in range(30)]
    md = to_markdown("dev", compute_diff(old, new), [], new, detail_budget=1000)
    shown = md.count("replaced because")
    assert 0 < shown < 30
    assert f"_{30 - shown} more changed resources are not shown here" in md


def test_markdown_policy_table_lists_mandatory_first():
    old, new = example()
    diagnostics = [
        {"policy": "b-advisory", "level": "advisory", "urn": new[1]["urn"], "message": "x"},
        {
            "policy": "a-mandatory",
            "level": "mandatory",
            "urn": new[2]["urn"],
            "message": "no | pipes\nhere",
        },
    ]
    md = to_markdown("dev", compute_diff(old, new), diagnostics, new)
    assert "policy: 1 mandatory, 1 advisory" in md
    rows = [
        line
        for line in md.splitlines()
        if line.startswith("| mandatory") or line.startswith("| advisory")
    ]
    assert rows == [
        "| mandatory | `a-mandatory` | `local-api-config` | `no \\| pipes here` |  |",
        "| advisory | `b-advisory` | `local-api` | `x` |  |",
    ]


def test_markdown_policy_rows_group_repeats_and_say_how_to_fix():
    old, new = example()
    row = {
        "policy": "hpa-sanity",
        "level": "mandatory",
        "message": "minReplicas is 1, below 2",
        "remediation": "Set minReplicas >= 2.",
        "file": "services/api.yaml",
        "field": "environments.prod.autoscaling.minReplicas",
    }
    diagnostics = [{**row, "urn": r["urn"]} for r in new[:5]]
    md = to_markdown("prod", compute_diff(old, new), diagnostics, new)
    rows = [line for line in md.splitlines() if line.startswith("| mandatory")]
    assert len(rows) == 1, rows
    assert f"(+{len(diagnostics) - 3} more)" in rows[0]
    assert (
        "`services/api.yaml: environments.prod.autoscaling.minReplicas`: "
        "`Set minReplicas >= 2.`" in rows[0]
    )


def test_markdown_without_findings_says_so():
    old, new = example()
    md = to_markdown("dev", compute_diff(old, new), [], new)
    assert "No policy findings." in md


def test_markdown_without_policy_run_has_no_policy_section():
    old, new = example()
    md = to_markdown("dev", compute_diff(old, new), None, new)
    assert "Policy results" not in md


def test_markdown_is_deterministic_whatever_the_input_order():
    old, new = example()
    a = to_markdown("dev", compute_diff(old, new), [], new)
    b = to_markdown("dev", compute_diff(old[::-1], new[::-1]), [], new[::-1])
    assert a == b


def test_markdown_code_spans_outlast_any_backtick_run():
    old = [k8s("ConfigMap", "c", "ns", "local", data={"x": "1"})]
    new = [k8s("ConfigMap", "c", "ns", "local", data={"x": "a``b`"})]
    md = to_markdown("dev", compute_diff(old, new), [], new)
    assert "| `data.x` | `1` | ``` a``b` ``` |" in md


# --- markdown: nothing from input becomes markup ------------------------------------------------

HOSTILE = [
    "a`b``c",
    "`lead",
    "![x](http://e/x.png)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "[link](javascript:alert(1))",
    "<http://e/x> www.example.com a@example.com",
    "@octocat #1",
    "a|b \\| c\\",
    "line1\nline2\n\n# heading\n```",
    "--> <!-- x",
    '"]) --> X["pwned',
    "%%{init: {'securityLevel': 'loose'}}%%",
    "&amp; &lt;b&gt; *em* _u_ ~~s~~",
    "</details>\n\n<details>",
]
"""Values that are markup somewhere: in markdown, HTML, a table, GitHub's autolinks and
mentions, or Mermaid (a quote ends a label, `%%` starts a directive)."""

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
"""A real CommonMark renderer with GitHub's tables (markdown-it's gfm-like preset needs
linkify-it-py too, so bare links and mentions are checked on the source instead)."""

MERMAID_CHARS = re.compile(r"^[A-Za-z0-9 ._,:/()+=@#;-]*$")
"""What a Mermaid label may hold after escaping (entity codes are `#name;`)."""


def hostile_input(values: list[str]) -> tuple[str, dict, list[dict], list[dict]]:
    """A stack name, diff, diagnostics and records carrying each value in every place
    to_markdown shows one: target, type, name, property path and values, replacement cause,
    former URN, policy id, level, resource and message, namespace, service, route subset."""
    diff: dict = {"added": [], "updated": [], "replaced": [], "deleted": []}
    diagnostics: list[dict] = []
    records: list[dict] = []
    for i, v in enumerate(values):
        target = v
        diff["updated"].append(
            {
                "urn": f"{STACK}::t{i}::u",
                "type": v,
                "name": v,
                "target": target,
                "changes": [{"path": f"data.{v}", "old": v, "new": v}],
            }
        )
        diff["replaced"].append(
            {
                "urn": f"{STACK}::t{i}::r",
                "old_urn": v,
                "type": "kubernetes:core/v1:ConfigMap",
                "name": "cm",
                "target": target,
                "reason": v,
                "changes": [{"path": "data", "old": {"k": "1"}, "new": {"k": "2"}}],
            }
        )
        diagnostics.append(
            {"policy": v, "level": v, "urn": f"{STACK}::x::{v}", "message": f"env {v} is bad"}
        )
        records.append(provider(target, v))
        records.append(deployment(v, target=target))
        records[-1]["inputs"]["metadata"]["namespace"] = v
        route = k8s(
            "VirtualService",
            "vs",
            v,
            target,
            metadata=labelled(v),
            spec={"http": [{"route": [{"destination": {"subset": v}, "weight": 50}] * 2}]},
        )
        records.append(route)
    return values[0], diff, diagnostics, records


def hostile_markdown(values: list[str]) -> str:
    stack, diff, diagnostics, records = hostile_input(values)
    return to_markdown(stack, diff, diagnostics, records)


def flat(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for t in tokens:
        out.append(t)
        out += flat(t.children or [])
    return out


def shape(md: str) -> list[tuple[str, str, int]]:
    """The document's structure: every token's type, tag and nesting, no content."""
    return [(t.type, t.tag, t.nesting) for t in flat(MD.parse(md))]


def mermaid_labels(md: str) -> list[str]:
    (fence,) = [t for t in MD.parse(md) if t.type == "fence" and t.info == "mermaid"]
    return re.findall(r'"([^"]*)"', fence.content)


def unmermaid(label: str) -> str:
    named = {"quot": '"', "lt": "<", "gt": ">"}
    return re.sub(
        r"#(\w+);", lambda m: named.get(m[1]) or chr(int(m[1])), label.replace("<br/>", " ")
    )


def one_line(value: str) -> str:
    return " ".join(value.split())


def test_hostile_values_give_the_same_document_as_plain_ones():
    plain = [f"v{i}" for i in range(len(HOSTILE))]
    assert shape(hostile_markdown(HOSTILE)) == shape(hostile_markdown(plain))


def test_hostile_values_make_no_image_link_or_html():
    tokens = flat(MD.parse(hostile_markdown(HOSTILE)))
    made = {t.type for t in tokens} & {"image", "link_open", "html_inline", "em_open", "s_open"}
    assert made == set()
    for block in (t for t in tokens if t.type == "html_block"):
        tags = re.findall(r"</?([A-Za-z][\w-]*)", block.content)
        assert set(tags) <= {"details", "summary", "code"}, block.content


@pytest.mark.parametrize("value", HOSTILE)
def test_each_hostile_value_is_shown_literally(value: str):
    md = hostile_markdown([value])
    tokens = flat(MD.parse(md))
    code = [t.content for t in tokens if t.type == "code_inline"]
    summaries = [
        html.unescape(m) for t in tokens for m in re.findall(r"<code>(.*?)</code>", t.content)
    ]
    v = one_line(value)
    assert v in code  # name, type, target, policy, level, old and new value
    assert f"data.{v}" in code
    assert f"env {v} is bad" in code
    assert v in summaries
    assert v in {unmermaid(label) for label in mermaid_labels(md)}
    assert f"{v} canary {v} 50 / {v} 50" in {unmermaid(label) for label in mermaid_labels(md)}


def test_mermaid_labels_keep_only_plain_characters():
    for label in mermaid_labels(hostile_markdown(HOSTILE)):
        assert MERMAID_CHARS.match(label.replace("<br/>", " ")), label


def test_no_autolink_or_mention_outside_code():
    """GitHub links bare URLs and emails, and notifies @mentions, anywhere but in code;
    with every value in code, the source outside code spans and `<code>` holds none."""
    md = hostile_markdown(HOSTILE)
    outside = re.sub(r"<code>.*?</code>", "", md[: md.index("```mermaid")])
    outside = re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", outside)  # code spans
    assert not re.search(r"https?:|www\.|@|#\d", outside)


# --- topology ------------------------------------------------------------------------------------


def test_topology_nests_targets_clusters_namespaces_services():
    _, new = example()
    eks = {
        "urn": f"{STACK}::aws:eks/cluster:Cluster::aws-us-east-1-cluster",
        "type": "aws:eks/cluster:Cluster",
        "name": "aws-us-east-1-cluster",
        "inputs": {"name": "prod-use1"},
        "target": "aws-us-east-1",
    }
    graph = topology([*new, eks, deployment("api", target="aws-us-east-1")])
    assert graph == {
        "local": {"context kind-dev": {"team-a": {"api": "rolling", "web": "rolling"}}},
        "aws-us-east-1": {"EKS prod-use1": {"team-a": {"api": "rolling"}}},
    }


def test_topology_shows_blue_green_with_the_active_slot():
    live = k8s(
        "Service",
        "api",
        "team-a",
        "local",
        metadata=labelled("api"),
        spec={"selector": {"app.kubernetes.io/name": "api", "slot": "green"}},
    )
    preview = k8s(
        "Service",
        "api-preview",
        "team-a",
        "local",
        metadata=labelled("api"),
        spec={"selector": {"app.kubernetes.io/name": "api", "slot": "blue"}},
    )
    records = [deployment("api", slot="blue"), deployment("api", slot="green"), live, preview]
    assert topology(records)["local"]["cluster"]["team-a"] == {"api": "blue-green, active green"}


def test_topology_shows_canary_weights_from_an_http_route():
    route = k8s(
        "HTTPRoute",
        "api",
        "team-a",
        "local",
        metadata=labelled("api"),
        spec={
            "rules": [
                {
                    "backendRefs": [
                        {"name": "api-stable", "port": 80, "weight": 90.0},
                        {"name": "api-canary", "port": 80, "weight": 10.0},
                    ]
                }
            ]
        },
    )
    records = [deployment("api"), route]
    assert topology(records)["local"]["cluster"]["team-a"] == {
        "api": "canary api-stable 90 / api-canary 10"
    }


def test_topology_shows_canary_weights_from_an_istio_virtual_service():
    vs = k8s(
        "VirtualService",
        "api",
        "team-a",
        "local",
        metadata=labelled("api"),
        spec={
            "http": [
                {
                    "route": [
                        {"destination": {"host": "api", "subset": "stable"}, "weight": 75},
                        {"destination": {"host": "api", "subset": "canary"}, "weight": 25},
                    ]
                }
            ]
        },
    )
    assert topology([deployment("api"), vs])["local"]["cluster"]["team-a"] == {
        "api": "canary stable 75 / canary 25"
    }


def test_topology_shows_argo_rollouts():
    rollout = k8s("Rollout", "api", "team-a", "local", metadata=labelled("api"))
    assert topology([rollout])["local"]["cluster"]["team-a"] == {
        "api": "progressive (Argo Rollouts)"
    }


def test_mermaid_block_marks_added_and_changed_services():
    old, new = example()
    md = to_markdown("dev", compute_diff(old, new), [], new)
    block = md[md.index("```mermaid") : md.index("```", md.index("```mermaid") + 3)]
    assert "flowchart LR" in block
    assert 't0["local"]' in block
    assert 't0c0[["context kind-dev"]]' in block
    assert 't0c0n0["ns team-a"]' in block
    assert 't0c0n0s0(["api<br/>rolling"])' in block
    assert "class t0c0n0s1 added" in block
    assert "class t0c0n0s0 changed" in block


def test_mermaid_labels_are_escaped():
    dep = deployment('we"ird')
    md = to_markdown("dev", compute_diff([], [dep]), [], [dep])
    assert "we#quot;ird" in md
    assert 'we"ird<br/>' not in md


# --- golden: a real change, as a pull-request comment --------------------------------------------

GOLDEN = Path(__file__).parent / "golden"


def test_markdown_of_a_real_change_matches_the_golden_file():
    source = GOLDEN / "diff-input"
    old = json.loads((source / "old" / "resources.json").read_text())
    new = json.loads((source / "new" / "resources.json").read_text())
    diagnostics = json.loads((source / "new" / "policy.json").read_text())
    text = to_markdown("prod", compute_diff(old, new), diagnostics, new)
    golden = GOLDEN / "diff-comment.md"
    if os.environ.get("SLIPWAY_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
