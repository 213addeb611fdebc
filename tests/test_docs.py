"""The docs cannot rot: every offline shell command in README.md and docs/ runs here.

Shell commands live in fenced blocks tagged `sh`, `bash` or `shell`. A block that needs
something this offline run cannot have carries a marker on the line before its fence:

    <!-- requires: pulumi -->        the Pulumi CLI and a backend (pulumi ..., slipway deploy)
    <!-- requires: cluster -->       a Kubernetes cluster (kubectl, helm, slipway deploy)
    <!-- requires: test-suite -->    runs the test suite itself (make test, pytest): it would
                                     recurse into this very test
    <!-- requires: network -->       installs packages (pip install): needs an index, and would
                                     change the environment the tests run in

Markers are checked both ways: a marked block must really use what it claims to need, and an
unmarked block must use none of it. Each document's unmarked blocks run in order, in one
temporary copy of the repository (so steps may build on each other and nothing here changes).

A block may also say which stacks its cluster commands are meant for (checked by
tests/test_docs_claims.py against the rendered manifests; without it, every stack):

    <!-- stack: dev, staging -->

What the prose claims about a command's result is asserted, not just its exit code. Markers
on the lines right after a block's closing fence (blank lines between are fine):

    <!-- expect-exit: 2 -->          the block ends with this exit code instead of 0
    <!-- expect-diff: CLAUSE; CLAUSE; ... -->
                                     the diff of the block's last `slipway preview STACK
                                     --against REF` (its `diff.json`, in `--out` or
                                     build/STACK) satisfies every clause

Clauses of expect-diff:

    empty               nothing added, deleted, updated or replaced
    added-only          at least one resource added, and nothing else in the diff
    KIND=SEL,SEL,...    KIND is added, deleted, updated or replaced: each SEL matches at least
                        one entry of that list
    nothing-else        every entry of the diff matches a SEL of its own list, and every
                        change of an entry lies under a path of a SEL it matches (a SEL
                        without paths allows any change)

    SEL = TYPE/NAME[@TARGET][:PATH|PATH...]
        TYPE    the last part of the type token (`Service`, `Deployment`, `Record`)
        NAME    the resource name as the diff shows it, less its `<target>-` prefix
                (`payments-service`, `orders-green`); TYPE, NAME and TARGET take shell
                wildcards (`*/shipping*`)
        PATH    a property path; a change at PATH or below it matches
                (`spec.selector` covers `spec.selector.slot`); a SEL with paths needs
                each entry it matches to have a change under one of them

Example: `<!-- expect-diff: updated=Service/payments-service:spec.selector; nothing-else -->`.
Every expect marker must follow a block that runs offline (an orphan marker fails), and every
offline `--against` preview in the runbooks and the tutorial carries an expect-diff marker.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHELL_LANGS = {"sh", "bash", "shell"}
BLOCK_TIMEOUT_SECONDS = 300

REQUIREMENTS: dict[str, re.Pattern[str]] = {
    "pulumi": re.compile(r"(?m)(^|[\s;&|(])pulumi\s|slipway\s+deploy\b"),
    "cluster": re.compile(r"(?m)(^|[\s;&|(])(kubectl|helm)\s|slipway\s+deploy\b"),
    "test-suite": re.compile(r"(?m)(^|[\s;&|(])(make\s+test\b|pytest\b)"),
    "network": re.compile(r"(?m)(^|[\s;&|(])pip3?\s+install\b"),
}
"""Marker name -> what a command needing it looks like."""

MARKER = re.compile(r"^\s*<!--\s*requires:\s*([a-z0-9 ,-]+?)\s*-->\s*$")
STACK_MARKER = re.compile(r"^\s*<!--\s*stack:\s*([a-z0-9 ,-]+?)\s*-->\s*$")
EXPECT = re.compile(r"^\s*<!--\s*expect-(diff|exit):\s*(.*?)\s*-->\s*$")
ANY_EXPECT = re.compile(r"<!--\s*expect-")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([A-Za-z0-9_+-]*)")


@dataclass(frozen=True)
class Block:
    """One fenced shell block of a document."""

    doc: Path
    line: int
    code: str
    requires: frozenset[str]
    stacks: frozenset[str] = frozenset()
    expect_exit: int = 0
    expect_diff: tuple[str, ...] = ()
    expect_lines: tuple[int, ...] = field(default=(), compare=False)

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(REPO)}:{self.line}"


def _names(spec: str) -> frozenset[str]:
    return frozenset(x.strip() for x in spec.split(",") if x.strip())


def parse_blocks(doc: Path, text: str) -> list[Block]:
    """Shell blocks of a Markdown text, with the markers just above and just below each."""
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
        stacks: frozenset[str] = frozenset()
        j = start - 1
        while j >= 0 and (
            not lines[j].strip() or MARKER.match(lines[j]) or STACK_MARKER.match(lines[j])
        ):
            if mk := MARKER.match(lines[j]):
                requires = _names(mk.group(1))
            elif sk := STACK_MARKER.match(lines[j]):
                stacks = _names(sk.group(1))
            j -= 1
        expect_exit, expect_diff, expect_lines = 0, [], []
        k = i
        while k < len(lines) and (not lines[k].strip() or EXPECT.match(lines[k])):
            if ex := EXPECT.match(lines[k]):
                expect_lines.append(k + 1)
                if ex.group(1) == "exit":
                    expect_exit = int(ex.group(2))
                else:
                    expect_diff.append(ex.group(2))
            k += 1
        blocks.append(
            Block(
                doc,
                start + 1,
                "\n".join(body) + "\n",
                requires,
                stacks,
                expect_exit,
                tuple(expect_diff),
                tuple(expect_lines),
            )
        )
    return blocks


def expect_marker_lines(text: str) -> list[int]:
    """Line numbers of every expect marker of a text, attached to a block or not."""
    return [n for n, line in enumerate(text.splitlines(), 1) if ANY_EXPECT.search(line)]


# ---- expect-diff claims


KINDS = ("added", "deleted", "updated", "replaced")
_SEL = re.compile(r"^(?P<type>[^/@:]+)/(?P<name>[^@:]+)(?:@(?P<target>[^:]+))?(?::(?P<paths>.+))?$")


@dataclass(frozen=True)
class Selector:
    """`TYPE/NAME[@TARGET][:PATH|PATH...]`: which diff entries a claim is about."""

    type: str
    name: str
    target: str | None
    paths: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Selector:
        m = _SEL.match(text.strip())
        if not m:
            raise ValueError(f"selector {text!r} is not TYPE/NAME[@TARGET][:PATH|PATH...]")
        paths = tuple(p.strip() for p in (m.group("paths") or "").split("|") if p.strip())
        return cls(m.group("type"), m.group("name"), m.group("target"), paths)

    def matches(self, entry: dict) -> bool:
        target = entry.get("target") or ""
        name = entry.get("name", "")
        if target:
            name = name.removeprefix(f"{target}-")
        return (
            fnmatch.fnmatchcase(entry.get("type", "").rsplit(":", 1)[-1], self.type)
            and fnmatch.fnmatchcase(name, self.name)
            and (self.target is None or fnmatch.fnmatchcase(target, self.target))
        )

    def covers(self, path: str) -> bool:
        return not self.paths or any(_under(path, p) for p in self.paths)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


@dataclass(frozen=True)
class DiffClaim:
    """A parsed expect-diff marker."""

    empty: bool = False
    added_only: bool = False
    nothing_else: bool = False
    selectors: dict[str, tuple[Selector, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> DiffClaim:
        empty = added_only = nothing_else = False
        selectors: dict[str, list[Selector]] = {}
        for clause in (c.strip() for c in text.split(";")):
            if clause == "empty":
                empty = True
            elif clause == "added-only":
                added_only = True
            elif clause == "nothing-else":
                nothing_else = True
            elif "=" in clause and clause.split("=", 1)[0].strip() in KINDS:
                kind, sels = clause.split("=", 1)
                for sel in sels.split(","):
                    selectors.setdefault(kind.strip(), []).append(Selector.parse(sel))
            else:
                raise ValueError(f"unknown expect-diff clause {clause!r}")
        if not (empty or added_only or nothing_else or selectors):
            raise ValueError("an expect-diff marker must claim something")
        return cls(empty, added_only, nothing_else, {k: tuple(v) for k, v in selectors.items()})

    def failures(self, diff: dict) -> list[str]:
        """What in `diff` contradicts this claim; empty when it holds."""
        out: list[str] = []
        lists = {k: list(diff.get(k) or []) for k in KINDS}

        def show(e: dict) -> str:
            return f"{e.get('type')} {e.get('name')}"

        if self.empty:
            out += [f"{k}: {show(e)} (claimed: empty)" for k in KINDS for e in lists[k]]
        if self.added_only:
            if not lists["added"]:
                out.append("nothing added (claimed: added-only)")
            out += [f"{k}: {show(e)} (claimed: added-only)" for k in KINDS[1:] for e in lists[k]]
        for kind, sels in self.selectors.items():
            for sel in sels:
                hits = [e for e in lists[kind] if sel.matches(e)]
                if not hits:
                    out.append(f"{kind}: nothing matches {sel.type}/{sel.name}")
                for e in hits if sel.paths else ():
                    if not any(sel.covers(c["path"]) for c in e.get("changes") or []):
                        out.append(f"{kind}: {show(e)} changes nothing under {sel.paths}")
        if self.nothing_else:
            for kind in KINDS:
                for e in lists[kind]:
                    sels = [s for s in self.selectors.get(kind, ()) if s.matches(e)]
                    if not sels:
                        out.append(f"{kind}: {show(e)} is not claimed (nothing-else)")
                        continue
                    for c in e.get("changes") or []:
                        if not any(s.covers(c["path"]) for s in sels):
                            out.append(f"{kind}: {show(e)} also changes {c['path']}")
        return out


def _commands(code: str) -> list[list[str]]:
    """The shell words of each command line of a block (continuations joined)."""
    joined = re.sub(r"\\\n", " ", code)
    out: list[list[str]] = []
    for line in joined.splitlines():
        for part in re.split(r"&&|\|\||;|\|", line.split(" #")[0]):
            try:
                words = shlex.split(part, comments=True)
            except ValueError:
                continue
            if words:
                out.append(words)
    return out


def preview_diff_path(code: str) -> Path | None:
    """Where the block's last `slipway preview STACK --against REF` writes its diff.json."""
    found: Path | None = None
    for words in _commands(code):
        if len(words) < 3 or not words[0].endswith("slipway") or words[1] != "preview":
            continue
        if not any(w == "--against" or w.startswith("--against=") for w in words):
            continue
        out = f"build/{words[2]}"
        for i, w in enumerate(words):
            if w == "--out" and i + 1 < len(words):
                out = words[i + 1]
            elif w.startswith("--out="):
                out = w.split("=", 1)[1]
        found = Path(out) / "diff.json"
    return found


def check_expectations(block: Block, root: Path) -> list[str]:
    """What the block's expect-diff markers claim and its preview's diff contradicts."""
    if not block.expect_diff:
        return []
    rel = preview_diff_path(block.code)
    if rel is None:
        return ["expect-diff after a block with no `slipway preview STACK --against REF`"]
    diff_file = root / rel
    if not diff_file.is_file():
        return [f"expect-diff: {rel} was not written"]
    diff = json.loads(diff_file.read_text())
    return [f for text in block.expect_diff for f in DiffClaim.parse(text).failures(diff)]


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


def _own_git(root: Path) -> None:
    """Give the copy a repository of its own when the checkout is a git worktree (or a
    submodule): there `.git` is a file naming the shared repository, and a copy of it would
    let the documents' `git checkout -b` and commits move the real worktree's branch."""
    (root / ".git").unlink()
    with tempfile.TemporaryDirectory(dir=root.parent) as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", str(REPO), str(clone)],
            check=True,
            capture_output=True,
        )
        shutil.move(clone / ".git", root / ".git")
    # the copied files stay as they are (uncommitted edits included); the index is HEAD's
    subprocess.run(["git", "reset", "--quiet"], cwd=root, check=True, capture_output=True)


def repo_copy(dest: Path) -> Path:
    """A throw-away copy of the repository (with its git history) wired to the shared venv."""
    root = dest / "slipway"
    shutil.copytree(REPO, root, ignore=_ignore, symlinks=True)
    if (REPO / ".git").is_file():
        _own_git(root)
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
        PYTHONPATH=os.pathsep.join((str(root), str(root / "components"))),
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
    assert REQUIREMENTS["network"].search('pip install "./components[aws]"\n')
    assert not REQUIREMENTS["network"].search("make setup\n")


CLAIMED = """\
<!-- stack: prod -->
<!-- requires: cluster -->
```sh
kubectl -n commerce get pods
```

```sh
slipway promote payments --stack dev
slipway preview dev --against HEAD --out build/promoted
```

<!-- expect-diff: updated=Service/payments-*:spec.selector; nothing-else -->

```sh
slipway preview dev
```
<!-- expect-exit: 1 -->
"""

PROMOTE_DIFF = {
    "added": [],
    "deleted": [],
    "replaced": [],
    "updated": [
        {
            "type": "kubernetes:core/v1:Service",
            "name": f"local-payments-{role}",
            "target": "local",
            "changes": [{"path": "spec.selector.slot", "old": "blue", "new": "green"}],
        }
        for role in ("preview", "service")
    ],
}
"""The shape of a blue-green promotion's diff in dev: both Services change their selector."""


def test_parser_reads_stack_and_expect_markers():
    blocks = parse_blocks(REPO / "docs" / "sample.md", CLAIMED)
    assert [(b.stacks, b.requires, b.expect_exit, b.expect_diff) for b in blocks] == [
        (frozenset({"prod"}), frozenset({"cluster"}), 0, ()),
        (frozenset(), frozenset(), 0, ("updated=Service/payments-*:spec.selector; nothing-else",)),
        (frozenset(), frozenset(), 1, ()),
    ]
    attached = {n for b in blocks for n in b.expect_lines}
    assert attached == set(expect_marker_lines(CLAIMED)) == {12, 17}


def test_preview_diff_path_follows_out_and_the_last_preview():
    assert preview_diff_path("slipway preview dev --against HEAD\n") == Path("build/dev/diff.json")
    code = (
        "slipway preview prod --out build/before\n"
        "slipway preview prod --against build/before --out=build/x\n"
    )
    assert preview_diff_path(code) == Path("build/x/diff.json")
    assert preview_diff_path("slipway preview dev\n") is None


def test_a_true_claim_holds():
    claim = DiffClaim.parse(
        "updated=Service/payments-service,Service/payments-preview:spec.selector; nothing-else"
    )
    assert claim.failures(PROMOTE_DIFF) == []


def test_the_old_promote_claim_fails_on_a_real_promotion():
    """ "Only the live Service's selector": the preview Service changes too, and is caught."""
    claim = DiffClaim.parse("updated=Service/payments-service:spec.selector; nothing-else")
    assert claim.failures(PROMOTE_DIFF) == [
        "updated: kubernetes:core/v1:Service local-payments-preview is not claimed (nothing-else)"
    ]


def test_claims_catch_wrong_paths_kinds_and_missing_entries():
    assert DiffClaim.parse("empty").failures(PROMOTE_DIFF)
    assert DiffClaim.parse("added-only").failures(PROMOTE_DIFF)
    assert DiffClaim.parse("updated=Service/payments-*:spec.template").failures(PROMOTE_DIFF)
    assert DiffClaim.parse("deleted=Deployment/*").failures(PROMOTE_DIFF)
    assert DiffClaim.parse("updated=Service/*@aws-*").failures(PROMOTE_DIFF)
    narrow = "updated=Service/*:spec.selector.color; nothing-else"
    assert DiffClaim.parse(narrow).failures(PROMOTE_DIFF)
    assert DiffClaim.parse("empty").failures({k: [] for k in KINDS}) == []


@pytest.mark.parametrize("text", ["", "only new", "added=Service", "changed=Service/x"])
def test_bad_claims_are_refused(text):
    with pytest.raises(ValueError):
        DiffClaim.parse(text)


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
        assert proc.returncode == block.expect_exit, (
            f"{block.where} exited {proc.returncode}, expected {block.expect_exit}\n"
            f"$ {block.code}\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
        wrong = check_expectations(block, root)
        assert not wrong, f"{block.where}: the diff contradicts the docs\n" + "\n".join(wrong)


def test_expect_markers_follow_a_block_that_runs():
    """A claim with no offline block before it is asserted by nothing: that is an error."""
    orphans = []
    for doc in documents():
        text = doc.read_text()
        attached = {n for b in parse_blocks(doc, text) if not b.requires for n in b.expect_lines}
        rel = doc.relative_to(REPO)
        orphans += [f"{rel}:{n}" for n in expect_marker_lines(text) if n not in attached]
    assert orphans == []


def test_expect_markers_parse():
    bad = {}
    for b in all_blocks():
        for text in b.expect_diff:
            try:
                DiffClaim.parse(text)
            except ValueError as exc:
                bad[b.where] = str(exc)
        if b.expect_diff and preview_diff_path(b.code) is None:
            bad[b.where] = "expect-diff after a block with no `slipway preview --against`"
    assert bad == {}


def test_every_offline_diff_in_runbooks_and_tutorial_has_its_claim_asserted():
    """The reader is told what the diff shows; an unmarked diff is a claim nobody checks."""
    docs = [*sorted((REPO / "docs" / "runbooks").glob("*.md")), REPO / "docs" / "tutorial.md"]
    unclaimed = [
        b.where
        for doc in docs
        for b in parse_blocks(doc, doc.read_text())
        if not b.requires and preview_diff_path(b.code) and not b.expect_diff
    ]
    assert unclaimed == []


def test_a_copy_made_from_a_git_worktree_cannot_move_its_branch(tmp_path, monkeypatch):
    """Run from a git worktree, the documents' `git checkout -b` and commits happen in the
    copy's own repository: the worktree keeps its branch and the repository gains none."""
    from tests.conftest import git_repo

    main = tmp_path / "main"
    main.mkdir()
    (main / "README.md").write_text("hello\n")
    git_repo(main)
    worktree = tmp_path / "wt"
    subprocess.run(
        ["git", "worktree", "add", "-q", "-b", "feature", str(worktree)],
        cwd=main,
        check=True,
        capture_output=True,
    )
    (worktree / "README.md").write_text("edited, not committed\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", worktree)
    copy = repo_copy(tmp_path / "scratch")
    assert (copy / "README.md").read_text() == "edited, not committed\n"
    env = shell_env(copy)
    for cmd in (["git", "checkout", "-q", "-b", "hello-service"], ["git", "commit", "-qam", "x"]):
        subprocess.run(cmd, cwd=copy, env=env, check=True, capture_output=True)

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=worktree, check=True, capture_output=True, text=True
        ).stdout.strip()

    assert git("rev-parse", "--abbrev-ref", "HEAD") == "feature"
    assert "hello-service" not in git("branch", "--list")
    assert git("status", "--porcelain") == "M README.md"
