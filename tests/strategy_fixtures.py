"""Builders shared by the strategy tests: a Microservice with given strategy args, run under the
recording mocks, and a comparison of two runs' inputs."""

from __future__ import annotations

from typing import Any

from slipway.engine import Record, run_program
from slipway_components import ContainerPort, HttpProbe, Microservice, MicroserviceArgs
from slipway_components.microservice import AutoscalingArgs
from slipway_components.strategies import StrategyArgs, TrackArgs
from slipway_components.traffic import TrafficArgs

IMAGE = "ghcr.io/acme/shop:1.0.0"
NEW_IMAGE = "ghcr.io/acme/shop:2.0.0"


def make_args(**overrides: Any) -> MicroserviceArgs:
    base: dict[str, Any] = {
        "service_name": "shop",
        "namespace": "retail",
        "team": "retail",
        "image": IMAGE,
        "ports": [ContainerPort(name="http", port=8080)],
        "liveness": HttpProbe(path="/healthz"),
        "readiness": HttpProbe(path="/ready"),
        "config": {"LOG_LEVEL": "info"},
        "autoscaling": AutoscalingArgs(min_replicas=2, max_replicas=5),
    }
    base.update(overrides)
    return MicroserviceArgs(**base)


def service_doc(**extra: Any) -> dict[str, Any]:
    """A minimal catalog file of service `shop` (team retail, one port, both probes), with
    `extra` top-level fields on top."""
    return {
        "name": "shop",
        "team": "retail",
        "image": "ghcr.io/acme/shop",
        "version": {"tag": "1.0.0"},
        "ports": [{"port": 8080}],
        "probes": {"liveness": {"path": "/healthz"}, "readiness": {"path": "/ready"}},
        **extra,
    }


def blue_green(**strategy: Any) -> StrategyArgs:
    return StrategyArgs(**{"type": "blue-green", "green": TrackArgs(image=NEW_IMAGE), **strategy})


def canary(**strategy: Any) -> StrategyArgs:
    return StrategyArgs(**{"type": "canary", "canary": TrackArgs(image=NEW_IMAGE), **strategy})


def istio() -> TrafficArgs:
    return TrafficArgs(layer="istio")


def run(args: MicroserviceArgs, name: str = "shop") -> dict[str, Record]:
    """Records of one Microservice, keyed by resource name."""
    result = run_program(
        lambda: Microservice(name, args), project="slipway", stack="test", config={}, secret_keys=[]
    )
    return {r.name: r for r in result.records}


def by_kind(records: dict[str, Record], kind: str) -> dict[str, Record]:
    """Records of one Kubernetes kind, keyed by object name."""
    return {
        r.inputs["metadata"]["name"]: r for r in records.values() if r.inputs.get("kind") == kind
    }


def changed_paths(old: dict[str, Record], new: dict[str, Record]) -> dict[str, list[str]]:
    """Resource name -> changed input paths; added/removed resources appear as `+`/`-`."""
    from slipway.diff import diff_values

    out: dict[str, list[str]] = {}
    for name in sorted(set(old) | set(new)):
        if name not in old:
            out[name] = ["+"]
        elif name not in new:
            out[name] = ["-"]
        else:
            changes = diff_values(old[name].inputs, new[name].inputs)
            if changes:
                out[name] = sorted(c["path"] for c in changes)
    return out
