"""Composition: for each target × service, wire components together.

Nothing here defines infrastructure of its own beyond namespaces and the per-target
component that parents everything of a target. Names are prefixed by the target name so that
adding or removing a target never changes the URNs or inputs of another target's resources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import (
    AutoscalingArgs,
    ContainerPort,
    HttpProbe,
    Microservice,
    MicroserviceArgs,
    Peer,
    ResourceArgs,
    RollingArgs,
)
from slipway.errors import BadInput
from stacks.catalog import Probe, Service
from stacks.config import StackConfig, TargetConfig

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


def namespace_for(stack: StackConfig, team: str) -> str:
    """Team namespace name: the optional stack prefix plus the team."""
    return f"{stack.namespace_prefix}{team}"


def image_for(service: Service, target: TargetConfig) -> str:
    """Image reference in a target: the target's registry mirror when it has one."""
    if target.registry:
        repo = f"{target.registry.rstrip('/')}/{service.name}"
        ref = repo
        if service.version.tag:
            ref += f":{service.version.tag}"
        if service.version.digest:
            ref += f"@{service.version.digest}"
        return ref
    return service.image_ref


def _probe(p: Probe) -> HttpProbe:
    return HttpProbe(
        path=p.path,
        port=p.port,
        initial_delay_seconds=p.initial_delay_seconds,
        period_seconds=p.period_seconds,
        timeout_seconds=p.timeout_seconds,
        failure_threshold=p.failure_threshold,
    )


def microservice_args(
    service: Service,
    stack: StackConfig,
    target: TargetConfig,
    catalog: dict[str, Service],
    secrets: SecretLookup,
) -> MicroserviceArgs:
    """Translate a catalog entry into component args for one target."""
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
    for ref in service.secrets:
        if ref.source != "pulumi-config":
            raise BadInput(
                f"secret {ref.env!r} uses source {ref.source!r}, which needs a cloud target "
                f"(target {target.name!r} is {target.cloud!r}); use pulumi-config here",
                file=f"services/{service.name}.yaml",
                field="secrets",
            )
        secret_values[ref.env] = secrets(ref.key)
    autoscaling = None
    if service.autoscaling:
        a = service.autoscaling
        autoscaling = AutoscalingArgs(
            min_replicas=a.min_replicas,
            max_replicas=a.max_replicas,
            cpu_utilization=a.cpu_utilization,
            memory_utilization=a.memory_utilization,
        )
    r = service.resources
    st = service.strategy
    return MicroserviceArgs(
        service_name=service.name,
        namespace=ns,
        team=service.team,
        cost_center=service.cost_center,
        image=image_for(service, target),
        ports=[ContainerPort(name=p.name, port=p.port, protocol=p.protocol) for p in service.ports],
        liveness=_probe(service.probes.liveness),
        readiness=_probe(service.probes.readiness),
        startup=_probe(service.probes.startup) if service.probes.startup else None,
        resources=ResourceArgs(
            cpu_request=r.requests.cpu,
            memory_request=r.requests.memory,
            cpu_limit=r.limits.cpu,
            memory_limit=r.limits.memory,
        ),
        config=service.config,
        secrets=secret_values,
        replicas=service.replicas,
        autoscaling=autoscaling,
        rolling=RollingArgs(
            max_surge=st.max_surge,
            max_unavailable=st.max_unavailable,
            min_ready_seconds=st.min_ready_seconds,
            progress_deadline_seconds=st.progress_deadline_seconds,
        ),
        allow_from=callers,
        calls=callees,
        version_label=service.version.tag,
    )


def _existing_provider(stack: StackConfig, target: TargetConfig, parent: Target) -> k8s.Provider:
    return k8s.Provider(
        f"{target.name}-k8s",
        context=target.kubeconfig_context,
        render_yaml_to_directory=(
            f"{stack.render.yaml_directory.rstrip('/')}/{target.name}"
            if stack.render.yaml_directory
            else None
        ),
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def build_target(
    stack: StackConfig,
    target: TargetConfig,
    services: list[Service],
    secrets: SecretLookup,
) -> BuiltTarget:
    """Everything of one target: cluster access, namespaces, services."""
    component = Target(target)
    extras = None
    if target.cloud == "existing":
        provider = _existing_provider(stack, target, component)
    else:
        from stacks.cloud import build_cloud_target

        extras = build_cloud_target(target, stack, [s.name for s in services], component)
        provider = extras.k8s_provider
    k8s_opts = pulumi.ResourceOptions(parent=component, providers=[provider])

    namespaces: dict[str, k8s.core.v1.Namespace] = {}
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
                },
            },
            opts=k8s_opts,
        )

    built = BuiltTarget(config=target, component=component, k8s_provider=provider, extras=extras)
    catalog = {s.name: s for s in services}
    for service in services:
        args = microservice_args(service, stack, target, catalog, secrets)
        built.services[service.name] = Microservice(
            f"{target.name}-{service.name}",
            args,
            opts=pulumi.ResourceOptions(
                parent=component,
                providers=[provider],
                depends_on=[namespaces[service.team]],
            ),
        )
    component.register_outputs({})
    return built


def build(stack: StackConfig, services: list[Service], secrets: SecretLookup) -> list[BuiltTarget]:
    """The whole stack: every target, then stack-wide global traffic."""
    built = [build_target(stack, t, services, secrets) for t in stack.targets]
    public = sorted(s.name for s in services if s.public)
    cloud_targets = [b for b in built if b.extras is not None]
    if public and stack.dns.domain and cloud_targets:
        from stacks.cloud import build_global_traffic

        build_global_traffic(stack, [b.extras for b in cloud_targets], public, None)
    return built
