"""Bad catalog input exits 2, names the file and the field, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.catalog import deep_merge, load_catalog, parse_service

GOOD = """\
name: extra
team: web
image: ghcr.io/acme/extra
version: {tag: "1.0.0"}
ports: [{name: http, port: 8080}]
probes:
  liveness: {path: /healthz}
  readiness: {path: /ready}
"""


def _preview(cli, project: Path, *extra: str):
    return cli(
        "preview",
        "dev",
        "--project-dir",
        str(project),
        "--out",
        str(project / "out"),
        "--no-policy",
        *extra,
    )


def test_good_extra_service_previews(cli, project: Path) -> None:
    (project / "services" / "extra.yaml").write_text(GOOD)
    result = _preview(cli, project)
    assert result.exit_code == 0, result.output
    assert (project / "out" / "manifests" / "local" / "web" / "Deployment-extra.yaml").is_file()


BAD_CASES = {
    "yaml-syntax": (GOOD + "ports: [\n", "line"),
    "unknown-key": (GOOD + "replicaz: 3\n", "replicaz: unknown field"),
    "wrong-type": (GOOD + "replicas: many\n", "replicas: must be a whole number (given: 'many')"),
    "invalid-name": (
        GOOD.replace("name: extra", "name: Extra_Svc"),
        "name: 'Extra_Svc' is not a DNS-1123",
    ),
    "port-out-of-range": (GOOD.replace("port: 8080", "port: 70000"), "ports[0].port"),
    "privileged-port": (
        GOOD.replace("port: 8080", "port: 80"),
        "ports[0].port: port 80 is privileged",
    ),
    "tag-latest": (GOOD.replace('tag: "1.0.0"', "tag: latest"), "version.tag: tag 'latest'"),
    "component-rule": (
        GOOD + "autoscaling: {minReplicas: 5, maxReplicas: 2}\n",
        "autoscaling: minReplicas 5 exceeds maxReplicas 2",
    ),
    "empty-file": ("", "file is empty"),
    "not-a-mapping": ("- a\n- b\n", "expected a mapping"),
    "binary": ("\x00\x01\xff", "not UTF-8 text"),
    "yaml-alias": (GOOD + "config: &a {A: b}\nflags: *a\n", "aliases are not allowed"),
    "duplicate-key": (GOOD + "team: other\n", "duplicate key 'team'"),
    "bad-env-override": (
        GOOD + "environments:\n  prod:\n    replicas: -1\n",
        "with environments.prod applied: replicas",
    ),
    "unknown-environment": (
        GOOD + "environments:\n  qa: {replicas: 1}\n",
        "unknown environment 'qa'",
    ),
    "allow-from-unknown": (GOOD + "allowFrom: [ghost]\n", "allowFrom: names no service"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_catalog_exits_2_naming_file_and_field(cli, project: Path, case: str) -> None:
    text, expected = BAD_CASES[case]
    path = project / "services" / "extra.yaml"
    if case == "binary":
        path.write_bytes(text.encode("latin-1"))
    else:
        path.write_text(text)
    result = _preview(cli, project)
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "extra.yaml" in flat, flat
    assert expected in flat, flat
    assert "Traceback" not in result.output
    assert not (project / "out").exists(), "nothing may be written on bad input"


def test_duplicate_service_names_exit_2(cli, project: Path) -> None:
    (project / "services" / "zz-copy.yaml").write_text(
        (project / "services" / "orders.yaml").read_text()
    )
    result = _preview(cli, project)
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert "zz-copy.yaml" in flat and "duplicate service name 'orders'" in flat
    assert not (project / "out").exists()


def test_bad_input_keeps_previous_output(cli, project: Path) -> None:
    assert _preview(cli, project).exit_code == 0
    before = sorted(p.relative_to(project / "out") for p in (project / "out").rglob("*"))
    (project / "services" / "extra.yaml").write_text(GOOD + "replicaz: 3\n")
    assert _preview(cli, project).exit_code == 2
    after = sorted(p.relative_to(project / "out") for p in (project / "out").rglob("*"))
    assert before == after


def test_unknown_stack_exits_2(cli, project: Path) -> None:
    result = cli("preview", "nope", "--project-dir", str(project), "--no-policy")
    assert result.exit_code == 2
    assert "no such stack 'nope'" in " ".join(result.output.split())


def test_bad_stack_config_names_stack_file_and_key(cli, project: Path) -> None:
    stack = project / "Pulumi.dev.yaml"
    stack.write_text(stack.read_text().replace("cloud: existing", "cloud: azure"))
    result = _preview(cli, project)
    assert result.exit_code == 2
    flat = " ".join(result.output.split())
    assert "Pulumi.dev.yaml" in flat and "slipway.targets[0].cloud" in flat and "'azure'" in flat


def test_environment_override_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "svc.yaml"
    path.write_text(GOOD + "replicas: 2\nenvironments:\n  prod:\n    replicas: 5\n")
    (svc,) = load_catalog(tmp_path, "prod")
    assert svc.replicas == 5
    (svc,) = load_catalog(tmp_path, "dev")
    assert svc.replicas == 2


def test_deep_merge_merges_maps_and_replaces_lists() -> None:
    base = {"config": {"A": "1", "B": "2"}, "allowFrom": ["x", "y"]}
    merged = deep_merge(base, {"config": {"B": "3"}, "allowFrom": ["z"]})
    assert merged == {"config": {"A": "1", "B": "3"}, "allowFrom": ["z"]}
    assert base["config"]["B"] == "2", "the base must not be mutated"


def test_secret_values_are_refused_in_catalog() -> None:
    import yaml

    data = yaml.safe_load(GOOD)
    data["secrets"] = [{"env": "TOKEN", "key": "tok", "value": "hunter2"}]
    with pytest.raises(Exception, match="value: unknown field"):
        parse_service(data, "dev", "services/extra.yaml")
