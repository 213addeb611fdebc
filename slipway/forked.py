"""Run one function in a forked child and take its pickled result: a second core for work
that splits in two (reading and judging half of a folder's files).

The child dies with the parent (``PR_SET_PDEATHSIG``), never returns into the caller's
code (it leaves with ``os._exit``), and reports exactly one of a result, a `BadInput` (the
caller raises it as its own), or a traceback. Where `fork` is unsafe or missing (not
Linux), the function runs in this process when the result is asked for.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from slipway.errors import BadInput

T = TypeVar("T")
_PR_SET_PDEATHSIG = 1


class ChildFailed(Exception):
    """The child raised something other than BadInput (a bug), or died: its story."""


def can_fork() -> bool:
    """Fork is used on Linux only (elsewhere it is unsafe with threads and native libraries)."""
    return sys.platform == "linux" and hasattr(os, "fork")


def cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Forked(Generic[T]):
    """``fn(*args)`` started in a child now; `result()` waits for it."""

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        self._call = (fn, args)
        self._pid = 0
        self._fd = -1
        if not can_fork():
            return
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # the child never scans (so never copies) the parent's objects
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which leaves with os._exit
            os.close(read_fd)
            _child(fn, args, write_fd)
        gc.unfreeze()
        os.close(write_fd)
        self._pid, self._fd = pid, read_fd

    def result(self) -> T:
        """The child's return value; its BadInput raised here; ChildFailed for the rest."""
        if not self._pid:
            fn, args = self._call
            return fn(*args)
        with os.fdopen(self._fd, "rb") as reader:
            data = reader.read()
        self._fd = -1
        _, status = os.waitpid(self._pid, 0)
        self._pid = 0
        if not data:
            raise ChildFailed(f"the child process ended without a result (status {status})")
        kind, payload = pickle.loads(data)
        if kind == "bad":
            raise payload
        if kind == "failed":
            raise ChildFailed(payload)
        return payload  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop a child whose result is no longer wanted."""
        if self._pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
            self._pid = 0
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _child(fn: Callable[..., Any], args: tuple[Any, ...], fd: int) -> None:  # pragma: no cover
    code = 0
    try:
        with contextlib.suppress(Exception):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        try:
            message: tuple[str, Any] = ("ok", fn(*args))
        except BadInput as exc:
            message = ("bad", exc)
        except BaseException as exc:  # a bug: its traceback, for the parent to show
            message = ("failed", "".join(traceback.format_exception(exc)))
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BaseException:
        code = 70
    finally:
        os._exit(code)
