"""Feature flags: a mounted, mutable `<svc>-flags` ConfigMap (a toggle restarts no pod) or an
OpenFeature FeatureFlag for flagd; per-environment overrides from the catalog."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from slipway_components.flags import flag_definitions
from stacks.catalog import parse_service
from tests.strategy_fixtures import by_kind, changed_paths, make_args, run, service_doc

FLAGS = {"new-checkout": True, "dark-mode": False}
API = ["10.0.0.0/16"]


def test_flags_become_a_mutable_configmap_with_flagd_definitions():
    cm = by_kind(run(make_args(flags=FLAGS)), "ConfigMap")["shop-flags"].inputs
    assert "immutable" not in cm, "a toggle must update the file in place"
    assert json.loads(cm["data"]["flags.json"]) == {
        "flags": {
            "dark-mode": {
                "state": "ENABLED",
                "variants": {"on": True, "off": False},
                "defaultVariant": "off",
            },
            "new-checkout": {
                "state": "ENABLED",
                "variants": {"on": True, "off": False},
                "defaultVariant": "on",
            },
        }
    }


def test_flags_file_is_mounted_read_only_with_its_path_in_the_environment():
    pod = by_kind(run(make_args(flags=FLAGS)), "Deployment")["shop"].inputs["spec"]["template"]
    spec = pod["spec"]
    container = spec["containers"][0]
    assert {"name": "flags", "configMap": {"name": "shop-flags"}} in spec["volumes"]
    assert {"name": "flags", "mountPath": "/etc/flags", "readOnly": True} in container[
        "volumeMounts"
    ]
    assert {"name": "FLAGS_FILE", "value": "/etc/flags/flags.json"} in container["env"]


def test_a_toggle_changes_only_the_flags_configmap():
    before = run(make_args(flags=FLAGS))
    after = run(make_args(flags={**FLAGS, "dark-mode": True}))
    assert changed_paths(before, after) == {"shop-flags": ['data["flags.json"]']}


def test_flagd_provider_creates_a_feature_flag_and_its_source():
    records = run(make_args(flags=FLAGS, flag_provider="flagd", kubernetes_api_cidrs=API))
    ff = by_kind(records, "FeatureFlag")["shop-flags"].inputs
    assert ff["apiVersion"] == "core.openfeature.dev/v1beta1"
    assert ff["spec"]["flagSpec"] == flag_definitions(FLAGS)
    source = by_kind(records, "FeatureFlagSource")["shop-flags"].inputs["spec"]
    assert source["sources"] == [{"source": "retail/shop-flags", "provider": "kubernetes"}]
    assert "shop-flags" not in by_kind(records, "ConfigMap")


def test_flagd_pods_carry_the_operator_annotations_and_no_flags_volume():
    records = run(make_args(flags=FLAGS, flag_provider="flagd", kubernetes_api_cidrs=API))
    pod = by_kind(records, "Deployment")["shop"].inputs["spec"]["template"]
    assert pod["metadata"]["annotations"] == {
        "openfeature.dev/enabled": "true",
        "openfeature.dev/featureflagsource": "shop-flags",
    }
    assert all(v["name"] != "flags" for v in pod["spec"]["volumes"])


def test_a_flagd_toggle_changes_only_the_feature_flag():
    before = run(make_args(flags=FLAGS, flag_provider="flagd", kubernetes_api_cidrs=API))
    after = run(
        make_args(
            flags={**FLAGS, "new-checkout": False}, flag_provider="flagd", kubernetes_api_cidrs=API
        )
    )
    assert list(changed_paths(before, after)) == ["shop-flags"]


def test_no_flags_no_flag_objects():
    records = run(make_args())
    assert "shop-flags" not in records
    pod = by_kind(records, "Deployment")["shop"].inputs["spec"]["template"]["spec"]
    assert all(v["name"] != "flags" for v in pod["volumes"])


def test_environment_override_wins_over_the_base_flags():
    doc = service_doc(
        flags={"new-checkout": False, "dark-mode": True},
        environments={"dev": {"flags": {"new-checkout": True}}},
    )
    assert parse_service(doc, "dev", "x.yaml").flags == {"new-checkout": True, "dark-mode": True}
    assert parse_service(doc, "prod", "x.yaml").flags == {"new-checkout": False, "dark-mode": True}


# -- flagd reaches the Kubernetes API, and only flagd pods do ----------------------------------


def _pod_and_policy(records) -> tuple[dict, dict, dict]:
    pod = by_kind(records, "Deployment")["shop"].inputs["spec"]["template"]["spec"]
    sa = by_kind(records, "ServiceAccount")["shop"].inputs
    netpol = by_kind(records, "NetworkPolicy")["shop"].inputs["spec"]
    return pod, sa, netpol


def _api_rules(netpol: dict) -> list[dict]:
    return [r for r in netpol["egress"] if any("ipBlock" in peer for peer in r["to"])]


def test_flagd_pods_mount_a_token_and_may_reach_the_api_server():
    """The injected flagd sidecar watches the FeatureFlag through the API: it needs the
    ServiceAccount token and a way out to the API server's addresses."""
    records = run(make_args(flags=FLAGS, flag_provider="flagd", kubernetes_api_cidrs=API))
    pod, sa, netpol = _pod_and_policy(records)
    assert pod["automountServiceAccountToken"] is True
    assert sa["automountServiceAccountToken"] is False, "only the flagd pods, not the account"
    assert _api_rules(netpol) == [
        {
            "to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}],
            "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
        }
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"flags": FLAGS},
        {"flag_provider": "flagd", "kubernetes_api_cidrs": API},
    ],
    ids=["no-flags", "configmap-flags", "flagd-without-flags"],
)
def test_pods_without_flagd_flags_keep_no_token_and_no_api_egress(overrides):
    pod, _, netpol = _pod_and_policy(run(make_args(**overrides)))
    assert pod["automountServiceAccountToken"] is False
    assert _api_rules(netpol) == []


def test_flagd_flags_without_the_api_address_are_refused():
    with pytest.raises(ValidationError, match="kubernetes_api_cidrs"):
        make_args(flags=FLAGS, flag_provider="flagd")
    with pytest.raises(ValidationError, match="not a CIDR"):
        make_args(flags=FLAGS, flag_provider="flagd", kubernetes_api_cidrs=["10.0.0.1/8"])


def test_a_flagd_stack_needs_each_targets_api_address():
    from slipway.errors import BadInput
    from stacks.build import microservice_args
    from stacks.config import StackConfig, TargetConfig

    doc = service_doc(flags={"beta": True})
    svc = parse_service(doc, "dev", "shop.yaml")
    bare = TargetConfig(name="local", cloud="existing", region="local", kubeconfig_context="k")
    stack = StackConfig(environment="dev", targets=[bare], traffic={"flags": "flagd"})
    with pytest.raises(BadInput, match="kubernetesApiCidrs") as info:
        microservice_args(svc, stack, bare, {svc.name: svc}, lambda key: key)
    assert info.value.field == "slipway:targets[local].kubernetesApiCidrs"
    given = bare.model_copy(update={"kubernetes_api_cidrs": ["172.18.0.2/32"]})
    args = microservice_args(svc, stack, given, {svc.name: svc}, lambda key: key)
    assert args.kubernetes_api_cidrs == ["172.18.0.2/32"]
