"""The service catalog: one YAML file per microservice in `services/`, validated by pydantic.

Application teams edit these files; everything they may say is modelled here, and anything
else is rejected with the file and the field. Per-environment differences live in the same
file under `environments:` and are merged (maps deep, lists replaced) before validation, so an
override is checked exactly like the base.

A setting the components also take is the component's own model or field, never a copy: a
block with the same shape (`ports`, `probes`, `autoscaling`, `mesh.fault`,
`mesh.outlierDetection`) is a camelCase subclass of the component model (`Port` is a
`ContainerPort`), and a single setting inside a block of the catalog's own shape is the
component's field, taken with `field_of` (its default, bounds, checks and docstring). The
catalog adds nothing on top of a shared setting: a bound or check it needs belongs to the
component, so a program building the component's args gets it too. Its own checks and messages
are for settings only the file has (versions, secrets, flags, environments).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from slipway.errors import BadInput
from slipway.yamlfile import SafeLoader, read_yaml
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
    StepArgs,
    StrategyArgs,
    TrafficArgs,
)
from slipway_components.slo import SloArgs
from slipway_components.strategies import (
    HeaderRouteArgs,
    MirrorRouteArgs,
    NotificationsArgs,
    PreRolloutArgs,
)
from stacks.config import check_dns_label

ENVIRONMENTS = ("dev", "staging", "prod")
QUANTITY_CPU = re.compile(r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$")
QUANTITY_MEM = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")
IMAGE_REPO = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._/-][a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FLAG_NAME = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")
MAX_DOC_BYTES = 256 * 1024


def check_config_keys(config: dict[str, str]) -> dict[str, str]:
    """Config keys become environment variables (envFrom) and ConfigMap keys: both must
    accept them, or Kubernetes refuses the object (or silently drops the variable)."""
    bad = sorted(k for k in config if not ENV_NAME.fullmatch(k))
    if bad:
        raise ValueError(
            f"config keys {bad} are not environment variable names ([A-Za-z_][A-Za-z0-9_]*)"
        )
    return config


class Spec(BaseModel):
    """Base for catalog models: camelCase in YAML, unknown keys rejected, immutable.

    Also the second base of a component model the catalog takes as it is
    (`class Port(ContainerPort, Spec)`): the component's fields, camelCase in the file."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def field_of(model: type[BaseModel], name: str) -> Any:
    """The component's field `name` itself (default, bounds, docstring), for a catalog model
    that has the same setting: `weight: int = field_of(StrategyArgs, "weight")`.
    scripts/gen_reference.py takes the docstring from the component."""
    return model.model_fields[name]


class Version(Spec):
    """Which build of the image runs: a tag, a digest, or both (digest wins at pull time)."""

    tag: str | None = None
    """Image tag; `latest` is refused (it names no build)."""
    digest: str | None = None
    """`sha256:<64 hex>`; required by policy in prod."""

    @field_validator("tag")
    @classmethod
    def _tag(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if v == "latest":
            raise ValueError("tag 'latest' names no build; use a release tag or a digest")
        if not TAG.fullmatch(v):
            raise ValueError(f"{v!r} is not a valid image tag ([A-Za-z0-9_.-], max 128)")
        return v

    @field_validator("digest")
    @classmethod
    def _digest(cls, v: str | None) -> str | None:
        if v is not None and not DIGEST.fullmatch(v):
            raise ValueError(f"{v!r} is not a digest; expected sha256:<64 lower-case hex>")
        return v

    @model_validator(mode="after")
    def _one(self) -> Version:
        if not self.tag and not self.digest:
            raise ValueError("give a tag, a digest, or both")
        return self


class Port(ContainerPort, Spec):
    """A container port, exposed by the ClusterIP Service under the same name."""


class ResourceQuantities(Spec):
    cpu: str
    memory: str

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v: Any) -> str:
        v = str(v)
        if not QUANTITY_CPU.fullmatch(v):
            raise ValueError(f"{v!r} is not a CPU quantity (e.g. 250m or 1)")
        return v

    @field_validator("memory")
    @classmethod
    def _mem(cls, v: Any) -> str:
        v = str(v)
        if not QUANTITY_MEM.fullmatch(v):
            raise ValueError(f"{v!r} is not a memory quantity (e.g. 256Mi)")
        return v


_RESOURCES = ResourceArgs()
"""The component's default requests and limits, which the catalog's are."""


# Not a ResourceArgs: the file nests `requests: {cpu, memory}`, the component takes them flat.
class Resources(Spec):
    """Requests and limits; both are required by policy, so both have defaults."""

    requests: ResourceQuantities = ResourceQuantities(
        cpu=_RESOURCES.cpu_request, memory=_RESOURCES.memory_request
    )
    limits: ResourceQuantities = ResourceQuantities(
        cpu=_RESOURCES.cpu_limit, memory=_RESOURCES.memory_limit
    )


class Probe(HttpProbe, Spec):
    """An HTTP probe on a named port."""


class Probes(Spec):
    liveness: Probe
    readiness: Probe
    startup: Probe | None = None


class SecretRef(Spec):
    """A secret the service reads from an environment variable; never the value itself."""

    env: str
    """Environment variable name inside the container."""
    source: Literal[
        "pulumi-config",
        "cloud-secret-manager",
        "aws-secrets-manager",
        "gcp-secret-manager",
        "generated",
    ] = "pulumi-config"
    """Where the value lives; default: a Pulumi config secret of the stack.
    `cloud-secret-manager`: the store of each target's cloud (AWS Secrets Manager on AWS
    targets, GCP Secret Manager on GCP targets), under the same name: multi-cloud friendly.
    `generated`: a random value the stack makes once and keeps (secret) in its state, for
    dev, whose throwaway dependencies take any credential; refused in staging and prod."""
    key: str = Field(min_length=1, max_length=253)
    """Config key (pulumi-config) or secret name in the cloud store."""
    property: str | None = None
    """For cloud stores holding JSON: the property to take."""

    @field_validator("env")
    @classmethod
    def _env(cls, v: str) -> str:
        if not ENV_NAME.fullmatch(v):
            raise ValueError(f"{v!r} is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
        return v


class Autoscaling(AutoscalingArgs, Spec):
    """HorizontalPodAutoscaler bounds and targets (autoscaling/v2)."""


SLOT_NAMES = ("blue", "green")
DURATION = re.compile(r"^([0-9]+)(s|m|h)$")


class Track(Spec):
    """A blue-green slot's or the canary track's build: its own version, its own config."""

    version: Version | None = None
    """default: the service's `version`."""
    config: dict[str, str] = Field(default_factory=dict)
    """Settings merged over the service's `config`, for this slot or track only."""

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, str]) -> dict[str, str]:
        return check_config_keys(v)


class Pause(Spec):
    duration: int | str | None = None
    """`30s`, `5m`, `1h` or seconds; unset: wait until promoted."""

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: int | str | None) -> int | str | None:
        if v is None:
            return v
        seconds = duration_seconds(v)
        if not 1 <= seconds <= 86400:
            raise ValueError(f"pause {v!r} must be between 1s and 24h")
        return v

    @property
    def seconds(self) -> int | None:
        return None if self.duration is None else duration_seconds(self.duration)


def duration_seconds(v: int | str) -> int:
    """`90`, `90s`, `5m`, `1h` -> seconds; anything else is a ValueError."""
    if isinstance(v, int):
        return v
    m = DURATION.fullmatch(v)
    if not m:
        raise ValueError(f"{v!r} is not a duration; use e.g. 30s, 5m or 1h")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


class HeaderRoute(HeaderRouteArgs, Spec):
    """An A/B route: requests with a header (exact value) or a cookie go to the new version."""


class MirrorRoute(MirrorRouteArgs, Spec):
    """A copy of matching safe requests goes to the new version (istio layer only)."""


class Step(Spec):
    """An Argo Rollouts canary step: `setWeight: 25`, `pause: {duration: 5m}`, `pause: {}`
    (wait for `kubectl argo rollouts promote`), `setHeaderRoute`, `setMirrorRoute` or
    `setCanaryReplicas`."""

    set_weight: int | None = field_of(StepArgs, "set_weight")
    pause: Pause | None = None
    set_header_route: HeaderRoute | None = field_of(StepArgs, "set_header_route")
    set_mirror_route: MirrorRoute | None = field_of(StepArgs, "set_mirror_route")
    set_canary_replicas: int | None = field_of(StepArgs, "set_canary_replicas")

    @model_validator(mode="after")
    def _one(self) -> Step:
        kinds = (
            self.set_weight,
            self.pause,
            self.set_header_route,
            self.set_mirror_route,
            self.set_canary_replicas,
        )
        if sum(k is not None for k in kinds) != 1:
            raise ValueError(
                "a step is exactly one of setWeight, pause, setHeaderRoute, setMirrorRoute or "
                "setCanaryReplicas"
            )
        return self


# Not an AnalysisArgs: two of its fields have shorter names in the file, and the metric
# names are not the file's to set.
class Analysis(Spec):
    """Thresholds Argo Rollouts checks on Prometheus; a miss rolls the version back."""

    success_rate: float = field_of(AnalysisArgs, "success_rate_min")
    latency_p99_seconds: float = field_of(AnalysisArgs, "latency_p99_max_seconds")
    interval_seconds: int = field_of(AnalysisArgs, "interval_seconds")
    failure_limit: int = field_of(AnalysisArgs, "failure_limit")
    count: int = field_of(AnalysisArgs, "count")
    prometheus_address: str = field_of(AnalysisArgs, "prometheus_address")
    min_requests: int = field_of(AnalysisArgs, "min_requests")
    inconclusive_limit: int = field_of(AnalysisArgs, "inconclusive_limit")


class PreRollout(PreRolloutArgs, Spec):
    """A webhook or load test answering JSON, run before the new version takes traffic."""


class Notifications(NotificationsArgs, Spec):
    """Argo Rollouts notifications (a webhook) on promote, abort and pause."""


class Retries(RetryArgs, Spec):
    """Mesh retries: by default only failures where the request never reached the app;
    `retryOn` with 5xx and the like, and `perTryTimeoutSeconds`, need `idempotent: true`."""


class OutlierDetection(OutlierArgs, Spec):
    pass


class Fault(FaultArgs, Spec):
    """Fault injection for drills; refused in prod."""


class Mesh(Spec):
    """Mesh traffic policy (stacks with the istio layer): timeouts, retries, ejection."""

    timeout_seconds: float = field_of(TrafficArgs, "timeout_seconds")
    retries: Retries = Retries()
    outlier_detection: OutlierDetection = OutlierDetection()
    fault: Fault | None = None
    """default: none; refused in prod."""


class Strategy(Spec):
    """How a new version reaches users.

    `rolling` replaces pods in place; `blue-green` keeps two slots and flips the live Service;
    `canary` splits traffic by weight through the stack's traffic layer. `engine: argo-rollouts`
    hands progressive delivery with automatic rollback to Argo Rollouts.

    The traffic state is declared here, one value per change, usually per environment
    (`environments.prod.strategy.activeSlot`): `activeSlot` (blue-green) and `weight`
    (canary). `slipway promote / rollback / canary / abort` edit exactly these values.
    Fields of another strategy are kept but unused, so an environment can switch `type`.
    """

    type: Literal["rolling", "blue-green", "canary"] = field_of(StrategyArgs, "type")
    engine: Literal["native", "argo-rollouts"] = field_of(StrategyArgs, "engine")
    max_surge: int | str = field_of(RollingArgs, "max_surge")
    max_unavailable: int | str = field_of(RollingArgs, "max_unavailable")
    min_ready_seconds: int = field_of(RollingArgs, "min_ready_seconds")
    progress_deadline_seconds: int = field_of(RollingArgs, "progress_deadline_seconds")
    active_slot: Literal["blue", "green"] = field_of(StrategyArgs, "active_slot")
    slots: dict[str, Track] = Field(default_factory=dict)
    """blue-green: `blue` / `green` builds; a slot without one runs the service's version."""
    idle_replicas: int | None = field_of(StrategyArgs, "idle_replicas")
    canary: Track | None = field_of(StrategyArgs, "canary")
    weight: int = field_of(StrategyArgs, "weight")
    canary_replicas: int = field_of(StrategyArgs, "canary_replicas")
    steps: list[Step] | None = None
    """canary (argo-rollouts): default: 10%, 5m, 25%, 5m, 50%, 10m, then 100%."""
    analysis: Analysis = Analysis()
    """argo-rollouts: Prometheus thresholds and failure limit."""
    auto_promotion: bool = field_of(StrategyArgs, "auto_promotion")
    scale_down_delay_seconds: int | None = field_of(StrategyArgs, "scale_down_delay_seconds")
    pre_rollout: PreRollout | None = field_of(StrategyArgs, "pre_rollout")
    notifications: Notifications | None = field_of(StrategyArgs, "notifications")
    live_replicas: int | None = field_of(StrategyArgs, "live_replicas")
    mesh: Mesh = Mesh()
    """Retries, timeouts, outlier detection (and drills' fault injection) with istio."""

    @field_validator("slots")
    @classmethod
    def _slots(cls, v: dict[str, Track]) -> dict[str, Track]:
        unknown = sorted(set(v) - set(SLOT_NAMES))
        if unknown:
            raise ValueError(f"unknown slot {unknown}; allowed: blue, green")
        return v

    @model_validator(mode="after")
    def _coherent(self) -> Strategy:
        if self.engine == "argo-rollouts" and self.type == "rolling":
            raise ValueError("engine argo-rollouts needs type blue-green or canary")
        if self.weight and (self.type != "canary" or self.engine != "native"):
            raise ValueError(
                f"weight {self.weight} applies to type canary with engine native only "
                f"(here: {self.type}, {self.engine}); Argo Rollouts takes weights from steps"
            )
        if self.weight and self.canary is None:
            raise ValueError(
                f"weight {self.weight} needs a canary track: declare canary.version first"
            )
        if self.steps is not None and not self.steps:
            raise ValueError("steps is empty; give at least one step or leave it out")
        return self


class Service(Spec):
    """One microservice, as its team declares it."""

    name: str
    """DNS-1123 label, at most 40 characters (object names get suffixes)."""
    team: str
    """Owning team; also its namespace."""
    image: str
    """Image repository without tag, e.g. `ghcr.io/acme/orders`."""
    version: Version
    ports: list[Port] = Field(min_length=1)
    resources: Resources = Resources()
    probes: Probes
    config: dict[str, str] = Field(default_factory=dict)
    """Plain settings, rendered into an immutable ConfigMap."""
    secrets: list[SecretRef] = Field(default_factory=list)
    replicas: int = Field(default=2, ge=0, le=1000)
    """Used when autoscaling is off; default: 2 (prod requires ≥ 2)."""
    autoscaling: Autoscaling | None = None
    strategy: Strategy = Strategy()
    allow_from: list[str] = Field(default_factory=list)
    """Services (by name) allowed to call this one; everything else is denied."""
    flags: dict[str, bool] = Field(default_factory=dict)
    """Feature toggles (name -> on/off), overridable per environment; a toggle edits a file
    the pods read (or an OpenFeature flag), never the pods themselves."""
    public: bool = False
    """Expose through the target's entry point and global DNS."""
    cost_center: str = "shared"
    """Billing label on every object; default: shared."""
    slo: SloArgs = Field(default_factory=SloArgs)
    """Service level objectives: alerts, dashboard and the deploy health gate derive from it."""
    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per-environment overrides, merged over the base (maps deep, lists replaced)."""
    _source: str | None = PrivateAttr(default=None)
    _override: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str | None:
        """The catalog file this service was read from, when read from one (for messages)."""
        return self._source

    @property
    def override(self) -> dict[str, Any]:
        """The `environments.<env>` override it was read with, as written (for messages)."""
        return self._override

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns_label(v, max_len=40)

    @field_validator("team")
    @classmethod
    def _team(cls, v: str) -> str:
        return check_dns_label(v, max_len=40)  # the namespace (prefix + team): build

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        if "@" in v or (":" in v.rsplit("/", 1)[-1]):
            raise ValueError(f"{v!r}: give the repository only; tag and digest go under version")
        if not IMAGE_REPO.fullmatch(v):
            raise ValueError(f"{v!r} is not an image repository (e.g. ghcr.io/acme/orders)")
        return v

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, str]) -> dict[str, str]:
        return check_config_keys(v)

    @field_validator("allow_from")
    @classmethod
    def _callers(cls, v: list[str]) -> list[str]:
        return sorted({check_dns_label(x, max_len=40) for x in v})

    @field_validator("flags")
    @classmethod
    def _flags(cls, v: dict[str, bool]) -> dict[str, bool]:
        for k in v:
            if not FLAG_NAME.match(k):
                raise ValueError(f"flag name {k!r}: lower-case letters, digits, '-', '_', '.'")
        return v

    @field_validator("environments")
    @classmethod
    def _envs(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for env, override in v.items():
            if env not in ENVIRONMENTS:
                raise ValueError(f"unknown environment {env!r}; allowed: {', '.join(ENVIRONMENTS)}")
            for forbidden in ("name", "team", "environments"):
                if forbidden in override:
                    raise ValueError(f"environments.{env}.{forbidden} cannot be overridden")
        return v

    @model_validator(mode="after")
    def _ports(self) -> Service:
        names = [p.name for p in self.ports]
        if len(set(names)) != len(names):
            raise ValueError(f"port names must be unique; got {names}")
        nums = [p.port for p in self.ports]
        if len(set(nums)) != len(nums):
            raise ValueError(f"port numbers must be unique; got {nums}")
        for probe in (self.probes.liveness, self.probes.readiness, self.probes.startup):
            if probe is not None and probe.port not in names:
                raise ValueError(f"probe port {probe.port!r} is not one of the ports {names}")
        envs = [s.env for s in self.secrets]
        if len(set(envs)) != len(envs):
            raise ValueError(f"secret env names must be unique; got {envs}")
        clash = sorted(set(envs) & set(self.config))
        if clash:
            raise ValueError(f"{clash} are both config and secrets; pick one")
        return self

    @property
    def image_ref(self) -> str:
        """`repo:tag@digest`, `repo@digest` or `repo:tag`."""
        ref = self.image
        if self.version.tag:
            ref += f":{self.version.tag}"
        if self.version.digest:
            ref += f"@{self.version.digest}"
        return ref


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge `override` into `base`: maps merge recursively, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


_SafeLoader: type = SafeLoader  # libyaml when present; 64-bit integers, finite floats


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Safe loader (libyaml's parser when present) that refuses duplicate keys; aliases are
    refused before construction by `_refuse_aliases` (anchors are a bomb vector)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class refuses it with its mark
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _refuse_aliases(text: str) -> None:
    """Raise at the first alias, before anything is composed or expanded."""
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases are not allowed in the catalog", event.start_mark
            )


def load_yaml_document(path: Path) -> dict[str, Any]:
    """Read one YAML mapping, turning every way it can be wrong into BadInput."""
    data = read_yaml(
        path, max_bytes=MAX_DOC_BYTES, loader=_UniqueKeyLoader, check_text=_refuse_aliases
    )
    if data is None:
        raise BadInput("file is empty; expected a service definition", file=str(path))
    if not isinstance(data, dict):
        raise BadInput(
            f"expected a mapping at the top level, got {type(data).__name__}", file=str(path)
        )
    return data


def _loc(loc: Iterable[Any]) -> str:
    """A pydantic error location as the YAML path people write: `ports[0].port`."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _format_errors(exc: ValidationError, prefix: str = "") -> tuple[str, str]:
    """First error's field path and a message listing every error with what was given.

    Said in the file's terms, not the validator's: `is required`, `must be text`, `unknown
    field; did you mean …?` (the closest field of that mapping), `given: a mapping`; never
    pydantic's `Value error,` prefix. What was given stays (redaction happens elsewhere).
    """
    import difflib
    import types
    from typing import Union, get_args, get_origin

    from stacks.config import Model

    plain_types = {
        "missing": "is required",
        "string_type": "must be text",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
    }

    def plain(msg: str) -> str:
        """`Value error, x` -> `x`; `Input should be 'a' or 'b'` -> `must be 'a' or 'b'`."""
        for noise in ("Value error, ", "Assertion failed, "):
            msg = msg.replace(noise, "")
        msg = re.sub(r"^(Input|String|List|Dictionary|Value|Tuple|Set) should ", "must ", msg)
        return msg.replace(" after validation", "")

    def model_in(tp: Any) -> Any:
        """The model inside `X | None` (or the only type of a union)."""
        if get_origin(tp) in (Union, types.UnionType):
            inner = [a for a in get_args(tp) if a is not type(None)]
            found = [a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)]
            return found[0] if found else (inner[0] if len(inner) == 1 else None)
        return tp

    def model_at(loc: list[Any]) -> type[BaseModel] | None:
        """The model of the mapping at `loc` of the validated model (the catalog's Service,
        the stack's StackConfig); None when it is not a model."""
        models: dict[str, type[BaseModel]] = {}
        todo: list[type[BaseModel]] = [Spec, Model]
        while todo:
            cls = todo.pop()
            models.setdefault(cls.__name__, cls)
            todo.extend(cls.__subclasses__())
        tp: Any = models.get(exc.title)
        for item in loc:
            tp = model_in(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                found = [f for n, f in tp.model_fields.items() if item in (n, f.alias)]
                tp = found[0].annotation if found else None
            elif get_origin(tp) in (list, dict, tuple) and get_args(tp):
                tp = get_args(tp)[-1]
            else:
                return None
        tp = model_in(tp)
        return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None

    def fields_at(loc: list[Any]) -> list[str]:
        """YAML names of the fields of the mapping at `loc`; empty when it is not a model."""
        model = model_at(loc)
        return sorted(f.alias or n for n, f in model.model_fields.items()) if model else []

    def file_terms(msg: str, loc: list[Any]) -> str:
        """Field names in a rule's message as the file spells them: a component's rule says
        `min_replicas`, the catalog file `minReplicas`."""
        model = model_at(loc)
        for name, info in model.model_fields.items() if model else ():
            if info.alias and info.alias != name:
                msg = re.sub(rf"\b{name}\b", info.alias, msg)
        return msg

    lines = []
    first_field = ""
    for err in exc.errors(include_url=False):
        loc = [x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-"))]
        field = (prefix + "." if prefix else "") + _loc(loc) if loc else prefix or "(top level)"
        first_field = first_field or field
        given = err.get("input")
        if isinstance(given, dict):
            shown = "a mapping"
        elif isinstance(given, list | tuple):
            shown = "a list"
        else:
            shown = repr(given)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
            close = difflib.get_close_matches(str(loc[-1]), fields_at(loc[:-1]), n=1) if loc else []
            if close:
                msg += f"; did you mean `{close[0]}`?"
        else:
            msg = plain_types.get(err["type"]) or file_terms(plain(err["msg"]), loc)
        given_note = "" if err["type"] == "missing" else f" (given: {shown})"
        lines.append(f"{field}: {msg}{given_note}")
    return first_field, "; ".join(lines)


def parse_service(data: dict[str, Any], env: str, source: str) -> Service:
    """Validate one service document and apply the `environments.<env>` override.

    Every environment's override is validated, not only `env`'s: a broken prod override must
    fail the dev preview that CI runs on every pull request.
    """
    try:
        base = Service.model_validate(data)
    except ValidationError as exc:
        _, msg = _format_errors(exc)
        raise BadInput(msg, file=source) from exc
    base_data = {k: v for k, v in data.items() if k != "environments"}
    chosen = base
    for name in sorted(base.environments):
        override = base.environments[name]
        try:
            merged = Service.model_validate(deep_merge(base_data, override))
        except ValidationError as exc:
            _, msg = _format_errors(exc)
            raise BadInput(f"with environments.{name} applied: {msg}", file=source) from exc
        if name == env:
            chosen = merged
    chosen._source = source
    chosen._override = base.environments.get(env) or {}
    return chosen


def load_catalog(directory: Path, env: str) -> list[Service]:
    """Load every `*.yaml`/`*.yml` in `directory`, sorted by service name.

    Raises BadInput for any file that does not parse or validate, for duplicate names, and for
    `allowFrom` entries naming no service of the catalog.
    """
    if not directory.is_dir():
        raise BadInput("catalog folder not found", file=str(directory))
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise BadInput("catalog folder has no *.yaml service files", file=str(directory))
    services: list[Service] = []
    seen: dict[str, Path] = {}
    for path in files:
        svc = parse_service(load_yaml_document(path), env, str(path))
        if svc.name in seen:
            raise BadInput(
                f"duplicate service name {svc.name!r} (also in {seen[svc.name]})",
                file=str(path),
                field="name",
            )
        seen[svc.name] = path
        services.append(svc)
    known = set(seen)
    for svc in services:
        unknown = [c for c in svc.allow_from if c not in known]
        if unknown:
            raise BadInput(
                f"names no service of the catalog: {unknown}; known: {sorted(known)}",
                file=str(seen[svc.name]),
                field="allowFrom",
            )
    return sorted(services, key=lambda s: s.name)


def version_field(service: Service, track: str | None, environment: str) -> str:
    """Where a version is declared: `version`, or a slot's or the canary's version, under
    `environments.<env>.` when the environment's override declares it (for messages)."""
    if track is None:
        return "version"
    path = "strategy.canary" if track == "canary" else f"strategy.slots.{track}"
    node: Any = service.override
    for key in [*path.split("."), "version"]:
        node = node.get(key) if isinstance(node, dict) else None
    return f"environments.{environment}.{path}.version" if node else f"{path}.version"
