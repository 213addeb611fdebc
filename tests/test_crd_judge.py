"""scripts/crd_validate.py: custom resources judged against their CRDs' schemas.

Planted defects must be caught with the resource and property path named; the stacks' own
rendered custom resources (rendered here under the mock engine) must pass.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import copy_project

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "crd_validate.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crd_validate", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


cv = _script()


def _preview(project: Path, stack: str, out: Path) -> Path:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "slipway",
            "preview",
            stack,
            "--project-dir",
            str(project),
            "--out",
            str(out),
            "--no-policy",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """dev, staging, prod and prod-platform (the add-ons' GatewayClass and ClusterIssuer) as the
    stacks stand, plus dev with flagd (OpenFeature kinds, and cert-manager's ClusterIssuer)."""
    base = tmp_path_factory.mktemp("crd")
    out = {s: _preview(REPO, s, base / s) for s in ("dev", "staging", "prod", "prod-platform")}
    project = copy_project(base / "flagd", stacks=("dev",))
    stack_file = project / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    assert "  slipway:traffic:\n    layer: none\n" in text
    assert "      kubeconfigContext: kind-slipway\n" in text
    stack_file.write_text(
        text.replace("    layer: none\n", "    layer: none\n    flags: flagd\n").replace(
            "      kubeconfigContext: kind-slipway\n",
            "      kubeconfigContext: kind-slipway\n      kubernetesApiCidrs: [172.18.0.2/32]\n",
        )
        + "  slipway:addons:\n    acmeEmail: dev@example.com\n"
    )
    out["dev-flagd"] = _preview(project, "dev", base / "dev-flagd")
    return out


def _manifest(root: Path, kind: str, name: str) -> tuple[Path, dict[str, Any]]:
    path = next(root.rglob(f"manifests/*/*/{kind}-{name}.yaml"))
    return path, yaml.safe_load(path.read_text())


def _judge(tmp_path: Path, doc: dict[str, Any], name: str = "x.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    findings, judged = cv.judge([path])
    assert judged == 1
    return [str(f) for f in findings]


def test_the_stacks_custom_resources_pass(rendered: dict[str, Path]) -> None:
    for stack, root in rendered.items():
        findings, judged = cv.judge(cv.manifest_files([root]))
        assert judged > 0, stack
        assert [str(f) for f in findings] == [], stack


def test_every_kind_the_stacks_render_is_in_the_data_set(rendered: dict[str, Path]) -> None:
    kinds = set()
    for root in rendered.values():
        for path in cv.manifest_files([root]):
            doc = yaml.safe_load(path.read_text())
            if doc["apiVersion"] not in cv.CORE_GROUPS:
                kinds.add((doc["apiVersion"], doc["kind"]))
    assert {
        ("core.openfeature.dev/v1beta1", "FeatureFlag"),
        ("argoproj.io/v1alpha1", "Rollout"),
        ("gateway.networking.k8s.io/v1", "GatewayClass"),
        ("cert-manager.io/v1", "ClusterIssuer"),
    } <= kinds
    for api_version, kind in kinds:
        assert cv.schema_file(api_version, kind).is_file(), (api_version, kind)
    assert "FeatureFlag-v1beta1.json" in (cv.SCHEMA_DIR / "SOURCES.md").read_text()


def test_misspelled_rollout_strategy_field(rendered: dict[str, Path], tmp_path: Path) -> None:
    _, doc = _manifest(rendered["prod"], "Rollout", "inventory")
    doc["spec"]["strategy"]["canary"]["stepz"] = doc["spec"]["strategy"]["canary"].pop("steps")
    assert _judge(tmp_path, doc) == [
        f"{tmp_path / 'x.yaml'}: Rollout commerce/inventory: spec.strategy.canary.stepz: "
        'unknown field "spec.strategy.canary.stepz"'
    ]


def test_string_weight_in_virtualservice(rendered: dict[str, Path], tmp_path: Path) -> None:
    _, doc = _manifest(rendered["prod"], "VirtualService", "inventory")
    routes = doc["spec"]["http"][0]["route"]
    assert len(routes) == 2, "the canary VirtualService splits stable/canary by weight"
    routes[1]["weight"] = "10"
    (finding,) = _judge(tmp_path, doc)
    assert (
        "VirtualService commerce/inventory: spec.http[0].route[1].weight: "
        "'10' is not of type 'integer'" in finding
    )


def test_httproute_missing_required_field(rendered: dict[str, Path], tmp_path: Path) -> None:
    _, doc = _manifest(rendered["prod"], "HTTPRoute", "frontend")
    del doc["spec"]["parentRefs"][0]["name"]
    (finding,) = _judge(tmp_path, doc)
    assert "HTTPRoute web/frontend: spec.parentRefs[0]: 'name' is a required property" in finding


def test_unknown_kind_names_resource_and_missing_schema(tmp_path: Path) -> None:
    doc = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "c", "namespace": "gw"},
    }
    (finding,) = _judge(tmp_path, doc)
    assert "Certificate gw/c" in finding
    assert "the CRD data set has no schema for Certificate cert-manager.io/v1" in finding
    assert "(no cert-manager.io/Certificate-v1.json)" in finding


def test_known_kind_at_unknown_version_has_no_schema(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    _, doc = _manifest(rendered["prod"], "VirtualService", "orders")
    doc["apiVersion"] = "networking.istio.io/v1alpha3"
    (finding,) = _judge(tmp_path, doc)
    assert (
        "VirtualService commerce/orders: <root>: the CRD data set has no schema for "
        "VirtualService networking.istio.io/v1alpha3" in finding
    )


def test_core_kinds_are_left_to_the_core_judge(tmp_path: Path) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "bogus": 1}
        )
    )
    assert cv.judge([path]) == ([], 0)


SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "maybe": {"type": "string", "nullable": True},
                "closed": {"type": "object"},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {},
                },
            },
        },
    },
}


@pytest.mark.parametrize(
    ("spec", "errors"),
    [
        ({"port": 80, "free": {"any": {"thing": 1}}, "maybe": None}, []),
        (
            {
                "port": "http",
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}},
            },
            [],
        ),
        ({"port": 1.5}, ["spec.port: 1.5 is not of type 'integer', 'string'"]),
        ({"closed": {"x": 1}}, ['spec.closed.x: unknown field "spec.closed.x"']),
        ({"maybe": 3}, ["spec.maybe: 3 is not of type 'string', 'null'"]),
        (
            {"extra": 1, "other": 2},
            ['spec.extra: unknown field "spec.extra"', 'spec.other: unknown field "spec.other"'],
        ),
    ],
)
def test_openapi_extensions(tmp_path: Path, spec: dict[str, Any], errors: list[str]) -> None:
    root = tmp_path / "crds"
    cv.schema_file("example.com/v1", "Thing", root).parent.mkdir(parents=True)
    cv.schema_file("example.com/v1", "Thing", root).write_text(json.dumps(SCHEMA))
    path = tmp_path / "t.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "example.com/v1",
                "kind": "Thing",
                "metadata": {"name": "t"},
                "spec": spec,
            }
        )
    )
    findings, _ = cv.judge([path], root)
    assert [f"{f.path}: {f.message}" for f in findings] == errors


def test_translation_leaves_the_stored_schema_alone() -> None:
    stored = json.loads(cv.schema_file("argoproj.io/v1alpha1", "Rollout").read_text())
    before = copy.deepcopy(stored)
    cv.to_json_schema(stored)
    assert stored == before


def test_cli_exit_codes(rendered: dict[str, Path], tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
        )

    assert run(str(rendered["prod"])).returncode == 0
    bad = tmp_path / "manifests" / "t" / "ns"
    bad.mkdir(parents=True)
    _, doc = _manifest(rendered["prod"], "Rollout", "inventory")
    doc["spec"]["strategy"]["canary"]["stepz"] = []
    (bad / "Rollout-inventory.yaml").write_text(yaml.safe_dump(doc))
    proc = run(str(tmp_path))
    assert proc.returncode == 1
    assert proc.stdout.strip().endswith(
        "Rollout commerce/inventory: spec.strategy.canary.stepz: "
        'unknown field "spec.strategy.canary.stepz"'
    )
    assert run(str(tmp_path / "nowhere")).returncode == 2
    (bad / "broken.yaml").write_text("a: [")
    assert run(str(tmp_path)).returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(str(empty)).returncode == 2


def test_every_kind_rejects_an_unknown_spec_field(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    """No schema in the data set is open at `spec` (else the clean pass would prove nothing)."""
    seen: set[str] = set()
    for root in (rendered["prod"], rendered["prod-platform"], rendered["dev-flagd"]):
        for path in cv.manifest_files([root]):
            doc = yaml.safe_load(path.read_text())
            if doc["apiVersion"] in cv.CORE_GROUPS or doc["kind"] in seen:
                continue
            seen.add(doc["kind"])
            doc.setdefault("spec", {})["bogus"] = 1
            assert [f.message for f in cv.judge([_write(tmp_path, doc)])[0]] == [
                'unknown field "spec.bogus"'
            ], doc["kind"]
    assert len(seen) == 15


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / f"{doc['kind']}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path
