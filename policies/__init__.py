"""The slipway CrossGuard policy pack: one module per rule family, one function per rule.

``__main__.py`` builds the ``PolicyPack`` (which starts the analyzer server and blocks);
everything else is importable without side effects, which is what the tests rely on.
"""

from __future__ import annotations

FAMILIES = (
    "pod_security",
    "pod_hardening",
    "supply_chain",
    "reliability",
    "network",
    "rbac",
    "secrets",
    "aws",
    "gcp",
    "compliance",
    "exemptions",
)
"""Rule modules, in the order the pack lists their rules."""


def all_policies() -> list:
    """Every rule of the pack as SDK policy objects (imports the family modules)."""
    from importlib import import_module

    policies: list = []
    for family in FAMILIES:
        policies.extend(import_module(f"{__name__}.{family}").POLICIES)
    return policies
