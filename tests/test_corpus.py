"""The corpus of public manifests: its provenance, slipway on it, and the benchmark's count.

``tests/data/corpus`` is what `slipway check` meets in the wild (see its SOURCES.md), and
what ``benchmarks/check_vs_checkov.py`` times against Checkov; the last line of that
benchmark reports objects and files counted by its own loader, tested here.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "corpus"
BENCHMARKS = REPO / "benchmarks"


def _module(name: str) -> ModuleType:
    """A benchmark script as a module (benchmarks/ is no package; build_corpus imports
    check_vs_checkov as its neighbour)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _module("check_vs_checkov")
build = _module("build_corpus")


def test_every_project_folder_has_its_source_and_license() -> None:
    sources = (CORPUS / "SOURCES.md").read_text()
    folders = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    listed = sorted(project.name for project in build.PROJECTS)
    assert folders == listed
    for name in folders:
        assert f"\n## {name}\n" in sources, f"SOURCES.md has no section for {name}"
        license_text = (CORPUS / name / "LICENSE").read_text()
        assert "Apache License" in license_text and "Version 2.0" in license_text, name
    for project in build.PROJECTS:
        assert len(project.commit) == 40 and project.commit in sources, project.name
        assert project.license in {"Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause"}


def test_sources_md_is_what_build_corpus_writes() -> None:
    """Counts and paths in SOURCES.md follow the corpus (`build_corpus.py --sources-only`)."""
    assert (CORPUS / "SOURCES.md").read_text() == build.sources_md(CORPUS)


def test_corpus_holds_what_the_scanner_must_cope_with() -> None:
    """Pod specs in many kinds, RBAC, custom resources, and files that are no manifests."""
    kinds: set[tuple[str, str]] = set()
    for path in bench.scanned_files(CORPUS):
        for obj in bench.file_objects(path):
            kinds.add((obj["apiVersion"].rpartition("/")[0], obj["kind"]))
    for wanted in [
        ("serving.knative.dev", "Service"),
        ("argoproj.io", "Rollout"),
        ("argoproj.io", "AnalysisTemplate"),
        ("argoproj.io", "Experiment"),
        ("monitoring.coreos.com", "Prometheus"),
        ("monitoring.coreos.com", "Alertmanager"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("", "Pod"),
        ("", "ReplicationController"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ]:
        assert wanted in kinds, wanted
    names = {p.name for p in CORPUS.rglob("*")}
    assert {"kustomization.yaml", "Chart.yaml", "values.yaml", "alertmanager.yaml"} <= names
    setup = CORPUS / "kube-prometheus" / "manifests" / "setup"
    crd = (setup / "0alertmanagerConfigCustomResourceDefinition.yaml").read_text()
    assert re.search(r"^ +- =$", crd, re.MULTILINE)  # an enum item `=`, which kubectl takes
    with pytest.raises(yaml.constructor.ConstructorError, match="2002:value"):
        yaml.load(crd, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    json_objects = [p for p in CORPUS.rglob("*.json") if bench.file_objects(p)]
    assert len(json_objects) >= 10
    size = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert size < 8_000_000
    objects, files = bench.count_corpus(CORPUS)
    assert 1500 <= objects <= 2500 and files > 500


def test_slipway_check_scans_the_corpus_without_bad_input_or_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "slipway", "check", str(CORPUS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"exit {proc.returncode}: "), summary


def test_benchmark_counts_lists_multi_document_files_and_json(tmp_path: Path) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    role_list = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleList\nitems:\n"
        "- apiVersion: rbac.authorization.k8s.io/v1\n  kind: Role\n  metadata: {name: a}\n"
        "- apiVersion: rbac.authorization.k8s.io/v1\n  kind: Role\n  metadata: {name: b}\n"
        "- not an object\n"
    )
    files = {
        "list.yaml": role_list,
        "multi.yml": "---\n" + "\n---\n".join([json.dumps(pod)] * 3) + "\n---\n# empty\n",
        "sub/pod.json": json.dumps(pod),
        "sub/list.json": json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod, pod]}),
        # an enum item `- =` and a local tag: kubectl takes both, PyYAML's safe loader not
        "crd.yaml": "apiVersion: v1\nkind: ConfigMap\ndata:\n  ops: !custom x\nops:\n- =\n",
        # documents before a parse error still count; the Go template is no object
        "template.yaml": json.dumps(pod) + "\n---\nkind: {{ .Values.kind }}\n  bad: [\n",
        "kustomization.yaml": "resources:\n- list.yaml\n",
        "package.json": json.dumps({"name": "app", "version": "1.0.0"}),
        "README.md": "apiVersion: v1\nkind: Pod\n",
        ".hidden/pod.yaml": json.dumps(pod),
        "bad.json": "{not json: [",
        "latin1.yaml": "apiVersion: v1\nkind: Pod\nx: caf\xe9\n",
    }
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == "latin1.yaml":
            target.write_bytes(text.encode("latin-1"))
        else:
            target.write_text(text)
    per_file = {p.name: len(bench.file_objects(p)) for p in bench.scanned_files(tmp_path)}
    assert per_file == {
        "list.yaml": 2,
        "multi.yml": 3,
        "pod.json": 1,
        "list.json": 2,
        "crd.yaml": 1,
        "template.yaml": 1,
        "kustomization.yaml": 0,
        "package.json": 0,
        "bad.json": 0,
        "latin1.yaml": 0,
    }
    assert bench.count_corpus(tmp_path) == (10, 6)
