"""Composition: for each target × service, wire components together.

Nothing here defines infrastructure of its own beyond namespaces and the per-target
component that parents everything of a target. Names are prefixed by the target name so that
adding or removing a target never changes the URNs or inputs of another target's resources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

from slipway.errors import BadInput
from slipway_components import Microservice, MicroserviceArgs, Peer, ResourceArgs, RollingArgs
from slipway_components.microservice import capacity_problem
from slipway_components.naming import check_workload_namespace
from slipway_components.observability import ServiceObservability, ServiceObservabilityArgs
from slipway_components.strategies import (
    AnalysisArgs,
    StepArgs,
    StrategyArgs,
    TrackArgs,
)
from slipway_components.traffic import RetryArgs, TrafficArgs
from stacks.catalog import Service, Track, version_field
from stacks.config import StackConfig, TargetConfig
from stacks.layers import PlatformReference

TARGET_TYPE = "slipway:stacks:Target"

SecretLookup = Callable[[str], pulumi.Output[str]]


class Target(pulumi.ComponentResource):
    """Parent of everything placed in one (cloud, region) target; its name is the target's."""

    def __init__(self, config: TargetConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TARGET_TYPE, config.name, {}, opts)
        self.config = config


@dataclass
class BuiltTarget:
    """What the composition produced for one target (consumed by global traffic)."""

    config: TargetConfig
    component: Target
    k8s_provider: k8s.Provider
    services: dict[str, Microservice] = field(default_factory=dict)
    extras: object | None = None


@dataclass
class BuiltStack:
    """What the program built: per target, and the stack outputs to export."""

    targets: list[BuiltTarget]
    outputs: dict[str, Any]


def namespace_for(stack: StackConfig, team: str) -> str:
    """Team namespace name: the optional stack prefix plus the team."""
    return f"{stack.namespace_prefix}{team}"


def image_for(
    service: Service,
    target: TargetConfig,
    cloud: Any = None,
    stack: StackConfig | None = None,
    track: str | None = None,
) -> pulumi.Input[str]:
    """Image reference in a target: by digest from the target's own registry (a cloud
    target's, through the platform), else the registry mirror named in the stack file, else
    the catalog's repository. `track` names the slot or canary whose version this is."""
    if cloud is not None:
        digest = service.version.digest
        if not digest:
            file = source_of(service, stack) if stack else f"{service.name}.yaml"
            field = version_field(service, track, stack.environment if stack else "") + ".digest"
            raise BadInput(
                f"{service.name} {service.version.tag}: a cloud target pulls images by digest "
                f"from its own registry (copied there by `slipway images`); give {field}",
                file=file,
                field=field,
            )
        tag = f":{service.version.tag}" if service.version.tag else ""
        name = service.name

        def repository(images: Any) -> str:
            if not isinstance(images, dict) or not images.get(name):
                raise BadInput(
                    f"target {target.name!r} has no image repository for {name!r} yet: the "
                    "platform stack creates one per catalog service, so `pulumi up` it first",
                    file=source_of(service, stack) if stack else f"{name}.yaml",
                    field="name",
                )
            return str(images[name])

        images = cloud.images
        # The platform's images (a services stack) are one Output of every service's
        # repository: read this service's entry from it. `Output.from_input` would lift each
        # entry into an Output of its own, for every service in every target: quadratic in
        # the fleet (most of a 1000-service preview's memory). This stack's own registries
        # are a dict of Outputs, which does need lifting.
        chosen = (
            images.apply(repository)
            if isinstance(images, pulumi.Output)
            else pulumi.Output.from_input(images).apply(repository)
        )
        return chosen.apply(lambda repo: f"{repo}{tag}@{digest}")
    if target.registry:
        repo = f"{target.registry.rstrip('/')}/{service.name}"
        ref = repo
        if service.version.tag:
            ref += f":{service.version.tag}"
        if service.version.digest:
            ref += f"@{service.version.digest}"
        return ref
    return service.image_ref


def shared(spec: BaseModel, args: type[BaseModel], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The values of the settings a catalog model shares with component args by name (the
    catalog takes those fields from the component), passed through as they are; `skip`
    names the ones of the catalog's own shape."""
    return {
        name: getattr(spec, name)
        for name in type(spec).model_fields
        if name in args.model_fields and name not in skip
    }


def microservice_args(
    service: Service,
    stack: StackConfig,
    target: TargetConfig,
    catalog: dict[str, Service],
    secrets: SecretLookup,
    cloud: Any = None,
    generate: SecretLookup | None = None,
) -> MicroserviceArgs:
    """Translate a catalog entry into component args for one target (`cloud`: the cloud
    target, whose registry the images come from)."""
    ns = namespace_for(stack, service.team)
    callers = [
        Peer(name=c, namespace=namespace_for(stack, catalog[c].team)) for c in service.allow_from
    ]
    callees = [
        Peer(
            name=other.name,
            namespace=namespace_for(stack, other.team),
            ports=[p.port for p in other.ports],
        )
        for other in catalog.values()
        if service.name in other.allow_from
    ]
    secret_values: dict[str, pulumi.Output[str]] = {}
    external_keys: list[str] = []
    for ref in service.secrets:
        if ref.source == "pulumi-config":
            secret_values[ref.env] = secrets(ref.key)
            continue
        if ref.source == "generated":
            if stack.environment != "dev" or generate is None:
                raise BadInput(
                    f"secret {ref.env!r}: a generated value stands in for a real credential "
                    f"and is for dev only (this is {stack.environment}); use pulumi-config or "
                    f"a cloud store in environments.{stack.environment}.secrets",
                    file=source_of(service, stack),
                    field="secrets",
                )
            secret_values[ref.env] = generate(ref.key)
            continue
        wanted = {
            "aws-secrets-manager": ("aws",),
            "gcp-secret-manager": ("gcp",),
            "cloud-secret-manager": ("aws", "gcp"),
        }[ref.source]
        if target.cloud not in wanted:
            raise BadInput(
                f"secret {ref.env!r} uses source {ref.source!r}, which needs a target on "
                f"{' or '.join(wanted)}; target {target.name!r} is {target.cloud!r}: use "
                f"pulumi-config there, or override the source in environments.<env>.secrets",
                file=source_of(service, stack),
                field="secrets",
            )
        check_secret_name(ref.key, target.cloud, service, stack)
        external_keys.append(ref.env)
    # A services stack pulls from the registries its platform filled before its `up`; a stack
    # of layer `all` creates its registries in the same `up`, so it pulls from the catalog's.
    own_registry = cloud if stack.layer == "services" else None
    r = service.resources
    st = service.strategy
    source = source_of(service, stack)
    check_strategy(service, stack, source)
    if service.flags and stack.traffic.flags == "flagd" and not target.kubernetes_api_cidrs:
        raise BadInput(
            f"service {service.name!r} has flags, which flagd reads from the Kubernetes API, "
            f"and target {target.name!r} does not say where that API is: give its "
            "kubernetesApiCidrs (the API server's endpoint addresses)",
            file=stack_file(),
            field=f"slipway:targets[{target.name}].kubernetesApiCidrs",
        )
    try:
        return MicroserviceArgs(
            service_name=service.name,
            namespace=ns,
            team=service.team,
            cost_center=service.cost_center,
            image=image_for(service, target, own_registry, stack),
            ports=service.ports,
            liveness=service.probes.liveness,
            readiness=service.probes.readiness,
            startup=service.probes.startup,
            resources=ResourceArgs(
                cpu_request=r.requests.cpu,
                memory_request=r.requests.memory,
                cpu_limit=r.limits.cpu,
                memory_limit=r.limits.memory,
            ),
            config=service.config,
            secrets=secret_values,
            external_secret_name=f"{service.name}-external" if external_keys else None,
            external_secret_keys=external_keys,
            replicas=service.replicas,
            autoscaling=service.autoscaling,
            rolling=RollingArgs(**shared(st, RollingArgs)),
            allow_from=callers,
            calls=callees,
            version_label=service.version.tag,
            strategy=strategy_args(service, target, own_registry, stack),
            traffic=traffic_args(service, stack),
            flags=service.flags,
            flag_provider=stack.traffic.flags,
            kubernetes_api_cidrs=target.kubernetes_api_cidrs,
        )
    except ValidationError as exc:
        errors = exc.errors()
        msgs = "; ".join(e["msg"].removeprefix("Value error, ") for e in errors)
        first = str(errors[0]["loc"][0]) if errors and errors[0]["loc"] else ""
        raise BadInput(
            msgs, file=source, field=MICROSERVICE_FIELD_SOURCES.get(first, first)
        ) from exc


SECRET_NAME_RULES = {
    "aws": (
        re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}"),
        "AWS Secrets Manager names allow letters, digits and /_+=.@- (1 to 512)",
    ),
    "gcp": (
        re.compile(r"[A-Za-z0-9_-]{1,255}"),
        "GCP Secret Manager ids allow letters, digits, - and _ (1 to 255)",
    ),
}
"""Each cloud store's naming rule, from its API reference (CreateSecret in AWS Secrets
Manager; CreateSecretRequest.secret_id in GCP Secret Manager). The mock engine takes any
name; the store refuses the create or the read at `pulumi up`, or the External Secrets
Operator never syncs, so a name the target's store cannot hold is refused here."""


def check_secret_name(key: str, cloud: str, service: Service, stack: StackConfig) -> None:
    """A secret read from `cloud`'s store must be a name that store can hold."""
    pattern, rule = SECRET_NAME_RULES[cloud]
    if not pattern.fullmatch(key):
        raise BadInput(
            f"secret name {key!r} cannot exist in the {cloud} target's store: {rule}; "
            f"a name kept in every cloud's store must follow the strictest, e.g. "
            f"{re.sub(r'[^A-Za-z0-9_-]', '-', key)!r}",
            file=source_of(service, stack),
            field="secrets[].key",
        )


def check_strategy(service: Service, stack: StackConfig, source: str) -> None:
    """Refuse what the stack cannot do, naming the file, the field and what is allowed."""
    st = service.strategy
    where = f"strategy (environment {stack.environment})"
    if st.type == "canary" and stack.traffic.layer == "none":
        raise BadInput(
            "type canary needs a traffic layer to split requests by weight, and this stack's "
            "slipway:traffic.layer is 'none'; allowed here: rolling or blue-green, or set "
            "the stack's traffic layer to istio or gateway-api",
            file=source,
            field=f"{where}.type",
        )
    mesh = stack.traffic.mesh_mode
    if st.type == "canary" and stack.traffic.layer != "none" and mesh != "sidecar":
        why = {
            "none": "with no mesh the service's own Service selects both tracks, so callers "
            "reach the canary by its share of pods, whatever the weight (the Gateway API "
            "layer's mesh routes need a mesh implementation too)",
            "ambient": "in ambient mode Istio routes by weight only through a waypoint proxy, "
            "which this stack does not run, so callers reach the canary by its share of pods",
        }[mesh]
        raise BadInput(
            f"type canary splits requests by weight, and this stack's slipway:traffic.mesh is "
            f"{mesh!r}: {why}; allowed here: rolling or blue-green, or set the stack's "
            "traffic to layer istio with mesh sidecar",
            file=source,
            field=f"{where}.type",
        )
    problem = capacity_problem(st, service.autoscaling, to_camel)
    if problem is not None:
        field, why = problem
        raise BadInput(why, file=source, field=f"{where}.{to_camel(field)}")
    if st.mesh.fault is not None:
        if stack.environment == "prod":
            raise BadInput(
                "fault injection is for drills and is refused in prod; remove mesh.fault "
                "from the prod settings",
                file=source,
                field=f"{where}.mesh.fault",
            )
        if stack.traffic.layer != "istio":
            raise BadInput(
                f"fault injection needs the istio traffic layer (this stack's is "
                f"{stack.traffic.layer!r})",
                file=source,
                field=f"{where}.mesh.fault",
            )


def _track(
    service: Service,
    target: TargetConfig,
    track: Track | None,
    cloud: Any = None,
    stack: StackConfig | None = None,
    name: str | None = None,
) -> TrackArgs:
    if track is None:
        return TrackArgs()
    if track.version is None:
        return TrackArgs(config=track.config)
    return TrackArgs(
        image=image_for(
            service.model_copy(update={"version": track.version}), target, cloud, stack, name
        ),
        version_label=track.version.tag,
        config=track.config,
    )


def strategy_args(
    service: Service, target: TargetConfig, cloud: Any = None, stack: StackConfig | None = None
) -> StrategyArgs:
    """The catalog's strategy as component args (slot and track images per target)."""
    st = service.strategy
    an = st.analysis
    analysis = AnalysisArgs(
        success_rate_min=an.success_rate,
        latency_p99_max_seconds=an.latency_p99_seconds,
        **shared(an, AnalysisArgs),
    )
    extra: dict[str, object] = {}
    if st.steps is not None:
        extra["steps"] = tuple(
            StepArgs(set_weight=s.set_weight)
            if s.set_weight is not None
            else StepArgs(set_header_route=s.set_header_route)
            if s.set_header_route is not None
            else StepArgs(set_mirror_route=s.set_mirror_route)
            if s.set_mirror_route is not None
            else StepArgs(set_canary_replicas=s.set_canary_replicas)
            if s.set_canary_replicas is not None
            else StepArgs(pause=True, pause_seconds=s.pause.seconds if s.pause else None)
            for s in st.steps
        )
    return StrategyArgs(
        **shared(st, StrategyArgs, skip=("canary", "steps", "analysis")),
        blue=_track(service, target, st.slots.get("blue"), cloud, stack, "blue"),
        green=_track(service, target, st.slots.get("green"), cloud, stack, "green"),
        canary=(
            _track(service, target, st.canary, cloud, stack, "canary")
            if st.canary is not None
            else None
        ),
        analysis=analysis,
        **extra,
    )


def traffic_args(service: Service, stack: StackConfig) -> TrafficArgs:
    """The stack's traffic layer with the service's mesh policy."""
    m = service.strategy.mesh
    return TrafficArgs(
        layer=stack.traffic.layer,
        mesh=stack.traffic.mesh_mode,
        timeout_seconds=m.timeout_seconds,
        retries=RetryArgs(**shared(m.retries, RetryArgs)),
        outlier_detection=m.outlier_detection,
        fault=m.fault,
    )


def _existing_provider(
    target: TargetConfig,
    parent: Target,
    role: str = "",
    depends_on: list[pulumi.Resource] | None = None,
    render_dir: str | None = None,
) -> k8s.Provider:
    """A provider for an existing cluster's context: `<target>-k8s` for the workloads,
    `<target>-k8s-<role>` for the add-ons or the CRD reads."""
    return k8s.Provider(
        f"{target.name}-k8s" + (f"-{role}" if role else ""),
        context=target.kubeconfig_context,
        render_yaml_to_directory=render_dir,
        enable_server_side_apply=True,
        enable_config_map_mutable=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
    )


def _services_provider(
    target: TargetConfig,
    kubeconfig: pulumi.Input[str],
    cluster_identifier: pulumi.Input[str],
    parent: Target,
    name: str,
    depends_on: list[pulumi.Resource] | None = None,
    render_dir: str | None = None,
    aliases: list[pulumi.Alias] | None = None,
) -> k8s.Provider:
    """A provider for a cloud target's cluster; `cluster_identifier` (known from config or
    the platform's outputs) keeps a changed kubeconfig from replacing what it manages."""
    extra: dict[str, Any] = {}
    if render_dir:
        extra["render_yaml_to_directory"] = render_dir
    return k8s.Provider(
        name,
        kubeconfig=kubeconfig,
        cluster_identifier=cluster_identifier,
        enable_server_side_apply=True,
        enable_config_map_mutable=True,
        **extra,
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=depends_on or [], aliases=aliases or []
        ),
    )


CLUSTER_TYPES = {"aws": "slipway:aws:EksCluster", "gcp": "slipway:gcp:GkeCluster"}


def _former_provider(target: TargetConfig) -> pulumi.Alias:
    """Where the workloads' provider was before the layers: a child of the target's cluster
    component in the same stack. A stack migrated in place keeps its workloads on it."""
    cluster = (
        f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::"
        f"{TARGET_TYPE}${CLUSTER_TYPES[target.cloud]}::{target.name}"
    )
    return pulumi.Alias(parent=cluster)


def _render_dir(stack: StackConfig, target: TargetConfig) -> str | None:
    if not stack.render.yaml_directory:
        return None
    return f"{stack.render.yaml_directory.rstrip('/')}/{target.name}"


def _services_access(
    stack: StackConfig,
    target: TargetConfig,
    services: list[Service],
    component: Target,
    platform: PlatformReference,
) -> tuple[k8s.Provider, object | None]:
    """Services layer: the cluster's provider from the platform stack's outputs, gated on
    reading every CRD the services need."""
    from stacks.cloud import CloudTarget, Endpoint, services_cloud_provider
    from stacks.layers import crd_gate, needed_crds

    # Rendering to YAML talks to no cluster, so there is nothing to read the CRDs from.
    crds = [] if stack.render.yaml_directory else needed_crds(stack, target, services)
    if target.cloud == "existing":
        reader = _existing_provider(target, component, "crds")
        gate = crd_gate(target, crds, reader, component)
        workloads = _existing_provider(
            target, component, depends_on=gate, render_dir=_render_dir(stack, target)
        )
        return workloads, None
    facts = platform.facts(target)
    kubeconfig = platform.kubeconfig(target)
    reader = _services_provider(
        target, kubeconfig, facts["clusterIdentifier"], component, f"{target.name}-k8s-crds"
    )
    gate = crd_gate(target, crds, reader, component)
    provider = _services_provider(
        target,
        kubeconfig,
        facts["clusterIdentifier"],
        component,
        f"{target.name}-k8s",
        depends_on=gate,
        render_dir=_render_dir(stack, target),
        aliases=[_former_provider(target)],
    )
    if target.cloud == "aws":
        addresses = facts["ingressAddresses"]
        latency_region = target.region
    else:
        from stacks.cloud import GCP_LATENCY_REGION

        addresses = [facts["ingressAddress"]]
        latency_region = GCP_LATENCY_REGION[target.region]
    cloud = CloudTarget(
        k8s_provider=provider,
        cloud_provider=services_cloud_provider(target, stack, component),
        images=facts["images"],
        target=target,
        facts=facts,
        endpoint=Endpoint(target, addresses, latency_region),
    )
    return provider, cloud


def _all_access(
    stack: StackConfig,
    target: TargetConfig,
    services: list[Service],
    component: Target,
) -> tuple[k8s.Provider, object | None]:
    """Layer `all`: the cluster (cloud) and the add-ons in this stack; the services' provider
    waits for the add-ons (their CRDs, controllers and webhooks)."""
    from stacks.layers import install_addons

    if target.cloud == "existing":
        if stack.render.yaml_directory:
            # Helm releases cannot be rendered to YAML: a rendering stack installs no add-on.
            return _existing_provider(
                target, component, render_dir=_render_dir(stack, target)
            ), None
        addons_provider = _existing_provider(target, component, "addons")
        addons = install_addons(stack, target, services, addons_provider, component)
        return _existing_provider(target, component, depends_on=[addons]), None
    from stacks.cloud import build_cloud_target

    cloud = build_cloud_target(target, stack, [s.name for s in services], component)
    addons = install_addons(
        stack, target, services, cloud.k8s_provider, component, _aws_addon_facts(cloud, stack)
    )
    cloud.k8s_provider = _services_provider(
        target,
        cloud.cluster.kubeconfig,  # type: ignore[union-attr]
        cloud.facts["clusterIdentifier"],
        component,
        f"{target.name}-k8s-services",
        depends_on=[addons],
        render_dir=_render_dir(stack, target),
    )
    return cloud.k8s_provider, cloud


def _aws_addon_facts(cloud: Any, stack: StackConfig) -> dict[str, Any] | None:
    """What the AWS Load Balancer Controller needs of an EKS target, its IAM role included."""
    if cloud.target.cloud != "aws":
        return None
    from slipway_components.lbc import LoadBalancerControllerRole, LoadBalancerControllerRoleArgs
    from stacks.cloud import platform_tags

    role = LoadBalancerControllerRole(
        f"{cloud.target.name}-lbc",
        LoadBalancerControllerRoleArgs(
            oidc_provider_arn=cloud.facts["oidcProviderArn"],
            oidc_issuer=cloud.facts["oidcIssuer"],
            tags=platform_tags(stack, cloud.target),
        ),
        opts=pulumi.ResourceOptions(parent=cloud.cluster, providers=[cloud.cloud_provider]),
    )
    return {
        "cluster_name": cloud.facts["clusterName"],
        "vpc_id": cloud.facts["vpcId"],
        "region": cloud.target.region,
        "load_balancer_role_arn": role.role_arn,
    }


def _generator(target: TargetConfig, parent: Target) -> SecretLookup:
    """Dev's generated secrets: one random value per key and target, made once and kept in
    the stack's state (a secret output), shared by the services that read that key."""
    made: dict[str, pulumi.Output[str]] = {}
    provider: list[pulumi.ProviderResource] = []

    def generate(key: str) -> pulumi.Output[str]:
        import pulumi_random as random

        if not provider:  # every stack disables default providers: name one
            provider.append(
                random.Provider(f"{target.name}-random", opts=pulumi.ResourceOptions(parent=parent))
            )
        if key not in made:
            made[key] = random.RandomPassword(
                f"{target.name}-secret-{key}",
                length=32,
                special=False,
                opts=pulumi.ResourceOptions(parent=parent, provider=provider[0]),
            ).result
        return made[key]

    return generate


INJECTION_LABEL = {"istio-injection": "enabled"}
"""Istio's namespace label for sidecar injection (with the Istio CNI plugin, whose node agent
sets the pod's traffic redirection, so the pods stay within `restricted`)."""
AMBIENT_LABEL = {"istio.io/dataplane-mode": "ambient"}
"""Istio's namespace label that hands the pods to ztunnel (ambient mode: no sidecar at all)."""
MESH_LABELS: dict[str, dict[str, str]] = {
    "sidecar": INJECTION_LABEL,
    "ambient": AMBIENT_LABEL,
    "none": {},
}
"""The team namespaces' mesh label per `traffic.mesh`."""


def plaintext_ports(service: Service, stack: StackConfig, exposed: bool) -> list[int]:
    """Ports where the PeerAuthentication also takes plaintext: callers outside the mesh that
    the NetworkPolicy lets in. Prometheus (a ServiceMonitor scrapes the pod's metrics port
    directly; Istio's metrics merge serves annotation-based scraping only) and, for a public
    service, the entry point's proxies (Envoy Gateway, Google's load balancer), which hold no
    mesh identity. Istio layer only; the rest stays STRICT."""
    if stack.traffic.layer != "istio":
        return []
    ports: set[int] = set()
    if stack.observability.enabled:
        ports |= {p.port for p in service.ports if p.name == service.slo.metrics_port}
    if exposed:
        ports.add(public_port(service))
    return sorted(ports)


def public_port(service: Service) -> int:
    """The port the public entry routes to: `http`, else the first."""
    return next((p.port for p in service.ports if p.name == "http"), service.ports[0].port)


def build_target(
    stack: StackConfig,
    target: TargetConfig,
    services: list[Service],
    secrets: SecretLookup,
    platform: PlatformReference | None = None,
) -> BuiltTarget:
    """Everything of one target's services: cluster access, namespaces, services."""
    component = Target(target)
    if platform is not None:
        provider, extras = _services_access(stack, target, services, component, platform)
    else:
        provider, extras = _all_access(stack, target, services, component)
    k8s_opts = pulumi.ResourceOptions(parent=component, providers=[provider])

    namespaces: dict[str, k8s.core.v1.Namespace] = {}
    mesh = MESH_LABELS[stack.traffic.mesh_mode]
    for team in sorted({s.team for s in services}):
        ns = namespace_for(stack, team)
        namespaces[team] = k8s.core.v1.Namespace(
            f"{target.name}-ns-{ns}",
            metadata={
                "name": ns,
                "labels": {
                    "app.kubernetes.io/name": ns,
                    "app.kubernetes.io/managed-by": "pulumi",
                    "team": team,
                    "cost-center": "shared",
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    **mesh,
                },
            },
            opts=k8s_opts,
        )

    built = BuiltTarget(config=target, component=component, k8s_provider=provider, extras=extras)
    catalog = {s.name: s for s in services}
    generate = _generator(target, component)  # one per target: its names are the target's
    for service in services:
        args = microservice_args(service, stack, target, catalog, secrets, extras, generate)
        obs = stack.observability
        exposed = service.public and extras is not None and bool(stack.dns.domain)
        plain = plaintext_ports(service, stack, exposed)
        if plain:
            args = args.model_copy(
                update={"traffic": args.traffic.model_copy(update={"plaintext_ports": plain})}
            )
        if exposed:
            # The entry point's proxies must reach public services.
            gateways = GATEWAY_DATAPLANE_NAMESPACES[target.cloud]
            args = args.model_copy(
                update={"allow_from_namespaces": sorted({*args.allow_from_namespaces, *gateways})}
            )
        if obs.enabled:
            # Prometheus must reach the metrics port through the deny-by-default policy.
            args = args.model_copy(
                update={
                    "allow_from_namespaces": sorted(
                        {*args.allow_from_namespaces, obs.prometheus_namespace}
                    )
                }
            )
        built.services[service.name] = Microservice(
            f"{target.name}-{service.name}",
            args,
            opts=pulumi.ResourceOptions(
                parent=component,
                providers=[provider],
                depends_on=[namespaces[service.team]],
            ),
        )
        if obs.enabled:
            _observe(service, stack, target, component, provider)
        if extras is not None:
            _external_secrets(service, stack, extras, component, namespaces[service.team])
    if extras is not None:
        _expose(services, stack, extras, component)
    component.register_outputs({})
    return built


GATEWAY_DATAPLANE_NAMESPACES = {"aws": ["envoy-gateway-system", "gateway"], "gcp": ["gateway"]}
"""Where the entry point's proxies run, per cloud: public services let them in."""


def _external_secrets(
    service: Service,
    stack: StackConfig,
    cloud: object,
    parent: Target,
    namespace: k8s.core.v1.Namespace,
) -> None:
    """SecretStore (per namespace) and ExternalSecret for secrets kept in a cloud store."""
    from slipway_components.external_secrets import RemoteSecret
    from stacks.cloud import build_external_secret, build_secret_store

    remote = [
        RemoteSecret(key=ref.env, remote_name=ref.key, property=ref.property)
        for ref in service.secrets
        if ref.source not in ("pulumi-config", "generated")
    ]
    if not remote:
        return
    ns = namespace_for(stack, service.team)
    store = build_secret_store(cloud, stack, ns, parent, depends_on=[namespace])
    build_external_secret(
        cloud,
        stack,
        store,
        service.name,
        remote,
        parent,
        cost_center=service.cost_center,
        team=service.team,
        source=source_of(service, stack),
    )


def _expose(services: list[Service], stack: StackConfig, cloud: object, parent: Target) -> None:
    """The target's entry point with one route per public service."""
    from slipway_components.exposure import PublicRoute
    from stacks.cloud import build_exposure

    public = [s for s in services if s.public]
    if not public or not stack.dns.domain:
        return
    routes = [
        PublicRoute(
            service=s.name,
            namespace=namespace_for(stack, s.team),
            hostname=f"{s.name}.{stack.dns.domain}",
            port=public_port(s),
        )
        for s in public
    ]
    build_exposure(cloud, stack, routes, parent)


def _observe(
    service: Service,
    stack: StackConfig,
    target: TargetConfig,
    parent: Target,
    provider: k8s.Provider,
) -> ServiceObservability:
    """ServiceMonitor, SLO alerts and dashboard for one service in one target."""
    strategy = service.strategy
    extra = {}
    if stack.observability.runbook_base_url:
        extra["runbook_base_url"] = stack.observability.runbook_base_url
    if stack.observability.prometheus_labels:
        extra["prometheus_labels"] = stack.observability.prometheus_labels
    return ServiceObservability(
        f"{target.name}-{service.name}-obs",
        ServiceObservabilityArgs(
            service_name=service.name,
            namespace=namespace_for(stack, service.team),
            team=service.team,
            cost_center=service.cost_center,
            slo=service.slo,
            strategy=strategy.type,
            engine=strategy.engine,
            **extra,
        ),
        opts=pulumi.ResourceOptions(parent=parent, providers=[provider]),
    )


def source_of(service: Service, stack: StackConfig) -> str:
    """The catalog file a service was read from (for messages)."""
    return service.source or f"{stack.catalog}/{service.name}.yaml"


def stack_file() -> str:
    return f"Pulumi.{pulumi.get_stack()}.yaml"


def platform_namespaces(stack: StackConfig) -> dict[str, str]:
    """Namespaces this stack's platform uses, with what uses them: a team's services must not
    land there (their deny-by-default policies and restricted labels would hit the add-on)."""
    from slipway_components.addons import NAMESPACES

    used: dict[str, str] = {}
    if stack.observability.enabled:
        used[stack.observability.prometheus_namespace] = "slipway:observability.prometheusNamespace"
    for target in stack.targets:
        for ns in GATEWAY_DATAPLANE_NAMESPACES.get(target.cloud, []):
            used.setdefault(ns, f"the {target.cloud} entry point's proxies")
    for addon, (ns, _) in sorted(NAMESPACES.items()):
        if addon != "kube-prometheus-stack":  # it lives in prometheusNamespace
            used.setdefault(ns, f"the cluster add-on {addon}")
    return used


def check_namespaces(stack: StackConfig, services: list[Service]) -> None:
    """Every team namespace is a namespace of its own: not a system namespace, not one of
    the platform's. The message blames what made the name: the stack's namespacePrefix when
    there is one, else the service's team."""
    platform = platform_namespaces(stack)
    for service in services:
        ns = namespace_for(stack, service.team)
        problem = None
        try:
            check_workload_namespace(ns)
        except ValueError as exc:
            problem = str(exc)
        if problem is None and ns in platform:
            problem = f"namespace {ns!r} is used by {platform[ns]}; give the team its own"
        if problem is None:
            continue
        if stack.namespace_prefix:
            raise BadInput(
                f"{problem} (namespacePrefix {stack.namespace_prefix!r} + team "
                f"{service.team!r} of {source_of(service, stack)})",
                file=stack_file(),
                field="slipway:namespacePrefix",
            )
        raise BadInput(problem, file=source_of(service, stack), field="team")


MICROSERVICE_FIELD_SOURCES = {
    "service_name": "name",
    "namespace": "team",
    "team": "team",
    "cost_center": "costCenter",
    "image": "version",
    "ports": "ports",
    "liveness": "probes.liveness",
    "readiness": "probes.readiness",
    "startup": "probes.startup",
    "resources": "resources",
    "config": "config",
    "secrets": "secrets",
    "external_secret_keys": "secrets",
    "replicas": "replicas",
    "autoscaling": "autoscaling",
    "rolling": "strategy",
    "allow_from": "allowFrom",
    "calls": "allowFrom",
    "strategy": "strategy",
    "traffic": "traffic",
    "flags": "flags",
}
"""Which catalog field each component arg comes from, so an error names the right one."""


def build(stack: StackConfig, services: list[Service], secrets: SecretLookup) -> BuiltStack:
    """The whole stack, by layer: the platform's clusters and add-ons, or every target's
    services and then stack-wide global traffic, or both (`all`)."""
    check_namespaces(stack, services)
    if stack.layer == "platform":
        return build_platform(stack, services)
    platform = PlatformReference(stack, services) if stack.layer == "services" else None
    built = [build_target(stack, t, services, secrets, platform) for t in stack.targets]
    public = sorted(s.name for s in services if s.public)
    cloud_targets = [b for b in built if b.extras is not None]
    name_servers = None
    if public and stack.dns.domain and cloud_targets:
        from stacks.cloud import build_global_traffic

        dns = build_global_traffic(stack, [b.extras for b in cloud_targets], public, None)
        name_servers = getattr(dns, "name_servers", None)
    if cloud_targets and stack.layer == "all":
        from stacks.cloud import build_registry_replication

        build_registry_replication(stack, [b.extras for b in cloud_targets])
    outputs: dict[str, Any] = {
        "targets": [t.name for t in stack.targets],
        "services": [s.name for s in services],
    }
    if name_servers is not None:
        # where to delegate the domain to, when the stack created its zone
        outputs["nameServers"] = name_servers
    return BuiltStack(targets=built, outputs=outputs)


def build_platform(stack: StackConfig, services: list[Service]) -> BuiltStack:
    """Per target: the cluster, its registry and its add-ons (an existing cluster: the
    add-ons); exports what the services layer reads (`stacks.layers`)."""
    from stacks.cloud import build_cloud_target, build_registry_replication
    from stacks.layers import install_addons, platform_export

    built: list[BuiltTarget] = []
    exports: dict[str, Any] = {}
    kubeconfigs: dict[str, Any] = {}
    names = [s.name for s in services]
    for target in stack.targets:
        component = Target(target)
        if target.cloud == "existing":
            provider = _existing_provider(target, component, "addons")
            addons = install_addons(stack, target, services, provider, component)
            facts: dict[str, Any] = {}
            extras = None
        else:
            extras = build_cloud_target(target, stack, names, component)
            provider = extras.k8s_provider
            addons = install_addons(
                stack, target, services, provider, component, _aws_addon_facts(extras, stack)
            )
            facts = extras.facts
            kubeconfigs[target.name] = extras.cluster.kubeconfig  # type: ignore[union-attr]
        exports[target.name] = platform_export(target, facts, addons)
        component.register_outputs({})
        built.append(
            BuiltTarget(config=target, component=component, k8s_provider=provider, extras=extras)
        )
    cloud_targets = [b.extras for b in built if b.extras is not None]
    if cloud_targets:
        build_registry_replication(stack, cloud_targets)
    return BuiltStack(
        targets=built,
        outputs={"targets": exports, "kubeconfigs": pulumi.Output.secret(kubeconfigs)},
    )
