"""Parallel blocks: identical output for every --jobs and chunk size, order, bounded memory."""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth.cli import app
from mixsynth.engines.local import PIECE_ROWS, default_jobs, ordered_map, pieces, run_blocks
from mixsynth.errors import InputError, UsageError
from mixsynth.options import SynthesisOptions
from mixsynth.synthesis.synthesizer import Synthesizer


def _source(n=500, seed=0):
    rng = np.random.default_rng(seed)
    return pa.table({
        "user_id": pa.array(np.arange(n) + 1000),
        "x": rng.normal(size=n),
        "y": pa.array([None if i % 7 == 0 else float(v) for i, v in enumerate(rng.gamma(2.0, size=n))]),
        "k": rng.integers(0, 9, n).astype(np.int16),
        "s": pa.array([None if i % 11 == 0 else f"w{i % 5}" for i in range(n)]),
        "px": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(3 * n).astype(np.float32)), 3),
    })


def _generate(table, rows, chunk_rows, jobs, **kw):
    run = {k: kw.pop(k) for k in ("backend", "precision", "memory_limit") if k in kw}
    synth = Synthesizer(table, SynthesisOptions(seed=42, **kw), notify=lambda _m: None, **run)
    out = pa.concat_tables(synth.chunks(rows, chunk_rows, jobs=jobs))
    return out, synth


@pytest.mark.parametrize("bounds", ["auto", "resample"])
@pytest.mark.slow
def test_same_rows_for_every_jobs_and_chunk_size(bounds):
    table = _source()
    rows = 3 * PIECE_ROWS + 1234
    want, ref = _generate(table, rows, 10**9, jobs=1, bounds=bounds)
    for jobs, chunk_rows in [(2, 5000), (3, PIECE_ROWS), (4, 50_000), (2, 8191)]:
        got, synth = _generate(table, rows, chunk_rows, jobs=jobs, bounds=bounds)
        assert got.equals(want), (jobs, chunk_rows)
        assert synth.adjustments() == ref.adjustments()
        assert synth.rows_written == rows


def test_chunks_have_the_asked_sizes():
    synth = Synthesizer(_source(), SynthesisOptions(seed=1), notify=lambda _m: None)
    sizes = [t.num_rows for t in synth.chunks(100_000, 30_000, jobs=2)]
    assert sizes == [30_000, 30_000, 30_000, 10_000]


def test_pieces_cover_the_rows_on_the_global_grid():
    got = list(pieces(100_000, 45_000))
    assert got[0][0] == 0
    assert got[-1][1] == 100_000
    assert all(a[1] == b[0] for a, b in zip(got, got[1:], strict=False))
    assert {stop for _, stop, last in got if last} == {45_000, 90_000, 100_000}
    # Every cut is a chunk boundary or a multiple of the piece size.
    assert all(stop % PIECE_ROWS == 0 or last for _, stop, last in got)


def test_ordered_map_keeps_order_and_bounds_what_is_in_flight():
    lock, state = threading.Lock(), {"now": 0, "max": 0}

    def slow(i):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.002 * (i % 3))
        with lock:
            state["now"] -= 1
        return i

    started = []

    def items():
        for i in range(40):
            started.append(i)
            yield i

    for consumed, got in enumerate(ordered_map(slow, items(), jobs=3, window=5), start=1):
        assert got == consumed - 1
        assert len(started) - consumed <= 5  # never more than the window submitted ahead
    assert state["max"] <= 3


def test_an_error_in_a_worker_reaches_the_caller_and_stops_the_rest():
    calls = []

    def block(start, stop):
        calls.append(start)
        if start >= 2 * PIECE_ROWS:
            msg = "boom"
            raise InputError(msg)
        return pa.table({"x": np.zeros(stop - start)}), np.zeros(1, dtype=np.int64)

    with pytest.raises(InputError, match="boom"):
        list(run_blocks(block, 100 * PIECE_ROWS, PIECE_ROWS, jobs=2))
    assert len(calls) < 10  # the window stopped submitting; pending pieces were cancelled


def test_stopping_early_does_not_hang():
    synth = Synthesizer(_source(), SynthesisOptions(seed=1), notify=lambda _m: None)
    it = synth.chunks(10**7, PIECE_ROWS, jobs=2)
    first = next(it)
    it.close()
    assert first.num_rows == PIECE_ROWS


def test_bad_jobs_are_usage_errors():
    with pytest.raises(UsageError, match="jobs must be >= 1, got 0"):
        list(ordered_map(str, [1], jobs=0))
    assert default_jobs() >= 1


@pytest.mark.slow
def test_cli_jobs_1_and_2_write_the_same_file(runner, tmp_parquet, tmp_path):
    src = tmp_parquet(_source())
    outs = []
    for jobs, chunk in ((1, 100_000), (2, 7_777), (3, 40_000)):
        out = tmp_path / f"out{jobs}.parquet"
        args = ["generate", str(src), "-o", str(out), "-n", "90000", "--seed", "5", "-q",
                "--jobs", str(jobs), "--chunk-rows", str(chunk)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.stderr
        outs.append(pq.read_table(out))
    assert outs[0].equals(outs[1])
    assert outs[0].equals(outs[2])


def test_cli_jobs_from_the_environment_and_zero_rejected(runner, tmp_parquet, tmp_path):
    src = tmp_parquet({"x": [1.0, 2.0, 4.0]})
    out = tmp_path / "o.parquet"
    ok = runner.invoke(app, ["generate", str(src), "-o", str(out), "--seed", "1"], env={"MIXSYNTH_JOBS": "2"})
    assert ok.exit_code == 0, ok.stderr
    bad = runner.invoke(app, ["generate", str(src), "-o", str(out), "--jobs", "0"])
    assert bad.exit_code == 2
    assert "--jobs" in bad.stderr
