"""The undo journal and the catalog writes of the strategy commands, in-process on a private
copy of the project: `rollback` undoes only a recorded change, `promote` says where it goes and
never silently undoes itself, a journal entry exists only for a write that happened, and an
edit keeps the file's line endings, BOM, symlink and permissions (or refuses a read-only
file)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from slipway import declared
from tests.test_strategy_commands import _text

BOM = b"\xef\xbb\xbf"


def _catalog(project: Path, service: str) -> Path:
    return project / "services" / f"{service}.yaml"


def _journal(project: Path, stack: str) -> list[dict]:
    path = project / ".slipway" / "journal" / f"{stack}.json"
    return json.loads(path.read_text()) if path.exists() else []


# -- rollback only undoes a recorded change ----------------------------------------------------


def test_rollback_with_an_empty_journal_is_refused_and_writes_nothing(project, run):
    path = _catalog(project, "payments")
    before = path.read_bytes()
    result = run("rollback", "payments", "--stack", "dev")
    assert result.exit_code == 2, _text(result)
    text = _text(result)
    assert "services/payments.yaml: environments.dev.strategy.activeSlot:" in text
    assert "no recorded promote/canary/abort/flag of payments in stack dev" in text
    assert "has no entries" in text
    assert "--to green" in text
    assert path.read_bytes() == before
    assert not (project / ".slipway").exists()


def test_rollback_refusal_counts_the_entries_of_other_services(project, run):
    assert run("promote", "orders", "--stack", "prod", "--live-replicas", "5").exit_code == 0
    before = _catalog(project, "payments").read_bytes()
    journal = _journal(project, "prod")
    result = run("rollback", "payments", "--stack", "prod")
    assert result.exit_code == 2
    assert "has 1 entry, for other services (orders)" in _text(result)
    assert "use `slipway abort`" in _text(result)
    assert _catalog(project, "payments").read_bytes() == before
    assert _journal(project, "prod") == journal


def test_rollback_walks_back_one_recorded_step_at_a_time(project, run):
    path = _catalog(project, "payments")
    original = path.read_bytes()
    assert run("canary", "payments", "--stack", "prod", "--weight", "10").exit_code == 0
    after_10 = path.read_bytes()
    assert run("canary", "payments", "--stack", "prod", "--weight", "25").exit_code == 0
    result = run("rollback", "payments", "--stack", "prod")
    assert result.exit_code == 0, _text(result)
    assert "weight 25 -> 10" in _text(result)
    assert path.read_bytes() == after_10
    assert run("rollback", "payments", "--stack", "prod").exit_code == 0
    assert path.read_bytes() == original
    assert run("rollback", "payments", "--stack", "prod").exit_code == 2
    assert path.read_bytes() == original
    assert _journal(project, "prod") == []


def test_rollback_after_the_value_was_changed_by_hand_is_refused(project, run):
    assert run("promote", "payments", "--stack", "dev").exit_code == 0
    path = _catalog(project, "payments")
    path.write_text(path.read_text().replace("activeSlot: green", "activeSlot: blue"))
    before = path.read_bytes()
    journal = _journal(project, "dev")
    result = run("rollback", "payments", "--stack", "dev")
    assert result.exit_code == 2
    assert "environments.dev.strategy.activeSlot is now blue" in _text(result)
    assert "the recorded promote set it to green" in _text(result)
    assert path.read_bytes() == before
    assert _journal(project, "dev") == journal


def test_flag_toggle_is_journaled_and_rollback_restores_it(project, run):
    path = _catalog(project, "frontend")
    before = path.read_bytes()
    assert run("flag", "frontend", "dark-mode", "off", "--stack", "dev").exit_code == 0
    assert [(e["command"], e["old"], e["new"]) for e in _journal(project, "dev")] == [
        ("flag", True, False)
    ]
    result = run("rollback", "frontend", "--stack", "dev")
    assert result.exit_code == 0, _text(result)
    assert "environments.dev.flags.dark-mode off -> on" in _text(result)
    assert path.read_bytes() == before
    assert _journal(project, "dev") == []


def test_flag_rollback_after_an_unrelated_edit_reverses_only_the_flag(project, run):
    path = _catalog(project, "frontend")
    assert run("flag", "frontend", "new-checkout", "off", "--stack", "dev").exit_code == 0
    path.write_text(path.read_text() + "# reviewed\n")
    assert run("rollback", "frontend", "--stack", "dev").exit_code == 0
    text = path.read_text()
    assert "      new-checkout: true\n" in text
    assert text.endswith("# reviewed\n")


# -- promote states its target and is idempotent -----------------------------------------------


def test_promote_without_to_names_the_slot_it_makes_active(project, run):
    result = run("promote", "payments", "--stack", "dev")
    assert result.exit_code == 0, _text(result)
    assert "environments.dev.strategy.activeSlot blue -> green" in _text(result)
    assert [(e["command"], e["old"], e["new"]) for e in _journal(project, "dev")] == [
        ("promote", "blue", "green")
    ]


def test_promote_twice_refuses_the_second_run(project, run):
    assert run("promote", "payments", "--stack", "dev").exit_code == 0
    path = _catalog(project, "payments")
    before = path.read_bytes()
    journal = _journal(project, "dev")
    result = run("promote", "payments", "--stack", "dev")
    assert result.exit_code == 2
    text = _text(result)
    assert "environments.dev.strategy.activeSlot:" in text
    assert "the last promote made green active" in text
    assert "slipway rollback payments --stack dev" in text
    assert "--to blue" in text
    assert path.read_bytes() == before
    assert _journal(project, "dev") == journal


def test_promote_to_the_active_slot_changes_nothing(project, run):
    path = _catalog(project, "payments")
    before = path.read_bytes()
    result = run("promote", "payments", "--stack", "dev", "--to", "blue")
    assert result.exit_code == 0, _text(result)
    assert "blue is already active; nothing changed" in _text(result)
    assert path.read_bytes() == before
    assert not (project / ".slipway").exists()


def test_promote_to_names_the_slot_and_can_go_back(project, run):
    path = _catalog(project, "payments")
    before = path.read_bytes()
    assert run("promote", "payments", "--stack", "dev", "--to", "green").exit_code == 0
    assert "activeSlot: green" in path.read_text()
    result = run("promote", "payments", "--stack", "dev", "--to", "blue")
    assert result.exit_code == 0, _text(result)
    assert "activeSlot green -> blue" in _text(result)
    assert path.read_bytes() == before
    assert len(_journal(project, "dev")) == 2


def test_promote_to_on_a_canary_service_is_refused(project, run):
    before = _catalog(project, "payments").read_bytes()
    result = run("promote", "payments", "--stack", "prod", "--to", "green")
    assert result.exit_code == 2
    assert "--to applies to blue-green services" in _text(result)
    assert _catalog(project, "payments").read_bytes() == before


def test_promote_of_a_canary_twice_refuses_the_second_time(project, run):
    assert run("promote", "payments", "--stack", "prod").exit_code == 0
    before = _catalog(project, "payments").read_bytes()
    result = run("promote", "payments", "--stack", "prod")
    assert result.exit_code == 2, _text(result)
    assert "there is no canary track to promote" in _text(result)
    assert _catalog(project, "payments").read_bytes() == before
    assert len(_journal(project, "prod")) == 1


# -- the journal follows the write, never the other way round ----------------------------------


def test_a_failed_catalog_write_leaves_no_journal_entry(project, run, monkeypatch):
    path = _catalog(project, "payments")
    replace = os.replace

    def disk_full_for_the_catalog(src, dst, **kwargs):
        if Path(dst).resolve() == path.resolve():
            raise OSError(28, "No space left on device")
        return replace(src, dst, **kwargs)

    monkeypatch.setattr(declared.os, "replace", disk_full_for_the_catalog)
    before = path.read_bytes()
    result = run("promote", "payments", "--stack", "dev")
    assert result.exit_code == 2
    assert "could not write" in _text(result)
    assert "No space left on device" in _text(result)
    assert path.read_bytes() == before
    assert _journal(project, "dev") == []
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "frontend.yaml",
        "inventory.yaml",
        "orders.yaml",
        "payments.yaml",
    ], "the temporary file is left behind"
    monkeypatch.undo()
    assert run("rollback", "payments", "--stack", "dev").exit_code == 2
    assert path.read_bytes() == before


def test_a_failed_journal_write_keeps_the_change_and_says_so(project, run):
    (project / ".slipway").mkdir()
    (project / ".slipway" / "journal").write_text("not a folder\n")
    result = run("promote", "payments", "--stack", "dev")
    assert result.exit_code == 0, _text(result)
    text = _text(result)
    assert "activeSlot blue -> green" in text
    assert "the journal .slipway/journal/dev.json could not be written" in text
    assert "rollback will not find this change" in text
    assert "activeSlot: green" in _catalog(project, "payments").read_text()


def test_an_unreadable_journal_refuses_before_the_catalog_is_written(project, run):
    journal = project / ".slipway" / "journal" / "dev.json"
    journal.parent.mkdir(parents=True)
    journal.write_text("{not json")
    before = _catalog(project, "payments").read_bytes()
    result = run("promote", "payments", "--stack", "dev")
    assert result.exit_code == 2
    assert "journal unreadable" in _text(result)
    assert _catalog(project, "payments").read_bytes() == before
    assert journal.read_text() == "{not json"


# -- the catalog file keeps its line endings, encoding, symlink and permissions ----------------


def _changed_lines(before: bytes, after: bytes, newline: bytes) -> list[tuple[bytes, bytes]]:
    old, new = before.split(newline), after.split(newline)
    assert len(old) == len(new), "the edit added or removed lines"
    return [(a.strip(), b.strip()) for a, b in zip(old, new, strict=True) if a != b]


def test_a_crlf_file_stays_crlf(project, run):
    path = _catalog(project, "payments")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    before = path.read_bytes()
    assert run("promote", "payments", "--stack", "dev").exit_code == 0
    after = path.read_bytes()
    assert after.count(b"\r\n") == after.count(b"\n")
    assert _changed_lines(before, after, b"\r\n") == [(b"activeSlot: blue", b"activeSlot: green")]
    assert run("rollback", "payments", "--stack", "dev").exit_code == 0
    assert path.read_bytes() == before


def test_a_mixed_file_keeps_its_dominant_newline(project, run):
    path = _catalog(project, "payments")
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\r\n".join(lines[:-3]) + b"\n" + b"\n".join(lines[-3:]))
    assert run("promote", "payments", "--stack", "dev").exit_code == 0
    after = path.read_bytes()
    assert after.count(b"\r\n") == after.count(b"\n")
    assert b"activeSlot: green\r\n" in after


def test_a_utf8_bom_is_kept(project, run):
    path = _catalog(project, "payments")
    path.write_bytes(BOM + path.read_bytes())
    before = path.read_bytes()
    result = run("promote", "payments", "--stack", "dev")
    assert result.exit_code == 0, _text(result)
    after = path.read_bytes()
    assert after.startswith(BOM) and not after.startswith(BOM + BOM)
    assert _changed_lines(before, after, b"\n") == [(b"activeSlot: blue", b"activeSlot: green")]


def test_a_symlinked_catalog_file_stays_a_symlink_and_its_target_changes(project, run):
    link = _catalog(project, "payments")
    target = project / "shared" / "payments.yaml"
    target.parent.mkdir()
    link.rename(target)
    link.symlink_to(Path("..") / "shared" / "payments.yaml")
    before = target.read_bytes()
    result = run("promote", "payments", "--stack", "dev")
    assert result.exit_code == 0, _text(result)
    assert link.is_symlink()
    assert os.readlink(link) == str(Path("..") / "shared" / "payments.yaml")
    assert "activeSlot: green" in target.read_text()
    assert sorted(p.name for p in target.parent.iterdir()) == ["payments.yaml"]
    assert run("rollback", "payments", "--stack", "dev").exit_code == 0
    assert link.is_symlink()
    assert target.read_bytes() == before


def test_a_read_only_file_is_refused(project, run):
    path = _catalog(project, "payments")
    path.chmod(0o444)
    before = path.read_bytes()
    result = run("promote", "payments", "--stack", "dev")
    assert result.exit_code == 2
    text = _text(result)
    assert "services/payments.yaml: environments.dev.strategy.activeSlot:" in text
    assert "is read-only" in text
    assert path.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert not (project / ".slipway").exists()


def test_the_file_mode_is_kept(project, run):
    path = _catalog(project, "payments")
    path.chmod(0o640)
    assert run("promote", "payments", "--stack", "dev").exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
