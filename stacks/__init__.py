"""Stacks: config models, the service catalog and the composition of components."""

from stacks.build import BuiltTarget, build
from stacks.catalog import Service, load_catalog
from stacks.config import StackConfig, TargetConfig
from stacks.loader import config_secret, load_stack_config

__all__ = [
    "BuiltTarget",
    "Service",
    "StackConfig",
    "TargetConfig",
    "build",
    "config_secret",
    "load_catalog",
    "load_stack_config",
]
