"""Judge each resource's recorded inputs against the provider SDK's own typed `*Args`.

The mock engine accepts any inputs, so a misspelled key or a string where a list belongs passes
the offline preview and fails only at `pulumi up`. The SDKs already state what the providers
accept: every resource class has an `@pulumi.input_type` Args class whose getters carry the wire
name (`pulumi.getter(name="cidrBlock")`) and a type annotation (`pulumi.Input[Sequence[...]]`).
A property is required when its annotation does not admit None (the same rule the SDK's
`_internal_init` enforces with "Missing required property").

Token -> class: importing `pulumi_<pkg>` runs the SDK's `_utilities.register`, which registers
one resource module per `<pkg>:<mod>` with the engine (`pulumi.runtime.rpc`); that module's
`mod_info` maps each token to the class name inside its Python package (`fqn`). The Args class is
the input type the resource's own module exports (`VpcArgs`, `DeploymentInitArgs`).

Kubernetes tokens no SDK module registers are custom resources (CRDs): only their `apiVersion`,
`kind` and `metadata` have a type in the SDK, so only those are judged. Components (not custom)
and providers (their inputs travel as JSON strings) are skipped.

Values the preview could not know (`[unknown]`) or redacted (`[secret]`) pass any type. Numbers
are not coerced: a number where the SDK declares a string is a finding even though the bridged
providers would convert it, because Kubernetes rejects it and it is never what the author meant.
"""

from __future__ import annotations

import collections.abc
import difflib
import enum
import functools
import importlib
import json
import re
import sys
import typing
from dataclasses import dataclass
from typing import Any

from slipway import judges

OPAQUE = frozenset({"[unknown]", "[secret]"})
"""How `slipway.engine.clean` writes unknown and secret leaves; either may be of any type."""

_SEQUENCES = (list, collections.abc.Sequence)
_MAPPINGS = (dict, collections.abc.Mapping)
_PLAIN_KEY = re.compile(r"^[A-Za-z_$][\w$-]*$")


@dataclass(frozen=True)
class Finding:
    """One property of one resource that the SDK's types do not accept."""

    urn: str
    name: str
    type: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.name} ({self.type}) {self.path}: {self.message}"


@dataclass(frozen=True)
class _Prop:
    hint: Any
    required: bool


def _sdk_types() -> tuple[Any, Any]:
    import pulumi
    from pulumi import _types

    return pulumi, _types


@functools.cache
def _props(cls: type) -> dict[str, _Prop]:
    """Wire name -> annotation and requiredness, from the input type's getters."""
    pulumi, _types = _sdk_types()
    globalns: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        module = sys.modules.get(base.__module__)
        if module is not None:
            globalns.update(vars(module))
    localns = {"Output": pulumi.Output, "T": type(None)}
    props: dict[str, _Prop] = {}
    for py_name, wire_name in _types.input_type_py_to_pulumi_names(cls).items():
        fget = getattr(cls, py_name).fget
        hint = typing.get_type_hints(fget, globalns=globalns, localns=localns).get("return", Any)
        props[wire_name] = _Prop(hint, type(None) not in _flatten(hint))
    return props


def _flatten(hint: Any) -> list[Any]:
    """Every arm of a (nested) Union, `Input[T]`'s Awaitable and Output included."""
    if typing.get_origin(hint) is typing.Union:
        return [arm for arg in typing.get_args(hint) for arm in _flatten(arg)]
    return [hint]


def _arms(hint: Any) -> list[Any]:
    """The plain types a value may take: `Input[...]`, Optional and Output peeled off."""
    pulumi, _ = _sdk_types()
    out = []
    for arm in _flatten(hint):
        origin = typing.get_origin(arm)
        if arm is type(None) or origin in (collections.abc.Awaitable, pulumi.Output):
            continue
        out.append(arm)
    return out


def _is_input_type(arm: Any) -> bool:
    _, _types = _sdk_types()
    return isinstance(arm, type) and _types.is_input_type(arm)


def _describe(arms: list[Any]) -> str:
    names = []
    for arm in arms:
        origin = typing.get_origin(arm)
        if origin is typing.Literal:
            names.append(" or ".join(json.dumps(v) for v in typing.get_args(arm)))
        elif origin in _SEQUENCES:
            names.append("a list")
        elif origin in _MAPPINGS or _is_input_type(arm) or typing.is_typeddict(arm):
            names.append("an object")
        elif isinstance(arm, type) and issubclass(arm, enum.Enum):
            names.append("one of " + ", ".join(json.dumps(m.value) for m in arm))
        else:
            names.append(getattr(arm, "__name__", str(arm)))
    return " or ".join(dict.fromkeys(names))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({json.dumps(value)[:60]})"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _scalar_ok(value: Any, arm: Any) -> bool:
    pulumi, _ = _sdk_types()
    if typing.get_origin(arm) is typing.Literal:
        return any(type(value) is type(v) and value == v for v in typing.get_args(arm))
    if arm is str:
        return isinstance(value, str)
    if arm is bool:
        return isinstance(value, bool)
    if arm is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if arm is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(arm, type) and issubclass(arm, enum.Enum):
        return any(value == m.value for m in arm)
    # a resource reference travels as its ID or URN
    return isinstance(arm, type) and issubclass(arm, pulumi.Resource) and isinstance(value, str)


def _join(path: str, key: str) -> str:
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def check_value(value: Any, hint: Any, path: str) -> list[tuple[str, str]]:
    """(path, message) for every place `value` does not fit the annotation `hint`."""
    pulumi, _ = _sdk_types()
    if isinstance(value, str) and value in OPAQUE:
        return []
    arms = _arms(hint)
    if not arms or any(arm is Any or arm is object for arm in arms):
        return []
    if isinstance(value, dict):
        for arm in arms:
            if _is_input_type(arm):
                return check_object(value, arm, path)
        for arm in arms:
            if typing.get_origin(arm) in _MAPPINGS:
                item = (typing.get_args(arm) or (str, Any))[-1]
                return [f for k, v in value.items() for f in check_value(v, item, _join(path, k))]
        for arm in arms:
            if arm in (dict, collections.abc.Mapping) or typing.is_typeddict(arm):
                return []
            if isinstance(arm, type) and issubclass(
                arm, pulumi.Asset | pulumi.Archive | pulumi.Resource
            ):
                return []  # assets, archives and resource references are recorded as objects
    elif isinstance(value, list):
        for arm in arms:
            if typing.get_origin(arm) in _SEQUENCES or arm in (list, collections.abc.Sequence):
                item = (typing.get_args(arm) or (Any,))[0]
                return [
                    f for i, v in enumerate(value) for f in check_value(v, item, f"{path}[{i}]")
                ]
    elif value is None or any(_scalar_ok(value, arm) for arm in arms):
        return []
    return [(path, f"expected {_describe(arms)}, got {_kind(value)}")]


def check_object(value: dict[str, Any], cls: type, path: str) -> list[tuple[str, str]]:
    """Unknown keys, mistyped values and missing required keys of one input-type object."""
    props = _props(cls)
    out: list[tuple[str, str]] = []
    for key, item in value.items():
        prop = props.get(key)
        if prop is None:
            near = difflib.get_close_matches(key, props, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            out.append((_join(path, key), f"unknown property of {cls.__name__}{hint}"))
        else:
            out.extend(check_value(item, prop.hint, _join(path, key)))
    for key, prop in props.items():
        if prop.required and value.get(key) is None:
            out.append((_join(path, key), f"missing required property of {cls.__name__}"))
    return out


@functools.cache
def args_class(token: str) -> type | None:
    """The SDK's Args input type for a resource type token, or None when no SDK registers it."""
    import pulumi.runtime.rpc

    _, _types = _sdk_types()
    try:
        pkg, mod, _kind_name = token.split(":")
        importlib.import_module(f"pulumi_{pkg.replace('-', '_')}")
    except (ValueError, ImportError):
        return None
    module = pulumi.runtime.rpc.get_resource_module(pkg, mod, "")
    info = getattr(module, "mod_info", None) or {}
    class_name = info.get("classes", {}).get(token)
    if class_name is None:
        return None
    resource_cls = getattr(importlib.import_module(info["fqn"]), class_name)
    defining = sys.modules[resource_cls.__module__]
    for export in getattr(defining, "__all__", ()):
        candidate = getattr(defining, export, None)
        if (
            export.endswith("Args")
            and isinstance(candidate, type)
            and _types.is_input_type(candidate)
        ):
            return candidate
    return None


def _custom_resource(token: str, inputs: dict[str, Any]) -> list[tuple[str, str]]:
    """A CRD instance: apiVersion and kind must match the token; metadata is ObjectMeta."""
    from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

    _, group_version, kind = token.split(":")
    out = []
    for key, want in (("apiVersion", group_version), ("kind", kind)):
        got = inputs.get(key)
        if got != want and got not in OPAQUE:
            out.append((key, f"expected {json.dumps(want)}, got {_kind(got)}"))
    if isinstance(inputs.get("metadata"), dict):
        out.extend(check_object(inputs["metadata"], ObjectMetaArgs, "metadata"))
    return out


def judged(record: dict[str, Any]) -> bool:
    """Custom resources only: components register no inputs, providers take JSON strings, and
    a read (`Resource.get`) gives none."""
    typ = str(record.get("type", ""))
    if record.get("read"):
        return False
    return record.get("custom", True) is not False and not typ.startswith(("pulumi:", "slipway:"))


def judge(records: list[dict[str, Any]]) -> list[Finding]:
    """Every finding over the resource records of one preview (`resources.json`)."""
    findings: list[Finding] = []
    for record in records:
        if not judged(record):
            continue
        token, inputs = record["type"], record.get("inputs") or {}
        pairs: list[tuple[str, str]]
        cls = args_class(token)
        if cls is not None:
            pairs = check_object(inputs, cls, "")
        elif token.startswith("kubernetes:"):
            pairs = _custom_resource(token, inputs)
        else:
            pairs = [("", f"no installed SDK registers the type {token}")]
        urn, name = record.get("urn", ""), record.get("name", "")
        findings.extend(Finding(urn, name, token, path or "<inputs>", msg) for path, msg in pairs)
    return findings


def main(argv: list[str] | None = None) -> int:
    """`python -m slipway.judges.typed_inputs resources.json`: 0 clean, 1 findings, 2 bad input."""
    return judges.main_for("typed_inputs", judge, argv)


if __name__ == "__main__":
    sys.exit(main())
