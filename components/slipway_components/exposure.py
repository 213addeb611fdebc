"""Exposure: a target's public entry point — a Gateway API `Gateway` terminating TLS, plus an
`HTTPRoute` per public service.

Routes take their `backendRefs` as an argument, so a canary split (stable/canary weights) is
passed in by the caller and changes only that route. Plain HTTP is answered with a redirect
to HTTPS. Only the namespaces of the routes may attach to the Gateway.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slipway_components.cloud_common import check_tags

GATEWAY_API = "gateway.networking.k8s.io/v1"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")


def _dns_label(v: str, what: str) -> str:
    if len(v) > 63 or not _LABEL.match(v):
        raise ValueError(f"{what} {v!r} is not a DNS-1123 label")
    return v


class BackendRef(BaseModel):
    """One backend of a route: a Service, its port, and its share of the traffic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    """Service name (same namespace as the route)."""
    port: int = Field(ge=1, le=65535)
    """Service port."""
    weight: int = Field(default=1, ge=0, le=1_000_000)
    """Relative weight; default: 1 (all traffic when alone)."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _dns_label(v, "backend name")


class PublicRoute(BaseModel):
    """A public service: its host name and where its traffic goes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    """Service name; also the HTTPRoute name."""
    namespace: str
    """Namespace of the service and its route."""
    hostname: str
    """Public host name, e.g. `orders.shop.example.com`."""
    port: int = Field(default=80, ge=1, le=65535)
    """Service port used when `backend_refs` is not given; default: 80."""
    backend_refs: list[BackendRef] | None = None
    """Backends with weights (canary split); default: the service itself, all traffic."""

    @field_validator("service", "namespace")
    @classmethod
    def _labels(cls, v: str) -> str:
        return _dns_label(v, "name")

    @field_validator("hostname")
    @classmethod
    def _host(cls, v: str) -> str:
        if not _HOST.match(v) or v.startswith("*"):
            raise ValueError(f"hostname {v!r} is not a fully qualified DNS name")
        return v

    @field_validator("backend_refs")
    @classmethod
    def _backends(cls, v: list[BackendRef] | None) -> list[BackendRef] | None:
        if v is not None and (not v or sum(b.weight for b in v) == 0):
            raise ValueError(
                f"backend_refs {[b.model_dump() for b in v]} send no traffic anywhere; "
                "give at least one backend a weight above 0"
            )
        return v

    def backends(self) -> list[dict[str, Any]]:
        """The route's `backendRefs`, as Gateway API wants them."""
        refs = self.backend_refs or [BackendRef(name=self.service, port=self.port)]
        return [{"name": b.name, "port": b.port, "weight": b.weight} for b in refs]


class ExposureArgs(BaseModel):
    """Inputs of `Exposure` (one target)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    gateway_class_name: str
    """GatewayClass of the target's controller (e.g. `gke-l7-regional-external-managed`)."""
    domain: str
    """Listener host names are `*.<domain>`; routes must be under it."""
    routes: list[PublicRoute] = Field(default_factory=list)
    """Public services; default: none (the Gateway alone)."""
    tags: dict[str, str]
    """Labels; must include `team` and `cost-center`."""
    gateway_namespace: str = "gateway"
    """Namespace of the Gateway (created here); default: gateway."""
    gateway_name: str = "public"
    """Gateway name; default: public."""
    tls_secret_name: str = "public-tls"
    """Certificate Secret in the gateway namespace; default: public-tls."""
    cluster_issuer: str | None = None
    """cert-manager ClusterIssuer that fills `tls_secret_name`; default: none (provide it)."""
    addresses: list[Any] = Field(default_factory=list)
    """Static address names (Gateway `NamedAddress`); default: the controller picks one."""
    infrastructure_annotations: dict[str, Any] = Field(default_factory=dict)
    """Annotations for the load balancer the controller creates (e.g. Elastic IPs)."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        return check_tags(v)

    @field_validator("gateway_namespace", "gateway_name", "tls_secret_name")
    @classmethod
    def _names(cls, v: str) -> str:
        return _dns_label(v, "name")

    @model_validator(mode="after")
    def _routes(self) -> ExposureArgs:
        keys = [(r.namespace, r.service) for r in self.routes]
        dupes = sorted({f"{n}/{s}" for n, s in keys if keys.count((n, s)) > 1})
        if dupes:
            raise ValueError(f"routes repeated: {dupes}")
        hosts = [r.hostname for r in self.routes]
        shared = sorted({h for h in hosts if hosts.count(h) > 1})
        if shared:
            raise ValueError(f"host names used by more than one route: {shared}")
        outside = [h for h in hosts if not h.endswith(f".{self.domain}")]
        if outside:
            raise ValueError(
                f"host names {outside} are not under the listener domain {self.domain!r}"
            )
        return self


class Exposure(pulumi.ComponentResource):
    """A TLS Gateway and one HTTPRoute per public service, in one target's cluster."""

    gateway_name: str
    """Gateway name."""
    gateway_namespace: str
    """Gateway namespace."""
    routes: dict[str, k8s.apiextensions.CustomResource]
    """`<namespace>/<service>` -> its HTTPRoute."""

    def __init__(
        self, name: str, args: ExposureArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("slipway:traffic:Exposure", name, {}, opts)
        self.gateway_name = args.gateway_name
        self.gateway_namespace = gw_ns = args.gateway_namespace
        base_labels = {
            "app.kubernetes.io/managed-by": "slipway",
            "team": args.tags["team"],
            "cost-center": args.tags["cost-center"],
        }
        gw_labels = {**base_labels, "app.kubernetes.io/name": args.gateway_name}
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": gw_ns,
                "labels": {
                    **gw_labels,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        route_namespaces = sorted({r.namespace for r in args.routes})
        allowed = (
            {
                "namespaces": {
                    "from": "Selector",
                    "selector": {
                        "matchExpressions": [
                            {
                                "key": "kubernetes.io/metadata.name",
                                "operator": "In",
                                "values": route_namespaces,
                            }
                        ]
                    },
                }
            }
            if route_namespaces
            else {"namespaces": {"from": "Same"}}
        )
        annotations: dict[str, Any] = {
            # Pulumi waits until the controller has programmed the load balancer.
            "pulumi.com/waitFor": "condition=Programmed",
        }
        if args.cluster_issuer:
            annotations["cert-manager.io/cluster-issuer"] = args.cluster_issuer
        spec: dict[str, Any] = {
            "gatewayClassName": args.gateway_class_name,
            "listeners": [
                {
                    "name": "https",
                    "protocol": "HTTPS",
                    "port": 443,
                    "hostname": f"*.{args.domain}",
                    "tls": {
                        "mode": "Terminate",
                        "certificateRefs": [{"kind": "Secret", "name": args.tls_secret_name}],
                    },
                    "allowedRoutes": allowed,
                },
                {
                    "name": "http",
                    "protocol": "HTTP",
                    "port": 80,
                    "hostname": f"*.{args.domain}",
                    "allowedRoutes": {"namespaces": {"from": "Same"}},
                },
            ],
        }
        if args.addresses:
            spec["addresses"] = [{"type": "NamedAddress", "value": a} for a in args.addresses]
        if args.infrastructure_annotations:
            spec["infrastructure"] = {"annotations": args.infrastructure_annotations}
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=GATEWAY_API,
            kind="Gateway",
            metadata={
                "name": args.gateway_name,
                "namespace": gw_ns,
                "labels": gw_labels,
                "annotations": annotations,
            },
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-https-redirect",
            api_version=GATEWAY_API,
            kind="HTTPRoute",
            metadata={
                "name": "https-redirect",
                "namespace": gw_ns,
                "labels": {**base_labels, "app.kubernetes.io/name": "https-redirect"},
            },
            spec={
                "parentRefs": [{"name": args.gateway_name, "sectionName": "http"}],
                "rules": [
                    {
                        "filters": [
                            {
                                "type": "RequestRedirect",
                                "requestRedirect": {"scheme": "https", "statusCode": 301},
                            }
                        ]
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        self.routes = {}
        for route in args.routes:
            self.routes[f"{route.namespace}/{route.service}"] = k8s.apiextensions.CustomResource(
                f"{name}-route-{route.namespace}-{route.service}",
                api_version=GATEWAY_API,
                kind="HTTPRoute",
                metadata={
                    "name": route.service,
                    "namespace": route.namespace,
                    "labels": {**base_labels, "app.kubernetes.io/name": route.service},
                },
                spec={
                    "parentRefs": [
                        {
                            "name": args.gateway_name,
                            "namespace": gw_ns,
                            "sectionName": "https",
                        }
                    ],
                    "hostnames": [route.hostname],
                    "rules": [
                        {
                            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                            "backendRefs": route.backends(),
                        }
                    ],
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
            )
        self.register_outputs(
            {"gateway_name": self.gateway_name, "gateway_namespace": self.gateway_namespace}
        )
