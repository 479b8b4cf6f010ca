"""``generate --engine dask`` refuses what the local engine refuses, in the same words:
an output larger than the free space (unless ``--no-space-check``) and special files as
sources (a FIFO without a writer would block forever)."""

from __future__ import annotations

import os
import re
import types
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from mixsynth import estimate
from mixsynth.cli import app

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
SPACE = re.compile(
    r"Error: the output needs about ([\d.]+) TiB but only ([\d.]+) (?:[KMGT]i)?B is free in '(.+)'; write it "
    r"elsewhere \(-o\), make fewer rows \(-n\), or pass --no-space-check to write anyway"
)
FIFO = ("is a named pipe (FIFO), not a file; expected a regular file or a directory "
        "(to stream a table, pipe it to stdin and give - as the path)")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """wine.parquet as a directory of two Parquet files."""
    table = pq.read_table(ROOT / "sample_data" / "wine.parquet")
    src = tmp_path / "src"
    src.mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), src / "a.parquet")
    pq.write_table(table.slice(half), src / "b.parquet")
    return src


def _generate(runner, *args: str):
    return runner.invoke(app, ["generate", *args, "--engine", "dask", "--seed", "1"])


def test_output_larger_than_the_free_space_is_refused_before_writing(dask_client, runner, source, tmp_path):
    result = _generate(runner, str(source), "-n", "1e12", "-o", str(tmp_path / "out"))
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()  # as locally: one line, nothing else
    found = SPACE.fullmatch(line)
    assert found, line
    assert float(found.group(1)) > 10  # wine takes tens of bytes a row
    assert found.group(3) == str(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["src"]


@pytest.fixture
def full_disk(monkeypatch):
    """A disk with 64 KiB free, as estimate.check_free_space sees it."""
    usage = types.SimpleNamespace(total=2**30, used=2**30 - 2**16, free=2**16)
    monkeypatch.setattr(estimate, "shutil", types.SimpleNamespace(disk_usage=lambda _path: usage))


@pytest.mark.slow
def test_no_space_check_writes_anyway(dask_client, runner, source, tmp_path, full_disk):
    out = tmp_path / "out"
    refused = _generate(runner, str(source), "-n", "20000", "-o", str(out))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: the output needs about ")
    assert refused.stderr.endswith("but only 64.0 KiB is free in " + repr(str(tmp_path)) + "; write it elsewhere "
                                   "(-o), make fewer rows (-n), or pass --no-space-check to write anyway\n")
    assert not out.exists()
    written = _generate(runner, str(source), "-n", "20000", "-o", str(out), "--no-space-check", "-q")
    assert written.exit_code == 0, written.output
    assert ds.dataset(out).count_rows() == 20000


@pytest.mark.parametrize("where", ["source", "inside"])
def test_fifo_source_is_refused_without_blocking(dask_client, runner, tmp_path, where):
    if where == "source":
        fifo = src = tmp_path / "x.parquet"
    else:  # a FIFO among the files of a directory source
        src = tmp_path / "src"
        src.mkdir()
        pq.write_table(pa.table({"x": np.linspace(0.0, 1.0, 50)}), src / "a.parquet")
        fifo = src / "b.parquet"
    os.mkfifo(fifo)  # no writer: opening it for reading would block forever
    result = _generate(runner, str(src), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    shown = repr(str(fifo))
    assert result.stderr.splitlines() == [f"Error: {shown} {FIFO}"]
    assert not (tmp_path / "out").exists()


def test_device_source_is_refused(dask_client, runner, tmp_path):
    result = _generate(runner, os.devnull, "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: '{os.devnull}' is a character device, not a file;")
