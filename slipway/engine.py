"""Run the real Pulumi program under Pulumi's mock runtime and record every registration.

This is the offline half of the engine: no CLI, no cloud, no cluster. The program
(`__main__.py`) runs unchanged; a `MockMonitor` subclass sees each `RegisterResourceRequest`
(type, name, parent, provider, protect, aliases, inputs) exactly as the engine would, and the
mocks echo inputs back as outputs (plus deterministic synthesised cloud outputs).

Facts this relies on:
- `set_mocks()` creates the root Stack itself: run the program with `run_pulumi_func`.
- Pulumi's runtime state lives in context variables: each run gets a fresh `Context`, so runs
  in one process (tests, diffs) do not leak into each other.
- protobuf `Struct` turns every integer into a float: integral floats are turned back.
- Resources parented to the root stack have no `pulumi:pulumi:Stack$` in their URN, as with
  the real engine (the stock mock monitor adds it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import os
import runpy
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slipway import mock_outputs
from slipway.collect import few_collections
from slipway.errors import BadInput

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REDACTED = "[secret]"
STACK_TYPE = "pulumi:pulumi:Stack"
ORGANIZATION = "organization"
"""The organization offline runs answer `pulumi.get_organization()` with: the name a DIY
backend (`pulumi login file://...`) gives every stack."""


def redact(value: Any) -> Any:
    """Keep the shape of a secret value (map keys, list lengths), redact every leaf."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return redact(value.get("value"))
        return {k: redact(value[k]) for k in sorted(value) if k != SECRET_SIG}
    if isinstance(value, list):
        return [redact(v) for v in value]
    # A secret the preview does not know yet (a kubeconfig on a first run) has no value to
    # hide: saying it is unknown tells what the engine knows, and nothing of the secret.
    return "[unknown]" if value == UNKNOWN or _is_unknown(value) else REDACTED


def clean(value: Any) -> Any:
    """Plain JSON for a recorded input: secrets redacted, integral floats back to ints."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return redact(value.get("value"))
        if SECRET_SIG in value:  # resource references, assets: keep a readable marker
            return {k: clean(v) for k, v in value.items() if k != SECRET_SIG}
        return {k: clean(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | int | bool) or value is None:
        return "[unknown]" if value == UNKNOWN else value
    return "[unknown]" if _is_unknown(value) else value


def _is_unknown(value: Any) -> bool:
    """An input the SDK hands over as unknown (`pulumi.output.Unknown`, in a preview)."""
    from pulumi.runtime import known_types

    return known_types.is_unknown(value)


@dataclass
class Record:
    """One registered resource, as `resources.json` lists it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    protect: bool
    aliases: list[str]
    inputs: dict[str, Any]
    target: str | None = None
    dependencies: list[str] = field(default_factory=list)
    """URNs it waits for (`depends_on` and the resources its inputs came from)."""
    read: str | None = None
    """For a read (`Resource.get`): the id read. The engine reads it in every preview and
    manages nothing of it; its inputs are empty."""

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "custom": self.custom,
            "parent": self.parent,
            "provider": self.provider,
            "protect": self.protect,
            "aliases": self.aliases,
            "target": self.target,
            "dependencies": self.dependencies,
            "read": self.read,
            "inputs": self.inputs,
        }


class DuplicateUrn(Exception):
    """Two resources of one stack with one URN: the engine stops the preview on it."""


@dataclass(frozen=True)
class RequiredKey:
    """A config key the program required (`Config.require*`) during a run.

    `missing`: the stack has no value for it (the real engine stops there); `secret`: the
    program read it as a secret, so it must be set with `--secret`."""

    key: str
    secret: bool
    missing: bool


@dataclass
class RunResult:
    records: list[Record]
    required: list[RequiredKey] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """The stack's outputs (`pulumi.export`), as `pulumi stack output --json` shows them:
    secrets as "[secret]", unknowns as "[unknown]"."""


UNSET = "[unset]"
"""What a missing plain `require` gives offline (a missing secret gives `REDACTED`)."""

_REQUIRE_METHODS = {
    "require": False,
    "require_secret": True,
    "require_bool": False,
    "require_secret_bool": True,
    "require_int": False,
    "require_secret_int": True,
    "require_float": False,
    "require_secret_float": True,
    "require_object": False,
    "require_secret_object": True,
}


@dataclass
class _Requirements:
    """One run's record of required keys, and what it does about missing ones."""

    stack: str
    unset: frozenset[str]
    fill: bool
    seen: dict[str, RequiredKey] = field(default_factory=dict)

    def note(self, key: str, secret: bool, missing: bool) -> None:
        before = self.seen.get(key)
        if before is not None:  # `require` of a secret key goes on to `require_secret`
            secret = secret or before.secret
            missing = missing or before.missing
        self.seen[key] = RequiredKey(key, secret, missing)


_REQUIREMENTS: contextvars.ContextVar[_Requirements | None] = contextvars.ContextVar(
    "slipway_requirements", default=None
)
_HOOK_LOCK = threading.Lock()
_HOOK_USERS = [0]
_SDK_REQUIRE: dict[str, Callable[..., Any]] = {}


def _hooked(name: str, secret: bool) -> Callable[..., Any]:
    original = _SDK_REQUIRE[name]

    def require(self: Any, key: str) -> Any:
        rec = _REQUIREMENTS.get()
        if rec is None:  # another thread's run installed the hook; this one is not offline
            return original(self, key)
        import pulumi

        full = self.full_key(key)
        value = pulumi.runtime.get_config(full)
        rec.note(full, secret, value is None or full in rec.unset)
        if value is None and rec.fill:
            if name == "require":
                return UNSET
            if name == "require_secret":
                return pulumi.Output.secret(REDACTED)
            raise BadInput(
                f"the program requires {full} ({name}) and it has no value; set it: "
                f"pulumi config set{' --secret' if secret else ''} {full} <value> -s {rec.stack}",
                file=f"Pulumi.{rec.stack}.yaml",
                field=full,
            )
        return original(self, key)

    require.__name__ = name
    require.__doc__ = getattr(original, "__doc__", None)
    return require


@contextlib.contextmanager
def _recording_required(rec: _Requirements) -> Iterator[None]:
    """Record every `Config.require*` of this run; the SDK's methods go back afterwards.

    The methods are swapped on the class (the program makes its own `Config` objects) while
    at least one run is going; each run records into its own context."""
    from pulumi import config as sdk_config

    cls = sdk_config.Config
    token = _REQUIREMENTS.set(rec)
    with _HOOK_LOCK:
        if _HOOK_USERS[0] == 0:
            for name in _REQUIRE_METHODS:
                _SDK_REQUIRE[name] = cls.__dict__[name]
            for name, secret in _REQUIRE_METHODS.items():
                setattr(cls, name, _hooked(name, secret))
        _HOOK_USERS[0] += 1
    try:
        yield
    finally:
        with _HOOK_LOCK:
            _HOOK_USERS[0] -= 1
            if _HOOK_USERS[0] == 0:
                for name in _REQUIRE_METHODS:
                    setattr(cls, name, _SDK_REQUIRE[name])
        _REQUIREMENTS.reset(token)


def _make_monitor_class() -> type:
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import get_project, get_stack

    class RecordingMonitor(MockMonitor):
        """A MockMonitor that keeps the full registration of every resource."""

        def __init__(self, mocks: Any, on_record: Callable[[Record], None] | None) -> None:
            super().__init__(mocks)
            self.records: dict[str, Record] = {}
            self.urns: set[str] = set()
            self.on_record = on_record
            self.local = threading.local()
            self.lock = threading.Lock()

        def make_urn(self, parent: str, type_: str, name: str) -> str:
            if parent:
                parent_type = parent.split("::")[2].split("$")[-1]
                if parent_type != STACK_TYPE:
                    type_ = parent.split("::")[2] + "$" + type_
            return "urn:pulumi:" + "::".join([get_stack(), get_project(), type_, name])

        def _alias_urns(self, request: Any) -> list[str]:
            urns: list[str] = list(request.aliasURNs)
            for alias in request.aliases:
                if alias.WhichOneof("alias") == "urn":
                    urns.append(alias.urn)
                    continue
                spec = alias.spec
                parent = request.parent
                # The SDK always sets one of the oneof fields; only a non-empty parentUrn or a
                # true noParent changes the parent.
                which = spec.WhichOneof("parent")
                if which == "parentUrn" and spec.parentUrn:
                    parent = spec.parentUrn
                elif which == "noParent" and spec.noParent:
                    parent = ""
                urn = self.make_urn(parent, spec.type or request.type, spec.name or request.name)
                if spec.stack or spec.project:
                    head = urn.split("::", 2)
                    stack = spec.stack or get_stack()
                    project = spec.project or get_project()
                    urn = f"urn:pulumi:{stack}::{project}::{head[2]}"
                urns.append(urn)
            return sorted(set(urns))

        def ReadResource(self, request: Any) -> Any:
            self._claim(self.make_urn(request.parent, request.type, request.name))
            response = super().ReadResource(request)
            record = Record(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=True,
                parent=request.parent
                if request.parent and "::" + STACK_TYPE + "::" not in request.parent
                else "",
                provider=request.provider,
                protect=False,
                aliases=[],
                inputs={},
                dependencies=sorted(set(request.dependencies)),
                read=request.id,
            )
            with self.lock:
                if self.on_record is None:
                    self.records[record.urn] = record
                else:
                    self.on_record(record)
            return response

        def _claim(self, urn: str) -> None:
            """The engine refuses a second resource with a URN already registered."""
            with self.lock:
                if urn in self.urns:
                    raise DuplicateUrn(
                        f"Duplicate resource URN '{urn}'; try giving it a unique name"
                    )
                self.urns.add(urn)

        def RegisterResource(self, request: Any) -> Any:
            if request.type == STACK_TYPE:
                return super().RegisterResource(request)
            self._claim(self.make_urn(request.parent, request.type, request.name))
            self.local.inputs = None
            response = super().RegisterResource(request)
            inputs = self.local.inputs or {}
            record = Record(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent
                if request.parent and "::" + STACK_TYPE + "::" not in request.parent
                else "",
                provider=request.provider,
                protect=bool(request.protect),
                aliases=self._alias_urns(request),
                inputs=clean(inputs),
                dependencies=sorted(set(request.dependencies)),
            )
            with self.lock:
                if self.on_record is None:
                    self.records[record.urn] = record
                else:
                    # Called before the SDK sees the response: a resource's parent and
                    # provider always reach `on_record` before the resource itself.
                    self.on_record(record)
            if self.on_record is not None:
                # Nothing reads a registration back here (no `getResource` invoke in the
                # program), and keeping every input twice is most of a fleet run's memory.
                self.resources.pop(response.urn, None)
            return response

    return RecordingMonitor


def contains_unknowns(val: Any) -> bool:
    """`pulumi.runtime.rpc.contains_unknowns` without its self-referencing inner function.

    The SDK's version defines a recursive closure on every call, and that closure is a
    reference cycle: four objects of garbage per call, which only the cycle collector can
    free. Outputs call it all the time; at fleet scale that was most of the garbage of a
    preview (1.7 million objects for 200 services). Same answer: True when any value
    reachable through dict values and list items is unknown. A test compares the two.
    """
    from pulumi.runtime import known_types

    seen: set[int] = set()
    todo = [val]
    while todo:
        item = todo.pop()
        if known_types.is_unknown(item):
            return True
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return False


@functools.lru_cache(maxsize=4096)
def _file_uri(filename: str) -> str | None:
    try:
        return Path(filename).as_uri()
    except BaseException:  # as the SDK: a path that has no file URI gives no position
        return None


def source_position_for_frame(frame: traceback.FrameSummary) -> Any:
    """`pulumi.runtime.resource._get_source_position_for_frame`, each file's URI made once.

    The SDK records the source position of every frame on the stack for each resource,
    parsing the file name with pathlib every time: a few dozen frames per resource, most of
    them the same handful of files. Same answer as the SDK's; a test compares the two.
    """
    from pulumi.runtime.proto import source_pb2

    if frame.filename == "" or frame.lineno is None:
        return None
    uri = _file_uri(frame.filename)
    if uri is None:
        return None
    return source_pb2.SourcePosition(uri=uri, line=frame.lineno)


def stack_trace() -> Any:
    """`pulumi.runtime.resource._get_stack_trace`, cut to the one frame anything reads.

    The SDK puts every frame above the resource's constructor in each registration, as
    protobuf, and keeps it until the registration has run: a program registers its whole
    stack before the first one runs, and a component's stack is deep, so at fleet scale
    this was the largest thing the program held beyond the SDK's own floor (tens of MB per
    hundred services), plus a `traceback.extract_stack` per resource. The mock monitor
    reads no stack trace; the request's `sourcePosition` (the engine's position of the
    resource) is its first frame, found as the SDK finds it, and is the same. A test
    compares the two.
    """
    from pulumi.runtime.proto import source_pb2

    # As the SDK: the frame that called the third `__init__` from the top (the concrete
    # resource's constructor); none when there is no such frame or it is the outermost.
    frame = sys._getframe(1)
    inits = 0
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            inits += 1
            if inits == 3:
                break
        frame = frame.f_back
    caller = frame.f_back if frame is not None else None
    if caller is None:
        return source_pb2.StackTrace()
    summary = traceback.FrameSummary(
        caller.f_code.co_filename, caller.f_lineno, caller.f_code.co_name, lookup_line=False
    )
    from pulumi.runtime import resource

    position = resource._get_source_position_for_frame(summary)
    return source_pb2.StackTrace(frames=[source_pb2.StackFrame(pc=position)])


_SDK_HELPERS: dict[str, Callable[..., Any]] = {}


def sdk_helpers() -> dict[str, Callable[..., Any]]:
    """The SDK's own versions of the helpers swapped by `_use_lean_sdk_helpers`."""
    from pulumi.runtime import resource, rpc

    _SDK_HELPERS.setdefault("contains_unknowns", rpc.contains_unknowns)
    _SDK_HELPERS.setdefault("source_position", resource._get_source_position_for_frame)
    _SDK_HELPERS.setdefault("stack_trace", resource._get_stack_trace)
    return dict(_SDK_HELPERS)


def _use_lean_sdk_helpers() -> None:
    """Swap in the three SDK helpers above, which give the same answers (to everything that
    reads them offline) with less garbage, memory and work; SLIPWAY_PLAIN_SDK=1 runs the SDK
    as shipped (and puts back its own)."""
    from pulumi.runtime import resource, rpc

    plain = sdk_helpers()
    lean = not os.environ.get("SLIPWAY_PLAIN_SDK")
    rpc.contains_unknowns = contains_unknowns if lean else plain["contains_unknowns"]
    resource._get_source_position_for_frame = (
        source_position_for_frame if lean else plain["source_position"]
    )
    resource._get_stack_trace = stack_trace if lean else plain["stack_trace"]


STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


PLANNED_BEFORE_CREATE = frozenset({"name"})
"""Outputs a provider fills in while it plans, before anything exists: the auto-name the
Terraform bridge gives a resource without a `name` (in its Check step, so a first preview
knows it, with a random suffix offline values cannot match)."""


def first_run_state(type_: str, name: str, inputs: dict) -> dict:
    """A resource's outputs as the engine's first preview of an empty stack gives them.

    Nothing exists yet, so the provider plans the create: the inputs come back as they were
    given (unknown where they were unknown), and so does an auto-name
    (`PLANNED_BEFORE_CREATE`). Everything else is missing here, which the SDK takes as
    unknown in a preview: ids, ARNs, endpoints, certificates, service-account emails, and
    so the kubeconfigs built from them."""
    state = dict(inputs)
    for key, value in mock_outputs.synthesize(type_, name, inputs).items():
        if key in PLANNED_BEFORE_CREATE and key not in state:
            state[key] = value
    return state


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return value == REDACTED


def stack_reference_state(
    ref: str, recorded: Mapping[str, Mapping[str, Any]], source: str
) -> dict[str, Any]:
    """What `pulumi.StackReference(ref)` reads: the other stack's outputs, from `recorded`.

    The engine reads the referenced stack's current outputs, known values even on a first
    preview; offline they come from a recorded file. A reference with no recording is bad
    input (the engine would fail too if that stack had never been deployed)."""
    if ref not in recorded:
        raise BadInput(
            f"the program reads stack {ref!r} (pulumi.StackReference) and {source} has no "
            f"outputs recorded for it; record them under the key {ref!r}, from "
            f'`pulumi stack output --json -s {ref}` (secret outputs as "[secret]")',
            file=source,
            field=ref,
        )
    outputs = dict(recorded[ref])
    # An output holding a secret anywhere inside is secret as a whole, as the engine marks it.
    secret = sorted(k for k, v in outputs.items() if _holds_secret(v))
    for key in secret:
        outputs[key] = {SECRET_SIG: SECRET_VALUE, "value": outputs[key]}
    return {"name": ref, "outputs": outputs, "secretOutputNames": secret}


def _make_mocks(
    monitor_ref: list[Any],
    *,
    first_run: bool = False,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    stack_outputs_source: str = "",
) -> Any:
    import pulumi

    class EchoMocks(pulumi.runtime.Mocks):
        """Outputs are the inputs plus what only the cloud would compute (deterministic).

        `first_run`: what the cloud would compute is unknown, and so is every id, as in the
        engine's first preview of an empty stack."""

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            monitor = monitor_ref[0]
            monitor.local.inputs = args.inputs
            if args.typ == STACK_REFERENCE_TYPE:
                ref = str(args.inputs.get("name") or args.name)
                return ref, stack_reference_state(
                    ref, stack_outputs or {}, stack_outputs_source or "the recorded outputs"
                )
            if first_run and not args.resource_id:
                # An empty id is an unknown one to the SDK (as the Terraform bridge sends it
                # in a preview). A read (`Resource.get`) or an import has an id: the engine
                # reads that resource during the preview, so its outputs are known.
                return "", first_run_state(args.typ, args.name, args.inputs)
            state = dict(args.inputs)
            state.update(mock_outputs.synthesize(args.typ, args.name, args.inputs))
            resource_id = state.get("id") or f"{args.name}-id"
            return str(resource_id), state

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list] | dict:
            # Provider functions run for real in a preview, first or not: their results are
            # known (the SDK itself skips a call whose arguments are unknown).
            return mock_outputs.synthesize_call(args.token, args.args)

    return EchoMocks()


def run_program(
    program: Path | Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    on_record: Callable[[Record], None] | None = None,
    unset: frozenset[str] = frozenset(),
    fill_missing: bool = False,
    first_run: bool = False,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    stack_outputs_source: str = "",
) -> RunResult:
    """Run a Pulumi program file (or callable) under the recording mocks.

    With `on_record`, each registration is handed over as soon as it is made (parents and
    providers first, `target` not yet set) and not kept: the result has no records.
    Exceptions raised by the program propagate unchanged (BadInput stays BadInput).

    Every key the program requires is in the result's `required`; keys in `unset` hold
    offline placeholders, so they count as missing. A missing key raises the SDK's
    `ConfigMissingError`, as under the real engine; with `fill_missing`, a missing
    `require`/`require_secret` gives `UNSET`/a secret `REDACTED` instead (the run goes on,
    the key is still recorded missing) and a missing typed one is BadInput naming the key.

    `first_run` answers as the engine's first preview of an empty stack (`first_run_state`);
    `stack_outputs` are the recorded outputs of the stacks the program references, keyed by
    the reference's name (`stack_outputs_source` names their file in errors).
    """
    requirements = _Requirements(stack=stack, unset=frozenset(unset), fill=fill_missing)

    def _run() -> RunResult:
        import pulumi
        from pulumi.runtime.stack import run_pulumi_func

        try:
            previous_loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            previous_loop = None
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_about_bad_input)
        asyncio.set_event_loop(loop)
        _use_lean_sdk_helpers()
        ref: list[Any] = []
        mocks = _make_mocks(
            ref,
            first_run=first_run,
            stack_outputs=stack_outputs,
            stack_outputs_source=stack_outputs_source,
        )
        monitor = _make_monitor_class()(mocks, on_record)
        ref.append(monitor)
        from pulumi.runtime.settings import SETTINGS

        # Not every runtime setting is reset by set_mocks; outputs and lock would otherwise be
        # shared with any runtime the calling process set up (test suites do).
        SETTINGS.outputs = set()
        SETTINGS.lock = threading.Lock()
        pulumi.runtime.set_all_config(dict(config), list(secret_keys))
        pulumi.runtime.set_mocks(
            mocks,
            project=project,
            stack=stack,
            preview=True,
            monitor=monitor,
            organization=ORGANIZATION,
        )

        def body() -> None:
            if callable(program):
                program()
            else:
                runpy.run_path(str(program), run_name="__main__")

        added_path = False
        if not callable(program):
            root = str(Path(program).resolve().parent)
            if root not in sys.path:
                sys.path.insert(0, root)
                added_path = True
        try:
            with _recording_required(requirements):
                loop.run_until_complete(run_pulumi_func(body))
            outputs = loop.run_until_complete(_stack_outputs())
        finally:
            if added_path:
                sys.path.remove(root)
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            asyncio.set_event_loop(previous_loop)
        records = sorted(monitor.records.values(), key=lambda r: r.urn)
        assign_targets(records)
        required = sorted(requirements.seen.values(), key=lambda k: k.key)
        return RunResult(records=records, required=required, outputs=outputs)

    ctx = contextvars.Context()
    with few_collections():
        return ctx.run(_run)


async def _stack_outputs() -> dict[str, Any]:
    """The program's exports, resolved as `pulumi stack output --json` shows them. Under the
    mocks the root stack registers its (empty) outputs before the program runs, so they are
    read from the stack resource itself."""
    from pulumi.runtime import rpc
    from pulumi.runtime.settings import get_root_resource
    from pulumi.runtime.stack import massage

    root = get_root_resource()
    exported = getattr(root, "outputs", None)
    if not exported:
        return {}
    struct = await rpc.serialize_properties(massage(exported, []), {})
    values = rpc.deserialize_properties(struct, keep_unknowns=True)
    # `pulumi stack output --json` shows a secret output as one "[secret]", whatever its shape
    return {
        key: REDACTED
        if isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE
        else clean(value)
        for key, value in values.items()
    }


def _quiet_about_bad_input(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop asyncio's "exception was never retrieved" for bad input; report anything else.

    When the program stops on bad input (a missing recorded stack output, a missing typed
    config key), every Output derived from the failed value holds the same exception, and
    asyncio printed each one with its traceback after the run had already said, once and
    plainly, what is wrong."""
    if isinstance(context.get("exception"), BadInput):
        return
    loop.default_exception_handler(context)


TARGET_TYPE = "slipway:stacks:Target"


def assign_targets(records: list[Record]) -> None:
    """Each record's target: the name of the nearest `slipway:stacks:Target` ancestor."""
    by_urn = {r.urn: r for r in records}
    memo: dict[str, str | None] = {}

    def target_of(urn: str) -> str | None:
        if urn in memo:
            return memo[urn]
        rec = by_urn.get(urn)
        if rec is None:
            result = None
        elif rec.type == TARGET_TYPE:
            result = rec.name
        else:
            result = target_of(rec.parent) if rec.parent else None
        memo[urn] = result
        return result

    for r in records:
        r.target = target_of(r.urn)
        if r.target is None and r.provider:
            r.target = target_of(r.provider.rsplit("::", 1)[0])


def to_json_bytes(data: Any) -> bytes:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
