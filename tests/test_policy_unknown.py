"""Rules never crash: unset properties are judged on purpose, and an unknown value (the
engine's sentinel during preview) becomes the SDK's advisory "can't run during preview"
diagnostic instead of a verdict.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from pulumi_policy import (
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import PolicyCustomTimeouts
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

import policies
from tests.policies.harness import FIXTURES, fixture_records, run_pack

TYPES = [
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
    "kubernetes:argoproj.io/v1alpha1:Rollout",
    "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate",
    "kubernetes:argoproj.io/v1alpha1:Experiment",
    "kubernetes:serving.knative.dev/v1:Service",
    "kubernetes:monitoring.coreos.com/v1:Prometheus",
    "kubernetes:example.com/v1:Thing",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:Namespace",
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "aws:eks/cluster:Cluster",
    "aws:ecr/repository:Repository",
    "aws:s3/bucket:Bucket",
    "aws:kms/key:Key",
    "aws:iam/policy:Policy",
    "aws:iam/role:Role",
    "aws:route53/record:Record",
    "gcp:container/cluster:Cluster",
    "gcp:storage/bucket:Bucket",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMPolicy:IAMPolicy",
    "slipway:apps:Microservice",
    "pulumi:providers:aws",
]

SHAPES: dict[str, dict[str, Any]] = {
    "nothing-set": {},
    "empty-spec": {"metadata": {}, "spec": {}},
    "empty-template": {"spec": {"template": {}, "jobTemplate": {}}},
    "empty-containers": {"spec": {"template": {"spec": {"containers": [{}], "volumes": [{}]}}}},
    "nulls": {"metadata": None, "spec": None, "vpcConfig": None, "data": None, "tags": None},
    "wrong-types": {"spec": "x", "metadata": [], "vpcConfig": 3, "data": [], "policy": 7},
    "odd-pod-lists": {
        "spec": {
            "metrics": ["x", {"provider": "y"}, {"provider": {"job": {"spec": 1}}}],
            "templates": "z",
            "containers": [1, None],
            "securityContext": [],
            "template": {"spec": {"containers": [None, "a"]}},
        }
    },
}

UNKNOWNS: dict[str, dict[str, Any]] = {
    "unknown-spec": {"spec": UNKNOWN_OBJECT_VALUE},
    "unknown-containers": {"spec": {"template": {"spec": {"containers": UNKNOWN_ARRAY_VALUE}}}},
    "unknown-image": {
        "spec": {"template": {"spec": {"containers": [{"image": UNKNOWN_STRING_VALUE}]}}}
    },
    "unknown-flag": {
        "spec": {"template": {"spec": {"hostNetwork": UNKNOWN_BOOLEAN_VALUE, "containers": []}}}
    },
    "unknown-cloud-settings": {
        "vpcConfig": UNKNOWN_OBJECT_VALUE,
        "imageTagMutability": UNKNOWN_STRING_VALUE,
        "policy": UNKNOWN_STRING_VALUE,
        "privateClusterConfig": UNKNOWN_OBJECT_VALUE,
        "tags": UNKNOWN_OBJECT_VALUE,
    },
}


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def _resource_args(t: str, props: dict, config: dict | None = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        t,
        unknown_checking_proxy(copy.deepcopy(props)),
        f"urn:x::{t}::r",
        "r",
        _opts(),
        None,
        config or {},
    )


def _stack_args(t: str, props: dict) -> StackValidationArgs:
    res = PolicyResource(
        t,
        unknown_checking_proxy(copy.deepcopy(props)),
        f"urn:x::{t}::r",
        "r",
        _opts(),
        None,
        None,
        [],
        {},
    )
    return StackValidationArgs([res], {})


RESOURCE_RULES = [p for p in policies.all_policies() if isinstance(p, ResourceValidationPolicy)]
STACK_RULES = [p for p in policies.all_policies() if isinstance(p, StackValidationPolicy)]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_resource_rules_judge_unset_and_odd_shapes_without_raising(shape: str) -> None:
    for t in TYPES:
        for policy in RESOURCE_RULES:
            policy.validate(_resource_args(t, SHAPES[shape]), lambda msg, urn=None: None)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_stack_rules_judge_unset_and_odd_shapes_without_raising(shape: str) -> None:
    for t in TYPES:
        for policy in STACK_RULES:
            policy.validate(_stack_args(t, SHAPES[shape]), lambda msg, urn=None: None)


@pytest.mark.parametrize("case", sorted(UNKNOWNS))
def test_unknown_values_raise_only_the_sdks_unknown_error(case: str) -> None:
    for t in TYPES:
        for policy in RESOURCE_RULES:
            with contextlib.suppress(UnknownValueError):
                policy.validate(_resource_args(t, UNKNOWNS[case]), lambda msg, urn=None: None)


def test_unset_allow_privilege_escalation_is_a_violation_not_a_pass() -> None:
    from policies.pod_security import no_privilege_escalation

    props = {"spec": {"template": {"spec": {"containers": [{"name": "a", "securityContext": {}}]}}}}
    reports: list[str] = []
    no_privilege_escalation(
        _resource_args(TYPES[0], props), lambda m, u=None, **_: reports.append(m)
    )
    assert reports == ['container "a": securityContext.allowPrivilegeEscalation is unset']


def _hardened(name: str = "good-hardened-deployment") -> list[dict]:
    return fixture_records(FIXTURES / "pod-security" / f"{name}.yaml")


def test_unknown_image_during_preview_is_advisory_and_names_the_property() -> None:
    records = _hardened()
    deployment = records[0]
    deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] = (
        UNKNOWN_STRING_VALUE
    )
    diags = run_pack(records, "prod", project="fixtures")
    assert {d.policy for d in diags} == {
        "image-no-latest-tag",
        "image-digest-pinned",
        "image-allowed-registries",
        "image-pull-policy-always",
    }
    for d in diags:
        assert d.level == "advisory" and d.urn == deployment["urn"]
        assert "can't be known during preview" in d.message
        assert ".spec.template.spec.containers.0.image" in d.message


def test_unknown_selector_makes_the_stack_rule_advisory() -> None:
    records = _hardened()
    netpol = next(r for r in records if r["type"].endswith("NetworkPolicy"))
    netpol["inputs"]["spec"]["podSelector"] = UNKNOWN_OBJECT_VALUE
    diags = run_pack(records, "prod", project="fixtures")
    assert [(d.policy, d.level) for d in diags] == [
        ("stack-workloads-have-network-policy", "advisory")
    ]
    assert "during preview" in diags[0].message


def test_known_violation_next_to_an_unknown_still_blocks() -> None:
    records = _hardened()
    pod = records[0]["inputs"]["spec"]["template"]["spec"]
    pod["containers"][0]["image"] = UNKNOWN_STRING_VALUE
    pod["hostPID"] = True
    diags = run_pack(records, "prod", project="fixtures")
    assert [d.policy for d in diags if d.level == "mandatory"] == ["pod-no-host-pid"]


def test_the_preview_sends_unknowns_to_the_pack_as_the_engine_does() -> None:
    from slipway.policy import ENGINE_UNKNOWN, as_the_engine_sends

    assert ENGINE_UNKNOWN == UNKNOWN_STRING_VALUE
    known = {"a": [1, {"b": "x"}], "c": "[secret]"}
    assert as_the_engine_sends(known) is known  # nothing to change: nothing copied
    mixed = {"a": [1, {"b": "[unknown]"}], "c": "[unknown]", "d": "kept"}
    assert as_the_engine_sends(mixed) == {
        "a": [1, {"b": UNKNOWN_STRING_VALUE}],
        "c": UNKNOWN_STRING_VALUE,
        "d": "kept",
    }
    assert mixed["c"] == "[unknown]"  # the record itself is left as resources.json shows it


def test_an_unknown_annotation_beside_an_exemption_does_not_stop_the_exemption_rule() -> None:
    """On a first preview an IRSA role annotation is unknown; the exemption rule reads only
    its own keys, so it still judges (here: flags a reasonless exemption) instead of
    reporting that it cannot run."""
    from policies.exemptions import exemption_has_reason

    props = unknown_checking_proxy(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "app",
                "namespace": "shop",
                "annotations": {
                    "eks.amazonaws.com/role-arn": UNKNOWN_STRING_VALUE,
                    "slipway.dev/exempt": "pod-no-privileged",
                },
            },
        }
    )
    found: list[str] = []
    args = ResourceValidationArgs(
        "kubernetes:core/v1:ServiceAccount",
        props,
        "urn",
        "app",
        PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None),
        None,
        {},
        {},
    )
    exemption_has_reason.policy.validate(args, lambda message, urn=None: found.append(message))
    assert len(found) == 1 and "gives no reason" in found[0]
