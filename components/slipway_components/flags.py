"""Feature flags: toggles that change behaviour without a new version or a pod restart.

Two providers, chosen per stack:

- `configmap` (default): a `<svc>-flags` ConfigMap, mounted as a directory at `/etc/flags`
  (`$FLAGS_FILE` points to `flags.json`). Its name is fixed and it is mutable on purpose: a
  toggle updates the file in place (the kubelet syncs it within about a minute) and the pod
  template never changes, so no pod restarts. (The hashed, immutable config ConfigMap is the
  opposite choice, for settings that must roll the pods.)
- `flagd`: an OpenFeature `FeatureFlag` resource plus a `FeatureFlagSource`; the OpenFeature
  operator injects flagd, which watches the resource. The pods carry two fixed annotations.

Both carry the same flagd flag definitions (`state`, `variants` on/off, `defaultVariant`), so
an application reads one format with either provider.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import pulumi_kubernetes as k8s

from slipway_components.kit import WorkloadKit
from slipway_components.podspec import derive

OPENFEATURE = "core.openfeature.dev/v1beta1"
FLAGS_FILE = "flags.json"

FlagProvider = Literal["configmap", "flagd"]


def flag_definitions(flags: dict[str, bool]) -> dict[str, Any]:
    """flagd's flag definitions: each flag a boolean with `on`/`off` variants."""
    return {
        "flags": {
            name: {
                "state": "ENABLED",
                "variants": {"on": True, "off": False},
                "defaultVariant": "on" if value else "off",
            }
            for name, value in sorted(flags.items())
        }
    }


def flags_object_name(service_name: str) -> str:
    """Name of the flag ConfigMap, FeatureFlag and FeatureFlagSource: `<svc>-flags`."""
    return f"{service_name}-flags"


def flag_mount(
    service_name: str, flags: dict[str, bool], provider: FlagProvider
) -> tuple[str | None, dict[str, str]]:
    """What the pods need for the flags: (ConfigMap to mount or None, pod annotations).
    Decided before any object exists, so the kit's pod template can carry it."""
    if not flags:
        return None, {}
    name = flags_object_name(service_name)
    if provider == "configmap":
        return name, {}
    return None, {
        "openfeature.dev/enabled": "true",
        "openfeature.dev/featureflagsource": name,
    }


@dataclass(frozen=True)
class FlagParts:
    """What `build_flags` created (nothing without flags)."""

    flags_config_map: k8s.core.v1.ConfigMap | None = None
    """`<name>-flags` (provider configmap): the mounted, mutable flag file."""
    feature_flag: k8s.apiextensions.CustomResource | None = None
    """`<name>-flags` (provider flagd): the OpenFeature FeatureFlag."""
    feature_flag_source: k8s.apiextensions.CustomResource | None = None
    """`<name>-flagsource` (provider flagd): where flagd reads the flags from."""


def build_flags(kit: WorkloadKit, flags: dict[str, bool], provider: FlagProvider) -> FlagParts:
    """Create the flag objects of one service (none without flags)."""
    if not flags:
        return FlagParts()
    name = flags_object_name(kit.args.service_name)
    definitions = flag_definitions(flags)
    if provider == "configmap":
        config_map = k8s.core.v1.ConfigMap(
            f"{kit.name}-flags",
            metadata=kit.meta(name),
            data={FLAGS_FILE: json.dumps(definitions, indent=2, sort_keys=True) + "\n"},
            opts=kit.opts(),
        )
        return FlagParts(flags_config_map=config_map)
    feature_flag = k8s.apiextensions.CustomResource(
        f"{kit.name}-flags",
        api_version=OPENFEATURE,
        kind="FeatureFlag",
        metadata=kit.meta(name, annotations={"pulumi.com/skipAwait": "true"}),
        spec={"flagSpec": definitions},
        opts=kit.opts(),
    )
    source = k8s.apiextensions.CustomResource(
        f"{kit.name}-flagsource",
        api_version=OPENFEATURE,
        kind="FeatureFlagSource",
        metadata=kit.meta(name, annotations={"pulumi.com/skipAwait": "true"}),
        spec={
            "sources": [
                {
                    "source": derive(lambda ns: f"{ns}/{name}", kit.args.namespace),
                    "provider": "kubernetes",
                }
            ]
        },
        opts=kit.opts(depends_on=[feature_flag]),
    )
    return FlagParts(feature_flag=feature_flag, feature_flag_source=source)
