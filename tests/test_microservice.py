"""Microservice: secure defaults, overrides, child URNs, and config changes rolling pods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from slipway_components import (
    AutoscalingArgs,
    ContainerPort,
    HttpProbe,
    Microservice,
    MicroserviceArgs,
    Peer,
    SecurityArgs,
)
from tests.conftest import records_of

IMAGE = "ghcr.io/acme/orders:1.2.3@sha256:" + "a" * 64


def args(**overrides: Any) -> MicroserviceArgs:
    base: dict[str, Any] = dict(
        service_name="orders",
        namespace="commerce",
        team="commerce",
        image=IMAGE,
        ports=[ContainerPort(name="http", port=8080)],
        liveness=HttpProbe(path="/healthz"),
        readiness=HttpProbe(path="/ready"),
    )
    base.update(overrides)
    return MicroserviceArgs(**base)


def build(a: MicroserviceArgs | Callable[[], MicroserviceArgs], name: str = "orders") -> dict:
    """Records of one Microservice; pass a callable when args hold Outputs (they must be
    created inside the program's runtime)."""
    return records_of(lambda: Microservice(name, a() if callable(a) else a))


def pod_spec(recs: dict[str, Any], name: str = "orders") -> dict[str, Any]:
    return recs[f"{name}-deployment"].inputs["spec"]["template"]["spec"]


def test_child_urns_are_pinned() -> None:
    recs = build(
        lambda: args(
            secrets={"DB_PASSWORD": pulumi.Output.secret("x")}, autoscaling=AutoscalingArgs()
        )
    )
    prefix = "urn:pulumi:test::slipway::slipway:apps:Microservice"
    expected = {
        f"{prefix}::orders",
        f"{prefix}$kubernetes:core/v1:ServiceAccount::orders-sa",
        f"{prefix}$kubernetes:core/v1:ConfigMap::orders-config",
        f"{prefix}$kubernetes:core/v1:Secret::orders-secrets",
        f"{prefix}$kubernetes:apps/v1:Deployment::orders-deployment",
        f"{prefix}$kubernetes:core/v1:Service::orders-service",
        f"{prefix}$kubernetes:autoscaling/v2:HorizontalPodAutoscaler::orders-hpa",
        f"{prefix}$kubernetes:policy/v1:PodDisruptionBudget::orders-pdb",
        f"{prefix}$kubernetes:networking.k8s.io/v1:NetworkPolicy::orders-netpol",
    }
    assert {r.urn for r in recs.values()} == expected
    component = f"{prefix}::orders"
    for r in recs.values():
        if r.urn != component:
            assert r.parent == component, f"{r.urn} must be parented to the component"


def test_two_instances_do_not_collide() -> None:
    def program() -> None:
        Microservice("a-orders", args())
        Microservice("b-orders", args())

    recs = records_of(program)
    assert len(recs) == 2 * 7, sorted(recs)


def test_pod_security_defaults() -> None:
    spec = pod_spec(build(args()))
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] >= 10000
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == "orders"
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsNonRoot"] is True
    assert c["imagePullPolicy"] == "Always"
    assert "hostNetwork" not in spec and "hostPID" not in spec and "hostIPC" not in spec


def test_service_account_token_not_mounted() -> None:
    sa = build(args())["orders-sa"].inputs
    assert sa["automountServiceAccountToken"] is False


def test_probes_and_resources_are_set() -> None:
    (c,) = pod_spec(build(args()))["containers"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert "startupProbe" not in c
    assert set(c["resources"]) == {"requests", "limits"}
    assert set(c["resources"]["limits"]) == {"cpu", "memory"}


def test_zone_spread_and_rolling_defaults() -> None:
    recs = build(args())
    spec = recs["orders-deployment"].inputs["spec"]
    keys = [t["topologyKey"] for t in spec["template"]["spec"]["topologySpreadConstraints"]]
    assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}
    assert spec["replicas"] == 2
    assert spec["progressDeadlineSeconds"] == 600


def test_service_is_cluster_ip() -> None:
    svc = build(args())["orders-service"].inputs["spec"]
    assert svc["type"] == "ClusterIP"
    assert svc["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]


def test_network_policy_denies_by_default_and_allows_dns() -> None:
    np = build(args())["orders-netpol"].inputs["spec"]
    assert np["policyTypes"] == ["Ingress", "Egress"]
    assert np["ingress"] == []
    (dns,) = np["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}


def test_network_policy_allows_declared_callers_and_callees() -> None:
    np = build(
        args(
            allow_from=[Peer(name="frontend", namespace="web")],
            calls=[Peer(name="payments", namespace="payments", ports=[8443])],
        )
    )["orders-netpol"].inputs["spec"]
    (rule,) = np["ingress"]
    peer = rule["from"][0]
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "frontend"}
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "web"}
    assert np["egress"][1]["ports"] == [{"port": 8443, "protocol": "TCP"}]


def test_pdb_and_labels() -> None:
    recs = build(args(cost_center="cc-1"))
    assert recs["orders-pdb"].inputs["spec"]["maxUnavailable"] == 1
    for r in recs.values():
        if r.custom:
            labels = r.inputs["metadata"]["labels"]
            assert labels["team"] == "commerce", r.urn
            assert labels["app.kubernetes.io/name"] == "orders", r.urn
            assert labels["cost-center"] == "cc-1", r.urn
            assert r.inputs["metadata"]["namespace"] == "commerce", r.urn


def test_autoscaling_override_creates_hpa_and_drops_replicas() -> None:
    recs = build(
        args(autoscaling=AutoscalingArgs(min_replicas=3, max_replicas=9, memory_utilization=75))
    )
    hpa = recs["orders-hpa"].inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 9)
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "orders",
    }
    names = [m["resource"]["name"] for m in hpa["metrics"]]
    assert names == ["cpu", "memory"]
    assert "replicas" not in recs["orders-deployment"].inputs["spec"]


def test_no_hpa_without_autoscaling() -> None:
    assert "orders-hpa" not in build(args())


def test_security_override_is_explicit() -> None:
    spec = pod_spec(build(args(security=SecurityArgs(run_as_user=20000))))
    assert spec["securityContext"]["runAsUser"] == 20000


def test_replicas_override() -> None:
    assert build(args(replicas=5))["orders-deployment"].inputs["spec"]["replicas"] == 5


def test_secrets_stay_secret_and_mount_as_files() -> None:
    recs = build(lambda: args(secrets={"DB_PASSWORD": pulumi.Output.secret("hunter2")}))
    assert recs["orders-secrets"].inputs["stringData"] == {"DB_PASSWORD": "[secret]"}
    assert "hunter2" not in repr([r.inputs for r in recs.values()])
    (c,) = pod_spec(recs)["containers"]
    assert c["env"] == [{"name": "DB_PASSWORD_FILE", "value": "/var/run/secrets/app/DB_PASSWORD"}]
    assert {"name": "secrets", "mountPath": "/var/run/secrets/app", "readOnly": True} in c[
        "volumeMounts"
    ]


def test_config_change_renames_configmap_and_changes_pod_template() -> None:
    one = build(args(config={"LOG_LEVEL": "info"}))
    two = build(args(config={"LOG_LEVEL": "debug"}))
    cm1 = one["orders-config"].inputs
    cm2 = two["orders-config"].inputs
    assert cm1["immutable"] is True
    assert cm1["metadata"]["name"] != cm2["metadata"]["name"]
    assert cm1["metadata"]["name"].startswith("orders-config-")
    t1 = one["orders-deployment"].inputs["spec"]["template"]
    t2 = two["orders-deployment"].inputs["spec"]["template"]
    assert t1 != t2
    assert t2["spec"]["containers"][0]["envFrom"] == [
        {"configMapRef": {"name": cm2["metadata"]["name"]}}
    ]
    same = build(args(config={"LOG_LEVEL": "info"}))
    assert same["orders-config"].inputs == cm1, "same config, same name"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"namespace": "default"}, "namespace 'default' is reserved"),
        ({"namespace": "kube-system"}, "namespace 'kube-system' is reserved"),
        ({"namespace": "kube-anything"}, "namespace 'kube-anything' is reserved"),
        ({"namespace": "istio-system"}, "namespace 'istio-system' is reserved"),
        ({"namespace": "gke-managed-x"}, "namespace 'gke-managed-x' is reserved"),
        ({"image": "ghcr.io/acme/orders:latest"}, "tag other than latest"),
        ({"image": "ghcr.io/acme/orders"}, "tag other than latest, or a digest"),
        ({"service_name": "Orders"}, "not a DNS-1123 label"),
        ({"liveness": HttpProbe(path="/h", port="admin")}, "probe port 'admin'"),
        ({"ports": [{"name": "http", "port": 80}]}, "greater than or equal to 1024"),
        ({"replicaz": 3}, "Extra inputs are not permitted"),
    ],
)
def test_bad_args_fail_early_with_a_clear_message(override: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        args(**override)


@pulumi.runtime.test
def test_outputs_for_consumers():
    ms = Microservice("out-orders", args())

    def check(values: list[str]) -> None:
        name, ns, url = values
        assert (name, ns) == ("orders", "commerce"), ms.urn
        assert url == "http://orders.commerce.svc.cluster.local:8080"

    return pulumi.Output.all(ms.service_name, ms.namespace, ms.url).apply(check)


def test_every_part_a_builder_returns_is_a_declared_microservice_attribute() -> None:
    """`Microservice._take` sets each part under its own name: a part named differently
    would become an attribute nobody declared (or documented)."""
    import dataclasses
    import inspect

    from slipway_components.bluegreen import BlueGreenParts
    from slipway_components.canary import CanaryParts
    from slipway_components.flags import FlagParts
    from slipway_components.microservice import RollingParts
    from slipway_components.rollouts import RolloutParts
    from slipway_components.traffic import IstioParts

    declared = set(inspect.get_annotations(Microservice))
    for parts in (RollingParts, BlueGreenParts, CanaryParts, RolloutParts, IstioParts, FlagParts):
        names = {f.name for f in dataclasses.fields(parts)} - {"mesh"}
        assert names <= declared, f"{parts.__name__}: {sorted(names - declared)} undeclared"
