"""The `slipway` console command: every way it can end becomes a documented exit code.

Kept free of heavy imports, so a Ctrl-C while the CLI is still loading is caught like one
at any later moment: exit 130, no traceback. Exit codes: 0 fine, 1 a mandatory policy
violation (or a failed deploy), 2 bad input, 3 a deploy whose automatic rollback failed,
70 an internal error (a bug in slipway: the traceback is shown), 130 interrupted.
"""

from __future__ import annotations

import contextlib
from types import FrameType

INTERRUPTED = 130
INTERNAL_ERROR = 70
LEAVES_AFTER_COMMAND = False
"""True when this process is the `slipway` command and ends with `os._exit` once the command
returns (not a test or a program calling the CLI in-process): a command may then skip
tidying up what only the end of the process would free."""


def run() -> None:
    """Run the CLI, then leave at once with its exit code.

    A preview of a large fleet leaves hundreds of thousands of objects behind; tearing them
    down one by one at interpreter exit took seconds for nothing. Everything the commands
    write is closed and flushed before they return, so this flushes the standard streams
    and logging and leaves with `os._exit`. Child processes are tied to this one
    (`slipway.children`) and end with it.
    """
    import os
    import sys

    global LEAVES_AFTER_COMMAND
    LEAVES_AFTER_COMMAND = True
    code = INTERNAL_ERROR
    lost = _catch_lost_interrupts()
    deferred = DeferredInterrupt.install()
    try:
        from slipway import redact

        redact.install()
        code = _main()
        # A Ctrl-C Python could not raise (lost), or one still waiting for an import to end
        # when the run finished: the run was interrupted all the same.
        if (lost or (deferred is not None and deferred.pending)) and code == 0:
            code = _interrupted()
    except KeyboardInterrupt:
        code = _interrupted()
    except BaseException:  # a bug: say so, with the (redacted) traceback
        import traceback

        try:
            sys.stderr.write("internal error (a bug in slipway; please report it):\n")
            traceback.print_exc()
        except KeyboardInterrupt:
            code = INTERRUPTED
    if deferred is not None:
        deferred.disarm()
    try:
        import logging

        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: the output could not be written
                code = code or 2
    except KeyboardInterrupt:
        code = INTERRUPTED
    os._exit(code)


def _catch_lost_interrupts() -> list[BaseException]:
    """Keep a Ctrl-C that Python cannot raise from being printed as a traceback and lost.

    A KeyboardInterrupt raised inside a weakref callback or a finaliser (the import
    machinery's module-lock callback is one) cannot propagate: Python prints "Exception
    ignored in ..." with a traceback, and the run goes on to exit 0 as if never interrupted.
    This hook records such an interrupt silently so the run still ends with 130; any other
    unraisable exception is reported as Python would.
    """
    import sys

    lost: list[BaseException] = []
    default = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            lost.append(unraisable.exc_value)
            return
        default(unraisable)

    sys.unraisablehook = hook
    return lost


RETRY_SECONDS = 0.02


def _in_import(frame: FrameType | None) -> bool:
    """Whether `frame` or a caller is the import machinery's own code."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


class DeferredInterrupt:
    """Raise a Ctrl-C's KeyboardInterrupt only outside the import machinery.

    Python raises it wherever the main thread is, including between the import machinery
    taking a lock and releasing it (the module-lock weakref callback; `logging`'s lock taken
    by a module being imported): the lock then stays held, and the next import or log call
    from any thread waits for ever. A preview interrupted while loading hung there. Inside
    an import the interrupt is put off and retried every 20 ms (SIGALRM) until the import
    is done. A second Ctrl-C while one is put off acts at once: the user insists, and an
    import that never ends must not make the command unstoppable. `run` turns an interrupt
    still put off when the command ends into exit 130, so it is never lost.

    Installed only from the main thread, only when Ctrl-C has Python's default handler (a
    SIGINT the parent ignores stays ignored) and SIGALRM is free. Both handlers are set at
    once, so the moment the CLI takes over Ctrl-C is visible from outside (the process's
    caught-signal mask in /proc), which is how the tests time their Ctrl-C.
    """

    def __init__(self) -> None:
        self.pending = False
        self._watchdog_started = False

    @classmethod
    def install(cls) -> DeferredInterrupt | None:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return None
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return None
        if signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None):
            return None
        deferred = cls()
        signal.signal(signal.SIGALRM, deferred._retry)
        signal.signal(signal.SIGINT, deferred._on_sigint)
        return deferred

    def _raise(self) -> None:
        self.pending = False
        raise KeyboardInterrupt

    def _retry(self, _signum: int, frame: FrameType | None) -> None:
        if not self.pending:
            return
        if _in_import(frame):
            self._arm()
            return
        self._raise()

    def _on_sigint(self, _signum: int, frame: FrameType | None) -> None:
        self._start_watchdog()
        if self.pending or not _in_import(frame):
            self._raise()
        self.pending = True
        self._arm()

    def _start_watchdog(self) -> None:
        """Make sure the command ends after a Ctrl-C, whatever its clean-up does.

        The clean-up that a Ctrl-C starts (stopping the pack, the program's process, the
        threads that feed them) is bounded by design, but a wait that a bug left unbounded
        would make one Ctrl-C do nothing. After `INTERRUPT_GRACE_SECONDS` the process leaves
        with 130 and says so; its children are tied to it (`slipway.children`) and end too.
        """
        if self._watchdog_started:
            return
        import threading

        self._watchdog_started = True
        threading.Thread(target=_leave_after_grace, name="interrupt-watchdog", daemon=True).start()

    @staticmethod
    def _arm() -> None:
        import signal

        signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)

    def disarm(self) -> None:
        """Stop the retries (the command has ended)."""
        import signal

        signal.setitimer(signal.ITIMER_REAL, 0)


INTERRUPT_GRACE_SECONDS = 30.0
"""How long the clean-up after a Ctrl-C may take before the process leaves regardless."""

GRACE_EXCEEDED = b"\ninterrupted: the clean-up did not end in time; stopped without it\n"


def _leave_after_grace() -> None:
    """The watchdog's thread: leave with 130 once the grace is over (the run ends the
    process first when its clean-up finishes in time). Writes with `os.write`: a hung main
    thread may hold the lock of `sys.stderr`."""
    import os
    import time

    time.sleep(INTERRUPT_GRACE_SECONDS)
    with contextlib.suppress(OSError):
        os.write(2, GRACE_EXCEEDED)
    os._exit(INTERRUPTED)


def _interrupted() -> int:
    import sys

    with contextlib.suppress(KeyboardInterrupt, OSError, ValueError):
        sys.stderr.write("\ninterrupted\n")
    return INTERRUPTED


def _main() -> int:
    """The CLI; typer maps a Ctrl-C inside a command to exit 130 itself."""
    from slipway.cli import app

    try:
        app()
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return _interrupted() if code == INTERRUPTED else (code or 0)
        print(code, file=__import__("sys").stderr)
        return 2
    return 0
