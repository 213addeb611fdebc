"""The diff of real previews is exact, never noisy (issue 4, item 3).

Each case renders the dev stack with the real program (`slipway.preview.render`, Pulumi's mock
runtime) on a copy of the repository's catalog, changes one thing, renders again and checks
that the diff holds that change and nothing else. The renamed-component case changes code, so
it renders a copy of the code in a subprocess (`python -m slipway preview`), as `--against
<ref>` does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slipway.diff import compute_diff, is_empty
from slipway.preview import render

ROOT = Path(__file__).resolve().parents[1]
STACK = "dev"
PROJECT_FILES = ("Pulumi.yaml", f"Pulumi.{STACK}.yaml", "__main__.py")
CODE_DIRS = ("stacks", "components")
SERVICE_LABEL = "app.kubernetes.io/name"


def copy_project(dest: Path, *, with_code: bool = False) -> Path:
    """A project folder with the repository's program, stack file and catalog."""
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "services", dest / "services")
    if with_code:
        for name in CODE_DIRS:
            shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def resources(project: Path, *, code: bool = False) -> list[dict]:
    """Records of `project`'s dev stack; with `code`, rendered by its own copy of the code."""
    if not code:
        return render(project, STACK).resources
    out = project.parent / f"{project.name}-out"
    env = {**os.environ, "PYTHONPATH": str(project)}
    proc = subprocess.run(
        [sys.executable, "-m", "slipway", "preview", STACK, "--out", str(out), "--no-policy"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "resources.json").read_text())


def service_file(project: Path, name: str) -> Path:
    return project / "services" / f"{name}.yaml"


def read(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def write(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def add_ledger(project: Path) -> None:
    """A new service, `ledger`, of an existing team (so no namespace is created for it)."""
    data = read(service_file(project, "frontend"))
    data["name"] = "ledger"
    data.pop("public", None)
    data["config"] = {"STOCK_URL": "http://stock.example.com"}
    data["environments"] = {}
    write(service_file(project, "ledger"), data)


def owner(record: dict) -> str | None:
    """The service a record belongs to, by the naming convention `<target>-<service>[-<role>]`
    (components and their children), cross-checked with the Kubernetes label when present."""
    labels = ((record.get("inputs") or {}).get("metadata") or {}).get("labels") or {}
    label = labels.get(SERVICE_LABEL) if record["type"].startswith("kubernetes:") else None
    name = record["name"].removeprefix("local-")
    for service in SERVICES_SEEN:
        if name == service or name.startswith(f"{service}-"):
            return service if label in (None, service) else f"{service}!={label}"
    return None


SERVICES_SEEN = tuple(
    sorted(
        {yaml.safe_load(p.read_text())["name"] for p in (ROOT / "services").glob("*.yaml")}
        | {"ledger"},
        key=lambda n: (-len(n), n),
    )
)
"""Service names the owner check knows (the catalog plus the one tests add), longest first."""


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, list[dict]]:
    project = copy_project(tmp_path_factory.mktemp("base") / "project")
    return project, resources(project)


@pytest.fixture
def project(tmp_path) -> Path:
    return copy_project(tmp_path / "project")


def test_no_change_gives_an_empty_diff(base, project):
    _, old = base
    assert is_empty(compute_diff(old, resources(project)))


def test_the_preview_is_not_empty(base):
    """Guard: the other cases mean something only if the stack has services."""
    _, old = base
    owners = {owner(r) for r in old} - {None}
    assert {"frontend", "orders", "payments"} <= owners


def test_new_service_adds_only_its_resources(base, project):
    _, old = base
    add_ledger(project)
    new = resources(project)
    diff = compute_diff(old, new)
    assert diff["updated"] == diff["replaced"] == diff["deleted"] == []
    by_urn = {r["urn"]: r for r in new}
    added = [by_urn[e["urn"]] for e in diff["added"]]
    assert {r["type"] for r in added} >= {
        "slipway:apps:Microservice",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ConfigMap",
    }
    assert {r["urn"]: owner(r) for r in added} == {r["urn"]: "ledger" for r in added}


def test_one_config_value_replaces_the_configmap_and_updates_the_deployment(base, project):
    _, old = base
    path = service_file(project, "orders")
    data = read(path)
    data["environments"]["dev"]["config"]["DB_POOL_SIZE"] = "3"
    write(path, data)
    diff = compute_diff(old, resources(project))
    assert diff["added"] == diff["deleted"] == []
    assert [(e["type"], e["name"]) for e in diff["replaced"]] == [
        ("kubernetes:core/v1:ConfigMap", "local-orders-config")
    ]
    replaced = diff["replaced"][0]
    assert "data" in replaced["reasons"]
    assert {"path": "data.DB_POOL_SIZE", "old": "2", "new": "3"} in replaced["changes"]
    assert [(e["type"], e["name"]) for e in diff["updated"]] == [
        ("kubernetes:apps/v1:Deployment", "local-orders-deployment")
    ]


def test_removed_service_deletes_only_its_resources(tmp_path, project):
    with_ledger = copy_project(tmp_path / "with-ledger")
    add_ledger(with_ledger)
    old = resources(with_ledger)
    diff = compute_diff(old, resources(project))
    assert diff["added"] == diff["updated"] == diff["replaced"] == []
    by_urn = {r["urn"]: r for r in old}
    deleted = [by_urn[e["urn"]] for e in diff["deleted"]]
    assert len(deleted) >= 4
    assert {r["urn"]: owner(r) for r in deleted} == {r["urn"]: "ledger" for r in deleted}


UNORDERED_LISTS = ("ports", "secrets", "allowFrom")
"""Catalog lists whose order means nothing (canary `steps`, by contrast, run in order)."""


def reorder(value, key: str = ""):
    """The same catalog entry with every mapping's keys and every unordered list reversed."""
    if isinstance(value, dict):
        return {k: reorder(value[k], k) for k in reversed(list(value))}
    if isinstance(value, list):
        items = [reorder(v) for v in value]
        return items[::-1] if key in UNORDERED_LISTS else items
    return value


def test_catalog_ordering_gives_no_diff(base, project):
    _, old = base
    touched = 0
    for path in sorted((project / "services").glob("*.yaml")):
        data = read(path)
        reordered = reorder(data)
        assert list(reordered) == list(data)[::-1]
        write(path, reordered)
        touched += 1
    assert touched >= 3
    orders = service_file(project, "orders").read_text()
    assert orders.index("name: metrics") < orders.index("name: http")
    assert is_empty(compute_diff(old, resources(project)))


# --- a component renamed with an alias -----------------------------------------------------------
# The rename is a code change, so this case renders a copy of the code (PYTHONPATH points there).

OLD_CALL = """        built.services[service.name] = Microservice(
            f"{target.name}-{service.name}",
            args,
            opts=pulumi.ResourceOptions("""


def rename_microservices(project: Path, *, alias: bool) -> None:
    """Rename every Microservice `<target>-<svc>` to `<target>-svc-<svc>`, maybe with an alias."""
    path = project / "stacks" / "build.py"
    text = path.read_text()
    assert OLD_CALL in text, "stacks/build.py no longer creates Microservice as this test expects"
    alias_line = (
        '                aliases=[pulumi.Alias(name=f"{target.name}-{service.name}")],\n'
        if alias
        else ""
    )
    new_call = OLD_CALL.replace(
        'f"{target.name}-{service.name}"', 'f"{target.name}-svc-{service.name}"'
    )
    path.write_text(text.replace(OLD_CALL, new_call + "\n" + alias_line))


@pytest.mark.parametrize(
    "alias",
    [True, False],
    ids=["with-alias", "without-alias"],
)
def test_component_renamed(tmp_path, alias):
    before = copy_project(tmp_path / "before", with_code=True)
    after = copy_project(tmp_path / "after", with_code=True)
    rename_microservices(after, alias=alias)
    old = resources(before, code=True)
    new = resources(after, code=True)
    renamed = [r for r in new if r["type"] == "slipway:apps:Microservice"]
    assert renamed and all("-svc-" in r["name"] for r in renamed)
    diff = compute_diff(old, new)
    if alias:
        assert is_empty(diff), diff
    else:
        # the control case: the same rename without an alias deletes and re-creates
        assert len(diff["deleted"]) == len(diff["added"]) >= len(renamed) * 2
