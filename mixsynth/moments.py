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

__all__ = ["Moments", "NumericMatrix", "PartialMoments", "batch_moments"]


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
class Moments:
    """Running sums over the numeric matrix, shifted by ``shift``.

    The pair matrices use pairwise deletion: ``pair_n[i, j]`` rows have both ``i`` and
    ``j`` non-null, ``pair_s[i, j]`` sums ``z_i`` over those rows and ``pair_q[i, j]``
    sums ``z_i²`` over them, ``pair_p[i, j]`` sums ``z_i z_j``.
    """

    shift: np.ndarray
    pairs: bool = True
    count: np.ndarray = field(init=False)
    total: np.ndarray = field(init=False)
    squares: np.ndarray = field(init=False)
    cubes: np.ndarray = field(init=False)
    fourths: np.ndarray = field(init=False)
    low: np.ndarray = field(init=False)
    high: np.ndarray = field(init=False)
    below: np.ndarray = field(init=False)
    above: np.ndarray = field(init=False)
    pair_n: np.ndarray = field(init=False)
    pair_s: np.ndarray = field(init=False)
    pair_q: np.ndarray = field(init=False)
    pair_p: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        d = self.shift.shape[0]
        self.count, self.below, self.above = (np.zeros(d, np.int64) for _ in range(3))
        self.total, self.squares, self.cubes, self.fourths = (np.zeros(d) for _ in range(4))
        self.low, self.high = np.full(d, np.nan), np.full(d, np.nan)
        k = d if self.pairs else 0
        self.pair_n, self.pair_s, self.pair_q, self.pair_p = (np.zeros((k, k)) for _ in range(4))

    def update(self, X: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Add the rows of ``X`` (shape (b, d), NaN = null); count values outside ``bounds``."""
        present = ~np.isnan(X)
        full = bool(present.all())
        Z = X - self.shift if full else np.where(present, X - self.shift, 0.0)
        ZZ = Z * Z
        s1, s2 = Z.sum(axis=0), ZZ.sum(axis=0)
        self.count += X.shape[0] if full else present.sum(axis=0)
        self.total += s1
        self.squares += s2
        self.cubes += np.einsum("ij,ij->j", ZZ, Z)
        self.fourths += np.einsum("ij,ij->j", ZZ, ZZ)
        # fmin/fmax skip NaN without the all-NaN warnings of nanmin/nanmax.
        self.low = np.fmin(self.low, X.min(axis=0) if full else np.fmin.reduce(X, axis=0))
        self.high = np.fmax(self.high, X.max(axis=0) if full else np.fmax.reduce(X, axis=0))
        if bounds is not None:
            self.below += np.less(X, bounds[0]).sum(axis=0)
            self.above += np.greater(X, bounds[1]).sum(axis=0)
        if not self.pairs:
            return
        if full:
            self.pair_n += X.shape[0]
            self.pair_s += s1[:, None]
            self.pair_q += s2[:, None]
        else:
            mask = present.astype(np.float64)
            self.pair_n += mask.T @ mask
            self.pair_s += Z.T @ mask
            self.pair_q += ZZ.T @ mask
        self.pair_p += Z.T @ Z

    def merge(self, other: Moments) -> Moments:
        """The moments of both sets of rows (same shift and width)."""
        if not np.array_equal(self.shift, other.shift):
            msg = "cannot merge moments taken with different shifts"
            raise ValueError(msg)
        out = replace(self)
        for name in ("count", "total", "squares", "cubes", "fourths", "below", "above",
                     "pair_n", "pair_s", "pair_q", "pair_p"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
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
        """Column means, shape (d,); NaN where a column has no values."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.shift + self.total / self.count

    def var(self) -> np.ndarray:
        """Column variances (ddof=1), shape (d,); NaN with fewer than two values."""
        with np.errstate(divide="ignore", invalid="ignore"):
            v = (self.squares - self.total**2 / self.count) / (self.count - 1)
        return np.where(self.count > 1, np.maximum(v, 0.0), np.nan)

    def central(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Population central moments ``m2, m3, m4`` (divided by n), each of shape (d,).

        NaN with no values, or where ``m2`` is rounding noise (a constant column away
        from the shift), so that skewness and kurtosis are undefined rather than huge.
        """
        n = self.count
        with np.errstate(divide="ignore", invalid="ignore"):
            a, s2, s3, s4 = self.total / n, self.squares / n, self.cubes / n, self.fourths / n
            m2 = s2 - a * a
            m3 = s3 - 3 * a * s2 + 2 * a**3
            m4 = s4 - 4 * a * s3 + 6 * a * a * s2 - 3 * a**4
        # Expanding the powers of (z − a) cancels about a²/m2 of the digits; below this
        # m2 is indistinguishable from zero.
        defined = (n > 0) & (m2 > 1e-12 * s2)
        return (np.where(defined, m2, np.nan), np.where(defined, m3, np.nan),
                np.where(defined, m4, np.nan))

    def skewness(self) -> np.ndarray:
        """Column skewness ``m3 / m2^1.5`` (biased, as ``scipy.stats.skew``), shape (d,)."""
        m2, m3, _ = self.central()
        with np.errstate(divide="ignore", invalid="ignore"):
            return m3 / m2**1.5

    def kurtosis(self) -> np.ndarray:
        """Excess (Fisher) kurtosis ``m4 / m2² − 3`` (biased, as ``scipy.stats.kurtosis``)."""
        m2, _, m4 = self.central()
        with np.errstate(divide="ignore", invalid="ignore"):
            return m4 / (m2 * m2) - 3.0

    def cov(self) -> np.ndarray | None:
        """Pairwise-complete covariance (ddof=1), shape (d, d), or None without pair sums."""
        if not self.pairs:
            return None
        n, s = self.pair_n, self.pair_s
        with np.errstate(divide="ignore", invalid="ignore"):
            c = (self.pair_p - s * s.T / n) / (n - 1)
        c[np.diag_indices_from(c)] = self.var()
        return np.where(n > 1, c, np.nan)

    def corr(self) -> np.ndarray | None:
        """Pairwise-complete correlation, shape (d, d), or None without pair sums."""
        c = self.cov()
        if c is None:
            return None
        n, s = self.pair_n, self.pair_s
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.maximum((self.pair_q - s * s / n) / (n - 1), 0.0)  # var of i where j present
            r = c / np.sqrt(v * v.T)
        return np.clip(r, -1.0, 1.0)



@dataclass
class PartialMoments(Moments):
    """:class:`Moments` of one partition, with its row count and null counts per source column."""

    rows: int = 0
    nulls: dict[str, int] = field(default_factory=dict)

    def update(self, X: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Add the rows of ``X`` (shape (b, d), NaN = missing)."""
        super().update(X, bounds)
        self.rows += X.shape[0]

    def merge(self, other: Moments) -> PartialMoments:
        """The moments of both partitions' rows (same shift and width)."""
        out = super().merge(other)
        assert isinstance(out, PartialMoments)
        assert isinstance(other, PartialMoments)
        out.rows = self.rows + other.rows
        out.nulls = {k: self.nulls.get(k, 0) + other.nulls.get(k, 0) for k in self.nulls | other.nulls}
        return out


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
