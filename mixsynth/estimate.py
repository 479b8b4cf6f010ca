"""What a ``generate`` run would do, without doing it (``--dry-run``).

Column kinds, the encoded layout and whether it spills are exact (the same planning code
as a real run, minus building ``X``). Output size is measured: a few thousand rows are
synthesised from a sample of the source and compressed like the real output, then scaled.
Peak memory is a model: interpreter and libraries, the Arrow source, ``X`` when it stays
in RAM, the start-up pilot sample or else the pieces in flight and the row group being
written. Calibrated on measured peak RSS (``/usr/bin/time``) of wine and digits at 1e3 and
1e6 rows, 2 threads, and checked on diabetes and penguins: within about 15 %.
"""

from __future__ import annotations

import io as _io
import math
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mixsynth.encode import layout
from mixsynth.errors import MixsynthError, ResourceError
from mixsynth.memory import default_memory_limit, format_size
from mixsynth.parallel import PIECE_ROWS
from mixsynth.plan import plan_columns
from mixsynth.space_plan import pilot_rows

__all__ = ["Estimate", "check_free_space", "estimate"]

#: Resident size of the interpreter with mixsynth, pyarrow, pandas and rich imported
#: (peak RSS of a 10-row run of wine with --repair none: 144 MiB; 182 MiB while scipy was
#: imported at start-up).
_BASELINE = 144 * 2**20
#: Source rows synthesised from and rows made to measure the output's bytes per row.
_SAMPLE_SOURCE, _SAMPLE_ROWS = 4096, 8192
#: Temporaries per running piece, in copies of the piece's encoded rows: the mixed rows,
#: the kernel's gathered parents and difference, the NaN and bounds masks, allocator slack.
_WORK_COPIES = 8
#: The row group being written, in copies of its Arrow size: the assembled pieces, their
#: concatenation, the writer's encoded pages and compressed buffers.
_WRITE_COPIES = 5
#: Fixed cost of generating: worker threads, the Parquet writer, allocator arenas.
_RUN = 32 * 2**20
#: Copies of the pilot sample (the variance repair fit at start-up) alive at once.
_PILOT_COPIES = 7


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
        return [
            f"source rows: {self.source_rows:,}"
            + (" (read through a memory-mapped temporary file)" if self.source_mapped else ""),
            f"columns: {len(self.kinds)} ({kinds})",
            f"encoded: d = {self.d} mixed columns, {self.dtype}{why}, "
            f"{format_size(self.encoded_bytes)} {where}",
            f"rows: {self.rows:,}",
            f"blocks: {groups:,} row groups of up to {self.chunk_rows:,} rows, computed as "
            f"{self.tasks:,} tasks of up to {PIECE_ROWS:,} rows on {self.jobs} "
            f"thread{'s' * (self.jobs != 1)}",
            f"backend: {self.backend}",
            f"peak memory: about {format_size(self.peak_bytes)}",
            f"output: about {size} of {self.compression} Parquet to {out}",
            "dry run: nothing written",
        ]


def _tasks(rows: int, chunk_rows: int) -> int:
    per_chunk = lambda m, s: (s + m - 1) // PIECE_ROWS - s // PIECE_ROWS + 1  # noqa: E731
    full, rest = divmod(rows, chunk_rows)
    if full > 100_000:  # pieces per chunk repeat with the grid; an exact count is not needed
        return full * math.ceil(chunk_rows / PIECE_ROWS) + (rest > 0)
    return sum(per_chunk(min(chunk_rows, rows - s), s) for s in range(0, rows, chunk_rows))


def _output_bytes_per_row(
    table: pa.Table, options: dict[str, Any], compression: str = "zstd"
) -> tuple[float, float] | None:
    """(Parquet bytes, Arrow bytes) per synthetic row, measured on a small run."""
    from mixsynth.generate import Synthesizer  # noqa: PLC0415 - generate imports this module's peers

    rng = np.random.default_rng(0)
    n = table.num_rows
    sample = table
    if n > _SAMPLE_SOURCE:
        sample = table.take(np.sort(rng.choice(n, _SAMPLE_SOURCE, replace=False)))
    quiet = {**options, "notify": lambda _msg: None, "backend": "numpy", "memory_limit": None}
    try:
        synth = Synthesizer(sample, **quiet)
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
    options: dict[str, Any] | None = None,
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
    options = dict(options or {})
    where = os.path.dirname(os.path.abspath(output))
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return  # no figure to compare with; writing will say what goes wrong
    labels = options.get("labels")
    soft = bool(getattr(labels, "genlabel_soft", False))
    if not soft and rows * (2 * _arrow_row_bytes(table) + 64) + 2**20 <= free:
        return
    measured = _output_bytes_per_row(table, {**options, "precision": precision}, compression)
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
    options: dict[str, Any] | None = None,
    source_mapped: bool = False,
) -> Estimate:
    """Plan a run of ``rows`` synthetic rows from ``table`` (already projected).

    Parameters
    ----------
    source_mapped : bool
        ``table`` lives in a memory-mapped file (:func:`mixsynth.io.read_source`).
    compression : str
        Parquet codec of the output (measured with it).
    options : dict, optional
        The other :class:`~mixsynth.generate.Synthesizer` arguments (``target``, ``ids``,
        ``weights``, ...), used for the kinds and for measuring the output size.
    """
    options = dict(options or {})
    notify = options.get("notify") or (lambda _msg: None)
    specs = plan_columns(table, target=options.get("target"), ids=options.get("ids", "regenerate"),
                         notify=notify)
    plan = layout(table, specs, precision)
    limit = default_memory_limit() if memory_limit is None else memory_limit
    n = table.num_rows
    encoded = n * plan.d * plan.dtype.itemsize
    spills = encoded > limit
    measured = _output_bytes_per_row(table, {**options, "precision": precision}, compression)
    parquet_row, arrow_row = measured if measured else (None, 8.0 * len(specs))
    piece_work = PIECE_ROWS * (plan.d * plan.dtype.itemsize * _WORK_COPIES + 2 * arrow_row + 64)
    in_flight = jobs * piece_work + 2 * jobs * PIECE_ROWS * arrow_row
    if jobs > 1:  # the workers compute the next row group while the writer has this one
        in_flight += min(chunk_rows, rows) * arrow_row
    writing = _WRITE_COPIES * min(chunk_rows, rows) * arrow_row
    # The start-up pilot (variance repair) and generation do not overlap: count the larger.
    pilot = _PILOT_COPIES * pilot_rows(plan.d) * plan.d * plan.dtype.itemsize
    resident = _BASELINE + (0 if source_mapped else table.nbytes) + (0 if spills else encoded)
    peak = resident + max(pilot, _RUN + in_flight + writing)
    return Estimate(
        source_rows=n, kinds={s.name: s.kind.value for s in specs}, d=plan.d,
        dtype=plan.dtype.name, wide=plan.wide, rows=rows, chunk_rows=chunk_rows,
        tasks=_tasks(rows, chunk_rows), jobs=jobs,
        backend=backend, encoded_bytes=encoded, memory_limit=limit, spills=spills,
        peak_bytes=int(peak), output=output, source_mapped=source_mapped, compression=compression,
        output_bytes=int(parquet_row * rows) if parquet_row is not None else None,
    )
