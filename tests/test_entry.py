"""The console entry point: a Ctrl-C that Python cannot raise still ends the run with 130."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.test_process_hygiene import as_from_a_terminal

ROOT = Path(__file__).resolve().parent.parent


def run_entry(body: str, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `slipway.entry.run` with `_main` replaced by `body` (which returns an exit code);
    `path` is put on sys.path (for modules the body imports)."""
    script = textwrap.dedent(
        """
        import sys
        import time
        import weakref
        import slipway.entry as entry
        sys.path.insert(0, {path!r})

        class Thing:
            pass

        def fake_main():
        {body}

        entry._main = fake_main
        entry.run()
        """
    ).format(body=textwrap.indent(textwrap.dedent(body), "    "), path=str(path or ROOT))
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=as_from_a_terminal,
    )


@pytest.mark.parametrize(("code", "expected"), [(0, 130), (2, 2)])
def test_an_interrupt_lost_in_a_weakref_callback_is_not_lost(code: int, expected: int) -> None:
    # The import machinery's module-lock callback is a weakref callback: a Ctrl-C landing in
    # it is "ignored" by Python, printed with a traceback, and the run went on to exit 0. A
    # run that fails anyway keeps its own exit code.
    done = run_entry(
        f"""
        def interrupt(_ref):
            raise KeyboardInterrupt
        thing = Thing()
        ref = weakref.ref(thing, interrupt)
        del thing
        return {code}
        """
    )
    assert done.returncode == expected, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert ("interrupted" in done.stderr) == (expected == 130)


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


def test_a_ctrl_c_during_an_import_waits_for_the_import_then_exits_130(tmp_path: Path) -> None:
    # Raised inside the import machinery, the interrupt can leave Python's global import
    # lock held, and the next import (from any thread) waits forever.
    (tmp_path / "slow_module.py").write_text(
        "import os, signal, time\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(0.3)\n"
        "print('import finished', flush=True)\n"
    )
    started = time.monotonic()
    done = run_entry(
        """
        import slow_module
        time.sleep(20)
        return 0
        """,
        path=tmp_path,
    )
    assert done.returncode == 130, done.stderr
    assert "import finished" in done.stdout
    assert time.monotonic() - started < 15
    assert "Traceback" not in done.stderr


def test_a_ctrl_c_outside_imports_is_raised_at_once() -> None:
    done = run_entry(
        """
        import os, signal
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            print("raised where it landed", flush=True)
            raise
        return 0
        """
    )
    assert done.returncode == 130
    assert "raised where it landed" in done.stdout


def _slow_module(tmp_path: Path, body: str) -> Path:
    (tmp_path / "slow_module.py").write_text(textwrap.dedent(body))
    return tmp_path


def test_an_interrupt_still_put_off_when_the_command_ends_exits_130(tmp_path: Path) -> None:
    # The import ends and the command returns before the 20 ms retry: not lost.
    path = _slow_module(
        tmp_path,
        """
        import os, signal
        os.kill(os.getpid(), signal.SIGINT)
        """,
    )
    done = run_entry("import slow_module\nreturn 0", path=path)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_ctrl_c_during_an_import_acts_at_once(tmp_path: Path) -> None:
    # An import that never ends must not make the command unstoppable.
    path = _slow_module(
        tmp_path,
        """
        import os, signal, time
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(20)
        print("import finished", flush=True)
        """,
    )
    started = time.monotonic()
    done = run_entry("import slow_module\nreturn 0", path=path)
    assert done.returncode == 130, done.stderr
    assert "import finished" not in done.stdout
    assert time.monotonic() - started < 15


def _install_under(setup: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import signal\n"
            f"{setup}\n"
            "import slipway.entry as entry\n"
            "print(entry.DeferredInterrupt.install() is None)\n",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=as_from_a_terminal,
    )
    return done.stdout.strip()


def test_an_ignored_sigint_stays_ignored() -> None:
    assert _install_under("signal.signal(signal.SIGINT, signal.SIG_IGN)") == "True"


def test_a_sigalrm_someone_else_uses_is_left_alone() -> None:
    assert _install_under("signal.signal(signal.SIGALRM, lambda *a: None)") == "True"


def test_only_the_main_thread_installs_it() -> None:
    setup = (
        "import threading\n"
        "import slipway.entry as entry\n"
        "out = []\n"
        "t = threading.Thread(target=lambda: out.append(entry.DeferredInterrupt.install()))\n"
        "t.start(); t.join()\n"
        "assert out == [None]"
    )
    assert _install_under(setup) == "False"  # from the main thread it installs
