"""Values marked secret never appear in any message, error, traceback or written file.

The redaction is one point (`slipway.redact`) that all output passes through; these tests put
a marked value where today's messages print what was given, and look for it everywhere.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slipway import redact

SENTINEL = "Sentinel-9QxW-secret"
"""Upper-case letters make it an invalid namespace prefix: the validation error quotes it."""


def _mark_secret(project: Path, stack: str, key: str, value: object) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"][key] = {"value": value, "secret": True}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _preview(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slipway", "preview", "dev", "--project-dir", str(project), *args],
        cwd=project,
        capture_output=True,
        text=True,
    )


def test_a_validation_error_does_not_print_a_secret_value(project: Path) -> None:
    _mark_secret(project, "dev", "slipway:namespacePrefix", SENTINEL)
    proc = _preview(project, "--out", str(project / "o"))
    assert proc.returncode == 2, proc.stderr
    assert "namespacePrefix" in proc.stderr
    assert "[secret]" in proc.stderr
    assert SENTINEL not in proc.stdout + proc.stderr


def test_the_in_process_cli_redacts_too(project: Path, cli) -> None:
    _mark_secret(project, "dev", "slipway:namespacePrefix", SENTINEL)
    result = cli("preview", "dev", "--project-dir", str(project), "--out", str(project / "o"))
    assert result.exit_code == 2
    assert SENTINEL not in result.output


def test_a_program_traceback_does_not_print_a_secret_value(project: Path) -> None:
    """A bug in the program that puts the value in its exception: exit 1, traceback shown,
    value cut out."""
    # A key the catalog reads: the stack file refuses `slipway:` keys nothing reads.
    _mark_secret(project, "dev", "slipway:orders-db-password", SENTINEL)
    program = project / "__main__.py"
    program.write_text(
        "import pulumi\n"
        "token = pulumi.Config('slipway').get('orders-db-password')\n"
        "raise RuntimeError(f'cannot use token {token!r}')\n"
    )
    proc = _preview(project, "--out", str(project / "o"), "--no-policy")
    assert proc.returncode == 1, proc.stderr
    assert "RuntimeError" in proc.stderr and "cannot use token" in proc.stderr
    assert SENTINEL not in proc.stdout + proc.stderr


def test_secret_structures_are_redacted_leaf_by_leaf() -> None:
    redact.register([{"domain": "example.org", "key": SENTINEL}])
    assert redact.redact(f"given: {{'key': '{SENTINEL}'}}") == "given: {'key': '[secret]'}"
    assert redact.redact("domain example.org") == "domain [secret]"


def test_quoted_and_escaped_forms_are_redacted() -> None:
    value = 'pa"ss\\word\n2'
    redact.register([value])
    for shown in (value, repr(value), '"pa\\"ss\\\\word\\n2"'):
        assert "ss" not in redact.redact(shown).replace("[secret]", ""), shown


def test_short_values_are_redacted_as_whole_words_only() -> None:
    redact.register(["abc"])
    assert redact.redact("given: 'abc'") == "given: '[secret]'"
    assert redact.redact("fabcd") == "fabcd"


def test_the_stream_wrapper_redacts_everything_written() -> None:
    redact.register([SENTINEL])
    inner = io.StringIO()
    stream = redact.RedactingStream(inner)
    stream.write(f"a {SENTINEL} b\n")
    stream.writelines([SENTINEL, "\n"])
    assert SENTINEL not in inner.getvalue()
    assert inner.getvalue() == "a [secret] b\n[secret]\n"
    with pytest.raises(AttributeError):
        _ = stream.buffer  # a way around the redaction must not exist


def test_written_files_are_redacted(tmp_path: Path) -> None:
    from slipway import preview as pv

    redact.register([SENTINEL])
    pv.write_atomically(tmp_path / "out", {"a.txt": f"x {SENTINEL} y".encode()}, "dev")
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"x [secret] y"


def test_the_against_error_tail_does_not_print_a_secret_value(tmp_path: Path) -> None:
    """The baseline at a ref fails on a value marked secret there: the tail of its error
    that `--against` shows has the value cut out (the ref's own run redacts it)."""
    from tests.conftest import copy_project, git_repo

    project = copy_project(tmp_path / "repo")
    _mark_secret(project, "dev", "slipway:namespacePrefix", SENTINEL)
    git_repo(project, "bad")
    doc = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    del doc["config"]["slipway:namespacePrefix"]
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = _preview(project, "--against", "HEAD", "--out", str(project / "o"))
    assert proc.returncode == 2, proc.stderr
    assert "HEAD" in proc.stderr and "namespacePrefix" in proc.stderr
    assert SENTINEL not in proc.stdout + proc.stderr


def test_a_long_secret_in_a_wrapped_traceback_is_still_cut_out(project: Path) -> None:
    """The printer must not wrap a message: a wrap inside a 60-character secret leaves two
    halves the redaction cannot recognise. A narrow terminal width is forced (COLUMNS)."""
    secret = "postgres-" + "Zq8vK2" * 9
    _mark_secret(project, "dev", "slipway:orders-db-password", secret)
    (project / "__main__.py").write_text(
        "import pulumi\n"
        "token = pulumi.Config('slipway').get('orders-db-password')\n"
        "raise RuntimeError('cannot reach https://db.example.org/?dsn=' + token + '&x=[/y]')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "slipway", "preview", "dev", "--out", str(project / "o")],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "40"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "&x=[/y]" in proc.stderr, "the traceback is text, not console markup"
    assert "Zq8vK2Zq8vK2" not in proc.stdout + proc.stderr


def test_a_short_secret_never_corrupts_the_written_files(project: Path) -> None:
    """A secret `8080` (a port-like value) is masked as a word in messages; in files it
    would turn every containerPort into `[secret]` and break JSON and YAML, so files are
    left to the engine, which masks the values it knows are secret."""
    import json

    _mark_secret(project, "dev", "slipway:orders-db-password", "8080")
    out = project / "o"
    proc = _preview(project, "--out", str(out), "--no-policy")
    assert proc.returncode == 0, proc.stderr
    resources = json.loads((out / "resources.json").read_text())
    assert resources
    deployment = yaml.safe_load(
        (out / "manifests" / "local" / "commerce" / "Deployment-orders.yaml").read_text()
    )
    ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert {"containerPort": 8080, "name": "http", "protocol": "TCP"} in ports


def test_a_short_secret_with_punctuation_edges_is_cut_out_after_a_letter() -> None:
    redact.register(["!x9"])
    assert redact.redact("pass!x9 end") == "pass[secret] end"
