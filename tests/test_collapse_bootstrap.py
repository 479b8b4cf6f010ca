"""collapse-study's bootstrap control and its per-round change of excess kurtosis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from mixsynth.collapse import DEFAULT_WEIGHTS, METRICS, StudyOptions, collapse_study
from mixsynth.collapse.measure import kurtosis_change


def _table(n: int = 400, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"a": rng.normal(size=n), "b": rng.exponential(size=n),
                     "c": rng.choice(["x", "y"], size=n)})


def test_bootstrap_is_a_default_law():
    assert DEFAULT_WEIGHTS == ("epbeta", "beta:1,1", "midpoint", "bootstrap")
    assert StudyOptions(rounds=1).weights == DEFAULT_WEIGHTS
    assert "kurtosis_change_median_abs" in METRICS


def test_kurtosis_change_from_report_columns():
    columns = [
        {"name": "a", "group": "numeric", "kurtosis_real": 0.5, "kurtosis_synth": 1.25},
        {"name": "b", "group": "numeric", "kurtosis_real": None, "kurtosis_synth": 2.0},
        {"name": "c", "group": "categorical"},
        {"name": "d", "group": "numeric", "kurtosis_real": 1.0, "kurtosis_synth": float("nan")},
    ]
    assert kurtosis_change(columns) == {"a": 0.75, "b": None, "d": None}


def test_records_carry_the_change_of_excess_kurtosis(tmp_path: Path):
    table = _table()
    records = list(collapse_study(table, rounds=2, weights=["bootstrap", "midpoint"],
                                  baseline=False, seed=4, sample=300, output_dir=str(tmp_path)))
    train = pq.read_table(tmp_path / "split" / "train.parquet")
    for record in records:
        if record["round"] == 0:
            assert record["kurtosis_change"] == {"a": 0.0, "b": 0.0}
            assert record["kurtosis_change_median_abs"] == 0.0
            continue
        # The trajectory's directory is its name plus a hash (mixsynth.collapse.state).
        (folder,) = (tmp_path / "rounds").glob(f"{record['trajectory']}-*")
        synth = pq.read_table(folder / f"round-{record['round']:03d}.parquet")
        expected = {
            name: stats.kurtosis(synth.column(name).to_numpy())
            - stats.kurtosis(train.column(name).to_numpy())
            for name in ("a", "b")
        }
        for name, value in expected.items():
            assert record["kurtosis_change"][name] == pytest.approx(value, rel=1e-9, abs=1e-12)
        median = float(np.median([abs(v) for v in expected.values()]))
        assert record["kurtosis_change_median_abs"] == pytest.approx(median, rel=1e-9)


def test_bootstrap_rounds_copy_training_rows_and_keep_variance_factor_one():
    table = _table(600, seed=2)
    records = list(collapse_study(table, rounds=1, weights=["bootstrap"], baseline=False,
                                  seed=1, sample=600))
    first = next(r for r in records if r["round"] == 1)
    assert first["variance_factor"] == 1.0
    assert first["predicted_variance_factor"] == 1.0
    assert first["exact_copy_fraction"] == 1.0  # every row is a training row, copied whole
