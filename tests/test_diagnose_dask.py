"""``diagnose --engine dask`` on a real LocalCluster gives the single-machine engine's report."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth import generate
from mixsynth.diagnose import DiagnoseReport, diagnose_paths
from mixsynth.errors import BackendUnavailable, UsageError

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
# One table from sample_data/ (dictionary columns, nulls), one from tests/data/ (a string
# column with many categories, a timestamp, nulls in two numeric columns).
TABLES = {"penguins": ROOT / "sample_data/penguins.parquet", "cars": ROOT / "tests/data/cars.parquet"}
# Values that come from counts, ranges or the sampled rows alone: equal to the last bit.
EXACT = {
    "min_real", "max_real", "min_synth", "max_synth", "null_rate_real", "null_rate_synth",
    "null_rate_diff", "below_range_fraction", "above_range_fraction", "out_of_range_fraction",
    "ks", "tv", "distinct_real", "distinct_synth", "distinct_ratio", "categories_real",
    "categories_synth", "missing_count", "new_count", "nonfinite_synth", "quantiles.real",
    "quantiles.synth",
}


def _write(table: pa.Table, path: Path, cuts: tuple[float, float]) -> Path:
    """Three Parquet files of unequal size, several row groups each."""
    path.mkdir(parents=True)
    n = table.num_rows
    edges = [0, int(cuts[0] * n), int(cuts[1] * n), n]
    for i, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False)):
        pq.write_table(table.slice(lo, hi - lo), path / f"part-{i}.parquet", row_group_size=40)
    return path


@pytest.fixture
def client(dask_client):
    """The session's shared 2-worker LocalCluster (tests/conftest.py)."""
    return dask_client


@pytest.fixture(scope="module", params=sorted(TABLES))
def dataset(request, tmp_path_factory) -> dict[str, str]:
    """REAL (3 files), SYNTH generated from it (3 files) and a one-file HOLDOUT."""
    root = tmp_path_factory.mktemp(request.param)
    table = pq.read_table(TABLES[request.param])
    train = table.slice(0, int(0.75 * table.num_rows))
    holdout = root / "holdout.parquet"
    pq.write_table(table.slice(train.num_rows), holdout, row_group_size=30)
    synth = generate(train, 900, seed=5, within="none").replace_schema_metadata(None)
    return {
        "real": str(_write(train, root / "real", (0.2, 0.7))),
        "synth": str(_write(synth, root / "synth", (0.5, 0.6))),
        "holdout": str(holdout),
    }


def _same(dask: Any, local: Any, where: str = "") -> None:
    """Equal, floats within rtol 1e-9 unless their key says they come from counts/samples."""
    names = [part.split("[")[0] for part in where.split(".")]
    exact = names[-1] in EXACT or ".".join(names[-2:]) in EXACT
    if isinstance(local, dict):
        assert dask.keys() == local.keys(), where
        for k in local:
            _same(dask[k], local[k], f"{where}.{k}")
    elif isinstance(local, list):
        assert len(dask) == len(local), where
        for i, (a, b) in enumerate(zip(dask, local, strict=True)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(local, float) and not exact and not math.isnan(local):
        assert np.isclose(dask, local, rtol=1e-9, atol=1e-12), (where, dask, local)
    else:
        assert dask == local or (dask != dask and local != local), (where, dask, local)


def _reports(paths: dict[str, str], client: Any, **kw: Any) -> tuple[DiagnoseReport, DiagnoseReport]:
    args = (paths["real"], paths["synth"])
    kw = {"holdout": paths["holdout"], "sample": 150, "seed": 3, **kw}
    return diagnose_paths(*args, engine="dask", scheduler=client, **kw), diagnose_paths(*args, **kw)


def test_dask_report_equals_the_local_engine(client, dataset):
    dask, local = _reports(dataset, client)
    assert (dask.meta["engine"], local.meta["engine"]) == ("dask", "local")
    assert local.meta["sample"]["sampled"]  # the seeded sample is drawn, not every row
    assert local.meta["rows"] == dask.meta["rows"]
    _same(dask.summary, local.summary, "summary")
    _same(dask.columns, local.columns, "columns")
    _same(dask.pairs, local.pairs, "pairs")
    _same(dask.privacy, local.privacy, "privacy")
    _same({**dask.meta, "engine": "local"}, local.meta, "meta")
    categorical = [e for e in local.columns if e["group"] == "categorical"]
    assert categorical
    assert all(e["categories_real"] for e in categorical)  # counts came from the reduction


def _keys_table(n: int) -> pa.Table:
    """Key-like columns that the identifier rule tells apart only over every file."""
    rng = np.random.default_rng(11)
    repeated = np.arange(n) % (n // 2)  # unique inside each half, repeated across the halves
    with_null = pa.array([f"k{i}" for i in range(n)], mask=np.arange(n) == n - 1)
    return pa.table({
        "user_id": pa.array([f"u{i:05d}" for i in rng.permutation(n)]),  # an identifier
        "code": pa.array([f"c{i}" for i in repeated]),  # not one: repeats across files
        "serial": pa.array(rng.permutation(n) + 1000),  # consecutive integers: an identifier
        "count_key": pa.array(repeated),  # named like a key, but repeated: not one
        "gappy": pa.array(rng.permutation(n) * 2),  # unique, not consecutive: not one
        "late_null": with_null,  # unique strings and a null in the last file: not one
        "x": rng.normal(size=n),
    })


def test_identifier_check_is_merged_on_the_cluster(client, tmp_path, monkeypatch):
    n = 400
    table = _keys_table(n)
    real = tmp_path / "real"
    real.mkdir()
    for i, (lo, hi) in enumerate(((0, 150), (150, 200), (200, n))):
        pq.write_table(table.slice(lo, hi - lo), real / f"part-{i}.parquet", row_group_size=60)
    synth = tmp_path / "synth.parquet"
    pq.write_table(table, synth)
    local = diagnose_paths(str(real), str(synth), sample=100)
    skipped = {name: why for name, why in (tuple(s.values()) for s in local.meta["skipped"])}
    assert skipped == {name: "identifier-like (all values unique)" for name in ("user_id", "serial")}

    # The Dask engine never reads a whole column on the client.
    from mixsynth.diagnose.inputs import Input

    def whole_column(self, name):
        msg = f"column {name!r} read whole on the client"
        raise AssertionError(msg)

    monkeypatch.setattr(Input, "column", whole_column)
    dask = diagnose_paths(str(real), str(synth), sample=100, engine="dask", scheduler=client)
    assert dask.meta["skipped"] == local.meta["skipped"]
    _same(dask.columns, local.columns, "columns")


def test_key_scans_merge_like_the_whole_column(tmp_path):
    from mixsynth.engines.survey import fragment_facts, id_like_over
    from mixsynth.io.dataset import local_reduce, open_dataset
    from mixsynth.schema import Kind, id_like

    rng = np.random.default_rng(5)
    seen = set()
    for case in range(40):
        n = int(rng.integers(2, 60))
        values = [  # consecutive, unique with gaps, or repeated
            rng.permutation(n), rng.choice(2 * n, size=n, replace=False), rng.integers(0, n // 2 + 1, size=n),
        ][case % 3] + int(rng.integers(-5, 5))
        ints = pa.array(values, mask=(rng.random(n) < 0.02) if case % 7 == 0 else None)
        table = pa.table({"k": ints, "key": ints, "s": pa.array([f"v{v}" for v in values])})
        src = tmp_path / f"c{case}"
        src.mkdir()
        cuts = sorted(rng.integers(0, n + 1, size=int(rng.integers(0, 4))).tolist())
        for i, (lo, hi) in enumerate(zip([0, *cuts], [*cuts, n], strict=True)):
            pq.write_table(table.slice(lo, hi - lo), src / f"p{i}.parquet")
        dataset = open_dataset(str(src))
        for name, kind in (("k", Kind.INTEGER), ("key", Kind.INTEGER), ("s", Kind.STRING)):
            facts = [fragment_facts(f, dataset.schema, {name: kind}) for f in dataset.fragments]
            got = id_like_over(name, kind, dataset.schema, dataset.fragments, facts, local_reduce)
            assert got == id_like(name, kind, table.column(name)), (case, name)
            seen.add((got, len(dataset.fragments) > 1))
    assert seen == {(True, True), (False, True), (True, False), (False, False)}


@pytest.mark.slow
def test_fsspec_urls_on_the_cluster(client, dataset):
    fsspec = pytest.importorskip("fsspec")
    mem = fsspec.filesystem("memory")
    urls = {}
    for side, path in dataset.items():
        files = sorted(Path(path).glob("*.parquet")) if Path(path).is_dir() else [Path(path)]
        for f in files:
            mem.pipe(f"/diag/{side}/{f.name}", f.read_bytes())
        urls[side] = f"memory://diag/{side}" + ("" if Path(path).is_dir() else f"/{files[0].name}")
    try:
        remote = diagnose_paths(urls["real"], urls["synth"], holdout=urls["holdout"], sample=150,
                                seed=3, engine="dask", scheduler=client)
    finally:
        mem.rm("/diag", recursive=True)
    dask, _ = _reports(dataset, client)
    _same(remote.summary, dask.summary, "summary")
    _same(remote.columns, dask.columns, "columns")


@pytest.mark.slow
def test_cli_engine_dask(client, dataset, runner):
    from mixsynth.cli import app

    args = ["diagnose", dataset["real"], dataset["synth"], "--sample", "150", "--seed", "3", "--json"]
    result = runner.invoke(app, [*args, "--engine", "dask", "--scheduler", client.scheduler.address])
    local = runner.invoke(app, args)
    assert (result.exit_code, local.exit_code) == (0, 0), result.stderr
    assert result.stderr == local.stderr  # the same notes
    got, expected = json.loads(result.stdout), json.loads(local.stdout)
    assert (got["meta"]["engine"], expected["meta"]["engine"]) == ("dask", "local")
    _same(got["summary"], expected["summary"], "summary")
    _same(got["columns"], expected["columns"], "columns")


@pytest.mark.parametrize(
    ("real", "message"),
    [
        ("-", "Error: --engine dask reads Parquet files or datasets (path or URL), not - (stdin)\n"),
        ("{tmp}/x.npy", "Error: --engine dask reads Parquet files or datasets (path or URL), not "
                        "the .npy array '{tmp}/x.npy'; use --engine local\n"),
    ],
    ids=["stdin", "npy"],
)
def test_cli_refuses_stdin_and_npy(tmp_path, runner, real, message):
    from mixsynth.cli import app

    np.save(tmp_path / "x.npy", np.ones((3, 2)))
    pq.write_table(pa.table({"x": [1.0, 2.0]}), tmp_path / "s.parquet")
    real = real.replace("{tmp}", str(tmp_path))
    result = runner.invoke(
        app, ["diagnose", real, str(tmp_path / "s.parquet"), "--engine", "dask"], input=b"x"
    )
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message.replace("{tmp}", str(tmp_path)))


def test_missing_dask_is_backend_unavailable(monkeypatch, tmp_path, runner):
    from mixsynth.cli import app

    pq.write_table(pa.table({"x": [1.0, 2.0]}), tmp_path / "r.parquet")
    monkeypatch.setitem(sys.modules, "distributed", None)
    path = str(tmp_path / "r.parquet")
    with pytest.raises(BackendUnavailable):
        diagnose_paths(path, path, engine="dask")
    result = runner.invoke(app, ["diagnose", path, path, "--engine", "dask"])
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == "Error: dask is not installed; pip install -e '.[dask]'\n"


def test_unknown_engine_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="engine must be one of local, dask; got 'spark'"):
        diagnose_paths("a.parquet", "b.parquet", engine="spark")


@pytest.mark.slow
def test_cli_engine_dask_on_worker_processes(dataset):
    # Scans, layouts and fragments travel by pickle to workers in other processes.
    import subprocess

    args = [sys.executable, "-m", "mixsynth", "diagnose", dataset["real"], dataset["synth"],
            "--sample", "150", "--json"]
    done = subprocess.run([*args, "--engine", "dask"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    local = diagnose_paths(dataset["real"], dataset["synth"], sample=150).to_dict()
    got = json.loads(done.stdout)
    assert got["meta"]["engine"] == "dask"
    _same(got["columns"], local["columns"], "columns")
