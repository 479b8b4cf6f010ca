"""Conditional mixing (``--within``): groups, the η² it keeps, exact group values, nesting in
the label mode's groups, the Dask engine's sharded synthesizer, the CLI and collapse-study."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mixsynth
from mixsynth import io
from mixsynth.cli import app
from mixsynth.collapse import collapse_study
from mixsynth.diagnose import diagnose
from mixsynth.engines.fragments import FragmentSource
from mixsynth.errors import SchemaError, UsageError
from mixsynth.io.dataset import open_dataset
from mixsynth.options import ExecutionOptions, GenerateOptions, SynthesisOptions
from mixsynth.synthesis.labels import LabelOptions
from mixsynth.synthesis.synthesizer import Synthesizer
from mixsynth.synthesis.within import (
    MAX_LEVELS,
    Choice,
    _pooled,
    _shares,
    choose,
    group_codes,
    parse_within,
    plan_within,
)


def _quiet(_msg: str) -> None:
    pass


def _panel(seed: int = 0, firms: int = 30, years: int = 20) -> pa.Table:
    """firms × years: value = firm effect (sd 3) + noise (sd 1), so firm explains ~0.9 of it."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0.0, 3.0, firms)
    firm = np.repeat(np.arange(firms), years)
    value = effect[firm] + rng.normal(0.0, 1.0, firms * years)
    return pa.table({
        "firm": pa.array([f"f{i:02d}" for i in firm]).dictionary_encode(),
        "firm_id": firm.astype(np.int64),
        "year": np.tile(np.arange(2000, 2000 + years), firms),
        "value": value,
        "capital": 2.0 * value + rng.normal(0.0, 2.0, firms * years),
    })


def _eta(real: pa.Table, synth: pa.Table, group: str = "firm", number: str = "value") -> dict:
    report = diagnose(real, synth)
    return next(p for p in report.pairs
                if p["kind"] == "eta_squared" and (p["a"], p["b"]) == (group, number))


def _eta_direct(table: pa.Table, group: str, number: str) -> float:
    g = np.asarray(table.column(group).to_pylist(), dtype=object)
    x = table.column(number).to_numpy()
    between = sum((g == k).sum() * (x[g == k].mean() - x.mean()) ** 2 for k in set(g))
    return float(between / ((x - x.mean()) ** 2).sum())


def test_within_keeps_eta_and_diagnose_reports_the_drop_without_it():
    real = _panel().select(["firm", "value", "capital"])
    eta_real = _eta_direct(real, "firm", "value")
    assert eta_real > 0.85
    kept = mixsynth.generate(real, seed=3, within=["firm"])
    plain = mixsynth.generate(real, seed=3, within="none")
    with_pair, without_pair = _eta(real, kept), _eta(real, plain)
    assert with_pair["real"] == pytest.approx(eta_real, rel=1e-9)
    assert abs(with_pair["synth"] - eta_real) < 0.05
    assert with_pair["synth"] == pytest.approx(_eta_direct(kept, "firm", "value"), rel=1e-9)
    # Plain mixing takes the firm from one parent and mixes value across firms.
    assert without_pair["abs_diff"] > 0.1
    assert diagnose(real, plain).summary["eta_max_abs_diff"] > 0.1
    assert diagnose(real, kept).summary["eta_max_abs_diff"] < 0.05


def test_group_shares_follow_the_source_and_rows_keep_their_group():
    real = _panel(firms=4, years=50).select(["firm", "value"])
    codes = np.asarray(real.column("firm").to_pylist())
    out = mixsynth.generate(real, 40_000, seed=1, within=["firm"])
    got = np.asarray(out.column("firm").to_pylist())
    for firm in np.unique(codes):
        share = (got == firm).mean()
        assert share == pytest.approx(0.25, abs=4 * np.sqrt(0.25 * 0.75 / 40_000))
    # Every parent of a row is in its group: with EpBeta's weights in [-0.3, 1.3], the row's
    # value lies within 1.6 group ranges around the group's values (not the table's).
    x, y = real.column("value").to_numpy(), out.column("value").to_numpy()
    lo = {f: x[codes == f].min() for f in np.unique(codes)}
    hi = {f: x[codes == f].max() for f in np.unique(codes)}
    span = {f: hi[f] - lo[f] for f in lo}
    gaps = [max(lo[f] - y[i], y[i] - hi[f]) / span[f] for i, f in enumerate(got)]
    assert max(gaps) <= 0.3 + 1e-9


def test_numbers_grouped_by_value_are_copied_exactly():
    real = _panel().select(["firm_id", "year", "value"])
    out = mixsynth.generate(real.cast(pa.schema([("firm_id", pa.float64()), ("year", pa.int64()),
                                                 ("value", pa.float64())])),
                            5000, seed=2, within=["firm_id"])
    firm = out.column("firm_id").to_numpy()
    assert set(firm) <= set(range(30))  # whole-valued floats group by value, copied bit for bit
    assert _eta_direct(out, "firm_id", "value") == pytest.approx(_eta_direct(real, "firm_id", "value"), abs=0.05)
    record = out.schema.metadata[b"mixsynth"]
    within = json.loads(record)["within"]
    assert within == {"columns": ["firm_id"], "by_value": ["firm_id"], "binned": [], "bins": 10, "groups": 30}


def test_float_columns_group_by_quantile_bins():
    x = np.linspace(0.0, 1.0, 101)[:100] + 0.001
    codes, how = group_codes("x", pa.chunked_array([x]), 4)
    assert how == "bins"
    assert np.bincount(codes).tolist() == [25, 25, 25, 25]
    assert (np.diff(codes) >= 0).all()
    nulls = pa.chunked_array([pa.array([0.5, None, 1.5, 2.5, None, 3.5])])
    codes, how = group_codes("x", nulls, 2)
    assert (how, codes.tolist()) == ("bins", [0, 2, 0, 1, 2, 1])
    many = np.arange(MAX_LEVELS + 1, dtype=np.int64)
    assert group_codes("n", pa.chunked_array([many]), 10)[1] == "bins"
    assert group_codes("n", pa.chunked_array([many[:-1]]), 10)[1] == "value"


def test_within_nests_in_within_class():
    real = _panel(firms=6, years=40)
    cls = np.where(np.random.default_rng(1).random(real.num_rows) < 0.3, "hi", "lo")
    real = real.append_column("cls", pa.array(cls)).select(["cls", "firm", "value"])
    synth = Synthesizer(
        real,
        SynthesisOptions(
            seed=0,
            target="cls",
            labels=LabelOptions(mode="within-class", class_balance="uniform", within=("firm",)),
        ),
        notify=_quiet,
    )
    groups = synth.groups
    pairs = {(c, f) for c, f in zip(cls, real.column("firm").to_pylist(), strict=True)}
    assert len(groups.probs) == len(pairs)
    # P(class) = 1/2 by the balance, then each (class, firm) group by its share of the class.
    rows_cls = np.asarray(cls)[groups.order]
    starts = groups.offsets[:-1]
    per_class = {c: groups.probs[rows_cls[starts] == c].sum() for c in ("hi", "lo")}
    assert per_class == pytest.approx({"hi": 0.5, "lo": 0.5}, rel=1e-12)
    for g in range(len(starts)):
        members = groups.order[groups.offsets[g]:groups.offsets[g + 1]]
        assert len({(cls[i], real.column("firm")[i].as_py()) for i in members}) == 1
        share = len(members) / (cls == cls[members[0]]).sum()
        assert groups.probs[g] == pytest.approx(0.5 * share, rel=1e-12)


@pytest.mark.slow
def test_rows_do_not_depend_on_chunking_or_jobs():
    real = _panel()
    opts = LabelOptions(within=("firm",))
    a = pa.concat_tables(Synthesizer(real, SynthesisOptions(seed=5, labels=opts), notify=_quiet).chunks(20_000, 20_000))
    b = pa.concat_tables(Synthesizer(
        real,
        SynthesisOptions(seed=5, labels=opts),
        notify=_quiet,
    ).chunks(20_000, 3001, jobs=2))
    assert a.equals(b)


@pytest.mark.slow
def test_sharded_synthesizer_matches_local(tmp_path):
    real = _panel()
    src = tmp_path / "src"
    src.mkdir()
    pq.write_table(real.slice(0, 250), src / "a.parquet")
    pq.write_table(real.slice(250), src / "b.parquet")
    opts = LabelOptions(within=("year", "capital"), within_bins=2)
    local = Synthesizer(io.read_source(str(src)).table, SynthesisOptions(seed=4, labels=opts), notify=_quiet)
    sharded = Synthesizer(
        FragmentSource(open_dataset(str(src)), real.column_names),
        SynthesisOptions(seed=4, labels=opts),
        notify=_quiet,
    )
    local.total_rows = sharded.total_rows = 3000
    assert sharded.provenance()["within"] == local.provenance()["within"]
    assert sharded.block(0, 3000)[0].to_pylist() == pa.concat_tables(local.chunks(3000)).to_pylist()


@pytest.mark.slow
def test_dask_engine_writes_the_local_rows(dask_client, tmp_path):
    from mixsynth.engines.dask import generate_dataset

    src = tmp_path / "panel.parquet"
    pq.write_table(_panel(), src)
    opts = LabelOptions(within=("firm",))
    generate_dataset(
        str(src),
        str(tmp_path / "out"),
        GenerateOptions(
            rows=2000,
            synthesis=SynthesisOptions(seed=6, labels=opts),
            execution=ExecutionOptions(engine="dask"),
        ),
        partition_rows=700,
        client=dask_client,
        notify=_quiet,
    )
    got = pq.read_table(tmp_path / "out").select(_panel().column_names)
    local = Synthesizer(_panel(), SynthesisOptions(seed=6, labels=opts), notify=_quiet)
    assert got.to_pylist() == pa.concat_tables(local.chunks(2000)).to_pylist()


@pytest.mark.parametrize(("within", "error", "match"), [
    (("nope",), UsageError, "--within column 'nope' is not among the columns synthesised"),
    (("firm", "firm"), UsageError, "--within names a column twice"),
    (("firm_id", "year"), SchemaError, "600 of 600 groups hold a single row"),
])
def test_refusals(within, error, match):
    with pytest.raises(error, match=match):
        Synthesizer(_panel(), SynthesisOptions(seed=0, labels=LabelOptions(within=within)), notify=_quiet)


def test_tensor_columns_cannot_group():
    arr = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(8.0)), 2)
    with pytest.raises(UsageError, match="cannot group by column 't'"):
        plan_within(pa.table({"t": arr}), ["t"], 10)


def test_cli_within(runner, tmp_path):
    src = tmp_path / "panel.parquet"
    pq.write_table(_panel(), src)
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(src), "--within", "firm", "--seed", "1", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    record = json.loads(pq.ParquetFile(out).metadata.metadata[b"mixsynth"])
    assert record["within"]["columns"] == ["firm"]
    assert abs(_eta_direct(pq.read_table(out), "firm", "value") - _eta_direct(_panel(), "firm", "value")) < 0.05
    bad = runner.invoke(app, ["generate", str(src), "--within", "nope", "--seed", "1", "-o", str(out)])
    assert bad.exit_code == 2
    assert bad.stderr == ("Error: --within column 'nope' is not among the columns synthesised "
                          "(unknown, or left out by --columns/--exclude/--ids drop)\n")
    lonely = runner.invoke(app, ["generate", str(src), "--within", "firm_id,year", "-o", str(out)])
    assert lonely.exit_code == 1
    assert lonely.stderr.startswith("Error: --within firm_id,year: 600 of 600 groups hold a single row")


@pytest.mark.slow
def test_collapse_study_mixes_within(tmp_path):
    real = _panel().select(["firm", "value", "capital"])
    eta_real = _eta_direct(real, "firm", "value")
    etas = {}
    seen: list[str] = []
    for within in ("none", ("firm",), None):  # None: the default, auto
        records = list(collapse_study(real, rounds=3, weights=["epbeta"], baseline=False, seed=2,
                                      within=within, output_dir=str(tmp_path / str(within)),
                                      notify=seen.append))
        assert [r["round"] for r in records] == [0, 1, 2, 3]
        last = sorted((tmp_path / str(within) / "rounds").rglob("round-*.parquet"))[-1]
        etas[within] = _eta_direct(pq.read_table(last), "firm", "value")
    assert abs(etas[("firm",)] - eta_real) < 0.05
    assert eta_real - etas["none"] > 0.2
    # auto picks firm itself and says so (the study repeats a notice only when it changes).
    assert abs(etas[None] - eta_real) < 0.05
    assert any(m.startswith("epbeta: --within auto: parents of a row share its 'firm'") for m in seen)


# -- --within auto -------------------------------------------------------------------------


def test_share_is_adjusted_eta_squared_on_literal_data():
    # Groups a: {0, 2} and b: {4, 6}, three times over: SST = 60, SSW = 12, N = 12, G = 2,
    # so ε² = 1 - (SSW / (N - G)) / (SST / (N - 1)) = 1 - (12 / 10) / (60 / 11) = 0.78
    # (η² = 1 - 12 / 60 = 0.8).
    t = pa.table({"g": ["a", "a", "b", "b"] * 3, "x": [0.0, 2.0, 4.0, 6.0] * 3})
    choice = choose(t, ["g"], ["x"])
    assert choice is not None
    assert choice == Choice("g", "x", pytest.approx(0.78, abs=1e-12))
    # A number whose squares overflow is not judged, and does not hide the others.
    huge = t.append_column("big", pa.array([1.7e308, -1.7e308] * 6))
    assert choose(huge, ["g"], ["big", "x"]) == Choice("g", "x", pytest.approx(0.78, abs=1e-12))
    # A column that explains less than half of every number's variance is left alone.
    weak = pa.table({"g": ["a", "b"] * 6, "x": [0.0, 2.0, 4.0, 6.0] * 3})
    assert choose(weak, ["g"], ["x"]) is None


def test_rare_groups_are_pooled_and_a_lone_row_joins_the_smallest_group():
    codes = np.array([0] * 6 + [1] * 5 + [2] * 2 + [3] * 1 + [4] * 7)
    pooled, count = _pooled(codes)
    assert count == 2  # groups 2 and 3 (3 rows together)
    assert pooled.tolist() == [0] * 6 + [1] * 5 + [3] * 3 + [2] * 7
    lone, count = _pooled(np.array([0] * 6 + [1] * 5 + [2]))
    assert count == 1
    assert lone.tolist() == [0] * 6 + [1] * 6  # the single row joins group 1 (5 rows)


def test_parse_within():
    assert parse_within("auto") == ((), True)
    assert parse_within("none") == parse_within(None) == parse_within([]) == ((), False)
    assert parse_within(["a", "b"]) == (("a", "b"), False)
    with pytest.raises(UsageError, match="--within auto cannot be combined with column names"):
        parse_within(["a", "auto"])


def _rare_panel() -> pa.Table:
    """The panel plus three firms of one or two rows (that named --within refuses)."""
    t = _panel().select(["firm", "value", "capital"])
    extra = pa.table({"firm": pa.array(["z1", "z2", "z2", "z3"]).dictionary_encode(),
                      "value": [0.5, -1.0, -0.5, 2.0], "capital": [1.0, -2.0, -1.0, 4.0]})
    return pa.concat_tables([t.cast(extra.schema), extra]).combine_chunks()


def test_auto_groups_by_the_column_that_explains_a_number_and_keeps_eta():
    real = _rare_panel()
    with pytest.raises(SchemaError, match="hold a single row"):
        mixsynth.generate(real, seed=3, within=["firm"])
    seen: list[str] = []
    synth = Synthesizer(real, SynthesisOptions(seed=3, labels=LabelOptions(auto_within=True)), notify=seen.append)
    assert seen == ["--within auto: parents of a row share its 'firm', which explains 85% of "
                    "'value''s variance; 3 groups of fewer than 5 rows mixed as one "
                    "(--within none turns this off)"]
    record = synth.provenance()["within"]
    assert record["columns"] == ["firm"]
    assert record["auto"] == {"number": "value", "share": pytest.approx(0.8543, abs=1e-4), "pooled_groups": 3}
    assert record["groups"] == 31  # 30 firms and the pool
    with pytest.warns(mixsynth.MixsynthWarning, match="--within auto"):
        out = mixsynth.generate(real, seed=3)
    plain = mixsynth.generate(real, seed=3, within="none")
    assert abs(_eta(real, out)["synth"] - _eta(real, out)["real"]) < 0.05
    assert _eta(real, plain)["abs_diff"] > 0.1
    assert plain.schema.metadata is not None
    assert json.loads(plain.schema.metadata[b"mixsynth"])["within"] is None


def test_auto_leaves_a_table_without_such_a_column_alone():
    real = pq.read_table("tests/data/randhie.parquet")
    seen: list[str] = []
    synth = Synthesizer(real, SynthesisOptions(seed=3, labels=LabelOptions(auto_within=True)), notify=seen.append)
    assert synth.within is None
    assert not any("--within" in m for m in seen)


def test_auto_is_off_when_the_label_mode_groups_and_spares_a_soft_target():
    real = _rare_panel()
    common = real.filter(pa.compute.invert(pa.compute.is_in(
        real.column("firm").cast(pa.string()), pa.array(["z1", "z2", "z3"]))))
    options = SynthesisOptions(seed=3, target="firm", labels=LabelOptions(mode="within-class", auto_within=True))
    synth = Synthesizer(common, options, notify=_quiet)
    assert synth.within is None
    assert synth.groups is not None
    soft = Synthesizer(
        real,
        SynthesisOptions(seed=3, target="firm", labels=LabelOptions(mode="soft", auto_within=True)),
        notify=_quiet,
    )
    assert soft.within is None


@pytest.mark.slow
def test_auto_on_the_cli_names_its_choice_and_none_turns_it_off(tmp_path, runner):
    src = tmp_path / "airports.parquet"
    pq.write_table(pq.read_table("tests/data/airports.parquet"), src)
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(src), "--seed", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert ("--within auto: parents of a row share its 'state', which explains 94% of "
            "'latitude''s variance; 4 groups of fewer than 5 rows mixed as one") in result.stderr
    real, synth = pq.read_table(src), pq.read_table(out)
    pair = _eta(real, synth, "state", "latitude")
    assert pair["abs_diff"] < 0.05
    off = runner.invoke(app, ["generate", str(src), "--seed", "1", "-o", str(out), "--within", "none"])
    assert off.exit_code == 0
    assert "--within auto" not in off.stderr
    assert _eta(real, pq.read_table(out), "state", "latitude")["abs_diff"] > 0.1


@pytest.mark.parametrize("path", ["tests/data/airports.parquet", "sample_data/penguins.parquet"])
def test_auto_picks_the_same_rows_on_the_sharded_engine(tmp_path, path):
    # penguins: species is picked, and island and sex stay balanced inside the groups.
    table = pq.read_table(path)
    src = tmp_path / "src"
    src.mkdir()
    step = table.num_rows // 3 + 1
    for i, start in enumerate(range(0, table.num_rows, step)):
        pq.write_table(table.slice(start, step), src / f"part-{i}.parquet")
    opts = LabelOptions(auto_within=True)
    local = Synthesizer(io.read_source(str(src)).table, SynthesisOptions(seed=7, labels=opts), notify=_quiet)
    sharded = Synthesizer(
        FragmentSource(open_dataset(str(src)), table.column_names),
        SynthesisOptions(seed=7, labels=opts),
        notify=_quiet,
    )
    assert sharded.within is not None
    assert sharded.within.record() == local.within.record()
    if "penguins" in path:
        assert local.balance is not None
        assert sharded.source.balance_plan is not None
    local.total_rows = sharded.total_rows = 2000
    assert sharded.block(0, 2000)[0].equals(local.block(0, 2000)[0])


def test_auto_measures_nanosecond_dates_past_2_53(runner, tmp_path):
    # Ticks of today's dates in ns are above 2**53: measuring them as float64 must round
    # (a safe cast refused them, and the command ended in a traceback).
    n = 400
    rng = np.random.default_rng(2)
    group = np.repeat(["a", "b"], n // 2)
    day = np.where(group == "a", 0, 400) + rng.integers(0, 30, n)
    stamps = (np.datetime64("2023-05-26T01:33:42", "ns") + day.astype("timedelta64[D]")).astype("datetime64[ns]")
    path = tmp_path / "dated.parquet"
    pq.write_table(pa.table({"g": group, "when": pa.array(stamps, pa.timestamp("ns"))}), path)
    assert int(pa.array(stamps, pa.timestamp("ns")).cast(pa.int64())[0].as_py()) > 2**53
    out_path = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(path), "-n", "300", "--seed", "1", "-o", str(out_path)])
    assert result.exit_code == 0, result.stderr
    assert "parents of a row share its 'g'" in result.stderr
    out = pq.read_table(out_path)
    # Grouped by g, every synthetic date stays in its group's month.
    days = (out["when"].to_numpy() - np.datetime64("2023-05-26T01:33:42", "ns")) // np.timedelta64(1, "D")
    assert set(np.asarray(out["g"]).tolist()) == {"a", "b"}
    assert ((np.asarray(out["g"]) == "a") == (days < 200)).all()


def test_auto_does_not_pick_a_coin_flip_for_integers_near_the_int64_limit(runner, tmp_path):
    # A 0/1 flag unrelated to an int64 column just below 2**63: float64 holds those values
    # only to the nearest 1 024 and the first-pass mean is off by more than their spread,
    # so the flag used to "explain" about half of the column's variance and was picked.
    n = 500
    flag = [i % 5 < 2 for i in range(n)]
    big = [2**63 - 1 - (101 * i) % 2000 for i in range(n)]
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"flag": flag, "big": pa.array(big, pa.int64())}), path)
    result = runner.invoke(app, ["generate", str(path), "-n", "100", "--seed", "1", "-o", str(tmp_path / "o.parquet")])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    # Shifted to small numbers, the same table has the same (zero) share: the decision
    # does not depend on where the values sit.
    codes = np.array([int(f) for f in flag])
    for values in (np.array(big, dtype=np.float64), np.array([b - (2**63 - 2000) for b in big], dtype=np.float64)):
        assert abs(_shares(codes, values[:, None])[0]) < 0.01
