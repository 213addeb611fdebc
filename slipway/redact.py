"""One redaction point: every value the user marked secret is cut out of all output.

The stack-file reader registers each value marked secret (`{value: X, secret: true}`, a
config override given as secret) the moment it reads it; from then on the CLI's standard
output and error streams, and every file a preview writes, pass through `redact`. So a
secret cannot leak through a validation message (`given: '…'`), a program's traceback or a
child's error tail, whichever code printed it: nothing has to remember to redact.

Long values are replaced wherever they occur; short ones (under `SUBSTRING_FROM`
characters) only as a whole word, so a three-letter secret does not blank out every word
that contains it. The forms a value takes inside messages (Python repr, JSON string) are
registered with it.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterable
from typing import Any, TextIO

MASK = "[secret]"
SUBSTRING_FROM = 6
"""Values at least this long are redacted wherever they occur, shorter ones as a word."""

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None
_bytes_pattern: re.Pattern[bytes] | None = None


def _forms(value: str) -> set[str]:
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1]}
    return {f for f in forms if f.strip()}


def register(values: Iterable[Any]) -> None:
    """Mark `values` (strings, or structures of them) secret for the rest of this process."""
    global _pattern, _bytes_pattern
    new: set[str] = set()
    stack = list(values)
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)
        elif v is not None and not isinstance(v, bool):
            text = str(v)
            if text.strip() and text != MASK:
                new |= _forms(text)
    with _lock:
        if new <= _values:
            return
        _values.update(new)
        long = _alternation(v for v in _values if len(v) >= SUBSTRING_FROM)
        short = _short_words(v for v in _values if len(v) < SUBSTRING_FROM)
        _pattern = re.compile("|".join(p for p in (long, short) if p))
        # Files get long values only: a short one as a whole word would also hit unrelated
        # numbers and keys of the JSON and YAML (a secret "8080", every containerPort).
        # Values the engine marks secret are already masked there; this is the backstop.
        _bytes_pattern = re.compile(long.encode("utf-8")) if long else None


def _alternation(values: Iterable[str]) -> str:
    """One alternation, longest first (so a value inside a longer one does not win)."""
    return "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))


_WORD = re.compile(r"\w")


def _short_words(values: Iterable[str]) -> str:
    """Short values as whole words: a word-character edge must not touch another word
    character (so `abc` is not cut out of `fabcd`), a punctuation edge may touch anything
    (so `!x9` is cut out of `pass!x9`). One group per kind of edges keeps the regex fast."""
    buckets: dict[tuple[bool, bool], list[str]] = {}
    for v in values:
        buckets.setdefault((bool(_WORD.match(v[0])), bool(_WORD.match(v[-1]))), []).append(v)
    parts = []
    for (word_start, word_end), vs in sorted(buckets.items()):
        before = r"(?<!\w)" if word_start else ""
        after = r"(?!\w)" if word_end else ""
        parts.append(f"{before}(?:{_alternation(vs)}){after}")
    return "|".join(parts)


def clear() -> None:
    """Forget every registered value (tests)."""
    global _pattern, _bytes_pattern
    with _lock:
        _values.clear()
        _pattern = _bytes_pattern = None


def redact(text: str) -> str:
    """`text` with every registered secret replaced by MASK."""
    pattern = _pattern
    return text if pattern is None else pattern.sub(MASK, text)


def redact_bytes(data: bytes) -> bytes:
    """`redact` for UTF-8 bytes (files written by a preview)."""
    pattern = _bytes_pattern
    return data if pattern is None else pattern.sub(MASK.encode(), data)


class RedactingStream(io.TextIOBase):
    """A text stream that redacts everything written through it, then passes it on."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, s: str) -> int:
        self.inner.write(redact(s))
        return len(s)

    def writelines(self, lines: Iterable[str]) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.inner, "errors", None)

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":  # bytes written there would bypass the redaction
            raise AttributeError(name)
        return getattr(self.inner, name)


def install() -> None:
    """Route this process's stdout and stderr through the redaction (idempotent)."""
    import sys

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))
