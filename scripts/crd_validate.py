"""Validate rendered custom resources against the OpenAPI schemas of their CRDs.

The mock engine accepts any dict as a custom resource's spec; the API server does not. This
judge checks each non-core manifest against the `openAPIV3Schema` of its CRD, kept as test
data under tests/schemas/crds/<group>/<Kind>-<version>.json (see SOURCES.md there), the way
the API server's strict field validation would: unknown fields are errors unless the schema
preserves them. CEL rules (`x-kubernetes-validations`) and formats are not evaluated.

Usage:
  crd_validate.py DIR_OR_FILE...                 judge rendered stacks (or single manifests)
  crd_validate.py --extract CRD.yaml... [--kinds K,K]   refresh the data set from upstream CRDs

Exit 0: all valid; 1: some error (one line each); 2: bad input.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core_manifests import CORE_GROUPS

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "tests" / "schemas" / "crds"

Schema = dict[str, Any]


class BadInput(Exception):
    """Input the judge cannot read (exit 2), as opposed to a manifest it finds invalid."""


@dataclass(frozen=True)
class Finding:
    """One error: where (file, resource, property path) and what."""

    file: Path
    resource: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.resource}: {self.path or '<root>'}: {self.message}"


def schema_file(api_version: str, kind: str, root: Path = SCHEMA_DIR) -> Path:
    """Where the schema of `kind` at `api_version` (group/version) lives in the data set."""
    group, _, version = api_version.rpartition("/")
    return root / (group or "core") / f"{kind}-{version}.json"


def to_json_schema(node: Any, top: bool = True) -> Any:
    """Translate a structural OpenAPI v3 schema into JSON Schema 2020-12.

    Why: jsonschema knows neither `nullable` nor the `x-kubernetes-*` extensions, and
    JSON Schema allows unknown fields where the API server prunes or rejects them.
    """
    if isinstance(node, list):
        return [to_json_schema(n, top=False) for n in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: to_json_schema(v, top=False) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not") or key in ("allOf", "anyOf", "oneOf"):
            out[key] = to_json_schema(value, top=False)
        else:
            out[key] = value
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["type"] = ["integer", "string"]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        # OpenAPI 3.0 spells an exclusive bound as a flag beside the limit
        if isinstance(out.get(bound), bool) and out.pop(bound) and limit in out:
            out[bound] = out.pop(limit)
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    embedded = out.pop("x-kubernetes-embedded-resource", False)
    if embedded or top:
        # ObjectMeta is the API server's to validate, not the CRD's; an embedded
        # resource also carries apiVersion and kind implicitly.
        props = out.setdefault("properties", {})
        props["metadata"] = {"type": "object"}
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
    if out.get("type") == "object" and not preserve and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if out.pop("nullable", False):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list):
            out["type"] = [*kind, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def load_validator(
    api_version: str, kind: str, root: Path = SCHEMA_DIR
) -> Draft202012Validator | None:
    """The validator for a kind, or None when the data set has no CRD for it."""
    path = schema_file(api_version, kind, root)
    if not path.is_file():
        return None
    return Draft202012Validator(to_json_schema(json.loads(path.read_text())))


def _path(parts: Iterator[Any] | Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")


def _findings(error: ValidationError, file: Path, resource: str) -> Iterator[Finding]:
    """One finding per unknown field (named like kubectl's strict validation does)."""
    base = _path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        for field in sorted(k for k in error.instance if k not in known):
            path = f"{base}.{field}" if base else field
            yield Finding(file, resource, path, f'unknown field "{path}"')
        return
    yield Finding(file, resource, base, error.message)


def resource_name(doc: dict[str, Any]) -> str:
    """`Kind namespace/name`, the way an operator would look the object up."""
    meta = doc.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{doc.get('kind')} {ns}/{name}" if ns else f"{doc.get('kind')} {name}"


def manifest_files(targets: list[Path]) -> list[Path]:
    """Rendered manifests under the given stack outputs (or the given files themselves)."""
    files: list[Path] = []
    for target in targets:
        if target.is_file():
            files.append(target)
        elif target.is_dir():
            files += [p for p in sorted(target.rglob("*.yaml")) if "manifests" in p.parts]
        else:
            raise BadInput(f"{target}: no such file or directory")
    if not files:
        raise BadInput("no manifests under " + " ".join(str(t) for t in targets))
    return files


def judge(files: list[Path], root: Path = SCHEMA_DIR) -> tuple[list[Finding], int]:
    """Check every custom resource in `files`; returns the findings and how many were judged."""
    docs: list[tuple[Path, Any]] = []
    for file in files:
        try:
            docs += [(file, d) for d in yaml.safe_load_all(file.read_text()) if d is not None]
        except yaml.YAMLError as exc:
            raise BadInput(f"{file}: not YAML: {exc}") from exc
    return judge_documents(docs, root)


def judge_documents(
    docs: Iterable[tuple[Path, Any]], root: Path = SCHEMA_DIR
) -> tuple[list[Finding], int]:
    """Check every custom resource among `(where, object)` pairs (rendered manifests need no
    files); returns the findings and how many were judged."""
    validators: dict[tuple[str, str], Draft202012Validator | None] = {}
    findings: list[Finding] = []
    judged = 0
    for file, doc in docs:
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
            raise BadInput(f"{file}: not a Kubernetes object (apiVersion and kind needed)")
        api_version, kind = str(doc["apiVersion"]), str(doc["kind"])
        if api_version in CORE_GROUPS:
            continue
        judged += 1
        resource = resource_name(doc)
        key = (api_version, kind)
        if key not in validators:
            validators[key] = load_validator(api_version, kind, root)
        validator = validators[key]
        if validator is None:
            wanted = schema_file(api_version, kind, root).relative_to(root)
            message = f"the CRD data set has no schema for {kind} {api_version}"
            findings.append(Finding(file, resource, "", f"{message} (no {wanted})"))
            continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            findings.extend(_findings(error, file, resource))
    return findings, judged


def extract(crd_files: list[Path], kinds: set[str] | None, root: Path = SCHEMA_DIR) -> list[Path]:
    """Write the openAPIV3Schema of each served version of each CRD (optionally only `kinds`)."""
    written: list[Path] = []
    for crd_file in crd_files:
        for doc in yaml.safe_load_all(crd_file.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            kind = spec["names"]["kind"]
            if kinds and kind not in kinds:
                continue
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = (version.get("schema") or spec.get("validation") or {})["openAPIV3Schema"]
                out = schema_file(f"{spec['group']}/{version['name']}", kind, root)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(copy.deepcopy(schema), indent=1, sort_keys=True) + "\n")
                written.append(out)
    return written


def main(argv: list[str]) -> int:
    """CLI entry: judge (default) or --extract."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    if argv[0] == "--extract":
        args = argv[1:]
        kinds: set[str] | None = None
        if "--kinds" in args:
            i = args.index("--kinds")
            kinds = set(args[i + 1].split(","))
            args = args[:i] + args[i + 2 :]
        for path in extract([Path(a) for a in args], kinds):
            print(path)
        return 0
    try:
        findings, judged = judge(manifest_files([Path(a) for a in argv]))
    except BadInput as exc:
        print(f"crd_validate: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    print(f"crd_validate: {judged} custom resources, {len(findings)} errors", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
