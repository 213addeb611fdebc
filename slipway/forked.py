"""Run one function in a forked child and take its pickled result: a second core for work
that splits in two (reading and judging half of a folder's files).

The child dies with the parent (``PR_SET_PDEATHSIG``), never returns into the caller's
code (it leaves with ``os._exit``), and reports exactly one of a result, a `BadInput` (the
caller raises it as its own), or a traceback. With ``serve``, the function returns
``(result, state)``: the result is sent, the state stays in the child, which then answers
`ask` requests with ``serve(state, request)`` until `close` (what it kept, such as parsed
YAML, is too costly to send and rarely needed). Where `fork` is unsafe or missing (not
Linux), the function runs in this process when the result is asked for.

Messages on each pipe are pickles, each after its length (8 bytes, little endian).
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


def die_with_parent() -> None:
    """In a forked child: be killed when the parent dies, however it dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def fork_with_pipe(child: Callable[[int], Any]) -> tuple[int, int]:
    """Fork; the child runs ``child(write_fd)``, which must leave with ``os._exit``. Returns
    (pid, read_fd) in the parent. Output is flushed first (else the child would print it
    again), and the collector is frozen across the fork, so the child never scans, and so
    never copies, the parent's objects."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        child(write_fd)
        os._exit(70)  # `child` must not return
    gc.unfreeze()
    os.close(write_fd)
    return pid, read_fd


class Forked(Generic[T]):
    """``fn(*args)`` started in a child now; `result()` waits for it."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        serve: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        self._call = (fn, args)
        self._serve = serve
        self._state: Any = None
        self._pid = 0
        self._reader: Any = None
        self._writer: Any = None
        if not can_fork():
            return
        ask_read, ask_write = os.pipe() if serve is not None else (-1, -1)

        def child(write_fd: int) -> None:  # pragma: no cover - runs in the child
            if ask_write >= 0:
                os.close(ask_write)
            _child(fn, args, serve, write_fd, ask_read)

        pid, read_fd = fork_with_pipe(child)
        self._reader = os.fdopen(read_fd, "rb", buffering=1 << 20)
        if ask_read >= 0:
            os.close(ask_read)
            self._writer = os.fdopen(ask_write, "wb")
        self._pid = pid

    def result(self) -> T:
        """The child's result; its BadInput raised here; ChildFailed for the rest."""
        if not self._pid:
            fn, args = self._call
            value = fn(*args)
            if self._serve is not None:
                value, self._state = value
            return value  # type: ignore[no-any-return]
        message = _receive(self._reader)
        if message is None:
            status = self._reap()
            raise ChildFailed(f"the child process ended without a result ({status})")
        kind, payload = message
        if kind == "bad":
            self.close()
            raise payload
        if kind == "failed":
            self.close()
            raise ChildFailed(payload)
        return payload  # type: ignore[no-any-return]

    def ask(self, request: Any) -> Any:
        """``serve(state, request)`` where the state is (the child, after `result`)."""
        assert self._serve is not None, "ask needs serve"
        if not self._pid:
            return self._serve(self._state, request)
        _send(self._writer, request)
        message = _receive(self._reader)
        if message is None:
            raise ChildFailed(f"the child process ended without an answer ({self._reap()})")
        kind, payload = message
        if kind != "ok":
            raise ChildFailed(payload)
        return payload

    def close(self) -> None:
        """End the child: it stops serving (or is stopped, if still working) and is reaped."""
        if self._writer is not None:
            with contextlib.suppress(OSError):
                self._writer.close()
            self._writer = None
        if self._pid:
            self._reap()

    def _reap(self) -> str:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if not self._pid:
            return "not started"
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        _, status = os.waitpid(self._pid, 0)
        self._pid = 0
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.WEXITSTATUS(status)}"


_LENGTH = 8


def _send(out: Any, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(_LENGTH, "little"))
    out.write(data)
    out.flush()


def _receive(reader: Any) -> Any:
    """The next message, or None at the end of the pipe (or one cut short)."""
    head = reader.read(_LENGTH)
    if len(head) < _LENGTH:
        return None
    size = int.from_bytes(head, "little")
    data = reader.read(size)
    return pickle.loads(data) if len(data) == size else None


def _child(  # pragma: no cover - runs in the child
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    serve: Callable[[Any, Any], Any] | None,
    fd: int,
    ask_fd: int,
) -> None:
    code = 0
    try:
        die_with_parent()
        out = os.fdopen(fd, "wb", buffering=1 << 20)
        state = None
        try:
            value = fn(*args)
            if serve is not None:
                value, state = value
            message: tuple[str, Any] = ("ok", value)
        except BadInput as exc:
            message = ("bad", exc)
        except BaseException as exc:  # a bug: its traceback, for the parent to show
            message = ("failed", "".join(traceback.format_exception(exc)))
        _send(out, message)
        if serve is not None and message[0] == "ok":
            requests = os.fdopen(ask_fd, "rb")
            while (request := _receive(requests)) is not None:
                try:
                    _send(out, ("ok", serve(state, request)))
                except BaseException as exc:
                    _send(out, ("failed", "".join(traceback.format_exception(exc))))
        out.close()
    except BaseException:
        code = 70
    finally:
        os._exit(code)
