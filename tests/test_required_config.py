"""Required config: what `Config.require*` reads without a value stops the real engine.

The offline preview records every key the program requires, names each missing one with the
command that sets it (and goes on: offline a missing secret reads `[secret]`), and with
`--strict-config` fails (exit 2, nothing written) as `pulumi preview`/`up` would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.config import Config, ConfigMissingError

from slipway import preview as pv
from slipway.engine import UNSET, RequiredKey, run_program
from slipway.errors import BadInput

DEV_SECRETS = ("slipway:orders-db-password", "slipway:payments-api-key")


def _dev_secrets_from_config(project: Path) -> None:
    """Dev's catalog secrets read Pulumi config secrets of the stack (the catalog generates
    them in dev), so the program requires `DEV_SECRETS`."""
    for name in ("orders", "payments"):
        path = project / "services" / f"{name}.yaml"
        text = path.read_text()
        assert text.count("source: generated\n") == 1, path
        path.write_text(text.replace("source: generated\n", "source: pulumi-config\n"))


def _sdk_owned(name: str) -> bool:
    """The class attribute is the SDK's own method, not a hook."""
    method = Config.__dict__[name]
    return method.__module__ == "pulumi.config" and method.__qualname__ == f"Config.{name}"


def _require_owner(project: Path) -> None:
    """Make the project's program also require a plain key, `slipway:owner`."""
    program = project / "__main__.py"
    program.write_text(
        program.read_text() + '\npulumi.export("owner", pulumi.Config().require("owner"))\n'
    )


def test_dev_stack_missing_secrets_are_named_with_their_commands(project: Path) -> None:
    _dev_secrets_from_config(project)
    rendered = pv.render(project, "dev")
    assert [k.key for k in rendered.missing_config] == list(DEV_SECRETS)
    assert all(k.secret for k in rendered.missing_config)
    lines = pv.missing_config_lines(rendered)
    assert len(lines) == 2
    for key, line in zip(DEV_SECRETS, lines, strict=True):
        assert f"required secret config {key} is not set in Pulumi.dev.yaml" in line
        assert line.endswith(f"pulumi config set --secret {key} -s dev")
    assert not any("secret(s) the catalog reads" in w for w in rendered.warnings)


def test_preview_command_notes_each_missing_key_and_exits_0(run: Any, project: Path) -> None:
    _dev_secrets_from_config(project)
    result = run("preview", "dev", "--no-policy", "--out", str(project / "out"))
    assert result.exit_code == 0, result.output
    for key in DEV_SECRETS:
        assert f"pulumi config set --secret {key} -s dev" in result.output
    assert (project / "out" / "resources.json").is_file()


def test_a_present_key_is_not_named_and_its_value_never_printed(project: Path) -> None:
    _dev_secrets_from_config(project)
    rendered = pv.render(
        project, "dev", secret_overrides={"slipway:orders-db-password": "s3nt1nel"}
    )
    present = RequiredKey("slipway:orders-db-password", secret=True, missing=False)
    assert present in rendered.required
    lines = pv.missing_config_lines(rendered)
    assert [k.key for k in rendered.missing_config] == ["slipway:payments-api-key"]
    assert not any("orders-db-password" in line for line in lines)
    assert not any("s3nt1nel" in line for line in lines)


def test_a_missing_plain_key_is_named_without_secret(project: Path) -> None:
    _require_owner(project)
    rendered = pv.render(project, "dev")
    [owner] = [k for k in rendered.required if k.key == "slipway:owner"]
    assert owner == RequiredKey("slipway:owner", secret=False, missing=True)
    [line] = [line for line in pv.missing_config_lines(rendered) if "slipway:owner" in line]
    assert line.startswith("required config slipway:owner is not set in Pulumi.dev.yaml")
    assert line.endswith("pulumi config set slipway:owner -s dev")
    assert "--secret" not in line

    given = pv.render(project, "dev", config_overrides={"slipway:owner": "team-a"})
    assert RequiredKey("slipway:owner", secret=False, missing=False) in given.required
    assert not any("slipway:owner" in line for line in pv.missing_config_lines(given))


def test_strict_config_exits_2_and_writes_nothing(run: Any, project: Path) -> None:
    _dev_secrets_from_config(project)
    out = project / "out"
    result = run("preview", "dev", "--strict-config", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "2 required config key(s) not set" in result.output
    for key in DEV_SECRETS:
        assert f"pulumi config set --secret {key} -s dev" in result.output
    assert not out.exists()
    assert [p.name for p in project.iterdir() if p.name.startswith(".out")] == []


def test_strict_config_passes_when_every_required_key_is_set(run: Any, project: Path) -> None:
    _dev_secrets_from_config(project)
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text()
        + "  slipway:orders-db-password:\n    secure: v1:AAAA\n"
        + "  slipway:payments-api-key:\n    secure: v1:BBBB\n"
    )
    out = project / "out"
    result = run("preview", "dev", "--strict-config", "--no-policy", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "pulumi config set" not in result.output
    assert (out / "resources.json").is_file()


def test_hook_is_installed_only_during_the_run() -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        seen["hooked"] = not _sdk_owned("require")
        seen["owner"] = pulumi.Config("app").require("owner")
        seen["port"] = pulumi.Config("app").require_int("port")

    result = run_program(
        program,
        project="app",
        stack="dev",
        config={"app:port": "8080"},
        secret_keys=[],
        fill_missing=True,
    )
    assert seen == {"hooked": True, "owner": UNSET, "port": 8080}
    assert result.required == [
        RequiredKey("app:owner", secret=False, missing=True),
        RequiredKey("app:port", secret=False, missing=False),
    ]
    assert all(_sdk_owned(name) for name in ("require", "require_secret", "require_int"))
    with pytest.raises(ConfigMissingError):
        pulumi.Config("app").require("owner")


def test_without_fill_a_missing_key_fails_as_the_sdk_does_and_the_hook_goes() -> None:
    def program() -> None:
        pulumi.Config("app").require_secret("token")

    with pytest.raises(ConfigMissingError) as info:
        run_program(program, project="app", stack="dev", config={}, secret_keys=[])
    assert info.value.key == "app:token" and info.value.secret
    assert _sdk_owned("require_secret")


def test_a_missing_typed_key_is_bad_input_naming_the_command() -> None:
    def program() -> None:
        pulumi.Config("app").require_secret_int("pin")

    with pytest.raises(BadInput) as info:
        run_program(
            program, project="app", stack="dev", config={}, secret_keys=[], fill_missing=True
        )
    assert info.value.file == "Pulumi.dev.yaml"
    assert "pulumi config set --secret app:pin <value> -s dev" in str(info.value)
    assert _sdk_owned("require_secret_int")
