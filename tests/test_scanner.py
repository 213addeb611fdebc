"""`slipway check` as a scanner of real repositories: lenient folders, kubectl's YAML, JSON,
parse errors that do not stop the run, field lines, exemptions, and the in-process rules
held equal to the pack over its analyzer protocol."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from slipway.check import check, read
from slipway.errors import BadInput
from slipway.manifests import Manifest, load_file

FIXTURES = Path(__file__).parent / "policies" / "fixtures"
HARDENED = FIXTURES / "pod-security" / "good-hardened-deployment.yaml"
PRIVILEGED = FIXTURES / "pod-security" / "bad-privileged.yaml"


def _repo(tmp_path: Path) -> Path:
    """A repository as people keep one: manifests beside everything else."""
    root = tmp_path / "repo"
    (root / "deploy" / "base").mkdir(parents=True)
    (root / "chart" / "templates").mkdir(parents=True)
    shutil.copy(HARDENED, root / "deploy" / "base" / "app.yaml")
    (root / "deploy" / "base" / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- app.yaml\n"
    )
    (root / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n")
    (root / "chart" / "values.yaml").write_text("replicaCount: 2\nimage:\n  tag: 1.0.0\n")
    (root / "chart" / "templates" / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
        "spec:\n  replicas: {{ .Values.replicaCount }}\n"
        "{{- with .Values.nodeSelector }}\n  nodeSelector:\n{{ toYaml . | indent 4 }}\n{{- end }}\n"
    )
    (root / "alertmanager.yml").write_text(
        "route:\n  receiver: team\nreceivers:\n- name: team\n  webhook_configs:\n"
        "  - url: http://hook\n"
    )
    (root / "README.md").write_text("# not a manifest\n")
    return root


def test_a_repository_folder_is_scanned_around_files_that_are_not_manifests(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path)
    result = check([root])
    assert result.objects == 4
    assert result.files == [str(root / "deploy" / "base" / "app.yaml")]
    skipped = {Path(n.file).name: n.reason for n in result.notices if n.kind == "skipped"}
    assert set(skipped) == {
        "kustomization.yaml",
        "Chart.yaml",
        "values.yaml",
        "deployment.yaml",
        "alertmanager.yml",
    }
    assert "kustomize" in skipped["kustomization.yaml"]
    assert "template" in skipped["deployment.yaml"]
    assert not [n for n in result.notices if n.kind == "error"]
    assert result.exit_code == 0


def test_a_crd_with_an_equals_enum_item_loads_as_kubectl_reads_it(tmp_path: Path) -> None:
    """`- =` resolves to YAML 1.1's value type, which PyYAML's safe loader cannot build."""
    crd = tmp_path / "crd.yaml"
    crd.write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: probes.monitoring.coreos.com\n"
        "spec:\n  group: monitoring.coreos.com\n  names: {kind: Probe, plural: probes}\n"
        "  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n"
        "    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n"
        "          op:\n            type: string\n            enum:\n            - =\n"
        "            - '!='\n            - =~\n            created: 2024-01-02\n"
    )
    [m], notice = load_file(crd)
    assert notice is None
    enum = m.obj["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["op"]
    assert enum["enum"] == ["=", "!=", "=~"]
    assert enum["created"] == "2024-01-02"  # a date stays a string, as go-yaml gives it


def test_a_tag_nothing_defines_is_read_as_the_plain_value(tmp_path: Path) -> None:
    f = tmp_path / "tagged.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: !Ref b\n")
    [m], _ = load_file(f)
    assert m.obj["data"] == {"a": "b"}


def test_json_manifests_in_a_folder_are_scanned(tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(PRIVILEGED.read_text()) if d]
    (tmp_path / "app.json").write_text(json.dumps(docs[0], indent=2))
    result = check([tmp_path])
    assert result.objects == 1
    assert result.files == [str(tmp_path / "app.json")]
    assert "pod-no-privileged" in {f.rule for f in result.findings}


def test_a_json_list_with_tabs_is_read_by_the_json_fallback(tmp_path: Path) -> None:
    f = tmp_path / "list.json"
    body = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}],
    }
    f.write_text(json.dumps(body, indent="\t"))
    [m], notice = load_file(f)
    assert notice is None and m.obj["kind"] == "Namespace"


def test_a_file_that_does_not_parse_is_reported_with_its_line_and_the_rest_is_scanned(
    tmp_path: Path,
) -> None:
    shutil.copy(HARDENED, tmp_path / "good.yaml")
    (tmp_path / "broken.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [1, 2\n"
    )
    result = check([tmp_path])
    assert result.objects == 4
    [error] = [n for n in result.notices if n.kind == "error"]
    assert error.file == str(tmp_path / "broken.yaml") and error.line == 5
    assert "not valid YAML" in error.reason


def test_a_document_without_kind_is_reported_beside_the_objects_of_its_file(
    tmp_path: Path,
) -> None:
    f = tmp_path / "two.yaml"
    f.write_text(HARDENED.read_text() + "---\napiVersion: v1\nmetadata:\n  name: nokind\n")
    found, notice = load_file(f)
    assert len(found) == 4
    line = len(HARDENED.read_text().splitlines()) + 2
    assert notice is not None and notice.kind == "error" and notice.line == line
    assert "document has no kind" in notice.reason


def test_an_unreadable_file_inside_a_folder_is_a_notice_not_an_exit(tmp_path: Path) -> None:
    shutil.copy(HARDENED, tmp_path / "good.yaml")
    (tmp_path / "latin1.yaml").write_bytes(b"apiVersion: v1\nkind: ConfigMap\n# caf\xe9\n")
    result = check([tmp_path])
    [error] = [n for n in result.notices if n.kind == "error"]
    assert error.file.endswith("latin1.yaml") and "UTF-8" in error.reason


def test_an_unreadable_file_named_on_the_command_line_is_bad_input(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes(b"apiVersion: v1\nkind: ConfigMap\n# caf\xe9\n")
    with pytest.raises(BadInput, match="not UTF-8"):
        check([f])


def test_nothing_to_scan_at_all_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("replicaCount: 2\n")
    with pytest.raises(BadInput, match="no Kubernetes objects"):
        read([tmp_path], "prod")


def test_a_link_loop_in_a_folder_does_not_trap_the_search(tmp_path: Path) -> None:
    shutil.copy(HARDENED, tmp_path / "app.yaml")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert check([tmp_path]).objects == 4


def test_an_alias_bomb_in_a_folder_is_reported_and_the_rest_is_scanned(tmp_path: Path) -> None:
    shutil.copy(HARDENED, tmp_path / "app.yaml")
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\napiVersion: v1\nkind: List\n")
    result = check([tmp_path])
    [error] = [n for n in result.notices if n.kind == "error"]
    assert "billion-laughs" in error.reason and result.objects == 4


def test_a_finding_points_at_the_line_of_its_field(tmp_path: Path) -> None:
    f = tmp_path / "cm.yaml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\n"
        "  annotations:\n    owner: platform\n    slipway.dev/exempt: pod-no-privileged\n"
    )
    [finding] = [x for x in check([f]).findings if x.rule == "exemption-has-reason"]
    assert finding.line == 8
    assert finding.field == "metadata.annotations.slipway.dev/exempt"


def test_line_of_falls_back_to_the_nearest_field_that_exists(tmp_path: Path) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(PRIVILEGED.read_text())
    [m] = [m for m in load_file(f)[0] if m.obj["kind"] == "Deployment"]
    text = PRIVILEGED.read_text().splitlines()
    containers = next(i for i, t in enumerate(text) if "containers:" in t) + 1
    assert m.line_of(("spec", "template", "spec", "containers")) == containers
    missing = ("spec", "template", "spec", "containers", 0, "startupProbe", "httpGet")
    assert m.line_of(missing) == containers + 1  # the container's own first line
    assert m.line_of(("nothing", "here")) == m.line


def test_merge_keys_are_searched_for_a_field(tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
        "  annotations: &base\n    team: shop\n  labels:\n    <<: *base\n    app: x\n"
    )
    [m], _ = load_file(f)
    assert m.line_of(("metadata", "labels", "team")) == 6
    assert m.line_of(("metadata", "labels", "app")) == 9


def _exempt(tmp_path: Path, annotation: str) -> Path:
    docs = [d for d in yaml.safe_load_all(PRIVILEGED.read_text()) if d]
    for d in docs:
        if d["kind"] == "Deployment":
            d["metadata"].setdefault("annotations", {})["slipway.dev/exempt"] = annotation
    f = tmp_path / "app.yaml"
    f.write_text(yaml.safe_dump_all(docs))
    return f


def test_an_exemption_with_a_reason_turns_the_finding_into_exempted(tmp_path: Path) -> None:
    plain = check([PRIVILEGED])
    assert plain.exit_code == 1
    reason = "the node agent must see every container"
    result = check([_exempt(tmp_path, f"pod-no-privileged: {reason}")])
    [finding] = [f for f in result.findings if f.rule == "pod-no-privileged"]
    assert finding.exempted == reason and not finding.blocking
    assert result.exit_code == 0
    assert "exemption-has-reason" not in {f.rule for f in result.findings}


@pytest.mark.parametrize(
    "annotation",
    ["pod-no-privileged", "pod-no-privileged: ok", "pod-no-privilegd: a reason long enough"],
    ids=["no-reason", "short-reason", "misspelt-rule"],
)
def test_an_exemption_that_cannot_be_reviewed_exempts_nothing_and_is_a_violation(
    tmp_path: Path, annotation: str
) -> None:
    result = check([_exempt(tmp_path, annotation)])
    by_rule = {f.rule: f for f in result.findings}
    assert by_rule["pod-no-privileged"].exempted is None
    assert by_rule["exemption-has-reason"].blocking
    assert result.exit_code == 1


def test_an_exemption_covers_only_its_own_rule_and_object(tmp_path: Path) -> None:
    f = _exempt(tmp_path, "pod-no-host-network: not what this object violates at all")
    result = check([f])
    [finding] = [x for x in result.findings if x.rule == "pod-no-privileged"]
    assert finding.exempted is None and result.exit_code == 1


def test_in_process_rules_equal_the_pack_over_its_analyzer_protocol(tmp_path: Path) -> None:
    """The fixture corpus judged both ways gives the same findings (rule, level, object,
    message), so the scanner's speed does not come from judging differently."""
    root = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, root)
    for family in root.iterdir():
        (family / "expected.yaml").unlink(missing_ok=True)
    fast, slow = check([root]), check([root], analyzer=True)

    def key(r: object) -> set[tuple[str, str, str, str, str]]:
        return {(f.rule, f.level, f.file, f.object, f.message) for f in r.findings}  # type: ignore[attr-defined]

    assert key(fast) == key(slow)
    assert len(fast.findings) > 100


def test_manifest_label_names_kind_namespace_and_name() -> None:
    m = Manifest("f.yaml", 1, {"kind": "Role", "metadata": {"name": "r", "namespace": "n"}})
    assert m.label == "Role n/r"


CORPUS = Path(__file__).parent / "data" / "corpus"


def _key(result: object) -> list[tuple[object, ...]]:
    return [
        (f.rule, f.level, f.file, f.line, f.object, f.field, f.message, f.exempted)
        for f in result.findings  # type: ignore[attr-defined]
    ]


def test_two_cores_find_exactly_what_one_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Half the files read and judged in a forked child: the same findings, lines, files
    and notices, in the same order."""
    import slipway.check as scanner

    monkeypatch.setattr(scanner, "PARALLEL_BYTES", 10**12)
    alone = check([CORPUS])
    monkeypatch.setattr(scanner, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(scanner, "cores", lambda: 2)
    split = check([CORPUS])
    assert _key(split) == _key(alone)
    assert (split.files, split.notices, split.objects) == (
        alone.files,
        alone.notices,
        alone.objects,
    )


def test_a_copy_of_an_object_judged_in_the_other_process_gets_its_own_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An object seen twice gets `#2`; the copy's rules see that name, wherever it was
    read, so a config exception for `...::ns/app#2` applies exactly as over the analyzer."""
    import slipway.check as scanner

    for name in ("a.yaml", "b.yaml"):
        shutil.copy(PRIVILEGED, tmp_path / name)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "pod-no-privileged": {
                    "exceptions": [
                        {
                            "resource": "kubernetes:apps/v1:Deployment::bad-privileged/app#2",
                            "reason": "the second copy is the reviewed one",
                        }
                    ]
                }
            }
        )
    )
    monkeypatch.setattr(scanner, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(scanner, "cores", lambda: 2)
    split = check([tmp_path], config_path=config)
    over = check([tmp_path], config_path=config, analyzer=True)
    flagged = [f.file for f in split.findings if f.rule == "pod-no-privileged"]
    assert flagged == [str(tmp_path / "a.yaml")]
    assert flagged == [f.file for f in over.findings if f.rule == "pod-no-privileged"]


def test_a_named_file_that_cannot_be_read_is_bad_input_in_either_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import slipway.check as scanner
    from slipway.forked import Forked

    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"apiVersion: v1\nkind: ConfigMap\n# caf\xe9\n")
    monkeypatch.setattr(scanner, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(scanner, "cores", lambda: 2)
    with pytest.raises(BadInput, match="not UTF-8"):
        check([PRIVILEGED, bad])
    # the child's own part: its BadInput is raised in this process
    read_fd, write_fd = os.pipe()
    os.write(write_fd, (0).to_bytes(4, "little"))
    os.close(write_fd)
    pack = scanner.rules(scanner.config_path_for("prod"))
    child = Forked(scanner._scan_queue, [(bad, True)], read_fd, pack, "prod", True)
    try:
        with pytest.raises(BadInput, match="not UTF-8"):
            child.result()
    finally:
        child.close()
        os.close(read_fd)


def test_both_processes_take_files_from_one_queue_and_none_is_lost_or_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import slipway.check as scanner

    for n in range(40):
        shutil.copy(PRIVILEGED, tmp_path / f"app-{n:02d}.yaml")
    monkeypatch.setattr(scanner, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(scanner, "cores", lambda: 2)
    result = check([tmp_path])
    assert result.files == [str(tmp_path / f"app-{n:02d}.yaml") for n in range(40)]
    assert result.objects == 40 * len(load_file(PRIVILEGED)[0])


def test_an_object_named_by_generate_name_is_labelled_by_it() -> None:
    m = Manifest("f.yaml", 1, {"kind": "Job", "metadata": {"generateName": "migrate-"}})
    assert m.label == "Job migrate-"


def test_without_exceptions_no_rule_reads_a_resources_name() -> None:
    """What lets a copy of an object reuse its first copy's findings: every resource rule
    of the pack, on every fixture object, says the same under two different names."""
    import slipway.check as scanner

    pack = scanner.rules(scanner.config_path_for("prod"))
    assert not any(config.get("exceptions") for _, _, config in pack.resource)
    judge = scanner._Judge(pack)
    records = scanner.read([FIXTURES], "prod").manifests
    for rec in scanner.to_records(records, "prod")[0]:
        first = judge.resource(rec)
        second = judge.resource({**rec, "name": "renamed#2", "urn": rec["urn"] + "#2"})
        assert [(d.policy, d.message, d.at) for d in first] == [
            (d.policy, d.message, d.at) for d in second
        ], rec["urn"]


@pytest.mark.parametrize("items", ["{kind: ServiceAccount, apiVersion: v1}", "nope"])
def test_a_list_whose_items_are_not_a_list_is_an_error_not_a_clean_object(
    tmp_path: Path, items: str
) -> None:
    f = tmp_path / "list.yaml"
    f.write_text(f"apiVersion: v1\nkind: List\nitems: {items}\n")
    found, notice = load_file(f)
    assert found == []
    assert notice is not None and notice.kind == "error"
    with pytest.raises(BadInput, match="items must be a list"):
        check([f])


def test_an_exemption_that_is_not_text_is_said_so(tmp_path: Path) -> None:
    f = tmp_path / "cm.yaml"
    f.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: shop\n"
        "  annotations:\n    slipway.dev/exempt: [pod-no-privileged]\n"
    )
    [finding] = [x for x in check([f]).findings if x.rule == "exemption-has-reason"]
    assert "is not text" in finding.message and "[" not in finding.message


def test_an_unnamed_container_is_named_by_its_place(tmp_path: Path) -> None:
    f = tmp_path / "ksvc.yaml"
    f.write_text(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\n"
        "  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n"
        "      - image: nginx:latest\n"
    )
    messages = [x.message for x in check([f]).findings if x.rule == "image-no-latest-tag"]
    assert messages == ["container containers[0] (unnamed) uses the latest tag: nginx:latest"]


def _steps(field: str) -> list[str | int]:
    import re

    steps: list[str | int] = []
    for part in field.split("."):
        name, *indexes = re.split(r"\[(\d+)\]", part)
        if name:
            steps.append(name)
        steps += [int(i) for i in indexes if i]
    return steps


def test_finding_lines_agree_with_the_files_text_on_the_public_corpus() -> None:
    """Judged without the scanner's own line finder: for every finding whose field exists
    in its object, the file's text at the reported line names that field (its key, or the
    `-` of a list item)."""
    result = check([CORPUS])
    texts: dict[str, list[str]] = {}
    objects = {}
    for m in scanner_read_all():
        objects[(m.file, m.label)] = m.obj
    checked = 0
    for f in result.findings:
        obj = objects.get((f.file, f.object))
        if not f.field or obj is None or f.file.endswith(".json"):
            continue
        node: object = obj
        steps = _steps(f.field)
        for step in steps:
            ok = (isinstance(node, dict) and step in node) or (
                isinstance(node, list) and isinstance(step, int) and step < len(node)
            )
            if not ok:
                break
            node = node[step]  # type: ignore[index]
        else:
            lines = texts.setdefault(f.file, Path(f.file).read_text().splitlines())
            text = lines[f.line - 1].strip()
            last = steps[-1]
            if isinstance(last, int):
                # the item's `-`, or its first line when the `-` line holds only a comment
                j = f.line - 2
                while j > 0 and lines[j].strip().startswith("#"):
                    j -= 1
                before = lines[j].strip() if j >= 0 else ""
                assert text.startswith("-") or before.startswith("- #"), (f, text)
            else:
                key = text.lstrip("-").strip().lstrip("'\"")
                assert key.startswith(last) and ":" in key, (f, text)
            checked += 1
    assert checked > 3000


def scanner_read_all() -> list[Manifest]:
    from slipway.check import read

    return read([CORPUS], "prod").manifests
