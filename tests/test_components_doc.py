"""docs/components.md is generated from slipway_components and cannot drift from it; each of
its strategy examples runs under the mock engine and registers what its text says."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pulumi
import pytest
from pydantic import BaseModel, ConfigDict, Field

import slipway_components
from slipway.engine import Record
from tests.conftest import load_script, records_of
from tests.strategy_fixtures import changed_paths

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "components.md"
REGENERATE = "python scripts/gen_components_doc.py"
MICROSERVICE = "slipway:apps:Microservice"


gen = load_script("gen_components_doc")


# ---- the document and the code agree


def test_committed_doc_is_the_generators_output():
    assert DOC.read_text() == gen.render(), f"docs/components.md is stale: run `{REGENERATE}`"


def test_header_says_how_to_regenerate():
    head = DOC.read_text()[:600]
    assert "GENERATED" in head
    assert REGENERATE in head


def test_check_fails_on_a_stale_file_and_passes_once_written(tmp_path, monkeypatch, capsys):
    target = tmp_path / "components.md"
    target.write_text("# an old copy\n")
    monkeypatch.setattr(gen, "OUTPUT", target)
    assert gen.main(["--check"]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert gen.main([]) == 0
    assert target.read_text() == gen.render()
    assert gen.main(["--check"]) == 0


def _public(kind: type) -> list[str]:
    return [
        name
        for name in slipway_components.__all__
        if isinstance(obj := getattr(slipway_components, name), type) and issubclass(obj, kind)
    ]


def _section(text: str, name: str) -> str:
    """The part of the doc under the heading `name` (any level), up to the next heading."""
    m = re.search(rf"^#+ {re.escape(name)}\n(.*?)(?=^#|\Z)", text, re.M | re.S)
    assert m, f"no section for {name} in docs/components.md"
    return m.group(1)


def test_every_public_name_has_a_section():
    text = DOC.read_text()
    headings = set(re.findall(r"^#+ (\S+)$", text, re.M))
    assert set(slipway_components.__all__) <= headings, sorted(
        set(slipway_components.__all__) - headings
    )


@pytest.mark.parametrize("name", _public(BaseModel))
def test_every_field_of_every_public_model_has_a_row(name):
    model = getattr(slipway_components, name)
    section = _section(DOC.read_text(), name)
    rows = re.findall(r"^\| `([^`]+)` \|", section, re.M)
    assert rows == list(model.model_fields), f"{name}: rows {rows}"


@pytest.mark.parametrize("name", _public(pulumi.ComponentResource))
def test_every_component_lists_its_declared_outputs_and_args(name):
    cls = getattr(slipway_components, name)
    section = _section(DOC.read_text(), name)
    outputs = [
        attr
        for attr, annotation in cls.__annotations__.items()
        if "Output" in str(annotation) and not attr.startswith("_")
    ]
    for attr in outputs:
        assert re.search(rf"^\| `{attr}` \| `[^`]*Output", section, re.M), f"{name}.{attr}"
    assert f"{name}(name: str, args: {name}Args" in section


def test_extras_follow_the_cloud_a_component_builds():
    lines = {
        name: re.search(r"^Module .*$", _section(DOC.read_text(), name), re.M).group(0)
        for name in _public(pulumi.ComponentResource)
    }
    for name in ("Microservice", "ServiceObservability", "Exposure"):
        assert "needs no extra" in lines[name]
    for name, extra, other in (
        ("EksCluster", "aws", "gcp"),
        ("EcrRepositories", "aws", "gcp"),
        ("GlobalTraffic", "aws", "gcp"),
        ("GkeCluster", "gcp", "aws"),
        ("ArtifactRegistry", "gcp", "aws"),
    ):
        assert f'"slipway-components[{extra}]"' in lines[name]
        assert f"[{other}]" not in lines[name]
    assert "`[aws]`" in lines["SecretStore"] and "`[gcp]`" in lines["SecretStore"]


def test_undocumented_fields_are_marked_and_counted():
    text, gaps = gen.render_with_gaps()
    marked = [
        line for line in text.splitlines() if line.startswith("| `") and gen.UNDOCUMENTED in line
    ]
    assert len(marked) == len(gaps.fields) + len(gaps.outputs)
    assert f"{len(gaps.fields)} of " in _section(text, "Documentation gaps")


def test_every_args_field_and_output_is_documented():
    """Each field's docstring is its one description (the plugin schema takes it too): a new
    field without one shows up here, not as a gap in the reference."""
    _, gaps = gen.render_with_gaps()
    assert (gaps.fields, gaps.outputs) == ([], [])
    gap_line = _section(DOC.read_text(), "Documentation gaps")
    assert "\n0 of " in gap_line and " and 0 outputs have no docstring" in gap_line


# ---- rendering rules, on models made for the purpose


class _Sample(BaseModel):
    """A sample."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    plain: int = Field(3, ge=1, le=9)
    """Documented."""
    wired: pulumi.Input[str]
    maybe: pulumi.Input[int] | None = None
    many: list[pulumi.Input[str]] = Field(default_factory=list)
    only_output: pulumi.Output[str] | None = None


def test_a_field_without_docstring_is_marked_and_one_with_it_is_not():
    gaps = gen.Gaps()
    rows = {
        line.split("`")[1]: line
        for line in gen.model_section(_Sample, gaps)
        if line.startswith("| `")
    }
    assert rows["plain"] == "| `plain` | `int`; ≥ 1, ≤ 9 | `3` | Documented. |"
    assert rows["wired"].endswith(f"| required | {gen.UNDOCUMENTED} |")
    assert gaps.fields == [f"_Sample.{n}" for n in ("wired", "maybe", "many", "only_output")]


def test_inputs_are_named_from_the_annotation_resolved_or_not():
    def shown(field: str) -> str:
        return gen.type_name(gen.resolve(_Sample.model_fields[field].annotation, _Sample))

    assert shown("wired") == "Input[str]"
    assert shown("maybe") == "Input[int] | None"
    assert shown("many") == "list[Input[str]]"
    assert shown("only_output") == "Output[str] | None"
    # already resolved by pydantic, and a forward reference nothing can resolve
    assert gen.type_name(pulumi.Input[str]) == "Input[str]"
    assert gen.type_name(dict[str, pulumi.Input[int]]) == "dict[str, Input[int]]"
    assert gen.type_name("pulumi.Input[Missing] | None") == "Input[Missing] | None"
    # spelled out, with a validator in `Annotated` (how pydantic can read it)
    spelled = Annotated[str | Awaitable[str] | pulumi.Output[str], "check"]
    assert gen.type_name(spelled) == "Input[str]"
    assert gen.type_name(spelled | None) == "Input[str] | None"
    assert gen.type_name(dict[str, spelled]) == "dict[str, Input[str]]"


def test_defaults_read_as_python():
    assert gen.literal(("a", 1, None, True)) == '("a", 1, None, True)'
    step = slipway_components.StepArgs(pause_seconds=60)
    assert gen.literal(step) == "StepArgs(pause=True, pause_seconds=60)"


# ---- the strategy examples run and register what the text says


@dataclass
class Example:
    name: str
    code: str
    claims: list[tuple[str, str, str]]
    """(resource name, kind, object name) from the list under the block."""


EXAMPLE = re.compile(
    r"^<!-- example: (?P<name>[a-z-]+) -->\n```python\n(?P<code>.*?)^```\n"
    r"(?P<after>.*?)(?=^#|^<!-- example:|\Z)",
    re.M | re.S,
)
CLAIM = re.compile(r"^- `(?P<resource>[^`]+)`: (?P<kind>\w+) `(?P<object>[^`]+)`$", re.M)


def _examples() -> dict[str, Example]:
    return {
        m["name"]: Example(m["name"], m["code"], CLAIM.findall(m["after"]))
        for m in EXAMPLE.finditer(DOC.read_text())
    }


REQUIRED = {
    "rolling": {
        ("orders-deployment", "Deployment", "orders"),
        ("orders-service", "Service", "orders"),
    },
    "blue-green": {
        ("orders-blue", "Deployment", "orders-blue"),
        ("orders-green", "Deployment", "orders-green"),
        ("orders-service", "Service", "orders"),
        ("orders-preview", "Service", "orders-preview"),
    },
    "canary-istio": {
        ("orders-stable", "Deployment", "orders-stable"),
        ("orders-canary", "Deployment", "orders-canary"),
        ("orders-vs", "VirtualService", "orders"),
        ("orders-destrule", "DestinationRule", "orders"),
    },
    "canary-gateway-api": {
        ("orders-stable", "Deployment", "orders-stable"),
        ("orders-canary", "Deployment", "orders-canary"),
        ("orders-service-stable", "Service", "orders-stable"),
        ("orders-service-canary", "Service", "orders-canary"),
        ("orders-route", "HTTPRoute", "orders-mesh"),
    },
    "argo-rollouts": {
        ("orders-rollout", "Rollout", "orders"),
        ("orders-analysis", "AnalysisTemplate", "orders-analysis"),
    },
}
"""What each example must at least claim, so the doc cannot quietly drop a claim."""


def _run(code: str, name: str) -> dict[str, Record]:
    def program() -> None:
        exec(compile(code, f"docs/components.md example {name}", "exec"), {"__name__": "__main__"})

    return records_of(program)


@pytest.fixture(scope="module")
def examples() -> dict[str, Example]:
    return _examples()


def test_one_example_per_strategy(examples):
    assert set(examples) == set(REQUIRED)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_example_registers_what_its_text_says(examples, name):
    example = examples[name]
    assert REQUIRED[name] <= set(example.claims), f"{name}: the text lost a claim"
    records = _run(example.code, name)
    [component] = [r for r in records.values() if r.type == MICROSERVICE]
    for resource, kind, obj in [
        *example.claims,
        ("orders-sa", "ServiceAccount", "orders"),
        ("orders-netpol", "NetworkPolicy", "orders"),
    ]:
        assert resource in records, f"{name}: {resource} not registered"
        record = records[resource]
        assert record.inputs.get("kind") == kind, f"{name}: {resource} is {record.type}"
        assert record.inputs["metadata"]["name"] == obj, f"{name}: {resource}"
        assert record.parent == component.urn, f"{name}: {resource} is not a child of orders"


def _by_name(records: dict[str, Record], name: str) -> dict[str, Any]:
    return records[name].inputs


def _container(inputs: dict[str, Any]) -> dict[str, Any]:
    return inputs["spec"]["template"]["spec"]["containers"][0]


def test_rolling_example_tunes_the_update(examples):
    records = _run(examples["rolling"].code, "rolling")
    spec = _by_name(records, "orders-deployment")["spec"]
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert spec["minReadySeconds"] == 15
    assert _by_name(records, "orders-hpa")["spec"]["maxReplicas"] == 8
    assert not [r for r in records.values() if r.inputs.get("kind") == "Rollout"]


def test_blue_green_example_runs_two_versions_and_promotes_by_selectors(examples):
    code = examples["blue-green"].code
    records = _run(code, "blue-green")
    assert _container(_by_name(records, "orders-blue"))["image"].endswith(":1.4.2")
    assert _container(_by_name(records, "orders-green"))["image"].endswith(":1.5.0")
    assert _by_name(records, "orders-service")["spec"]["selector"]["slot"] == "blue"
    assert _by_name(records, "orders-preview")["spec"]["selector"]["slot"] == "green"
    assert 'active_slot="blue"' in code
    promoted = _run(code.replace('active_slot="blue"', 'active_slot="green"'), "promoted")
    assert changed_paths(records, promoted) == {
        "orders-preview": ["spec.selector.slot"],
        "orders-service": ["spec.selector.slot"],
    }


def _route_weights(route: list[dict[str, Any]]) -> dict[str, int]:
    return {entry["destination"]["subset"]: entry["weight"] for entry in route}


def test_istio_canary_example_splits_by_weight_and_steps_in_the_route_only(examples):
    code = examples["canary-istio"].code
    records = _run(code, "canary-istio")
    route = _by_name(records, "orders-vs")["spec"]["http"][0]["route"]
    assert _route_weights(route) == {"stable": 90, "canary": 10}
    assert _container(_by_name(records, "orders-canary"))["image"].endswith(":1.5.0")
    assert "weight=10," in code
    stepped = _run(code.replace("weight=10,", "weight=25,"), "stepped")
    assert changed_paths(records, stepped) == {
        "orders-vs": ["spec.http[0].route[0].weight", "spec.http[0].route[1].weight"]
    }


def test_gateway_api_canary_example_splits_between_the_track_services(examples):
    records = _run(examples["canary-gateway-api"].code, "canary-gateway-api")
    spec = _by_name(records, "orders-route")["spec"]
    assert spec["parentRefs"][0]["name"] == "orders"
    weights = {b["name"]: b["weight"] for b in spec["rules"][0]["backendRefs"]}
    assert weights == {"orders-stable": 90, "orders-canary": 10}
    assert not [r for r in records.values() if r.inputs.get("kind") == "VirtualService"]


def test_argo_rollouts_example_steps_and_analyses_without_a_deployment(examples):
    records = _run(examples["argo-rollouts"].code, "argo-rollouts")
    assert not [r for r in records.values() if r.inputs.get("kind") == "Deployment"]
    canary = _by_name(records, "orders-rollout")["spec"]["strategy"]["canary"]
    assert canary["steps"] == [
        {"setWeight": 20},
        {"pause": {"duration": "300s"}},
        {"setWeight": 50},
        {"pause": {"duration": "600s"}},
    ]
    assert canary["analysis"]["templates"] == [{"templateName": "orders-analysis"}]
    metrics = _by_name(records, "orders-analysis")["spec"]["metrics"]
    conditions = {m["name"]: m["successCondition"] for m in metrics}
    assert conditions == {
        "success-rate": "len(result) > 0 && all(result, {!isNaN(#) && # >= 0.995})",
        "latency-p99": "len(result) > 0 && all(result, {!isNaN(#) && # <= 0.3})",
    }
