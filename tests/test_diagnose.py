"""diagnose(): exact values on tiny literal tables, and the JSON contract."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from mixsynth.diagnose import CHECKS, diagnose
from mixsynth.errors import InputError, UsageError

SUMMARY_KEYS = {
    "variance_ratio_median",
    "variance_ratio_min",
    "variance_ratio_max",
    "total_variance_ratio",
    "cov_rel_error",
    "corr_max_abs_diff",
    "corr_mean_abs_diff",
    "ks_mean",
    "ks_max",
    "tv_mean",
    "out_of_range_fraction",
    "null_rate_max_diff",
    "dcr_p5",
    "exact_copy_fraction",
    "predicted_variance_factor",
}
COLUMN_KEYS = {
    "name",
    "kind",
    "variance_ratio",
    "ks",
    "wasserstein",
    "tv",
    "out_of_range_fraction",
    "mean_drift",
    "null_rate_diff",
}


@pytest.fixture
def mixed(rng: np.random.Generator) -> pa.Table:
    """200 rows: correlated floats, an integer, a nullable float, two categoricals, a bool."""
    n = 200
    x = rng.normal(10.0, 2.0, n)
    return pa.table(
        {
            "x": x,
            "y": 0.8 * x + rng.normal(0.0, 1.0, n),
            "count": rng.integers(0, 50, n),
            "maybe": pa.array(
                np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)), from_pandas=True
            ),
            "colour": pa.array(rng.choice(["red", "green", "blue"], n)).dictionary_encode(),
            "size": rng.choice(["S", "M", "L"], n),
            "flag": rng.random(n) < 0.3,
        }
    )


def test_identical_tables_give_ratio_one_and_zero_errors(mixed: pa.Table) -> None:
    report = diagnose(mixed, mixed)
    s = report.summary
    assert s["variance_ratio_min"] == s["variance_ratio_max"] == 1.0
    assert s["total_variance_ratio"] == 1.0
    assert s["ks_max"] == 0.0
    assert s["cov_rel_error"] == 0.0
    assert s["corr_max_abs_diff"] == 0.0
    assert s["tv_mean"] == 0.0
    assert s["cramers_v_max_abs_diff"] == 0.0
    assert s["out_of_range_fraction"] == 0.0
    assert s["null_rate_max_diff"] == 0.0
    assert s["mean_drift_max_abs"] == 0.0
    assert s["exact_copy_fraction"] == 1.0
    assert s["dcr_p5"] == 0.0
    assert all(e["wasserstein"] == 0.0 for e in report.columns if e["group"] == "numeric")


def test_scaling_by_half_around_the_mean_gives_a_quarter(rng: np.random.Generator) -> None:
    x = rng.normal(5.0, 3.0, (500, 3))
    shrunk = x.mean(axis=0) + 0.5 * (x - x.mean(axis=0))
    names = ["a", "b", "c"]
    s = diagnose(
        pa.table(dict(zip(names, x.T, strict=True))),
        pa.table(dict(zip(names, shrunk.T, strict=True))),
    ).summary
    for key in ("variance_ratio_min", "variance_ratio_max", "total_variance_ratio"):
        assert s[key] == pytest.approx(0.25, rel=1e-12)
    # Scaling keeps correlations and the standardised covariance is exactly 1/4 of the real one.
    assert s["corr_max_abs_diff"] == pytest.approx(0.0, abs=1e-12)
    assert s["cov_rel_error"] == pytest.approx(0.75, rel=1e-12)
    assert s["mean_drift_max_abs"] == pytest.approx(0.0, abs=1e-12)


def test_shifted_column_gives_the_known_ks_and_drift() -> None:
    real = pa.table({"x": np.arange(100.0)})
    report = diagnose(real, pa.table({"x": np.arange(100.0) + 10.0}))
    entry = report.columns[0]
    assert entry["ks"] == pytest.approx(0.10)
    assert entry["variance_ratio"] == pytest.approx(1.0)
    assert entry["mean_drift"] == pytest.approx(10.0 / np.std(np.arange(100.0), ddof=1))
    assert entry["above_range_fraction"] == pytest.approx(0.10)
    assert entry["below_range_fraction"] == 0.0
    assert entry["quantiles"]["shift"][3] == pytest.approx(entry["mean_drift"])
    assert entry["wasserstein"] == pytest.approx(10.0 / np.std(np.arange(100.0), ddof=1))


def test_copied_rows_are_exact_copies(mixed: pa.Table, rng: np.random.Generator) -> None:
    copies = mixed.take(pa.array(rng.integers(0, mixed.num_rows, 300)))
    privacy = diagnose(mixed, copies).privacy
    assert privacy["exact_copy_fraction"] == 1.0
    assert privacy["dcr_p5"] == 0.0
    assert privacy["dcr_median"] == 0.0


def test_fresh_rows_are_not_copies(rng: np.random.Generator) -> None:
    real = pa.table({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    fresh = pa.table({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    s = diagnose(real, fresh).summary
    assert s["exact_copy_fraction"] == 0.0
    assert s["dcr_p5"] > 0.0


def test_json_contract_keys(mixed: pa.Table) -> None:
    out = diagnose(mixed, mixed).to_dict()
    assert set(out) == {"summary", "columns", "pairs", "privacy", "meta"}
    assert set(out["summary"]) >= SUMMARY_KEYS
    assert all(set(e) >= COLUMN_KEYS for e in out["columns"])
    assert [e["name"] for e in out["columns"]] == [
        "x",
        "y",
        "count",
        "maybe",
        "colour",
        "size",
        "flag",
    ]
    assert set(CHECKS) <= set(out["summary"])
    json.dumps(out, allow_nan=False)  # valid JSON: no NaN or inf anywhere


def test_nan_becomes_null_in_json() -> None:
    real = pa.table({"const": [1.0, 1.0, 1.0], "x": [1.0, 2.0, 3.0]})
    out = diagnose(real, real).to_dict()
    const = out["columns"][0]
    assert const["variance_ratio"] is None
    assert const["mean_drift"] is None
    json.dumps(out, allow_nan=False)


def test_categorical_frequencies_missing_and_new() -> None:
    real = pa.table({"c": ["a", "a", "b", "c"], "x": [1.0, 2.0, 3.0, 4.0]})
    synth = pa.table({"c": ["a", "b", "b", "d"], "x": [1.0, 2.0, 3.0, 4.0]})
    entry = diagnose(real, synth).columns[1]
    assert entry["kind"] == "string"
    # |0.5-0.25| + |0.25-0.5| + |0.25-0| + |0-0.25| = 1.0, halved.
    assert entry["tv"] == pytest.approx(0.5)
    assert entry["missing_categories"] == ["c"]
    assert entry["new_categories"] == ["d"]


def test_null_rate_difference() -> None:
    real = pa.table({"x": [1.0, 2.0, None, 4.0], "c": ["a", None, "b", "a"]})
    synth = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "c": [None, None, "b", "a"]})
    cols = {e["name"]: e for e in diagnose(real, synth).columns}
    assert cols["x"]["null_rate_diff"] == pytest.approx(-0.25)
    assert cols["c"]["null_rate_diff"] == pytest.approx(0.25)


def test_one_sided_ids_and_unsupported_columns_are_listed_not_fatal(
    rng: np.random.Generator,
) -> None:
    n = 30
    real = pa.table(
        {
            "user_id": np.arange(n),
            "x": rng.normal(size=n),
            "blob": pa.array([{"k": i} for i in range(n)]),
            "only_real": np.ones(n),
        }
    )
    synth = pa.table(
        {
            "user_id": np.arange(n) + 100,
            "x": rng.normal(size=n),
            "blob": pa.array([{"k": i} for i in range(n)]),
            "only_synth": np.ones(n),
        }
    )
    report = diagnose(real, synth)
    assert [e["name"] for e in report.columns] == ["x"]
    meta = report.meta
    assert meta["only_real"] == ["only_real"]
    assert meta["only_synth"] == ["only_synth"]
    reasons = {s["name"]: s["reason"] for s in meta["skipped"]}
    assert reasons["user_id"] == "identifier-like (all values unique)"
    assert reasons["blob"].startswith("unsupported type struct")


def test_tensor_column_is_one_entry(rng: np.random.Generator) -> None:
    pixels = rng.normal(size=(100, 6))
    pixels[:, 0] = 0.0  # a constant element, as in the digits images
    real = pa.table({"img": pa.FixedSizeListArray.from_arrays(pa.array(pixels.ravel()), 6)})
    half = pixels.mean(axis=0) + 0.5 * (pixels - pixels.mean(axis=0))
    synth = pa.table({"img": pa.FixedSizeListArray.from_arrays(pa.array(half.ravel()), 6)})
    report = diagnose(real, synth)
    (entry,) = report.columns
    assert entry["kind"] == "tensor"
    assert entry["elements"] == 6
    assert entry["elements_constant"] == 1
    assert entry["variance_ratio"] == pytest.approx(0.25)
    assert report.summary["total_variance_ratio"] == pytest.approx(0.25)
    assert report.meta["numeric_dims"] == 6


def test_temporal_columns_compare_as_ticks() -> None:
    days = np.arange(0, 100, dtype="int64")
    real = pa.table({"t": pa.array(days * 86_400_000_000, pa.timestamp("us", tz="UTC"))})
    synth = pa.table({"t": pa.array((days + 10) * 86_400_000, pa.timestamp("ms", tz="UTC"))})
    (entry,) = diagnose(real, synth).columns
    assert entry["kind"] == "temporal"
    assert entry["ks"] == pytest.approx(0.10)
    assert entry["variance_ratio"] == pytest.approx(1.0)


def test_dataframes_and_provenance(mixed: pa.Table) -> None:
    real = mixed.to_pandas()
    synth = real.copy()
    synth.attrs["mixsynth"] = {"weights": {"variance_factor": 2 / 3}, "adjusted": {"x": 3}}
    report = diagnose(real, synth)
    assert report.summary["predicted_variance_factor"] == pytest.approx(2 / 3)
    assert report.columns[0]["bounds_adjusted"] == 3
    assert report.meta["provenance"]["variance_factor"] == pytest.approx(2 / 3)


def test_holdout_gives_closer_to_train_near_half(rng: np.random.Generator) -> None:
    def draw(n: int) -> pa.Table:
        return pa.table({"x": rng.normal(size=n), "y": rng.normal(size=n)})

    report = diagnose(draw(500), draw(500), holdout=draw(500))
    assert report.summary["closer_to_train_fraction"] == pytest.approx(0.5, abs=0.1)
    assert report.privacy["holdout_dcr_p5"] > 0


def test_copies_of_training_rows_are_closer_to_train(rng: np.random.Generator) -> None:
    real = pa.table({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    holdout = pa.table({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    report = diagnose(real, real, holdout=holdout)
    assert report.summary["closer_to_train_fraction"] == 1.0


@pytest.mark.slow
def test_detection_auc(rng: np.random.Generator) -> None:
    real = pa.table({"x": rng.normal(size=400), "y": rng.normal(size=400)})
    same = pa.table({"x": rng.normal(size=400), "y": rng.normal(size=400)})
    moved = pa.table({"x": rng.normal(size=400) + 3.0, "y": rng.normal(size=400)})
    assert diagnose(real, same, detection=True).summary["detection_auc"] == pytest.approx(
        0.5, abs=0.1
    )
    assert diagnose(real, moved, detection=True).summary["detection_auc"] > 0.95
    assert diagnose(real, same).summary["detection_auc"] is None


def test_sample_is_seeded_and_reported(rng: np.random.Generator) -> None:
    real = pa.table({"x": rng.normal(size=1000)})
    synth = pa.table({"x": rng.normal(size=3000)})
    a, b = diagnose(real, synth, sample=200, seed=3), diagnose(real, synth, sample=200, seed=3)
    assert a.summary == b.summary
    assert a.meta["sample"]["rows"] == {"real": 200, "synth": 200}
    assert a.meta["sample"]["sampled"] is True
    assert any("seeded sample" in note for note in a.meta["notes"])
    # Moments use all rows whatever the sample.
    full = diagnose(real, synth, sample=10_000)
    assert a.summary["variance_ratio_median"] == full.summary["variance_ratio_median"]


@pytest.mark.parametrize(
    ("real", "synth", "error", "text"),
    [
        ({"a": [1.0]}, {"b": [1.0]}, InputError, "no columns in common"),
        ({"a": pa.array([], pa.float64())}, {"a": [1.0]}, InputError, "'real' has no rows"),
        (
            {"a": [1.0, 2.0]},
            {"a": pa.array([], pa.float64())},
            InputError,
            "'synthetic' has no rows",
        ),
    ],
)
def test_input_errors(real: dict, synth: dict, error: type, text: str) -> None:
    with pytest.raises(error, match=text):
        diagnose(pa.table(real), pa.table(synth))


def test_usage_errors() -> None:
    t = pa.table({"a": [1.0, 2.0]})
    with pytest.raises(UsageError, match="unknown column 'zz' in --columns"):
        diagnose(t, t, columns=["zz"])
    with pytest.raises(UsageError, match="sample must be at least 1"):
        diagnose(t, t, sample=0)
    with pytest.raises(UsageError, match="got list"):
        diagnose([1, 2], t)


def test_nan_and_null_are_the_same_missing_value_on_either_side() -> None:
    # generate --nan skip reads a real NaN as missing and writes it as null: a faithful
    # output then has the same missing rate, not a null rate 2/5 above the real one.
    real = pa.table({"q": [1.0, float("nan"), 3.0, float("nan"), 5.0], "t": pa.array([[1.0, float("nan")]] * 5,
                                                                                     pa.list_(pa.float64(), 2))})
    synth = pa.table({"q": [1.0, None, 3.0, None, 5.0], "t": pa.array([[1.0, 2.0]] * 5, pa.list_(pa.float64(), 2))})
    report = diagnose(real, synth)
    q, t = report.columns
    assert (q["null_rate_real"], q["null_rate_synth"], q["null_rate_diff"]) == (0.4, 0.4, 0.0)
    assert q["variance_ratio"] == 1.0
    # A tensor's NaN elements are not missing rows.
    assert (t["null_rate_real"], t["null_rate_synth"]) == (0.0, 0.0)
    assert "'q': 2 NaN/inf real values treated as null" in report.meta["notes"]
    assert "not a finite number" in report.meta["definitions"]["null_rate"]
    reverse = diagnose(synth, real)
    assert reverse.columns[0]["null_rate_diff"] == 0.0
    assert "'q': 2 NaN/inf synthetic values treated as null" in reverse.meta["notes"]


def test_entirely_null_real_column_is_noted() -> None:
    real = pa.table({"x": [1.0, 2.0, 3.0], "gone": pa.array([None, None, None], pa.float64())})
    synth = pa.table({"x": [1.0, 2.0, 3.0], "gone": [1.0, 2.0, 3.0]})
    report = diagnose(real, synth)
    gone = report.columns[1]
    assert gone["variance_ratio"] is None
    assert gone["null_rate_diff"] == -1.0
    assert "'gone' is entirely null in the real data" in " ".join(report.meta["notes"])


def test_one_row_each_side_does_not_fail() -> None:
    report = diagnose(pa.table({"x": [1.0], "c": ["a"]}), pa.table({"x": [2.0], "c": ["a"]}))
    assert report.summary["variance_ratio_median"] is None
    assert report.columns[0]["ks"] == 1.0


# --- 64-bit integers and ticks past 2**53 (issue 14) ---------------------------------------------

#: 2262-04-11T23:47:16.854774807: 1000 ns before the last timestamp[ns]; float64 steps by
#: 2048 ns up here, so a float cast made T and T + 1 one value.
T = 2**63 - 1001


def _entry(report, name):
    return next(e for e in report.to_dict()["columns"] if e["name"] == name)


def test_ticks_one_nanosecond_apart_stay_apart():
    real = pa.table({"t": pa.array([T, T + 1] * 50, pa.timestamp("ns")),
                     "n": pa.array([2**62, 2**62 + 1] * 50, pa.int64())})
    same = diagnose(real, real)
    for name in ("t", "n"):
        e = _entry(same, name)
        assert e["std_real"] == e["std_synth"] == pytest.approx(0.5, rel=0.01)  # 0.0 through float64
        assert e["variance_ratio"] == 1.0
        assert e["mean_drift"] == 0.0
        assert (e["distinct_real"], e["distinct_synth"]) == (2, 2)
        assert e["out_of_range_fraction"] == 0.0
    later = pa.table({"t": pa.array([T + 1, T + 2] * 50, pa.timestamp("ns")),
                      "n": pa.array([2**62 + 1, 2**62 + 2] * 50, pa.int64())})
    moved = diagnose(real, later)
    for name in ("t", "n"):
        e = _entry(moved, name)
        assert e["above_range_fraction"] == 0.5  # T + 2 is past the real maximum T + 1
        assert e["below_range_fraction"] == 0.0
        assert e["mean_drift"] == pytest.approx(1 / 0.5025, rel=1e-3)  # 1 ns in real std (n - 1)


def test_offsets_from_the_origin_do_not_wrap():
    # int64's two ends: their difference, 2**64 - 1, is past int64 but not past float64.
    ends = pa.table({"n": pa.array([-(2**63), 2**63 - 1] * 10, pa.int64())})
    e = _entry(diagnose(ends, ends), "n")
    assert (e["min_real"], e["max_real"]) == (-(2.0**63), 2.0**63)
    assert (e["min_synth"], e["max_synth"]) == (-(2.0**63), 2.0**63)
    assert e["mean_real"] == e["mean_synth"] == pytest.approx(0.0, abs=2**11)
    assert e["out_of_range_fraction"] == 0.0
    assert e["variance_ratio"] == 1.0
