"""Stacks: config models, the service catalog and the composition of components.

Names load on first use (PEP 562): the catalog and config models do not pull in the Pulumi
SDK, which only the composition needs. The composition function is `stacks.build.build`
(a lazy `stacks.build` would be shadowed by the submodule of the same name).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BuiltTarget": "stacks.build",
    "Service": "stacks.catalog",
    "load_catalog": "stacks.catalog",
    "StackConfig": "stacks.config",
    "TargetConfig": "stacks.config",
    "config_secret": "stacks.loader",
    "load_stack_config": "stacks.loader",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'stacks' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
