"""Run the seven offline judges on every stack and hold their findings to the known-defects list.

The judges (docs/architecture.md, "What the offline judges prove"):

- `first-run`: the stack registers the same resources on the engine's first preview of an
  empty stack as offline (`slipway.judges.first_run`);
- `typed-inputs`: every resource's inputs against the provider SDK's typed Args;
- `crd-schemas`: every custom resource against its CRD's OpenAPI schema (scripts/crd_validate);
- `crds-installed`: every custom resource's CRD is installed by some stack;
- `name-rules`: provider-side name patterns, lengths and uniqueness scopes;
- `required-config`: every key the program requires has a value in the stack file;
- `default-providers`: no resource needs a default provider the stack file disables.

Real defects the judges find on main are listed in `tests/data/known-findings.yaml`, each
with the issue that fixes it. This run fails (exit 1) on a finding that is not listed (a new
defect) and on a listed one that is no longer found (fixed: take it off the list;
review keeps it to real defects). Exit 2: bad input (a stack that does not render, a missing
or bad list).

Usage: python scripts/judges.py [--project-dir DIR] [--known FILE] STACK...
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
KNOWN = ROOT / "tests" / "data" / "known-findings.yaml"
JUDGES = (
    "first-run",
    "typed-inputs",
    "crd-schemas",
    "crds-installed",
    "name-rules",
    "required-config",
    "default-providers",
)


@dataclass(frozen=True, order=True)
class Found:
    """One finding of one judge on one stack, as the known-defects list writes it."""

    judge: str
    stack: str
    finding: str


@dataclass
class Stack:
    """What the judges read of one stack: both renders and the manifests written out."""

    name: str
    resources: list[dict[str, Any]]
    first_run: list[dict[str, Any]]
    manifests: dict[str, str]
    missing_config: list[str]
    builds_on: list[str]
    """The stacks whose installs count for this one (a services stack's platform stack)."""
    disabled_providers: set[str]
    """The packages whose default provider the stack file disables."""


def render(project_dir: Path, stack: str) -> Stack:
    """Render `stack` normally and as a first run (in this process, no policy pack)."""
    from slipway import preview as pv

    normal = pv.render(project_dir, stack)
    first = pv.render(project_dir, stack, first_run=True)
    from slipway.judges import default_providers

    job = pv.prepare(project_dir, stack)
    platform = pv.platform_stack_of(job.config, job.project)
    return Stack(
        name=stack,
        resources=normal.resources,
        first_run=first.resources,
        manifests=normal.manifests,
        missing_config=pv.missing_config_lines(normal),
        builds_on=[platform[0]] if platform else [],
        disabled_providers=default_providers.disabled_packages(job.config),
    )


def _crd_schema_findings(stack: Stack) -> list[str]:
    import crd_validate

    docs = [
        (Path(rel), doc)
        for rel, text in sorted(stack.manifests.items())
        for doc in yaml.safe_load_all(text)
        if doc is not None
    ]
    findings, _ = crd_validate.judge_documents(docs)
    return [str(f) for f in findings]


def judge_all(stacks: list[Stack]) -> list[Found]:
    """Every finding of every judge on every stack, in a stable order."""
    from slipway.judges import crds_installed, default_providers, name_rules, typed_inputs
    from slipway.judges import first_run as fr

    per_stack: dict[str, Callable[[Stack], list[str]]] = {
        "first-run": lambda s: [str(f) for f in fr.compare(s.name, s.resources, s.first_run)],
        "typed-inputs": lambda s: [str(f) for f in typed_inputs.judge(s.resources)],
        "crd-schemas": _crd_schema_findings,
        "name-rules": lambda s: [str(f) for f in name_rules.judge(s.resources)],
        "required-config": lambda s: list(s.missing_config),
        "default-providers": lambda s: [
            str(f) for f in default_providers.judge(s.resources, s.disabled_providers)
        ],
    }
    found: set[Found] = set()
    for stack in stacks:
        for judge, run in per_stack.items():
            found.update(Found(judge, stack.name, text) for text in run(stack))
    installed = crds_installed.judge(
        {s.name: s.resources for s in stacks}, {s.name: s.builds_on for s in stacks}
    )
    found.update(
        Found("crds-installed", f.stack, str(f).removeprefix(f"{f.stack}: ")) for f in installed
    )
    return sorted(found)


def read_known(path: Path, stacks: list[str]) -> dict[Found, int]:
    """The known-defects list (for the given stacks): finding -> the issue that fixes it.

    BadInput for a missing or unreadable file, an entry of the wrong shape (naming the entry,
    the field, what was given and what is allowed) and an entry listed twice."""
    from slipway.errors import BadInput
    from slipway.stackfile import load_yaml_file

    if not path.is_file():
        raise BadInput("no known-findings list here (an empty one is `[]`)", file=str(path))
    doc = load_yaml_file(path)
    if not isinstance(doc, list):
        raise BadInput(
            f"expected a list of {{judge, stack, finding, fixed_by}}; given {type(doc).__name__}",
            file=str(path),
        )
    fields = {"judge", "stack", "finding", "fixed_by"}
    known: dict[Found, int] = {}
    for i, entry in enumerate(doc):
        where = f"[{i}]"
        if not isinstance(entry, dict) or set(entry) != fields:
            given = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise BadInput(
                f"entry {i}: expected exactly the fields {', '.join(sorted(fields))}; "
                f"given {given}",
                file=str(path),
                field=where,
            )
        if entry["judge"] not in JUDGES:
            raise BadInput(
                f"entry {i}: judge {entry['judge']!r} is not one of {', '.join(JUDGES)}",
                file=str(path),
                field=f"{where}.judge",
            )
        fixed_by = entry["fixed_by"]
        if isinstance(fixed_by, bool) or not isinstance(fixed_by, int) or fixed_by < 1:
            raise BadInput(
                f"entry {i}: fixed_by must be an issue number; given {fixed_by!r}",
                file=str(path),
                field=f"{where}.fixed_by",
            )
        found = Found(str(entry["judge"]), str(entry["stack"]), str(entry["finding"]))
        if found in known:
            raise BadInput(f"entry {i} repeats an earlier entry", file=str(path), field=where)
        if entry["stack"] in stacks:
            known[found] = fixed_by
    return known


def held_to(found: list[Found], known: dict[Found, int]) -> tuple[list[Found], list[Found]]:
    """(new findings, listed defects no longer found): either one fails the run."""
    seen = set(found)
    return [f for f in found if f not in known], sorted(f for f in known if f not in seen)


def table(found: list[Found], known: dict[Found, int], stacks: list[str]) -> str:
    """Findings per judge and stack, `n (k known)`: the figures people scan."""
    width = max(len(j) for j in JUDGES)
    lines = [f"{'judge':<{width}}  " + "  ".join(f"{s:>16}" for s in stacks)]
    for judge in JUDGES:
        cells = []
        for stack in stacks:
            mine = [f for f in found if f.judge == judge and f.stack == stack]
            listed = sum(f in known for f in mine)
            cells.append(f"{len(mine)} ({listed} known)" if mine else "0")
        lines.append(f"{judge:<{width}}  " + "  ".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI entry: 0 every finding is a known defect, 1 new or fixed findings, 2 bad input."""
    from slipway.errors import BadInput
    from slipway.stackfile import resolve_project_dir

    parser = argparse.ArgumentParser(prog="judges.py", description=__doc__.split("\n")[0])
    parser.add_argument("stacks", nargs="+", metavar="STACK")
    parser.add_argument("--project-dir", type=Path, default=None)
    parser.add_argument("--known", type=Path, default=KNOWN)
    args = parser.parse_args(argv)
    try:
        project_dir = resolve_project_dir(args.project_dir)
        known = read_known(args.known, args.stacks)
        stacks = []
        for name in args.stacks:
            print(f"judges: rendering {name} (normal and first run)…", file=sys.stderr)
            stacks.append(render(project_dir, name))
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    found = judge_all(stacks)
    print(table(found, known, args.stacks))
    new, fixed = held_to(found, known)
    for f in new:
        print(f"NEW {f.judge} {f.stack}: {f.finding}")
    for f in fixed:
        print(
            f"NO LONGER FOUND (take it off {args.known.name}; issue {known[f]}) "
            f"{f.judge} {f.stack}: {f.finding}"
        )
    listed = len(found) - len(new)
    print(
        f"judges: {len(found)} findings on {', '.join(args.stacks)}: {listed} known defects, "
        f"{len(new)} new, {len(fixed)} no longer found",
        file=sys.stderr,
    )
    return 1 if new or fixed else 0


if __name__ == "__main__":
    sys.exit(main())
