"""docs/other-languages.md holds to the plugin it describes.

No Pulumi CLI runs here, so the programs are judged by what can judge them offline: the YAML
program by Pulumi's own project-file schema and by the plugin's schema (which Pulumi's
analyzer inferred), the TypeScript program's arguments by Node.js (a JavaScript engine reads
the object literal), and both by the models the plugin validates with. The error example is
what the plugin really says.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from markdown_it import MarkdownIt

from slipway_components import plugin
from tests.test_component_plugin import service_inputs

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "other-languages.md"
SCHEMA = json.loads((REPO / "components" / "schema.json").read_text())
PROJECT_SCHEMA = REPO / "tests" / "schemas" / "pulumi" / "project.json"
MICROSERVICE = "slipway-components:index:Microservice"


def fences(info: str) -> list[str]:
    tokens = MarkdownIt().parse(DOC.read_text())
    return [t.content for t in tokens if t.type == "fence" and t.info.strip() == info]


def _inputs_known_to_the_schema(properties: dict[str, Any], where: str) -> None:
    """Every property is a schema input (nested objects too), every required one is given."""

    def walk(value: Any, spec: dict[str, Any], path: str) -> None:
        ref = spec.get("$ref") or spec.get("items", {}).get("$ref")
        if spec.get("type") == "array" and isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, spec["items"], f"{path}[{i}]")
            return
        if ref and isinstance(value, dict) and ref.startswith("#/types/"):
            object_type = SCHEMA["types"][ref.removeprefix("#/types/")]
            if object_type.get("type") != "object":
                return
            known = object_type.get("properties", {})
            unknown = sorted(set(value) - set(known))
            assert not unknown, f"{where}: {path}: {unknown} are not inputs of {ref}"
            for key, item in value.items():
                walk(item, known[key], f"{path}.{key}")

    resource = SCHEMA["resources"][MICROSERVICE]
    inputs = resource["inputProperties"]
    unknown = sorted(set(properties) - set(inputs))
    assert not unknown, f"{where}: {unknown} are not inputs of Microservice"
    missing = sorted(set(resource.get("requiredInputs", [])) - set(properties))
    assert not missing, f"{where}: required inputs {missing} are not given"
    for key, value in properties.items():
        walk(value, inputs[key], key)


def _yaml_program() -> dict[str, Any]:
    (text,) = fences("yaml")
    return yaml.safe_load(text)


def _project_errors(program: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(json.loads(PROJECT_SCHEMA.read_text()))
    return [e.message for e in validator.iter_errors(program)]


def test_the_yaml_program_is_a_valid_pulumi_project_file() -> None:
    assert _project_errors(_yaml_program()) == []
    planted = {**_yaml_program(), "packages": {"slipway-components": 5}}
    assert _project_errors(planted), "the project schema let a broken packages entry through"


def test_the_yaml_programs_microservice_gives_schema_inputs_the_models_accept() -> None:
    program = _yaml_program()
    services = {name: r for name, r in program["resources"].items() if r["type"] == MICROSERVICE}
    assert services, "the YAML program builds no Microservice"
    for name, resource in services.items():
        properties = resource["properties"]
        _inputs_known_to_the_schema(properties, f"YAML {name}")
        # ${...} interpolations are the engine's; any string stands for them here
        plain = json.loads(re.sub(r'"\$\{[^}]+\}"', '"from-config"', json.dumps(properties)))
        assert plugin.microservice_args(plain).service_name == properties["serviceName"]


def _typescript_args() -> dict[str, Any]:
    """The object literal given to `new slipway.Microservice("orders", {...})`, read by
    Node.js with `config.requireSecret` standing in for the real config."""
    (text,) = fences("typescript")
    match = re.search(r'new slipway\.Microservice\(\s*"[^"]+",\s*(\{.*?\n    \}),', text, re.S)
    assert match, "no `new slipway.Microservice(name, {...})` in the TypeScript program"
    script = (
        "const config = { requireSecret: (key) => `secret:${key}` };\n"
        f"process.stdout.write(JSON.stringify({match[1]}));\n"
    )
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the TypeScript literal cannot be read")
    proc = subprocess.run([node, "-e", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_typescript_programs_arguments_are_schema_inputs_the_models_accept() -> None:
    args = _typescript_args()
    _inputs_known_to_the_schema(args, "TypeScript orders")
    built = plugin.microservice_args(args)
    assert built.strategy.type == "blue-green"


def test_the_error_example_is_what_the_plugin_says() -> None:
    shown = next(f for f in fences("") if f.startswith("invalid Microservice inputs:"))
    args = service_inputs(image="nginx:latest", ports=[{"port": 8080}, {"port": 80}])
    with pytest.raises(ValueError) as err:
        plugin.microservice_args(args)
    assert str(err.value) == shown.rstrip("\n")


def test_a_misspelled_input_in_a_program_is_caught() -> None:
    """The judge bites: a program with an input the schema lacks fails it."""
    with pytest.raises(AssertionError, match="imagee"):
        _inputs_known_to_the_schema({"imagee": "x"}, "planted")
    with pytest.raises(AssertionError, match="pathh"):
        _inputs_known_to_the_schema(service_inputs(liveness={"pathh": "/x"}), "planted")
