"""The pack's fast ``Struct`` decoding gives exactly what ``json_format.MessageToDict`` gives."""

from __future__ import annotations

import math

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from policies._speed import struct_to_dict

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.text(max_size=20),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(st.dictionaries(st.text(max_size=12), VALUES, max_size=8))
def test_struct_decoding_matches_message_to_dict(data: dict) -> None:
    message = struct_pb2.Struct()
    message.update(data)
    fast = struct_to_dict(message, json_format.MessageToDict)
    plain = json_format.MessageToDict(message)
    assert fast == plain
    assert repr(fast) == repr(plain), "same keys in the same order, same value types"


def test_other_messages_go_to_message_to_dict() -> None:
    value = struct_pb2.ListValue()
    value.append(1)
    assert struct_to_dict(value, lambda m: ("plain", m)) == ("plain", value)


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
def test_non_finite_numbers_are_refused_like_message_to_dict(number: float) -> None:
    message = struct_pb2.Struct()
    message["x"] = number
    with pytest.raises(ValueError):
        json_format.MessageToDict(message)
    with pytest.raises(ValueError):
        struct_to_dict(message, json_format.MessageToDict)
