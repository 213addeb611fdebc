"""compute_diff behaviours that nothing else pinned: each test fails if one rule of diff.py is bent.

- a Secret's `type` is immutable in the API server, so changing it replaces the Secret;
- the blanket per-resource `region` rule is AWS's alone, and the ConfigMap/Secret immutability
  rules are core/v1's alone (a lookalike kind elsewhere is updated in place);
- one old URN claimed as an alias by two new resources goes to one of them, never to both;
- a set-like list with a repeated key is not keyed by it (keying would merge the duplicates and
  hide a real change).
"""

from __future__ import annotations

import copy

from slipway.diff import compute_diff
from tests.test_diff import changed, k8s_provider, only, rec

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
