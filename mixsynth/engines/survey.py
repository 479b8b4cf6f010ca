"""The one-pass survey of a partitioned source, and what it decides.

Each fragment gives its facts (row count, nulls, extremes, temporal ticks, uniqueness)
in one pass on a worker (:func:`fragment_facts`); from them come the column kinds and
identifiers (:func:`id_like_over`, a key scan merged on the cluster), the two extreme rows
whose encoding gives the whole source's layout (:func:`extreme_rows`), and the NaN check
with its global row (:func:`check_nan`). ``diagnose --engine dask`` uses the same facts.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.errors import SchemaError
from mixsynth.io.dataset import Reducer, local_reduce
from mixsynth.schema import ColumnSpec, Kind, id_rule, infer_kind, is_mixed, storage_type
from mixsynth.synthesis import grid as grids_
from mixsynth.synthesis.encode import encode
from mixsynth.synthesis.grid import Grid, GridFacts

__all__ = [
    "ColumnFacts",
    "FragmentFacts",
    "check_nan",
    "extreme_rows",
    "fragment_facts",
    "grids_of",
    "fragment_keys",
    "id_like_over",
    "keys_distinct",
    "kinds_of",
    "merge_keys",
    "sorted_keys",
    "ticks",
]

# Two 64-bit hashes per string: a false "duplicate" needs both to collide (< 1e-20 at 1e9 rows).
_HASH_KEYS = ("mixsynth-key-0xa", "mixsynth-key-0xb")


def kinds_of(schema: pa.Schema, columns: list[str]) -> dict[str, Kind | None]:
    """Kind of each column from its type; None where the type is unsupported."""
    kinds: dict[str, Kind | None] = {}
    for name in columns:
        try:
            kinds[name] = infer_kind(name, schema.field(name).type)
        except SchemaError:
            kinds[name] = None
    return kinds


def ticks(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Temporal values as int64 ticks, cast exactly as :func:`mixsynth.synthesis.encode.encode` does."""
    width = storage_type(column.type).bit_width
    return column.cast(pa.int32() if width == 32 else pa.int64()).cast(pa.int64())


@dataclass(frozen=True)
class ColumnFacts:
    """What one fragment knows about one column.

    ``low``/``high`` are the extremes of the encoded float values (finite ones only);
    ``tick_low``/``tick_high`` and ``int_low``/``int_high`` are exact for temporal and
    integer columns. ``bad`` counts non-null NaN/±inf in float columns, the first at
    local row ``first_bad``. ``unique`` is True when there are no nulls and no repeats.
    ``grid`` holds the grid facts of integer and temporal columns (merged over files by
    :func:`grids_of`).
    """

    nulls: int
    low: float | None = None
    high: float | None = None
    tick_low: int | None = None
    tick_high: int | None = None
    int_low: int | None = None
    int_high: int | None = None
    bad: int = 0
    first_bad: int | None = None
    unique: bool | None = None
    grid: GridFacts | None = None


@dataclass(frozen=True)
class FragmentFacts:
    """Row count, row-group sizes and per-column facts of one fragment."""

    rows: int
    row_groups: tuple[int, ...]
    columns: dict[str, ColumnFacts]


def _extremes(values: np.ndarray) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (None, None)


def _column_facts(
    name: str, column: pa.ChunkedArray, kind: Kind | None, field: pa.Field
) -> ColumnFacts:
    nulls = column.null_count
    if kind is Kind.FLOAT:
        values = column.cast(pa.float64()).to_numpy()
        null = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        bad = ~np.isfinite(values) & ~null
        first = int(np.flatnonzero(bad)[0]) if bad.any() else None
        low, high = _extremes(values)
        return ColumnFacts(nulls, low, high, bad=int(bad.sum()), first_bad=first)
    unique = None
    if kind in (Kind.STRING, Kind.INTEGER):
        unique = nulls == 0 and pc.count_distinct(column).as_py() == len(column)
    if kind is Kind.INTEGER:
        lo, hi = (s.as_py() for s in pc.min_max(column).values())
        return ColumnFacts(
            nulls,
            None if lo is None else float(lo),
            None if hi is None else float(hi),
            int_low=lo,
            int_high=hi,
            unique=unique,
            grid=grids_.column_facts(storage_type(field.type), column),
        )
    if kind is Kind.TEMPORAL:
        lo, hi = (s.as_py() for s in pc.min_max(ticks(column)).values())
        return ColumnFacts(nulls, tick_low=lo, tick_high=hi,
                           grid=grids_.column_facts(storage_type(field.type), column))
    if kind is Kind.TENSOR:
        spec = ColumnSpec(name, kind, field)
        X = encode(pa.table({name: column}), [spec], nan="skip", precision="float64").X
        low, high = _extremes(X.reshape(-1))
        return ColumnFacts(nulls, low, high)
    return ColumnFacts(nulls, unique=unique)


def fragment_facts(
    fragment: Any, schema: pa.Schema, kinds: dict[str, Kind | None]
) -> FragmentFacts:
    """One pass over a fragment's projected columns (``kinds`` names them)."""
    fragment.ensure_complete_metadata()
    groups = tuple(rg.num_rows for rg in fragment.row_groups)
    table = fragment.to_table(columns=list(kinds), schema=schema)
    columns = {
        name: _column_facts(name, table.column(name), kind, schema.field(name))
        for name, kind in kinds.items()
    }
    return FragmentFacts(table.num_rows, groups, columns)


def fragment_keys(fragment: Any, schema: pa.Schema, name: str) -> np.ndarray:
    """Exact-or-hashed keys of a string/integer column, uint64 array of shape (rows, 2)."""
    column = fragment.to_table(columns=[name], schema=schema).column(name)
    keys = np.zeros((len(column), 2), dtype=np.uint64)
    if pa.types.is_integer(storage_type(column.type)):
        keys[:, 0] = column.cast(pa.int64(), safe=False).to_numpy().view(np.uint64)
        return keys
    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    for j, key in enumerate(_HASH_KEYS):
        keys[:, j] = pd.util.hash_array(values, hash_key=key, categorize=False)
    return keys


def sorted_keys(fragment: Any, schema: pa.Schema, name: str) -> np.ndarray | None:
    """:func:`fragment_keys` in sorted order, or None when a key repeats (mergeable with
    :func:`merge_keys`; a file's keys are half the size of its column, or less)."""
    return _sorted_unique(fragment_keys(fragment, schema, name))


def _sorted_unique(keys: np.ndarray) -> np.ndarray | None:
    s = keys[np.lexsort((keys[:, 1], keys[:, 0]))]
    if len(s) > 1 and bool(((s[1:, 0] == s[:-1, 0]) & (s[1:, 1] == s[:-1, 1])).any()):
        return None
    return s


def merge_keys(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Sorted keys of two scans, or None once any key repeats (then nothing more is kept)."""
    return None if a is None or b is None else _sorted_unique(np.concatenate([a, b]))


def keys_distinct(keys: np.ndarray | None) -> bool:
    """The answer of a merged key scan (run where the keys are, so only a bool travels)."""
    return keys is not None


def id_like_over(
    name: str,
    kind: Kind,
    schema: pa.Schema,
    fragments: Sequence[Any],
    facts: Sequence[FragmentFacts],
    reduce: Reducer = local_reduce,
) -> bool:
    """:func:`mixsynth.schema.id_like` over a partitioned column, from its fragments' facts.

    Counts, nulls and extremes come from the facts; whether a value repeats across files
    is a scan of each file's sorted keys merged by ``reduce`` (on a cluster: on the
    workers, so that no column is held whole by the caller), and runs only when the
    answer depends on it.
    """
    cols = [f.columns[name] for f in facts]

    def span() -> int:
        lows = [c.int_low for c in cols if c.int_low is not None]
        highs = [c.int_high for c in cols if c.int_high is not None]
        return max(highs) - min(lows) + 1

    def distinct() -> bool:
        if not all(c.unique for c in cols):
            return False
        live = [frag for frag, f in zip(fragments, facts, strict=True) if f.rows]
        return len(live) < 2 or bool(reduce(functools.partial(sorted_keys, schema=schema, name=name),
                                            live, merge_keys, keys_distinct))

    return id_rule(name, kind, sum(f.rows for f in facts), sum(c.nulls for c in cols), span, distinct)


def check_nan(specs: list[ColumnSpec], facts: list[FragmentFacts], offsets: np.ndarray, nan: str) -> None:
    """The local engine's NaN/inf error, with the global row of the first bad value
    (``offsets``: each fragment's first global row)."""
    for spec in specs:
        cols = [f.columns[spec.name] for f in facts]
        bad = sum(c.bad for c in cols)
        if bad and nan != "skip" and is_mixed(spec.kind):
            first = next(
                int(offsets[i]) + c.first_bad
                for i, c in enumerate(cols)
                if c.first_bad is not None
            )
            msg = (
                f"column {spec.name!r} has {bad} NaN or infinite values (first at row "
                f"{first}); expected finite numbers (use --nan skip to treat them as nulls)"
            )
            raise SchemaError(msg)


def grids_of(
    schema: pa.Schema, specs: list[ColumnSpec], facts: list[FragmentFacts]
) -> dict[str, Grid | None]:
    """The grid of each integer and temporal column, from its files' facts merged (the
    same grid :func:`mixsynth.synthesis.grid.detect` finds in the whole column)."""
    out: dict[str, Grid | None] = {}
    for spec in specs:
        if spec.kind not in (Kind.INTEGER, Kind.TEMPORAL):
            continue
        merged = GridFacts()
        for f in facts:
            part = f.columns[spec.name].grid
            merged = grids_.merge(merged, part if part is not None else GridFacts())
        out[spec.name] = grids_.decide(storage_type(schema.field(spec.name).type), merged)
    return out


def _bounds_of(cols: list[ColumnFacts], kind: Kind) -> tuple[Any, Any]:
    lows: list[Any]
    highs: list[Any]
    if kind is Kind.TEMPORAL:
        lows, highs = [c.tick_low for c in cols], [c.tick_high for c in cols]
    elif kind in (Kind.INTEGER, Kind.ID):
        lows, highs = [c.int_low for c in cols], [c.int_high for c in cols]
    else:
        lows, highs = [c.low for c in cols], [c.high for c in cols]
    lows, highs = [v for v in lows if v is not None], [v for v in highs if v is not None]
    return (min(lows), max(highs)) if lows else (None, None)


def _extreme_array(field: pa.Field, kind: Kind, lo: Any, hi: Any) -> pa.Array:
    t, s = field.type, storage_type(field.type)
    if lo is None:
        return pa.nulls(2, type=t)
    if kind is Kind.TEMPORAL:
        width = pa.int32() if s.bit_width == 32 else pa.int64()
        return pa.array([lo, hi], pa.int64()).cast(width).cast(t)
    if kind is Kind.TENSOR:
        w = s.list_size
        values = pa.array([lo] * w + [hi] * w, pa.float64()).cast(s.value_type, safe=False)
        arr = pa.FixedSizeListArray.from_arrays(values, w).cast(s)
        return (
            pa.ExtensionArray.from_storage(t, arr) if isinstance(t, pa.BaseExtensionType) else arr
        )
    return pa.array([lo, hi], pa.int64() if kind in (Kind.INTEGER, Kind.ID) else pa.float64()).cast(
        t
    )


def extreme_rows(
    schema: pa.Schema, specs: list[ColumnSpec], facts: list[FragmentFacts]
) -> pa.Table:
    """Two rows: each mixed (or integer identifier) column's global minimum, then maximum."""
    arrays, fields = [], []
    for spec in specs:
        fld = schema.field(spec.name)
        if is_mixed(spec.kind) or (spec.kind is Kind.ID and pa.types.is_integer(fld.type)):
            lo, hi = _bounds_of([f.columns[spec.name] for f in facts], spec.kind)
            arrays.append(_extreme_array(fld, spec.kind, lo, hi))
        else:
            arrays.append(pa.nulls(2, type=fld.type))
        fields.append(fld)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
