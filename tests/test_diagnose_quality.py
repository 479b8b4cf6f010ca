"""diagnose's SDMetrics-style quality score against a reference written here with pandas.

The reference follows SDMetrics' QualityReport (sdmetrics >= 0.27) step by step, by other
means than mixsynth.diagnose.quality: ECDFs by searchsorted for KS, ``value_counts`` for
TV, ``DataFrame.corr`` for Pearson, a closed-form bin index for the discretisation,
``groupby(dropna=False)`` for contingency tables and the chi-square formula for Cramér's V.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mixsynth.diagnose import diagnose, parse_thresholds

_KEYS = ("quality_score", "column_shapes", "column_pair_trends")


def _ks(a: pd.Series, b: pd.Series) -> float:
    a, b = np.sort(a.dropna().to_numpy()), np.sort(b.dropna().to_numpy())
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


def _tv(a: pd.Series, b: pd.Series) -> float:
    fa, fb = a.value_counts(normalize=True), b.value_counts(normalize=True)
    return 0.5 * float(fa.sub(fb, fill_value=0).abs().sum())


def _bins(x: pd.Series) -> pd.Series:
    """Ten equal-width bins over the column's own range, numbered 1..10; the maximum and
    nulls get 11 (what np.digitize gives on np.histogram_bin_edges)."""
    lo, hi = x.min(), x.max()
    code = np.floor((x - lo) / (hi - lo) * 10) + 1
    return code.where(x < hi, 11).fillna(11).astype(int)


def _cramers_v(table: pd.DataFrame) -> float:
    observed = table.to_numpy(dtype=float)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return math.sqrt(chi2 / (observed.sum() * (min(observed.shape) - 1)))


def _reference(real: pd.DataFrame, synth: pd.DataFrame, numeric: list[str]) -> dict[str, float]:
    shapes = [1 - (_ks if c in numeric else _tv)(real[c], synth[c].dropna()) for c in real]
    pairs = []
    columns = list(real)
    for i, a in enumerate(columns):
        for b in columns[i + 1 :]:
            if a in numeric and b in numeric:
                r = real[[a, b]].dropna().corr().iloc[0, 1]
                s = synth[[a, b]].dropna().corr().iloc[0, 1]
                if abs(r) > 0.5:
                    pairs.append(1 - abs(r - s) / 2)
                continue
            sides = []
            for df in (real, synth):
                x = _bins(df[a]) if a in numeric else df[a]
                y = _bins(df[b]) if b in numeric else df[b]
                sides.append(pd.DataFrame({"x": x, "y": y}).groupby(["x", "y"], dropna=False).size())
            if _cramers_v(sides[0].unstack(fill_value=0)) > 0.3:
                p = (sides[0] / len(real)).sub(sides[1] / len(synth), fill_value=0)
                pairs.append(1 - 0.5 * float(p.abs().sum()))
    shape, trend = float(np.mean(shapes)), float(np.mean(pairs))
    return {"quality_score": (shape + trend) / 2, "column_shapes": shape, "column_pair_trends": trend}


@pytest.fixture
def fixture_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """40 real and 30 synthetic rows: two correlated numbers (one with nulls), a third
    unrelated, a category tied to the first number and another with a null."""
    rng = np.random.default_rng(11)

    def make(n: int, shift: float, noise: float) -> pd.DataFrame:
        x = np.round(rng.normal(size=n), 3)
        y = np.round(x + noise * rng.normal(size=n), 3)
        z = np.round(rng.uniform(size=n), 3)
        group = np.where(x + shift > 0, "hi", "lo")
        colour = rng.choice(["red", "green", "blue"], size=n).astype(object)
        colour[::7] = None
        y[::9] = np.nan
        return pd.DataFrame({"x": x, "y": y, "z": z, "group": group, "colour": colour})

    return make(40, 0.0, 0.4), make(30, 0.3, 0.9)


def test_identical_tables_score_exactly_one(fixture_tables):
    real, _ = fixture_tables
    summary = diagnose(pa.Table.from_pandas(real), pa.Table.from_pandas(real)).summary
    assert [summary[k] for k in _KEYS] == [1.0, 1.0, 1.0]


def test_scores_match_the_reference(fixture_tables):
    real, synth = fixture_tables
    report = diagnose(pa.Table.from_pandas(real), pa.Table.from_pandas(synth))
    expected = _reference(real, synth, ["x", "y", "z"])
    for key in _KEYS:
        assert report.summary[key] == pytest.approx(expected[key], abs=1e-12), key
    assert report.summary["quality_score"] < 0.95  # the fixture differs: the test can fail
    quality = report.meta["quality"]
    assert (quality["pairs"], quality["real_correlation_threshold"]) == (10, 0.5)
    assert 0 < quality["pairs_counted"] < quality["pairs"]


def test_thresholds_zero_score_every_pair(fixture_tables):
    from mixsynth.diagnose.inputs import from_data
    from mixsynth.diagnose.layout import numeric_block, plan_layout
    from mixsynth.diagnose.quality import quality

    real, synth = (pa.Table.from_pandas(t, preserve_index=False) for t in fixture_tables)
    layout = plan_layout(from_data(real, "real"), from_data(synth, "synthetic"))
    Xr, Xs = numeric_block(real, layout), numeric_block(synth, layout)
    summary, meta = quality(layout, real, synth, Xr, Xs,
                            correlation_threshold=0.0, association_threshold=0.0)
    assert summary["column_pair_trends"] == pytest.approx(meta["column_pair_trends_all_pairs"])
    assert meta["pairs_counted"] == meta["pairs"] == 10


def test_only_unrelated_pairs_leave_the_shapes_alone():
    rng = np.random.default_rng(2)
    real = pa.table({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    synth = pa.table({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    summary = diagnose(real, synth).summary
    assert summary["column_pair_trends"] is None  # |ρ_real| ≈ 0: no pair counts
    assert summary["quality_score"] == summary["column_shapes"]


def test_quality_score_is_a_fail_under_metric():
    assert parse_thresholds(["quality_score=0.8", "column_pair_trends=0.7"]) == {
        "quality_score": 0.8, "column_pair_trends": 0.7}
