"""Read one YAML file of the user's, every way it can be wrong turned into BadInput.

Shared by the stack files (`slipway.stackfile`) and the catalog (`stacks.catalog`): both
refuse unreadable, oversized, non-UTF-8 and malformed files the same way, naming the file
and, for syntax errors, the line and column.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from slipway.errors import BadInput


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
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror}", file=str(path)) from exc
    if len(raw) > max_bytes:
        raise BadInput(f"file is {len(raw)} bytes; the limit is {max_bytes}", file=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"not UTF-8 text (byte {exc.start})", file=str(path)) from exc
    try:
        if check_text is not None:
            check_text(text)
        return yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise BadInput(f"YAML syntax error: {where}{exc.problem or exc}", file=str(path)) from exc
    except yaml.YAMLError as exc:
        raise BadInput(f"YAML error: {type(exc).__name__}", file=str(path)) from exc
    except RecursionError as exc:
        raise BadInput("YAML nests too deeply", file=str(path)) from exc
