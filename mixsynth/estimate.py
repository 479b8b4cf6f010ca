"""What a ``generate`` run would do, without doing it (``--dry-run``).

Column kinds, the encoded layout and whether it spills are exact (the same planning code
as a real run, minus building ``X``). Output size is measured: a few thousand rows are
synthesised from a sample of the source and compressed like the real output, then scaled.
Peak memory is a model: interpreter and libraries, the Arrow source, ``X`` when it stays
in RAM, the start-up pilot sample (when a repair is fitted) or else the pieces in flight
and the row groups being written. Calibrated on measured peak RSS (``/usr/bin/time``,
``--repair none``, 1 and 2 threads) of wine and digits at 1e6 rows and of 200 and 1000
float64 columns at 3e5 rows: from 3 % under to 24 % over (the widest, with 2 threads).
"""

from __future__ import annotations

import io as _io
import math
import os
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mixsynth.engines.local import count_pieces, piece_rows
from mixsynth.errors import MixsynthError, ResourceError
from mixsynth.memory import Room, default_memory_limit, format_size, memory_rooms
from mixsynth.options import SynthesisOptions
from mixsynth.synthesis.columns import plan_columns
from mixsynth.synthesis.draws import pilot_rows
from mixsynth.synthesis.encode import Layout, layout
from mixsynth.synthesis.repair import resolve_repair

if TYPE_CHECKING:
    from mixsynth.synthesis.bounds import Bounds

__all__ = ["Estimate", "check_free_space", "check_memory", "estimate"]

#: Resident size of the interpreter with mixsynth, pyarrow, pandas and rich imported
#: (peak RSS of a 10-row run of wine with --repair none: 144 MiB; 182 MiB while scipy was
#: imported at start-up).
_BASELINE = 144 * 2**20
#: Source rows synthesised from and rows made to measure the output's bytes per row.
_SAMPLE_SOURCE, _SAMPLE_ROWS = 4096, 8192
#: Temporaries per running piece, in copies of the piece's encoded rows (the mixed rows
#: and the kernel's work arrays; it mixes in place), beside two of its Arrow rows.
_WORK_COPIES = 2
#: The row groups being written, in copies of one group's Arrow size: the assembled
#: pieces, the writer's pages and buffers, and what the allocator keeps of the previous
#: group (1000 float64 columns: 3.0 GB above the baseline with 1.0 GB groups). Workers
#: computing the next group while one is written were once counted as one more group;
#: peaks measured with 1 and 2 threads differ by a piece's work, not a group.
_WRITE_COPIES = 3
#: Fixed cost of generating: the Parquet writer, allocator arenas.
_RUN = 32 * 2**20
#: Fixed cost of each worker: a forked worker process dirties about 12 MB of its own
#: (what it shares with the parent is counted once); wine at 3e6 rows with 2 workers:
#: 276 MiB proportional set size over the parent and workers, against 264 MiB modelled
#: with 16 MiB per worker.
_THREAD = 24 * 2**20
#: Copies of the pilot sample (the repair or anchoring fit at start-up) alive at once.
#: Measured peak RSS less the --repair none run's, 20 source rows, -j 1: 2.0 copies at
#: d = 100 (100 000 pilot rows), 2.1 at 1000, 2.4 at 3000 and 10 000 (8192 rows; 1.6 GiB
#: in all, where the earlier 7 copies made 4.4 GiB and would have refused runs that fit).
_PILOT_COPIES = 2.5


@dataclass(frozen=True)
class Estimate:
    """A dry run's findings; ``lines()`` renders them."""

    source_rows: int
    kinds: dict[str, str]
    d: int
    dtype: str
    wide: list[str]
    rows: int
    chunk_rows: int
    tasks: int
    piece_rows: int
    jobs: int
    backend: str
    encoded_bytes: int
    memory_limit: int
    spills: bool
    peak_bytes: int
    output_bytes: int | None
    output: str
    source_mapped: bool = False
    compression: str = "zstd"
    #: ``(need, room)`` when the peak is more than the run can get (it would be refused).
    short: tuple[int, Room] | None = None

    def lines(self) -> list[str]:
        """``key: value`` lines (for people and for ``grep``)."""
        counts = Counter(self.kinds.values())
        kinds = ", ".join(f"{c} {k}" for k, c in sorted(counts.items()))
        why = f" ({self.wide[0]!r} needs float64)" if self.dtype == "float64" and self.wide else ""
        groups = math.ceil(self.rows / self.chunk_rows)
        limit = format_size(self.memory_limit)
        where = (f"spilled to a memory-mapped temporary file (over the {limit} limit)"
                 if self.spills else f"in memory (limit {limit})")
        size = format_size(self.output_bytes) if self.output_bytes is not None else "unknown"
        out = "stdout" if self.output == "-" else self.output
        over = ""
        if self.short is not None:
            need, room = self.short
            over = (f" (more than the {format_size(room.size)} that {room.limit} allows: the run would "
                    "be refused)")
        return [
            f"source rows: {self.source_rows:,}"
            + (" (read through a memory-mapped temporary file)" if self.source_mapped else ""),
            f"columns: {len(self.kinds)} ({kinds})",
            f"encoded: d = {self.d} mixed columns, {self.dtype}{why}, "
            f"{format_size(self.encoded_bytes)} {where}",
            f"rows: {self.rows:,}",
            f"blocks: {groups:,} row groups of up to {self.chunk_rows:,} rows, computed as "
            f"{self.tasks:,} tasks of up to {self.piece_rows:,} rows on {self.jobs} "
            f"worker{'s' * (self.jobs != 1)}",
            f"backend: {self.backend}",
            f"peak memory: about {format_size(self.peak_bytes)}{over}",
            f"output: about {size} of {self.compression} Parquet to {out}",
            "dry run: nothing written",
        ]


def _output_bytes_per_row(
    table: pa.Table, options: SynthesisOptions, precision: str, compression: str = "zstd"
) -> tuple[float, float] | None:
    """(Parquet bytes, Arrow bytes) per synthetic row, measured on a small run."""
    from mixsynth.synthesis.synthesizer import Synthesizer  # noqa: PLC0415 - it imports this module's peers

    rng = np.random.default_rng(0)
    n = table.num_rows
    sample = table
    if n > _SAMPLE_SOURCE:
        sample = table.take(np.sort(rng.choice(n, _SAMPLE_SOURCE, replace=False)))
    try:
        synth = Synthesizer(sample, options, precision=precision, notify=lambda _msg: None)
        out = pa.concat_tables(synth.chunks(_SAMPLE_ROWS))
    except MixsynthError:
        return None  # the sample can fail where the whole works (a column null in the sample)
    buf = _io.BytesIO()
    pq.write_table(out, buf, compression=compression)
    return buf.tell() / out.num_rows, out.nbytes / out.num_rows


def _arrow_row_bytes(table: pa.Table) -> float:
    """Arrow bytes per row of ``table``, dictionary columns counted as their values (the
    output may hold them decoded)."""
    total = 0.0
    for column in table.columns:
        total += column.nbytes / max(table.num_rows, 1)
        if pa.types.is_dictionary(column.type) and column.num_chunks:
            values = column.chunk(0).dictionary
            total += values.nbytes / max(len(values), 1)
    return total


def check_free_space(
    table: pa.Table,
    rows: int,
    output: str,
    *,
    options: SynthesisOptions | None = None,
    precision: str = "auto",
    compression: str = "zstd",
) -> None:
    """Refuse a run whose output would not fit in the free space of its directory.

    A cheap bound comes first: a Parquet row takes less than twice its Arrow row (plus
    a margin for columns added on the way, such as regenerated keys), so a run under
    that bound is let through without measuring. Past it, the output is measured as
    ``--dry-run`` measures it (a small synthetic sample written with the codec), which
    takes a second or two. GenLabel's probability columns are not in the source, so
    with them the output is always measured.

    Raises
    ------
    ResourceError
        The measured output is larger than the free space.
    """
    options = options or SynthesisOptions()
    where = os.path.dirname(os.path.abspath(output))
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return  # no figure to compare with; writing will say what goes wrong
    soft = options.labels.genlabel_soft
    if not soft and rows * (2 * _arrow_row_bytes(table) + 64) + 2**20 <= free:
        return
    measured = _output_bytes_per_row(table, options, precision, compression)
    if measured is None:
        return
    need = int(measured[0] * rows)
    if need > free:
        msg = (
            f"the output needs about {format_size(need)} but only {format_size(free)} is free in "
            f"{where!r}; write it elsewhere (-o), make fewer rows (-n), or pass --no-space-check "
            "to write anyway"
        )
        raise ResourceError(msg)


def _runs_pilot(options: SynthesisOptions) -> bool:
    """Whether the run fits a repair on a pilot sample first (``--repair`` resolved)."""
    # resolve_repair decides from the law, the mode and the space alone; the bounds it
    # takes do not enter the answer, and they are not built before encoding.
    mode = resolve_repair(options.repair, options.law, options.space, cast("Bounds", None))
    return mode != "none"


def _peak(
    table: pa.Table,
    plan: Layout,
    rows: int,
    *,
    chunk_rows: int,
    jobs: int,
    arrow_row: float,
    spills: bool,
    source_mapped: bool,
    pilot: bool,
) -> int:
    """The peak-memory model of the module docstring, in bytes (resident, not mapped)."""
    item = plan.dtype.itemsize
    piece = min(piece_rows(plan.d), rows)  # a run shorter than a piece computes only its own rows
    group = min(chunk_rows, rows)
    piece_work = piece * (plan.d * item * _WORK_COPIES + 2 * arrow_row + 64)
    in_flight = jobs * (piece_work + _THREAD)
    writing = _WRITE_COPIES * group * arrow_row
    # The start-up pilot (variance repair) and generation do not overlap: count the larger.
    fit = _PILOT_COPIES * pilot_rows(plan.d) * plan.d * item if pilot else 0
    encoded = table.num_rows * plan.d * item
    resident = _BASELINE + (0 if source_mapped else table.nbytes) + (0 if spills else encoded)
    return int(resident + max(fit, _RUN + in_flight + writing))


def _short(peak: int, mapped: int) -> tuple[int, Room] | None:
    """``(need, room)`` for the limit the run misses by most, or None when it fits them all.

    ``mapped`` (the spilled ``X``, a memory-mapped source) counts only where mappings do.
    """
    worst = None
    for room in memory_rooms():
        need = peak + (mapped if room.mapped else 0)
        if need > room.size and (worst is None or need - room.size > worst[0] - worst[1].size):
            worst = (need, room)
    return worst


def check_memory(
    table: pa.Table,
    rows: int,
    *,
    chunk_rows: int,
    jobs: int,
    memory_limit: int,
    precision: str = "auto",
    options: SynthesisOptions | None = None,
    source_mapped: bool = False,
) -> None:
    """Refuse a run whose estimated peak memory is more than it can get.

    The peak is ``--dry-run``'s model, with the output's row taken as the source's
    Arrow row instead of measured (measuring synthesises a sample, minutes on a table of
    10 000 columns); it is compared with :func:`mixsynth.memory.memory_rooms`. Checked
    after the source is read (its kinds, identifiers and float32 exactness come from its
    values) and before it is encoded, where a wide table's allocations begin.

    Parameters
    ----------
    memory_limit : int
        Bytes past which the encoded source is memory-mapped (``--memory-limit`` less
        what the Arrow source takes).

    Raises
    ------
    ResourceError
        The estimated peak is more than one of the limits leaves.
    """
    options = options or SynthesisOptions()
    specs = plan_columns(table, target=options.target, ids=options.ids,
                         notify=lambda _msg: None)  # the run itself says what the plan finds
    plan = layout(table, specs, precision)
    encoded = table.num_rows * plan.d * plan.dtype.itemsize
    spills = encoded > memory_limit
    peak = _peak(table, plan, rows, chunk_rows=chunk_rows, jobs=jobs, arrow_row=_arrow_row_bytes(table),
                 spills=spills, source_mapped=source_mapped, pilot=_runs_pilot(options))
    short = _short(peak, (encoded if spills else 0) + (table.nbytes if source_mapped else 0))
    if short is not None:
        need, room = short
        msg = (
            f"the run needs about {format_size(need)} of memory, more than the {format_size(room.size)} "
            f"that {room.limit} allows; choose fewer columns (--columns), a smaller --row-group-size, "
            "fewer --jobs or --repair none, or pass --no-memory-check to run anyway"
        )
        raise ResourceError(msg)


def estimate(
    table: pa.Table,
    rows: int,
    *,
    output: str = "-",
    chunk_rows: int,
    jobs: int,
    compression: str = "zstd",
    backend: str = "numpy",
    precision: str = "auto",
    memory_limit: int | None = None,
    options: SynthesisOptions | None = None,
    notify: Callable[[str], None] | None = None,
    source_mapped: bool = False,
) -> Estimate:
    """Plan a run of ``rows`` synthetic rows from ``table`` (already projected).

    Parameters
    ----------
    source_mapped : bool
        ``table`` lives in a memory-mapped file (:func:`mixsynth.io.read_source`).
    compression : str
        Parquet codec of the output (measured with it).
    options : SynthesisOptions, optional
        What decides the rows, used for the kinds and for measuring the output size.
    notify : callable, optional
        Receives the plan's notices (identifiers found, ...).
    """
    options = options or SynthesisOptions()
    specs = plan_columns(table, target=options.target, ids=options.ids,
                         notify=notify or (lambda _msg: None))
    plan = layout(table, specs, precision)
    limit = default_memory_limit() if memory_limit is None else memory_limit
    n = table.num_rows
    encoded = n * plan.d * plan.dtype.itemsize
    spills = encoded > limit
    measured = _output_bytes_per_row(table, options, precision, compression)
    parquet_row, arrow_row = measured if measured else (None, 8.0 * len(specs))
    peak = _peak(table, plan, rows, chunk_rows=chunk_rows, jobs=jobs, arrow_row=arrow_row, spills=spills,
                 source_mapped=source_mapped, pilot=_runs_pilot(options))
    return Estimate(
        source_rows=n, kinds={s.name: s.kind.value for s in specs}, d=plan.d,
        dtype=plan.dtype.name, wide=plan.wide, rows=rows, chunk_rows=chunk_rows,
        tasks=count_pieces(rows, chunk_rows, piece_rows(plan.d)), piece_rows=piece_rows(plan.d), jobs=jobs,
        backend=backend, encoded_bytes=encoded, memory_limit=limit, spills=spills,
        peak_bytes=peak, output=output, source_mapped=source_mapped, compression=compression,
        output_bytes=int(parquet_row * rows) if parquet_row is not None else None,
        short=_short(peak, (encoded if spills else 0) + (table.nbytes if source_mapped else 0)),
    )
