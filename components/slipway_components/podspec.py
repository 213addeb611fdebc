"""Hardened pod templates shared by every workload shape (rolling, slots, canary, Rollout).

One place decides what a secure pod looks like, so no strategy can forget a setting. Inputs are
plain dicts with the Kubernetes API's camelCase keys: the Pulumi Kubernetes provider passes them
through unchanged, and they read like the YAML people know.

It also says how args take `pulumi.Input[str]` (`InputStr`, `StrInput`): a plain value is
checked when the args are built, exactly as a `str` field would be; an Output is checked when
it resolves, and whatever is derived from it (a hashed name, a label, a host) becomes an Output
too, through `derive`. Nothing branches on an Output's value, so an unknown one (a first
preview) still yields every object.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

import pulumi
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationInfo,
    field_validator,
)
from pydantic_core import CoreSchema, core_schema

from slipway_components.naming import check_dns_label, check_image_ref, check_workload_namespace

SECRETS_MOUNT = "/var/run/secrets/app"
"""Where secret files appear; each secret `X` is the file `$X_FILE` points to."""
FLAGS_MOUNT = "/etc/flags"
"""Where the feature-flag file appears; `$FLAGS_FILE` points to it."""


class Args(BaseModel):
    """Base for component args: snake_case, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class InputValueError(ValueError):
    """An Output given to an args field resolved to a value the field refuses; `field` names
    it (`MicroserviceArgs.image`), since the error surfaces far from where the args were built."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _check_resolved(check: Callable[[str], str] | None, field: str, value: Any) -> str:
    if not isinstance(value, str):
        # The value itself is left out: an Output may be a secret.
        raise InputValueError(field, f"must resolve to a string, not {type(value).__name__}")
    if check is None:
        return value
    try:
        return check(value)
    except ValueError as err:
        raise InputValueError(field, str(err)) from None


class StrInput:
    """Pydantic marker for a `pulumi.Input[str]` field.

    A plain value is validated when the args are built (a string, then `check`), with
    pydantic's own messages and field path. An Output (or awaitable) becomes
    `Output.from_input(v).apply(check)`: it is checked when it resolves, and the error names
    the model and field. `deferred=False` passes Outputs through unchecked, for models built
    from args that already checked them (the pod template's).
    """

    def __init__(self, check: Callable[[str], str] | None = None, *, deferred: bool = True) -> None:
        self.check = check
        self.deferred = deferred

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        plain = core_schema.str_schema()
        if self.check is not None:
            plain = core_schema.no_info_after_validator_function(self.check, plain)
        return core_schema.with_info_wrap_validator_function(
            self._validate,
            plain,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v),
        )

    def _validate(
        self,
        value: Any,
        validate_plain: core_schema.ValidatorFunctionWrapHandler,
        info: ValidationInfo,
    ) -> Any:
        if isinstance(value, pulumi.Output) or inspect.isawaitable(value):
            if not self.deferred:
                return pulumi.Output.from_input(value)
            # A model's field is `<Model>.<field>`; a bare TypeAdapter has neither
            title = (info.config or {}).get("title") or "args"
            field = f"{title}.{info.field_name}" if info.field_name else title
            return pulumi.Output.from_input(value).apply(
                partial(_check_resolved, self.check, field)
            )
        return validate_plain(value)


_StrInputType = str | Awaitable[str] | pulumi.Output[str]
"""`pulumi.Input[str]`, spelled out so pydantic can read it."""

InputStr = Annotated[_StrInputType, StrInput()]
"""A `pulumi.Input[str]` field: any string, plain or an Output."""
ImageInput = Annotated[_StrInputType, StrInput(check_image_ref)]
"""A `pulumi.Input[str]` image reference: a tag other than latest, and/or a digest."""
NamespaceInput = Annotated[_StrInputType, StrInput(check_workload_namespace)]
"""A `pulumi.Input[str]` namespace a team's workload may live in."""
PassedStr = Annotated[_StrInputType, StrInput(deferred=False)]
"""A `pulumi.Input[str]` already checked by the args it came from."""

T = TypeVar("T")


def is_output(value: Any) -> bool:
    """True for a Pulumi Output (whose value may not be known yet)."""
    return isinstance(value, pulumi.Output)


def given(value: Any) -> bool:
    """Whether a value was supplied: any Output, or a non-empty plain value. Never looks at
    an Output's value, which may be unknown."""
    return is_output(value) or bool(value)


def derive(fn: Callable[..., T], *inputs: Any) -> T | pulumi.Output[T]:
    """`fn(*inputs)`: a plain value when every input is plain, an Output when one is."""
    if any(is_output(i) for i in inputs):
        return pulumi.Output.all(*inputs).apply(lambda values: fn(*values))
    return fn(*inputs)


def derive_map(
    fn: Callable[[dict[str, Any]], T], mapping: Mapping[str, Any]
) -> T | pulumi.Output[T]:
    """`fn(mapping)`: plain when every value is plain, an Output (of the resolved mapping's
    result) when one is an Output."""
    if any(is_output(v) for v in mapping.values()):
        return pulumi.Output.all(**mapping).apply(lambda values: fn(dict(values)))
    return fn(dict(mapping))


class ContainerPort(Args):
    """A port the container listens on; the Service exposes it under the same name."""

    name: str = "http"
    """Port name (a DNS label of at most 15 characters, Kubernetes' limit for port names);
    probes, the Service and network policies refer to the port by it; default: http."""
    port: int = Field(ge=1024, le=65535)
    """1024–65535: the container runs as non-root and cannot bind lower ports."""
    protocol: Literal["TCP", "UDP"] = "TCP"
    """Transport protocol; default: TCP."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns_label(v, max_len=15)

    @field_validator("port", mode="before")
    @classmethod
    def _unprivileged(cls, v: Any) -> Any:
        # Before the bound (≥ 1024), to say why such a port is refused.
        if isinstance(v, int) and not isinstance(v, bool) and 1 <= v < 1024:
            raise ValueError(
                f"port {v} is privileged (<1024) and needs root; containers run as non-root, "
                "so it must be greater than or equal to 1024 (1024–65535)"
            )
        return v


class HttpProbe(Args):
    """An HTTP GET probe against a named container port."""

    path: str = Field(pattern=r"^/[^\s]*$")
    """Request path, starting with `/` and without spaces, e.g. `/healthz`."""
    port: str = "http"
    """Name of the container port to probe; default: http."""
    initial_delay_seconds: int = Field(default=0, ge=0, le=3600)
    """Seconds after the container starts before the first probe; default: 0."""
    period_seconds: int = Field(default=10, ge=1, le=3600)
    """Seconds between probes; default: 10."""
    timeout_seconds: int = Field(default=2, ge=1, le=600)
    """Seconds before a probe counts as failed; default: 2."""
    failure_threshold: int = Field(default=3, ge=1, le=1000)
    """Failed probes in a row before the probe's action is taken (restart for liveness, out
    of the Service's endpoints for readiness); default: 3."""

    def render(self) -> dict[str, Any]:
        return {
            "httpGet": {"path": self.path, "port": self.port},
            "initialDelaySeconds": self.initial_delay_seconds,
            "periodSeconds": self.period_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "failureThreshold": self.failure_threshold,
        }


class ResourceArgs(Args):
    """Requests and limits; defaults fit a small HTTP service."""

    cpu_request: str = "100m"
    """CPU the scheduler reserves per pod (Kubernetes quantity: `250m`, `1`); default: 100m."""
    memory_request: str = "128Mi"
    """Memory the scheduler reserves per pod (Kubernetes quantity: `256Mi`); default: 128Mi."""
    cpu_limit: str = "500m"
    """CPU a pod may use at most; more is throttled; default: 500m."""
    memory_limit: str = "256Mi"
    """Memory a pod may use at most; more gets it OOM-killed; default: 256Mi."""


class SecurityArgs(Args):
    """Pod and container security context. Every default is the Pod Security Standards'
    restricted profile; loosening one is an explicit, reviewable change."""

    run_as_user: int = Field(default=10001, ge=10000)
    """UID ≥ 10000 so it never maps to a host user; default: 10001."""
    run_as_group: int = Field(default=10001, ge=10000)
    """GID the containers run as, ≥ 10000 like the UID; default: 10001."""
    fs_group: int = Field(default=10001, ge=10000)
    """GID that owns mounted volumes, ≥ 10000; default: 10001."""
    read_only_root_filesystem: bool = True
    """default: True; a writable emptyDir is mounted at /tmp."""
    seccomp_profile: Literal["RuntimeDefault", "Localhost"] = "RuntimeDefault"
    """Seccomp profile of pod and containers; default: RuntimeDefault, what the restricted
    profile asks for."""

    def pod(self) -> dict[str, Any]:
        return {
            "runAsNonRoot": True,
            "runAsUser": self.run_as_user,
            "runAsGroup": self.run_as_group,
            "fsGroup": self.fs_group,
            "seccompProfile": {"type": self.seccomp_profile},
        }

    def container(self) -> dict[str, Any]:
        return {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": self.read_only_root_filesystem,
            "runAsNonRoot": True,
            "runAsUser": self.run_as_user,
            "runAsGroup": self.run_as_group,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": self.seccomp_profile},
        }


class PodTemplateArgs(Args):
    """Everything a pod template needs, independent of the workload kind around it."""

    service_name: str
    image: Annotated[_StrInputType, StrInput(check_image_ref, deferred=False)]
    ports: list[ContainerPort]
    liveness: HttpProbe
    readiness: HttpProbe
    startup: HttpProbe | None = None
    resources: ResourceArgs = ResourceArgs()
    security: SecurityArgs = SecurityArgs()
    config_map_name: PassedStr | None = None
    secret_name: str | None = None
    secret_keys: list[str] = Field(default_factory=list)
    external_secret_name: PassedStr | None = None
    """A Secret synced from a cloud store (External Secrets Operator), mounted beside ours."""
    external_secret_keys: list[str] = Field(default_factory=list)
    flags_config_map_name: str | None = None
    service_account_name: str
    automount_service_account_token: bool = False
    """Mount the ServiceAccount's token: only for a pod that reads the API (flagd's sidecar
    syncing its FeatureFlag); default: no token."""
    labels: dict[str, PassedStr]
    annotations: dict[str, str] = Field(default_factory=dict)
    termination_grace_period_seconds: int = Field(default=30, ge=0)
    spread_across_zones: bool = True


def pod_template(a: PodTemplateArgs) -> dict[str, Any]:
    """The pod template: restricted security context, probes, limits, zone spread, files
    for secrets (not env vars: they leak into crash dumps and child processes)."""
    all_keys = sorted({*a.secret_keys, *a.external_secret_keys})
    env: list[dict[str, Any]] = [
        {"name": f"{key}_FILE", "value": f"{SECRETS_MOUNT}/{key}"} for key in all_keys
    ]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    sources: list[dict[str, Any]] = []
    if a.secret_name and a.secret_keys:
        sources.append({"secret": {"name": a.secret_name}})
    if given(a.external_secret_name) and a.external_secret_keys:
        sources.append({"secret": {"name": a.external_secret_name}})
    if len(sources) == 1:
        volumes.append(
            {
                "name": "secrets",
                "secret": {"secretName": sources[0]["secret"]["name"], "defaultMode": 0o440},
            }
        )
    elif sources:
        volumes.append({"name": "secrets", "projected": {"sources": sources, "defaultMode": 0o440}})
    if sources:
        mounts.append({"name": "secrets", "mountPath": SECRETS_MOUNT, "readOnly": True})
    if a.flags_config_map_name:
        # A directory mount (not subPath), so the kubelet updates the file in place.
        volumes.append({"name": "flags", "configMap": {"name": a.flags_config_map_name}})
        mounts.append({"name": "flags", "mountPath": FLAGS_MOUNT, "readOnly": True})
        env.append({"name": "FLAGS_FILE", "value": f"{FLAGS_MOUNT}/flags.json"})
    container: dict[str, Any] = {
        "name": a.service_name,
        "image": a.image,
        "imagePullPolicy": "Always",
        "ports": [
            {"name": p.name, "containerPort": p.port, "protocol": p.protocol} for p in a.ports
        ],
        "livenessProbe": a.liveness.render(),
        "readinessProbe": a.readiness.render(),
        "resources": {
            "requests": {"cpu": a.resources.cpu_request, "memory": a.resources.memory_request},
            "limits": {"cpu": a.resources.cpu_limit, "memory": a.resources.memory_limit},
        },
        "securityContext": a.security.container(),
        "volumeMounts": mounts,
    }
    if a.startup:
        container["startupProbe"] = a.startup.render()
    if env:
        container["env"] = env
    if given(a.config_map_name):
        container["envFrom"] = [{"configMapRef": {"name": a.config_map_name}}]
    spec: dict[str, Any] = {
        "serviceAccountName": a.service_account_name,
        "automountServiceAccountToken": a.automount_service_account_token,
        "enableServiceLinks": False,
        "securityContext": a.security.pod(),
        "terminationGracePeriodSeconds": a.termination_grace_period_seconds,
        "containers": [container],
        "volumes": volumes,
    }
    if a.spread_across_zones:
        selector = {"matchLabels": {k: v for k, v in a.labels.items() if k in SELECTOR_KEYS}}
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": selector,
            },
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": selector,
            },
        ]
    metadata: dict[str, Any] = {"labels": dict(sorted(a.labels.items()))}
    if a.annotations:
        metadata["annotations"] = dict(sorted(a.annotations.items()))
    return {"metadata": metadata, "spec": spec}


SELECTOR_KEYS = ("app.kubernetes.io/name", "slot", "track")
"""Labels that identify pods for selectors; never put a version here (selectors are immutable)."""


def content_hash(data: Any, length: int = 10) -> str:
    """Stable short hash of JSON-able data: names that change exactly when content changes."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def hashed_name(prefix: str, data: Mapping[str, pulumi.Input[str]]) -> pulumi.Input[str]:
    """`<prefix>-<content hash>`: plain for plain data; an Output once a value is one, so
    the name still changes exactly when the content does."""
    return derive_map(lambda values: f"{prefix}-{content_hash(values)}", data)
