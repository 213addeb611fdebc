"""slipway's Pulumi program: load the stack's config and the catalog, build the stack."""

from pathlib import Path

import pulumi

from stacks.build import build
from stacks.catalog import load_catalog
from stacks.loader import config_secret, load_stack_config

ROOT = Path(__file__).resolve().parent

config = load_stack_config()
services = load_catalog(ROOT / config.catalog, config.environment)
built = build(config, services, config_secret)
for key, value in built.outputs.items():
    pulumi.export(key, value)
