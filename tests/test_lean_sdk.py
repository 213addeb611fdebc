"""The engine's stand-ins for SDK helpers answer exactly as the SDK's own do."""

from __future__ import annotations

import gc
import traceback
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from pulumi.output import UNKNOWN

from slipway import engine

SDK_CONTAINS_UNKNOWNS = engine.sdk_helpers()["contains_unknowns"]
SDK_SOURCE_POSITION = engine.sdk_helpers()["source_position"]
SDK_STACK_TRACE = engine.sdk_helpers()["stack_trace"]
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.just(UNKNOWN))
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=25,
)


@given(VALUES)
def test_contains_unknowns_answers_as_the_sdk(value) -> None:
    assert engine.contains_unknowns(value) is SDK_CONTAINS_UNKNOWNS(value)


def test_contains_unknowns_on_shared_and_cyclic_values() -> None:
    shared = {"a": 1}
    assert engine.contains_unknowns([shared, shared, {"b": shared}]) is False
    loop: list = [1]
    loop.append(loop)
    assert engine.contains_unknowns(loop) is SDK_CONTAINS_UNKNOWNS(loop) is False
    loop.append(UNKNOWN)
    assert engine.contains_unknowns(loop) is SDK_CONTAINS_UNKNOWNS(loop) is True


def test_contains_unknowns_leaves_no_cyclic_garbage() -> None:
    value = {"a": [1, {"b": "c"}], "d": {"e": [2, 3]}}
    gc.collect()
    gc.disable()
    try:
        for _ in range(100):
            engine.contains_unknowns(value)
        ours = gc.collect()
        for _ in range(100):
            SDK_CONTAINS_UNKNOWNS(value)
        theirs = gc.collect()
    finally:
        gc.enable()
    assert ours == 0
    assert theirs >= 100, "the SDK's version is what made the garbage"


def test_source_positions_match_the_sdk() -> None:
    frames = traceback.extract_stack()
    frames.append(traceback.FrameSummary("relative/path.py", 3, "f"))
    frames.append(traceback.FrameSummary("", 1, "f"))
    frames.append(traceback.FrameSummary("/abs/x.py", None, "f"))
    for frame in frames:
        assert engine.source_position_for_frame(frame) == SDK_SOURCE_POSITION(frame)
    here = next(f for f in frames if f.filename == __file__)
    assert engine.source_position_for_frame(here).uri == Path(__file__).as_uri()
    assert engine.source_position_for_frame(frames[-3]) is None


class _Level:
    """Constructors calling constructors, as a resource class calls CustomResource's and
    Resource's: `depth` nested `__init__` frames, the innermost taking both stack traces."""

    def __init__(self, depth: int, out: list) -> None:
        if depth > 1:
            _Level(depth - 1, out)
        else:
            out.extend([SDK_STACK_TRACE(), engine.stack_trace()])


def _traces(depth: int) -> list:
    out: list = []
    _Level(depth, out)
    return out


def test_stack_trace_keeps_the_sdks_source_position() -> None:
    sdk, ours = _traces(3)
    assert len(sdk.frames) > 1, "the SDK keeps every frame above the constructor"
    assert list(ours.frames) == [sdk.frames[0]]
    assert ours.frames[0].pc.uri == Path(__file__).as_uri()
    assert ours.frames[0].pc.line == sdk.frames[0].pc.line > 0
    # As in `register_resource`: the request's sourcePosition is the first frame's.
    from pulumi.runtime import resource

    assert resource._get_source_position(ours) == resource._get_source_position(sdk)
    for depth in (1, 2):  # no third constructor: no frames, as the SDK answers
        sdk, ours = _traces(depth)
        assert ours == sdk
        assert not ours.frames
    sdk, ours = _traces(5)  # the third constructor from the top is the one found
    assert list(ours.frames) == [sdk.frames[0]]


def test_plain_sdk_switch_puts_the_sdk_helpers_back(monkeypatch) -> None:
    from pulumi.runtime import resource, rpc

    engine._use_lean_sdk_helpers()
    assert rpc.contains_unknowns is engine.contains_unknowns
    assert resource._get_stack_trace is engine.stack_trace
    monkeypatch.setenv("SLIPWAY_PLAIN_SDK", "1")
    engine._use_lean_sdk_helpers()
    assert rpc.contains_unknowns is SDK_CONTAINS_UNKNOWNS
    assert resource._get_stack_trace is SDK_STACK_TRACE
    monkeypatch.delenv("SLIPWAY_PLAIN_SDK")
    engine._use_lean_sdk_helpers()
    assert rpc.contains_unknowns is engine.contains_unknowns
