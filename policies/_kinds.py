"""Kubernetes kinds by API group (which group a type token names, which kinds are
cluster-scoped), and where a missing field would be.

A kind name alone says little: `Role` is an RBAC kind in `rbac.authorization.k8s.io` and
something else in another group (an IAM role in a cloud operator's CRDs), and `Certificate`
is namespaced while `ClusterIssuer` is not. Rules that care match the group and the kind.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ._base import get

_TOKEN = re.compile(r"^kubernetes:(?P<gv>[^:]+):(?P<kind>[A-Za-z0-9]+)$")

CORE = ""
"""The core group (`apiVersion: v1`; the provider's type token spells it `core/v1`)."""


@functools.lru_cache(maxsize=1024)
def group_kind(resource_type: str) -> tuple[str, str] | None:
    """(API group, kind) of a Kubernetes type token, or None for another type.

    ``kubernetes:rbac.authorization.k8s.io/v1:ClusterRole`` -> (rbac.authorization.k8s.io,
    ClusterRole); ``kubernetes:core/v1:Secret`` -> ("", Secret). Patch and List variants are
    not objects of their own and give None.
    """
    m = _TOKEN.match(resource_type)
    if not m or m["kind"].endswith(("Patch", "List")):
        return None
    gv = m["gv"]
    group = gv.rpartition("/")[0] if "/" in gv else CORE
    return (CORE if group == "core" else group, m["kind"])


RBAC = "rbac.authorization.k8s.io"


def rbac_kind(resource_type: str) -> str | None:
    """Role, ClusterRole, RoleBinding or ClusterRoleBinding of the RBAC group (any version);
    None for every other type, a `Role` of another group included."""
    gk = group_kind(resource_type)
    if gk is None or gk[0] != RBAC:
        return None
    return gk[1] if gk[1] in {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"} else None


CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset(
    {
        (CORE, "Namespace"),
        (CORE, "Node"),
        (CORE, "PersistentVolume"),
        (CORE, "ComponentStatus"),
        (RBAC, "ClusterRole"),
        (RBAC, "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("node.k8s.io", "RuntimeClass"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("policy", "PodSecurityPolicy"),
        ("resource.k8s.io", "DeviceClass"),
        ("resource.k8s.io", "ResourceSlice"),
        ("internal.apiserver.k8s.io", "StorageVersion"),
        ("authentication.k8s.io", "SelfSubjectReview"),
        ("authentication.k8s.io", "TokenReview"),
        ("authorization.k8s.io", "SelfSubjectAccessReview"),
        ("authorization.k8s.io", "SelfSubjectRulesReview"),
        ("authorization.k8s.io", "SubjectAccessReview"),
        ("cert-manager.io", "ClusterIssuer"),
        ("gateway.networking.k8s.io", "GatewayClass"),
        ("external-secrets.io", "ClusterSecretStore"),
        ("external-secrets.io", "ClusterExternalSecret"),
        ("kyverno.io", "ClusterPolicy"),
        ("templates.gatekeeper.sh", "ConstraintTemplate"),
        ("argoproj.io", "ClusterAnalysisTemplate"),
        ("argoproj.io", "ClusterWorkflowTemplate"),
        ("kyverno.io", "ClusterCleanupPolicy"),
        ("wgpolicyk8s.io", "ClusterPolicyReport"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
        ("snapshot.storage.k8s.io", "VolumeSnapshotContent"),
        ("karpenter.sh", "NodePool"),
        ("karpenter.sh", "NodeClaim"),
        ("karpenter.k8s.aws", "EC2NodeClass"),
        ("networking.internal.knative.dev", "ClusterDomainClaim"),
    }
)
"""Built-in cluster-scoped kinds, and those of the add-ons a cluster commonly runs, by
(group, kind)."""

CLUSTER_SCOPED_GROUPS = frozenset({"constraints.gatekeeper.sh", "mutations.gatekeeper.sh"})
"""Groups whose every kind is cluster-scoped (Gatekeeper's constraints and mutators: one
kind per template)."""


def namespaced(resource_type: str, namespace: object) -> bool:
    """Whether an object lives in a namespace: a known cluster-scoped kind does not; any
    other kind that names a namespace does (a cluster-scoped object has none to name)."""
    gk = group_kind(resource_type)
    if gk is None or gk in CLUSTER_SCOPED or gk[0] in CLUSTER_SCOPED_GROUPS:
        return False
    return isinstance(namespace, str) and namespace != ""


def nearest(obj: Any, *path: str | int) -> tuple[str | int, ...]:
    """The longest prefix of ``path`` that exists in ``obj``: where to point when the field
    at fault is missing (``nearest(props, "metadata", "labels")`` is ``("metadata",)`` for
    an object without labels, ``()`` for one without metadata)."""
    found: tuple[str | int, ...] = ()
    for i in range(1, len(path) + 1):
        if get(obj, *path[:i]) is None:
            break
        found = path[:i]
    return found
