"""The RBAC family and the rules around it, one object at a time: what each message says,
which field each finding points at (`report(..., at=path)`), kinds matched by API group,
and odd shapes judged without raising. The fixture tests (tests/policies/fixtures/rbac)
prove which rules fire on which manifests; these pin the details a reader of a finding
relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.policy import PolicyCustomTimeouts

import policies
from policies import compliance, network, rbac, secrets
from policies._kinds import CLUSTER_SCOPED, group_kind, namespaced, nearest, rbac_kind

CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"

Finding = tuple[str, tuple[str | int, ...] | None]


def _args(t: str, props: dict[str, Any]) -> ResourceValidationArgs:
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    return ResourceValidationArgs(t, props, f"urn:x::{t}::r", "r", opts, None, {})


def judge(rule: Callable[..., None], t: str, props: dict[str, Any]) -> list[Finding]:
    """Run one rule through its SDK policy, with a report function that takes `at`."""
    found: list[Finding] = []

    def report(message: str, urn: str | None = None, *, at: Any = None) -> None:
        found.append((message, at))

    report.locates = True  # type: ignore[attr-defined]
    rule.policy.validate(_args(t, props), report)  # type: ignore[attr-defined]
    return found


def role(*rules: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": "r", **meta}, "rules": list(rules)}


def test_group_kind_reads_the_group_from_the_type_token() -> None:
    assert group_kind(CLUSTER_ROLE) == ("rbac.authorization.k8s.io", "ClusterRole")
    assert group_kind("kubernetes:core/v1:Secret") == ("", "Secret")
    assert group_kind("kubernetes:rbac.authorization.k8s.io/v1:RoleList") is None
    assert group_kind("aws:iam/role:Role") is None


def test_only_the_rbac_group_has_roles() -> None:
    assert rbac_kind(ROLE) == "Role"
    assert rbac_kind("kubernetes:rbac.authorization.k8s.io/v1beta1:ClusterRoleBinding")
    assert rbac_kind("kubernetes:iam.example.io/v1:Role") is None
    wild = role({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})
    assert judge(rbac.no_wildcards, "kubernetes:iam.example.io/v1:ClusterRole", wild) == []
    assert len(judge(rbac.no_wildcards, CLUSTER_ROLE, wild)) == 1


def test_wildcard_findings_name_the_entry_and_point_at_its_field() -> None:
    found = judge(
        rbac.no_wildcards,
        CLUSTER_ROLE,
        role(
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]},
        ),
    )
    assert found == [
        (
            "rules[1] grants every verb on deployments in API group apps (`*` in verbs)",
            ("rules", 1, "verbs"),
        ),
    ]
    everything = judge(
        rbac.no_wildcards,
        CLUSTER_ROLE,
        role({"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}),
    )
    assert everything == [
        (
            "rules[0] grants get on every resource in every API group (`*` in resources, "
            "apiGroups)",
            ("rules", 0, "resources"),
        )
    ]


def test_secret_read_says_where_it_applies() -> None:
    entry = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]}
    assert judge(rbac.no_secret_read, CLUSTER_ROLE, role(entry)) == [
        (
            "rules[0] grants list, watch on all secrets cluster-wide (or in every namespace "
            "it is bound in)",
            ("rules", 0, "verbs"),
        )
    ]
    assert judge(rbac.no_secret_read, ROLE, role(entry, namespace="shop")) == [
        ("rules[0] grants list, watch on all secrets in namespace shop", ("rules", 0, "verbs"))
    ]
    named = {**entry, "resourceNames": ["tls"]}
    assert judge(rbac.no_secret_read, ROLE, role(named, namespace="shop")) == []


def test_a_wildcard_is_one_finding_not_one_per_resource_rule() -> None:
    wild = role({"apiGroups": [""], "resources": ["*"], "verbs": ["*"]})
    rules = [v for v in vars(rbac).values() if callable(v) and hasattr(v, "policy")]
    assert len(rules) == 15
    fired = {r.policy.name for r in rules if judge(r, CLUSTER_ROLE, wild)}  # type: ignore[attr-defined]
    assert fired == {"rbac-no-wildcards"}


def test_bootstrap_policy_and_aggregated_roles_are_not_judged() -> None:
    wild = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
    builtin = role(wild, labels={"kubernetes.io/bootstrapping": "rbac-defaults"})
    builtin["metadata"]["name"] = "cluster-admin"
    assert judge(rbac.no_wildcards, CLUSTER_ROLE, builtin) == []
    copied = role(wild, labels={"kubernetes.io/bootstrapping": "rbac-defaults"})
    copied["metadata"]["name"] = "my-operator"
    assert judge(rbac.no_wildcards, CLUSTER_ROLE, copied), "the label alone is no pass"
    aggregated = {**role(wild), "aggregationRule": {"clusterRoleSelectors": []}}
    assert judge(rbac.no_wildcards, CLUSTER_ROLE, aggregated) == []
    # a Role has no aggregation: the field means nothing there
    assert judge(rbac.no_wildcards, ROLE, {**aggregated, "metadata": {"namespace": "a"}})


def test_verbs_compare_exactly_as_the_authorizer_does() -> None:
    entry = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["Get", "LIST"]}
    assert judge(rbac.no_secret_read, CLUSTER_ROLE, role(entry)) == []


def test_escalation_verbs_say_what_they_allow() -> None:
    found = judge(
        rbac.no_escalation_verbs,
        CLUSTER_ROLE,
        role({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}),
    )
    assert found == [
        (
            "rules[0] grants impersonate on serviceaccounts: it may act as another user, "
            "group or ServiceAccount",
            ("rules", 0, "verbs"),
        )
    ]


def test_csr_approval_reports_either_half() -> None:
    found = judge(
        rbac.no_csr_approval,
        CLUSTER_ROLE,
        role(
            {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["approve"]}
        ),
    )
    assert found == [("rules[0] grants approve on signers (every signer)", ("rules", 0, "verbs"))]


def test_binding_findings_point_at_the_subject_or_the_role_ref() -> None:
    binding = {
        "metadata": {"name": "b", "namespace": "shop"},
        "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [
            {"kind": "ServiceAccount", "name": "app", "namespace": "shop"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "shop"},
            {"kind": "Group", "name": "system:serviceaccounts:shop"},
        ],
    }
    assert judge(rbac.no_cluster_admin_binding, BINDING, binding) == [
        (
            "roleRef is cluster-admin: ServiceAccount app, ServiceAccount default, Group "
            "system:serviceaccounts:shop own(s) its namespace",
            ("roleRef", "name"),
        )
    ]
    found = judge(rbac.no_default_service_account_binding, BINDING, binding)
    assert [at for _, at in found] == [("subjects", 1, "name"), ("subjects", 2, "name")]
    assert "every ServiceAccount of namespace shop" in found[1][0]


def test_a_service_account_finding_points_at_the_field_or_the_object() -> None:
    t = "kubernetes:core/v1:ServiceAccount"
    assert judge(rbac.serviceaccount_no_token_automount, t, {"metadata": {"name": "a"}}) == [
        (
            "automountServiceAccountToken is unset: every pod under this account mounts its "
            "token unless the pod sets false",
            (),
        )
    ]
    found = judge(rbac.serviceaccount_no_token_automount, t, {"automountServiceAccountToken": True})
    assert found[0][1] == ("automountServiceAccountToken",)
    assert (
        judge(rbac.serviceaccount_no_token_automount, t, {"automountServiceAccountToken": False})
        == []
    )


@pytest.mark.parametrize(
    "props",
    [
        {},
        {"rules": "x", "subjects": "y", "roleRef": 3},
        {"rules": [None, 3, "s", {"verbs": "get", "resources": None}], "subjects": [None, 1]},
        {"metadata": [], "aggregationRule": None, "rules": [{"apiGroups": [None]}]},
    ],
)
def test_odd_shapes_are_judged_without_raising(props: dict[str, Any]) -> None:
    for t in (ROLE, CLUSTER_ROLE, BINDING, CLUSTER_BINDING, "kubernetes:core/v1:ServiceAccount"):
        for p in policies.all_policies():
            if p.name.startswith(("rbac-", "serviceaccount-", "object-no-default")):
                p.validate(_args(t, props), lambda m, u=None: None)


def test_cluster_scoped_kinds_have_no_namespace_and_custom_kinds_have_one() -> None:
    assert ("cert-manager.io", "ClusterIssuer") in CLUSTER_SCOPED
    assert not namespaced("kubernetes:storage.k8s.io/v1:StorageClass", "default")
    assert not namespaced(CLUSTER_BINDING, "default")
    assert not namespaced("kubernetes:constraints.gatekeeper.sh/v1beta1:K8sRequiredLabels", "x")
    assert namespaced("kubernetes:cert-manager.io/v1:Certificate", "default")
    assert namespaced("kubernetes:example.io/v1alpha1:Widget", "default")
    assert not namespaced("kubernetes:example.io/v1alpha1:Widget", None)


def test_default_namespace_is_reported_on_the_field_and_workloads_once() -> None:
    svc = {"metadata": {"name": "a", "namespace": "default"}}
    assert judge(compliance.object_no_default_namespace, "kubernetes:core/v1:Service", svc) == [
        ("metadata.namespace is default", ("metadata", "namespace"))
    ]
    deployment = {**svc, "spec": {"template": {"spec": {"containers": []}}}}
    t = "kubernetes:apps/v1:Deployment"
    assert judge(compliance.object_no_default_namespace, t, deployment) == []
    unset = {"metadata": {"name": "a"}}
    assert judge(compliance.object_no_default_namespace, "kubernetes:core/v1:Service", unset) == []


def test_secret_refs_point_at_the_env_entry() -> None:
    container = {
        "name": "app",
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
        ],
        "envFrom": [{"configMapRef": {"name": "c"}}, {"secretRef": {"name": "db"}}],
    }
    props = {"spec": {"template": {"spec": {"containers": [container]}}}}
    found = judge(secrets.env_no_secret_refs, "kubernetes:apps/v1:Deployment", props)
    pod = ("spec", "template", "spec", "containers", 0)
    assert found == [
        (
            'container "app": env DB_PASSWORD reads key pw of Secret db',
            (*pod, "env", 1, "valueFrom", "secretKeyRef"),
        ),
        (
            'container "app": envFrom[1] turns every key of Secret db into environment variables',
            (*pod, "envFrom", 1, "secretRef"),
        ),
    ]


def test_network_findings_point_at_the_peer() -> None:
    props = {"spec": {"ingress": [{"from": [{"podSelector": {}}, {}]}]}}
    found = judge(network.no_allow_all, "kubernetes:networking.k8s.io/v1:NetworkPolicy", props)
    assert found == [
        (
            "ingress rule 0 has an empty peer: it admits every source",
            ("spec", "ingress", 0, "from", 1),
        )
    ]


def test_nearest_stops_at_the_last_field_that_exists() -> None:
    assert nearest({"metadata": {"name": "a"}}, "metadata", "labels") == ("metadata",)
    assert nearest({}, "metadata", "labels") == ()
    assert nearest({"spec": {"tls": []}}, "spec", "tls") == ("spec", "tls")
