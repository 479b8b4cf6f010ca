"""The one-pass statistics: batch-merged moments equal whole-table ones; files are streamed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth.diagnose import diagnose, diagnose_paths
from mixsynth.diagnose.inputs import from_data, open_path
from mixsynth.diagnose.layout import plan_layout
from mixsynth.diagnose.stream import Moments, sample_indices, scan, scan_batches
from mixsynth.errors import InputError, UsageError


@pytest.fixture
def frame(rng: np.random.Generator) -> pd.DataFrame:
    n = 3000
    x = rng.normal(1e6, 3.0, n)  # a large mean: the shifted sums must not cancel
    out = pd.DataFrame({"x": x, "y": 0.5 * x + rng.normal(size=n), "z": rng.exponential(size=n)})
    out.loc[rng.random(n) < 0.2, "y"] = np.nan
    out.loc[rng.random(n) < 0.1, "z"] = np.nan
    return out


def test_pairwise_moments_match_pandas(frame: pd.DataFrame) -> None:
    X = frame.to_numpy()
    m = Moments(np.nanmean(X[:100], axis=0), pairs=True)
    for start in range(0, len(X), 700):  # uneven batches
        m.update(X[start : start + 700], None)
    np.testing.assert_allclose(m.mean(), frame.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(m.var(), frame.var().to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(m.cov(), frame.cov().to_numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(m.corr(), frame.corr().to_numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(m.low, frame.min().to_numpy())
    np.testing.assert_array_equal(m.high, frame.max().to_numpy())


def test_batch_merged_skewness_and_kurtosis_match_pandas(frame: pd.DataFrame) -> None:
    X = frame.to_numpy()
    m = Moments(np.nanmean(X[:100], axis=0), pairs=False)
    for start in range(0, len(X), 700):  # uneven batches, nulls, a mean 3e5 stds from zero
        m.update(X[start : start + 700], None)
    n = frame.count().to_numpy()
    # pandas gives the bias-corrected G1 and G2; undo the corrections for g1 and g2.
    g1 = frame.skew().to_numpy() * (n - 2) / np.sqrt(n * (n - 1))
    g2 = (frame.kurt().to_numpy() * (n - 2) * (n - 3) / (n - 1) - 6) / (n + 1)
    # x's skewness is ~1e-3, so rtol 1e-6 is 1e-9 absolute; checked against exact rational
    # arithmetic, the shifted sums are off by ~3e-16 there and the two-pass result by 5e-11.
    np.testing.assert_allclose(m.skewness(), g1, rtol=1e-6)
    np.testing.assert_allclose(m.kurtosis(), g2, rtol=1e-6)
    np.testing.assert_allclose(m.skewness()[2], g1[2], rtol=1e-12)  # z has mean ~1


def test_out_of_range_counts_against_the_reference() -> None:
    ref = Moments(np.zeros(1), pairs=False)
    ref.update(np.array([[0.0], [1.0]]), None)
    m = Moments(np.zeros(1), pairs=False)
    m.update(np.array([[-1.0], [0.5], [2.0], [3.0], [np.nan]]), (ref.low, ref.high))
    assert (m.below[0], m.above[0], m.count[0]) == (1, 2, 4)


def test_sample_indices_are_sorted_distinct_and_seeded() -> None:
    a = sample_indices(10_000_000, 1000, np.random.default_rng(5))
    b = sample_indices(10_000_000, 1000, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert np.all(np.diff(a) > 0)
    assert a.size == 1000
    np.testing.assert_array_equal(sample_indices(5, 10, np.random.default_rng(0)), np.arange(5))


def test_scan_picks_exactly_the_sampled_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"i": np.arange(5000, dtype=np.float64)}), path, row_group_size=333)
    src = open_path(str(path))
    layout = plan_layout(src, src)
    take = np.array([0, 332, 333, 1000, 4999])
    result = scan(src, layout, take)
    assert result.rows == 5000
    assert result.sample.column("i").to_pylist() == take.tolist()


def test_file_with_many_row_groups_matches_in_memory(frame: pd.DataFrame, tmp_path: Path) -> None:
    real, synth = frame.iloc[:1500], frame.iloc[1500:]
    pq.write_table(
        pa.Table.from_pandas(real, preserve_index=False), tmp_path / "r.parquet", row_group_size=100
    )
    pq.write_table(
        pa.Table.from_pandas(synth, preserve_index=False), tmp_path / "s.parquet", row_group_size=77
    )
    streamed = diagnose_paths(str(tmp_path / "r.parquet"), str(tmp_path / "s.parquet"), sample=500)
    whole = diagnose(real, synth, sample=500)
    for key, value in whole.summary.items():
        if isinstance(value, float):
            assert streamed.summary[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert streamed.summary[key] == value, key


def test_directory_input(frame: pd.DataFrame, tmp_path: Path) -> None:
    folder = tmp_path / "synth"
    folder.mkdir()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.slice(0, 1000), folder / "part-0.parquet")
    pq.write_table(table.slice(1000), folder / "part-1.parquet")
    pq.write_table(table, tmp_path / "real.parquet")
    report = diagnose_paths(str(tmp_path / "real.parquet"), str(folder))
    assert report.summary["variance_ratio_min"] == pytest.approx(1.0, rel=1e-9)
    assert report.meta["rows"] == {"real": 3000, "synth": 3000}


def test_provenance_is_read_from_the_file(tmp_path: Path) -> None:
    from mixsynth import generate

    real = pa.table({"x": np.arange(50.0), "y": np.arange(50.0) ** 0.5})
    out = generate(real, 200, weights="uniform", seed=1)
    pq.write_table(out, tmp_path / "synth.parquet")
    pq.write_table(real, tmp_path / "real.parquet")
    report = diagnose_paths(str(tmp_path / "real.parquet"), str(tmp_path / "synth.parquet"))
    assert report.summary["predicted_variance_factor"] == pytest.approx(2 / 3)
    assert report.meta["provenance"]["weights"] == "uniform"


def test_only_one_stdin(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="only one of REAL, SYNTH and --holdout may be -"):
        diagnose_paths("-", "-")


@pytest.mark.parametrize(
    ("content", "text"),
    [(None, "no such file or directory"), (b"not parquet", "cannot read .* as Parquet")],
)
def test_unreadable_paths(tmp_path: Path, content: bytes | None, text: str) -> None:
    path = tmp_path / "bad.parquet"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=text):
        open_path(str(path))


def test_from_data_keeps_table_provenance() -> None:
    table = pa.table({"x": [1.0]}).replace_schema_metadata({b"mixsynth": b'{"seed": 7}'})
    assert from_data(table, "synthetic").provenance == {"seed": 7}


def test_merged_scans_of_row_ranges_equal_one_pass(frame: pd.DataFrame) -> None:
    # What --engine dask does per file: scan consecutive row ranges with the real side's
    # shift and bounds, then merge left to right.
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("c", pa.array([f"k{i % 7}" if i % 11 else None for i in range(3000)]))
    src = from_data(table, "real")
    layout = plan_layout(src, src)
    take = sample_indices(3000, 400, np.random.default_rng(1))
    # A narrower reference (as the real side is for the synthetic one): values fall outside.
    ref = scan(from_data(table.slice(0, 500), "ref"), layout, take[:0]).moments
    whole = scan(src, layout, take, shift=ref.shift, ref=ref)
    edges = [0, 100, 1700, 1700, 3000]  # one range empty
    parts = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        local = take[(take >= lo) & (take < hi)] - lo
        batches = table.slice(lo, hi - lo).select(layout.names).to_batches(max_chunksize=256)
        parts.append(scan_batches(batches, layout, local, table.schema, ref.shift,
                                  (ref.low, ref.high)))
    merged = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    assert merged.rows == whole.rows
    assert (merged.nulls, merged.nonfinite, merged.too_many) == (whole.nulls, whole.nonfinite, set())
    assert list(merged.counts["c"].items()) == list(whole.counts["c"].items())  # order too
    assert merged.sample.equals(whole.sample)
    m, w = merged.moments, whole.moments
    for name in ("count", "low", "high", "below", "above", "pair_n"):
        np.testing.assert_array_equal(getattr(m, name), getattr(w, name))
    np.testing.assert_allclose(m.cov(), w.cov(), rtol=1e-9)
    np.testing.assert_allclose(m.kurtosis(), w.kurtosis(), rtol=1e-9)
    assert w.below.sum() > 0
    assert w.above.sum() > 0


def test_merge_marks_columns_whose_merged_categories_are_too_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mixsynth.diagnose import stream

    monkeypatch.setattr(stream, "MAX_CATEGORIES", 5)
    table = pa.table({"c": [f"v{i}" for i in range(8)], "x": np.arange(8.0)})
    src = from_data(table, "real")
    layout = plan_layout(src, src, target="c")
    shift = np.zeros(layout.d)
    a, b = (scan_batches(table.slice(lo, 4).to_batches(), layout, np.array([], dtype=np.int64),
                         table.schema, shift) for lo in (0, 4))
    assert (a.too_many, b.too_many) == (set(), set())
    merged = a.merge(b)
    assert merged.too_many == {"c"}
    assert merged.counts["c"] == {}
    assert merged.sample.num_rows == 0


def test_fsspec_urls_read_like_local_paths(frame: pd.DataFrame, tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.slice(0, 1200), tmp_path / "real.parquet", row_group_size=500)
    (tmp_path / "synth").mkdir()
    pq.write_table(table.slice(1200, 900), tmp_path / "synth" / "a.parquet")
    pq.write_table(table.slice(2100), tmp_path / "synth" / "b.parquet")
    mem = fsspec.filesystem("memory")
    for f in (tmp_path / "real.parquet", tmp_path / "synth" / "a.parquet", tmp_path / "synth" / "b.parquet"):
        mem.pipe(f"/urls/{f.relative_to(tmp_path)}", f.read_bytes())
    try:
        remote = diagnose_paths("memory://urls/real.parquet", "memory://urls/synth", sample=300)
        assert len(open_path("memory://urls/synth").fragments()) == 2
    finally:
        mem.rm("/urls", recursive=True)
    local = diagnose_paths(str(tmp_path / "real.parquet"), str(tmp_path / "synth"), sample=300)
    assert remote.summary == local.summary
    assert remote.columns == local.columns
    assert remote.meta["inputs"] == {"real": "memory://urls/real.parquet", "synth": "memory://urls/synth"}


def test_unknown_url_scheme_is_an_input_error() -> None:
    with pytest.raises(InputError, match="cannot open 'nosuch://x': Protocol not known: nosuch"):
        open_path("nosuch://x")
