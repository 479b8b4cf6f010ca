"""Encode Arrow columns into one float matrix for mixing, and decode mixed rows back.

Mixed kinds (float, integer, temporal, tensor) become columns of ``X`` (shape (n, d)),
with NaN marking nulls. Taken kinds (boolean, categorical, string) stay as Arrow arrays
and are decoded with ``take``, which keeps their exact type. Identifiers are regenerated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.errors import SchemaError, UsageError
from mixsynth.memory import allocate
from mixsynth.options import PRECISIONS
from mixsynth.schema import ColumnSpec, Kind, is_mixed, storage_type
from mixsynth.synthesis import grid as grids_
from mixsynth.synthesis.grid import Grid
from mixsynth.synthesis.offsets import inside, steps_from, value_of_steps

__all__ = ["PRECISIONS", "Encoded", "Feature", "Layout", "decode", "encode", "layout"]


@dataclass(frozen=True)
class Feature:
    """Where a mixed column lives in ``X``: columns ``start:start+width``."""

    spec: ColumnSpec
    start: int
    width: int
    # Temporal columns, and integers past 2**53 or on a grid, are stored minus their
    # minimum (exactly, modulo 2**64): float64 then holds their spread, not their magnitude.
    #: The minimum, in units of the column (ticks or integer values; months on a
    #: calendar grid).
    origin: int = 0
    #: An integer column past 2**53 or on a grid (stored minus ``origin``, which may be 0).
    shifted: bool = False
    #: The exact largest value of a temporal or shifted integer column, in the units of
    #: ``origin`` (its float in ``X`` may round past it once the spread passes 2**53).
    top: int | None = None
    #: The grid the source values lie on (:mod:`mixsynth.synthesis.grid`): ``X`` then
    #: counts steps of it from ``origin``, so whole numbers in ``X`` are grid points.
    grid: Grid | None = None

    @property
    def cols(self) -> slice:
        """Slice of ``X`` holding this column."""
        return slice(self.start, self.start + self.width)

    @property
    def step(self) -> int:
        """Units of ``origin`` per whole number of ``X`` (1 without a grid)."""
        return 1 if self.grid is None else self.grid.step


@dataclass
class Encoded:
    """A source table ready for mixing."""

    columns: list[ColumnSpec]
    X: np.ndarray
    features: list[Feature]
    taken: dict[str, pa.Array] = field(default_factory=dict)
    taken_null: dict[str, np.ndarray] = field(default_factory=dict)
    id_start: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of source rows."""
        return self.X.shape[0] if self.features else len(next(iter(self.taken.values())))


def _null_mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


#: Bytes of float64 temporaries per encoding slice: the source is converted a slice of
#: rows at a time, straight into ``X``, so encoding never holds a second full-size copy.
_SLICE_BYTES = 64 * 2**20
#: Integers of at most this magnitude are exact in float32 (24-bit significand), float64 (53).
_FLOAT32_EXACT = 2**24
_FLOAT64_EXACT = 2**53


@dataclass(frozen=True)
class Layout:
    """Where each mixed column goes in ``X``, and ``X``'s dtype (no values read yet).

    Attributes
    ----------
    features : list of Feature
    dtype : numpy.dtype
        float32 when every mixed column is exact in float32 (``precision="auto"``).
    wide : list of str
        Mixed columns whose values need float64 (float32 rounds them).
    """

    features: list[Feature]
    dtype: np.dtype
    wide: list[str]

    @property
    def d(self) -> int:
        """Columns of ``X``."""
        return sum(f.width for f in self.features)


def _elements(arr: pa.FixedSizeListArray) -> pa.Array:
    # Not .flatten(): it drops the slots of null lists, and X keeps a row for every list.
    size = arr.type.list_size
    return arr.values.slice(arr.offset * size, len(arr) * size)


def _numbers(spec: ColumnSpec, column: pa.ChunkedArray) -> tuple[pa.DataType, pa.ChunkedArray]:
    """The numeric type whose values are mixed, and those values (tensor elements, ticks)."""
    s = storage_type(spec.field.type)
    if spec.kind is Kind.TENSOR:
        chunks = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in column.chunks]
        return s.value_type, pa.chunked_array([_elements(c) for c in chunks], s.value_type)
    if spec.kind is Kind.TEMPORAL:
        width = pa.int32() if s.bit_width == 32 else pa.int64()
        return width, column.cast(width)  # zero-copy: the storage integers
    return s, column


def _exact_in_float32(t: pa.DataType, values: pa.ChunkedArray, origin: int) -> bool:
    if pa.types.is_floating(t):
        return t.bit_width <= 32
    if t.bit_width <= 16:
        return True
    lo, hi = (v.as_py() for v in pc.min_max(values).values())
    return lo is None or max(abs(lo - origin), abs(hi - origin)) <= _FLOAT32_EXACT


def layout(
    table: pa.Table,
    columns: list[ColumnSpec],
    precision: str = "auto",
    grids: dict[str, Grid | None] | None = None,
) -> Layout:
    """Plan ``X`` for ``table`` without building it (min/max, and one pass over integer
    and temporal columns for their grid).

    ``auto`` picks float32 only when float32 holds every source value exactly (float16/32
    columns; integers, ticks and tensor elements within ±2**24), so no precision the
    source has is lost; otherwise float64. ``float32``/``float64`` force a dtype.
    ``grids`` gives the grid of integer and temporal columns found elsewhere (a
    partitioned source merges its files' facts); a column it lacks is scanned here.
    """
    if precision not in PRECISIONS:
        msg = f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}"
        raise UsageError(msg)
    features, wide, start = [], [], 0
    for spec in columns:
        if not is_mixed(spec.kind):
            continue
        column = table.column(spec.name)
        t, values = _numbers(spec, column)
        origin = pc.min(values).as_py() if spec.kind in (Kind.TEMPORAL, Kind.INTEGER) else 0
        shifted, top = False, None
        if spec.kind in (Kind.TEMPORAL, Kind.INTEGER) and origin is not None:
            top = pc.max(values).as_py()
        grid = None
        if spec.kind in (Kind.TEMPORAL, Kind.INTEGER) and origin is not None:
            if grids is not None and spec.name in grids:
                grid = grids[spec.name]
            else:
                grid = grids_.detect(storage_type(spec.field.type), column)
        plain_origin = origin or 0
        if spec.kind is Kind.INTEGER and origin is not None and top is not None:
            # Only integers float64 cannot hold, or on a grid, are shifted: others keep
            # their layout.
            shifted = max(abs(origin), abs(top)) > _FLOAT64_EXACT
            plain_origin = origin if shifted else 0
            shifted = shifted or grid is not None
            origin = origin if shifted else 0
        if grid is not None and grid.months is not None and origin is not None and top is not None:
            # Counted in months: the extremes' months (a month ordinal grows with the ticks).
            origin, top = (int(m) for m in grids_.to_months(grid, np.array([origin, top], dtype=np.int64)))
        width = storage_type(spec.field.type).list_size if spec.kind is Kind.TENSOR else 1
        features.append(Feature(spec, start, width, origin or 0, shifted, top if origin is not None else None, grid))
        start += width
        # The dtype is chosen from the plain values, as without a grid: a grid does not
        # change how every other column of X is mixed.
        if not _exact_in_float32(t, values, plain_origin):
            wide.append(spec.name)
    dtype = np.float64 if precision == "float64" or (precision == "auto" and wide) else np.float32
    return Layout(features, np.dtype(dtype), wide)


def _slice_values(
    feat: Feature, part: pa.ChunkedArray, dtype: np.dtype, safe: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One slice of a mixed column as (rows, width) floats with NaN for nulls, and the nulls."""
    spec, target = feat.spec, pa.from_numpy_dtype(dtype)
    g = feat.grid
    if spec.kind is Kind.TEMPORAL:
        ticks = _numbers(spec, part)[1].cast(pa.int64())
        null = _null_mask(ticks)
        if g is not None and g.months is not None:
            raw = ((grids_.to_months(g, ticks.fill_null(0).to_numpy()) - feat.origin) // g.step).astype(np.float64)
        else:
            raw = steps_from(ticks.fill_null(feat.origin).to_numpy(), feat.origin, feat.step)
        return np.where(null, np.nan, raw.astype(dtype))[:, None], null[:, None]
    if spec.kind is Kind.INTEGER and feat.shifted:
        null = _null_mask(part)
        raw = steps_from(part.fill_null(pa.scalar(feat.origin, part.type)).to_numpy(), feat.origin, feat.step)
        return np.where(null, np.nan, raw.astype(dtype))[:, None], null[:, None]
    if spec.kind is Kind.TENSOR:
        arr = part.combine_chunks()
        arr = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
        child = _elements(arr)
        shape = (len(arr), feat.width)
        flat = child.cast(target, safe=safe).to_numpy(zero_copy_only=False).reshape(shape).copy()
        null = _null_mask(child).reshape(shape) | _null_mask(arr)[:, None]
        flat[null] = np.nan
        return flat, null
    return part.cast(target, safe=safe).to_numpy()[:, None], _null_mask(part)[:, None]


def _fill(X: np.ndarray, feat: Feature, column: pa.ChunkedArray, nan: str, safe: bool) -> None:
    step = max(1, _SLICE_BYTES // (8 * feat.width))
    bad_count, first = 0, -1
    for off in range(0, len(column), step):
        values, null = _slice_values(feat, column.slice(off, step), X.dtype, safe)
        bad = ~np.isfinite(values) & ~null
        if bad.any():
            first = off + int(np.flatnonzero(bad.any(axis=1))[0]) if first < 0 else first
            bad_count += int(bad.sum())
            values = np.where(bad, np.nan, values)
        X[off : off + len(values), feat.cols] = values
    if bad_count and nan != "skip":
        msg = (
            f"column {feat.spec.name!r} has {bad_count} NaN or infinite values (first at row "
            f"{first}); expected finite numbers (use --nan skip to treat them as nulls)"
        )
        raise SchemaError(msg)


def encode(
    table: pa.Table,
    columns: list[ColumnSpec],
    *,
    nan: str = "error",
    precision: str = "auto",
    memory_limit: int | None = None,
    notify: Callable[[str], None] | None = None,
    grids: dict[str, Grid | None] | None = None,
) -> Encoded:
    """Encode ``table`` for mixing.

    Parameters
    ----------
    table : pyarrow.Table
        Source rows; must hold every column in ``columns``.
    columns : list of ColumnSpec
        Columns to synthesise, in output order.
    nan : {"error", "skip"}
        What to do with NaN/±inf in float columns: raise, or treat them as nulls.
    precision : {"auto", "float32", "float64"}
        dtype of ``X`` (see :func:`layout`); mixing happens in this dtype.
    memory_limit : int, optional
        Bytes; a larger ``X`` is built in a memory-mapped temporary file
        (default: :func:`mixsynth.memory.default_memory_limit`).
    notify : callable, optional
        Receives one-line notices (spilling, precision given up by ``float32``).
    grids : dict of str to Grid or None, optional
        Grids of integer and temporal columns known from elsewhere (see :func:`layout`);
        by default each is found in ``table``.

    Returns
    -------
    Encoded
        ``X`` of shape (n, d), NaN for nulls; taken columns as Arrow arrays.
    """
    plan = layout(table, columns, precision, grids)
    if precision == "float32" and plan.wide and notify is not None:
        wide = ", ".join(map(repr, plan.wide))
        notify(f"--precision float32 rounds {wide} (their values need float64)")
    n = table.num_rows
    X = np.empty((n, 0))
    if plan.features:
        X = allocate((n, plan.d), plan.dtype, memory_limit, notify)
    enc = Encoded(columns=columns, X=X, features=plan.features)
    by_name = {f.spec.name: f for f in plan.features}
    for spec in columns:
        column = table.column(spec.name)
        if spec.kind is Kind.ID:
            # Fresh integer keys continue past the largest real one, so none collides with it.
            integer = pa.types.is_integer(spec.field.type)
            enc.id_start[spec.name] = pc.max(column).as_py() + 1 if integer else 0
        elif spec.name in by_name:
            # Safe casts (ArrowInvalid on loss) unless float32 was forced on wide values.
            _fill(X, by_name[spec.name], column, nan, safe=precision != "float32")
        else:
            arr = column.combine_chunks()
            enc.taken[spec.name] = arr
            enc.taken_null[spec.name] = _null_mask(arr)
    return enc


def _int_array(values: np.ndarray, t: pa.DataType, mask: np.ndarray) -> pa.Array:
    info = np.iinfo(t.to_pandas_dtype())
    ints = np.clip(np.rint(np.nan_to_num(values)), info.min, info.max).astype(t.to_pandas_dtype())
    return pa.array(ints, type=t, mask=mask)


def _within_float(values: np.ndarray, t: pa.DataType) -> np.ndarray:
    """``values`` clipped to the finite range of float type ``t``: a float16 (or float32)
    column is mixed in a wider dtype, where a mix of values near its largest float can
    pass it, and the cast would turn that into ±inf (finite in, finite out)."""
    high = np.finfo(t.to_pandas_dtype()).max
    if values.dtype.itemsize <= np.dtype(t.to_pandas_dtype()).itemsize:
        return values
    return np.clip(values, -high, high)


def _decode_feature(feat: Feature, Y: np.ndarray) -> pa.Array:
    t = feat.spec.field.type
    s = storage_type(t)
    block = Y[:, feat.cols]
    if feat.spec.kind is Kind.TENSOR:
        flat = block.reshape(-1)
        child_mask = np.isnan(flat)
        if pa.types.is_integer(s.value_type):
            child = _int_array(flat, s.value_type, child_mask)
        else:
            child = pa.array(_within_float(flat, s.value_type), mask=child_mask).cast(s.value_type)
        # A null list was encoded as a row of NaN; a row of NaN decodes to a null list.
        row_null = child_mask.reshape(block.shape).all(axis=1)
        mask = pa.array(row_null) if row_null.any() else None
        arr = pa.FixedSizeListArray.from_arrays(child, s.list_size, mask=mask)
        arr = arr.cast(s) if arr.type != s else arr
        return pa.ExtensionArray.from_storage(t, arr) if isinstance(t, pa.BaseExtensionType) else arr
    values = block[:, 0]
    mask = np.isnan(values)
    if feat.spec.kind is Kind.FLOAT:
        return pa.array(_within_float(values, t), mask=mask).cast(t)
    if feat.spec.kind is Kind.INTEGER and feat.shifted:
        info = np.iinfo(t.to_pandas_dtype())
        # The grid points inside the dtype's range (ceil and floor of the steps to its ends).
        lo, hi = -((feat.origin - int(info.min)) // feat.step), (int(info.max) - feat.origin) // feat.step
        rel = np.clip(np.rint(np.nan_to_num(values)), *inside(lo, hi))
        return pa.array(value_of_steps(rel, feat.origin, t.to_pandas_dtype(), feat.step), type=t, mask=mask)
    if feat.spec.kind is Kind.INTEGER:
        return _int_array(values, t, mask)
    g = feat.grid
    if g is not None and g.months is not None:
        months = feat.origin + np.rint(np.nan_to_num(values)).astype(np.int64) * g.step
        ticks = grids_.from_months(g, months)
    else:
        ticks = value_of_steps(np.rint(np.nan_to_num(values)), feat.origin, np.int64, feat.step)
    width = pa.int32() if s.bit_width == 32 else pa.int64()
    return pa.array(ticks, mask=mask).cast(width).cast(t)


def _regenerated_ids(ids: np.ndarray, t: pa.DataType) -> pa.Array:
    if pa.types.is_integer(t):
        return pa.array(ids).cast(t)
    return pa.array(np.char.add("syn-", ids.astype(str))).cast(t)


def decode(
    enc: Encoded,
    Y: np.ndarray,
    taken_rows: dict[str, np.ndarray],
    row_start: int,
) -> pa.Table:
    """Build the output rows from mixed values ``Y`` (shape (m, d)) and parent choices.

    Parameters
    ----------
    enc : Encoded
    Y : array of shape (m, d)
        Mixed (and bounded) encoded values; NaN means null.
    taken_rows : dict of str to integer array of shape (m,)
        For each taken column, the source row whose value each synthetic row takes.
    row_start : int
        Global index of the first synthetic row (identifiers are regenerated from it).
    """
    m = Y.shape[0]
    by_name = {f.spec.name: f for f in enc.features}
    arrays, fields = [], []
    for spec in enc.columns:
        if spec.kind is Kind.ID:
            ids = np.arange(row_start, row_start + m, dtype=np.int64) + enc.id_start[spec.name]
            arr = _regenerated_ids(ids, spec.field.type)
        elif spec.name in by_name:
            arr = _decode_feature(by_name[spec.name], Y)
        else:
            arr = enc.taken[spec.name].take(pa.array(taken_rows[spec.name]))
        arrays.append(arr)
        fields.append(spec.field)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

