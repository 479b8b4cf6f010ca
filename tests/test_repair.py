"""Variance repair after bounds, and the rank-Gaussian mixing space."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from mixsynth.options import SynthesisOptions
from mixsynth.synthesis.repair import MAX_STRETCH
from mixsynth.synthesis.synthesizer import Synthesizer


def _quiet(_msg: str) -> None:
    pass


def _run(table, m=60_000, **kw):
    kw.setdefault("seed", 0)
    chunk_rows = kw.pop("chunk_rows", 65536)
    notify = kw.pop("notify", _quiet)
    synth = Synthesizer(table, SynthesisOptions(**kw), notify=notify)
    return pa.concat_tables(synth.chunks(m, chunk_rows)), synth


@pytest.fixture(scope="module")
def skewed():
    """A lognormal column and a zero-inflated count column (non-negative: clipped by default)."""
    rng = np.random.default_rng(8)
    n = 3000
    counts = np.where(rng.random(n) < 0.45, 0, rng.negative_binomial(2, 0.3, n))
    return pa.table({"income": rng.lognormal(10, 0.8, n), "visits": pa.array(counts, pa.int32())})


def _ratio(out, table, name):
    return np.var(out[name].to_numpy().astype(float)) / np.var(table[name].to_numpy().astype(float))


def test_clip_with_repair_keeps_variance_and_range(skewed):
    repaired, synth = _run(skewed, repair="variance")
    clipped, _ = _run(skewed, repair="none")
    assert synth.repair_mode == "variance"
    for name in ("income", "visits"):
        lo, hi = pa.compute.min(skewed[name]).as_py(), pa.compute.max(skewed[name]).as_py()
        values = repaired[name].to_numpy()
        assert values.min() >= lo
        assert values.max() <= hi
        assert _ratio(repaired, skewed, name) == pytest.approx(1.0, abs=0.02)
        # Without repair the clip visibly costs variance.
        assert _ratio(clipped, skewed, name) < 0.97
        assert _ratio(repaired, skewed, name) - _ratio(clipped, skewed, name) > 0.03
    record = synth.provenance()["repair"]["columns"]
    assert record["income"]["stretch"] > 1.0
    assert record["income"]["variance_ratio_after"] == pytest.approx(1.0, abs=1e-6)


def test_repair_is_on_by_default_for_variance_keeping_laws_only(skewed):
    assert Synthesizer(skewed, SynthesisOptions(seed=0), notify=_quiet).repair_mode == "marginals"
    assert Synthesizer(skewed, SynthesisOptions(seed=0, weights="uniform"), notify=_quiet).repair_mode == "none"
    # Anchoring keeps values in range by itself, so it does not depend on the bounds.
    assert Synthesizer(skewed, SynthesisOptions(seed=0, bounds="none"), notify=_quiet).repair_mode == "marginals"
    assert Synthesizer(skewed, SynthesisOptions(seed=0, space="rank-gauss"), notify=_quiet).repair_mode == "none"


def test_repair_with_a_shrinking_law_targets_its_own_factor(skewed):
    out, synth = _run(skewed, weights="uniform", repair="variance")
    assert _ratio(out, skewed, "income") == pytest.approx(2 / 3, abs=0.03)


def test_repair_is_deterministic_across_chunking(skewed):
    a, _ = _run(skewed, 30_000, chunk_rows=5000)
    b, _ = _run(skewed, 30_000, chunk_rows=65536)
    assert a.equals(b)


def test_mass_at_a_bound_is_repaired():
    # 95 % of the values sit at the lower bound; stretching pushes mixed values onto it.
    rng = np.random.default_rng(9)
    x = np.where(rng.random(2000) < 0.95, 0.0, rng.exponential(5.0, 2000))
    out, synth = _run(pa.table({"x": x}), 40_000, repair="variance")
    column = synth.provenance()["repair"]["columns"]["x"]
    assert not column["capped"]
    assert column["stretch"] > 1.0
    assert column["variance_ratio_after"] == pytest.approx(1.0, abs=1e-6)
    assert out["x"].to_numpy().min() >= 0.0


def test_column_that_cannot_be_repaired_is_capped_with_a_notice_not_an_error():
    # A user bound below most of the spread: no stretch brings the clipped variance back.
    rng = np.random.default_rng(9)
    x = np.where(rng.random(2000) < 0.95, 0.0, rng.exponential(5.0, 2000))
    notes: list[str] = []
    out, synth = _run(pa.table({"x": x}), 20_000, repair="variance", bounds_overrides={"x": [0, 2]},
                      notify=notes.append)
    column = synth.provenance()["repair"]["columns"]["x"]
    assert column["capped"]
    assert column["stretch"] == MAX_STRETCH
    assert column["variance_ratio_after"] < 0.5
    assert any("variance repair of column 'x' stopped at the cap s=3" in note for note in notes)
    assert out["x"].to_numpy().max() <= 2.0


def test_rank_gauss_stays_in_range_keeps_integers_and_fits_marginals_better(skewed):
    rg, synth = _run(skewed, 30_000, space="rank-gauss")
    raw, _ = _run(skewed, 30_000, bounds="none", repair="none")
    assert synth.provenance()["space"] == "rank-gauss"
    for name in ("income", "visits"):
        src = skewed[name].to_numpy()
        assert rg[name].to_numpy().min() >= src.min()
        assert rg[name].to_numpy().max() <= src.max()
    assert set(np.unique(rg["visits"].to_numpy())) <= set(np.unique(skewed["visits"].to_numpy()))
    ks_rg = stats.ks_2samp(rg["income"].to_numpy(), skewed["income"].to_numpy()).statistic
    ks_raw = stats.ks_2samp(raw["income"].to_numpy(), skewed["income"].to_numpy()).statistic
    assert ks_rg < ks_raw / 2, (ks_rg, ks_raw)
    assert sum(synth.adjustments().values()) == 0  # in range by construction


def test_rank_gauss_makes_new_values_for_continuous_columns(skewed):
    rg, _ = _run(skewed, 5000, space="rank-gauss")
    fresh = np.setdiff1d(rg["income"].to_numpy(), skewed["income"].to_numpy())
    assert fresh.size > 4000


def _copy_share(out: pa.Table, real: pa.Table) -> float:
    seen = set(zip(*(real[c].to_pylist() for c in real.column_names), strict=True))
    rows = zip(*(out[c].to_pylist() for c in real.column_names), strict=True)
    return float(np.mean([row in seen for row in rows]))


def test_rank_gauss_interpolates_between_distinct_values_instead_of_copying_rows():
    # Measurements rounded to 0.1 (many small ties, as in real tables) and a point mass of
    # exact zeros (30 %): the old inverse, one knot per row, mapped every score inside a
    # run of ties onto the tied value and copied whole rows.
    rng = np.random.default_rng(3)
    n = 4000
    temp = np.round(rng.normal(15.0, 4.0, n), 1)
    rain = np.where(rng.random(n) < 0.3, 0.0, np.round(rng.gamma(2.0, 1.5, n), 1))
    real = pa.table({"temp": temp, "rain": rain, "wind": np.round(rng.gamma(3.0, 1.0, n) + 0.05 * temp, 1)})
    rg, _ = _run(real, 20_000, space="rank-gauss")
    assert _copy_share(rg, real) < 0.005
    for name in real.column_names:
        ks = stats.ks_2samp(rg[name].to_numpy(), real[name].to_numpy()).statistic
        assert ks < 0.03, (name, ks)
    # The point mass keeps its share (its whole run of ranks maps onto it).
    zeros = float(np.mean(rg["rain"].to_numpy() == 0.0))
    assert zeros == pytest.approx(float(np.mean(rain == 0.0)), abs=4 * np.sqrt(0.3 * 0.7 / 20_000) + 0.005)
    # Two parents of one value give that value exactly, not a rounding error away from it.
    got, observed = rg["temp"].to_numpy(), np.unique(temp)
    nearest = observed[np.clip(np.searchsorted(observed, got), 0, observed.size - 1)]
    close = np.abs(got - nearest) < 1e-9
    assert close.sum() > 100
    assert (got[close] == nearest[close]).all()


@pytest.mark.parametrize(("option", "value", "fragment"), [
    ("repair", "always", "unknown --repair 'always'"),
    ("space", "log", "unknown --space 'log'"),
])
def test_bad_options(skewed, option, value, fragment):
    from mixsynth.errors import UsageError

    with pytest.raises(UsageError, match=fragment):
        Synthesizer(skewed, SynthesisOptions(seed=0, **{option: value}), notify=_quiet)


REAL = sorted(
    str(p) for p in __import__("pathlib").Path(__file__).resolve().parents[1].glob("*/**/*.parquet")
    if p.parent.name in ("sample_data", "data")
)


@pytest.mark.slow
@pytest.mark.parametrize("path", REAL, ids=lambda p: p.rsplit("/", 1)[-1])
def test_defaults_keep_non_negative_columns_non_negative_and_the_variance(path):
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    out, synth = _run(table, 40_000, seed=5, nan="skip")
    ratios = []
    for feat in synth.enc.features:
        if feat.spec.kind.value not in ("float", "integer"):
            continue
        real = table[feat.spec.name].to_numpy(zero_copy_only=False).astype(float)
        syn = out[feat.spec.name].to_numpy(zero_copy_only=False).astype(float)
        if np.nanmin(real) >= 0:
            assert np.nanmin(syn) >= 0, feat.spec.name
        if np.nanvar(real) > 0:
            ratios.append(np.nanvar(syn) / np.nanvar(real))
    if ratios:
        assert abs(float(np.median(ratios)) - 1.0) <= 0.05, ratios
