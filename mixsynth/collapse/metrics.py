"""Per-round numbers the study adds to ``diagnose``'s summary: shape and granularity.

``diagnose`` may already report ``kurtosis_ratio_median`` and ``distinct_ratio_median``;
its values are used when present. Otherwise they are computed here from the numeric
columns (tensor elements count as columns):

- kurtosis ratio: synthetic / real **raw** fourth standardised moment ``E[z⁴]`` (kurtosis,
  not excess kurtosis, so a near-Gaussian column does not divide by ~0);
- distinct ratio: synthetic / real count of distinct non-null values (mixing makes new
  values; collapse and copying lose them).

Medians over the columns where the real value is defined (non-constant columns).

With a class target mixed ``within-class``, a law's factor ``c`` acts on the
within-class covariance only; the between-class part stays. :class:`ClassVariance`
measures the within-class variance ratio (what ``c^r`` predicts) and predicts the total.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from mixsynth.collapse.frame import column_role, numeric_block

__all__ = ["ClassVariance", "ShapeReference", "SHAPE_METRICS"]

SHAPE_METRICS = ("kurtosis_ratio_median", "distinct_ratio_median")


def _kurtosis(x: np.ndarray) -> float:
    # Standardised before the fourth power, so it holds at any scale: the study falls back
    # on it where diagnose has no kurtosis (the fourth powers of its one-pass sums, in
    # mixsynth.moments, overflow for values past about 1e77). scipy.stats.kurtosis(x,
    # fisher=False, bias=True) agrees to ~1e-15 on ordinary columns, but it too raises raw
    # deviations to the fourth power (inf or NaN past about 1e77, inexact below 1e-77), and
    # gives NaN with a RuntimeWarning on near-constant columns.
    if x.size < 2:  # an empty (all-null) column: nothing to measure, and std would warn
        return float("nan")
    sd = x.std()
    if not np.isfinite(sd) or sd == 0:
        return float("nan")
    return float(np.mean(((x - x.mean()) / sd) ** 4))


def _numeric(table: pa.Table, names: Sequence[str]) -> dict[str, np.ndarray]:
    out = {}
    # Once, not per name: ``column_names`` builds a new list on every call, which made
    # this loop quadratic in the columns (9 s a round at 3000 columns).
    present = set(table.column_names)
    for name in names:
        if name not in present:
            continue
        block = numeric_block(table.column(name))
        for j in range(block.shape[1]):
            x = block[:, j]
            out[name if block.shape[1] == 1 else f"{name}[{j}]"] = x[np.isfinite(x)]
    return out


class ShapeReference:
    """The real training rows' kurtosis and distinct counts, to compare rounds against.

    Not diagnose's numbers: distinct values are counted on all rows here (diagnose counts
    equal-size samples), only numeric and tensor columns are measured (diagnose also
    measures dates and the target), and the kurtosis is the two-pass moment. The study
    uses these only where diagnose's summary has none (columns at scales where its power
    sums overflow), so they are the same at any scale.

    Parameters
    ----------
    real : pyarrow.Table
    exclude : sequence of str
        Columns not to measure (a class target).
    """

    def __init__(self, real: pa.Table, exclude: Sequence[str] = ()) -> None:
        self.names = [
            f.name
            for f in real.schema
            if f.name not in exclude and column_role(f.type) in ("numeric", "tensor")
        ]
        self.kurtosis: dict[str, float] = {}
        self.distinct: dict[str, int] = {}
        for key, x in _numeric(real, self.names).items():
            k = _kurtosis(x)
            if np.isfinite(k):
                self.kurtosis[key] = k
                self.distinct[key] = int(np.unique(x).size)

    def ratios(self, synth: pa.Table) -> dict[str, float | None]:
        """``kurtosis_ratio_median`` and ``distinct_ratio_median`` of ``synth`` (None if no
        column can be compared)."""
        kurt, distinct = [], []
        for key, x in _numeric(synth, self.names).items():
            if key not in self.kurtosis:
                continue
            distinct.append(np.unique(x).size / self.distinct[key])
            k = _kurtosis(x)
            if np.isfinite(k):
                kurt.append(k / self.kurtosis[key])
        return {
            "kurtosis_ratio_median": float(np.median(kurt)) if kurt else None,
            "distinct_ratio_median": float(np.median(distinct)) if distinct else None,
        }


def _pooled_within(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per column: the class-size-weighted mean of the within-class variances."""
    total = np.zeros(X.shape[1])
    weight = np.zeros(X.shape[1])
    for c in np.unique(labels):
        block = X[labels == c]
        count = np.sum(np.isfinite(block), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.nan_to_num(np.nanvar(block, axis=0)) if block.size and count.any() else 0.0
        total += count * var
        weight += count
    return np.divide(total, weight, out=np.zeros_like(total), where=weight > 0)


def _matrix(table: pa.Table, names: Sequence[str]) -> np.ndarray:
    present = set(table.column_names)
    blocks = [numeric_block(table.column(n)) for n in names if n in present]
    return np.hstack(blocks) if blocks else np.zeros((table.num_rows, 0))


class ClassVariance:
    """Within-class variance of the numeric columns, relative to the real training rows.

    Columns are standardised by the real standard deviation, so every column counts the
    same, as in ``diagnose``'s ``total_variance_ratio``.

    Parameters
    ----------
    real : pyarrow.Table
    target : str
        Class label column.
    """

    def __init__(self, real: pa.Table, target: str) -> None:
        self.target = target
        self.names = [
            f.name
            for f in real.schema
            if f.name != target and column_role(f.type) in ("numeric", "tensor")
        ]
        X = _matrix(real, self.names)
        labels = np.array([str(v) for v in real.column(target).to_pylist()], dtype=object)
        with np.errstate(invalid="ignore"):
            self.var = np.nanvar(X, axis=0) if X.size else np.zeros(0)
        self.keep = np.isfinite(self.var) & (self.var > 0)
        self.within = _pooled_within(X, labels)[self.keep] / self.var[self.keep]

    def ratio(self, synth: pa.Table) -> float | None:
        """Synthetic / real pooled within-class variance (standardised, summed over columns)."""
        if not self.keep.any() or self.target not in synth.column_names:
            return None
        X = _matrix(synth, self.names)
        if X.shape[1] != self.keep.size:
            return None
        labels = np.array([str(v) for v in synth.column(self.target).to_pylist()], dtype=object)
        within = _pooled_within(X, labels)[self.keep] / self.var[self.keep]
        denom = float(np.sum(self.within))
        return float(np.sum(within) / denom) if denom > 0 else None

    def predicted_total(self, factor: float) -> float | None:
        """Total variance ratio when the within-class part scales by ``factor`` and the
        between-class part is kept (mean over standardised columns)."""
        if not self.keep.any():
            return None
        return float(np.mean((1.0 - self.within) + factor * self.within))
