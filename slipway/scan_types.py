"""What a `slipway check` run produces: findings with exact locations, the rules behind
them, and the files it skipped or could not read. The scanner (`slipway.check`) fills it;
the report writers (`slipway.scan_report`) turn it into a table, JSON, SARIF or JUnit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

NoticeKind = Literal["skipped", "error"]


@dataclass(frozen=True)
class Notice:
    """A file not scanned: ``skipped`` (holds no Kubernetes object: a kustomization, a
    chart's metadata, a template) or ``error`` (could not be read or parsed)."""

    file: str
    kind: NoticeKind
    reason: str
    line: int = 0
    """1-based line of a parse error; 0 when the whole file is meant."""


@dataclass(frozen=True)
class RuleInfo:
    """A rule of the pack as the report needs it."""

    name: str
    description: str
    remediation: str
    severity: str
    """``low``, ``medium``, ``high`` or ``critical``."""
    level: str
    """The configured enforcement level: ``mandatory``, ``advisory`` or ``disabled``."""
    tags: tuple[str, ...] = ()
    """Family, ``security`` or ``operations``, then the standards (``CIS-K8S:5.1.1``)."""


@dataclass(frozen=True)
class Finding:
    """One violation of one rule by one object (or by the set of objects: ``file`` empty)."""

    rule: str
    level: str
    """``mandatory`` or ``advisory``."""
    message: str
    file: str
    """The file as it was named or found (relative when the argument was); "" stack-wide."""
    line: int
    """1-based line of the offending field (the nearest enclosing field that exists when
    the rule asks for one that is missing); the object's first line without one; 0 when
    the finding is stack-wide."""
    object: str
    """``Kind namespace/name``, ``Kind name`` when cluster-scoped, ``(all objects)``."""
    field: str = ""
    """The offending field as a dotted path (``spec.template.spec.containers[0].image``)."""
    exempted: str | None = None
    """The reason from the object's ``slipway.dev/exempt`` annotation when exempted."""

    @property
    def blocking(self) -> bool:
        """A mandatory finding that is not exempted: what makes the exit code 1."""
        return self.level == "mandatory" and self.exempted is None


@dataclass
class ScanResult:
    """Everything one run saw."""

    config: str
    """The policy config applied (a stack name, or the --config file)."""
    findings: list[Finding]
    rules: dict[str, RuleInfo]
    objects: int
    files: list[str]
    """Files that held at least one object, in the order scanned."""
    notices: list[Notice] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 nothing blocks, 1 a mandatory finding that is not exempted."""
        return 1 if any(f.blocking for f in self.findings) else 0
