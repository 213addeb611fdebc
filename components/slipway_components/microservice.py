"""`Microservice`: one service's Kubernetes objects, hardened by default.

Importable on its own (no catalog, no stacks, no config reads): other teams build it from
their own programs with `MicroserviceArgs` (or the equivalent dict), wiring any
`pulumi.Input[str]` field (image, namespace, team, labels, config values, peers...) from
another resource's outputs. What it creates, each a child named `<name>-<role>` with
`parent=self`:

| role | object |
| --- | --- |
| `sa` | ServiceAccount, token not mounted (pods with flagd flags mount it: flagd reads the API) |
| `config` | ConfigMap, immutable, name carries a content hash (a change rolls the pods) |
| `secrets` | Secret from Pulumi secrets (only when there are secrets), mounted as files |
| `deployment` | Deployment (rolling) — other strategies add their own workloads |
| `service` | Service, ClusterIP |
| `hpa` | HorizontalPodAutoscaler autoscaling/v2 (when autoscaling is set) |
| `pdb` | PodDisruptionBudget |
| `netpol` | NetworkPolicy: deny all, allow declared callers in and DNS + declared callees out |

With sidecars the NetworkPolicy also lets the pods reach istiod; with flagd flags, the API
server (`kubernetes_api_cidrs`).

Those are the rolling strategy's children (names pinned by tests). `args.strategy` chooses the
workload shape instead: blue-green slots (components/slipway_components/bluegreen.py), a
weighted canary (components/slipway_components/canary.py) or an Argo Rollout
(components/slipway_components/rollouts.py); `args.traffic` adds the Istio mesh policy or
Gateway API routes (components/slipway_components/traffic.py); `args.flags` the feature-flag
objects (components/slipway_components/flags.py). Every shape is built from one `WorkloadKit`
(components/slipway_components/kit.py) and returns what it created; the Microservice exposes
those as the attributes below. The set of children never depends on an Output's value, so an
unknown input (a first preview) still registers every child under the same URN.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, ValidationInfo, field_validator, model_validator

from slipway_components.bluegreen import build_blue_green
from slipway_components.canary import build_canary
from slipway_components.flags import build_flags, flag_mount
from slipway_components.kit import (
    AutoscalingArgs,
    Peer,
    RollingArgs,
    WorkloadArgs,
    WorkloadKit,
)
from slipway_components.podspec import (
    ContainerPort,
    HttpProbe,
    PodTemplateArgs,
    ResourceArgs,
    SecurityArgs,
    derive,
)
from slipway_components.rollouts import build_rollout
from slipway_components.strategies import StrategyArgs, canary_capacity
from slipway_components.traffic import TrafficArgs, build_istio

TYPE = "slipway:apps:Microservice"

# The models a Microservice is made of stay importable from here, where they used to live.
__all__ = [
    "TYPE",
    "AutoscalingArgs",
    "ContainerPort",
    "HttpProbe",
    "Microservice",
    "MicroserviceArgs",
    "Peer",
    "PodTemplateArgs",
    "ResourceArgs",
    "RollingArgs",
    "RollingParts",
    "SecurityArgs",
    "StrategyArgs",
    "TrafficArgs",
    "WorkloadArgs",
    "as_microservice_args",
    "build_rolling",
]


class Sizing(Protocol):
    """What the capacity rule reads of a strategy: `StrategyArgs`, or the catalog's copy."""

    @property
    def engine(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def weight(self) -> int: ...
    @property
    def live_replicas(self) -> int | None: ...
    @property
    def canary_replicas(self) -> int: ...
    @property
    def canary(self) -> object: ...


def capacity_problem(
    st: Sizing,
    auto: AutoscalingArgs | None,
    name: Callable[[str], str] = lambda field: field,
) -> tuple[str, str] | None:
    """`(field, why)` when a held blue-green slot or a sized native canary does not fit the
    autoscaler (the HPA's minReplicas is held at that size and needs room above it), or a
    canary would get all traffic without being sized for it; None when it fits. `name`
    spells field names (the catalog's are camelCase), so the component and the catalog check
    with this one rule."""
    if st.engine != "native" or st.type == "rolling" or auto is None:
        return None
    if st.type == "canary" and st.weight == 100 and not st.live_replicas:
        return "weight", (
            f"strategy.{name('weight')} 100 sends every request to the canary track, which is "
            f"sized from the stable track's live pods: give strategy.{name('live_replicas')} "
            "(slipway canary reads it), or promote the canary instead (slipway promote)"
        )
    floor = max(st.live_replicas or 0, auto.min_replicas)
    if st.type == "blue-green":
        need, what = floor, name("live_replicas")
    else:
        need = canary_capacity(st.weight, st.canary_replicas, floor) if st.canary else 0
        what = f"the canary's size for weight {st.weight}"
    if need >= auto.max_replicas:
        return "live_replicas", (
            f"strategy: {what} is {need} pods, not below autoscaling.{name('max_replicas')} "
            f"{auto.max_replicas}: the HPA's minReplicas is held there and needs room to "
            f"scale above it; raise {name('max_replicas')}"
        )
    return None


class MicroserviceArgs(WorkloadArgs):
    """What a Microservice needs. Every optional field has a secure, documented default.

    The workload fields come from `WorkloadArgs`; fields typed `pulumi.Input[str]` take plain
    strings (checked now) or Outputs (checked when they resolve, the error naming the field).
    """

    strategy: StrategyArgs = StrategyArgs()
    """How a new version reaches users; default: rolling (see
    components/slipway_components/strategies.py)."""
    traffic: TrafficArgs = Field(default=TrafficArgs(), validate_default=True)
    """The stack's traffic layer and mesh policy; default: none (validated even when left
    out: a canary needs one)."""
    flags: dict[str, bool] = Field(default_factory=dict)
    """Feature toggles; default: none (no flag objects)."""
    flag_provider: Literal["configmap", "flagd"] = "configmap"
    """`configmap`: a mounted `<svc>-flags` file; `flagd`: an OpenFeature FeatureFlag."""
    kubernetes_api_cidrs: list[str] = Field(default_factory=list, validate_default=True)
    """flagd: the Kubernetes API server's addresses (CIDRs). The OpenFeature operator's flagd
    sidecar watches the FeatureFlag through the API, so pods with flagd flags (only they) mount
    their ServiceAccount token and may reach these on 443/6443. Required with flags on flagd;
    default: none."""

    @field_validator("kubernetes_api_cidrs")
    @classmethod
    def _flagd_reaches_the_api(cls, cidrs: list[str], info: ValidationInfo) -> list[str]:
        for cidr in cidrs:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"kubernetes_api_cidrs: {cidr!r} is not a CIDR ({exc})") from None
        if info.data.get("flags") and info.data.get("flag_provider") == "flagd" and not cidrs:
            raise ValueError(
                "flags on provider flagd need kubernetes_api_cidrs: the injected flagd sidecar "
                "reads the FeatureFlag from the Kubernetes API, which the NetworkPolicy "
                "otherwise blocks (give the API server's endpoint addresses)"
            )
        return cidrs

    @property
    def reads_kubernetes_api(self) -> bool:
        """Whether the pods read the API: flags on flagd (its sidecar syncs from there)."""
        return bool(self.flags) and self.flag_provider == "flagd"

    @field_validator("strategy")
    @classmethod
    def _tracks_apart_from_secrets(cls, st: StrategyArgs, info: ValidationInfo) -> StrategyArgs:
        secrets = info.data.get("secrets") or {}
        for track in ("blue", "green", "canary"):
            clash = sorted(set(st.track(track).config) & set(secrets))
            if clash:
                raise ValueError(f"strategy.{track}.config {clash} are also secrets; pick one")
        return st

    @model_validator(mode="after")
    def _capacity_fits(self) -> MicroserviceArgs:
        problem = capacity_problem(self.strategy, self.autoscaling)
        if problem is not None:
            raise ValueError(problem[1])
        return self

    @field_validator("traffic")
    @classmethod
    def _canary_needs_a_layer(cls, traffic: TrafficArgs, info: ValidationInfo) -> TrafficArgs:
        st: StrategyArgs | None = info.data.get("strategy")
        if st is not None and st.type == "canary" and traffic.layer == "none":
            raise ValueError(
                "strategy canary needs a traffic layer to split requests by weight; "
                "traffic.layer is 'none' (allowed: istio, gateway-api; or use strategy.type "
                "rolling or blue-green)"
            )
        if (
            st is not None
            and st.engine == "argo-rollouts"
            and st.type == "canary"
            and traffic.layer != "istio"
            and any(s.set_mirror_route is not None for s in st.steps)
        ):
            raise ValueError(
                f"set_mirror_route needs the istio traffic layer (here {traffic.layer!r}): "
                "the Gateway API plugin pinned for Argo Rollouts does not mirror"
            )
        return traffic


@dataclass(frozen=True)
class RollingParts:
    """What the rolling strategy created."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    pdb: k8s.policy.v1.PodDisruptionBudget
    hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler | None = None


def build_rolling(kit: WorkloadKit) -> RollingParts:
    """One Deployment, the Service, the HPA and the PDB: the child names tests pin."""
    svc = kit.args.service_name
    deployment = kit.deployment("deployment", svc)
    service = kit.service(f"{kit.name}-service", svc, kit.selector)
    hpa = kit.hpa("Deployment", svc)
    pdb = kit.pdb(f"{kit.name}-pdb", svc, kit.selector)
    return RollingParts(deployment=deployment, service=service, pdb=pdb, hpa=hpa)


def as_microservice_args(args: Any) -> MicroserviceArgs:
    """`MicroserviceArgs` as given, or validated from the equivalent dict (nested dicts for
    strategy, traffic, ports... included), as Pulumi's own SDKs accept dicts for args."""
    if isinstance(args, MicroserviceArgs):
        return args
    if isinstance(args, Mapping):
        return MicroserviceArgs.model_validate(dict(args))
    raise TypeError(
        f"Microservice args must be a MicroserviceArgs or a dict of its fields, "
        f"not {type(args).__module__}.{type(args).__qualname__}"
    )


class Microservice(pulumi.ComponentResource):
    """A microservice: workload, config, secrets, service, autoscaling, disruption budget
    and network policy, with the Pod Security Standards' restricted profile by default."""

    args: MicroserviceArgs
    """The validated args it was built from."""

    service_name: pulumi.Output[str]
    """Kubernetes name of the Service (and workload)."""
    namespace: pulumi.Output[str]
    """Namespace the objects live in."""
    config_map_name: pulumi.Output[str]
    """Name of the current hashed ConfigMap."""
    url: pulumi.Output[str]
    """In-cluster URL of the first port."""

    service_account: k8s.core.v1.ServiceAccount
    """`<name>-sa`: the pods' ServiceAccount."""
    config_map: k8s.core.v1.ConfigMap
    """`<name>-config`: the service's hashed, immutable ConfigMap."""
    secret: k8s.core.v1.Secret | None = None
    """`<name>-secrets`: the Pulumi secrets, mounted as files (None without secrets)."""
    track_config_maps: dict[str, k8s.core.v1.ConfigMap]
    """Slot or track -> its own ConfigMap (`<name>-config-<slot>`), when it overrides config."""
    flags_config_map: k8s.core.v1.ConfigMap | None = None
    """`<name>-flags` with the configmap flag provider."""
    feature_flag: k8s.apiextensions.CustomResource | None = None
    """`<name>-flags` with the flagd provider: the OpenFeature FeatureFlag."""
    feature_flag_source: k8s.apiextensions.CustomResource | None = None
    """`<name>-flagsource` with the flagd provider."""

    deployment: k8s.apps.v1.Deployment | None = None
    """rolling: `<name>-deployment`; canary: the stable track's `<name>-stable`."""
    canary_deployment: k8s.apps.v1.Deployment | None = None
    """canary: `<name>-canary`, once a canary track is declared."""
    canary_hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler | None = None
    """canary: `<name>-hpa-canary` (with autoscaling and a canary track)."""
    slots: dict[str, k8s.apps.v1.Deployment]
    """blue-green: slot -> its Deployment `<name>-<slot>`."""
    slot_hpas: dict[str, k8s.autoscaling.v2.HorizontalPodAutoscaler]
    """blue-green: slot -> its HPA `<name>-hpa-<slot>` (autoscaled, unparked slots)."""
    slot_pdbs: dict[str, k8s.policy.v1.PodDisruptionBudget]
    """blue-green: slot -> its PDB `<name>-pdb-<slot>`."""
    rollout: k8s.apiextensions.CustomResource | None = None
    """argo-rollouts: `<name>-rollout`."""
    analysis_template: k8s.apiextensions.CustomResource | None = None
    """argo-rollouts: `<name>-analysis`."""
    pre_rollout_template: k8s.apiextensions.CustomResource | None = None
    """argo-rollouts with `strategy.pre_rollout`: `<name>-pre-rollout`."""
    service: k8s.core.v1.Service
    """`<name>-service`: the live Service `<svc>`."""
    preview_service: k8s.core.v1.Service | None = None
    """blue-green (native or Argo): `<name>-preview`, Service `<svc>-preview`."""
    track_services: dict[str, k8s.core.v1.Service]
    """canary with the Gateway API: track -> `<name>-service-<track>`."""
    hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler | None = None
    """`<name>-hpa` (with autoscaling; blue-green has `slot_hpas` instead)."""
    pdb: k8s.policy.v1.PodDisruptionBudget | None = None
    """`<name>-pdb` (blue-green has `slot_pdbs` instead)."""
    network_policy: k8s.networking.v1.NetworkPolicy
    """`<name>-netpol`."""
    peer_authentication: k8s.apiextensions.CustomResource | None = None
    """istio: `<name>-peerauth`."""
    destination_rule: k8s.apiextensions.CustomResource | None = None
    """istio: `<name>-destrule`."""
    virtual_service: k8s.apiextensions.CustomResource | None = None
    """istio: `<name>-vs`."""
    http_route: k8s.apiextensions.CustomResource | None = None
    """canary with the Gateway API: `<name>-route`."""

    def __init__(
        self,
        name: str,
        args: MicroserviceArgs | Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = as_microservice_args(args)
        super().__init__(TYPE, name, {}, opts)
        self.args = args
        self.slots, self.slot_hpas, self.slot_pdbs = {}, {}, {}
        self.track_services, self.track_config_maps = {}, {}

        mount, annotations = flag_mount(args.service_name, args.flags, args.flag_provider)
        kit = WorkloadKit(
            self,
            name,
            args,
            flags_config_map_name=mount,
            pod_annotations=annotations,
            mesh=args.traffic.mesh_mode,
            kubernetes_api_cidrs=args.kubernetes_api_cidrs if args.reads_kubernetes_api else (),
        )
        self.service_account = kit.service_account()
        self.config_map = kit.config_map()
        self.secret = kit.secret()
        self._take(build_flags(kit, args.flags, args.flag_provider))

        st = args.strategy
        if st.engine == "argo-rollouts":
            self._take(build_rollout(kit, st, args.traffic))
        elif st.type == "blue-green":
            self._take(build_blue_green(kit, st))
        elif st.type == "canary":
            self._take(build_canary(kit, st, args.traffic))
        else:
            self._take(build_rolling(kit))

        self.network_policy = kit.network_policy()

        if args.traffic.layer == "istio" and st.type != "canary":
            self._take(build_istio(kit, args.traffic, subsets=False, split=None))

        svc, ns, port = args.service_name, args.namespace, args.ports[0].port
        self.service_name = pulumi.Output.from_input(svc)
        self.namespace = pulumi.Output.from_input(ns)
        self.config_map_name = pulumi.Output.from_input(kit.config_map_name)
        self.url = pulumi.Output.from_input(
            derive(lambda n: f"http://{svc}.{n}.svc.cluster.local:{port}", ns)
        )
        self.register_outputs(
            {
                "service_name": self.service_name,
                "namespace": self.namespace,
                "config_map_name": self.config_map_name,
                "url": self.url,
            }
        )

    # -- what each builder created, as declared attributes ------------------------------------

    def _take(self, parts: Any) -> None:
        """Set each part a builder returned as the attribute of the same name; a builder's
        mesh objects (canary, Rollout) are taken the same way."""
        for item in dataclasses.fields(parts):
            value = getattr(parts, item.name)
            if item.name == "mesh":
                if value is not None:
                    self._take(value)
            else:
                setattr(self, item.name, value)
