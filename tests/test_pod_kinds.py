"""Where the pack finds pod specs (by API group and kind), and where its findings point.

Per kind: the exact pod-spec paths `_base.workloads` finds. Per finding of the pod-security,
supply-chain and reliability rules over their fixtures: ``at`` is a path that exists in the
object, and for the fields named below it holds the very value at fault.
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from policies import _base, pod_security, reliability, supply_chain
from slipway.check import type_token
from tests.policies.harness import FIXTURES

CONTAINER = {"name": "app", "image": "registry.example.com/app:1.0"}
POD = {"containers": [CONTAINER]}
TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": POD}
TPL = ("spec", "template", "spec")


def obj(api_version: str, kind: str, spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "x", "namespace": "team"},
        "spec": copy.deepcopy(spec),
    }


def job_metric(name: str) -> dict[str, Any]:
    return {"name": name, "provider": {"job": {"spec": {"template": TEMPLATE}}}}


ANALYSIS = {
    "metrics": [
        {"name": "rate", "provider": {"prometheus": {"query": "up"}}},
        job_metric("smoke"),
        job_metric("load"),
    ]
}
ANALYSIS_PATHS = [
    ("spec", "metrics", i, "provider", "job", "spec", "template", "spec") for i in (1, 2)
]

CASES: list[tuple[str, str, Any, list[tuple[Any, ...]]]] = [
    ("v1", "Pod", POD, [("spec",)]),
    ("v1", "ReplicationController", {"template": TEMPLATE}, [TPL]),
    ("apps/v1", "Deployment", {"template": TEMPLATE}, [TPL]),
    ("apps/v1", "StatefulSet", {"template": TEMPLATE}, [TPL]),
    ("apps/v1", "DaemonSet", {"template": TEMPLATE}, [TPL]),
    ("apps/v1", "ReplicaSet", {"template": TEMPLATE}, [TPL]),
    ("extensions/v1beta1", "Deployment", {"template": TEMPLATE}, [TPL]),
    ("batch/v1", "Job", {"template": TEMPLATE}, [TPL]),
    (
        "batch/v1",
        "CronJob",
        {"jobTemplate": {"spec": {"template": TEMPLATE}}},
        [("spec", "jobTemplate", "spec", "template", "spec")],
    ),
    ("argoproj.io/v1alpha1", "Rollout", {"template": TEMPLATE}, [TPL]),
    ("argoproj.io/v1alpha1", "AnalysisTemplate", ANALYSIS, ANALYSIS_PATHS),
    ("argoproj.io/v1alpha1", "ClusterAnalysisTemplate", ANALYSIS, ANALYSIS_PATHS),
    ("argoproj.io/v1alpha1", "AnalysisRun", ANALYSIS, ANALYSIS_PATHS),
    (
        "argoproj.io/v1alpha1",
        "Experiment",
        {"templates": [{"name": "a", "template": TEMPLATE}, {"name": "b", "template": TEMPLATE}]},
        [("spec", "templates", i, "template", "spec") for i in (0, 1)],
    ),
    ("serving.knative.dev/v1", "Service", {"template": TEMPLATE}, [TPL]),
    ("serving.knative.dev/v1", "Configuration", {"template": TEMPLATE}, [TPL]),
    ("serving.knative.dev/v1", "Revision", POD, [("spec",)]),
    ("monitoring.coreos.com/v1", "Prometheus", {"containers": [CONTAINER]}, [("spec",)]),
    ("monitoring.coreos.com/v1alpha1", "PrometheusAgent", {"replicas": 1}, [("spec",)]),
    ("monitoring.coreos.com/v1", "Alertmanager", {"replicas": 1}, [("spec",)]),
    ("monitoring.coreos.com/v1", "ThanosRuler", {"replicas": 1}, [("spec",)]),
    ("example.com/v1", "Thing", {"template": TEMPLATE}, [TPL]),
    (
        "example.com/v1",
        "Backup",
        {"jobTemplate": {"spec": {"template": TEMPLATE}}},
        [("spec", "jobTemplate", "spec", "template", "spec")],
    ),
    # A kind named like a core workload in another group is not one.
    ("example.com/v1", "Deployment", {"replicas": 1}, []),
    # A template that is not a pod template (containers is not a list of objects).
    ("example.com/v1", "Thing", {"template": {"spec": {"containers": "all"}}}, []),
    ("example.com/v1", "Thing", {"template": {"spec": {"containers": ["app"]}}}, []),
    # Kubernetes kinds without pods, even when their spec looks like a template.
    ("v1", "Service", {"template": TEMPLATE}, []),
    ("v1", "PodTemplate", {"template": TEMPLATE}, []),
    ("networking.k8s.io/v1", "Ingress", {"template": TEMPLATE}, []),
    ("rbac.authorization.k8s.io/v1", "Role", {"template": TEMPLATE}, []),
    # A known kind in a group it does not belong to is looked at as a custom resource only.
    ("example.com/v1", "Prometheus", {"containers": [CONTAINER]}, []),
]


@pytest.mark.parametrize(
    ("api_version", "kind", "spec", "paths"),
    CASES,
    ids=[f"{a}:{k}:{i}" for i, (a, k, _, _) in enumerate(CASES)],
)
def test_pod_paths_per_kind(api_version: str, kind: str, spec: Any, paths: list) -> None:
    props = obj(api_version, kind, spec)
    views = _base.workloads(type_token(api_version, kind), props)
    assert [w.pod_path for w in views] == paths
    for w in views:
        assert w.pod is not None and _walk(props, w.pod_path) is w.pod
        assert w.kind == kind


def test_a_rollout_with_a_workload_ref_is_a_workload_without_a_pod() -> None:
    props = obj("argoproj.io/v1alpha1", "Rollout", {"workloadRef": {"name": "app"}})
    (view,) = _base.workloads("kubernetes:argoproj.io/v1alpha1:Rollout", props)
    assert view.pod is None and view.pod_kind.replicated


def test_prometheus_operator_kinds_are_partial_and_knative_resolves_tags() -> None:
    for kind in ("Prometheus", "PrometheusAgent", "Alertmanager", "ThanosRuler"):
        assert _base.POD_KINDS[("monitoring.coreos.com", kind)].partial
    for kind in ("Service", "Configuration", "Revision"):
        assert _base.POD_KINDS[("serving.knative.dev", kind)].resolves_tags
    props = obj("monitoring.coreos.com/v1", "Prometheus", {"containers": [CONTAINER]})
    (c,) = _base.containers(SimpleNamespace(resource_type=_PROM, props=props))
    assert c.partial and c.path == ("spec", "containers", 0)


_PROM = "kubernetes:monitoring.coreos.com/v1:Prometheus"


def test_pods_of_one_object_are_named_apart_in_messages() -> None:
    props = obj("argoproj.io/v1alpha1", "AnalysisTemplate", ANALYSIS)
    args = SimpleNamespace(resource_type="kubernetes:argoproj.io/v1alpha1:AnalysisTemplate")
    args.props = props
    wheres = [c.where for c in _base.containers(args)]
    assert wheres == [
        'container "app" (pod at spec.metrics[1].provider.job.spec.template.spec)',
        'container "app" (pod at spec.metrics[2].provider.job.spec.template.spec)',
    ]


def test_the_last_answer_caches_follow_the_object_not_its_content() -> None:
    t = "kubernetes:apps/v1:Deployment"
    a = obj("apps/v1", "Deployment", {"template": TEMPLATE})
    b = obj("apps/v1", "Deployment", {"template": {"spec": {"containers": [CONTAINER] * 2}}})
    for props, n in ((a, 1), (b, 2), (a, 1)):
        assert len(list(_base.containers(SimpleNamespace(resource_type=t, props=props)))) == n
    pod = {"containers": [CONTAINER]}
    first = _base.pod_containers(pod, ("spec",))
    second = _base.pod_containers(pod, ("spec", "template", "spec"), partial=True)
    assert first[0].path == ("spec", "containers", 0) and not first[0].partial
    assert second[0].path == ("spec", "template", "spec", "containers", 0) and second[0].partial


@pytest.mark.parametrize(
    ("token", "carries"),
    [
        ("kubernetes:serving.knative.dev/v1:Service", True),
        ("kubernetes:argoproj.io/v1alpha1:Experiment", True),
        ("kubernetes:monitoring.coreos.com/v1:Alertmanager", True),
        ("kubernetes:example.com/v1:Thing", True),
        ("kubernetes:apps/v1:Deployment", True),
        ("kubernetes:core/v1:Pod", True),
        ("kubernetes:core/v1:Service", False),
        ("kubernetes:core/v1:ConfigMap", False),
        ("kubernetes:apps/v1:ControllerRevision", False),
        ("kubernetes:apps/v1:DeploymentPatch", False),
        ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", False),
        ("aws:s3/bucket:Bucket", False),
    ],
)
def test_workload_rules_apply_to_every_type_that_may_carry_pods(token: str, carries: bool) -> None:
    """``_speed`` skips a rule whose applies_to rejects the type: the pod rules must accept
    every type the container helpers may find a pod in (and only those)."""
    for module in (pod_security, supply_chain):
        for policy in module.POLICIES:
            assert policy.applies_to(token) is carries, (policy.name, token)
    requests = next(p for p in reliability.POLICIES if p.name == "container-resource-requests")
    assert requests.applies_to(token) is carries


def test_kind_specific_rules_match_group_and_kind() -> None:
    probes = next(p for p in reliability.POLICIES if p.name == "container-liveness-probe")
    replicas = next(p for p in reliability.POLICIES if p.name == "workload-min-replicas")
    assert probes.applies_to("kubernetes:apps/v1:Deployment")
    assert probes.applies_to("kubernetes:core/v1:Pod")
    assert not probes.applies_to("kubernetes:example.com/v1:Deployment")
    assert not probes.applies_to("kubernetes:serving.knative.dev/v1:Service")
    assert replicas.applies_to("kubernetes:argoproj.io/v1alpha1:Rollout")
    assert not replicas.applies_to("kubernetes:example.com/v1:Rollout")


# --- where findings point ------------------------------------------------------------------

FAMILIES = ("pod-security", "supply-chain", "reliability")
RULES = {
    p.name: fn
    for module in (pod_security, supply_chain, reliability)
    for fn in vars(module).values()
    if callable(fn) and hasattr(fn, "policy")
    for p in [fn.policy]
}


def _walk(props: Any, path: tuple[Any, ...]) -> Any:
    cur = props
    for step in path:
        cur = cur[step]  # raises when the path does not exist
    return cur


def _objects() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for family in FAMILIES:
        for f in sorted((FIXTURES / family).glob("*.yaml")):
            if f.name == "expected.yaml":
                continue
            for d in yaml.safe_load_all(Path(f).read_text()):
                if d and "apiVersion" in d:
                    out.append((f.stem, type_token(d["apiVersion"], d["kind"]), d))
    return out


PROVIDER = SimpleNamespace(props={})
"""The engine's default Kubernetes provider (no namespace of its own), as under `pulumi up`."""


def _findings(token: str, props: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(rule, message, at) of every resource rule of the three families on one object."""
    found: list[tuple[str, str, Any]] = []
    for name, fn in RULES.items():
        if isinstance(fn.policy, _base.StackValidationPolicy):
            continue
        args = SimpleNamespace(
            resource_type=token, props=props, get_config=dict, name="x", provider=PROVIDER
        )

        def report(message: str, urn: str | None = None, *, at: Any = None, rule=name) -> None:
            found.append((rule, message, at))

        fn(args, report)
    return found


OBJECTS = _objects()


@pytest.mark.parametrize(
    ("fixture", "token", "props"), OBJECTS, ids=[f"{f}:{t}" for f, t, _ in OBJECTS]
)
def test_every_finding_points_at_a_field_of_its_object(fixture: str, token: str, props) -> None:
    for rule, message, at in _findings(token, props):
        assert at is not None, (rule, message)
        _walk(props, at)


def _one(fixture: str, rule: str) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    objs = [(t, p) for f, t, p in OBJECTS if f == fixture]
    hits = [(m, at, p) for t, p in objs for r, m, at in _findings(t, p) if r == rule]
    assert hits, f"{rule} finds nothing in {fixture}"
    return hits[0][2], [(m, at) for m, at, _ in hits]


@pytest.mark.parametrize(
    ("fixture", "rule", "path", "value"),
    [
        (
            "bad-knative-service-privileged",
            "pod-no-privileged",
            (*TPL, "containers", 0, "securityContext", "privileged"),
            True,
        ),
        (
            "bad-knative-service-privileged",
            "image-no-latest-tag",
            (*TPL, "containers", 0, "image"),
            "nginx:latest",
        ),
        (
            "bad-analysistemplate-job-privileged",
            "pod-no-privileged",
            (
                "spec",
                "metrics",
                1,
                "provider",
                "job",
                *TPL,
                "containers",
                0,
                "securityContext",
                "privileged",
            ),
            True,
        ),
        (
            "bad-clusteranalysistemplate-job-host-path",
            "pod-no-host-path",
            ("spec", "metrics", 1, "provider", "job", *TPL, "volumes", 0, "hostPath"),
            {"path": "/var/log"},
        ),
        (
            "bad-experiment-run-as-root",
            "pod-run-as-non-root",
            (
                "spec",
                "templates",
                1,
                "template",
                "spec",
                "containers",
                0,
                "securityContext",
                "runAsUser",
            ),
            0,
        ),
        ("bad-knative-revision-host-network", "pod-no-host-network", ("spec", "hostNetwork"), True),
        (
            "bad-knative-configuration-host-pid",
            "pod-no-host-pid",
            (*TPL, "hostPID"),
            True,
        ),
        ("bad-prometheus-host-network", "pod-no-host-network", ("spec", "hostNetwork"), True),
        (
            "bad-prometheus-privileged-container",
            "pod-no-privileged",
            ("spec", "containers", 0, "securityContext", "privileged"),
            True,
        ),
        (
            "bad-alertmanager-run-as-root",
            "pod-run-as-non-root",
            ("spec", "securityContext", "runAsNonRoot"),
            False,
        ),
        (
            "bad-prometheus-drop-lowercase-all",
            "pod-drop-all-capabilities",
            ("spec", "containers", 0, "securityContext", "capabilities", "drop", 0),
            "all",
        ),
        (
            "bad-custom-resource-template-privileged",
            "pod-no-privileged",
            (*TPL, "containers", 0, "securityContext", "privileged"),
            True,
        ),
        (
            "bad-custom-resource-job-template-host-ipc",
            "pod-no-host-ipc",
            ("spec", "jobTemplate", "spec", "template", "spec", "hostIPC"),
            True,
        ),
        (
            "bad-capabilities-drop-lowercase-all",
            "pod-drop-all-capabilities",
            (*TPL, "containers", 0, "securityContext", "capabilities", "drop", 0),
            "all",
        ),
        (
            "bad-capability-lowercase-net-bind-service",
            "pod-no-added-capabilities",
            (*TPL, "containers", 0, "securityContext", "capabilities", "add", 0),
            "net_bind_service",
        ),
        (
            "bad-latest-tag-if-not-present",
            "image-pull-policy-always",
            (*TPL, "containers", 0, "imagePullPolicy"),
            "IfNotPresent",
        ),
        ("bad-privileged", "pod-no-privileged", None, True),
        ("bad-host-port", "pod-no-host-ports", None, None),
        ("bad-seccomp-unconfined", "pod-seccomp-runtime-default", None, "Unconfined"),
    ],
)
def test_a_finding_points_at_the_offending_value(
    fixture: str, rule: str, path: tuple | None, value: Any
) -> None:
    props, hits = _one(fixture, rule)
    _, at = hits[0]
    if path is not None:
        assert at == path
    assert at[-1] in (
        "privileged",
        "image",
        "hostPath",
        "runAsUser",
        "runAsNonRoot",
        "hostNetwork",
        "hostPID",
        "hostIPC",
        "hostPort",
        "type",
        "imagePullPolicy",
        0,
    )
    if value is not None:
        assert _walk(props, at) == value


@pytest.mark.parametrize(
    ("fixture", "rule", "path"),
    [
        # A missing field: its nearest existing parent.
        (
            "bad-privilege-escalation-unset",
            "pod-no-privilege-escalation",
            (*TPL, "containers", 0, "securityContext"),
        ),
        ("bad-no-liveness-probe", "container-liveness-probe", (*TPL, "containers", 0)),
        ("good-namespace-unset-raw-manifest", "workload-no-default-namespace", ("metadata",)),
        ("bad-tag-pull-policy-unset", "image-pull-policy-always", (*TPL, "containers", 0)),
        ("bad-service-account-token-unset", "pod-no-service-account-token", TPL),
    ],
)
def test_a_missing_field_points_at_its_nearest_parent(fixture: str, rule: str, path: tuple) -> None:
    props, hits = _one(fixture, rule)
    assert hits[0][1] == path
    assert isinstance(_walk(props, path), dict)


def test_capability_messages_give_the_exact_spelling() -> None:
    _, drop = _one("bad-capabilities-drop-lowercase-all", "pod-drop-all-capabilities")
    assert 'drops "all"' in drop[0][0] and 'drop: ["ALL"]' in drop[0][0]
    _, add = _one("bad-capability-lowercase-net-bind-service", "pod-no-added-capabilities")
    assert '"net_bind_service"' in add[0][0] and "NET_BIND_SERVICE" in add[0][0]


def test_unset_pull_policy_on_latest_or_untagged_images_is_not_reported() -> None:
    """Kubernetes defaults it to Always there (SetDefaults_Container)."""
    for fixture in ("bad-latest-tag-pull-policy-unset", "bad-missing-tag-pull-policy-unset"):
        jobs = [(t, p) for f, t, p in OBJECTS if f == fixture and t.endswith(":Job")]
        assert jobs
        for token, props in jobs:
            rules = {r for r, _, _ in _findings(token, props)}
            assert "image-pull-policy-always" not in rules
            assert "image-no-latest-tag" in rules


def test_min_replicas_points_at_the_replica_count() -> None:
    props = obj("apps/v1", "Deployment", {"replicas": 1, "template": TEMPLATE})
    found: list[Any] = []
    resource = SimpleNamespace(
        resource_type="kubernetes:apps/v1:Deployment", props=props, urn="urn:x", name="x"
    )
    args = SimpleNamespace(resources=[resource], get_config=dict)
    reliability.min_replicas(args, lambda m, urn=None, *, at=None: found.append(at))
    assert found == [("spec", "replicas")]
    foreign = obj("example.com/v1", "Deployment", {"replicas": 1, "template": TEMPLATE})
    resource.resource_type, resource.props = "kubernetes:example.com/v1:Deployment", foreign
    found.clear()
    reliability.min_replicas(args, lambda m, urn=None, *, at=None: found.append(at))
    assert found == []


@pytest.mark.parametrize(
    ("provider", "flagged"),
    [
        (None, False),  # slipway check: a raw manifest goes where it is applied
        (SimpleNamespace(props={}), True),  # the engine: the context's namespace
        (SimpleNamespace(props={"namespace": "default"}), True),
        (SimpleNamespace(props={"namespace": "shop"}), False),
    ],
    ids=["raw-manifest", "provider-without-namespace", "provider-default", "provider-shop"],
)
def test_an_unset_namespace_is_judged_by_who_places_the_object(
    provider: Any, flagged: bool
) -> None:
    from policies import pod_security

    [(token, props)] = [(t, p) for f, t, p in OBJECTS if f == "good-namespace-unset-raw-manifest"][
        :1
    ]
    found: list[str] = []
    args = SimpleNamespace(resource_type=token, props=props, provider=provider)
    pod_security.no_default_namespace(
        args, lambda message, urn=None, at=None: found.append(message)
    )
    assert bool(found) is flagged
