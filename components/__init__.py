"""Reusable Pulumi components. They take typed args and never read config or files, so any
team can import them into its own program:

    from components import Microservice, MicroserviceArgs

Names load on first use (PEP 562), so the plain models (`components.naming`,
`components.slo`) can be imported without the Pulumi SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AutoscalingArgs": "components.microservice",
    "Microservice": "components.microservice",
    "MicroserviceArgs": "components.microservice",
    "Peer": "components.microservice",
    "RollingArgs": "components.microservice",
    "ContainerPort": "components.podspec",
    "HttpProbe": "components.podspec",
    "ResourceArgs": "components.podspec",
    "SecurityArgs": "components.podspec",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'components' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
