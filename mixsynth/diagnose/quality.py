"""The overall quality score as SDMetrics' single-table ``QualityReport`` computes it.

Written here on numpy/scipy (no sdmetrics dependency) so that users can set mixsynth's
numbers beside SDV's. Computed on diagnose's seeded samples (at most ``--sample`` rows per
side, as SDMetrics subsamples its contingency tables to 50 000 rows):

- **Column Shapes**: per column, KSComplement ``1 − D`` (the two-sample KS statistic on
  non-null values rounded to 14 decimals) for numeric and temporal columns, TVComplement
  ``1 − ½Σ|f_r − f_s|`` (non-null category frequencies) for categorical and boolean
  ones; the property is the mean over columns.
- **Column Pair Trends**: numeric pairs score CorrelationSimilarity
  ``1 − |ρ_r − ρ_s|/2`` (Pearson on rows where both are present; undefined for a column
  constant on either side); categorical pairs and mixed pairs score
  ContingencySimilarity ``1 − ½Σ|p_r − p_s|`` over the joint frequencies, null a
  category of its own. In a mixed pair the number is binned like SDMetrics does: 10
  equal-width bins between each side's own min and max (``np.histogram_bin_edges``),
  ``np.digitize`` (so the maximum and nulls share the last code). As in SDMetrics ≥ 0.27,
  only pairs that are related in the real data count: ``|ρ_r|`` above 0.5, or Cramér's V
  of the real contingency table above 0.3. ``column_pair_trends_all_pairs`` (in
  ``meta.quality``) is the mean over every pair, the definition before 0.27.
- **Score**: the mean of the two properties (the one defined, when one is not).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from mixsynth.diagnose.layout import Layout, category_values

__all__ = [
    "MAX_QUALITY_COLUMNS",
    "REAL_ASSOCIATION_THRESHOLD",
    "REAL_CORRELATION_THRESHOLD",
    "quality",
]

#: SDMetrics' defaults (``sdmetrics.reports.utils``) for a pair to count in Column Pair Trends.
REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3
#: Columns (numeric dimensions first) whose pairs are scored; the pair count grows as its square.
MAX_QUALITY_COLUMNS = 128
_DECIMALS = 14  # SDMetrics' KSComplement rounds to sys.float_info.dig - 1 decimals
_BINS = 10


def _shared_codes(real: pa.Table, synth: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Category codes shared by both sides (sorted text values), -1 for null."""
    values = [np.asarray(category_values(t.column(name)).to_pylist(), dtype=object)
              for t in (real, synth)]
    both = np.concatenate(values)
    present = both != None  # noqa: E711 (elementwise on an object array)
    codes = np.full(both.shape, -1, dtype=np.int64)
    if present.any():
        codes[present] = np.unique(both[present].astype(str), return_inverse=True)[1]
    return codes[: values[0].size], codes[values[0].size :]


def _binned(x: np.ndarray) -> np.ndarray:
    """SDMetrics' discretisation of a numeric column on its own side's range."""
    edges = np.histogram_bin_edges(x[~np.isnan(x)], bins=_BINS)
    return np.digitize(x, edges).astype(np.int64)


def _ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return float("nan")
    # The two-sample KS statistic, max |F_a - F_b| over the pooled values (what
    # scipy's ks_2samp returns), without its p-value, which warns on tiny samples.
    a, b = np.sort(np.round(a, _DECIMALS)), np.sort(np.round(b, _DECIMALS))
    pooled = np.concatenate([a, b])
    gap = np.searchsorted(a, pooled, side="right") / a.size - np.searchsorted(b, pooled, side="right") / b.size
    return 1.0 - float(np.max(np.abs(gap)))


def _frequencies(codes: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(codes, minlength=size) / codes.size


def _tv_complement(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a[a >= 0], b[b >= 0]
    if a.size == 0 or b.size == 0:
        return float("nan")
    size = int(max(a.max(), b.max())) + 1
    return 1.0 - 0.5 * float(np.abs(_frequencies(a, size) - _frequencies(b, size)).sum())


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    both = ~(np.isnan(x) | np.isnan(y))
    if both.sum() < 2:
        return float("nan")
    x, y = x[both] - x[both].mean(), y[both] - y[both].mean()
    denominator = np.sqrt(np.dot(x, x) * np.dot(y, y))
    return float(np.clip(np.dot(x, y) / denominator, -1, 1)) if denominator > 0 else float("nan")


def _constant(x: np.ndarray) -> bool:
    x = x[~np.isnan(x)]
    return x.size > 0 and bool((x == x[0]).all())


def _cramers_v(joint: np.ndarray, kb: int) -> float:
    """Cramér's V of the real table from its joint codes ``row·kb + col``, without forming
    the (possibly thousands × thousands) dense table: ``φ² = Σ O²/(R·C) − 1`` over the
    non-empty cells, as ``scipy.stats.contingency.association(method="cramer")``."""
    cells, counts = np.unique(joint, return_counts=True)
    rows, cols = np.unique(cells // kb, return_inverse=True), np.unique(cells % kb, return_inverse=True)
    if min(rows[0].size, cols[0].size) < 2:
        return float("nan")
    R = np.bincount(rows[1], weights=counts)
    C = np.bincount(cols[1], weights=counts)
    phi2 = max(float(np.sum(counts * (counts / (R[rows[1]] * C[cols[1]])))) - 1.0, 0.0)
    return math.sqrt(phi2 / (min(rows[0].size, cols[0].size) - 1))


def _contingency(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
                 threshold: float) -> tuple[float, bool]:
    """(score, counts) of two discrete columns given as (real, synth) codes (-1 = null):
    the pair counts when the real Cramér's V exceeds ``threshold``."""
    ka = int(max(a[0].max(), a[1].max())) + 2  # one more code for null
    kb = int(max(b[0].max(), b[1].max())) + 2
    joint = [(x % ka) * kb + (y % kb) for x, y in zip(a, b, strict=True)]  # -1 → the null code
    # Sparse: only the cells either side fills (high-cardinality pairs stay cheap).
    cells, where = np.unique(np.concatenate(joint), return_inverse=True)
    n = joint[0].size
    fr = np.bincount(where[:n], minlength=cells.size) / n
    fs = np.bincount(where[n:], minlength=cells.size) / joint[1].size
    return 1.0 - 0.5 * float(np.abs(fr - fs).sum()), bool(_cramers_v(joint[0], kb) > threshold)


def _correlation(x: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray],
                 threshold: float) -> tuple[float, bool]:
    """(score, counts) of two numeric columns: the pair counts when the real ``|ρ|``
    exceeds ``threshold``; NaN when a column is constant on a side (as SDMetrics)."""
    if any(_constant(v) for v in (*x, *y)):
        return float("nan"), False
    real, synth = _pearson(x[0], y[0]), _pearson(x[1], y[1])
    return 1.0 - abs(real - synth) / 2.0, abs(real) > threshold  # False for NaN


def _pair_trends(columns: list[tuple[str, bool, tuple[np.ndarray, np.ndarray]]],
                 binned: dict[str, tuple[np.ndarray, np.ndarray]],
                 correlation_threshold: float, association_threshold: float
                 ) -> tuple[list[float], list[float]]:
    """Scores of the pairs that count, and of every pair (both NaN-free)."""
    counted, every = [], []
    for i, (name_a, numeric_a, a) in enumerate(columns):
        for name_b, numeric_b, b in columns[i + 1 :]:
            if numeric_a and numeric_b:
                score, counts = _correlation(a, b, correlation_threshold)
            else:
                score, counts = _contingency(binned.get(name_a, a), binned.get(name_b, b),
                                             association_threshold)
            if np.isfinite(score):
                every.append(score)
                if counts:
                    counted.append(score)
    return counted, every


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def quality(
    layout: Layout,
    real: pa.Table,
    synth: pa.Table,
    Xr: np.ndarray,
    Xs: np.ndarray,
    *,
    correlation_threshold: float = REAL_CORRELATION_THRESHOLD,
    association_threshold: float = REAL_ASSOCIATION_THRESHOLD,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """SDMetrics' quality score of the sampled rows (see the module docstring).

    Parameters
    ----------
    layout : Layout
    real, synth : pyarrow.Table
        The sampled rows (the categorical columns are read from them).
    Xr, Xs : arrays of shape (rows, layout.d)
        Their numeric matrices (NaN = null).
    correlation_threshold, association_threshold : float
        A pair counts when the real ``|ρ|`` / Cramér's V exceeds it (0: every pair).

    Returns
    -------
    summary : dict
        ``quality_score``, ``column_shapes``, ``column_pair_trends`` (None: nothing to score).
    meta : dict
        The thresholds, pairs scored, and ``column_pair_trends_all_pairs``.
    """
    columns: list[tuple[str, bool, tuple[np.ndarray, np.ndarray]]] = [
        (label, True, (Xr[:, j], Xs[:, j])) for j, label in enumerate(layout.labels())
    ]
    columns += [(c.name, False, _shared_codes(real, synth, c.name)) for c in layout.categorical]
    shapes = [_ks_complement(*v) if numeric else _tv_complement(*v) for _, numeric, v in columns]
    paired = columns[:MAX_QUALITY_COLUMNS]
    binned = {}
    if any(not numeric for _, numeric, _ in paired):
        binned = {name: (_binned(v[0]), _binned(v[1])) for name, numeric, v in paired if numeric}
    counted, every = _pair_trends(paired, binned, correlation_threshold, association_threshold)
    column_shapes, pair_trends = _mean(shapes), _mean(counted)
    parts = [v for v in (column_shapes, pair_trends) if v is not None]
    summary = {
        "quality_score": float(np.mean(parts)) if parts else None,
        "column_shapes": column_shapes,
        "column_pair_trends": pair_trends,
    }
    meta = {
        "reference": "sdmetrics.reports.QualityReport, single table (sdmetrics >= 0.27)",
        "real_correlation_threshold": correlation_threshold,
        "real_association_threshold": association_threshold,
        "columns": len(columns),
        "pairs": len(paired) * (len(paired) - 1) // 2,
        "pairs_counted": len(counted),
        "column_pair_trends_all_pairs": _mean(every),
    }
    return summary, meta
