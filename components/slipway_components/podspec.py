"""Hardened pod templates shared by every workload shape (rolling, slots, canary, Rollout).

One place decides what a secure pod looks like, so no strategy can forget a setting. Inputs are
plain dicts with the Kubernetes API's camelCase keys: the Pulumi Kubernetes provider passes them
through unchanged, and they read like the YAML people know.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from slipway_components.naming import check_image_ref

SECRETS_MOUNT = "/var/run/secrets/app"
"""Where secret files appear; each secret `X` is the file `$X_FILE` points to."""
FLAGS_MOUNT = "/etc/flags"
"""Where the feature-flag file appears; `$FLAGS_FILE` points to it."""


class Args(BaseModel):
    """Base for component args: snake_case, unknown fields rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class ContainerPort(Args):
    name: str = "http"
    port: int = Field(ge=1024, le=65535)
    """1024–65535: the container runs as non-root and cannot bind lower ports."""
    protocol: Literal["TCP", "UDP"] = "TCP"


class HttpProbe(Args):
    path: str
    port: str = "http"
    initial_delay_seconds: int = Field(0, ge=0)
    period_seconds: int = Field(10, ge=1)
    timeout_seconds: int = Field(2, ge=1)
    failure_threshold: int = Field(3, ge=1)

    def render(self) -> dict[str, Any]:
        return {
            "httpGet": {"path": self.path, "port": self.port},
            "initialDelaySeconds": self.initial_delay_seconds,
            "periodSeconds": self.period_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "failureThreshold": self.failure_threshold,
        }


class ResourceArgs(Args):
    """Requests and limits; defaults fit a small HTTP service."""

    cpu_request: str = "100m"
    memory_request: str = "128Mi"
    cpu_limit: str = "500m"
    memory_limit: str = "256Mi"


class SecurityArgs(Args):
    """Pod and container security context. Every default is the Pod Security Standards'
    restricted profile; loosening one is an explicit, reviewable change."""

    run_as_user: int = Field(10001, ge=10000)
    """UID ≥ 10000 so it never maps to a host user; default: 10001."""
    run_as_group: int = Field(10001, ge=10000)
    fs_group: int = Field(10001, ge=10000)
    read_only_root_filesystem: bool = True
    """default: True; a writable emptyDir is mounted at /tmp."""
    seccomp_profile: Literal["RuntimeDefault", "Localhost"] = "RuntimeDefault"

    def pod(self) -> dict[str, Any]:
        return {
            "runAsNonRoot": True,
            "runAsUser": self.run_as_user,
            "runAsGroup": self.run_as_group,
            "fsGroup": self.fs_group,
            "seccompProfile": {"type": self.seccomp_profile},
        }

    def container(self) -> dict[str, Any]:
        return {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": self.read_only_root_filesystem,
            "runAsNonRoot": True,
            "runAsUser": self.run_as_user,
            "runAsGroup": self.run_as_group,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": self.seccomp_profile},
        }


class PodTemplateArgs(Args):
    """Everything a pod template needs, independent of the workload kind around it."""

    service_name: str
    image: str
    ports: list[ContainerPort]
    liveness: HttpProbe
    readiness: HttpProbe
    startup: HttpProbe | None = None
    resources: ResourceArgs = ResourceArgs()
    security: SecurityArgs = SecurityArgs()
    config_map_name: str | None = None
    secret_name: str | None = None
    secret_keys: list[str] = Field(default_factory=list)
    external_secret_name: str | None = None
    """A Secret synced from a cloud store (External Secrets Operator), mounted beside ours."""
    external_secret_keys: list[str] = Field(default_factory=list)
    flags_config_map_name: str | None = None
    service_account_name: str
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    termination_grace_period_seconds: int = Field(30, ge=0)
    spread_across_zones: bool = True

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        return check_image_ref(v)


def pod_template(a: PodTemplateArgs) -> dict[str, Any]:
    """The pod template: restricted security context, probes, limits, zone spread, files
    for secrets (not env vars: they leak into crash dumps and child processes)."""
    all_keys = sorted({*a.secret_keys, *a.external_secret_keys})
    env: list[dict[str, Any]] = [
        {"name": f"{key}_FILE", "value": f"{SECRETS_MOUNT}/{key}"} for key in all_keys
    ]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    sources: list[dict[str, Any]] = []
    if a.secret_name and a.secret_keys:
        sources.append({"secret": {"name": a.secret_name}})
    if a.external_secret_name and a.external_secret_keys:
        sources.append({"secret": {"name": a.external_secret_name}})
    if len(sources) == 1:
        volumes.append(
            {
                "name": "secrets",
                "secret": {"secretName": sources[0]["secret"]["name"], "defaultMode": 0o440},
            }
        )
    elif sources:
        volumes.append({"name": "secrets", "projected": {"sources": sources, "defaultMode": 0o440}})
    if sources:
        mounts.append({"name": "secrets", "mountPath": SECRETS_MOUNT, "readOnly": True})
    if a.flags_config_map_name:
        # A directory mount (not subPath), so the kubelet updates the file in place.
        volumes.append({"name": "flags", "configMap": {"name": a.flags_config_map_name}})
        mounts.append({"name": "flags", "mountPath": FLAGS_MOUNT, "readOnly": True})
        env.append({"name": "FLAGS_FILE", "value": f"{FLAGS_MOUNT}/flags.json"})
    container: dict[str, Any] = {
        "name": a.service_name,
        "image": a.image,
        "imagePullPolicy": "Always",
        "ports": [
            {"name": p.name, "containerPort": p.port, "protocol": p.protocol} for p in a.ports
        ],
        "livenessProbe": a.liveness.render(),
        "readinessProbe": a.readiness.render(),
        "resources": {
            "requests": {"cpu": a.resources.cpu_request, "memory": a.resources.memory_request},
            "limits": {"cpu": a.resources.cpu_limit, "memory": a.resources.memory_limit},
        },
        "securityContext": a.security.container(),
        "volumeMounts": mounts,
    }
    if a.startup:
        container["startupProbe"] = a.startup.render()
    if env:
        container["env"] = env
    if a.config_map_name:
        container["envFrom"] = [{"configMapRef": {"name": a.config_map_name}}]
    spec: dict[str, Any] = {
        "serviceAccountName": a.service_account_name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": a.security.pod(),
        "terminationGracePeriodSeconds": a.termination_grace_period_seconds,
        "containers": [container],
        "volumes": volumes,
    }
    if a.spread_across_zones:
        selector = {"matchLabels": {k: v for k, v in a.labels.items() if k in SELECTOR_KEYS}}
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": selector,
            },
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": selector,
            },
        ]
    metadata: dict[str, Any] = {"labels": dict(sorted(a.labels.items()))}
    if a.annotations:
        metadata["annotations"] = dict(sorted(a.annotations.items()))
    return {"metadata": metadata, "spec": spec}


SELECTOR_KEYS = ("app.kubernetes.io/name", "slot", "track")
"""Labels that identify pods for selectors; never put a version here (selectors are immutable)."""


def content_hash(data: Any, length: int = 10) -> str:
    """Stable short hash of JSON-able data: names that change exactly when content changes."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
