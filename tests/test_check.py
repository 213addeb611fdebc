"""`slipway check PATH...` in-process: exit codes, output, files and folders, --out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from slipway.check import to_records, type_token
from slipway.cli import app
from slipway.manifests import load_file

FIXTURES = Path(__file__).parent / "policies" / "fixtures"
HARDENED = FIXTURES / "pod-security" / "good-hardened-deployment.yaml"
runner = CliRunner()


def _check(*args: str):
    return runner.invoke(app, ["check", *args], env={"COLUMNS": "300"})


def _copy(tmp_path: Path, src: Path, name: str | None = None) -> Path:
    dst = tmp_path / (name or src.name)
    shutil.copy(src, dst)
    return dst


def test_a_hardened_microservice_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _check(str(HARDENED))
    assert result.exit_code == 0, result.output
    assert "4 objects in 1 file: 0 mandatory, 0 advisory" in result.output
    assert list(tmp_path.iterdir()) == []  # nothing written without --out


def test_a_mandatory_violation_exits_1_and_names_rule_and_the_line_of_its_field() -> None:
    fixture = FIXTURES / "pod-security" / "bad-privileged.yaml"
    result = _check(str(fixture))
    assert result.exit_code == 1
    line = next(
        i
        for i, text in enumerate(fixture.read_text().splitlines(), 1)
        if "privileged: true" in text
    )
    assert f"bad-privileged.yaml:{line}: mandatory pod-no-privileged" in result.output
    assert "(fix: Remove securityContext.privileged" in result.output


def test_the_dev_config_only_advises_on_a_tag_without_digest() -> None:
    bad = FIXTURES / "supply-chain" / "bad-tag-not-pinned.yaml"
    assert _check(str(bad)).exit_code == 1
    dev = _check(str(bad), "--stack", "dev")
    assert dev.exit_code == 0, dev.output
    assert "image-digest-pinned" in dev.output and "advisory" in dev.output


def test_out_writes_the_json_report_into_a_folder(tmp_path: Path) -> None:
    result = _check(str(FIXTURES / "pod-security" / "bad-privileged.yaml"), "--out", str(tmp_path))
    assert result.exit_code == 1
    report = json.loads((tmp_path / "slipway-check.json").read_text())
    found = [(f["rule"], f["level"], f["object"]) for f in report["findings"]]
    assert found == [("pod-no-privileged", "mandatory", "Deployment bad-privileged/app")]
    assert "pod-no-privileged" in result.output  # the table still goes to stdout


def test_out_may_name_the_file_and_its_suffix_chooses_the_format(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "check.json"
    assert _check(str(HARDENED), "--out", str(target)).exit_code == 0
    assert json.loads(target.read_text())["findings"] == []
    sarif = tmp_path / "check.sarif"
    assert _check(str(HARDENED), "--out", str(sarif)).exit_code == 0
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    junit = tmp_path / "check.xml"
    assert _check(str(HARDENED), "--out", str(junit)).exit_code == 0
    assert junit.read_text().startswith("<?xml")


@pytest.mark.parametrize("fmt", ["json", "sarif", "junit"])
def test_format_writes_only_the_report_to_stdout(fmt: str) -> None:
    result = runner.invoke(
        app, ["check", str(FIXTURES / "pod-security" / "bad-privileged.yaml"), "--format", fmt]
    )
    assert result.exit_code == 1
    if fmt == "junit":
        assert result.stdout.startswith("<?xml")
    else:
        json.loads(result.stdout)


def test_a_named_file_that_does_not_parse_exits_2_with_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [1, 2\n")
    result = _check(str(broken), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert f"{broken}: line 5" in result.output.replace("\n", "")
    assert not (tmp_path / "out").exists()


def test_a_document_without_kind_is_reported_and_the_others_are_checked(tmp_path: Path) -> None:
    f = tmp_path / "two.yaml"
    f.write_text(HARDENED.read_text() + "---\napiVersion: v1\nmetadata:\n  name: nokind\n")
    result = _check(str(f))
    assert result.exit_code == 0, result.output
    line = len(HARDENED.read_text().splitlines()) + 2
    assert f"{f}:{line}: error: line {line}: document has no kind" in result.output
    assert "4 objects in 1 file" in result.output and "1 not parsed" in result.output


def test_a_missing_path_exits_2(tmp_path: Path) -> None:
    result = _check(str(tmp_path / "nope"))
    assert result.exit_code == 2 and "no such file or folder" in result.output


def test_a_folder_is_searched_recursively_and_objects_are_judged_together(tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(HARDENED.read_text()) if d]
    (tmp_path / "app").mkdir()
    (tmp_path / "guards").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "app" / "deployment.yml").write_text(yaml.safe_dump(docs[0]))
    # Helm output style: a source comment, an empty document, then the objects.
    helm = "# Source: app/templates/guards.yaml\n---\n---\n" + yaml.safe_dump_all(docs[1:])
    (tmp_path / "guards" / "rendered.yaml").write_text(helm)
    (tmp_path / ".git" / "junk.yaml").write_text(": not yaml [")
    (tmp_path / "README.md").write_text("not a manifest")
    result = _check(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "4 objects in 2 files" in result.output


def test_a_workload_without_its_guards_fails_the_stack_rules(tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(HARDENED.read_text()) if d]
    f = tmp_path / "deployment.yaml"
    f.write_text(yaml.safe_dump(docs[0]))
    result = _check(str(f))
    assert result.exit_code == 1
    assert "stack-workloads-have-network-policy" in result.output
    assert "stack-workloads-have-pdb" in result.output


def test_a_list_kind_is_expanded(tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(HARDENED.read_text()) if d]
    f = tmp_path / "list.yaml"
    f.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": docs}))
    assert [m.obj["kind"] for m in load_file(f)[0]] == [d["kind"] for d in docs]


@pytest.mark.parametrize(
    ("api_version", "kind", "token"),
    [
        ("apps/v1", "Deployment", "kubernetes:apps/v1:Deployment"),
        ("v1", "Service", "kubernetes:core/v1:Service"),
        ("networking.k8s.io/v1", "NetworkPolicy", "kubernetes:networking.k8s.io/v1:NetworkPolicy"),
        ("argoproj.io/v1alpha1", "Rollout", "kubernetes:argoproj.io/v1alpha1:Rollout"),
    ],
)
def test_type_tokens_follow_the_kubernetes_provider(
    api_version: str, kind: str, token: str
) -> None:
    assert type_token(api_version, kind) == token


def test_the_same_object_twice_gets_two_urns(tmp_path: Path) -> None:
    f = _copy(tmp_path, HARDENED)
    manifests = load_file(f)[0] + load_file(f)[0]
    records, by_urn = to_records(manifests, "prod")
    assert len(by_urn) == 8
    assert records[4]["urn"] == records[0]["urn"] + "#2"


def test_a_file_of_text_or_lists_is_not_a_manifest(tmp_path: Path) -> None:
    f = tmp_path / "scalar.yaml"
    f.write_text("just a string\n")
    found, notice = load_file(f)
    assert found == [] and notice is not None and notice.kind == "skipped"
    assert "lists or text" in notice.reason


def test_a_folder_without_manifests_exits_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing to check")
    (tmp_path / "values.yaml").write_text("replicaCount: 2\n")
    result = _check(str(tmp_path))
    assert result.exit_code == 2 and "no Kubernetes objects" in result.output


@pytest.mark.parametrize(
    ("registry", "allowed"),
    [
        ("registry.example.com/shop", True),
        ("ghcr.io/acme", True),
        ("europe-west1-docker.pkg.dev/acme/services", True),
        ("docker.io/library", False),
        ("", False),  # an unqualified name is Docker Hub
    ],
)
def test_prod_config_accepts_managed_registries_and_refuses_docker_hub(
    tmp_path: Path, registry: str, allowed: bool
) -> None:
    text = HARDENED.read_text()
    image = next(
        line.split("image:", 1)[1].strip() for line in text.splitlines() if "image:" in line
    )
    repo_path = image.split("@", 1)[0].rsplit(":", 1)[0]
    name = repo_path.rsplit("/", 1)[-1]
    moved = image.replace(repo_path, f"{registry}/{name}" if registry else name)
    f = tmp_path / "svc.yaml"
    f.write_text(text.replace(image, moved))
    result = _check(str(f))
    assert (result.exit_code == 0) is allowed, result.output
    assert ("image-allowed-registries" in result.output) is not allowed


def test_out_never_replaces_a_file_slipway_did_not_write(tmp_path: Path) -> None:
    """`--out notes.json` over a user's file, a folder whose report file is not ours, a
    link, or a path of another kind: exit 2, every file byte-identical."""
    mine = tmp_path / "notes.json"
    mine.write_text('{"mine": true}\n')
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "slipway-check.json").write_text("my own notes\n")
    deploy = tmp_path / "deploy.yaml"
    deploy.write_text("apiVersion: v1\n")
    (tmp_path / "link.json").symlink_to(mine)
    for out in (mine, folder, tmp_path / "link.json", deploy):
        result = _check(str(HARDENED), "--out", str(out))
        assert result.exit_code == 2, result.output
        assert "--out" in result.output
    assert mine.read_text() == '{"mine": true}\n'
    assert (folder / "slipway-check.json").read_text() == "my own notes\n"
    assert deploy.read_text() == "apiVersion: v1\n"


def test_out_dot_in_a_project_writes_one_report_file_and_touches_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.yaml").write_text(HARDENED.read_text())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert _check("app.yaml", "--out", ".").exit_code == 0
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(after) - set(before) == {"slipway-check.json"}
    assert all(after[name] == data for name, data in before.items())


def test_out_replaces_its_own_earlier_report(tmp_path: Path) -> None:
    target = tmp_path / "check.json"
    bad = str(FIXTURES / "pod-security" / "bad-privileged.yaml")
    assert _check(bad, "--out", str(target)).exit_code == 1
    assert json.loads(target.read_text())["findings"]
    assert _check(str(HARDENED), "--out", str(target)).exit_code == 0
    assert json.loads(target.read_text())["findings"] == []
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
