"""The console entry point: a Ctrl-C that Python cannot raise still ends the run with 130."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_entry(body: str) -> subprocess.CompletedProcess[str]:
    """Run `slipway.entry.run` with `_main` replaced by `body` (which returns an exit code)."""
    script = textwrap.dedent(
        """
        import weakref
        import slipway.entry as entry

        class Thing:
            pass

        def fake_main():
        {body}

        entry._main = fake_main
        entry.run()
        """
    ).format(body=textwrap.indent(textwrap.dedent(body), "    "))
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_an_interrupt_lost_in_a_weakref_callback_exits_130_without_a_traceback() -> None:
    # The import machinery's module-lock callback is a weakref callback: a Ctrl-C landing in
    # it is "ignored" by Python, printed with a traceback, and the run went on to exit 0.
    done = run_entry(
        """
        def interrupt(_ref):
            raise KeyboardInterrupt
        thing = Thing()
        ref = weakref.ref(thing, interrupt)
        del thing
        return 0
        """
    )
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "interrupted" in done.stderr


def test_a_lost_interrupt_does_not_hide_a_failing_exit_code() -> None:
    done = run_entry(
        """
        def interrupt(_ref):
            raise KeyboardInterrupt
        thing = Thing()
        ref = weakref.ref(thing, interrupt)
        del thing
        return 2
        """
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_other_unraisable_errors_are_still_reported_as_python_does() -> None:
    done = run_entry(
        """
        def broken(_ref):
            raise ValueError("a finaliser bug")
        thing = Thing()
        ref = weakref.ref(thing, broken)
        del thing
        return 0
        """
    )
    assert done.returncode == 0
    assert "ValueError: a finaliser bug" in done.stderr
    assert "Exception ignored" in done.stderr
