"""mixsynth.io: reading every kind of source, refusing bad outputs, atomic writes."""

from __future__ import annotations

import io as pyio
import json
import os
import stat
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from mixsynth import io, provenance
from mixsynth.errors import InputError, UsageError


@pytest.fixture
def table(rng) -> pa.Table:
    return pa.table(
        {"x": rng.normal(size=12), "k": pa.array(range(12), pa.int32()), "s": list("abcabcabcabc")}
    )


def _parquet_bytes(table: pa.Table, **kw) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **kw)
    return sink.getvalue().to_pybytes()


def _ipc_bytes(table: pa.Table, *, file: bool) -> bytes:
    sink = pa.BufferOutputStream()
    with (ipc.new_file if file else ipc.new_stream)(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


# --- read_source ---------------------------------------------------------------------


def test_parquet_file_with_column_projection(tmp_parquet, table):
    seen = []

    def select(names):
        seen.append(names)
        return ["s", "x"][::-1]

    src = io.read_source(str(tmp_parquet(table)), select)
    assert seen == [["x", "k", "s"]]
    assert src.table.equals(table.select(["x", "s"]))
    assert src.provenance is None


def test_provenance_of_a_mixsynth_file_is_read_back(tmp_path, table):
    path = tmp_path / "synth.parquet"
    io.write_parquet(str(path), table.schema, [table], footer=lambda: {"seed": 5, "rows": 12})
    src = io.read_source(str(path))
    assert src.provenance == {"seed": 5, "rows": 12}
    assert src.table.equals(table)


@pytest.mark.parametrize("kind", ["parquet", "ipc-stream", "ipc-file"])
def test_stdin_is_read_whole_in_each_format(table, kind):
    data = {
        "parquet": lambda: _parquet_bytes(table),
        "ipc-stream": lambda: _ipc_bytes(table, file=False),
        "ipc-file": lambda: _ipc_bytes(table, file=True),
    }[kind]()
    src = io.read_source("-", lambda names: ["k"], stdin=pyio.BytesIO(data))
    assert src.name == "<stdin>"
    assert src.table.equals(table.select(["k"]))


def test_stdin_parquet_keeps_provenance(table):
    meta = table.schema.with_metadata({provenance.KEY: provenance.dumps({"seed": 9})})
    src = io.read_source("-", stdin=pyio.BytesIO(_parquet_bytes(table.cast(meta))))
    assert src.provenance == {"seed": 9}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "stdin is empty; expected Parquet, Arrow IPC, CSV/TSV or JSON Lines bytes"),
        (b"PAR1 and then nothing", "stdin does not hold readable Parquet data: "),
        (b"ARROW1 and then nothing", "stdin does not hold readable Arrow IPC data: "),
        (b'{"x": 1}\n{"x": "a"}\n', "stdin does not hold readable JSON Lines data: "),
        (b"x,y\n1,2\n3\n", "stdin does not hold readable CSV data: "),
    ],
)
def test_bad_stdin(data, message):
    with pytest.raises(InputError, match=message):
        io.read_source("-", stdin=pyio.BytesIO(data))


def test_truncated_stdin(table):
    data = _parquet_bytes(table)
    with pytest.raises(InputError, match="stdin does not hold readable Parquet data"):
        io.read_source("-", stdin=pyio.BytesIO(data[:-10]))


def test_hive_partitioned_directory(tmp_path, table):
    pq.write_to_dataset(table, tmp_path / "ds", partition_cols=["s"])
    (tmp_path / "ds" / "_SUCCESS").write_text("")  # marker files are ignored
    src = io.read_source(str(tmp_path / "ds"))
    # The partition key comes back as a column (last, as the dataset reports it).
    assert src.table.column_names == ["x", "k", "s"]
    got = src.table.sort_by("k")
    assert got.column("x").equals(table.column("x"))
    assert got.column("s").to_pylist() == table.column("s").to_pylist()


def test_directory_projection_reads_only_selected_columns(tmp_path, table):
    pq.write_to_dataset(table, tmp_path / "ds", partition_cols=["s"])
    src = io.read_source(str(tmp_path / "ds"), lambda names: ["k"])
    assert src.table.column_names == ["k"]
    assert src.table.num_rows == 12


@pytest.mark.parametrize(
    ("shape", "dtype"), [((7,), np.float64), ((7, 3), np.int16), ((7, 2, 4), np.float32)]
)
def test_npy_arrays(tmp_path, shape, dtype):
    arr = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)
    path = tmp_path / "a.npy"
    np.save(path, arr)
    table = io.read_source(str(path)).table
    assert table.column_names == ["array"]
    assert table.num_rows == 7
    column = table.column("array")
    if len(shape) == 1:
        assert column.type == pa.from_numpy_dtype(dtype)
        np.testing.assert_array_equal(column.to_numpy(), arr)
    else:
        assert column.type == pa.fixed_shape_tensor(pa.from_numpy_dtype(dtype), shape[1:])
        np.testing.assert_array_equal(column.combine_chunks().to_numpy_ndarray(), arr)


@pytest.mark.parametrize(
    ("arr", "message"),
    [
        (
            np.array(["a", "b"]),
            "'{path}' holds a <U1 array of shape (2,); expected numbers, one row per item",
        ),
        (np.float64(3.0), "'{path}' holds a float64 array of shape (); expected numbers"),
        (np.array([{"a": 1}], dtype=object), "cannot read '{path}' as a .npy array: "),
    ],
    ids=["strings", "scalar", "pickled"],
)
def test_unusable_npy(tmp_path, arr, message):
    path = tmp_path / "a.npy"
    np.save(path, arr, allow_pickle=True)
    with pytest.raises(InputError) as info:
        io.read_source(str(path))
    assert message.format(path=path) in str(info.value)


def test_missing_source():
    with pytest.raises(InputError, match="no such file or directory: 'no/such.parquet'"):
        io.read_source("no/such.parquet")


def test_unknown_column_from_select_propagates(tmp_parquet, table):
    def select(names):
        msg = "unknown column 'q'"
        raise UsageError(msg)

    with pytest.raises(UsageError, match="unknown column 'q'"):
        io.read_source(str(tmp_parquet(table)), select)


# --- check_output --------------------------------------------------------------------


def test_stdout_output_is_refused_only_on_a_terminal():
    io.check_output("-", "a.parquet", stdout_isatty=False)
    with pytest.raises(UsageError, match="refusing to write binary Parquet to a terminal"):
        io.check_output("-", "a.parquet", stdout_isatty=True)


def test_output_checks(tmp_path, tmp_parquet, table):
    src = tmp_parquet(table)
    io.check_output(str(tmp_path / "new.parquet"), str(src))
    io.check_output(str(tmp_path / "new.parquet"), "-")
    with pytest.raises(UsageError, match="would overwrite the source"):
        io.check_output(str(src), str(src))
    with pytest.raises(UsageError, match="would overwrite the source"):
        io.check_output(str(tmp_path / "sub" / "x.parquet"), str(tmp_path))
    with pytest.raises(UsageError, match="is a directory; expected a file path"):
        io.check_output(str(tmp_path), str(src))
    with pytest.raises(InputError, match="does not exist"):
        io.check_output(str(tmp_path / "sub" / "x.parquet"), str(src))


def test_hard_link_to_the_source_is_refused(tmp_path, tmp_parquet, table):
    # Fixed: resolve() alone misses a second name for the same file (a hard link here; on a
    # case-insensitive file system, "Data.parquet" for "data.parquet").
    src = tmp_parquet(table)
    os.link(src, tmp_path / "other.parquet")
    with pytest.raises(UsageError, match="would overwrite the source"):
        io.check_output(str(tmp_path / "other.parquet"), str(src))


# --- write_parquet -------------------------------------------------------------------


def _chunks(table: pa.Table, fail_after: int | None = None):
    for i in range(3):
        if fail_after is not None and i == fail_after:
            msg = "boom"
            raise InputError(msg)
        yield table.slice(4 * i, 4)


def test_write_file_one_row_group_per_chunk_with_footer(tmp_path, table):
    path = tmp_path / "out.parquet"
    io.write_parquet(str(path), table.schema, _chunks(table), footer=lambda: {"rows": 12})
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_row_groups == 3
    assert pf.read().equals(table)
    assert json.loads(pf.metadata.metadata[b"mixsynth"]) == {"rows": 12}
    assert not list(tmp_path.glob(".*.tmp"))


def test_write_stdout(table):
    buf = pyio.BytesIO()
    io.write_parquet("-", table.schema, _chunks(table), footer=lambda: {"rows": 12}, stdout=buf)
    pf = pq.ParquetFile(pa.BufferReader(buf.getvalue()))
    assert pf.read().equals(table)
    assert json.loads(pf.metadata.metadata[b"mixsynth"]) == {"rows": 12}


def test_output_file_gets_umask_permissions_not_0600(tmp_path, table):
    # Fixed: mkstemp's 0600 used to survive the rename, so nobody else could read outputs.
    old = os.umask(0o022)
    try:
        io.write_parquet(str(tmp_path / "out.parquet"), table.schema, [table])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.parquet").stat().st_mode) == 0o644


@pytest.mark.parametrize("fail_after", [0, 2])
def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, table, fail_after):
    path = tmp_path / "out.parquet"
    path.write_bytes(b"old")
    with pytest.raises(InputError, match="boom"):
        io.write_parquet(str(path), table.schema, _chunks(table, fail_after), footer=lambda: {})
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]


def test_failure_before_the_first_chunk_writes_nothing_to_stdout(table):
    # Fixed: the writer used to be opened first and put "PAR1" on stdout.
    buf = pyio.BytesIO()
    with pytest.raises(InputError, match="boom"):
        io.write_parquet("-", table.schema, _chunks(table, 0), stdout=buf)
    assert buf.getvalue() == b""


def test_failure_after_a_chunk_writes_no_footer_to_stdout(table):
    buf = pyio.BytesIO()
    with pytest.raises(InputError, match="boom"):
        io.write_parquet("-", table.schema, _chunks(table, 2), footer=lambda: {}, stdout=buf)
    data = buf.getvalue()
    assert data.startswith(b"PAR1")
    assert not data.endswith(b"PAR1")


def test_no_chunks_writes_an_empty_table(tmp_path, table):
    path = tmp_path / "out.parquet"
    io.write_parquet(str(path), table.schema, iter([]))
    assert pq.read_table(path).equals(table.slice(0, 0))


class _FailingStream(pyio.BytesIO):
    def __init__(self, exc: OSError) -> None:
        super().__init__()
        self.exc = exc

    def write(self, data) -> int:
        raise self.exc


def test_disk_full_on_stdout_is_an_input_error(table):
    # Fixed: OSError from writing (ENOSPC, EACCES, EROFS) used to escape as a traceback.
    stream = _FailingStream(OSError(28, "No space left on device"))
    with pytest.raises(InputError, match="^cannot write stdout: No space left on device$"):
        io.write_parquet("-", table.schema, _chunks(table), stdout=stream)


def test_closed_pipe_stays_a_broken_pipe(table):
    # The CLI turns BrokenPipeError (not a generic write error) into a quiet exit.
    stream = _FailingStream(BrokenPipeError(32, "Broken pipe"))
    with pytest.raises(BrokenPipeError):
        io.write_parquet("-", table.schema, _chunks(table), stdout=stream)


def test_disk_full_on_a_file_is_an_input_error_and_leaves_nothing(tmp_path, table, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    path = tmp_path / "out.parquet"
    with pytest.raises(InputError, match=f"^cannot write '{path}': No space left on device$"):
        io.write_parquet(str(path), table.schema, _chunks(table))
    assert list(tmp_path.iterdir()) == []


def test_unwritable_directory_is_an_input_error(tmp_path, table, monkeypatch):
    # Running as root defeats chmod, so refuse the temporary file the way a read-only
    # directory would.
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(io.files.tempfile, "mkstemp", denied)
    path = tmp_path / "out.parquet"
    with pytest.raises(InputError, match=f"^cannot write '{path}': Permission denied$"):
        io.write_parquet(str(path), table.schema, _chunks(table))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("second", "difference"),
    [
        (pa.table({"x": ["a", "b"], "k": [1, 2]}), "x: string instead of double"),
        (pa.table({"k": [1, 2], "y": [0.5, 0.6]}), "x missing; extra y"),
    ],
    ids=["type", "columns"],
)
def test_directory_files_must_share_their_columns(tmp_path, second, difference):
    # Fixed: pyarrow took the first file's schema, so a file without a column silently
    # added null rows and a file's extra columns were dropped.
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.table({"x": [1.0, 2.0], "k": [1, 2]}), folder / "a.parquet")
    pq.write_table(second, folder / "b.parquet")
    with pytest.raises(InputError) as info:
        io.read_source(str(folder))
    assert str(info.value) == (
        f"files in '{folder}' do not share one schema: '{folder}/b.parquet' differs from "
        f"'{folder}/a.parquet' ({difference}); expected the same columns in every file"
    )


def test_directory_files_may_differ_in_column_order_and_all_null_columns(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.table({"x": [1.0, 2.0], "k": [1, 2]}), folder / "a.parquet")
    pq.write_table(pa.table({"k": [3, 4], "x": pa.nulls(2)}), folder / "b.parquet")
    got = io.read_source(str(folder)).table.sort_by("k")
    assert got.to_pydict() == {"x": [1.0, 2.0, None, None], "k": [1, 2, 3, 4]}


def test_write_whole_leaves_nothing_when_the_writer_fails(tmp_path):
    from mixsynth.errors import InputError
    from mixsynth.io import write_whole

    target = tmp_path / "plot.png"
    seen = []

    def broken(tmp: str) -> None:
        seen.append(tmp)
        Path(tmp).write_bytes(b"half a picture")
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match=r"cannot write plot '.*plot\.png': No space left on device"):
        write_whole(target, broken, "plot")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    assert Path(seen[0]).name.startswith(f".plot.png.{os.getpid()}.")  # recognisable after a kill
    write_whole(target, lambda tmp: Path(tmp).write_bytes(b"\x89PNG"), "plot")
    assert target.read_bytes() == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


# --- in-memory data: the one adapter (mixsynth.io.arrow) ----------------------------------


def test_diagnose_inputs_get_the_api_checks_under_their_own_name():
    import pandas as pd

    from mixsynth.diagnose.inputs import from_data
    from mixsynth.errors import SchemaError

    duplicated = pd.DataFrame(np.ones((3, 2)), columns=["a", "a"])
    # The API's one input is "the DataFrame"; diagnose names its side (was a bare ValueError).
    with pytest.raises(SchemaError, match="^the DataFrame has 2 columns named 'a'"):
        io.as_table(duplicated)
    with pytest.raises(SchemaError, match="^'real' has 2 columns named 'a'"):
        from_data(duplicated, "real")
    # bytes and str in one column: pyarrow would make it binary without a word.
    mixed = pd.DataFrame({"x": [1.0, 2.0, 3.0], "name": [b"ab", "cd", "ef"]})
    with pytest.raises(SchemaError, match="^column 'name' holds mixed Python types"):
        io.as_table(mixed)
    with pytest.raises(SchemaError, match="^column 'name' of the synthetic DataFrame holds mixed Python types"):
        from_data(mixed, "synthetic")
    with pytest.raises(UsageError, match="^expected the real data as a pyarrow.Table, .*got list$"):
        from_data([1, 2], "real")
    with pytest.raises(UsageError, match="^expected a pyarrow.Table, .*got list$"):
        io.as_table([1, 2])
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    frame.attrs["mixsynth"] = {"seed": 3}
    assert from_data(frame, "synthetic").provenance == {"seed": 3}
    assert from_data(frame, "synthetic", {"seed": 4}).provenance == {"seed": 4}
