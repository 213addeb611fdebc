"""`make consumer`: slipway's two wheels, checked the way their users get them.

1. slipway-components. Its wheel goes into a fresh venv with only its declared dependencies,
   once at their lowest bounds (read from components/pyproject.toml) and once at the
   project's pins (requirements.txt; the other packages it pins, grpcio and protobuf among
   them, are held to their pins there too). Neither pulumi-aws nor pulumi-gcp may come
   along, and the wheel must ship py.typed. A sample team's program (examples/consumer,
   which has a package of its own named `components`) then runs its Pulumi unit tests from
   a folder outside this repository, so nothing but the installed wheel can be imported,
   and mypy checks that program against the wheel's type hints (py.typed).
2. slipway, the CLI. Its wheel may hold only `slipway` and `slipway_policy_pack` (the pack's
   PulumiPolicy.yaml and config included), and `slipway check` must work from it with this
   checkout out of reach, on a manifest of its own and on a public project's release
   manifests (tests/data/public/microservices-demo); `slipway preview` from it must render
   a copy of the project kept outside the checkout (the program's stacks/ and components/
   come from the project, not the wheel) and refuse `--out .` in a folder of the user's.

Prints progress, then one line per dependency set and one for the CLI wheel; exits 1 and
names what failed. The venvs stay in build/consumer/<set> for a look afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import venv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ROOT / "components"
EXAMPLE = ROOT / "examples" / "consumer"
OUT = ROOT / "build" / "consumer"
CLOUD_SDKS = ("pulumi-aws", "pulumi-gcp")
"""Extras only: a plain `pip install slipway-components` must not pull them in."""
CLI_TOP_LEVEL = {"slipway", "slipway_policy_pack"}
TOOLS = ("pytest", "mypy")
"""What a consumer runs on its program: the tests, and a type checker reading py.typed."""
PUBLIC_MANIFESTS = ROOT / "tests" / "data" / "public" / "microservices-demo"
"""A public project's release manifests (35 objects; SOURCE.md says whose and which)."""
PIP = ("-m", "pip", "--disable-pip-version-check", "--no-input")
TAIL_LINES = 40
PIP_NOISE = re.compile(r"WARNING: Location '.*' is ignored")


class CheckFailed(Exception):
    """A step that cannot go on; its message says what failed."""


@dataclass
class SetResult:
    """One dependency set's outcome, for the table."""

    name: str
    versions: dict[str, str] = field(default_factory=dict)
    installed_mb: float | None = None
    passed: int = 0
    failed: int = 0
    typed: str = "-"
    """mypy on the sample program: `clean` or how many errors (the wheel's py.typed at work)."""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


# -- what to install ---------------------------------------------------------------------------


def declared_dependencies(pyproject: Path) -> list[Requirement]:
    """The distribution's runtime dependencies (extras left out: they are opt-in)."""
    data = tomllib.loads(pyproject.read_text())
    return [Requirement(line) for line in data["project"]["dependencies"]]


def lowest_bounds(pyproject: Path) -> dict[str, str]:
    """Each declared dependency at its lower bound, as `name -> version`.

    Read from the file the wheel is built from, so the bounds are written down once. A
    dependency without a `>=` (or `==`, `~=`) bound has no lowest version to try: an error.
    """
    lowest: dict[str, str] = {}
    for req in declared_dependencies(pyproject):
        bounds = [s.version for s in req.specifier if s.operator in (">=", "==", "~=")]
        if not bounds:
            raise CheckFailed(f"{pyproject}: {req} has no lower bound (>=) to install")
        lowest[canonicalize_name(req.name)] = str(max(bounds, key=Version))
    return lowest


def pinned_versions(requirements: Path) -> dict[str, str]:
    """`name -> version` for every `name==version` line (options, `-e` and comments skipped)."""
    pins: dict[str, str] = {}
    for raw in requirements.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        exact = [s.version for s in req.specifier if s.operator == "=="]
        if exact:
            pins[canonicalize_name(req.name)] = exact[0]
    return pins


def dependency_sets(pyproject: Path, requirements: Path) -> dict[str, dict[str, str]]:
    """The two sets a consumer may meet: the lowest versions the wheel allows, and ours."""
    lowest = lowest_bounds(pyproject)
    pins = pinned_versions(requirements)
    unpinned = sorted(set(lowest) - set(pins))
    if unpinned:
        raise CheckFailed(f"{requirements} pins no version of {', '.join(unpinned)}")
    return {"lowest": lowest, "pins": {name: pins[name] for name in lowest}}


# -- building ----------------------------------------------------------------------------------


def copy_sources(root: Path, dest: Path) -> Path:
    """The work tree's files under `root` that git does not ignore, symlinks resolved.

    Building from a copy keeps setuptools' build/ and egg-info out of the checkout, and the
    copy holds exactly what a clone would (plus files not yet committed).
    """
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "."],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = root / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def build_wheel(source: Path, work: Path) -> Path:
    """`pip wheel --no-deps` on a copy of `source`; the one wheel it made."""
    copy = copy_sources(source, work / "src")
    out = work / "dist"
    run([sys.executable, *PIP, "wheel", "--quiet", "--no-deps", str(copy), "-w", str(out)])
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise CheckFailed(f"pip wheel {source} made {[w.name for w in wheels]}, not one wheel")
    return wheels[0]


def wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def top_level(names: list[str]) -> set[str]:
    """Importable top-level names a wheel installs (its metadata folders left out)."""
    tops = {name.split("/", 1)[0] for name in names}
    tops = {t.removesuffix(".py") for t in tops if not t.endswith((".dist-info", ".data"))}
    return tops


# -- running -----------------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """The caller's environment without anything that would put this checkout on a path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH"}
    }
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a step; on failure raise with the command and the end of its output."""
    proc = subprocess.run(
        cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise CheckFailed(
            f"`{' '.join(cmd)}` exited {proc.returncode}:\n{tail(proc.stdout + proc.stderr)}"
        )
    return proc


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The end of a step's output, without pip's notes on index folders it skips."""
    kept = [line for line in text.rstrip().splitlines() if not PIP_NOISE.match(line)]
    return "\n".join(kept[-lines:])


def say(message: str) -> None:
    print(f"consumer: {message}", flush=True)


def tree_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def site_packages(venv_dir: Path) -> Path:
    found = sorted(venv_dir.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise CheckFailed(f"{venv_dir}: expected one site-packages, found {found}")
    return found[0]


def outside_repository(path: Path) -> Path:
    if path.resolve().is_relative_to(ROOT):
        raise CheckFailed(f"{path} is inside the repository; the consumer must run outside it")
    return path


def junit_counts(report: Path) -> tuple[int, int]:
    """(passed, failed) from pytest's JUnit XML; errors count as failures."""
    suites = ElementTree.parse(report).getroot().iter("testsuite")
    passed = failed = 0
    for suite in suites:
        total, skipped = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        failed += bad
        passed += total - skipped - bad
    return passed, failed


# -- slipway-components, per dependency set ----------------------------------------------------


def check_set(
    name: str, versions: dict[str, str], wheel: Path, constraints: Path | None, tools: list[str]
) -> SetResult:
    """Install the wheel with exactly `versions` into a fresh venv and run the consumer."""
    result = SetResult(name, versions=dict(versions))
    start = time.monotonic()
    try:
        _check_set(result, versions, wheel, constraints, tools)
    except CheckFailed as err:
        result.problems.append(str(err))
    result.seconds = time.monotonic() - start
    return result


def _check_set(
    result: SetResult,
    versions: dict[str, str],
    wheel: Path,
    constraints: Path | None,
    tools: list[str],
) -> None:
    env_dir = OUT / result.name
    shutil.rmtree(env_dir, ignore_errors=True)
    say(f"{result.name}: fresh venv {env_dir.relative_to(ROOT)}")
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    site = site_packages(env_dir)
    before = tree_bytes(site)

    wanted = [f"{pkg}=={ver}" for pkg, ver in versions.items()]
    say(f"{result.name}: pip install {wheel.name} {' '.join(wanted)}")
    extra = ["-c", str(constraints)] if constraints else []
    run([python, *PIP, "install", "--quiet", str(wheel), *wanted, *extra])
    result.installed_mb = (tree_bytes(site) - before) / 1e6

    listed = json.loads(run([python, *PIP, "list", "--format=json"]).stdout)
    installed = {canonicalize_name(d["name"]): d["version"] for d in listed}
    result.versions = {pkg: installed.get(pkg, "missing") for pkg in versions}
    for pkg, ver in versions.items():
        if pkg not in installed or Version(installed[pkg]) != Version(ver):
            result.problems.append(f"{pkg}: wanted {ver}, installed {installed.get(pkg)}")
    clouds = sorted(set(CLOUD_SDKS) & set(installed))
    if clouds:
        result.problems.append(f"installing the wheel without extras brought {clouds}")

    with tempfile.TemporaryDirectory(prefix="slipway-consumer-") as tmp:
        project = outside_repository(Path(tmp) / "consumer")
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
        where = run(
            [python, "-c", "import slipway_components; print(slipway_components.__file__)"],
            cwd=project,
        ).stdout.strip()
        if not Path(where).is_relative_to(site):
            result.problems.append(f"slipway_components imported from {where}, not the wheel")

        say(f"{result.name}: pip install {' '.join(tools)}")
        run([python, *PIP, "install", "--quiet", *tools])
        say(f"{result.name}: pytest in {project}")
        report = Path(tmp) / "junit.xml"
        proc = subprocess.run(
            [
                python,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                str(project),
                f"--junitxml={report}",
            ],
            cwd=project,
            env=clean_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if not report.exists():
            raise CheckFailed(
                f"pytest exited {proc.returncode} without a report:\n"
                f"{tail(proc.stdout + proc.stderr)}"
            )
        result.passed, result.failed = junit_counts(report)
        say(f"{result.name}: mypy in {project}")
        typed = subprocess.run(
            [python, "-m", "mypy", "--no-incremental", "program.py", "test_program.py"],
            cwd=project,
            env=clean_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        errors = re.search(r"Found (\d+) errors?", typed.stdout)
        count = errors[1] if errors else "?"
        result.typed = "clean" if typed.returncode == 0 else f"{count} errors"
        if typed.returncode != 0:
            result.problems.append(
                f"mypy on the sample program (the wheel's type hints):\n{tail(typed.stdout)}"
            )
        if proc.returncode != 0 or result.failed or not result.passed:
            result.problems.append(
                f"consumer tests: {result.passed} passed, {result.failed} failed "
                f"(pytest exit {proc.returncode}):\n{tail(proc.stdout + proc.stderr)}"
            )


# -- the CLI wheel -----------------------------------------------------------------------------

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:latest
"""
"""A Deployment with findings the pack must report (a latest tag among them)."""

DRIVER = """\
import sys
site, venv_site, *argv = sys.argv[1:]
sys.path[:0] = [site, venv_site]
import slipway
print("slipway from", slipway.__file__, file=sys.stderr, flush=True)
sys.argv = ["slipway", *argv]
from slipway.entry import run
run()
"""
"""`slipway` the console script, on a sys.path of the installed wheel and the .venv's
site-packages only: `-I -S` keeps out the working directory and the .pth files (the
editable install's would add this checkout)."""


def check_cli_wheel(work: Path) -> list[str]:
    """Build the CLI wheel, inspect it, and run `slipway check` from it; the problems."""
    problems: list[str] = []
    say("cli: pip wheel --no-deps .")
    wheel = build_wheel(ROOT, work)
    names = wheel_names(wheel)
    tops = top_level(names)
    if tops != CLI_TOP_LEVEL:
        problems.append(
            f"{wheel.name} installs top-level {sorted(tops)}, not {sorted(CLI_TOP_LEVEL)}"
        )
    if "slipway_policy_pack/PulumiPolicy.yaml" not in names:
        problems.append(f"{wheel.name} has no slipway_policy_pack/PulumiPolicy.yaml")
    configs = {p.name for p in (ROOT / "policies" / "config").glob("*.json")}
    shipped = {
        n.rsplit("/", 1)[-1]
        for n in names
        if re.fullmatch(r"slipway_policy_pack/config/[^/]+\.json", n)
    }
    if not configs or configs - shipped:
        problems.append(f"{wheel.name} lacks policy configs {sorted(configs - shipped)}")

    site = work / "site"
    say(f"cli: pip install --no-deps --target {site}")
    run(
        [sys.executable, *PIP, "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)]
    )
    manifests = outside_repository(work / "manifests")
    manifests.mkdir()
    (manifests / "web.yaml").write_text(MANIFEST)
    shutil.copy(PUBLIC_MANIFESTS / "kubernetes-manifests.yaml", manifests)
    venv_site = site_packages(Path(sys.prefix))
    say("cli: slipway check, from the wheel, the checkout not importable")
    proc = slipway_from_wheel(site, venv_site, ["check", str(manifests)], cwd=work)
    output = proc.stdout + proc.stderr
    origin = re.search(r"^slipway from (.+)$", proc.stderr, re.MULTILINE)
    if origin is None or not Path(origin.group(1)).is_relative_to(site):
        problems.append(f"slipway was not imported from the wheel:\n{tail(output)}")
    if proc.returncode not in (0, 1):
        problems.append(f"slipway check exited {proc.returncode}:\n{tail(output)}")
    elif not re.search(r"image-no-latest-tag: .*nginx:latest", proc.stdout):
        problems.append(f"slipway check reported no latest-tag finding:\n{tail(output)}")
    elif not re.search(r"\b36 objects in 2 files\b", output):
        problems.append(f"slipway check did not read the public manifests whole:\n{tail(output)}")

    # The program's own code (stacks/, components/) comes from the project the CLI runs on.
    project = work / "src"  # the copy the wheel was built from, outside this checkout
    say("cli: slipway preview dev, from the wheel, on a copy of the project")
    out = work / "preview-dev"
    args = ["preview", "dev", "--project-dir", str(project), "--no-policy", "--out", str(out)]
    proc = slipway_from_wheel(site, venv_site, args, cwd=work)
    if proc.returncode != 0 or not (out / "resources.json").is_file():
        problems.append(
            f"slipway preview from the wheel exited {proc.returncode}:\n"
            f"{tail(proc.stdout + proc.stderr)}"
        )
    mine = work / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("not slipway's\n")
    proc = slipway_from_wheel(site, venv_site, [*args[:-1], "."], cwd=mine)
    if proc.returncode != 2 or sorted(p.name for p in mine.iterdir()) != ["notes.txt"]:
        problems.append(
            f"slipway preview --out . in a folder of the user's exited {proc.returncode} "
            f"(2 and nothing touched expected): {sorted(p.name for p in mine.iterdir())}"
        )
    return problems


def slipway_from_wheel(
    site: Path, venv_site: Path, args: list[str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`slipway ARGS` run from the installed wheel with this checkout out of reach."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", DRIVER, str(site), str(venv_site), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )


# -- the table ---------------------------------------------------------------------------------


def table(results: list[SetResult]) -> str:
    rows = [("set", "versions", "installed", "tests", "mypy", "seconds")]
    for r in results:
        versions = ", ".join(f"{pkg} {ver}" for pkg, ver in r.versions.items()) or "-"
        size = f"{r.installed_mb:.1f} MB" if r.installed_mb is not None else "-"
        tests = f"{r.passed} passed, {r.failed} failed"
        rows.append((r.name, versions, size, tests, r.typed, f"{r.seconds:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def main() -> int:
    sets = dependency_sets(COMPONENTS / "pyproject.toml", ROOT / "requirements.txt")
    dev_pins = pinned_versions(ROOT / "requirements-dev.txt")
    # the consumer's own tools, at the project's pins: its tests and a type checker
    tools = [f"{tool}=={dev_pins[tool]}" if tool in dev_pins else tool for tool in TOOLS]
    OUT.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    results: list[SetResult] = []
    with tempfile.TemporaryDirectory(prefix="slipway-wheels-") as tmp:
        work = Path(tmp)
        say("components: pip wheel --no-deps ./components")
        wheel = build_wheel(COMPONENTS, work / "components")
        names = wheel_names(wheel)
        tops = top_level(names)
        if tops != {"slipway_components"}:
            failures.append(
                f"{wheel.name} installs top-level {sorted(tops)}, not slipway_components"
            )
        if "slipway_components/py.typed" not in names:
            failures.append(f"{wheel.name} lacks py.typed: type checkers would ignore its hints")
        constraints = work / "pins-constraints.txt"
        pins = pinned_versions(ROOT / "requirements.txt")
        constraints.write_text("".join(f"{pkg}=={ver}\n" for pkg, ver in sorted(pins.items())))
        for name, versions in sets.items():
            result = check_set(
                name, versions, wheel, constraints if name == "pins" else None, tools
            )
            results.append(result)
            failures.extend(f"{name}: {p}" for p in result.problems)
            say(f"{name}: done in {result.seconds:.0f} s")
        cli_start = time.monotonic()
        try:
            cli_problems = check_cli_wheel(work / "cli")
        except CheckFailed as err:
            cli_problems = [str(err)]
        failures.extend(f"cli wheel: {p}" for p in cli_problems)
        cli_seconds = time.monotonic() - cli_start
    print(table(results))
    verdict = "ok" if not cli_problems else f"{len(cli_problems)} problem(s)"
    print(f"cli wheel: contents and `slipway check` from it: {verdict} ({cli_seconds:.0f} s)")
    if failures:
        print("\nFAILED:", file=sys.stderr)
        for failure in failures:
            print(f"- {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as err:
        print(f"consumer: FAILED: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        # temporary folders are gone already; the venvs under build/consumer are rebuilt next time
        print("consumer: interrupted", file=sys.stderr)
        sys.exit(130)
