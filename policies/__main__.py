"""Entry point the engine runs: build the PolicyPack from the rule modules and serve it.

The engine starts the pack from this folder (``python -m pulumi.policy <engine> .``), so the
folder is on ``sys.path`` but its parent is not. The folder is loaded as a package under a
private name so the rule modules' relative imports work the same way here and when tests
import ``policies.<module>``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from pulumi_policy import EnforcementLevel, PolicyPack

_PACKAGE = "slipway_policy_pack"


def _pack_package() -> ModuleType:
    """The pack folder as a package (the real one when run as ``python -m policies``)."""
    if __package__:
        return sys.modules[__package__]
    if _PACKAGE in sys.modules:
        return sys.modules[_PACKAGE]
    here = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(
        _PACKAGE, here / "__init__.py", submodule_search_locations=[str(here)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_PACKAGE] = module
    spec.loader.exec_module(module)
    return module


_package = _pack_package()
importlib.import_module(f"{_package.__name__}._speed").install()

PolicyPack(
    name="slipway-policies",
    description="Security, supply-chain, reliability and compliance rules for slipway stacks.",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=_package.all_policies(),
)
