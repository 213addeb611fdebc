"""Reusable Pulumi components. They take typed args and never read config or files, so any
team can import them into its own program:

    from components import Microservice, MicroserviceArgs
"""

from components.microservice import (
    AutoscalingArgs,
    Microservice,
    MicroserviceArgs,
    Peer,
    RollingArgs,
)
from components.podspec import ContainerPort, HttpProbe, ResourceArgs, SecurityArgs

__all__ = [
    "AutoscalingArgs",
    "ContainerPort",
    "HttpProbe",
    "Microservice",
    "MicroserviceArgs",
    "Peer",
    "ResourceArgs",
    "RollingArgs",
    "SecurityArgs",
]
