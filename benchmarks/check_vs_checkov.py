"""Time `slipway check` and Checkov side by side on the same Kubernetes manifests.

    .venv/bin/python benchmarks/check_vs_checkov.py [--corpus DIR] [--repeat 3] [--target 10]
    .venv/bin/python benchmarks/check_vs_checkov.py --synthetic 1000 [--keep DIR]

By default both tools scan the corpus of real public manifests in ``tests/data/corpus``
(see its SOURCES.md): ``slipway check DIR --format json`` and ``checkov -d DIR --framework
kubernetes --quiet --compact -o json``, each ``--repeat`` times, alternating, wall clock
around the child process; the medians are compared. ``--synthetic N`` writes N generated
microservices instead (a workload of a rotating kind, Service, NetworkPolicy,
PodDisruptionBudget; every third one with a single defect). Checkov comes from $CHECKOV,
default ``.venv-checkov/bin/checkov`` (``make bench`` builds it).

The last line is ``ratio=<checkov/slipway> objects=<n> files=<n>``; objects and files are
counted by this script's own loader (documents with apiVersion and kind, List items
included; files holding at least one). Exit 0 when the ratio is at least ``--target``, 1
otherwise; 2, with the tool's stderr, when either tool fails (an exit code other than 0 or
1, or a traceback): a run that did not scan the corpus has no speed.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# Counting objects: a loader of our own, so the count does not depend on either tool.

SCANNED_SUFFIXES = (".yaml", ".yml", ".json")


class _CountingLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader that takes what kubectl takes: ``=`` scalars, any local tag."""


_CountingLoader.add_constructor(
    "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node)
)


def _untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_CountingLoader.add_multi_constructor("", _untagged)


def _is_object(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("apiVersion"), str)
        and isinstance(doc.get("kind"), str)
    )


def objects_in(doc: Any) -> list[dict]:
    """Kubernetes objects in one parsed document: the items of a List, else itself or none."""
    if not _is_object(doc):
        return []
    items = doc.get("items")
    if doc["kind"].endswith("List") and isinstance(items, list):
        return [item for item in items if _is_object(item)]
    return [doc]


def file_objects(path: Path) -> list[dict]:
    """Objects in one YAML or JSON file; documents before a parse error still count."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    if path.suffix.lower() == ".json":
        try:
            return objects_in(json.loads(text))
        except ValueError:
            pass  # not JSON after all: YAML may still read it
    found: list[dict] = []
    try:
        for doc in yaml.load_all(text, Loader=_CountingLoader):
            found += objects_in(doc)
    except Exception:  # a bad file is part of the corpus, not a failure of the count
        pass
    return found


def scanned_files(folder: Path) -> list[Path]:
    """The *.yaml, *.yml and *.json files under folder, hidden folders and files skipped."""
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).parts
        if any(part.startswith(".") for part in rel) or not path.is_file():
            continue
        if path.suffix.lower() in SCANNED_SUFFIXES:
            found.append(path)
    return found


def count_corpus(folder: Path) -> tuple[int, int]:
    """(objects, files holding at least one) under folder."""
    objects = files = 0
    for path in scanned_files(folder):
        n = len(file_objects(path))
        objects += n
        files += n > 0
    return objects, files


# Running the tools.


@dataclass
class Tool:
    name: str
    cmd: list[str]
    seconds: list[float]
    exits: list[int]


def run_once(tool: Tool, cwd: Path) -> None:
    """One timed run; an exit code other than 0 or 1, or a traceback, stops the benchmark."""
    start = time.perf_counter()
    proc = subprocess.run(
        tool.cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1) or "Traceback (most recent call last)" in proc.stderr:
        sys.stdout.flush()
        sys.stderr.write(proc.stderr[-4000:])
        sys.stderr.write(
            f"\n{tool.name} failed (exit {proc.returncode}): {' '.join(tool.cmd)}\n"
            "its stderr is above; the benchmark has no result\n"
        )
        sys.exit(2)
    tool.seconds.append(elapsed)
    tool.exits.append(proc.returncode)


def slipway_cmd(folder: Path) -> list[str]:
    """`slipway check FOLDER`, with --format json once the installed CLI has it."""
    base = [sys.executable, "-m", "slipway", "check"]
    help_text = subprocess.run([*base, "--help"], cwd=REPO, capture_output=True, text=True).stdout
    return [*base, str(folder), *(["--format", "json"] if "--format" in help_text else [])]


def checkov_cmd(checkov: str, folder: Path) -> list[str]:
    flags = ["--framework", "kubernetes", "--quiet", "--compact", "-o", "json"]
    return [checkov, "-d", str(folder), *flags]


def measure(folder: Path, checkov: str, repeat: int) -> tuple[Tool, Tool]:
    """Both tools ``repeat`` times on folder, alternating so drift hits both alike."""
    slipway = Tool("slipway check", slipway_cmd(folder), [], [])
    checkov_tool = Tool("checkov", checkov_cmd(checkov, folder), [], [])
    for _ in range(repeat):
        run_once(slipway, REPO)
        run_once(checkov_tool, REPO)
    return slipway, checkov_tool


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=REPO / "tests" / "data" / "corpus",
        help="Folder of manifests to scan (default tests/data/corpus).",
    )
    parser.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="Scan N generated microservices instead of the corpus.",
    )
    parser.add_argument("--keep", type=Path, help="With --synthetic: write them here and keep.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each tool (default 3).")
    parser.add_argument(
        "--target", type=float, default=10.0, help="Required speed-up (default 10)."
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    checkov = os.environ.get("CHECKOV", str(REPO / ".venv-checkov" / "bin" / "checkov"))
    if not Path(checkov).exists() and not shutil.which(checkov):
        sys.exit(f"checkov not found at {checkov}; set CHECKOV or run `make bench`")

    tmp = None
    folder = args.corpus
    if args.synthetic is not None:
        folder = args.keep
        if folder is None:
            tmp = tempfile.TemporaryDirectory(prefix="slipway-bench-")
            folder = Path(tmp.name) / "manifests"
        write_manifests(folder, args.synthetic)
    elif not args.corpus.is_dir():
        sys.exit(f"no corpus at {args.corpus}")
    try:
        objects, files = count_corpus(folder)
        slipway, checkov_tool = measure(folder, checkov, args.repeat)
    finally:
        if tmp is not None:
            tmp.cleanup()

    ratio = statistics.median(checkov_tool.seconds) / statistics.median(slipway.seconds)
    shown = f"{args.synthetic} generated microservices" if tmp is not None else folder
    print(f"manifests: {shown} ({objects} objects in {files} files)")
    print(f"{'tool':<14} {'median s':>9}  {'runs s':<30} exit")
    for tool in (slipway, checkov_tool):
        runs = " ".join(f"{s:.2f}" for s in tool.seconds)
        median = statistics.median(tool.seconds)
        print(f"{tool.name:<14} {median:9.2f}  {runs:<30} {tool.exits[-1]}")
    verdict = "met" if ratio >= args.target else "NOT met"
    print(f"target {args.target:g}x: {verdict}")
    print(f"ratio={ratio:.2f} objects={objects} files={files}")
    return 0 if ratio >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
