"""slipway's Pulumi components. They take typed args and never read config or files, so any
team can import them into its own program:

    from slipway_components import Microservice, MicroserviceArgs

The workload kit that `Microservice` and its strategies build from is public too, in its
module: `from slipway_components.kit import WorkloadKit, WorkloadArgs`.

Names load on first use (PEP 562): `import slipway_components` costs nothing, the plain
models (`slipway_components.naming`, `slipway_components.slo`) import without the Pulumi SDK,
and the cloud components need their extra only when used
(`pip install "slipway-components[aws]"` for EKS, ECR and Route 53; `[gcp]` for GKE,
Artifact Registry and Secret Manager).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    # the microservice and its args
    "Microservice": "microservice",
    "MicroserviceArgs": "microservice",
    "AutoscalingArgs": "kit",
    "Peer": "kit",
    "RollingArgs": "kit",
    "ContainerPort": "podspec",
    "HttpProbe": "podspec",
    "ResourceArgs": "podspec",
    "SecurityArgs": "podspec",
    # deployment strategies and traffic
    "StrategyArgs": "strategies",
    "TrackArgs": "strategies",
    "StepArgs": "strategies",
    "AnalysisArgs": "strategies",
    "HeaderRouteArgs": "strategies",
    "MirrorRouteArgs": "strategies",
    "PreRolloutArgs": "strategies",
    "NotificationsArgs": "strategies",
    "TrafficArgs": "traffic",
    "RetryArgs": "traffic",
    "OutlierArgs": "traffic",
    "FaultArgs": "traffic",
    # observability
    "ServiceObservability": "observability",
    "ServiceObservabilityArgs": "observability",
    "SloArgs": "slo",
    # public entry (Kubernetes only)
    "Exposure": "exposure",
    "ExposureArgs": "exposure",
    "PublicRoute": "exposure",
    "BackendRef": "exposure",
    # cloud components: extras [aws] and/or [gcp]
    "EksCluster": "eks",
    "EksClusterArgs": "eks",
    "EksNodeGroupArgs": "eks",
    "GkeCluster": "gke",
    "GkeClusterArgs": "gke",
    "GkeNodePoolArgs": "gke",
    "EcrRepositories": "registry",
    "EcrRepositoriesArgs": "registry",
    "EcrReplication": "registry",
    "EcrReplicationArgs": "registry",
    "ArtifactRegistry": "registry",
    "ArtifactRegistryArgs": "registry",
    "GlobalTraffic": "dns",
    "GlobalTrafficArgs": "dns",
    "DnsEndpoint": "dns",
    "HealthCheckArgs": "dns",
    "SecretStore": "external_secrets",
    "SecretStoreArgs": "external_secrets",
    "ExternalSecret": "external_secrets",
    "ExternalSecretArgs": "external_secrets",
    "RemoteSecret": "external_secrets",
    # cluster add-ons (Kubernetes only)
    "ClusterAddons": "addons",
    "ClusterAddonsArgs": "addons",
    # the AWS Load Balancer Controller's IAM role (aws)
    "LoadBalancerControllerRole": "lbc",
    "LoadBalancerControllerRoleArgs": "lbc",
}

_EXTRAS = {"pulumi_aws": "aws", "pulumi_gcp": "gcp"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'slipway_components' has no attribute {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
    except ModuleNotFoundError as err:
        extra = _EXTRAS.get(err.name or "")
        if extra is None:
            raise
        raise ModuleNotFoundError(
            f"slipway_components.{name} needs {err.name}: "
            f'pip install "slipway-components[{extra}]"',
            name=err.name,
        ) from err
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


# Names for type checkers and IDEs (`__all__` lists them); at run time they load on first use.
if TYPE_CHECKING:
    from .addons import ClusterAddons, ClusterAddonsArgs
    from .dns import DnsEndpoint, GlobalTraffic, GlobalTrafficArgs, HealthCheckArgs
    from .eks import EksCluster, EksClusterArgs, EksNodeGroupArgs
    from .exposure import BackendRef, Exposure, ExposureArgs, PublicRoute
    from .external_secrets import (
        ExternalSecret,
        ExternalSecretArgs,
        RemoteSecret,
        SecretStore,
        SecretStoreArgs,
    )
    from .gke import GkeCluster, GkeClusterArgs, GkeNodePoolArgs
    from .kit import AutoscalingArgs, Peer, RollingArgs
    from .lbc import LoadBalancerControllerRole, LoadBalancerControllerRoleArgs
    from .microservice import Microservice, MicroserviceArgs
    from .observability import ServiceObservability, ServiceObservabilityArgs
    from .podspec import ContainerPort, HttpProbe, ResourceArgs, SecurityArgs
    from .registry import (
        ArtifactRegistry,
        ArtifactRegistryArgs,
        EcrReplication,
        EcrReplicationArgs,
        EcrRepositories,
        EcrRepositoriesArgs,
    )
    from .slo import SloArgs
    from .strategies import (
        AnalysisArgs,
        HeaderRouteArgs,
        MirrorRouteArgs,
        NotificationsArgs,
        PreRolloutArgs,
        StepArgs,
        StrategyArgs,
        TrackArgs,
    )
    from .traffic import FaultArgs, OutlierArgs, RetryArgs, TrafficArgs
