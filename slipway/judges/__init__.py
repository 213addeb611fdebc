"""Offline judges: checks of a preview's output against what the real engine and SDKs accept."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MAX_RECORDS_BYTES = 1 << 30
"""Largest resources.json read (a 1000-service fleet writes about a tenth of it); a device
or a runaway file is refused instead of read for ever."""


def load(path: Path) -> list[dict[str, Any]]:
    """The records of a resources.json; ValueError says why the file is not one."""
    from slipway.errors import BadInput
    from slipway.yamlfile import read_text

    try:
        data = json.loads(read_text(path, max_bytes=MAX_RECORDS_BYTES))
    except BadInput as exc:  # a device, a FIFO, a folder, too large, not UTF-8
        raise ValueError(str(exc)) from None
    except (RecursionError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, list) or not all(
        isinstance(r, dict)
        and isinstance(r.get("type"), str)
        and isinstance(r.get("inputs", {}), dict)
        for r in data
    ):
        raise ValueError(f"{path} is not a list of resource records (type, inputs)")
    return data


def main_for(
    module: str, judge: Callable[[list[dict[str, Any]]], Sequence[object]], argv: list[str] | None
) -> int:
    """The command line of a judge of one resources.json: 0 clean, 1 findings (one line
    each), 2 bad input."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m slipway.judges.{module} DIR/resources.json", file=sys.stderr)
        return 2
    try:
        records = load(Path(args[0]))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    findings = judge(records)
    for finding in findings:
        print(finding)
    return 1 if findings else 0
