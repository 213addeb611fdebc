"""Mutation testing of the modules that decide what gets deployed or refused (`make mutation`).

Each module in `mutation/modules.toml` is mutated by mutmut (flipped comparisons, changed
constants and strings, deleted statements), and each mutant runs against that module's
focused tests only: the ones that import it in-process. A mutant no test notices is a
behaviour no test pins. The run prints one line per module:

    module=<path> killed=<n> survived=<n> score=<x>

`score` is killed / (killed + survived), in percent; a timeout counts as killed (the change
was noticed), a mutant no focused test reaches counts as survived. A mutant that survives
mutmut's run is run once more in a fresh process, active from the start, so that code which
runs only while a module is imported is judged too (`focused_run`). Mutants that change no
behaviour are listed, each with its reason, in `mutation/equivalents.toml`: they are left out
of both counts, and an entry whose mutant no longer says what the entry says is an error (the
code moved: look again). Survivors' diffs go to `build/mutation/<module>.survivors.diff`.

Each module runs in its own scratch folder under `build/mutation/`, so the checkout is never
touched: mutmut copies the package there and imports the copy first. In that copy the bodies
of the module's decorated functions (pydantic validators, properties), which mutmut would
skip, are moved into undecorated functions named `<name>__checked` that mutmut mutates.

Environment: `MUTATION_SAMPLE=N` runs N mutants per module drawn the same way every time (a
quick look; the line says `sampled`); `MUTATION_FILTER=<regex>` only the mutants whose name
it finds (`__checked`: the bodies of decorated functions; the line says `filtered`);
`MUTATION_JOBS` (default: CPU count) mutants at once; `MUTATION_MIN` the score every module
must reach (default 85). Arguments: module paths to run
only those. Exit 1 when a module scores below the minimum, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / "mutation" / "modules.toml"
EQUIVALENTS = ROOT / "mutation" / "equivalents.toml"
SCRATCH = ROOT / "build" / "mutation"
MUTMUT_VERSION = "3.8.1"
"""The generation step below uses mutmut's own functions: checked against this version."""

# mutmut's exit codes (mutmut.stats.status_by_exit_code): which count as noticed.
KILLED = {1, 3, 36, -24, 24, 152, 255}
"""A failing test (1), pytest's internal error (3) or a timeout: the change was noticed."""
UNCHECKED = {None, 34}
"""Not run (a sample left it out) or skipped."""
# Top-level entries of the checkout the scratch folder must not link (mutmut owns them, or
# they are big and no test reads them).
NOT_LINKED = {".git", ".venv", ".venv-checkov", "build", "tests", "pyproject.toml", "mutants"}


class BadInput(Exception):
    """A refusal: exit 2 with the message."""


def shown(text: str) -> str:
    """`text` as a message quotes it: at most 40 characters, as the kit's refusals do."""
    return repr(text) if len(text) <= 40 else repr(text[:40]) + f" (and {len(text) - 40} more)"


@dataclass(frozen=True)
class Module:
    """One module to mutate: its path in the checkout and the tests that pin it."""

    path: str
    tests: tuple[str, ...]

    @property
    def package_link(self) -> tuple[str, Path]:
        """The top-level package name the tests import, and the folder it lives in.

        mutmut names a mutant after the file's path from the folder it runs in; the tests
        import the module by its package name. The scratch folder links the package under
        that name so the two agree (`components/slipway_components/x.py` is
        `slipway_components.x`).
        """
        parts = Path(self.path).parts
        if parts[0] == "components":
            return parts[1], ROOT / parts[0] / parts[1]
        return parts[0], ROOT / parts[0]

    @property
    def relative(self) -> Path:
        """The module's path inside the scratch folder."""
        name, folder = self.package_link
        return Path(name) / (ROOT / self.path).relative_to(folder)

    @property
    def dotted(self) -> str:
        return ".".join(self.relative.with_suffix("").parts)

    @property
    def slug(self) -> str:
        return self.dotted.replace(".", "-")


@dataclass(frozen=True)
class Equivalent:
    """A mutant that changes no behaviour, with the line it writes and why it is harmless."""

    module: str
    mutant: str
    line: str
    reason: str


@dataclass
class Tally:
    killed: int = 0
    survived: int = 0
    equivalent: int = 0
    unchecked: int = 0

    @property
    def score(self) -> float:
        judged = self.killed + self.survived
        return 100.0 * self.killed / judged if judged else 100.0


def load_modules(path: Path = MODULES) -> list[Module]:
    """Read the module table; every path and test file must exist."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: {exc}") from exc
    modules = []
    for i, entry in enumerate(data.get("module", [])):
        where = f"{path}: module[{i}]"
        if not isinstance(entry.get("path"), str) or not isinstance(entry.get("tests"), list):
            raise BadInput(f"{where}: needs `path` (a string) and `tests` (a list of files)")
        for file in (entry["path"], *entry["tests"]):
            if not (ROOT / file).is_file():
                raise BadInput(f"{where}: {file} is not a file in the checkout")
        modules.append(Module(entry["path"], tuple(entry["tests"])))
    if not modules:
        raise BadInput(f"{path}: no [[module]] entries")
    return modules


def load_equivalents(path: Path = EQUIVALENTS) -> list[Equivalent]:
    """Read the equivalent-mutant list; each entry needs a module, mutant, line and reason."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: {exc}") from exc
    found = []
    for i, entry in enumerate(data.get("equivalent", [])):
        fields = ("module", "mutant", "line", "reason")
        missing = [f for f in fields if not isinstance(entry.get(f), str) or not entry[f].strip()]
        if missing:
            raise BadInput(f"{path}: equivalent[{i}]: missing {', '.join(missing)}")
        found.append(Equivalent(*(entry[f] for f in fields)))
    return found


CHECKED = "__checked"
"""Suffix of the undecorated copy of a decorated function's body (`expose_decorated`)."""


def expose_decorated(source: str) -> str:
    """The module with every decorated function's body moved into an undecorated function
    beside it, which the decorated one calls with its own arguments.

    mutmut leaves decorated functions alone (their decorators run at import), and those are
    the pydantic validators (`@field_validator`, `@model_validator`) and properties: most of
    what a model refuses. After this, mutmut mutates the body (`<name>__checked`) while
    the decorator, signature and behaviour stay as they were. Formatting is kept (libcst), so
    every other line reads as in the checkout."""
    import libcst as cst

    def call_args(params: cst.Parameters) -> list[cst.Arg]:
        args = [cst.Arg(cst.Name(p.name.value)) for p in (*params.posonly_params, *params.params)]
        if isinstance(params.star_arg, cst.Param):
            args.append(cst.Arg(cst.Name(params.star_arg.name.value), star="*"))
        for p in params.kwonly_params:
            tight = cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            )
            args.append(
                cst.Arg(cst.Name(p.name.value), keyword=cst.Name(p.name.value), equal=tight)
            )
        if params.star_kwarg is not None:
            args.append(cst.Arg(cst.Name(params.star_kwarg.name.value), star="**"))
        return args

    def skipped_by_mutmut(fn: cst.FunctionDef) -> bool:
        names = [d.decorator for d in fn.decorators]
        plain = len(names) == 1 and isinstance(names[0], cst.Name)
        return bool(names) and not (plain and names[0].value in ("staticmethod", "classmethod"))

    def split(statements: Any, owner: str | None) -> list[Any]:
        out: list[Any] = []
        seen: dict[str, int] = {}
        for stmt in statements:
            if not (isinstance(stmt, cst.FunctionDef) and skipped_by_mutmut(stmt)):
                out.append(stmt)
                continue
            # Named after the function alone (a property's setter gets a number), so a
            # mutant's name, which equivalents.toml records, survives edits elsewhere.
            seen[stmt.name.value] = seen.get(stmt.name.value, 0) + 1
            count = seen[stmt.name.value]
            body_name = f"{stmt.name.value}{CHECKED}{count if count > 1 else ''}"
            target: cst.BaseExpression = cst.Name(body_name)
            if owner is not None:
                target = cst.parse_expression(f"{owner}.{body_name}")
            call: cst.BaseExpression = cst.Call(func=target, args=call_args(stmt.params))
            if stmt.asynchronous is not None:
                call = cst.Await(expression=call)
            wrapper = stmt.with_changes(
                body=cst.IndentedBlock(body=[cst.SimpleStatementLine([cst.Return(call)])])
            )
            body = stmt.with_changes(decorators=[], name=cst.Name(body_name), leading_lines=[])
            out.extend([wrapper, body])
        return out

    class Expose(cst.CSTTransformer):
        def __init__(self) -> None:
            self.owners: list[str] = []

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            self.owners.append(node.name.value)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False  # functions inside functions stay as they are

        def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
            owner = ".".join(self.owners)
            self.owners.pop()
            if not isinstance(updated.body, cst.IndentedBlock):
                return updated
            return updated.with_changes(
                body=updated.body.with_changes(body=split(updated.body.body, owner))
            )

        def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
            return updated.with_changes(body=split(updated.body, None))

    return cst.parse_module(source).visit(Expose()).code


def prepare(module: Module) -> Path:
    """A fresh scratch folder for one module: a copy of its package under its import name
    (the module's decorated functions exposed, `expose_decorated`), the tests, a mutmut
    config, and the rest of the checkout linked in where the tests look."""
    work = SCRATCH / module.slug
    if work.exists():
        shutil.rmtree(work)
    (work / "mutants").mkdir(parents=True)
    name, folder = module.package_link
    shutil.copytree(folder, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    target = work / module.relative
    target.write_text(expose_decorated(target.read_text(encoding="utf-8")), encoding="utf-8")
    (work / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    for entry in ROOT.iterdir():
        if entry.name not in NOT_LINKED | {name}:
            (work / "mutants" / entry.name).symlink_to(entry)
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    ini = pytest_options["ini_options"]
    config = [
        "[tool.mutmut]",
        f"source_paths = [{json.dumps(name)}]",
        f"only_mutate = [{json.dumps(str(module.relative))}]",
        f"pytest_add_cli_args_test_selection = {json.dumps(list(module.tests))}",
        # the tests start Pulumi's gRPC threads: forking from a process that ran them hangs
        'process_isolation = "forkserver"',
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x"]',
        "use_git_change_detection = false",
        "",
        "[tool.pytest.ini_options]",
        f"testpaths = {json.dumps(ini['testpaths'])}",
        f"addopts = {json.dumps(ini['addopts'])}",
    ]
    (work / "pyproject.toml").write_text("\n".join(config) + "\n")
    return work


def generate(work: Path) -> None:
    """Write the mutants without running any (mutmut's own generation step), for sampling."""
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from mutmut.__main__ import copy_src_dir, create_file_mutants\n"
        "from mutmut.configuration import config\n"
        "os.makedirs('mutants', exist_ok=True)\n"
        "copy_src_dir()\n"
        "r = create_file_mutants(Path(config().only_mutate[0]))\n"
        "sys.exit(1 if r.error else 0)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=work, check=True, capture_output=True)


def results(work: Path, module: Module) -> dict[str, int | None]:
    meta = work / "mutants" / (str(module.relative) + ".meta")
    return json.loads(meta.read_text())["exit_code_by_key"]


def diff_of(work: Path, mutant: str) -> str:
    shown = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", mutant],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    return shown.stdout


def focused_run(work: Path, module: Module, mutant: str, timeout: float) -> int | None:
    """Run the module's focused tests in a fresh process with `mutant` active from the start
    (empty: none); pytest's exit code, None on a timeout.

    mutmut runs each mutant in a process forked from one that has already imported the
    code, so code that runs only while a module is imported (a pydantic schema hook, a
    decorator's factory) ran unmutated: such a mutant looks like a survivor, or like one no
    test reaches. Here the mutant is active before anything is imported."""
    env = {**os.environ, "MUTANT_UNDER_TEST": mutant}
    command = [sys.executable, "-m", "pytest", "--rootdir=.", "-p", "no:cacheprovider", "-x"]
    try:
        done = subprocess.run(
            [*command, "-q", *module.tests],
            cwd=work / "mutants",
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None
    return done.returncode


def recheck(work: Path, module: Module, names: list[str]) -> set[str]:
    """The `names` a fresh process kills (see `focused_run`)."""
    if not names:
        return set()
    started = time.monotonic()
    code = focused_run(work, module, "", timeout=1800)
    if code != 0:
        raise BadInput(
            f"{module.path}: the focused tests exit {code} in a fresh process on the unchanged "
            "code (they must pass)"
        )
    timeout = 10 * (time.monotonic() - started) + 30
    killed = set()
    for name in names:
        code = focused_run(work, module, name, timeout)
        # 1 a test failed, 2 collection failed (the module no longer imports), None a timeout
        if code in (1, 2, None):
            killed.add(name)
        elif code != 0:
            raise BadInput(f"{module.path}: pytest exited {code} on {name}")
    return killed


def run_module(
    module: Module,
    sample: int | None,
    jobs: int,
    equivalents: list[Equivalent],
    pattern: re.Pattern[str] | None = None,
):
    """Mutate one module, run its focused tests on each mutant (those whose name `pattern`
    finds, when given), and count; (None, []) when the pattern finds none."""
    work = prepare(module)
    names: list[str] = []
    if sample or pattern:
        generate(work)
        every = sorted(results(work, module))
        if pattern:
            every = [n for n in every if pattern.search(n)]
            if not every:
                return None, []
        if sample:
            every = random.Random(module.path).sample(every, min(sample, len(every)))
        names = sorted(every)
    log = (SCRATCH / f"{module.slug}.log").open("w")
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *names]
    done = subprocess.run(command, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    if done.returncode != 0:
        raise BadInput(
            f"{module.path}: mutmut exited {done.returncode}; see {log.name} "
            "(the focused tests must pass on the unchanged code)"
        )
    codes = results(work, module)
    mine = {e.mutant: e for e in equivalents if e.module == module.path}
    doubtful = [
        n for n, c in sorted(codes.items()) if n not in mine and c not in UNCHECKED | KILLED
    ]
    for name in recheck(work, module, doubtful):
        codes[name] = 1
    tally = Tally()
    survivors = []
    chosen = set(names)
    for name, code in sorted(codes.items()):
        if chosen and name not in chosen:  # left out by the sample or the filter
            tally.unchecked += 1
        elif name in mine:
            shown = diff_of(work, name)
            if mine[name].line.strip() not in {
                line[1:].strip() for line in shown.splitlines() if line.startswith("+")
            }:
                raise BadInput(
                    f"{EQUIVALENTS}: {name} no longer writes {mine[name].line!r}: "
                    "the code moved; look at the mutant again"
                )
            tally.equivalent += 1
        elif code in UNCHECKED:
            tally.unchecked += 1
        elif code in KILLED:
            tally.killed += 1
        else:
            tally.survived += 1
            survivors.append(name)
    gone = set(mine) - set(codes)
    if gone and not (sample or pattern):
        raise BadInput(f"{EQUIVALENTS}: no such mutant in {module.path}: {', '.join(sorted(gone))}")
    report = SCRATCH / f"{module.slug}.survivors.diff"
    report.write_text("".join(diff_of(work, name) + "\n" for name in survivors))
    return tally, survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="module paths (default: all in modules.toml)")
    args = parser.parse_args(argv)
    try:
        installed = metadata.version("mutmut")
        if installed != MUTMUT_VERSION:
            raise BadInput(
                f"mutmut {installed} installed; this run is written for {MUTMUT_VERSION}"
            )
        sample_text = os.environ.get("MUTATION_SAMPLE", "")
        # length first: int() refuses over 4300 digits with its own error
        if sample_text and not (
            sample_text.isdigit() and len(sample_text) <= 9 and int(sample_text) > 0
        ):
            raise BadInput(f"MUTATION_SAMPLE={shown(sample_text)}: give a positive whole number")
        sample = int(sample_text) if sample_text else None
        pattern_text = os.environ.get("MUTATION_FILTER", "")
        try:
            pattern = re.compile(pattern_text) if pattern_text else None
        except re.error as exc:
            raise BadInput(
                f"MUTATION_FILTER={shown(pattern_text)}: not a regular expression: {exc}"
            ) from None
        jobs_text = os.environ.get("MUTATION_JOBS") or str(os.cpu_count() or 1)
        if not (jobs_text.isdigit() and len(jobs_text) <= 3 and 0 < int(jobs_text) <= 256):
            raise BadInput(f"MUTATION_JOBS={shown(jobs_text)}: give a whole number from 1 to 256")
        jobs = int(jobs_text)
        minimum_text = os.environ.get("MUTATION_MIN", "85")
        try:
            minimum = float(minimum_text)
        except ValueError:
            minimum = -1.0
        if not 0 <= minimum <= 100:
            raise BadInput(f"MUTATION_MIN={shown(minimum_text)}: give a score from 0 to 100")
        modules = load_modules()
        equivalents = load_equivalents()
        known = {m.path for m in modules}
        unknown = [m for m in args.modules if m not in known]
        if unknown:
            raise BadInput(
                f"not in {MODULES}: {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        chosen = [m for m in modules if not args.modules or m.path in args.modules]
        failed = []
        for module in chosen:
            print(
                f"mutating {module.path} ({len(module.tests)} test files)",
                file=sys.stderr,
                flush=True,
            )
            tally, survivors = run_module(module, sample, jobs, equivalents, pattern)
            if tally is None:
                print(f"  no mutant matches MUTATION_FILTER={pattern_text}", file=sys.stderr)
                continue
            extra = f" equivalent={tally.equivalent}" + (" sampled" if sample else "")
            extra += " filtered" if pattern else ""
            print(
                f"module={module.path} killed={tally.killed} survived={tally.survived} "
                f"score={tally.score:.1f}{extra}",
                flush=True,
            )
            for name in survivors:
                print(f"  survived: {name}", file=sys.stderr)
            if tally.score < minimum:
                failed.append(module.path)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if failed:
        print(f"below {minimum:g}%: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
