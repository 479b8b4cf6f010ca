"""Whole-table structure: covariance, correlation and categorical association.

Covariance is compared on columns standardised by the *real* mean and std, so the real
matrix is the correlation matrix and ``tr(Σ_s)/tr(Σ_r)`` is the mean variance ratio: the
number a variance factor ``c`` of the weight law predicts. Columns that are constant in
the real data have no scale and are left out of these numbers.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.stats.contingency import association

from mixsynth.diagnose.layout import Layout, category_values
from mixsynth.diagnose.stream import Moments

__all__ = ["MAX_PAIRS", "contingency", "covariance", "correlation"]

#: Worst pairs listed per kind in the report's ``pairs``.
MAX_PAIRS = 20
#: Categorical columns (and categories per column) above which contingency is skipped.
_MAX_CAT_COLUMNS = 64
_MAX_LEVELS = 1000


def _scaled(real: Moments) -> np.ndarray:
    std = np.sqrt(real.var())
    return np.isfinite(std) & (std > 0)


def covariance(real: Moments, synth: Moments) -> dict[str, Any]:
    """Total-variance ratio and relative Frobenius error of the standardised covariance.

    Returns
    -------
    dict
        ``total_variance_ratio`` = tr(Σ_s)/tr(Σ_r) and ``cov_rel_error`` =
        ‖Σ_s − Σ_r‖_F / ‖Σ_r‖_F (None without pair sums or scaled columns).
    """
    keep = _scaled(real)
    std = np.sqrt(real.var())[keep]
    vr, vs = real.var()[keep], synth.var()[keep]
    ok = np.isfinite(vs)
    out: dict[str, Any] = {"total_variance_ratio": None, "cov_rel_error": None}
    if ok.any():
        out["total_variance_ratio"] = float(
            np.sum(vs[ok] / std[ok] ** 2) / np.sum(vr[ok] / std[ok] ** 2)
        )
    cr, cs = real.cov(), synth.cov()
    if cr is None or cs is None or not keep.any():
        return out
    scale = np.outer(std, std)
    cr, cs = cr[np.ix_(keep, keep)] / scale, cs[np.ix_(keep, keep)] / scale
    both = np.isfinite(cr) & np.isfinite(cs)
    norm = np.sqrt(np.sum(cr[both] ** 2))
    if norm > 0:
        out["cov_rel_error"] = float(np.sqrt(np.sum((cs[both] - cr[both]) ** 2)) / norm)
    return out


def correlation(
    layout: Layout, real: Moments, synth: Moments
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Correlation differences over all pairs of scaled numeric matrix columns.

    Returns
    -------
    summary : dict
        ``corr_max_abs_diff``, ``corr_mean_abs_diff``, ``corr_pairs`` (pairs compared).
    pairs : list of dict
        The worst :data:`MAX_PAIRS` pairs, largest absolute difference first.
    """
    summary: dict[str, Any] = {
        "corr_max_abs_diff": None,
        "corr_mean_abs_diff": None,
        "corr_pairs": 0,
    }
    cr, cs = real.corr(), synth.corr()
    if cr is None or cs is None:
        return summary, []
    idx = np.flatnonzero(_scaled(real))
    i, j = np.triu_indices(idx.size, k=1)
    i, j = idx[i], idx[j]
    r, s = cr[i, j], cs[i, j]
    ok = np.isfinite(r) & np.isfinite(s)
    i, j, r, s = i[ok], j[ok], r[ok], s[ok]
    if r.size == 0:
        return summary, []
    diff = np.abs(s - r)
    summary.update(
        corr_max_abs_diff=float(diff.max()),
        corr_mean_abs_diff=float(diff.mean()),
        corr_pairs=int(r.size),
    )
    labels = layout.labels()
    worst = np.argsort(-diff, kind="stable")[:MAX_PAIRS]
    pairs = [
        {
            "kind": "correlation",
            "a": labels[i[k]],
            "b": labels[j[k]],
            "real": float(r[k]),
            "synth": float(s[k]),
            "abs_diff": float(diff[k]),
        }
        for k in worst
    ]
    return summary, pairs


def _codes(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    values = np.asarray(category_values(column).to_pylist(), dtype=object)
    codes = np.full(values.shape, -1, dtype=np.int64)
    present = values != None  # noqa: E711 (elementwise comparison on an object array)
    if present.any():
        codes[present] = np.unique(values[present].astype(str), return_inverse=True)[1]
    return codes


def _cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    ok = (a >= 0) & (b >= 0)
    a, b = a[ok], b[ok]
    if a.size == 0:
        return None
    table = np.zeros((a.max() + 1, b.max() + 1), dtype=np.int64)
    np.add.at(table, (a, b), 1)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2 or max(table.shape) > _MAX_LEVELS:
        return None
    return float(association(table, method="cramer"))


def contingency(
    layout: Layout, real: pa.Table, synth: pa.Table
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Cramér's V of every pair of categorical columns, real vs synthetic (on the samples).

    Returns
    -------
    summary : dict
        ``cramers_v_max_abs_diff``, ``cramers_v_mean_abs_diff`` (None with < 2 categoricals).
    pairs : list of dict
        The worst :data:`MAX_PAIRS` pairs.
    """
    names = [c.name for c in layout.categorical][:_MAX_CAT_COLUMNS]
    summary: dict[str, Any] = {"cramers_v_max_abs_diff": None, "cramers_v_mean_abs_diff": None}
    if len(names) < 2 or real.num_rows == 0 or synth.num_rows == 0:
        return summary, []
    rc = {n: _codes(real.column(n)) for n in names}
    sc = {n: _codes(synth.column(n)) for n in names}
    found = []
    for a, b in combinations(names, 2):
        vr, vs = _cramers_v(rc[a], rc[b]), _cramers_v(sc[a], sc[b])
        if vr is not None and vs is not None:
            found.append(
                {
                    "kind": "cramers_v",
                    "a": a,
                    "b": b,
                    "real": vr,
                    "synth": vs,
                    "abs_diff": abs(vs - vr),
                }
            )
    if not found:
        return summary, []
    diffs = [float(p["abs_diff"]) for p in found]  # type: ignore[arg-type]
    summary.update(cramers_v_max_abs_diff=max(diffs), cramers_v_mean_abs_diff=float(np.mean(diffs)))
    return summary, sorted(found, key=lambda p: -float(p["abs_diff"]))[:MAX_PAIRS]  # type: ignore[arg-type]
