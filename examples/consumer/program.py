"""The payments team's platform: an image repository per service, the team's namespace, and
two services built from slipway-components.

The services take their image from the repository's URL and their namespace from the
Namespace resource: values that exist only once those resources do, so on a first preview
they are unknown, and the services must still declare every object they will create.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from slipway_components import (
    ContainerPort,
    HttpProbe,
    Microservice,
    MicroserviceArgs,
    StrategyArgs,
    TrackArgs,
)

from components import TEAM, namespace_labels, release
from components.registry import Repository


@dataclass(frozen=True)
class Platform:
    """What the program built, for its exports and its tests."""

    namespace: k8s.core.v1.Namespace
    api_repository: Repository
    api: Microservice
    checkout_repository: Repository
    checkout: Microservice


def main() -> Platform:
    """Declare the platform; called by `__main__.py` under the engine, by the tests under
    Pulumi's mocks."""
    namespace = k8s.core.v1.Namespace(
        TEAM, metadata=k8s.meta.v1.ObjectMetaArgs(labels=namespace_labels())
    )

    api_repository = Repository("payments-api")
    api = Microservice(
        "payments-api",
        MicroserviceArgs(
            service_name="payments-api",
            namespace=namespace.metadata.name,
            team=TEAM,
            image=api_repository.repository_url.apply(lambda u: f"{u}:1.4.2"),
            ports=[ContainerPort(port=8080)],
            liveness=HttpProbe(path="/livez"),
            readiness=HttpProbe(path="/readyz"),
            config={"LOG_LEVEL": "info"},
        ),
    )

    # Checkout ships blue-green: blue serves 2.0.1, green runs 2.1.0 behind the preview
    # Service; promoting is `active_slot="green"`.
    checkout_repository = Repository("checkout")
    checkout_url = checkout_repository.repository_url
    checkout = Microservice(
        "checkout",
        MicroserviceArgs(
            service_name="checkout",
            namespace=namespace.metadata.name,
            team=TEAM,
            image=checkout_url.apply(lambda u: release(u, "2.0.1")),
            ports=[ContainerPort(name="http", port=8080)],
            liveness=HttpProbe(path="/livez"),
            readiness=HttpProbe(path="/readyz"),
            strategy=StrategyArgs(
                type="blue-green",
                active_slot="blue",
                blue=TrackArgs(image=checkout_url.apply(lambda u: release(u, "2.0.1"))),
                green=TrackArgs(image=checkout_url.apply(lambda u: release(u, "2.1.0"))),
            ),
        ),
    )

    pulumi.export("api_url", api.url)
    pulumi.export("checkout_url", checkout.url)
    return Platform(namespace, api_repository, api, checkout_repository, checkout)
