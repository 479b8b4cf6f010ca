"""Column kinds: how each Arrow column is synthesised (docs/design.md section 3)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.errors import SchemaError

__all__ = ["ColumnSpec", "Kind", "id_like", "id_rule", "infer_kind", "is_mixed", "relative_values", "storage_type"]

#: Minimum rows before "all values unique" alone marks a column as an identifier.
_ID_MIN_ROWS = 20
_ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|guid)$|^(id|uuid|guid)([_\W]|$)", re.IGNORECASE)


class Kind(str, Enum):
    """How a column is synthesised."""

    FLOAT = "float"  # mixed
    INTEGER = "integer"  # mixed, rounded, dtype kept
    TEMPORAL = "temporal"  # mixed as integer ticks, unit and time zone kept
    TENSOR = "tensor"  # fixed-size list: mixed element-wise
    BOOLEAN = "boolean"  # taken from one parent
    CATEGORICAL = "categorical"  # taken from one parent (dictionary-encoded)
    STRING = "string"  # taken from one parent
    ID = "id"  # not mixed: regenerated or dropped
    EMPTY = "empty"  # entirely null: passes through as nulls of its type


def is_mixed(kind: Kind) -> bool:
    """True for kinds whose values are mixed numerically (as opposed to taken or regenerated)."""
    return kind in (Kind.FLOAT, Kind.INTEGER, Kind.TEMPORAL, Kind.TENSOR)


@dataclass(frozen=True)
class ColumnSpec:
    """One source column and how it is synthesised.

    Attributes
    ----------
    name : str
    kind : Kind
    field : pyarrow.Field
        The source field; the output field is identical.
    target : bool
        The label column given with ``--target`` (categorical targets take the dominant
        parent's value).
    """

    name: str
    kind: Kind
    field: pa.Field
    target: bool = False


def storage_type(t: pa.DataType) -> pa.DataType:
    """The storage type of an extension type (e.g. fixed-shape tensor), else ``t``."""
    return t.storage_type if isinstance(t, pa.BaseExtensionType) else t


def relative_values(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric or temporal column as float64 (null is NaN), 64-bit integers and ticks
    minus their minimum.

    For what a shift does not change: order, quantile bins, shares of variance. Near
    2**63 float64 holds a value only to the nearest 1 024, so a plain cast turns a spread
    of a few hundred into one or two values; minus the minimum (exact modulo 2**64, as
    the encoding does) the spread keeps its digits.

    Parameters
    ----------
    column : pyarrow.ChunkedArray
        Integer, floating, decimal or temporal values.

    Returns
    -------
    numpy.ndarray
        float64, one value per row.

    Examples
    --------
    >>> relative_values(pa.chunked_array([[2**63 - 3, None, 2**63 - 1]])).tolist()
    [0.0, nan, 2.0]
    >>> relative_values(pa.chunked_array([pa.array([1.5, None], pa.float32())])).tolist()
    [1.5, nan]
    """
    t = storage_type(column.type)
    if pa.types.is_temporal(t):
        column = column.cast(pa.int32() if t.bit_width == 32 else pa.int64())  # the ticks
        t = column.type
    if pa.types.is_integer(t) and t.bit_width == 64:
        origin = pc.min(column).as_py()
        if origin is None:
            return np.full(len(column), np.nan)
        raw = column.fill_null(origin).to_numpy()
        # Unsigned arithmetic wraps modulo 2**64, where int64's difference could overflow.
        u = raw.view(np.uint64) if raw.dtype == np.int64 else raw.astype(np.uint64, copy=False)
        values = (u - np.uint64(origin % 2**64)).astype(np.float64)
        values[np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
        return values
    # Not a safe cast: 32-bit values are exact, and decimals and float16 need none.
    return np.asarray(column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64)


def _tensor_value_ok(t: pa.DataType) -> bool:
    return pa.types.is_floating(t) or pa.types.is_integer(t)


def _unsupported(name: str, t: pa.DataType, why: str = "") -> SchemaError:
    msg = (
        f"column {name!r} has unsupported type {t}{why}; expected numbers, booleans, strings, "
        f"categoricals, dates/times or fixed-size numeric lists (use --exclude {name})"
    )
    return SchemaError(msg)


def infer_kind(name: str, t: pa.DataType) -> Kind:
    """Kind of a column from its Arrow type alone (before the id-like check).

    Raises
    ------
    SchemaError
        For types that cannot be synthesised (struct, map, variable lists, decimals, ...).

    Examples
    --------
    >>> infer_kind("x", pa.timestamp("us", tz="UTC"))
    <Kind.TEMPORAL: 'temporal'>
    >>> infer_kind("img", pa.list_(pa.float32(), 64))
    <Kind.TENSOR: 'tensor'>
    """
    s = storage_type(t)
    types = pa.types
    if types.is_floating(s):
        return Kind.FLOAT
    if types.is_integer(s):
        return Kind.INTEGER
    if types.is_boolean(s):
        return Kind.BOOLEAN
    if types.is_dictionary(s):
        return Kind.CATEGORICAL
    if (
        types.is_string(s)
        or types.is_large_string(s)
        or types.is_binary(s)
        or types.is_large_binary(s)
        or types.is_fixed_size_binary(s)
        or getattr(types, "is_string_view", lambda _: False)(s)
    ):
        return Kind.STRING
    if types.is_temporal(s) and not types.is_interval(s):
        return Kind.TEMPORAL
    if types.is_fixed_size_list(s):
        if _tensor_value_ok(s.value_type):
            return Kind.TENSOR
        raise _unsupported(name, t, " (only numeric fixed-size lists are mixed)")
    if types.is_null(s):
        # pandas writes an all-None column as Arrow's null type: it passes through as such.
        return Kind.EMPTY
    raise _unsupported(name, t)


def id_like(name: str, kind: Kind, column: pa.ChunkedArray) -> bool:
    """Whether a string or integer column is an identifier rather than a feature.

    Identifiers are keys: every value distinct and none null, and either the name says so
    (``id``, ``user_id``, ``uuid``, ...) or, on at least 20 rows, the values are strings or
    consecutive integers. Mixing them would invent meaningless keys or copy real ones.
    """

    def span() -> int:
        lo, hi = pc.min_max(column).values()
        return int(hi.as_py() - lo.as_py() + 1)

    return id_rule(name, kind, len(column), column.null_count, span,
                   lambda: pc.count_distinct(column).as_py() == len(column))


def id_rule(
    name: str, kind: Kind, rows: int, nulls: int, span: Callable[[], int], distinct: Callable[[], bool]
) -> bool:
    """:func:`id_like` from facts: ``span()`` is ``max - min + 1`` of an integer column and
    ``distinct()`` whether no value repeats. Both are called only when the answer needs
    them, ``distinct`` last (on a partitioned source it is the costly one: a merge of keys)."""
    if kind not in (Kind.STRING, Kind.INTEGER) or rows < 2 or nulls:
        return False
    if not _ID_NAME.search(name):
        if rows < _ID_MIN_ROWS:
            return False
        if kind is Kind.INTEGER and span() != rows:
            return False
    return distinct()
