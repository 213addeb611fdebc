"""One model per concept: a catalog setting the components also take is the component's
model or field, never a copy that can drift (in bounds, defaults or docstrings)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from slipway.errors import BadInput
from slipway_components import (
    AnalysisArgs,
    AutoscalingArgs,
    ContainerPort,
    FaultArgs,
    HttpProbe,
    OutlierArgs,
    ResourceArgs,
    RetryArgs,
    RollingArgs,
    SloArgs,
    StepArgs,
    StrategyArgs,
    TrafficArgs,
)
from slipway_components.strategies import (
    HeaderRouteArgs,
    MirrorRouteArgs,
    NotificationsArgs,
    PreRolloutArgs,
)
from stacks import catalog
from stacks.build import microservice_args
from stacks.config import StackConfig, TargetConfig
from tests.conftest import load_script

IS_COMPONENT: dict[type[BaseModel], type[BaseModel]] = {
    catalog.Port: ContainerPort,
    catalog.Probe: HttpProbe,
    catalog.Autoscaling: AutoscalingArgs,
    catalog.OutlierDetection: OutlierArgs,
    catalog.Fault: FaultArgs,
    catalog.HeaderRoute: HeaderRouteArgs,
    catalog.MirrorRoute: MirrorRouteArgs,
    catalog.PreRollout: PreRolloutArgs,
    catalog.Notifications: NotificationsArgs,
    catalog.Retries: RetryArgs,
}
"""Catalog blocks of the component's shape: the component model itself, in camelCase."""

SHARES: dict[type[BaseModel], tuple[type[BaseModel], ...]] = {
    catalog.Strategy: (StrategyArgs, RollingArgs),
    catalog.Analysis: (AnalysisArgs,),
    catalog.Mesh: (TrafficArgs,),
    catalog.Step: (StepArgs,),
}
"""Catalog blocks of their own shape: every setting a component also has is its field."""

RENAMED = {
    (catalog.Analysis, "success_rate"): "success_rate_min",
    (catalog.Analysis, "latency_p99_seconds"): "latency_p99_max_seconds",
}
"""Component fields the file knows under a shorter name."""

OWN_SHAPE = {
    (catalog.Strategy, "steps"): "`pause: {duration: 5m}` steps, not the component's tuple",
    (catalog.Strategy, "analysis"): "the catalog's Analysis (shorter names)",
    (catalog.Mesh, "retries"): "the catalog's Retries (camelCase)",
    (catalog.Mesh, "outlier_detection"): "the catalog's OutlierDetection (camelCase)",
    (catalog.Mesh, "fault"): "the catalog's Fault (camelCase)",
    (catalog.Step, "pause"): "a duration in the file, a flag and seconds in the component",
}
"""Fields named like a component's whose value has the catalog's own shape, and why."""

CATALOG_ONLY = {
    catalog.Service: "one catalog entry becomes one MicroserviceArgs per target",
    catalog.Version: "tag and digest; the component takes one image reference",
    catalog.Probes: "groups the probes the component takes one by one",
    catalog.Resources: "requests and limits nested; the component takes them flat",
    catalog.ResourceQuantities: "one side of Resources",
    catalog.SecretRef: "where a secret comes from; the component takes values or a Secret",
    catalog.Track: "a version; the component takes an image per target",
    catalog.Pause: "a duration as the file writes it",
    SloArgs: "the component's own model, camelCase already",
}
"""Catalog models with no component twin, and why."""


gen = load_script("gen_reference")


def _same_field(catalog_info: FieldInfo, component_info: FieldInfo) -> list[str]:
    """What differs between a catalog field and the component field it is: its default and
    its bounds, which the catalog neither drops nor tightens (a bound the file needs is the
    component's too)."""
    problems = []
    ours = catalog_info.get_default(call_default_factory=True)
    theirs = component_info.get_default(call_default_factory=True)
    if ours != theirs:
        problems.append(f"default {ours!r} is not the component's {theirs!r}")
    missing = [m for m in component_info.metadata if m not in catalog_info.metadata]
    if missing:
        problems.append(f"drops the component's bounds {missing}")
    added = [m for m in catalog_info.metadata if m not in component_info.metadata]
    if added:
        problems.append(f"adds bounds {added} of its own; put them on the component")
    return problems


def _own_checks(cls: type[BaseModel], shared: set[str]) -> list[str]:
    """Field validators the catalog model itself declares on settings it shares with a
    component: such a check belongs to the component."""
    problems = []
    for name, decorator in cls.__pydantic_decorators__.field_validators.items():
        if decorator.cls_var_name not in vars(cls):
            continue  # inherited from the component
        fields = sorted(set(decorator.info.fields) & shared)
        if fields:
            problems.append(f"{cls.__name__}.{name} checks {fields}; move it to the component")
    return problems


def _check_borrowed(
    cls: type[BaseModel], name: str, component: type[BaseModel], source_name: str
) -> list[str]:
    """A field the catalog model declares must be `field_of(component, source_name)`, carry
    the component's default and bounds, and have its docstring in one place only."""
    where = f"{cls.__name__}.{name}"
    if gen.borrowed_fields(cls).get(name) != (component, source_name):
        return [f"{where} is declared anew; write `field_of({component.__name__}, ...)`"]
    problems = [
        f"{where}: {p}"
        for p in _same_field(cls.model_fields[name], component.model_fields[source_name])
    ]
    own_doc = gen.attribute_docstrings(cls).get(name)
    if own_doc and gen.field_docs(component).get(source_name):
        problems.append(f"{where} repeats a docstring the component has")
    return problems


def test_every_catalog_model_is_classified() -> None:
    """A new catalog model is either a component's, shares its fields, or says why not."""
    walked = set(gen.walk(catalog.Service))
    known = {*IS_COMPONENT, *SHARES, *CATALOG_ONLY}
    assert walked - known == set(), "classify these in tests/test_one_model.py"
    assert known - walked == set()


@pytest.mark.parametrize("cls", IS_COMPONENT, ids=lambda c: c.__name__)
def test_catalog_blocks_are_the_component_models(cls: type[BaseModel]) -> None:
    component = IS_COMPONENT[cls]
    assert issubclass(cls, component)
    assert issubclass(cls, catalog.Spec), "camelCase keys and the catalog's config"
    assert set(cls.model_fields) == set(component.model_fields), "no field of its own"
    problems = _own_checks(cls, set(component.model_fields))
    for name in vars(cls).get("__annotations__", {}):
        problems += _check_borrowed(cls, name, component, name)
    assert not problems, problems


@pytest.mark.parametrize("cls", SHARES, ids=lambda c: c.__name__)
def test_shared_settings_are_the_components_fields(cls: type[BaseModel]) -> None:
    problems = []
    shared = set()
    for name in cls.model_fields:
        if (cls, name) in OWN_SHAPE:
            continue
        source_name = RENAMED.get((cls, name), name)
        owners = [c for c in SHARES[cls] if source_name in c.model_fields]
        if owners:
            shared.add(name)
            problems += _check_borrowed(cls, name, owners[0], source_name)
    problems += _own_checks(cls, shared)
    assert not problems, problems


def test_resource_defaults_are_the_components() -> None:
    ours = catalog.Resources()
    theirs = ResourceArgs()
    assert (ours.requests.cpu, ours.requests.memory) == (theirs.cpu_request, theirs.memory_request)
    assert (ours.limits.cpu, ours.limits.memory) == (theirs.cpu_limit, theirs.memory_limit)


DOC: dict[str, Any] = {
    "name": "shop",
    "team": "retail",
    "image": "ghcr.io/acme/shop",
    "version": {"tag": "1.0.0"},
    "ports": [{"name": "http", "port": 8080}],
    "probes": {
        "liveness": {"path": "/healthz"},
        "readiness": {"path": "/ready", "periodSeconds": 5},
        "startup": {"path": "/healthz", "failureThreshold": 30},
    },
    "autoscaling": {"minReplicas": 3, "maxReplicas": 9},
    "strategy": {
        "maxSurge": 1,
        "mesh": {"outlierDetection": {"maxEjectionPercent": 30}, "fault": {"abortPercent": 5}},
    },
}
TARGET = TargetConfig(name="local", cloud="existing", region="local", kubeconfig_context="kind")


def test_the_catalog_validates_into_component_models_that_build_passes_through() -> None:
    svc = catalog.parse_service(DOC, "dev", "shop.yaml")
    stack = StackConfig(environment="dev", targets=[TARGET], traffic={"layer": "istio"})
    args = microservice_args(svc, stack, TARGET, {svc.name: svc}, lambda key: key)
    mesh = svc.strategy.mesh
    assert isinstance(svc.autoscaling, AutoscalingArgs)
    assert isinstance(mesh.fault, FaultArgs)
    assert isinstance(mesh.outlier_detection, OutlierArgs)
    assert args.autoscaling is svc.autoscaling
    assert args.ports == svc.ports and all(isinstance(p, ContainerPort) for p in args.ports)
    assert (args.liveness, args.readiness, args.startup) == (
        svc.probes.liveness,
        svc.probes.readiness,
        svc.probes.startup,
    )
    assert isinstance(args.readiness, HttpProbe) and args.readiness.period_seconds == 5
    assert args.traffic.fault is mesh.fault
    assert args.traffic.outlier_detection is mesh.outlier_detection
    assert args.rolling.max_surge == 1


def test_a_components_rule_speaks_the_files_names() -> None:
    """The component's own rule judges the catalog block, in camelCase."""
    bad = {**DOC, "autoscaling": {"minReplicas": 5, "maxReplicas": 2}}
    with pytest.raises(BadInput, match="autoscaling: minReplicas 5 exceeds maxReplicas 2"):
        catalog.parse_service(bad, "dev", "shop.yaml")


def test_the_files_bounds_are_the_components() -> None:
    """The bounds and checks a file is held to come from the component, messages as before."""
    ready = {"path": "/ready"}
    for block, doc, message in [
        ("autoscaling", {"maxReplicas": 1001}, "autoscaling.maxReplicas: must be less than"),
        (
            "probes",
            {"liveness": {"path": "/x", "timeoutSeconds": 601}, "readiness": ready},
            "probes.liveness.timeoutSeconds: must be less than or equal to 600",
        ),
        (
            "probes",
            {"liveness": {"path": "healthz"}, "readiness": ready},
            "probes.liveness.path: must match pattern",
        ),
        ("strategy", {"progressDeadlineSeconds": 7201}, "strategy.progressDeadlineSeconds"),
        ("ports", [{"name": "HTTP", "port": 8080}], "ports[0].name: 'HTTP' is not a DNS-1123"),
        ("ports", [{"name": "http", "port": 80}], "ports[0].port: port 80 is privileged"),
        ("strategy", {"maxSurge": "30"}, "strategy.maxSurge: '30' is neither a count nor"),
        ("strategy", {"maxUnavailable": -1}, "strategy.maxUnavailable: -1 must be ≥ 0"),
    ]:
        with pytest.raises(BadInput, match=re.escape(message)):
            catalog.parse_service({**DOC, block: doc}, "dev", "shop.yaml")


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        (AutoscalingArgs, {"min_replicas": 1001, "max_replicas": 1001}, "less than or equal"),
        (HttpProbe, {"path": "healthz"}, "should match pattern"),
        (HttpProbe, {"path": "/x", "failure_threshold": 1001}, "less than or equal to 1000"),
        (ContainerPort, {"name": "metrics-exporter-x", "port": 9090}, "at most 15 characters"),
        (ContainerPort, {"port": 443}, "port 443 is privileged"),
        (RollingArgs, {"max_unavailable": "5 pods"}, "neither a count nor a percentage"),
        (RollingArgs, {"min_ready_seconds": 3601}, "less than or equal to 3600"),
    ],
)
def test_the_components_hold_the_bounds_themselves(
    model: type[BaseModel], kwargs: dict[str, Any], message: str
) -> None:
    """A program building the component's args meets the same bounds a catalog file does."""
    with pytest.raises(ValidationError, match=re.escape(message)):
        model(**kwargs)
