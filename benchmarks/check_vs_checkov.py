"""Time `slipway check` and Checkov on the same synthetic Kubernetes manifests.

    .venv/bin/python benchmarks/check_vs_checkov.py [--count 1000] [--keep DIR]

Writes ``--count`` manifest files (a microservice each: a workload of a rotating kind,
Service, NetworkPolicy, PodDisruptionBudget; every third one with a single defect), runs
``slipway check DIR`` and ``checkov -d DIR --framework kubernetes`` on them, and prints both
wall-clock times and their ratio. Checkov comes from $CHECKOV, default
``.venv-checkov/bin/checkov``. Exit 0 when slipway is at least ``--target`` times faster.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DIGEST = "sha256:" + "ab" * 32
KINDS = ("Deployment", "StatefulSet", "Rollout", "DaemonSet", "CronJob", "Deployment")


def _container(i: int) -> dict:
    return {
        "name": "app",
        "image": f"111122223333.dkr.ecr.us-east-1.amazonaws.com/svc{i}:1.{i % 10}.0@{DIGEST}",
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": 8080}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "capabilities": {"drop": ["ALL"]},
        },
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def microservice(i: int) -> list[dict]:
    """One hardened microservice (four objects) in its own namespace."""
    ns, name = f"team{i % 50}", f"svc{i}"
    labels = {"app.kubernetes.io/name": name, "team": f"team{i % 50}", "cost-center": "cc-1000"}
    meta = {"name": name, "namespace": ns, "labels": labels}
    pod = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "serviceAccountName": name,
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
                "fsGroup": 10001,
            },
            "containers": [_container(i)],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }
    kind = KINDS[i % len(KINDS)]
    selector = {"matchLabels": {"app.kubernetes.io/name": name}}
    api = "argoproj.io/v1alpha1" if kind == "Rollout" else "apps/v1"
    if kind == "CronJob":
        pod["spec"]["restartPolicy"] = "OnFailure"
        workload = {
            "apiVersion": "batch/v1",
            "kind": kind,
            "metadata": copy.deepcopy(meta),
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": pod}}},
        }
    else:
        spec: dict = {"selector": selector, "template": pod}
        if kind != "DaemonSet":
            spec = {"replicas": 3, **spec}
        if kind == "StatefulSet":
            spec["serviceName"] = name
        workload = {"apiVersion": api, "kind": kind, "metadata": copy.deepcopy(meta), "spec": spec}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": copy.deepcopy(meta),
        "spec": {
            "selector": selector["matchLabels"],
            "ports": [{"port": 80, "targetPort": "http"}],
        },
    }
    netpol = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": copy.deepcopy(meta),
        "spec": {
            "podSelector": selector,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "gateway"}}}]}],
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": copy.deepcopy(meta),
        "spec": {"maxUnavailable": 1, "selector": selector},
    }
    docs = [workload, service, netpol, pdb]
    if i % 3 == 0:
        _defect(i, docs)
    return docs


def _defect(i: int, docs: list[dict]) -> None:
    """One defect from a rotating list (a realistic share of findings for both tools)."""
    w = docs[0]
    spec = w["spec"].get("jobTemplate", {}).get("spec", w["spec"])["template"]["spec"]
    c = spec["containers"][0]
    choice = (i // 3) % 6
    if choice == 0:
        c["securityContext"]["privileged"] = True
    elif choice == 1:
        c["image"] = "nginx:latest"
    elif choice == 2:
        del c["resources"]["limits"]
    elif choice == 3:
        spec["hostNetwork"] = True
    elif choice == 4:
        docs[1]["spec"]["type"] = "NodePort"
    else:
        c["env"] = [{"name": "DB_PASSWORD", "value": "hunter2"}]


def write_manifests(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        text = yaml.safe_dump_all(microservice(i), sort_keys=False)
        (folder / f"svc-{i:04d}.yaml").write_text(text)


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="Write the manifests here and keep them.")
    parser.add_argument("--target", type=float, default=5.0, help="Required speed-up (default 5).")
    args = parser.parse_args()

    checkov = os.environ.get("CHECKOV", str(REPO / ".venv-checkov" / "bin" / "checkov"))
    if not Path(checkov).exists() and not shutil.which(checkov):
        sys.exit(f"checkov not found at {checkov}; set CHECKOV or run `make checkov`")

    tmp = None
    folder = args.keep
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="slipway-bench-")
        folder = Path(tmp.name) / "manifests"
    try:
        write_manifests(folder, args.count)
        slipway_s, slipway_rc = timed([sys.executable, "-m", "slipway", "check", str(folder)], REPO)
        checkov_s, _ = timed([checkov, "-d", str(folder), "--framework", "kubernetes"], REPO)
    finally:
        if tmp is not None:
            tmp.cleanup()
    ratio = checkov_s / slipway_s
    print(f"manifests: {args.count} files, {args.count * 4} objects")
    print(f"slipway check: {slipway_s:8.2f} s (exit {slipway_rc})")
    print(f"checkov:       {checkov_s:8.2f} s")
    verdict = "met" if ratio >= args.target else "NOT met"
    print(f"ratio:         {ratio:8.1f}x (target {args.target:g}x: {verdict})")
    return 0 if ratio >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
