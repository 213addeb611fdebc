"""In-cluster traffic: Istio mesh policy and routes, or Gateway API HTTPRoute weights.

With `layer: istio` every service gets, as children of its Microservice:

- `<name>-peerauth`: PeerAuthentication, mutual TLS STRICT for the service's pods; only the
  `plaintext_ports` (the metrics port Prometheus scrapes, a public service's ports the entry
  proxies reach) are PERMISSIVE, since those callers are outside the mesh
- `<name>-destrule`: DestinationRule, ISTIO_MUTUAL, connection pool, outlier detection, and
  for a canary the `stable` / `canary` subsets
- `<name>-vs`: VirtualService, one route named `primary` with timeout, retries, the canary
  weights, and fault injection only when declared. Retries default to failures where the
  request never reached the app (`RetryArgs`); 5xx and the like need `idempotent`

With `layer: gateway-api` a canary gets an `HTTPRoute` `<svc>-mesh` (`<name>-route`) attached
to its own Service (the Gateway API's mesh attachment, GAMMA; `<svc>` stays free for a public
entry route), splitting `backendRefs` by weight between
`<svc>-stable` and `<svc>-canary`. Retries and outlier detection are not in the Gateway API's
standard channel, so they are an Istio feature here.

A weight is one value in one place: a canary step changes `weight` on two route entries and
nothing else. When Argo Rollouts owns the weights, Pulumi creates the route with the initial
split and then leaves the whole route list to Argo (`ARGO_OWNED`), so a `pulumi up` during a
rollout neither resets the split nor fails on a server-side apply conflict. The price: the
timeout, retries and fault of an Argo-managed route are applied when it is created, not on
later updates. Fault injection is for drills: it is absent unless declared, and the policy pack
forbids it in prod.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, model_validator

from slipway_components.kit import WorkloadKit
from slipway_components.podspec import Args

ISTIO_NETWORKING = "networking.istio.io/v1"
ISTIO_SECURITY = "security.istio.io/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
Mesh = Literal["sidecar", "ambient", "none"]
ROUTE_NAME = "primary"
"""Name of the VirtualService HTTP route; Argo Rollouts is told to manage this one."""
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
"""Configuration objects with no readiness of their own: nothing to wait for."""

# Why whole lists, not `spec.http[0].route[i].weight`: under server-side apply an ignored path
# holds only if the provider leaves it out of what it applies. pulumi-kubernetes
# provider/pkg/await/await.go, handleSSAIgnoreFields (as of main 94977969d, after v4.32.0; the
# code dates from v4.3, #2566) splits the path on "." ("TODO ... nested arrays"), so
# `http[0]` matches neither the managed fields nor the live object and the declared weights
# are applied. The lists are atomic anyway (Istio 1.30's CRDs declare no list type; Gateway
# API v1.6.1 marks HTTPRoute `spec.rules` atomic): a weight cannot be owned apart from its
# list. Argo Rollouts (rollout/trafficrouting/istio/istio.go, v1.9.1) and its Gateway API
# plugin (pkg/plugin/httproute.go, v0.15.0) write with a plain `Update`, which takes the whole
# list; the provider drops an ignored plain path while another manager owns it. The
# `pulumi.com/patchForce` annotation would overwrite Argo's weights instead: never set here.
ARGO_OWNED: dict[str, tuple[str, ...]] = {
    "VirtualService": ("spec.http",),
    "DestinationRule": ("spec.subsets",),
    "HTTPRoute": ("spec.rules",),
}
"""Kind -> the fields Argo Rollouts owns once it has stepped a canary: Pulumi sets them at
creation and ignores them afterwards (`ignore_changes`)."""


def argo_owned_opts(kit: WorkloadKit, kind: str) -> pulumi.ResourceOptions:
    """Options of an object Argo Rollouts steps: its Argo-owned fields are left to Argo after
    creation, so `pulumi up` neither resets them nor conflicts with the controller."""
    return kit.opts(ignore_changes=list(ARGO_OWNED[kind]))


SAFE_RETRY_ON = ("connect-failure", "refused-stream", "reset-before-request", "envoy-ratelimited")
"""Envoy retry conditions where the request never reached the application, so a retry cannot
repeat its effect: the connection failed, the HTTP/2 stream was refused (REFUSED_STREAM means
"not processed"), the connection reset before the request was sent, or the sidecar's own rate
limit refused it."""
REPEATING_RETRY_ON = (
    "5xx",
    "gateway-error",
    "reset",
    "retriable-4xx",
    "retriable-status-codes",
    "retriable-headers",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
)
"""Conditions met after the application may have processed the request (a 5xx or 504 from a
slow handler, a reset mid-request, a gRPC status the server sent): a retry can repeat a
payment or an order. Allowed with `idempotent` only; Istio also takes a bare status code
(`503`), which is one of these. With `SAFE_RETRY_ON` this is the set Istio's validation
accepts (istio/istio pkg/config/validation, `supportedRetryOnPolicies`)."""
DEFAULT_RETRY_ON = "connect-failure,refused-stream,reset-before-request"


class RetryArgs(Args):
    """Istio retries of failed requests, within the whole-request timeout.

    The default retries only failures where the request never reached the application, which
    is safe for any request, a POST included. Retrying on 5xx, gateway errors, resets or gRPC
    statuses repeats requests the application may have acted on: that needs `idempotent`, for
    services whose every request may run twice (reads, or writes with idempotency keys)."""

    attempts: int = Field(default=2, ge=0, le=10)
    """Retries after the first try; default: 2. 0 turns retries off (then `retry_on` and
    `per_try_timeout_seconds` are not rendered: Istio refuses them with 0 attempts)."""
    per_try_timeout_seconds: float | None = Field(default=None, gt=0, le=300)
    """Timeout of each try, in seconds; default: None, each try may take the whole-request
    timeout. A try cut by it is retried only on `5xx`/`gateway-error`/`reset`, so it needs
    `idempotent`."""
    retry_on: str = DEFAULT_RETRY_ON
    """Envoy/Istio retry conditions, comma-separated; default:
    connect-failure,refused-stream,reset-before-request (the request never reached the app).
    Others (5xx, gateway-error, reset, retriable-status-codes, a status code, gRPC statuses)
    need `idempotent`."""
    idempotent: bool = False
    """True: every request of this service may safely run twice, so `retry_on` and
    `per_try_timeout_seconds` may retry requests the app has seen; default: False. Never for
    payments, orders or other non-idempotent POSTs."""

    @model_validator(mode="after")
    def _safe_unless_idempotent(self) -> RetryArgs:
        conditions = [c.strip() for c in self.retry_on.split(",")]
        known = (*SAFE_RETRY_ON, *REPEATING_RETRY_ON)
        unknown = [c for c in conditions if c not in known and not _status_code(c)]
        if unknown:
            raise ValueError(
                f"retry_on {unknown} are not Envoy/Istio retry conditions; allowed: "
                f"{', '.join(known)} or an HTTP status code"
            )
        if self.attempts == 0 and self.per_try_timeout_seconds is not None:
            # istio/istio pkg/config/validation validateHTTPRetry: "http retry policy
            # configured when attempts are set to 0 (disabled)".
            raise ValueError("per_try_timeout_seconds needs attempts > 0 (0 turns retries off)")
        if self.idempotent:
            return self
        repeating = [c for c in conditions if c not in SAFE_RETRY_ON]
        if repeating:
            raise ValueError(
                f"retry_on {repeating} retries requests the application may already have "
                f"processed (a POST would run twice); allowed without idempotent: "
                f"{', '.join(SAFE_RETRY_ON)}; set idempotent: true only if every request of "
                "the service may be repeated"
            )
        if self.per_try_timeout_seconds is not None:
            raise ValueError(
                "per_try_timeout_seconds cuts a slow try, which only 5xx, gateway-error or "
                "reset retries, repeating a request the app has seen; it needs idempotent: true"
            )
        return self

    def render(self) -> dict[str, Any]:
        """The VirtualService route's `retries`."""
        if self.attempts == 0:
            # Istio's validation refuses retryOn or perTryTimeout beside 0 attempts.
            return {"attempts": 0}
        conditions = ",".join(c.strip() for c in self.retry_on.split(","))
        out: dict[str, Any] = {"attempts": self.attempts, "retryOn": conditions}
        if self.per_try_timeout_seconds is not None:
            out["perTryTimeout"] = _duration(self.per_try_timeout_seconds)
        return out


def _status_code(condition: str) -> bool:
    """A status code Istio takes in `retryOn`: one Go's `http.StatusText` names (istio/istio
    pkg/config/validation validateHTTPRetry); Python's `HTTPStatus` names the same codes."""
    return condition.isdigit() and int(condition) in _HTTP_STATUSES


_HTTP_STATUSES = frozenset(int(s) for s in HTTPStatus)


class OutlierArgs(Args):
    """Eject a pod that keeps failing, so one bad replica does not fail a share of requests."""

    consecutive_5xx_errors: int = Field(default=5, ge=1, le=1000)
    """5xx responses in a row that eject a pod; default: 5."""
    interval_seconds: int = Field(default=10, ge=1, le=3600)
    """Seconds between ejection sweeps; default: 10."""
    base_ejection_seconds: int = Field(default=30, ge=1, le=3600)
    """Minimum ejection time in seconds, growing with each ejection of the same pod; default:
    30."""
    max_ejection_percent: int = Field(default=50, ge=0, le=100)
    """At most this share of pods is ejected; default: 50 (never the whole service)."""


class FaultArgs(Args):
    """Fault injection for resilience drills. Forbidden in prod by the policy pack."""

    delay_percent: float | None = Field(default=None, gt=0, le=100)
    """Percent of requests to delay; default: None (no delay)."""
    delay_seconds: float = Field(default=1, gt=0, le=60)
    """Delay added to those requests, in seconds; default: 1."""
    abort_percent: float | None = Field(default=None, gt=0, le=100)
    """Percent of requests to fail; default: None (no aborts)."""
    abort_http_status: int = Field(default=503, ge=400, le=599)
    """HTTP status of the failed requests; default: 503."""

    @model_validator(mode="after")
    def _some(self) -> FaultArgs:
        if self.delay_percent is None and self.abort_percent is None:
            raise ValueError("a fault needs delay_percent and/or abort_percent")
        return self

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.delay_percent is not None:
            out["delay"] = {
                "percentage": {"value": self.delay_percent},
                "fixedDelay": _duration(self.delay_seconds),
            }
        if self.abort_percent is not None:
            out["abort"] = {
                "percentage": {"value": self.abort_percent},
                "httpStatus": self.abort_http_status,
            }
        return out


class TrafficArgs(Args):
    """The stack's traffic layer and the service's mesh policy."""

    layer: Literal["none", "istio", "gateway-api"] = "none"
    """default: none (no mesh objects; a canary is refused)."""
    timeout_seconds: float = Field(default=15, gt=0, le=3600)
    """Whole-request timeout, retries included; default: 15."""
    retries: RetryArgs = RetryArgs()
    """istio: retries of failed requests; default: RetryArgs' defaults."""
    outlier_detection: OutlierArgs = OutlierArgs()
    """istio: ejection of pods that keep failing; default: OutlierArgs' defaults."""
    max_pending_requests: int = Field(default=1024, ge=1)
    """Connection pool: queued HTTP requests per pod before fast failure; default: 1024."""
    fault: FaultArgs | None = None
    """default: none. Only with istio."""
    mesh: Mesh | None = None
    """The mesh data plane the pods are in: `sidecar`, `ambient` or `none`; default: sidecar
    with the istio layer, none otherwise. Decides the NetworkPolicy's mesh ports."""
    plaintext_ports: list[int] = Field(default_factory=list)
    """istio: container ports on which the PeerAuthentication accepts plaintext as well as
    mTLS (`portLevelMtls` PERMISSIVE), for callers outside the mesh that the NetworkPolicy
    lets in: Prometheus scraping the metrics port, the public entry's proxies; default: none
    (STRICT on every port)."""

    @model_validator(mode="after")
    def _fault_needs_istio(self) -> TrafficArgs:
        if self.fault is not None and self.layer != "istio":
            raise ValueError(f"fault injection needs the istio layer (layer is {self.layer!r})")
        return self

    @model_validator(mode="after")
    def _mesh_fits_layer(self) -> TrafficArgs:
        if self.layer == "istio" and self.mesh == "none":
            raise ValueError("the istio layer needs mesh 'sidecar' or 'ambient', not 'none'")
        if self.layer != "istio" and self.mesh not in (None, "none"):
            raise ValueError(f"mesh {self.mesh!r} needs the istio layer (layer is {self.layer!r})")
        bad = [p for p in self.plaintext_ports if not 1 <= p <= 65535]
        if bad:
            raise ValueError(f"plaintext_ports {bad}: ports are 1-65535")
        return self

    @property
    def mesh_mode(self) -> Mesh:
        """`mesh`, or its default for the layer."""
        if self.mesh is not None:
            return self.mesh
        return "sidecar" if self.layer == "istio" else "none"

    @model_validator(mode="after")
    def _try_within_request(self) -> TrafficArgs:
        per_try = self.retries.per_try_timeout_seconds
        if per_try is not None and per_try > self.timeout_seconds:
            raise ValueError(
                f"retries.per_try_timeout_seconds {per_try} is longer than timeout_seconds "
                f"{self.timeout_seconds}, the whole request's (retries included)"
            )
        return self


def _duration(seconds: float) -> str:
    """Istio / Gateway API duration: whole seconds as `15s`, fractions as milliseconds."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def fqdn(kit: WorkloadKit, service: str | None = None) -> pulumi.Input[str]:
    """In-cluster DNS name of the service (an Output when its namespace is one)."""
    return kit.fqdn(service)


def mesh_route_name(service: str) -> str:
    """The east-west HTTPRoute's name; `<svc>` itself is left to a public entry route."""
    return f"{service}-mesh"


def canary_split(weight: int) -> list[tuple[str, int]]:
    """(track, weight) pairs of a canary route: stable gets the rest."""
    return [("stable", 100 - weight), ("canary", weight)]


@dataclass(frozen=True)
class IstioParts:
    """What `build_istio` created."""

    peer_authentication: k8s.apiextensions.CustomResource
    """`<name>-peerauth`: mutual TLS STRICT for the service's pods."""
    destination_rule: k8s.apiextensions.CustomResource
    """`<name>-destrule`: mTLS, connection pool, outlier detection (and canary subsets)."""
    virtual_service: k8s.apiextensions.CustomResource
    """`<name>-vs`: the `primary` route with timeout, retries and weights."""


def build_istio(
    kit: WorkloadKit,
    traffic: TrafficArgs,
    *,
    subsets: bool,
    split: list[tuple[str, int]] | None,
    argo_managed: bool = False,
    wait_for: Sequence[pulumi.Resource] = (),
) -> IstioParts:
    """PeerAuthentication, DestinationRule and VirtualService for one service.

    `subsets`: define `stable`/`canary` subsets (by the `track` label, or for Argo by the
    label it injects). `split`: (subset, weight) destinations; None routes to the host.
    `argo_managed`: the subsets and the route list are Argo's after creation (`ARGO_OWNED`).
    `wait_for`: workloads the VirtualService's route waits for (a native canary's tracks).
    """
    a = kit.args
    t = traffic
    svc = a.service_name
    host = kit.fqdn()
    first_port = a.ports[0].port

    pa_spec: dict[str, Any] = {
        "selector": {"matchLabels": dict(kit.selector)},
        "mtls": {"mode": "STRICT"},
    }
    if t.plaintext_ports:
        # Callers outside the mesh (Prometheus, the public entry's proxies) cannot present a
        # mesh certificate; only these ports also take plaintext, and the NetworkPolicy still
        # decides who reaches them. Keys are container ports (Istio matches the target port).
        pa_spec["portLevelMtls"] = {
            str(port): {"mode": "PERMISSIVE"} for port in sorted(set(t.plaintext_ports))
        }
    peer_authentication = k8s.apiextensions.CustomResource(
        f"{kit.name}-peerauth",
        api_version=ISTIO_SECURITY,
        kind="PeerAuthentication",
        metadata=kit.meta(svc, annotations=SKIP_AWAIT),
        spec=pa_spec,
        opts=kit.opts(),
    )

    policy: dict[str, Any] = {
        "tls": {"mode": "ISTIO_MUTUAL"},
        "connectionPool": {"http": {"http1MaxPendingRequests": t.max_pending_requests}},
        "outlierDetection": {
            "consecutive5xxErrors": t.outlier_detection.consecutive_5xx_errors,
            "interval": f"{t.outlier_detection.interval_seconds}s",
            "baseEjectionTime": f"{t.outlier_detection.base_ejection_seconds}s",
            "maxEjectionPercent": t.outlier_detection.max_ejection_percent,
        },
    }
    dr_spec: dict[str, Any] = {"host": host, "trafficPolicy": policy}
    if subsets:
        if argo_managed:
            # Argo Rollouts adds its pod-template-hash label to each subset at run time.
            labels: dict[str, dict[str, str]] = {
                "stable": dict(kit.selector),
                "canary": dict(kit.selector),
            }
        else:
            labels = {
                "stable": {**kit.selector, "track": "stable"},
                "canary": {**kit.selector, "track": "canary"},
            }
        dr_spec["subsets"] = [{"name": n, "labels": labels[n]} for n in ("stable", "canary")]
    destination_rule = k8s.apiextensions.CustomResource(
        f"{kit.name}-destrule",
        api_version=ISTIO_NETWORKING,
        kind="DestinationRule",
        metadata=kit.meta(svc, annotations=SKIP_AWAIT),
        spec=dr_spec,
        opts=argo_owned_opts(kit, "DestinationRule") if argo_managed else kit.opts(),
    )

    if split is None:
        route = [{"destination": {"host": host, "port": {"number": first_port}}}]
    else:
        route = [
            {
                "destination": {"host": host, "subset": subset, "port": {"number": first_port}},
                "weight": weight,
            }
            for subset, weight in split
        ]
    http: dict[str, Any] = {
        "name": ROUTE_NAME,
        "route": route,
        "timeout": _duration(t.timeout_seconds),
        "retries": t.retries.render(),
    }
    if t.fault is not None:
        http["fault"] = t.fault.render()
    virtual_service = k8s.apiextensions.CustomResource(
        f"{kit.name}-vs",
        api_version=ISTIO_NETWORKING,
        kind="VirtualService",
        metadata=kit.meta(svc, annotations=SKIP_AWAIT),
        spec={"hosts": [host], "http": [http]},
        opts=(
            argo_owned_opts(kit, "VirtualService")
            if argo_managed
            else kit.opts(depends_on=list(wait_for))
        ),
    )
    return IstioParts(peer_authentication, destination_rule, virtual_service)


def build_http_route(
    kit: WorkloadKit,
    traffic: TrafficArgs,
    split: list[tuple[str, int]],
    *,
    argo_managed: bool = False,
    wait_for: Sequence[pulumi.Resource] = (),
) -> k8s.apiextensions.CustomResource:
    """`<name>-route`: Gateway API HTTPRoute on the service itself (mesh attachment) with
    weighted backends `<svc>-<track>`; with `argo_managed`, its rules are Argo's after
    creation (`ARGO_OWNED`); changed only after `wait_for` (a native canary's tracks).

    Retries: the standard channel of Gateway API v1.6.1 (the vendored CRD) has no `retry`
    field, so the route declares none; the implementation's default applies (Istio: the mesh's
    `defaultHttpRetryPolicy`). A per-try timeout becomes `timeouts.backendRequest`."""
    a = kit.args
    svc = a.service_name
    port = a.ports[0].port
    timeouts = {"request": _duration(traffic.timeout_seconds)}
    if traffic.retries.per_try_timeout_seconds is not None:
        timeouts["backendRequest"] = _duration(traffic.retries.per_try_timeout_seconds)
    return k8s.apiextensions.CustomResource(
        f"{kit.name}-route",
        api_version=GATEWAY_API,
        kind="HTTPRoute",
        metadata=kit.meta(mesh_route_name(svc), annotations=SKIP_AWAIT),
        spec={
            "parentRefs": [{"group": "", "kind": "Service", "name": svc, "port": port}],
            "rules": [
                {
                    "backendRefs": [
                        {"name": f"{svc}-{track}", "port": port, "weight": weight}
                        for track, weight in split
                    ],
                    "timeouts": timeouts,
                }
            ],
        },
        opts=(
            argo_owned_opts(kit, "HTTPRoute")
            if argo_managed
            else kit.opts(depends_on=list(wait_for))
        ),
    )
