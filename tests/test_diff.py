"""compute_diff on synthetic records: matching, every replacement rule, ordering noise, secrets."""

from __future__ import annotations

import copy
import json

import pytest

from slipway.diff import (
    OPTION_PROTECT,
    OPTION_PROVIDER,
    SECRET,
    compute_diff,
    diff_values,
    is_empty,
    summary,
)
from slipway.errors import BadInput

STACK = "urn:pulumi:dev::slipway"
K8S_PROVIDER = f"{STACK}::pulumi:providers:kubernetes::local"


def urn(type_: str, name: str, parents: str = "") -> str:
    chain = f"{parents}${type_}" if parents else type_
    return f"{STACK}::{chain}::{name}"


def rec(type_: str, name: str, inputs: dict, **extra) -> dict:
    out = {
        "urn": extra.pop("urn", None) or urn(type_, name),
        "type": type_,
        "name": name,
        "parent": "",
        "provider": f"{K8S_PROVIDER}::id-1" if type_.startswith("kubernetes:") else "",
        "protect": False,
        "aliases": [],
        "inputs": inputs,
        "target": "local",
    }
    out.update(extra)
    return out


def deployment(name: str = "api", image: str = "api:1", **over) -> dict:
    inputs = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "team-a", "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "securityContext": {"capabilities": {"drop": ["ALL", "NET_RAW"]}},
                        },
                        {"name": "sidecar", "image": "proxy:1"},
                    ]
                },
            },
        },
    }
    inputs.update(over)
    return rec("kubernetes:apps/v1:Deployment", name, inputs)


def configmap(data: dict, immutable: bool | None = None, name: str = "api-config") -> dict:
    inputs: dict = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": "team-a"},
        "data": data,
    }
    if immutable is not None:
        inputs["immutable"] = immutable
    return rec("kubernetes:core/v1:ConfigMap", name, inputs)


def k8s_provider(**inputs) -> dict:
    return {
        "urn": K8S_PROVIDER,
        "type": "pulumi:providers:kubernetes",
        "name": "local",
        "parent": "",
        "provider": "",
        "protect": False,
        "aliases": [],
        "inputs": inputs,
        "target": "local",
    }


def changed(old: dict, mutate) -> dict:
    new = copy.deepcopy(old)
    mutate(new["inputs"])
    return new


def only(diff: dict, kind: str) -> dict:
    """The single entry of `kind`, asserting every other kind is empty."""
    for k in ("added", "deleted", "updated", "replaced"):
        if k != kind:
            assert diff[k] == [], f"unexpected {k}: {diff[k]}"
    assert len(diff[kind]) == 1, diff[kind]
    return diff[kind][0]


# --- matching ------------------------------------------------------------------------------------


def test_identical_records_give_an_empty_diff():
    records = [k8s_provider(), deployment(), configmap({"a": "1"})]
    diff = compute_diff(records, copy.deepcopy(records))
    assert is_empty(diff)
    assert diff == {"added": [], "deleted": [], "updated": [], "replaced": []}


def test_new_resource_is_added_with_its_target():
    d = deployment()
    entry = only(compute_diff([], [d]), "added")
    assert entry == {"urn": d["urn"], "type": d["type"], "name": "api", "target": "local"}


def test_missing_resource_is_deleted():
    d = deployment()
    entry = only(compute_diff([d], []), "deleted")
    assert entry["urn"] == d["urn"]


def test_target_is_left_out_when_unknown():
    d = deployment()
    d["target"] = None
    assert "target" not in only(compute_diff([], [d]), "added")


def test_renamed_resource_with_alias_is_neither_deleted_nor_added():
    old = deployment()
    new = copy.deepcopy(old)
    new["urn"] = urn("kubernetes:apps/v1:Deployment", "api", "slipway:svc:Microservice")
    new["aliases"] = [old["urn"]]
    assert is_empty(compute_diff([old], [new]))


def test_renamed_resource_with_alias_and_a_change_is_updated_and_names_its_old_urn():
    old = deployment()
    new = changed(old, lambda i: i["spec"].update(replicas=3))
    new["urn"] = urn("kubernetes:apps/v1:Deployment", "api", "slipway:svc:Microservice")
    new["aliases"] = [{"urn": old["urn"]}]
    entry = only(compute_diff([old], [new]), "updated")
    assert entry["urn"] == new["urn"]
    assert entry["old_urn"] == old["urn"]
    assert entry["changes"] == [{"path": "spec.replicas", "old": 2, "new": 3}]


def test_renamed_resource_without_alias_is_deleted_and_added():
    old = deployment()
    new = copy.deepcopy(old)
    new["urn"] = urn("kubernetes:apps/v1:Deployment", "api", "slipway:svc:Microservice")
    diff = compute_diff([old], [new])
    assert [e["urn"] for e in diff["deleted"]] == [old["urn"]]
    assert [e["urn"] for e in diff["added"]] == [new["urn"]]


def test_alias_to_an_urn_that_still_exists_does_not_steal_it():
    old = deployment()
    twin = copy.deepcopy(old)
    twin["urn"] = urn("kubernetes:apps/v1:Deployment", "api-copy")
    twin["aliases"] = [old["urn"]]
    diff = compute_diff([old], [old, twin])
    assert [e["urn"] for e in diff["added"]] == [twin["urn"]]
    assert diff["deleted"] == []


def test_records_without_urn_are_bad_input():
    with pytest.raises(BadInput, match="urn"):
        compute_diff([{"type": "x"}], [])


def test_repeated_urn_is_bad_input():
    d = deployment()
    with pytest.raises(BadInput, match="repeat"):
        compute_diff([], [d, d])


def test_entries_are_sorted_by_target_then_urn():
    a = deployment("zeta")
    b = deployment("alpha")
    c = deployment("mid")
    c["target"] = "aws-us-east-1"
    diff = compute_diff([], [a, b, c])
    assert [e["name"] for e in diff["added"]] == ["mid", "alpha", "zeta"]


def test_output_is_deterministic_and_json_serialisable():
    old = [k8s_provider(), deployment("b"), deployment("a"), configmap({"x": "1"})]
    new = [
        changed(r, lambda i: i.setdefault("metadata", {}).update(annotations={"z": "1"}))
        for r in reversed(old)
    ]
    first = json.dumps(compute_diff(old, new), sort_keys=True)
    second = json.dumps(compute_diff(list(reversed(old)), list(reversed(new))), sort_keys=True)
    assert first == second


# --- property-level changes ----------------------------------------------------------------------


def test_image_change_is_an_update_with_the_container_path():
    old = deployment()
    new = deployment(image="api:2")
    entry = only(compute_diff([old], [new]), "updated")
    assert entry["changes"] == [
        {"path": "spec.template.spec.containers[0].image", "old": "api:1", "new": "api:2"}
    ]


def test_label_keys_with_dots_are_quoted_in_paths():
    changes = diff_values({"labels": {"app.kubernetes.io/name": "a"}}, {"labels": {}})
    assert changes == [{"path": 'labels["app.kubernetes.io/name"]', "old": "a", "new": None}]


def test_added_key_has_old_none():
    assert diff_values({}, {"a": {"b": 1}}) == [{"path": "a", "old": None, "new": {"b": 1}}]


def test_integral_float_equals_int():
    assert diff_values({"replicas": 2}, {"replicas": 2.0}) == []


def test_string_and_number_differ():
    assert diff_values({"port": 80}, {"port": "80"}) == [{"path": "port", "old": 80, "new": "80"}]


def test_bool_and_int_differ():
    assert diff_values({"x": True}, {"x": 1}) == [{"path": "x", "old": True, "new": 1}]


def test_ordered_list_change_reports_the_index():
    changes = diff_values({"args": ["a", "b"]}, {"args": ["b", "a"]})
    assert changes == [
        {"path": "args[0]", "old": "a", "new": "b"},
        {"path": "args[1]", "old": "b", "new": "a"},
    ]


def test_ordered_list_growth_reports_the_new_item():
    changes = diff_values({"args": ["a"]}, {"args": ["a", "b"]})
    assert changes == [{"path": "args[1]", "old": None, "new": "b"}]


# --- ordering noise ------------------------------------------------------------------------------


def test_env_order_is_no_change():
    old = deployment()
    new = changed(old, lambda i: i["spec"]["template"]["spec"]["containers"][0]["env"].reverse())
    assert is_empty(compute_diff([old], [new]))


def test_container_order_is_no_change():
    old = deployment()
    new = changed(old, lambda i: i["spec"]["template"]["spec"]["containers"].reverse())
    assert is_empty(compute_diff([old], [new]))


def test_capability_order_is_no_change():
    old = deployment()
    new = changed(
        old,
        lambda i: i["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"][
            "drop"
        ].reverse(),
    )
    assert is_empty(compute_diff([old], [new]))


def test_subnet_id_order_is_no_change():
    old = rec("aws:eks/cluster:Cluster", "eks", {"vpcConfig": {"subnetIds": ["s-1", "s-2"]}})
    new = changed(old, lambda i: i["vpcConfig"]["subnetIds"].reverse())
    assert is_empty(compute_diff([old], [new]))


def test_env_value_change_after_reorder_points_at_the_new_index():
    old = deployment()

    def mutate(i):
        env = i["spec"]["template"]["spec"]["containers"][0]["env"]
        env.reverse()
        env[0]["value"] = "20"

    entry = only(compute_diff([old], [changed(old, mutate)]), "updated")
    assert entry["changes"] == [
        {"path": "spec.template.spec.containers[0].env[0].value", "old": "2", "new": "20"}
    ]


def test_env_var_removed_and_added_are_reported():
    old = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    new = {"env": [{"name": "B", "value": "2"}, {"name": "C", "value": "3"}]}
    assert diff_values(old, new) == [
        {"path": "env[0]", "old": {"name": "A", "value": "1"}, "new": None},
        {"path": "env[1]", "old": None, "new": {"name": "C", "value": "3"}},
    ]


def test_scalar_set_change_reports_the_whole_list():
    changes = diff_values({"verbs": ["get", "list"]}, {"verbs": ["list", "watch"]})
    assert changes == [{"path": "verbs", "old": ["get", "list"], "new": ["list", "watch"]}]


def test_init_container_order_is_a_change():
    old = {"initContainers": [{"name": "a"}, {"name": "b"}]}
    new = {"initContainers": [{"name": "b"}, {"name": "a"}]}
    assert [c["path"] for c in diff_values(old, new)] == [
        "initContainers[0].name",
        "initContainers[1].name",
    ]


# --- Kubernetes replacement rules ----------------------------------------------------------------


def test_metadata_name_change_replaces():
    old = configmap({"a": "1"})
    new = changed(old, lambda i: i["metadata"].update(name="other"))
    entry = only(compute_diff([old], [new]), "replaced")
    assert entry["reason"] == "metadata.name"


def test_metadata_namespace_change_replaces():
    old = deployment()
    new = changed(old, lambda i: i["metadata"].update(namespace="team-b"))
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "metadata.namespace"


def test_api_version_change_replaces():
    old = deployment()
    new = changed(old, lambda i: i.update(apiVersion="apps/v1beta2"))
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "apiVersion"


def test_kind_change_replaces():
    old = deployment()
    new = changed(old, lambda i: i.update(kind="StatefulSet"))
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "kind"


@pytest.mark.parametrize("type_", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"])
def test_workload_selector_change_replaces(type_):
    old = deployment()
    old["type"] = f"kubernetes:apps/v1:{type_}"
    new = changed(old, lambda i: i["spec"]["selector"]["matchLabels"].update(slot="blue"))
    entry = only(compute_diff([old], [new]), "replaced")
    assert entry["reason"] == "spec.selector"
    assert entry["changes"] == [
        {"path": "spec.selector.matchLabels.slot", "old": None, "new": "blue"}
    ]


def test_job_selector_change_replaces():
    old = rec("kubernetes:batch/v1:Job", "migrate", {"spec": {"selector": {"a": "1"}}})
    new = changed(old, lambda i: i["spec"]["selector"].update(a="2"))
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "spec.selector"


def test_job_template_change_replaces():
    spec = {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}}
    old = rec("kubernetes:batch/v1:Job", "migrate", {"spec": spec})
    new = changed(old, lambda i: i["spec"]["template"]["spec"]["containers"][0].update(image="m:2"))
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "spec.template"


def test_deployment_template_change_is_an_update():
    old = deployment()
    new = changed(old, lambda i: i["spec"]["template"]["metadata"]["labels"].update(v="2"))
    only(compute_diff([old], [new]), "updated")


def service(spec: dict) -> dict:
    return rec(
        "kubernetes:core/v1:Service", "api", {"apiVersion": "v1", "kind": "Service", "spec": spec}
    )


def test_service_cluster_ip_change_replaces():
    old = service({"clusterIP": "10.0.0.1"})
    new = service({"clusterIP": "10.0.0.2"})
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "spec.clusterIP"


def test_service_type_to_external_name_replaces():
    old = service({"type": "ClusterIP"})
    new = service({"type": "ExternalName", "externalName": "db.example.com"})
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "spec.type"


def test_service_type_from_external_name_replaces():
    old = service({"type": "ExternalName", "externalName": "db.example.com"})
    new = service({})
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "spec.type"


def test_service_type_cluster_ip_to_load_balancer_is_an_update():
    old = service({"type": "ClusterIP"})
    new = service({"type": "LoadBalancer"})
    only(compute_diff([old], [new]), "updated")


def test_service_selector_change_is_an_update():
    old = service({"selector": {"app": "api", "slot": "blue"}})
    new = service({"selector": {"app": "api", "slot": "green"}})
    entry = only(compute_diff([old], [new]), "updated")
    assert entry["changes"] == [{"path": "spec.selector.slot", "old": "blue", "new": "green"}]


def test_pvc_storage_class_change_replaces():
    old = rec(
        "kubernetes:core/v1:PersistentVolumeClaim", "data", {"spec": {"storageClassName": "gp2"}}
    )
    new = changed(old, lambda i: i["spec"].update(storageClassName="gp3"))
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "spec.storageClassName"


def test_pvc_size_change_is_an_update():
    spec = {"storageClassName": "gp3", "resources": {"requests": {"storage": "1Gi"}}}
    old = rec("kubernetes:core/v1:PersistentVolumeClaim", "data", {"spec": spec})
    new = changed(old, lambda i: i["spec"]["resources"]["requests"].update(storage="2Gi"))
    only(compute_diff([old], [new]), "updated")


def test_immutable_configmap_data_change_replaces():
    old = configmap({"LOG_LEVEL": "info"}, immutable=True)
    new = configmap({"LOG_LEVEL": "debug"}, immutable=True)
    provider = k8s_provider(enableConfigMapMutable="true")
    entry = only(compute_diff([provider, old], [provider, new]), "replaced")
    assert entry["reason"] == "data"
    assert entry["changes"] == [{"path": "data.LOG_LEVEL", "old": "info", "new": "debug"}]


def test_configmap_data_change_replaces_with_the_provider_default():
    old = configmap({"LOG_LEVEL": "info"})
    new = configmap({"LOG_LEVEL": "debug"})
    provider = k8s_provider()
    assert only(compute_diff([provider, old], [provider, new]), "replaced")["reason"] == "data"


def test_mutable_configmap_on_a_mutable_provider_is_updated():
    old = configmap({"LOG_LEVEL": "info"}, immutable=False)
    new = configmap({"LOG_LEVEL": "debug"}, immutable=False)
    provider = k8s_provider(enableConfigMapMutable=True)
    only(compute_diff([provider, old], [provider, new]), "updated")


def secret(data: dict, immutable: bool | None = None) -> dict:
    inputs: dict = {"apiVersion": "v1", "kind": "Secret", "metadata": {}, "stringData": data}
    if immutable is not None:
        inputs["immutable"] = immutable
    return rec("kubernetes:core/v1:Secret", "api-secret", inputs)


def test_immutable_secret_data_change_replaces_and_stays_redacted():
    old = secret({"token": "old-plain-value"}, immutable=True)
    new = secret({"token": "new-plain-value"}, immutable=True)
    provider = k8s_provider(enableSecretMutable="true")
    entry = only(compute_diff([provider, old], [provider, new]), "replaced")
    assert entry["reason"] == "stringData"
    assert entry["changes"] == [{"path": "stringData.token", "old": SECRET, "new": SECRET}]
    assert "plain-value" not in json.dumps(entry)


def test_mutable_secret_on_a_mutable_provider_is_updated():
    old = secret({"token": "a"}, immutable=False)
    new = secret({"token": "b"}, immutable=False)
    provider = k8s_provider(enableSecretMutable=True)
    only(compute_diff([provider, old], [provider, new]), "updated")


def test_provider_change_to_another_provider_resource_replaces():
    old = deployment()
    new = copy.deepcopy(old)
    new["provider"] = f"{STACK}::pulumi:providers:kubernetes::other::id-2"
    entry = only(compute_diff([old], [new]), "replaced")
    assert entry["reason"] == OPTION_PROVIDER
    assert entry["changes"] == [
        {
            "path": OPTION_PROVIDER,
            "old": K8S_PROVIDER,
            "new": f"{STACK}::pulumi:providers:kubernetes::other",
        }
    ]


def test_provider_renamed_with_alias_is_not_a_provider_change():
    old_provider = k8s_provider()
    new_provider = copy.deepcopy(old_provider)
    new_provider["urn"] = f"{STACK}::pulumi:providers:kubernetes::local-renamed"
    new_provider["aliases"] = [old_provider["urn"]]
    old = deployment()
    new = copy.deepcopy(old)
    new["provider"] = f"{new_provider['urn']}::id-1"
    assert is_empty(compute_diff([old_provider, old], [new_provider, new]))


def test_provider_id_change_alone_is_no_change():
    old = deployment()
    new = copy.deepcopy(old)
    new["provider"] = f"{K8S_PROVIDER}::id-9"
    assert is_empty(compute_diff([old], [new]))


def test_protect_change_is_an_update():
    old = rec("aws:kms/key:Key", "key", {"description": "k"})
    new = copy.deepcopy(old)
    new["protect"] = True
    entry = only(compute_diff([old], [new]), "updated")
    assert entry["changes"] == [{"path": OPTION_PROTECT, "old": False, "new": True}]


# --- AWS / GCP force-new table -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "inputs", "path", "value"),
    [
        ("aws:eks/cluster:Cluster", {"name": "a"}, "name", "b"),
        ("aws:eks/cluster:Cluster", {"vpcConfig": {"subnetIds": ["s-1"]}}, "vpcConfig", None),
        (
            "aws:eks/cluster:Cluster",
            {"encryptionConfig": {"resources": ["secrets"]}},
            "encryptionConfig",
            None,
        ),
        (
            "aws:kms/key:Key",
            {"customerMasterKeySpec": "SYMMETRIC_DEFAULT"},
            "customerMasterKeySpec",
            "RSA_2048",
        ),
        ("aws:ecr/repository:Repository", {"name": "api"}, "name", "api2"),
        ("gcp:container/cluster:Cluster", {"location": "europe-west1"}, "location", "us-east1"),
        ("gcp:container/cluster:Cluster", {"network": "n1"}, "network", "n2"),
        (
            "gcp:container/cluster:Cluster",
            {"privateClusterConfig": {"enablePrivateNodes": True}},
            "privateClusterConfig",
            None,
        ),
    ],
)
def test_cloud_force_new_property_replaces(type_, inputs, path, value):
    old = rec(type_, "r", inputs)

    def mutate(i):
        if path == "vpcConfig":
            i["vpcConfig"]["subnetIds"].append("s-2")
        elif path == "encryptionConfig":
            i["encryptionConfig"]["provider"] = {"keyArn": "arn:k"}
        elif path == "privateClusterConfig":
            i["privateClusterConfig"]["enablePrivateNodes"] = False
        else:
            i[path] = value

    entry = only(compute_diff([old], [changed(old, mutate)]), "replaced")
    expected = "vpcConfig.subnetIds" if path == "vpcConfig" else path
    assert entry["reason"] == expected


def test_aws_region_change_replaces():
    old = rec("aws:s3/bucketV2:BucketV2", "logs", {"region": "us-east-1"})
    new = changed(old, lambda i: i.update(region="eu-west-1"))
    assert only(compute_diff([old], [new]), "replaced")["reason"] == "region"


def test_cloud_tag_change_is_an_update():
    old = rec("aws:eks/cluster:Cluster", "eks", {"name": "a", "tags": {"team": "x"}})
    new = changed(old, lambda i: i["tags"].update(team="y"))
    only(compute_diff([old], [new]), "updated")


def test_all_reasons_are_listed_sorted():
    old = rec("aws:eks/cluster:Cluster", "eks", {"name": "a", "roleArn": "r1"})
    new = changed(old, lambda i: i.update(name="b", roleArn="r2"))
    entry = only(compute_diff([old], [new]), "replaced")
    assert entry["reasons"] == ["name", "roleArn"]
    assert entry["reason"] == "name"


# --- secrets -------------------------------------------------------------------------------------


def test_redacted_values_that_match_are_no_change():
    old = rec("aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretString": SECRET})
    assert is_empty(compute_diff([old], [copy.deepcopy(old)]))


def test_secret_marker_is_never_shown_with_its_payload():
    old = {
        "k": {
            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
            "value": "hunter2",
        }
    }
    new = {
        "k": {
            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
            "value": "hunter3",
        }
    }
    d_old = rec("aws:ssm/parameter:Parameter", "p", old)
    d_new = rec("aws:ssm/parameter:Parameter", "p", new)
    entry = only(compute_diff([d_old], [d_new]), "updated")
    assert entry["changes"] == [{"path": "k", "old": SECRET, "new": SECRET}]
    assert "hunter" not in json.dumps(entry)


def test_value_becoming_secret_is_shown_redacted():
    old = rec("aws:ssm/parameter:Parameter", "p", {"value": "plain"})
    new = rec("aws:ssm/parameter:Parameter", "p", {"value": SECRET})
    entry = only(compute_diff([old], [new]), "updated")
    assert entry["changes"] == [{"path": "value", "old": "plain", "new": SECRET}]


def test_nested_secret_markers_inside_added_values_stay_redacted():
    old = {"env": [{"name": "A", "value": "1"}]}
    new = {"env": [{"name": "A", "value": "1"}, {"name": "T", "value": "[secret]"}]}
    old_r = rec("kubernetes:apps/v1:Deployment", "d", old)
    new_r = rec("kubernetes:apps/v1:Deployment", "d", new)
    entry = only(compute_diff([old_r], [new_r]), "updated")
    assert entry["changes"] == [
        {"path": "env[1]", "old": None, "new": {"name": "T", "value": SECRET}}
    ]


def test_summary_counts_each_kind():
    old = [deployment("a"), deployment("b"), configmap({"x": "1"})]
    new = [deployment("a", image="api:2"), deployment("c"), configmap({"x": "2"})]
    assert summary(compute_diff(old, new)) == {
        "added": 1,
        "deleted": 1,
        "updated": 1,
        "replaced": 1,
    }


# --- aliases inherited from a renamed parent -----------------------------------------------------


def component(type_: str, name: str, parent: dict | None = None, aliases=()) -> dict:
    chain = parent["urn"].split("::")[2] if parent else ""
    return {
        "urn": urn(type_, name, chain),
        "type": type_,
        "name": name,
        "parent": parent["urn"] if parent else "",
        "provider": "",
        "protect": False,
        "aliases": list(aliases),
        "inputs": {},
        "target": "local",
    }


def tree(svc_name: str, aliases=()) -> list[dict]:
    """Target > Microservice `svc_name` > ConfigMap `<svc>-config` > grandchild `<svc>-config-x`."""
    target = component("slipway:stacks:Target", "local")
    svc = component("slipway:apps:Microservice", svc_name, target, aliases)
    cm = component("kubernetes:core/v1:ConfigMap", f"{svc_name}-config", svc)
    cm["inputs"] = {"data": {"a": "1"}}
    grandchild = component("slipway:x:Thing", f"{svc_name}-config-x", cm)
    other = component("kubernetes:core/v1:Service", "shared-name", svc)
    return [target, svc, cm, grandchild, other]


def test_children_inherit_the_alias_of_a_renamed_parent():
    old = tree("local-orders")
    new = tree("local-svc-orders", aliases=[old[1]["urn"]])
    assert is_empty(compute_diff(old, new))


def test_children_of_a_renamed_parent_without_alias_are_deleted_and_added():
    old = tree("local-orders")
    new = tree("local-svc-orders")
    diff = compute_diff(old, new)
    # the Service keeps its URN: a URN holds the parent's type chain, not the parent's name
    assert [e["name"] for e in diff["deleted"]] == [
        "local-orders-config-x",
        "local-orders-config",
        "local-orders",
    ]
    assert len(diff["added"]) == 3


def test_inherited_alias_still_reports_real_changes():
    old = tree("local-orders")
    new = tree("local-svc-orders", aliases=[old[1]["urn"]])
    new[2]["inputs"] = {"data": {"a": "2"}}
    entry = only(compute_diff(old, new), "replaced")
    assert entry["old_urn"] == old[2]["urn"]
    assert entry["reason"] == "data"
