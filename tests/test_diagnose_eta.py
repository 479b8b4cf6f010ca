"""η², the share of a number's variance explained by a category: literal values, batch
merges, the Dask engine, and a panel where unconditioned mixing loses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth.diagnose import diagnose, diagnose_paths
from mixsynth.diagnose.groups import GroupSums, eta_squared
from mixsynth.diagnose.inputs import from_data
from mixsynth.diagnose.layout import numeric_block, plan_layout


def _eta(report, a: str, b: str) -> dict:
    return next(p for p in report.pairs if p["kind"] == "eta_squared" and (p["a"], p["b"]) == (a, b))


def test_eta_squared_on_literal_data():
    # Real: groups a = {1, 3}, b = {10, 12}; mean 6.5, SS_total 85, SS_between 2·4.5² + 2·4.5² = 81.
    # Synthetic: a = {1, 10}, b = {3, 12}: SS_between 2·1² + 2·1² = 4. The null rows do not count.
    real = pa.table({"g": ["a", "a", "b", "b", None, "a"], "x": [1.0, 3.0, 10.0, 12.0, 100.0, None]})
    synth = pa.table({"g": ["a", "b", "a", "b"], "x": [1.0, 3.0, 10.0, 12.0]})
    report = diagnose(real, synth)
    pair = _eta(report, "g", "x")
    assert pair["real"] == pytest.approx(81 / 85, rel=1e-12)
    assert pair["synth"] == pytest.approx(4 / 85, rel=1e-12)
    assert pair["abs_diff"] == pytest.approx(77 / 85, rel=1e-12)
    assert report.summary["eta_max_abs_diff"] == pair["abs_diff"]
    assert report.summary["eta_pairs"] == 1


def test_eta_squared_of_a_constant_or_single_group_is_undefined():
    n = np.array([[3.0, 2.0], [0.0, 0.0]])
    s = np.array([[6.0, 2.0], [0.0, 0.0]])
    q = np.array([[12.0, 4.0], [0.0, 0.0]])
    assert np.isnan(eta_squared(n, s, q)).all()
    flat = eta_squared(np.array([[2.0], [2.0]]), np.array([[10.0], [10.0]]), np.array([[50.0], [50.0]]))
    assert np.isnan(flat).all()


def test_group_sums_merge_equals_one_pass():
    rng = np.random.default_rng(4)
    n = 500
    x = rng.normal(50.0, 2.0, size=n)
    x[::17] = np.nan
    g = rng.choice(["p", "q", "r"], size=n).astype(object)
    g[300:] = rng.choice(["s", "p"], size=n - 300)  # a category first seen late
    g[::23] = None
    table = pa.table({"x": x, "y": 3 * x + rng.normal(size=n), "g": g})
    layout = plan_layout(from_data(table, "real"), from_data(table, "synthetic"))
    shift = np.array([50.0, 150.0])
    whole = GroupSums(["g"], shift)
    whole.update(table.to_batches()[0], numeric_block(table, layout))
    parts = []
    for lo, hi in ((0, 120), (120, 310), (310, 311), (311, n)):
        part = GroupSums(["g"], shift)
        piece = table.slice(lo, hi - lo)
        part.update(piece.to_batches()[0], numeric_block(piece, layout))
        parts.append(part)
    merged = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    assert list(merged.keys["g"]) == list(whole.keys["g"])  # first-seen order, as one pass
    assert sorted(whole.keys["g"]) == ["p", "q", "r", "s"]
    np.testing.assert_allclose(merged.sums["g"], whole.sums["g"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(merged.eta_squared("g"), whole.eta_squared("g"), rtol=1e-10)


def test_too_many_categories_are_left_out():
    sums = GroupSums(["g"], np.zeros(1))
    sums.limit = 3
    batch = pa.record_batch({"g": ["a", "b", "c", "d"], "x": [1.0, 2.0, 3.0, 4.0]})
    sums.update(batch, np.array([[1.0], [2.0], [3.0], [4.0]]))
    assert sums.eta_squared("g") is None


def _panel(firms: int = 30, years: int = 20, seed: int = 0) -> pa.Table:
    """value = firm effect (sd 3) + noise (sd 1): the firm explains about 90 % of it."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0.0, 3.0, size=firms)
    firm = np.repeat(np.arange(firms), years)
    return pa.table({
        "firm": [f"f{i:02d}" for i in firm],
        "year": np.tile(np.arange(2000, 2000 + years), firms),
        "value": effect[firm] + rng.normal(size=firms * years),
    })


@pytest.mark.slow
def test_unconditioned_mixing_drops_eta_and_diagnose_says_so(tmp_path):
    real = tmp_path / "panel.parquet"
    synth = tmp_path / "synth.parquet"
    pq.write_table(_panel(), real)
    cli = [sys.executable, "-m", "mixsynth"]
    subprocess.run([*cli, "generate", str(real), "--seed", "1", "-o", str(synth), "--quiet", "--within", "none"],
                   check=True, capture_output=True)
    done = subprocess.run([*cli, "diagnose", str(real), str(synth), "--format", "json",
                           "--fail-under", "eta_max_abs_diff=0.05"], capture_output=True, text=True)
    assert done.returncode == 4
    report = json.loads(done.stdout)
    pair = next(p for p in report["pairs"] if p["kind"] == "eta_squared" and p["b"] == "value")
    assert pair["a"] == "firm"
    assert pair["real"] > 0.85
    assert pair["synth"] < pair["real"] - 0.1
    assert report["summary"]["eta_max_abs_diff"] == pytest.approx(pair["abs_diff"])
    assert f"threshold failed: eta_max_abs_diff = {pair['abs_diff']:.6g} > 0.05" in done.stderr


def test_dask_engine_gives_the_local_eta(dask_client, tmp_path):
    table = _panel(seed=3)
    synth = table.set_column(2, "value", pa.array(np.random.default_rng(1).permutation(
        table.column("value").to_numpy())))
    paths = {}
    for name, t in (("real", table), ("synth", synth)):
        (tmp_path / name).mkdir()
        for i, (lo, hi) in enumerate(((0, 150), (150, 420), (420, 600))):
            pq.write_table(t.slice(lo, hi - lo), tmp_path / name / f"part-{i}.parquet",
                           row_group_size=64)
        paths[name] = str(tmp_path / name)
    dask = diagnose_paths(paths["real"], paths["synth"], engine="dask", scheduler=dask_client)
    local = diagnose_paths(paths["real"], paths["synth"])
    for key in ("eta_max_abs_diff", "eta_mean_abs_diff"):
        assert dask.summary[key] == pytest.approx(local.summary[key], rel=1e-9)
    pair, ref = _eta(dask, "firm", "value"), _eta(local, "firm", "value")
    assert pair["real"] == pytest.approx(ref["real"], rel=1e-9)
    assert pair["real"] > 0.85
    assert pair["synth"] < 0.2  # the permutation broke the association


@pytest.mark.slow
def test_table_and_plot_show_eta(tmp_path):
    pytest.importorskip("matplotlib")
    from io import StringIO

    from mixsynth.diagnose.plot import write_plot
    from mixsynth.diagnose.render import emit

    real = _panel()
    synth = real.set_column(2, "value", pa.array(real.column("value").to_numpy()[::-1].copy()))
    report = diagnose(real, synth)
    out = StringIO()
    emit(report, "table", stdout=out)
    text = out.getvalue()
    assert "eta_max_abs_diff" in text
    assert "quality_score" in text
    assert "η²" in text
    path = tmp_path / "d.png"
    write_plot(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.plot is not None
    assert report.plot.eta[0]["a"] == "firm"
    assert Path(path).stat().st_size > 10_000
