"""Sources other than Parquet: CSV/TSV, Arrow IPC/Feather and JSON Lines by extension,
stdin told by its first bytes, and Arrow PyCapsule streams in the Python API."""

from __future__ import annotations

import datetime as dt
import gzip
import io as pyio
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from mixsynth import generate, io
from mixsynth.cli import app
from mixsynth.diagnose import diagnose
from mixsynth.errors import MixsynthError, UsageError

# A null and an empty string in the text column: CSV must keep them apart.
TABLE = pa.table({
    "x": pa.array([1.5, 2.5, None, -4.0]),
    "n": pa.array([1, 2, 3, None], pa.int64()),
    "s": pa.array(["a", None, "", "b"]),
    "b": pa.array([True, False, None, True]),
    "d": pa.array([dt.date(2020, 1, 1), dt.date(2021, 5, 6), None, dt.date(1999, 12, 31)]),
})

# What the text formats cannot carry: a dictionary, a time zone, a narrow integer.
RICH = pa.table({
    "k": pa.array(["a", "b", "a"]).dictionary_encode(),
    "t": pa.array([dt.datetime(2020, 1, 1, 12), None, dt.datetime(2021, 6, 1)], pa.timestamp("s", tz="Europe/Paris")),
    "i": pa.array([1, 2, 3], pa.int16()),
})

JSONL = (
    b'{"x": 1.5, "n": 1, "s": "a", "b": true, "d": "2020-01-01"}\n'
    b'{"x": 2.5, "n": 2, "s": null, "b": false, "d": "2021-05-06"}\n'
    b'{"x": null, "n": 3, "s": "", "b": null, "d": null}\n'
    b'{"x": -4.0, "n": null, "s": "b", "b": true, "d": "1999-12-31"}\n'
)


def _csv(table: pa.Table, delimiter: str = ",") -> bytes:
    sink = pyio.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(delimiter=delimiter))
    return sink.getvalue()


def _ipc_file(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _ipc_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


# JSON Lines has no date type: pyarrow reads ISO dates as timestamp[s].
AS_JSON = TABLE.set_column(4, "d", TABLE.column("d").cast(pa.timestamp("s")))


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("t.csv", lambda p: _csv(TABLE), TABLE),
        ("t.CSV", lambda p: _csv(TABLE), TABLE),
        ("t.tsv", lambda p: _csv(TABLE, "\t"), TABLE),
        ("t.csv.gz", lambda p: gzip.compress(_csv(TABLE)), TABLE),
        ("t.arrow", lambda p: _ipc_file(TABLE), TABLE),
        ("t.feather", lambda p: _ipc_file(TABLE), TABLE),
        ("t.ipc", lambda p: _ipc_stream(TABLE), TABLE),
        ("t.arrows", lambda p: _ipc_stream(TABLE), TABLE),
        ("t.jsonl", lambda p: JSONL, AS_JSON),
        ("t.ndjson", lambda p: JSONL, AS_JSON),
        ("t.jsonl.gz", lambda p: gzip.compress(JSONL), AS_JSON),
    ],
)
def test_each_format_reads_back_the_literal_table(tmp_path: Path, name, content, expected) -> None:
    path = tmp_path / name
    path.write_bytes(content(tmp_path))
    src = io.read_source(str(path))
    assert src.table.schema == expected.schema
    assert src.table.to_pylist() == expected.to_pylist()
    assert src.name == str(path)


def test_feather_keeps_every_type_and_text_formats_infer_them(tmp_path: Path) -> None:
    feather.write_feather(RICH, str(tmp_path / "r.feather"))
    assert io.read_source(str(tmp_path / "r.feather")).table.equals(RICH)
    (tmp_path / "r.csv").write_bytes(_csv(RICH))
    got = io.read_source(str(tmp_path / "r.csv")).table
    # Dictionary -> string, the zone -> UTC (same instants), int16 -> int64.
    assert got.schema == pa.schema([("k", pa.string()), ("t", pa.timestamp("s", tz="UTC")), ("i", pa.int64())])
    assert got.column("k").to_pylist() == ["a", "b", "a"]
    assert got.column("t").cast(pa.int64()).equals(RICH.column("t").cast(pa.int64()))
    assert got.column("i").to_pylist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (lambda: _parquet(TABLE), TABLE),
        (lambda: _ipc_file(TABLE), TABLE),
        (lambda: _ipc_stream(TABLE), TABLE),
        (lambda: _csv(TABLE), TABLE),
        (lambda: _csv(TABLE, "\t"), TABLE),
        (lambda: JSONL, AS_JSON),
    ],
    ids=["parquet", "ipc-file", "ipc-stream", "csv", "tsv", "jsonl"],
)
def test_stdin_is_told_by_its_first_bytes(content, expected) -> None:
    src = io.read_source("-", stdin=pyio.BytesIO(content()))
    assert src.name == "<stdin>"
    assert src.table.schema == expected.schema
    assert src.table.to_pylist() == expected.to_pylist()


def test_column_selection_applies_to_every_format(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes(_csv(TABLE))
    src = io.read_source(str(tmp_path / "t.csv"), lambda names: ["n", "x"])
    assert src.table.equals(TABLE.select(["n", "x"]))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.csv", b"a,b\n1,2\n3\n", "cannot read '{path}' as CSV: CSV parse error: Expected 2 columns, got 1: 3"),
        ("bad.jsonl", b'{"a": 1}\nnot json\n', "cannot read '{path}' as JSON Lines: JSON parse error: Invalid value."),
        ("bad.arrow", b"ARROW1 but nothing after", "cannot read '{path}' as Arrow IPC: "),
        ("dup.csv", b"a,a\n1,2\n", "'{path}' has 2 columns named 'a'; expected unique column names"),
    ],
)
def test_unreadable_files_name_their_format(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(MixsynthError) as info:
        io.read_source(str(path))
    assert str(info.value).startswith(message.format(path=path)), str(info.value)


def test_an_unknown_extension_says_what_was_expected(runner, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(_csv(TABLE))
    result = runner.invoke(app, ["generate", str(path), "-o", str(tmp_path / "out.parquet")])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: cannot read '{path}' as Parquet: Parquet magic bytes not found in footer. Either the file is "
        "corrupted or this is not a parquet file; expected Parquet (a file or a directory of files), or by "
        "extension CSV/TSV (.csv, .tsv, .csv.gz), Arrow IPC/Feather (.arrow, .feather, .ipc), JSON Lines "
        "(.jsonl, .ndjson) or .npy\n"
    )
    assert not (tmp_path / "out.parquet").exists()


# --- through the commands -----------------------------------------------------------------

NUMBERS = pa.table({
    "x": np.random.default_rng(0).normal(size=60),
    "y": np.random.default_rng(1).integers(0, 50, size=60),
    "g": pa.array(["p", "q", "r"] * 20),
})


def _write_all(tmp_path: Path) -> dict[str, Path]:
    paths = {fmt: tmp_path / f"real.{fmt}" for fmt in ("parquet", "csv", "feather", "jsonl")}
    pq.write_table(NUMBERS, paths["parquet"])
    paths["csv"].write_bytes(_csv(NUMBERS))
    feather.write_feather(NUMBERS, str(paths["feather"]))
    paths["jsonl"].write_text("".join(json.dumps(row) + "\n" for row in NUMBERS.to_pylist()))
    return paths


@pytest.mark.parametrize("fmt", ["csv", "feather", "jsonl"])
def test_generate_from_each_format_matches_parquet(runner, tmp_path: Path, fmt: str) -> None:
    paths = _write_all(tmp_path)
    assert io.read_source(str(paths[fmt])).table.equals(NUMBERS)  # the same table, so ...
    outs = {}
    for kind in ("parquet", fmt):
        out = tmp_path / f"out-{kind}.parquet"
        result = runner.invoke(app, ["generate", str(paths[kind]), "-n", "40", "--seed", "5", "-o", str(out), "-q"])
        assert result.exit_code == 0, result.stderr
        outs[kind] = pq.read_table(out)
    assert outs[fmt].equals(outs["parquet"])  # ... the same rows


def test_generate_reads_csv_on_stdin(runner, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", "-", "-n", "40", "--seed", "5", "-o", str(out), "-q"],
                           input=_csv(NUMBERS))
    assert result.exit_code == 0, result.stderr
    expected = generate(NUMBERS, 40, seed=5)
    assert pq.read_table(out).to_pylist() == expected.to_pylist()


def test_diagnose_compares_across_formats(runner, tmp_path: Path) -> None:
    paths = _write_all(tmp_path)
    result = runner.invoke(app, ["diagnose", str(paths["csv"]), str(paths["jsonl"]), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary["variance_ratio_median"] == 1.0
    assert summary["ks_max"] == 0.0
    result = runner.invoke(app, ["diagnose", str(paths["parquet"]), "-", "--format", "json"],
                           input=_ipc_stream(NUMBERS))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["ks_max"] == 0.0


def test_collapse_study_reads_feather(runner, tmp_path: Path) -> None:
    paths = _write_all(tmp_path)
    args = ["-k", "1", "--no-baseline", "-w", "uniform", "--format", "ndjson", "--sample", "50", "-q"]
    records = {}
    for kind in ("parquet", "feather"):
        result = runner.invoke(app, ["collapse-study", str(paths[kind]), *args])
        assert result.exit_code == 0, result.stderr
        records[kind] = [json.loads(line) for line in result.stdout.splitlines()]
    assert records["feather"] == records["parquet"]
    assert len(records["feather"]) == 2  # rounds 0 and 1 of the one law


# --- Arrow PyCapsule streams in the Python API ----------------------------------------------


class _Stream:
    """Only the Arrow PyCapsule stream interface, as polars or DuckDB expose it."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def __arrow_c_stream__(self, requested_schema=None):
        return self._frame.__arrow_c_stream__(requested_schema)


def test_generate_takes_a_pandas_frame_through_its_capsule() -> None:
    frame = NUMBERS.to_pandas()
    out = generate(_Stream(frame), 30, seed=2)
    assert isinstance(out, pa.Table)
    assert out.to_pylist() == generate(pa.table(frame), 30, seed=2).to_pylist()


def test_generate_takes_a_record_batch_reader() -> None:
    reader = pa.RecordBatchReader.from_batches(NUMBERS.schema, NUMBERS.to_batches(max_chunksize=7))
    assert generate(reader, 30, seed=2).to_pylist() == generate(NUMBERS, 30, seed=2).to_pylist()


def test_diagnose_takes_capsules() -> None:
    frame = NUMBERS.to_pandas()
    by_capsule = diagnose(_Stream(frame), _Stream(frame))
    by_table = diagnose(NUMBERS, NUMBERS)
    assert by_capsule.summary == by_table.summary
    assert by_capsule.summary["ks_max"] == 0.0


def test_other_objects_are_refused() -> None:
    with pytest.raises(UsageError, match=r"expected a pyarrow.Table, a pandas.DataFrame or an object with "
                                         r"__arrow_c_stream__ \(polars, DuckDB\), got list"):
        generate([[1.0, 2.0]], 3)
