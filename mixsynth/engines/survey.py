"""What the one-pass survey of a partitioned source decides: the two extreme rows whose
encoding gives the whole source's layout, and the NaN check with its global row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from mixsynth.errors import SchemaError
from mixsynth.io.dataset import ColumnFacts, FragmentFacts
from mixsynth.schema import ColumnSpec, Kind, is_mixed, storage_type

__all__ = ["check_nan", "extreme_rows", "read_column"]


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


def read_column(fragment: Any, schema: pa.Schema, name: str) -> pa.Array:
    """One column of one fragment (a worker's task)."""
    return fragment.to_table(columns=[name], schema=schema).column(name).combine_chunks()


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
