"""Bad input names the file and the field that caused it; system namespaces are refused.

Each case edits one value of a private copy of the project and runs the real preview
in-process: exit 2, the right file and field in the message, nothing written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml


def edit(path: Path, **values: object) -> None:
    doc = yaml.safe_load(path.read_text())
    doc.update(values)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def set_config(project: Path, stack: str, key: str, value: object) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"][key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def preview_fails(cli, project: Path, stack: str = "dev") -> str:
    out = project / "out"
    result = cli("preview", stack, "--project-dir", str(project), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert not out.exists(), "nothing is written on exit 2"
    return " ".join(result.output.split())


@pytest.mark.parametrize(
    "team", ["kube-system", "kube-public", "kube-node-lease", "kube-anything", "default"]
)
def test_a_system_namespace_as_team_is_refused_naming_file_and_field(
    cli, project: Path, team: str
) -> None:
    edit(project / "services" / "inventory.yaml", team=team)
    text = preview_fails(cli, project)
    assert "services/inventory.yaml" in text
    assert "team" in text and "reserved" in text
    assert "strategy" not in text


def test_a_prefix_that_lands_on_kube_blames_the_stack_file(cli, project: Path) -> None:
    set_config(project, "dev", "slipway:namespacePrefix", "kube-")
    text = preview_fails(cli, project)
    assert "Pulumi.dev.yaml" in text and "slipway:namespacePrefix" in text
    assert "kube-" in text and "reserved" in text
    assert "frontend.yaml" not in text.split("namespacePrefix")[0]


def test_a_malformed_prefix_blames_the_stack_file_not_a_service(cli, project: Path) -> None:
    set_config(project, "dev", "slipway:namespacePrefix", "Acme_")
    text = preview_fails(cli, project)
    assert "Pulumi.dev.yaml" in text and "namespacePrefix" in text
    assert "services/" not in text and "strategy" not in text


def test_a_team_named_like_the_platform_namespace_is_refused(cli, project: Path) -> None:
    """Prometheus runs in `monitoring`; a team there would put its deny-by-default policy
    and restricted labels on the monitoring stack."""
    edit(project / "services" / "inventory.yaml", team="monitoring")
    text = preview_fails(cli, project)
    assert "services/inventory.yaml" in text and "team" in text
    assert "prometheusNamespace" in text


def test_an_object_name_collision_names_both_catalog_files(cli, project: Path) -> None:
    """`payments` (blue-green in dev) has a Service `payments-preview`; a service of that
    name in the same team renders a Service with the same name."""
    doc = yaml.safe_load((project / "services" / "frontend.yaml").read_text())
    doc.update(name="payments-preview", team="payments", public=False)
    doc.pop("environments", None)
    (project / "services" / "zz-extra.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    text = preview_fails(cli, project)
    assert "services/payments.yaml" in text and "services/zz-extra.yaml" in text
    assert "urn:pulumi" not in text


def test_an_absolute_catalog_is_refused_when_the_stack_file_is_read(cli, project: Path) -> None:
    set_config(project, "dev", "slipway:catalog", str(project / "services"))
    text = preview_fails(cli, project)
    assert "Pulumi.dev.yaml" in text and "slipway:catalog" in text


@pytest.mark.parametrize("catalog", ["../services", "services/../../x", "."])
def test_a_catalog_outside_the_project_is_refused(cli, project: Path, catalog: str) -> None:
    set_config(project, "dev", "slipway:catalog", catalog)
    text = preview_fails(cli, project)
    assert "slipway:catalog" in text


@pytest.mark.parametrize("command", [("preview", "dev"), ("promote", "payments", "-s", "dev")])
def test_an_error_quoting_console_markup_is_printed_as_text(
    cli, project: Path, command: tuple[str, ...]
) -> None:
    """`[/x]` in a stack value once crashed the error printer (exit 70, a traceback)."""
    set_config(project, "dev", "slipway:environment", "[/x]")
    result = cli(*command, "--project-dir", str(project))
    assert result.exit_code == 2, result.output
    assert "[/x]" in result.output and "Traceback" not in result.output
