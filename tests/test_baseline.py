"""load_baseline: previous output directories, and git refs rendered in a temporary worktree.

The git cases use a throw-away repository holding a tiny project whose own `slipway` module
writes a resources.json: that proves the ref's code (not the installed one) renders the ref.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from slipway.baseline import _parse, load_baseline
from slipway.errors import BadInput

RECORD = {"urn": "urn:pulumi:dev::p::t::a", "type": "t", "name": "a", "inputs": {}}

FAKE_MAIN = '''\
"""Stand-in for `python -m slipway preview <stack> --out <dir> --no-policy`."""
import json
import pathlib
import sys

args = sys.argv[1:]
assert args[0] == "preview", args
assert "--no-policy" in args, args
stack = args[1]
out = pathlib.Path(args[args.index("--out") + 1])
value = pathlib.Path("catalog.txt").read_text().strip()
if value == "broken":
    print("catalog.txt: service: broken on purpose", file=sys.stderr)
    sys.exit(2)
(out / stack).mkdir(parents=True)
record = {"urn": f"urn:pulumi:{stack}::p::KIND::svc", "type": "KIND", "name": "svc",
          "inputs": {"value": value}}
(out / stack / "resources.json").write_text(json.dumps([record]))
'''


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository with the fake project at commits v1 (HEAD~1) and v2 (HEAD)."""
    root = tmp_path / "repo"
    pkg = root / "slipway"
    pkg.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(FAKE_MAIN.replace("KIND", "v1:Kind"))
    (root / "catalog.txt").write_text("one\n")
    commit_all(root, "v1")
    (pkg / "__main__.py").write_text(FAKE_MAIN.replace("KIND", "v2:Kind"))
    (root / "catalog.txt").write_text("two\n")
    commit_all(root, "v2")
    return root


def worktrees(repo: Path) -> list[str]:
    return [
        line
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


# --- directories ---------------------------------------------------------------------------------


def test_directory_with_resources_json(tmp_path):
    (tmp_path / "resources.json").write_text(json.dumps([RECORD]))
    assert load_baseline(str(tmp_path), "dev", tmp_path) == [RECORD]


def test_directory_with_stack_subfolder(tmp_path):
    (tmp_path / "build" / "dev").mkdir(parents=True)
    (tmp_path / "build" / "dev" / "resources.json").write_text(json.dumps([RECORD]))
    assert load_baseline(str(tmp_path / "build"), "dev", tmp_path) == [RECORD]


def test_relative_directory_is_read_from_the_project(tmp_path, monkeypatch):
    (tmp_path / "project" / "old").mkdir(parents=True)
    (tmp_path / "project" / "old" / "resources.json").write_text(json.dumps([RECORD]))
    monkeypatch.chdir(tmp_path)
    assert load_baseline("old", "dev", tmp_path / "project") == [RECORD]


def test_directory_without_resources_json_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match=r"no resources\.json") as err:
        load_baseline(str(tmp_path), "dev", tmp_path)
    assert err.value.field == "--against"


def test_unreadable_json_is_bad_input_naming_the_file(tmp_path):
    (tmp_path / "resources.json").write_text("{not json")
    with pytest.raises(BadInput) as err:
        load_baseline(str(tmp_path), "dev", tmp_path)
    assert err.value.file == str(tmp_path / "resources.json")


def test_records_without_urn_are_bad_input(tmp_path):
    (tmp_path / "resources.json").write_text(json.dumps([{"type": "t"}]))
    with pytest.raises(BadInput, match="each with a urn"):
        load_baseline(str(tmp_path), "dev", tmp_path)


# --- git refs ------------------------------------------------------------------------------------


def test_git_ref_is_rendered_by_that_refs_own_code(repo, scratch_tmp):
    records = load_baseline("HEAD~1", "dev", repo)
    assert records == [
        {
            "urn": "urn:pulumi:dev::p::v1:Kind::svc",
            "type": "v1:Kind",
            "name": "svc",
            "inputs": {"value": "one"},
        }
    ]


def test_git_ref_head_sees_the_committed_state_not_the_working_tree(repo, scratch_tmp):
    (repo / "catalog.txt").write_text("uncommitted\n")
    records = load_baseline("HEAD", "dev", repo)
    assert records[0]["inputs"] == {"value": "two"}


def test_git_ref_worktree_and_scratch_are_removed_after_success(repo, scratch_tmp):
    load_baseline("main", "dev", repo)
    assert len(worktrees(repo)) == 1
    assert list(scratch_tmp.iterdir()) == []


def test_preview_failing_at_the_ref_is_bad_input_and_cleans_up(repo, scratch_tmp):
    (repo / "catalog.txt").write_text("broken\n")
    commit_all(repo, "broken catalog")
    with pytest.raises(BadInput) as err:
        load_baseline("HEAD", "dev", repo)
    message = str(err.value)
    assert "'HEAD'" in message
    assert "exit code 2" in message
    assert "broken on purpose" in message
    assert len(worktrees(repo)) == 1
    assert list(scratch_tmp.iterdir()) == []


def test_project_in_a_subfolder_of_the_repository(tmp_path, scratch_tmp):
    root = tmp_path / "mono"
    project = root / "infra"
    (project / "slipway").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (project / "slipway" / "__init__.py").write_text("")
    (project / "slipway" / "__main__.py").write_text(FAKE_MAIN.replace("KIND", "sub:Kind"))
    (project / "catalog.txt").write_text("nested\n")
    commit_all(root, "nested project")
    records = load_baseline("HEAD", "staging", project)
    assert records[0]["urn"] == "urn:pulumi:staging::p::sub:Kind::svc"
    assert records[0]["inputs"] == {"value": "nested"}


def test_unknown_ref_is_bad_input_naming_it(repo, scratch_tmp):
    with pytest.raises(BadInput, match="no-such-branch") as err:
        load_baseline("no-such-branch", "dev", repo)
    assert "neither a directory nor a commit" in str(err.value)
    assert list(scratch_tmp.iterdir()) == []


def test_option_like_ref_is_bad_input(repo):
    with pytest.raises(BadInput, match="not a git ref"):
        load_baseline("--upload-pack=x", "dev", repo)


def test_not_a_git_repository_is_bad_input(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(BadInput, match="not inside a git repository") as err:
        load_baseline("HEAD", "dev", plain)
    assert "'HEAD'" in str(err.value)


def test_a_deeply_nested_baseline_is_bad_input_not_a_traceback(tmp_path):
    (tmp_path / "resources.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BadInput, match="nests too deeply"):
        load_baseline(str(tmp_path), "dev", tmp_path)


def test_a_baseline_with_a_5000_digit_number_is_bad_input(tmp_path):
    (tmp_path / "resources.json").write_text('[{"urn": "u", "n": ' + "9" * 5000 + "}]")
    with pytest.raises(BadInput, match="cannot read the baseline"):
        load_baseline(str(tmp_path), "dev", tmp_path)


def test_a_baseline_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path):
    import os

    os.mkfifo(tmp_path / "resources.json")  # opening it would wait forever
    with pytest.raises(BadInput, match=r"no resources\.json"):
        load_baseline(str(tmp_path), "dev", tmp_path)
    with pytest.raises(BadInput, match="not a regular file"):
        _parse(Path("/dev/zero"))  # a device named directly: never read whole


def test_git_ref_imports_that_refs_own_components_package(tmp_path, scratch_tmp):
    """The ref's `components/slipway_components` wins over the installed package, so a
    component change shows up in the diff (the installed one is this checkout's)."""
    root = tmp_path / "repo"
    (root / "slipway").mkdir(parents=True)
    (root / "components" / "slipway_components").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "slipway" / "__init__.py").write_text("")
    main = FAKE_MAIN.replace(
        '"inputs": {"value": value}',
        '"inputs": {"value": value, "components": slipway_components.MARK}',
    )
    (root / "slipway" / "__main__.py").write_text("import slipway_components\n" + main)
    (root / "components" / "slipway_components" / "__init__.py").write_text('MARK = "ref"\n')
    (root / "catalog.txt").write_text("one\n")
    commit_all(root, "v1")
    records = load_baseline("HEAD", "dev", root)
    assert records[0]["inputs"] == {"value": "one", "components": "ref"}


def test_a_directory_baseline_is_read_as_it_is_never_cached(tmp_path):
    """An output folder is read directly: the cache holds only renders of git refs."""
    from slipway.cache import Cache

    (tmp_path / "resources.json").write_text(json.dumps([RECORD]))
    cache = Cache(tmp_path / "cache")
    assert load_baseline(str(tmp_path), "dev", tmp_path, cache=cache) == [RECORD]
    assert not cache.root.exists()


def test_a_git_ref_with_a_cache_is_rendered_once(repo, scratch_tmp, tmp_path):
    from slipway.cache import Cache

    cache = Cache(tmp_path / "cache")
    first = load_baseline("HEAD~1", "dev", repo, cache=cache)
    (entry,) = cache.entries()
    assert json.loads((entry / "resources.json").read_text()) == first
    assert load_baseline("HEAD~1", "dev", repo, cache=cache) == first
    assert len(worktrees(repo)) == 1 and list(scratch_tmp.iterdir()) == []
