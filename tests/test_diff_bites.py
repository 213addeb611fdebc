"""compute_diff behaviours that nothing else pinned: each test fails if one rule of diff.py is bent.

- a Secret's `type` is immutable in the API server, so changing it replaces the Secret;
- the blanket per-resource `region` rule is AWS's alone, and the ConfigMap/Secret immutability
  rules are core/v1's alone (a lookalike kind elsewhere is updated in place);
- one old URN claimed as an alias by two new resources goes to one of them, never to both;
- a set-like list with a repeated key is not keyed by it (keying would merge the duplicates and
  hide a real change);
- a provider reference is split into URN and id only when it is a URN: any other reference is
  compared whole, so changing it replaces.
"""

from __future__ import annotations

import copy

import pytest

from slipway.diff import OPTION_PROVIDER, compute_diff, diff_values, effective_aliases
from slipway.errors import BadInput
from tests.test_diff import STACK, changed, configmap, k8s_provider, only, rec

# --- a Secret's type is immutable ---------------------------------------------------------------


def test_secret_type_change_replaces_even_on_a_mutable_provider():
    inputs = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"namespace": "team-a"},
        "type": "Opaque",
        "immutable": False,
        "stringData": {"token": "t"},
    }
    old = rec("kubernetes:core/v1:Secret", "api-secret", inputs)
    new = changed(old, lambda i: i.update(type="kubernetes.io/tls"))
    provider = k8s_provider(enableSecretMutable="true")
    entry = only(compute_diff([provider, old], [provider, new]), "replaced")
    assert entry["reason"] == "type"
    assert entry["reasons"] == ["type"]
    assert entry["changes"] == [{"path": "type", "old": "Opaque", "new": "kubernetes.io/tls"}]


# --- which rules apply to which type (both sides of each `and`) ---------------------------------


def test_region_change_outside_the_aws_package_is_an_update():
    # A component's type may mention aws, but only `aws:` resources replace on `region`.
    old = rec("slipway:aws:EksCluster", "dev", {"region": "eu-west-1"})
    new = changed(old, lambda i: i.update(region="eu-central-1"))
    entry = only(compute_diff([old], [new]), "updated")
    assert entry["changes"] == [{"path": "region", "old": "eu-west-1", "new": "eu-central-1"}]


def test_data_change_of_a_configmap_lookalike_outside_core_v1_is_an_update():
    # The immutable-data rule is core/v1's; a custom kind that is also named ConfigMap is not it.
    inputs = {
        "apiVersion": "example.com/v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": "team-a"},
        "data": {"LOG_LEVEL": "info"},
    }
    old = rec("kubernetes:example.com/v1:ConfigMap", "api-config", inputs)
    new = changed(old, lambda i: i["data"].update(LOG_LEVEL="debug"))
    provider = k8s_provider()
    entry = only(compute_diff([provider, old], [provider, new]), "updated")
    assert entry["changes"] == [{"path": "data.LOG_LEVEL", "old": "info", "new": "debug"}]


# --- one alias claimed twice --------------------------------------------------------------------


def test_one_old_urn_claimed_as_alias_by_two_new_resources_goes_to_the_first_only():
    type_ = "kubernetes:apps/v1:Deployment"
    inputs = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 2}}
    old = rec(type_, "api", inputs)
    first = rec(type_, "api-a", copy.deepcopy(inputs), aliases=[old["urn"]])
    second = rec(type_, "api-b", copy.deepcopy(inputs), aliases=[old["urn"]])
    diff = compute_diff([old], [second, first])
    # Not refused: the first claimant in URN order takes the alias (no change), the other is new.
    assert [e["urn"] for e in diff["added"]] == [second["urn"]]
    assert diff["deleted"] == []
    assert diff["updated"] == []
    assert diff["replaced"] == []


# --- repeated keys in set-like lists ------------------------------------------------------------


def test_dropping_a_repeated_env_name_is_a_change_not_merged_away():
    def pod(env: list[dict]) -> dict:
        spec = {"containers": [{"name": "app", "image": "api:1", "env": env}]}
        return rec(
            "kubernetes:core/v1:Pod", "api", {"apiVersion": "v1", "kind": "Pod", "spec": spec}
        )

    old = pod([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}])
    new = pod([{"name": "A", "value": "2"}])
    entry = only(compute_diff([old], [new]), "updated")
    # A repeated name is no key: the list is compared by position.
    assert entry["changes"] == [
        {"path": "spec.containers[0].env[0].value", "old": "1", "new": "2"},
        {"path": "spec.containers[0].env[1]", "old": {"name": "A", "value": "2"}, "new": None},
    ]


def test_a_set_like_list_of_objects_without_key_fields_is_compared_by_position() -> None:
    # `records` is a set of scalars; objects in it are not merged by their values alone.
    assert diff_values({"records": [{"x": 1}]}, {"records": [{"y": 1}]}) == [
        {"path": "records[0].x", "old": 1, "new": None},
        {"path": "records[0].y", "old": None, "new": 1},
    ]


def test_a_set_like_list_of_lists_is_compared_by_position() -> None:
    assert diff_values({"cidrBlocks": [["10.0.0.0/8"]]}, {"cidrBlocks": [["10.1.0.0/16"]]}) == [
        {"path": "cidrBlocks[0][0]", "old": "10.0.0.0/8", "new": "10.1.0.0/16"}
    ]


def test_an_env_list_mixing_strings_and_objects_is_compared_by_position() -> None:
    # Neither side is keyed when either holds something other than objects.
    assert diff_values({"env": ["name"]}, {"env": [{"name": "A"}]}) == [
        {"path": "env[0]", "old": "name", "new": {"name": "A"}}
    ]
    assert diff_values({"env": [{"name": "A"}]}, {"env": ["name"]}) == [
        {"path": "env[0]", "old": {"name": "A"}, "new": "name"}
    ]


def test_a_set_like_list_under_a_quoted_path_segment_is_still_matched_by_key() -> None:
    old = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert diff_values(old, old[::-1], path='spec["env"]') == []


def test_a_key_added_with_a_null_value_is_reported() -> None:
    assert diff_values({}, {"a": None}) == [{"path": "a", "old": None, "new": None}]


# --- a provider reference that is not a URN -----------------------------------------------------


def test_provider_refs_that_are_not_urns_are_compared_whole_so_a_change_replaces() -> None:
    """Only `urn:...::<id>` is split (the id is dropped); `legacy::a` -> `legacy::b` is a
    change of provider, not an id change."""
    old = rec("aws:s3/bucket:Bucket", "logs", {"bucket": "logs"}, provider="legacy::a")
    new = copy.deepcopy(old)
    new["provider"] = "legacy::b"
    entry = only(compute_diff([old], [new]), "replaced")
    assert entry["reasons"] == [OPTION_PROVIDER]
    assert entry["changes"] == [{"path": OPTION_PROVIDER, "old": "legacy::a", "new": "legacy::b"}]


# --- ConfigMap and Secret immutability, either side -----------------------------------------------


def test_a_configmap_made_mutable_with_a_data_change_still_replaces() -> None:
    old = configmap({"LOG_LEVEL": "info"}, immutable=True)
    new = configmap({"LOG_LEVEL": "debug"}, immutable=False)
    provider = k8s_provider(enableConfigMapMutable="true")
    entry = only(compute_diff([provider, old], [provider, new]), "replaced")
    assert entry["reasons"] == ["data"]


def test_a_configmap_made_immutable_with_a_data_change_replaces() -> None:
    old = configmap({"LOG_LEVEL": "info"}, immutable=False)
    new = configmap({"LOG_LEVEL": "debug"}, immutable=True)
    provider = k8s_provider(enableConfigMapMutable="true")
    entry = only(compute_diff([provider, old], [provider, new]), "replaced")
    assert entry["reasons"] == ["data"]


def test_a_configmap_binary_data_change_replaces_with_the_provider_default() -> None:
    old = configmap({})
    old["inputs"]["binaryData"] = {"blob": "AAAA"}
    new = changed(old, lambda i: i["binaryData"].update(blob="BBBB"))
    provider = k8s_provider()
    entry = only(compute_diff([provider, old], [provider, new]), "replaced")
    assert entry["reason"] == "binaryData"
    assert entry["changes"] == [{"path": "binaryData.blob", "old": "AAAA", "new": "BBBB"}]


def test_a_provider_flag_of_false_keeps_configmap_data_immutable() -> None:
    old = configmap({"LOG_LEVEL": "info"}, immutable=False)
    new = configmap({"LOG_LEVEL": "debug"}, immutable=False)
    provider = k8s_provider(enableConfigMapMutable="false")
    assert only(compute_diff([provider, old], [provider, new]), "replaced")["reason"] == "data"


# --- records the diff refuses -------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", 42, None])
def test_a_new_record_without_a_string_urn_is_refused_naming_its_side(bad: object) -> None:
    record = {"urn": bad, "type": "x"}
    with pytest.raises(BadInput) as info:
        compute_diff([], [record])
    assert str(info.value) == "urn: new record without a urn (keys: ['type', 'urn'])"
    assert info.value.field == "urn"
    with pytest.raises(BadInput) as info:
        compute_diff([record], [])
    assert str(info.value) == "urn: old record without a urn (keys: ['type', 'urn'])"


def test_a_repeated_urn_is_refused_naming_its_side_and_the_urn() -> None:
    record = rec("aws:s3/bucket:Bucket", "logs", {})
    with pytest.raises(BadInput) as info:
        compute_diff([], [record, record])
    assert str(info.value) == f"urn: new records repeat the urn {record['urn']}"


def test_an_entry_of_a_record_without_a_name_has_an_empty_name() -> None:
    record = rec("aws:s3/bucket:Bucket", "logs", {})
    del record["name"]
    (entry,) = compute_diff([], [record])["added"]
    assert entry == {
        "urn": record["urn"],
        "type": "aws:s3/bucket:Bucket",
        "name": "",
        "target": "local",
    }


# --- aliases inherited from a parent ------------------------------------------------------------


def node(name: str | None, parent: str = "", aliases: tuple[str, ...] = ()) -> dict:
    out = {"urn": f"{STACK}::slipway:x:Thing::{name}", "type": "slipway:x:Thing", "parent": parent}
    if name is not None:
        out["name"] = name
    out["aliases"] = list(aliases)
    return out


def test_a_child_whose_name_lacks_the_parent_prefix_keeps_its_name_in_the_alias() -> None:
    parent = node("api", aliases=(f"{STACK}::slipway:x:Svc::orders",))
    child = node("config", parent=parent["urn"])
    found = effective_aliases({parent["urn"]: parent, child["urn"]: child})
    assert found[child["urn"]] == [f"{STACK}::slipway:x:Svc$slipway:x:Thing::config"]


def test_a_child_alias_keeps_a_parent_alias_name_that_holds_double_colons() -> None:
    parent = node("api", aliases=(f"{STACK}::slipway:x:Svc::old::name",))
    child = node("api-config", parent=parent["urn"])
    found = effective_aliases({parent["urn"]: parent, child["urn"]: child})
    assert found[child["urn"]] == [f"{STACK}::slipway:x:Svc$slipway:x:Thing::old::name-config"]


def test_a_child_without_a_name_inherits_an_alias_with_an_empty_name() -> None:
    parent = node("api", aliases=(f"{STACK}::slipway:x:Svc::orders",))
    child = node(None, parent=parent["urn"])
    child["urn"] = f"{STACK}::slipway:x:Thing::"
    found = effective_aliases({parent["urn"]: parent, child["urn"]: child})
    assert found[child["urn"]] == [f"{STACK}::slipway:x:Svc$slipway:x:Thing::"]


def test_aliases_are_inherited_through_a_deep_chain_of_parents() -> None:
    """Sixty levels deep (the walk stops at 64, a guard against parent cycles)."""
    chain = [node("n0", aliases=(f"{STACK}::slipway:x:Svc::m0",))]
    for i in range(1, 60):
        chain.append(node(f"n{i}", parent=chain[-1]["urn"]))
    records = {r["urn"]: r for r in reversed(chain)}  # the deepest first
    leaf = effective_aliases(records)[chain[-1]["urn"]]
    # each level adds its type to the alias's type chain; n59 is not named after n58
    assert leaf == [f"{STACK}::slipway:x:Svc{'$slipway:x:Thing' * 59}::n59"]
