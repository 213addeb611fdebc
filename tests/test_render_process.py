"""The preview's program process: records stream out in registration order, the output is
the same with or without the fork, and every way the program can end is reported."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from slipway import preview as pv
from slipway import render_process
from slipway.errors import BadInput
from slipway.render_process import ProgramFailed, RenderRun


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _stream(project: Path, stack: str, *, fork: bool) -> tuple[list[list], RenderRun]:
    with RenderRun(pv.prepare(project, stack), fork=fork) as run:
        batches = list(run.batches())
    return batches, run


def test_records_stream_in_batches_parents_and_providers_first(project: Path) -> None:
    batches, run = _stream(project, "prod", fork=True)
    assert len(batches) > 1, "a prod stack arrives in several batches, while it renders"
    seen: set[str] = set()
    for batch in batches:
        for record in batch:
            assert not record.parent or record.parent in seen, record.urn
            if record.provider:
                assert record.provider.rsplit("::", 1)[0] in seen, record.urn
            seen.add(record.urn)
    assert run.rendered is not None
    assert [r.urn for r in run.rendered.records] == sorted(seen)


def test_forked_and_in_process_runs_give_the_same_records(project: Path) -> None:
    _, forked = _stream(project, "prod", fork=True)
    _, local = _stream(project, "prod", fork=False)
    assert forked.rendered is not None and local.rendered is not None
    assert forked.rendered.resources == local.rendered.resources
    assert forked.rendered.resources == pv.render(project, "prod").resources


def test_preview_output_is_the_same_without_fork(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["preview", "dev", "--project-dir", str(project), "--format", "json", "--out"]
    forked = cli(*args, str(project / "forked"))
    monkeypatch.setattr(render_process, "can_fork", lambda: False)
    local = cli(*args, str(project / "local"))
    assert forked.exit_code == local.exit_code == 0, (forked.output, local.output)
    assert tree(project / "forked") == tree(project / "local")


def test_bad_input_raised_by_the_program_exits_2_and_writes_nothing(project: Path, cli) -> None:
    # A cloud store where dev (an existing cluster) reads payments' key: refused by the program.
    path = project / "services" / "payments.yaml"
    text = path.read_text()
    generated = "        source: generated\n        key: payments-api-key\n"
    assert generated in text
    path.write_text(
        text.replace(
            generated, "        source: cloud-secret-manager\n        key: payments-api-key\n"
        )
    )
    with pytest.raises(BadInput, match=r"payments\.yaml: secrets: .*cloud-secret-manager"):
        _stream(project, "dev", fork=True)
    result = cli("preview", "dev", "--project-dir", str(project), "--no-policy")
    assert result.exit_code == 2, result.output
    assert "payments.yaml" in result.output and "cloud-secret-manager" in result.output
    assert not (project / "build").exists()


def test_a_program_bug_is_reported_with_its_traceback(project: Path, cli) -> None:
    main = project / "__main__.py"
    main.write_text(main.read_text() + "\nraise RuntimeError('boom in the program')\n")
    with pytest.raises(ProgramFailed, match="RuntimeError: boom in the program"):
        _stream(project, "dev", fork=True)
    result = cli("preview", "dev", "--project-dir", str(project), "--no-policy")
    assert result.exit_code == 1, result.output
    assert "the program failed" in result.output
    assert "boom in the program" in result.output
    assert not (project / "build").exists()


def test_a_program_process_that_dies_is_reported(project: Path) -> None:
    main = project / "__main__.py"
    main.write_text("import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGKILL)\n")
    with pytest.raises(ProgramFailed, match=r"ended without a result \(killed by signal 9\)"):
        _stream(project, "dev", fork=True)


def test_a_pack_failure_after_the_output_was_staged_leaves_nothing_behind(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The output is written beside build/<stack> while AnalyzeStack runs; when the pack
    then fails, the staged folder is removed and the previous output stays as it was."""
    from slipway import policy

    out = project / "build" / "dev"
    first = cli("preview", "dev", "--project-dir", str(project), "--out", str(out))
    assert first.exit_code == 0, first.output
    before = tree(out)
    staged: list[bool] = []

    def failing_stack(self, *args, **kwargs):
        # Fail only once the output is being staged, so the failure lands after it.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not staged:
            if any(p.name.startswith(".dev.tmp-") for p in out.parent.iterdir()):
                staged.append(True)
            time.sleep(0.01)
        raise policy.PolicyPackError("AnalyzeStack failed: boom", file="policies")

    monkeypatch.setattr(policy.PolicyPackProcess, "analyze_stack", failing_stack)
    result = cli("preview", "dev", "--project-dir", str(project), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "AnalyzeStack failed: boom" in result.output
    assert tree(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["dev"]
    assert staged == [True], "the output was staged before the pack failed"


def test_records_handed_out_are_not_kept_while_the_program_runs(project: Path) -> None:
    """The parent holds each batch as the bytes it came in until the program has ended, not
    as objects (the preview's peak of memory is while the program runs); afterwards the
    same records come back, in the order they arrived."""
    import gc
    import weakref

    refs: list[weakref.ref] = []
    urns: list[str] = []
    with RenderRun(pv.prepare(project, "prod"), fork=True) as run:
        for batch in run.batches():
            refs.extend(weakref.ref(r) for r in batch)
            urns.extend(r.urn for r in batch)
            del batch
            gc.collect()
            assert all(ref() is None for ref in refs[:-64]), "an earlier batch is still held"
    assert len(refs) > 64
    assert run.arrived is not None and run.rendered is not None
    assert [r.urn for r in run.arrived] == urns
    assert [r.urn for r in run.rendered.records] == sorted(urns)
