"""Rebuild ``tests/data/corpus`` from the public projects it is copied from, at pinned commits.

    .venv/bin/python benchmarks/build_corpus.py [--git-dir owner/name=PATH ...] [--out DIR]

The corpus is test input for ``slipway check`` and ``benchmarks/check_vs_checkov.py``: real
manifests as their projects publish them, with the files that sit beside them in the same
folders (kustomization.yaml, Helm charts, Go templates, Alertmanager configs, READMEs, JSON),
because a scanner pointed at a repository meets those too. Files are copied byte for byte,
never edited. Each project keeps its own folder layout under ``<out>/<project>/`` with its
LICENSE; ``SOURCES.md`` (written from ``PROJECTS`` below) lists repository, commit, paths
and license.

Without ``--git-dir`` each repository is cloned (bare, blobless) from GitHub into a
temporary folder; ``--git-dir owner/name=PATH`` uses an existing git directory instead.
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from check_vs_checkov import count_corpus  # the benchmark's own count, beside this file

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "tests" / "data" / "corpus"
# Text files that sit beside manifests and that a scanner must pass over without failing.
TEXT_SUFFIXES = {
    ".yaml",
    ".yml",
    ".json",
    ".md",
    ".tpl",
    ".tmpl",
    ".txt",
    ".jsonnet",
    ".libsonnet",
    ".helmignore",
}
MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class Project:
    """One public project: where it comes from and which of its paths the corpus holds."""

    name: str
    repo: str
    commit: str
    ref: str
    license: str
    paths: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    suffixes: frozenset[str] = field(default_factory=lambda: frozenset(TEXT_SUFFIXES))
    note: str = ""


PROJECTS: tuple[Project, ...] = (
    Project(
        name="microservices-demo",
        repo="GoogleCloudPlatform/microservices-demo",
        commit="34ffea9175946982c3088ed84994fe6019ad6e92",
        ref="main",
        license="Apache-2.0",
        paths=("kubernetes-manifests", "release", "helm-chart", "kustomize/components"),
        note="Online Boutique: plain manifests, the release bundle, the Helm chart (Go "
        "templates) and Kustomize components (kustomization.yaml and partial patches).",
    ),
    Project(
        name="argo-rollouts",
        repo="argoproj/argo-rollouts",
        commit="9f8d111d8f8e3e88b6d7f8bbdf62fd3cd863ef9d",
        ref="master",
        license="Apache-2.0",
        paths=("examples", "test/e2e"),
        exclude=("test/e2e/crds/*", "*.go"),
        note="Rollouts, AnalysisTemplates and Experiments (job pod specs), a Helm chart, "
        "a Grafana dashboard JSON, the e2e fixtures including deliberately malformed ones.",
    ),
    Project(
        name="istio",
        repo="istio/istio",
        commit="86c9f01fd735fb01d8192f5bcaf0d424afb7f14c",
        ref="master",
        license="Apache-2.0",
        paths=(
            "samples/bookinfo/platform/kube",
            "samples/bookinfo/networking",
            "samples/bookinfo/policy",
            "samples/addons",
            "samples/httpbin",
            "samples/curl",
        ),
        note="Bookinfo, its traffic rules, and the observability add-ons (Prometheus, "
        "Grafana, Kiali, Jaeger, Loki: RBAC and large ConfigMaps).",
    ),
    Project(
        name="kubernetes-examples",
        repo="kubernetes/examples",
        commit="279e8e4fe314f6cb7bc55fa3fbc21bbeaa48c0ea",
        ref="master",
        license="Apache-2.0",
        paths=("AI", "databases", "web", "_archived"),
        exclude=("*/image/*", "*/java/*"),
        suffixes=frozenset({".yaml", ".yml", ".json", ".md"}),
        note="Examples old and new: JSON manifests (ReplicationControllers, Pods), "
        "scheduler policy JSON, API versions no longer served.",
    ),
    Project(
        name="kube-prometheus",
        repo="prometheus-operator/kube-prometheus",
        commit="4d719f1dea8853540b3823ab1fbe6be74a9953b3",
        ref="main",
        license="Apache-2.0",
        paths=(
            "kustomization.yaml",
            "manifests",
            "manifests/setup/0prometheusruleCustomResourceDefinition.yaml",
            "manifests/setup/0alertmanagerConfigCustomResourceDefinition.yaml",
            "examples",
        ),
        exclude=(
            "manifests/grafana-dashboardDefinitions.yaml",
            "manifests/setup/0*CustomResourceDefinition.yaml",
        ),
        note="The monitoring stack: Prometheus and Alertmanager custom resources, "
        "ServiceMonitors, PrometheusRules, RBAC; examples with an Alertmanager config "
        "file, a rule file, jsonnet and a Grafana dashboard. Of the CRDs, only the "
        "PrometheusRule and AlertmanagerConfig ones (the latter has enum items `- =`).",
    ),
    Project(
        name="prometheus-operator",
        repo="prometheus-operator/prometheus-operator",
        commit="6adcebc5076c34f4f55f8f5f7b1e528929373ac7",
        ref="main",
        license="Apache-2.0",
        paths=("example",),
        exclude=("example/prometheus-operator-crd*", "*.go"),
        note="The operator's examples: Prometheus, Alertmanager, ThanosRuler and "
        "PrometheusAgent resources, RBAC, a Prometheus scrape config and an Alertmanager "
        "config as plain files beside them.",
    ),
    Project(
        name="ingress-nginx",
        repo="kubernetes/ingress-nginx",
        commit="dbb11b92ddb77bee9c35e462479129354c84f939",
        ref="main",
        license="Apache-2.0",
        paths=(
            "deploy/static/provider/cloud",
            "deploy/static/provider/baremetal",
            "deploy/static/provider/kind",
            "deploy/static/provider/aws/nlb-with-tls-termination",
        ),
        note="The controller's static install for four providers, each with its "
        "kustomization.yaml: webhooks, jobs, RBAC.",
    ),
    Project(
        name="knative",
        repo="knative/docs",
        commit="de125bfad88b6f8f5ff037866a5436d64051898f",
        ref="main",
        license="Apache-2.0",
        paths=("code-samples/serving", "code-samples/community/serving", "code-samples/eventing"),
        exclude=("*/third_party/*", "*/package-lock.json", "*/node_modules/*"),
        suffixes=frozenset({".yaml", ".yml", ".json"}),
        note="Knative Services (pod specs under spec.template), eventing sources, "
        "sequences and brokers; package.json and appsettings JSON beside them. Only "
        "code-samples/ (Apache-2.0; the prose docs are CC-BY-4.0 and not copied).",
    ),
    Project(
        name="gatekeeper",
        repo="open-policy-agent/gatekeeper",
        commit="dd8507eb97f5ca24dbee34c95d8e6ffa053cb8a0",
        ref="master",
        license="Apache-2.0",
        paths=("deploy/gatekeeper.yaml", "demo", "example"),
        note="The install bundle (CRDs, webhooks, RBAC) and the demos, with their "
        "deliberately bad constraints and templates.",
    ),
    Project(
        name="argo-cd",
        repo="argoproj/argo-cd",
        commit="37ee0097cf851bc2dd7665fc081bbce61a7e836e",
        ref="master",
        license="Apache-2.0",
        paths=(
            "manifests/README.md",
            "manifests/namespace-install.yaml",
            "manifests/base",
            "manifests/cluster-rbac",
            "manifests/crds/appproject-crd.yaml",
        ),
        note="The namespaced install bundle and the Kustomize bases it is built from: "
        "many Roles, ClusterRoles with wildcards, bindings.",
    ),
    Project(
        name="kubernetes-engine-samples",
        repo="GoogleCloudPlatform/kubernetes-engine-samples",
        commit="2b5036514162a489145c5e5570bc320efbcb37bf",
        ref="main",
        license="Apache-2.0",
        paths=(
            "quickstarts",
            "networking",
            "batch",
            "autoscaling",
            "security",
            "workloads",
            "observability",
            "cost-optimization",
            "autopilot",
            "service-mesh",
            "hpc",
            "windows",
            "management",
            "troubleshooting",
        ),
        exclude=("*/tests/*", "*/test_files/*", "*/package-lock.json", "*/requirements*.txt"),
        suffixes=frozenset({".yaml", ".yml", ".json", ".md", ".tpl", ".txt"}),
        note="Google Kubernetes Engine tutorials: Deployments, Jobs, HPAs, Ingresses, "
        "Gateways, Skaffold and Cloud Build files, READMEs and package.json beside them.",
    ),
    Project(
        name="metrics-server",
        repo="kubernetes-sigs/metrics-server",
        commit="5ed5d3a2cf940a8c7541cfbac19af822f4c97844",
        ref="master",
        license="Apache-2.0",
        paths=("manifests",),
        note="A Kustomize tree: bases, components, overlays; strategic-merge patches.",
    ),
)


def git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True
    ).stdout


def clone(project: Project, into: Path, remote: str) -> Path:
    """The git directory of a blobless clone with the project's paths checked out.

    The sparse checkout fetches the blobs of those paths in one go; reading them one by one
    from a blobless clone would cost a round trip each.
    """
    work = into / project.repo.replace("/", "+")
    if not work.exists():
        url = f"{remote.rstrip('/')}/{project.repo}.git"
        subprocess.run(
            ["git", "clone", "--filter=blob:none", "--no-checkout", "--quiet", url, str(work)],
            check=True,
        )
    git_dir = work / ".git"
    try:
        git(git_dir, "cat-file", "-e", f"{project.commit}^{{commit}}")
    except subprocess.CalledProcessError:
        git(git_dir, "fetch", "--quiet", "origin", project.commit)
    patterns = ["/LICENSE", *(f"/{path}" for path in project.paths)]
    for args in (
        ["sparse-checkout", "set", "--no-cone", *patterns],
        ["checkout", "--quiet", "--detach", project.commit],
    ):
        subprocess.run(["git", "-C", str(work), *args], check=True, capture_output=True)
    return git_dir


def selected(project: Project, git_dir: Path) -> list[tuple[str, int]]:
    """(path, size) of every blob of the project's paths that the corpus keeps."""
    out = git(git_dir, "ls-tree", "-r", "-l", "-z", project.commit, "--", *project.paths)
    rows = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, path = entry.decode().split("\t", 1)
        mode, kind, _sha, size = meta.split()
        if kind != "blob" or mode == "120000":
            continue
        pure = PurePosixPath(path)
        named = path in project.paths  # a file named explicitly is kept whatever its name
        if not named and pure.suffix not in project.suffixes:
            continue
        if not named and any(fnmatch.fnmatch(path, pattern) for pattern in project.exclude):
            continue
        if int(size) > MAX_BYTES:
            continue
        rows.append((path, int(size)))
    return rows


def build(out: Path, git_dirs: dict[str, Path], tmp: Path, remote: str) -> None:
    for project in PROJECTS:
        git_dir = git_dirs.get(project.repo) or clone(project, tmp, remote)
        folder = out / project.name
        for path, _size in selected(project, git_dir):
            try:
                data = git(git_dir, "show", f"{project.commit}:{path}")
            except subprocess.CalledProcessError:  # a partial mirror may lack a blob
                print(f"warning: {project.repo}: cannot read {path}; skipped", file=sys.stderr)
                continue
            if b"\0" in data:
                continue
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (folder / "LICENSE").write_bytes(git(git_dir, "show", f"{project.commit}:LICENSE"))


def sources_md(out: Path) -> str:
    """SOURCES.md: per project its repository, commit, paths, license and what it adds."""
    lines = [
        "# Corpus of public Kubernetes manifests",
        "",
        "Real manifests from public projects, copied unchanged (never edit them: they are test",
        "input that must stay as published), with the files that sit beside them in the same",
        "folders. `slipway check` must scan every Kubernetes object here and pass over the rest",
        "(kustomization.yaml, Helm charts and their Go templates, Alertmanager and Prometheus",
        "config files, rule files, jsonnet, READMEs, package.json).",
        "`benchmarks/check_vs_checkov.py` times slipway and Checkov on this folder.",
        "",
        "Rebuild it with `python benchmarks/build_corpus.py` (it clones each repository at the",
        "commit below); each project folder keeps the repository's layout and its LICENSE.",
        "Every project is under the Apache License 2.0.",
        "",
    ]
    objects, holding = count_corpus(out)
    copied = [p for p in out.rglob("*") if p.is_file() and p != out / "SOURCES.md"]
    size = sum(p.stat().st_size for p in copied)
    lines += [
        f"In all: {objects} Kubernetes objects in {holding} files (of {len(copied)} files"
        f" with the licenses, {size / 1e6:.1f} MB), as `benchmarks/check_vs_checkov.py`"
        " counts them.",
        "",
    ]
    for project in PROJECTS:
        folder = out / project.name
        files = sum(1 for p in folder.rglob("*") if p.is_file() and p.name != "LICENSE")
        objects, holding = count_corpus(folder)
        paths = "<br>".join(f"`{p}`" for p in project.paths)
        excluded = "<br>".join(f"`{p}`" for p in project.exclude) or "none"
        suffixes = " ".join(sorted(project.suffixes))
        lines += [
            f"## {project.name}",
            "",
            project.note,
            "",
            "| | |",
            "| --- | --- |",
            f"| repository | https://github.com/{project.repo} |",
            f"| commit | `{project.commit}` (branch {project.ref}) |",
            f"| paths | {paths} |",
            f"| kept | files ending {suffixes}, and each path named as a file |",
            f"| left out | {excluded}; binary files; files over {MAX_BYTES:,} bytes |",
            f"| files | {files}, {holding} of them holding {objects} objects |",
            f"| license | {project.license} (`{project.name}/LICENSE`) |",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--git-dir",
        action="append",
        default=[],
        metavar="OWNER/NAME=PATH",
        help="Read this repository from an existing git directory instead of cloning it.",
    )
    parser.add_argument(
        "--remote",
        default="https://github.com",
        help="Clone <remote>/<owner>/<name>.git (default https://github.com).",
    )
    parser.add_argument(
        "--sources-only",
        action="store_true",
        help="Only rewrite SOURCES.md from the corpus already in --out.",
    )
    args = parser.parse_args()
    if args.sources_only:
        (args.out / "SOURCES.md").write_text(sources_md(args.out))
        return 0
    git_dirs = {}
    for item in args.git_dir:
        name, _, path = item.partition("=")
        git_dirs[name] = Path(path)
    if args.out.exists():
        shutil.rmtree(args.out)
    with tempfile.TemporaryDirectory(prefix="slipway-corpus-") as tmp:
        build(args.out, git_dirs, Path(tmp), args.remote)
    (args.out / "SOURCES.md").write_text(sources_md(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
