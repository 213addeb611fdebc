"""Properties of the preview over generated input.

- Any valid catalog previews, every core Kubernetes object passes `kubernetes-validate
  --strict`, and the policy pack finds no mandatory violation.
- Any invalid catalog or stack file (wrong types, missing or unknown fields, huge values,
  unicode, empty files, binary garbage, YAML anchors and alias bombs, deep nesting) exits 2
  with a message, never a traceback, and leaves the previous `build/` output as it was.

Example counts and deadlines are bounded so the module stays well under a minute.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from slipway import preview as pv
from slipway.cli import app
from slipway.policy import run_pack
from tests.conftest import ROOT, copy_project

K8S_VERSION = "1.33.0"
CORE_GROUPS = {"v1", "apps/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1"}
STACK = "dev"

FAST = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
SLOW = settings(FAST, max_examples=4)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy whose dev stack has a traffic layer (so every strategy is valid),
    with a finished preview in build/dev to compare against."""
    dest = copy_project(tmp_path_factory.mktemp("props") / "project")
    dev = dest / "Pulumi.dev.yaml"
    doc = yaml.safe_load(dev.read_text())
    doc["config"]["slipway:traffic"] = {"layer": "istio"}
    dev.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = _invoke(dest, "--no-policy")
    assert result.exit_code == 0, result.output
    return dest


def _invoke(project: Path, *extra: str) -> Any:
    runner = CliRunner()
    return runner.invoke(
        app,
        ["preview", STACK, "--project-dir", str(project), *extra],
        catch_exceptions=True,
    )


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


# -- valid catalogs --------------------------------------------------------------------------

LABEL = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
ENV_NAME = st.from_regex(r"[A-Z_][A-Z0-9_]{0,15}", fullmatch=True)
CONFIG_VALUE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=40
)
TAG = st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True)
DIGEST = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}")


@st.composite
def strategies_(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["rolling", "blue-green", "canary", "argo-canary", "argo-bg"]))
    version = {"tag": draw(TAG), "digest": draw(DIGEST)}
    if kind == "rolling":
        return {"maxSurge": draw(st.sampled_from(["25%", "100%", 1, 3]))}
    if kind == "blue-green":
        return {
            "type": "blue-green",
            "activeSlot": draw(st.sampled_from(["blue", "green"])),
            "slots": {"green": {"version": version}},
        }
    if kind == "canary":
        return {
            "type": "canary",
            "canary": {"version": version},
            "weight": draw(st.integers(0, 100)),
        }
    if kind == "argo-canary":
        return {"type": "canary", "engine": "argo-rollouts"}
    return {"type": "blue-green", "engine": "argo-rollouts"}


@st.composite
def catalogs(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(LABEL, min_size=1, max_size=3, unique=True))
    services = []
    for name in names:
        config = draw(st.dictionaries(ENV_NAME, CONFIG_VALUE, max_size=4))
        secret_envs = draw(
            st.lists(ENV_NAME.filter(lambda e, c=config: e not in c), max_size=2, unique=True)
        )
        low = draw(st.integers(1, 4))
        service: dict[str, Any] = {
            "name": f"p{name}",
            "team": draw(st.sampled_from(["alpha", "beta"])),
            "image": f"ghcr.io/props/{name}",
            "version": {"tag": draw(TAG), "digest": draw(DIGEST)},
            "ports": [{"name": "http", "port": draw(st.integers(1024, 65535))}],
            "probes": {"liveness": {"path": "/healthz"}, "readiness": {"path": "/ready"}},
            "config": config,
            "secrets": [{"env": e, "key": f"p{name}-{i}"} for i, e in enumerate(secret_envs)],
            "strategy": draw(strategies_()),
            "flags": draw(st.dictionaries(LABEL, st.booleans(), max_size=2)),
        }
        if draw(st.booleans()):
            service["autoscaling"] = {
                "minReplicas": low,
                "maxReplicas": low + draw(st.integers(0, 5)),
            }
        else:
            service["replicas"] = draw(st.integers(1, 5))
        services.append(service)
    for service in services[1:]:
        service["allowFrom"] = [services[0]["name"]]
    return services


def _core_objects(manifests: dict[str, str]) -> list[dict[str, Any]]:
    docs = [yaml.safe_load(text) for text in manifests.values()]
    return [d for d in docs if d.get("apiVersion") in CORE_GROUPS]


@SLOW
@given(catalog=catalogs())
def test_valid_catalogs_preview_validate_and_pass_the_pack(project: Path, catalog) -> None:
    services = project / "services"
    added = []
    try:
        for service in catalog:
            path = services / f"{service['name']}.yaml"
            path.write_text(yaml.safe_dump(service, allow_unicode=True, sort_keys=False))
            added.append(path)
        rendered = pv.render(project, STACK)
        names = {s["name"] for s in catalog}
        deployed = {
            r.inputs["metadata"]["labels"].get("app.kubernetes.io/name")
            for r in rendered.records
            if pv.is_manifest(r) and r.inputs["kind"] in ("Deployment", "Rollout")
        }
        assert names <= deployed, f"services without a workload: {names - deployed}"
        for obj in _core_objects(rendered.manifests):
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        mandatory = [d for d in run_pack(rendered.resources, STACK) if d.level == "mandatory"]
        assert not mandatory, mandatory
    finally:
        for path in added:
            path.unlink()


# -- invalid input ---------------------------------------------------------------------------

GOOD = {
    "name": "extra",
    "team": "web",
    "image": "ghcr.io/acme/extra",
    "version": {"tag": "1.0.0"},
    "ports": [{"name": "http", "port": 8080}],
    "probes": {"liveness": {"path": "/healthz"}, "readiness": {"path": "/ready"}},
}

WRONG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(min_size=5000, max_size=6000),
    st.lists(st.integers(), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), min_size=1, max_size=3),
)
"""Values no field of the catalog or the stack config accepts where they are put."""
REQUIRED = ["name", "team", "image", "version", "ports", "probes"]
BROKEN_FIELDS = {
    "name": st.one_of(st.text(max_size=80), st.integers()),
    "version": WRONG_VALUES,
    "ports": st.one_of(WRONG_VALUES, st.just([{"port": 80}]), st.just([{"port": 70000}])),
    "replicas": st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=1001),
        st.text(alphabet=string.ascii_letters, min_size=1),
    ),
    "autoscaling": st.one_of(
        st.just({"minReplicas": 9, "maxReplicas": 2}),
        st.just({"cpuUtilization": None}),
        st.integers(),
        st.text(min_size=1),
    ),
    "strategy": st.one_of(st.just({"type": "canary", "weight": 50}), WRONG_VALUES),
    "config": st.one_of(st.just({"A": {"nested": 1}}), st.just({"bad key": "x"}), st.integers()),
    "environments": st.one_of(st.just({"qa": {}}), st.just({"prod": {"replicas": -1}})),
}


@st.composite
def invalid_services(draw: st.DrawFn) -> dict[str, Any]:
    doc = dict(GOOD)
    how = draw(st.sampled_from(["missing", "unknown", "wrong"]))
    if how == "missing":
        del doc[draw(st.sampled_from(REQUIRED))]
    elif how == "unknown":
        key = draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in doc))
        doc[key] = draw(WRONG_VALUES)
        doc["replicaz"] = 3  # also one that looks like a typo, so the key is surely unknown
    else:
        field = draw(st.sampled_from(sorted(BROKEN_FIELDS)))
        doc[field] = draw(BROKEN_FIELDS[field])
        if field == "name" and isinstance(doc["name"], str):
            doc["name"] = doc["name"] + "_NOT_A_LABEL"
    return doc


def _assert_refused(project: Path) -> None:
    before = _tree(project / "build" / STACK)
    result = _invoke(project, "--no-policy")
    output = result.output
    assert result.exit_code == 2, (result.exit_code, output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "error:" in output, output
    assert "Traceback" not in output, output
    assert _tree(project / "build" / STACK) == before, "bad input must not touch build/"


@FAST
@given(doc=invalid_services())
def test_invalid_service_documents_exit_2(project: Path, doc) -> None:
    path = project / "services" / "extra.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        _assert_refused(project)
    finally:
        path.unlink()


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)
RAW_DOCUMENTS = {
    "empty": b"",
    "only-comment": b"# nothing here\n",
    "binary": bytes(range(256)),
    "utf16": "name: extra\n".encode("utf-16"),
    "scalar": b"just a string\n",
    "list": b"- a\n- b\n",
    "anchor-alias": yaml.safe_dump(GOOD).encode() + b"config: &c {A: b}\nflags: *c\n",
    "billion-laughs": BOMB.encode(),
    "deep-flow": b"name: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deep-block": "".join("  " * i + f"k{i}:\n" for i in range(1500)).encode(),
    "huge": b"name: extra\nconfig:\n" + b"".join(b"  K%d: v\n" % i for i in range(40000)),
    "tabs": b"name:\textra\n\tteam: x\n",
    "duplicate-key": yaml.safe_dump(GOOD).encode() + b"name: again\n",
    "unhashable-key": b"? [a, b]\n: 1\n",
    "unicode-name": "name: ünïcødé\nteam: wéb\n".encode(),
    "nul-in-text": b"name: ex\x00tra\n",
}


@pytest.mark.parametrize("case", sorted(RAW_DOCUMENTS))
def test_malformed_service_files_exit_2(project: Path, case: str) -> None:
    path = project / "services" / "extra.yaml"
    path.write_bytes(RAW_DOCUMENTS[case])
    try:
        _assert_refused(project)
    finally:
        path.unlink()


@FAST
@given(data=st.binary(max_size=300))
def test_binary_garbage_service_files_exit_2(project: Path, data: bytes) -> None:
    path = project / "services" / "extra.yaml"
    # A leading NUL makes any input invalid YAML or not a service, whatever follows.
    path.write_bytes(b"\x00" + data)
    try:
        _assert_refused(project)
    finally:
        path.unlink()


# -- invalid stack files ---------------------------------------------------------------------

STACK_KEYS = ["slipway:environment", "slipway:targets", "slipway:traffic", "slipway:catalog"]


@st.composite
def invalid_stack_configs(draw: st.DrawFn) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    config = doc["config"]
    how = draw(st.sampled_from(["missing", "wrong", "unknown-nested", "target-field"]))
    if how == "missing":
        del config[draw(st.sampled_from(["slipway:environment", "slipway:targets"]))]
    elif how == "wrong":
        key = draw(st.sampled_from(STACK_KEYS))
        value = draw(WRONG_VALUES.filter(lambda v: v not in ("dev", "staging", "prod")))
        if key == "slipway:catalog":
            value = {"not": "a folder"} if not isinstance(value, dict) else value
        config[key] = value
    elif how == "unknown-nested":
        config["slipway:traffic"] = {"layer": "none", draw(LABEL) + "Zz": draw(WRONG_VALUES)}
    else:
        target = dict(config["slipway:targets"][0])
        target[draw(st.sampled_from(["cloud", "name", "weight"]))] = draw(
            st.one_of(st.integers(min_value=256), st.text(alphabet=string.punctuation, min_size=1))
        )
        config["slipway:targets"] = [target]
    return doc


@FAST
@given(doc=invalid_stack_configs())
def test_invalid_stack_configs_exit_2(project: Path, doc) -> None:
    path = project / "Pulumi.dev.yaml"
    saved = path.read_bytes()
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        _assert_refused(project)
    finally:
        path.write_bytes(saved)


RAW_STACK_FILES = {
    "binary": bytes(range(256)),
    "scalar": b"just text\n",
    "config-list": b"config:\n  - a\n",
    "undefined-alias": b"config:\n  slipway:environment: dev\n  slipway:x: *i\n",
    "bomb": BOMB.replace("a:", "config:\n  slipway:environment: dev\n  slipway:a:", 1).encode(),
    "deep": b"config:\n  slipway:targets: " + b"[" * 3000 + b"]" * 3000 + b"\n",
    "non-string-key": b"config:\n  1: 2\n",
    "duplicate-key": b"config:\n  slipway:environment: dev\n  slipway:environment: prod\n",
}


@pytest.mark.parametrize("case", sorted(RAW_STACK_FILES))
def test_malformed_stack_files_exit_2(project: Path, case: str) -> None:
    path = project / "Pulumi.dev.yaml"
    saved = path.read_bytes()
    path.write_bytes(RAW_STACK_FILES[case])
    try:
        _assert_refused(project)
    finally:
        path.write_bytes(saved)
