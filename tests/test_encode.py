"""decode(encode(table)) gives the table back, for every column kind (hypothesis)."""

from __future__ import annotations

import datetime as dt

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


# -- grids (docs/design.md section 3.2) ------------------------------------------------------

INT64_MAX = 2**63 - 1
NS = 10**9
UTC_NS = pa.timestamp("ns", tz="UTC")


def _months(first: tuple[int, int], count: int, every: int = 1, day: int = 1) -> list[dt.date]:
    year, month = first
    out = []
    for k in range(0, count * every, every):
        m = month - 1 + k
        out.append(dt.date(year + m // 12, m % 12 + 1, day))
    return out


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


#: Literal columns, their grid: (step, calendar kind or None, day, time of day in ticks).
GRID_CASES = {
    "monthly-date32": (pa.array(_months((1960, 1), 30), pa.date32()), (1, "day", 1, 0)),
    "monthly-15th-noon-ns": (
        pa.array([dt.datetime(d.year, d.month, 15, 12) for d in _months((1999, 11), 20)], pa.timestamp("ns")),
        (1, "day", 15, 12 * 3600 * NS),
    ),
    "quarterly-utc-ns": (
        pa.array([dt.datetime(d.year, d.month, 1, tzinfo=dt.timezone.utc) for d in _months((2000, 1), 12, 3)],
                 UTC_NS),
        (3, "day", 1, 0),
    ),
    "yearly-ns": (pa.array([dt.datetime(y, 1, 1) for y in range(1990, 2021, 2)], pa.timestamp("ns")),
                  (24, "day", 1, 0)),
    # February in leap and common years, 30- and 31-day months: the last day of each.
    "month-ends-date32": (
        pa.array([_month_end(2000, 2), _month_end(2001, 2), _month_end(2004, 2), _month_end(2001, 5),
                  _month_end(2003, 12), _month_end(1900, 2)], pa.date32()),
        (1, "end", 1, 0),
    ),
    "month-ends-utc-ns-18h": (
        pa.array([dt.datetime(*_month_end(y, m).timetuple()[:3], 18, tzinfo=dt.timezone.utc)
                  for y, m in [(2020, 2), (2021, 2), (2021, 5), (2024, 2)]], UTC_NS),
        (3, "end", 1, 18 * 3600 * NS),
    ),
    "whole-seconds-ns": (pa.array([NS * s for s in (1_600_000_007, 1_600_000_000, 1_600_086_399)], pa.int64())
                         .cast(pa.timestamp("ns")), (NS, None, 1, 0)),
    "hourly-utc-us": (pa.array([3600 * 10**6 * h for h in (400_001, 400_000, 400_100, 400_027)], pa.int64())
                      .cast(pa.timestamp("us", tz="UTC")), (3600 * 10**6, None, 1, 0)),
    "weekly-date32": (pa.array([18_631 + 7 * k for k in (0, 3, 10, 11)], pa.int32()).cast(pa.date32()),
                      (7, None, 1, 0)),
    "thousands-int64": (pa.array([12_000, 3_000, -45_000, 1_000_000, None], pa.int64()), (1000, None, 1, 0)),
    "near-max-int64": (pa.array([INT64_MAX - 7 * k for k in (0, 1, 5, 40)], pa.int64()), (7, None, 1, 0)),
    "near-min-int64": (pa.array([-(2**63) + 3 * k for k in (9, 0, 1)], pa.int64()), (3, None, 1, 0)),
    "uint64-top": (pa.array([2**64 - 1, 2**64 - 1 - 10, 2**64 - 1 - 25], pa.uint64()), (5, None, 1, 0)),
}
#: Columns without a grid.
NO_GRID = {
    "daily-date32": pa.array([18_000, 18_001, 18_005], pa.int32()).cast(pa.date32()),
    # The 30th of months that have one is no month grid (a February would need it).
    "the-30th": pa.array([dt.date(2001, 1, 30), dt.date(2001, 3, 30), dt.date(2001, 4, 30)], pa.date32()),
    "coprime-int": pa.array([10, 14, 21], pa.int32()),
    "seconds-and-ticks": pa.array([5 * NS, 6 * NS + 1, 7 * NS + 3], pa.int64()).cast(pa.timestamp("ns")),
    "durations": pa.array([5, 6], pa.duration("s")),
}


def _one(name: str, arr: pa.Array) -> tuple[pa.Table, list[ColumnSpec]]:
    table = pa.table({name: arr})
    return table, [ColumnSpec(name, infer_kind(name, arr.type), table.schema.field(name))]


@pytest.mark.parametrize("case", list(GRID_CASES))
def test_a_column_on_a_grid_is_counted_in_its_steps_and_decodes_exactly(case):
    arr, (step, months, day, clock) = GRID_CASES[case]
    table, specs = _one("c", arr)
    enc = encode(table, specs)
    [feat] = enc.features
    assert feat.grid is not None
    assert (feat.grid.step, feat.grid.months) == (step, months)
    if months == "day":
        assert (feat.grid.day, feat.grid.clock) == (day, clock)
    if months == "end":
        assert feat.grid.clock == clock
    x = enc.X[:, 0]
    ok = ~np.isnan(x)
    assert np.array_equal(x[ok], np.round(x[ok]))
    assert x[ok].min() == 0
    assert decode(enc, enc.X, {}, 0).equals(table)


@pytest.mark.parametrize("case", list(NO_GRID))
def test_a_column_without_a_grid_is_stored_as_before(case):
    table, specs = _one("c", NO_GRID[case])
    assert encode(table, specs).features[0].grid is None


def test_every_grid_point_between_the_source_values_decodes_to_the_grid():
    # Months the source never had (February 2001, month ends of 2002) come out as the
    # grid's day: the last day of that month, leap years included.
    table, specs = _one("c", GRID_CASES["month-ends-date32"][0])
    enc = encode(table, specs)
    months = np.arange(0, 12 * 8, dtype=np.float64)  # Feb 1900 .. Jan 1908
    out = decode(enc, months[:, None], {}, 0).column("c").to_pylist()
    assert out[:3] == [dt.date(1900, 2, 28), dt.date(1900, 3, 31), dt.date(1900, 4, 30)]
    assert out[12 * 4] == dt.date(1904, 2, 29)
    assert all((d + dt.timedelta(days=1)).day == 1 for d in out)
    table, specs = _one("c", GRID_CASES["quarterly-utc-ns"][0])
    enc = encode(table, specs)
    out = decode(enc, np.array([[0.0], [1.0], [5.0]]), {}, 0).column("c").to_pylist()
    assert out == [dt.datetime(2000, m, 1, tzinfo=dt.timezone.utc) for m in (1, 4)] + [
        dt.datetime(2001, 4, 1, tzinfo=dt.timezone.utc)]


def test_grid_facts_merged_over_parts_are_those_of_the_whole_column():
    from mixsynth.synthesis import grid

    for arr, _ in GRID_CASES.values():
        t = arr.type
        whole = grid.column_facts(t, arr)
        parts = grid.GridFacts()
        for lo, hi in ((0, 1), (1, 1), (1, len(arr))):  # an empty part too
            parts = grid.merge(parts, grid.column_facts(t, arr.slice(lo, hi - lo)))
        assert parts == whole
    # Files that each have a coarser grid than their union: 6000 and 4000 apart, 1000 between.
    t = pa.int64()
    a, b = grid.column_facts(t, pa.array([0, 6000])), grid.column_facts(t, pa.array([1000, 5000]))
    assert grid.decide(t, grid.merge(a, b)) == grid.Grid(1000)
    jan, jul = (grid.column_facts(pa.date32(), pa.array([dt.date(y, m, 1) for y in (2000, 2001)]))
                for m in (1, 7))
    assert grid.decide(pa.date32(), grid.merge(jan, jul)) == grid.Grid(6, "day", 1, 0, 1)


def test_a_grid_spanning_all_of_int64_decodes_onto_the_grid_without_wrapping():
    # (2**64 - 4) / 3 steps: past float64's 2**53, so values are not exact, but every
    # whole number of steps is a grid point, and the dtype's ends are grid points inside.
    low = -(2**63)
    table, specs = _one("c", pa.array([low, low + 3, INT64_MAX - 3], pa.int64()))
    enc = encode(table, specs)
    assert enc.features[0].grid.step == 3
    x = np.array([[0.0], [1.0], [enc.X[2, 0]], [2.0**64], [-(2.0**64)]])
    out = decode(enc, x, {}, 0).column("c").to_pylist()
    assert out[:2] == [low, low + 3]
    assert all((v - low) % 3 == 0 and low <= v <= INT64_MAX for v in out)
    # Clipped to the last float of steps inside the dtype (float64 spaces them 2**11 apart).
    assert INT64_MAX - 2**13 < out[3] <= INT64_MAX
    assert out[4] == low
