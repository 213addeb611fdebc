"""The component plugin, driven as the engine drives it, and its schema kept true to the models.

The gRPC tests start `python components <engine address>` (what the engine runs for a
`runtime: python` plugin), read the port it prints, and call it as the engine would:
`GetPluginInfo`, `GetSchema`, `Configure`, then `Construct` against a resource monitor served
here, which records every registration. A fake engine takes the plugin's log calls. The other
tests check that the plugin's types and `components/schema.json` are generated from the
pydantic models and document every input.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)
from pydantic import BaseModel, create_model

from slipway_components import plugin
from slipway_components.microservice import MicroserviceArgs
from slipway_components.podspec import ContainerPort, HttpProbe
from tests.conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "components"
SCHEMA_JSON = PLUGIN_DIR / "schema.json"
TYPE = "slipway-components:index:Microservice"
STACK_URN = "urn:pulumi:dev::consumer::pulumi:pulumi:Stack::consumer-dev"
K8S_PROVIDER = (
    "urn:pulumi:dev::consumer::pulumi:providers:kubernetes::cluster"
    "::7c9a3e1e-5b2f-4f0e-9a43-0d3d2f1b6c11"
)
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
SIG_KEY = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""How the wire protocol spells a value not known yet (a preview)."""


gen = load_script("gen_plugin_schema")


# -- the engine's side: a fake engine and a recording resource monitor -------------------------


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """Takes the plugin's log messages, as the engine shows them to the user."""

    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request: engine_pb2.LogRequest, context: Any) -> empty_pb2.Empty:
        self.logs.append(request.message)
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> engine_pb2.GetRootResourceResponse:
        return engine_pb2.GetRootResourceResponse(urn=STACK_URN)

    def SetRootResource(self, request: Any, context: Any) -> engine_pb2.SetRootResourceResponse:
        return engine_pb2.SetRootResourceResponse()


@dataclass
class Registration:
    """One RegisterResource call, with the URN the monitor gave it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    provider: str
    inputs: dict[str, Any]
    raw: resource_pb2.RegisterResourceRequest


@dataclass
class RecordingMonitor(resource_pb2_grpc.ResourceMonitorServicer):
    """A resource monitor that records registrations and makes URNs as the engine does."""

    features: frozenset[str] = frozenset(
        {"SECRETS", "RESOURCE_REFERENCES", "OUTPUT_VALUES", "ALIAS_SPECS", "DELETED_WITH"}
    )
    providers: tuple[str, ...] = (K8S_PROVIDER,)
    """Provider references (`urn::id`) the caller's program registered."""
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    _types: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def GetDeploymentInfo(self, request: Any, context: Any) -> resource_pb2.DeploymentInfo:
        return resource_pb2.DeploymentInfo(
            project="consumer",
            stack="dev",
            organization="acme",
            dryRun=True,
            supportedFeatures=[
                getattr(resource_pb2, f"RESOURCE_MONITOR_FEATURE_{feature}")
                for feature in self.features
            ],
        )

    def SupportsFeature(
        self, request: resource_pb2.SupportsFeatureRequest, context: Any
    ) -> resource_pb2.SupportsFeatureResponse:
        """For SDKs older than `GetDeploymentInfo`."""
        legacy = {f.lower().replace("_", "") for f in self.features}
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id.lower() in legacy)

    def RegisterResource(
        self, request: resource_pb2.RegisterResourceRequest, context: Any
    ) -> resource_pb2.RegisterResourceResponse:
        parent_type = self._types.get(request.parent, "")
        qualified = f"{parent_type}${request.type}" if parent_type else request.type
        urn = f"urn:pulumi:dev::consumer::{qualified}::{request.name}"
        with self._lock:
            self._types[urn] = qualified
            self.registrations.append(
                Registration(
                    urn=urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=request.custom,
                    provider=request.provider,
                    inputs=json_format.MessageToDict(request.object),
                    raw=request,
                )
            )
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=f"{request.name}-id" if request.custom else "", object=request.object
        )

    def RegisterResourceOutputs(
        self, request: resource_pb2.RegisterResourceOutputsRequest, context: Any
    ) -> empty_pb2.Empty:
        with self._lock:
            self.outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return empty_pb2.Empty()

    def Invoke(
        self, request: resource_pb2.ResourceInvokeRequest, context: Any
    ) -> provider_pb2.InvokeResponse:
        """`getResource` only: the SDK rehydrates the caller's explicit provider by URN."""
        if request.tok != "pulumi:pulumi:getResource":
            context.abort(grpc.StatusCode.UNIMPLEMENTED, f"no invoke {request.tok}")
        urn = request.args["urn"]
        known = dict(ref.rsplit("::", 1) for ref in self.providers)
        if urn not in known:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no resource {urn}")
        found = struct_pb2.Struct()
        found.update({"urn": urn, "id": known[urn], "state": {}})
        return provider_pb2.InvokeResponse(**{"return": found})

    def custom(self) -> dict[str, Registration]:
        """The custom resources (the Kubernetes objects) by name."""
        return {r.name: r for r in self.registrations if r.custom}

    def one(self, type_: str) -> Registration:
        (found,) = [r for r in self.registrations if r.type == type_]
        return found


def _serve(add: Any, servicer: Any) -> tuple[grpc.Server, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


# -- the plugin process ---------------------------------------------------------------------


@dataclass
class Plugin:
    provider: provider_pb2_grpc.ResourceProviderStub
    engine: FakeEngine


def _read_port(proc: subprocess.Popen[bytes], stderr_path: Path, timeout: float = 120) -> int:
    """The first line the plugin prints is its port, as the engine expects."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else b""
    if not line.strip().isdigit():
        raise AssertionError(
            f"the plugin printed {line!r}, not a port; its stderr:\n{stderr_path.read_text()}"
        )
    return int(line)


@pytest.fixture(scope="module")
def running_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plugin]:
    """`python components <engine address>`, run from an unrelated folder like a consumer's
    program; killed with its whole process group at the end."""
    engine = FakeEngine()
    engine_server, engine_address = _serve(engine_pb2_grpc.add_EngineServicer_to_server, engine)
    workdir = tmp_path_factory.mktemp("consumer")
    stderr_path = workdir / "plugin.stderr"
    proc: subprocess.Popen[bytes] | None = None
    channel: grpc.Channel | None = None
    try:
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, str(PLUGIN_DIR), engine_address],
                cwd=workdir,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        port = _read_port(proc, stderr_path)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield Plugin(provider_pb2_grpc.ResourceProviderStub(channel), engine)
    finally:
        if channel is not None:
            channel.close()
        if proc is not None:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()
        engine_server.stop(grace=None)


@pytest.fixture
def monitor() -> Iterator[tuple[RecordingMonitor, str]]:
    recorder = RecordingMonitor()
    server, address = _serve(resource_pb2_grpc.add_ResourceMonitorServicer_to_server, recorder)
    try:
        yield recorder, address
    finally:
        server.stop(grace=None)


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def construct(
    plugin_: Plugin,
    monitor_address: str,
    inputs: dict[str, Any],
    *,
    name: str = "web",
    providers: dict[str, str] | None = None,
) -> provider_pb2.ConstructResponse:
    """One `Construct`, preceded by `Configure`, as the engine sends them for a remote
    component in a consumer's program."""
    plugin_.provider.Configure(
        provider_pb2.ConfigureRequest(acceptSecrets=True, acceptResources=True), timeout=30
    )
    request = provider_pb2.ConstructRequest(
        project="consumer",
        stack="dev",
        organization="acme",
        dryRun=True,
        monitorEndpoint=monitor_address,
        type=TYPE,
        name=name,
        parent=STACK_URN,
        inputs=_struct(inputs),
        providers=providers or {},
        accepts_output_values=True,
    )
    return plugin_.provider.Construct(request, timeout=120)


def service_inputs(**overrides: Any) -> dict[str, Any]:
    """Inputs as a TypeScript or YAML program writes them: camelCase, numbers as numbers."""
    inputs: dict[str, Any] = {
        "serviceName": "orders",
        "namespace": "shop",
        "team": "payments",
        "image": "ghcr.io/acme/orders:1.4.2",
        "ports": [{"port": 8080}],
        "liveness": {"path": "/healthz"},
        "readiness": {"path": "/ready"},
    }
    inputs.update(overrides)
    return inputs


def _error(err: grpc.RpcError) -> str:
    """Everything the engine would show of a failed call: details and the property errors
    packed in the status."""
    from pulumi.runtime.proto import errors_pb2, status_pb2

    text = err.details() or ""
    for key, value in err.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                errors = errors_pb2.InputPropertiesError()
                if detail.Unpack(errors):
                    text += "".join(f"\n{e.property_path}: {e.reason}" for e in errors.errors)
    return text


# -- the plugin over gRPC --------------------------------------------------------------------


def test_get_schema_serves_the_committed_schema(running_plugin: Plugin) -> None:
    info = running_plugin.provider.GetPluginInfo(empty_pb2.Empty(), timeout=30)
    assert info.version == plugin.plugin_version()
    served = json.loads(
        running_plugin.provider.GetSchema(provider_pb2.GetSchemaRequest(), timeout=30).schema
    )
    assert served == json.loads(SCHEMA_JSON.read_text())
    resource = served["resources"][TYPE]
    assert resource["isComponent"] is True
    inputs = resource["inputProperties"]
    assert {"serviceName", "namespace", "team", "image", "ports", "strategy", "traffic"} <= set(
        inputs
    )
    assert set(resource["requiredInputs"]) == {
        "serviceName",
        "namespace",
        "team",
        "image",
        "ports",
        "liveness",
        "readiness",
    }
    assert inputs["ports"]["items"]["$ref"] == "#/types/slipway-components:index:ContainerPort"
    assert set(resource["properties"]) == {"serviceName", "namespace", "configMapName", "url"}
    strategy_type = served["types"]["slipway-components:index:StrategyType"]
    assert [v["value"] for v in strategy_type["enum"]] == ["rolling", "blue-green", "canary"]


def test_construct_builds_the_microservice_under_the_component(
    running_plugin: Plugin, monitor: tuple[RecordingMonitor, str]
) -> None:
    recorder, address = monitor
    secret = {SIG_KEY: OUTPUT_VALUE_SIG, "value": "s3cr3t-token", "secret": True}
    response = construct(
        running_plugin,
        address,
        service_inputs(
            autoscaling={"minReplicas": 3, "maxReplicas": 9},
            secrets={"API_TOKEN": secret},
            config={"LOG_LEVEL": "info"},
        ),
        providers={"kubernetes": K8S_PROVIDER},
    )
    regs = recorder.custom()
    component = recorder.one(TYPE)
    assert component.name == "web" and component.parent == STACK_URN
    assert response.urn == component.urn
    inner = recorder.one("slipway:apps:Microservice")
    assert inner.name == "web" and inner.parent == component.urn, "the real one is its child"

    children = list(regs.values())
    kinds = {r.type for r in children}
    assert {
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:core/v1:Secret",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    } <= kinds
    for child in children:
        assert child.parent == inner.urn, child.name
        assert child.urn.startswith(f"urn:pulumi:dev::consumer::{TYPE}$slipway:apps:Microservice$")
        assert child.provider == K8S_PROVIDER, f"{child.name} ignores the caller's provider"

    # The pydantic models' checks and defaults apply, as in a Python program.
    deployment = regs["web-deployment"].inputs
    pod = deployment["spec"]["template"]["spec"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert pod["containers"][0]["image"] == "ghcr.io/acme/orders:1.4.2"
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert regs["web-hpa"].inputs["spec"]["minReplicas"] == 3
    assert regs["web-pdb"].inputs["spec"]["maxUnavailable"] == 1

    # A secret stays a secret on its way through the plugin.
    string_data = regs["web-secrets"].inputs["stringData"]
    assert string_data == {SIG_KEY: SECRET_SIG, "value": {"API_TOKEN": "s3cr3t-token"}}

    state = json_format.MessageToDict(response.state)
    assert state["serviceName"] == "orders"
    assert state["url"] == "http://orders.shop.svc.cluster.local:8080"
    assert recorder.outputs[component.urn]["url"] == state["url"]


def test_construct_maps_enums_nested_types_and_int_or_string(
    running_plugin: Plugin, monitor: tuple[RecordingMonitor, str]
) -> None:
    recorder, address = monitor
    construct(
        running_plugin,
        address,
        service_inputs(
            strategy={"type": "blue-green", "activeSlot": "green", "blue": {"image": "o:1.4.1"}},
            rolling={"maxSurge": "1", "maxUnavailable": "10%"},
            ports=[{"port": 8080, "protocol": "TCP"}],
            calls=[{"name": "stock", "namespace": "shop", "ports": [9090]}],
        ),
    )
    regs = recorder.custom()
    assert {"web-blue", "web-green", "web-service", "web-preview"} <= set(regs)
    assert regs["web-service"].inputs["spec"]["selector"]["slot"] == "green"
    assert regs["web-preview"].inputs["spec"]["selector"]["slot"] == "blue"
    blue = regs["web-blue"].inputs["spec"]
    assert blue["template"]["spec"]["containers"][0]["image"] == "o:1.4.1"
    assert blue["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "10%"}
    egress = regs["web-netpol"].inputs["spec"]["egress"]
    assert any(rule.get("ports") == [{"port": 9090, "protocol": "TCP"}] for rule in egress)


@pytest.mark.parametrize("known", [True, False], ids=["known", "unknown-in-preview"])
def test_construct_wires_another_resources_output_into_an_input(
    running_plugin: Plugin, monitor: tuple[RecordingMonitor, str], known: bool
) -> None:
    """An input the schema marks as taking Outputs (not plain) accepts one: the children
    depend on the resource it came from, and an unknown value still yields every child."""
    schema = json.loads(SCHEMA_JSON.read_text())
    assert "plain" not in schema["resources"][TYPE]["inputProperties"]["image"]
    recorder, address = monitor
    build = "urn:pulumi:dev::consumer::docker-build:index:Image::orders-image"
    image: dict[str, Any] = {SIG_KEY: OUTPUT_VALUE_SIG, "dependencies": [build]}
    if known:
        image["value"] = "ghcr.io/acme/orders@sha256:" + "a" * 64
    construct(running_plugin, address, service_inputs(image=image))
    regs = recorder.custom()
    assert {"web-sa", "web-config", "web-deployment", "web-service", "web-pdb"} <= set(regs)
    deployment = regs["web-deployment"]
    assert build in deployment.raw.dependencies
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == (image["value"] if known else UNKNOWN)


def test_construct_refuses_a_latest_image_naming_the_field(
    running_plugin: Plugin, monitor: tuple[RecordingMonitor, str]
) -> None:
    recorder, address = monitor
    with pytest.raises(grpc.RpcError) as caught:
        construct(running_plugin, address, service_inputs(image="nginx:latest"))
    message = _error(caught.value)
    assert "invalid Microservice inputs" in message
    assert "image: image 'nginx:latest' must carry a tag other than latest" in message
    assert recorder.registrations == [], "nothing is registered for refused inputs"


def test_construct_names_nested_inputs_by_their_schema_path(
    running_plugin: Plugin, monitor: tuple[RecordingMonitor, str]
) -> None:
    _, address = monitor
    with pytest.raises(grpc.RpcError) as caught:
        construct(
            running_plugin,
            address,
            service_inputs(
                ports=[{"port": 8080}, {"name": "admin", "port": 80}],
                strategy={"activeSlot": "green", "idleReplicas": -1},
            ),
        )
    message = _error(caught.value)
    assert "ports[1].port: port 80 is privileged (<1024) and needs root" in message
    assert "strategy.idleReplicas: Input should be greater than or equal to 0" in message


@pytest.mark.parametrize(
    ("inputs", "path"),
    [
        ({k: v for k, v in service_inputs().items() if k != "team"}, "team"),
        (service_inputs(strategy={"type": "bluegreen"}), "strategy.type"),
    ],
    ids=["missing-required", "unknown-enum-value"],
)
def test_construct_refuses_inputs_the_schema_forbids(
    running_plugin: Plugin, monitor: tuple[RecordingMonitor, str], inputs: dict, path: str
) -> None:
    recorder, address = monitor
    with pytest.raises(grpc.RpcError) as caught:
        construct(running_plugin, address, inputs)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"\n{path}: " in _error(caught.value)
    assert recorder.registrations == []


# -- one model: the plugin's types and schema come from the pydantic models ---------------------


def test_plugin_types_are_generated_from_the_models() -> None:
    assert gen.render_plugin() == gen.PLUGIN_PY.read_text(), (
        "components/slipway_components/plugin.py is stale: run "
        "`python scripts/gen_plugin_schema.py`"
    )


def test_schema_json_is_what_the_plugin_infers() -> None:
    assert gen.schema_text(gen.infer_schema()) == SCHEMA_JSON.read_text(), (
        "components/schema.json is stale: run `python scripts/gen_plugin_schema.py`"
    )


def _schema_type(schema: dict, prop: dict) -> dict | None:
    """The object type a property refers to (through arrays and maps), if any."""
    for inner in (prop, prop.get("items", {}), prop.get("additionalProperties", {})):
        ref = inner.get("$ref", "")
        if ref.startswith("#/types/"):
            found = schema["types"][ref.removeprefix("#/types/")]
            return found if found.get("type") == "object" and "properties" in found else None
    return None


def test_every_model_field_is_a_plugin_input() -> None:
    """Walks the models on its own (not the generator's walk): every field of
    MicroserviceArgs and of each model nested in it is an input of the same name, required
    exactly when the model requires it, and leaves its default to the model."""
    schema = json.loads(SCHEMA_JSON.read_text())
    resource = schema["resources"][TYPE]
    pending: list[tuple[type[BaseModel], dict, list[str], str]] = [
        (MicroserviceArgs, resource["inputProperties"], resource["requiredInputs"], "Microservice")
    ]
    seen = set()
    while pending:
        model, properties, required, where = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            key = plugin.camel_case(name)
            assert key in properties, f"{where}.{key} ({model.__name__}.{name}) is not an input"
            assert (key in required) == info.is_required(), f"{where}.{key}: requiredness"
            nested = plugin.strip(info.annotation)[0]
            for candidate in [*nested, *(a for t in nested for a in getattr(t, "__args__", ()))]:
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    target = _schema_type(schema, properties[key])
                    assert target is not None, f"{where}.{key} is not typed as an object"
                    pending.append(
                        (candidate, target["properties"], target.get("required", []), key)
                    )
        assert set(properties) == {plugin.camel_case(n) for n in model.model_fields}, where
    assert ContainerPort in seen and HttpProbe in seen


def _properties(schema: dict) -> Iterator[tuple[str, dict]]:
    resource = schema["resources"][TYPE]
    for name, prop in resource["inputProperties"].items():
        yield f"Microservice.{name}", prop
    for type_name, spec in schema["types"].items():
        for name, prop in spec.get("properties", {}).items():
            yield f"{type_name}.{name}", prop


def test_every_input_has_a_description() -> None:
    schema = json.loads(SCHEMA_JSON.read_text())
    for where, prop in _properties(schema):
        assert (prop.get("description") or "").strip(), f"{where} has no description"
    for type_name, spec in schema["types"].items():
        assert (spec.get("description") or "").strip(), f"{type_name} has no description"
    assert schema["resources"][TYPE]["description"].startswith("A microservice")


def test_optional_inputs_say_their_default() -> None:
    """The schema has no place for defaults; each optional input's description says it."""
    schema = json.loads(SCHEMA_JSON.read_text())
    required: set[str] = {f"Microservice.{n}" for n in schema["resources"][TYPE]["requiredInputs"]}
    for type_name, spec in schema["types"].items():
        required |= {f"{type_name}.{n}" for n in spec.get("required", [])}
    for where, prop in _properties(schema):
        if where not in required:
            assert "default" in prop["description"].lower(), f"{where}: {prop['description']}"


def test_a_field_added_to_the_models_fails_the_drift_check() -> None:
    """A new field without a docstring stops the generator; with one, the committed block no
    longer matches. Either way the tests above fail until the plugin is regenerated."""
    grown = create_model(  # type: ignore[call-overload]
        "MicroserviceArgs",
        __base__=gen.MicroserviceArgs,
        __doc__=gen.MicroserviceArgs.__doc__,
        canary_header=(str | None, None),
    )
    components = (gen.Component("Microservice", gen.Microservice, grown),)
    with pytest.raises(gen.GenerationError, match=r"MicroserviceArgs\.canary_header"):
        gen.render_block(components)

    class MicroserviceArgs(gen.MicroserviceArgs):  # the name the block renders it under
        """What a Microservice needs, and one field more."""

        canary_header: str | None = None
        """Header to route by."""

    documented = (gen.Component("Microservice", gen.Microservice, MicroserviceArgs),)
    block = gen.render_block(documented)
    assert "canary_header: NotRequired[str]" in block
    assert block not in gen.PLUGIN_PY.read_text()


def test_plugin_inputs_become_the_models_args() -> None:
    """What the provider hands over (snake_case, enum members, digit strings) or a caller
    writes (camelCase) validates to the same args a Python program builds."""
    handed_over = {
        "service_name": "orders",
        "namespace": "shop",
        "team": "payments",
        "image": "ghcr.io/acme/orders:1.4.2",
        "ports": [{"port": 8080.0, "protocol": plugin.ContainerPortProtocol.UDP}],
        "liveness": {"path": "/healthz", "initial_delay_seconds": 5},
        "readiness": {"path": "/ready"},
        "rolling": {"max_surge": "2"},
        "strategy": {"type": plugin.StrategyType.BLUE_GREEN, "activeSlot": "green"},
    }
    expected = MicroserviceArgs(
        service_name="orders",
        namespace="shop",
        team="payments",
        image="ghcr.io/acme/orders:1.4.2",
        ports=[ContainerPort(port=8080, protocol="UDP")],
        liveness=HttpProbe(path="/healthz", initial_delay_seconds=5),
        readiness=HttpProbe(path="/ready"),
        rolling={"max_surge": 2},
        strategy={"type": "blue-green", "active_slot": "green"},
    )
    assert plugin.microservice_args(handed_over) == expected


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"rolling": {"maxSurge": "9" * 5000}}, "rolling.maxSurge"),
        ({"ports": [{"port": 10**5000}]}, "ports[0].port"),
        ({"replicas": "x" * 10_000}, "replicas"),
    ],
    ids=["5000-digit-string", "5000-digit-int", "10000-char-string"],
)
def test_hostile_inputs_are_refused_naming_the_field_in_a_short_message(
    extra: dict[str, Any], path: str
) -> None:
    """Python refuses to turn thousands of digits into an int or to print one: the refusal
    must still be the field-named ValueError, of a readable length, not a crash."""
    with pytest.raises(ValueError, match="invalid Microservice inputs") as err:
        plugin.microservice_args(service_inputs(**extra))
    message = str(err.value)
    assert f"  {path}: " in message
    assert len(message) < 400, message[:400]
