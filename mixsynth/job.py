"""The file-to-file job behind ``mixsynth generate``: read, synthesise, write, report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import pyarrow as pa

from mixsynth import io
from mixsynth.arguments import select_columns
from mixsynth.engines.local import default_jobs
from mixsynth.engines.worker import checkpoint
from mixsynth.errors import UsageError
from mixsynth.estimate import check_free_space, check_memory, estimate
from mixsynth.memory import default_memory_limit
from mixsynth.options import GenerateOptions
from mixsynth.synthesis.backend import resolve as resolve_backend
from mixsynth.synthesis.synthesizer import Synthesizer

__all__ = ["adjustment_line", "generate_file"]

Notify = Callable[[str], None]
Progress = Callable[[Iterable[pa.Table], int], Iterator[pa.Table]]


def _silent(_message: str) -> None:
    """The default ``notify``: a library call says nothing unless asked."""


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


def _on_dask(source: str, output: str, options: GenerateOptions, notify: Notify, dry_run: bool) -> None:
    # Imported here so that Dask loads only when it is asked for.
    from mixsynth.engines.dask import generate_dataset  # noqa: PLC0415

    if dry_run:
        msg = "--dry-run is not available with --engine dask"
        raise UsageError(msg)
    result = generate_dataset(source, output, options, notify=notify)
    if options.synthesis.seed is None:
        notify(_seed_notice(result.seed))
    _report_adjusted(result.adjusted, result.provenance, notify)


def generate_file(
    source: str,
    output: str,
    options: GenerateOptions | None = None,
    *,
    notify: Notify = _silent,
    progress: Progress | None = None,
    stdout_isatty: bool = False,
    dry_run: bool = False,
) -> list[str] | None:
    """Run one ``mixsynth generate``: Parquet (or ``-``) in, Parquet (or ``-``) out.

    Parameters
    ----------
    source : str
        A Parquet file or directory, another format by extension, or ``-`` (stdin); a
        Parquet dataset or URL with ``--engine dask``.
    output : str
        Parquet file, ``-`` (stdout), or (``--engine dask``) a new directory.
    options : GenerateOptions, optional
        What to do (checked when built, before anything here runs).
    notify : callable
        Receives one-line notices (seed, identifiers, bounds counts); default: none.
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
    Run by :func:`mixsynth.engines.worker.run_in_worker`, the job stops at the checkpoints between
    its steps and between pieces of rows, raising :class:`~mixsynth.errors.Cancelled`
    (its temporary file removed on the way out).
    """
    options = options or GenerateOptions()
    run, synthesis = options.execution, options.synthesis
    if run.engine == "dask":
        _on_dask(source, output, options, notify, dry_run)
        return None
    io.check_output(output, source, stdout_isatty=stdout_isatty and not dry_run)
    budget = default_memory_limit() if run.memory_limit is None else run.memory_limit
    # One budget for the source and its encoding: the Arrow source may take half of it
    # (else it is read through a memory map), the encoded X what the source leaves.
    src = io.read_source(
        source, lambda names: select_columns(names, options.columns, options.exclude, synthesis.target),
        memory_limit=budget // 2, notify=notify)
    checkpoint()
    limit = max(budget - (0 if src.mapped else src.table.nbytes), 0)
    jobs = run.jobs or default_jobs()
    rows = options.rows or src.table.num_rows
    if dry_run:
        plan = estimate(src.table, rows, output=output, options=synthesis, notify=notify,
                        chunk_rows=run.chunk_rows, compression=run.compression, jobs=jobs, memory_limit=limit,
                        backend=resolve_backend(run.backend, notify=notify).name,
                        precision=run.precision, source_mapped=src.mapped)
        return plan.lines()
    if run.memory_check:
        # Before the space check, which may measure a sample of the output (that needs
        # memory too), and before encoding, where a wide table's allocations begin.
        check_memory(src.table, rows, chunk_rows=run.chunk_rows, jobs=jobs, memory_limit=limit, options=synthesis,
                     precision=run.precision, source_mapped=src.mapped)
    if run.space_check and output != "-":
        check_free_space(src.table, rows, output, options=synthesis,
                         precision=run.precision, compression=run.compression)
    checkpoint()
    synth = Synthesizer(src.table, synthesis, backend=run.backend, precision=run.precision, memory_limit=limit,
                        notify=notify)
    del src  # the Arrow source is encoded now; let its memory go before generating
    checkpoint()
    if synthesis.seed is None:
        notify(_seed_notice(synth.seed))  # before the work, so an interrupted run can be redone
    chunks: Iterable[pa.Table] = synth.chunks(rows, run.chunk_rows, jobs)
    record: dict = {}
    io.write_parquet(output, synth.output_schema_for(rows), progress(chunks, rows) if progress else chunks,
                     footer=lambda: record.update(synth.provenance()) or record, compression=run.compression)
    _report_adjusted(synth.adjustments(), record, notify)
    return None
