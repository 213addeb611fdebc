"""A pull request's preview at fleet scale: `--against` the base commit, cold and warm cache.

    .venv/bin/python benchmarks/fleet_against.py [--size 50] [--stack prod] [--pairs 1]

On a synthetic fleet (`fleet.write_fleet`) made a git repository, one service's config
changes (one value in its catalog file, left in the working tree as a pull request's head
is), then each of these runs in a fresh child process, as CI runs it:

- plain: `slipway preview <stack>` with an empty cache (the program, the policy pack, the
  output; a services stack's platform rendered too);
- against cold: `slipway preview <stack> --against <base commit>` with an empty cache (the
  base commit rendered beside the head, then stored);
- against warm: the same again, the cache filled (the baseline and the platform read back);
- plain warm: `slipway preview <stack>` with that cache (its platform read back).

against_cold is against cold / plain, against_warm is against warm / plain warm: each
`--against` run against the plain run with the same cache, so the figures say what the diff
adds, not what the platform cache saves. With `pairs` > 1 seconds are medians. The diff of
the cold and the warm run must be the same bytes (the run stops otherwise). The last line is
machine-readable:

    against_cold=<x> against_warm=<y>
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet import REPO, write_fleet
from fleet import measure as measure_child

GIT_IDENTITY = ("-c", "user.name=bench", "-c", "user.email=bench@example.com")


def _git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, check=True, capture_output=True, text=True
    ).stdout.strip()


def prepare_repo(project_dir: Path) -> str:
    """Make `project_dir` a git repository with everything committed; the base commit."""
    if not (project_dir / ".git").exists():
        _git(project_dir, "init", "-q", "-b", "main")
    _git(project_dir, "add", "-A")
    _git(project_dir, *GIT_IDENTITY, "commit", "-q", "--allow-empty", "-m", "base")
    return _git(project_dir, "rev-parse", "HEAD")


def change_one_service(project_dir: Path) -> Path:
    """Change one config value of the first service of the catalog (in the working tree)."""
    path = sorted((project_dir / "services").glob("*.yaml"))[0]
    doc = yaml.safe_load(path.read_text())
    config = doc.setdefault("config", {})
    first = next(iter(config), "SETTING_0")
    config[first] = f"{config.get(first, '')}-changed"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def measure(project_dir: Path, stack: str, python: str, pairs: int = 1) -> dict[str, Any]:
    """Seconds of plain and `--against` previews (cold and warm cache) of `stack` in the
    prepared project `project_dir` (a synthetic catalog already written), and their ratios.

    Makes `project_dir` a git repository, commits it as the base, changes one service's
    config, then measures `pairs` rounds of: plain (empty cache), against cold (empty
    cache), against warm (the cache that run filled), plain warm (the same cache). Checks
    that the cold and the warm diff are the same bytes."""
    project_dir = Path(project_dir).resolve()
    base = prepare_repo(project_dir)
    change_one_service(project_dir)
    out = project_dir / "build" / stack
    work = Path(tempfile.mkdtemp(prefix="slipway-against-"))
    # The preview children run this checkout's code (the baseline's child, the base
    # commit's tree, holds no code of its own here: it imports the same).
    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), str(REPO / "components"), env_before or "") if p
    )

    def preview(cache: Path, *extra: str) -> tuple[float, float, bytes | None]:
        shutil.rmtree(out, ignore_errors=True)
        cmd = [python, "-m", "slipway", "preview", stack, "--out", str(out), "--format", "json"]
        run = measure_child([*cmd, "--cache-dir", str(cache), *extra], cwd=project_dir)
        diff = out / "diff.json"
        return run.seconds, run.peak_mb, diff.read_bytes() if diff.exists() else None

    times: dict[str, list[float]] = {k: [] for k in ("plain", "cold", "warm", "plain_warm")}
    peaks: dict[str, float] = {}
    summary: dict[str, int] = {}
    try:
        for n in range(pairs):
            empty, cache = work / f"empty-{n}", work / f"cache-{n}"
            seconds, peak, _ = preview(empty)
            times["plain"].append(seconds)
            peaks["plain"] = max(peaks.get("plain", 0.0), peak)
            seconds, peak, cold = preview(cache, "--against", base)
            times["cold"].append(seconds)
            peaks["cold"] = max(peaks.get("cold", 0.0), peak)
            seconds, peak, warm = preview(cache, "--against", base)
            times["warm"].append(seconds)
            peaks["warm"] = max(peaks.get("warm", 0.0), peak)
            if cold is None or cold != warm:
                raise SystemExit("the diffs with a cold and a warm cache differ")
            summary = {k: len(v) for k, v in json.loads(cold).items()}
            seconds, _, _ = preview(cache)
            times["plain_warm"].append(seconds)
    finally:
        if env_before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env_before
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "plain_s": round(med["plain"], 2),
        "plain_warm_s": round(med["plain_warm"], 2),
        "against_cold_s": round(med["cold"], 2),
        "against_warm_s": round(med["warm"], 2),
        "against_cold": round(med["cold"] / med["plain"], 2),
        "against_warm": round(med["warm"] / med["plain_warm"], 2),
        "peak_mb": {k: round(v) for k, v in peaks.items()},
        "diff": summary,
        "pairs": pairs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=50, help="services in the fleet")
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the generated project here")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="slipway-fleet-against-"))
    try:
        project = write_fleet(work / f"fleet-{args.size}", args.size)
        figures = measure(project, args.stack, sys.executable, args.pairs)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"pull request on a {args.size}-service fleet, stack {args.stack}: one config changed")
    for key, value in figures.items():
        print(f"  {key}: {value}")
    print(f"against_cold={figures['against_cold']:.2f} against_warm={figures['against_warm']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
