"""The CLI's edges a newcomer meets first: help, flags, --version, finding the project,
and validation messages in plain words."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from slipway import __version__
from slipway.errors import BadInput
from stacks.catalog import parse_service
from tests.test_catalog import GOOD

COMMANDS = (
    *("preview", "check", "deploy", "promote", "rollback", "canary", "abort", "flag"),
    "scale-down",
)

SERVICE = GOOD  # a minimal valid catalog entry, shared with the catalog tests


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_version_prints_the_version_and_exits_0(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"slipway {__version__}"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_help_lists_the_exit_codes(cli, command: str | None) -> None:
    result = cli(*([command] if command else []), "--help")
    assert result.exit_code == 0, result.output
    flat = _flat(result.output)
    assert re.search(r"Exit codes: 0 [^;]*\b2 bad input", flat), flat


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_switches_show_no_value_placeholder(cli, command: str | None) -> None:
    """A flag takes no value: `<bool>` in the help made people type `--no-policy true`."""
    result = cli(*([command] if command else []), "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output and "BOOLEAN" not in result.output, result.output


def test_no_policy_is_shown_as_a_flag(cli) -> None:
    result = cli("preview", "--help")
    line = next(ln for ln in result.output.splitlines() if "--no-policy" in ln)
    assert "<bool>" not in line and "BOOLEAN" not in line, line


def test_rollback_help_says_where_its_history_lives(cli) -> None:
    flat = _flat(cli("rollback", "--help").output)
    assert ".slipway/journal/<stack>.json" in flat
    assert "only" in flat and "recorded" in flat


def test_commands_find_the_project_from_a_subfolder(cli, project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project / "services")
    result = cli("flag", "frontend", "dark-mode", "off", "--stack", "dev")
    assert result.exit_code == 0, result.output
    assert "dark-mode: false" in (project / "services" / "frontend.yaml").read_text()
    assert (project / ".slipway" / "journal" / "dev.json").is_file()


def test_preview_finds_the_project_from_a_subfolder(cli, project: Path, monkeypatch) -> None:
    monkeypatch.chdir(project / "services")
    result = cli("preview", "dev", "--no-policy", "--out", str(project / "o"))
    assert result.exit_code == 0, result.output
    assert (project / "o" / "resources.json").is_file()


def test_no_project_anywhere_says_how_to_fix_it(cli, tmp_path: Path, monkeypatch) -> None:
    here = tmp_path / "elsewhere"
    here.mkdir()
    monkeypatch.chdir(here)
    result = cli("rollback", "orders", "--stack", "dev")
    flat = _flat(result.output)
    assert result.exit_code == 2, flat
    assert f"no Pulumi.yaml in {here} or any folder above it" in flat
    assert "run from the project or pass --project-dir" in flat


def test_project_search_stops_at_the_git_toplevel(tmp_path: Path) -> None:
    from slipway.stackfile import find_project

    (tmp_path / "Pulumi.yaml").write_text("name: outer\n")
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    with pytest.raises(BadInput, match="or any folder above it"):
        find_project(repo / "sub")
    (repo / "Pulumi.yaml").write_text("name: inner\n")
    assert find_project(repo / "sub") == repo.resolve()


def test_explicit_project_dir_without_pulumi_yaml_names_it(cli, tmp_path: Path) -> None:
    result = cli("abort", "orders", "--stack", "dev", "--project-dir", str(tmp_path))
    flat = _flat(result.output)
    assert result.exit_code == 2, flat
    assert f"no Pulumi.yaml in {tmp_path}" in flat and "here" not in flat


def _error(data: dict) -> str:
    with pytest.raises(BadInput) as info:
        parse_service(data, "dev", "services/extra.yaml")
    return str(info.value)


def test_validation_messages_are_plain_words() -> None:
    data = yaml.safe_load(SERVICE)
    data["ports"] = {"http": 8080}
    message = _error(data)
    assert "(given: dict)" not in message and "given: a mapping" in message, message

    data = yaml.safe_load(SERVICE)
    data["autoscaling"] = {"minReplicas": 5, "maxReplicas": 2}
    message = _error(data)
    assert "Value error" not in message and "autoscaling" in message, message


def test_missing_and_wrongly_typed_fields_read_plainly() -> None:
    data = yaml.safe_load(SERVICE)
    del data["team"]
    data["image"] = ["ghcr.io/acme/extra"]
    message = _error(data)
    assert "team: is required" in message, message
    assert "image: must be text (given: a list)" in message, message
    assert "Field required" not in message and "Input should be" not in message


def test_unknown_field_names_the_closest_valid_one() -> None:
    data = yaml.safe_load(SERVICE)
    data["replicaz"] = 3
    data["probes"]["readyness"] = {"path": "/ready"}
    message = _error(data)
    assert "replicaz: unknown field; did you mean `replicas`?" in message, message
    assert "probes.readyness: unknown field; did you mean `readiness`?" in message, message


def test_stack_setting_errors_read_plainly(cli, project: Path) -> None:
    path = project / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("slipway:environment: dev", "slipway:environment: 5"))
    result = cli(
        "preview", "dev", "--project-dir", str(project), "--no-policy", "--out", str(project / "o")
    )
    flat = _flat(result.output)
    assert result.exit_code == 2, flat
    assert "Pulumi.dev.yaml" in flat and "slipway.environment: must be" in flat, flat
    assert "Input should be" not in flat


def test_bad_input_escaping_a_command_is_exit_2_not_an_internal_error() -> None:
    """The group turns a BadInput no command caught (e.g. from finding the project before a
    command's own error handling) into the documented exit 2 with an `error:` line."""
    import typer
    from typer.testing import CliRunner

    from slipway.cli import SlipwayGroup

    app = typer.Typer(cls=SlipwayGroup)

    @app.command()
    def boom() -> None:
        raise BadInput("is wrong", file="Pulumi.dev.yaml", field="slipway:dns")

    @app.command()
    def other() -> None:
        """A second command, so `boom` is a subcommand."""

    result = CliRunner().invoke(app, ["boom"])
    assert result.exit_code == 2, result.output
    assert "error: Pulumi.dev.yaml: slipway:dns: is wrong" in _flat(result.output)
