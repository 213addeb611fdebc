"""Run the program in a child process and stream its records out while it runs.

Why a child: a fleet's program holds hundreds of megabytes of Pulumi SDK state (outputs,
futures, registrations) that nothing needs once the records are out. In a forked child that
memory goes back to the system the moment the program ends, before the policy pack's
`AnalyzeStack` and the writing of the output need theirs; the parent, meanwhile, is free to
feed each record to the pack and turn it into YAML on the other core, and the child's stack
is shallower (the SDK walks it for every resource it registers).

Protocol: the child writes pickled messages to a pipe, each after its length (8 bytes, little
endian): `("records", [Record, ...])` as registrations happen (parents and providers before
the resources that use them), then exactly one of `("done", (required keys, stack
outputs))`, `("bad", BadInput)` or `("failed", traceback text)`. A child that dies without
one of those is reported with its exit status. The child never returns into the caller's
code: it leaves with `os._exit`.

Where `fork` is not available (or not Linux), the program runs in this process and its
records come out as one batch at the end: the same records, only later.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from slipway.engine import Record, RequiredKey, assign_targets
from slipway.errors import BadInput
from slipway.forked import can_fork, die_with_parent, fork_with_pipe
from slipway.preview import Job, Rendered, run_job

BATCH = 64
"""Records per message: small enough to keep the parent busy, large enough to be cheap."""


class ProgramFailed(Exception):
    """The program raised something other than BadInput (a bug): carries its traceback."""


@dataclass
class RenderRun:
    """One run of a job's program, started by `start()` (or `with`); iterate `batches()`,
    then read `rendered`."""

    job: Job
    fork: bool | None = None
    """Run the program in a forked child; None: where `can_fork()`."""
    rendered: Rendered | None = None
    outputs: dict[str, Any] | None = None
    """The stack's outputs (`engine.RunResult.outputs`), once the run is done."""
    arrived: list[Record] | None = None
    """`rendered`'s records in the order they were registered (and handed out)."""
    _pid: int = 0
    _reader: BinaryIO | None = None

    def start(self) -> RenderRun:
        """Fork the child (when forking); the caller may start its own helpers after this."""
        if self.fork is None:
            self.fork = can_fork()
        if not self.fork:
            return self
        pid, read_fd = fork_with_pipe(lambda write_fd: _child(self.job, write_fd))
        self._pid = pid
        self._reader = os.fdopen(read_fd, "rb", buffering=1 << 20)
        return self

    def batches(self) -> Iterator[list[Record]]:
        """The records as they are registered; raises BadInput or ProgramFailed at the end.

        Afterwards `rendered` holds every record sorted by URN, targets assigned."""
        if not self.fork:
            required: list[RequiredKey] = []
            outputs: dict[str, Any] = {}
            records = run_job(self.job, required=required, outputs=outputs)
            self._finish(records, required, outputs)
            yield records
            return
        assert self._reader is not None
        # Each batch is kept as the bytes it came in, and read again once the program has
        # ended: while it runs (the preview's peak of memory), the records handed out are
        # freed as soon as the caller is done with them (a third of their size as objects).
        received: list[bytes] = []
        outcome: tuple[str, Any] | None = None
        try:
            while outcome is None:
                message = _read_message(self._reader)
                if message is None:
                    break
                kind, payload = pickle.loads(message)
                if kind == "records":
                    received.append(message)
                    yield payload
                    del payload
                else:
                    outcome = (kind, payload)
        finally:
            status = self._reap(kill=outcome is None)
        if outcome is None:
            raise ProgramFailed(f"the program's process ended without a result ({status})")
        kind, payload = outcome
        if kind == "bad":
            raise payload
        if kind == "failed":
            raise ProgramFailed(payload)
        required, outputs = payload
        records = [r for message in received for r in pickle.loads(message)[1]]
        received.clear()
        self._finish(records, required, outputs)

    def _finish(
        self, records: list[Record], required: list[RequiredKey], outputs: dict[str, Any]
    ) -> None:
        """`rendered`: the records sorted by URN, each with its target (as `run_job` gives);
        `arrived`: the same in their order; `outputs`: the stack's outputs."""
        self.outputs = outputs
        self.arrived = records
        records = sorted(records, key=lambda r: r.urn)
        assign_targets(records)
        self.rendered = Rendered(
            stack=self.job.stack,
            records=records,
            manifests={},
            warnings=self.job.warnings,
            required=required,
        )

    def _reap(self, *, kill: bool) -> str:
        """Close the pipe and wait for the child; describe how it ended."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if not self._pid:
            return "not started"
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        _, status = os.waitpid(self._pid, 0)
        self._pid = 0
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.WEXITSTATUS(status)}"

    def close(self) -> None:
        """Stop a child that is still running (the caller gave up early)."""
        self._reap(kill=True)

    def __enter__(self) -> RenderRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


_LENGTH = 8
"""Bytes of the length before each message."""


def _read_message(reader: BinaryIO) -> bytes | None:
    """The next message's bytes; None at the end of the pipe (or a message cut short: the
    child died while writing it, which the caller reports)."""
    head = reader.read(_LENGTH)
    if len(head) < _LENGTH:
        return None
    size = int.from_bytes(head, "little")
    data = reader.read(size)
    return data if len(data) == size else None


def _child(job: Job, fd: int) -> None:  # pragma: no cover - measured through the parent
    """The forked child: run the program, stream records, report the outcome, exit."""
    code = 0
    try:
        die_with_parent()  # a killed preview
        out = os.fdopen(fd, "wb", buffering=1 << 20)
        pending: list[Record] = []
        lock = threading.Lock()

        def send(message: tuple[str, Any]) -> None:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            out.write(len(data).to_bytes(_LENGTH, "little"))
            out.write(data)
            out.flush()

        def on_record(record: Record) -> None:
            with lock:
                pending.append(record)
                if len(pending) >= BATCH:
                    send(("records", pending[:]))
                    pending.clear()

        def work() -> None:
            try:
                required: list[RequiredKey] = []
                outputs: dict[str, Any] = {}
                run_job(job, on_record=on_record, required=required, outputs=outputs)
                with lock:
                    if pending:
                        send(("records", pending[:]))
                        pending.clear()
                send(("done", (required, outputs)))
            except BadInput as exc:
                send(("bad", exc))
            except BaseException as exc:  # a bug in the program: its traceback
                send(("failed", "".join(traceback.format_exception(exc))))

        # Nearly every object the program makes lives until it ends, and this process ends
        # with it; the little cyclic garbage a run leaves (see `engine.contains_unknowns`)
        # is not worth the collector's passes over everything else (seconds at fleet
        # scale), so it stays off. The program runs on a new thread because the SDK walks
        # the whole stack for every resource, and the caller's frames are of no use there.
        gc.disable()
        thread = threading.Thread(target=work, name="program")
        thread.start()
        thread.join()
        out.close()
    except BaseException:  # the parent reports the missing outcome
        code = 70
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
