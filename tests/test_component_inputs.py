"""Microservice as a Pulumi library: args wired from other resources' outputs (known, and
unknown as in a first preview) and checked when they resolve; args given as dicts; mistakes
in slot images and probes found when the args are built, with the field path.

The "cloud" here is the recording mock runtime in preview mode: a resource output the mocks
return is known; one they leave out is unknown, exactly as in a first `pulumi preview`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.output import Unknown
from pydantic import ValidationError

from slipway import mock_outputs
from slipway.engine import Record
from slipway_components import (
    ContainerPort,
    HttpProbe,
    Microservice,
    MicroserviceArgs,
    Peer,
    StrategyArgs,
    TrackArgs,
    TrafficArgs,
)
from slipway_components.podspec import content_hash, hashed_name
from tests.conftest import records_of
from tests.strategy_fixtures import by_kind

REPO_TYPE = "test:registry:Repository"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop"
NAMESPACE = "retail-4f2a9c1e"
"""The name the provider gives the auto-named Namespace."""
TAG = "1.4.2"
COMPONENT = "urn:pulumi:test::slipway::slipway:apps:Microservice::shop"


class Repository(pulumi.CustomResource):
    """A container repository whose URL only the cloud knows (as ECR's `repositoryUrl`)."""

    repositoryUrl: pulumi.Output[str]

    def __init__(self, name: str) -> None:
        super().__init__(REPO_TYPE, name, {"repositoryUrl": None})


def _cloud(monkeypatch: pytest.MonkeyPatch, namespace: str = NAMESPACE) -> None:
    """Make the repository URL and the Namespace's generated name known (a later `up`)."""
    monkeypatch.setitem(
        mock_outputs.SYNTHESIZERS, REPO_TYPE, lambda n, i: {"repositoryUrl": REGISTRY}
    )
    monkeypatch.setitem(
        mock_outputs.SYNTHESIZERS,
        NAMESPACE_TYPE,
        lambda n, i: {"metadata": {**i.get("metadata", {}), "name": namespace}},
    )


@pytest.fixture
def known(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs known, as in an `up` after the repository and the Namespace exist."""
    _cloud(monkeypatch)


@pytest.fixture
def failing_run() -> Iterator[None]:
    """A failed program leaves futures holding its error, referenced by the runtime until the
    next run starts. An empty run releases them and they are collected here, with asyncio's
    "exception was never retrieved" log muted, instead of flooding later tests' output."""
    logger = logging.getLogger("asyncio")
    logger.disabled = True
    try:
        yield
        records_of(lambda: None)
        gc.collect()
    finally:
        logger.disabled = False


def _is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown) or value == "[unknown]"


def _base(
    image: pulumi.Input[str], namespace: pulumi.Input[str], **overrides: Any
) -> MicroserviceArgs:
    fields: dict[str, Any] = {
        "service_name": "shop",
        "namespace": namespace,
        "team": "retail",
        "image": image,
        "ports": [ContainerPort(name="http", port=8080)],
        "liveness": HttpProbe(path="/healthz"),
        "readiness": HttpProbe(path="/ready"),
        "config": {"LOG_LEVEL": "info"},
    }
    fields.update(overrides)
    return MicroserviceArgs(**fields)


def _wired(tag: str = TAG, slot_tag: str = "2.0.0", **overrides: Any) -> Callable[[], Microservice]:
    """A program: a repository and an auto-named Namespace, and a Microservice whose image,
    namespace and caller come from their outputs. An override given as a callable is called
    with a slot or track image wired the same way (`slot_tag`)."""

    def program() -> Microservice:
        repo = Repository("shop-repo")
        ns = k8s.core.v1.Namespace("retail")
        image = repo.repositoryUrl.apply(lambda url: f"{url}:{tag}")
        slot_image = repo.repositoryUrl.apply(lambda url: f"{url}:{slot_tag}")
        namespace = ns.metadata.apply(lambda m: m.name)
        resolved = {
            key: value(slot_image) if callable(value) else value for key, value in overrides.items()
        }
        resolved.setdefault("allow_from", [Peer(name="web", namespace=namespace)])
        return Microservice("shop", _base(image, namespace, **resolved))

    return program


# -- outputs of other resources reach the objects ------------------------------------------


def test_image_and_namespace_from_other_resources_reach_every_object(known: None) -> None:
    records = records_of(_wired())
    (deployment,) = by_kind(records, "Deployment").values()
    pod = deployment.inputs["spec"]["template"]
    assert pod["spec"]["containers"][0]["image"] == f"{REGISTRY}:{TAG}"
    assert pod["metadata"]["labels"]["app.kubernetes.io/version"] == TAG
    children = [r for r in records.values() if r.parent == COMPONENT]
    roles = ("sa", "config", "deployment", "service", "pdb", "netpol")
    assert sorted(r.name for r in children) == sorted(f"shop-{role}" for role in roles)
    for r in children:
        assert r.inputs["metadata"]["namespace"] == NAMESPACE, r.urn


def test_values_derived_from_outputs_follow_them(known: None) -> None:
    program = _wired(
        traffic=TrafficArgs(layer="istio"),
        config={"LOG_LEVEL": "info"},
        allow_from_namespaces=["monitoring"],
    )
    records = records_of(program)
    host = f"shop.{NAMESPACE}.svc.cluster.local"
    assert by_kind(records, "DestinationRule")["shop"].inputs["spec"]["host"] == host
    assert by_kind(records, "VirtualService")["shop"].inputs["spec"]["hosts"] == [host]
    ingress = by_kind(records, "NetworkPolicy")["shop"].inputs["spec"]["ingress"]
    callers = [rule["from"][0]["namespaceSelector"]["matchLabels"] for rule in ingress]
    assert callers == [
        {"kubernetes.io/metadata.name": NAMESPACE},
        {"kubernetes.io/metadata.name": "monitoring"},
    ]


def test_a_config_value_from_an_output_hashes_like_the_plain_value(known: None) -> None:
    def program() -> None:
        repo = Repository("shop-repo")
        Microservice(
            "shop", _base(f"{REGISTRY}:{TAG}", "retail", config={"REPO": repo.repositoryUrl})
        )

    maps = by_kind(records_of(program), "ConfigMap")
    assert list(maps) == [f"shop-config-{content_hash({'REPO': REGISTRY})}"]
    assert next(iter(maps.values())).inputs["data"] == {"REPO": REGISTRY}


def test_peers_from_outputs_follow_the_sorted_plain_ones(known: None) -> None:
    def program() -> None:
        ns = k8s.core.v1.Namespace("retail")
        wired = ns.metadata.apply(lambda m: m.name)
        peers = [
            Peer(name="b", namespace="zeta"),
            Peer(name="c", namespace=wired),
            Peer(name="a", namespace="alpha"),
        ]
        Microservice("shop", _base(f"{REGISTRY}:{TAG}", "retail", allow_from=peers, calls=peers))

    spec = by_kind(records_of(program), "NetworkPolicy")["shop"].inputs["spec"]
    ingress = [r["from"][0]["namespaceSelector"]["matchLabels"] for r in spec["ingress"]]
    egress = [r["to"][0]["namespaceSelector"]["matchLabels"] for r in spec["egress"][1:]]
    expected = [{"kubernetes.io/metadata.name": n} for n in ("alpha", "zeta", NAMESPACE)]
    assert ingress == expected
    assert egress == expected


def test_derived_names_stay_plain_for_plain_values() -> None:
    name = hashed_name("shop-config", {"LOG_LEVEL": "info"})
    assert name == f"shop-config-{content_hash({'LOG_LEVEL': 'info'})}"


# -- unknown outputs (a first preview) register every child, same URNs --------------------

STRATEGIES: dict[str, dict[str, Any]] = {
    "rolling": {},
    "blue-green": {
        "strategy": lambda img: StrategyArgs(type="blue-green", green=TrackArgs(image=img)),
    },
    "canary-istio": {
        "strategy": lambda img: StrategyArgs(type="canary", canary=TrackArgs(image=img), weight=10),
        "traffic": TrafficArgs(layer="istio"),
    },
    "canary-gateway-api": {
        "strategy": lambda img: StrategyArgs(type="canary", canary=TrackArgs(image=img), weight=10),
        "traffic": TrafficArgs(layer="gateway-api"),
    },
    "argo-blue-green": {"strategy": StrategyArgs(type="blue-green", engine="argo-rollouts")},
    "argo-canary-istio": {
        "strategy": StrategyArgs(type="canary", engine="argo-rollouts"),
        "traffic": TrafficArgs(layer="istio"),
    },
    "argo-canary-gateway-api": {
        "strategy": StrategyArgs(type="canary", engine="argo-rollouts"),
        "traffic": TrafficArgs(layer="gateway-api"),
    },
}


def _workloads(records: dict[str, Record]) -> list[Record]:
    return [r for r in records.values() if r.inputs.get("kind") in ("Deployment", "Rollout")]


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_unknown_outputs_register_every_child_with_the_same_urns(
    strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = _wired(autoscaling={"min_replicas": 2}, **STRATEGIES[strategy])
    unknown = records_of(program)
    _cloud(monkeypatch)
    known = records_of(program)

    assert sorted(r.urn for r in unknown.values()) == sorted(r.urn for r in known.values())
    assert {r.urn: r.parent for r in unknown.values()} == {r.urn: r.parent for r in known.values()}
    workloads = _workloads(unknown)
    assert workloads, strategy
    for r in workloads:
        assert _is_unknown(r.inputs["metadata"]["namespace"]), r.urn
        assert _is_unknown(r.inputs["spec"]["template"]["spec"]["containers"][0]["image"]), r.urn
    for r in _workloads(known):
        assert r.inputs["spec"]["template"]["spec"]["containers"][0]["image"].startswith(REGISTRY)


def test_unknown_image_keeps_every_other_pod_label_known() -> None:
    (deployment,) = _workloads(records_of(_wired()))
    labels = deployment.inputs["spec"]["template"]["metadata"]["labels"]
    assert _is_unknown(labels.pop("app.kubernetes.io/version"))
    assert labels == {
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/name": "shop",
        "app.kubernetes.io/part-of": "slipway",
        "cost-center": "shared",
        "team": "retail",
    }


# -- an Output that resolves to a refused value fails, naming the field --------------------


def test_an_output_image_resolving_to_latest_fails_naming_the_field(
    known: None, failing_run: None
) -> None:
    with pytest.raises(ValueError, match=r"MicroserviceArgs\.image: image '.*:latest' must carry"):
        records_of(_wired(tag="latest"))


def test_an_output_namespace_resolving_to_default_fails_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, failing_run: None
) -> None:
    _cloud(monkeypatch, namespace="default")
    with pytest.raises(ValueError, match=r"MicroserviceArgs\.namespace: namespace 'default' is"):
        records_of(_wired())


def test_an_output_slot_image_resolving_to_latest_fails_naming_the_field(
    known: None, failing_run: None
) -> None:
    program = _wired(slot_tag="latest", **STRATEGIES["blue-green"])
    with pytest.raises(ValueError, match=r"TrackArgs\.image: image '.*:latest' must carry"):
        records_of(program)


def test_an_output_resolving_to_a_non_string_fails_naming_the_field(
    known: None, failing_run: None
) -> None:
    def program() -> None:
        repo = Repository("shop-repo")
        team = repo.repositoryUrl.apply(lambda url: len(url))
        Microservice("shop", _base(f"{REGISTRY}:{TAG}", "retail", team=team))

    with pytest.raises(ValueError, match=r"MicroserviceArgs\.team: must resolve to a string"):
        records_of(program)


# -- args as dicts ----------------------------------------------------------------------------

DICT_ARGS: dict[str, Any] = {
    "service_name": "shop",
    "namespace": "retail",
    "team": "retail",
    "image": f"{REGISTRY}:{TAG}",
    "ports": [{"name": "http", "port": 8080}],
    "liveness": {"path": "/healthz"},
    "readiness": {"path": "/ready", "period_seconds": 5},
    "autoscaling": {"min_replicas": 2, "max_replicas": 4},
    "allow_from": [{"name": "web", "namespace": "web"}],
    "strategy": {"type": "blue-green", "green": {"image": f"{REGISTRY}:2.0.0"}},
    "traffic": {"layer": "istio", "retries": {"attempts": 1}},
}


def test_dict_args_build_the_same_objects_as_the_model() -> None:
    from_dict = records_of(lambda: Microservice("shop", DICT_ARGS))
    from_model = records_of(
        lambda: Microservice("shop", MicroserviceArgs.model_validate(DICT_ARGS))
    )
    assert {n: r.inputs for n, r in from_dict.items()} == {
        n: r.inputs for n, r in from_model.items()
    }
    assert sorted(by_kind(from_dict, "Deployment")) == ["shop-blue", "shop-green"]
    vs = by_kind(from_dict, "VirtualService")["shop"].inputs["spec"]["http"][0]
    assert vs["retries"]["attempts"] == 1


@pytest.mark.parametrize("wrong", [42, "shop", [("service_name", "shop")], TrafficArgs()])
def test_args_of_another_type_are_refused_naming_microservice_args(wrong: Any) -> None:
    with pytest.raises(TypeError, match=r"must be a MicroserviceArgs or a dict") as exc:
        Microservice("shop", wrong)
    assert type(wrong).__name__ in str(exc.value)


def test_a_bad_dict_is_refused_with_the_field_path() -> None:
    bad = {**DICT_ARGS, "readiness": {"path": "/ready", "period_seconds": 0}}
    with pytest.raises(ValidationError) as exc:
        Microservice("shop", bad)
    assert exc.value.errors()[0]["loc"] == ("readiness", "period_seconds")


# -- mistakes found when the args are built, with the field path ----------------------------


@pytest.mark.parametrize("image", [f"{REGISTRY}:latest", REGISTRY])
def test_a_latest_or_untagged_slot_image_fails_when_the_track_is_built(image: str) -> None:
    with pytest.raises(ValidationError, match="must carry a tag other than latest") as exc:
        TrackArgs(image=image)
    assert exc.value.title == "TrackArgs"
    assert exc.value.errors()[0]["loc"] == ("image",)


@pytest.mark.parametrize(
    ("strategy", "loc"),
    [
        (
            {"type": "blue-green", "blue": {"image": f"{REGISTRY}:latest"}},
            ("strategy", "blue", "image"),
        ),
        ({"type": "canary", "canary": {"image": REGISTRY}}, ("strategy", "canary", "image")),
    ],
)
def test_a_latest_slot_image_in_the_args_names_its_field_path(
    strategy: dict[str, Any], loc: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as exc:
        MicroserviceArgs.model_validate({**DICT_ARGS, "strategy": strategy})
    (error,) = exc.value.errors()
    assert error["loc"] == loc
    assert "must carry a tag other than latest" in error["msg"]
    assert "PodTemplateArgs" not in str(exc.value)


def test_a_probe_on_a_missing_port_fails_when_the_args_are_built() -> None:
    with pytest.raises(ValidationError) as exc:
        MicroserviceArgs.model_validate({**DICT_ARGS, "liveness": {"path": "/h", "port": "admin"}})
    (error,) = exc.value.errors()
    assert error["loc"] == ("liveness",)
    assert "liveness.port: probe port 'admin' is not a container port" in error["msg"]


def test_track_config_clashing_with_a_secret_names_the_track() -> None:
    strategy = {"type": "blue-green", "green": {"config": {"DB_PASSWORD": "x"}}}
    with pytest.raises(ValidationError) as exc:
        MicroserviceArgs.model_validate(
            {**DICT_ARGS, "secrets": {"DB_PASSWORD": "s"}, "strategy": strategy}
        )
    (error,) = exc.value.errors()
    assert error["loc"] == ("strategy",)
    assert "strategy.green.config ['DB_PASSWORD'] are also secrets" in error["msg"]


def test_a_canary_without_a_traffic_layer_names_the_traffic_field() -> None:
    args = {k: v for k, v in DICT_ARGS.items() if k != "traffic"}
    with pytest.raises(ValidationError) as exc:
        MicroserviceArgs.model_validate({**args, "strategy": {"type": "canary"}})
    (error,) = exc.value.errors()
    assert error["loc"] == ("traffic",)
    assert "traffic.layer is 'none'" in error["msg"]
