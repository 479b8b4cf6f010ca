"""Blocks of synthetic rows computed in parallel, delivered in order, memory bounded.

``Synthesizer.block(start, stop)`` is a pure function of its range (randomness is keyed by
logical block, see :mod:`mixsynth.synthesis.draws`), so ranges can be computed in any order on any
number of workers and reassembled: the output is identical for every ``jobs`` and every
chunk size. Each output chunk (a Parquet row group) is cut into pieces on a fixed global
grid of :data:`PIECE_ROWS`; at most one chunk's pieces plus ``2 * jobs`` are in flight, so
memory depends on ``jobs``, the chunk and the piece size, never on ``-n``.

A pipeline: with ``jobs > 1`` the workers compute the next chunk's pieces while the
calling thread hands the current chunk to the Parquet writer, which encodes and compresses
without the GIL. The window is a whole chunk ahead because the writer takes a chunk at a
time: with only ``2 * jobs`` pieces ahead (the earlier window), the workers ran dry a
quarter of the way into each write. ``jobs == 1`` computes and writes in turn in one
thread (one core), so ``--jobs`` compares one core with several.

Processes where the caller allows it and the platform forks (:mod:`mixsynth.engines.processes`),
else threads. A block is thousands of NumPy and Arrow calls on arrays of a few thousand
values (the anchoring's sorts and searches per logical block and column), each releasing
the GIL for microseconds only, so threads mostly hand the GIL to each other. Measured by
``benchmarks/profile_jobs.py`` (randhie, 2e6 rows, blocks only, medians of 3 alternating
rounds, the 2-core build box): one job 2.04 s; 2 threads 1.62 s (1.26x, 2.59 s of CPU);
2 forked processes 1.31 s (1.56x, 2.46 s of CPU). Forked workers inherit the prepared
source instead of having it pickled to them (an earlier measurement with the source sent
to each process lost to threads); a result costs about 0.3 ms to pickle and unpickle
against 14 ms to compute. The block path makes no BLAS calls except GenLabel's posteriors;
those run with BLAS limited to one thread while ``jobs > 1`` so workers do not
oversubscribe the cores.

Piece size, single thread, Mrows/s for 4096 / 8192 / 16384 / 32768 / 65536 rows: wide
0.47 / 0.50 / 0.44 / 0.39 / 0.31, digits 0.85 / 1.04 / 1.16 / 1.01 / 0.83, wine 1.57 /
2.10 / 1.86 / 1.93 / 1.87. The kernel is memory-bound, so pieces whose temporaries stay in
cache win; 16384 keeps the per-piece overhead (one Arrow array per column) small for wide
tables too.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import pyarrow as pa

from mixsynth.engines.processes import can_fork, process_map
from mixsynth.engines.worker import checkpoint
from mixsynth.errors import UsageError
from mixsynth.synthesis.draws import LOGICAL_BLOCK

__all__ = ["PIECE_ROWS", "count_pieces", "default_jobs", "ordered_map", "piece_rows", "pieces", "run_blocks"]

#: Rows per parallel task, on a global grid (a multiple of the logical block, so no
#: random stream is drawn twice); measured above.
PIECE_ROWS = 2 * LOGICAL_BLOCK
#: Encoded columns up to which a task is twice :data:`PIECE_ROWS` long (see :func:`piece_rows`).
NARROW = 32


def piece_rows(d: int) -> int:
    """Rows per task for ``d`` encoded columns: four logical blocks for narrow tables, two
    for wider ones.

    A task's fixed costs (gathering its parents, an Arrow array per column, a message
    from a worker process) are paid per piece, its temporaries grow with ``d``. Measured
    by ``benchmarks/profile_jobs.py`` (randhie, d = 10, 2e6 rows, two alternating sets of
    2 rounds): one job 2.36 and 2.25 s with 16 384-row pieces, 1.92 and 1.91 s with 32 768,
    1.84 and 1.87 s with 65 536; two processes 1.35 and 1.43 s, 1.16 and 1.13 s, 1.14 and
    1.09 s. Wider tables keep 16 384 rows, their best above.

    Examples
    --------
    >>> piece_rows(10), piece_rows(65)
    (32768, 16384)
    """
    return 2 * PIECE_ROWS if d <= NARROW else PIECE_ROWS

T = TypeVar("T")
R = TypeVar("R")
Block = Callable[[int, int], tuple[pa.Table, np.ndarray]]


def default_jobs() -> int:
    """Cores this process may run on (its CPU affinity, not the machine's count)."""
    with contextlib.suppress(AttributeError, OSError):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], jobs: int, window: int | None = None
) -> Iterator[R]:
    """``map(fn, items)`` on ``jobs`` threads, results in order, at most ``window`` pending.

    Stopping the iteration (or an error in ``fn``, re-raised here) cancels the pending
    calls and waits only for the ones already running; so does a stop request to the job
    running this in a worker thread (:func:`mixsynth.engines.worker.checkpoint`, between items).

    Examples
    --------
    >>> list(ordered_map(lambda x: x * x, range(6), jobs=3))
    [0, 1, 4, 9, 16, 25]
    """
    if jobs < 1:
        msg = f"jobs must be >= 1, got {jobs}"
        raise UsageError(msg)
    # A piece is the finest unit a job can stop at: inside one, NumPy and Arrow hold its
    # thread. Checking only per row group made Ctrl-C wait for whole groups of pieces.
    if jobs == 1:
        for item in items:
            checkpoint()
            yield fn(item)
        return
    window = max(window or 2 * jobs, jobs)
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mixsynth")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            checkpoint()
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            checkpoint()
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def pieces(
    rows: int, chunk_rows: int, piece_rows: int = PIECE_ROWS
) -> Iterator[tuple[int, int, bool]]:
    """``(start, stop, last_of_chunk)`` covering ``0:rows``: chunks cut on the piece grid.

    Examples
    --------
    >>> list(pieces(10, 6, piece_rows=4))
    [(0, 4, False), (4, 6, True), (6, 8, False), (8, 10, True)]
    """
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        cut = start
        while cut < stop:
            nxt = min((cut // piece_rows + 1) * piece_rows, stop)
            yield cut, nxt, nxt == stop
            cut = nxt


def count_pieces(rows: int, chunk_rows: int, piece_rows: int = PIECE_ROWS) -> int:
    """How many pieces :func:`pieces` cuts (exact up to 100 000 chunks; beyond, chunks
    are counted as if each began on the grid, which they nearly all do).

    Examples
    --------
    >>> count_pieces(10, 6, piece_rows=4), len(list(pieces(10, 6, piece_rows=4)))
    (4, 4)
    """
    per_chunk = lambda m, s: (s + m - 1) // piece_rows - s // piece_rows + 1  # noqa: E731
    full, rest = divmod(rows, chunk_rows)
    if full > 100_000:  # pieces per chunk repeat with the grid; an exact count is not needed
        return full * math.ceil(chunk_rows / piece_rows) + (rest > 0)
    return sum(per_chunk(min(chunk_rows, rows - s), s) for s in range(0, rows, chunk_rows))


def _blas_one_thread(jobs: int) -> contextlib.AbstractContextManager[object]:
    if jobs == 1:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - ships with scikit-learn

    return threadpool_limits(limits=1, user_api="blas")


def run_blocks(
    block: Block, rows: int, chunk_rows: int, jobs: int = 1, piece_rows: int = PIECE_ROWS,
    processes: bool = False,
) -> Iterator[tuple[int, pa.Table, np.ndarray]]:
    """``(stop, table, adjusted)`` for each output chunk of ``0:rows``, in order.

    Parameters
    ----------
    block : callable
        ``block(start, stop) -> (table, adjusted)``, pure in its range.
    rows, chunk_rows : int
        Rows in all and per yielded table.
    jobs : int
        Workers (1: run in the calling thread).
    piece_rows : int
        Rows per task (see :data:`PIECE_ROWS`).
    processes : bool
        Forked worker processes instead of threads, where this process can fork
        (:mod:`mixsynth.engines.processes`); a run of one piece uses none.
    """
    if piece_rows < 1:
        msg = f"piece_rows must be >= 1, got {piece_rows}"
        raise UsageError(msg)
    def one(piece: tuple[int, int, bool]) -> tuple[int, bool, pa.Table, np.ndarray]:
        start, stop, last = piece
        table, adjusted = block(start, stop)
        return stop, last, table, adjusted

    parts: list[pa.Table] = []
    total: np.ndarray | None = None
    # No more workers than tasks: a short run on a many-core machine starts no idle ones.
    jobs = min(jobs, count_pieces(rows, chunk_rows, piece_rows))
    ahead = -(-min(chunk_rows, rows) // piece_rows) + 1 + 2 * jobs  # a chunk may straddle the grid
    with _blas_one_thread(jobs):
        tasks = pieces(rows, chunk_rows, piece_rows)
        forked = processes and jobs > 1 and can_fork()  # one task runs here
        run = process_map if forked else ordered_map
        for stop, last, table, adjusted in run(one, tasks, jobs, window=ahead):
            parts.append(table)
            total = adjusted if total is None else total + adjusted
            if last:
                yield stop, parts[0] if len(parts) == 1 else pa.concat_tables(parts), total
                parts, total = [], None
