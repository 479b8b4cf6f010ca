"""Per-column comparisons: moments and ranges on all rows, distances on the samples.

Numeric columns are compared in units of the real standard deviation, so a drift of 0.1
means a tenth of a real std whatever the column's scale. A tensor column is reported as
one entry that aggregates its elements (median variance ratio, mean KS), so a 64-pixel
image does not fill the report with 64 rows.

Shape drift: skewness and excess kurtosis come from the one-pass power sums (all rows);
distinct values are counted on equal-size seeded samples of the two sides, so that their
ratio measures granularity (mixing makes new values, copying and collapse lose them)
rather than the two row counts.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from typing import Any

import numpy as np
from scipy.stats import ks_2samp, wasserstein_distance

from mixsynth.diagnose.layout import CategoricalCol, Layout, NumericCol
from mixsynth.diagnose.stream import Scan
from mixsynth.schema import Kind

__all__ = [
    "QUANTILES",
    "categorical_entries",
    "distinct_counts",
    "element_metrics",
    "numeric_entries",
]

#: Quantile levels (percent) compared for numeric columns.
QUANTILES = (1, 5, 25, 50, 75, 95, 99)
#: Category names listed per entry (the counts are always complete).
_LISTED = 20
#: Shape-drift keys of a numeric entry (None on categorical entries).
_SHAPE_KEYS = (
    "skewness_real",
    "skewness_synth",
    "skewness_diff",
    "kurtosis_real",
    "kurtosis_synth",
    "kurtosis_ratio",
    "distinct_real",
    "distinct_synth",
    "distinct_ratio",
)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / b, np.nan)


def distinct_counts(X: np.ndarray) -> np.ndarray:
    """Distinct non-NaN values per column of ``X`` (shape (k, d)), as an int array (d,).

    One sort of the whole block: NaN sorts last, so every non-NaN value after the first
    that differs from its predecessor is new.

    Examples
    --------
    >>> distinct_counts(np.array([[1.0, np.nan], [1.0, np.nan], [2.0, 5.0]]))
    array([2, 1])
    """
    if X.shape[0] == 0:
        return np.zeros(X.shape[1], dtype=np.int64)
    S = np.sort(X, axis=0)
    valid = ~np.isnan(S)
    new = (S[1:] != S[:-1]) & valid[1:]
    return valid[0].astype(np.int64) + new.sum(axis=0)


def element_metrics(
    real: Scan,
    synth: Scan,
    Xr: np.ndarray,
    Xs: np.ndarray,
    equal: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Metrics per numeric matrix column, each an array of shape (d,) (NaN = undefined).

    Moments, skewness, kurtosis and ranges come from the full scans; KS, Wasserstein and
    quantiles from the sampled rows ``Xr`` (shape (k_r, d)) and ``Xs`` (shape (k_s, d));
    distinct counts from ``equal``, the same number of sampled rows per side (default
    ``(Xr, Xs)``).
    """
    mr, ms = real.moments, synth.moments
    var_r, var_s = mr.var(), ms.var()
    std_r = np.sqrt(var_r)
    skew_r, skew_s, kurt_r, kurt_s = mr.skewness(), ms.skewness(), mr.kurtosis(), ms.kurtosis()
    dist_r, dist_s = (distinct_counts(X).astype(float) for X in (equal or (Xr, Xs)))
    out = {
        "mean_real": mr.mean(),
        "mean_synth": ms.mean(),
        "std_real": std_r,
        "std_synth": np.sqrt(var_s),
        "min_real": mr.low,
        "max_real": mr.high,
        "min_synth": ms.low,
        "max_synth": ms.high,
        "variance_ratio": _ratio(var_s, var_r),
        "mean_drift": _ratio(ms.mean() - mr.mean(), std_r),
        "below_range_fraction": _ratio(ms.below.astype(float), ms.count.astype(float)),
        "above_range_fraction": _ratio(ms.above.astype(float), ms.count.astype(float)),
        "skewness_real": skew_r,
        "skewness_synth": skew_s,
        "skewness_diff": skew_s - skew_r,
        "kurtosis_real": kurt_r,
        "kurtosis_synth": kurt_s,
        # (κ_s + 3) / (κ_r + 3): the fourth standardised moments, never near 0 (≥ 1).
        "kurtosis_ratio": _ratio(kurt_s + 3.0, kurt_r + 3.0),
        "distinct_real": dist_r,
        "distinct_synth": dist_s,
        "distinct_ratio": _ratio(dist_s, dist_r),
    }
    out["out_of_range_fraction"] = out["below_range_fraction"] + out["above_range_fraction"]
    d = Xr.shape[1]
    ks, w1 = np.full(d, np.nan), np.full(d, np.nan)
    q_real, q_synth = np.full((d, len(QUANTILES)), np.nan), np.full((d, len(QUANTILES)), np.nan)
    for j in range(d):
        r, s = Xr[:, j], Xs[:, j]
        r, s = r[~np.isnan(r)], s[~np.isnan(s)]
        if r.size == 0 or s.size == 0:
            continue
        # Only the statistic is reported: the asymptotic p-value avoids the exact method's
        # fallback warnings, and its division by zero for tiny samples is irrelevant here.
        with np.errstate(divide="ignore", invalid="ignore"):
            ks[j] = ks_2samp(r, s, method="asymp").statistic
        q_real[j], q_synth[j] = np.percentile(r, QUANTILES), np.percentile(s, QUANTILES)
        if std_r[j] > 0:
            w1[j] = wasserstein_distance(r / std_r[j], s / std_r[j])
    out.update(ks=ks, wasserstein=w1, quantiles_real=q_real, quantiles_synth=q_synth)
    out["quantile_shift"] = _ratio(q_synth - q_real, np.broadcast_to(std_r[:, None], q_real.shape))
    return out


def _f(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


#: Entry keys that are values of the column (not differences or ratios): the origin a
#: 64-bit column was compared from is added back to them.
_LOCATIONS = ("mean_real", "mean_synth", "min_real", "max_real", "min_synth", "max_synth")


def _at(x: Any, origin: int) -> float | None:
    """An offset from ``origin`` as the column's value; the sum is exact, so the value is
    rounded once, to the float64 nearest the true one."""
    x = _f(x)
    return x if x is None or not origin else float(origin + Fraction(x))


def _opt(x: Any) -> float | None:
    return None if x is None else _f(x)


def _nanagg(fn: Any, x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return _f(fn(x)) if x.size else None


def _missing_rate(scan: Scan, name: str, kind: Kind) -> float:
    """Null rows, and rows whose value is NaN or infinite, over all rows. ``generate
    --nan skip`` reads NaN as missing and writes it as null, so a NaN on one side and a
    null on the other are the same missing value (a tensor's NaN elements are not a
    missing row)."""
    nonfinite = 0 if kind is Kind.TENSOR else scan.nonfinite.get(name, 0)
    return (scan.nulls[name] + nonfinite) / max(scan.rows, 1)


def _common(name: str, kind: Kind, target: bool, real: Scan, synth: Scan) -> dict[str, Any]:
    nr, ns = _missing_rate(real, name, kind), _missing_rate(synth, name, kind)
    return {
        "name": name,
        "kind": kind.value,
        "target": target,
        "variance_ratio": None,
        "mean_drift": None,
        "ks": None,
        "wasserstein": None,
        "tv": None,
        "out_of_range_fraction": None,
        "below_range_fraction": None,
        "above_range_fraction": None,
        "null_rate_real": nr,
        "null_rate_synth": ns,
        "null_rate_diff": ns - nr,
        **dict.fromkeys(_SHAPE_KEYS),
        "repair_stretch": None,
        "repair_shift": None,
        "repair_capped": None,
        "anchor_form": None,
        "predicted_variance_factor": None,
        "predicted_basis": None,
    }


def _predicted(col: NumericCol, record: dict[str, Any], e: dict[str, Any]) -> tuple[float | None, str | None]:
    """The variance ratio this column should show, and why; (None, reason) where no closed
    form applies. The law's factor ``c`` holds for a float column mixed from non-null
    parents and left alone by bounds; anchoring and repair aim at their own targets."""
    factor = (record.get("weights") or {}).get("variance_factor")
    if factor is None:
        return None, None
    repair = record.get("repair") or {}
    mine = (repair.get("columns") or {}).get(col.name) or {}
    if repair.get("mode") == "marginals" and mine.get("form"):
        return 1.0, f"anchored to the source marginal ({mine['form']})"
    if repair.get("mode") == "variance" and "stretch" in mine:
        return (None, "repair capped below its target") if mine.get("capped") else (
            float(factor), "bounds repaired to the law's factor")
    if record.get("within") or (record.get("labels") or {}).get("groups"):
        return None, ("mixed within groups (--within, within-class or within-bin): the law's factor "
                      "shrinks only the variance inside the groups")
    if col.kind in (Kind.INTEGER, Kind.TEMPORAL):
        return None, "rounded to whole numbers: rounding adds variance (about 1/12 per value)"
    if e.get("null_rate_real"):
        return None, "cells with a null parent copy the dominant parent, which keeps their variance"
    if e.get("bounds_adjusted"):
        return None, "bounds moved values: clipping shrinks variance"
    return float(factor), "the weight law's closed form"


def _numeric_entry(
    col: NumericCol,
    m: dict[str, np.ndarray],
    real: Scan,
    synth: Scan,
    record: dict[str, Any] | None,
) -> dict[str, Any]:
    e = _common(col.name, col.kind, col.target, real, synth)
    e["group"] = "numeric"
    sl = col.cols
    record = record or {}
    bounds = (record.get("bounds") or {}).get("columns", {}).get(col.name, {})
    e["bounds_adjusted"] = (record.get("adjusted") or {}).get(col.name)
    e["bounds_policy"] = bounds.get("policy")
    # generate records only the columns it stretched (or capped); the rest have no stretch.
    repair = ((record.get("repair") or {}).get("columns") or {}).get(col.name) or {}
    e["repair_stretch"] = _opt(repair.get("stretch"))
    e["repair_shift"] = _opt(repair.get("shift"))
    e["repair_capped"] = repair.get("capped")
    e["anchor_form"] = repair.get("form")
    e["predicted_variance_factor"], e["predicted_basis"] = _predicted(col, record, e)
    e["nonfinite_synth"] = synth.nonfinite[col.name]
    if col.kind is not Kind.TENSOR:
        j = col.start
        for key in (
            "variance_ratio",
            "mean_drift",
            "ks",
            "wasserstein",
            "out_of_range_fraction",
            "below_range_fraction",
            "above_range_fraction",
            "mean_real",
            "mean_synth",
            "std_real",
            "std_synth",
            "min_real",
            "max_real",
            "min_synth",
            "max_synth",
            *_SHAPE_KEYS,
        ):
            e[key] = _at(m[key][j], col.origin) if key in _LOCATIONS else _f(m[key][j])
        e["distinct_real"], e["distinct_synth"] = (
            None if e[k] is None else int(e[k]) for k in ("distinct_real", "distinct_synth")
        )
        shift = m["quantile_shift"][j]
        e["quantiles"] = {
            "levels": list(QUANTILES),
            "real": [_at(v, col.origin) for v in m["quantiles_real"][j]],
            "synth": [_at(v, col.origin) for v in m["quantiles_synth"][j]],
            "shift": [_f(v) for v in shift],
        }
        e["quantile_shift_max"] = _nanagg(lambda x: np.max(np.abs(x)), shift)
        return e
    # A tensor is one entry: its elements aggregated, constant elements left out.
    vr, drift = m["variance_ratio"][sl], m["mean_drift"][sl]
    out_n = synth.moments.below[sl].sum() + synth.moments.above[sl].sum()
    present = synth.moments.count[sl].sum()
    finite_drift = drift[np.isfinite(drift)]
    skew = m["skewness_diff"][sl]
    finite_skew = skew[np.isfinite(skew)]
    e.update(
        elements=col.width,
        elements_constant=int(np.sum(~(m["std_real"][sl] > 0))),
        variance_ratio=_nanagg(np.median, vr),
        variance_ratio_min=_nanagg(np.min, vr),
        variance_ratio_max=_nanagg(np.max, vr),
        mean_drift=_f(finite_drift[np.argmax(np.abs(finite_drift))]) if finite_drift.size else None,
        ks=_nanagg(np.mean, m["ks"][sl]),
        ks_max=_nanagg(np.max, m["ks"][sl]),
        wasserstein=_nanagg(np.mean, m["wasserstein"][sl]),
        out_of_range_fraction=_f(out_n / present) if present else None,
        below_range_fraction=_f(synth.moments.below[sl].sum() / present) if present else None,
        above_range_fraction=_f(synth.moments.above[sl].sum() / present) if present else None,
        **{k: _nanagg(np.median, m[k][sl]) for k in _SHAPE_KEYS if k != "skewness_diff"},
        # As for the mean drift: the element that moved most, with its sign.
        skewness_diff=_f(finite_skew[np.argmax(np.abs(finite_skew))]) if finite_skew.size else None,
    )
    return e


def numeric_entries(
    layout: Layout,
    m: dict[str, np.ndarray],
    real: Scan,
    synth: Scan,
    record: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One report entry per numeric column (tensors aggregated), from :func:`element_metrics`."""
    return [_numeric_entry(col, m, real, synth, record) for col in layout.numeric]


def _tv(a: Counter[str], b: Counter[str]) -> float | None:
    na, nb = sum(a.values()), sum(b.values())
    if not na or not nb:
        return None
    # fsum is exact whatever the order, and the order of a set of strings changes with
    # the process's hash seed: the same counts give the same bits in every process.
    return 0.5 * math.fsum(abs(a[k] / na - b[k] / nb) for k in a.keys() | b.keys())


def _categorical_entry(col: CategoricalCol, real: Scan, synth: Scan) -> dict[str, Any]:
    e = _common(col.name, col.kind, col.target, real, synth)
    e["group"] = "categorical"
    if col.name in real.too_many or col.name in synth.too_many:
        e["too_many_categories"] = True
        return e
    a, b = real.counts[col.name], synth.counts[col.name]
    missing = sorted(k for k in a if k not in b)
    new = sorted(k for k in b if k not in a)
    e.update(
        tv=_tv(a, b),
        categories_real=len(a),
        categories_synth=len(b),
        missing_count=len(missing),
        missing_categories=missing[:_LISTED],
        new_count=len(new),
        new_categories=new[:_LISTED],
    )
    return e


def categorical_entries(layout: Layout, real: Scan, synth: Scan) -> list[dict[str, Any]]:
    """One report entry per categorical column: total variation of frequencies (all rows)."""
    return [_categorical_entry(col, real, synth) for col in layout.categorical]
