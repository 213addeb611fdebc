"""Run the CrossGuard pack in ``policies/`` the way the Pulumi engine runs it, offline.

The engine starts a Python pack through its ``pulumi-analyzer-policy-python`` shim: in the
pack folder, with the interpreter of the virtualenv named in ``PulumiPolicy.yaml``
(``runtime.options.virtualenv``), it runs ``python -u -m pulumi.policy <engine> .``, with
``PULUMI_PROJECT``/``PULUMI_STACK``/``PULUMI_ORGANIZATION``/``PULUMI_DRY_RUN`` in the
environment, and reads the gRPC port from the first line the pack prints. It then calls
``Handshake`` and ``ConfigureStack`` (both optional for a pack), ``GetAnalyzerInfo``,
``Configure`` with the reconciled ``--policy-pack-config``, ``Analyze`` once per resource and
``AnalyzeStack`` once at the end. This module does exactly that over the protobuf stubs
shipped in the ``pulumi`` package, so a rule behaves the same here as under ``pulumi up``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from slipway import children
from slipway.errors import BadInput

REPO_ROOT = Path(__file__).resolve().parent.parent


def _pack_dir() -> Path:
    """The pack this CLI ships: ``policies/`` in a checkout; from an installed wheel, the same
    folder installed as ``slipway_policy_pack`` (no generic top-level name in site-packages)."""
    checkout = REPO_ROOT / "policies"
    if (checkout / "PulumiPolicy.yaml").is_file():
        return checkout
    spec = importlib.util.find_spec("slipway_policy_pack")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return checkout


PACK_DIR = _pack_dir()
"""The project's pack; ``--policy-pack policies`` under the real engine."""

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_TO_PROTO = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE,
    "disabled": analyzer_pb2.DISABLED,
}
_PROTO_TO_LEVEL = {v: k for k, v in _LEVEL_TO_PROTO.items()}

_GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    ("grpc.max_send_message_length", 400 * 1024 * 1024),
    # A loopback channel to a child process: no proxies, and no retry bookkeeping per call
    # (a failed Analyze is an error to report, not to repeat).
    ("grpc.enable_http_proxy", 0),
    ("grpc.enable_retries", 0),
]
_START_TIMEOUT_S = 120.0
_BATCH = 32
"""Analyze calls kept in flight at once (each one a real gRPC Analyze)."""


@dataclass(frozen=True)
class Diagnostic:
    """One row of policy.json."""

    policy: str
    level: str  # "advisory" | "mandatory"
    urn: str
    message: str
    remediation: str = ""
    """The rule's remediation steps (GetAnalyzerInfo), so every result says how to fix it."""


@dataclass(frozen=True)
class PolicyInfo:
    """One rule as the pack describes it in GetAnalyzerInfo."""

    name: str
    description: str
    level: str
    kind: str  # "resource" | "stack"
    severity: str
    tags: tuple[str, ...]
    remediation: str
    config_schema: dict[str, Any]


class PolicyPackError(BadInput):
    """The pack did not start, or a rule raised: the run cannot be trusted (exit 2)."""


# --- policy pack config (the --policy-pack-config file) -------------------------------------


def load_policy_config(path: Path) -> dict[str, dict[str, Any]]:
    """Parse a ``--policy-pack-config`` file the way the engine does.

    Each key is a policy name (or ``all``); a value is an enforcement level string or an
    object with an optional ``enforcementLevel`` and the policy's properties. The result
    maps name -> {"enforcementLevel": str | None, "properties": dict}.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8") or "{}")
    except FileNotFoundError:
        stacks = sorted(p.stem for p in Path(path).parent.glob("*.json"))
        known = f"; the stacks with one: {', '.join(stacks)}" if stacks else ""
        raise BadInput(f"policy config file not found{known}", file=str(path)) from None
    except json.JSONDecodeError as e:
        raise BadInput(f"not valid JSON (line {e.lineno}): {e.msg}", file=str(path)) from None
    if not isinstance(raw, dict):
        raise BadInput("must be a JSON object of policy name -> level or settings", file=str(path))
    out: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        if isinstance(value, str):
            level, props = value, {}
        elif isinstance(value, dict):
            props = dict(value)
            level = props.pop("enforcementLevel", None)
        else:
            raise BadInput(
                f"{value!r} is not valid; must be a level string or an object",
                file=str(path),
                field=name,
            )
        if level is not None and level not in LEVELS:
            raise BadInput(
                f"{level!r} is not an enforcement level; allowed: {', '.join(LEVELS)}",
                file=str(path),
                field=name,
            )
        if level is None and not props:
            continue
        out[name] = {"enforcementLevel": level, "properties": props}
    return out


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _schema_errors(value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    """The subset of JSON Schema the pack's config schemas use (type, items, enum, minLength,
    pattern, properties, required, additionalProperties: false), as the engine applies it."""
    errors = []
    t = schema.get("type")
    if isinstance(t, str) and t in _JSON_TYPES:
        ok = isinstance(value, _JSON_TYPES[t]) and not (
            t in ("number", "integer") and isinstance(value, bool)
        )
        if not ok:
            return [f"{where}: expected {t}, got {type(value).__name__} {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        errors.append(f"{where}: needs at least {schema['minLength']} characters")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']!r}")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            errors += _schema_errors(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key in schema.get("required") or ():
            if key not in value:
                errors.append(f"{where}: {key} is required")
        for key, item in value.items():
            if key in props:
                errors += _schema_errors(item, props[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unknown setting {key!r}; allowed: {', '.join(props)}")
    return errors


def reconcile_config(
    policies: Iterable[PolicyInfo],
    initial: Mapping[str, dict[str, Any]],
    given: Mapping[str, dict[str, Any]],
    *,
    source: str = "policy config",
) -> dict[str, dict[str, Any]]:
    """Defaults from each rule's schema, then the pack's initial config, then the file:
    the engine's ``ReconcilePolicyPackConfig``, including ``all`` for every level.

    Unlike the engine, an unknown policy name is an error here: a typo must not silently
    leave a rule at its default level.
    """
    policies = list(policies)
    known = {p.name for p in policies}
    result: dict[str, dict[str, Any]] = {}
    for p in policies:
        defaults = {k: v["default"] for k, v in p.config_schema.items() if "default" in v}
        result[p.name] = {"enforcementLevel": p.level, "properties": defaults}
    for layer in (initial, given):
        all_level = (layer.get("all") or {}).get("enforcementLevel")
        if all_level:
            for cfg in result.values():
                cfg["enforcementLevel"] = all_level
        for name, cfg in layer.items():
            if name == "all":
                continue
            if name not in known:
                raise BadInput(f"no policy named {name!r} in the pack", file=source, field=name)
            if cfg.get("enforcementLevel"):
                result[name]["enforcementLevel"] = cfg["enforcementLevel"]
            result[name]["properties"] = {**result[name]["properties"], **cfg.get("properties", {})}
    errors = []
    for p in policies:
        for key, value in result[p.name]["properties"].items():
            schema = p.config_schema.get(key)
            if schema is None:
                errors.append(f"{p.name}: unknown setting {key!r}")
            else:
                errors += _schema_errors(value, schema, f"{p.name}.{key}")
    if errors:
        raise BadInput("; ".join(errors), file=source)
    return result


# --- the pack process -------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-shaped copy: what a protobuf Struct can carry (YAML dates become strings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    _fill(s, value)
    return s


UNKNOWN_MARK = "[unknown]"
"""How `slipway.engine.clean` writes a value the preview does not know."""
ENGINE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""What the engine sends the analyzer for an unknown value (`KeepUnknowns`): pulumi-policy's
`unknown_checking_proxy` raises `UnknownValueError` when a policy reads it, and reports "can't
run policy ... during preview" instead of judging a made-up value."""


def as_the_engine_sends(value: Any) -> Any:
    """`value` with each unknown leaf as the engine's sentinel; the same object if it has none
    (most records: nothing is copied)."""
    if isinstance(value, dict):
        out = None
        for key, item in value.items():
            new = as_the_engine_sends(item)
            if new is not item:
                out = dict(value) if out is None else out
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        items = [as_the_engine_sends(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return ENGINE_UNKNOWN if value == UNKNOWN_MARK else value


def _fill(s: struct_pb2.Struct, value: Mapping[str, Any]) -> None:
    """Set an empty Struct to `value` (unknowns as the engine sends them), made JSON-shaped
    first if it is not already."""
    value = as_the_engine_sends(value)
    try:
        s.update(value)  # the common case: already JSON-shaped
    except (TypeError, ValueError, AttributeError):
        s.Clear()
        s.update(_plain(value))


def _python_for(pack_dir: Path) -> str:
    """The interpreter the shim would use: ``<pack>/<virtualenv>/bin/python`` when the
    virtualenv exists, else this interpreter (which has the same pinned packages)."""
    meta_path = pack_dir / "PulumiPolicy.yaml"
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise PolicyPackError("PulumiPolicy.yaml not found", file=str(meta_path)) from None
    runtime = meta.get("runtime")
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if name != "python":
        raise PolicyPackError(
            f"runtime {name!r} is not python", file=str(meta_path), field="runtime"
        )
    options = runtime.get("options", {}) if isinstance(runtime, dict) else {}
    venv = options.get("virtualenv")
    if venv:
        candidate = (pack_dir / venv / "bin" / "python").absolute()
        if candidate.exists():
            return str(candidate)
    return sys.executable


class PolicyPackProcess:
    """A running pack: start it as the engine does, call it, shut it down.

    Use as a context manager; ``close()`` stops it (see `slipway.children`).
    """

    def __init__(
        self,
        pack_dir: Path | None = None,
        *,
        stack: str,
        project: str = "slipway",
        organization: str = "organization",
        dry_run: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.pack_dir = Path(pack_dir or PACK_DIR).resolve()
        self.stack, self.project, self.organization = stack, project, organization
        self.dry_run = dry_run
        child_env = dict(os.environ if env is None else env)
        child_env.update(
            PULUMI_PROJECT=project,
            PULUMI_STACK=stack,
            PULUMI_ORGANIZATION=organization,
            PULUMI_DRY_RUN="true" if dry_run else "false",
        )
        self._stderr: list[str] = []
        # The engine passes its own gRPC address; a pack never dials it, so any address
        # the SDK's argument parser accepts will do offline.
        # Started through the tie launcher (`slipway.children`): the pack ends when this
        # process does, however it ends, and stops without a signal when asked.
        cmd = children.module_command(
            _python_for(self.pack_dir), "pulumi.policy", ["127.0.0.1:0", "."], unbuffered=True
        )
        self.proc = children.popen_tied(
            cmd,
            cwd=self.pack_dir,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.channel: grpc.Channel | None = None
        self._stub: analyzer_pb2_grpc.AnalyzerStub | None = None
        self.structs: dict[str, struct_pb2.Struct] = {}
        """Inputs as Structs by URN; packs of one session share it."""

    @property
    def stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        """The client, connected on first use (so several packs can boot at once)."""
        if self._stub is None:
            try:
                port = self._read_port()
                self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_GRPC_OPTIONS)
                grpc.channel_ready_future(self.channel).result(timeout=_START_TIMEOUT_S)
            except BaseException:
                self.close()
                raise
            self._stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self._stub

    def _read_port(self) -> int:
        """The first stdout line is the port, as the engine's plugin loader expects."""
        err = threading.Thread(target=self._drain, args=(self.proc.stderr, self._stderr))
        err.daemon = True
        err.start()
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(_START_TIMEOUT_S)
        text = line[0].strip() if line else ""
        if not text.isdigit():
            if line:  # the pack exited or printed something else: let stderr finish
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)
                err.join(timeout=2)
            detail = "".join(self._stderr[-20:]).strip() or f"first output line {text!r}"
            raise PolicyPackError(f"policy pack failed to start: {detail}", file=str(self.pack_dir))
        out = threading.Thread(target=self._drain, args=(self.proc.stdout, []))
        out.daemon = True
        out.start()
        return int(text)

    @staticmethod
    def _drain(stream: Any, sink: list[str]) -> None:
        for chunk in iter(stream.readline, ""):
            sink.append(chunk)

    # -- protocol calls, in the engine's order --

    def handshake(self) -> None:
        """Handshake is optional for packs; UNIMPLEMENTED falls back like the engine."""
        req = analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address="127.0.0.1:0",
            root_directory=str(self.pack_dir),
            program_directory=str(self.pack_dir),
        )
        self._optional(self.stub.Handshake, req)

    def configure_stack(self, tags: Mapping[str, str] | None = None) -> None:
        """Tell the pack which stack and project it judges (optional for packs)."""
        req = analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.stack,
            project=self.project,
            organization=self.organization,
            dry_run=self.dry_run,
            tags=dict(tags or {}),
        )
        self._optional(self.stub.ConfigureStack, req)

    def _optional(self, call: Any, req: Any) -> None:
        try:
            call(req)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise self._error("pack call failed", e) from None

    def info(self) -> tuple[str, list[PolicyInfo], dict[str, dict[str, Any]]]:
        """Pack name, its rules, and its initial config."""
        resp = self.stub.GetAnalyzerInfo(empty_pb2.Empty())
        rules = [
            PolicyInfo(
                name=p.name,
                description=p.description,
                level=_PROTO_TO_LEVEL.get(p.enforcementLevel, "advisory"),
                kind="stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
                severity=analyzer_pb2.PolicySeverity.Name(p.severity)
                .removeprefix("POLICY_SEVERITY_")
                .lower(),
                tags=tuple(p.tags),
                remediation=p.remediation_steps,
                config_schema=json_format.MessageToDict(p.configSchema.properties),
            )
            for p in resp.policies
        ]
        initial = {
            k: {
                "enforcementLevel": _PROTO_TO_LEVEL.get(v.enforcementLevel),
                "properties": json_format.MessageToDict(v.properties),
            }
            for k, v in resp.initialConfig.items()
        }
        return resp.name, rules, initial

    def configure(self, config: Mapping[str, dict[str, Any]]) -> None:
        """Send the reconciled config (every policy: level and properties)."""
        if not config:
            return
        req = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, cfg in config.items():
            entry = req.policyConfig[name]
            entry.enforcementLevel = _LEVEL_TO_PROTO[cfg["enforcementLevel"]]
            entry.properties.update(_plain(cfg.get("properties") or {}))
        self.stub.Configure(req)

    def analyze(
        self, resources: list[dict[str, Any]], by_urn: Mapping[str, Mapping[str, Any]] | None = None
    ) -> list[Diagnostic]:
        """One Analyze per resource, a window of calls in flight at a time.

        ``by_urn`` resolves provider references (default: among ``resources``)."""
        by_urn = by_urn if by_urn is not None else {r["urn"]: r for r in resources}
        out: list[Diagnostic] = []
        pending: list[tuple[str, Any]] = []

        def collect(urn: str, fut: Any) -> None:
            try:
                resp = fut.result()
            except grpc.RpcError as e:
                raise self._error(f"Analyze failed for {urn}", e) from None
            out.extend(_diagnostics(resp, default_urn=urn))

        for r in resources:
            req = analyzer_pb2.AnalyzeRequest(
                urn=r["urn"], type=r["type"], name=r.get("name", ""), options=_options(r)
            )
            # Built for this call only (a provider's are kept: many resources send them).
            # Kept for every resource, they were the largest thing a fleet's preview held
            # while its program ran: 100 MB at 200 services, more than the records.
            built = self.structs.get(r["urn"])
            if built is not None:
                req.properties.CopyFrom(built)
            else:
                _fill(req.properties, r.get("inputs") or {})
            provider = self._provider(r, by_urn)
            if provider is not None:
                req.provider.CopyFrom(provider)
            pending.append((r["urn"], self.stub.Analyze.future(req)))
            if len(pending) >= _BATCH:
                collect(*pending.pop(0))
        for urn, fut in pending:
            collect(urn, fut)
        return out

    def analyze_stack(
        self,
        resources: list[dict[str, Any]],
        stack_urn: str,
        by_urn: Mapping[str, Mapping[str, Any]] | None = None,
        request: analyzer_pb2.AnalyzeStackRequest | None = None,
    ) -> list[Diagnostic]:
        """One AnalyzeStack over every resource, parents linked by URN (`request`: one
        already built with `add_to_stack`, for all of `resources`)."""
        if request is None:
            by_urn = by_urn if by_urn is not None else {r["urn"]: r for r in resources}
            request = analyzer_pb2.AnalyzeStackRequest()
            late = self.add_to_stack(request, resources, by_urn)
            assert not late, "every provider is among the resources"
        try:
            resp = self.stub.AnalyzeStack(request)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                return []
            raise self._error("AnalyzeStack failed", e) from None
        return _diagnostics(resp, default_urn=stack_urn)

    def add_to_stack(
        self,
        request: analyzer_pb2.AnalyzeStackRequest,
        resources: Iterable[Mapping[str, Any]],
        by_urn: Mapping[str, Mapping[str, Any]],
    ) -> list[tuple[Any, Mapping[str, Any]]]:
        """Append `resources` to an AnalyzeStack request. Each one's properties then live in
        the request only (a later Analyze copies them from there). Returns the items whose
        provider is not in `by_urn` yet, for `add_providers` once it is."""
        late = []
        for r in resources:
            item = request.resources.add(
                urn=r["urn"],
                type=r["type"],
                name=r.get("name", ""),
                parent=r.get("parent") or "",
            )
            if r["urn"] in self.structs:
                item.properties.CopyFrom(self.structs[r["urn"]])
            else:
                _fill(item.properties, r.get("inputs") or {})
            self.structs[r["urn"]] = item.properties
            item.options.CopyFrom(_options(r))
            if _is_custom(r):
                provider = self._provider(r, by_urn)
                if provider is None:
                    late.append((item, r))
                else:
                    item.provider.CopyFrom(provider)
        return late

    def add_providers(
        self, late: list[tuple[Any, Mapping[str, Any]]], by_urn: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Fill in the providers `add_to_stack` could not find at the time."""
        for item, r in late:
            provider = self._provider(r, by_urn)
            if provider is not None:
                item.provider.CopyFrom(provider)

    def _properties(self, r: Mapping[str, Any]) -> struct_pb2.Struct:
        """A provider's inputs as a Struct, built once: every resource it serves sends them."""
        s = self.structs.get(r["urn"])
        if s is None:
            s = self.structs[r["urn"]] = _struct(r.get("inputs") or {})
        return s

    def _provider(
        self, r: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]
    ) -> analyzer_pb2.AnalyzerProviderResource | None:
        """The provider a custom resource uses, its properties built once per provider."""
        p = _provider_record(r, by_urn)
        if p is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            urn=p["urn"], type=p["type"], name=p.get("name", ""), properties=self._properties(p)
        )

    def _error(self, what: str, e: grpc.RpcError) -> PolicyPackError:
        return PolicyPackError(f"{what}: {e.details()}", file=str(self.pack_dir))

    def close(self) -> None:
        """Stop the pack: close the channel, then the tie (the pack exits at once), kill it
        if it has not. No signal is involved, so a pack started with SIGINT ignored (a
        background job) stops just as fast."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        children.stop(self.proc)

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _options(r: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(r.get("protect", False)),
        aliases=[str(a) for a in r.get("aliases") or []],
        parent=r.get("parent") or "",
    )


def _is_custom(r: Mapping[str, Any]) -> bool:
    """Only custom resources (not components, not providers) get the provider field."""
    if str(r["type"]).startswith("pulumi:providers:"):
        return False
    return bool(r.get("custom", True)) and bool(r.get("provider"))


def _provider_record(
    r: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The provider record a custom resource's reference (``<urn>::<id>``) points to."""
    if not _is_custom(r):
        return None
    ref = str(r["provider"])
    urn = ref.rsplit("::", 1)[0] if ref.count("::") > 3 else ref
    return by_urn.get(urn)


def _diagnostics(resp: analyzer_pb2.AnalyzeResponse, default_urn: str) -> list[Diagnostic]:
    out = []
    for d in resp.diagnostics:
        message = d.message
        if d.description and message.startswith(d.description + "\n"):
            message = message[len(d.description) + 1 :]
        out.append(
            Diagnostic(
                policy=d.policyName,
                level=_PROTO_TO_LEVEL.get(d.enforcementLevel, "advisory"),
                urn=d.urn or default_urn,
                message=message,
            )
        )
    return out


def stack_urn(stack: str, project: str) -> str:
    """The root stack resource's URN, where stack-wide diagnostics land."""
    return f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"


def config_path_for(stack: str, pack_dir: Path | None = None) -> Path:
    """``policies/config/<stack>.json``."""
    return Path(pack_dir or PACK_DIR) / "config" / f"{stack}.json"


class PackSession:
    """One configured run of the pack: booted and configured up front, then ``run()``.

    Large inputs are spread over ``workers`` pack processes, each started and configured
    exactly like the engine's one; every resource still gets one real Analyze call and the
    stack one AnalyzeStack call (on whichever process is free once the input is complete).
    """

    def __init__(
        self,
        stack: str,
        *,
        project: str = "slipway",
        pack_dir: Path | None = None,
        config_path: Path | None = None,
        workers: int = 1,
    ) -> None:
        self.stack, self.project = stack, project
        self.rules: dict[str, PolicyInfo] = {}
        pack = Path(pack_dir or PACK_DIR)
        self.config_path = Path(config_path) if config_path else config_path_for(stack, pack)
        self.given = load_policy_config(self.config_path)  # bad input before any process
        self.procs: list[PolicyPackProcess] = []
        try:
            for _ in range(max(1, workers)):
                self.procs.append(PolicyPackProcess(pack, stack=stack, project=project))
        except BaseException:
            self.close()
            raise
        shared: dict[str, struct_pb2.Struct] = {}
        for proc in self.procs:
            proc.structs = shared

    def _configure(self, proc: PolicyPackProcess) -> None:
        """The engine's opening calls: Handshake, ConfigureStack, GetAnalyzerInfo, Configure."""
        proc.handshake()
        proc.configure_stack()
        _, rules, initial = proc.info()
        self.rules = {r.name: r for r in rules}
        proc.configure(reconcile_config(rules, initial, self.given, source=str(self.config_path)))

    def run(self, resources: list[dict]) -> list[Diagnostic]:
        """Analyze every resource, then the stack; sorted, de-duplicated diagnostics."""
        return self.run_batches([resources])[1]

    def run_batches(
        self,
        batches: Iterable[list[dict]],
        stack_resources: Callable[[], list[dict]] | None = None,
    ) -> tuple[list[dict], list[Diagnostic]]:
        """Like ``run`` while the resources are still being produced (files being read):
        each batch is analyzed as soon as it arrives. Returns (all resources, diagnostics).

        ``stack_resources``: called once the batches are done, it gives every resource again,
        in the order of the batches, for AnalyzeStack; the batches are then not kept (a
        preview frees each one as soon as it is judged, while its program still runs).

        With one process the engine's order holds (every Analyze, then AnalyzeStack). With
        several, AnalyzeStack goes to the first free process once the last batch is in,
        while the others finish the Analyze calls.
        """
        jobs: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        results: list[Diagnostic] = []
        errors: list[BaseException] = []
        by_urn: dict[str, dict] = {}
        stack_priority = 0 if len(self.procs) > 1 else 2

        def work(proc: PolicyPackProcess) -> None:
            try:
                self._configure(proc)
                while True:
                    _, _, job = jobs.get()
                    if job is None:
                        return
                    if job == "stack":
                        found = proc.analyze_stack(resources, root, request=stack_request)
                    else:
                        found = proc.analyze(job, by_urn=by_urn)
                    results.extend(found)
            except BaseException as e:  # re-raised in the calling thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(proc,), daemon=True) for proc in self.procs]
        for t in threads:
            t.start()
        resources: list[dict] = []
        root = stack_urn(self.stack, self.project)
        seq = 0
        stack_request = analyzer_pb2.AnalyzeStackRequest()
        try:
            for batch in batches:
                # Provider references resolve among the batches received so far, so a
                # batch must not come before the provider records its resources use.
                for r in batch:
                    # Only providers are looked up (`_provider_record`).
                    if str(r["type"]).startswith("pulumi:providers:"):
                        by_urn[r["urn"]] = r
                if stack_resources is None:
                    resources.extend(batch)
                for start in range(0, len(batch), _CHUNK):
                    seq += 1
                    jobs.put((1, seq, batch[start : start + _CHUNK]))
        except BaseException:
            for n in range(len(self.procs)):
                jobs.put((-1, n, None))  # stop the workers first, then re-raise
            for t in threads:
                t.join()
            raise
        # AnalyzeStack's request (every resource's inputs as protobuf, larger than the
        # records themselves) is built only now: while a preview's program runs, its memory
        # would add to the program's (a fraction of a second at fleet scale).
        if stack_resources is not None:
            resources = stack_resources()
        late = self.procs[0].add_to_stack(stack_request, resources, by_urn)
        self.procs[0].add_providers(late, by_urn)
        stack_root = [r["urn"] for r in resources if r.get("type") == "pulumi:pulumi:Stack"]
        root = stack_root[0] if stack_root else root
        jobs.put((stack_priority, 0, "stack"))
        for n in range(len(self.procs)):
            jobs.put((3, n, None))
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        taught = {
            dataclasses.replace(d, remediation=rule.remediation)
            if (rule := self.rules.get(d.policy)) is not None
            else d
            for d in results
        }
        return resources, sorted(taught, key=lambda d: (d.urn, d.policy, d.message, d.level))

    def close(self) -> None:
        for proc in self.procs:
            proc.close()

    def __enter__(self) -> PackSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CHUNK = 64
PARALLEL_FROM = 400
"""Resources from which a run uses a second pack process (small stacks: one, like the engine)."""


def workers_for(count: int) -> int:
    """Pack processes for ``count`` resources: one, or two on a multi-core machine."""
    return 2 if count >= PARALLEL_FROM and (os.cpu_count() or 1) >= 2 else 1


def run_pack(
    resources: list[dict],
    stack: str,
    *,
    project: str = "slipway",
    pack_dir: Path | None = None,
    config_path: Path | None = None,
) -> list[Diagnostic]:
    """Judge ``resources`` (records as in resources.json) with the pack; sorted diagnostics.

    Raises BadInput for a missing or invalid policy config, PolicyPackError when the pack
    does not start or a rule fails.
    """
    with PackSession(
        stack,
        project=project,
        pack_dir=pack_dir,
        config_path=config_path,
        workers=workers_for(len(resources)),
    ) as session:
        return session.run(resources)


def has_mandatory(diags: Iterable[Diagnostic]) -> bool:
    """True when any diagnostic blocks the deployment (exit 1)."""
    return any(d.level == "mandatory" for d in diags)


def policy_rows(diags: Iterable[Diagnostic]) -> list[dict[str, str]]:
    """The rows of policy.json: {policy, level, urn, message, remediation}, sorted."""
    return [
        {
            "policy": d.policy,
            "level": d.level,
            "urn": d.urn,
            "message": d.message,
            "remediation": d.remediation,
        }
        for d in sorted(diags, key=lambda d: (d.urn, d.policy, d.message, d.level))
    ]


def policy_json(diags: Iterable[Diagnostic]) -> str:
    """policy.json content: the sorted rows; stable bytes."""
    return json.dumps(policy_rows(diags), indent=2, sort_keys=True) + "\n"


def write_policy_json(diags: Iterable[Diagnostic], path: Path) -> None:
    """Write policy.json atomically (`slipway.outdir.write_text_atomically`); OS errors
    become BadInput."""
    from slipway.outdir import write_text_atomically

    write_text_atomically(Path(path), policy_json(diags), prefix=".policy-")
