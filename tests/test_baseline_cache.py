"""The render cache of `--against REF` and of a services stack's platform (issue 17).

Most cases use a throw-away repository holding a tiny project whose own `slipway` module
writes a resources.json and notes each render in a log (tests/test_baseline.py's stand-in):
so a test sees whether a baseline was rendered or read from the cache. The end-to-end case
runs the real program on a copy of the project: the diff with a cold cache, a warm one and a
damaged one is the same, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from slipway import baseline, render_process
from slipway import cache as caching
from slipway.baseline import Pending, baseline_key, load_baseline
from slipway.cache import Cache
from tests.conftest import git_repo
from tests.test_baseline import FAKE_MAIN, commit_all, git, worktrees

LOGGED_MAIN = (
    "import os, pathlib, time\n"
    "if os.environ.get('FAKE_RENDER_LOG'):\n"
    "    with open(os.environ['FAKE_RENDER_LOG'], 'a') as log:\n"
    "        log.write('render\\n')\n"
    "if pathlib.Path('catalog.txt').read_text().strip() == 'slow':\n"
    "    time.sleep(60)\n"
) + FAKE_MAIN


@pytest.fixture
def log(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "renders.log"
    monkeypatch.setenv("FAKE_RENDER_LOG", str(path))
    return path


def renders(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture
def repo(tmp_path) -> Path:
    """The fake project at v1 (HEAD~1: catalog "one") and v2 (HEAD: catalog "two")."""
    root = tmp_path / "repo"
    (root / "slipway").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "slipway" / "__init__.py").write_text("")
    (root / "slipway" / "__main__.py").write_text(LOGGED_MAIN.replace("KIND", "t:Kind"))
    (root / "catalog.txt").write_text("one\n")
    commit_all(root, "v1")
    (root / "catalog.txt").write_text("two\n")
    commit_all(root, "v2")
    return root


@pytest.fixture
def cache(tmp_path) -> Cache:
    return Cache(tmp_path / "cache")


def key_of(repo: Path, ref: str, stack: str = "dev") -> str:
    commit = git(repo, "rev-parse", ref)
    return baseline_key(repo.resolve(), commit, Path("."), stack)


def entry_of(cache: Cache, repo: Path, ref: str) -> Path:
    return cache.entry("baseline", key_of(repo, ref))


# --- hits and misses -----------------------------------------------------------------------------


def test_a_warm_cache_gives_the_same_records_without_rendering(repo, cache, log, scratch_tmp):
    cold = load_baseline("HEAD", "dev", repo, cache=cache)
    assert renders(log) == 1
    entry = entry_of(cache, repo, "HEAD")
    manifest = json.loads((entry / caching.MANIFEST).read_text())
    assert manifest["key"] == entry.name.split("-", 1)[1]
    assert set(manifest["files"]) == {"resources.json"}
    assert (cache.root / caching.TAG_NAME).read_bytes().startswith(caching.TAG_SIGNATURE)
    warm = load_baseline("HEAD", "dev", repo, cache=cache)
    assert renders(log) == 1, "a warm cache rendered again"
    assert warm == cold
    assert warm[0]["inputs"] == {"value": "two"}
    assert len(worktrees(repo)) == 1 and list(scratch_tmp.iterdir()) == []


def test_the_same_content_at_two_refs_hits_one_entry(repo, cache, log, scratch_tmp):
    """A commit that changes nothing a render reads (docs only), a branch, a tag: one key."""
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("words\n")
    (repo / "README.md").write_text("readme\n")
    commit_all(repo, "docs only")
    git(repo, "branch", "other", "HEAD~1")
    git(repo, "tag", "v2", "HEAD")
    assert key_of(repo, "HEAD") == key_of(repo, "HEAD~1") == key_of(repo, "other")
    first = load_baseline("other", "dev", repo, cache=cache)
    second = load_baseline("v2", "dev", repo, cache=cache)
    assert renders(log) == 1
    assert first == second
    assert len(cache.entries()) == 1


def test_a_changed_catalog_file_changes_the_key(repo, cache, log, scratch_tmp):
    assert key_of(repo, "HEAD") != key_of(repo, "HEAD~1")  # v1 -> v2: catalog.txt only
    one = load_baseline("HEAD~1", "dev", repo, cache=cache)
    two = load_baseline("HEAD", "dev", repo, cache=cache)
    assert renders(log) == 2
    assert one[0]["inputs"] == {"value": "one"} and two[0]["inputs"] == {"value": "two"}
    assert len(cache.entries()) == 2


def test_the_stack_and_the_code_are_part_of_the_key(repo):
    assert key_of(repo, "HEAD", "dev") != key_of(repo, "HEAD", "prod")
    main = repo / "slipway" / "__main__.py"
    main.write_text(main.read_text() + "\n# a comment is content too\n")
    commit_all(repo, "code")
    assert key_of(repo, "HEAD") != key_of(repo, "HEAD~1")


def test_the_installed_packages_are_part_of_the_key(repo, monkeypatch):
    before = key_of(repo, "HEAD")
    fingerprint = dict(caching.environment())
    fingerprint["packages"] = [*fingerprint["packages"], ["pulumi-kubernetes", "0.0.1"]]
    monkeypatch.setitem(caching._fingerprints, sys.executable, fingerprint)
    assert key_of(repo, "HEAD") != before


# --- damaged entries -----------------------------------------------------------------------------


def flip_a_byte(entry: Path) -> None:
    path = entry / "resources.json"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def edit_manifest(entry: Path, change) -> None:
    path = entry / caching.MANIFEST
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def truncate_with_checksum(entry: Path) -> None:
    """Whole by its manifest, yet not a list of records: still never trusted."""
    (entry / "resources.json").write_bytes(b"[{")
    meta = {"size": 2, "sha256": hashlib.sha256(b"[{").hexdigest()}
    edit_manifest(entry, lambda m: m["files"].update({"resources.json": meta}))


DAMAGE = {
    "a flipped byte": flip_a_byte,
    "a deleted file": lambda e: (e / "resources.json").unlink(),
    "no manifest": lambda e: (e / caching.MANIFEST).unlink(),
    "an unparsable manifest": lambda e: (e / caching.MANIFEST).write_text("{not json"),
    "another key": lambda e: edit_manifest(e, lambda m: m.update(key="0" * 64)),
    "another format": lambda e: edit_manifest(e, lambda m: m.update(format=99)),
    "an extra file": lambda e: (e / "stray.json").write_text("[]"),
    "a truncated file with its checksum": lambda e: truncate_with_checksum(e),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_entry_is_reported_and_rendered_again(
    repo, cache, log, scratch_tmp, capsys, damage
):
    cold = load_baseline("HEAD", "dev", repo, cache=cache)
    entry = entry_of(cache, repo, "HEAD")
    DAMAGE[damage](entry)
    capsys.readouterr()
    again = load_baseline("HEAD", "dev", repo, cache=cache)
    assert again == cold
    assert renders(log) == 2, "a damaged entry was trusted"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "damaged" in err[0] and entry.name in err[0], err
    warm = load_baseline("HEAD", "dev", repo, cache=cache)  # stored whole again
    assert warm == cold and renders(log) == 2


def test_a_partial_entry_of_a_killed_run_is_removed_and_a_live_ones_kept(cache):
    cache.put("baseline", "a" * 64, {"resources.json": b"[]"})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = cache.root / f".tmp-{dead.pid}-abc"
    left.mkdir()
    (left / "resources.json").write_text("[")
    live = cache.root / f".tmp-{os.getppid()}-abc"
    live.mkdir()
    cache.put("baseline", "b" * 64, {"resources.json": b"[]"})
    assert not left.exists() and live.is_dir()
    assert cache.get("baseline", "c" * 64) is None  # never written: a miss, nothing said


def test_a_linked_entry_is_damaged_and_only_the_link_goes(tmp_path, cache, capsys):
    """An entry that is a link to a folder elsewhere is never read, and what it points at
    is never removed."""
    elsewhere = tmp_path / "users-folder"
    elsewhere.mkdir()
    (elsewhere / "resources.json").write_text("[]")
    cache.put("baseline", "a" * 64, {"resources.json": b"[]"})
    link = cache.entry("baseline", "d" * 64)
    link.symlink_to(elsewhere)
    assert cache.get("baseline", "d" * 64) is None
    assert "damaged" in capsys.readouterr().err
    assert not os.path.lexists(link)
    assert (elsewhere / "resources.json").read_text() == "[]"


def test_the_oldest_entries_go_beyond_the_bound_and_nothing_else(tmp_path):
    cache = Cache(tmp_path / "cache", max_entries=2)
    for n, key in enumerate(("a" * 64, "b" * 64, "c" * 64)):
        cache.put("baseline", key, {"resources.json": b"[]"})
        os.utime(cache.entry("baseline", key), (1000 + n, 1000 + n))
    assert cache.get("baseline", "a" * 64) is None  # the oldest went when c came
    (cache.root / "notes.txt").write_text("mine")
    cache.get("baseline", "b" * 64)  # used: now the newest
    cache.put("platform", "e" * 64, {"outputs.json": b"{}"})
    names = sorted(p.name for p in cache.root.iterdir())
    assert names == [caching.TAG_NAME, "baseline-" + "b" * 64, "notes.txt", "platform-" + "e" * 64]
    with pytest.raises(ValueError):
        cache._remove(tmp_path / "notes.txt")  # never outside the cache folder


def test_pending_cancel_stops_the_render_and_removes_its_worktree(repo, log, scratch_tmp):
    (repo / "catalog.txt").write_text("slow\n")
    commit_all(repo, "slow")
    start = time.monotonic()
    with Pending("HEAD", "dev", repo) as pending:
        deadline = time.monotonic() + 60
        while renders(log) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert renders(log) == 1
    assert pending.done()
    assert time.monotonic() - start < 30, "the render was not stopped"
    assert len(worktrees(repo)) == 1
    assert list(scratch_tmp.iterdir()) == []


# --- the cache folder ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["project", "parent", "env-project", "file", "foreign"])
def test_an_unsafe_cache_folder_is_refused_with_exit_2_and_nothing_touched(
    tmp_path, monkeypatch, where
):
    project = tmp_path / "work" / "project"
    project.mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: slipway\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config: {}\n")
    args = []
    if where == "project":
        args = ["--cache-dir", str(project)]
    elif where == "parent":
        args = ["--cache-dir", str(project.parent)]
    elif where == "env-project":
        monkeypatch.setenv(caching.ENV, str(project / "."))
    elif where == "file":
        (tmp_path / "afile").write_text("x")
        args = ["--cache-dir", str(tmp_path / "afile")]
    else:
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "thesis.tex").write_text("x")
        args = ["--cache-dir", str(tmp_path / "mine")]
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    proc = subprocess.run(
        [sys.executable, "-m", "slipway", "preview", "dev", "--project-dir", str(project), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "cache" in proc.stderr
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


# --- the preview command ------------------------------------------------------------------------


def test_the_baseline_renders_beside_the_head_not_after_it(run, project, monkeypatch, tmp_path):
    """The baseline starts before the head's program has handed over its last record."""
    git_repo(project)
    times: dict[str, float] = {}
    real_load = baseline.load_baseline
    real_batches = render_process.RenderRun.batches

    def load(*args, **kwargs):
        times.setdefault("baseline starts", time.monotonic())
        return real_load(*args, **kwargs)

    def batches(self):
        yield from real_batches(self)
        times.setdefault("head ends", time.monotonic())

    monkeypatch.setattr(baseline, "load_baseline", load)
    monkeypatch.setattr(render_process.RenderRun, "batches", batches)
    result = run(
        "preview",
        "dev",
        "--against",
        "HEAD",
        "--no-policy",
        "--out",
        str(tmp_path / "o"),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert result.exit_code == 0, result.output
    assert times["baseline starts"] < times["head ends"], times


def _preview(project: Path, cache_dir: Path, *extra: str) -> tuple[str, bytes, str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "slipway",
            "preview",
            "prod",
            "--against",
            "HEAD",
            "--format",
            "json",
            "--no-policy",
            "--out",
            str(project / "out"),
            "--cache-dir",
            str(cache_dir),
            *extra,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, (project / "out" / "diff.json").read_bytes(), proc.stderr


def test_the_diff_is_the_same_with_a_cold_a_warm_and_a_damaged_cache(project, tmp_path):
    """One service's config changed: the prod diff (JSON summary and diff.json) read with an
    empty cache, a full one, and one whose entry was damaged, is the same byte for byte."""
    git_repo(project)
    path = project / "services" / "inventory.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["config"]["LOG_LEVEL"] = "warn"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    cache_dir = tmp_path / "cache"
    cold = _preview(project, cache_dir)
    diff = json.loads(cold[1])
    assert diff["replaced"] and diff["updated"], "the change shows nothing to compare"
    entries = sorted(p.name.split("-")[0] for p in Cache(cache_dir).entries())
    assert entries.count("baseline") == 1 and "platform" in entries
    warm = _preview(project, cache_dir)
    assert warm[:2] == cold[:2]
    assert "damaged" not in warm[2]
    (entry,) = [p for p in Cache(cache_dir).entries() if p.name.startswith("baseline-")]
    flip_a_byte(entry)
    damaged = _preview(project, cache_dir)
    assert damaged[:2] == cold[:2]
    said = [line for line in damaged[2].splitlines() if "damaged" in line]
    assert len(said) == 1 and entry.name in said[0], damaged[2]


def test_a_warm_platform_entry_skips_the_platform_render(project, tmp_path, monkeypatch):
    """A services stack's platform outputs come from the cache when the content its render
    reads is the same; a changed catalog file renders it again."""
    from slipway import preview as pv

    started: list[str] = []
    real_start = render_process.RenderRun.start

    def start(self):
        started.append(self.job.stack)
        return real_start(self)

    monkeypatch.setattr(render_process.RenderRun, "start", start)
    cache = Cache(tmp_path / "cache")
    cold = pv.prepare(project, "prod", cache=cache)
    assert started == ["prod-platform"]
    warm = pv.prepare(project, "prod", cache=cache)
    assert started == ["prod-platform"], "a warm entry rendered the platform again"
    assert warm.stack_outputs == cold.stack_outputs and warm.warnings == cold.warnings
    path = project / "services" / "orders.yaml"
    path.write_text(path.read_text() + "\n# a catalog file changed\n")
    pv.prepare(project, "prod", cache=cache)
    assert started == ["prod-platform", "prod-platform"]


def test_the_baselines_own_render_writes_the_same_records_and_no_manifests(project, tmp_path):
    """The ref's `preview --no-policy` run for a baseline (`SLIPWAY_BASELINE_RENDER=1`)
    skips the YAML of every object, and its resources.json is the same bytes."""
    outs = {}
    for flag in ("0", "1"):
        out = tmp_path / f"out-{flag}"
        proc = subprocess.run(
            [sys.executable, "-m", "slipway", "preview", "dev", "--no-policy", "--out", str(out)],
            cwd=project,
            env={**os.environ, "SLIPWAY_BASELINE_RENDER": flag},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        outs[flag] = out
    assert (outs["0"] / "manifests").is_dir()
    assert not (outs["1"] / "manifests").exists()
    assert (outs["1"] / "resources.json").read_bytes() == (
        outs["0"] / "resources.json"
    ).read_bytes()
