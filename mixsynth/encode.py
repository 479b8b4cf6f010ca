"""Encode Arrow columns into one float matrix for mixing, and decode mixed rows back.

Mixed kinds (float, integer, temporal, tensor) become columns of ``X`` (shape (n, d)),
with NaN marking nulls. Taken kinds (boolean, categorical, string) stay as Arrow arrays
and are decoded with ``take``, which keeps their exact type. Identifiers are regenerated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.errors import SchemaError
from mixsynth.schema import ColumnSpec, Kind, is_mixed, storage_type

__all__ = ["Encoded", "Feature", "decode", "encode"]


@dataclass(frozen=True)
class Feature:
    """Where a mixed column lives in ``X``: columns ``start:start+width``."""

    spec: ColumnSpec
    start: int
    width: int
    origin: int = 0  # temporal columns are stored as ticks minus their minimum, for precision

    @property
    def cols(self) -> slice:
        """Slice of ``X`` holding this column."""
        return slice(self.start, self.start + self.width)


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


def _finite(name: str, values: np.ndarray, null: np.ndarray, nan: str) -> np.ndarray:
    """NaN for nulls; NaN/±inf that are real values raise, or become nulls with ``--nan skip``."""
    bad = ~np.isfinite(values) & ~null
    if not bad.any():
        return values
    if nan != "skip":
        first = int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])
        msg = (
            f"column {name!r} has {int(bad.sum())} NaN or infinite values (first at row "
            f"{first}); expected finite numbers (use --nan skip to treat them as nulls)"
        )
        raise SchemaError(msg)
    return np.where(bad, np.nan, values)


def _float_values(spec: ColumnSpec, column: pa.ChunkedArray, nan: str) -> np.ndarray:
    return _finite(spec.name, column.cast(pa.float64()).to_numpy(), _null_mask(column), nan)


def _temporal_values(column: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    width = storage_type(column.type).bit_width
    ticks = column.cast(pa.int32() if width == 32 else pa.int64()).cast(pa.int64())
    origin = pc.min(ticks).as_py()
    mask = _null_mask(ticks)
    raw = ticks.fill_null(origin).to_numpy().astype(np.int64) - origin
    return np.where(mask, np.nan, raw.astype(np.float64)), origin


def _tensor_values(spec: ColumnSpec, column: pa.ChunkedArray, nan: str) -> np.ndarray:
    arr = column.combine_chunks()
    arr = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    size = arr.type.list_size
    child = arr.values.slice(arr.offset * size, len(arr) * size)
    shape = (len(arr), size)
    flat = child.cast(pa.float64()).to_numpy(zero_copy_only=False).reshape(shape)
    flat = _finite(spec.name, flat, _null_mask(child).reshape(shape), nan).copy()
    flat[_null_mask(arr)] = np.nan
    return flat


def encode(table: pa.Table, columns: list[ColumnSpec], *, nan: str = "error") -> Encoded:
    """Encode ``table`` for mixing.

    Parameters
    ----------
    table : pyarrow.Table
        Source rows; must hold every column in ``columns``.
    columns : list of ColumnSpec
        Columns to synthesise, in output order.
    nan : {"error", "skip"}
        What to do with NaN/±inf in float columns: raise, or treat them as nulls.

    Returns
    -------
    Encoded
        ``X`` of shape (n, d), float64, NaN for nulls; taken columns as Arrow arrays.
    """
    blocks: list[np.ndarray] = []
    features: list[Feature] = []
    enc = Encoded(columns=columns, X=np.empty((table.num_rows, 0)), features=features)
    start = 0
    for spec in columns:
        column = table.column(spec.name)
        if spec.kind is Kind.ID:
            # Fresh integer keys continue past the largest real one, so none collides with it.
            integer = pa.types.is_integer(spec.field.type)
            enc.id_start[spec.name] = pc.max(column).as_py() + 1 if integer else 0
            continue
        if not is_mixed(spec.kind):
            arr = column.combine_chunks()
            enc.taken[spec.name] = arr
            enc.taken_null[spec.name] = _null_mask(arr)
            continue
        origin = 0
        if spec.kind is Kind.TENSOR:
            values = _tensor_values(spec, column, nan)
        elif spec.kind is Kind.TEMPORAL:
            values, origin = _temporal_values(column)
        else:
            values = _float_values(spec, column, nan)
        values = values.reshape(table.num_rows, -1)
        features.append(Feature(spec, start, values.shape[1], origin))
        blocks.append(values)
        start += values.shape[1]
    if blocks:
        enc.X = np.ascontiguousarray(np.hstack(blocks), dtype=np.float64)
    return enc


def _int_array(values: np.ndarray, t: pa.DataType, mask: np.ndarray) -> pa.Array:
    info = np.iinfo(t.to_pandas_dtype())
    ints = np.clip(np.rint(np.nan_to_num(values)), info.min, info.max).astype(t.to_pandas_dtype())
    return pa.array(ints, type=t, mask=mask)


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
            child = pa.array(flat, mask=child_mask).cast(s.value_type)
        # A null list was encoded as a row of NaN; a row of NaN decodes to a null list.
        row_null = child_mask.reshape(block.shape).all(axis=1)
        mask = pa.array(row_null) if row_null.any() else None
        arr = pa.FixedSizeListArray.from_arrays(child, s.list_size, mask=mask)
        arr = arr.cast(s) if arr.type != s else arr
        return pa.ExtensionArray.from_storage(t, arr) if isinstance(t, pa.BaseExtensionType) else arr
    values = block[:, 0]
    mask = np.isnan(values)
    if feat.spec.kind is Kind.FLOAT:
        return pa.array(values, mask=mask).cast(t)
    if feat.spec.kind is Kind.INTEGER:
        return _int_array(values, t, mask)
    ticks = np.rint(np.nan_to_num(values)).astype(np.int64) + feat.origin
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
