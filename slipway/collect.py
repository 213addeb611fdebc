"""Garbage collection tuned for runs that build large, long-lived object graphs."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Collect cyclic garbage rarely while a run builds what it keeps.

    A preview allocates a few hundred objects per resource (outputs, futures, tasks), a
    scan a few hundred per manifest (YAML nodes, values), nearly all of them alive until
    the run ends; at the default thresholds the collector re-scans them over and over
    (a quarter of a preview's time at fleet scale, four fifths of a scan's reading).
    Thresholds go back afterwards.
    """
    previous = gc.get_threshold()
    gc.set_threshold(max(previous[0], 100_000), max(previous[1], 50), max(previous[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*previous)
