"""Each stack-file check refuses what it must, with its whole message, and accepts the nearest
valid value: the catalog folder's path, the platform stack's name, targets and their clouds,
waves, the namespace prefix, layers, regions, the mesh and Prometheus labels.

Messages are asserted as `slipway.<field>: ...`, the way the stack file's readers print them
(stacks.catalog._format_errors with the `slipway` prefix), so a changed word, a flipped
comparison or a dropped branch in stacks/config.py fails a test here.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from stacks.catalog import _format_errors
from stacks.config import StackConfig, TargetConfig, TrafficConfig, check_catalog_path

LOCAL: dict[str, Any] = {
    "name": "local",
    "cloud": "existing",
    "region": "local",
    "kubeconfigContext": "kind",
}
AWS: dict[str, Any] = {"name": "aws-use1", "cloud": "aws", "region": "us-east-1"}
ACCOUNT = "123456789012"
ECR = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


def stack(**changes: Any) -> dict[str, Any]:
    """A valid stack file's `slipway:` section with top-level keys replaced (camelCase)."""
    data: dict[str, Any] = {"environment": "dev", "targets": [copy.deepcopy(LOCAL)]}
    data.update(copy.deepcopy(changes))
    return data


def refused(data: dict[str, Any]) -> str:
    """The whole message the stack file's readers print; fails when the section is accepted."""
    with pytest.raises(ValidationError) as info:
        StackConfig.model_validate(data)
    return _format_errors(info.value, prefix="slipway")[1]


def accepted(data: dict[str, Any]) -> StackConfig:
    return StackConfig.model_validate(data)


# --- catalog: a folder inside the project -------------------------------------------------------

OUTSIDE = [
    "",
    " ",
    "\t",
    "/srv/services",
    "/",
    "\\srv\\services",
    "~/services",
    "~",
    "C:/services",
    "c:services",
    "services:x",
    "..",
    "../services",
    "services/../..",
    "a/../b",
    "x/..",
    "a\\..\\b",
    "..\\services",
]


@pytest.mark.parametrize("path", OUTSIDE)
def test_a_catalog_path_outside_the_project_is_refused(path: str) -> None:
    with pytest.raises(ValueError) as info:
        check_catalog_path(path)
    assert str(info.value) == (
        f"{path!r} is not a folder inside the project; give a relative path without '..', "
        "e.g. services"
    )


@pytest.mark.parametrize("path", [".", "./", "./.", ".//."])
def test_the_project_folder_itself_is_no_catalog_folder(path: str) -> None:
    with pytest.raises(ValueError) as info:
        check_catalog_path(path)
    assert str(info.value) == f"{path!r} is the project folder itself; give its own folder"


@pytest.mark.parametrize(
    "path", ["services", "services/", "./services", "apps/services", "..x", "x..", "a.b/c~", "a\\b"]
)
def test_a_catalog_path_inside_the_project_is_accepted(path: str) -> None:
    assert check_catalog_path(path) == path
    assert accepted(stack(catalog=path)).catalog == path


def test_the_catalog_folder_is_checked_in_the_stack_file() -> None:
    assert refused(stack(catalog="../services")) == (
        "slipway.catalog: '../services' is not a folder inside the project; give a relative "
        "path without '..', e.g. services (given: '../services')"
    )
    assert refused(stack(catalog=".")) == (
        "slipway.catalog: '.' is the project folder itself; give its own folder (given: '.')"
    )
    assert accepted(stack()).catalog == "services"


# --- platform_reference -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "acme/shop/dev-platform"),
        ({"environment": "prod"}, "acme/shop/prod-platform"),
        ({"platformStack": "shared-platform"}, "acme/shop/shared-platform"),
        ({"platformStack": "infra/base/prod-platform"}, "infra/base/prod-platform"),
    ],
)
def test_the_platform_stack_reference_is_fully_qualified(
    changes: dict[str, Any], expected: str
) -> None:
    cfg = accepted(stack(layer="services", **changes))
    assert cfg.platform_reference("acme", "shop") == expected


# --- targets ------------------------------------------------------------------------------------


def test_a_node_pool_whose_minimum_exceeds_its_maximum_is_refused() -> None:
    target = {**AWS, "cluster": {"nodePool": {"minNodes": 5, "maxNodes": 4}}}
    assert refused(stack(targets=[target])) == (
        "slipway.targets[0].cluster.nodePool: minNodes (5) must not exceed maxNodes (4) "
        "(given: a mapping)"
    )
    target["cluster"]["nodePool"]["maxNodes"] = 5
    pool = accepted(stack(targets=[target])).targets[0].cluster.node_pool
    assert (pool.min_nodes, pool.max_nodes) == (5, 5)


def test_an_existing_target_needs_a_kubeconfig_context() -> None:
    target = {k: v for k, v in LOCAL.items() if k != "kubeconfigContext"}
    assert refused(stack(targets=[target])) == (
        "slipway.targets[0]: target 'local': cloud 'existing' needs kubeconfigContext "
        "(given: a mapping)"
    )


def test_a_gcp_target_needs_a_project() -> None:
    target = {"name": "gcp-euw1", "cloud": "gcp", "region": "europe-west1"}
    assert refused(stack(targets=[target])) == (
        "slipway.targets[0]: target 'gcp-euw1': cloud 'gcp' needs project (given: a mapping)"
    )
    assert accepted(stack(targets=[{**target, "project": "acme"}])).targets[0].project == "acme"


@pytest.mark.parametrize(
    "target",
    [
        {"name": "gcp-euw1", "cloud": "gcp", "region": "europe-west1", "project": "acme"},
        {**LOCAL},
    ],
)
def test_an_account_id_is_for_aws_targets_only(target: dict[str, Any]) -> None:
    name = target["name"]
    assert refused(stack(targets=[{**target, "accountId": ACCOUNT}])) == (
        f"slipway.targets[0]: target {name!r}: accountId is for cloud 'aws' only (given: a mapping)"
    )


def test_an_account_id_other_than_the_registrys_account_is_refused() -> None:
    target = {**AWS, "accountId": "999999999999", "registry": f"{ECR}/shop"}
    assert refused(stack(targets=[target])) == (
        "slipway.targets[0]: target 'aws-use1': accountId 999999999999 but the registry "
        f"{ECR}/shop is in account {ACCOUNT} (given: a mapping)"
    )


@pytest.mark.parametrize(
    ("fields", "account"),
    [
        ({"accountId": ACCOUNT, "registry": f"{ECR}/shop"}, ACCOUNT),
        ({"accountId": ACCOUNT}, ACCOUNT),
        ({"registry": ECR}, ACCOUNT),
        ({"accountId": ACCOUNT, "registry": "ghcr.io/acme"}, ACCOUNT),
        ({"registry": "ghcr.io/acme"}, None),
        ({"registry": f"{ECR}.example.com/shop"}, None),
        ({}, None),
    ],
)
def test_an_aws_target_is_held_to_its_account_or_its_registrys(
    fields: dict[str, Any], account: str | None
) -> None:
    target = accepted(stack(targets=[{**AWS, **fields}])).targets[0]
    assert target.aws_account == account


def test_a_target_off_aws_is_held_to_no_account() -> None:
    target = TargetConfig.model_validate({**LOCAL, "registry": f"{ECR}/shop"})
    assert target.registry_account == ACCOUNT
    assert target.aws_account is None


@pytest.mark.parametrize("account", ["12345678901", "1234567890123", "12345678901a", ""])
def test_an_account_id_of_other_than_12_digits_is_refused(account: str) -> None:
    assert refused(stack(targets=[{**AWS, "accountId": account}])) == (
        f"slipway.targets[0].accountId: must match pattern '^[0-9]{{12}}$' (given: {account!r})"
    )


def test_a_kubernetes_api_cidr_with_host_bits_is_refused() -> None:
    target = {**AWS, "kubernetesApiCidrs": ["10.0.0.0/16", "10.0.0.1/8"]}
    assert refused(stack(targets=[target])) == (
        "slipway.targets[0].kubernetesApiCidrs: kubernetesApiCidrs: '10.0.0.1/8' is not a CIDR "
        "(10.0.0.1/8 has host bits set) (given: a list)"
    )
    target["kubernetesApiCidrs"] = ["10.0.0.0/16", "172.20.0.1/32", "fd00::/8"]
    cidrs = accepted(stack(targets=[target])).targets[0].kubernetes_api_cidrs
    assert cidrs == ["10.0.0.0/16", "172.20.0.1/32", "fd00::/8"]


def test_a_target_name_that_is_no_dns_label_is_refused() -> None:
    assert refused(stack(targets=[{**LOCAL, "name": "Local_1"}])) == (
        "slipway.targets[0].name: 'Local_1' is not a DNS-1123 label: lower-case letters, digits "
        "and '-', starting and ending with a letter or digit, at most 40 characters "
        "(given: 'Local_1')"
    )


def test_target_names_must_be_unique() -> None:
    other = {**LOCAL, "region": "elsewhere"}
    assert refused(stack(targets=[LOCAL, other, {**AWS}, {**AWS}])) == (
        "slipway: target names must be unique; repeated: aws-use1, local (given: a mapping)"
    )


def test_a_stack_needs_a_target() -> None:
    assert refused(stack(targets=[])) == (
        "slipway.targets: must have at least 1 item, not 0 (given: a list)"
    )


# --- allowedRegions -----------------------------------------------------------------------------


def test_a_cloud_target_outside_the_allowed_regions_is_refused() -> None:
    data = stack(allowedRegions=["eu-west-1"], targets=[LOCAL, AWS])
    assert refused(data) == (
        "slipway: target 'aws-use1' uses region 'us-east-1'; allowedRegions is ['eu-west-1'] "
        "(given: a mapping)"
    )


def test_existing_targets_and_allowed_regions_pass_the_residency_check() -> None:
    data = stack(allowedRegions=["us-east-1", "eu-west-1"], targets=[LOCAL, AWS])
    assert [t.name for t in accepted(data).targets] == ["local", "aws-use1"]
    assert [t.name for t in accepted(stack(targets=[LOCAL, AWS])).targets] == ["local", "aws-use1"]


# --- waves --------------------------------------------------------------------------------------

TWO = [LOCAL, {**AWS}]


@pytest.mark.parametrize(
    ("waves", "message"),
    [
        ([[], "local", "aws-use1"], "a wave lists at least one target"),
        (["local", "ghost"], "'ghost' is not a target of this stack; targets: local, aws-use1"),
        (["local", ["aws-use1", "local"]], "target 'local' is in more than one wave"),
        (["local", "local"], "target 'local' is in more than one wave"),
        (["aws-use1"], "every target needs a wave; missing: local"),
        ([], "every target needs a wave; missing: local, aws-use1"),
    ],
)
def test_waves_name_every_target_exactly_once(waves: list[Any], message: str) -> None:
    assert refused(stack(targets=TWO, waves=waves)) == (f"slipway.waves: {message} (given: a list)")


@pytest.mark.parametrize("waves", [["local", "aws-use1"], [["aws-use1", "local"]], None])
def test_waves_that_name_every_target_once_are_accepted(waves: list[Any] | None) -> None:
    assert accepted(stack(targets=TWO, waves=waves)).waves == waves


def test_waves_are_not_judged_when_the_targets_are_bad() -> None:
    assert refused(stack(targets=[{**LOCAL, "cloud": "moon"}], waves=["ghost"])) == (
        "slipway.targets[0].cloud: must be 'existing', 'aws' or 'gcp' (given: 'moon')"
    )


# --- namespacePrefix ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["Acme-", "-acme", "acme_", "a" * 23, "acme.", "ac me"])
def test_a_namespace_prefix_that_cannot_start_a_dns_label_is_refused(prefix: str) -> None:
    assert refused(stack(namespacePrefix=prefix)) == (
        f"slipway.namespacePrefix: {prefix!r} cannot start a namespace name: use lower-case "
        "letters, digits and '-', starting with a letter or digit, at most 22 characters "
        f"(e.g. 'acme-') (given: {prefix!r})"
    )


@pytest.mark.parametrize("prefix", ["", "acme-", "a", "0-", "a" * 22, "a-" * 11])
def test_a_namespace_prefix_of_at_most_22_label_characters_is_accepted(prefix: str) -> None:
    assert accepted(stack(namespacePrefix=prefix)).namespace_prefix == prefix


# --- layers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["all", "platform"])
def test_a_platform_stack_is_for_the_services_layer_only(layer: str) -> None:
    assert refused(stack(layer=layer, platformStack="dev-platform")) == (
        f"slipway: platformStack is for layer 'services' (this stack's: {layer}) (given: a mapping)"
    )


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"registry": ECR}, "registry"),
        ({"cluster": {}}, "cluster"),
        ({"cluster": {}, "registry": ECR}, "cluster, registry"),
    ],
)
def test_a_services_layer_cloud_target_leaves_cluster_and_registry_to_the_platform(
    fields: dict[str, Any], named: str
) -> None:
    data = stack(layer="services", targets=[LOCAL, {**AWS, **fields}])
    assert refused(data) == (
        f"slipway: target 'aws-use1': {named} belong in the platform stack's file (layer "
        "services reads them from the platform's outputs) (given: a mapping)"
    )


def test_a_services_layer_existing_target_may_name_its_registry() -> None:
    data = stack(layer="services", targets=[{**LOCAL, "registry": "localhost:5000"}, AWS])
    assert accepted(data).targets[0].registry == "localhost:5000"
    for layer in ("all", "platform"):
        cfg = accepted(stack(layer=layer, targets=[{**AWS, "registry": ECR, "cluster": {}}]))
        assert cfg.targets[0].registry == ECR


def test_the_platform_layer_renders_no_yaml() -> None:
    data = stack(layer="platform", render={"yamlDirectory": "out"})
    assert refused(data) == (
        "slipway: render.yamlDirectory is for services: add-ons are Helm releases "
        "(given: a mapping)"
    )
    for layer in ("all", "services"):
        cfg = accepted(stack(layer=layer, render={"yamlDirectory": "out"}))
        assert cfg.render.yaml_directory == "out"


# --- traffic ------------------------------------------------------------------------------------


def test_istio_without_a_mesh_is_refused() -> None:
    assert refused(stack(traffic={"layer": "istio", "mesh": "none"})) == (
        "slipway.traffic: mesh 'none' with layer 'istio': the VirtualServices, retries and "
        "mTLS would act on nothing; allowed: sidecar or ambient (or layer none / gateway-api) "
        "(given: a mapping)"
    )


@pytest.mark.parametrize("layer", ["none", "gateway-api"])
@pytest.mark.parametrize("mesh", ["sidecar", "ambient"])
def test_an_istio_data_plane_needs_the_istio_layer(layer: str, mesh: str) -> None:
    assert refused(stack(traffic={"layer": layer, "mesh": mesh})) == (
        f"slipway.traffic: mesh {mesh!r} is Istio's data plane and needs layer 'istio' (it is "
        f"{layer!r}); allowed here: none (given: a mapping)"
    )


@pytest.mark.parametrize(
    ("traffic", "mode"),
    [
        ({}, "none"),
        ({"layer": "istio"}, "sidecar"),
        ({"layer": "istio", "mesh": "ambient"}, "ambient"),
        ({"layer": "istio", "mesh": "sidecar"}, "sidecar"),
        ({"layer": "gateway-api"}, "none"),
        ({"layer": "gateway-api", "mesh": "none"}, "none"),
    ],
)
def test_the_mesh_mode_defaults_to_the_layers(traffic: dict[str, Any], mode: str) -> None:
    assert TrafficConfig.model_validate(traffic).mesh_mode == mode


# --- observability ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["-release", "release-", "a" * 64, "Team/x", "/x", "a b"])
def test_a_prometheus_label_key_that_kubernetes_refuses_is_refused(key: str) -> None:
    assert refused(stack(observability={"prometheusLabels": {key: "x"}})) == (
        f"slipway.observability.prometheusLabels: {key!r} is not a Kubernetes label key "
        "(given: a mapping)"
    )


@pytest.mark.parametrize("value", ["-x", "x-", "a" * 64, "a b", "a/b"])
def test_a_prometheus_label_value_that_kubernetes_refuses_is_refused(value: str) -> None:
    assert refused(stack(observability={"prometheusLabels": {"release": value}})) == (
        f"slipway.observability.prometheusLabels: label release: {value!r} is not a Kubernetes "
        "label value (given: a mapping)"
    )


def test_prometheus_labels_kubernetes_accepts_are_kept() -> None:
    labels = {"release": "kube-prometheus-stack", "example.com/team": "", "a" * 63: "b" * 63}
    cfg = accepted(stack(observability={"prometheusLabels": labels}))
    assert cfg.observability.prometheus_labels == labels


@pytest.mark.parametrize("url", ["prometheus:9090", "ftp://p", "http://", "http://a b"])
def test_a_gate_prometheus_url_must_be_http(url: str) -> None:
    assert refused(stack(targets=[{**LOCAL, "gate": {"prometheusUrl": url}}])) == (
        f"slipway.targets[0].gate.prometheusUrl: must match pattern '^https?://[^\\s]+$' "
        f"(given: {url!r})"
    )


def test_prometheus_labels_with_upper_case_letters_are_kept() -> None:
    """Label names and values may hold capitals (`app.kubernetes.io/Name: Orders`)."""
    labels = {"Team": "Payments", "example.com/Tier": "A-1"}
    cfg = accepted(stack(observability={"prometheusLabels": labels}))
    assert cfg.observability.prometheus_labels == labels
