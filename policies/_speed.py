"""Decode each request's properties once per RPC, not once per policy; skip rules that
ignore the resource's type.

pulumi-policy's analyzer (1.21) turns ``request.properties`` into Python values
(``MessageToDict``, ``deserialize_properties``, ``unknown_checking_proxy``) separately for
every policy it runs. With seventy rules that decoding is about 90% of the pack's time.
``install()`` memoizes those three steps for the duration of one ``Analyze`` or
``AnalyzeStack`` call, keyed by the identity of the very object decoded, so every policy
sees exactly what it would have seen, only decoded once. ``Remediate`` is left untouched
(remediations may write to their view of the properties; validations never do).

Decoding itself uses ``struct_to_dict``, a direct walk of the ``Struct`` that gives what
``MessageToDict`` gives, several times faster.

A rule whose ``applies_to`` (see ``_base.resource_rule``) matches no resource of the call
(the one resource of an ``Analyze``, every resource of an ``AnalyzeStack``) is reported to
the SDK loop as disabled for that one call: it would have returned without a word, and now
the SDK does not build its arguments either. Levels in ``GetAnalyzerInfo`` are not affected.

The behaviour is pinned by a test that runs the fixture corpus with and without it and
expects identical diagnostics. Set ``SLIPWAY_POLICY_PLAIN_SDK=1`` to run the SDK as shipped.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable
from typing import Any

from google.protobuf import struct_pb2

from . import _base

_local = threading.local()
_STRUCT = struct_pb2.Struct.DESCRIPTOR


def _memo(kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Memoize a one-argument call on the identity of its argument, inside an RPC only."""

    @functools.wraps(fn)
    def call(arg: Any, *rest: Any, **kw: Any) -> Any:
        memo = getattr(_local, "memo", None)
        if memo is None or rest or kw:
            return fn(arg, *rest, **kw)
        key = (kind, id(arg))
        hit = memo.get(key)
        if hit is not None and hit[0] is arg:
            return hit[1]
        value = fn(arg)
        memo[key] = (arg, value)  # holding `arg` keeps its id from being reused
        return value

    return call


def _once(method: Callable[..., Any]) -> Callable[..., Any]:
    """Run once per process: the SDK re-reads the same environment (project, stack, config)
    on every call, and the environment of a running pack never changes."""
    done: list[bool] = []

    @functools.wraps(method)
    def call(self: Any) -> Any:
        if not done:
            method(self)
            done.append(True)

    return call


def _memo_method(kind: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """A servicer method of one request message, memoized like ``_memo`` (the options and
    provider views are read-only for validations)."""

    @functools.wraps(method)
    def call(self: Any, request: Any) -> Any:
        memo = getattr(_local, "memo", None)
        if memo is None:
            return method(self, request)
        key = (kind, id(request))
        hit = memo.get(key)
        if hit is not None and hit[0] is request:
            return hit[1]
        value = method(self, request)
        memo[key] = (request, value)
        return value

    return call


def _scoped(method: Callable[..., Any], *, per_resource: bool) -> Callable[..., Any]:
    """Open a fresh memo for one RPC and note which resource types it is about."""

    @functools.wraps(method)
    def call(self: Any, request: Any, context: Any) -> Any:
        _local.memo = {}
        if per_resource:
            _local.types = frozenset((request.type,))
        else:
            _local.types = frozenset(r.type for r in request.resources)
        _base._rpc.cache = {}
        try:
            return method(self, request, context)
        finally:
            _local.memo = None
            _local.types = None
            _base._rpc.cache = None

    return call


def _memo_provider(method: Callable[..., Any]) -> Callable[..., Any]:
    """``_get_provider_resource``, decoded once per distinct provider within one RPC.

    In an ``AnalyzeStack`` every resource carries its own copy of its provider, so the
    identity memo never hits; the key here is the provider's content (URN and serialized
    properties), and the decoding is a function of that content alone."""

    @functools.wraps(method)
    def call(self: Any, request: Any) -> Any:
        memo = getattr(_local, "memo", None)
        if memo is None or not request.HasField("provider"):
            return method(self, request)
        prov = request.provider
        key = (
            "provider",
            prov.urn,
            prov.type,
            prov.name,
            prov.SerializeToString(deterministic=True),
        )
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = (None, method(self, request))
        return hit[1]

    return call


def _skipping(level_of: Callable[..., Any], disabled: Any) -> Callable[..., Any]:
    """Report a rule as disabled for one call when its ``applies_to`` matches none of the
    resource types in the request (the resource for Analyze, the whole stack for
    AnalyzeStack): it would have returned without a word, and now the SDK does not decode
    or wrap anything for it either."""
    cache: dict[tuple[str, frozenset[str]], bool] = {}

    @functools.wraps(level_of)
    def level(self: Any, policy: Any) -> Any:
        types = getattr(_local, "types", None)
        applies = getattr(policy, "applies_to", None)
        if types is not None and applies is not None:
            key = (policy.name, types)
            hit = cache.get(key)
            if hit is None:
                hit = any(applies(t) for t in types)
                if len(cache) < 100_000:
                    cache[key] = hit
            if not hit:
                return disabled
        return level_of(self, policy)

    return level


def _value(value: Any) -> Any:
    """One ``google.protobuf.Value`` as ``MessageToDict`` gives it."""
    which = value.WhichOneof("kind")
    if which == "string_value":
        return value.string_value
    if which == "struct_value":
        fields = value.struct_value.fields
        return {k: _value(fields[k]) for k in fields}
    if which == "list_value":
        return [_value(v) for v in value.list_value.values]
    if which == "bool_value":
        return value.bool_value
    if which == "number_value":
        number = value.number_value
        if math.isinf(number) or math.isnan(number):
            raise ValueError(f"Fail to serialize {number} for Value.number_value")
        return number
    return None  # null_value, or no kind set


def struct_to_dict(message: Any, real: Callable[..., Any]) -> Any:
    """``json_format.MessageToDict`` for a ``Struct`` (all the analyzer decodes), without
    the generic printer's per-value descriptor lookups; anything else goes to ``real``.

    Same keys in the same order, same values: a test compares the two on generated data.
    """
    if getattr(message, "DESCRIPTOR", None) is not _STRUCT:
        return real(message)
    fields = message.fields
    return {k: _value(fields[k]) for k in fields}


class _JsonFormat:
    """``json_format`` as the SDK module sees it, with a memoized ``MessageToDict``."""

    def __init__(self, real: Any) -> None:
        self._real = real
        plain = real.MessageToDict

        def message_to_dict(message: Any, *rest: Any, **kw: Any) -> Any:
            if rest or kw:
                return plain(message, *rest, **kw)
            return struct_to_dict(message, plain)

        self.MessageToDict = _memo("dict", message_to_dict)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def install() -> bool:
    """Patch the SDK's analyzer module; False (and nothing changed) if it is not the
    shape this was written for, or if SLIPWAY_POLICY_PLAIN_SDK is set."""
    if os.environ.get("SLIPWAY_POLICY_PLAIN_SDK"):
        return False
    from pulumi_policy import policy as sdk

    servicer = getattr(sdk, "_PolicyAnalyzerServicer", None)
    needed = ("json_format", "deserialize_properties", "unknown_checking_proxy", "EnforcementLevel")
    if servicer is None or not all(hasattr(sdk, n) for n in needed):
        return False
    if getattr(servicer, "_slipway_memo", False):
        return True
    sdk.json_format = _JsonFormat(sdk.json_format)
    sdk.deserialize_properties = _memo("deserialize", sdk.deserialize_properties)
    sdk.unknown_checking_proxy = _memo("proxy", sdk.unknown_checking_proxy)
    servicer.Analyze = _scoped(servicer.Analyze, per_resource=True)
    servicer.AnalyzeStack = _scoped(servicer.AnalyzeStack, per_resource=False)
    servicer._configure_runtime_settings = _once(servicer._configure_runtime_settings)
    servicer._get_resource_options = _memo_method("options", servicer._get_resource_options)
    servicer._get_provider_resource = _memo_provider(servicer._get_provider_resource)
    servicer._get_enforcement_level = _skipping(
        servicer._get_enforcement_level, sdk.EnforcementLevel.DISABLED
    )
    servicer._slipway_memo = True
    return True
