"""Output a newcomer can read anywhere, and findings that say what to change.

The preview in-process writes to a pipe (not a terminal): plain lines, nothing cut, the diff
first, the plan only when asked, and a last line with the verdict. Findings carry the rule's
remediation and the catalog file and field to change, and the same finding on many resources
is one entry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from slipway.diff import compute_diff
from slipway.findings import consequences, finding_lines, group
from slipway.report import diff_table
from tests.conftest import git_repo

BOX = set("┏┓┗┛┃━│─┡┩╇╈┼")


def _lower_frontend_min_replicas(project: Path) -> None:
    path = project / "services" / "frontend.yaml"
    text = path.read_text()
    prod = text.index("  prod:")
    path.write_text(text[:prod] + text[prod:].replace("minReplicas: 3", "minReplicas: 1", 1))


def _dev_secrets_from_config(project: Path) -> None:
    """Dev's catalog secrets read Pulumi config secrets of the stack (the catalog generates
    them in dev), none of which Pulumi.dev.yaml sets."""
    for name in ("orders", "payments"):
        path = project / "services" / f"{name}.yaml"
        text = path.read_text()
        assert text.count("source: generated\n") == 1, path
        path.write_text(text.replace("source: generated\n", "source: pulumi-config\n"))


@pytest.fixture
def violating(project: Path, run) -> tuple[Path, str, list[dict]]:
    _lower_frontend_min_replicas(project)
    out = project / "out"
    result = run("preview", "prod", "--out", str(out))
    assert result.exit_code == 1, result.output
    return project, result.output, json.loads((out / "policy.json").read_text())


def test_off_a_terminal_there_is_no_table_and_nothing_is_cut(violating) -> None:
    _, output, _ = violating
    assert not BOX & set(output), "a table was drawn into a pipe"
    assert "…" not in output
    assert "Plan for stack" not in output, "the plan comes only with --plan"


def test_the_last_line_states_the_verdict_and_the_exit_code(violating) -> None:
    _, output, _ = violating
    last = output.strip().splitlines()[-1]
    assert last.startswith("exit 1:"), last
    assert "6 mandatory policy violations block `pulumi up`" in last


def test_a_clean_preview_ends_with_exit_0(run, project: Path) -> None:
    result = run("preview", "dev", "--out", str(project / "out"), "--plan")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("exit 0: stack dev:")
    assert "Plan for stack dev:" in result.output


def test_findings_carry_remediation_file_and_field(violating) -> None:
    _, _, rows = violating
    row = next(r for r in rows if r["policy"] == "workload-min-replicas")
    assert row["file"] == "services/frontend.yaml"
    assert row["field"] == "environments.prod.autoscaling.minReplicas"
    assert row["remediation"].startswith("Set spec.replicas")


def test_the_same_finding_on_many_resources_is_one_entry(violating) -> None:
    _, output, rows = violating
    assert len([r for r in rows if r["policy"] == "hpa-sanity"]) == 3
    assert output.count("hpa-sanity") == 1
    assert "hpa-sanity (3 resources)" in output
    assert "change: services/frontend.yaml: environments.prod.autoscaling.minReplicas" in output


def test_each_missing_secret_note_is_one_unbroken_line(run, project: Path) -> None:
    _dev_secrets_from_config(project)
    result = run("preview", "dev", "--out", str(project / "out"))
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert len(notes) == 2, result.output
    for note, key in zip(notes, ("orders-db-password", "payments-api-key"), strict=True):
        assert note.endswith(f"pulumi config set --secret slipway:{key} -s dev"), note


def test_a_strategy_switch_says_it_deletes_the_deployments(run, project: Path) -> None:
    git_repo(project)
    path = project / "services" / "orders.yaml"
    path.write_text(path.read_text().replace("type: blue-green", "type: canary"))
    result = run("preview", "prod", "--against", "HEAD", "--out", str(project / "out"))
    assert result.exit_code == 0, result.output
    text = result.output
    assert "deletes Deployment orders-blue, Deployment orders-green (their pods stop)" in text
    assert "creates Deployment orders-stable" in text
    assert text.index("Changes ") < text.index("warning: in namespace commerce")


def test_the_terminal_diff_table_folds_instead_of_cutting() -> None:
    long_type = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    old = [{"urn": "u1", "type": long_type, "name": "n" * 60, "inputs": {"a": 1}}]
    new = [{"urn": "u1", "type": long_type, "name": "n" * 60, "inputs": {"a": 2}}]
    console = Console(width=100, force_terminal=True, record=True, color_system=None)
    console.print(diff_table(compute_diff(old, new)))
    text = console.export_text()
    assert "…" not in text
    assert "n" * 20 in text


def test_consequences_name_replaced_workloads_once_per_namespace() -> None:
    records = [
        {
            "urn": f"u-{t}",
            "type": "kubernetes:apps/v1:Deployment",
            "name": f"{t}-web",
            "inputs": {"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}},
        }
        for t in ("a", "b")
    ]
    diff = {"replaced": [{"urn": f"u-{t}", "target": t, "type": records[0]["type"]} for t in "ab"]}
    assert consequences(diff, records) == [
        "in namespace shop (targets a, b) this change replaces Deployment web (pods are recreated)."
    ]


def test_group_keeps_levels_apart_and_mandatory_first() -> None:
    rows = [
        {"level": "advisory", "policy": "p", "urn": "x::a", "message": "m"},
        {"level": "mandatory", "policy": "p", "urn": "x::b", "message": "m"},
        {"level": "mandatory", "policy": "p", "urn": "x::c", "message": "m"},
    ]
    groups = group(rows)
    assert [(g.level, g.resources) for g in groups] == [
        ("mandatory", ["b", "c"]),
        ("advisory", ["a"]),
    ]


def test_one_catalog_value_behind_findings_in_every_target_is_one_entry() -> None:
    """The digest finding names each target's registry, so the messages differ; they point
    at one field of one file, and that is one thing to fix."""
    rows = [
        {
            "level": "mandatory",
            "policy": "image-digest-pinned",
            "urn": f"x::{target}-shipping-deployment",
            "message": f"not pinned by a content digest: {registry}/shipping:0.1.0",
            "file": "services/shipping.yaml",
            "field": "version.digest",
        }
        for target, registry in (("aws", "1111.dkr.ecr"), ("gcp", "europe-docker.pkg.dev"))
    ]
    [only] = group(rows)
    assert only.resources == ["aws-shipping-deployment", "gcp-shipping-deployment"]
    assert len(only.messages) == 2
    lines = finding_lines([only])
    assert lines[1] == (
        "  also: not pinned by a content digest: europe-docker.pkg.dev/shipping:0.1.0"
    )


def test_different_findings_on_one_field_are_all_shown() -> None:
    """Two credential keys in one service's config point at one field; neither is hidden,
    and the service is counted once."""
    rows = [
        {
            "level": "mandatory",
            "policy": "configmap-no-secrets",
            "urn": "x::local-orders-config",
            "message": f"data key {key!r} looks like a credential",
            "file": "services/orders.yaml",
            "field": "config",
        }
        for key in ("DB_PASS", "STRIPE_KEY")
    ]
    [only] = group(rows)
    assert only.resources == ["local-orders-config"]
    lines = finding_lines([only])
    assert "(" not in lines[0].split(":")[0], "one resource: no count"
    assert "DB_PASS" in lines[0]
    assert lines[1] == "  also: data key 'STRIPE_KEY' looks like a credential"


def test_a_canary_tracks_finding_names_the_tracks_own_version(project: Path, run) -> None:
    """The canary's build is declared under the prod override; a cloud target pulls it by
    digest, so its missing digest is bad input, to be added there, not to the service's own
    version."""
    path = project / "services" / "payments.yaml"
    lines = path.read_text().splitlines(keepends=True)
    canary_digest = max(i for i, line in enumerate(lines) if line.strip().startswith("digest:"))
    del lines[canary_digest]
    path.write_text("".join(lines))
    out = project / "out"
    result = run("preview", "prod", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "payments 3.1.0" in result.output
    assert (
        "services/payments.yaml: environments.prod.strategy.canary.version.digest:" in result.output
    ), result.output
    assert not out.exists()


def test_a_slots_finding_names_the_slots_own_version(project: Path, run) -> None:
    """Dev's green slot declares its build under the dev override; the finding on its missing
    digest points there, not at the service's own version (which the blue slot runs)."""
    path = project / "services" / "payments.yaml"
    text = path.read_text()
    dev = text.index("  dev:")
    green = text.index("        green:\n", dev)
    digest = text.index("            digest: ", green)
    assert digest < text.index("  staging:", dev), "the green slot's digest is dev's"
    path.write_text(text[:digest] + text[text.index("\n", digest) + 1 :])
    out = project / "out"
    result = run("preview", "dev", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "policy.json").read_text())
    found = [r for r in rows if r["policy"] == "image-digest-pinned"]
    assert [r["urn"].rsplit("::", 1)[-1] for r in found] == ["local-payments-green"]
    assert {r["field"] for r in found} == {"environments.dev.strategy.slots.green.version.digest"}


def test_check_groups_one_message_on_many_objects_with_their_lines() -> None:
    """`check` rows point at file:line per object: the same message on twelve objects is one
    entry listing where they are, not twelve entries."""
    rows = [
        {
            "level": "mandatory",
            "policy": "workload-no-default-namespace",
            "urn": f"x::app{i}",
            "message": "metadata.namespace is unset",
            "file": f"demo.yaml:{10 * i}",
        }
        for i in range(1, 13)
    ]
    [only] = group(rows)
    assert len(only.resources) == 12
    lines = finding_lines([only])
    assert lines[0] == "mandatory workload-no-default-namespace (12 resources): " + (
        "metadata.namespace is unset"
    )
    assert lines[2] == "  change: " + ", ".join(f"demo.yaml:{10 * i}" for i in range(1, 6)) + (
        " and 7 more"
    )
