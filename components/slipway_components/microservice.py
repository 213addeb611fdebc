"""`Microservice`: one service's Kubernetes objects, hardened by default.

Importable on its own (no catalog, no stacks, no config reads): other teams build it from
their own programs with `MicroserviceArgs`. What it creates, each a child named
`<name>-<role>` with `parent=self`:

| role | object |
| --- | --- |
| `sa` | ServiceAccount, token not mounted |
| `config` | ConfigMap, immutable, name carries a content hash (a change rolls the pods) |
| `secrets` | Secret from Pulumi secrets (only when there are secrets), mounted as files |
| `deployment` | Deployment (rolling) — other strategies add their own workloads |
| `service` | Service, ClusterIP |
| `hpa` | HorizontalPodAutoscaler autoscaling/v2 (when autoscaling is set) |
| `pdb` | PodDisruptionBudget |
| `netpol` | NetworkPolicy: deny all, allow declared callers in and DNS + declared callees out |

Those are the rolling strategy's children (names pinned by tests). `args.strategy` chooses the
workload shape instead: blue-green slots (components/bluegreen.py), a weighted canary
(components/canary.py) or an Argo Rollout (components/rollouts.py); `args.traffic` adds the
Istio mesh policy or Gateway API routes (components/traffic.py); `args.flags` the feature-flag
objects (components/flags.py). Every workload shape uses the same hardened pod template.
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, field_validator, model_validator

from slipway_components.bluegreen import build_blue_green
from slipway_components.canary import build_canary
from slipway_components.flags import build_flags
from slipway_components.naming import check_dns_label, check_image_ref, check_workload_namespace
from slipway_components.podspec import (
    Args,
    ContainerPort,
    HttpProbe,
    PodTemplateArgs,
    ResourceArgs,
    SecurityArgs,
    content_hash,
    pod_template,
)
from slipway_components.rollouts import build_rollout
from slipway_components.strategies import StrategyArgs
from slipway_components.traffic import TrafficArgs, build_istio

TYPE = "slipway:apps:Microservice"


class Peer(Args):
    """Another service, for NetworkPolicy rules."""

    name: str
    namespace: str
    ports: list[int] = Field(default_factory=list)
    """Ports to allow towards it (egress); empty: all its ports."""


class AutoscalingArgs(Args):
    min_replicas: int = Field(2, ge=1)
    """default: 2, so one pod can fail or be evicted without an outage."""
    max_replicas: int = Field(6, ge=1)
    cpu_utilization: int | None = Field(70, ge=1, le=100)
    memory_utilization: int | None = Field(None, ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingArgs:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas {self.min_replicas} exceeds max_replicas {self.max_replicas}"
            )
        if self.cpu_utilization is None and self.memory_utilization is None:
            raise ValueError("autoscaling needs cpu_utilization and/or memory_utilization")
        return self


class RollingArgs(Args):
    """Rolling update tuning; defaults never drop below the desired capacity."""

    max_surge: int | str = "25%"
    max_unavailable: int | str = 0
    min_ready_seconds: int = Field(10, ge=0)
    progress_deadline_seconds: int = Field(600, ge=30)


class MicroserviceArgs(Args):
    """What a Microservice needs. Every optional field has a secure, documented default."""

    service_name: str
    """Kubernetes name of the service (DNS label); the Pulumi name may carry a target prefix."""
    namespace: str
    """Namespace to deploy into; `default` is refused."""
    team: str
    """Owning team, set as the `team` label on every object."""
    cost_center: str = "shared"
    """`cost-center` label on every object; default: shared."""
    image: str
    """Full image reference with a tag other than latest and/or a digest."""
    ports: list[ContainerPort] = Field(min_length=1)
    liveness: HttpProbe
    readiness: HttpProbe
    startup: HttpProbe | None = None
    resources: ResourceArgs = ResourceArgs()
    security: SecurityArgs = SecurityArgs()
    config: dict[str, str] = Field(default_factory=dict)
    """Plain settings as environment variables, via an immutable hashed ConfigMap."""
    secrets: dict[str, Any] = Field(default_factory=dict)
    """Env name -> Pulumi secret (Output[str]); mounted as files, `<NAME>_FILE` points to each."""
    external_secret_name: str | None = None
    """A Secret kept in sync from a cloud store (e.g. by the External Secrets Operator);
    default: none."""
    external_secret_keys: list[str] = Field(default_factory=list)
    """Keys of that Secret, mounted as files like `secrets`."""
    replicas: int = Field(2, ge=0)
    """Pods when autoscaling is off; default: 2."""
    autoscaling: AutoscalingArgs | None = None
    """default: none (fixed replicas)."""
    rolling: RollingArgs = RollingArgs()
    allow_from: list[Peer] = Field(default_factory=list)
    """Callers allowed in on the service ports; default: nobody."""
    allow_from_namespaces: list[str] = Field(default_factory=list)
    """Whole namespaces allowed in (an ingress gateway's); default: none."""
    calls: list[Peer] = Field(default_factory=list)
    """Services this one may call (egress); DNS is always allowed; default: nothing else."""
    pdb_max_unavailable: int = Field(1, ge=1)
    """Pods a voluntary disruption may take at once; default: 1."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels on every object."""
    version_label: str | None = None
    """`app.kubernetes.io/version` on pods; default: the image tag."""
    strategy: StrategyArgs = StrategyArgs()
    """How a new version reaches users; default: rolling (see components/strategies.py)."""
    traffic: TrafficArgs = TrafficArgs()
    """The stack's traffic layer and mesh policy; default: none."""
    flags: dict[str, bool] = Field(default_factory=dict)
    """Feature toggles; default: none (no flag objects)."""
    flag_provider: Literal["configmap", "flagd"] = "configmap"
    """`configmap`: a mounted `<svc>-flags` file; `flagd`: an OpenFeature FeatureFlag."""

    @field_validator("service_name")
    @classmethod
    def _svc(cls, v: str) -> str:
        return check_dns_label(v, max_len=40)

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        return check_image_ref(v)

    @field_validator("namespace")
    @classmethod
    def _ns(cls, v: str) -> str:
        return check_workload_namespace(v)

    @model_validator(mode="after")
    def _consistent(self) -> MicroserviceArgs:
        names = {p.name for p in self.ports}
        for probe in (self.liveness, self.readiness, self.startup):
            if probe is not None and probe.port not in names:
                raise ValueError(f"probe port {probe.port!r} is not a container port {names}")
        if self.autoscaling and self.autoscaling.min_replicas < 1:
            raise ValueError("autoscaling.min_replicas must be ≥ 1")
        st = self.strategy
        if st.type == "canary" and self.traffic.layer == "none":
            raise ValueError(
                "strategy canary needs a traffic layer to split requests by weight; the "
                "traffic layer is 'none' (allowed: istio, gateway-api; or use rolling or "
                "blue-green)"
            )
        if st.engine == "argo-rollouts" and st.type == "rolling":
            raise ValueError(
                "engine argo-rollouts needs type blue-green or canary (rolling is a Deployment)"
            )
        for track in ("blue", "green", "canary"):
            clash = sorted(set(st.track(track).config) & set(self.secrets))
            if clash:
                raise ValueError(f"{track} config {clash} are also secrets; pick one")
        return self

    def common_labels(self) -> dict[str, str]:
        """Labels every object carries: name, owner, billing, manager."""
        return {
            **self.labels,
            "app.kubernetes.io/name": self.service_name,
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/part-of": "slipway",
            "team": self.team,
            "cost-center": self.cost_center,
        }


class Microservice(pulumi.ComponentResource):
    """A microservice: workload, config, secrets, service, autoscaling, disruption budget
    and network policy, with the Pod Security Standards' restricted profile by default."""

    service_name: pulumi.Output[str]
    """Kubernetes name of the Service (and workload)."""
    namespace: pulumi.Output[str]
    """Namespace the objects live in."""
    config_map_name: pulumi.Output[str]
    """Name of the current hashed ConfigMap."""
    url: pulumi.Output[str]
    """In-cluster URL of the first port."""

    def __init__(
        self, name: str, args: MicroserviceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, {}, opts)
        self.args = args
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        ns = args.namespace
        svc = args.service_name

        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=self._meta(svc),
            automount_service_account_token=False,
            opts=child,
        )

        config_name = f"{svc}-config-{content_hash(args.config)}"
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=self._meta(config_name),
            data=dict(sorted(args.config.items())),
            immutable=True,
            opts=child,
        )

        self.secret: k8s.core.v1.Secret | None = None
        if args.secrets:
            self.secret = k8s.core.v1.Secret(
                f"{name}-secrets",
                metadata=self._meta(f"{svc}-secrets"),
                type="Opaque",
                string_data={
                    key: pulumi.Output.secret(value) for key, value in sorted(args.secrets.items())
                },
                opts=child,
            )

        self.flags_config_map: k8s.core.v1.ConfigMap | None = None
        self.flags_config_map_name, self.flag_annotations = build_flags(self)

        self.pod_args = self._pod_args(args.image, config_name, version=args.version_label)
        self.selector = {"app.kubernetes.io/name": svc}
        self.workload_deps = [self.config_map] + ([self.secret] if self.secret else [])

        st = args.strategy
        if st.engine == "argo-rollouts":
            build_rollout(self)
        elif st.type == "blue-green":
            build_blue_green(self)
        elif st.type == "canary":
            build_canary(self)
        else:
            self._build_rolling()

        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=self._meta(svc),
            spec=self._network_policy_spec(),
            opts=child,
        )

        if args.traffic.layer == "istio" and st.type != "canary":
            build_istio(self, subsets=False, split=None)

        self.service_name = pulumi.Output.from_input(svc)
        self.namespace = pulumi.Output.from_input(ns)
        self.config_map_name = pulumi.Output.from_input(config_name)
        self.url = pulumi.Output.from_input(
            f"http://{svc}.{ns}.svc.cluster.local:{args.ports[0].port}"
        )
        self.register_outputs(
            {
                "service_name": self.service_name,
                "namespace": self.namespace,
                "config_map_name": self.config_map_name,
                "url": self.url,
            }
        )

    # -- rolling ------------------------------------------------------------------------------

    def _build_rolling(self) -> None:
        """One Deployment, the Service, the HPA and the PDB: the child names tests pin."""
        svc = self.args.service_name
        self.deployment = k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=self._meta(svc),
            spec=self._deployment_spec(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.workload_deps),
        )
        self.service = self._service(f"{self._name}-service", svc, self.selector)
        self.hpa: k8s.autoscaling.v2.HorizontalPodAutoscaler | None = None
        if self.args.autoscaling:
            self.hpa = self._hpa("Deployment", svc)
        self.pdb = self._pdb(f"{self._name}-pdb", svc, self.selector)

    # -- pieces, reusable by strategies -------------------------------------------------------

    def _meta(
        self,
        object_name: str,
        extra_labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> dict:
        labels = {**self.args.common_labels(), **(extra_labels or {})}
        meta: dict[str, Any] = {
            "name": object_name,
            "namespace": self.args.namespace,
            "labels": dict(sorted(labels.items())),
        }
        if annotations:
            meta["annotations"] = dict(sorted(annotations.items()))
        return meta

    def _pod_args(
        self,
        image: str,
        config_map_name: str,
        *,
        version: str | None = None,
        extra_labels: dict[str, str] | None = None,
    ) -> PodTemplateArgs:
        """The hardened pod template's inputs for one workload (a slot, a track, or the only
        one): same security, probes, secrets and flags; its own image, config and labels."""
        a = self.args
        svc = a.service_name
        version_label = version or _tag_of(image)
        return PodTemplateArgs(
            service_name=svc,
            image=image,
            ports=a.ports,
            liveness=a.liveness,
            readiness=a.readiness,
            startup=a.startup,
            resources=a.resources,
            security=a.security,
            config_map_name=config_map_name,
            secret_name=f"{svc}-secrets" if a.secrets else None,
            secret_keys=sorted(a.secrets),
            external_secret_name=a.external_secret_name,
            external_secret_keys=sorted(a.external_secret_keys),
            flags_config_map_name=self.flags_config_map_name,
            service_account_name=svc,
            labels={
                **a.common_labels(),
                **({"app.kubernetes.io/version": version_label} if version_label else {}),
                **(extra_labels or {}),
            },
            annotations=dict(self.flag_annotations),
        )

    def _service(
        self, resource_name: str, object_name: str, selector: dict[str, str]
    ) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            resource_name,
            metadata=self._meta(object_name),
            spec={
                "type": "ClusterIP",
                "selector": dict(selector),
                "ports": [
                    {
                        "name": p.name,
                        "port": p.port,
                        "targetPort": p.name,
                        "protocol": p.protocol,
                    }
                    for p in self.args.ports
                ],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _pdb(
        self, resource_name: str, object_name: str, selector: dict[str, str]
    ) -> k8s.policy.v1.PodDisruptionBudget:
        return k8s.policy.v1.PodDisruptionBudget(
            resource_name,
            metadata=self._meta(object_name),
            spec={
                "maxUnavailable": self.args.pdb_max_unavailable,
                "selector": {"matchLabels": dict(selector)},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _deployment_spec(
        self,
        pod_args: PodTemplateArgs | None = None,
        selector: dict[str, str] | None = None,
        replicas: int | None = None,
    ) -> dict[str, Any]:
        """Deployment spec. `replicas` None: the HPA owns the count (or `args.replicas`)."""
        a = self.args
        spec: dict[str, Any] = {
            "selector": {"matchLabels": dict(selector or self.selector)},
            "revisionHistoryLimit": 5,
            "minReadySeconds": a.rolling.min_ready_seconds,
            "progressDeadlineSeconds": a.rolling.progress_deadline_seconds,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {
                    "maxSurge": a.rolling.max_surge,
                    "maxUnavailable": a.rolling.max_unavailable,
                },
            },
            "template": pod_template(pod_args or self.pod_args),
        }
        if replicas is not None:
            spec["replicas"] = replicas
        elif a.autoscaling is None:
            # With an HPA the replica count belongs to the autoscaler; declaring it here would
            # reset the live count on every `pulumi up`.
            spec["replicas"] = a.replicas
        return spec

    def _hpa(
        self,
        kind: str,
        target: str,
        api_version: str = "apps/v1",
        *,
        resource_name: str | None = None,
        object_name: str | None = None,
    ):
        a = self.args
        assert a.autoscaling is not None
        metrics = []
        if a.autoscaling.cpu_utilization is not None:
            metrics.append(_utilization("cpu", a.autoscaling.cpu_utilization))
        if a.autoscaling.memory_utilization is not None:
            metrics.append(_utilization("memory", a.autoscaling.memory_utilization))
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            resource_name or f"{self._name}-hpa",
            metadata=self._meta(object_name or a.service_name),
            spec={
                "scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": target},
                "minReplicas": a.autoscaling.min_replicas,
                "maxReplicas": a.autoscaling.max_replicas,
                "metrics": metrics,
                "behavior": {
                    "scaleDown": {
                        "stabilizationWindowSeconds": 300,
                        "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                    }
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _track_config_map(self, role: str, track_config: dict[str, str]) -> str:
        """ConfigMap name for a slot or track: the service's, or (with overrides) its own
        hashed, immutable `<svc>-<role>-config-<hash>`."""
        if not track_config:
            return f"{self.args.service_name}-config-{content_hash(self.args.config)}"
        merged = {**self.args.config, **track_config}
        name = f"{self.args.service_name}-{role}-config-{content_hash(merged)}"
        cm = k8s.core.v1.ConfigMap(
            f"{self._name}-config-{role}",
            metadata=self._meta(name),
            data=dict(sorted(merged.items())),
            immutable=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.workload_deps.append(cm)
        return name

    def _network_policy_spec(self) -> dict[str, Any]:
        a = self.args
        ports = [{"port": p.name, "protocol": p.protocol} for p in a.ports]
        ingress: list[dict[str, Any]] = []
        for peer in sorted(a.allow_from, key=lambda p: (p.namespace, p.name)):
            ingress.append(
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": peer.namespace}
                            },
                            "podSelector": {"matchLabels": {"app.kubernetes.io/name": peer.name}},
                        }
                    ],
                    "ports": ports,
                }
            )
        for namespace in sorted(a.allow_from_namespaces):
            ingress.append(
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": namespace}
                            }
                        }
                    ],
                    "ports": ports,
                }
            )
        egress: list[dict[str, Any]] = [
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                        },
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            }
        ]
        for peer in sorted(a.calls, key=lambda p: (p.namespace, p.name)):
            rule: dict[str, Any] = {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": peer.namespace}
                        },
                        "podSelector": {"matchLabels": {"app.kubernetes.io/name": peer.name}},
                    }
                ]
            }
            if peer.ports:
                rule["ports"] = [{"port": p, "protocol": "TCP"} for p in sorted(peer.ports)]
            egress.append(rule)
        return {
            "podSelector": {"matchLabels": self.selector},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        }


def _tag_of(image: str) -> str | None:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _utilization(resource: str, percent: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {
            "name": resource,
            "target": {"type": "Utilization", "averageUtilization": percent},
        },
    }
