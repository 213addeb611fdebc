"""Read one YAML file of the user's, every way it can be wrong turned into BadInput.

Shared by the stack files (`slipway.stackfile`), the catalog (`stacks.catalog`) and
`slipway check`: all refuse unreadable, oversized, non-regular, non-UTF-8 and malformed files
the same way, naming the file and, where there is one, the line.

Two bounds hold for every loader made here, so no input reaches code that cannot take it:

- a file is never read past its size limit (stat first, then at most limit + 1 bytes), and
  only regular files are read at all: a FIFO would block and /dev/zero never ends;
- integers must fit in 64 bits, as Kubernetes (and protobuf, and JSON tooling) requires, and
  floats must be finite. Python 3.11's int() refuses strings past 4300 digits with a
  ValueError, and a 400-digit integer overflows when it becomes a protobuf number, so the
  number of digits is checked before int() ever sees one. A scalar that looks like a date
  or number but is none (``2024-13-45``, ``0x_``, ``!!bool maybe``) is refused with its line
  too, where PyYAML would raise a bare ValueError or KeyError.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from slipway.errors import BadInput

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_MAX_DIGITS = {2: 64, 8: 22, 10: 19, 16: 16}
"""Digits (leading zeros aside) an int64 can have in each base YAML 1.1 writes integers in."""
_MAX_SEXAGESIMAL = 40
"""Characters of a base-60 integer (``190:20:30``); an int64 needs at most about 32."""


class BadScalar(yaml.constructor.ConstructorError):
    """A scalar whose value cannot be read as its type or Kubernetes cannot take it."""

    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(None, None, problem, mark)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:37]!r}..."


def _not_a(what: str, text: str, node: yaml.Node, why: str = "") -> BadScalar:
    return BadScalar(
        f"{_shown(text)} is not a valid {what}{f' ({why})' if why else ''}", node.start_mark
    )


def _int_out_of_range(node: yaml.Node, given: str) -> BadScalar:
    return BadScalar(
        f"integer {given} is out of range; Kubernetes takes 64-bit integers "
        f"({INT64_MIN} to {INT64_MAX})",
        node.start_mark,
    )


def construct_int64(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> int:
    """An int64 from a YAML 1.1 integer scalar, refused by its length before int() sees it."""
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    value = text.replace("_", "")
    sign = -1 if value.startswith("-") else 1
    body = value.lstrip("+-")
    try:
        if ":" in body:  # base 60, as PyYAML reads it
            if len(body) > _MAX_SEXAGESIMAL:
                raise _int_out_of_range(node, f"of {len(body)} characters")
            number = 0
            for part in body.split(":"):
                number = number * 60 + int(part)
        else:
            if body.startswith("0b"):
                base, digits = 2, body[2:]
            elif body.startswith("0x"):
                base, digits = 16, body[2:]
            elif body.startswith("0") and body != "0":
                base, digits = 8, body
            else:
                base, digits = 10, body
            significant = len(digits.lstrip("0"))
            if significant > _MAX_DIGITS[base]:
                raise _int_out_of_range(node, f"with {significant} digits")
            number = int(digits, base)
    except ValueError:  # `!!int abc`, `0x_`: the tag or the resolver promised a number
        raise _not_a("integer", text, node) from None
    number *= sign
    if not INT64_MIN <= number <= INT64_MAX:
        raise _int_out_of_range(node, text if len(text) <= 40 else f"with {len(text)} characters")
    return number


def construct_finite_float(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> float:
    """A float that JSON and Kubernetes can carry: `.nan` and `.inf` (or 1.0e999) are refused."""
    try:
        number = yaml.constructor.SafeConstructor.construct_yaml_float(loader, node)  # type: ignore[arg-type]
    except ValueError:
        raise _not_a("number", str(node.value), node) from None
    if not math.isfinite(number):
        raise BadScalar(
            f"{number} is not a number Kubernetes takes (JSON has no NaN or infinity)",
            node.start_mark,
        )
    return number


def construct_checked_bool(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> bool:
    """PyYAML's bool, with `!!bool maybe` refused instead of raising KeyError."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_bool(loader, node)  # type: ignore[arg-type]
    except KeyError:
        raise _not_a("boolean", str(node.value), node) from None


def construct_checked_timestamp(loader: yaml.constructor.SafeConstructor, node: yaml.Node) -> Any:
    """PyYAML's date or timestamp, with `2024-13-45` refused instead of raising ValueError."""
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except (ValueError, AttributeError) as exc:  # AttributeError: `!!timestamp x` matches nothing
        why = str(exc) if isinstance(exc, ValueError) else ""
        raise _not_a("date or timestamp", str(node.value), node, why) from None


def _bounded(cls: type) -> type:
    cls.add_constructor("tag:yaml.org,2002:int", construct_int64)
    cls.add_constructor("tag:yaml.org,2002:float", construct_finite_float)
    cls.add_constructor("tag:yaml.org,2002:bool", construct_checked_bool)
    cls.add_constructor("tag:yaml.org,2002:timestamp", construct_checked_timestamp)
    return cls


@_bounded
class SafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader (pure Python where PyYAML was built without it), bounded values."""


@_bounded
class PySafeLoader(yaml.SafeLoader):
    """The pure-Python safe loader with the same bounded values."""


def read_bounded(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of regular file `path`, refused past `max_bytes` without reading it all.

    Size is checked on stat before anything is read and again on what was read (a file may
    grow meanwhile); FIFOs, devices and sockets are refused before they are opened, and
    opened non-blocking so a swap between stat and open cannot hang either."""
    name = str(path)
    try:
        info = os.stat(path)
        _refuse_irregular(info, name)
        _refuse_size(info.st_size, max_bytes, name)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            _refuse_irregular(os.fstat(fd), name)
            chunks: list[bytes] = []
            left = max_bytes + 1
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BadInput(f"cannot read: {reason}", file=name) from None
    raw = b"".join(chunks)
    if len(raw) > max_bytes:
        raise BadInput(f"file grew past the limit of {max_bytes} bytes while read", file=name)
    return raw


def _refuse_irregular(info: os.stat_result, name: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise BadInput("is a folder, not a YAML file", file=name)
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(
            "not a regular file (a FIFO, device or socket); name a YAML file or a folder",
            file=name,
        )


def _refuse_size(size: int, max_bytes: int, name: str) -> None:
    if size > max_bytes:
        raise BadInput(f"file is {size} bytes; the limit is {max_bytes}", file=name)


def read_text(path: Path, *, max_bytes: int) -> str:
    """`read_bounded`, decoded as UTF-8; a bad byte is named with its line."""
    raw = read_bounded(path, max_bytes=max_bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise BadInput(
            f"not UTF-8 text (line {line}, byte {exc.start}: {raw[exc.start]:#04x})",
            file=str(path),
        ) from None


def where(exc: yaml.YAMLError, text: str) -> str:
    """``line L, column C`` of a YAML error, or '' when it has no position."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML forbids, e.g. NUL
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return f"line {line}, column {column}"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def problem(exc: yaml.YAMLError) -> str:
    """What is wrong, without PyYAML's ``in "<unicode string>"`` trailer."""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"character {exc.character!r} is not allowed in YAML"
    return getattr(exc, "problem", None) or str(exc)


def read_yaml(
    path: Path,
    *,
    max_bytes: int,
    loader: type,
    check_text: Callable[[str], None] | None = None,
) -> Any:
    """The one document in `path`, loaded with `loader` (None for an empty file).

    `check_text` may refuse the text before it is loaded by raising a YAML error (the
    catalog refuses aliases this way)."""
    text = read_text(path, max_bytes=max_bytes)
    try:
        if check_text is not None:
            check_text(text)
        return yaml.load(text, Loader=loader)
    except BadScalar as exc:
        raise BadInput(f"{where(exc, text)}: {problem(exc)}", file=str(path)) from None
    except yaml.YAMLError as exc:
        at = where(exc, text)
        at = f"{at}: " if at else ""
        raise BadInput(f"YAML syntax error: {at}{problem(exc)}", file=str(path)) from None
    except RecursionError:
        raise BadInput("YAML nests too deeply", file=str(path)) from None
