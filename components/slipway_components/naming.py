"""Kubernetes naming rules, shared by components and the catalog."""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_dns_label(value: str, max_len: int = 63) -> str:
    """Validate a DNS-1123 label (what Kubernetes accepts as a name)."""
    if len(value) > max_len or not DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: lower-case letters, digits and '-', "
            f"starting and ending with a letter or digit, at most {max_len} characters"
        )
    return value


RESERVED_NAMESPACES = frozenset(
    {
        "default",  # Kubernetes: where unqualified objects land
        "kube-system",  # Kubernetes: control plane and cluster add-ons
        "kube-public",  # Kubernetes: readable by all, unauthenticated
        "kube-node-lease",  # Kubernetes: node heartbeats
        "gmp-system",  # GKE managed Prometheus
        "gmp-public",  # GKE managed Prometheus (user-facing config)
        "istio-system",  # Istio control plane
    }
)
"""Namespaces a workload must never be put in: the cluster's own, and managed add-ons'."""
RESERVED_NAMESPACE_PREFIXES = ("kube-", "gke-", "openshift-")
"""Prefixes Kubernetes, GKE and OpenShift keep for themselves."""


def check_workload_namespace(value: str) -> str:
    """A namespace a team's workload may live in: a DNS-1123 label, not a system namespace.

    A service rendered into `kube-system` would be labelled for restricted Pod Security there
    and share the namespace with the control plane's add-ons.
    """
    check_dns_label(value)
    if value in RESERVED_NAMESPACES or value.startswith(RESERVED_NAMESPACE_PREFIXES):
        raise ValueError(
            f"namespace {value!r} is reserved for the cluster's own components (default, "
            f"{', '.join(p + '*' for p in RESERVED_NAMESPACE_PREFIXES)}, "
            f"{', '.join(sorted(RESERVED_NAMESPACES - {'default'}))}); give the team a "
            "namespace of its own"
        )
    return value


def check_image_ref(value: str) -> str:
    """An image reference must name one build: a tag other than `latest`, or a digest."""
    name, at, _digest = value.partition("@")
    # the tag follows the last '/': a registry's port (`host:5000/app`) is not a tag
    _repository, colon, tag = name.split("/")[-1].partition(":")
    if not at and (not colon or tag == "latest"):
        raise ValueError(f"image {value!r} must carry a tag other than latest, or a digest")
    return value
