"""List rendered manifests whose kinds are built into Kubernetes (kubernetes-validate has
schemas for those; custom resources such as Rollout or VirtualService are checked elsewhere)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

CORE_GROUPS = {
    "v1",
    "apps/v1",
    "batch/v1",
    "policy/v1",
    "autoscaling/v2",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1",
    "coordination.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
}


def core_files(roots: list[Path]) -> list[Path]:
    out = []
    for root in roots:
        for path in sorted(root.rglob("*.yaml")):
            if "manifests" not in path.parts:
                continue
            doc = yaml.safe_load(path.read_text())
            if isinstance(doc, dict) and doc.get("apiVersion") in CORE_GROUPS:
                out.append(path)
    return out


if __name__ == "__main__":
    files = core_files([Path(a) for a in sys.argv[1:]])
    if not files:
        sys.exit("no core manifests found under " + " ".join(sys.argv[1:]))
    print("\n".join(str(f) for f in files))
