"""A sentinel secret value, put through every way a secret enters a preview, never comes out.

Checked everywhere a preview writes: every file under the output folder, stdout and stderr of
the real CLI process (which is also what CI logs keep), in every output format and with a
diff against a previous output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slipway import preview as pv
from slipway.diff import compute_diff
from slipway.report import to_markdown

SENTINEL = "s3ntinel-Zq8vK2"
"""A value no program would produce by itself: any occurrence is a leak."""


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _assert_absent(where: str, data: bytes | str) -> None:
    blob = data.encode() if isinstance(data, str) else data
    assert SENTINEL.encode() not in blob, f"the secret leaked into {where}"


def _set_config(project: Path, stack: str, entries: dict[str, object]) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"].update(entries)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _dev_secrets_from_config(project: Path) -> None:
    """Dev's catalog secrets read Pulumi config secrets of the stack (the catalog generates
    them in dev), so a secret of the stack's config reaches the workloads."""
    for name in ("orders", "payments"):
        path = project / "services" / f"{name}.yaml"
        text = path.read_text()
        assert text.count("source: generated\n") == 1, path
        path.write_text(text.replace("source: generated\n", "source: pulumi-config\n"))


def _cli(project: Path, stack: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slipway", "preview", stack, "--project-dir", str(project), *args],
        cwd=project,
        capture_output=True,
        text=True,
    )


def test_config_secret_override_never_reaches_any_output(project: Path) -> None:
    _dev_secrets_from_config(project)
    rendered = pv.render(project, "dev", secret_overrides={"slipway:orders-db-password": SENTINEL})
    diagnostics = [{"policy": "p", "level": "advisory", "urn": "u", "message": "m"}]
    diff = compute_diff([], rendered.resources)  # everything added, the secret included
    for path, data in pv.output_files(rendered, diagnostics, diff).items():
        _assert_absent(path, data)
    _assert_absent("the markdown report", to_markdown("dev", diff, diagnostics, rendered.resources))
    _assert_absent("the warnings", "\n".join(rendered.warnings))
    secret = yaml.safe_load(
        rendered.manifests["manifests/local/commerce/Secret-orders-secrets.yaml"]
    )
    assert secret["stringData"] == {"DB_PASSWORD": "[secret]"}, "the secret must stay in place"


SECRET_ENTRIES = {
    # an env/config value marked secret in the stack file (the form `pulumi config set
    # --secret` writes on backends with client-side encryption turned off)
    "slipway:orders-db-password": {"value": SENTINEL, "secret": True},
    # an encrypted value: the ciphertext cannot be decrypted offline and is not shown either
    "slipway:payments-api-key": {"secure": f"v1:{SENTINEL}"},
}


@pytest.fixture
def secret_project(project: Path) -> Path:
    _dev_secrets_from_config(project)
    _set_config(project, "dev", SECRET_ENTRIES)
    return project


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_stack_file_secrets_stay_out_of_every_format(secret_project: Path, fmt: str) -> None:
    out = secret_project / "build" / "dev"
    result = _cli(secret_project, "dev", "--out", str(out), "--format", fmt)
    assert result.returncode == 0, result.stderr
    _assert_absent(f"stdout ({fmt})", result.stdout)
    _assert_absent(f"stderr ({fmt})", result.stderr)
    for path, data in _files(out).items():
        _assert_absent(f"build/dev/{path}", data)
    resources = json.loads((out / "resources.json").read_text())
    secret = next(r for r in resources if r["name"] == "local-orders-secrets")
    assert secret["inputs"]["stringData"] == {"DB_PASSWORD": "[secret]"}


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_secrets_stay_out_of_diffs_against_a_previous_output(
    secret_project: Path, fmt: str
) -> None:
    before = secret_project / "before"
    first = _cli(secret_project, "dev", "--out", str(before), "--no-policy")
    assert first.returncode == 0, first.stderr
    # A change that touches the secret's own resource: the diff lists it.
    changed = {"value": f"{SENTINEL}-2", "secret": True}
    _set_config(secret_project, "dev", {"slipway:orders-db-password": changed})
    out = secret_project / "after"
    result = _cli(
        secret_project, "dev", "--out", str(out), "--against", str(before), "--format", fmt
    )
    assert result.returncode == 0, result.stderr
    _assert_absent(f"stdout ({fmt}, --against)", result.stdout)
    _assert_absent(f"stderr ({fmt}, --against)", result.stderr)
    for path, data in _files(out).items():
        _assert_absent(f"after/{path}", data)


def test_external_secret_reference_never_pulls_a_value(project: Path) -> None:
    """In prod, payments reads its key from each cloud's secret manager. Even with a value of
    the same name in the stack's config, the preview names the remote secret only."""
    _set_config(project, "prod", {"slipway:payments-api-key": {"value": SENTINEL, "secret": True}})
    out = project / "build" / "prod"
    result = _cli(project, "prod", "--out", str(out), "--no-policy", "--format", "json")
    assert result.returncode == 0, result.stderr
    _assert_absent("stdout", result.stdout)
    _assert_absent("stderr", result.stderr)
    files = _files(out)
    for path, data in files.items():
        _assert_absent(f"build/prod/{path}", data)
    external = [p for p in files if "ExternalSecret-payments" in p]
    assert external, "payments must read its key through an ExternalSecret in prod"


def test_secret_marked_config_value_is_a_secret_of_the_program(project: Path) -> None:
    """`{value: ..., secret: true}` in a stack file is handed to the program as a secret,
    exactly as `secure:` values are."""
    from slipway.engine import REDACTED
    from slipway.stackfile import read_stack_file

    _set_config(project, "dev", SECRET_ENTRIES)
    sf = read_stack_file(project, "dev")
    assert "slipway:orders-db-password" in sf.secret_keys
    assert "slipway:payments-api-key" in sf.secret_keys
    assert sf.config["slipway:payments-api-key"] == REDACTED, "ciphertext is not a value"
