"""Judge that no resource leans on a default provider the stack disables.

A stack file with `pulumi:disable-default-providers: ["*"]` (every slipway stack) makes the
engine refuse any resource of a package without an explicit provider: "Default provider for
'random' disabled" stops the preview. The mock runtime has no such setting and registers the
resource anyway, so each custom resource (reads included) of a disabled package that names
no provider is a finding. Built-in types (`pulumi:`, e.g. StackReference) need no provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One resource that would get a default provider the stack disables."""

    urn: str
    package: str

    def __str__(self) -> str:
        return (
            f"{self.urn}: no explicit provider, and the stack disables the default provider "
            f"of {self.package!r} (pulumi:disable-default-providers); pass one in its options"
        )


def disabled_packages(config: dict[str, Any]) -> set[str]:
    """The packages a stack file's `pulumi:disable-default-providers` names (`*`: all)."""
    value = config.get("pulumi:disable-default-providers")
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    return {str(v) for v in value} if isinstance(value, list) else set()


def judge(records: list[dict[str, Any]], disabled: set[str]) -> list[Finding]:
    """Every custom resource of a package in `disabled` (or any, with `*`) without provider."""
    findings = []
    for record in records:
        typ = str(record.get("type", ""))
        package = typ.split(":", 1)[0]
        if not record.get("custom", True) or package == "pulumi" or record.get("provider"):
            continue
        if "*" in disabled or package in disabled:
            findings.append(Finding(str(record.get("urn", "")), package))
    return sorted(findings, key=lambda f: f.urn)
