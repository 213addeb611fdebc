"""Region-by-region deploys: the wave plan and the resources of each wave.

`slipway deploy <stack> --waves` applies a change to one wave of targets at a time: that
wave's `up`, its Argo analysis and health gate, then the next wave; a wave that fails is
rolled back alone and the waves after it are not touched. The plan is the stack file's
`slipway:waves` (target names or lists of names, every target once), else the `targets`
order, one target per wave, so the first target is the canary wave.

How a wave is applied, and why: a **targeted `up`** (the Automation API's `target` option,
the CLI's `--target`) with the URNs of the wave's targets' resources, plus their dependents.
The URNs come from the offline render of the same program (`slipway.preview.render`): every
resource of a target has that target's component as an ancestor (`Record.target`), and the
render's URNs are the engine's. A per-target config flag that makes the program leave the
other targets out was the alternative; it was not taken because a program that omits
resources makes the engine delete them, so a wave would tear down the regions not in it.
What no target owns (global DNS, deletions of resources no longer declared) is applied by
one last untargeted `up` after every wave passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Wave:
    """One step of a region-by-region deploy."""

    index: int
    """1-based position."""
    targets: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"wave {self.index} ({', '.join(self.targets)})"

    @property
    def role(self) -> str:
        return "canary wave" if self.index == 1 else "wave"


def plan(settings: Any) -> list[Wave]:
    """The waves of a stack (`StackConfig`): `waves` if set, else one per target in order."""
    spec: Sequence[str | Sequence[str]] = settings.waves or [t.name for t in settings.targets]
    return [Wave(i, (w,) if isinstance(w, str) else tuple(w)) for i, w in enumerate(spec, start=1)]


def single_wave(targets: Iterable[str]) -> Wave:
    """The whole stack at once (a deploy without `--waves`)."""
    return Wave(1, tuple(targets))


def urns_by_target(records: Iterable[Any]) -> dict[str, list[str]]:
    """Target name -> URNs of its resources, from an offline render's records."""
    out: dict[str, list[str]] = {}
    for r in records:
        if r.target and not getattr(r, "read", None):
            out.setdefault(r.target, []).append(r.urn)
    return {t: sorted(urns) for t, urns in out.items()}


def plan_rows(waves: Sequence[Wave], urns: dict[str, list[str]] | None = None) -> list[dict]:
    """The plan as rows for `slipway preview`: wave, role, targets, resources."""
    rows = []
    for w in waves:
        row: dict[str, Any] = {"wave": w.index, "role": w.role, "targets": list(w.targets)}
        if urns is not None:
            row["resources"] = sum(len(urns.get(t, [])) for t in w.targets)
        rows.append(row)
    return rows


def plan_lines(stack: str, waves: Sequence[Wave], urns: dict[str, list[str]] | None) -> list[str]:
    """The plan as plain lines."""
    lines = [f"Wave plan for stack {stack} (slipway deploy {stack} --waves):"]
    for row in plan_rows(waves, urns):
        count = f"  {row['resources']} resources" if "resources" in row else ""
        lines.append(f"  {row['wave']}  {row['role']}  {', '.join(row['targets'])}{count}")
    lines.append("  then: stack-wide resources (global DNS) and deletions, once every wave passed")
    return lines
