"""The payments team's own helpers. The package is called `components` on purpose: it sits
beside slipway's `slipway_components`, and neither may shadow the other."""

from __future__ import annotations

TEAM = "payments"


def namespace_labels(team: str = TEAM) -> dict[str, str]:
    """Labels of a team namespace: owner, and Pod Security's restricted profile enforced
    (slipway's workloads already meet it, so the namespace may insist on it)."""
    return {
        "team": team,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }


def release(repository_url: str, tag: str) -> str:
    """An image reference in one of our repositories: `<repository url>:<tag>`."""
    return f"{repository_url}:{tag}"
