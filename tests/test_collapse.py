"""Collapse study (library): the c^r identities over rounds, accumulate vs replace, seeding,
utility, the GMM baseline, stop rules, resume, and the errors of bad studies."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth.collapse import CollapseStudy, StudyOptions, collapse_study, parse_stop
from mixsynth.collapse.baselines import GmmBaseline
from mixsynth.collapse.metrics import ClassVariance, ShapeReference
from mixsynth.errors import InputError, UsageError
from mixsynth.weights import parse

CONTRACT = (
    "weights",
    "round",
    "rows",
    "variance_ratio_median",
    "total_variance_ratio",
    "cov_rel_error",
    "corr_max_abs_diff",
    "ks_mean",
    "out_of_range_fraction",
    "exact_copy_fraction",
    "utility",
    "predicted_variance_factor",
)


def _gaussian(n: int, d: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    cov = 0.5 * np.eye(d) + 0.5  # correlated columns, so covariance structure is exercised
    X = rng.multivariate_normal(np.zeros(d), cov, size=n)
    return pa.table({f"x{j}": X[:, j] for j in range(d)})


def _classes(n: int = 240, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 3)) + 2.0 * y[:, None]
    return pa.table(
        {
            "a": X[:, 0],
            "b": X[:, 1],
            "c": X[:, 2],
            "label": pa.array([f"k{v}" for v in y]).dictionary_encode(),
        }
    )


def _run(table: pa.Table, **kwargs: object) -> list[dict]:
    notes: list[str] = []
    kwargs.setdefault("sample", 300)
    return list(collapse_study(table, notify=notes.append, **kwargs))


def _by(records: list[dict], name: str) -> list[dict]:
    return [r for r in records if r["trajectory"] == name]


@pytest.mark.slow
def test_replace_rounds_follow_c_to_the_r() -> None:
    # 2000 real rows -> 1500 training rows; every round has m = 4000 rows of d = 4 columns.
    rounds, m, d = 5, 4000, 4
    records = _run(
        _gaussian(2000, d),
        rounds=rounds,
        rows=m,
        weights=["uniform", "midpoint", "epbeta"],
        baseline=False,
        seed=3,
    )
    # Each round re-estimates the variance from m rows: relative sd about sqrt(2/m) per
    # column for a Gaussian, more for the heavier tails mixing makes (kurtosis <= 4: use
    # 3/m), averaged over d columns and compounded over the rounds. Four sd.
    tol = 4 * math.sqrt(rounds * 3.0 / (m * d))
    final = {r["trajectory"]: r for r in records if r["round"] == rounds}
    for name, c in (("uniform", 2 / 3), ("midpoint", 1 / 2), ("epbeta", 1.0)):
        assert final[name]["predicted_variance_factor"] == pytest.approx(c**rounds)
        assert final[name]["total_variance_ratio"] == pytest.approx(c**rounds, rel=tol), name
    assert all(r["utility"] is None for r in records)


def test_round_zero_describes_the_training_split() -> None:
    records = _run(_gaussian(200, 2), rounds=1, weights=["midpoint"], baseline=False)
    zero = records[0]
    assert zero["round"] == 0
    assert zero["rows"] == 150
    assert zero["variance_ratio_median"] == pytest.approx(1.0)
    assert zero["total_variance_ratio"] == pytest.approx(1.0)
    assert zero["predicted_variance_factor"] == 1.0
    assert set(CONTRACT) <= set(zero)


def test_accumulate_shrinks_less_than_replace() -> None:
    table = _gaussian(800, 3, seed=1)
    out = {
        mode: _by(
            _run(table, rounds=3, weights=["midpoint"], baseline=False, mode=mode, seed=2),
            "midpoint",
        )[-1]
        for mode in ("replace", "accumulate")
    }
    assert out["accumulate"]["total_variance_ratio"] > 1.5 * out["replace"]["total_variance_ratio"]
    # The predicted pool recursion: round 1 = c, then c * (size-weighted mean of the pool).
    assert out["accumulate"]["predicted_variance_factor"] == pytest.approx(
        0.5 * (1 + 0.5 + 0.375) / 3
    )
    assert out["accumulate"]["total_variance_ratio"] == pytest.approx(0.3125, rel=0.25)


def test_a_law_gives_the_same_numbers_whatever_else_runs() -> None:
    table = _gaussian(300, 2)
    alone = _by(_run(table, rounds=2, weights=["midpoint"], baseline=False, seed=5), "midpoint")
    both = _by(_run(table, rounds=2, weights=["uniform", "midpoint"], seed=5), "midpoint")
    assert alone == both
    other = _by(_run(table, rounds=2, weights=["midpoint"], baseline=False, seed=6), "midpoint")
    assert other[1]["total_variance_ratio"] != alone[1]["total_variance_ratio"]


def test_utility_with_target_and_theta_compounds() -> None:
    records = _run(
        _classes(),
        rounds=2,
        weights=["uniform"],
        baseline=False,
        target="label",
        test_time_transform=True,
        seed=1,
    )
    for r in records:
        u = r["utility"]
        assert u["task"] == "classification"
        assert u["model"] == "logistic"
        assert {"accuracy", "roc_auc", "log_loss", "real"} <= set(u)
        assert 0 <= u["accuracy"] <= 1
        assert u["real"]["accuracy"] > 0.8
        assert u["test_time_transform"]["theta"] == pytest.approx(0.75 ** r["round"])
    assert records[0]["utility"]["accuracy"] == records[0]["utility"]["real"]["accuracy"]
    # Within-class mixing: c^r acts on the within-class variance only.
    assert records[2]["within_class_variance_ratio"] == pytest.approx((2 / 3) ** 2, rel=0.35)
    assert records[2]["total_variance_ratio"] > records[2]["within_class_variance_ratio"]


def test_regression_utility_scores() -> None:
    t = _gaussian(300, 3)
    t = t.append_column("y", pa.array(np.asarray(t.column("x0")) * 2 + 1))
    records = _run(t, rounds=1, weights=["epbeta"], baseline=False, target="y", model="forest")
    u = records[-1]["utility"]
    assert u["task"] == "regression"
    assert set(u) >= {"r2", "rmse", "real"}
    assert u["r2"] > 0.5


def test_gmm_baseline_keeps_types_on_mixed_table_with_nulls(rng: np.random.Generator) -> None:
    n = 200
    x = rng.normal(size=n)
    x[:10] = np.nan
    table = pa.table(
        {
            "f": pa.array(x, from_pandas=True),
            "i": pa.array(rng.integers(0, 100, n), type=pa.int16()),
            "cat": pa.array(rng.choice(["a", "b", None], n).tolist()).dictionary_encode(),
            "flag": pa.array(rng.random(n) < 0.3),
            "vec": pa.FixedSizeListArray.from_arrays(pa.array(rng.normal(size=2 * n)), 2),
            "when": pa.array(np.arange(n).astype("datetime64[D]")),
            "y": pa.array(rng.choice(["u", "v"], n).tolist()),
        }
    )
    gmm = GmmBaseline(table.schema, "y", classification=True)
    out, info = gmm.sample(table, 150, seed=1)
    assert out.num_rows == 150
    assert "when" not in out.column_names
    assert info["columns_left_out"] == ["when"]
    assert "when" in gmm.note()
    for f in out.schema:
        assert f.type == table.schema.field(f.name).type
    assert 0 < out.column("f").null_count < 60
    assert set(out.column("y").to_pylist()) == {"u", "v"}


def test_gmm_trajectory_in_a_study() -> None:
    records = _run(_classes(), rounds=2, weights=[], target="label", seed=0)
    gmm = _by(records, "gmm")
    assert [r["round"] for r in gmm] == [0, 1, 2]
    assert gmm[1]["predicted_variance_factor"] is None
    assert "GaussianMixture" in gmm[1]["baseline"]["method"]
    assert gmm[1]["utility"]["accuracy"] > 0.5


def test_gmm_leaves_out_a_many_level_column_in_every_round() -> None:
    # A string column with more levels than the baseline models (e.g. airport codes): the
    # first round drops it, and later rounds must not look for it again.
    table = _gaussian(300, 2).append_column("code", pa.array([f"c{i}" for i in range(300)]))
    records = _run(table, rounds=3, weights=[], seed=0)
    gmm = _by(records, "gmm")
    assert [r["round"] for r in gmm] == [0, 1, 2, 3]
    assert "code" in gmm[3]["baseline"]["columns_left_out"]


def test_stop_when_records_the_stop_and_ends_the_law() -> None:
    records = _run(
        _gaussian(300, 2),
        rounds=6,
        weights=["midpoint", "epbeta"],
        baseline=False,
        stop_when="variance_ratio_median<0.3",
    )
    mid = _by(records, "midpoint")
    assert mid[-1]["stopped"] == "variance_ratio_median<0.3"
    assert len(mid) < 7
    assert all("stopped" not in r for r in mid[:-1])
    assert len(_by(records, "epbeta")) == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("variance<0.5", "unknown"),
        ("variance_ratio_median=0.5", "METRIC<VALUE"),
        ("ks_mean<abc", "finite number"),
        ("ks_mean<nan", "finite number"),
    ],
)
def test_bad_stop_rules(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_stop(text)


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_trajectory(tmp_path: Path) -> None:
    table = _classes(180)
    opts = {
        "rounds": 3,
        "weights": ("uniform", "epbeta"),
        "target": "label",
        "sample": 200,
        "seed": 4,
        "mode": "accumulate",
    }
    full = _run(table, **opts)
    first = CollapseStudy(
        table, StudyOptions(**opts, output_dir=str(tmp_path)), notify=lambda _m: None
    )
    it = iter(first)
    partial = [next(it) for _ in range(7)]  # stop mid-round 1, as an interrupted run does
    it.close()
    state = json.loads((tmp_path / "trajectory.json").read_text())
    assert not state["complete"]
    assert sum(len(t["records"]) for t in state["trajectories"]) == 7
    resumed = list(
        CollapseStudy(
            table,
            StudyOptions(**opts, output_dir=str(tmp_path), resume=True),
            notify=lambda _m: None,
        )
    )
    assert resumed[:7] == partial
    assert resumed == full
    assert json.loads((tmp_path / "trajectory.json").read_text())["complete"]
    assert (tmp_path / "split" / "train.parquet").exists()
    assert len(list((tmp_path / "rounds").glob("*/round-*.parquet"))) == 3 * 3


def test_resume_refuses_other_settings_and_fresh_run_refuses_old_dir(tmp_path: Path) -> None:
    table = _gaussian(100, 2)
    _run(table, rounds=1, weights=["midpoint"], baseline=False, output_dir=str(tmp_path))
    with pytest.raises(UsageError, match="already holds a study"):
        _run(table, rounds=1, weights=["midpoint"], baseline=False, output_dir=str(tmp_path))
    with pytest.raises(UsageError, match="seed=0.*seed=9"):
        _run(
            table,
            rounds=1,
            weights=["midpoint"],
            baseline=False,
            output_dir=str(tmp_path),
            resume=True,
            seed=9,
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"rounds": 0}, UsageError, "--rounds must be at least 1"),
        ({"rounds": 1, "target": "nope"}, UsageError, "--target 'nope' is not a column"),
        ({"rounds": 1, "target": "const"}, InputError, "constant"),
        ({"rounds": 1, "target": "label", "model": "svm"}, UsageError, "unknown --model 'svm'"),
        ({"rounds": 1, "target": "x", "model": "logistic"}, UsageError, "classification target"),
        ({"rounds": 1, "stop_when": "bogus"}, UsageError, "--stop-when"),
        ({"rounds": 1, "mode": "append"}, UsageError, "--mode"),
        ({"rounds": 1, "test_size": 1.0}, UsageError, "--test-size"),
        ({"rounds": 1, "weights": ["nonsense"]}, UsageError, "unknown weight law"),
        ({"rounds": 1, "resume": True}, UsageError, "--resume needs --output-dir"),
    ],
)
def test_bad_studies(kwargs: dict, error: type, message: str) -> None:
    rng = np.random.default_rng(0)
    table = pa.table({"x": rng.normal(size=40), "const": ["a"] * 40, "label": (["p", "q"] * 20)})
    with pytest.raises(error, match=message):
        _run(table, **kwargs)


def test_too_few_rows_and_tiny_classes() -> None:
    with pytest.raises(InputError, match="too few to split"):
        _run(pa.table({"x": [1.0, 2.0, 3.0]}), rounds=1)
    table = pa.table({"x": np.arange(20.0), "y": ["a"] * 19 + ["b"]})
    with pytest.raises(InputError, match="class 'b' of the target has 1 row"):
        _run(table, rounds=1, target="y")


def test_unwritable_output_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write --output-dir"):
        _run(_gaussian(50, 2), rounds=1, output_dir=str(blocker / "sub"))


def test_compare_repair_names_trajectories() -> None:
    rng = np.random.default_rng(0)
    table = pa.table({"pos": rng.gamma(2.0, size=300), "z": rng.normal(size=300)})
    records = _run(table, rounds=1, weights=["epbeta"], baseline=False, compare_repair=True)
    names = list(dict.fromkeys(r["trajectory"] for r in records))
    assert names == ["epbeta[clip+repair]", "epbeta[clip]", "epbeta[rank-gauss]"]
    assert all(r["weights"] == "epbeta" for r in records)
    assert records[-1]["variant"]["space"] == "rank-gauss"


def test_shape_and_class_variance_metrics() -> None:
    rng = np.random.default_rng(0)
    real = pa.table({"x": rng.normal(size=2000), "y": rng.integers(0, 5, 2000)})
    ref = ShapeReference(real)
    same = ref.ratios(real)
    assert same == {"kurtosis_ratio_median": 1.0, "distinct_ratio_median": 1.0}
    half = pa.table({"x": np.round(np.asarray(real.column("x")), 1), "y": real.column("y")})
    assert ref.ratios(half)["distinct_ratio_median"] < 0.6
    labels = pa.table(
        {
            "x": np.r_[rng.normal(size=500), 10 + rng.normal(size=500)],
            "k": ["a"] * 500 + ["b"] * 500,
        }
    )
    cv = ClassVariance(labels, "k")
    shrunk = pa.table(
        {
            "x": np.r_[0.5 * rng.normal(size=500), 10 + 0.5 * rng.normal(size=500)],
            "k": ["a"] * 500 + ["b"] * 500,
        }
    )
    assert cv.ratio(shrunk) == pytest.approx(0.25, rel=0.2)
    assert cv.predicted_total(1.0) == pytest.approx(1.0)
    assert cv.predicted_total(0.0) == pytest.approx(1 - 1 / 26, rel=0.05)  # between-class share


def test_shape_reference_is_the_same_at_any_scale() -> None:
    # The study falls back on ShapeReference where diagnose's one-pass power sums overflow
    # (values near 1e100): the ratios must not depend on the scale there, which
    # scipy.stats.kurtosis (raw fourth powers) would not give.
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=500), rng.standard_t(5, size=500)
    unit = ShapeReference(pa.table({"x": x})).ratios(pa.table({"x": y}))
    assert unit["kurtosis_ratio_median"] > 1.2
    for scale in (1e-100, 1e100, 1e150):
        got = ShapeReference(pa.table({"x": x * scale})).ratios(pa.table({"x": y * scale}))
        assert got == pytest.approx(unit, rel=1e-12)


def test_weights_law_factors_used_for_predictions() -> None:
    records = _run(_gaussian(100, 2), rounds=2, weights=["beta:2,2"], baseline=False)
    c = parse("beta:2,2").variance_factor()
    assert [r["predicted_variance_factor"] for r in records] == pytest.approx([1, c, c * c])


@pytest.mark.slow
def test_defaults_keep_epbeta_variance_over_ten_rounds_on_a_real_table() -> None:
    # breast_cancer: 30 non-negative columns, so the defaults clip every column and repair
    # the variance. 20 000 rows a round keep the resampling noise to ~1 % per round.
    real = pq.read_table(Path(__file__).parent / "data" / "breast_cancer.parquet")
    records = _run(real, rounds=10, rows=20_000, weights=["epbeta"], baseline=False, seed=1)
    last = [r for r in records if r["round"] == 10][0]
    assert abs(last["total_variance_ratio"] - 1.0) <= 0.15, last["total_variance_ratio"]
    assert last["out_of_range_fraction"] == 0.0
    # The same clip without the repair loses about a quarter of the variance.
    clipped = _run(real, rounds=10, rows=20_000, weights=["epbeta"], baseline=False, seed=1,
                   bounds="clip", repair="none")
    assert [r for r in clipped if r["round"] == 10][0]["total_variance_ratio"] < 0.85


_GMM_ROUNDS = """
import sys
import numpy as np, pyarrow.parquet as pq
from mixsynth.collapse.baselines import GmmBaseline
table = pq.read_table(sys.argv[1])
gmm = GmmBaseline(table.schema, "cultivar", classification=True)
for r in range(10):
    table, _ = gmm.sample(table, table.num_rows, seed=r)
np.save(sys.argv[2], np.column_stack([table.column(n).to_numpy() for n in table.column_names if n != "cultivar"]))
"""


@pytest.mark.slow
def test_gmm_rounds_do_not_depend_on_the_blas_kernel(tmp_path: Path) -> None:
    # Ten refits on ~59 rows per class in 13 dimensions amplify rounding: with
    # reg_covar 1e-6 the three OpenBLAS kernels below gave three different tables (and the
    # README's gmm column moved with the CPU). Other BLAS libraries ignore the variable.
    wine = Path(__file__).resolve().parents[1] / "sample_data" / "wine.parquet"
    results = []
    for kernel in ("Haswell", "Sandybridge", "Prescott"):
        out = tmp_path / f"{kernel}.npy"
        env = {**os.environ, "OPENBLAS_CORETYPE": kernel}
        done = subprocess.run([sys.executable, "-c", _GMM_ROUNDS, str(wine), str(out)],
                              env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        results.append(np.load(out))
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=1e-9, atol=1e-9)
