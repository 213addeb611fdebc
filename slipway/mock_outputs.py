"""Outputs the cloud would compute, synthesised for the offline mock runtime.

The mock engine echoes a resource's inputs back as its state; some resources need outputs
that only the cloud knows (an EKS endpoint, a certificate authority, an ARN). Values here are
deterministic functions of the type and name so two previews give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable

Synthesizer = Callable[[str, dict], dict]

SYNTHESIZERS: dict[str, Synthesizer] = {}
"""Type token -> function (name, inputs) -> extra output properties."""


def synthesize(type_: str, name: str, inputs: dict) -> dict:
    """Return the extra outputs for one resource (empty when the type needs none)."""
    fn = SYNTHESIZERS.get(type_)
    return fn(name, inputs) if fn else {}
