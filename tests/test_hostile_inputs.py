"""Hostile inputs across commands (issue 14): each family gives one ``Error:`` line with
its exit code, or a correct result; never a traceback, never a file left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from error_contract import assert_error

import mixsynth
from mixsynth.cli import app
from mixsynth.diagnose import diagnose
from mixsynth.errors import SchemaError


@pytest.fixture
def good(tmp_parquet, rng) -> Path:
    return tmp_parquet({"a": rng.normal(size=20), "b": rng.normal(size=20)}, "good.parquet")


# --- duplicate column names -------------------------------------------------------------


def _duplicated(rng) -> pa.Table:
    return pa.Table.from_arrays([pa.array(rng.normal(size=20)), pa.array(rng.normal(size=20))],
                                names=["a", "a"])


DUPLICATE = "has 2 columns named 'a'; expected unique column names"


@pytest.mark.parametrize("extra", [[], ["--columns", "a"]], ids=["all", "selected"])
def test_generate_refuses_duplicate_column_names(runner, tmp_parquet, tmp_path, rng, extra):
    src = tmp_parquet(_duplicated(rng), "dup.parquet")
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(src), "-o", str(out), *extra])
    assert_error(result, 1, f"'{src}' {DUPLICATE}")
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_generate_refuses_duplicate_column_names_on_stdin(runner, tmp_path, rng):
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, _duplicated(rng).schema) as writer:
        writer.write_table(_duplicated(rng))
    result = runner.invoke(app, ["generate", "-", "-o", str(tmp_path / "o.parquet")],
                           input=sink.getvalue().to_pybytes())
    assert_error(result, 1, f"stdin {DUPLICATE}")


@pytest.mark.parametrize("side", ["real", "synth"])
def test_diagnose_refuses_duplicate_column_names(runner, tmp_parquet, good, rng, side):
    dup = tmp_parquet(_duplicated(rng), "dup.parquet")
    args = [dup, good] if side == "real" else [good, dup]
    result = runner.invoke(app, ["diagnose", *map(str, args)])
    assert_error(result, 1, f"'{dup}' {DUPLICATE}")


def test_diagnose_refuses_duplicate_names_in_a_directory(runner, tmp_path, rng):
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(2):
        pq.write_table(_duplicated(rng), folder / f"p{i}.parquet")
    result = runner.invoke(app, ["diagnose", str(folder), str(folder)])
    # pyarrow refuses to list such a dataset, before mixsynth sees its names.
    assert_error(result, 1, f"cannot read '{folder}' as Parquet: Can't unify schema with duplicate field names")


def test_python_api_refuses_duplicate_column_names(rng):
    table = _duplicated(rng)
    frame = pd.DataFrame(np.ones((3, 2)), columns=["a", "a"])
    with pytest.raises(SchemaError, match=f"the table {DUPLICATE}"):
        mixsynth.generate(table, n=3)
    with pytest.raises(SchemaError, match=f"the DataFrame {DUPLICATE}"):
        mixsynth.generate(frame, n=3)
    with pytest.raises(SchemaError, match=f"'real' {DUPLICATE}"):
        diagnose(table, table)


# --- binary columns -----------------------------------------------------------------------


def test_diagnose_compares_binary_columns_as_categories(runner, tmp_parquet, rng):
    # Bytes that are not UTF-8 (0xff cannot start a character) used to raise
    # UnicodeDecodeError; they are categories like any other.
    values = [b"\xff\xfe", b"\x00\x80", b"text", b"\xc3("]
    picks = rng.integers(0, len(values), size=200)
    real = tmp_parquet({"x": rng.normal(size=200),
                        "b": pa.array([values[i] for i in picks], pa.binary()),
                        "f": pa.array([values[i][:2] for i in picks], pa.binary(2))}, "real.parquet")
    synth = tmp_parquet({"x": rng.normal(size=200),
                         "b": pa.array([values[i] for i in picks[::-1]], pa.binary()),
                         "f": pa.array([values[0][:2]] * 200, pa.binary(2))}, "synth.parquet")
    result = runner.invoke(app, ["diagnose", str(real), str(synth), "--json"])
    assert result.exit_code == 0, result.stderr
    entries = {e["name"]: e for e in json.loads(result.stdout)["columns"]}
    assert entries["b"]["group"] == "categorical"
    assert entries["b"]["tv"] == pytest.approx(0.0)  # the same values, in another order
    share = float(np.mean(picks != 0))
    assert entries["f"]["tv"] == pytest.approx(share)  # every synthetic row is b"\xff\xfe"


# --- arrays with no values per row ---------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 0), (5, 0, 3), (4, 2, 0)])
@pytest.mark.parametrize("command", ["generate", "diagnose"])
def test_npy_whose_rows_have_no_values(runner, tmp_path, shape, command):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros(shape))
    args = [str(path), "-o", str(tmp_path / "o.parquet")] if command == "generate" else [str(path)] * 2
    result = runner.invoke(app, [command, *args])
    assert_error(result, 1, f"'{path}' holds an array of shape {shape}, whose rows have no values; "
                 "expected at least one value per row")


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros((0, 3)), "the source has 0 rows; mixing needs at least 2"),
    (np.array(3.0), "holds a float64 array of shape (); expected numbers, one row per item"),
], ids=["no-rows", "0-d"])
def test_npy_without_rows(runner, tmp_path, array, message):
    path = tmp_path / "a.npy"
    np.save(path, array)
    result = runner.invoke(app, ["generate", str(path), "-o", str(tmp_path / "o.parquet")])
    assert_error(result, 1, message)


# --- directories whose files disagree --------------------------------------------------------


def test_diagnose_names_the_files_whose_schemas_differ(runner, tmp_path, good, rng):
    folder = tmp_path / "synth"
    folder.mkdir()
    pq.write_table(pa.table({"a": rng.normal(size=5), "b": rng.normal(size=5)}, ), folder / "p1.parquet")
    pq.write_table(pa.table({"a": rng.normal(size=5), "c": rng.normal(size=5)}), folder / "p2.parquet")
    for args in ([good, folder], [folder, good]):
        result = runner.invoke(app, ["diagnose", *map(str, args)])
        assert_error(result, 1, f"files in '{folder}' do not share one schema: '{folder / 'p2.parquet'}' "
                     f"differs from '{folder / 'p1.parquet'}' (b missing; extra c)")


# --- an output path that names a directory ----------------------------------------------------


@pytest.mark.parametrize("spelling", ["missing/", "existing/", "good.parquet/", "missing/.", "existing/.."])
def test_output_with_a_trailing_slash_is_refused(runner, good, tmp_path, spelling):
    (tmp_path / "existing").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    dst = f"{tmp_path}/{spelling}"
    result = runner.invoke(app, ["generate", str(good), "-o", dst])
    example = os.path.join(dst, "synth.parquet")
    assert_error(result, 2, f"output {dst!r} names a directory; expected a file path such as {example!r}")
    # Nothing made where a directory was named: no file "missing", no new entry at all.
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "good.parquet").is_file()


# --- stdout closed before the command starts (``>&-``) ----------------------------------------


def _closed_stdout(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    # The shell closes fd 1 before exec, as `mixsynth ... >&-` does; Python then starts
    # with sys.stdout = None (CliRunner cannot show this: it replaces sys.stdout).
    command = [sys.executable, "-m", "mixsynth", *map(str, args)]
    return subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", *command], cwd=cwd,
                          stderr=subprocess.PIPE, text=True, timeout=300, check=False)


CLOSED = "Error: cannot write stdout: it is closed; give the command an open stdout (a pipe or > FILE)"


@pytest.mark.parametrize("args", [
    ["weights"], ["weights", "--json"], ["diagnose", "good.parquet", "good.parquet"],
    ["collapse-study", "good.parquet", "-k", "1"],
    ["generate", "good.parquet", "--dry-run", "-o", "out.parquet"],
], ids=["weights", "weights-json", "diagnose", "collapse-study", "dry-run"])
@pytest.mark.slow
def test_closed_stdout_is_one_error_line(good, tmp_path, args):
    result = _closed_stdout(*args, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [CLOSED]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.parquet"]


@pytest.mark.slow
def test_generate_to_a_closed_stdout_refuses_before_reading(tmp_path):
    # The source does not exist: the closed stdout is found first, before any work.
    result = _closed_stdout("generate", "missing.parquet", "-o", "-", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: cannot write stdout: it is closed; use -o FILE or give the command an open stdout"]


@pytest.mark.slow
def test_generate_to_a_file_needs_no_stdout(good, tmp_path):
    result = _closed_stdout("generate", "good.parquet", "-o", "out.parquet", "-q", "--seed", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 20


# --- collapse-study --resume on a damaged trajectory.json --------------------------------------


def _study(runner, src: Path, out_dir: Path, *extra: str):
    return runner.invoke(app, ["collapse-study", str(src), "-k", "1", "-w", "beta:1,1", "--no-baseline",
                               "--sample", "50", "--output-dir", str(out_dir), "--format", "ndjson", *extra])


def _mutate(change):
    def apply(text: str) -> bytes:
        doc = json.loads(text)
        change(doc)
        return json.dumps(doc).encode()
    return apply


DAMAGE = {
    "empty-list": (lambda _t: b"[]", "expected a JSON object, got list"),
    "not-utf8": (lambda _t: b"\xff\xfe{}", "'utf-8' codec can't decode byte 0xff in position 0"),
    "truncated": (lambda t: t[: len(t) // 2].encode(), "Expecting"),
    "empty": (lambda _t: b"", "Expecting value: line 1 column 1 (char 0)"),
    "no-records": (_mutate(lambda d: d["trajectories"][0].pop("records")),
                   "trajectory 'beta:1,1' has no list of records"),
    "wrong-type": (_mutate(lambda d: d.update(trajectories=5)), "'trajectories' is missing or not a list"),
    "record-not-object": (_mutate(lambda d: d["trajectories"][0]["records"].__setitem__(0, 3)),
                          "record 0 of 'beta:1,1' is not the record of round 0"),
    "params-list": (_mutate(lambda d: d.update(params=[1])), "'params' is not an object"),
    "nested-too-deep": (lambda _t: b"[" * 100_000, "recursion"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_from_a_damaged_trajectory_says_how_to_start_afresh(runner, good, tmp_path, damage):
    out_dir = tmp_path / "study"
    assert _study(runner, good, out_dir).exit_code == 0
    state = out_dir / "trajectory.json"
    spoil, problem = DAMAGE[damage]
    state.write_bytes(spoil(state.read_text()))
    damaged = state.read_bytes()
    result = _study(runner, good, out_dir, "--resume")
    line = assert_error(result, 1, f"Error: cannot resume from '{state}': the file is damaged (", problem,
                        f"); remove '{out_dir}' or choose another --output-dir to start afresh")
    assert "Traceback" not in line
    assert state.read_bytes() == damaged  # left as found, for the user to look at
    # The advice works: a fresh directory runs.
    assert _study(runner, good, tmp_path / "fresh").exit_code == 0
