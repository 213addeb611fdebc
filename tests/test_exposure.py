"""Exposure: TLS Gateway, HTTP->HTTPS redirect, one HTTPRoute per public service."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from slipway_components.exposure import BackendRef, Exposure, ExposureArgs, PublicRoute
from tests.cloud_mocks import RecordingMonitor, install, run

TAGS = {"team": "platform", "cost-center": "platform"}
CR = "kubernetes:gateway.networking.k8s.io/v1"


@pytest.fixture
def mon() -> RecordingMonitor:
    return install()


def build(mon: RecordingMonitor, routes: list[PublicRoute] | None = None, **kw: object) -> None:
    if routes is None:
        routes = [
            PublicRoute(
                service="orders", namespace="shop", hostname="orders.shop.example.com", port=8080
            )
        ]
    args = ExposureArgs(
        gateway_class_name="eg", domain="shop.example.com", routes=routes, tags=TAGS, **kw
    )
    run(lambda: Exposure("aws-us-east-1-exposure", args))


def test_gateway_terminates_tls_on_443(mon: RecordingMonitor) -> None:
    build(mon)
    gw = mon.one(f"{CR}:Gateway")
    https = next(li for li in gw.inputs["spec"]["listeners"] if li["name"] == "https")
    assert https["protocol"] == "HTTPS" and https["port"] == 443, gw.urn
    assert https["tls"]["mode"] == "Terminate", gw.urn
    assert https["tls"]["certificateRefs"] == [{"kind": "Secret", "name": "public-tls"}], gw.urn
    assert https["hostname"] == "*.shop.example.com", gw.urn


def test_only_route_namespaces_may_attach(mon: RecordingMonitor) -> None:
    build(mon)
    gw = mon.one(f"{CR}:Gateway")
    https = next(li for li in gw.inputs["spec"]["listeners"] if li["name"] == "https")
    expr = https["allowedRoutes"]["namespaces"]["selector"]["matchExpressions"][0]
    assert expr["values"] == ["shop"], gw.urn


def test_plain_http_redirects_to_https(mon: RecordingMonitor) -> None:
    build(mon)
    r = mon.one(f"{CR}:HTTPRoute", "aws-us-east-1-exposure-https-redirect")
    f = r.inputs["spec"]["rules"][0]["filters"][0]
    assert f["requestRedirect"] == {"scheme": "https", "statusCode": 301}, r.urn


def test_route_per_public_service_defaults_to_the_service(mon: RecordingMonitor) -> None:
    build(mon)
    r = mon.one(f"{CR}:HTTPRoute", "aws-us-east-1-exposure-route-shop-orders")
    spec = r.inputs["spec"]
    assert spec["hostnames"] == ["orders.shop.example.com"], r.urn
    assert spec["parentRefs"][0] == {
        "name": "public",
        "namespace": "gateway",
        "sectionName": "https",
    }, r.urn
    assert spec["rules"][0]["backendRefs"] == [{"name": "orders", "port": 8080, "weight": 1}]
    labels = r.inputs["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "orders" and labels["team"] == "platform", r.urn


def test_backend_refs_argument_carries_canary_weights(mon: RecordingMonitor) -> None:
    build(
        mon,
        routes=[
            PublicRoute(
                service="orders",
                namespace="shop",
                hostname="orders.shop.example.com",
                backend_refs=[
                    BackendRef(name="orders-stable", port=80, weight=90),
                    BackendRef(name="orders-canary", port=80, weight=10),
                ],
            )
        ],
    )
    r = mon.one(f"{CR}:HTTPRoute", "aws-us-east-1-exposure-route-shop-orders")
    weights = {b["name"]: b["weight"] for b in r.inputs["spec"]["rules"][0]["backendRefs"]}
    assert weights == {"orders-stable": 90, "orders-canary": 10}, r.urn


def test_static_address_and_load_balancer_annotations(mon: RecordingMonitor) -> None:
    build(
        mon,
        addresses=["prod-gcp-ingress"],
        infrastructure_annotations={"service.beta.kubernetes.io/x": "y"},
    )
    spec = mon.one(f"{CR}:Gateway").inputs["spec"]
    assert spec["addresses"] == [{"type": "NamedAddress", "value": "prod-gcp-ingress"}]
    assert spec["infrastructure"]["annotations"] == {"service.beta.kubernetes.io/x": "y"}


def test_gateway_namespace_enforces_restricted_pod_security(mon: RecordingMonitor) -> None:
    build(mon)
    ns = mon.one("kubernetes:core/v1:Namespace")
    assert ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_host_outside_the_domain_is_refused() -> None:
    with pytest.raises(ValidationError, match="not under the listener domain"):
        ExposureArgs(
            gateway_class_name="eg",
            domain="shop.example.com",
            tags=TAGS,
            routes=[PublicRoute(service="a", namespace="n", hostname="a.other.example.org")],
        )


def test_all_zero_weights_are_refused() -> None:
    with pytest.raises(ValidationError, match="send no traffic"):
        PublicRoute(
            service="a",
            namespace="n",
            hostname="a.shop.example.com",
            backend_refs=[BackendRef(name="a", port=80, weight=0)],
        )


def test_shared_host_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="more than one route"):
        ExposureArgs(
            gateway_class_name="eg",
            domain="shop.example.com",
            tags=TAGS,
            routes=[
                PublicRoute(service="a", namespace="n", hostname="x.shop.example.com"),
                PublicRoute(service="b", namespace="n", hostname="x.shop.example.com"),
            ],
        )
