"""docs/reference.md is generated from the models and cannot drift from them."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

import slipway_components.slo
import stacks.catalog
import stacks.config
from tests.conftest import load_script

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "docs" / "reference.md"
SCRIPT = REPO / "scripts" / "gen_reference.py"
MODEL_MODULES = (stacks.catalog, stacks.config)
BASES = (stacks.catalog.Spec, stacks.config.Model, slipway_components.slo.CamelArgs)


gen = load_script("gen_reference")


def _models() -> list[type[BaseModel]]:
    """Every model class the catalog and the stack file are made of, found by module (not by
    the generator's walk), plus the catalog's `slo:` model, which lives in components."""
    found: list[type[BaseModel]] = [slipway_components.slo.SloArgs]
    for module in MODEL_MODULES:
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseModel)
                and obj.__module__ == module.__name__
                and obj not in BASES
            ):
                found.append(obj)
    return found


def _section(text: str, model: str) -> str:
    """The part of the reference under `### <model>`, up to the next heading."""
    m = re.search(rf"^### {re.escape(model)}\n(.*?)(?=^##)", text + "\n## end", re.M | re.S)
    assert m, f"no section for {model} in docs/reference.md"
    return m.group(1)


def test_committed_reference_is_the_generators_output():
    assert REFERENCE.read_text() == gen.render(), (
        "docs/reference.md is stale: run `python scripts/gen_reference.py > docs/reference.md`"
    )


def test_script_prints_the_reference():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert proc.stdout == gen.render()


def test_header_says_how_to_regenerate():
    head = REFERENCE.read_text()[:600]
    assert "python scripts/gen_reference.py > docs/reference.md" in head
    assert "GENERATED" in head


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_field_of_every_model_appears(model):
    section = _section(REFERENCE.read_text(), model.__name__)
    rows = {m.group(1) for m in re.finditer(r"^\| `(?:slipway:)?([^`]+)` \|", section, re.M)}
    wanted = {info.alias or name for name, info in model.model_fields.items()}
    assert wanted <= rows, f"{model.__name__}: missing {sorted(wanted - rows)}"


def test_models_found_by_module_are_the_models_the_generator_walks():
    walked = {*gen.walk(stacks.catalog.Service), *gen.walk(stacks.config.StackConfig)}
    assert set(_models()) == walked


def test_rows_carry_type_default_and_docstring():
    text = REFERENCE.read_text()
    port = _section(text, "Port")
    assert re.search(r"^\| `port` \| `int`; ≥ 1024, ≤ 65535 \| yes \|  \| 1024–65535: ", port, re.M)
    assert re.search(r'^\| `protocol` \| `"TCP" \\\| "UDP"` \| no \| `"TCP"` \|', port, re.M)
    stack = _section(text, "StackConfig")
    assert re.search(r"^\| `slipway:targets` \| .* \| yes \|", stack, re.M)
    assert "Data residency: regions targets may use" in stack
    # a field validator's docstring is part of its field's description
    assert "so a path outside the project (absolute, `..`) is refused" in stack


class _Sample:
    plain: int = 1
    """First line.

        Indented second line."""
    undocumented: str = "x"
    after: bool = True
    """About after."""


def test_attribute_docstrings_are_read_from_the_source():
    assert gen.attribute_docstrings(_Sample) == {
        "plain": "First line.\n\nIndented second line.",
        "after": "About after.",
    }


def test_type_names_read_like_the_yaml():
    assert gen.type_name(stacks.catalog.Port.model_fields["protocol"].annotation) == (
        '"TCP" | "UDP"'
    )
    assert gen.type_name(stacks.catalog.Service.model_fields["autoscaling"].annotation) == (
        "Autoscaling | null"
    )
    assert gen.type_name(stacks.catalog.Service.model_fields["flags"].annotation) == (
        "map[str, bool]"
    )
