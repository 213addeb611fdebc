"""The offline preview: outputs, determinism, atomic writes, exit codes."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slipway import preview as pv
from slipway.errors import BadInput
from slipway.outdir import MARKER, marker_bytes

ROOT = Path(__file__).resolve().parent.parent


def dev_secrets_from_config(project: Path) -> None:
    """Dev's catalog secrets read Pulumi config secrets of the stack (the catalog generates
    them in dev): a project where the stack's own config holds them."""
    for name in ("orders", "payments"):
        path = project / "services" / f"{name}.yaml"
        text = path.read_text()
        assert text.count("source: generated\n") == 1, path
        path.write_text(text.replace("source: generated\n", "source: pulumi-config\n"))


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def test_preview_writes_resources_and_manifests(cli, project: Path) -> None:
    out = project / "out"
    result = cli("preview", "dev", "--project-dir", str(project), "--out", str(out), "--no-policy")
    assert result.exit_code == 0, result.output
    resources = json.loads((out / "resources.json").read_text())
    assert resources == sorted(resources, key=lambda r: r["urn"])
    for r in resources:
        assert {"urn", "type", "name", "parent", "provider", "protect", "inputs"} <= set(r)
    deployment = next(r for r in resources if r["name"] == "local-orders-deployment")
    assert deployment["provider"].startswith(
        "urn:pulumi:dev::slipway::slipway:stacks:Target$pulumi:providers:kubernetes::local-k8s::"
    )
    assert deployment["target"] == "local"
    manifest = out / "manifests/local/commerce/Deployment-orders.yaml"
    doc = yaml.safe_load(manifest.read_text())
    assert (doc["apiVersion"], doc["kind"], doc["metadata"]["name"]) == (
        "apps/v1",
        "Deployment",
        "orders",
    )
    assert (out / "manifests/local/_cluster/Namespace-commerce.yaml").is_file()
    assert result.output.strip().splitlines()[-1].startswith("exit 0: stack dev:")


def test_integers_stay_integers(project: Path) -> None:
    rendered = pv.render(project, "dev")
    text = "\n".join(rendered.manifests.values())
    assert "containerPort: 8080\n" in text
    assert "8080.0" not in text


def test_secrets_are_redacted_everywhere(project: Path) -> None:
    dev_secrets_from_config(project)
    rendered = pv.render(
        project, "dev", secret_overrides={"slipway:orders-db-password": "s3nt1nel"}
    )
    files = pv.output_files(rendered)
    assert not any(b"s3nt1nel" in data for data in files.values())
    secret = yaml.safe_load(
        rendered.manifests["manifests/local/commerce/Secret-orders-secrets.yaml"]
    )
    assert secret["stringData"] == {"DB_PASSWORD": "[secret]"}


def test_missing_secret_config_warns_with_the_fix(project: Path) -> None:
    dev_secrets_from_config(project)
    rendered = pv.render(project, "dev")
    assert pv.missing_config_lines(rendered) == [
        f"required secret config slipway:{key} is not set in Pulumi.dev.yaml (offline it "
        f"reads [secret]; the real engine stops): pulumi config set --secret slipway:{key} "
        "-s dev"
        for key in ("orders-db-password", "payments-api-key")
    ]


def test_two_previews_are_byte_identical(cli, project: Path) -> None:
    a, b = project / "a", project / "b"
    for out in (a, b):
        result = cli("preview", "dev", "--project-dir", str(project), "--out", str(out))
        assert result.exit_code == 0, result.output
    assert tree(a) == tree(b)


def test_output_replaces_previous_atomically(tmp_path: Path) -> None:
    out = tmp_path / "out"
    pv.write_atomically(out, {"a.txt": b"1", "sub/b.txt": b"2"})
    pv.write_atomically(out, {"c.txt": b"3"})
    assert tree(out) == {"c.txt": b"3", MARKER: marker_bytes("")}, (
        "stale files from the previous run must go; the marker stays"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no temp dirs left behind"


def test_failed_write_keeps_previous_output(tmp_path: Path) -> None:
    """Disk full midway: bad input (exit 2) saying why, the previous output whole."""
    out = tmp_path / "out"
    pv.write_atomically(out, {"a.txt": b"1"})

    class Boom(dict):
        def items(self):  # type: ignore[override]
            yield "x.txt", b"x"
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(BadInput, match=r"cannot write the output: .*No space left on device"):
        pv.write_atomically(out, Boom())
    assert tree(out) == {"a.txt": b"1", MARKER: marker_bytes("")}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_duplicate_manifest_paths_are_refused() -> None:
    from slipway.engine import Record

    def rec(urn: str) -> Record:
        return Record(
            urn=urn,
            type="kubernetes:core/v1:ConfigMap",
            name=urn,
            custom=True,
            parent="",
            provider="",
            protect=False,
            aliases=[],
            inputs={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
        )

    with pytest.raises(Exception, match="two objects render to"):
        pv.manifests([rec("a"), rec("b")])


def test_python_dash_m_slipway_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "slipway", "preview", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Render a stack offline" in proc.stdout


def test_json_format_summarises(cli, project: Path) -> None:
    result = cli(
        "preview",
        "dev",
        "--project-dir",
        str(project),
        "--out",
        str(project / "o"),
        "--format",
        "json",
        "--no-policy",
    )
    assert result.exit_code == 0
    start = result.output.index("{")
    summary = json.loads(result.output[start:])
    assert summary["stack"] == "dev" and summary["resources"] > 20


def test_render_directory_switches_the_provider_to_yaml_output(project: Path) -> None:
    rendered = pv.render(
        project, "dev", config_overrides={"slipway:render": '{"yamlDirectory": "build/rendered"}'}
    )
    (provider,) = [r for r in rendered.records if r.type == "pulumi:providers:kubernetes"]
    assert provider.inputs["renderYamlToDirectory"] == "build/rendered/local"
    assert provider.inputs["context"] == "kind-slipway"


def test_without_render_directory_the_provider_applies_to_the_cluster(project: Path) -> None:
    """Dev installs the add-ons (Helm releases, through their own provider) and the
    workloads on one cluster: both providers apply to it, and the workloads' waits for
    the add-ons."""
    records = pv.render(project, "dev").records
    providers = {r.name: r for r in records if r.type == "pulumi:providers:kubernetes"}
    assert sorted(providers) == ["local-k8s", "local-k8s-addons"]
    for provider in providers.values():
        assert "renderYamlToDirectory" not in provider.inputs, provider.name
        assert provider.inputs["context"] == "kind-slipway", provider.name
    addons_urn = next(r.urn for r in records if r.type == "slipway:platform:ClusterAddons")
    addons = [r for r in records if r.parent == addons_urn]
    assert addons and all(
        r.provider.rsplit("::", 1)[0] == providers["local-k8s-addons"].urn for r in addons
    )
    assert sorted(providers["local-k8s"].dependencies) == sorted(r.urn for r in addons)
    assert providers["local-k8s-addons"].dependencies == []
