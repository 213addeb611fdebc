"""The docs cannot rot: every offline shell command in README.md and docs/ runs here.

Shell commands live in fenced blocks tagged `sh`, `bash` or `shell`. A block that needs
something this offline run cannot have carries a marker on the line before its fence:

    <!-- requires: pulumi -->        the Pulumi CLI and a backend (pulumi ..., slipway deploy)
    <!-- requires: cluster -->       a Kubernetes cluster (kubectl, helm, slipway deploy)
    <!-- requires: test-suite -->    runs the test suite itself (make test, pytest): it would
                                     recurse into this very test

Markers are checked both ways: a marked block must really use what it claims to need, and an
unmarked block must use none of it. Each document's unmarked blocks run in order, in one
temporary copy of the repository (so steps may build on each other and nothing here changes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHELL_LANGS = {"sh", "bash", "shell"}
BLOCK_TIMEOUT_SECONDS = 300

REQUIREMENTS: dict[str, re.Pattern[str]] = {
    "pulumi": re.compile(r"(?m)(^|[\s;&|(])pulumi\s|slipway\s+deploy\b"),
    "cluster": re.compile(r"(?m)(^|[\s;&|(])(kubectl|helm)\s|slipway\s+deploy\b"),
    "test-suite": re.compile(r"(?m)(^|[\s;&|(])(make\s+test\b|pytest\b)"),
}
"""Marker name -> what a command needing it looks like."""

MARKER = re.compile(r"^\s*<!--\s*requires:\s*([a-z0-9 ,-]+?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([A-Za-z0-9_+-]*)")


@dataclass(frozen=True)
class Block:
    """One fenced shell block of a document."""

    doc: Path
    line: int
    code: str
    requires: frozenset[str]

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def parse_blocks(doc: Path, text: str) -> list[Block]:
    """Shell blocks of a Markdown text, with the `requires` marker just above each."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(2), m.group(3).lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        if lang not in SHELL_LANGS:
            continue
        requires: frozenset[str] = frozenset()
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and (mk := MARKER.match(lines[j])):
            requires = frozenset(x.strip() for x in mk.group(1).split(",") if x.strip())
        blocks.append(Block(doc, start + 1, "\n".join(body) + "\n", requires))
    return blocks


def documents() -> list[Path]:
    docs = sorted((REPO / "docs").rglob("*.md"))
    readme = REPO / "README.md"
    return ([readme] if readme.is_file() else []) + docs


def all_blocks() -> list[Block]:
    return [b for doc in documents() for b in parse_blocks(doc, doc.read_text())]


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {".venv", ".venv-checkov", "build", "__pycache__", ".pytest_cache", ".ruff_cache"}
    skip.add(".hypothesis")
    if Path(directory).name == "policies":
        skip.add("venv")
    return {n for n in names if n in skip or n.endswith(".egg-info")}


def repo_copy(dest: Path) -> Path:
    """A throw-away copy of the repository (with its git history) wired to the shared venv."""
    root = dest / "slipway"
    shutil.copytree(REPO, root, ignore=_ignore, symlinks=True)
    venv = REPO / ".venv"
    if venv.is_dir():
        (root / ".venv").mkdir()
        for entry in venv.iterdir():
            (root / ".venv" / entry.name).symlink_to(entry)
        # `make` sees an installed venv newer than the requirements: it installs nothing.
        (root / ".venv" / ".installed").touch()
    return root


def shell_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{root / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(root),
        GIT_AUTHOR_NAME="Docs Test",
        GIT_AUTHOR_EMAIL="docs@example.com",
        GIT_COMMITTER_NAME="Docs Test",
        GIT_COMMITTER_EMAIL="docs@example.com",
        NO_COLOR="1",
        COLUMNS="120",
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def run_block(block: Block, root: Path) -> subprocess.CompletedProcess[str]:
    """Run one block with bash in strict mode in `root`."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.code],
        cwd=root,
        env=shell_env(root),
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_SECONDS,
        check=False,
        stdin=subprocess.DEVNULL,
    )


# ---- the harness itself


SAMPLE = """\
# Sample

```sh
echo offline
```

<!-- requires: pulumi, cluster -->

```bash
slipway deploy dev
```

```yaml
not: run
```
"""


def test_parser_finds_shell_blocks_and_their_markers():
    blocks = parse_blocks(REPO / "docs" / "sample.md", SAMPLE)
    assert [(b.line, b.code, b.requires) for b in blocks] == [
        (3, "echo offline\n", frozenset()),
        (9, "slipway deploy dev\n", frozenset({"pulumi", "cluster"})),
    ]


def test_a_failing_command_is_reported(tmp_path):
    block = Block(REPO / "docs" / "x.md", 1, "true\nfalse\necho never\n", frozenset())
    proc = run_block(block, tmp_path)
    assert proc.returncode != 0
    assert "never" not in proc.stdout


def test_requirement_patterns_tell_offline_from_online():
    assert REQUIREMENTS["pulumi"].search("pulumi config set --secret x -s dev\n")
    assert REQUIREMENTS["pulumi"].search("slipway deploy prod --auto-rollback\n")
    assert not REQUIREMENTS["pulumi"].search("slipway preview dev\n")
    assert REQUIREMENTS["cluster"].search("kubectl -n shop get pods\n")
    assert not REQUIREMENTS["cluster"].search("slipway canary orders --stack dev --weight 20\n")
    assert REQUIREMENTS["test-suite"].search("make test\n")
    assert not REQUIREMENTS["test-suite"].search("make preview\n")


# ---- the documents


def test_docs_have_offline_commands():
    offline = [b for b in all_blocks() if not b.requires]
    assert len(offline) >= 10, [b.where for b in offline]


def test_markers_name_known_requirements():
    unknown = {b.where: sorted(b.requires - set(REQUIREMENTS)) for b in all_blocks()}
    assert {k: v for k, v in unknown.items() if v} == {}


def test_markers_are_only_on_commands_that_need_them():
    wrong = {
        b.where: sorted(
            r for r in b.requires if r in REQUIREMENTS and not REQUIREMENTS[r].search(b.code)
        )
        for b in all_blocks()
    }
    assert {k: v for k, v in wrong.items() if v} == {}, "marker on a block that does not need it"


def test_unmarked_commands_need_nothing_missing_offline():
    missing = {
        b.where: sorted(
            r for r, pat in REQUIREMENTS.items() if r not in b.requires and pat.search(b.code)
        )
        for b in all_blocks()
    }
    assert {k: v for k, v in missing.items() if v} == {}, "add a <!-- requires: ... --> marker"


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_offline_commands_of_document_run(doc, tmp_path):
    blocks = [b for b in parse_blocks(doc, doc.read_text()) if not b.requires]
    if not blocks:
        pytest.skip("no offline commands")
    root = repo_copy(tmp_path)
    for block in blocks:
        proc = run_block(block, root)
        assert proc.returncode == 0, (
            f"{block.where} exited {proc.returncode}\n$ {block.code}\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
