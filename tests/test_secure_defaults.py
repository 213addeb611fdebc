"""Every secure default the components apply has a rule that catches its absence in a
third-party manifest.

`DEFAULTS` is the table: the default, the rule that judges it, and how a manifest goes
without it (a change to a hardened manifest that passes every rule). Each row runs through
the real pack: the rule must fire on the changed manifest, and the hardened one must pass
everything. The guards below parse what the components render (every field of the pod
template, every kind of object they create), so a new default without a row, or without a
written reason for having none, fails here.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import policies
from slipway_components.podspec import PodTemplateArgs, pod_template
from tests.policies.harness import FIXTURES, fixture_of, fixture_records, run_pack
from tests.test_podspec_bites import TEMPLATE_FIELDS

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ROOT / "components" / "slipway_components"
BASELINE = FIXTURES / "pod-hardening" / "good-high-groups.yaml"
MESH = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: NS}
automountServiceAccountToken: false
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: app, namespace: NS}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: app}}
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: app, namespace: NS}
spec:
  host: app.NS.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
"""
"""What the hardened manifest adds to the pod-hardening fixture: the ServiceAccount and the
mesh objects slipway renders beside every workload."""

Docs = list[dict[str, Any]]


def _doc(docs: Docs, kind: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind)


def _pod(docs: Docs) -> dict[str, Any]:
    return _doc(docs, "Deployment")["spec"]["template"]["spec"]


def _ctr(docs: Docs) -> dict[str, Any]:
    return _pod(docs)["containers"][0]


def _set(path: str, value: Any) -> Callable[[Docs], None]:
    """Set a field of the Deployment's pod spec (`c.` prefix: of its container)."""

    def change(docs: Docs) -> None:
        target = _ctr(docs) if path.startswith("c.") else _pod(docs)
        keys = path.removeprefix("c.").split(".")
        for k in keys[:-1]:
            target = target.setdefault(k, {})
        target[keys[-1]] = value

    return change


def _drop(*paths: str) -> Callable[[Docs], None]:
    """Remove fields of the pod spec (`c.` prefix: of its container)."""

    def change(docs: Docs) -> None:
        for path in paths:
            target = _ctr(docs) if path.startswith("c.") else _pod(docs)
            keys = path.removeprefix("c.").split(".")
            for k in keys[:-1]:
                target = target[k]
            del target[keys[-1]]

    return change


def _remove_kind(kind: str) -> Callable[[Docs], None]:
    def change(docs: Docs) -> None:
        docs[:] = [d for d in docs if d["kind"] != kind]

    return change


def _edit(kind: str, fn: Callable[[dict[str, Any]], None]) -> Callable[[Docs], None]:
    def change(docs: Docs) -> None:
        fn(_doc(docs, kind))

    return change


def _in_default(kind: str) -> Callable[[Docs], None]:
    return _edit(kind, lambda d: d["metadata"].update(namespace="default"))


def _both(*changes: Callable[[Docs], None]) -> Callable[[Docs], None]:
    def change(docs: Docs) -> None:
        for c in changes:
            c(docs)

    return change


def _add_volume(volume: dict[str, Any]) -> Callable[[Docs], None]:
    return lambda docs: _pod(docs)["volumes"].append(volume)


@dataclass(frozen=True)
class Default:
    """One secure default: what the components set, where, and the rule for its absence."""

    id: str
    default: str
    rule: str
    bad: Callable[[Docs], None]
    fields: tuple[str, ...] = ()
    """Pod template fields (see `_leaves`) this default is; empty for a default that is the
    absence of a field (no hostPath) or lives on another object (see `OBJECTS`)."""


DEFAULTS = [
    Default(
        "non-root",
        "runAsNonRoot: true (pod and container)",
        "pod-run-as-non-root",
        _drop("securityContext.runAsNonRoot", "c.securityContext.runAsNonRoot"),
        ("spec.securityContext.runAsNonRoot", "spec.containers[].securityContext.runAsNonRoot"),
    ),
    Default(
        "high-uid",
        "runAsUser: 10001 (>= 10000)",
        "pod-run-as-high-uid",
        _drop("c.securityContext.runAsUser"),
        ("spec.securityContext.runAsUser", "spec.containers[].securityContext.runAsUser"),
    ),
    Default(
        "high-gid",
        "runAsGroup: 10001 (>= 10000); a low or root GID is caught, unset is "
        "not (the image decides)",
        "pod-run-as-high-gid",
        _set("securityContext.runAsGroup", 0),
        ("spec.securityContext.runAsGroup", "spec.containers[].securityContext.runAsGroup"),
    ),
    Default(
        "high-fs-group",
        "fsGroup: 10001 (>= 10000); likewise",
        "pod-run-as-high-gid",
        _set("securityContext.fsGroup", 0),
        ("spec.securityContext.fsGroup",),
    ),
    Default(
        "seccomp",
        "seccompProfile RuntimeDefault (pod and container)",
        "pod-seccomp-runtime-default",
        _drop("securityContext.seccompProfile"),
        ("spec.securityContext.seccompProfile", "spec.containers[].securityContext.seccompProfile"),
    ),
    Default(
        "no-escalation",
        "allowPrivilegeEscalation: false",
        "pod-no-privilege-escalation",
        _drop("c.securityContext.allowPrivilegeEscalation"),
        ("spec.containers[].securityContext.allowPrivilegeEscalation",),
    ),
    Default(
        "not-privileged",
        "privileged: false",
        "pod-no-privileged",
        _set("c.securityContext.privileged", True),
        ("spec.containers[].securityContext.privileged",),
    ),
    Default(
        "read-only-root",
        "readOnlyRootFilesystem: true",
        "pod-read-only-root-filesystem",
        _drop("c.securityContext.readOnlyRootFilesystem"),
        ("spec.containers[].securityContext.readOnlyRootFilesystem",),
    ),
    Default(
        "drop-all",
        'capabilities.drop: ["ALL"]',
        "pod-drop-all-capabilities",
        _drop("c.securityContext.capabilities"),
        ("spec.containers[].securityContext.capabilities.drop",),
    ),
    Default(
        "no-added-capabilities",
        "no capabilities.add",
        "pod-no-added-capabilities",
        _set("c.securityContext.capabilities.add", ["NET_ADMIN"]),
    ),
    Default(
        "no-pod-token",
        "automountServiceAccountToken: false (pod)",
        "pod-no-service-account-token",
        _drop("automountServiceAccountToken"),
        ("spec.automountServiceAccountToken",),
    ),
    Default(
        "no-sa-token",
        "automountServiceAccountToken: false (ServiceAccount)",
        "serviceaccount-no-token-automount",
        _edit("ServiceAccount", lambda d: d.pop("automountServiceAccountToken")),
    ),
    Default(
        "own-service-account",
        "a ServiceAccount per service (not `default`)",
        "pod-no-default-service-account",
        _drop("serviceAccountName"),
        ("spec.serviceAccountName",),
    ),
    Default(
        "requests",
        "resources.requests",
        "container-resource-requests",
        _drop("c.resources.requests"),
        ("spec.containers[].resources.requests",),
    ),
    Default(
        "limits",
        "resources.limits",
        "container-resource-limits",
        _drop("c.resources.limits"),
        ("spec.containers[].resources.limits",),
    ),
    Default(
        "liveness",
        "livenessProbe",
        "container-liveness-probe",
        _drop("c.livenessProbe"),
        ("spec.containers[].livenessProbe",),
    ),
    Default(
        "readiness",
        "readinessProbe",
        "container-readiness-probe",
        _drop("c.readinessProbe"),
        ("spec.containers[].readinessProbe",),
    ),
    Default(
        "pull-always",
        "imagePullPolicy: Always (what a tag-only image needs; a digest needs no pull)",
        "image-pull-policy-always",
        _both(
            _set("c.imagePullPolicy", "IfNotPresent"),
            _set("c.image", "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/app:1.4.2"),
        ),
        ("spec.containers[].imagePullPolicy",),
    ),
    Default(
        "digest",
        "image pinned by digest",
        "image-digest-pinned",
        _set("c.image", "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/app:1.4.2"),
        ("spec.containers[].image",),
    ),
    Default(
        "no-latest",
        "image tag other than latest (the catalog refuses latest)",
        "image-no-latest-tag",
        _set("c.image", "111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/app:latest"),
    ),
    Default(
        "secret-files",
        "secrets mounted as files, never env (valueFrom.secretKeyRef)",
        "env-no-secret-refs",
        lambda docs: _ctr(docs)["env"].append(
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}
        ),
        ("spec.containers[].env", "spec.volumes[].secret", "spec.volumes[].projected"),
    ),
    Default(
        "secret-files-env-from",
        "no envFrom[].secretRef",
        "env-no-secret-refs",
        lambda docs: _ctr(docs).setdefault("envFrom", []).append({"secretRef": {"name": "db"}}),
    ),
    Default(
        "no-literal-secrets",
        "no credential as a literal env value",
        "env-no-literal-secrets",
        lambda docs: _ctr(docs)["env"].append({"name": "DB_PASSWORD", "value": "hunter2hunter2"}),
    ),
    Default(
        "volume-types",
        "only emptyDir, secret, projected and configMap volumes",
        "pod-restricted-volume-types",
        _add_volume({"name": "share", "nfs": {"server": "nfs.example.com", "path": "/"}}),
        ("spec.volumes[].emptyDir", "spec.volumes[].configMap", "spec.volumes[].name"),
    ),
    Default(
        "no-host-path",
        "no hostPath volume",
        "pod-no-host-path",
        _add_volume({"name": "logs", "hostPath": {"path": "/var/log"}}),
    ),
    Default("no-host-network", "no hostNetwork", "pod-no-host-network", _set("hostNetwork", True)),
    Default("no-host-pid", "no hostPID", "pod-no-host-pid", _set("hostPID", True)),
    Default("no-host-ipc", "no hostIPC", "pod-no-host-ipc", _set("hostIPC", True)),
    Default(
        "no-host-port",
        "container ports without hostPort",
        "pod-no-host-ports",
        lambda docs: _ctr(docs)["ports"][0].update(hostPort=8080),
        ("spec.containers[].ports",),
    ),
    Default(
        "workload-namespace",
        "a team namespace, never `default` (workloads)",
        "workload-no-default-namespace",
        _in_default("Deployment"),
    ),
    Default(
        "object-namespace",
        "a team namespace, never `default` (every other object)",
        "object-no-default-namespace",
        _in_default("Service"),
    ),
    Default(
        "network-policy",
        "a NetworkPolicy selecting the pods (deny all but the declared)",
        "stack-workloads-have-network-policy",
        _remove_kind("NetworkPolicy"),
    ),
    Default(
        "network-policy-peers",
        "NetworkPolicy ingress only from named peers",
        "networkpolicy-no-allow-all",
        _edit("NetworkPolicy", lambda d: d["spec"]["ingress"][0].pop("from")),
    ),
    Default(
        "pdb",
        "a PodDisruptionBudget over the pods",
        "stack-workloads-have-pdb",
        _remove_kind("PodDisruptionBudget"),
    ),
    Default(
        "replicas",
        "at least 2 replicas",
        "workload-min-replicas",
        _edit("Deployment", lambda d: d["spec"].update(replicas=1)),
    ),
    Default(
        "cluster-ip",
        "Services of type ClusterIP",
        "service-no-node-port",
        _edit("Service", lambda d: d["spec"].update(type="NodePort")),
    ),
    Default(
        "no-public-lb",
        "no public LoadBalancer",
        "service-no-public-load-balancer",
        _edit("Service", lambda d: d["spec"].update(type="LoadBalancer")),
    ),
    Default(
        "mtls-strict",
        "PeerAuthentication mutual TLS STRICT",
        "mesh-mtls-strict",
        _edit("PeerAuthentication", lambda d: d["spec"]["mtls"].update(mode="PERMISSIVE")),
    ),
    Default(
        "mtls-out",
        "DestinationRule TLS ISTIO_MUTUAL",
        "mesh-mtls-strict",
        _edit(
            "DestinationRule", lambda d: d["spec"]["trafficPolicy"]["tls"].update(mode="DISABLE")
        ),
    ),
]

EXCLUDED = {
    "metadata.": "labels and annotations identify the pods; ownership labels are "
    "k8s-required-labels' (operational), not a security default",
    "spec.containers[].name": "the service's own input",
    "spec.containers[].ports": "the service's own input (hostPort: see no-host-port)",
    "spec.containers[].startupProbe": "opt-in (off unless the service sets one): no default",
    "spec.containers[].envFrom": "a configMapRef of non-secret settings; a secretRef is "
    "the secret-files-env-from row",
    "spec.enableServiceLinks": "not an access control: the Service variables name only "
    "what the pod can resolve through DNS anyway; set false against variable clashes and "
    "slow starts in busy namespaces",
    "spec.terminationGracePeriodSeconds": "Kubernetes' own default (30s), stated",
    "spec.containers[].volumeMounts": "where the row's files are mounted (secret-files); "
    "readOnly is moot: the kubelet mounts secret and configMap volumes read-only",
    "spec.topologySpreadConstraints": "scheduling preference for availability "
    "(ScheduleAnyway), not a security default",
    "spec.volumes[].emptyDir.sizeLimit": "a bound on node disk use (reliability); no rule "
    "judges disk budgets (kubelet eviction bounds it)",
    "spec.volumes[].secret.defaultMode": "0440 narrows the files to the pod's own group "
    "inside a tmpfs only that pod mounts; a 0644 secret file is readable by the same "
    "containers only, so no finding is owed",
    "spec.volumes[].projected.defaultMode": "as spec.volumes[].secret.defaultMode",
    "spec.volumes[].secret.secretName": "the service's own Secret",
    "spec.volumes[].projected.sources": "the service's own Secrets",
    "spec.volumes[].configMap.name": "the service's own ConfigMap",
}
"""Fields of the pod template that are not a secure default, each with the reason."""

OBJECTS: dict[str, tuple[str, ...] | str] = {
    "Deployment": ("replicas", "workload-namespace"),
    "Rollout": "a workload like Deployment: its pod template is the same `pod_template`",
    "ServiceAccount": ("no-sa-token",),
    "Service": ("cluster-ip", "no-public-lb", "object-namespace"),
    "NetworkPolicy": ("network-policy", "network-policy-peers"),
    "PodDisruptionBudget": ("pdb",),
    "PeerAuthentication": ("mtls-strict",),
    "DestinationRule": ("mtls-out",),
    "HorizontalPodAutoscaler": "optional (autoscaling: set); its bounds are hpa-sanity's, "
    "operational",
    "ConfigMap": "immutable settings: operational; credentials in it are "
    "configmap-no-secrets' (the catalog refuses them)",
    "Secret": "holds the declared secrets; how they reach the pod is the secret-files row",
    "Namespace": "labels only; Pod Security admission labels are the cluster's (not judged "
    "on manifests)",
    "Release": "a Helm chart: its rendered objects are judged by every rule above",
    "VirtualService": "routing only, no security field",
    "HTTPRoute": "routing only; TLS is the Gateway's",
    "Gateway": "HTTPS listener plus an HTTP one whose routes redirect: a plain-HTTP "
    "listener is legitimate for the redirect, so no rule flags it",
    "GatewayClass": "names the controller only",
    "AnalysisTemplate": "a canary's metrics query, no pod",
    "ServiceMonitor": "scrape configuration, no security field",
    "PrometheusRule": "alerting rules, no security field",
    "ExternalSecret": "syncs a cloud secret into a Secret mounted as files (secret-files)",
    "SecretStore": "its ServiceAccount is no-sa-token's; workload identity is the cloud's",
    "ClusterIssuer": "cert-manager issuer, no pod",
    "FeatureFlag": "flag data only",
    "FeatureFlagSource": "flagd sidecar settings; its pod's token is allowed by a recorded "
    "exception (flagd reads the API)",
}
"""Every kind of object the components create: the rows of its defaults, or why none."""


def _under(leaf: str, field: str) -> bool:
    """Whether a leaf path is the field or inside it (a key or list item below it)."""
    return leaf == field or leaf.startswith((field + ".", field + "["))


def _leaves(obj: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every leaf (list items as `[]`)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v, f"{prefix}[]")
    else:
        yield prefix


def _rendered_templates() -> list[dict[str, Any]]:
    """The pod template with every optional part on (secrets, cloud secrets, flags, startup
    probe, annotations), and with one secret source (a plain secret volume), so every field
    the components can render is seen."""
    common: dict[str, Any] = {**TEMPLATE_FIELDS, "labels": {"app.kubernetes.io/name": "orders"}}
    everything = pod_template(
        PodTemplateArgs(
            **common,
            startup={"path": "/healthz"},
            config_map_name="orders-config",
            secret_name="orders-secrets",
            secret_keys=["DB_PASSWORD"],
            external_secret_name="orders-cloud",
            external_secret_keys=["API_KEY"],
            flags_config_map_name="orders-flags",
            annotations={"example.com/note": "x"},
        )
    )
    one_secret = pod_template(
        PodTemplateArgs(**common, secret_name="orders-secrets", secret_keys=["DB_PASSWORD"])
    )
    return [everything, one_secret]


def _hardened(namespace: str) -> Docs:
    text = BASELINE.read_text().replace("good-high-groups", namespace)
    docs = [d for d in yaml.safe_load_all(text) if d]
    docs += [d for d in yaml.safe_load_all(MESH.replace("NS", namespace)) if d]
    return docs


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Row id (and `hardened`) -> the rules that fired, from one run of the pack."""
    folder = tmp_path_factory.mktemp("defaults")
    records = []
    for name, docs in [("hardened", _hardened("hardened"))] + [
        (row.id, _changed(row)) for row in DEFAULTS
    ]:
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        records += fixture_records(path)
    out: dict[str, set[str]] = {}
    for d in run_pack(records, "prod", project="fixtures"):
        out.setdefault(fixture_of(d.urn), set()).add(d.policy)
    return out


def _changed(row: Default) -> Docs:
    docs = copy.deepcopy(_hardened(row.id))
    row.bad(docs)
    return docs


def test_the_hardened_manifest_passes_every_rule(flagged: dict[str, set[str]]) -> None:
    assert flagged.get("hardened", set()) == set()


@pytest.mark.parametrize("row", DEFAULTS, ids=[r.id for r in DEFAULTS])
def test_the_rule_catches_the_missing_default(row: Default, flagged: dict[str, set[str]]) -> None:
    assert row.rule in flagged.get(row.id, set()), f"{row.default}: {row.rule} did not fire"


def test_every_row_names_a_rule_of_the_pack() -> None:
    rules = {p.name for p in policies.all_policies()}
    assert {r.rule for r in DEFAULTS} <= rules
    assert len({r.id for r in DEFAULTS}) == len(DEFAULTS)


def test_every_field_the_pod_template_renders_is_a_row_or_excluded_with_a_reason() -> None:
    fields = {f for row in DEFAULTS for f in row.fields}
    leaves = {leaf for t in _rendered_templates() for leaf in _leaves(t)}
    uncovered = sorted(
        leaf
        for leaf in leaves
        if not any(_under(leaf, f) for f in fields)
        and not any(_under(leaf, e.rstrip(".")) for e in EXCLUDED)
    )
    assert uncovered == [], "a pod template default without a row in DEFAULTS (or EXCLUDED)"
    stale = sorted(f for f in fields if not any(_under(x, f) for x in leaves))
    assert stale == [], "rows naming fields the pod template no longer renders"


def _created_kinds() -> set[str]:
    """Every kind a component module creates: typed constructors and `kind="..."`."""
    kinds = set()
    for path in COMPONENTS.glob("*.py"):
        text = path.read_text()
        kinds |= set(re.findall(r"\bk8s\.[a-z0-9_]+\.v\w+\.([A-Z][A-Za-z]+)\(", text))
        kinds |= set(re.findall(r"\bkind=\"([A-Z][A-Za-z]+)\"", text))
    return kinds - {"ObjectMetaArgs"}


def test_every_kind_the_components_create_has_rows_or_a_reason() -> None:
    kinds = _created_kinds()
    assert {"Deployment", "ServiceAccount", "NetworkPolicy", "PeerAuthentication"} <= kinds
    assert sorted(kinds - set(OBJECTS)) == []
    rows = {r.id for r in DEFAULTS}
    for kind, entry in OBJECTS.items():
        if isinstance(entry, tuple):
            assert set(entry) <= rows, kind


def test_the_service_account_default_is_what_the_components_set() -> None:
    """The row for the ServiceAccount is about a field the components really set."""
    kit = (COMPONENTS / "kit.py").read_text()
    assert "automount_service_account_token=False" in kit
