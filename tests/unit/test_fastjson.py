"""state.fastjson reads and writes JSON exactly as the json package does (it only avoids importing it)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeroxl.state import fastjson

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def same(a: object, b: object) -> bool:
    """Equal, taking NaN as equal to itself (json reads "NaN" as a NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@given(VALUES)
def test_it_writes_what_json_dumps_writes(value: object) -> None:
    assert fastjson.dumps(value) == json.dumps(value, sort_keys=True, separators=(",", ":"))


@given(VALUES, st.sampled_from([{}, {"indent": 2}]))
def test_it_reads_what_json_writes(value: object, style: dict[str, int]) -> None:
    text = json.dumps(value, **style)  # type: ignore[arg-type]
    assert same(fastjson.loads(text.encode()), json.loads(text))


@pytest.mark.parametrize(
    "data", [b"", b"{", b'{"a": 1} x', b"\xff", b'{"a": "\\ud800"}', b"\xef\xbb\xbf{}", b"  [1, 2]\n\n", b"nul"]
)
def test_what_is_not_plain_json_is_read_or_refused_as_json_does(data: bytes) -> None:
    try:
        expected: object = json.loads(data)
    except ValueError as e:
        with pytest.raises(type(e)) as got:
            fastjson.loads(data)
        assert str(got.value) == str(e)
    else:
        assert fastjson.loads(data) == expected


def test_what_json_cannot_write_it_refuses_as_json_does() -> None:
    for value in ({1j: 1}, [object()]):
        with pytest.raises(TypeError) as expected:
            json.dumps(value, sort_keys=True, separators=(",", ":"))
        with pytest.raises(TypeError) as got:
            fastjson.dumps(value)
        assert str(got.value) == str(expected.value)
