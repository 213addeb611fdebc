"""Read the stack's `slipway:` config from the Pulumi runtime into a validated StackConfig.

Used by `__main__.py` under the real engine and the offline preview alike; errors name the
stack file and the config key, so both report bad config the same way.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pydantic import ValidationError

from slipway.errors import BadInput
from stacks.catalog import _format_errors
from stacks.config import StackConfig

NAMESPACE = "slipway"


def _field_keys() -> list[str]:
    return sorted(f.alias or name for name, f in StackConfig.model_fields.items())


def _parse(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text[:1] in ("{", "[") or text in ("true", "false"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return value
    return value


def load_stack_config(stack_file: str | None = None) -> StackConfig:
    """Build the StackConfig from `slipway:*` config values of the running stack."""
    stack_file = stack_file or f"Pulumi.{pulumi.get_stack()}.yaml"
    raw: dict[str, Any] = {}
    for key in _field_keys():
        value = pulumi.runtime.get_config(f"{NAMESPACE}:{key}")
        if value is not None:
            raw[key] = _parse(value)
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as exc:
        _, msg = _format_errors(exc, prefix=NAMESPACE)
        raise BadInput(msg, file=stack_file) from exc


def config_secret(key: str) -> pulumi.Output[str]:
    """A service secret from the stack's config, kept a Pulumi secret end to end."""
    return pulumi.Config(NAMESPACE).require_secret(key)
