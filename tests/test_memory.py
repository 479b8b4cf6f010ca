"""Memory: compact encoding (precision), spilling to a memory map, sizes, and --dry-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth.cli import app
from mixsynth.engines.local import piece_rows, pieces
from mixsynth.errors import UsageError
from mixsynth.memory import allocate, default_memory_limit, parse_size, physical_memory
from mixsynth.options import SynthesisOptions
from mixsynth.schema import ColumnSpec, infer_kind
from mixsynth.synthesis.draws import draw
from mixsynth.synthesis.encode import encode, layout
from mixsynth.synthesis.synthesizer import Synthesizer

ROOT = __file__.rsplit("/tests/", 1)[0]


def _specs(table):
    return [ColumnSpec(f.name, infer_kind(f.name, f.type), f) for f in table.schema]


def _quiet(_msg):
    pass


def _digits_like(n=200, seed=0):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 17, n * 16).astype(np.float32)
    return pa.table({
        "pixels": pa.FixedSizeListArray.from_arrays(pa.array(pixels), 16),
        "digit": pa.array(rng.integers(0, 10, n).astype(np.int8)),
        "weight": pa.array(rng.normal(size=n).astype(np.float32)),
        "day": pa.array(rng.integers(18000, 19000, n).astype(np.int32)).cast(pa.date32()),
    })


# --- precision ------------------------------------------------------------------------------


def test_float32_sources_encode_as_float32_and_stay_exact():
    table = _digits_like()
    enc = encode(table, _specs(table))
    assert enc.X.dtype == np.float32
    pixels = np.asarray(table["pixels"].combine_chunks().values).reshape(-1, 16)
    np.testing.assert_array_equal(enc.X[:, :16], pixels)
    np.testing.assert_array_equal(enc.X[:, 17], table["weight"].to_numpy())


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        (pa.array([1.5, 2.25]), np.float64),  # float64 source: float32 would round it
        (pa.array([0, 2**24], pa.int64()), np.float32),  # exact in float32
        (pa.array([0, 2**24 + 1], pa.int64()), np.float64),  # not exact in float32
        (pa.array([-(2**15), 2**15 - 1], pa.int16()), np.float32),
        (pa.array([0, 10**12], pa.int64()).cast(pa.timestamp("us")), np.float64),
        (pa.array([0, 86_399], pa.int32()).cast(pa.time32("s")), np.float32),
        (pa.array([1.0, None], pa.float16()), np.float32),
    ],
)
def test_auto_precision_never_loses_what_the_source_has(column, dtype):
    table = pa.table({"c": column, "f32": pa.array([1.0, 2.0], pa.float32())})
    plan = layout(table, _specs(table))
    assert plan.dtype == dtype
    assert plan.wide == ([] if dtype == np.float32 else ["c"])


def test_forced_precisions():
    table = pa.table({"x": [0.1, 0.2, 0.3], "f": pa.array([1, 2, 3], pa.float32())})
    notes = []
    assert encode(table, _specs(table), precision="float32", notify=notes.append).X.dtype == np.float32
    assert notes == ["--precision float32 rounds 'x' (their values need float64)"]
    assert layout(pa.table({"f": table["f"]}), _specs(table)[1:], "float64").dtype == np.float64
    with pytest.raises(UsageError, match="unknown precision 'half'"):
        layout(table, _specs(table), "half")


@pytest.mark.slow
def test_mixing_happens_in_float32_and_output_keeps_the_schema():
    table = _digits_like()
    synth = Synthesizer(table, SynthesisOptions(seed=1), notify=_quiet)
    out = pa.concat_tables(synth.chunks(5000))
    assert synth.enc.X.dtype == np.float32
    assert synth.provenance()["precision"] == "float32"
    assert out.schema.equals(table.schema)
    assert synth.mix(synth.whole, draw(1, 0, 10, 200, synth.law)).dtype == np.float32


@pytest.mark.slow
def test_float64_precision_gives_nearly_the_same_rows():
    table = _digits_like()
    a = pa.concat_tables(Synthesizer(table, SynthesisOptions(seed=1), notify=_quiet).chunks(3000))
    b = pa.concat_tables(Synthesizer(table, SynthesisOptions(seed=1), notify=_quiet, precision="float64").chunks(3000))
    np.testing.assert_allclose(a["weight"].to_numpy(), b["weight"].to_numpy(), rtol=1e-5, atol=1e-6)
    assert a["digit"].equals(b["digit"]) or np.mean(a["digit"].to_numpy() != b["digit"].to_numpy()) < 0.01


# --- spilling -------------------------------------------------------------------------------


@pytest.fixture
def spill_dir(tmp_path, monkeypatch):
    where = tmp_path / "spill"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


@pytest.mark.slow
def test_spilled_source_gives_identical_rows_and_leaves_no_file(spill_dir):
    table = _digits_like(500)
    notes = []
    spilled = Synthesizer(table, SynthesisOptions(seed=7, bounds="resample"), notify=notes.append, memory_limit=1024)
    in_ram = Synthesizer(table, SynthesisOptions(seed=7, bounds="resample"), notify=_quiet)
    assert any("spilling it to a memory-mapped file" in note for note in notes)
    assert not spilled.enc.X.flags.owndata
    assert in_ram.enc.X.flags.owndata
    np.testing.assert_array_equal(spilled.enc.X, in_ram.enc.X)
    assert pa.concat_tables(spilled.chunks(20_000, jobs=2)).equals(pa.concat_tables(in_ram.chunks(20_000)))
    assert list(spill_dir.iterdir()) == []  # unlinked while mapped: nothing to clean up later


def test_allocate_in_ram_under_the_limit(spill_dir):
    a = allocate((10, 3), np.float32, 10**6)
    assert a.flags.owndata
    assert a.dtype == np.float32
    b = allocate((10, 3), np.float64, 100)
    b[:] = 1.5
    assert not b.flags.owndata
    assert float(b.sum()) == 45.0


@pytest.mark.slow
def test_cli_memory_limit_spills_with_identical_output(runner, tmp_parquet, tmp_path, spill_dir):
    src = tmp_parquet(_digits_like(300))
    outs = []
    for extra in ([], ["--memory-limit", "1KB"]):
        out = tmp_path / f"out{len(extra)}.parquet"
        result = runner.invoke(app, ["generate", str(src), "-o", str(out), "-n", "20000", "--seed", "3", *extra])
        assert result.exit_code == 0, result.stderr
        outs.append(pq.read_table(out))
        assert ("spilling" in result.stderr) == bool(extra)
        assert ("reading them through a memory-mapped file" in result.stderr) == bool(extra)
    assert outs[0].equals(outs[1])


# --- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [("2GB", 2 * 10**9), ("512MiB", 512 * 2**20), ("512M", 512 * 2**20), ("1.5gib", 3 * 2**29),
     ("1e6", 10**6), ("100", 100), ("64 KB", 64_000)],
)
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "2 GBs", "-1GB", "0", "1.5.2M"])
def test_parse_size_rejects(text):
    with pytest.raises(UsageError, match="--memory-limit"):
        parse_size(text)


def test_default_limit_is_half_the_ram():
    assert physical_memory() > 2**26
    assert default_memory_limit() == physical_memory() // 2
    assert parse_size("50%") == pytest.approx(physical_memory() / 2, rel=1e-9)


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_reports_and_writes_nothing(runner, tmp_parquet, tmp_path):
    src = tmp_parquet(_digits_like(300))
    out = tmp_path / "never.parquet"
    result = runner.invoke(app, ["generate", str(src), "-o", str(out), "-n", "1e6", "--dry-run",
                                 "--seed", "1", "-j", "2", "--memory-limit", "10KB"])
    assert result.exit_code == 0, result.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".*.tmp"))
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["source rows"] == "300 (read through a memory-mapped temporary file)"
    assert lines["columns"] == "4 (1 float, 1 integer, 1 temporal, 1 tensor)"
    assert lines["encoded"].startswith("d = 19 mixed columns, float32, 22.3 KiB spilled")
    assert lines["rows"] == "1,000,000"
    tasks = sum(1 for _ in pieces(10**6, 131_072, piece_rows(19)))
    assert lines["blocks"].startswith(f"8 row groups of up to 131,072 rows, computed as {tasks} tasks")
    assert lines["backend"] == "numpy"
    assert lines["dry run"] == "nothing written"
    assert lines["peak memory"].startswith("about ")
    assert lines["output"].endswith(f"to {out}")


def test_dry_run_to_stdout_prints_the_report_not_parquet(runner, tmp_parquet):
    src = tmp_parquet({"x": [1.0, 2.0, 3.0]})
    result = runner.invoke(app, ["generate", str(src), "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert not result.stdout_bytes.startswith(b"PAR1")
    assert "output: about" in result.stdout


def _peak_rss_mib(rows: str, tmp_path) -> tuple[float, float]:
    """Peak RSS of a ``generate`` process and of its largest forked worker (MiB). The
    process's own is its memory image's high-water mark (VmHWM): its ``ru_maxrss`` would
    start at the RSS of the pytest process it was forked from (Linux keeps the old image's
    peak across exec), which can hide a growth of this one."""
    code = (
        "import resource, sys\n"
        "from mixsynth.cli import main\n"
        "sys.argv = ['mixsynth', 'generate', sys.argv[1], '-n', sys.argv[2], '-o', sys.argv[3],"
        " '--seed', '1', '-q', '-j', '2']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "hwm = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = tmp_path / f"rss{rows}.parquet"
    done = subprocess.run([sys.executable, "-c", code, f"{ROOT}/sample_data/wine.parquet", rows, str(out)],
                          capture_output=True, text=True, check=True, env={**os.environ, "MIXSYNTH_JOBS": "2"})
    parent, worker = done.stdout.split()[-2:]
    return int(parent) / 1024, int(worker) / 1024


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_rows(tmp_path):
    (small, small_w), (large, large_w) = _peak_rss_mib("2.7e5", tmp_path), _peak_rss_mib("1.35e6", tmp_path)
    # 5x the rows (3 vs 11 row groups); output is written block by block, so the peak stays,
    # in the process that writes and in its forked workers (the largest of them).
    assert small_w > 0  # -j 2 forked workers, and they were waited for
    assert large - small < 80, (small, large)
    assert large_w - small_w < 80, (small_w, large_w)


def test_provenance_records_backend_and_precision(tmp_parquet, runner, tmp_path):
    src = tmp_parquet({"x": [1.0, 2.0, 3.0]})
    out = tmp_path / "o.parquet"
    args = ["generate", str(src), "-o", str(out), "--seed", "1", "--precision", "float32"]
    assert runner.invoke(app, args).exit_code == 0
    record = json.loads(pq.ParquetFile(out).metadata.metadata[b"mixsynth"])
    assert (record["backend"], record["precision"]) == ("numpy", "float32")


@pytest.mark.slow
def test_large_source_is_read_through_a_memory_map(tmp_path, spill_dir):
    from mixsynth import io

    rng = np.random.default_rng(2)
    n = 30_000
    table = pa.table({
        "x": rng.normal(size=n),
        "cat": pa.array(rng.choice(["a", "b", "c"], n)).dictionary_encode(),
        "s": pa.array([None if i % 13 == 0 else f"w{i % 7}" for i in range(n)]),
        "px": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(4 * n).astype(np.float32)), 4),
        "skip": rng.normal(size=n),
    })
    path = tmp_path / "big.parquet"
    pq.write_table(table, path, row_group_size=7000)
    select = lambda names: [c for c in names if c != "skip"]  # noqa: E731
    notes = []
    before = pa.total_allocated_bytes()
    mapped = io.read_source(str(path), select, memory_limit=100_000, notify=notes.append)
    assert mapped.mapped
    assert "through a memory-mapped file" in notes[0]
    assert pa.total_allocated_bytes() - before < table.nbytes // 4  # buffers are in the map
    plain = io.read_source(str(path), select)
    assert not plain.mapped
    assert mapped.table.equals(plain.table)
    assert list(spill_dir.iterdir()) == []
    a = pa.concat_tables(Synthesizer(mapped.table, SynthesisOptions(seed=1), notify=_quiet).chunks(5000))
    b = pa.concat_tables(Synthesizer(plain.table, SynthesisOptions(seed=1), notify=_quiet).chunks(5000))
    assert a.equals(b)
