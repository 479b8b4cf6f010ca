"""The Dask engine: same rows as the local engine, on a real LocalCluster, for 1 and 2 workers."""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from mixsynth import io
from mixsynth.engines import fragment_groups
from mixsynth.engines.fragment_groups import GroupOrder
from mixsynth.engines.fragments import FragmentSource
from mixsynth.errors import BackendUnavailable, SchemaError, UsageError
from mixsynth.io.dataset import open_dataset
from mixsynth.moments import NumericMatrix, batch_moments
from mixsynth.options import ExecutionOptions, GenerateOptions, SynthesisOptions
from mixsynth.synthesis.labels import LabelOptions
from mixsynth.synthesis.synthesizer import Synthesizer

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
REAL_TABLES = sorted(glob.glob(f"{ROOT}/tests/data/*.parquet"))


def _quiet(_msg: str) -> None:
    pass


def _split(table: pa.Table, path: Path, cuts: tuple[float, ...] = (0.3, 0.45)) -> Path:
    """Write ``table`` as three Parquet files of unequal size, several row groups each."""
    path.mkdir(parents=True)
    n = table.num_rows
    edges = [0, *(int(c * n) for c in cuts), n]
    for i, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False)):
        pq.write_table(
            table.slice(lo, hi - lo), path / f"part-{i}.parquet", row_group_size=max(1, n // 9)
        )
    return path


def _local(source: Path, m: int, **kw) -> pa.Table:
    kw.setdefault("seed", 7)
    synth = Synthesizer(io.read_source(str(source)).table, SynthesisOptions(**kw), notify=_quiet)
    return pa.concat_tables(synth.chunks(m, 1000))


def _rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def client(request, dask_client, make_dask_client, tmp_path_factory):
    # The session's shared 2-worker cluster; a 1-worker one only for this module (an
    # in-process cluster starts in about a second), so the rows are shown not to depend
    # on the number of workers.
    if request.param == 2:
        yield dask_client
        return
    with make_dask_client(1, tmp_path_factory.mktemp("dask1")) as one:
        yield one


@pytest.fixture(scope="module")
def cars_dir(tmp_path_factory):
    return _split(
        pq.read_table(f"{ROOT}/tests/data/cars.parquet"), tmp_path_factory.mktemp("src") / "cars"
    )


# -- the kernel, without a cluster ----------------------------------------------------------


@pytest.mark.parametrize("path", REAL_TABLES, ids=lambda p: Path(p).stem)
@pytest.mark.parametrize("bounds", ["auto", "resample"])
@pytest.mark.slow
def test_sharded_rows_equal_local_rows(tmp_path, path, bounds):
    src = _split(pq.read_table(path), tmp_path / "src")
    expected = _local(src, 2500, bounds=bounds)
    synth = Synthesizer(
        FragmentSource(open_dataset(str(src)), open_dataset(str(src)).schema.names),
        SynthesisOptions(seed=7, bounds=bounds),
        notify=_quiet,
    )
    synth.total_rows = 2500  # as generate_dataset sets it: the last block is stratified over it
    got = [t for start, stop in ((0, 900), (900, 2500)) for t, _ in synth.part(start, stop, 400)]
    assert _rows(pa.concat_tables(got)) == _rows(expected)
    local = Synthesizer(io.read_source(str(src)).table, SynthesisOptions(seed=7, bounds=bounds), notify=_quiet)
    assert synth.provenance()["bounds"] == local.provenance()["bounds"]
    assert [(s.name, s.kind) for s in synth.specs] == [(s.name, s.kind) for s in local.specs]
    assert synth.enc.X.dtype == local.enc.X.dtype


@pytest.mark.parametrize("repair", ["auto", "none"])
def test_null_counts_on_gathered_rows_equal_the_local_ones(tmp_path, repair):
    # Each block's null counts come from the survey's null counts (NaN under --nan skip
    # included) and the parents a block gathers; with or without anchoring (which mixes
    # whole blocks), the rows are the local engine's.
    rng = np.random.default_rng(4)
    n = 900
    skipped = rng.random(n) < 0.3
    nan = rng.normal(size=n)
    nan[rng.random(n) < 0.1] = np.nan
    table = pa.table({
        "x": rng.normal(size=n),
        "f": pa.array(rng.normal(size=n), mask=skipped),
        "i": pa.array(rng.integers(0, 9, n), mask=skipped),
        "s": pa.array(rng.choice(["p", "q"], n), mask=rng.random(n) < 0.2),
        "day": pa.array(rng.integers(0, 900, n).astype(np.int32), mask=rng.random(n) < 0.15).cast(pa.date32()),
        "vec": pa.FixedSizeListArray.from_arrays(pa.array(rng.normal(size=2 * n)), 2, mask=pa.array(skipped)),
        "nan": nan,
    })
    src = _split(table, tmp_path / "src")
    expected = _local(src, 10_000, repair=repair, nan="skip")
    synth = Synthesizer(FragmentSource(open_dataset(str(src)), table.column_names),
                        SynthesisOptions(seed=7, repair=repair, nan="skip"), notify=_quiet)
    synth.total_rows = 10_000
    got = [t for start, stop in ((0, 3000), (3000, 10_000)) for t, _ in synth.part(start, stop, 700)]
    assert pa.concat_tables(got).equals(expected)
    # NaN counts as null under --nan skip, in the share the blocks are held to.
    share = np.isnan(nan).mean()
    for lo, rows in ((0, 8192), (8192, 10_000 - 8192)):
        assert abs(expected["nan"].slice(lo, rows).null_count - rows * share) < 1


def _fit_table(name: str) -> pa.Table:
    """Sources whose fits take the rarer paths: one column (NumPy sums it pairwise), one-hot
    dummies (exclusive sets) beside float32 and int16 columns, and a tensor column."""
    rng = np.random.default_rng(0)
    n = 3000
    if name == "one-column":
        return pa.table({"x": rng.exponential(size=n)})
    if name == "one-hot":
        g = rng.integers(0, 3, n)
        dummies = {c: (g == i).astype(np.int64) for i, c in enumerate("abc")}
        return pa.table({**dummies, "flag": (rng.random(n) < 0.3).astype(np.int64),
                         "y": rng.normal(size=n).astype(np.float32), "z": rng.integers(0, 5, n).astype(np.int16),
                         "kind": pa.array(rng.choice(["p", "q", None], n).tolist())})
    return io.read_source(f"{ROOT}/sample_data/digits.npy").table


@pytest.mark.parametrize(
    "name", ["one-column", "one-hot", pytest.param("tensor", marks=pytest.mark.slow), "cars", "randhie"]
)
@pytest.mark.slow
@pytest.mark.parametrize("repair", ["marginals", "variance"])
def test_fits_made_column_by_column_equal_the_local_fits(tmp_path, name, repair):
    # The pilot is mixed from its gathered parents, each column fitted on its own, the
    # exclusive sets and the balanced states merged from per-file counts: the same fits
    # and the same rows as the local engine's fit on the whole encoded source.
    table = pq.read_table(f"{ROOT}/tests/data/{name}.parquet") if name in ("cars", "randhie") else _fit_table(name)
    src = _split(table, tmp_path / "src")
    local = Synthesizer(io.read_source(str(src)).table, SynthesisOptions(seed=7, repair=repair), notify=_quiet)
    synth = Synthesizer(
        FragmentSource(open_dataset(str(src)), table.column_names),
        SynthesisOptions(seed=7, repair=repair),
        notify=_quiet,
    )
    assert synth.provenance()["repair"] == local.provenance()["repair"]
    if repair == "variance":
        for field in ("scale", "center", "shift", "before", "after", "capped"):
            got, expected = getattr(synth.repair, field), getattr(local.repair, field)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected, err_msg=field)
    else:
        assert {j: m.form for j, m in synth.anchor.maps.items()} == {j: m.form for j, m in local.anchor.maps.items()}
        assert synth.anchor.check == local.anchor.check
        if local.balance is None:
            assert synth.balance is None
            assert synth.source.balance_plan is None
        else:
            # No state per source row on the client: each gathered row carries its own.
            every = synth.source.gather(synth, np.arange(synth.n))
            np.testing.assert_array_equal(every.states, local.whole.states)
            np.testing.assert_array_equal(synth.balance, local.balance)
    synth.total_rows = 2500
    got = [t for start, stop in ((0, 900), (900, 2500)) for t, _ in synth.part(start, stop, 400)]
    assert _rows(pa.concat_tables(got)) == _rows(_local(src, 2500, repair=repair))


def test_identifiers_are_judged_over_all_fragments(tmp_path):
    # Unique inside each file but repeated across files: not an identifier, as locally.
    codes = pa.array([f"k{i % 30}" for i in range(60)])
    table = pa.table({"code": codes, "key": pa.array(range(60)), "x": np.linspace(0, 1, 60)})
    src = tmp_path / "src"
    src.mkdir()
    pq.write_table(table.slice(0, 30), src / "a.parquet")
    pq.write_table(table.slice(30), src / "b.parquet")
    local = Synthesizer(io.read_source(str(src)).table, SynthesisOptions(seed=0), notify=_quiet)
    sharded = Synthesizer(
        FragmentSource(open_dataset(str(src)), table.column_names),
        SynthesisOptions(seed=0),
        notify=_quiet,
    )
    kinds = [(s.name, s.kind.value) for s in sharded.specs]
    assert kinds == [(s.name, s.kind.value) for s in local.specs]
    assert kinds == [("code", "string"), ("key", "id"), ("x", "float")]
    sharded.total_rows = 100
    assert _rows(sharded.block(0, 100)[0]) == _rows(pa.concat_tables(local.chunks(100)))


def test_nan_error_names_the_global_row(tmp_path):
    x = np.arange(40, dtype=float)
    x[33] = np.nan
    src = _split(pa.table({"x": x, "y": np.ones(40)}), tmp_path / "src")
    with pytest.raises(SchemaError) as local:
        Synthesizer(io.read_source(str(src)).table, notify=_quiet)
    with pytest.raises(SchemaError) as sharded:
        Synthesizer(FragmentSource(open_dataset(str(src)), ["x", "y"]), notify=_quiet)
    assert str(sharded.value) == str(local.value)
    assert "first at row 33" in str(sharded.value)


@pytest.mark.slow
def test_within_class_labels_match_local(tmp_path):
    table = pq.read_table(f"{ROOT}/tests/data/breast_cancer.parquet")
    src = _split(table, tmp_path / "src")
    opts = LabelOptions(mode="within-class", class_balance="uniform")
    expected = _local(src, 3000, target="benign", labels=opts)
    synth = Synthesizer(
        FragmentSource(open_dataset(str(src)), table.column_names),
        SynthesisOptions(seed=7, target="benign", labels=opts),
        notify=_quiet,
    )
    synth.total_rows = 3000
    assert _rows(synth.block(0, 3000)[0]) == _rows(expected)


def test_within_class_anchoring_on_a_few_gathered_rows_matches_local(tmp_path):
    # 150 rows gather only some of the 20 190 source rows: the view's groups must be
    # indexed like its gathered rows, not like the source.
    table = pq.read_table(f"{ROOT}/tests/data/randhie.parquet")
    src = _split(table, tmp_path / "src")
    opts = LabelOptions(mode="within-class")
    expected = _local(src, 150, target="hlthg", labels=opts)
    synth = Synthesizer(
        FragmentSource(open_dataset(str(src)), table.column_names),
        SynthesisOptions(seed=7, target="hlthg", labels=opts),
        notify=_quiet,
    )
    synth.total_rows = 150
    assert synth.anchor is not None
    # Grouped, with the groups' recipe rather than a group per source row (made on use).
    assert len(synth.anchor.by_group) == 2
    assert synth.anchor.row_group is None
    assert isinstance(synth.groups.order, GroupOrder)
    assert _rows(synth.block(0, 150)[0]) == _rows(expected)


def test_grouped_order_made_again_on_a_fresh_worker_is_the_local_one(tmp_path):
    # A worker that did not plan the groups makes their order from the recipe, a --within
    # plan nested in a target's classes loading the classes' order inside its own: the
    # same order as the local engine's, and so the same rows.
    table = pq.read_table(f"{ROOT}/sample_data/penguins.parquet")
    src = _split(table, tmp_path / "src")
    opts = LabelOptions(mode="within-class", class_balance="uniform", within=("island",))
    expected = _local(src, 2000, target="species", labels=opts)
    local = Synthesizer(io.read_source(str(src)).table, SynthesisOptions(seed=7, target="species", labels=opts),
                        notify=_quiet)
    synth = Synthesizer(
        FragmentSource(open_dataset(str(src)), table.column_names),
        SynthesisOptions(seed=7, target="species", labels=opts),
        notify=_quiet,
    )
    assert isinstance(synth.groups.order, GroupOrder)
    fragment_groups._ORDERS.clear()  # as on a worker that has not seen this run
    assert np.array_equal(synth.groups.members(), local.groups.members())
    fragment_groups._ORDERS.clear()
    synth.total_rows = 2000
    assert _rows(synth.block(0, 2000)[0]) == _rows(expected)


def test_soft_labels_are_refused(cars_dir):
    with pytest.raises(UsageError, match="not available with --engine dask"):
        Synthesizer(
            FragmentSource(open_dataset(str(cars_dir)), ["Origin", "Weight_in_lbs"]),
            SynthesisOptions(target="Origin", labels=LabelOptions(mode="soft")),
            notify=_quiet,
        )


def test_moments_merge_like_one_pass():
    rng = np.random.default_rng(3)
    X = rng.normal(1e6, 2.0, size=(500, 3))
    X[rng.random((500, 3)) < 0.1] = np.nan
    table = pa.table({f"c{i}": X[:, i] for i in range(3)})
    matrix = NumericMatrix.for_schema(table.schema)
    shift = np.nanmean(X[:50], axis=0)
    whole = batch_moments(table.to_batches(max_chunksize=500), matrix, shift)
    parts = [
        batch_moments(table.slice(lo, 125).to_batches(), matrix, shift) for lo in range(0, 500, 125)
    ]
    merged = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    np.testing.assert_allclose(merged.cov(), whole.cov())
    np.testing.assert_allclose(merged.var(), np.nanvar(X, axis=0, ddof=1), rtol=1e-9)
    np.testing.assert_allclose(merged.mean(), np.nanmean(X, axis=0))
    np.testing.assert_allclose(merged.sum, np.nansum(X, axis=0))
    assert merged.rows == 500


# -- on a LocalCluster ----------------------------------------------------------------------


def test_grids_merged_over_files_give_the_local_rows(tmp_path):
    # Each file alone has a coarser grid than the whole column (file 0: incomes 6000
    # apart, file 1: 4000 apart; January dates in one file, July in the next), so only
    # the merged facts give the local engine's grids; the last file's month column is null.
    import datetime as dt

    rng = np.random.default_rng(3)
    n = 900
    income = np.concatenate([6000 * rng.integers(0, 30, 300), 1000 + 4000 * rng.integers(0, 40, 300),
                             1000 * rng.integers(0, 200, 300)])
    month = [dt.date(int(y), 1 if i < 300 else 7, 1) for i, y in enumerate(rng.integers(1960, 2020, n))]
    table = pa.table({
        "income": pa.array(income, pa.int64()),
        "month": pa.array([m if i < 600 else None for i, m in enumerate(month)], pa.date32()),
        "second": pa.array((1_600_000_000 + rng.integers(0, 10**6, n)) * 10**9, pa.int64())
        .cast(pa.timestamp("ns", tz="UTC")),
        "x": rng.normal(size=n),
    })
    src = _split(table, tmp_path / "src", cuts=(1 / 3, 2 / 3))
    expected = _local(src, 2000)
    source = FragmentSource(open_dataset(str(src)), open_dataset(str(src)).schema.names)
    synth = Synthesizer(source, SynthesisOptions(seed=7), notify=_quiet)
    assert {k: (g.step, g.months) for k, g in source.grids.items() if g} == {
        "income": (1000, None), "month": (6, "day"), "second": (10**9, None)}
    synth.total_rows = 2000
    got = [t for start, stop in ((0, 700), (700, 2000)) for t, _ in synth.part(start, stop, 300)]
    assert _rows(pa.concat_tables(got)) == _rows(expected)
    local = Synthesizer(io.read_source(str(src)).table, SynthesisOptions(seed=7), notify=_quiet)
    assert [f.grid for f in synth.enc.features] == [f.grid for f in local.enc.features]
    assert synth.provenance()["bounds"] == local.provenance()["bounds"]


@pytest.mark.slow
def test_dask_output_equals_local_engine(client, cars_dir, tmp_path):
    from mixsynth.engines.dask import generate_dataset

    out = tmp_path / "out"
    result = generate_dataset(
        str(cars_dir),
        str(out),
        GenerateOptions(
            rows=5000,
            synthesis=SynthesisOptions(seed=7),
            execution=ExecutionOptions(chunk_rows=600, engine="dask"),
        ),
        partition_rows=1500,
        client=client,
        notify=_quiet,
    )
    files = sorted(out.glob("part-*.parquet"))
    assert [Path(f).name for f in result.files] == [f.name for f in files]
    assert [pq.ParquetFile(f).metadata.num_rows for f in files] == [1500, 1500, 1500, 500]
    got = ds.dataset(out).to_table()
    expected = _local(cars_dir, 5000)
    assert _rows(got) == _rows(expected)
    assert got.schema.equals(expected.schema, check_metadata=False)
    record = io.read_source(str(files[1])).provenance
    assert (record["seed"], record["rows"]) == (7, 5000)
    assert record["engine"] == {"name": "dask", "start": 1500, "stop": 3000}
    local = Synthesizer(io.read_source(str(cars_dir)).table, SynthesisOptions(seed=7), notify=_quiet)
    list(local.chunks(5000))
    assert result.adjusted == local.adjustments()


@pytest.mark.slow
def test_dask_fits_on_the_workers_equal_the_local_fits(client, tmp_path):
    from mixsynth.engines.dask import generate_dataset

    src = _split(_fit_table("one-hot"), tmp_path / "src")
    for repair in ("marginals", "variance"):
        out = tmp_path / f"out-{repair}"
        generate_dataset(
            str(src),
            str(out),
            GenerateOptions(
                rows=3000,
                synthesis=SynthesisOptions(seed=7, repair=repair),
                execution=ExecutionOptions(chunk_rows=500, engine="dask"),
            ),
            partition_rows=1000,
            client=client,
            notify=_quiet,
        )
        assert _rows(ds.dataset(out).to_table()) == _rows(_local(src, 3000, repair=repair)), repair


@pytest.mark.slow
def test_dask_compression_and_row_groups(client, cars_dir, tmp_path):
    from mixsynth.engines.dask import generate_dataset

    out = tmp_path / "out"
    generate_dataset(
        str(cars_dir),
        str(out),
        GenerateOptions(
            rows=3000,
            synthesis=SynthesisOptions(seed=7),
            execution=ExecutionOptions(chunk_rows=400, compression="snappy", engine="dask"),
        ),
        partition_rows=1500,
        client=client,
        notify=_quiet,
    )
    files = sorted(out.glob("part-*.parquet"))
    metas = [pq.ParquetFile(f).metadata for f in files]
    assert [m.num_row_groups for m in metas] == [4, 4]
    assert {m.row_group(g).column(c).compression for m in metas
            for g in range(m.num_row_groups) for c in range(m.num_columns)} == {"SNAPPY"}
    assert _rows(ds.dataset(out).to_table()) == _rows(_local(cars_dir, 3000))
    with pytest.raises(UsageError, match="unknown --compression 'gzip'"):
        generate_dataset(
            str(cars_dir),
            str(tmp_path / "o2"),
            GenerateOptions(rows=10, execution=ExecutionOptions(compression="gzip", engine="dask")),
            client=client,
            notify=_quiet,
        )


@pytest.mark.slow
def test_dataset_is_committed_with_a_success_marker(client, cars_dir, tmp_path):
    from mixsynth.engines.dask import generate_dataset

    fsspec = pytest.importorskip("fsspec")
    mem = fsspec.filesystem("memory")
    try:
        generate_dataset(
            str(cars_dir),
            "memory://committed",
            GenerateOptions(rows=3000, synthesis=SynthesisOptions(seed=7), execution=ExecutionOptions(engine="dask")),
            partition_rows=1000,
            client=client,
            notify=_quiet,
        )
        names = sorted(p.rsplit("/", 1)[1] for p in mem.ls("/committed", detail=False))
        got = pa.concat_tables(pq.read_table(mem.open(f"/committed/part-{i:05d}.parquet")) for i in range(3))
    finally:
        mem.rm("/committed", recursive=True)
    assert names == ["_SUCCESS", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert _rows(got) == _rows(_local(cars_dir, 3000))
    generate_dataset(
        str(cars_dir),
        str(tmp_path / "local"),
        GenerateOptions(rows=100, synthesis=SynthesisOptions(seed=7), execution=ExecutionOptions(engine="dask")),
        client=client,
        notify=_quiet,
    )
    assert sorted(p.name for p in (tmp_path / "local").iterdir()) == ["_SUCCESS", "part-00000.parquet"]
    # Readers skip the marker: the directory reads as its rows.
    assert ds.dataset(tmp_path / "local").to_table().num_rows == 100


@pytest.mark.slow
@pytest.mark.parametrize("where", ["memory", "local"])
def test_a_failed_dataset_write_leaves_nothing(client, cars_dir, tmp_path, monkeypatch, where):
    from mixsynth.engines import dask as dask_engine

    fsspec = pytest.importorskip("fsspec")
    write_part = dask_engine._write_part

    def fails_on_the_second_file(span, *args, **kwargs):
        if span[0] > 0:
            msg = f"disk gone while writing {span[2]}"
            raise OSError(msg)
        return write_part(span, *args, **kwargs)

    # The fault is injected; the clean-up that follows is the engine's own.
    monkeypatch.setattr(dask_engine, "_write_part", fails_on_the_second_file)
    out = "memory://failed" if where == "memory" else str(tmp_path / "failed")
    with pytest.raises(OSError, match="disk gone"):
        dask_engine.generate_dataset(
            str(cars_dir),
            out,
            GenerateOptions(rows=3000, synthesis=SynthesisOptions(seed=7), execution=ExecutionOptions(engine="dask")),
            partition_rows=1000,
            client=client,
            notify=_quiet,
        )
    if where == "memory":
        assert not fsspec.filesystem("memory").exists("/failed")
    else:
        assert list(tmp_path.iterdir()) == []


def test_parents_are_uniform_over_all_partitions(client, tmp_path):
    # Each file holds one constant label, so a row's label tells which file its parent is in.
    src = tmp_path / "src"
    src.mkdir()
    sizes = [100, 300, 600]
    for i, size in enumerate(sizes):
        pq.write_table(
            pa.table({"file": pa.array([f"f{i}"] * size), "x": np.arange(size, dtype=float)}),
            src / f"part-{i}.parquet",
        )
    from mixsynth.engines.dask import generate_dataset

    generate_dataset(
        str(src),
        str(tmp_path / "out"),
        GenerateOptions(rows=20_000, synthesis=SynthesisOptions(seed=1), execution=ExecutionOptions(engine="dask")),
        partition_rows=4096,
        client=client,
        notify=_quiet,
    )
    labels = (
        ds.dataset(tmp_path / "out")
        .to_table(columns=["file"])
        .column("file")
        .to_numpy(zero_copy_only=False)
    )
    share = np.array([(labels == f"f{i}").mean() for i in range(3)])
    np.testing.assert_allclose(share, np.array(sizes) / sum(sizes), atol=0.015)


@pytest.mark.slow
def test_hive_partitions_and_memory_urls(client, tmp_path):
    from mixsynth.engines.dask import generate_dataset

    fsspec = pytest.importorskip("fsspec")
    table = pq.read_table(f"{ROOT}/tests/data/seattle_weather.parquet")
    local_dir = tmp_path / "hive"
    pq.write_to_dataset(
        table.append_column("year", pa.compute.year(table["date"])),
        local_dir,
        partition_cols=["year"],
    )
    mem = fsspec.filesystem("memory")
    for f in sorted(local_dir.rglob("*.parquet")):
        mem.pipe(f"/hive/{f.relative_to(local_dir)}", f.read_bytes())
    try:
        generate_dataset(
            "memory://hive",
            "memory://out",
            GenerateOptions(rows=3000, synthesis=SynthesisOptions(seed=2), execution=ExecutionOptions(engine="dask")),
            partition_rows=1000,
            client=client,
            notify=_quiet,
        )
        got = pa.concat_tables(
            pq.read_table(mem.open(f"/out/part-{i:05d}.parquet")) for i in range(3)
        )
    finally:
        mem.rm("/hive", recursive=True)
        mem.rm("/out", recursive=True)
    expected = _local(local_dir, 3000, seed=2)
    assert "year" in got.column_names
    assert _rows(got) == _rows(expected)


def test_output_refusals(client, cars_dir, tmp_path):
    from mixsynth.engines.dask import generate_dataset

    with pytest.raises(UsageError, match="writes a directory"):
        generate_dataset(
            str(cars_dir),
            "-",
            GenerateOptions(rows=10, execution=ExecutionOptions(engine="dask")),
            client=client,
        )
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(UsageError, match="already exists"):
        generate_dataset(
            str(cars_dir),
            str(tmp_path / "taken"),
            GenerateOptions(rows=10, execution=ExecutionOptions(engine="dask")),
            client=client,
            notify=_quiet,
        )
    with pytest.raises(UsageError, match="overwrite the source"):
        generate_dataset(
            str(cars_dir),
            str(cars_dir / "out"),
            GenerateOptions(rows=10, execution=ExecutionOptions(engine="dask")),
            client=client,
            notify=_quiet,
        )
    assert not list(tmp_path.glob(".*.tmp"))


def test_missing_dask_is_backend_unavailable(monkeypatch, cars_dir, tmp_path):
    from mixsynth.engines.dask import generate_dataset

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(
        BackendUnavailable, match=r"dask is not installed; pip install -e '\.\[dask\]'"
    ) as exc:
        generate_dataset(
            str(cars_dir),
            str(tmp_path / "out"),
            GenerateOptions(execution=ExecutionOptions(engine="dask")),
        )
    assert exc.value.exit_code == 3


def test_plan_travels_by_pickle(cars_dir):
    # Workers in other processes get the plan by pickling: no module, lock or device copy.
    import pickle

    synth = Synthesizer(
        FragmentSource(open_dataset(str(cars_dir)), ["Miles_per_Gallon", "Origin", "Year"]),
        SynthesisOptions(seed=4),
        notify=_quiet,
    )
    copy = pickle.loads(pickle.dumps(synth))
    assert copy.notify is None
    assert copy.backend.name == "numpy"
    assert _rows(copy.block(100, 900)[0]) == _rows(synth.block(100, 900)[0])


def test_cli_engine_dask(client, cars_dir, tmp_path, runner):
    from mixsynth.cli import app

    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "generate",
            str(cars_dir),
            "--engine",
            "dask",
            "-n",
            "2500",
            "-o",
            str(out),
            "--seed",
            "7",
            "--bounds",
            "reflect",
            "--repair",  # without anchoring, so that the bounds have values to move
            "none",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "bounds adjusted values:" in result.stderr
    expected = _local(cars_dir, 2500, bounds="reflect", repair="none")
    assert _rows(ds.dataset(out).to_table()) == _rows(expected)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["-o", "-"],
            2,
            "Error: --engine dask writes a directory of Parquet files; give -o DIR, not -\n",
        ),
        (
            ["-o", "{tmp}/x", "--dry-run"],
            2,
            "Error: --dry-run is not available with --engine dask\n",
        ),
        (
            ["-o", "{tmp}/x", "--label-mode", "soft", "--target", "Origin"],
            2,
            "Error: --label-mode soft fits a model on the whole source and is not available with "
            "--engine dask; use dominant, within-class, mix or within-bin\n",
        ),
    ],
)
def test_cli_engine_dask_refusals(client, cars_dir, tmp_path, runner, args, code, message):
    from mixsynth.cli import app

    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = runner.invoke(app, ["generate", str(cars_dir), "--engine", "dask", *args])
    assert (result.exit_code, result.stderr) == (code, message)
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_cli_engine_dask_on_worker_processes(cars_dir, tmp_path):
    # The real thing: the installed command starts a LocalCluster of worker processes.
    import subprocess

    out = tmp_path / "out"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mixsynth",
            "generate",
            str(cars_dir),
            "--engine",
            "dask",
            "-n",
            "3000",
            "-o",
            str(out),
            "--seed",
            "7",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert done.returncode == 0, done.stderr
    assert _rows(ds.dataset(out).to_table()) == _rows(_local(cars_dir, 3000))
    # The cluster's spill space (dask-scratch-space) went to a temporary directory, now gone.
    assert list(scratch.iterdir()) == []
