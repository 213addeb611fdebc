"""Mock runtime for the cloud component tests: echoes inputs, adds synthesised outputs, and
records every registration (URN, parent, provider, protect, inputs, secret flags).

Kept out of `conftest.py` so each cloud test file installs its own mocks and runs alone or
with the whole suite in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

from slipway.mock_outputs import synthesize, synthesize_call

SECRET_SIG = rpc._special_secret_sig


class CloudMocks(pulumi.runtime.Mocks):
    """Echo inputs as outputs, plus what the cloud would compute (deterministic)."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        state.update(synthesize(args.typ, args.name, args.inputs))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return synthesize_call(args.token, args.args)


@dataclass
class Registered:
    """One `RegisterResource` request as the engine would see it."""

    urn: str
    type: str
    name: str
    parent: str
    provider: str
    protect: bool
    inputs: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    def has_secret(self, key: str) -> bool:
        """True when input `key` travelled to the engine as a secret."""
        value = self.raw.get(key)
        return isinstance(value, dict) and value.get(rpc._special_sig_key) == SECRET_SIG


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that keeps every registration, in order."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []
        self.deps: dict[str, set[str]] = {}
        """URN -> what it waits for (`depends_on` and its inputs' resources), which the
        engine orders creation by."""
        self.ignored: dict[str, list[str]] = {}
        """URN -> its `ignore_changes`."""

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.deps[response.urn] = set(request.dependencies)
        self.ignored[response.urn] = list(request.ignoreChanges)
        if request.type != "pulumi:pulumi:Stack":
            raw = json_format.MessageToDict(request.object)
            self.registered.append(
                Registered(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    provider=request.provider,
                    protect=bool(request.protect),
                    inputs=_plain(raw),
                    raw=raw,
                )
            )
        return response

    # --- queries ----------------------------------------------------------------------------

    def urn(self, name: str) -> str:
        """The URN of the one registration named `name`."""
        (found,) = [r.urn for r in self.registered if r.name == name]
        return found

    def depends(self, name: str, on: str) -> bool:
        """Whether the registration `name` waits for the one named `on`."""
        return self.urn(on) in self.deps[self.urn(name)]

    def of_type(self, type_: str) -> list[Registered]:
        """Registrations of one type token."""
        return [r for r in self.registered if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registered:
        """The single registration of a type (and name); fails loudly otherwise."""
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, got {[r.urn for r in found]}"
        return found[0]

    def where(self, pred: Callable[[Registered], bool]) -> list[Registered]:
        """Registrations matching a predicate."""
        return [r for r in self.registered if pred(r)]


def _plain(value: Any) -> Any:
    """Unwrap secrets, turn integral floats back into ints (protobuf Struct has only floats)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == SECRET_SIG:
            return _plain(value.get("value"))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def install(stack: str = "test") -> RecordingMonitor:
    """Install fresh mocks (a new root stack) and return the recording monitor."""
    monitor = RecordingMonitor(CloudMocks())
    pulumi.runtime.set_mocks(
        CloudMocks(), project="slipway", stack=stack, preview=False, monitor=monitor
    )
    return monitor


def run(fn: Callable[[], Any]) -> None:
    """Run `fn` as a Pulumi program under the installed mocks and wait for every registration."""

    @pulumi.runtime.test
    def program() -> Any:
        return fn()

    program()
