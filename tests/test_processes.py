"""Forked worker processes (``--jobs N`` on Linux): results in order from other processes,
errors and lost workers reported, nothing left running after a stop or a killed parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pyarrow as pa
import pytest

from mixsynth.engines import processes
from mixsynth.engines.local import PIECE_ROWS, run_blocks
from mixsynth.engines.processes import WorkerLost, can_fork, process_map
from mixsynth.errors import InputError, ResourceError, UsageError


def test_this_platform_forks_its_workers():
    # CI runs on Linux, where --jobs N forks; elsewhere run_blocks falls back to threads.
    assert can_fork() == sys.platform.startswith("linux")


def _gone(pid: int) -> bool:
    """The process has ended (reaped, or a zombie waiting for a reaper that is not us)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _pid_and_square(i: int) -> tuple[int, int]:
    return os.getpid(), i * i


def test_results_in_order_from_jobs_other_processes():
    got = list(process_map(_pid_and_square, range(25), jobs=3))
    assert [sq for _, sq in got] == [i * i for i in range(25)]
    pids = {pid for pid, _ in got}
    assert len(pids) == 3
    assert os.getpid() not in pids
    # Piece i went to worker i % 3: each worker answered every third item.
    assert all(got[i][0] == got[i % 3][0] for i in range(25))
    assert all(_gone(pid) for pid in pids)


def test_no_more_than_the_window_is_sent_ahead():
    started = []

    def items():
        for i in range(40):
            started.append(i)
            yield i

    for consumed, (_, got) in enumerate(process_map(_pid_and_square, items(), jobs=2, window=5), start=1):
        assert got == (consumed - 1) ** 2
        assert len(started) - consumed <= 5


def _fails_at_seven(i: int) -> int:
    if i == 7:
        msg = "row 7 is bad"
        raise InputError(msg)
    return i


def test_an_error_in_a_worker_is_raised_with_its_type_and_message():
    seen = []
    results = process_map(_fails_at_seven, range(1000), jobs=2, window=4)
    seen.extend(next(results) for _ in range(7))
    with pytest.raises(InputError, match="^row 7 is bad$"):
        next(results)
    assert seen == list(range(7))


class _Unpicklable(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")

    def __reduce__(self):
        msg = "cannot pickle this"
        raise TypeError(msg)


def _raises_unpicklable(_i: int) -> int:
    raise _Unpicklable(1, 2)


def test_an_error_that_cannot_be_pickled_still_arrives_as_one_line():
    with pytest.raises(RuntimeError, match=r"^_Unpicklable: 1/2 \(cannot pickle this\)$"):
        list(process_map(_raises_unpicklable, range(3), jobs=2))


def _dies_at_three(i: int) -> int:
    if i == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return i


def test_a_killed_worker_is_reported_not_waited_for():
    with pytest.raises(WorkerLost, match=r"a worker process \(pid \d+\) ended without finishing its rows; "
                                         r"it was killed by SIGKILL \(out of memory\?\): try fewer --jobs"):
        list(process_map(_dies_at_three, range(10), jobs=2))


def test_stopping_early_ends_the_workers():
    it = process_map(_pid_and_square, range(10**6), jobs=2)
    pids = {next(it)[0], next(it)[0]}
    it.close()
    assert len(pids) == 2
    assert all(_gone(pid) for pid in pids)


def test_bad_jobs_are_usage_errors():
    with pytest.raises(UsageError, match="jobs must be >= 1, got 0"):
        list(process_map(abs, [1], jobs=0))


def _block(start: int, stop: int) -> tuple[pa.Table, np.ndarray]:
    return pa.table({"pid": np.full(stop - start, os.getpid()), "row": np.arange(start, stop)}), np.ones(1, np.int64)


def test_run_blocks_uses_processes_when_asked_and_threads_otherwise():
    rows = 5 * PIECE_ROWS + 17
    forked = pa.concat_tables(t for _, t, _ in run_blocks(_block, rows, 3 * PIECE_ROWS, jobs=2, processes=True))
    threads = pa.concat_tables(t for _, t, _ in run_blocks(_block, rows, 3 * PIECE_ROWS, jobs=2))
    assert forked["row"].to_pylist() == list(range(rows)) == threads["row"].to_pylist()
    assert os.getpid() not in set(forked["pid"].to_pylist())
    assert set(threads["pid"].to_pylist()) == {os.getpid()}
    # One piece is computed in the calling process: forking would cost more than it saves.
    one = next(run_blocks(_block, PIECE_ROWS, PIECE_ROWS, jobs=2, processes=True))[1]
    assert set(one["pid"].to_pylist()) == {os.getpid()}


@pytest.mark.slow
def test_workers_of_a_killed_parent_leave_on_their_own(tmp_path):
    script = textwrap.dedent("""
        import os, signal, sys
        from mixsynth.engines.processes import process_map

        def pid(_i):
            return os.getpid()

        it = process_map(pid, range(10**6), jobs=2, window=2)
        print(next(it), next(it), flush=True)
        sys.stdin.readline()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in proc.stdout.readline().split()]
    assert len(set(pids)) == 2
    assert not any(_gone(pid) for pid in pids)  # idle, waiting for tasks
    proc.communicate("\n", timeout=120)
    assert proc.returncode == -signal.SIGKILL
    # A deadline that only guards against a hang: the workers notice within a poll.
    deadline = time.monotonic() + 120
    while not all(_gone(pid) for pid in pids):
        assert time.monotonic() < deadline, f"orphaned workers {pids} still running"
        time.sleep(0.05)


def test_a_short_run_starts_no_more_workers_than_it_has_pieces(monkeypatch):
    forks = []
    real = processes._fork

    def counted() -> int:
        pid = real()
        if pid:  # the parent (the child gets 0, serves, and ends in os._exit)
            forks.append(pid)
        return pid

    monkeypatch.setattr(processes, "_fork", counted)
    rows = 2 * PIECE_ROWS  # two pieces, one chunk: two workers although eight were allowed
    out = pa.concat_tables(t for _, t, _ in run_blocks(_block, rows, rows, jobs=8, processes=True))
    assert out["row"].to_pylist() == list(range(rows))
    assert len(forks) == 2
    assert set(out["pid"].to_pylist()) == set(forks)


def test_workers_that_cannot_be_started_are_one_clear_error(monkeypatch):
    started = []
    real = processes._fork

    def fails_second() -> int:
        if started:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        pid = real()
        if pid:
            started.append(pid)
        return pid

    monkeypatch.setattr(processes, "_fork", fails_second)
    with pytest.raises(ResourceError, match=r"^cannot start 3 worker processes \(Resource temporarily unavailable\); "
                                            r"try fewer --jobs \(this machine has \d+ cores\)$"):
        list(process_map(abs, range(10), jobs=3))
    assert len(started) == 1
    assert _gone(started[0])  # the one that did start was stopped
