"""generate compares its estimated peak memory with what it can get, before encoding (issue 14).

The subprocess tests set a real address-space limit (``ulimit -v``) in the child. The limit
is taken from what this machine offers (at most half of it), never a fixed size, and the
refused run asks for far more than any machine's limit: its row group alone is 10 GB.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth import estimate
from mixsynth.cli import app
from mixsynth.errors import ResourceError
from mixsynth.memory import Room, memory_rooms
from mixsynth.options import SynthesisOptions

ROOT = Path(__file__).resolve().parents[1]
WINE = ROOT / "sample_data" / "wine.parquet"
MIXSYNTH = [sys.executable, "-m", "mixsynth"]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("MIXSYNTH_")}
REFUSED = re.compile(
    r"Error: the run needs about ([\d.]+) (MiB|GiB|TiB) of memory, more than the ([\d.]+) (KiB|MiB|GiB) "
    r"that (.+) allows; choose fewer columns \(--columns\), a smaller --row-group-size, fewer --jobs "
    r"or --repair none, or pass --no-memory-check to run anyway"
)
UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _bytes(number: str, unit: str) -> float:
    return float(number) * UNITS[unit]


def _limit() -> int:
    """An address-space limit below every other room here, so that it is the one that binds;
    4 GiB at most, and far above what reading a source takes (under 600 MB measured)."""
    return min([4 * 2**30, *(room.size // 2 for room in memory_rooms())])


def _run_limited(args: list[str], limit: int) -> subprocess.CompletedProcess[str]:
    def cap() -> None:  # in the child, before exec: what `ulimit -v` does
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run([*MIXSYNTH, *args], capture_output=True, text=True, env=ENV, timeout=600,
                          preexec_fn=cap, check=False)


def _wide(path: Path, columns: int = 10_000, rows: int = 20) -> Path:
    rng = np.random.default_rng(0)
    pq.write_table(pa.table({f"c{i}": rng.normal(size=rows) for i in range(columns)}), path)
    return path


@pytest.mark.slow
def test_wide_source_past_the_address_space_limit_is_refused_before_encoding(tmp_path):
    # 10 000 float64 columns: a 131 072-row group of the output is 10 GB of Arrow, about
    # 34 GiB at the peak. Without the check this run died later (MemoryError after two
    # minutes, or std::bad_alloc in native code, with no Error line).
    src = _wide(tmp_path / "wide.parquet")
    out = tmp_path / "out.parquet"
    limit = _limit()
    done = _run_limited(["generate", str(src), "-n", "1e6", "-j", "1", "--seed", "1", "-o", str(out)], limit)
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.splitlines()
    found = REFUSED.fullmatch(line)
    assert found, line
    need, room = _bytes(*found.group(1, 2)), _bytes(*found.group(3, 4))
    assert need > 5 * limit
    assert 0 < room < limit  # the limit less what is reserved but not resident
    assert found.group(5) == "the address-space limit (ulimit -v)"
    assert sorted(os.listdir(tmp_path)) == ["wide.parquet"]


@pytest.mark.slow
def test_a_run_that_fits_is_not_refused_under_the_same_limit(tmp_path):
    out = tmp_path / "out.parquet"
    done = _run_limited(["generate", str(WINE), "-n", "5000", "--seed", "1", "-q", "-o", str(out)], _limit())
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert pq.read_metadata(out).num_rows == 5000
    assert sorted(os.listdir(tmp_path)) == ["out.parquet"]


@pytest.fixture
def small_room(monkeypatch):
    """An address-space limit that leaves 64 MiB, as check_memory sees it."""
    room = Room(64 * 2**20, "the address-space limit (ulimit -v)", mapped=True)
    monkeypatch.setattr(estimate, "memory_rooms", lambda: [room])
    return room


def test_refusal_names_both_numbers_and_the_override(runner, tmp_path, small_room):
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(WINE), "-n", "5000", "--seed", "1", "-o", str(out)])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()  # before the seed notice and the writer
    found = REFUSED.fullmatch(line)
    assert found, line
    assert found.group(3, 4, 5) == ("64.0", "MiB", "the address-space limit (ulimit -v)")
    assert _bytes(*found.group(1, 2)) > 64 * 2**20
    assert os.listdir(tmp_path) == []


def test_no_memory_check_runs_anyway(runner, tmp_path, small_room):
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(WINE), "-n", "5000", "--seed", "1", "-q", "-o", str(out),
                                 "--no-memory-check"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert pq.read_metadata(out).num_rows == 5000


def test_dry_run_says_the_run_would_be_refused(runner, small_room):
    result = runner.invoke(app, ["generate", str(WINE), "-n", "5000", "--seed", "1", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    [line] = [x for x in result.stdout.splitlines() if x.startswith("peak memory: ")]
    assert re.fullmatch(r"peak memory: about [\d.]+ MiB \(more than the 64\.0 MiB that the address-space "
                        r"limit \(ulimit -v\) allows: the run would be refused\)", line), line


def test_dry_run_of_a_run_that_fits_prints_the_peak_alone(runner):
    result = runner.invoke(app, ["generate", str(WINE), "-n", "5000", "--seed", "1", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    [line] = [x for x in result.stdout.splitlines() if x.startswith("peak memory: ")]
    assert re.fullmatch(r"peak memory: about [\d.]+ MiB", line), line


@pytest.mark.slow
def test_a_short_run_is_not_charged_a_whole_piece(tmp_path, monkeypatch):
    # 20 rows of 10 000 columns compute 20 rows, not a 16 384-row piece (10 GiB of work
    # arrays); no repair means no pilot sample either.
    monkeypatch.setattr(estimate, "memory_rooms", lambda: [Room(2**30, "a 1 GiB test limit")])
    table = pq.read_table(_wide(tmp_path / "wide.parquet"))
    options = SynthesisOptions(repair="none")
    estimate.check_memory(table, 20, chunk_rows=131_072, jobs=2, memory_limit=2**40, options=options)
    with pytest.raises(ResourceError, match=r"^the run needs about [\d.]+ GiB of memory, more than the 1\.0 GiB "
                                            r"that a 1 GiB test limit allows;"):
        estimate.check_memory(table, 10**6, chunk_rows=131_072, jobs=2, memory_limit=2**40, options=options)


@pytest.mark.parametrize("error", [MemoryError, pa.ArrowMemoryError])
def test_out_of_memory_in_a_worker_thread_is_one_error_line(runner, tmp_path, monkeypatch, error):
    # Raised in one of the two workers (as NumPy and pyarrow raise it), then in the writer.
    from mixsynth import Synthesizer

    def no_memory(self, start, stop):
        msg = "malloc of size 1310720000 failed"
        raise error(msg)

    monkeypatch.setattr(Synthesizer, "block", no_memory)
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(WINE), "-o", str(out), "-q", "--seed", "1", "-j", "2"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: out of memory (malloc of size 1310720000 failed); choose fewer columns with --columns or "
        "fewer rows, or run where more memory is free"]
    assert os.listdir(tmp_path) == []
