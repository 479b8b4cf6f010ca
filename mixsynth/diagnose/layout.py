"""Which columns ``diagnose`` compares, and how a record batch becomes numbers.

Numeric kinds (float, integer, temporal, tensor) become columns of a float64 matrix with
NaN for nulls; a tensor (fixed-size list) contributes one matrix column per element.
64-bit integers and ticks beyond float64's exact range (every ``timestamp[ns]`` with
sub-second digits) enter the matrix as exact integer offsets from an origin, a value of
the real side, so that nearby values stay apart (see :attr:`NumericCol.origin`).
Categorical kinds (boolean, categorical, string) are compared by their values as text.
Unlike ``generate``, nothing here is fatal: unsupported, identifier-like or mismatched
columns are skipped with a reason, and columns on one side only are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.arguments import select_columns
from mixsynth.diagnose.inputs import Input
from mixsynth.errors import InputError, SchemaError
from mixsynth.schema import Kind, id_like, infer_kind, is_mixed, storage_type

__all__ = [
    "CategoricalCol",
    "IdCheck",
    "Layout",
    "NumericCol",
    "category_values",
    "numeric_block",
    "plan_layout",
]

#: ``id_check(name, kind)``: whether the real side's column ``name`` is an identifier.
IdCheck = Callable[[str, Kind], bool]
#: float64 holds every integer of at most this magnitude exactly.
_EXACT = 2**53
#: Rows of the real side read to choose the origins.
_ORIGIN_ROWS = 65_536


@dataclass(frozen=True)
class NumericCol:
    """A numeric column: matrix columns ``start:start+width`` (width > 1 for tensors)."""

    name: str
    kind: Kind
    start: int
    width: int
    type: pa.DataType  # the real side's type; the other sides are cast to it
    target: bool = False
    #: Subtracted from every value, in integers, before the cast to float64 (0: none).
    #: The smallest value of the real side's first batch when its 64-bit integers or
    #: ticks go past 2**53: a ``timestamp[ns]`` of 2020 is 1.6e18, where float64 steps by
    #: 256 ns, and values 1 ns apart became equal (a range of 0, a variance of 0). Moments,
    #: ranges and samples are then of offsets; the report adds the origin back.
    origin: int = 0

    @property
    def cols(self) -> slice:
        """Slice of the numeric matrix holding this column."""
        return slice(self.start, self.start + self.width)

    def labels(self) -> list[str]:
        """One label per matrix column: the name, or ``name[i]`` for tensor elements."""
        if self.kind is Kind.TENSOR:
            return [f"{self.name}[{i}]" for i in range(self.width)]
        return [self.name]


@dataclass(frozen=True)
class CategoricalCol:
    """A column compared by value frequencies."""

    name: str
    kind: Kind
    target: bool = False


@dataclass(frozen=True)
class Layout:
    """The compared columns and what was left out (with reasons)."""

    numeric: tuple[NumericCol, ...]
    categorical: tuple[CategoricalCol, ...]
    only_real: tuple[str, ...] = ()
    only_synth: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def d(self) -> int:
        """Width of the numeric matrix."""
        return sum(c.width for c in self.numeric)

    @property
    def names(self) -> list[str]:
        """Compared column names, numeric first."""
        return [c.name for c in self.numeric] + [c.name for c in self.categorical]

    def labels(self) -> list[str]:
        """Labels of the numeric matrix columns."""
        return [label for c in self.numeric for label in c.labels()]


def _width(t: pa.DataType) -> int:
    s = storage_type(t)
    return s.list_size if pa.types.is_fixed_size_list(s) else 1


def _kind(name: str, t: pa.DataType) -> tuple[Kind | None, str]:
    try:
        return infer_kind(name, t), ""
    except SchemaError:
        return None, f"unsupported type {t}"


def _compatible(name: str, real_t: pa.DataType, synth_t: pa.DataType) -> str:
    """Why the synthetic column cannot be compared with the real one ('' when it can)."""
    rk, sk = _kind(name, real_t)[0], _kind(name, synth_t)[0]
    if rk is None or sk is None:
        return f"unsupported synthetic type {synth_t}" if sk is None else ""
    if is_mixed(rk) != is_mixed(sk):
        return f"real type {real_t} vs synthetic type {synth_t}"
    if (rk is Kind.TENSOR or sk is Kind.TENSOR) and (
        rk is not sk or _width(real_t) != _width(synth_t)
    ):
        return f"real type {real_t} vs synthetic type {synth_t}"
    if (rk is Kind.TEMPORAL) != (sk is Kind.TEMPORAL):
        return f"real type {real_t} vs synthetic type {synth_t}"
    return ""


def plan_layout(
    real: Input,
    synth: Input,
    *,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    target: str | None = None,
    id_check: IdCheck | None = None,
) -> Layout:
    """Compare the columns the two sides share (real order), minus skipped ones.

    ``id_check(name, kind)`` says whether a string or integer column of the real side is
    an identifier (:func:`mixsynth.schema.id_like`); by default the column is read whole
    here, the Dask engine's scans it file by file on the workers.

    Raises
    ------
    InputError
        No columns in common, or none left that can be compared.
    UsageError
        Unknown names in ``columns``/``exclude``/``target`` (names must be on both sides).
    """
    is_id = id_check or (lambda name, kind: id_like(name, kind, real.column(name)))
    synth_types = {f.name: f.type for f in synth.schema}
    common = [f.name for f in real.schema if f.name in synth_types]
    if not common:
        msg = (
            f"{real.name!r} and {synth.name!r} have no columns in common; expected the same "
            f"column names (real: {', '.join(real.schema.names[:5])}; synthetic: "
            f"{', '.join(synth.schema.names[:5])})"
        )
        raise InputError(msg)
    chosen = select_columns(common, columns, exclude, target)
    numeric: list[NumericCol] = []
    categorical: list[CategoricalCol] = []
    skipped: list[tuple[str, str]] = []
    start = 0
    for name in chosen:
        t = real.schema.field(name).type
        kind, why = _kind(name, t)
        why = why or _compatible(name, t, synth_types[name])
        # Only keys can be identifiers, so only string/integer columns are read whole here.
        key_like = kind in (Kind.STRING, Kind.INTEGER) and not why and name != target
        if key_like and kind is not None and is_id(name, kind):
            why = "identifier-like (all values unique)"
        if kind is None or why:
            skipped.append((name, why))
        elif is_mixed(kind):
            numeric.append(NumericCol(name, kind, start, _width(t), t, name == target))
            start += _width(t)
        else:
            categorical.append(CategoricalCol(name, kind, name == target))
    if not numeric and not categorical:
        reasons = "; ".join(f"{n}: {w}" for n, w in skipped[:5])
        msg = f"no columns left to compare; expected numeric or categorical columns ({reasons})"
        raise InputError(msg)
    real_names = set(real.schema.names)  # once: a set per name made this quadratic (3.5 s at 3000 columns)
    origins = _origins(real, numeric)
    numeric = [replace(c, origin=origins[c.name]) if c.name in origins else c for c in numeric]
    return Layout(
        tuple(numeric),
        tuple(categorical),
        only_real=tuple(n for n in real.schema.names if n not in synth_types),
        only_synth=tuple(n for n in synth.schema.names if n not in real_names),
        skipped=tuple(skipped),
    )


def _float64(arr: pa.Array) -> np.ndarray:
    # A column whose values past 2**53 did not set an origin (the real side's first batch
    # held none, or a tensor's elements) is rounded to float64's 16 significant digits
    # rather than refused by Arrow's safe cast.
    safe = not (pa.types.is_integer(arr.type) and arr.type.bit_width == 64)
    return np.asarray(arr.cast(pa.float64(), safe=safe).to_numpy(zero_copy_only=False), dtype=np.float64)


def _wide(t: pa.DataType) -> bool:
    """64-bit integers and 64-bit ticks (timestamp, duration, date64, time64)."""
    t = storage_type(t)
    return (pa.types.is_integer(t) or pa.types.is_temporal(t)) and t.bit_width == 64


def _integers(arr: pa.Array, col: NumericCol) -> pa.Array:
    """``arr`` as the integers of the real side's type: ticks as int64 (in the real unit)."""
    if col.kind is Kind.TEMPORAL:
        arr = arr.cast(col.type) if arr.type != col.type else arr
        return arr.cast(pa.int64())
    return arr.cast(col.type) if arr.type != col.type else arr


def _origins(real: Input, numeric: list[NumericCol]) -> dict[str, int]:
    """An origin for each 64-bit column whose real first batch goes past 2**53."""
    wide = {c.name: c for c in numeric if c.kind is not Kind.TENSOR and _wide(c.type)}
    batch = next((b for b in real.batches(list(wide), _ORIGIN_ROWS) if b.num_rows), None) if wide else None
    if batch is None:
        return {}
    origins: dict[str, int] = {}
    for name, col in wide.items():
        try:
            low, high = pc.min_max(_integers(batch.column(name), col)).values()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue  # numeric_block names the column that cannot be cast
        if low.is_valid and not -_EXACT <= low.as_py() <= high.as_py() <= _EXACT:
            origins[name] = low.as_py()
    return origins


def _offsets(arr: pa.Array, col: NumericCol) -> np.ndarray:
    """``arr − col.origin`` as float64, the difference taken exactly in integers, so only
    offsets past 2**53 round; a difference beyond int64 (up to ±2**64) does not wrap."""
    try:
        ints = _integers(arr, col)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        if col.kind is Kind.TEMPORAL:
            raise  # numeric_block names the column that cannot be cast
        # A synthetic side of floats (or of values the real type cannot hold): already
        # rounded, so the difference in float64 loses nothing more.
        return _float64(arr) - float(col.origin)
    values = ints.fill_null(0).to_numpy(zero_copy_only=False)
    origin = np.array(col.origin, dtype=values.dtype)
    # Subtract modulo 2**64 (unsigned, which never warns), read back as signed: exact
    # unless the true difference is outside int64, which its sign then shows.
    diff = (values.view(np.uint64) - origin.view(np.uint64)).view(np.int64)
    out = diff.astype(np.float64)
    below = values < origin
    wrapped = below != (diff < 0)
    out[wrapped] += np.where(below[wrapped], -(2.0**64), 2.0**64)
    if ints.null_count:
        out[np.asarray(ints.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
    return out


def _ticks(arr: pa.Array, t: pa.DataType) -> np.ndarray:
    # Compare temporal columns as int64 ticks of the real side's unit.
    arr = arr.cast(t) if arr.type != t else arr
    width = pa.int32() if storage_type(t).bit_width == 32 else pa.int64()
    return _float64(arr.cast(width))


def _tensor(arr: pa.Array, width: int) -> np.ndarray:
    arr = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    child = arr.values.slice(arr.offset * width, len(arr) * width)
    flat = _float64(child).reshape(len(arr), width)
    if arr.null_count:
        flat[np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
    return flat


def numeric_block(batch: pa.RecordBatch | pa.Table, layout: Layout) -> np.ndarray:
    """The numeric matrix of a batch, shape (rows, layout.d), NaN for null and non-finite.

    Raises
    ------
    InputError
        A value that cannot be cast to the real side's type (e.g. a time zone mismatch).
    """
    out = np.empty((batch.num_rows, layout.d), dtype=np.float64)
    for col in layout.numeric:
        arr = batch.column(col.name)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        try:
            if col.kind is Kind.TENSOR:
                out[:, col.cols] = _tensor(arr, col.width)
            elif col.origin:
                out[:, col.start] = _offsets(arr, col)
            elif col.kind is Kind.TEMPORAL:
                out[:, col.start] = _ticks(arr, col.type)
            else:
                out[:, col.start] = _float64(arr)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            msg = f"column {col.name!r} cannot be compared as {col.type}: {exc}"
            raise InputError(msg) from None
    out[~np.isfinite(out)] = np.nan
    return out


def category_values(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Values as strings (nulls kept), so ``"a"``, dictionary ``"a"`` and ``a`` compare equal;
    bytes that are not UTF-8 are escaped as Python's ``backslashreplace`` writes them."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if (
        pa.types.is_binary(arr.type)
        or pa.types.is_large_binary(arr.type)
        or pa.types.is_fixed_size_binary(arr.type)
    ):
        raw = arr.cast(pa.binary())
        try:
            return raw.cast(pa.string())  # a checked cast: fails on bytes that are not UTF-8
        except pa.ArrowInvalid:
            # Bytes that are not text (hashes, images) are categories too: escape what does
            # not decode (b"\xff" -> "\\xff") and keep valid text as it is, so equal bytes
            # stay equal from batch to batch and still match a string column's values.
            return pa.array([None if v is None else v.decode("utf-8", "backslashreplace")
                             for v in raw.to_pylist()], pa.string())
    return arr.cast(pa.string())
