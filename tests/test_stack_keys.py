"""Stack files are validated like the catalog: a misspelt `slipway:` key is refused.

An unknown key used to be ignored, so `slipway:dsn` silently dropped the global DNS and
`slipway:trafic` showed up as a canary error blamed on a catalog file. Every caller of the one
stack-file reader (preview, the strategy commands, deploy) now refuses it, naming the stack file,
the key and the closest valid key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.errors import BadInput
from slipway.stackfile import read_stack_file


def _flat(text: str) -> str:
    return " ".join(text.split())


def _edit(project: Path, stack: str, old: str, new: str) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


def _append(project: Path, stack: str, lines: str) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text().rstrip("\n") + "\n" + lines)


def _preview(cli, project: Path, stack: str):
    return cli(
        "preview",
        stack,
        "--project-dir",
        str(project),
        "--out",
        str(project / "out"),
        "--no-policy",
    )


def test_misspelt_dns_key_exits_2_naming_file_key_and_closest_key(cli, project: Path) -> None:
    _edit(project, "prod", "slipway:dns:", "slipway:dsn:")
    result = _preview(cli, project, "prod")
    flat = _flat(result.output)
    assert result.exit_code == 2, flat
    assert "Pulumi.prod.yaml" in flat
    assert "slipway:dsn" in flat
    assert "did you mean `slipway:dns`" in flat
    assert not (project / "out").exists(), "nothing is written on bad input"


def test_misspelt_traffic_key_is_blamed_on_the_stack_file_not_the_catalog(
    cli, project: Path
) -> None:
    _edit(project, "prod", "slipway:traffic:", "slipway:trafic:")
    result = _preview(cli, project, "prod")
    flat = _flat(result.output)
    assert result.exit_code == 2, flat
    assert "Pulumi.prod.yaml" in flat and "slipway:trafic" in flat
    assert "did you mean `slipway:traffic`" in flat
    assert "inventory.yaml" not in flat


def test_strategy_commands_refuse_the_misspelt_key_too(cli, project: Path) -> None:
    _edit(project, "dev", "slipway:traffic:", "slipway:trafic:")
    result = cli(
        "flag", "frontend", "dark-mode", "off", "--stack", "dev", "--project-dir", str(project)
    )
    flat = _flat(result.output)
    assert result.exit_code == 2, flat
    assert "Pulumi.dev.yaml" in flat and "slipway:trafic" in flat


def test_snake_case_key_suggests_the_camel_case_one(project: Path) -> None:
    _append(project, "prod", "  slipway:allowed_regions: [us-east-1]\n")
    with pytest.raises(BadInput, match="did you mean `slipway:allowedRegions`"):
        read_stack_file(project, "prod")


def test_catalog_secret_key_is_accepted(project: Path) -> None:
    _append(
        project,
        "dev",
        "  slipway:orders-db-password:\n    value: not-a-real-password\n    secret: true\n",
    )
    sf = read_stack_file(project, "dev")
    assert "slipway:orders-db-password" in sf.secret_keys


def test_a_key_that_is_neither_setting_nor_catalog_secret_is_refused(project: Path) -> None:
    _append(project, "dev", "  slipway:orders-db-pasword: x\n")
    with pytest.raises(BadInput) as info:
        read_stack_file(project, "dev")
    message = str(info.value)
    assert "Pulumi.dev.yaml" in message and "slipway:orders-db-pasword" in message
    assert "did you mean `slipway:orders-db-password`" in message


def test_keys_without_namespace_are_the_projects_and_checked(project: Path) -> None:
    _append(project, "dev", "  dsn: {domain: example.com}\n")
    with pytest.raises(BadInput, match="did you mean `slipway:dns`"):
        read_stack_file(project, "dev")


def test_other_namespaces_are_left_alone(project: Path) -> None:
    _append(
        project,
        "prod",
        "  aws:region: us-east-1\n  gcp:project: slipway-prod\n  kubernetes:context: kind\n",
    )
    sf = read_stack_file(project, "prod")
    assert sf.config["aws:region"] == "us-east-1"
    assert sf.config["gcp:project"] == "slipway-prod"
    assert sf.config["kubernetes:context"] == "kind"


def test_key_with_two_colons_is_refused_as_pulumi_does(project: Path) -> None:
    _append(project, "dev", "  slipway:dns:domain: example.com\n")
    with pytest.raises(BadInput, match="<namespace>:<name>"):
        read_stack_file(project, "dev")


def test_legacy_config_module_form_is_read_like_pulumi(project: Path) -> None:
    """`<namespace>:config:<name>` is Pulumi's old spelling of `<namespace>:<name>`."""
    _append(project, "dev", "  aws:config:region: us-east-1\n")
    assert read_stack_file(project, "dev").config["aws:region"] == "us-east-1"
