"""One-pass, mergeable moments of a numeric matrix (no Dask here).

Each partition of a dataset is summarised on its own (counts, sums, sums of squares and
cross-products, min, max, null counts) and the summaries are added up, so the Dask engine
can reduce them in a tree. Sums are of ``z = x − K`` for a shift ``K`` common to all
partitions (the "shifted data" variance formula): with ``K`` near the mean,
``Σz² − (Σz)²/n`` does not cancel catastrophically when ``|mean| ≫ std``. The pair
sums use pairwise deletion, like ``mixsynth.diagnose``'s own moments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from mixsynth.schema import Kind, infer_kind, is_mixed, storage_type

__all__ = ["NumericMatrix", "PartialMoments", "batch_moments"]


@dataclass(frozen=True)
class NumericMatrix:
    """Turns record batches into a float64 matrix: numeric columns, NaN for null and ±inf.

    Temporal columns become int64 ticks; a fixed-size list (tensor) column gives one
    matrix column per element (labelled ``name[i]``).
    """

    columns: tuple[tuple[str, Kind, int], ...]

    @classmethod
    def for_schema(cls, schema: pa.Schema, names: Iterable[str] | None = None) -> NumericMatrix:
        """The numeric columns among ``names`` (default: all), in schema order."""
        wanted = set(schema.names if names is None else names)
        cols = []
        for f in schema:
            if f.name not in wanted:
                continue
            try:
                kind = infer_kind(f.name, f.type)
            except Exception:  # noqa: BLE001 - unsupported types are simply not numeric
                continue
            if is_mixed(kind):
                s = storage_type(f.type)
                cols.append((f.name, kind, s.list_size if kind is Kind.TENSOR else 1))
        return cls(tuple(cols))

    @property
    def names(self) -> list[str]:
        """Source columns read."""
        return [c[0] for c in self.columns]

    @property
    def labels(self) -> list[str]:
        """One label per matrix column."""
        return [
            f"{n}[{i}]" if k is Kind.TENSOR else n for n, k, w in self.columns for i in range(w)
        ]

    def __call__(self, batch: pa.RecordBatch | pa.Table) -> np.ndarray:
        blocks = []
        for name, kind, width in self.columns:
            arr = batch.column(name)
            arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
            if kind is Kind.TENSOR:
                arr = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
                child = arr.values.slice(arr.offset * width, len(arr) * width)
                block = np.asarray(
                    child.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
                )
                block = block.reshape(len(arr), width).copy()
                block[np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
            else:
                if kind is Kind.TEMPORAL:
                    bits = storage_type(arr.type).bit_width
                    arr = arr.cast(pa.int32() if bits == 32 else pa.int64())
                block = np.asarray(
                    arr.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
                )
                block = block.reshape(-1, 1)
            blocks.append(block)
        X = np.hstack(blocks) if blocks else np.empty((batch.num_rows, 0))
        X[~np.isfinite(X)] = np.nan
        return X


@dataclass
class PartialMoments:
    """Shifted sums over rows of a numeric matrix of width ``d``; add two with :meth:`merge`.

    Attributes
    ----------
    shift : array of shape (d,)
        ``K``; every sum is of ``z = x − K``.
    rows : int
    count, total, squares : arrays of shape (d,)
        Non-missing values, ``Σz``, ``Σz²`` per column.
    low, high : arrays of shape (d,)
        Min and max (NaN for a column with no values).
    below, above : int arrays of shape (d,)
        Values under / over the ``bounds`` given to :func:`batch_moments` (0 without).
    pair_n, pair_s, pair_q, pair_p : arrays of shape (d, d), or None
        Over rows where columns i and j are both present: the count, ``Σz_i``,
        ``Σz_i²`` and ``Σz_i z_j``.
    nulls : dict of str to int
        Null values per source column.
    """

    shift: np.ndarray
    pairs: bool = True
    rows: int = 0
    nulls: dict[str, int] = field(default_factory=dict)
    count: np.ndarray = field(init=False)
    total: np.ndarray = field(init=False)
    squares: np.ndarray = field(init=False)
    low: np.ndarray = field(init=False)
    high: np.ndarray = field(init=False)
    below: np.ndarray = field(init=False)
    above: np.ndarray = field(init=False)
    pair_n: np.ndarray | None = field(init=False, default=None)
    pair_s: np.ndarray | None = field(init=False, default=None)
    pair_q: np.ndarray | None = field(init=False, default=None)
    pair_p: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        d = self.shift.shape[0]
        self.count, self.below, self.above = (np.zeros(d, np.int64) for _ in range(3))
        self.total, self.squares = np.zeros(d), np.zeros(d)
        self.low, self.high = np.full(d, np.nan), np.full(d, np.nan)
        if self.pairs:
            self.pair_n, self.pair_s, self.pair_q, self.pair_p = (
                np.zeros((d, d)) for _ in range(4)
            )

    def update(self, X: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Add the rows of ``X`` (shape (b, d), NaN = missing)."""
        present = ~np.isnan(X)
        Z = np.where(present, X - self.shift, 0.0)
        self.rows += X.shape[0]
        self.count += present.sum(axis=0)
        self.total += Z.sum(axis=0)
        self.squares += (Z * Z).sum(axis=0)
        self.low = np.fmin(self.low, np.fmin.reduce(X, axis=0))
        self.high = np.fmax(self.high, np.fmax.reduce(X, axis=0))
        if bounds is not None:
            self.below += (bounds[0] > X).sum(axis=0)
            self.above += (bounds[1] < X).sum(axis=0)
        if self.pair_n is None or self.pair_s is None or self.pair_q is None or self.pair_p is None:
            return
        mask = present.astype(np.float64)
        self.pair_n += mask.T @ mask
        self.pair_s += Z.T @ mask
        self.pair_q += (Z * Z).T @ mask
        self.pair_p += Z.T @ Z

    def merge(self, other: PartialMoments) -> PartialMoments:
        """The moments of both partitions' rows (same shift and width)."""
        if not np.array_equal(self.shift, other.shift):
            msg = "cannot merge moments taken with different shifts"
            raise ValueError(msg)
        out = replace(
            self,
            nulls={
                k: self.nulls.get(k, 0) + other.nulls.get(k, 0) for k in self.nulls | other.nulls
            },
        )
        out.rows = self.rows + other.rows
        for name in (
            "count",
            "total",
            "squares",
            "below",
            "above",
            "pair_n",
            "pair_s",
            "pair_q",
            "pair_p",
        ):
            a, b = getattr(self, name), getattr(other, name)
            setattr(out, name, None if a is None else a + b)
        out.low, out.high = np.fmin(self.low, other.low), np.fmax(self.high, other.high)
        return out

    @property
    def sum(self) -> np.ndarray:
        """``Σx`` per column (unshifted)."""
        return self.total + self.count * self.shift

    @property
    def sum_squares(self) -> np.ndarray:
        """``Σx²`` per column (unshifted; prefer :meth:`var` for the variance)."""
        return self.squares + 2 * self.shift * self.total + self.count * self.shift**2

    def mean(self) -> np.ndarray:
        """Column means; NaN where a column has no values."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.shift + self.total / self.count

    def var(self) -> np.ndarray:
        """Column variances (ddof=1); NaN with fewer than two values."""
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (self.squares - self.total**2 / self.count) / (self.count - 1)
        return np.where(self.count > 1, np.maximum(v, 0.0), np.nan)

    def cov(self) -> np.ndarray | None:
        """Pairwise-complete covariance (ddof=1), or None without pair sums."""
        if self.pair_n is None or self.pair_s is None or self.pair_p is None:
            return None
        n, s = self.pair_n, self.pair_s
        with np.errstate(divide="ignore", invalid="ignore"):
            c = (self.pair_p - s * s.T / n) / (n - 1)
        c[np.diag_indices_from(c)] = self.var()
        return np.where(n > 1, c, np.nan)


def batch_moments(
    batches: Iterable[pa.RecordBatch],
    to_matrix: NumericMatrix,
    shift: np.ndarray,
    *,
    null_columns: Iterable[str] = (),
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
    pairs: bool = True,
) -> PartialMoments:
    """Moments of the rows of ``batches`` (one partition), in one pass."""
    names = list(null_columns)
    out = PartialMoments(
        np.asarray(shift, dtype=np.float64), pairs=pairs, nulls=dict.fromkeys(names, 0)
    )
    for batch in batches:
        if batch.num_rows == 0:
            continue
        out.update(to_matrix(batch), bounds)
        for name in names:
            out.nulls[name] += batch.column(name).null_count
    return out
