"""Pod template and naming behaviours no other test pinned: the external-secret volume, service
links, the zone spread's selector, the startup probe, the id bounds and defaults, and the
image reference and DNS label edges."""

from __future__ import annotations

import asyncio
import hashlib
import warnings
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from slipway_components.naming import check_dns_label, check_image_ref, check_workload_namespace
from slipway_components.podspec import (
    SECRETS_MOUNT,
    ContainerPort,
    HttpProbe,
    InputValueError,
    PodTemplateArgs,
    SecurityArgs,
    StrInput,
    content_hash,
    given,
    hashed_name,
    is_output,
    pod_template,
)
from slipway_components.podspec import _check_resolved as check_resolved

LABELS = {
    "app.kubernetes.io/name": "orders",
    "app.kubernetes.io/version": "1.2.3",
    "app.kubernetes.io/part-of": "shop",
}


TEMPLATE_FIELDS: dict[str, Any] = {
    "service_name": "orders",
    "image": "registry.example.com/shop/orders:1.2.3",
    "ports": [{"name": "http", "port": 8080}],
    "liveness": {"path": "/healthz"},
    "readiness": {"path": "/ready"},
    "service_account_name": "orders",
    "labels": LABELS,
}


def render(**overrides: Any) -> dict[str, Any]:
    return pod_template(PodTemplateArgs(**{**TEMPLATE_FIELDS, **overrides}))


def test_external_secret_files_are_mounted_where_their_file_variables_point() -> None:
    spec = render(
        external_secret_name="orders-cloud", external_secret_keys=["DB_PASSWORD", "API_KEY"]
    )["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == "orders-cloud"
    (container,) = spec["containers"]
    files = {e["name"]: e["value"] for e in container["env"] if e["name"].endswith("_FILE")}
    assert files == {
        "API_KEY_FILE": f"{SECRETS_MOUNT}/API_KEY",
        "DB_PASSWORD_FILE": f"{SECRETS_MOUNT}/DB_PASSWORD",
    }
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for path in files.values():
        directory = path.rsplit("/", 1)[0]
        assert mounts[directory]["name"] == "secrets"
        assert mounts[directory]["name"] in volumes
        assert mounts[directory]["readOnly"] is True


def test_service_links_are_off_so_no_env_vars_are_injected_for_other_services() -> None:
    assert render()["spec"]["enableServiceLinks"] is False


def test_zone_spread_selects_the_services_own_pods_by_their_identity_labels() -> None:
    constraints = render()["spec"]["topologySpreadConstraints"]
    zone = [c for c in constraints if c["topologyKey"] == "topology.kubernetes.io/zone"]
    assert zone == [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "orders"}},
        }
    ]


def test_startup_probe_given_is_on_the_container_with_its_values() -> None:
    startup = {
        "path": "/started",
        "initial_delay_seconds": 5,
        "period_seconds": 3,
        "timeout_seconds": 4,
        "failure_threshold": 60,
    }
    (container,) = render(startup=startup)["spec"]["containers"]
    assert container["startupProbe"] == {
        "httpGet": {"path": "/started", "port": "http"},
        "initialDelaySeconds": 5,
        "periodSeconds": 3,
        "timeoutSeconds": 4,
        "failureThreshold": 60,
    }
    assert container["startupProbe"] == HttpProbe(**startup).render()


@pytest.mark.parametrize("field", ["run_as_user", "run_as_group", "fs_group"])
def test_user_and_group_ids_below_10000_are_refused_and_10000_accepted(field: str) -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 10000"):
        SecurityArgs(**{field: 9999})
    assert getattr(SecurityArgs(**{field: 10000}), field) == 10000


def test_fs_group_defaults_to_10001_on_the_pod() -> None:
    assert SecurityArgs().pod()["fsGroup"] == 10001
    assert render()["spec"]["securityContext"]["fsGroup"] == 10001


def test_registry_port_is_not_taken_for_an_image_tag() -> None:
    assert check_image_ref("registry.example.com:5000/team/app:1.2") == (
        "registry.example.com:5000/team/app:1.2"
    )
    with pytest.raises(ValueError, match="must carry a tag"):
        check_image_ref("registry.example.com:5000/team/app")
    with pytest.raises(ValueError, match="must carry a tag"):
        check_image_ref("registry.example.com:5000/team/app:latest")


def test_dns_label_of_63_characters_is_accepted_and_64_refused() -> None:
    assert check_dns_label("a" * 63) == "a" * 63
    with pytest.raises(ValueError, match="at most 63 characters"):
        check_dns_label("a" * 64)


def test_image_tag_is_read_from_the_last_path_segment_only() -> None:
    # `team:x` in the middle is no tag of `app`; only `app`'s own suffix counts
    with pytest.raises(ValueError, match="must carry a tag"):
        check_image_ref("registry.example.com/team:x/app")
    assert check_image_ref("registry.example.com/team/app:2.0") == (
        "registry.example.com/team/app:2.0"
    )


def test_image_pinned_by_digest_needs_no_tag_and_may_say_latest() -> None:
    digest = "sha256:" + "a" * 64
    assert check_image_ref(f"registry.example.com/team/app@{digest}").endswith(digest)
    assert check_image_ref(f"registry.example.com/team/app:latest@{digest}").endswith(digest)
    # what follows '@' is the digest: its own ':' is not a tag
    assert check_image_ref("app@anything") == "app@anything"


def test_image_tag_must_be_exactly_latest_to_be_refused() -> None:
    assert check_image_ref("app:latest-2024") == "app:latest-2024"
    assert check_image_ref("app:1.0-latest") == "app:1.0-latest"
    with pytest.raises(ValueError, match=r"^image 'app:latest' must carry a tag other than latest"):
        check_image_ref("app:latest")


def test_reserved_namespace_refusal_lists_every_reserved_name_and_prefix() -> None:
    with pytest.raises(ValueError) as refused:
        check_workload_namespace("kube-system")
    assert str(refused.value) == (
        "namespace 'kube-system' is reserved for the cluster's own components (default, "
        "kube-*, gke-*, openshift-*, gmp-public, gmp-system, istio-system, kube-node-lease, "
        "kube-public, kube-system); give the team a namespace of its own"
    )


@pytest.mark.parametrize("namespace", ["default", "gmp-system", "istio-system", "gke-managed-x"])
def test_reserved_namespaces_and_prefixes_are_refused(namespace: str) -> None:
    with pytest.raises(ValueError, match="is reserved for the cluster's own components"):
        check_workload_namespace(namespace)


def test_team_namespace_is_accepted_and_must_be_a_dns_label() -> None:
    assert check_workload_namespace("shop-kubernetes") == "shop-kubernetes"
    with pytest.raises(ValueError, match="is not a DNS-1123 label"):
        check_workload_namespace("Shop")


# --- the whole pod template, field by field ---------------------------------------------------

RESTRICTED_CONTAINER_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
DEFAULT_PROBE = {"initialDelaySeconds": 0, "periodSeconds": 10, "timeoutSeconds": 2}


def spread(selector: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def test_minimal_pod_template_is_the_restricted_profile_in_full() -> None:
    assert render() == {
        "metadata": {"labels": dict(sorted(LABELS.items()))},
        "spec": {
            "serviceAccountName": "orders",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "terminationGracePeriodSeconds": 30,
            "containers": [
                {
                    "name": "orders",
                    "image": "registry.example.com/shop/orders:1.2.3",
                    "imagePullPolicy": "Always",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "livenessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http"},
                        **DEFAULT_PROBE,
                        "failureThreshold": 3,
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/ready", "port": "http"},
                        **DEFAULT_PROBE,
                        "failureThreshold": 3,
                    },
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    },
                    "securityContext": RESTRICTED_CONTAINER_CONTEXT,
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
            "topologySpreadConstraints": spread({"app.kubernetes.io/name": "orders"}),
        },
    }


def test_every_pod_option_lands_in_its_own_place() -> None:
    template = render(
        ports=[{"name": "grpc", "port": 9090, "protocol": "UDP"}],
        liveness={"path": "/live", "port": "grpc"},
        readiness={"path": "/ready", "port": "grpc", "failure_threshold": 1},
        resources={
            "cpu_request": "1",
            "memory_request": "1Gi",
            "cpu_limit": "2",
            "memory_limit": "2Gi",
        },
        security={
            "run_as_user": 20000,
            "run_as_group": 20001,
            "fs_group": 20002,
            "read_only_root_filesystem": False,
            "seccomp_profile": "Localhost",
        },
        config_map_name="orders-config-1a2b",
        secret_name="orders-secret-3c4d",
        secret_keys=["TOKEN"],
        flags_config_map_name="orders-flags",
        automount_service_account_token=True,
        annotations={"b": "2", "a": "1"},
        termination_grace_period_seconds=0,
        spread_across_zones=False,
        labels={**LABELS, "track": "canary", "slot": "blue"},
    )
    spec = template["spec"]
    assert template["metadata"]["annotations"] == {"a": "1", "b": "2"}
    assert list(template["metadata"]["annotations"]) == ["a", "b"]
    assert spec["automountServiceAccountToken"] is True
    assert spec["terminationGracePeriodSeconds"] == 0
    assert "topologySpreadConstraints" not in spec
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 20000,
        "runAsGroup": 20001,
        "fsGroup": 20002,
        "seccompProfile": {"type": "Localhost"},
    }
    assert spec["volumes"] == [
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "secrets", "secret": {"secretName": "orders-secret-3c4d", "defaultMode": 0o440}},
        {"name": "flags", "configMap": {"name": "orders-flags"}},
    ]
    (container,) = spec["containers"]
    assert container["ports"] == [{"name": "grpc", "containerPort": 9090, "protocol": "UDP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/live", "port": "grpc"}
    assert container["readinessProbe"]["failureThreshold"] == 1
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert container["securityContext"] == {
        **RESTRICTED_CONTAINER_CONTEXT,
        "readOnlyRootFilesystem": False,
        "runAsUser": 20000,
        "runAsGroup": 20001,
        "seccompProfile": {"type": "Localhost"},
    }
    assert container["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "secrets", "mountPath": SECRETS_MOUNT, "readOnly": True},
        {"name": "flags", "mountPath": "/etc/flags", "readOnly": True},
    ]
    assert container["env"] == [
        {"name": "TOKEN_FILE", "value": f"{SECRETS_MOUNT}/TOKEN"},
        {"name": "FLAGS_FILE", "value": "/etc/flags/flags.json"},
    ]
    assert container["envFrom"] == [{"configMapRef": {"name": "orders-config-1a2b"}}]


def test_zone_spread_selects_slot_and_track_but_never_the_version() -> None:
    labels = {**LABELS, "track": "canary", "slot": "blue", "team": "payments"}
    constraints = render(labels=labels)["spec"]["topologySpreadConstraints"]
    assert constraints == spread(
        {"app.kubernetes.io/name": "orders", "slot": "blue", "track": "canary"}
    )


def test_our_secret_and_a_cloud_secret_are_projected_into_one_mount() -> None:
    spec = render(
        secret_name="orders-secret",
        secret_keys=["TOKEN"],
        external_secret_name="orders-cloud",
        external_secret_keys=["DB_PASSWORD", "TOKEN"],
    )["spec"]
    assert spec["volumes"][1] == {
        "name": "secrets",
        "projected": {
            "sources": [
                {"secret": {"name": "orders-secret"}},
                {"secret": {"name": "orders-cloud"}},
            ],
            "defaultMode": 0o440,
        },
    }
    # one file variable per key, even when both secrets hold it
    assert [e["name"] for e in spec["containers"][0]["env"]] == ["DB_PASSWORD_FILE", "TOKEN_FILE"]


@pytest.mark.parametrize(
    "fields",
    [
        {"secret_name": "orders-secret"},  # a secret with no keys mounts nothing
        {"secret_keys": ["TOKEN"]},  # keys with no secret mount nothing
        {"external_secret_name": "orders-cloud"},
    ],
)
def test_a_secret_without_keys_or_name_mounts_no_secret_volume(fields: dict[str, Any]) -> None:
    spec = render(**fields)["spec"]
    assert [v["name"] for v in spec["volumes"]] == ["tmp"]
    assert spec["containers"][0]["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]


def test_no_env_and_no_env_from_without_secrets_flags_or_config() -> None:
    (container,) = render()["spec"]["containers"]
    assert "env" not in container
    assert "envFrom" not in container
    assert "startupProbe" not in container


# --- ports and probes: every bound at its edge --------------------------------------------------


def test_privileged_port_is_refused_saying_why() -> None:
    with pytest.raises(ValidationError) as refused:
        ContainerPort(port=80)
    assert (
        "port 80 is privileged (<1024) and needs root; containers run as non-root, so it must "
        "be greater than or equal to 1024 (1024–65535)"
    ) in str(refused.value)
    for port in (1, 1023):
        with pytest.raises(ValidationError, match="is privileged"):
            ContainerPort(port=port)


def test_port_bounds_are_1024_to_65535() -> None:
    assert ContainerPort(port=1024).port == 1024
    assert ContainerPort(port=65535).port == 65535
    with pytest.raises(ValidationError, match="less than or equal to 65535"):
        ContainerPort(port=65536)
    with pytest.raises(ValidationError, match="greater than or equal to 1024"):
        ContainerPort(port=0)
    # a bool is not a port number, even though True == 1
    with pytest.raises(ValidationError) as refused:
        ContainerPort(port=True)
    assert "privileged" not in str(refused.value)


def test_port_defaults_and_name_limit_of_15_characters() -> None:
    port = ContainerPort(port=8080)
    assert (port.name, port.protocol) == ("http", "TCP")
    assert ContainerPort(name="a" * 15, port=8080).name == "a" * 15
    with pytest.raises(ValidationError, match="at most 15 characters"):
        ContainerPort(name="a" * 16, port=8080)


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("initial_delay_seconds", 0, 3600),
        ("period_seconds", 1, 3600),
        ("timeout_seconds", 1, 600),
        ("failure_threshold", 1, 1000),
    ],
)
def test_probe_bounds_hold_at_their_edges(field: str, low: int, high: int) -> None:
    for value in (low, high):
        assert getattr(HttpProbe(path="/", **{field: value}), field) == value
    for value in (low - 1, high + 1):
        with pytest.raises(ValidationError, match=field):
            HttpProbe(path="/", **{field: value})


@pytest.mark.parametrize("path", ["healthz", "/health z", ""])
def test_probe_path_must_start_with_a_slash_and_hold_no_space(path: str) -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        HttpProbe(path=path)


def test_user_group_and_fs_group_default_to_10001_and_are_kept_apart() -> None:
    pod = SecurityArgs(run_as_user=10002, run_as_group=10003, fs_group=10004).pod()
    assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (10002, 10003, 10004)
    defaults = SecurityArgs()
    assert (defaults.run_as_user, defaults.run_as_group, defaults.fs_group) == (10001,) * 3
    assert defaults.read_only_root_filesystem is True
    assert defaults.seccomp_profile == "RuntimeDefault"


def test_grace_period_may_be_zero_but_not_negative() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        render(termination_grace_period_seconds=-1)


# --- names that change exactly when content changes ---------------------------------------------


def test_content_hash_is_the_sha256_of_compact_sorted_json() -> None:
    data = {"b": [1, 2], "a": "x"}
    blob = b'{"a":"x","b":[1,2]}'
    assert content_hash(data) == hashlib.sha256(blob).hexdigest()[:10]
    assert content_hash(data, length=16) == hashlib.sha256(blob).hexdigest()[:16]
    assert content_hash({"a": "x", "b": [1, 2]}) == content_hash(data)


def test_hashed_name_of_plain_data_is_plain() -> None:
    assert hashed_name("orders-config", {"A": "1"}) == (f"orders-config-{content_hash({'A': '1'})}")


def test_given_counts_any_output_and_non_empty_plain_values() -> None:
    assert given("x") and not given("") and not given(None) and not given([])
    assert given(pulumi.Output.from_input(""))
    assert is_output(pulumi.Output.from_input("x")) and not is_output("x")


def test_an_output_resolving_to_a_non_string_names_the_type_it_resolved_to() -> None:
    with pytest.raises(InputValueError) as caught:
        check_resolved(None, "MicroserviceArgs.team", 7)
    assert str(caught.value) == "MicroserviceArgs.team: must resolve to a string, not int"


def test_an_output_resolving_to_a_refused_value_carries_the_field_it_was_given_to() -> None:
    with pytest.raises(InputValueError) as caught:
        check_resolved(check_dns_label, "MicroserviceArgs.service_name", "Orders")
    assert caught.value.field == "MicroserviceArgs.service_name"
    assert str(caught.value).startswith("MicroserviceArgs.service_name: ")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop of the test's own, current while Outputs are made and resolved; the
    loop that was current before is current again afterwards (later tests' programs use it)."""
    policy = asyncio.get_event_loop_policy()
    try:
        before: asyncio.AbstractEventLoop | None = policy.get_event_loop()
    except RuntimeError:  # none was current
        before = None
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(before)
    loop.close()


@pytest.mark.parametrize(
    ("config", "field_name", "named"),
    [
        ({"title": "MicroserviceArgs"}, "service_name", "MicroserviceArgs.service_name"),
        ({}, "service_name", "args.service_name"),
        (None, None, "args"),
    ],
)
def test_an_output_refused_when_it_resolves_is_named_by_model_and_field(
    loop: asyncio.AbstractEventLoop,
    config: dict[str, str] | None,
    field_name: str | None,
    named: str,
) -> None:
    info = SimpleNamespace(config=config, field_name=field_name)
    output = StrInput(check_dns_label)._validate(pulumi.Output.from_input("Bad"), str, info)
    with pytest.raises(InputValueError) as caught:
        loop.run_until_complete(output.future())
    assert caught.value.field == named


def test_an_awaitable_is_checked_when_it_resolves_like_an_output(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def later() -> str:
        return "orders"

    def plain(_value: Any) -> Any:
        raise AssertionError("an awaitable is not a plain value")

    info = SimpleNamespace(config={"title": "MicroserviceArgs"}, field_name="service_name")
    output = StrInput(check_dns_label)._validate(loop.create_task(later()), plain, info)
    assert isinstance(output, pulumi.Output)
    assert loop.run_until_complete(output.future()) == "orders"


def test_a_dumped_model_keeps_an_output_field_as_the_output_itself(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """Args are dumped to build child args (`model_dump`): an Output must come out as the
    same Output, without pydantic's 'expected str' warning, and a string as the string."""
    image = pulumi.Output.from_input("registry.example.com/shop/orders:1.2.3")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with_output = PodTemplateArgs.model_validate({**TEMPLATE_FIELDS, "image": image})
        assert with_output.model_dump()["image"] is with_output.image
        assert isinstance(with_output.image, pulumi.Output)
        plain = PodTemplateArgs.model_validate(TEMPLATE_FIELDS)
        assert plain.model_dump()["image"] == "registry.example.com/shop/orders:1.2.3"
