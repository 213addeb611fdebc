"""`make mutation` (scripts/mutation.py): what it refuses, how it counts, and the fresh-process
second look at survivors. mutmut itself is not run here (minutes per module)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "scripts/mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tool = _tool()


def test_every_module_in_the_table_exists_with_its_focused_tests() -> None:
    modules = tool.load_modules()
    assert len(modules) >= 13
    assert all((ROOT / m.path).is_file() and m.tests for m in modules)


def test_the_equivalents_list_reads_and_names_only_modules_of_the_table() -> None:
    known = {m.path for m in tool.load_modules()}
    equivalents = tool.load_equivalents()
    assert {e.module for e in equivalents} <= known
    assert all(len(e.reason) > 20 for e in equivalents)


def test_a_module_entry_without_tests_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "modules.toml"
    table.write_text('[[module]]\npath = "slipway/diff.py"\n')
    with pytest.raises(tool.BadInput, match=r"module\[0\]: needs `path` .* and `tests`"):
        tool.load_modules(table)


def test_a_module_entry_naming_a_missing_file_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "modules.toml"
    table.write_text('[[module]]\npath = "slipway/diff.py"\ntests = ["tests/nope.py"]\n')
    with pytest.raises(tool.BadInput, match=r"tests/nope.py is not a file in the checkout"):
        tool.load_modules(table)


def test_an_equivalent_without_a_reason_is_refused(tmp_path: Path) -> None:
    table = tmp_path / "equivalents.toml"
    table.write_text('[[equivalent]]\nmodule = "m"\nmutant = "x"\nline = "y"\nreason = " "\n')
    with pytest.raises(tool.BadInput, match=r"equivalent\[0\]: missing reason"):
        tool.load_equivalents(table)


def test_the_score_is_killed_over_killed_and_survived() -> None:
    assert tool.Tally(killed=17, survived=3, equivalent=5, unchecked=9).score == 85.0
    assert tool.Tally().score == 100.0


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"MUTATION_SAMPLE": "0"}, [], "MUTATION_SAMPLE='0': give a positive whole number"),
        ({"MUTATION_SAMPLE": "ten"}, [], "MUTATION_SAMPLE='ten': give a positive whole number"),
        ({}, ["slipway/nope.py"], "not in"),
        ({"MUTATION_SAMPLE": "9" * 5000}, [], "give a positive whole number"),
        ({"MUTATION_JOBS": "0"}, [], "MUTATION_JOBS='0': give a whole number from 1 to 256"),
        ({"MUTATION_JOBS": "9" * 5000}, [], "give a whole number from 1 to 256"),
        ({"MUTATION_MIN": "high"}, [], "MUTATION_MIN='high': give a score from 0 to 100"),
        ({"MUTATION_MIN": "nan"}, [], "MUTATION_MIN='nan': give a score from 0 to 100"),
    ],
)
def test_bad_input_exits_2_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    args: list[str],
    message: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(tool, "run_module", lambda *a: pytest.fail("nothing may run"))
    assert tool.main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("code", "killed"), [(1, True), (2, True), (None, True), (0, False)], ids=str
)
def test_a_fresh_process_kills_a_survivor_when_a_test_fails_collection_fails_or_it_hangs(
    monkeypatch: pytest.MonkeyPatch, code: int | None, killed: bool
) -> None:
    module = tool.Module("slipway/diff.py", ("tests/test_diff.py",))
    runs: list[str] = []

    def focused_run(_work: Path, _module: object, mutant: str, timeout: float) -> int | None:
        runs.append(mutant)
        return 0 if mutant == "" else code

    monkeypatch.setattr(tool, "focused_run", focused_run)
    assert tool.recheck(Path("w"), module, ["m.x__mutmut_1"]) == (
        {"m.x__mutmut_1"} if killed else set()
    )
    assert runs == ["", "m.x__mutmut_1"], "the unchanged code runs first, then the mutant"


def test_a_second_look_is_refused_when_the_unchanged_code_fails_in_a_fresh_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = tool.Module("slipway/diff.py", ("tests/test_diff.py",))
    monkeypatch.setattr(tool, "focused_run", lambda *a, **k: 1)
    with pytest.raises(tool.BadInput, match="fresh process on the unchanged code"):
        tool.recheck(Path("w"), module, ["m.x__mutmut_1"])


def test_no_survivors_need_no_second_look(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tool, "focused_run", lambda *a, **k: pytest.fail("nothing may run"))
    assert tool.recheck(Path("w"), tool.Module("m.py", ()), []) == set()


SOURCE = """
import asyncio
import functools
from pydantic import BaseModel, field_validator, model_validator


def plain(x):
    return x + 1


@functools.cache
def cached(a, /, b, *rest, c=1, **more):
    return (a, b, rest, c, more)


@functools.wraps(plain)
async def later(x):
    return x * 2


class Port(BaseModel):
    number: int

    @field_validator("number")
    @classmethod
    def _number(cls, v):
        if v < 1:
            raise ValueError(f"{cls.__name__}: {v} is below 1")
        return v

    @model_validator(mode="after")
    def _even(self):
        if self.number % 2:
            raise ValueError("odd")
        return self

    @property
    def doubled(self):
        return self.number * 2

    class Inner:
        @staticmethod
        def kept(x):
            return x

        @property
        def name(self):
            return "inner"
"""


def test_exposing_decorated_bodies_keeps_what_the_module_does() -> None:
    exposed = tool.expose_decorated(SOURCE)
    before: dict[str, object] = {}
    after: dict[str, object] = {}
    exec(compile(SOURCE, "before", "exec"), before)
    exec(compile(exposed, "after", "exec"), after)
    for ns in (before, after):
        port = ns["Port"]
        assert port(number=4).doubled == 8
        for bad, message in ((0, "Port: 0 is below 1"), (3, "odd")):
            with pytest.raises(ValueError, match=message):
                port(number=bad)
        assert ns["cached"](1, 2, 3, c=4, d=5) == (1, 2, (3,), 4, {"d": 5})
        assert ns["asyncio"].run(ns["later"](4)) == 8
        assert port.Inner().name == "inner" and port.Inner.kept(7) == 7
        assert ns["plain"](1) == 2


def test_exposed_bodies_are_undecorated_functions_and_the_rest_is_untouched() -> None:
    exposed = tool.expose_decorated(SOURCE)
    for body in ("_number__checked", "_even__checked", "doubled__checked", "cached__checked"):
        assert f"    def {body}(" in exposed or f"\ndef {body}(" in exposed
    assert "return Port._number__checked(cls, v)" in exposed
    assert "return cached__checked(a, b, *rest, c=c, **more)" in exposed
    assert "return await later__checked(x)" in exposed
    assert "return Port.Inner.name__checked(self)" in exposed
    assert "def plain(x):\n    return x + 1\n" in exposed
    assert "kept__checked" not in exposed, "a lone @staticmethod is mutated by mutmut as is"


def test_a_filter_that_is_no_regular_expression_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MUTATION_FILTER", "(")
    monkeypatch.setattr(tool, "run_module", lambda *a: pytest.fail("nothing may run"))
    assert tool.main([]) == 2
    assert "MUTATION_FILTER='(': not a regular expression" in capsys.readouterr().err


def test_a_body_is_named_after_its_function_so_edits_elsewhere_keep_mutant_names() -> None:
    """equivalents.toml records mutant names: a field added above a validator must not
    rename it. A property's setter, which shares the getter's name, gets a number."""
    source = (
        "class A:\n"
        "    x: int = 0\n"
        "    @property\n"
        "    def v(self):\n"
        "        return self._v\n"
        "    @v.setter\n"
        "    def v(self, value):\n"
        "        self._v = value * 2\n"
    )
    exposed = tool.expose_decorated(source)
    moved = tool.expose_decorated(source.replace("    x: int = 0\n", "    x: int = 0\n    y = 1\n"))
    assert "def v__checked(self):" in exposed and "def v__checked2(self, value):" in exposed
    assert "def v__checked(self):" in moved and "def v__checked2(self, value):" in moved
    namespace: dict[str, object] = {}
    exec(compile(exposed, "exposed", "exec"), namespace)
    a = namespace["A"]()
    a.v = 4
    assert a.v == 8
