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
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as k8s

if TYPE_CHECKING:
    from slipway_components.microservice import Microservice

OPENFEATURE = "core.openfeature.dev/v1beta1"
FLAGS_FILE = "flags.json"


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


def build_flags(ms: Microservice) -> tuple[str | None, dict[str, str]]:
    """Create the flag objects; return (ConfigMap to mount or None, pod annotations)."""
    a = ms.args
    if not a.flags:
        return None, {}
    name = f"{a.service_name}-flags"
    definitions = flag_definitions(a.flags)
    if a.flag_provider == "configmap":
        ms.flags_config_map = k8s.core.v1.ConfigMap(
            f"{ms._name}-flags",
            metadata=ms._meta(name),
            data={FLAGS_FILE: json.dumps(definitions, indent=2, sort_keys=True) + "\n"},
            opts=pulumi.ResourceOptions(parent=ms),
        )
        return name, {}
    ms.feature_flag = k8s.apiextensions.CustomResource(
        f"{ms._name}-flags",
        api_version=OPENFEATURE,
        kind="FeatureFlag",
        metadata=ms._meta(name, annotations={"pulumi.com/skipAwait": "true"}),
        spec={"flagSpec": definitions},
        opts=pulumi.ResourceOptions(parent=ms),
    )
    ms.feature_flag_source = k8s.apiextensions.CustomResource(
        f"{ms._name}-flagsource",
        api_version=OPENFEATURE,
        kind="FeatureFlagSource",
        metadata=ms._meta(name, annotations={"pulumi.com/skipAwait": "true"}),
        spec={"sources": [{"source": f"{a.namespace}/{name}", "provider": "kubernetes"}]},
        opts=pulumi.ResourceOptions(parent=ms, depends_on=[ms.feature_flag]),
    )
    return None, {
        "openfeature.dev/enabled": "true",
        "openfeature.dev/featureflagsource": name,
    }
