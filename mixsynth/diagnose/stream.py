"""One pass over a side's record batches: moments, ranges, counts and a seeded sample.

Everything that can be merged batch by batch (non-null counts, sums of ``z``, ``z³``,
``z⁴`` and ``z·zᵀ``, min/max, out-of-range counts, null counts, category counts) is
computed on all rows.
The sums are of ``z = x − K`` with ``K`` the real side's first-batch mean, the
"shifted data" form of the variance, which keeps the subtraction in
``Σz² − (Σz)²/n`` from cancelling when ``|mean| ≫ std``. The rows that distances need
(KS, Wasserstein, quantiles, DCR) are picked up in the same pass from a sorted set of
seeded row indices, so a file is read exactly once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.diagnose.inputs import Input
from mixsynth.diagnose.layout import Layout, category_values, numeric_block

__all__ = ["MAX_CATEGORIES", "MAX_COV_DIMS", "Moments", "Scan", "sample_indices", "scan"]

#: Numeric matrix widths above this get per-column moments only (no d×d cross products).
MAX_COV_DIMS = 2048
#: Distinct values counted per categorical column before it is reported as too diverse.
MAX_CATEGORIES = 100_000


@dataclass
class Moments:
    """Running sums over the numeric matrix, shifted by ``shift``.

    The pair matrices use pairwise deletion: ``pair_n[i, j]`` rows have both ``i`` and
    ``j`` non-null, ``pair_s[i, j]`` sums ``z_i`` over those rows and ``pair_q[i, j]``
    sums ``z_i²`` over them, ``pair_p[i, j]`` sums ``z_i z_j``.
    """

    shift: np.ndarray
    pairs: bool
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

    def update(self, X: np.ndarray, ref: Moments | None) -> None:
        """Add the rows of ``X`` (shape (b, d), NaN = null); count values outside ``ref``."""
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
        if ref is not None:
            self.below += np.less(X, ref.low).sum(axis=0)
            self.above += np.greater(X, ref.high).sum(axis=0)
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
class Scan:
    """What one pass over a side produced."""

    rows: int
    moments: Moments
    nulls: dict[str, int]
    nonfinite: dict[str, int]
    counts: dict[str, Counter[str]]
    too_many: set[str]
    sample: pa.Table


def sample_indices(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted distinct row indices: ``k`` of ``range(n)`` uniformly, or all when ``k >= n``."""
    if k >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)


def _count(counts: Counter[str], arr: pa.Array) -> None:
    vc = pc.value_counts(category_values(arr))
    for value, n in zip(
        vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True
    ):
        if value is not None:
            counts[value] += n


def _batch_size(d: int) -> int:
    return int(max(1024, min(65_536, 2**21 // max(d, 1))))


def scan(
    src: Input,
    layout: Layout,
    take: np.ndarray,
    *,
    shift: np.ndarray | None = None,
    ref: Moments | None = None,
) -> Scan:
    """Read ``src`` once: moments over all rows, plus the rows at indices ``take``.

    Parameters
    ----------
    src : Input
    layout : Layout
    take : sorted int64 array
        Global row indices to keep as the sample.
    shift : array of shape (layout.d,), optional
        ``K`` in ``z = x − K``; None takes the first batch's mean (the real side).
    ref : Moments, optional
        The real side's moments; values below its min or above its max are counted.
    """
    d = layout.d
    names = layout.names
    moments: Moments | None = None
    nulls = dict.fromkeys(names, 0)
    nonfinite = dict.fromkeys((c.name for c in layout.numeric), 0)
    counts: dict[str, Counter[str]] = {c.name: Counter() for c in layout.categorical}
    too_many: set[str] = set()
    picked: list[pa.Table] = []
    offset = 0
    for batch in src.batches(names, _batch_size(d)):
        b = batch.num_rows
        if b == 0:
            continue
        X = numeric_block(batch, layout)
        if moments is None:
            if shift is None:
                with np.errstate(invalid="ignore"):  # all-null columns give NaN; shift by 0
                    shift = np.nan_to_num(np.nansum(X, axis=0) / (~np.isnan(X)).sum(axis=0))
            moments = Moments(shift, pairs=d <= MAX_COV_DIMS)
        moments.update(X, ref)
        for col in layout.numeric:
            null = batch.column(col.name).null_count
            nulls[col.name] += null
            # NaN beyond the null rows were NaN/±inf (or null tensor elements) in the data.
            nonfinite[col.name] += int(np.isnan(X[:, col.cols]).sum()) - null * col.width
        for col in layout.categorical:
            arr = batch.column(col.name)
            nulls[col.name] += arr.null_count
            if col.name not in too_many:
                _count(counts[col.name], arr)
                if len(counts[col.name]) > MAX_CATEGORIES:
                    too_many.add(col.name)
                    counts[col.name].clear()
        lo, hi = np.searchsorted(take, [offset, offset + b])
        if hi > lo:
            picked.append(pa.Table.from_batches([batch.take(pa.array(take[lo:hi] - offset))]))
        offset += b
    if moments is None:
        moments = Moments(np.zeros(d) if shift is None else shift, pairs=d <= MAX_COV_DIMS)
    schema = pa.schema([src.schema.field(n) for n in names])
    sample = pa.concat_tables(picked) if picked else schema.empty_table()
    return Scan(offset, moments, nulls, nonfinite, counts, too_many, sample)
