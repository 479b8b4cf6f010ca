"""The file-to-file job behind ``mixsynth generate``: read, synthesise, write, report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from mixsynth import io
from mixsynth.backend import resolve as resolve_backend
from mixsynth.errors import UsageError
from mixsynth.estimate import check_free_space, check_memory, estimate
from mixsynth.generate import DEFAULT_CHUNK_ROWS, Synthesizer
from mixsynth.labels import LabelOptions
from mixsynth.memory import default_memory_limit
from mixsynth.parallel import default_jobs
from mixsynth.plan import select_columns
from mixsynth.weights import DEFAULT_SPEC
from mixsynth.worker import checkpoint

__all__ = ["GenerateRequest", "adjustment_line", "generate_file"]

Notify = Callable[[str], None]
Progress = Callable[[Iterable[pa.Table], int], Iterator[pa.Table]]


@dataclass(frozen=True)
class GenerateRequest:
    """Everything ``mixsynth generate`` was asked to do, already parsed.

    Attributes mirror the command's options; ``rows=None`` means as many as the source,
    ``jobs=None`` all cores, ``memory_limit=None`` half the RAM (bytes otherwise);
    ``chunk_rows`` is ``--row-group-size``; ``space_check=False`` is ``--no-space-check``,
    ``memory_check=False`` ``--no-memory-check``.
    """

    source: str
    output: str = "-"
    rows: int | None = None
    columns: Sequence[str] | None = None
    exclude: Sequence[str] | None = None
    weights: str = DEFAULT_SPEC
    seed: int | None = None
    bounds: str = "auto"
    bounds_overrides: Mapping[str, object] | None = None
    repair: str = "auto"
    space: str = "raw"
    target: str | None = None
    labels: LabelOptions = field(default_factory=LabelOptions)
    nan: str = "error"
    ids: str = "regenerate"
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    compression: str = "zstd"
    jobs: int | None = None
    backend: str = "numpy"
    precision: str = "auto"
    memory_limit: int | None = None
    engine: str = "local"
    scheduler: str | None = None
    space_check: bool = True
    memory_check: bool = True

    def synthesizer_options(self, notify: Notify) -> dict[str, Any]:
        """Keyword arguments shared by the local and the sharded synthesizer."""
        return dict(weights=self.weights, seed=self.seed, bounds=self.bounds,
                    bounds_overrides=self.bounds_overrides, repair=self.repair, space=self.space,
                    target=self.target, labels=self.labels, nan=self.nan, ids=self.ids, notify=notify)


def adjustment_line(counts: Mapping[str, int], policies: Mapping[str, str]) -> str | None:
    """``bounds adjusted values: x 12 (clip), ...``, or None when nothing moved.

    Examples
    --------
    >>> adjustment_line({"x": 12, "y": 0}, {"x": "clip", "y": "clip"})
    'bounds adjusted values: x 12 (clip)'
    """
    moved = [f"{name} {count} ({policies[name]})" for name, count in counts.items() if count]
    return "bounds adjusted values: " + ", ".join(moved) if moved else None


def _seed_notice(seed: int) -> str:
    return f"seed {seed} (pass --seed {seed} to reproduce)"


def _report_adjusted(adjusted: Mapping[str, int], record: dict, notify: Notify) -> None:
    line = adjustment_line(adjusted, {k: v["policy"] for k, v in record["bounds"]["columns"].items()})
    if line:
        notify(line)


def _on_dask(req: GenerateRequest, notify: Notify, dry_run: bool) -> None:
    # Imported here so that Dask loads only when it is asked for.
    from mixsynth.dask_engine import generate_dataset

    if dry_run:
        msg = "--dry-run is not available with --engine dask"
        raise UsageError(msg)
    result = generate_dataset(
        req.source, req.output, req.rows, columns=req.columns, exclude=req.exclude,
        chunk_rows=req.chunk_rows, compression=req.compression, backend=req.backend, precision=req.precision,
        memory_limit=req.memory_limit, scheduler=req.scheduler, space_check=req.space_check,
        **req.synthesizer_options(notify))
    if req.seed is None:
        notify(_seed_notice(result.seed))
    _report_adjusted(result.adjusted, result.provenance, notify)


def generate_file(
    req: GenerateRequest,
    *,
    notify: Notify,
    progress: Progress | None = None,
    stdout_isatty: bool = False,
    dry_run: bool = False,
) -> list[str] | None:
    """Run one ``mixsynth generate``: Parquet (or ``-``) in, Parquet (or ``-``) out.

    Parameters
    ----------
    req : GenerateRequest
    notify : callable
        Receives one-line notices (seed, identifiers, bounds counts).
    progress : callable, optional
        Wraps the chunk iterator (a progress bar); given the iterator and the row count.
    stdout_isatty : bool
        Refuse ``-o -`` when stdout is a terminal.
    dry_run : bool
        Return the plan's lines instead of writing anything.

    Returns
    -------
    list of str or None
        The dry-run report, or None after writing the output.

    Notes
    -----
    Run by :func:`mixsynth.worker.run_in_worker`, the job stops at the checkpoints between
    its steps and between pieces of rows, raising :class:`~mixsynth.errors.Cancelled`
    (its temporary file removed on the way out).
    """
    if req.engine == "dask":
        _on_dask(req, notify, dry_run)
        return None
    io.check_output(req.output, req.source, stdout_isatty=stdout_isatty and not dry_run)
    budget = default_memory_limit() if req.memory_limit is None else req.memory_limit
    # One budget for the source and its encoding: the Arrow source may take half of it
    # (else it is read through a memory map), the encoded X what the source leaves.
    src = io.read_source(req.source, lambda names: select_columns(names, req.columns, req.exclude, req.target),
                         memory_limit=budget // 2, notify=notify)
    checkpoint()
    limit = max(budget - (0 if src.mapped else src.table.nbytes), 0)
    options = req.synthesizer_options(notify)
    jobs = req.jobs or default_jobs()
    if dry_run:
        plan = estimate(src.table, req.rows or src.table.num_rows, output=req.output, options=options,
                        chunk_rows=req.chunk_rows, compression=req.compression, jobs=jobs, memory_limit=limit,
                        backend=resolve_backend(req.backend, notify=notify).name,
                        precision=req.precision, source_mapped=src.mapped)
        return plan.lines()
    rows = req.rows or src.table.num_rows
    if req.memory_check:
        # Before the space check, which may measure a sample of the output (that needs
        # memory too), and before encoding, where a wide table's allocations begin.
        check_memory(src.table, rows, chunk_rows=req.chunk_rows, jobs=jobs, memory_limit=limit, options=options,
                     precision=req.precision, source_mapped=src.mapped)
    if req.space_check and req.output != "-":
        check_free_space(src.table, rows, req.output, options=options,
                         precision=req.precision, compression=req.compression)
    checkpoint()
    synth = Synthesizer(src.table, backend=req.backend, precision=req.precision, memory_limit=limit,
                        **options)
    del src  # the Arrow source is encoded now; let its memory go before generating
    checkpoint()
    if req.seed is None:
        notify(_seed_notice(synth.seed))  # before the work, so an interrupted run can be redone
    m = req.rows or synth.n
    chunks: Iterable[pa.Table] = synth.chunks(m, req.chunk_rows, jobs)
    record: dict = {}
    io.write_parquet(req.output, synth.output_schema_for(m), progress(chunks, m) if progress else chunks,
                     footer=lambda: record.update(synth.provenance()) or record, compression=req.compression)
    _report_adjusted(synth.adjustments(), record, notify)
    return None
