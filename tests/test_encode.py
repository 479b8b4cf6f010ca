"""decode(encode(table)) gives the table back, for every column kind (hypothesis)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixsynth.schema import ColumnSpec, infer_kind
from mixsynth.synthesis.encode import decode, encode

INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32()]
TEMPORAL_TYPES = [
    pa.timestamp("ns", tz="America/New_York"), pa.timestamp("us", tz="UTC"), pa.timestamp("s"),
    pa.date32(), pa.duration("us"), pa.time32("ms"),
]


@st.composite
def columns(draw, n):
    choice = draw(st.sampled_from(["int", "float", "temporal", "string", "bool", "dict", "list"]))
    nulls = draw(st.booleans())
    maybe = lambda values: [None if nulls and i % 3 == 0 else v for i, v in enumerate(values)]  # noqa: E731
    if choice == "int":
        t = draw(st.sampled_from(INT_TYPES))
        info = np.iinfo(t.to_pandas_dtype())
        values = draw(st.lists(st.integers(max(info.min, -(2**52)), min(info.max, 2**52)), min_size=n, max_size=n))
        return pa.array(maybe(values), t)
    if choice == "float":
        t = draw(st.sampled_from([pa.float32(), pa.float64()]))
        width = 32 if t == pa.float32() else 64
        values = draw(st.lists(st.floats(-1e6, 1e6, width=width), min_size=n, max_size=n))
        return pa.array(maybe(values), t)
    if choice == "temporal":
        t = draw(st.sampled_from(TEMPORAL_TYPES))
        hi = 86_399_999 if t == pa.time32("ms") else 2**31 - 1
        values = draw(st.lists(st.integers(0, hi), min_size=n, max_size=n))
        storage = pa.int32() if t.bit_width == 32 else pa.int64()
        return pa.array(maybe(values), storage).cast(t)
    if choice == "list":
        values = draw(st.lists(st.floats(-1024, 1024, width=32), min_size=3 * n, max_size=3 * n))
        return pa.FixedSizeListArray.from_arrays(pa.array(values, pa.float32()), 3)
    values = draw(st.lists(st.text(max_size=5), min_size=n, max_size=n))
    if choice == "bool":
        return pa.array(maybe([len(v) % 2 == 0 for v in values]))
    arr = pa.array(maybe(values))
    return arr.dictionary_encode() if choice == "dict" else arr


@st.composite
def tables(draw):
    n = draw(st.integers(2, 12))
    cols = draw(st.lists(columns(n), min_size=1, max_size=5))
    return pa.table({f"c{i}": c for i, c in enumerate(cols)})


@settings(max_examples=150, deadline=None)
@given(table=tables(), data=st.data())
@pytest.mark.slow
def test_decode_of_encoded_rows_is_the_table(table, data):
    specs = [ColumnSpec(f.name, infer_kind(f.name, f.type), f) for f in table.schema]
    enc = encode(table, specs)
    rows = np.array(data.draw(st.lists(st.integers(0, table.num_rows - 1), min_size=1, max_size=20)))
    out = decode(enc, enc.X[rows], {name: rows for name in enc.taken}, 0)
    assert out.schema.equals(table.schema)
    assert out.equals(table.take(pa.array(rows)))


def test_fixed_shape_tensor_round_trip():
    tensor = pa.fixed_shape_tensor(pa.int16(), (2, 3))
    storage = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(24, dtype=np.int16)), 6)
    table = pa.table({"t": pa.ExtensionArray.from_storage(tensor, storage)})
    specs = [ColumnSpec("t", infer_kind("t", tensor), table.schema.field("t"))]
    enc = encode(table, specs)
    assert enc.X.shape == (4, 6)
    out = decode(enc, enc.X[[3, 0]], {}, 0)
    assert out.equals(table.take(pa.array([3, 0])))


@pytest.mark.parametrize(
    ("t", "fragment"),
    [
        (pa.struct([("a", pa.int8())]), "unsupported type struct<a: int8>"),
        (pa.map_(pa.string(), pa.int8()), "unsupported type map<string, int8>"),
        (pa.list_(pa.float64()), "unsupported type list<item: double>"),
        (pa.list_(pa.string(), 2), "only numeric fixed-size lists are mixed"),
        (pa.decimal128(10, 2), "unsupported type decimal128(10, 2)"),
    ],
)
def test_unsupported_types_name_the_column(t, fragment):
    from mixsynth.errors import SchemaError

    with pytest.raises(SchemaError) as info:
        infer_kind("odd", t)
    assert "column 'odd'" in str(info.value)
    assert fragment in str(info.value)
    assert "--exclude odd" in str(info.value)
