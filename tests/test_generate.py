"""The generator against docs/design.md's identities, on literal data and real tables."""

from __future__ import annotations

import datetime as dt
import glob
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mixsynth
from mixsynth.errors import SchemaError
from mixsynth.options import SynthesisOptions
from mixsynth.synthesis.draws import draw, null_draws
from mixsynth.synthesis.synthesizer import Synthesizer
from mixsynth.weights import parse

ROOT = __file__.rsplit("/tests/", 1)[0]
REAL_TABLES = sorted(glob.glob(f"{ROOT}/sample_data/*.parquet") + glob.glob(f"{ROOT}/tests/data/*.parquet"))


def _quiet(_msg: str) -> None:
    pass


def _gen(table, n, **kw):
    kw.setdefault("seed", 0)
    kw.setdefault("bounds", "none")
    chunk_rows = kw.pop("chunk_rows", 65536)
    run = {k: kw.pop(k) for k in ("backend", "precision", "memory_limit") if k in kw}
    synth = Synthesizer(table, SynthesisOptions(**kw), notify=_quiet, **run)
    return pa.concat_tables(synth.chunks(n, chunk_rows)), synth


@pytest.fixture(scope="module")
def bivariate():
    """1000 rows of a bivariate normal with correlation 0.9 (the paper's Figure 1: docs/design.md section 2.2)."""
    rng = np.random.default_rng(20250302)
    xy = rng.multivariate_normal([1.0, -2.0], [[1.0, 0.9 * 2.0], [0.9 * 2.0, 4.0]], size=1000)
    return pa.table({"x": xy[:, 0], "y": xy[:, 1]})


def _cov(table):
    return np.cov(np.column_stack([table["x"].to_numpy(), table["y"].to_numpy()]), rowvar=False, bias=True)


@pytest.mark.parametrize(
    ("spec", "factor"),
    [("epbeta", 1.0), ("epbeta:eps=0.3", 1.0), ("uniform", 2 / 3), ("midpoint", 0.5), ("beta:2,2", 0.6)],
)
def test_covariance_scales_by_the_variance_factor(bivariate, spec, factor):
    out, synth = _gen(bivariate, 200_000, weights=spec, seed=11)
    assert synth.law.variance_factor() == pytest.approx(factor, abs=1e-9)
    # Parents are uniform over the n rows, so the target is c times the 1/n covariance.
    real, syn = _cov(bivariate), _cov(out)
    np.testing.assert_allclose(syn, factor * real, rtol=0.03)
    corr = lambda c: c[0, 1] / np.sqrt(c[0, 0] * c[1, 1])  # noqa: E731
    assert corr(syn) == pytest.approx(corr(real), abs=0.01)
    np.testing.assert_allclose(
        [out["x"].to_numpy().mean(), out["y"].to_numpy().mean()],
        [bivariate["x"].to_numpy().mean(), bivariate["y"].to_numpy().mean()],
        atol=0.02,
    )


def test_same_seed_same_rows_for_any_chunking(bivariate):
    tables = [_gen(bivariate, 30_000, weights="epbeta", chunk_rows=c, seed=5)[0] for c in (1000, 8192, 12345, 65536)]
    for t in tables[1:]:
        assert t.equals(tables[0])


def test_whole_logical_blocks_are_a_prefix(bivariate):
    # Anchoring stratifies each logical block over the rows written of it, so only whole
    # blocks are shared by a shorter and a longer run of the same seed.
    small, _ = _gen(bivariate, 8192, seed=9)
    large, _ = _gen(bivariate, 20_000, seed=9)
    assert large.slice(0, 8192).equals(small)
    unanchored, _ = _gen(bivariate, 100, seed=9, repair="none")
    assert _gen(bivariate, 10_000, seed=9, repair="none")[0].slice(0, 100).equals(unanchored)


def test_different_seeds_differ(bivariate):
    assert not _gen(bivariate, 100, seed=1)[0].equals(_gen(bivariate, 100, seed=2)[0])


def test_one_lambda_per_row_shared_by_all_columns():
    # Column y = 3x exactly: a per-column λ would break the line; a shared λ keeps it.
    x = np.arange(20, dtype=float)
    out, _ = _gen(pa.table({"x": x, "y": 3 * x}), 5000)
    np.testing.assert_allclose(out["y"].to_numpy(), 3 * out["x"].to_numpy(), rtol=1e-12, atol=1e-9)


def _every_kind(n: int = 60) -> pa.Table:
    rng = np.random.default_rng(0)
    ts = pa.array(rng.integers(1_600_000_000, 1_700_000_000, n) * 1_000_000_000, pa.int64())
    pixels = pa.FixedSizeListArray.from_arrays(pa.array(rng.random(n * 4).astype(np.float32)), 4)
    tensor_type = pa.fixed_shape_tensor(pa.uint8(), (2, 2))
    tensor = pa.ExtensionArray.from_storage(
        tensor_type, pa.FixedSizeListArray.from_arrays(pa.array(rng.integers(0, 255, n * 4).astype(np.uint8)), 4))
    with_nulls = [None if i % 7 == 0 else float(i) for i in range(n)]
    return pa.table({
        "f64": pa.array(rng.normal(size=n)),
        "f32": pa.array(rng.normal(size=n).astype(np.float32)),
        "f_null": pa.array(with_nulls),
        "i8": pa.array(rng.integers(-100, 100, n).astype(np.int8)),
        "u8": pa.array(rng.integers(200, 256, n).astype(np.uint8)),
        "i32_null": pa.array([None if i % 5 == 0 else int(v) for i, v in enumerate(rng.integers(0, 9, n))], pa.int32()),
        "u64": pa.array(rng.integers(0, 10, n).astype(np.uint64)),
        "flag": pa.array(rng.random(n) < 0.3),
        "cat": pa.array(rng.choice(["a", "b", "c"], n)).dictionary_encode(),
        "text": pa.array([None if i % 11 == 0 else f"w{i % 4}" for i in range(n)]),
        "ltext": pa.array([f"v{i % 3}" for i in range(n)], pa.large_string()),
        "ts_tz": ts.cast(pa.timestamp("ns", tz="Europe/Amsterdam")),
        "ts_s": pa.array(rng.integers(0, 10**9, n), pa.int64()).cast(pa.timestamp("s")),
        "day": pa.array(rng.integers(18000, 19000, n).astype(np.int32)).cast(pa.date32()),
        "dur": pa.array(rng.integers(0, 10**6, n), pa.int64()).cast(pa.duration("ms")),
        "tod": pa.array(rng.integers(0, 86_400 * 10**6, n), pa.int64()).cast(pa.time64("us")),
        "pixels": pixels,
        "tensor": tensor,
    })


def test_every_kind_keeps_the_schema_exactly():
    table = _every_kind()
    out, synth = _gen(table, 3000, bounds="auto")
    assert out.schema.equals(table.schema)
    kinds = {s.name: s.kind.value for s in synth.specs}
    assert kinds["ts_tz"] == kinds["day"] == kinds["dur"] == kinds["tod"] == "temporal"
    assert kinds["pixels"] == kinds["tensor"] == "tensor"
    taken = (kinds["cat"], kinds["text"], kinds["ltext"], kinds["flag"])
    assert taken == ("categorical", "string", "string", "boolean")
    assert (kinds["f64"], kinds["i8"], kinds["u64"]) == ("float", "integer", "integer")


def test_taken_columns_only_hold_source_values():
    table = _every_kind()
    out, _ = _gen(table, 3000, bounds="auto")
    for name in ("flag", "cat", "text", "ltext"):
        seen = set(table[name].to_pylist())
        assert set(out[name].to_pylist()) <= seen


def test_integers_are_whole_in_dtype_and_do_not_wrap():
    table = _every_kind()
    # Without anchoring, extrapolation past 255 must clip, never wrap.
    out, synth = _gen(table, 5000, bounds="none", repair="none")
    u8 = out["u8"].to_numpy()
    # Source values are 200..255; a wrapped 256+ would show up as 0..30.
    assert u8.dtype == np.uint8
    assert u8.min() >= 150
    assert synth.adjustments()["u8"] > 0
    assert (u8 == 255).sum() > (table["u8"].to_numpy() == 255).sum()
    assert np.array_equal(out["i8"].to_numpy(), np.rint(out["i8"].to_numpy()))


def test_auto_bounds_keep_integers_and_non_negative_columns_in_range():
    table = _every_kind()
    out, synth = _gen(table, 5000, bounds="auto", repair="none")
    for name in ("i8", "u8", "i32_null", "u64"):
        col = out[name]
        assert pa.compute.min(col).as_py() >= pa.compute.min(table[name]).as_py()
        assert pa.compute.max(col).as_py() <= pa.compute.max(table[name]).as_py()
    assert synth.adjustments()["i8"] > 0  # EpBeta does reach past the range: the clip counted it


def test_epbeta_reaches_outside_the_range_without_bounds(bivariate):
    out, synth = _gen(bivariate, 10_000, bounds="none", repair="none")
    assert out["x"].to_numpy().max() > bivariate["x"].to_numpy().max()
    assert sum(synth.adjustments().values()) == 0


@pytest.mark.parametrize("policy", ["clip", "reflect", "resample"])
def test_bounds_policies_keep_values_in_range_and_count(bivariate, policy):
    out, synth = _gen(bivariate, 20_000, bounds=policy, repair="none")
    for name in ("x", "y"):
        v, r = out[name].to_numpy(), bivariate[name].to_numpy()
        assert v.min() >= r.min()
        assert v.max() <= r.max()
        assert synth.adjustments()[name] > 0


def test_resample_is_deterministic_across_chunking(bivariate):
    a, _ = _gen(bivariate, 20_000, bounds="resample", chunk_rows=3000)
    b, _ = _gen(bivariate, 20_000, bounds="resample", chunk_rows=65536)
    assert a.equals(b)


def test_bounds_override_and_reflect_exact_values():
    table = pa.table({"x": pa.array([0.0, 10.0, 5.0, 2.0])})
    out, synth = _gen(table, 4000, bounds="auto", bounds_overrides={"x": [1.0, None]})
    assert out["x"].to_numpy().min() >= 1.0
    assert synth.provenance()["bounds"]["columns"]["x"] == {"policy": "clip", "low": 1.0, "high": np.inf}


def test_null_counts_per_block_are_the_stratified_targets_and_agreeing_parents_decide():
    # Every logical block holds floor(B·p + jitter) nulls of each column (the jitter drawn
    # per block by null_draws); rows whose two parents agree keep their null or value, so
    # only rows whose parents disagree ever differ from the dominant parent's mask.
    table = _every_kind()
    n, m = table.num_rows, 20_000
    out, synth = _gen(table, m, bounds="auto", chunk_rows=3000)
    d = draw(synth.seed, 0, m, n, synth.law)
    dominant, second = d.dominant(), d.second()
    _, jitter = null_draws(synth.seed, 0, m)
    for name in ("f_null", "i32_null", "text"):
        src_null = np.asarray(table[name].is_null().to_numpy(zero_copy_only=False))
        out_null = np.asarray(out[name].is_null().to_numpy(zero_copy_only=False))
        p = src_null.mean()
        for lo in range(0, m, 8192):
            hi = min(lo + 8192, m)
            both = int((src_null[dominant[lo:hi]] & src_null[second[lo:hi]]).sum())
            target = max(int(np.floor((hi - lo) * p + jitter[lo])), both)
            assert int(out_null[lo:hi].sum()) == target, (name, lo)
        agree = src_null[dominant] == src_null[second]
        np.testing.assert_array_equal(out_null[agree], src_null[dominant][agree])
        # As few switches as the count needs: far fewer than the rows that could switch.
        assert (out_null != src_null[dominant]).sum() < 0.2 * (~agree).sum()


@pytest.mark.slow
def test_categories_come_from_parent_zero_with_probability_clip_lambda():
    n, m = 500, 60_000
    table = pa.table({"x": np.arange(n, dtype=float), "who": pa.array([f"r{i}" for i in range(n)]).dictionary_encode()})
    out, synth = _gen(table, m, weights="epbeta")
    d = draw(synth.seed, 0, m, n, synth.law)
    who = np.array([int(s[1:]) for s in out["who"].to_pylist()])
    distinct = d.parents[:, 0] != d.parents[:, 1]
    from_first = (who == d.parents[:, 0])[distinct].mean()
    lam = parse("epbeta").sample(np.random.default_rng(1), 2_000_000)[:, 0]
    assert from_first == pytest.approx(np.clip(lam, 0, 1).mean(), abs=0.01)


def test_categorical_target_takes_the_dominant_label():
    n, m = 300, 5000
    labels = pa.array([f"c{i}" for i in range(n)]).dictionary_encode()
    table = pa.table({"x": np.arange(n, dtype=float), "label": labels})
    out, synth = _gen(table, m, target="label")
    dominant = draw(synth.seed, 0, m, n, synth.law).dominant()
    assert out["label"].to_pylist() == [f"c{i}" for i in dominant]


def test_temporal_values_keep_unit_and_zone_and_mix_as_ticks():
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    times = pa.array([start + dt.timedelta(hours=h) for h in (0, 10, 25)], pa.timestamp("us", tz="UTC"))
    out, _ = _gen(pa.table({"t": times}), 2000, weights="midpoint")
    assert out.schema.field("t").type == pa.timestamp("us", tz="UTC")
    got = set(out["t"].to_pylist())
    # Midpoints are new values between the parents, rounded onto the source's grid of 5 hours
    # (docs/design.md section 3.2): 12.5 and 17.5 hours go to a neighbouring grid point.
    assert got <= {start + dt.timedelta(hours=h) for h in range(0, 26, 5)}
    assert start + dt.timedelta(hours=5) in got


def test_identifiers_are_regenerated_fresh_or_dropped():
    n = 40
    table = pa.table({"user_id": pa.array(np.arange(100, 100 + n)), "code": [f"k{i}" for i in range(n)],
                      "x": np.arange(n, dtype=float)})
    notes: list[str] = []
    synth = Synthesizer(table, SynthesisOptions(seed=0), notify=notes.append)
    out = pa.concat_tables(synth.chunks(50))
    assert out["user_id"].to_pylist() == list(range(100 + n, 100 + n + 50))
    assert out["code"].to_pylist()[:2] == ["syn-0", "syn-1"]
    assert any("'user_id' looks like an identifier" in note for note in notes)
    dropped = Synthesizer(table, SynthesisOptions(seed=0, ids="drop"), notify=notes.append)
    assert [s.name for s in dropped.specs] == ["x"]


def test_nan_is_an_error_unless_skipped():
    table = pa.table({"x": [1.0, float("nan"), 3.0, float("inf")]})
    with pytest.raises(SchemaError, match=r"column 'x' has 2 NaN or infinite values \(first at row 1\)"):
        Synthesizer(table, SynthesisOptions(seed=0), notify=_quiet)
    out, _ = _gen(table, 2000, nan="skip")
    assert out["x"].null_count > 0
    assert not np.isnan(out["x"].drop_null().to_numpy()).any()


def test_constant_column_stays_constant():
    out, _ = _gen(pa.table({"c": [-0.1] * 5, "x": [1.0, 2.0, 3.0, 4.0, 5.0]}), 1000)
    assert set(out["c"].to_pylist()) == {-0.1}


@pytest.mark.parametrize("path", REAL_TABLES, ids=lambda p: p.rsplit("/", 1)[-1])
@pytest.mark.slow
def test_real_tables_keep_schema_and_variance(path):
    table = pq.read_table(path)
    out, synth = _gen(table, 40_000, seed=3, nan="skip")
    assert out.schema.remove_metadata().equals(table.schema.remove_metadata())
    ratios = []
    for feat in synth.enc.features:
        real = synth.enc.X[:, feat.cols]
        if feat.spec.kind.value in ("float", "integer") and np.nanvar(real) > 0:
            syn = out[feat.spec.name].to_numpy(zero_copy_only=False).astype(float)
            ratios.append(np.nanvar(syn) / np.nanvar(real))
    if ratios:
        assert 0.93 <= float(np.median(ratios)) <= 1.07, ratios


def test_measured_factor_agrees_with_the_weights_command():
    table = pq.read_table(f"{ROOT}/sample_data/wine.parquet").drop_columns(["cultivar"])
    for spec in ("uniform", "midpoint", "epbeta"):
        out, synth = _gen(table, 60_000, weights=spec, seed=4)
        real = synth.enc.X
        syn = np.column_stack([out[c].to_numpy() for c in table.column_names])
        z = lambda a, real=real: (a - real.mean(0)) / real.std(0)  # noqa: E731
        total = np.trace(np.cov(z(syn), rowvar=False)) / np.trace(np.cov(z(real), rowvar=False, bias=True))
        assert total == pytest.approx(synth.law.variance_factor(), rel=0.04)


def test_python_api_dataframe_round_trip_and_provenance():
    df = pd.DataFrame({"x": np.arange(10.0), "g": list("ababababab")})
    out = mixsynth.generate(df, 25, seed=1)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list(range(25))
    assert out.attrs["mixsynth"]["seed"] == 1
    assert out.attrs["mixsynth"]["rows"] == 25
    table = mixsynth.generate(pa.Table.from_pandas(df), 25, seed=1)
    record = json.loads(table.schema.metadata[b"mixsynth"])
    assert record["source"]["rows"] == 10
    assert record["weights"]["given"] == "epbeta"
    assert table.to_pandas()["x"].tolist() == out["x"].tolist()


def test_python_api_rejects_mixed_object_columns():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "bad": [1, "two", 3.0]})
    with pytest.raises(SchemaError, match="column 'bad' holds mixed Python types"):
        mixsynth.generate(df, 5, seed=0)


def test_explicit_non_preserving_epbeta_warns_with_its_factor():
    table = pa.table({"x": [1.0, 2.0, 3.0]})
    with pytest.warns(mixsynth.MixsynthWarning, match=r"factor 0\.998548"):
        mixsynth.generate(table, 5, seed=0, weights="epbeta:alpha=4.34,beta=1.33,eps0=0.3,eps1=0.3")


def test_auto_bounds_keep_dates_and_times_of_day_in_the_observed_range():
    # Three values each, one tick apart somewhere: two values alone are a grid (their
    # difference is its step) and would only ever be mixed onto those two points.
    table = pa.table({
        "tod": pa.array([0, 1, 86_399_000_000] * 2, pa.int64()).cast(pa.time64("us")),
        "day": pa.array([18000, 18001, 18010] * 2, pa.int32()).cast(pa.date32()),
    })
    out, auto = _gen(table, 4000, bounds="auto", repair="none")
    cols = auto.provenance()["bounds"]["columns"]
    assert cols["day"] == {"policy": "clip", "low": 18000.0, "high": 18010.0}
    assert cols["tod"]["policy"] == "clip"
    assert auto.adjustments()["day"] > 0  # EpBeta overshoots the period; the clip counts it
    days = out["day"].cast(pa.int32()).to_numpy()
    assert (days.min(), days.max()) == (18000, 18010)
    out, free = _gen(table, 4000, bounds="none", repair="none")
    cols = free.provenance()["bounds"]["columns"]
    assert cols["tod"] == {"policy": "dtype", "low": 0.0, "high": 86_399_999_999.0}
    assert free.adjustments()["tod"] > 0  # EpBeta overshoots midnight; the safety clip counts it
    days = out["day"].cast(pa.int32()).to_numpy()
    assert days.min() < 18000 or days.max() > 18010  # --bounds none lets dates extrapolate


def test_stdin_that_is_a_terminal_is_refused():
    from mixsynth import io
    from mixsynth.errors import UsageError

    class Terminal:
        def isatty(self) -> bool:
            return True

        def read(self) -> bytes:  # pragma: no cover - must not be reached
            msg = "read from a terminal"
            raise AssertionError(msg)

    with pytest.raises(UsageError, match="refusing to read Parquet from a terminal on stdin"):
        io.read_source("-", stdin=Terminal())
