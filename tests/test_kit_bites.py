"""Workload kit behaviours pinned exactly: the objects every shape shares (ServiceAccount,
ConfigMaps, Secret, Deployment, Service, PDB, HPA, NetworkPolicy), their names, labels and
options, the pod template's inputs, which options produce which objects, and the refusals."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, cast

import pulumi
import pytest
from pydantic import ValidationError

from slipway_components.kit import (
    AMBIENT_PROBE_SOURCE,
    HBONE_PORT,
    ISTIO_NAMESPACE,
    ISTIOD_XDS_PORT,
    KUBE_API_PORTS,
    AutoscalingArgs,
    Peer,
    RollingArgs,
    WorkloadArgs,
    WorkloadKit,
    _tag_of,
    _version_of,
    check_count_or_percentage,
    sorted_peers,
    sorted_plain_first,
)
from slipway_components.podspec import ResourceArgs, SecurityArgs, content_hash, pod_template
from slipway_components.strategies import TrackArgs
from tests.conftest import records_of

IMAGE = "ghcr.io/acme/orders:1.2.3"
OWNER_TYPE = "test:kit:Owner"
PREFIX = f"urn:pulumi:test::slipway::{OWNER_TYPE}"
OWNER_URN = f"{PREFIX}::orders"

COMMON = {
    "app.kubernetes.io/managed-by": "pulumi",
    "app.kubernetes.io/name": "orders",
    "app.kubernetes.io/part-of": "slipway",
    "cost-center": "shared",
    "team": "commerce",
}
DNS_EGRESS = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}
HTTP = [{"port": "http", "protocol": "TCP"}]


SERVICE_FIELDS: dict[str, Any] = {
    "service_name": "orders",
    "namespace": "commerce",
    "team": "commerce",
    "image": IMAGE,
    "ports": [{"name": "http", "port": 8080}],
    "liveness": {"path": "/healthz"},
    "readiness": {"path": "/ready"},
}
"""The least a service gives, as args fields (shared with test_microservice_bites)."""


def wargs(**overrides: Any) -> WorkloadArgs:
    return WorkloadArgs(**{**copy.deepcopy(SERVICE_FIELDS), **overrides})


def plain_kit(a: WorkloadArgs | None = None, **kwargs: Any) -> WorkloadKit:
    """A kit for what it computes without creating objects (no owner needed)."""
    return WorkloadKit(cast(Any, None), "orders", a or wargs(), **kwargs)


def run(
    build: Callable[[WorkloadKit], Any],
    a: WorkloadArgs | Callable[[], WorkloadArgs] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Records of the objects `build` creates from a kit owned by a component `orders`."""

    def program() -> None:
        owner = pulumi.ComponentResource(OWNER_TYPE, "orders")
        given = a() if callable(a) else a
        build(WorkloadKit(owner, "orders", given or wargs(), **kwargs))

    recs = records_of(program)
    del recs["orders"]
    return recs


def meta(name: str, **extra: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "commerce",
        "labels": dict(sorted({**COMMON, **extra}.items())),
    }


def peer_rule(namespace: str, name: str) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
    }


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[tuple[Any, ...], str]]:
    return [(e["loc"], e["msg"]) for e in exc.value.errors()]


# -- constants --------------------------------------------------------------------------------


def test_mesh_and_api_constants_are_the_well_known_ports_and_addresses() -> None:
    assert (ISTIO_NAMESPACE, ISTIOD_XDS_PORT, HBONE_PORT) == ("istio-system", 15012, 15008)
    assert AMBIENT_PROBE_SOURCE == "169.254.7.127/32"
    assert KUBE_API_PORTS == (443, 6443)


# -- autoscaling args ---------------------------------------------------------------------------


def test_autoscaling_defaults_are_two_to_six_pods_on_cpu_at_seventy_percent() -> None:
    auto = AutoscalingArgs()
    assert (auto.min_replicas, auto.max_replicas) == (2, 6)
    assert (auto.cpu_utilization, auto.memory_utilization) == (70, None)


def test_autoscaling_min_replicas_may_equal_max_replicas() -> None:
    auto = AutoscalingArgs(min_replicas=4, max_replicas=4)
    assert (auto.min_replicas, auto.max_replicas) == (4, 4)


def test_autoscaling_min_above_max_is_refused_naming_both() -> None:
    with pytest.raises(ValidationError) as exc:
        AutoscalingArgs(min_replicas=5, max_replicas=4)
    assert errors_of(exc) == [((), "Value error, min_replicas 5 exceeds max_replicas 4")]


def test_autoscaling_without_any_metric_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        AutoscalingArgs(cpu_utilization=None, memory_utilization=None)
    assert errors_of(exc) == [
        ((), "Value error, autoscaling needs cpu_utilization and/or memory_utilization")
    ]


def test_autoscaling_on_memory_alone_is_accepted() -> None:
    auto = AutoscalingArgs(cpu_utilization=None, memory_utilization=80)
    assert (auto.cpu_utilization, auto.memory_utilization) == (None, 80)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_replicas", 0, "Input should be greater than or equal to 1"),
        ("min_replicas", 1001, "Input should be less than or equal to 1000"),
        ("max_replicas", 0, "Input should be greater than or equal to 1"),
        ("max_replicas", 1001, "Input should be less than or equal to 1000"),
        ("cpu_utilization", 0, "Input should be greater than or equal to 1"),
        ("cpu_utilization", 101, "Input should be less than or equal to 100"),
        ("memory_utilization", 0, "Input should be greater than or equal to 1"),
        ("memory_utilization", 101, "Input should be less than or equal to 100"),
    ],
)
def test_autoscaling_bounds_are_refused_just_outside(field: str, value: int, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        AutoscalingArgs(**{field: value})
    assert errors_of(exc) == [((field,), message)]


def test_autoscaling_bounds_are_accepted_at_their_edges() -> None:
    low = AutoscalingArgs(min_replicas=1, max_replicas=1, cpu_utilization=1, memory_utilization=1)
    high = AutoscalingArgs(
        min_replicas=1000, max_replicas=1000, cpu_utilization=100, memory_utilization=100
    )
    assert (low.min_replicas, low.cpu_utilization, low.memory_utilization) == (1, 1, 1)
    assert (high.max_replicas, high.cpu_utilization, high.memory_utilization) == (1000, 100, 100)


# -- rolling args -------------------------------------------------------------------------------


def test_rolling_defaults_never_drop_below_the_desired_capacity() -> None:
    r = RollingArgs()
    assert (r.max_surge, r.max_unavailable) == ("25%", 0)
    assert (r.min_ready_seconds, r.progress_deadline_seconds) == (10, 600)


@pytest.mark.parametrize("value", ["0%", "9%", "10%", "99%", "100%", 0, 3])
def test_a_surge_count_or_whole_percentage_up_to_100_is_accepted(value: int | str) -> None:
    assert check_count_or_percentage(value) == value
    assert RollingArgs(max_surge=value, max_unavailable=value).max_surge == value


@pytest.mark.parametrize("value", ["101%", "01%", "%", "25", "25%%", "x25%", "25%x", "2.5%", ""])
def test_a_surge_that_is_not_a_count_or_percentage_is_refused(value: str) -> None:
    with pytest.raises(ValueError) as exc:
        check_count_or_percentage(value)
    assert str(exc.value) == f"{value!r} is neither a count nor a percentage like 25%"


def test_a_negative_surge_count_is_refused_with_the_bound() -> None:
    with pytest.raises(ValueError) as exc:
        check_count_or_percentage(-1)
    assert str(exc.value) == "-1 must be ≥ 0"


def test_a_long_bad_percentage_is_shown_cut_at_40_characters() -> None:
    forty = "x" * 40
    with pytest.raises(ValueError) as exc:
        check_count_or_percentage(forty)
    assert str(exc.value) == f"{forty!r} is neither a count nor a percentage like 25%"
    with pytest.raises(ValueError) as exc:
        check_count_or_percentage(forty + "y")
    assert str(exc.value) == f"{forty!r} (and 1 more) is neither a count nor a percentage like 25%"
    with pytest.raises(ValueError) as exc:
        check_count_or_percentage(forty + "yz")
    assert str(exc.value) == f"{forty!r} (and 2 more) is neither a count nor a percentage like 25%"


def test_rolling_max_unavailable_refusal_names_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        RollingArgs(max_unavailable="150%")
    assert errors_of(exc) == [
        (
            ("max_unavailable",),
            "Value error, '150%' is neither a count nor a percentage like 25%",
        )
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_ready_seconds", -1, "Input should be greater than or equal to 0"),
        ("min_ready_seconds", 3601, "Input should be less than or equal to 3600"),
        ("progress_deadline_seconds", 29, "Input should be greater than or equal to 30"),
        ("progress_deadline_seconds", 7201, "Input should be less than or equal to 7200"),
    ],
)
def test_rolling_timing_bounds_are_refused_just_outside(
    field: str, value: int, message: str
) -> None:
    with pytest.raises(ValidationError) as exc:
        RollingArgs(**{field: value})
    assert errors_of(exc) == [((field,), message)]


def test_rolling_timing_bounds_are_accepted_at_their_edges() -> None:
    low = RollingArgs(min_ready_seconds=0, progress_deadline_seconds=30)
    high = RollingArgs(min_ready_seconds=3600, progress_deadline_seconds=7200)
    assert (low.min_ready_seconds, low.progress_deadline_seconds) == (0, 30)
    assert (high.min_ready_seconds, high.progress_deadline_seconds) == (3600, 7200)


# -- workload args ------------------------------------------------------------------------------


def test_workload_defaults_are_the_documented_secure_ones() -> None:
    a = wargs()
    assert a.cost_center == "shared"
    assert (a.replicas, a.pdb_max_unavailable, a.autoscaling, a.startup) == (2, 1, None, None)
    assert (a.config, a.secrets, a.labels, a.version_label) == ({}, {}, {}, None)
    assert (a.external_secret_name, a.external_secret_keys) == (None, [])
    assert (a.allow_from, a.allow_from_namespaces, a.calls) == ([], [], [])
    assert a.rolling == RollingArgs()


def test_zero_replicas_are_allowed_and_negative_refused() -> None:
    assert wargs(replicas=0).replicas == 0
    with pytest.raises(ValidationError) as exc:
        wargs(replicas=-1)
    assert errors_of(exc) == [(("replicas",), "Input should be greater than or equal to 0")]


def test_a_pdb_must_allow_at_least_one_disruption() -> None:
    with pytest.raises(ValidationError) as exc:
        wargs(pdb_max_unavailable=0)
    assert errors_of(exc) == [
        (("pdb_max_unavailable",), "Input should be greater than or equal to 1")
    ]


def test_a_service_needs_at_least_one_port() -> None:
    with pytest.raises(ValidationError) as exc:
        wargs(ports=[])
    assert errors_of(exc)[0] == (
        ("ports",),
        "List should have at least 1 item after validation, not 0",
    )


def test_a_service_name_of_40_characters_is_accepted_and_41_refused() -> None:
    assert wargs(service_name="a" * 40).service_name == "a" * 40
    with pytest.raises(ValidationError) as exc:
        wargs(service_name="a" * 41)
    ((loc, msg),) = errors_of(exc)
    assert loc == ("service_name",)
    assert "40" in msg and "a" * 41 in msg


@pytest.mark.parametrize("probe", ["liveness", "readiness", "startup"])
def test_a_probe_on_an_undeclared_port_is_refused_naming_the_probe_and_the_ports(
    probe: str,
) -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "admin", "port": 9090}]
    with pytest.raises(ValidationError) as exc:
        wargs(ports=ports, **{probe: {"path": "/h", "port": "metrics"}})
    assert errors_of(exc) == [
        (
            (probe,),
            f"Value error, {probe}.port: probe port 'metrics' is not a container port "
            "(ports are named ['admin', 'http'])",
        )
    ]


def test_probes_on_any_declared_port_are_accepted() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "admin", "port": 9090}]
    a = wargs(
        ports=ports,
        liveness={"path": "/l", "port": "admin"},
        readiness={"path": "/r"},
        startup={"path": "/s", "port": "admin"},
    )
    assert (a.liveness.port, a.readiness.port, a.startup and a.startup.port) == (
        "admin",
        "http",
        "admin",
    )


def test_probes_are_not_checked_against_ports_that_failed_their_own_check() -> None:
    with pytest.raises(ValidationError) as exc:
        wargs(ports=[{"name": "http", "port": 80}], liveness={"path": "/h", "port": "other"})
    assert [loc for loc, _ in errors_of(exc)] == [("ports", 0, "port")]


def test_common_labels_cannot_be_overridden_by_extra_labels() -> None:
    a = wargs(
        cost_center="cc-7",
        labels={"team": "intruder", "app.kubernetes.io/name": "other", "tier": "web"},
    )
    assert a.common_labels() == {
        "tier": "web",
        "app.kubernetes.io/name": "orders",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/part-of": "slipway",
        "team": "commerce",
        "cost-center": "cc-7",
    }


# -- the kit's own values -----------------------------------------------------------------------


def test_the_kit_selects_the_services_pods_by_name_and_names_the_hashed_config_map() -> None:
    kit = plain_kit(wargs(config={"B": "2", "A": "1"}))
    assert kit.selector == {"app.kubernetes.io/name": "orders"}
    assert kit.config_map_name == f"orders-config-{content_hash({'A': '1', 'B': '2'})}"
    assert (kit.name, kit.mesh, kit.kubernetes_api_cidrs, kit.depends_on) == (
        "orders",
        "none",
        [],
        [],
    )


def test_meta_sorts_labels_and_lets_extra_labels_override_common_ones() -> None:
    kit = plain_kit()
    got = kit.meta("orders-x", {"team": "other", "slot": "blue"}, {"z": "1", "a": "2"})
    assert got == {
        "name": "orders-x",
        "namespace": "commerce",
        "labels": dict(sorted({**COMMON, "team": "other", "slot": "blue"}.items())),
        "annotations": {"a": "2", "z": "1"},
    }
    assert list(got["labels"]) == sorted(got["labels"])
    assert list(got["annotations"]) == ["a", "z"]


def test_meta_without_annotations_has_no_annotations_key() -> None:
    assert plain_kit().meta("orders", None, {}) == meta("orders")
    assert plain_kit().meta("orders") == meta("orders")


def test_fqdn_is_the_in_cluster_dns_name_of_the_service_or_another() -> None:
    kit = plain_kit()
    assert kit.fqdn() == "orders.commerce.svc.cluster.local"
    assert kit.fqdn("orders-preview") == "orders-preview.commerce.svc.cluster.local"


# -- pod args ----------------------------------------------------------------------------------


def test_pod_args_of_the_service_by_default() -> None:
    kit = plain_kit(wargs(config={"A": "1"}))
    p = kit.pod_args()
    assert p.model_dump() == {
        "service_name": "orders",
        "image": IMAGE,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "liveness": wargs().liveness.model_dump(),
        "readiness": wargs().readiness.model_dump(),
        "startup": None,
        "resources": wargs().resources.model_dump(),
        "security": wargs().security.model_dump(),
        "config_map_name": kit.config_map_name,
        "secret_name": None,
        "secret_keys": [],
        "external_secret_name": None,
        "external_secret_keys": [],
        "flags_config_map_name": None,
        "service_account_name": "orders",
        "automount_service_account_token": False,
        "labels": {**COMMON, "app.kubernetes.io/version": "1.2.3"},
        "annotations": {},
        "termination_grace_period_seconds": 30,
        "spread_across_zones": True,
    }


def test_pod_args_mount_sorted_secrets_external_secrets_flags_and_annotations() -> None:
    kit = plain_kit(
        wargs(
            secrets={"Z_KEY": "z", "A_KEY": "a"},
            external_secret_name="orders-cloud",
            external_secret_keys=["DB", "API"],
            startup={"path": "/started"},
        ),
        flags_config_map_name="orders-flags",
        pod_annotations={"openfeature.dev/enabled": "true"},
    )
    p = kit.pod_args()
    assert (p.secret_name, p.secret_keys) == ("orders-secrets", ["A_KEY", "Z_KEY"])
    assert (p.external_secret_name, p.external_secret_keys) == ("orders-cloud", ["API", "DB"])
    assert p.flags_config_map_name == "orders-flags"
    assert p.annotations == {"openfeature.dev/enabled": "true"}
    assert p.startup is not None and p.startup.path == "/started"


def test_pod_annotations_are_copied_so_later_changes_do_not_leak_in() -> None:
    given = {"a": "1"}
    kit = plain_kit(pod_annotations=given)
    given["b"] = "2"
    first = kit.pod_args()
    first.annotations["c"] = "3"
    assert kit.pod_args().annotations == {"a": "1"}


def test_pod_args_carry_the_services_resources_and_security() -> None:
    resources = ResourceArgs(
        cpu_request="250m", memory_request="1Gi", cpu_limit="2", memory_limit="2Gi"
    )
    security = SecurityArgs(run_as_user=20000, read_only_root_filesystem=False)
    p = plain_kit(wargs(resources=resources, security=security)).pod_args()
    assert (p.resources, p.security) == (resources, security)


def test_pods_mount_the_token_only_when_they_read_the_kubernetes_api() -> None:
    assert plain_kit().pod_args().automount_service_account_token is False
    kit = plain_kit(kubernetes_api_cidrs=["10.0.0.1/32"])
    assert kit.pod_args().automount_service_account_token is True


def test_pod_args_take_the_given_config_map_and_extra_labels() -> None:
    p = plain_kit().pod_args(
        config_map_name="orders-blue-config-abc", extra_labels={"slot": "blue", "team": "x"}
    )
    assert p.config_map_name == "orders-blue-config-abc"
    assert p.labels == {**COMMON, "app.kubernetes.io/version": "1.2.3", "slot": "blue", "team": "x"}


def test_the_version_label_is_the_services_own_when_given() -> None:
    p = plain_kit(wargs(version_label="v9")).pod_args()
    assert p.labels["app.kubernetes.io/version"] == "v9"


def test_a_track_image_brings_its_own_tag_as_version_not_the_services_label() -> None:
    kit = plain_kit(wargs(version_label="v9"))
    p = kit.pod_args(TrackArgs(image="ghcr.io/acme/orders:2.0.0"))
    assert (p.image, p.labels["app.kubernetes.io/version"]) == (
        "ghcr.io/acme/orders:2.0.0",
        "2.0.0",
    )


def test_a_track_version_label_wins_over_its_image_and_the_service() -> None:
    kit = plain_kit(wargs(version_label="v9"))
    p = kit.pod_args(TrackArgs(image="ghcr.io/acme/orders:2.0.0", version_label="canary-7"))
    assert p.labels["app.kubernetes.io/version"] == "canary-7"
    p = kit.pod_args(TrackArgs(version_label="canary-8"))
    assert (p.image, p.labels["app.kubernetes.io/version"]) == (IMAGE, "canary-8")


def test_a_track_without_image_or_version_falls_back_to_the_service() -> None:
    kit = plain_kit(wargs(version_label="v9"))
    p = kit.pod_args(TrackArgs(config={"A": "1"}))
    assert (p.image, p.labels["app.kubernetes.io/version"]) == (IMAGE, "v9")


def test_a_digest_only_image_gets_no_version_label() -> None:
    digest = "ghcr.io/acme/orders@sha256:" + "a" * 64
    p = plain_kit(wargs(image=digest)).pod_args()
    assert "app.kubernetes.io/version" not in p.labels
    assert p.labels == COMMON


def test_an_image_tag_is_read_after_the_registry_port_and_before_the_digest() -> None:
    assert _tag_of("registry:5000/acme/orders:1.2.3@sha256:" + "b" * 64) == "1.2.3"
    assert _tag_of("registry:5000/acme/orders@sha256:" + "b" * 64) is None
    assert _tag_of("registry:5000/orders") is None
    assert _tag_of("orders:1.0:extra") == "1.0:extra"
    assert _tag_of("orders:1.0@sha256:abc@def") == "1.0", "the tag ends at the first @"
    assert _tag_of("ghcr.io/team:x/orders:1.0") == "1.0", "the tag is in the last segment"
    assert _version_of("orders:4.5") == "4.5"
    assert _version_of("registry:5000/orders") is None


def test_an_output_image_always_has_a_version_label_empty_without_a_tag() -> None:
    def build(kit: WorkloadKit) -> None:
        digest = "registry:5000/acme/orders@sha256:" + "c" * 64
        for i, image in enumerate(["ghcr.io/acme/orders:7.0", digest]):
            p = kit.pod_args(TrackArgs(image=pulumi.Output.from_input(image)))
            kit.deployment(f"d{i}", f"orders-{i}", p)

    recs = run(build)
    labels = [recs[f"orders-d{i}"].inputs["spec"]["template"]["metadata"]["labels"] for i in (0, 1)]
    assert [x["app.kubernetes.io/version"] for x in labels] == ["7.0", ""]


# -- deployment --------------------------------------------------------------------------------


def test_the_deployment_spec_is_a_rolling_update_of_the_hardened_pod_template() -> None:
    kit = plain_kit()
    assert kit.deployment_spec() == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "orders"}},
        "revisionHistoryLimit": 5,
        "minReadySeconds": 10,
        "progressDeadlineSeconds": 600,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
        },
        "template": pod_template(kit.pod_args()),
        "replicas": 2,
    }


def test_the_deployment_spec_carries_the_rolling_tuning() -> None:
    rolling = RollingArgs(
        max_surge=3, max_unavailable="10%", min_ready_seconds=0, progress_deadline_seconds=90
    )
    spec = plain_kit(wargs(rolling=rolling)).deployment_spec()
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 3, "maxUnavailable": "10%"}
    assert (spec["minReadySeconds"], spec["progressDeadlineSeconds"]) == (0, 90)


def test_the_deployment_spec_takes_the_given_pod_args_and_selector() -> None:
    kit = plain_kit()
    pod = kit.pod_args(extra_labels={"slot": "blue"})
    selector = {"app.kubernetes.io/name": "orders", "slot": "blue"}
    spec = kit.deployment_spec(pod, selector)
    assert spec["selector"] == {"matchLabels": selector}
    assert spec["template"] == pod_template(pod)


def test_replicas_given_to_the_deployment_win_even_with_autoscaling() -> None:
    kit = plain_kit(wargs(autoscaling=AutoscalingArgs(), replicas=4))
    assert kit.deployment_spec(replicas=0)["replicas"] == 0
    assert plain_kit(wargs(replicas=4)).deployment_spec(replicas=7)["replicas"] == 7


def test_with_autoscaling_the_deployment_declares_no_replicas() -> None:
    assert "replicas" not in plain_kit(wargs(autoscaling=AutoscalingArgs())).deployment_spec()


def test_without_autoscaling_the_deployment_declares_the_services_replicas() -> None:
    assert plain_kit(wargs(replicas=0)).deployment_spec()["replicas"] == 0


def test_a_deployment_is_a_child_named_by_role_waiting_for_config_and_secret() -> None:
    def build(kit: WorkloadKit) -> None:
        kit.config_map()
        kit.secret()
        kit.deployment(
            "blue", "orders-blue", extra_labels={"slot": "blue"}, annotations={"note": "x"}
        )

    recs = run(build, wargs(secrets={"K": "v"}))
    d = recs["orders-blue"]
    assert d.urn == f"{PREFIX}$kubernetes:apps/v1:Deployment::orders-blue"
    assert d.parent == OWNER_URN
    assert d.inputs["metadata"] == {
        **meta("orders-blue", slot="blue"),
        "annotations": {"note": "x"},
    }
    assert sorted(d.dependencies) == [
        f"{PREFIX}$kubernetes:core/v1:ConfigMap::orders-config",
        f"{PREFIX}$kubernetes:core/v1:Secret::orders-secrets",
    ]
    assert d.inputs["spec"]["replicas"] == 2


def test_a_deployment_selects_the_pods_it_is_given() -> None:
    selector = {"app.kubernetes.io/name": "orders", "slot": "green"}
    recs = run(lambda kit: kit.deployment("green", "orders-green", selector=selector))
    assert recs["orders-green"].inputs["spec"]["selector"] == {"matchLabels": selector}


def test_a_deployment_with_replicas_given_declares_them() -> None:
    recs = run(lambda kit: kit.deployment("canary", "orders-canary", replicas=1))
    assert recs["orders-canary"].inputs["spec"]["replicas"] == 1


def test_workload_opts_wait_for_what_the_kit_holds_and_the_extra_ones() -> None:
    def build(kit: WorkloadKit) -> None:
        sa = kit.service_account()
        kit.config_map()
        k8s_opts = kit.workload_opts(sa)
        import pulumi_kubernetes as k8s

        k8s.core.v1.ConfigMap("probe", metadata={"name": "probe"}, opts=k8s_opts)

    recs = run(build)
    assert recs["probe"].parent == OWNER_URN
    assert sorted(recs["probe"].dependencies) == [
        f"{PREFIX}$kubernetes:core/v1:ConfigMap::orders-config",
        f"{PREFIX}$kubernetes:core/v1:ServiceAccount::orders-sa",
    ]


# -- the shared objects ------------------------------------------------------------------------


def test_the_service_account_does_not_mount_its_token() -> None:
    recs = run(lambda kit: kit.service_account())
    sa = recs["orders-sa"]
    assert sa.urn == f"{PREFIX}$kubernetes:core/v1:ServiceAccount::orders-sa"
    assert sa.parent == OWNER_URN
    assert sa.inputs == {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta("orders"),
        "automountServiceAccountToken": False,
    }


def test_the_config_map_is_immutable_sorted_and_named_by_its_content() -> None:
    held: list[WorkloadKit] = []

    def build(kit: WorkloadKit) -> None:
        kit.config_map()
        held.append(kit)

    recs = run(build, wargs(config={"B": "2", "A": "1"}))
    cm = recs["orders-config"]
    assert cm.parent == OWNER_URN
    name = f"orders-config-{content_hash({'A': '1', 'B': '2'})}"
    assert cm.inputs == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(name),
        "data": {"A": "1", "B": "2"},
        "immutable": True,
    }
    assert list(cm.inputs["data"]) == ["A", "B"]
    assert len(held[0].depends_on) == 1


def test_no_secret_object_without_secrets() -> None:
    held: list[Any] = []
    recs = run(lambda kit: held.append((kit.secret(), kit.depends_on)))
    assert recs == {}
    assert held == [(None, [])]


def test_the_secret_is_opaque_named_after_the_service_and_its_values_stay_secret() -> None:
    held: list[WorkloadKit] = []

    def build(kit: WorkloadKit) -> None:
        kit.secret()
        held.append(kit)

    recs = run(build, lambda: wargs(secrets={"B": "two", "A": pulumi.Output.from_input("one")}))
    s = recs["orders-secrets"]
    assert s.urn == f"{PREFIX}$kubernetes:core/v1:Secret::orders-secrets"
    assert s.parent == OWNER_URN
    assert s.inputs == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta("orders-secrets"),
        "type": "Opaque",
        "stringData": {"A": "[secret]", "B": "[secret]"},
    }
    assert list(s.inputs["stringData"]) == ["A", "B"]
    assert len(held[0].depends_on) == 1


def test_a_track_without_overrides_uses_the_services_config_map() -> None:
    held: list[Any] = []
    recs = run(lambda kit: held.append((kit.track_config_map("blue", {}), kit.config_map_name)))
    assert recs == {}
    ((got, service_cm),) = held
    assert got == (service_cm, None)


def test_a_track_with_overrides_gets_its_own_hashed_config_map() -> None:
    held: list[Any] = []

    def build(kit: WorkloadKit) -> None:
        name, cm = kit.track_config_map("canary", {"B": "9", "C": "3"})
        held.append((name, cm is not None, len(kit.depends_on)))
        kit.deployment("canary", "orders-canary", kit.pod_args(config_map_name=name))

    recs = run(build, wargs(config={"A": "1", "B": "2"}))
    merged = {"A": "1", "B": "9", "C": "3"}
    assert recs["orders-canary"].dependencies == [
        f"{PREFIX}$kubernetes:core/v1:ConfigMap::orders-config-canary"
    ]
    name = f"orders-canary-config-{content_hash(merged)}"
    assert held == [(name, True, 1)]
    cm = recs["orders-config-canary"]
    assert cm.urn == f"{PREFIX}$kubernetes:core/v1:ConfigMap::orders-config-canary"
    assert cm.parent == OWNER_URN
    assert cm.inputs == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(name),
        "data": merged,
        "immutable": True,
    }
    assert list(cm.inputs["data"]) == ["A", "B", "C"]


def test_the_service_is_cluster_ip_with_one_named_port_per_container_port() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "dns", "port": 5353, "protocol": "UDP"}]
    recs = run(
        lambda kit: kit.service("orders-service", "orders", {"app.kubernetes.io/name": "orders"}),
        wargs(ports=ports),
    )
    s = recs["orders-service"]
    assert s.urn == f"{PREFIX}$kubernetes:core/v1:Service::orders-service"
    assert s.parent == OWNER_URN
    assert s.dependencies == []
    assert s.inputs == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("orders"),
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": "orders"},
            "ports": [
                {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"},
                {"name": "dns", "port": 5353, "targetPort": "dns", "protocol": "UDP"},
            ],
        },
    }


def test_the_service_waits_for_what_it_is_told_and_takes_the_given_options() -> None:
    def build(kit: WorkloadKit) -> None:
        d = kit.deployment("green", "orders-green")
        other = pulumi.ComponentResource(OWNER_TYPE, "elsewhere")
        kit.service(
            "orders-preview",
            "orders-preview",
            {"slot": "green"},
            pulumi.ResourceOptions(parent=other),
            wait_for=[d],
        )

    recs = run(build)
    s = recs["orders-preview"]
    assert s.parent == f"{PREFIX}::elsewhere"
    assert s.dependencies == [f"{PREFIX}$kubernetes:apps/v1:Deployment::orders-green"]
    assert s.inputs["spec"]["selector"] == {"slot": "green"}


def test_the_pdb_limits_voluntary_disruptions_of_the_selected_pods() -> None:
    recs = run(
        lambda kit: kit.pdb("orders-pdb-blue", "orders-blue", {"slot": "blue"}),
        wargs(pdb_max_unavailable=2),
    )
    p = recs["orders-pdb-blue"]
    assert p.urn == f"{PREFIX}$kubernetes:policy/v1:PodDisruptionBudget::orders-pdb-blue"
    assert p.parent == OWNER_URN
    assert p.inputs == {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta("orders-blue"),
        "spec": {"maxUnavailable": 2, "selector": {"matchLabels": {"slot": "blue"}}},
    }


def test_no_hpa_without_autoscaling() -> None:
    held: list[Any] = []
    recs = run(lambda kit: held.append(kit.hpa("Deployment", "orders")))
    assert (recs, held) == ({}, [None])


def test_the_hpa_scales_the_target_on_cpu_and_memory_and_scales_down_slowly() -> None:
    auto = AutoscalingArgs(min_replicas=3, max_replicas=9, memory_utilization=75)
    recs = run(lambda kit: kit.hpa("Deployment", "orders"), wargs(autoscaling=auto))
    h = recs["orders-hpa"]
    assert h.urn == f"{PREFIX}$kubernetes:autoscaling/v2:HorizontalPodAutoscaler::orders-hpa"
    assert h.parent == OWNER_URN
    assert h.inputs == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta("orders"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "orders"},
            "minReplicas": 3,
            "maxReplicas": 9,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": 75},
                    },
                },
            ],
            "behavior": {
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                }
            },
        },
    }


def test_an_hpa_on_memory_alone_has_only_the_memory_metric() -> None:
    auto = AutoscalingArgs(cpu_utilization=None, memory_utilization=60)
    recs = run(lambda kit: kit.hpa("Deployment", "orders"), wargs(autoscaling=auto))
    assert recs["orders-hpa"].inputs["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "memory",
                "target": {"type": "Utilization", "averageUtilization": 60},
            },
        }
    ]


def test_a_named_hpa_scales_the_given_kind_with_its_floor_raised() -> None:
    def build(kit: WorkloadKit) -> None:
        kit.hpa(
            "Rollout",
            "orders",
            "argoproj.io/v1alpha1",
            resource_name="orders-hpa-blue",
            object_name="orders-blue",
            min_replicas=5,
        )
        kit.hpa("Deployment", "orders-green", resource_name="low", min_replicas=1)

    recs = run(build, wargs(autoscaling=AutoscalingArgs(min_replicas=2, max_replicas=8)))
    spec = recs["orders-hpa-blue"].inputs["spec"]
    assert recs["orders-hpa-blue"].inputs["metadata"] == meta("orders-blue")
    assert spec["scaleTargetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": "orders",
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (5, 8)
    assert recs["low"].inputs["spec"]["minReplicas"] == 2


def test_the_network_policy_object_is_a_child_over_the_services_pods() -> None:
    recs = run(lambda kit: kit.network_policy())
    n = recs["orders-netpol"]
    assert n.urn == f"{PREFIX}$kubernetes:networking.k8s.io/v1:NetworkPolicy::orders-netpol"
    assert n.parent == OWNER_URN
    assert n.inputs == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta("orders"),
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [DNS_EGRESS],
        },
    }


# -- network policy ----------------------------------------------------------------------------


def test_the_network_policy_denies_all_but_dns_by_default() -> None:
    assert plain_kit().network_policy_spec() == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [DNS_EGRESS],
    }


def test_the_network_policy_admits_callers_sorted_on_every_service_port() -> None:
    ports = [{"name": "http", "port": 8080}, {"name": "dns", "port": 5353, "protocol": "UDP"}]
    a = wargs(
        ports=ports,
        allow_from=[
            Peer(name="web", namespace="shop"),
            Peer(name="api", namespace="shop"),
            Peer(name="zeta", namespace="admin"),
        ],
        allow_from_namespaces=["ingress", "gateway"],
    )
    both = [{"port": "http", "protocol": "TCP"}, {"port": "dns", "protocol": "UDP"}]
    ns = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}}
    ns_in = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}
    assert plain_kit(a).network_policy_spec()["ingress"] == [
        {"from": [peer_rule("admin", "zeta")], "ports": both},
        {"from": [peer_rule("shop", "api")], "ports": both},
        {"from": [peer_rule("shop", "web")], "ports": both},
        {"from": [ns], "ports": both},
        {"from": [ns_in], "ports": both},
    ]


def test_the_network_policy_lets_out_declared_callees_on_their_ports_or_all() -> None:
    a = wargs(
        calls=[
            Peer(name="payments", namespace="pay", ports=[8443, 8080, 8443]),
            Peer(name="audit", namespace="ops"),
        ]
    )
    assert plain_kit(a).network_policy_spec()["egress"] == [
        DNS_EGRESS,
        {
            "to": [peer_rule("ops", "audit")],
        },
        {
            "to": [peer_rule("pay", "payments")],
            "ports": [{"port": 8080, "protocol": "TCP"}, {"port": 8443, "protocol": "TCP"}],
        },
    ]


def test_with_sidecars_the_pods_may_reach_istiod_for_their_configuration() -> None:
    a = wargs(allow_from=[Peer(name="web", namespace="shop")])
    spec = plain_kit(a, mesh="sidecar").network_policy_spec()
    assert spec["ingress"] == [{"from": [peer_rule("shop", "web")], "ports": HTTP}]
    assert spec["egress"] == [
        DNS_EGRESS,
        {
            "to": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "istio-system"}
                    },
                    "podSelector": {"matchLabels": {"app": "istiod"}},
                }
            ],
            "ports": [{"port": 15012, "protocol": "TCP"}],
        },
    ]


def test_in_ambient_mode_hbone_and_rewritten_probes_are_admitted() -> None:
    a = wargs(
        allow_from=[Peer(name="web", namespace="shop")],
        calls=[Peer(name="payments", namespace="pay", ports=[8443]), Peer(name="a", namespace="b")],
    )
    spec = plain_kit(a, mesh="ambient").network_policy_spec()
    ports = [*HTTP, {"port": 15008, "protocol": "TCP"}]
    assert spec["ingress"] == [
        {"from": [peer_rule("shop", "web")], "ports": ports},
        {"from": [{"ipBlock": {"cidr": "169.254.7.127/32"}}], "ports": ports},
    ]
    assert spec["egress"] == [
        DNS_EGRESS,
        {"to": [peer_rule("b", "a")]},
        {
            "to": [peer_rule("pay", "payments")],
            "ports": [{"port": 8443, "protocol": "TCP"}, {"port": 15008, "protocol": "TCP"}],
        },
    ]


def test_in_ambient_mode_a_caller_already_on_the_hbone_port_is_listed_once() -> None:
    a = wargs(calls=[Peer(name="p", namespace="q", ports=[15008, 9000])])
    egress = plain_kit(a, mesh="ambient").network_policy_spec()["egress"]
    assert egress[1]["ports"] == [
        {"port": 9000, "protocol": "TCP"},
        {"port": 15008, "protocol": "TCP"},
    ]


def test_pods_reading_the_kubernetes_api_may_reach_it_on_its_ports() -> None:
    kit = plain_kit(kubernetes_api_cidrs=["10.0.0.1/32", "10.0.0.2/32"])
    assert kit.network_policy_spec()["egress"] == [
        DNS_EGRESS,
        {
            "to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}, {"ipBlock": {"cidr": "10.0.0.2/32"}}],
            "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
        },
    ]


def test_plain_peers_sort_by_namespace_then_name_and_wired_ones_follow_as_given() -> None:
    out_b = pulumi.Output.from_input("b")
    out_a = pulumi.Output.from_input("a")
    wired_ns = Peer(name="z", namespace=out_b)
    wired_name = Peer(name=out_a, namespace="a")
    p1 = Peer(name="b", namespace="x")
    p2 = Peer(name="a", namespace="y")
    p3 = Peer(name="c", namespace="x")
    got = sorted_peers([wired_ns, p2, wired_name, p3, p1])
    assert [id(p) for p in got] == [id(p1), id(p3), id(p2), id(wired_ns), id(wired_name)]


def test_plain_values_sort_first_and_outputs_follow_in_the_order_given() -> None:
    o1 = pulumi.Output.from_input("a")
    o2 = pulumi.Output.from_input("0")
    got = sorted_plain_first(["c", o1, "a", o2, "b"])
    assert got[:3] == ["a", "b", "c"]
    assert got[3] is o1 and got[4] is o2


def test_wired_callers_and_namespaces_are_admitted_after_the_plain_ones() -> None:
    def build(kit: WorkloadKit) -> None:
        kit.network_policy()

    def make() -> WorkloadArgs:
        return wargs(
            allow_from=[
                Peer(name=pulumi.Output.from_input("aaa"), namespace="a"),
                Peer(name="z", namespace="z"),
            ],
            allow_from_namespaces=[pulumi.Output.from_input("aaa"), "zzz"],
        )

    ingress = run(build, make)["orders-netpol"].inputs["spec"]["ingress"]
    ns = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": n}}}
        for n in ("zzz", "aaa")
    ]
    assert ingress == [
        {"from": [peer_rule("z", "z")], "ports": HTTP},
        {"from": [peer_rule("a", "aaa")], "ports": HTTP},
        {"from": [ns[0]], "ports": HTTP},
        {"from": [ns[1]], "ports": HTTP},
    ]
