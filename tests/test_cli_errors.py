"""Every way ``mixsynth generate`` / ``weights`` can fail, through the real CLI.

Each failure must give one line on stderr, ``Error: ...``, naming the thing and what was
expected; the documented exit code (1 error, 2 usage); no traceback; and no output file
(neither the target nor a ``.*.tmp`` file beside it) left behind.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from error_contract import assert_error

import mixsynth
from mixsynth.cli import app
from mixsynth.cli import commands as cli_commands
from mixsynth.errors import InputError, SchemaError


@pytest.fixture
def table(rng) -> pa.Table:
    """30 rows: a float, a non-negative integer, a category (no identifiers, no nulls)."""
    return pa.table(
        {
            "x": rng.normal(size=30),
            "y": rng.integers(0, 5, size=30),
            "g": pa.array(rng.choice(["a", "b", "c"], size=30)),
        }
    )


@pytest.fixture
def src(tmp_parquet, table) -> Path:
    return tmp_parquet(table)


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "out" / "synth.parquet"


@pytest.fixture(autouse=True)
def _out_dir(out) -> None:
    out.parent.mkdir()


def gen(runner, *args: object, input: bytes | None = None):
    return runner.invoke(app, ["generate", *map(str, args)], input=input)


# --- unreadable sources ---------------------------------------------------------------


def test_missing_file(runner, tmp_path, out):
    result = gen(runner, tmp_path / "missing.parquet", "-o", out)
    assert_error(result, 1, f"no such file or directory: '{tmp_path / 'missing.parquet'}'", out=out)


def test_directory_without_parquet_files(runner, tmp_path, out):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    result = gen(runner, empty, "-o", out)
    assert_error(
        result, 1, f"directory '{empty}' holds no Parquet files; expected *.parquet files", out=out
    )


def test_directory_with_a_file_that_is_not_parquet(runner, tmp_path, out):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a table\n")
    result = gen(runner, folder, "-o", out)
    assert_error(result, 1, f"cannot read '{folder}' as a Parquet dataset:", out=out)


def test_directory_with_one_corrupt_file(runner, tmp_path, tmp_parquet, table, out):
    folder = tmp_path / "parts"
    folder.mkdir()
    tmp_parquet(table, "parts/a.parquet")
    (folder / "b.parquet").write_bytes(b"not parquet at all, but long enough")
    result = gen(runner, folder, "-o", out)
    assert_error(
        result,
        1,
        f"cannot read '{folder}' as Parquet: "
        f"Could not open Parquet input source '{folder}/b.parquet'",
        out=out,
    )


def test_bytes_that_are_not_parquet(runner, tmp_path, out):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"species,mass\nAdelie,3750\n")
    result = gen(runner, path, "-o", out)
    assert_error(result, 1, f"cannot read '{path}' as Parquet:", "magic bytes", out=out)


@pytest.mark.parametrize("keep", [0.5, -1], ids=["half", "last-byte-cut"])
def test_truncated_parquet(runner, tmp_parquet, table, out, keep):
    path = tmp_parquet(table)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)] if keep > 0 else data[:keep])
    result = gen(runner, path, "-o", out)
    assert_error(result, 1, f"cannot read '{path}' as Parquet:", out=out)


def test_bad_npy_file(runner, tmp_path, out):
    path = tmp_path / "a.npy"
    path.write_bytes(b"\x93NUMPY garbage")
    result = gen(runner, path, "-o", out)
    assert_error(result, 1, f"cannot read '{path}' as a .npy array:", out=out)


def test_empty_stdin(runner, out):
    result = gen(runner, "-", "-o", out, input=b"")
    assert_error(result, 1, "stdin is empty; expected Parquet, Arrow IPC, CSV/TSV or JSON Lines bytes", out=out)


def test_stdin_that_is_not_a_table(runner, out):
    # Neither Parquet nor Arrow IPC, so it is read as CSV, whose rows must have one width.
    result = gen(runner, "-", "-o", out, input=b"a,b\n1,2\n3\n")
    assert_error(result, 1, "Error: stdin does not hold readable CSV data: CSV parse error: Expected 2 columns, got 1: "
                 "3; expected Parquet, Arrow IPC, CSV/TSV or JSON Lines", out=out)


# --- sources that cannot be mixed -----------------------------------------------------


@pytest.mark.parametrize(("rows", "text"), [(0, "0 rows"), (1, "1 row;")])
def test_fewer_than_two_rows(runner, tmp_parquet, table, out, rows, text):
    path = tmp_parquet(table.slice(0, rows))
    result = gen(runner, path, "-o", out)
    assert_error(result, 1, f"the source has {text}", "mixing needs at least 2", out=out)


@pytest.mark.parametrize(
    "column", [pa.nulls(4, pa.float64()), pa.nulls(4)], ids=["float", "null-type"]
)
def test_all_null_column_passes_through_as_nulls(runner, tmp_parquet, out, column):
    path = tmp_parquet({"x": [1.0, 2.0, 3.0, 4.0], "z": column})
    result = gen(runner, path, "-o", out, "-n", "6")
    assert result.exit_code == 0, result.output
    assert "mixsynth: column 'z' is entirely null; written as nulls" in result.stderr.splitlines()
    table = pq.read_table(out)
    assert table["z"].type == column.type
    assert table["z"].null_count == 6


def test_all_null_target_is_an_error(runner, tmp_parquet, out):
    path = tmp_parquet({"x": [1.0, 2.0, 3.0, 4.0], "z": pa.nulls(4, pa.float64())})
    result = gen(runner, path, "-o", out, "--target", "z")
    assert_error(result, 1, "the --target column 'z' is entirely null; nothing to learn labels from", out=out)


@pytest.mark.parametrize(
    "bad", [float("nan"), float("inf"), float("-inf")], ids=["nan", "+inf", "-inf"]
)
def test_non_finite_float_is_an_error_by_default(runner, tmp_parquet, out, bad):
    path = tmp_parquet({"x": [1.0, 2.0, bad, 4.0, 5.0]})
    result = gen(runner, path, "-o", out)
    assert_error(
        result,
        1,
        "column 'x' has 1 NaN or infinite values (first at row 2); expected finite numbers "
        "(use --nan skip to treat them as nulls)",
        out=out,
    )


def test_nan_skip_turns_non_finite_values_into_nulls(runner, tmp_parquet, out):
    nan, inf = float("nan"), float("inf")
    path = tmp_parquet({"x": [1.0, nan, 3.0, inf, -inf, 6.0, 7.0, 8.0]})
    result = gen(runner, path, "-o", out, "--nan", "skip", "-n", 2000, "--seed", 1, "-q")
    assert result.exit_code == 0, result.stderr
    x = pq.read_table(out).column("x")
    values = x.drop_null().to_numpy()
    # Three of eight source rows are null after skipping, and the nulls are counted per
    # block to that share, NaN and infinities included: 3/8 of 2000 rows exactly.
    assert x.null_count == 750
    assert np.isfinite(values).all()
    assert values.min() >= 1.0
    assert values.max() <= 8.0


def test_nan_skip_with_nothing_left_is_an_error(runner, tmp_parquet, out):
    # Fixed in plan.build_bounds: used to write an all-null column (and warn "All-NaN slice").
    path = tmp_parquet({"x": [1.0, 2.0, 3.0], "z": [float("nan")] * 3})
    result = gen(runner, path, "-o", out, "--nan", "skip")
    assert_error(
        result,
        1,
        "column 'z' has no values once NaN and infinite values are skipped",
        "use --exclude z",
        out=out,
    )


def test_non_finite_tensor_element_is_an_error_by_default(runner, tmp_parquet, out):
    values = pa.array([1.0, 2.0, float("nan"), 4.0, 5.0, 6.0, 7.0, 8.0])
    path = tmp_parquet({"v": pa.FixedSizeListArray.from_arrays(values, 2)})
    result = gen(runner, path, "-o", out, "--seed", 1)
    assert_error(
        result, 1, "column 'v' has 1 NaN or infinite values (first at row 1)", "--nan skip", out=out
    )


@pytest.mark.parametrize(
    ("column", "type_text"),
    [
        (pa.array([{"a": 1}, {"a": 2}, {"a": 3}]), "struct<a: int64>"),
        (
            pa.array([[("k", 1)], [("k", 2)], [("k", 3)]], pa.map_(pa.string(), pa.int64())),
            "map<string, int64",
        ),
    ],
    ids=["struct", "map"],
)
def test_unsupported_column_type_names_it_and_suggests_exclude(
    runner, tmp_parquet, out, column, type_text
):
    path = tmp_parquet({"x": [1.0, 2.0, 3.0], "nested": column})
    result = gen(runner, path, "-o", out)
    assert_error(
        result,
        1,
        f"column 'nested' has unsupported type {type_text}",
        "(use --exclude nested)",
        out=out,
    )
    # ... and the suggestion works.
    result = gen(runner, path, "-o", out, "--exclude", "nested", "-q", "--seed", 1)
    assert result.exit_code == 0, result.stderr
    assert pq.read_schema(out).names == ["x"]


def test_mixed_python_types_through_the_python_api():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "flag": [1, True, 2]})
    with pytest.raises(
        SchemaError, match=r"column 'flag' holds mixed Python types.*expected one type per column"
    ):
        mixsynth.generate(df, 5, seed=0)


def test_mixed_bytes_and_str_through_the_python_api():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "name": [b"ab", "cd", "ef"]})
    with pytest.raises(SchemaError, match="column 'name' holds mixed Python types"):
        mixsynth.generate(df, 5, seed=0)


def test_nothing_left_after_dropping_identifiers(runner, tmp_parquet, out):
    path = tmp_parquet({"user_id": list(range(30)), "key": [f"k{i}" for i in range(30)]})
    result = gen(runner, path, "-o", out, "--ids", "drop", "-q")
    assert_error(result, 1, "no columns left to synthesise after dropping identifiers", out=out)


# --- column options --------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--columns", "--exclude", "--target"])
def test_unknown_column_in_option(runner, src, out, option):
    result = gen(runner, src, "-o", out, option, "weight")
    assert_error(
        result, 2, f"unknown column 'weight' in {option}; the source has: x, y, g", out=out
    )


def test_unknown_column_among_known_ones(runner, src, out):
    result = gen(runner, src, "-o", out, "--columns", "x,y", "--columns", "wieght")
    assert_error(result, 2, "unknown column 'wieght' in --columns", out=out)


def test_excluding_every_column(runner, src, out):
    result = gen(runner, src, "-o", out, "--exclude", "x,y", "--exclude", "g")
    assert_error(
        result, 2, "no columns selected: --columns/--exclude leave nothing to synthesise", out=out
    )


def test_target_that_is_also_excluded(runner, src, out):
    result = gen(runner, src, "-o", out, "--target", "g", "--exclude", "g")
    assert_error(result, 2, "column 'g' is both the --target and in --exclude", out=out)


# --- row count -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "-n must be at least 1, got '0'"),
        ("-5", "-n must be at least 1, got '-5'"),
        ("abc", "-n expects a whole number of rows such as 1000 or 1e6, got 'abc'"),
        ("2.5", "-n expects a whole number of rows such as 1000 or 1e6, got '2.5'"),
        ("inf", "-n expects a whole number of rows such as 1000 or 1e6, got 'inf'"),
        ("1e17", "-n must be at most 9007199254740992, got '1e17'"),
    ],
)
def test_bad_row_count(runner, src, out, text, message):
    result = gen(runner, src, "-o", out, "-n", text)
    assert_error(result, 2, message, out=out)


def test_bad_row_count_to_stdout_writes_nothing(runner, src):
    # Used to leave the Parquet magic "PAR1" on stdout: the writer was opened before the
    # row count was checked.
    result = gen(runner, src, "-o", "-", "-n", "1e17")
    assert_error(result, 2, "-n must be at most")


def test_row_count_in_scientific_notation(runner, tmp_parquet, out):
    path = tmp_parquet({"x": [1.0, 2.0, 3.0, 4.0]})
    result = gen(runner, path, "-o", out, "-n", "1e6", "--seed", 1, "-q", "--chunk-rows", 500_000)
    assert result.exit_code == 0, result.stderr
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 1_000_000
    assert meta.num_row_groups == 2


@pytest.mark.parametrize("seed", ["-1", str(2**63)])
def test_seed_out_of_range(runner, src, out, seed):
    result = gen(runner, src, "-o", out, "--seed", seed)
    assert_error(result, 2, f"seed must be an integer in [0, 2**63), got {seed}", out=out)


# --- weights -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "epbeta:foo",
            "bad weight spec 'epbeta:foo': expected key=value with key in "
            "alpha, beta, eps, eps0, eps1",
        ),
        ("epbeta:alpha=big", "bad weight spec 'epbeta:alpha=big': alpha='big' is not a number"),
        ("epbeta:eps=0.3,eps0=0.1", "give eps, or eps0 and eps1, not both"),
        ("epbeta:eps0=-0.1", "eps0 must be >= 0, got -0.1"),
        ("beta:1,2,3", "expected beta:A,B with two shape parameters > 0"),
        ("beta:0,1", "a must be > 0, got 0"),
        # Past these, a law's moments overflow (eps=1e308 was accepted, with NaN variances).
        ("epbeta:eps=1e308", "bad weight spec 'epbeta:eps=1e308': eps must be from 0 to 10, got 1e+308"),
        ("epbeta:eps0=0.3,eps1=10.5", "eps1 must be from 0 to 10, got 10.5"),
        ("epbeta:alpha=2,beta=2,eps0=1e300,eps1=0.3", "eps0 must be from 0 to 10, got 1e+300"),
        ("epdirichlet:k=3,eps=1e308", "eps must be from 0 to 10, got 1e+308"),
        ("beta:1e300,1", "a must be from 0 to 1e+12, got 1e+300"),
        ("dirichlet:k=3,alpha=1e13", "alpha must be from 0 to 1e+12, got 1e+13"),
        ("uniform:2", "uniform takes no parameters"),
        ("gamma:2", "unknown weight law 'gamma' in 'gamma:2'"),
    ],
)
@pytest.mark.parametrize("command", ["generate", "weights"])
def test_bad_weight_spec_is_a_usage_error(runner, src, out, spec, message, command):
    if command == "generate":
        result = gen(runner, src, "-o", out, "--weights", spec)
    else:
        result = runner.invoke(app, ["weights", spec])
    assert_error(result, 2, message, out=out if command == "generate" else None)


@pytest.mark.parametrize("command", ["generate", "weights"])
def test_infeasible_epbeta(runner, src, out, command):
    spec = "epbeta:alpha=0.01,eps=0.3"
    args = (
        ["generate", str(src), "-o", str(out), "-w", spec]
        if command == "generate"
        else ["weights", spec]
    )
    result = runner.invoke(app, args)
    assert_error(
        result,
        1,
        "infeasible epbeta: no beta > 0 gives variance factor 1 "
        "with alpha=0.01, eps0=0.3, eps1=0.3",
        "feasible alpha for these eps: alpha >= 0.708",
        "the symmetric solution is alpha=beta=0.78",
        out=out if command == "generate" else None,
    )


def test_no_variance_preserving_law_without_extension(runner):
    result = runner.invoke(app, ["weights", "epbeta:eps=0"])
    assert_error(result, 1, "no law on [0, 1] preserves variance", "give eps0 or eps1 > 0")


# --- outputs -------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_output_onto_the_source_is_refused(runner, src, spelling):
    before = src.read_bytes()
    if spelling == "same":
        dst = src
    elif spelling == "dotted":
        dst = src.parent / "out" / ".." / src.name
    elif spelling == "symlink":
        dst = src.parent / "link.parquet"
        dst.symlink_to(src)
    else:  # fixed in io.check_output: a second name for the same file was not recognised
        dst = src.parent / "hard.parquet"
        os.link(src, dst)
    result = gen(runner, src, "-o", dst)
    assert_error(
        result, 2, f"output '{dst}' would overwrite the source '{src}'; choose another path"
    )
    assert src.read_bytes() == before
    assert not list(src.parent.glob(".*.tmp"))


def test_output_inside_a_directory_source_is_refused(runner, tmp_path, table):
    dataset = tmp_path / "dataset"
    pq.write_to_dataset(table, dataset, partition_cols=["g"])
    files = sorted(p.relative_to(dataset) for p in dataset.rglob("*") if p.is_file())
    dst = dataset / "g=a" / "synth.parquet"
    result = gen(runner, dataset, "-o", dst)
    assert_error(result, 2, f"output '{dst}' would overwrite the source '{dataset}'", out=dst)
    assert sorted(p.relative_to(dataset) for p in dataset.rglob("*") if p.is_file()) == files


def test_output_directory_missing(runner, src, tmp_path):
    dst = tmp_path / "nowhere" / "synth.parquet"
    result = gen(runner, src, "-o", dst)
    assert_error(result, 1, f"cannot write '{dst}': directory '{dst.parent}' does not exist")
    assert not dst.parent.exists()


def test_output_is_a_directory(runner, src, out):
    result = gen(runner, src, "-o", out.parent)
    assert_error(result, 2, f"output '{out.parent}' is a directory; expected a file path", out=out)


def test_unwritable_output_directory(runner, src, out, monkeypatch):
    # Fixed in io.write_parquet: used to end in a PermissionError traceback. (Tests may run
    # as root, which chmod cannot stop, so the temporary file is refused directly.)
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(mixsynth.io.files.tempfile, "mkstemp", denied)
    result = gen(runner, src, "-o", out, "--seed", 1, "-q")
    assert_error(result, 1, f"cannot write '{out}': Permission denied", out=out)


def test_refuses_binary_on_a_terminal(runner, src, monkeypatch):
    # cli.commands.generate asks _isatty(sys.stdout); pretend the runner's stdout is a terminal.
    monkeypatch.setattr(cli_commands, "_isatty", lambda stream: stream is sys.stdout)
    result = gen(runner, src, "-o", "-")
    assert_error(
        result, 2, "refusing to write binary Parquet to a terminal; use -o FILE or pipe the output"
    )
    # The check comes before stdin is read (a terminal user would otherwise wait forever).
    result = gen(runner, "-", "-o", "-", input=b"")
    assert_error(result, 2, "refusing to write binary Parquet to a terminal")


def test_terminal_is_fine_with_an_output_file(runner, src, out, monkeypatch):
    monkeypatch.setattr(cli_commands, "_isatty", lambda stream: stream is sys.stdout)
    result = gen(runner, src, "-o", out, "-q", "--seed", 1)
    assert result.exit_code == 0, result.stderr
    assert pq.read_metadata(out).num_rows == 30


# --- --bounds-file -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{x: [0, 1]}",
            "is not valid JSON: Expecting property name enclosed in double quotes at line 1",
        ),
        ("[[0, 1]]", "must hold a JSON object, got list"),
        (
            '{"weight": [0, 1]}',
            "unknown column 'weight' in --bounds-file (mixed numeric columns); "
            "the source has: x, y",
        ),
        ('{"g": [0, 1]}', "unknown column 'g' in --bounds-file (mixed numeric columns)"),
        ('{"x": [2, -1]}', "bounds for column 'x' have low > high: [2, -1]"),
        ('{"x": [0]}', "bounds for column 'x' must be [low, high] (numbers or null), got [0]"),
        (
            '{"x": ["0", 1]}',
            "bounds for column 'x' must be [low, high] (numbers or null), got ['0', 1]",
        ),
        # Fixed in plan._override: true was read as 1 and NaN disabled the bound silently.
        (
            '{"x": [true, 1]}',
            "bounds for column 'x' must be [low, high] (numbers or null), got [True, 1]",
        ),
        (
            '{"x": [NaN, 1]}',
            "bounds for column 'x' must be [low, high] (numbers or null), got [nan, 1]",
        ),
    ],
)
def test_bad_bounds_file(runner, src, out, tmp_path, text, message):
    path = tmp_path / "bounds.json"
    path.write_text(text)
    result = gen(runner, src, "-o", out, "--bounds-file", path)
    assert_error(result, 2, message, out=out)


def test_missing_bounds_file(runner, src, out, tmp_path):
    path = tmp_path / "bounds.json"
    result = gen(runner, src, "-o", out, "--bounds-file", path)
    assert_error(
        result, 2, f"cannot read --bounds-file '{path}': No such file or directory", out=out
    )


def test_bounds_file_that_is_not_unicode(runner, src, out, tmp_path):
    # Fixed in options.load_json_object: used to end in a UnicodeDecodeError traceback.
    path = tmp_path / "bounds.json"
    path.write_bytes('{"x": [0, 1], "café": 1}'.encode("latin-1"))
    result = gen(runner, src, "-o", out, "--bounds-file", path)
    assert_error(
        result,
        2,
        f"--bounds-file '{path}' is not valid JSON: not UTF-8, UTF-16 or UTF-32 text",
        out=out,
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_bounds_file_in_utf16_or_with_a_bom(runner, src, out, tmp_path, encoding):
    # PowerShell's `>` writes UTF-16 with a BOM; Notepad may add a UTF-8 BOM.
    path = tmp_path / "bounds.json"
    path.write_bytes(json.dumps({"x": [-0.25, 0.25]}).encode(encoding))
    result = gen(runner, src, "-o", out, "--bounds-file", path, "--seed", 1, "-q")
    assert result.exit_code == 0, result.stderr
    x = pq.read_table(out).column("x").to_numpy()
    assert x.min() >= -0.25
    assert x.max() <= 0.25


def test_bounds_file_is_applied(runner, src, out, tmp_path):
    path = tmp_path / "bounds.json"
    path.write_text(json.dumps({"x": [-0.5, 0.5], "y": [None, 2]}))
    result = gen(runner, src, "-o", out, "--bounds-file", path, "-n", 500, "--seed", 2, "-q")
    assert result.exit_code == 0, result.stderr
    synth = pq.read_table(out)
    assert pc_min(synth, "x") >= -0.5
    assert pc_max(synth, "x") <= 0.5
    assert pc_max(synth, "y") <= 2
    record = json.loads(pq.ParquetFile(out).metadata.metadata[b"mixsynth"])
    assert record["bounds"]["columns"]["x"] == {"policy": "clip", "low": -0.5, "high": 0.5}
    assert record["bounds"]["columns"]["y"] == {"policy": "clip", "low": None, "high": 2.0}


def test_bounds_file_for_dates_is_in_days_since_1970(runner, tmp_parquet, out, tmp_path, rng):
    # Fixed in plan._override: the bounds were compared with ticks minus the column's
    # minimum, so every date was clipped decades past the data.
    start = np.datetime64("2020-01-01")
    days = start + rng.integers(0, 365, size=50).astype("timedelta64[D]")
    path = tmp_parquet({"d": pa.array(days, pa.date32()), "x": rng.normal(size=50)})
    low, high = (
        (np.datetime64(d) - np.datetime64("1970-01-01")).astype(int)
        for d in ("2020-03-01", "2020-09-30")
    )
    bounds = tmp_path / "bounds.json"
    bounds.write_text(json.dumps({"d": [int(low), int(high)]}))
    result = gen(runner, path, "-o", out, "-n", 500, "--seed", 1, "-q", "--bounds-file", bounds)
    assert result.exit_code == 0, result.stderr
    synth = pq.read_table(out).column("d").to_numpy().astype("datetime64[D]")
    assert synth.min() == np.datetime64("2020-03-01")
    assert synth.max() == np.datetime64("2020-09-30")
    record = json.loads(pq.ParquetFile(out).metadata.metadata[b"mixsynth"])
    assert record["bounds"]["columns"]["d"] == {
        "policy": "clip",
        "low": float(low),
        "high": float(high),
    }


def pc_min(table: pa.Table, name: str) -> float:
    return float(np.min(table.column(name).to_numpy()))


def pc_max(table: pa.Table, name: str) -> float:
    return float(np.max(table.column(name).to_numpy()))


# --- failures during writing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (KeyboardInterrupt(), 130, "Interrupted."),
        (InputError("disk went away"), 1, "Error: disk went away"),
    ],
    ids=["ctrl-c", "error"],
)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_failure_mid_write_leaves_no_partial_file(
    runner, src, out, monkeypatch, exc, code, line, existing
):
    if existing:
        out.write_bytes(b"previous output")
    real_block = mixsynth.Synthesizer.block
    calls = []

    def failing_block(self, start, stop):
        calls.append(start)
        if len(calls) == 3:
            raise exc
        return real_block(self, start, stop)

    monkeypatch.setattr(mixsynth.Synthesizer, "block", failing_block)
    # --jobs 1: with more workers, blocks after the failing one may already be running.
    result = gen(
        runner, src, "-o", out, "-n", 5000, "--chunk-rows", 1000, "--seed", 1, "-q", "-j", 1
    )
    assert result.exit_code == code
    assert result.stderr.splitlines() == [line]
    assert len(calls) == 3
    assert not list(out.parent.glob(".*.tmp"))
    if existing:
        assert out.read_bytes() == b"previous output"
    else:
        assert not out.exists()


def test_failure_mid_write_to_stdout_leaves_no_valid_footer(runner, src, monkeypatch):
    real_block = mixsynth.Synthesizer.block
    calls = []

    def failing_block(self, start, stop):
        calls.append(start)
        if len(calls) == 2:
            msg = "disk went away"
            raise InputError(msg)
        return real_block(self, start, stop)

    monkeypatch.setattr(mixsynth.Synthesizer, "block", failing_block)
    result = gen(runner, src, "-o", "-", "-n", 5000, "--chunk-rows", 1000, "--seed", 1)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Error: disk went away"
    # The first row group went out; the footer must not, so no reader takes the
    # truncated stream for a complete table.
    assert result.stdout_bytes.startswith(b"PAR1")
    assert not result.stdout_bytes.endswith(b"PAR1")
    with pytest.raises(pa.ArrowInvalid):
        pq.read_table(pa.BufferReader(result.stdout_bytes))


# --- finite in, finite out ------------------------------------------------------------------

F64, F32, F16 = (float(np.finfo(t).max) for t in (np.float64, np.float32, np.float16))


def _near_limit(rng, high: float, arrow_type: pa.DataType, n: int = 200) -> pa.Table:
    # Opposite signs near the limit: X[p_j] - X[p_last] overflows; weights above 1 extrapolate past it.
    values = rng.choice([-0.99, 0.99, 0.6, -0.1], size=n) * high
    return pa.table({"v": pa.array(values).cast(arrow_type), "y": rng.normal(size=n)})


@pytest.mark.parametrize(
    ("high", "arrow_type", "options"),
    [
        (F64, pa.float64(), ["--bounds", "none", "--repair", "none"]),
        (F64, pa.float64(), ["--bounds", "clip", "--repair", "none"]),
        (F64, pa.float64(), ["--bounds", "resample", "--repair", "none"]),
        (F64, pa.float64(), ["--weights", "dirichlet:k=3,alpha=1", "--bounds", "none", "--repair", "none"]),
        (F32, pa.float32(), ["--bounds", "none", "--repair", "none"]),
        (F32, pa.float32(), []),
        (F16, pa.float16(), ["--bounds", "none", "--repair", "none"]),
        (F16, pa.float16(), ["--bounds", "none"]),
        (F16, pa.float16(), []),
    ],
    ids=["f64-none", "f64-clip", "f64-resample", "f64-dirichlet", "f32-none", "f32-defaults", "f16-none",
         "f16-bounds-none", "f16-defaults"],
)
def test_values_near_the_type_limit_stay_finite(runner, tmp_parquet, out, rng, high, arrow_type, options):
    src = tmp_parquet(_near_limit(rng, high, arrow_type))
    result = gen(runner, src, "-o", out, "--seed", 3, "-q", *options)
    assert (result.exit_code, result.stderr) == (0, "")  # no numpy warning text either
    column = pq.read_table(out).column("v")
    assert column.type == arrow_type
    values = column.to_numpy().astype(np.float64)
    assert np.isfinite(values).all()
    assert np.abs(values).max() <= high


def test_collapse_study_refuses_values_it_cannot_square(runner, tmp_parquet, rng):
    src = tmp_parquet(_near_limit(rng, F64, pa.float64()))
    result = runner.invoke(app, ["collapse-study", str(src), "--rounds", "1", "--format", "json"])
    message = assert_error(result, 1, "column 'v' has values up to 1.78e+308 in magnitude")
    assert message.endswith("needs |value| <= 1e+150: rescale the column (generate itself mixes such values)")


def test_collapse_study_on_float16_values_near_the_limit(runner, tmp_parquet, rng):
    src = tmp_parquet(_near_limit(rng, F16, pa.float16(), n=120))
    result = runner.invoke(app, ["collapse-study", str(src), "--rounds", "1", "--format", "json", "-q"])
    assert (result.exit_code, result.stderr) == (0, "")
    records = json.loads(result.stdout)["records"]
    assert {r["round"] for r in records} == {0, 1}


@pytest.mark.parametrize("limit", ["1e400", "1e400%", "1e300GB", "2e308"])
def test_memory_limit_past_the_float_range(runner, src, out, limit):
    # float("1e400") is inf: int(inf) used to raise OverflowError, with a traceback.
    result = gen(runner, src, "-o", out, "--memory-limit", limit)
    assert_error(result, 2, f"--memory-limit expects a finite size such as 2GB, 512MiB or 25%, got '{limit}'", out=out)


def test_weights_at_the_edge_of_the_ranges_work(runner):
    for spec in ("epbeta:eps=10", "epdirichlet:k=3,eps=10", "beta:1e12,1e12"):
        result = runner.invoke(app, ["weights", spec, "--json"])
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["variance_factor"] == pytest.approx(1.0 if "eps" in spec else 0.5)
