"""Input that is too big, too deep, too expanding or not a file exits 2 naming the file.

Never a traceback (exit 1, which reads as a policy violation), a hang or unbounded memory:
YAML alias bombs, integers Kubernetes cannot hold (in `check`, the catalog and stack files),
files past the size limit, FIFOs and devices, OS errors while reading. Cases that could hang
or exhaust memory if the bound broke run the CLI in a child process with a wall-clock
timeout and a capped address space, so the suite itself cannot hang.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import slipway
from slipway.cli import app

FIXTURES = Path(__file__).parent / "policies" / "fixtures"
HARDENED = FIXTURES / "pod-security" / "good-hardened-deployment.yaml"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bounds\n"
runner = CliRunner()

CHILD_MEMORY = 2 * 1024**3
"""Address space of a guarded child: the bounded cases need a fraction of it."""
CHILD_SECONDS = 90
"""Wall clock of a guarded child (each takes about a second; CI machines are slow)."""


def _check(*args: str):
    return runner.invoke(app, ["check", *args], env={"COLUMNS": "300"})


def _flat(output: str) -> str:
    return " ".join(output.split())


def _guarded_check(*args: str) -> tuple[int, str]:
    """`slipway check ARGS` in a child process; (exit code, output). Fails on a timeout."""

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))

    code = "from slipway.cli import app; app(prog_name='slipway')"
    env = {**os.environ, "COLUMNS": "300", "PYTHONPATH": str(Path(slipway.__file__).parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", code, "check", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=cap_memory,
        start_new_session=True,  # its own group, so the pack process goes with it
    )
    try:
        output, _ = child.communicate(timeout=CHILD_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        pytest.fail(f"slipway check {' '.join(args)} ran past {CHILD_SECONDS}s")
    return child.returncode, output


def _integer_file(tmp_path: Path, value: str) -> Path:
    f = tmp_path / "numbers.yaml"
    f.write_text(CONFIGMAP + f"  generation: {value}\n")
    return f


# -- YAML alias expansion ----------------------------------------------------------------------

BOMB = (
    CONFIGMAP
    + "data:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
)


def test_billion_laughs_in_check_exits_2_with_file_and_line_in_bounded_memory(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    started = time.monotonic()
    code, output = _guarded_check(str(bomb))
    assert code == 2, output
    flat = _flat(output)
    assert f"{bomb}: line " in flat and "aliases expand this file" in flat, flat
    assert "Traceback" not in output
    assert time.monotonic() - started < 30


def test_a_few_aliases_are_still_accepted_in_check(tmp_path: Path) -> None:
    f = tmp_path / "anchored.yaml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: anchored\n"
        "  labels: &labels {app: web, tier: front}\n  annotations: *labels\n"
        "data: {<<: *labels, extra: '1'}\n"
    )
    result = _check(str(f))
    assert result.exit_code == 0, result.output
    assert "1 object in 1 file" in result.output


def test_an_alias_cycle_in_check_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "cycle.yaml"
    f.write_text(CONFIGMAP + "data:\n  a: &a [*a]\n")
    result = _check(str(f))
    assert result.exit_code == 2, result.output
    assert f"{f}: line 6: a YAML alias refers" in _flat(result.output)


@pytest.mark.parametrize("depth", [400, 100_000])
def test_deep_nesting_in_check_exits_2(tmp_path: Path, depth: int) -> None:
    f = tmp_path / "deep.yaml"
    f.write_text(CONFIGMAP + "data:\n  a: " + "[" * depth + "]" * depth + "\n")
    result = _check(str(f))
    assert result.exit_code == 2, result.output
    assert f"{f}: line " in _flat(result.output)


# -- integers --------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", [400, 5000])
def test_a_huge_integer_in_check_exits_2_with_file_and_line(tmp_path: Path, digits: int) -> None:
    f = _integer_file(tmp_path, "9" * digits)
    result = _check(str(f))
    assert result.exit_code == 2, result.output
    flat = _flat(result.output)
    assert f"{f}: line 5, column 15: integer with {digits} digits is out of range" in flat


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (str(2**63 - 1), True),
        (str(-(2**63)), True),
        ("0x7fff_ffff_ffff_ffff", True),
        (str(2**63), False),
        (str(-(2**63) - 1), False),
        ("0x8000000000000000", False),
        ("0b1" + "0" * 63, False),
    ],
)
def test_check_takes_exactly_the_int64_range(tmp_path: Path, value: str, accepted: bool) -> None:
    result = _check(str(_integer_file(tmp_path, value)))
    assert result.exit_code == (0 if accepted else 2), result.output
    if not accepted:
        assert "out of range; Kubernetes takes 64-bit integers" in _flat(result.output)


def test_nan_in_check_exits_2_naming_the_file_not_the_pack(tmp_path: Path) -> None:
    f = _integer_file(tmp_path, ".nan")
    result = _check(str(f))
    assert result.exit_code == 2, result.output
    assert f"{f}: line 5, column 15: nan is not a number" in _flat(result.output)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("0x_", "'0x_' is not a valid integer"),
        ("!!bool maybe", "'maybe' is not a valid boolean"),
        ("!!float abc", "'abc' is not a valid number"),
    ],
)
def test_a_scalar_that_is_not_the_type_it_claims_exits_2(
    tmp_path: Path, value: str, problem: str
) -> None:
    f = _integer_file(tmp_path, value)
    result = _check(str(f))
    assert result.exit_code == 2, result.output
    assert f"{f}: line 5, column 15: {problem}" in _flat(result.output)


def test_a_huge_integer_in_the_catalog_exits_2_naming_the_file(project: Path) -> None:
    service = project / "services" / "extra.yaml"
    service.write_text(
        "name: extra\nteam: web\nimage: ghcr.io/acme/extra\nversion: {tag: '1.0.0'}\n"
        "ports: [{name: http, port: 8080}]\nreplicas: " + "9" * 5000 + "\n"
    )
    result = runner.invoke(app, ["preview", "dev", "--project-dir", str(project), "--no-policy"])
    assert result.exit_code == 2, result.output
    assert f"{service}: line 6, column 11: integer with 5000 digits" in _flat(result.output)


def test_a_huge_integer_in_a_stack_file_exits_2_naming_the_file(project: Path) -> None:
    stack = project / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text() + "  slipway:huge: " + "9" * 5000 + "\n")
    result = runner.invoke(app, ["preview", "dev", "--project-dir", str(project), "--no-policy"])
    assert result.exit_code == 2, result.output
    assert f"{stack}: line " in _flat(result.output)
    assert "integer with 5000 digits is out of range" in _flat(result.output)


# -- size and kind of file -------------------------------------------------------------------


def test_an_oversized_file_is_refused_without_being_read(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.yaml"
    with sparse.open("wb") as f:
        f.truncate(3 * 1024**3)  # sparse: costs no disk
    started = time.monotonic()
    code, output = _guarded_check(str(sparse))
    assert code == 2, output
    assert f"{sparse}: file is {3 * 1024**3} bytes; the limit is" in _flat(output)
    assert time.monotonic() - started < 30


def test_a_device_named_exits_2_quickly() -> None:
    code, output = _guarded_check("/dev/zero")
    assert code == 2, output
    assert "/dev/zero: not a regular file" in _flat(output)


def test_a_fifo_named_exits_2_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    code, output = _guarded_check(str(fifo))
    assert code == 2, output
    assert f"{fifo}: not a regular file" in _flat(output)


# -- OS errors -------------------------------------------------------------------------------


def test_a_name_too_long_for_the_os_exits_2(tmp_path: Path) -> None:
    result = _check(str(tmp_path / ("m" * 5000 + ".yaml")))
    assert result.exit_code == 2, result.output
    assert "cannot read: File name too long" in _flat(result.output)


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_an_io_error_while_reading_exits_2() -> None:
    # /proc/self/mem is a regular file whose first page is unmapped: read() fails with EIO
    result = _check("/proc/self/mem")
    assert result.exit_code == 2, result.output
    assert "/proc/self/mem: cannot read: Input/output error" in _flat(result.output)


def test_permission_denied_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 000 does not stop root, so the refusal is simulated where the file is opened
    f = tmp_path / "locked.yaml"
    f.write_text(HARDENED.read_text())
    real_open = os.open

    def denied(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(path) == f:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    result = _check(str(f))
    assert result.exit_code == 2, result.output
    assert f"{f}: cannot read: Permission denied" in _flat(result.output)


# -- text that is not YAML, documents that are not objects -----------------------------------


def test_a_file_that_is_not_utf8_exits_2_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes(CONFIGMAP.encode() + b"data:\n  name: caf\xe9\n")
    result = _check(str(f))
    assert result.exit_code == 2, result.output
    assert f"{f}: not UTF-8 text (line 6" in _flat(result.output)


def test_a_date_that_is_no_date_is_text_in_check_as_kubectl_reads_it(tmp_path: Path) -> None:
    """go-yaml resolves a timestamp only when it parses; otherwise kubectl sees text."""
    result = _check(str(_integer_file(tmp_path, "2024-13-45")))
    assert result.exit_code == 0, result.output


def test_a_nul_byte_exits_2_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "nul.yaml"
    f.write_bytes(CONFIGMAP.encode() + b"data:\n  a: x\x00y\n")
    result = _check(str(f))
    assert result.exit_code == 2, result.output
    assert f"{f}: line 6, column 7: not valid YAML" in _flat(result.output)


@pytest.mark.parametrize("text", ["just a string\n", "- a\n- b\n"])
def test_a_named_file_whose_documents_are_not_mappings_exits_2(tmp_path: Path, text: str) -> None:
    f = tmp_path / "odd.yaml"
    f.write_text(text)
    result = _check(str(f))
    assert result.exit_code == 2, result.output
    assert f"{f}: holds no Kubernetes object (its documents are lists or text" in _flat(
        result.output
    )


def test_a_json_manifest_named_is_checked(tmp_path: Path) -> None:
    f = tmp_path / "configmap.json"
    f.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}))
    result = _check(str(f))
    assert result.exit_code == 0, result.output
    assert "1 object in 1 file" in result.output
