"""Pod template and naming behaviours no other test pinned: the external-secret volume, service
links, the zone spread's selector, the startup probe, the id bounds and defaults, and the
image reference and DNS label edges."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from slipway_components.naming import check_dns_label, check_image_ref, check_workload_namespace
from slipway_components.podspec import (
    SECRETS_MOUNT,
    HttpProbe,
    PodTemplateArgs,
    SecurityArgs,
    pod_template,
)

LABELS = {
    "app.kubernetes.io/name": "orders",
    "app.kubernetes.io/version": "1.2.3",
    "app.kubernetes.io/part-of": "shop",
}


def render(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "service_name": "orders",
        "image": "registry.example.com/shop/orders:1.2.3",
        "ports": [{"name": "http", "port": 8080}],
        "liveness": {"path": "/healthz"},
        "readiness": {"path": "/ready"},
        "service_account_name": "orders",
        "labels": LABELS,
    }
    fields.update(overrides)
    return pod_template(PodTemplateArgs(**fields))


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
