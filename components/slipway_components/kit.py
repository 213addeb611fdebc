"""The workload kit: what every workload shape is built from.

`Microservice` and each strategy (rolling, blue-green slots, a weighted canary, an Argo
Rollout, the mesh objects, the flag objects) build their Kubernetes objects from one
`WorkloadKit`: object metadata, the hardened pod template's inputs, Deployment specs, the
Service, HPA, PDB and NetworkPolicy, the ServiceAccount, the hashed ConfigMaps and the Secret.
So every shape gets the same labels, security and names, and a strategy module needs the kit
and its own args, never the `Microservice` around them.

`WorkloadArgs` is what the kit needs to know about a service; `MicroserviceArgs` adds the
strategy, traffic and flag args on top. Fields a consumer may wire from another resource take
`pulumi.Input[str]`; whatever the kit derives from them (the ConfigMap hash, the version label,
hosts, peers' order) stays plain for plain values and becomes an Output for Outputs, and no
object is ever created inside an `apply`: with unknown inputs every child still registers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from slipway_components.naming import check_dns_label
from slipway_components.podspec import (
    Args,
    ContainerPort,
    HttpProbe,
    ImageInput,
    InputStr,
    NamespaceInput,
    PodTemplateArgs,
    ResourceArgs,
    SecurityArgs,
    derive,
    given,
    hashed_name,
    is_output,
    pod_template,
)
from slipway_components.strategies import TrackArgs

ISTIO_NAMESPACE = "istio-system"
ISTIOD_XDS_PORT = 15012
"""istiod's port for sidecars' configuration (xDS) and certificates."""
HBONE_PORT = 15008
"""Ambient: ztunnel tunnels pod-to-pod traffic (HBONE) to this port of the destination pod."""
AMBIENT_PROBE_SOURCE = "169.254.7.127/32"
"""Ambient: the address the Istio CNI agent rewrites the kubelet's probes to come from (so
ztunnel lets them pass); a deny-by-default ingress policy must admit it or probes fail."""
KUBE_API_PORTS = (443, 6443)
"""Ports the Kubernetes API server listens on: 443 on EKS and GKE, 6443 on kubeadm and kind."""


class Peer(Args):
    """Another service, for NetworkPolicy rules."""

    name: InputStr
    """Its Kubernetes name (`app.kubernetes.io/name` of its pods)."""
    namespace: InputStr
    """Its namespace (Input)."""
    ports: list[int] = Field(default_factory=list)
    """Ports to allow towards it (egress); empty: all its ports."""


class AutoscalingArgs(Args):
    """Horizontal pod autoscaling (autoscaling/v2) on CPU and/or memory utilization."""

    min_replicas: int = Field(default=2, ge=1, le=1000)
    """default: 2, so one pod can fail or be evicted without an outage."""
    max_replicas: int = Field(default=6, ge=1, le=1000)
    """Most pods the autoscaler may run; default: 6."""
    cpu_utilization: int | None = Field(default=70, ge=1, le=100)
    """Target average CPU utilization in percent of the request; None: CPU is not a scaling
    metric; default: 70."""
    memory_utilization: int | None = Field(default=None, ge=1, le=100)
    """Target average memory utilization in percent of the request; default: None (memory is
    not a scaling metric)."""

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingArgs:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas {self.min_replicas} exceeds max_replicas {self.max_replicas}"
            )
        if self.cpu_utilization is None and self.memory_utilization is None:
            raise ValueError("autoscaling needs cpu_utilization and/or memory_utilization")
        return self


def check_count_or_percentage(v: int | str) -> int | str:
    """A Deployment's maxSurge / maxUnavailable: a count ≥ 0 or a whole percentage ≤ 100%."""
    if isinstance(v, str) and not re.fullmatch(r"^([0-9]|[1-9][0-9]|100)%$", v):
        shown = repr(v) if len(v) <= 40 else repr(v[:40]) + f" (and {len(v) - 40} more)"
        raise ValueError(f"{shown} is neither a count nor a percentage like 25%")
    if isinstance(v, int) and v < 0:
        raise ValueError(f"{v} must be ≥ 0")
    return v


CountOrPercentage = Annotated[int | str, AfterValidator(check_count_or_percentage)]
"""A pod count or a percentage of the desired count; the check travels with the field, so a
model that takes it with `model_fields[...]` (the catalog) checks it too."""


class RollingArgs(Args):
    """Rolling update tuning; defaults never drop below the desired capacity."""

    max_surge: CountOrPercentage = "25%"
    """Pods above the desired count during a rolling update: a count or a percentage such as
    `25%`; default: 25%."""
    max_unavailable: CountOrPercentage = 0
    """Pods below the desired count during a rolling update: a count or a percentage; default:
    0, so capacity never drops."""
    min_ready_seconds: int = Field(default=10, ge=0, le=3600)
    """Seconds a new pod must be ready before it counts as available; default: 10."""
    progress_deadline_seconds: int = Field(default=600, ge=30, le=7200)
    """Seconds an update may make no progress before the Deployment reports it failed;
    default: 600."""


class WorkloadArgs(Args):
    """What every workload shape of a service needs. Every optional field has a secure,
    documented default; `MicroserviceArgs` adds strategy, traffic and flags."""

    service_name: str
    """Kubernetes name of the service (DNS label); the Pulumi name may carry a target prefix."""
    namespace: NamespaceInput
    """Namespace to deploy into (Input); `default` and the cluster's own are refused."""
    team: InputStr
    """Owning team (Input), set as the `team` label on every object."""
    cost_center: InputStr = "shared"
    """`cost-center` label on every object (Input); default: shared."""
    image: ImageInput
    """Full image reference (Input) with a tag other than latest and/or a digest."""
    ports: list[ContainerPort] = Field(min_length=1)
    """Container ports, at least one; the first is the one in the service URL."""
    liveness: HttpProbe
    """Liveness probe: the kubelet restarts a container failing it."""
    readiness: HttpProbe
    """Readiness probe: a pod failing it gets no traffic."""
    startup: HttpProbe | None = None
    """Startup probe, holding off the other probes while a slow container starts; default:
    none."""
    resources: ResourceArgs = ResourceArgs()
    """CPU and memory requests and limits; default: ResourceArgs' defaults."""
    security: SecurityArgs = SecurityArgs()
    """Pod and container security context; default: the restricted profile."""
    config: dict[str, InputStr] = Field(default_factory=dict)
    """Plain settings (Input values) as environment variables, via an immutable hashed
    ConfigMap."""
    secrets: dict[str, Any] = Field(default_factory=dict)
    """Env name -> Pulumi secret (Output[str]); mounted as files, `<NAME>_FILE` points to each."""
    external_secret_name: InputStr | None = None
    """A Secret kept in sync from a cloud store (e.g. by the External Secrets Operator);
    default: none."""
    external_secret_keys: list[str] = Field(default_factory=list)
    """Keys of that Secret, mounted as files like `secrets`."""
    replicas: int = Field(default=2, ge=0)
    """Pods when autoscaling is off; default: 2."""
    autoscaling: AutoscalingArgs | None = None
    """default: none (fixed replicas)."""
    rolling: RollingArgs = RollingArgs()
    """Rolling update tuning of the Deployment(s); default: RollingArgs' defaults."""
    allow_from: list[Peer] = Field(default_factory=list)
    """Callers allowed in on the service ports; default: nobody."""
    allow_from_namespaces: list[InputStr] = Field(default_factory=list)
    """Whole namespaces (Inputs) allowed in (an ingress gateway's); default: none."""
    calls: list[Peer] = Field(default_factory=list)
    """Services this one may call (egress); DNS is always allowed; default: nothing else."""
    pdb_max_unavailable: int = Field(default=1, ge=1)
    """Pods a voluntary disruption may take at once; default: 1."""
    labels: dict[str, InputStr] = Field(default_factory=dict)
    """Extra labels (Input values) on every object."""
    version_label: InputStr | None = None
    """`app.kubernetes.io/version` on pods (Input); default: the image tag."""

    @field_validator("service_name")
    @classmethod
    def _svc(cls, v: str) -> str:
        return check_dns_label(v, max_len=40)

    @field_validator("liveness", "readiness", "startup")
    @classmethod
    def _probe_port(cls, probe: HttpProbe | None, info: ValidationInfo) -> HttpProbe | None:
        ports: list[ContainerPort] | None = info.data.get("ports")
        if probe is not None and ports is not None:
            names = sorted(p.name for p in ports)
            if probe.port not in names:
                raise ValueError(
                    f"{info.field_name}.port: probe port {probe.port!r} is not a container "
                    f"port (ports are named {names})"
                )
        return probe

    def common_labels(self) -> dict[str, pulumi.Input[str]]:
        """Labels every object carries: name, owner, billing, manager."""
        return {
            **self.labels,
            "app.kubernetes.io/name": self.service_name,
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/part-of": "slipway",
            "team": self.team,
            "cost-center": self.cost_center,
        }


class WorkloadKit:
    """The pieces a workload shape builds its objects from, all children of `owner` named
    `<name>-<role>`. Build one per component; strategy builders take it (and their own args)
    and return what they created.

    `depends_on` collects what every workload waits for (the ConfigMaps and the Secret); the
    flag mount and pod annotations come from the flag objects, decided before the kit.
    """

    owner: pulumi.Resource
    """Parent of every child."""
    name: str
    """Pulumi name of the owner; children are `<name>-<role>`."""
    args: WorkloadArgs
    """The service's args."""
    selector: dict[str, str]
    """Labels selecting all of the service's pods; a slot or track adds its own key."""
    config_map_name: pulumi.Input[str]
    """Name of the service's hashed ConfigMap (an Output when a config value is one)."""
    depends_on: list[pulumi.Resource]
    """Objects every workload waits for: ConfigMaps and the Secret, as they are created."""

    def __init__(
        self,
        owner: pulumi.Resource,
        name: str,
        args: WorkloadArgs,
        *,
        flags_config_map_name: str | None = None,
        pod_annotations: Mapping[str, str] | None = None,
        mesh: str = "none",
        kubernetes_api_cidrs: Sequence[str] = (),
    ) -> None:
        self.owner = owner
        self.name = name
        self.args = args
        self.selector = {"app.kubernetes.io/name": args.service_name}
        self.config_map_name = hashed_name(f"{args.service_name}-config", args.config)
        self.depends_on = []
        self._flags_config_map_name = flags_config_map_name
        self._pod_annotations = dict(pod_annotations or {})
        self.mesh = mesh
        """The mesh data plane (`sidecar`, `ambient`, `none`): the NetworkPolicy's mesh ports."""
        self.kubernetes_api_cidrs = list(kubernetes_api_cidrs)
        """Where the Kubernetes API is, for pods that read it (flagd): they get a token and
        egress there; empty for every other pod (no token, no such egress)."""

    # -- options and metadata -------------------------------------------------------------------

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options of a child: parented to the owner, plus `kwargs`."""
        return pulumi.ResourceOptions(parent=self.owner, **kwargs)

    def workload_opts(self, *extra: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options of a workload: it waits for `depends_on` (as of now) and `extra`."""
        return self.opts(depends_on=[*self.depends_on, *extra])

    def meta(
        self,
        object_name: pulumi.Input[str],
        extra_labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Object metadata: name, the service's namespace, the common labels (+ extra)."""
        labels = {**self.args.common_labels(), **(extra_labels or {})}
        meta: dict[str, Any] = {
            "name": object_name,
            "namespace": self.args.namespace,
            "labels": dict(sorted(labels.items())),
        }
        if annotations:
            meta["annotations"] = dict(sorted(annotations.items()))
        return meta

    def fqdn(self, service: str | None = None) -> pulumi.Input[str]:
        """In-cluster DNS name of the service (or of another Service in its namespace)."""
        name = service or self.args.service_name
        return derive(lambda ns: f"{name}.{ns}.svc.cluster.local", self.args.namespace)

    # -- the objects every shape shares ---------------------------------------------------------

    def service_account(self) -> k8s.core.v1.ServiceAccount:
        """`<name>-sa`: the pods' identity, its token not mounted."""
        return k8s.core.v1.ServiceAccount(
            f"{self.name}-sa",
            metadata=self.meta(self.args.service_name),
            automount_service_account_token=False,
            opts=self.opts(),
        )

    def config_map(self) -> k8s.core.v1.ConfigMap:
        """`<name>-config`: the service's settings, immutable, its name carrying a content
        hash (a change rolls the pods). Workloads wait for it."""
        cm = k8s.core.v1.ConfigMap(
            f"{self.name}-config",
            metadata=self.meta(self.config_map_name),
            data=dict(sorted(self.args.config.items())),
            immutable=True,
            opts=self.opts(),
        )
        self.depends_on.append(cm)
        return cm

    def secret(self) -> k8s.core.v1.Secret | None:
        """`<name>-secrets` from Pulumi secrets (none without secrets). Workloads wait for it."""
        a = self.args
        if not a.secrets:
            return None
        secret = k8s.core.v1.Secret(
            f"{self.name}-secrets",
            metadata=self.meta(f"{a.service_name}-secrets"),
            type="Opaque",
            string_data={
                key: pulumi.Output.secret(value) for key, value in sorted(a.secrets.items())
            },
            opts=self.opts(),
        )
        self.depends_on.append(secret)
        return secret

    def track_config_map(
        self, role: str, overrides: Mapping[str, pulumi.Input[str]]
    ) -> tuple[pulumi.Input[str], k8s.core.v1.ConfigMap | None]:
        """ConfigMap of a slot or track: the service's (no overrides), or its own hashed,
        immutable `<svc>-<role>-config-<hash>` (child `<name>-config-<role>`), which workloads
        created after it wait for. Returns (its name, the new ConfigMap or None)."""
        a = self.args
        if not overrides:
            return self.config_map_name, None
        merged = {**a.config, **overrides}
        name = hashed_name(f"{a.service_name}-{role}-config", merged)
        cm = k8s.core.v1.ConfigMap(
            f"{self.name}-config-{role}",
            metadata=self.meta(name),
            data=dict(sorted(merged.items())),
            immutable=True,
            opts=self.opts(),
        )
        self.depends_on.append(cm)
        return name, cm

    def pod_args(
        self,
        track: TrackArgs | None = None,
        *,
        config_map_name: pulumi.Input[str] | None = None,
        extra_labels: Mapping[str, str] | None = None,
    ) -> PodTemplateArgs:
        """The hardened pod template's inputs for one workload: same security, probes, secrets
        and flags everywhere; the image and version of `track` (a slot's or the canary's,
        each falling back to the service's) or of the service; its ConfigMap (default: the
        service's) and extra labels."""
        a = self.args
        track = track or TrackArgs()
        image = track.image if given(track.image) else a.image
        version = track.version_label
        if not given(version):
            version = None if given(track.image) else a.version_label
        version_label = version if given(version) else _version_of(image)
        svc = a.service_name
        return PodTemplateArgs(
            service_name=svc,
            image=image,
            ports=a.ports,
            liveness=a.liveness,
            readiness=a.readiness,
            startup=a.startup,
            resources=a.resources,
            security=a.security,
            config_map_name=self.config_map_name if config_map_name is None else config_map_name,
            secret_name=f"{svc}-secrets" if a.secrets else None,
            secret_keys=sorted(a.secrets),
            external_secret_name=a.external_secret_name,
            external_secret_keys=sorted(a.external_secret_keys),
            flags_config_map_name=self._flags_config_map_name,
            service_account_name=svc,
            automount_service_account_token=bool(self.kubernetes_api_cidrs),
            labels={
                **a.common_labels(),
                **({"app.kubernetes.io/version": version_label} if given(version_label) else {}),
                **(extra_labels or {}),
            },
            annotations=dict(self._pod_annotations),
        )

    def deployment_spec(
        self,
        pod_args: PodTemplateArgs | None = None,
        selector: Mapping[str, str] | None = None,
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
            "template": pod_template(pod_args or self.pod_args()),
        }
        if replicas is not None:
            spec["replicas"] = replicas
        elif a.autoscaling is None:
            # With an HPA the replica count belongs to the autoscaler; declaring it here would
            # reset the live count on every `pulumi up`.
            spec["replicas"] = a.replicas
        return spec

    def deployment(
        self,
        role: str,
        object_name: str,
        pod_args: PodTemplateArgs | None = None,
        selector: Mapping[str, str] | None = None,
        *,
        replicas: int | None = None,
        extra_labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> k8s.apps.v1.Deployment:
        """`<name>-<role>`: a Deployment of the hardened pod template, waiting for
        `depends_on`."""
        return k8s.apps.v1.Deployment(
            f"{self.name}-{role}",
            metadata=self.meta(object_name, extra_labels, annotations),
            spec=self.deployment_spec(pod_args, selector, replicas),
            opts=self.workload_opts(),
        )

    def service(
        self,
        resource_name: str,
        object_name: str,
        selector: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
        *,
        wait_for: Sequence[pulumi.Resource] = (),
    ) -> k8s.core.v1.Service:
        """A ClusterIP Service over `selector`'s pods, one port per container port (`opts`:
        instead of the plain child options); created or changed only after `wait_for` (e.g.
        the workload it is about to send traffic to)."""
        return k8s.core.v1.Service(
            resource_name,
            metadata=self.meta(object_name),
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
            opts=pulumi.ResourceOptions.merge(
                opts or self.opts(), pulumi.ResourceOptions(depends_on=list(wait_for))
            ),
        )

    def pdb(
        self, resource_name: str, object_name: str, selector: Mapping[str, str]
    ) -> k8s.policy.v1.PodDisruptionBudget:
        """A PodDisruptionBudget over `selector`'s pods (`pdb_max_unavailable`)."""
        return k8s.policy.v1.PodDisruptionBudget(
            resource_name,
            metadata=self.meta(object_name),
            spec={
                "maxUnavailable": self.args.pdb_max_unavailable,
                "selector": {"matchLabels": dict(selector)},
            },
            opts=self.opts(),
        )

    def hpa(
        self,
        kind: str,
        target: str,
        api_version: str = "apps/v1",
        *,
        resource_name: str | None = None,
        object_name: str | None = None,
        min_replicas: int | None = None,
    ) -> k8s.autoscaling.v2.HorizontalPodAutoscaler | None:
        """An autoscaling/v2 HPA scaling `kind`/`target` (default child `<name>-hpa`, object
        `<svc>`), its floor raised to `min_replicas` when given; None when the service has no
        autoscaling."""
        a = self.args
        if a.autoscaling is None:
            return None
        metrics = []
        if a.autoscaling.cpu_utilization is not None:
            metrics.append(_utilization("cpu", a.autoscaling.cpu_utilization))
        if a.autoscaling.memory_utilization is not None:
            metrics.append(_utilization("memory", a.autoscaling.memory_utilization))
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            resource_name or f"{self.name}-hpa",
            metadata=self.meta(object_name or a.service_name),
            spec={
                "scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": target},
                "minReplicas": max(a.autoscaling.min_replicas, min_replicas or 0),
                "maxReplicas": a.autoscaling.max_replicas,
                "metrics": metrics,
                "behavior": {
                    "scaleDown": {
                        "stabilizationWindowSeconds": 300,
                        "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                    }
                },
            },
            opts=self.opts(),
        )

    def network_policy(self) -> k8s.networking.v1.NetworkPolicy:
        """`<name>-netpol`: deny all, allow declared callers in and DNS + declared callees
        out."""
        return k8s.networking.v1.NetworkPolicy(
            f"{self.name}-netpol",
            metadata=self.meta(self.args.service_name),
            spec=self.network_policy_spec(),
            opts=self.opts(),
        )

    def network_policy_spec(self) -> dict[str, Any]:
        """The NetworkPolicy's spec. Peers given as plain values are sorted (a reorder in the
        args changes nothing); peers wired from Outputs follow, in the order given."""
        a = self.args
        ports = [{"port": p.name, "protocol": p.protocol} for p in a.ports]
        if self.mesh == "ambient":
            # ztunnel delivers mesh traffic to the pod's HBONE port, not the service port.
            ports.append({"port": HBONE_PORT, "protocol": "TCP"})
        ingress: list[dict[str, Any]] = []
        for peer in sorted_peers(a.allow_from):
            ingress.append({"from": [_peer_selector(peer)], "ports": ports})
        for namespace in sorted_plain_first(a.allow_from_namespaces):
            ingress.append({"from": [_namespace_selector(namespace)], "ports": ports})
        if self.mesh == "ambient":
            ingress.append({"from": [{"ipBlock": {"cidr": AMBIENT_PROBE_SOURCE}}], "ports": ports})
        egress: list[dict[str, Any]] = [
            {
                "to": [
                    {
                        **_namespace_selector("kube-system"),
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            }
        ]
        for peer in sorted_peers(a.calls):
            rule: dict[str, Any] = {"to": [_peer_selector(peer)]}
            if peer.ports:
                wanted = {*peer.ports, *([HBONE_PORT] if self.mesh == "ambient" else [])}
                rule["ports"] = [{"port": p, "protocol": "TCP"} for p in sorted(wanted)]
            egress.append(rule)
        if self.mesh == "sidecar":
            # The sidecar fetches its configuration and certificate from istiod; without this
            # it never becomes ready.
            egress.append(
                {
                    "to": [
                        {
                            **_namespace_selector(ISTIO_NAMESPACE),
                            "podSelector": {"matchLabels": {"app": "istiod"}},
                        }
                    ],
                    "ports": [{"port": ISTIOD_XDS_PORT, "protocol": "TCP"}],
                }
            )
        if self.kubernetes_api_cidrs:
            # flagd watches its FeatureFlag through the API server, which no selector can
            # name: its endpoint addresses, as the stack gives them.
            egress.append(
                {
                    "to": [{"ipBlock": {"cidr": c}} for c in self.kubernetes_api_cidrs],
                    "ports": [{"port": p, "protocol": "TCP"} for p in KUBE_API_PORTS],
                }
            )
        return {
            "podSelector": {"matchLabels": self.selector},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        }


def sorted_peers(peers: list[Peer]) -> list[Peer]:
    """Plain peers sorted by (namespace, name), then peers with an Output field as given:
    an unknown value cannot be sorted, and the order must not depend on it."""
    plain = [p for p in peers if not (is_output(p.namespace) or is_output(p.name))]
    wired = [p for p in peers if is_output(p.namespace) or is_output(p.name)]
    return sorted(plain, key=lambda p: (p.namespace, p.name)) + wired


def sorted_plain_first(values: list[pulumi.Input[str]]) -> list[pulumi.Input[str]]:
    """Plain values sorted, then Outputs as given (see `sorted_peers`)."""
    return sorted(v for v in values if not is_output(v)) + [v for v in values if is_output(v)]


def _namespace_selector(namespace: pulumi.Input[str]) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def _peer_selector(peer: Peer) -> dict[str, Any]:
    return {
        **_namespace_selector(peer.namespace),
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": peer.name}},
    }


def _tag_of(image: str) -> str | None:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _version_of(image: pulumi.Input[str]) -> pulumi.Input[str] | None:
    """The version label an image implies: its tag. A plain image without one (a digest
    only) has no label; for an Output image, whose tag is not known yet, the label is always
    there (the set of labels cannot wait for the value) and empty without a tag."""
    if is_output(image):
        return pulumi.Output.from_input(image).apply(lambda i: _tag_of(i) or "")
    return _tag_of(image)


def _utilization(resource: str, percent: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {
            "name": resource,
            "target": {"type": "Utilization", "averageUtilization": percent},
        },
    }
