"""The policy rules' shared helpers, in-process: rule declaration (the SDK policy's fields),
exceptions and exemption annotations, property access, type tokens and the kinds that carry
pods, pod and container views, selectors, numbers and replica counts. Each test fails if one
rule of policies/_base.py is bent."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType, SimpleNamespace
from typing import Any

import jsonschema
import pytest
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from policies import _base
from policies._base import (
    CUSTOM_POD_KIND,
    EXCEPTIONS_SCHEMA,
    POD_KINDS,
    WORKLOAD_KINDS,
    Container,
    Exemption,
    PodKind,
    Workload,
    as_list,
    autoscaler_minimums,
    containers,
    dotted,
    excepted,
    exemptions,
    get,
    is_false,
    is_true,
    k8s_group_kind,
    k8s_kind,
    labels_of,
    least_replicas,
    locating,
    may_carry_pods,
    nearest,
    number,
    object_key,
    pod_containers,
    pod_kind,
    pod_spec,
    pods,
    policies_in,
    resource_labels,
    resource_rule,
    selector_matches,
    stack_rule,
    type_matcher,
    workload,
    workloads,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def deployment(name: str = "api", namespace: str | None = "team", **spec: Any) -> dict:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def template(*cs: Any, **pod: Any) -> dict:
    return {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": list(cs), **pod}}


class Recorder:
    """A report function: keeps every call's positional and keyword arguments."""

    def __init__(self, locates: bool = False) -> None:
        self.calls: list[tuple[tuple, dict]] = []
        if locates:
            self.locates = True

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


# --- declaring rules ------------------------------------------------------------------------


def declare(**over: Any) -> Any:
    fields: dict[str, Any] = {
        "id": "no-root",
        "family": "pods",
        "description": "Containers do not run as root.",
        "severity": Severity.HIGH,
        "remediation": "Set runAsNonRoot.",
        "standards": ["CIS-K8S:5.2.6", "PSS:restricted"],
        "security": True,
    }
    fields.update(over)

    @resource_rule(**fields)
    def rule(args: Any, report: Any) -> None:
        report(f"judged {args.name}", "urn:x", at=("spec",))

    return rule


def test_a_resource_rule_carries_every_field_of_its_sdk_policy() -> None:
    rule = declare(config={"limit": {"type": "integer"}})
    policy = rule.policy
    assert isinstance(policy, ResourceValidationPolicy)
    assert policy.name == "no-root"
    assert policy.description == "Containers do not run as root."
    assert policy.enforcement_level == EnforcementLevel.MANDATORY
    assert policy.severity == Severity.HIGH
    assert policy.remediation_steps == "Set runAsNonRoot."
    assert policy.tags == ["pods", "security", "CIS-K8S:5.2.6", "PSS:restricted"]
    assert policy.framework.name == "CIS Kubernetes Benchmark"
    assert policy.framework.version == "1.10"
    assert policy.framework.reference == "5.2.6"
    assert policy.config_schema.properties == {
        "limit": {"type": "integer"},
        "exceptions": EXCEPTIONS_SCHEMA,
    }
    assert policy.applies_to is None


def test_an_operations_rule_is_advisory_and_tagged_operations() -> None:
    policy = declare(security=False, standards=["SLIPWAY"]).policy
    assert policy.enforcement_level == EnforcementLevel.ADVISORY
    assert policy.tags == ["pods", "operations", "SLIPWAY"]
    assert policy.framework.name == "slipway platform standard"
    assert policy.framework.version == "1"
    assert policy.framework.reference is None
    assert policy.config_schema.properties == {"exceptions": EXCEPTIONS_SCHEMA}


@pytest.mark.parametrize(
    ("family", "name", "version"),
    [
        ("PSS", "Kubernetes Pod Security Standards", "v1.33"),
        ("CIS-K8S", "CIS Kubernetes Benchmark", "1.10"),
        ("CIS-EKS", "CIS Amazon EKS Benchmark", "1.7"),
        ("CIS-GKE", "CIS Google Kubernetes Engine Benchmark", "1.6"),
        ("CIS-AWS", "CIS AWS Foundations Benchmark", "3.0"),
        ("CIS-GCP", "CIS Google Cloud Platform Foundation Benchmark", "3.0"),
        ("NSA-K8S", "NSA/CISA Kubernetes Hardening Guide", "1.2"),
        ("SLSA", "Supply-chain Levels for Software Artifacts", "1.0"),
        ("SLIPWAY", "slipway platform standard", "1"),
    ],
)
def test_each_standard_names_its_framework_and_version(
    family: str, name: str, version: str
) -> None:
    framework = declare(standards=[f"{family}:x.1", "PSS:baseline"]).policy.framework
    assert (framework.name, framework.version, framework.reference) == (name, version, "x.1")


OK_EXCEPTION = {"resource": "Deployment shop/orders", "reason": "reviewed in PLAT-12"}


@pytest.mark.parametrize(
    ("given", "accepted"),
    [
        ([], True),
        ([OK_EXCEPTION], True),
        ([{**OK_EXCEPTION, "resource": "kubernetes:apps/v1:Deployment::*"}], True),
        ([{"resource": "Deployment shop/orders"}], False),  # no reason
        ([{"reason": "reviewed in PLAT-12"}], False),  # no resource
        ([{**OK_EXCEPTION, "resource": ""}], False),
        ([{**OK_EXCEPTION, "reason": "0123456789"}], True),  # 10 characters
        ([{**OK_EXCEPTION, "reason": "012345678"}], False),  # 9
        ([{**OK_EXCEPTION, "resource": "x"}], True),
        ([{**OK_EXCEPTION, "reason": " " * 12}], False),  # nothing but blanks
        ([{**OK_EXCEPTION, "until": "2027-01-01"}], False),  # a key the rule does not read
        ([{**OK_EXCEPTION, "reason": 12345678901}], False),
        ({"resource": "Deployment shop/orders"}, False),  # not a list
    ],
)
def test_the_exceptions_schema_requires_a_resource_and_a_real_reason(
    given: object, accepted: bool
) -> None:
    """Judged by jsonschema (Draft 7, what pulumi-policy's config schemas are written in)."""
    errors = list(jsonschema.Draft7Validator(dict(EXCEPTIONS_SCHEMA)).iter_errors(given))
    assert (not errors) is accepted, [e.message for e in errors]
    assert EXCEPTIONS_SCHEMA["default"] == []


def test_a_rule_with_applies_to_gets_a_type_matcher() -> None:
    policy = declare(applies_to=["Service"]).policy
    assert policy.applies_to("kubernetes:core/v1:Service") is True
    assert policy.applies_to("kubernetes:core/v1:Pod") is False


def config_args(exceptions: list | None, name: str = "api", props: Any = None) -> Any:
    config = {} if exceptions is None else {"exceptions": exceptions}
    return SimpleNamespace(
        get_config=lambda: config,
        resource_type=DEPLOYMENT,
        name=name,
        props=deployment() if props is None else props,
    )


def test_a_resource_rule_judges_a_resource_without_exceptions() -> None:
    report = Recorder()
    declare().policy.validate(config_args(None), report)
    assert report.calls == [(("judged api", "urn:x"), {})]


def test_a_resource_rule_skips_an_excepted_resource() -> None:
    report = Recorder()
    entry = {"resource": "Deployment team/api", "reason": "reviewed in #42"}
    declare().policy.validate(config_args([entry]), report)
    assert report.calls == []


def test_a_resource_rule_judges_a_resource_another_exception_names() -> None:
    report = Recorder()
    entry = {"resource": "Deployment team/web", "reason": "reviewed in #42"}
    declare().policy.validate(config_args([entry]), report)
    assert report.calls == [(("judged api", "urn:x"), {})]


def test_a_locating_report_gets_the_field_path() -> None:
    report = Recorder(locates=True)
    declare().policy.validate(config_args(None), report)
    assert report.calls == [(("judged api", "urn:x"), {"at": ("spec",)})]


# --- locating --------------------------------------------------------------------------------


def test_locating_passes_a_locating_report_function_as_it_is() -> None:
    report = Recorder(locates=True)
    assert locating(report) is report


def test_locating_drops_the_field_path_for_the_sdk() -> None:
    report = Recorder()
    located = locating(report)
    located("no urn", at=("spec",))
    located("with urn", "urn:a", at=("spec",))
    located("plain", "urn:b")
    assert report.calls == [
        (("no urn",), {}),
        (("with urn", "urn:a"), {}),
        (("plain", "urn:b"), {}),
    ]


# --- stack rules ----------------------------------------------------------------------------


def stack_args(exceptions: list | None) -> Any:
    config = {} if exceptions is None else {"exceptions": exceptions}
    resources = [
        SimpleNamespace(
            urn=f"urn:{name}", resource_type=DEPLOYMENT, name=name, props=deployment(name)
        )
        for name in ("api", "web")
    ]
    return SimpleNamespace(get_config=lambda: config, resources=resources)


def declare_stack(**over: Any) -> Any:
    fields: dict[str, Any] = {
        "id": "one-per-ns",
        "family": "network",
        "description": "One policy per namespace.",
        "severity": Severity.MEDIUM,
        "remediation": "Add one.",
        "standards": ["NSA-K8S"],
        "security": False,
    }
    fields.update(over)

    @stack_rule(**fields)
    def rule(args: Any, report: Any) -> None:
        report("stack-wide")
        for r in args.resources:
            report(f"judged {r.name}", r.urn, at=("metadata",))

    return rule


def test_a_stack_rule_carries_every_field_of_its_sdk_policy() -> None:
    policy = declare_stack(applies_to=["apps/Deployment"], config={"n": {"type": "integer"}}).policy
    assert isinstance(policy, StackValidationPolicy)
    assert policy.name == "one-per-ns"
    assert policy.description == "One policy per namespace."
    assert policy.enforcement_level == EnforcementLevel.ADVISORY
    assert policy.severity == Severity.MEDIUM
    assert policy.remediation_steps == "Add one."
    assert policy.tags == ["network", "operations", "NSA-K8S"]
    assert policy.framework.name == "NSA/CISA Kubernetes Hardening Guide"
    assert policy.framework.reference is None
    assert policy.config_schema.properties == {
        "n": {"type": "integer"},
        "exceptions": EXCEPTIONS_SCHEMA,
    }
    assert policy.applies_to(DEPLOYMENT) is True
    assert policy.applies_to("kubernetes:apps/v1:StatefulSet") is False
    security = declare_stack(security=True).policy
    assert security.enforcement_level == EnforcementLevel.MANDATORY
    assert security.tags == ["network", "security", "NSA-K8S"]
    assert declare_stack().policy.applies_to is None


def test_a_stack_rule_without_exceptions_reports_everything_located() -> None:
    report = Recorder(locates=True)
    declare_stack().policy.validate(stack_args(None), report)
    assert report.calls == [
        (("stack-wide",), {}),
        (("judged api", "urn:api"), {"at": ("metadata",)}),
        (("judged web", "urn:web"), {"at": ("metadata",)}),
    ]


def test_a_stack_rule_drops_only_the_excepted_resources_findings() -> None:
    report = Recorder(locates=True)
    entry = {"resource": "Deployment team/api", "reason": "reviewed in #42"}
    declare_stack().policy.validate(stack_args([entry]), report)
    assert report.calls == [
        (("stack-wide", None), {"at": None}),
        (("judged web", "urn:web"), {"at": ("metadata",)}),
    ]


def test_a_stack_rule_reports_to_the_sdk_without_field_paths() -> None:
    report = Recorder()
    entry = {"resource": "Deployment team/api", "reason": "reviewed in #42"}
    declare_stack().policy.validate(stack_args([entry]), report)
    assert report.calls == [(("stack-wide",), {}), (("judged web", "urn:web"), {})]


# --- exceptions ------------------------------------------------------------------------------


def test_a_kubernetes_object_has_a_token_label_and_a_kind_namespace_name_label() -> None:
    assert resource_labels(DEPLOYMENT, "api-dep", deployment()) == [
        "kubernetes:apps/v1:Deployment::api-dep",
        "Deployment team/api",
    ]


def test_a_cluster_scoped_object_is_labelled_by_kind_and_name() -> None:
    props = {"kind": "ClusterRole", "metadata": {"name": "admin"}}
    assert resource_labels("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "r", props) == [
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole::r",
        "ClusterRole admin",
    ]


def test_a_resource_without_kind_or_name_has_only_the_token_label() -> None:
    assert resource_labels("aws:s3/bucket:Bucket", "b", {"bucket": "x"}) == [
        "aws:s3/bucket:Bucket::b"
    ]
    assert resource_labels(DEPLOYMENT, "d", {"kind": "Deployment", "metadata": {}}) == [
        "kubernetes:apps/v1:Deployment::d"
    ]
    assert resource_labels(DEPLOYMENT, "d", {"kind": 3, "metadata": {"name": "x"}}) == [
        "kubernetes:apps/v1:Deployment::d"
    ]


class Unknown(Mapping):
    """Props whose values are unknown (preview): reading any raises."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("unknown value")

    def __iter__(self) -> Iterator[str]:
        return iter(["kind", "metadata"])

    def __len__(self) -> int:
        return 2


def test_unknown_props_have_only_the_token_label() -> None:
    assert resource_labels(DEPLOYMENT, "d", Unknown()) == ["kubernetes:apps/v1:Deployment::d"]


def test_an_exception_matches_either_label_with_shell_patterns() -> None:
    props = deployment()
    assert excepted({"exceptions": [{"resource": "Deployment team/*"}]}, DEPLOYMENT, "d", props)
    assert excepted({"exceptions": [{"resource": "*::d"}]}, DEPLOYMENT, "d", props)
    assert not excepted({"exceptions": [{"resource": "*::e"}]}, DEPLOYMENT, "d", props)


def test_an_exception_pattern_is_case_sensitive() -> None:
    config = {"exceptions": [{"resource": "deployment team/api"}]}
    assert not excepted(config, DEPLOYMENT, "d", deployment())


def test_exception_entries_without_a_resource_match_nothing() -> None:
    props = deployment()
    for entries in ([], [{"reason": "r"}], [{"resource": ""}], ["Deployment team/api"], None):
        assert not excepted({"exceptions": entries}, DEPLOYMENT, "d", props)
    assert not excepted(None, DEPLOYMENT, "d", props)  # type: ignore[arg-type]
    assert not excepted({}, DEPLOYMENT, "d", props)


def test_exception_entries_may_come_as_a_tuple_and_after_a_bad_entry() -> None:
    entries = ({"reason": "no resource"}, {"resource": "Deployment team/api"})
    assert excepted({"exceptions": entries}, DEPLOYMENT, "d", deployment())


# --- exemption annotations ------------------------------------------------------------------


def annotated(annotations: Any) -> dict:
    return {"metadata": {"annotations": annotations}}


def test_an_exemption_names_its_rules_and_reason() -> None:
    key = "slipway.dev/exempt"
    found = exemptions(annotated({key: "no-root, host-path: vendor chart, reviewed"}))
    assert found == [
        Exemption("no-root", "vendor chart, reviewed", key),
        Exemption("host-path", "vendor chart, reviewed", key),
    ]
    assert [e.text for e in found] == [True, True]


def test_exemption_keys_are_the_annotation_or_its_dotted_variants() -> None:
    value = "no-root: reviewed by security"
    found = exemptions(
        annotated(
            {
                "slipway.dev/exempt.a": value,
                "slipway.dev/exemptx": value,
                "other/exempt": value,
                "slipway.dev/exempt": value,
            }
        )
    )
    assert [e.key for e in found] == ["slipway.dev/exempt.a", "slipway.dev/exempt"]


def test_an_exemption_reason_needs_ten_characters() -> None:
    key = "slipway.dev/exempt"
    assert exemptions(annotated({key: "r: 123456789"})) == [Exemption("r", None, key)]
    assert exemptions(annotated({key: "r:  1234567890  "})) == [Exemption("r", "1234567890", key)]


def test_an_exemption_without_a_colon_has_no_reason() -> None:
    key = "slipway.dev/exempt"
    assert exemptions(annotated({key: "no-root because of the vendor"})) == [
        Exemption("no-root because of the vendor", None, key)
    ]


def test_an_exemption_without_rule_names_has_an_empty_rule() -> None:
    key = "slipway.dev/exempt"
    assert exemptions(annotated({key: " , : a long enough reason"})) == [
        Exemption("", "a long enough reason", key)
    ]


def test_empty_and_blank_exemption_lines_are_malformed_exemptions() -> None:
    key = "slipway.dev/exempt"
    assert exemptions(annotated({key: ""})) == [Exemption("", None, key)]
    assert exemptions(annotated({key: "a: reviewed by team\n  \nb: also reviewed ok"})) == [
        Exemption("a", "reviewed by team", key),
        Exemption("", None, key),
        Exemption("b", "also reviewed ok", key),
    ]


def test_an_exemption_that_is_not_text_is_marked_so() -> None:
    key = "slipway.dev/exempt"
    assert exemptions(annotated({key: 3, 7: "x: ignored key type"})) == [
        Exemption("", None, key, text=False)
    ]


def test_no_annotations_mean_no_exemptions() -> None:
    assert exemptions({}) == []
    assert exemptions(annotated(["slipway.dev/exempt"])) == []


# --- policies_in -----------------------------------------------------------------------------


def test_policies_in_lists_declared_rules_in_definition_order() -> None:
    first, second = declare(id="a"), declare(id="b")
    not_callable = SimpleNamespace(policy="not a rule")
    namespace = {"x": second, "y": not_callable, "z": len, "w": first}
    assert policies_in(namespace) == [second.policy, first.policy]


# --- type_matcher ----------------------------------------------------------------------------


def test_type_matcher_keeps_a_predicate_and_maps_workload_kinds_to_may_carry_pods() -> None:
    def pred(t: str) -> bool:
        return t == "x"

    assert type_matcher(pred) is pred
    assert type_matcher(WORKLOAD_KINDS) is may_carry_pods
    # a copy of the set is plain kind names, not may_carry_pods
    assert type_matcher(set(WORKLOAD_KINDS))("kubernetes:example.com/v1:Thing") is False


@pytest.mark.parametrize(
    ("entries", "token", "applies"),
    [
        (["Service"], "kubernetes:core/v1:Service", True),
        (["Service"], "kubernetes:serving.knative.dev/v1:Service", True),
        (["Service"], "kubernetes:core/v1:ServiceAccount", False),
        (["Service"], "kubernetes:core/v1:ServicePatch", False),
        (["apps/Deployment"], "kubernetes:apps/v1:Deployment", True),
        (["apps/Deployment"], "kubernetes:apps/v1beta2:Deployment", True),
        (["apps/Deployment"], "kubernetes:extensions/v1beta1:Deployment", False),
        (["core/Pod"], "kubernetes:core/v1:Pod", True),
        (["a.b/c/Kind"], "kubernetes:a.b/c/v1:Kind", True),
        (["aws:kms/key:Key"], "aws:kms/key:Key", True),
        (["aws:kms/key:Key"], "aws:kms/key:KeyPolicy", False),
        (["aws:kms/key:Key"], "gcp:kms/cryptoKey:CryptoKey", False),
        (["aws:kms/key:Key"], "kubernetes:core/v1:Service", False),
        (["gcp:"], "gcp:kms/cryptoKey:CryptoKey", True),
        (["gcp:"], "aws:kms/key:Key", False),
        (["gcp:", "Service"], "kubernetes:core/v1:Service", True),
        (["Pod"], "aws:s3/bucket:Bucket", False),
        (["apps/Deployment"], "aws:s3/bucket:Bucket", False),
        ([], "kubernetes:core/v1:Pod", False),
    ],
)
def test_type_matcher_entries(entries: list[str], token: str, applies: bool) -> None:
    assert type_matcher(entries)(token) is applies


def test_type_matcher_takes_a_one_shot_iterable() -> None:
    matcher = type_matcher(iter(["Pod", "gcp:"]))
    assert matcher("kubernetes:core/v1:Pod") is True
    assert matcher("gcp:x") is True


# --- property access -------------------------------------------------------------------------


def test_get_walks_mappings_and_sequences() -> None:
    obj = {"a": {"b": [10, {"c": "deep"}]}}
    assert get(obj, "a", "b", 1, "c") == "deep"
    assert get(obj, "a", "b", 0) == 10
    assert get(obj) is obj
    assert get(MappingProxyType({"a": 1}), "a") == 1
    assert get({"a": (1, 2)}, "a", 1) == 2


@pytest.mark.parametrize(
    "path",
    [("x",), ("a", "x"), ("a", "b", 2), ("a", "b", 1, "x"), ("a", "b", "c"), ("a", 0), ("n", "z")],
)
def test_get_gives_the_default_for_a_missing_step(path: tuple) -> None:
    obj = {"a": {"b": [10, {"c": "deep"}]}, "n": None}
    assert get(obj, *path) is None
    assert get(obj, *path, default="dflt") == "dflt"


def test_get_treats_none_as_unset_and_strings_as_no_sequence() -> None:
    assert get({"a": None}, "a", default=5) == 5
    assert get({"a": "text"}, "a", 0) is None
    assert get({"a": b"bytes"}, "a", 0) is None
    assert get({0: "by key"}, 0) is None
    assert get({"a": [1]}, "a", 1, default="out") == "out"


def test_as_list_reads_lists_and_tuples_only() -> None:
    assert as_list([1, 2]) == [1, 2]
    assert as_list((1, 2)) == [1, 2]
    assert as_list("ab") == []
    assert as_list(b"ab") == []
    assert as_list({"a": 1}) == []
    assert as_list(None) == []


def test_is_true_and_is_false_take_only_explicit_values() -> None:
    assert [is_true(v) for v in (True, "true", "TRUE", 1, "yes", None, False)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert [is_false(v) for v in (False, "false", "False", 0, "no", None, True)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_labels_of_reads_metadata_labels_or_nothing() -> None:
    assert labels_of({"metadata": {"labels": {"app": "x"}}}) == {"app": "x"}
    assert labels_of({"metadata": {"labels": ["app"]}}) == {}
    assert labels_of({}) == {}


# --- type tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "kind", "group_kind"),
    [
        ("kubernetes:apps/v1:Deployment", "Deployment", ("apps", "Deployment")),
        ("kubernetes:core/v1:Pod", "Pod", ("core", "Pod")),
        ("kubernetes:v1:Pod", "Pod", ("core", "Pod")),
        ("kubernetes:networking.k8s.io/v1:Ingress", "Ingress", ("networking.k8s.io", "Ingress")),
        ("kubernetes:a/b/v1:Thing2", "Thing2", ("a/b", "Thing2")),
        ("kubernetes:apps/v1:DeploymentPatch", None, None),
        ("kubernetes:apps/v1:DeploymentList", None, None),
        ("kubernetes:apps/v1:Deploy-ment", None, None),
        ("kubernetes:apps/v1:Deployment:x", None, None),
        ("kubernetes::Deployment", None, None),
        ("xkubernetes:apps/v1:Deployment", None, None),
        ("aws:eks/cluster:Cluster", None, None),
    ],
)
def test_kind_and_group_of_a_type_token(token: str, kind: str | None, group_kind: Any) -> None:
    assert k8s_kind(token) == kind
    assert k8s_group_kind(token) == group_kind


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("kubernetes:apps/v1:Deployment", POD_KINDS[("apps", "Deployment")]),
        ("kubernetes:example.com/v1:Thing", CUSTOM_POD_KIND),
        ("kubernetes:core/v1:Service", None),
        ("kubernetes:policy/v1:PodDisruptionBudget", None),
        ("kubernetes:widgets/v1:Widget", None),
        ("kubernetes:networking.k8s.io/v1:Ingress", None),
        ("kubernetes:helm.sh/v3:Release", None),
        ("kubernetes:helm.sh.example.com/v1:Release", CUSTOM_POD_KIND),
        ("kubernetes:k8s.io.example.com/v1:Thing", CUSTOM_POD_KIND),
        ("aws:s3/bucket:Bucket", None),
    ],
)
def test_pod_kind_of_a_type(token: str, expected: PodKind | None) -> None:
    assert pod_kind(token) is expected
    assert may_carry_pods(token) is (expected is not None)


def test_the_pod_kinds_flags() -> None:
    flags = {
        f"{g}/{k}": (pk.partial, pk.resolves_tags, pk.replicated, pk.long_running, pk.namespaced)
        for (g, k), pk in POD_KINDS.items()
    }
    assert flags == {
        "core/Pod": (False, False, False, True, True),
        "core/ReplicationController": (False, False, False, True, True),
        "apps/Deployment": (False, False, True, True, True),
        "apps/StatefulSet": (False, False, True, True, True),
        "apps/ReplicaSet": (False, False, True, True, True),
        "apps/DaemonSet": (False, False, False, True, True),
        "extensions/Deployment": (False, False, True, True, True),
        "extensions/ReplicaSet": (False, False, True, True, True),
        "extensions/DaemonSet": (False, False, False, True, True),
        "batch/Job": (False, False, False, False, True),
        "batch/CronJob": (False, False, False, False, True),
        "argoproj.io/Rollout": (False, False, True, True, True),
        "argoproj.io/AnalysisTemplate": (False, False, False, False, True),
        "argoproj.io/ClusterAnalysisTemplate": (False, False, False, False, False),
        "argoproj.io/AnalysisRun": (False, False, False, False, True),
        "argoproj.io/Experiment": (False, False, False, False, True),
        "serving.knative.dev/Service": (False, True, False, False, True),
        "serving.knative.dev/Configuration": (False, True, False, False, True),
        "serving.knative.dev/Revision": (False, True, False, False, True),
        "monitoring.coreos.com/Prometheus": (True, False, False, False, True),
        "monitoring.coreos.com/PrometheusAgent": (True, False, False, False, True),
        "monitoring.coreos.com/Alertmanager": (True, False, False, False, True),
        "monitoring.coreos.com/ThanosRuler": (True, False, False, False, True),
    }
    assert POD_KINDS[("core", "Pod")].metadata == ("metadata",)
    assert POD_KINDS[("serving.knative.dev", "Revision")].metadata == ("metadata",)
    assert POD_KINDS[("monitoring.coreos.com", "Prometheus")].metadata == ("spec", "podMetadata")
    assert POD_KINDS[("apps", "Deployment")].metadata is None
    assert CUSTOM_POD_KIND.paths == (
        ("spec", "template", "spec"),
        ("spec", "jobTemplate", "spec", "template", "spec"),
    )


def test_the_kind_name_sets() -> None:
    sets = {
        name: set(getattr(_base, name))
        for name in (
            "REPLICATED_GROUP_KINDS",
            "LONG_RUNNING_GROUP_KINDS",
            "POD_TEMPLATE_KINDS",
            "WORKLOAD_KINDS",
            "REPLICATED_KINDS",
            "LONG_RUNNING_KINDS",
        )
    }
    replicated = {
        "apps/Deployment",
        "apps/StatefulSet",
        "apps/ReplicaSet",
        "extensions/Deployment",
        "extensions/ReplicaSet",
        "argoproj.io/Rollout",
    }
    templates = {
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "Rollout",
        "ReplicationController",
    }
    replicated_kinds = {"Deployment", "StatefulSet", "ReplicaSet", "Rollout"}
    assert sets == {
        "REPLICATED_GROUP_KINDS": replicated,
        "LONG_RUNNING_GROUP_KINDS": replicated
        | {"core/Pod", "core/ReplicationController", "apps/DaemonSet", "extensions/DaemonSet"},
        "POD_TEMPLATE_KINDS": templates,
        "WORKLOAD_KINDS": templates | {"CronJob", "Pod"},
        "REPLICATED_KINDS": replicated_kinds,
        "LONG_RUNNING_KINDS": replicated_kinds | {"DaemonSet", "Pod", "ReplicationController"},
    }


def test_a_pod_kind_refuses_paths_that_are_not_tuples_of_paths() -> None:
    with pytest.raises(TypeError) as info:
        PodKind(("spec", "template"))  # type: ignore[arg-type]
    assert str(info.value) == "PodKind.paths must be a tuple of paths, got ('spec', 'template')"
    with pytest.raises(TypeError):
        PodKind(((),))
    assert PodKind((("spec",),)).paths == (("spec",),)


def test_dotted_writes_a_field_path_as_people_do() -> None:
    assert dotted(("spec", "metrics", 0, "provider")) == "spec.metrics[0].provider"
    assert dotted((0, "a", 1, 2)) == "[0].a[1][2]"
    assert dotted(()) == ""


# --- workloads and containers ----------------------------------------------------------------


def test_a_deployment_has_one_pod_view_with_its_metadata() -> None:
    props = deployment(template=template({"name": "app"}))
    (view,) = workloads(DEPLOYMENT, props)
    assert view == Workload(
        kind="Deployment",
        name="api",
        namespace="team",
        obj=props,
        pod_metadata={"labels": {"app": "api"}},
        pod={"containers": [{"name": "app"}]},
        pod_path=("spec", "template", "spec"),
        group="apps",
        pod_kind=POD_KINDS[("apps", "Deployment")],
        where="pod",
        metadata_path=("spec", "template", "metadata"),
    )
    assert view.at("containers", 0) == ("spec", "template", "spec", "containers", 0)
    assert view.partial is False
    assert workload(DEPLOYMENT, props) is view


def test_a_view_without_a_template_has_no_pod_and_empty_metadata() -> None:
    props = {"kind": "Deployment", "spec": {"template": {"spec": "x", "metadata": ["y"]}}}
    (view,) = workloads(DEPLOYMENT, props)
    assert (view.pod, view.pod_metadata, view.name, view.namespace) == (None, {}, "", None)
    assert pods(SimpleNamespace(resource_type=DEPLOYMENT, props=props)) == []
    assert pod_spec(SimpleNamespace(resource_type=DEPLOYMENT, props=props)) is None
    assert list(containers(SimpleNamespace(resource_type=DEPLOYMENT, props=props))) == []


def test_a_type_without_pods_has_no_views() -> None:
    assert workloads("kubernetes:core/v1:Service", {"spec": {}}) == []
    assert workloads("aws:s3/bucket:Bucket", {}) == []
    assert workload("kubernetes:core/v1:Service", {"spec": {}}) is None


def test_a_pod_metadata_path_of_its_own_kind_is_used() -> None:
    props = {
        "kind": "Prometheus",
        "metadata": {"name": "p"},
        "spec": {"podMetadata": {"labels": {"a": "b"}}, "containers": []},
    }
    (view,) = workloads("kubernetes:monitoring.coreos.com/v1:Prometheus", props)
    assert view.pod_metadata == {"labels": {"a": "b"}}
    assert view.metadata_path == ("spec", "podMetadata")
    assert view.partial is True


def test_the_views_are_kept_for_the_same_object_and_type_only() -> None:
    props = deployment(template=template({"name": "app"}))
    first = workloads(DEPLOYMENT, props)
    assert workloads(DEPLOYMENT, props) is first
    other = workloads("kubernetes:apps/v1:StatefulSet", props)
    assert other is not first
    assert other[0].kind == "StatefulSet"


def test_a_custom_resource_template_counts_only_with_a_list_of_container_objects() -> None:
    token = "kubernetes:example.com/v1:Thing"
    good = {"spec": {"template": template({"name": "a"})}}
    assert [v.pod_path for v in workloads(token, good)] == [("spec", "template", "spec")]
    assert [v.where for v in workloads(token, good)] == ["pod at spec.template.spec"]
    mixed = {"spec": {"template": template({"name": "a"}, "b")}}
    assert workloads(token, mixed) == []
    none = {"spec": {"template": {"spec": {}}}}
    assert workloads(token, none) == []


def test_containers_of_every_section_are_labelled_and_placed() -> None:
    pod = {
        "containers": [{"name": "web"}, "not a container", {"image": "x"}],
        "initContainers": [{"name": "setup"}],
        "ephemeralContainers": [{"name": "debug"}],
    }
    props = deployment(template={"spec": pod})
    found = list(containers(SimpleNamespace(resource_type=DEPLOYMENT, props=props)))
    tpl = ("spec", "template", "spec")
    assert [(c.where, c.init, c.ephemeral, c.path) for c in found] == [
        ('container "web"', False, False, (*tpl, "containers", 0)),
        ("container containers[2] (unnamed)", False, False, (*tpl, "containers", 2)),
        ('init container "setup"', True, False, (*tpl, "initContainers", 0)),
        ('ephemeral container "debug"', False, True, (*tpl, "ephemeralContainers", 0)),
    ]
    assert all(c.pod is found[0].pod and c.pod_path == tpl for c in found)
    assert all(not c.partial and not c.resolves_tags for c in found)
    assert [c.name for c in found] == ["web", "?", "setup", "debug"]
    assert (
        pod_spec(SimpleNamespace(resource_type=DEPLOYMENT, props=props))
        is props["spec"]["template"]["spec"]
    )


def test_knative_containers_resolve_tags() -> None:
    props = {"spec": {"template": template({"name": "app"})}}
    args = SimpleNamespace(resource_type="kubernetes:serving.knative.dev/v1:Service", props=props)
    (c,) = containers(args)
    assert c.resolves_tags is True


def test_pod_containers_without_a_kind_do_not_resolve_tags_and_are_cached_by_key() -> None:
    pod = {"containers": [{"name": "a"}]}
    first = pod_containers(pod, ("spec",), scope=" (pod at x)")
    assert [c.where for c in first] == ['container "a" (pod at x)']
    assert first[0].resolves_tags is False
    assert pod_containers(pod, ("spec",), scope=" (pod at x)") is first
    assert pod_containers(pod, ("spec",)) is not first
    assert pod_containers({"containers": [{"name": "a"}]}, ("spec",), scope=" (pod at x)") is not (
        first
    )


def test_workload_containers_of_a_view_without_pod_are_none() -> None:
    view = Workload("Deployment", "a", None, {}, {}, None)
    assert _base.workload_containers(view) == []


def test_a_container_reads_its_own_security_context_before_the_pods() -> None:
    pod = {"securityContext": {"runAsUser": 1000, "runAsNonRoot": True}}
    spec = {"name": "app", "securityContext": {"runAsUser": 0, "privileged": None}}
    c = Container("c", spec, pod, path=("p", "containers", 0), pod_path=("p",))
    assert c.sc("runAsUser") == 0
    assert c.effective("runAsUser") == 0
    assert c.effective("runAsNonRoot") is True
    assert c.effective("seccompProfile") is None
    assert c.effective_at("runAsUser") == ("p", "containers", 0, "securityContext", "runAsUser")
    assert c.effective_at("runAsNonRoot") == ("p", "securityContext", "runAsNonRoot")
    assert c.effective_at("privileged") == ("p", "containers", 0, "securityContext")
    bare = Container("c", {"name": "app"}, {}, path=("p", "containers", 0), pod_path=("p",))
    assert bare.effective_at("privileged") == ("p", "containers", 0)
    assert bare.at("image") == ("p", "containers", 0, "image")


def test_nearest_finds_the_longest_existing_start_of_a_path() -> None:
    obj = {"spec": {"list": [{"x": None}], "text": "s"}}
    assert nearest(obj, ("spec", "list", 0, "x", "y")) == ("spec", "list", 0)
    assert nearest(obj, ("spec", "list", 1)) == ("spec", "list")
    assert nearest(obj, ("spec", "text", 0)) == ("spec", "text")
    assert nearest(obj, ("spec", "missing")) == ("spec",)
    assert nearest(obj, ("spec", "list", 0)) == ("spec", "list", 0)
    assert nearest(obj, ("spec", 0)) == ("spec",)


# --- the per-call cache and object keys ------------------------------------------------------


@pytest.fixture
def call_cache() -> Iterator[dict]:
    cache: dict = {}
    _base._rpc.cache = cache
    try:
        yield cache
    finally:
        del _base._rpc.cache


def test_without_a_call_cache_object_keys_are_read_afresh() -> None:
    assert _base.rpc_cache() is None
    props = deployment()
    assert object_key(props) == ("Deployment", "team", "api")
    props["metadata"]["name"] = "web"
    assert object_key(props) == ("Deployment", "team", "web")


def test_object_keys_are_cached_for_one_call(call_cache: dict) -> None:
    assert _base.rpc_cache() is call_cache
    props = deployment()
    assert object_key(props) == ("Deployment", "team", "api")
    assert call_cache == {("object_key", id(props)): (props, ("Deployment", "team", "api"))}
    props["metadata"]["name"] = "web"
    assert object_key(props) == ("Deployment", "team", "api")


def test_a_cached_key_of_another_object_with_the_same_id_is_not_used(call_cache: dict) -> None:
    props = deployment()
    call_cache[("object_key", id(props))] = ({"other": 1}, ("Stale", "", ""))
    assert object_key(props) == ("Deployment", "team", "api")


def test_an_object_key_without_namespace_kind_or_name_is_empty_strings() -> None:
    assert object_key({"metadata": {"namespace": None}}) == ("", "", "")


# --- selectors -------------------------------------------------------------------------------


LABELS = {"app": "api", "tier": "1"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        (None, True),
        ({}, True),
        ({"matchLabels": {"app": "api"}}, True),
        ({"matchLabels": {"app": "web"}}, False),
        ({"matchLabels": {"zone": "a"}}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "x"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["x"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["None"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": [1]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["api"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, False),
        ({"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["0"]}]}, False),
        (
            {
                "matchLabels": {"app": "api"},
                "matchExpressions": [
                    {"key": "app", "operator": "Exists"},
                    {"key": "tier", "operator": "In", "values": ["2"]},
                ],
            },
            False,
        ),
    ],
)
def test_selector_matches(selector: Any, matches: bool) -> None:
    assert selector_matches(selector, LABELS) is matches


# --- numbers and replicas --------------------------------------------------------------------


def test_number_reads_numbers_and_numeric_strings_only() -> None:
    assert [number(v) for v in (3, 2.5, "4", " 5 ", "x", True, None, [1])] == [
        3.0,
        2.5,
        4.0,
        5.0,
        None,
        None,
        None,
        None,
    ]
    assert isinstance(number(3), float)


def hpa(name: str, target: str, namespace: str | None = "team", **spec: Any) -> Any:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    props = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": target}, **spec},
    }
    return SimpleNamespace(
        resource_type="kubernetes:autoscaling/v2:HorizontalPodAutoscaler", props=props
    )


def test_autoscaler_minimums_per_target() -> None:
    resources = [
        hpa("a", "api", minReplicas=3),
        hpa("b", "web"),
        hpa("c", "job", namespace=None, minReplicas=0),
        SimpleNamespace(resource_type=DEPLOYMENT, props=deployment()),
    ]
    assert autoscaler_minimums(resources) == {
        ("Deployment", "team", "api"): 3.0,
        ("Deployment", "team", "web"): 1.0,
        ("Deployment", "", "job"): 1.0,
    }


def view_of(props: dict) -> Workload:
    return workloads(DEPLOYMENT, props)[0]


def test_least_replicas_prefers_the_autoscalers_minimum() -> None:
    w = view_of(deployment(replicas=5, template=template({"name": "a"})))
    assert least_replicas(w, {("Deployment", "team", "api"): 2.0}) == (
        2.0,
        "autoscaler minReplicas 2",
    )
    assert least_replicas(w, {("Deployment", "other", "api"): 2.0}) == (5.0, "replicas 5")


def test_least_replicas_of_a_workload_without_namespace_uses_an_empty_one() -> None:
    w = view_of(deployment(namespace=None, template=template({"name": "a"})))
    assert least_replicas(w, {("Deployment", "", "api"): 1.5}) == (
        1.5,
        "autoscaler minReplicas 1.5",
    )


def test_least_replicas_unset_is_one_and_unreadable_is_none() -> None:
    unset = view_of(deployment(template=template({"name": "a"})))
    assert least_replicas(unset, {}) == (1.0, "replicas unset (1)")
    zero = view_of(deployment(replicas=0, template=template({"name": "a"})))
    assert least_replicas(zero, {}) == (0.0, "replicas 0")
    quoted = view_of(deployment(replicas="3", template=template({"name": "a"})))
    assert least_replicas(quoted, {}) == (3.0, "replicas 3")
    wire = view_of(deployment(replicas=2.0, template=template({"name": "a"})))
    assert least_replicas(wire, {}) == (2.0, "replicas 2")
    bad = view_of(deployment(replicas="many", template=template({"name": "a"})))
    assert least_replicas(bad, {}) == (None, "replicas 'many'")


def test_the_defaults_of_a_workload_view_and_a_container() -> None:
    view = Workload("Job", "j", None, {}, {}, None)
    assert (view.pod_path, view.group, view.pod_kind, view.where, view.metadata_path) == (
        (),
        "",
        CUSTOM_POD_KIND,
        "pod",
        ("metadata",),
    )
    c = Container("c", {}, {})
    assert (c.init, c.ephemeral, c.path, c.partial, c.pod_path, c.resolves_tags) == (
        False,
        False,
        (),
        False,
        (),
        False,
    )
    assert PodKind((("spec",),)) == PodKind(
        (("spec",),),
        metadata=None,
        partial=False,
        resolves_tags=False,
        replicated=False,
        long_running=False,
        namespaced=True,
    )
    assert _base.ANY == "*"
