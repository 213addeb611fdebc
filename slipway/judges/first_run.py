"""Judge that the first real preview of an empty stack registers what the offline preview does.

The offline preview answers every output with a value (`slipway.mock_outputs`). The engine's
first `pulumi preview` of a stack that was never deployed cannot: ids, ARNs, endpoints,
kubeconfigs and generated names are unknown until the cloud makes them, and the SDK skips
every `apply` on an unknown value. A resource created inside such an `apply`, or behind a
branch taken on such a value, exists in the offline preview and is missing in the engine's
(or the other way round), and a preview diff reviewed in a pull request would be a lie.

This judge renders a stack both ways (`slipway.preview.render`, with and without
`first_run`) and compares the shape of every registration: URN, type, parent, provider,
custom, protect and aliases. Inputs are not compared: they differ exactly where the first
preview has unknowns, which is the point. It also counts the unknown values the first run
has, so a mode that silently stopped producing them would show.

Run: `python -m slipway.judges.first_run [--project-dir DIR] STACK...`; exit 0 same
resources, 1 differences, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHAPE_FIELDS = ("type", "parent", "provider", "custom", "protect", "aliases")
"""What must be equal between the two runs for each URN (inputs are expected to differ)."""

UNKNOWN = "[unknown]"


@dataclass(frozen=True)
class Finding:
    """One registration that differs between the normal and the first-run preview."""

    stack: str
    urn: str
    message: str

    def __str__(self) -> str:
        return f"{self.stack}: {self.urn}: {self.message}"


def _provider_urn(ref: str) -> str:
    """A provider reference is `urn::id`; the id is unknown on a first run, the URN is not."""
    return ref.rsplit("::", 1)[0] if ref else ""


def shape(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a registration the engine decides before anything exists."""
    out = {k: record[k] for k in SHAPE_FIELDS}
    out["provider"] = _provider_urn(out["provider"])
    return out


def count_unknowns(value: Any) -> int:
    """How many leaves of a recorded input are unknown."""
    if isinstance(value, dict):
        return sum(count_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_unknowns(v) for v in value)
    return int(value == UNKNOWN)


def compare(stack: str, normal: list[dict[str, Any]], first: list[dict[str, Any]]) -> list[Finding]:
    """Every registration that is in one run only, or differs in shape; sorted by URN."""
    a = {r["urn"]: r for r in normal}
    b = {r["urn"]: r for r in first}
    findings: list[Finding] = []
    for urn in sorted(a.keys() | b.keys()):
        if urn not in b:
            findings.append(
                Finding(
                    stack,
                    urn,
                    "registered offline but not on the engine's first preview: it depends on "
                    "an output the cloud computes (made inside an apply, or behind a branch on "
                    "its value)",
                )
            )
        elif urn not in a:
            findings.append(
                Finding(
                    stack,
                    urn,
                    "registered only on the first preview: a branch on an output takes "
                    "another way while the value is unknown",
                )
            )
        else:
            sa, sb = shape(a[urn]), shape(b[urn])
            for field in SHAPE_FIELDS:
                if sa[field] != sb[field]:
                    findings.append(
                        Finding(
                            stack,
                            urn,
                            f"{field} differs: offline {sa[field]!r}, first preview {sb[field]!r}",
                        )
                    )
    return findings


@dataclass(frozen=True)
class Report:
    """One stack judged: both runs' sizes, the first run's unknowns, the differences."""

    stack: str
    resources: int
    first_run_resources: int
    unknowns: int
    findings: list[Finding]


def judge_stack(project_dir: Path, stack: str) -> Report:
    """Render `stack` normally and as a first run, in this process, and compare them."""
    from slipway import preview as pv

    normal = pv.render(project_dir, stack).resources
    first = pv.render(project_dir, stack, first_run=True).resources
    return Report(
        stack=stack,
        resources=len(normal),
        first_run_resources=len(first),
        unknowns=sum(count_unknowns(r["inputs"]) for r in first),
        findings=compare(stack, normal, first),
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry: 0 same resources on every stack, 1 differences, 2 bad input."""
    from slipway.errors import BadInput
    from slipway.stackfile import resolve_project_dir

    parser = argparse.ArgumentParser(prog="python -m slipway.judges.first_run")
    parser.add_argument("stacks", nargs="+", metavar="STACK")
    parser.add_argument("--project-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        project_dir = resolve_project_dir(args.project_dir)
        reports = [judge_stack(project_dir, s) for s in args.stacks]
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for report in reports:
        for finding in report.findings:
            print(finding)
        print(
            json.dumps(
                {
                    "stack": report.stack,
                    "resources": report.resources,
                    "first_run_resources": report.first_run_resources,
                    "unknown_values": report.unknowns,
                    "differences": len(report.findings),
                }
            ),
            file=sys.stderr,
        )
    return 1 if any(r.findings for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
