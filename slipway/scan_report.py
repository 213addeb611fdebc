"""What `slipway check` prints and writes: a table for people, JSON, SARIF 2.1.0 for GitHub
code scanning, JUnit XML for CI test views, all from one `ScanResult`.

Every format says the same thing: each finding with its file and the line of the offending
field, the rule's description and remediation, exemptions with their reason, and the files
that were skipped or could not be parsed. Output is deterministic (sorted, no timestamps), so
two runs over the same files give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import quote

from slipway import __version__
from slipway.errors import BadInput
from slipway.scan_types import Finding, Notice, RuleInfo, ScanResult

FORMATS = ("table", "json", "sarif", "junit")
"""What `--format` accepts."""

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "table": (".txt", ".log"),
    "json": (".json",),
    "sarif": (".sarif", ".json"),
    "junit": (".xml",),
}
"""File name endings a report of each format may have; the first one names the file written
into a folder (`slipway-check.<ext>`)."""

JUNIT_SUITE = "slipway check"
INFORMATION_URI = "https://github.com/slipway-dev/slipway"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT = "slipwayFinding/v1"
"""The partialFingerprints key: the rule, file, object and field of a finding, hashed, so GitHub
code scanning keeps one alert for it across runs even when lines above it move."""

SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
"""GitHub code scanning ranks security alerts by `properties.security-severity` (a CVSS-like
score: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low)."""

SARIF_LEVEL = {"mandatory": "error", "advisory": "warning"}


# -- shared --------------------------------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _printable(text: str) -> str:
    """Control characters shown as `\\xNN`: a manifest's value must not move the cursor,
    colour a terminal, start a new line (a CI log reads `::command::` at a line's start) or
    make XML invalid. Spaces stay as they are (file names keep theirs)."""
    return _CONTROL.sub(
        lambda m: f"\\u{ord(m[0]):04x}" if ord(m[0]) > 0xFF else f"\\x{ord(m[0]):02x}", str(text)
    )


def _one_line(text: str) -> str:
    """Whitespace (newlines included) folded to single spaces, then `_printable`: one
    finding, one line."""
    return _printable(" ".join(str(text).split()))


def _rule(result: ScanResult, name: str) -> RuleInfo:
    """The rule's info, or a neutral one when the pack did not describe it."""
    info = result.rules.get(name)
    if info is not None:
        return info
    return RuleInfo(name=name, description="", remediation="", severity="medium", level="advisory")


def _sort_key(f: Finding) -> tuple[Any, ...]:
    # stack-wide findings (no file) come after those in a file
    return (f.file == "", f.file, f.line, f.rule, f.object, f.field, f.message)


def sorted_findings(result: ScanResult) -> list[Finding]:
    """Findings in report order: by file, line, rule (stack-wide ones last)."""
    return sorted(result.findings, key=_sort_key)


def _notice_key(n: Notice) -> tuple[Any, ...]:
    return (n.file, n.line, n.kind, n.reason)


def summary(result: ScanResult) -> dict[str, int]:
    """The counts every format reports: blocking (mandatory, not exempted), advisory (not
    exempted), exempted, files skipped and files not parsed."""
    live = [f for f in result.findings if f.exempted is None]
    return {
        "exit_code": result.exit_code,
        "mandatory": sum(f.level == "mandatory" for f in live),
        "advisory": sum(f.level != "mandatory" for f in live),
        "exempted": sum(f.exempted is not None for f in result.findings),
        "skipped": sum(n.kind == "skipped" for n in result.notices),
        "not_parsed": sum(n.kind == "error" for n in result.notices),
    }


def summary_line(result: ScanResult) -> str:
    """`exit <code>: <n> objects in <n> files: ...`: the last line of the table."""
    s = summary(result)
    return (
        f"exit {s['exit_code']}: {_count(result.objects, 'object')} in "
        f"{_count(len(result.files), 'file')}: "
        f"{s['mandatory']} mandatory, {s['advisory']} advisory, {s['exempted']} exempted; "
        f"{_count(s['skipped'], 'file')} skipped, {s['not_parsed']} not parsed"
    )


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


SUMMARY_LINE = re.compile(r"^exit \d+: \d+ objects? in \d+ files?: ")


# -- table ---------------------------------------------------------------------------------------


def _where(file: str, line: int) -> str:
    if not file:
        return ""
    return f"{_printable(file)}:{line}: " if line > 0 else f"{_printable(file)}: "


def _style(f: Finding) -> str | None:
    if f.exempted is not None:
        return "dim"
    return "red" if f.level == "mandatory" else "yellow"


def _plain_finding(result: ScanResult, f: Finding) -> str:
    head = _where(f.file, f.line)
    message = _one_line(f.message)
    if f.exempted is not None:
        return (
            f"{head}exempted {f.rule}: {_one_line(f.object)}: {message} "
            f"(reason: {_one_line(f.exempted)})"
        )
    line = f"{head}{f.level} {f.rule}: {_one_line(f.object)}: {message}"
    fix = _one_line(_rule(result, f.rule).remediation)
    return f"{line} (fix: {fix})" if fix else line


def _plain_notice(n: Notice) -> str:
    if n.kind == "error":
        return f"{_where(n.file, n.line)}error: {_one_line(n.reason)}"
    return f"{_printable(n.file)}: skipped: {_one_line(n.reason)}"


def table_lines(result: ScanResult, *, terminal: bool) -> list[tuple[str, str | None]]:
    """The report as (line, rich style) pairs, the summary line last.

    Off a terminal (a pipe, a CI log, a file): one finding or notice per line, never wrapped,
    `<file>:<line>: <level> <rule>: <object>: <message> (fix: <remediation>)`, the form
    compilers use, so editors and `grep` find each one; sorted by file, line and rule.
    On a terminal: grouped by file, then object, each rule's remediation said once at the end.
    The caller prints each line whole (soft wrap), so no path or image is ever cut.
    """
    return _terminal_lines(result) if terminal else _plain_lines(result)


def _plain_lines(result: ScanResult) -> list[tuple[str, str | None]]:
    rows: list[tuple[tuple[Any, ...], str, str | None]] = []
    for f in result.findings:
        rows.append((_sort_key(f), _plain_finding(result, f), _style(f)))
    for n in result.notices:
        key = (False, n.file, n.line, "", "", "", n.reason)
        rows.append((key, _plain_notice(n), "red" if n.kind == "error" else "dim"))
    rows.sort(key=lambda r: r[0])
    out: list[tuple[str, str | None]] = [(text, style) for _, text, style in rows]
    out.append((summary_line(result), "bold red" if result.exit_code else "bold"))
    return out


def _terminal_lines(result: ScanResult) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    findings = sorted_findings(result)
    if findings:
        out.append((f"Policy findings (config: {result.config}):", "bold"))
    current_file: str | None = None
    current_object: str | None = None
    for f in findings:
        if f.file != current_file:
            current_file, current_object = f.file, None
            out.append((_printable(f.file) or "(stack-wide)", "bold"))
        if f.object != current_object:
            current_object = f.object
            out.append((f"  {_one_line(f.object)}", "cyan"))
        where = f"line {f.line}: " if f.line > 0 else ""
        text = f"    {where}{f.level} {f.rule}: {_one_line(f.message)}"
        if f.field:
            text += f" [{_one_line(f.field)}]"
        if f.exempted is not None:
            text = f"    {where}exempted {f.rule}: {_one_line(f.message)}"
            text += f" (reason: {_one_line(f.exempted)})"
        out.append((text, _style(f)))
    if result.notices:
        out.append(("", None))
        out.append(("Files not scanned:", "bold"))
        for n in sorted(result.notices, key=_notice_key):
            out.append((f"  {_plain_notice(n)}", "red" if n.kind == "error" else "dim"))
    fixes = sorted({f.rule for f in findings if f.exempted is None})
    if fixes:
        out.append(("", None))
        out.append(("How to fix:", "bold"))
        for name in fixes:
            rule = _rule(result, name)
            text = _one_line(rule.remediation) or _one_line(rule.description) or "(no remediation)"
            out.append((f"  {name}: {text}", None))
    if out:
        out.append(("", None))
    out.append((summary_line(result), "bold red" if result.exit_code else "bold"))
    return out


# -- JSON ----------------------------------------------------------------------------------------


def _finding_doc(result: ScanResult, f: Finding) -> dict[str, Any]:
    rule = _rule(result, f.rule)
    doc: dict[str, Any] = {
        "rule": f.rule,
        "level": f.level,
        "severity": rule.severity,
        "status": "violation" if f.exempted is None else "exempted",
        "message": f.message,
        "file": f.file,
        "line": f.line,
        "field": f.field,
        "object": f.object,
        "description": rule.description,
        "remediation": rule.remediation,
    }
    if f.exempted is not None:
        doc["reason"] = f.exempted
    return doc


def _json_lines(doc: dict[str, Any]) -> str:
    """Sorted, compact JSON on one line: one call of the C encoder (an indented dump runs the
    pure-Python encoder, a third of a large repository's check; one call per finding was
    still twice this). `jq .` shows it indented."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n"


def to_json(result: ScanResult) -> str:
    """The whole result as stable JSON (sorted keys and findings), for scripts and dashboards.

    `findings[].status` is `violation` or `exempted` (then `reason` says why); `line` is the
    1-based line of the offending field, 0 for a stack-wide finding (`file` empty).
    """
    doc = {
        "version": 1,
        "tool": "slipway",
        "slipway_version": __version__,
        "config": result.config,
        "objects": result.objects,
        "files": sorted(result.files),
        "summary": summary(result),
        "findings": [_finding_doc(result, f) for f in sorted_findings(result)],
        "notices": [
            {"file": n.file, "kind": n.kind, "line": n.line, "reason": n.reason}
            for n in sorted(result.notices, key=_notice_key)
        ],
    }
    return _json_lines(doc)


# -- SARIF ---------------------------------------------------------------------------------------


def repo_root(start: Path | None = None) -> Path:
    """The git work tree holding `start` (the current folder by default), else `start`:
    code scanning matches SARIF paths against the repository's files from its root."""
    here = Path(os.path.abspath(start if start is not None else Path.cwd()))
    for folder in (here, *here.parents):
        if os.path.lexists(folder / ".git"):
            return folder
    return here


def artifact_uri(file: str, base: Path | None) -> tuple[str, str | None]:
    """(uri, uriBaseId) of a scanned file: relative to `base` (the repository root; when None,
    the git work tree around the current folder, else the current folder) with forward
    slashes and percent-encoding, under `%SRCROOT%`; a file outside `base` as an absolute
    `file:` URI without a base."""
    root = Path(os.path.abspath(base if base is not None else repo_root()))
    absolute = Path(os.path.abspath(file))
    try:
        rel = absolute.relative_to(root)
    except ValueError:
        return absolute.as_uri(), None
    return quote(rel.as_posix(), safe="/"), "%SRCROOT%"


def fingerprint(f: Finding, uri: str) -> str:
    """Stable identity of a finding: rule, file, object and field (not the line, which
    moves when lines are added above it)."""
    raw = "\0".join((f.rule, uri, f.object, f.field))
    return hashlib.sha256(raw.encode()).hexdigest()


def _rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    description = _one_line(rule.description) or rule.name
    remediation = rule.remediation.strip()
    help_text = f"{description}\n\nHow to fix: {remediation}" if remediation else description
    help_md = f"{description}\n\n**How to fix:** {remediation}" if remediation else description
    properties: dict[str, Any] = {"tags": list(rule.tags), "precision": "high"}
    # GitHub reads security-severity on rules tagged `security` only; an operations rule
    # (probes, replicas) is no security alert and keeps the plain error/warning level.
    if "security" in rule.tags and rule.severity in SECURITY_SEVERITY:
        properties["security-severity"] = SECURITY_SEVERITY[rule.severity]
    config: dict[str, Any] = {"level": SARIF_LEVEL.get(rule.level, "warning")}
    if rule.level == "disabled":
        config = {"enabled": False, "level": "none"}
    return {
        "id": rule.name,
        "name": rule.name,
        "shortDescription": {"text": description},
        "fullDescription": {"text": description},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": config,
        "properties": properties,
    }


def _location(uri: str, base_id: str | None, line: int) -> dict[str, Any]:
    artifact: dict[str, Any] = {"uri": uri}
    if base_id:
        artifact["uriBaseId"] = base_id
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if line > 0:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical}


def to_sarif(result: ScanResult, *, base: Path | None) -> str:
    """SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer): one run.

    Each result names its rule (`ruleId`, `ruleIndex` into `tool.driver.rules`, whose `help`
    holds the remediation), its file relative to `base` (the repository root) and the line of
    the offending field, and the object as a logical location. An exempted finding carries a
    `suppressions` entry with the reason. Code scanning needs a file on every result, so a
    stack-wide finding points at line 1 of the first scanned file. Skipped and unparsable
    files are tool notifications of the run's invocation.
    """
    findings = sorted_findings(result)
    names = sorted(set(result.rules) | {f.rule for f in findings})
    index = {name: i for i, name in enumerate(names)}
    rules = [_rule_descriptor(_rule(result, name)) for name in names]
    anchor = sorted(result.files)[0] if result.files else ""
    results = []
    for f in findings:
        file, line = (f.file, f.line) if f.file else (anchor, 1)
        where = ""
        entry: dict[str, Any] = {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": SARIF_LEVEL.get(f.level, "warning"),
            "message": {"text": _sarif_message(f)},
        }
        location: dict[str, Any] = {}
        if file:
            uri, base_id = artifact_uri(file, base)
            location = _location(uri, base_id, max(line, 1))
            # a stack-wide finding's identity must not follow the file it is shown on
            where = uri if f.file else ""
        location["logicalLocations"] = [{"name": f.object, "kind": "resource"}]
        entry["locations"] = [location]
        entry["partialFingerprints"] = {FINGERPRINT: fingerprint(f, where)}
        props: dict[str, Any] = {"object": f.object}
        if f.field:
            props["field"] = f.field
        entry["properties"] = props
        if f.exempted is not None:
            entry["suppressions"] = [{"kind": "inSource", "justification": f.exempted}]
        results.append(entry)
    notifications = []
    for n in sorted(result.notices, key=_notice_key):
        uri, base_id = artifact_uri(n.file, base)
        notifications.append(
            {
                "level": "error" if n.kind == "error" else "note",
                "message": {
                    "text": f"{n.file}: {'not parsed' if n.kind == 'error' else 'skipped'}: "
                    f"{_one_line(n.reason)}"
                },
                "locations": [_location(uri, base_id, n.line)],
            }
        )
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "slipway",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "results": results,
        "properties": {"config": result.config, "objects": result.objects},
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _sarif_message(f: Finding) -> str:
    text = f"{_one_line(f.object)}: {_one_line(f.message)}"
    if f.field:
        text += f" (field {f.field})"
    if not f.file:
        text += " (stack-wide: judged over all objects)"
    return text


# -- JUnit ---------------------------------------------------------------------------------------


def to_junit(result: ScanResult) -> str:
    """JUnit XML for CI test views (GitLab, Jenkins, Azure Pipelines, test reporters).

    One testsuite, `slipway check`; one testcase per finding, named `<rule>: <object>`, its
    classname the file. The verdicts agree with the exit code: a mandatory finding is a
    `<failure>` (message, file:line, field, remediation), an exempted one is `<skipped>` with
    its reason, an advisory one passes with its text in `<system-out>` (it does not fail the
    run). Skipped and unparsable files are listed in the suite's `<system-out>` and
    `<system-err>`. A run without findings has one passing testcase, so CI shows the check ran.
    """
    findings = sorted_findings(result)
    s = summary(result)
    failures = sum(f.blocking for f in findings)
    skipped = s["exempted"]
    tests = max(len(findings), 1)
    counts = {"tests": str(tests), "failures": str(failures), "errors": "0"}
    root = ET.Element("testsuites", {"name": JUNIT_SUITE, **counts})
    suite = ET.SubElement(
        root, "testsuite", {"name": JUNIT_SUITE, **counts, "skipped": str(skipped)}
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("config", _printable(result.config)),
        ("objects", str(result.objects)),
        ("files", str(len(result.files))),
        ("exit_code", str(result.exit_code)),
        ("slipway_version", __version__),
    ):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for f in findings:
        rule = _rule(result, f.rule)
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": f"{f.rule}: {_one_line(f.object)}",
                "classname": _printable(f.file) or "(stack-wide)",
            },
        )
        detail = _junit_detail(f, rule)
        if f.exempted is not None:
            el = ET.SubElement(case, "skipped", {"message": f"exempted: {_one_line(f.exempted)}"})
            el.text = detail
        elif f.level == "mandatory":
            el = ET.SubElement(
                case, "failure", {"type": "mandatory", "message": _one_line(f.message)}
            )
            el.text = detail
        else:
            ET.SubElement(case, "system-out").text = f"advisory: {_one_line(f.message)}\n{detail}"
    if not findings:
        ET.SubElement(suite, "testcase", {"name": "no findings", "classname": "slipway check"})
    skipped_files = [n for n in result.notices if n.kind == "skipped"]
    errors = [n for n in result.notices if n.kind == "error"]
    if skipped_files:
        ET.SubElement(suite, "system-out").text = "\n".join(
            _plain_notice(n) for n in sorted(skipped_files, key=_notice_key)
        )
    if errors:
        ET.SubElement(suite, "system-err").text = "\n".join(
            _plain_notice(n) for n in sorted(errors, key=_notice_key)
        )
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _junit_detail(f: Finding, rule: RuleInfo) -> str:
    lines = []
    if f.file:
        file = _printable(f.file)
        lines.append(f"{file}:{f.line}" if f.line > 0 else file)
    lines.append(f"object: {_one_line(f.object)}")
    if f.field:
        lines.append(f"field: {_one_line(f.field)}")
    lines.append(f"severity: {rule.severity}")
    if rule.description:
        lines.append(f"rule: {_one_line(rule.description)}")
    if rule.remediation:
        lines.append(f"fix: {_one_line(rule.remediation)}")
    if f.exempted is not None:
        lines.append(f"exempted: {_one_line(f.exempted)}")
    return "\n".join(lines)


def render(result: ScanResult, fmt: str, *, base: Path | None = None) -> str:
    """The report text in `fmt` (one of FORMATS); the table as off a terminal."""
    if fmt == "json":
        return to_json(result)
    if fmt == "sarif":
        return to_sarif(result, base=base)
    if fmt == "junit":
        return to_junit(result)
    if fmt == "table":
        return "".join(line + "\n" for line, _ in table_lines(result, terminal=False))
    raise BadInput(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", field="--format")


# -- writing -------------------------------------------------------------------------------------

MAX_REPORT = 256 << 20
"""Size past which an existing file is not read to see whether it is ours (it is not)."""


def is_our_report(path: Path, fmt: str) -> bool:
    """True when `path` is a regular file holding a report slipway wrote in `fmt`, so writing
    over it loses nothing of the user's: JSON with `"tool": "slipway"`, SARIF whose first
    run's driver is slipway, JUnit whose root is the `slipway check` suite, a table whose
    last line is the summary."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_REPORT:
            return False
        raw = path.read_bytes()
    except OSError:
        return False
    try:
        if fmt == "json":
            doc = json.loads(raw)
            return isinstance(doc, dict) and doc.get("tool") == "slipway" and "findings" in doc
        if fmt == "sarif":
            doc = json.loads(raw)
            return doc["runs"][0]["tool"]["driver"]["name"] == "slipway"
        if fmt == "junit":
            root = ET.fromstring(raw)
            return root.tag in ("testsuites", "testsuite") and root.get("name") == JUNIT_SUITE
        if fmt == "table":
            lines = raw.decode("utf-8").rstrip("\n").splitlines()
            return bool(lines) and SUMMARY_LINE.match(lines[-1]) is not None
    except (ValueError, TypeError, KeyError, IndexError, ET.ParseError, RecursionError):
        return False
    return False


def _own_source() -> list[Path]:
    """Folders of slipway's own code (the CLI and its policy pack): never a report's home.
    Found without importing the pack (that would load the Pulumi SDK)."""
    import importlib.util

    import slipway

    folders = [Path(slipway.__file__).resolve().parent]
    try:
        spec = importlib.util.find_spec("policies")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        folders.append(Path(spec.origin).resolve().parent)
    return folders


def report_path(raw: str | os.PathLike[str], fmt: str) -> Path:
    """Where a `fmt` report for `--out raw` goes, or BadInput (field `--out`, nothing written).

    A path ending in the format's extension is the file; an existing folder, a path ending in
    `/` or a path without an extension is a folder that gets `slipway-check.<ext>`. Refused:
    an empty path, any other extension (a typo must not overwrite `deploy.yaml`), a symbolic
    link, an existing file that is not a report slipway wrote in that format, and a place in
    slipway's own source or in a `.git` folder.
    """
    if fmt not in EXTENSIONS:
        raise BadInput(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", field="--format")
    text = os.fspath(raw)
    if not text.strip():
        raise BadInput("an empty path is not an output (an unset variable?)", field="--out")
    exts = EXTENSIONS[fmt]
    given = Path(os.path.abspath(text))
    if os.path.islink(given):
        raise BadInput(f"{text} is a symbolic link; give the real path", field="--out")
    folder = (
        text.endswith(("/", os.sep))
        or given.is_dir()
        or (not given.suffix and not os.path.lexists(given))
    )
    if folder:
        target = given / f"slipway-check{exts[0]}"
    elif given.suffix.lower() in exts:
        target = given
    else:
        raise BadInput(
            f"{text}: a {fmt} report is written to a path ending "
            f"{' or '.join(exts)}, or into a folder (as slipway-check{exts[0]}); "
            "slipway will not write a file of another kind",
            field="--out",
        )
    if target.is_symlink():
        raise BadInput(f"{target} is a symbolic link; give the real path", field="--out")
    resolved = Path(os.path.realpath(target))
    if ".git" in resolved.parts:
        raise BadInput(f"{text} is inside a .git folder; give another path", field="--out")
    for src in _own_source():
        if src == resolved or src in resolved.parents:
            raise BadInput(
                f"{text} is inside slipway's own source ({src}); write the report elsewhere",
                field="--out",
            )
    if os.path.lexists(target) and not is_our_report(target, fmt):
        kind = "a folder" if target.is_dir() else f"not a {fmt} report slipway wrote"
        raise BadInput(
            f"{target} exists and is {kind}; slipway will not replace it: give a new path, "
            "or remove that file yourself",
            field="--out",
        )
    from slipway.outdir import check_parents

    check_parents(target, text)
    return target


def write_report(text: str, path: str | os.PathLike[str], fmt: str) -> Path:
    """Write a `fmt` report for `--out path` atomically (a temporary file in the same folder,
    then a rename) and return the file written. Pass `--out` as the user typed it (a str):
    a trailing `/` says "a folder". Whatever `report_path` refuses raises
    BadInput (exit 2) before anything is touched; an OS error while writing also does, and
    leaves the previous file as it was."""
    from slipway.outdir import write_text_atomically

    target = report_path(path, fmt)
    write_text_atomically(target, text, prefix=".slipway-check-")
    return target
