"""How the offline preview scales with the size of the fleet, against the SDK's own floor.

    .venv/bin/python benchmarks/fleet.py [--sizes 50,200,1000] [--stack prod] [--keep DIR]

For each size N it writes a synthetic catalog of N services into a temporary copy of the
project (a realistic mix of rolling, blue-green, canary and Argo Rollouts strategies, config,
Pulumi config secrets, autoscaling, feature flags, callers, public services, SLOs, and
per-environment overrides), then runs, in a fresh child process, what `slipway preview
<stack>` does: the program under the mock runtime, the policy pack over its analyzer
protocol, and the atomic write of `resources.json`, `policy.json` and every manifest. A
services stack whose platform stack has no recorded outputs (`stack-outputs.yaml`) first
renders that platform stack, in a process of its own: the benchmark keeps the render cache
cold (an empty `SLIPWAY_CACHE_DIR` for each run), so every preview does.

The floor is what the Pulumi SDK alone costs for the same resources: a second child process
replays the preview's `resources.json` (same types, names, parents, providers and inputs)
through plain resource registrations under bare `pulumi.runtime.set_mocks` mocks, with no
components, no catalog, no policy pack and no output. When the preview renders a platform
stack, the floor first replays that stack's resources too, in a forked process of its own as
the preview does: the floor registers every resource the preview registers. Both processes
leave without tearing their heap down object by object.

Each size is measured in pairs, preview then floor (three pairs at N=200, one elsewhere;
`--pairs` to change): seconds are medians, the ratio is the median of the pairs' own ratios
(a drift in the machine's speed moves both sides of a pair alike), and peak memory is the
largest seen. Wall seconds are measured around each child. Peak memory, of the preview and
of the floor alike, is that of the whole process tree (the preview, the program's forked
process, the policy pack; the floor and its forked process): the largest sum of their
resident set sizes, sampled every 50 ms from /proc (pages a forked child still shares with
its parent count twice, so this errs high by some tens of megabytes), and never less than
the kernel's peak RSS of the largest single process.

At N=200 the pull-request scenario of `fleet_against.py` runs on the same project copy (one
service's config changed, `slipway preview --against` the base commit, cold and warm render
cache), when that module is there. The last line is machine-readable:

    ratio=<preview/floor at N=200> resources=<n> seconds=<s> peak_mb=<m> floor_peak_mb=<m>
    against_cold=<against/plain> against_warm=<against/plain>

(one line; `n/a` for the two against figures when `fleet_against.py` is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "policies")
SIZES = (50, 200, 1000)
REPORT_AT = 200
REPORT_PAIRS = 3
"""Pairs measured at the reported size: one noisy run does not make the figure."""
SEED = 8

# -- synthetic catalog -----------------------------------------------------------------------

STRATEGY_MIX = (
    # (share in percent, kind): most services roll; a fleet keeps a few of every other kind.
    (50, "rolling"),
    (15, "blue-green"),
    (15, "canary"),
    (12, "argo-canary"),
    (8, "argo-blue-green"),
)
TEAMS_PER_SERVICE = 8
"""One team per eight services, as in a platform repo of a few dozen teams."""


def _digest(rng: random.Random) -> str:
    return "sha256:" + "".join(rng.choice("0123456789abcdef") for _ in range(64))


def _version(rng: random.Random, major: int) -> dict[str, str]:
    return {"tag": f"{major}.{rng.randrange(20)}.{rng.randrange(10)}", "digest": _digest(rng)}


def _strategy_kind(rng: random.Random) -> str:
    roll = rng.randrange(100)
    for share, kind in STRATEGY_MIX:
        if roll < share:
            return kind
        roll -= share
    return "rolling"


def _strategy(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "rolling":
        return {"maxSurge": rng.choice(["25%", "50%", 1]), "minReadySeconds": rng.choice([5, 10])}
    if kind == "blue-green":
        return {
            "type": "blue-green",
            "activeSlot": rng.choice(["blue", "green"]),
            "slots": {
                "blue": {"version": _version(rng, 1)},
                "green": {"version": _version(rng, 2)},
            },
        }
    if kind == "canary":
        return {
            "type": "canary",
            "canary": {"version": _version(rng, 2), "config": {"CANARY": "true"}},
            "weight": rng.choice([0, 5, 10, 25, 50]),
        }
    if kind == "argo-canary":
        return {
            "type": "canary",
            "engine": "argo-rollouts",
            "steps": [
                {"setWeight": 10},
                {"pause": {"duration": "5m"}},
                {"setWeight": 50},
                {"pause": {"duration": "10m"}},
            ],
            "analysis": {"successRate": 0.995, "latencyP99Seconds": 0.4, "failureLimit": 2},
        }
    return {"type": "blue-green", "engine": "argo-rollouts", "autoPromotion": rng.random() < 0.5}


def service_doc(i: int, count: int, rng: random.Random) -> dict[str, Any]:
    """One service file of the synthetic fleet (deterministic for a given seed)."""
    name = f"svc{i:04d}"
    team = f"team{i // TEAMS_PER_SERVICE:02d}"
    ports = [{"name": "http", "port": 8080}]
    if rng.random() < 0.3:
        ports.append({"name": "metrics", "port": 9090})
    doc: dict[str, Any] = {
        "name": name,
        "team": team,
        "image": f"ghcr.io/fleet/{name}",
        "version": _version(rng, 1),
        "ports": ports,
        "probes": {"liveness": {"path": "/healthz"}, "readiness": {"path": "/ready"}},
        "resources": {
            "requests": {"cpu": rng.choice(["100m", "250m"]), "memory": "128Mi"},
            "limits": {"cpu": rng.choice(["500m", "1"]), "memory": rng.choice(["256Mi", "1Gi"])},
        },
        "config": {f"SETTING_{k}": f"value-{i}-{k}" for k in range(rng.randrange(1, 7))},
        "costCenter": f"cc-{1000 + i // TEAMS_PER_SERVICE}",
    }
    if rng.random() < 0.25:
        doc["probes"]["startup"] = {"path": "/healthz", "failureThreshold": 30, "periodSeconds": 2}
    if rng.random() < 0.4:
        doc["secrets"] = [
            {"env": f"SECRET_{k}", "key": f"{name}-secret-{k}"} for k in range(rng.randrange(1, 3))
        ]
    if rng.random() < 0.6:
        low = rng.randrange(2, 4)
        doc["autoscaling"] = {"minReplicas": low, "maxReplicas": low + rng.randrange(2, 10)}
        if rng.random() < 0.3:
            doc["autoscaling"]["memoryUtilization"] = 80
    else:
        doc["replicas"] = rng.randrange(2, 5)
    if i and rng.random() < 0.5:
        callers = {f"svc{rng.randrange(count):04d}" for _ in range(rng.randrange(1, 3))}
        doc["allowFrom"] = sorted(c for c in callers if c != name)
    if rng.random() < 0.3:
        doc["flags"] = {f"feature-{k}": rng.random() < 0.5 for k in range(rng.randrange(1, 4))}
    if rng.random() < 0.1:
        doc["public"] = True
    if len(ports) > 1 and rng.random() < 0.5:
        doc["slo"] = {"availabilityTarget": 99.95, "latencyP99Ms": 250, "metricsPort": "metrics"}
    kind = _strategy_kind(rng)
    prod: dict[str, Any] = {"strategy": _strategy(kind, rng)}
    if "autoscaling" in doc:
        prod["autoscaling"] = {"minReplicas": 3, "maxReplicas": 20}
    doc["environments"] = {"dev": {"config": {"LOG_LEVEL": "debug"}}, "prod": prod}
    return doc


def write_fleet(dest: Path, count: int, seed: int = SEED) -> Path:
    """A project copy at `dest` whose catalog holds `count` synthetic services."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("venv", "__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    for stack_file in REPO.glob("Pulumi.*.yaml"):
        shutil.copy2(stack_file, dest / stack_file.name)
    services = dest / "services"
    services.mkdir()
    rng = random.Random(seed)
    for i in range(count):
        doc = service_doc(i, count, rng)
        (services / f"{doc['name']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest


# -- the floor: the SDK alone, replaying resources.json ---------------------------------------


def replay_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records ordered so that every parent and provider comes before its users."""
    by_urn = {r["urn"]: r for r in records}
    done: set[str] = set()
    order: list[dict[str, Any]] = []

    def deps(r: dict[str, Any]) -> list[str]:
        out = [r["parent"]] if r["parent"] in by_urn else []
        provider = r["provider"].rsplit("::", 1)[0] if r["provider"] else ""
        return [*out, provider] if provider in by_urn else out

    for root in records:
        stack = [root]
        while stack:
            r = stack[-1]
            if r["urn"] in done:
                stack.pop()
                continue
            missing = [by_urn[u] for u in deps(r) if u not in done]
            if missing:
                stack.extend(missing)
                continue
            done.add(r["urn"])
            order.append(r)
            stack.pop()
    return order


def register_floor(records: list[dict[str, Any]]) -> None:
    """Register every record with the SDK's plain resource classes: same type, name, parent,
    provider, protect and inputs; no components' code, no policy, no output."""
    import pulumi

    made: dict[str, pulumi.Resource] = {}
    for r in replay_order(records):
        parent = made.get(r["parent"])
        provider = made.get(r["provider"].rsplit("::", 1)[0]) if r["provider"] else None
        opts = pulumi.ResourceOptions(parent=parent, protect=r["protect"] or None)
        if r["type"].startswith("pulumi:providers:"):
            package = r["type"].split(":", 2)[2]
            made[r["urn"]] = pulumi.ProviderResource(package, r["name"], r["inputs"], opts)
        elif r["custom"]:
            opts.provider = provider  # type: ignore[assignment]
            made[r["urn"]] = pulumi.CustomResource(r["type"], r["name"], r["inputs"], opts)
        else:
            component = pulumi.ComponentResource(r["type"], r["name"], None, opts)
            component.register_outputs({})
            made[r["urn"]] = component


def run_floor_tree(
    resources_json: Path, project: str, stack: str, platform: tuple[Path, str] | None
) -> None:
    """The floor child: `platform` (its resources.json and stack) first, in a forked process
    that is gone before the stack's own registrations start, as the preview renders it."""
    if platform is not None:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the forked floor of the platform stack
            code = 0
            try:
                run_floor(platform[0], project, platform[1])
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status:
            raise SystemExit(f"the platform floor failed ({status})")
    run_floor(resources_json, project, stack)


def run_floor(resources_json: Path, project: str, stack: str) -> float:
    """Seconds the SDK takes to register the records of `resources_json` under bare mocks."""
    records = json.loads(resources_json.read_text())
    start = time.perf_counter()
    import asyncio

    import pulumi
    from pulumi.runtime.stack import run_pulumi_func

    class BareMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            return f"{args.name}-id", args.inputs

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
            return {}

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(BareMocks(), project=project, stack=stack, preview=True)
    loop.run_until_complete(run_pulumi_func(lambda: register_floor(records)))
    return time.perf_counter() - start


# -- measuring children --------------------------------------------------------------------------


@dataclass
class Run:
    """One measured child process."""

    seconds: float
    peak_mb: float
    stdout: str


def _rss_kb(pid: int) -> int:
    """Resident set size (from /proc/<pid>/status: cheap to read, so sampling does not slow
    the process down; pages a forked child still shares with its parent count twice)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(f"{task.path}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def _tree_rss_kb(root: int) -> int:
    """Resident set size of `root` and all its descendants, from /proc (0 when gone)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _rss_kb(pid)
        todo.extend(_children(pid))
    return total


def measure(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run `cmd`, returning wall seconds and peak memory of it and its children.

    Peak memory is the larger of the process tree's summed RSS, sampled every 50 ms from
    /proc, and the kernel's peak RSS of the largest process (getrusage of the children).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        peak_kb = 0
        while proc.poll() is None:
            peak_kb = max(peak_kb, _tree_rss_kb(proc.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-4000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if after > before:
        peak_kb = max(peak_kb, after)
    return Run(seconds=seconds, peak_mb=peak_kb / 1024, stdout=stdout)


@dataclass
class Row:
    services: int
    resources: int
    platform_resources: int
    seconds: float
    peak_mb: float
    floor_seconds: float
    floor_peak_mb: float
    ratio: float
    pairs: int
    mandatory: int

    @property
    def per_resource(self) -> float:
        return self.seconds / (self.resources + self.platform_resources)

    @property
    def memory_ratio(self) -> float:
        return self.peak_mb / self.floor_peak_mb


def rendered_platform(project: Path, stack: str) -> str | None:
    """The platform stack the preview of `stack` renders first (its outputs not recorded in
    `stack-outputs.yaml`), else None: as `slipway.preview` decides."""
    from slipway.preview import platform_stack_of, read_stack_outputs
    from slipway.stackfile import project_name, read_stack_file

    name = project_name(project)
    found = platform_stack_of(read_stack_file(project, stack).config, name)
    if found is None:
        return None
    recorded = read_stack_outputs(project)
    stack_name, ref = found
    same = [k for k in recorded if k.split("/")[1:] == ref.split("/")[1:]]
    return None if ref in recorded or same else stack_name


def _cold_cache_env(work: Path) -> dict[str, str]:
    """The environment of one preview: a render cache folder of its own, empty, so that
    every preview renders its platform stack as a first CI run does."""
    return {**os.environ, "SLIPWAY_CACHE_DIR": tempfile.mkdtemp(prefix="cache-", dir=work)}


def bench(count: int, stack: str, work: Path, pairs: int = 1) -> tuple[Row, Path]:
    """Generate a fleet of `count` services, then preview it and replay it for the floor,
    `pairs` times in turn (preview, floor, preview, floor, ...). Returns the row and the
    project copy.

    Seconds are medians; the ratio is the median of each pair's own ratio, so that a drift
    in the machine's speed during the run moves both sides of a pair alike.
    """
    project = write_fleet(work / f"fleet-{count}", count)
    out = project / "build" / stack
    python = sys.executable
    floor_cmd = [python, str(Path(__file__).resolve()), "--floor", str(out / "resources.json")]
    floor_cmd.append(stack)
    platform = rendered_platform(project, stack)
    platform_resources = 0
    if platform is not None:
        # The records the preview's platform render registers, for the floor (not timed).
        platform_out = project / "build" / platform
        cmd = [python, "-m", "slipway", "preview", platform, "--out", str(platform_out)]
        done = measure([*cmd, "--no-policy", "--format", "json"], cwd=project)
        platform_resources = json.loads(done.stdout)["resources"]
        floor_cmd += ["--floor-platform", str(platform_out / "resources.json"), platform]
    caches = work / f"caches-{count}"
    caches.mkdir(exist_ok=True)
    previews: list[Run] = []
    floors: list[Run] = []
    for _ in range(pairs):
        shutil.rmtree(out, ignore_errors=True)
        previews.append(
            measure(
                [python, "-m", "slipway", "preview", stack, "--out", str(out), "--format", "json"],
                cwd=project,
                env=_cold_cache_env(caches),
            )
        )
        floors.append(measure(floor_cmd, cwd=project))
    shutil.rmtree(caches, ignore_errors=True)
    summary = json.loads(previews[-1].stdout)
    mandatory = [d for d in summary["policy"] or [] if d["level"] == "mandatory"]
    row = Row(
        services=count,
        resources=summary["resources"],
        platform_resources=platform_resources,
        seconds=statistics.median(r.seconds for r in previews),
        peak_mb=max(r.peak_mb for r in previews),
        floor_seconds=statistics.median(r.seconds for r in floors),
        floor_peak_mb=max(r.peak_mb for r in floors),
        ratio=statistics.median(
            p.seconds / f.seconds for p, f in zip(previews, floors, strict=True)
        ),
        pairs=pairs,
        mandatory=len(mandatory),
    )
    return row, project


AGAINST_MISSING = (
    "pull-request scenario: benchmarks/fleet_against.py is not here; against_cold and "
    "against_warm are not measured (n/a)"
)


def against(project: Path, stack: str) -> dict[str, float] | None:
    """The pull-request scenario on `project` (`fleet_against.measure`): against_cold and
    against_warm, each `preview --against` seconds over plain preview seconds; None (with
    a message) when the module is missing."""
    try:
        import fleet_against  # type: ignore[import-not-found]
    except ModuleNotFoundError as exc:
        if exc.name != "fleet_against":
            raise
        print(AGAINST_MISSING, flush=True)
        return None
    return fleet_against.measure(project, stack, sys.executable, pairs=1)


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--stack", default="prod")
    parser.add_argument("--keep", type=Path, help="keep the generated projects here")
    parser.add_argument(
        "--pairs",
        type=int,
        default=None,
        help=f"preview/floor pairs per size (default: {REPORT_PAIRS} at N={REPORT_AT}, else 1)",
    )
    parser.add_argument("--floor", nargs=2, metavar=("RESOURCES_JSON", "STACK"), help="(child)")
    parser.add_argument(
        "--floor-platform", nargs=2, metavar=("RESOURCES_JSON", "STACK"), help="(child)"
    )
    args = parser.parse_args(argv)
    if args.floor:
        platform = args.floor_platform
        run_floor_tree(
            Path(args.floor[0]),
            "slipway",
            args.floor[1],
            (Path(platform[0]), platform[1]) if platform else None,
        )
        # Like the preview (`slipway.entry.run`), leave without tearing down the heap object
        # by object: that would add seconds to the floor that no registration needs.
        sys.stdout.flush()
        os._exit(0)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.keep or Path(tempfile.mkdtemp(prefix="slipway-fleet-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    header = (
        f"{'services':>8} {'resources':>9} {'preview s':>9} {'floor s':>8} {'ratio':>6} "
        f"{'peak MB':>8} {'floor peak MB':>13} {'peak/floor':>10} {'s/resource':>10} "
        f"{'pairs':>5}"
    )
    print(f"offline preview of stack {args.stack} (program, policy pack, manifests)")
    print(header)
    figures: dict[str, float] | None = None
    try:
        for count in sizes:
            pairs = args.pairs or (REPORT_PAIRS if count == REPORT_AT else 1)
            row, project = bench(count, args.stack, work, pairs)
            rows.append(row)
            print(
                f"{row.services:>8} {row.resources:>9} {row.seconds:>9.2f} "
                f"{row.floor_seconds:>8.2f} {row.ratio:>6.2f} {row.peak_mb:>8.0f} "
                f"{row.floor_peak_mb:>13.0f} {row.memory_ratio:>10.2f} "
                f"{row.per_resource * 1000:>8.3f}ms {row.pairs:>5}",
                flush=True,
            )
            if row.platform_resources:
                print(
                    f"  both include the platform stack's {row.platform_resources} resources, "
                    "rendered first (cold cache)",
                    flush=True,
                )
            if row.mandatory:
                print(f"  note: {row.mandatory} mandatory policy violations", flush=True)
            if count == REPORT_AT:
                figures = against(project, args.stack)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    first, last = rows[0], rows[-1]
    if len(rows) > 1:
        print(
            f"linearity: s/resource at N={last.services} is "
            f"{last.per_resource / first.per_resource:.2f}x that at N={first.services}"
        )
    at = next((r for r in rows if r.services == REPORT_AT), last)
    if at.services != REPORT_AT:
        print(f"(N={REPORT_AT} not among the sizes: the last line is for N={at.services})")
    figures = figures or {}
    print(
        f"ratio={at.ratio:.2f} resources={at.resources} seconds={at.seconds:.2f} "
        f"peak_mb={at.peak_mb:.0f} floor_peak_mb={at.floor_peak_mb:.0f} "
        f"against_cold={_figure(figures.get('against_cold'))} "
        f"against_warm={_figure(figures.get('against_warm'))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
