"""Shape drift in diagnose: skewness, excess kurtosis and distinct values, on literal data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from mixsynth.diagnose import diagnose
from mixsynth.diagnose.marginals import distinct_counts

REAL = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 2.5, 7.0])
SYNTH = np.array([0.5, 0.5, 3.0, 3.5, 4.0, 6.0, 6.5, 12.0])


def _entry(real: pa.Table, synth: pa.Table, **kwargs) -> dict:
    return diagnose(real, synth, **kwargs).columns[0]


def test_symmetric_column_has_zero_skewness() -> None:
    x = pa.table({"x": [-3.0, -1.0, 0.0, 1.0, 3.0]})
    e = _entry(x, x)
    assert e["skewness_real"] == pytest.approx(0.0, abs=1e-15)
    assert e["skewness_synth"] == pytest.approx(0.0, abs=1e-15)
    # m4 / m2² − 3 with m2 = 20 / 5 = 4, m4 = 164 / 5 = 32.8.
    assert e["kurtosis_real"] == pytest.approx(32.8 / 16 - 3, rel=1e-14)


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_known_arrays_give_scipy_values(offset: float) -> None:
    # The one-pass sums and scipy's two-pass moments differ only by rounding: ~1e-15
    # relative, ~1e-9 when the values sit 1e6 from zero with a spread of a few units.
    rel = 1e-12 if offset == 0 else 1e-7
    e = _entry(pa.table({"x": REAL + offset}), pa.table({"x": SYNTH + offset}))
    assert e["skewness_real"] == pytest.approx(stats.skew(REAL), rel=rel)
    assert e["skewness_synth"] == pytest.approx(stats.skew(SYNTH), rel=rel)
    assert e["kurtosis_real"] == pytest.approx(stats.kurtosis(REAL), rel=rel)
    assert e["kurtosis_synth"] == pytest.approx(stats.kurtosis(SYNTH), rel=rel)
    assert e["skewness_diff"] == pytest.approx(stats.skew(SYNTH) - stats.skew(REAL), rel=rel)
    beta2 = (stats.kurtosis(SYNTH) + 3) / (stats.kurtosis(REAL) + 3)
    assert e["kurtosis_ratio"] == pytest.approx(beta2, rel=rel)


def test_moments_use_every_row_not_the_sample(rng: np.random.Generator) -> None:
    x = rng.exponential(size=2000)
    e = _entry(pa.table({"x": x}), pa.table({"x": x[::-1]}), sample=50)
    assert e["skewness_real"] == pytest.approx(stats.skew(x), rel=1e-12)
    assert e["kurtosis_synth"] == pytest.approx(stats.kurtosis(x), rel=1e-12)


def test_nulls_are_left_out() -> None:
    real = pa.table({"x": pa.array([1.0, 2.0, None, 4.0, 10.0])})
    synth = pa.table({"x": pa.array([1.0, np.nan, 4.0, 10.0, 2.0])})  # NaN counts as null
    e = _entry(real, synth)
    assert e["skewness_real"] == pytest.approx(stats.skew([1.0, 2.0, 4.0, 10.0]), rel=1e-12)
    assert e["skewness_synth"] == e["skewness_real"]
    assert (e["distinct_real"], e["distinct_synth"], e["distinct_ratio"]) == (4, 4, 1.0)


def test_identical_tables_give_ratios_one() -> None:
    t = pa.table(
        {
            "x": REAL,
            "k": np.array([3, 1, 4, 1, 5, 9, 2]),
            "c": ["a", "b", "a", "c", "b", "a", "a"],
        }
    )
    report = diagnose(t, t)
    for e in report.columns[:2]:
        assert (e["kurtosis_ratio"], e["distinct_ratio"], e["skewness_diff"]) == (1.0, 1.0, 0.0)
    s = report.summary
    assert s["kurtosis_ratio_median"] == 1.0
    assert s["distinct_ratio_median"] == 1.0
    assert s["skewness_max_abs_diff"] == 0.0
    assert report.columns[2]["kurtosis_ratio"] is None  # categorical: frequencies instead


def test_three_distinct_values_against_thirty_give_a_tenth() -> None:
    real = pa.table({"x": np.arange(30.0)})
    synth = pa.table({"x": np.tile([0.0, 1.0, 2.0], 10)})
    report = diagnose(real, synth)
    e = report.columns[0]
    assert (e["distinct_real"], e["distinct_synth"], e["distinct_ratio"]) == (30, 3, 0.1)
    assert report.summary["distinct_ratio_median"] == 0.1


def test_distinct_values_are_counted_on_equal_row_counts() -> None:
    # 300 synthetic rows, all distinct, against 30 distinct real rows: counted on 30 rows a
    # side, the synthetic column is as granular as the real one, not ten times more.
    real = pa.table({"x": np.arange(30.0)})
    synth = pa.table({"x": np.arange(300.0) / 10})
    report = diagnose(real, synth, seed=5)
    e = report.columns[0]
    assert (e["distinct_real"], e["distinct_synth"], e["distinct_ratio"]) == (30, 30, 1.0)
    assert report.meta["shape"]["distinct_rows"] == 30
    assert "equal-size seeded samples" in report.meta["definitions"]["distinct_ratio"]
    assert "distinct" in report.meta["sample"]["metrics"]


def test_distinct_subsample_is_seeded(rng: np.random.Generator) -> None:
    real = pa.table({"x": rng.normal(size=100).round(1)})
    synth = pa.table({"x": rng.normal(size=1000).round(2)})
    a, b = diagnose(real, synth, seed=7), diagnose(real, synth, seed=7)
    assert a.columns[0]["distinct_synth"] == b.columns[0]["distinct_synth"]
    assert a.columns[0]["distinct_ratio"] > 1.0  # two decimals against one


def test_constant_columns_have_no_shape() -> None:
    # The synthetic column is constant far from the real mean: its m2 is rounding noise,
    # which must give null, not a skewness of 1e10.
    report = diagnose(pa.table({"x": [1.0, 2.0, 3.0, 4.0]}), pa.table({"x": [1e8] * 4}))
    e = report.columns[0]
    assert e["skewness_real"] == 0.0
    assert e["skewness_synth"] is None
    assert e["kurtosis_ratio"] is None
    assert e["distinct_ratio"] == 0.25
    assert report.summary["kurtosis_ratio_median"] is None


def test_tensor_elements_are_aggregated(rng: np.random.Generator) -> None:
    real = rng.normal(size=(200, 3))
    synth = real.copy()
    synth[:, 2] = np.exp(real[:, 2])  # element 2 becomes skewed
    synth[:, 1] = synth[:, 1].round(0)  # element 1 loses distinct values

    def tensor(a: np.ndarray) -> pa.Table:
        return pa.table({"t": pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), 3)})

    report = diagnose(tensor(real), tensor(synth))
    (e,) = report.columns
    diff = stats.skew(synth, axis=0) - stats.skew(real, axis=0)
    assert e["skewness_diff"] == pytest.approx(diff[2], rel=1e-9)
    assert report.summary["skewness_max_abs_diff"] == pytest.approx(abs(diff[2]), rel=1e-9)
    beta2 = (stats.kurtosis(synth, axis=0) + 3) / (stats.kurtosis(real, axis=0) + 3)
    assert e["kurtosis_ratio"] == pytest.approx(np.median(beta2), rel=1e-9)
    ratios = distinct_counts(synth) / distinct_counts(real)
    assert e["distinct_ratio"] == np.median(ratios) == 1.0
    assert e["distinct_real"] == 200


def test_distinct_counts_of_a_block() -> None:
    X = np.array([[1.0, np.nan, 0.0], [1.0, np.nan, -0.0], [2.0, np.nan, 3.0], [np.nan] * 3])
    assert distinct_counts(X).tolist() == [2, 0, 2]
    assert distinct_counts(np.empty((0, 2))).tolist() == [0, 0]
