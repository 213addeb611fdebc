"""`slipway check` reports (slipway.scan_report): table, JSON, SARIF 2.1.0 and JUnit from a
hand-made ScanResult, judged by the published SARIF schema and a JUnit XSD (tests/schemas/sarif,
tests/schemas/junit, see their SOURCE.md), and the refusals of `write_report`."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest
import xmlschema

from slipway import __version__
from slipway.errors import BadInput
from slipway.scan_report import (
    fingerprint,
    is_our_report,
    render,
    repo_root,
    table_lines,
    to_json,
    to_junit,
    to_sarif,
    write_report,
)
from slipway.scan_types import Finding, Notice, RuleInfo, ScanResult

SCHEMAS = Path(__file__).parent / "schemas"
SARIF_SCHEMA = json.loads((SCHEMAS / "sarif" / "sarif-schema-2.1.0.json").read_text())
JUNIT_XSD = xmlschema.XMLSchema(str(SCHEMAS / "junit" / "junit-10.xsd"))

LONG_IMAGE = (
    "registry.example.com/platform/very/long/path/to/the-payments-service-with-a-long-name"
    "@sha256:" + "0123456789abcdef" * 4
)
SPACED = "deploy/my manifests/wëb app.yaml"
RBAC = "deploy/rbac.yaml"

RULES = {
    "container-non-root": RuleInfo(
        name="container-non-root",
        description="Containers must not run as root.",
        remediation="Set securityContext.runAsNonRoot: true and a non-zero runAsUser.",
        severity="high",
        level="mandatory",
        tags=("security", "CIS-K8S:5.2.6"),
    ),
    "image-no-latest-tag": RuleInfo(
        name="image-no-latest-tag",
        description="Images are pinned to a tag other than latest.",
        remediation="Pin the image to a release tag or a digest.",
        severity="medium",
        level="advisory",
        tags=("security",),
    ),
    "rbac-no-wildcard": RuleInfo(
        name="rbac-no-wildcard",
        description="Roles grant named verbs on named resources.",
        remediation="List the verbs and resources the subject needs\ninstead of '*'.",
        severity="critical",
        level="mandatory",
        tags=("security", "CIS-K8S:5.1.3"),
    ),
    "networkpolicy-coverage": RuleInfo(
        name="networkpolicy-coverage",
        description="Every namespace with pods has a NetworkPolicy.",
        remediation="Add a default-deny NetworkPolicy to each namespace.",
        severity="low",
        level="mandatory",
        tags=("security",),
    ),
    "unused-rule": RuleInfo(
        name="unused-rule",
        description="A rule without findings.",
        remediation="Nothing.",
        severity="low",
        level="disabled",
    ),
}

MANDATORY = Finding(
    rule="container-non-root",
    level="mandatory",
    message=f"container app runs as root (image {LONG_IMAGE})",
    file=SPACED,
    line=31,
    object="Deployment shop/web",
    field="spec.template.spec.containers[0].securityContext.runAsNonRoot",
)
ADVISORY = Finding(
    rule="image-no-latest-tag",
    level="advisory",
    message=f"image {LONG_IMAGE} has no tag",
    file=SPACED,
    line=27,
    object="Deployment shop/web",
    field="spec.template.spec.containers[0].image",
)
EXEMPTED = Finding(
    rule="rbac-no-wildcard",
    level="mandatory",
    message="ClusterRole operator grants '*' on '*'",
    file=RBAC,
    line=9,
    object="ClusterRole operator",
    field="rules[0].verbs",
    exempted="the operator manages arbitrary CRDs (ticket OPS-12)",
)
STACK_WIDE = Finding(
    rule="networkpolicy-coverage",
    level="mandatory",
    message="namespace shop has pods but no NetworkPolicy",
    file="",
    line=0,
    object="(all objects)",
)
FINDINGS = [STACK_WIDE, EXEMPTED, ADVISORY, MANDATORY]
NOTICES = [
    Notice(file="deploy/kustomization.yaml", kind="skipped", reason="a kustomization"),
    Notice(
        file="deploy/broken.yaml", kind="error", reason="mapping values are not allowed", line=4
    ),
]


def make_result(findings: list[Finding] | None = None, notices=None) -> ScanResult:
    return ScanResult(
        config="prod",
        findings=list(FINDINGS if findings is None else findings),
        rules=dict(RULES),
        objects=7,
        files=[SPACED, RBAC],
        notices=list(NOTICES if notices is None else notices),
    )


# -- SARIF -----------------------------------------------------------------------------------------


def sarif(result: ScanResult | None = None, base: Path | None = None) -> dict:
    return json.loads(to_sarif(result or make_result(), base=base or Path.cwd()))


def test_sarif_validates_against_the_published_schema() -> None:
    doc = sarif()
    jsonschema.Draft4Validator.check_schema(SARIF_SCHEMA)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    # and the schema is not a pushover: a result without its message is refused
    broken = json.loads(json.dumps(doc))
    del broken["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(broken)


def test_sarif_run_names_slipway_and_its_rules() -> None:
    doc = sarif()
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "slipway"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    by_id = {r["id"]: r for r in driver["rules"]}
    assert set(by_id) == set(RULES)
    rbac = by_id["rbac-no-wildcard"]
    assert rbac["shortDescription"]["text"] == RULES["rbac-no-wildcard"].description
    assert rbac["properties"]["security-severity"] == "9.5"
    assert rbac["properties"]["tags"] == ["security", "CIS-K8S:5.1.3"]
    assert rbac["defaultConfiguration"]["level"] == "error"
    assert by_id["image-no-latest-tag"]["defaultConfiguration"]["level"] == "warning"
    assert by_id["image-no-latest-tag"]["properties"]["security-severity"] == "5.5"
    assert by_id["unused-rule"]["defaultConfiguration"] == {"enabled": False, "level": "none"}
    # GitHub ranks security alerts only: a rule without the security tag gets no score
    assert "security-severity" not in by_id["unused-rule"]["properties"]


def test_each_sarif_result_has_file_line_description_and_remediation() -> None:
    doc = sarif()
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert len(run["results"]) == len(FINDINGS)
    for f in FINDINGS:
        res = by_rule[f.rule]
        rule = rules[res["ruleIndex"]]
        assert rule["id"] == f.rule
        info = RULES[f.rule]
        assert info.description in rule["fullDescription"]["text"]
        assert " ".join(info.remediation.split()) in " ".join(rule["help"]["text"].split())
        assert " ".join(info.remediation.split()) in " ".join(rule["help"]["markdown"].split())
        (loc,) = res["locations"]
        physical = loc["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        uri = physical["artifactLocation"]["uri"]
        assert " " not in uri and "\\" not in uri
        if f.file:
            assert unquote(uri) == f.file
            assert physical["region"]["startLine"] == f.line
        else:  # code scanning needs a file: line 1 of the first scanned file
            assert unquote(uri) == sorted([SPACED, RBAC])[0]
            assert physical["region"]["startLine"] == 1
        assert loc["logicalLocations"][0]["name"] == f.object
        assert res["level"] == ("error" if f.level == "mandatory" else "warning")
        assert res["message"]["text"].startswith(f.object)


def test_sarif_marks_exemptions_as_suppressions_with_the_reason() -> None:
    results = {r["ruleId"]: r for r in sarif()["runs"][0]["results"]}
    assert results["rbac-no-wildcard"]["suppressions"] == [
        {"kind": "inSource", "justification": EXEMPTED.exempted}
    ]
    assert all("suppressions" not in r for k, r in results.items() if k != "rbac-no-wildcard")


def test_sarif_fingerprints_are_stable_and_ignore_the_line() -> None:
    first = sarif()["runs"][0]["results"]
    moved = make_result([*FINDINGS[:3], Finding(**{**MANDATORY.__dict__, "line": 40})])
    second = sarif(moved)["runs"][0]["results"]

    def prints(results: list[dict]) -> dict[str, str]:
        return {r["ruleId"]: r["partialFingerprints"]["slipwayFinding/v1"] for r in results}

    assert prints(first) == prints(second)
    assert len(set(prints(first).values())) == len(FINDINGS)
    assert fingerprint(MANDATORY, "a.yaml") != fingerprint(MANDATORY, "b.yaml")
    # a stack-wide finding keeps its fingerprint when the file it is shown on changes
    fewer = make_result(FINDINGS)
    fewer.files = [RBAC]
    assert (
        prints(sarif(fewer)["runs"][0]["results"])["networkpolicy-coverage"]
        == (prints(first)["networkpolicy-coverage"])
    )


def test_sarif_paths_are_relative_to_the_base(tmp_path: Path) -> None:
    inside = tmp_path / "repo" / "k8s" / "app.yaml"
    outside = tmp_path / "elsewhere.yaml"
    result = make_result(
        [
            Finding(**{**MANDATORY.__dict__, "file": str(inside)}),
            Finding(**{**ADVISORY.__dict__, "file": str(outside)}),
        ],
        notices=[],
    )
    results = sarif(result, base=tmp_path / "repo")["runs"][0]["results"]
    locs = {r["ruleId"]: r["locations"][0]["physicalLocation"] for r in results}
    assert locs["container-non-root"]["artifactLocation"] == {
        "uri": "k8s/app.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert locs["image-no-latest-tag"]["artifactLocation"] == {"uri": outside.as_uri()}


def test_sarif_notices_are_tool_notifications() -> None:
    (invocation,) = sarif()["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is True
    notes = invocation["toolExecutionNotifications"]
    assert [
        (n["level"], n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for n in notes
    ] == [
        ("error", "deploy/broken.yaml"),
        ("note", "deploy/kustomization.yaml"),
    ]
    assert notes[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 4}
    assert "region" not in notes[1]["locations"][0]["physicalLocation"]


def test_sarif_without_findings_validates() -> None:
    doc = sarif(make_result([], notices=[]))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    assert doc["runs"][0]["results"] == []


# -- JSON ------------------------------------------------------------------------------------------


def test_json_round_trips_every_finding_and_notice() -> None:
    text = to_json(make_result())
    doc = json.loads(text)
    assert doc["tool"] == "slipway" and doc["version"] == 1 and doc["config"] == "prod"
    assert doc["objects"] == 7 and doc["files"] == [SPACED, RBAC]
    assert doc["summary"] == {
        "exit_code": 1,
        "mandatory": 2,
        "advisory": 1,
        "exempted": 1,
        "skipped": 1,
        "not_parsed": 1,
    }
    back = {
        Finding(
            rule=d["rule"],
            level=d["level"],
            message=d["message"],
            file=d["file"],
            line=d["line"],
            object=d["object"],
            field=d["field"],
            exempted=d.get("reason"),
        )
        for d in doc["findings"]
    }
    assert back == set(FINDINGS)
    by_rule = {d["rule"]: d for d in doc["findings"]}
    assert by_rule["rbac-no-wildcard"]["status"] == "exempted"
    assert by_rule["container-non-root"]["status"] == "violation"
    assert "reason" not in by_rule["container-non-root"]
    assert by_rule["container-non-root"]["remediation"] == RULES["container-non-root"].remediation
    assert by_rule["container-non-root"]["severity"] == "high"
    notices = {Notice(**n) for n in doc["notices"]}
    assert notices == set(NOTICES)
    # stable: the same result in another order gives the same bytes
    shuffled = make_result(list(reversed(FINDINGS)), notices=list(reversed(NOTICES)))
    assert to_json(shuffled) == text


# -- JUnit -----------------------------------------------------------------------------------------


def junit(result: ScanResult | None = None) -> ET.Element:
    text = to_junit(result or make_result())
    JUNIT_XSD.validate(text)
    return ET.fromstring(text.encode())


def test_junit_validates_and_counts_failures() -> None:
    root = junit()
    assert root.tag == "testsuites" and root.get("name") == "slipway check"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(FINDINGS) == int(suite.get("tests"))
    failed = [c for c in cases if c.find("failure") is not None]
    assert sorted(c.get("name") for c in failed) == [
        "container-non-root: Deployment shop/web",
        "networkpolicy-coverage: (all objects)",
    ]
    assert suite.get("failures") == root.get("failures") == "2"
    assert suite.get("skipped") == "1"
    (skipped,) = [c for c in cases if c.find("skipped") is not None]
    assert EXEMPTED.exempted in skipped.find("skipped").get("message")
    (advisory,) = [c for c in cases if c.get("name").startswith("image-no-latest-tag")]
    assert advisory.find("failure") is None and "advisory" in advisory.find("system-out").text
    web = next(c for c in failed if c.get("classname") == SPACED)
    text = web.find("failure").text
    assert f"{SPACED}:31" in text and RULES["container-non-root"].remediation in text
    assert "deploy/broken.yaml:4: error:" in suite.find("system-err").text
    assert "deploy/kustomization.yaml: skipped:" in suite.find("system-out").text


def test_junit_xsd_is_not_a_pushover() -> None:
    good = to_junit(make_result())
    bad = good.replace(
        '<testsuite name="slipway check" tests="4"', '<testsuite name="slipway check"'
    )
    assert bad != good
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        JUNIT_XSD.validate(bad)


HOSTILE = Finding(
    rule="container-non-root",
    level="mandatory",
    message='a <b> & "c" ]]> \x1b[31mred\x00 \x07\nnext\r\n::warning::x \ufffe',
    file="deploy/\x1b]0;title\x07evil\nname.yaml",
    line=3,
    object="Deployment shop/\x1b[2Jweb",
    field="spec.template",
)


def test_junit_stays_valid_xml_with_markup_and_control_characters_in_values() -> None:
    root = junit(make_result([HOSTILE], notices=[]))
    case = root.find("testsuite/testcase")
    message = case.find("failure").get("message")
    assert message.startswith('a <b> & "c" ]]> \\x1b[31mred\\x00 \\x07 next ::warning::x')
    assert "\x1b" not in ET.tostring(root, encoding="unicode")
    assert case.get("classname") == "deploy/\\x1b]0;title\\x07evil\\x0aname.yaml"


def test_table_lines_carry_no_control_characters_and_stay_one_line() -> None:
    for terminal in (False, True):
        lines = [text for text, _ in table_lines(make_result([HOSTILE]), terminal=terminal)]
        for line in lines:
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in line), repr(line)
        assert not any(line.startswith("::") for line in lines)
    (plain, *_) = table_lines(make_result([HOSTILE], notices=[]), terminal=False)
    assert plain[0].startswith("deploy/\\x1b]0;title\\x07evil\\x0aname.yaml:3: mandatory ")


def test_sarif_stays_valid_with_control_characters() -> None:
    doc = sarif(make_result([HOSTILE]))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    assert "\x1b" not in doc["runs"][0]["results"][0]["message"]["text"]


def test_junit_without_findings_has_one_passing_case() -> None:
    root = junit(make_result([], notices=[]))
    (case,) = root.findall("testsuite/testcase")
    assert list(case) == [] and root.get("failures") == "0"


# -- table -----------------------------------------------------------------------------------------


def test_plain_table_has_one_line_per_finding_and_notice_and_the_summary() -> None:
    lines = [text for text, _ in table_lines(make_result(), terminal=False)]
    assert all("\n" not in line for line in lines)
    assert len(lines) == len(FINDINGS) + len(NOTICES) + 1
    fix = "List the verbs and resources the subject needs instead of '*'."
    assert lines[:-1] == [
        "deploy/broken.yaml:4: error: mapping values are not allowed",
        "deploy/kustomization.yaml: skipped: a kustomization",
        f"{SPACED}:27: advisory image-no-latest-tag: Deployment shop/web: {ADVISORY.message} "
        f"(fix: {RULES['image-no-latest-tag'].remediation})",
        f"{SPACED}:31: mandatory container-non-root: Deployment shop/web: {MANDATORY.message} "
        f"(fix: {RULES['container-non-root'].remediation})",
        f"{RBAC}:9: exempted rbac-no-wildcard: ClusterRole operator: {EXEMPTED.message} "
        f"(reason: {EXEMPTED.exempted})",
        f"mandatory networkpolicy-coverage: (all objects): {STACK_WIDE.message} "
        f"(fix: {RULES['networkpolicy-coverage'].remediation})",
    ]
    assert fix not in "\n".join(lines)  # exempted findings say why, not how to fix
    assert lines[-1] == (
        "exit 1: 7 objects in 2 files: 2 mandatory, 1 advisory, 1 exempted; "
        "1 file skipped, 1 not parsed"
    )
    assert sum(LONG_IMAGE in line for line in lines) == 2


def test_terminal_table_groups_by_file_and_object_and_says_each_fix_once() -> None:
    lines = [text for text, _ in table_lines(make_result(), terminal=True)]
    assert all("\n" not in line for line in lines)
    assert lines.count(SPACED) == 1 and lines.count("  Deployment shop/web") == 1
    joined = "\n".join(lines)
    assert LONG_IMAGE in joined
    for name in ("container-non-root", "image-no-latest-tag", "networkpolicy-coverage"):
        fix = " ".join(RULES[name].remediation.split())
        assert joined.count(fix) == 1, name
    assert "line 31: mandatory container-non-root" in joined
    assert f"(reason: {EXEMPTED.exempted})" in joined
    assert lines[-1].startswith("exit 1: 7 objects in 2 files")


def test_plain_table_of_a_clean_run_is_the_summary() -> None:
    assert table_lines(make_result([], notices=[]), terminal=False) == [
        (
            "exit 0: 7 objects in 2 files: 0 mandatory, 0 advisory, 0 exempted; "
            "0 files skipped, 0 not parsed",
            "bold",
        )
    ]


def test_an_exempted_mandatory_finding_does_not_fail_the_run() -> None:
    result = make_result([EXEMPTED, ADVISORY], notices=[])
    assert result.exit_code == 0
    assert table_lines(result, terminal=False)[-1][0].startswith("exit 0:")


# -- writing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "ext"), [("json", ".json"), ("sarif", ".sarif"), ("junit", ".xml"), ("table", ".txt")]
)
def test_write_report_into_a_folder_and_over_its_own_report(
    tmp_path: Path, fmt: str, ext: str
) -> None:
    text = render(make_result(), fmt)
    written = write_report(text, tmp_path, fmt)
    assert written == tmp_path / f"slipway-check{ext}"
    assert written.read_text(encoding="utf-8") == text
    assert is_our_report(written, fmt)
    again = render(make_result([], notices=[]), fmt)
    assert write_report(again, tmp_path, fmt) == written  # an earlier report is replaced
    assert written.read_text(encoding="utf-8") == again
    assert sorted(p.name for p in tmp_path.iterdir()) == [written.name]  # no temporary left


def test_write_report_to_a_named_file_and_a_new_folder(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.sarif"
    assert write_report(to_sarif(make_result(), base=tmp_path), path, "sarif") == path
    assert json.loads(path.read_text())["runs"][0]["tool"]["driver"]["name"] == "slipway"
    assert write_report(to_junit(make_result()), tmp_path / "reports", "junit") == (
        tmp_path / "reports" / "slipway-check.xml"
    )


def _linked_report(folder: Path) -> None:
    """A link to a slipway report: refused all the same (the link is what would be replaced)."""
    (folder / "target.sarif").write_text(to_sarif(make_result(), base=folder))
    os.symlink(folder / "target.sarif", folder / "link.sarif")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("setup", "out", "fmt", "says"),
    [
        # someone's file at the named path, and a report of another tool
        (
            lambda d: (d / "report.json").write_text('{"tool": "checkov"}'),
            "report.json",
            "json",
            "not a json report",
        ),
        (
            lambda d: (d / "r.sarif").write_text(
                '{"runs": [{"tool": {"driver": {"name": "checkov"}}}]}'
            ),
            "r.sarif",
            "sarif",
            "not a sarif report",
        ),
        (
            lambda d: (d / "r.xml").write_text('<testsuites name="pytest"/>'),
            "r.xml",
            "junit",
            "not a junit report",
        ),
        (
            lambda d: (d / "r.xml").write_text("not xml at all <"),
            "r.xml",
            "junit",
            "not a junit report",
        ),
        # a slipway report of another format is not replaced by this one
        (
            lambda d: (d / "r.json").write_text(to_sarif(make_result(), base=d)),
            "r.json",
            "json",
            "not a json report",
        ),
        # `--out .` where the user already has a file of that name
        (
            lambda d: (d / "slipway-check.sarif").write_text("mine"),
            ".",
            "sarif",
            "not a sarif report",
        ),
        # a folder where the file would go
        (lambda d: (d / "slipway-check.json").mkdir(), ".", "json", "is a folder"),
        # a manifest named by mistake
        (
            lambda d: (d / "deploy.yaml").write_text("kind: Deployment\n"),
            "deploy.yaml",
            "sarif",
            "ending .sarif or .json",
        ),
        (lambda d: None, "notes.md", "junit", "ending .xml"),
        (lambda d: (d / "Makefile").write_text("all:\n"), "Makefile", "json", "ending .json"),
        (
            _linked_report,
            "link.sarif",
            "sarif",
            "symbolic link",
        ),
        (lambda d: None, "", "json", "empty path"),
        (lambda d: (d / ".git").mkdir(), ".git/r.json", "json", ".git"),
    ],
)
def test_write_report_refuses_and_touches_nothing(
    tmp_path, monkeypatch, setup, out, fmt, says
) -> None:
    monkeypatch.chdir(tmp_path)
    setup(tmp_path)
    before = _snapshot(tmp_path)
    dirs = sorted(p for p in tmp_path.rglob("*") if p.is_dir())
    with pytest.raises(BadInput) as exc:
        write_report(render(make_result(), fmt), Path(out) if out else out, fmt)
    assert says in str(exc.value)
    assert str(exc.value).startswith("--out: ")
    assert exc.value.exit_code == 2
    assert _snapshot(tmp_path) == before
    assert sorted(p for p in tmp_path.rglob("*") if p.is_dir()) == dirs


@pytest.mark.parametrize("package", ["slipway", "policies"])
def test_write_report_refuses_slipways_own_source(package: str) -> None:
    import importlib

    inside = Path(importlib.import_module(package).__file__).parent / "report.json"
    with pytest.raises(BadInput, match="own source"):
        write_report(to_json(make_result()), inside, "json")
    assert not inside.exists()


def test_sarif_paths_default_to_the_git_work_tree(tmp_path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "k8s" / "apps").mkdir(parents=True)
    monkeypatch.chdir(repo / "k8s")
    assert repo_root() == repo
    result = make_result([Finding(**{**MANDATORY.__dict__, "file": "apps/web.yaml"})], notices=[])
    doc = json.loads(to_sarif(result, base=None))
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": "k8s/apps/web.yaml", "uriBaseId": "%SRCROOT%"}
    outside = tmp_path / "plain"
    outside.mkdir()
    assert repo_root(outside) == outside


def test_render_refuses_an_unknown_format() -> None:
    with pytest.raises(BadInput, match="table, json, sarif, junit"):
        render(make_result(), "html")


def test_every_rule_of_the_pack_makes_a_valid_sarif_rule_with_its_remediation() -> None:
    """The real pack's texts (backticks, quotes, long remediations) through the writer."""
    import policies

    rules = {
        p.name: RuleInfo(
            name=p.name,
            description=p.description,
            remediation=p.remediation_steps or "",
            severity=str(getattr(p.severity, "value", p.severity)).lower(),
            level="mandatory",
            tags=tuple(p.tags or ()),
        )
        for p in policies.all_policies()
    }
    assert len(rules) > 50
    findings = [
        Finding(rule=name, level="mandatory", message="m", file=SPACED, line=i + 1, object="X a")
        for i, name in enumerate(sorted(rules))
    ]
    result = ScanResult(config="prod", findings=findings, rules=rules, objects=1, files=[SPACED])
    doc = sarif(result)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    descriptors = doc["runs"][0]["tool"]["driver"]["rules"]
    for res in doc["runs"][0]["results"]:
        rule = descriptors[res["ruleIndex"]]
        info = rules[res["ruleId"]]
        assert " ".join(info.remediation.split()) in " ".join(rule["help"]["text"].split())
        assert ("security-severity" in rule["properties"]) == ("security" in info.tags)
    JUNIT_XSD.validate(to_junit(result))
