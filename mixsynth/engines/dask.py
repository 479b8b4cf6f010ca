"""The Dask engine: a partitioned Parquet dataset in, a partitioned Parquet dataset out.

``pip install -e '.[dask]'``; Dask is imported only when this engine runs. The source
(a local path or any fsspec URL) is surveyed in one pass on the workers, one task per
source file; the client turns the facts into the local engine's decisions (column kinds,
identifiers, temporal origins, bounds) in a :class:`~mixsynth.synthesis.synthesizer.Synthesizer` over a
:class:`~mixsynth.engines.fragments.FragmentSource`
and ships that plan, without the data, to the workers. Output file ``p`` holds synthetic
rows ``[p·R, (p+1)·R)``, written by one task that draws its rows exactly as the local
engine does (parents are global row indices, uniform over all source rows), reads only
the parent rows it needs and mixes them with the local engine's code. The same seed
therefore gives the same rows as ``--engine local``, for any number of workers. The
start-up fits (repair, anchoring, identifier checks) also run on the workers, so the
client's memory does not grow with the source (a target or ``--within`` column excepted).
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from mixsynth import provenance
from mixsynth.arguments import select_columns
from mixsynth.engines.dask_client import client_for, mapper, require_dask, tree_reducer
from mixsynth.engines.fragments import FragmentSource
from mixsynth.errors import InputError, UsageError
from mixsynth.estimate import check_free_space
from mixsynth.io.dataset import (
    RowIndex,
    SourceDataset,
    gather_rows,
    open_dataset,
    resolve_filesystem,
)
from mixsynth.options import ExecutionOptions, GenerateOptions, SynthesisOptions, needs_every_row
from mixsynth.synthesis.draws import LOGICAL_BLOCK
from mixsynth.synthesis.synthesizer import Synthesizer

__all__ = [
    "DEFAULT_PARTITION_ROWS",
    "DatasetResult",
    "generate_dataset",
]

#: Synthetic rows per output file (a whole number of logical blocks, so no block is drawn twice).
DEFAULT_PARTITION_ROWS = 128 * LOGICAL_BLOCK
#: Source rows read (spread over the files, on the workers) to size the output before writing.
_SPACE_SAMPLE = 4096

T = TypeVar("T")


@dataclass(frozen=True)
class DatasetResult:
    """What :func:`generate_dataset` wrote.

    Attributes
    ----------
    path : str
        The output directory (or URL).
    files : list of str
        Output files in row order.
    rows : int
    seed : int
    adjusted : dict of str to int
        Values moved by the bounds policy, per column, over all files.
    provenance : dict
        The run's record (each file's footer holds it, with that file's range).
    """

    path: str
    files: list[str]
    rows: int
    seed: int
    adjusted: dict[str, int]
    provenance: dict[str, Any]


def _write_part(
    span: tuple[int, int, str],
    synth: Synthesizer,
    filesystem: pafs.FileSystem,
    chunk_rows: int,
    total: int,
    compression: str = "zstd",
) -> np.ndarray:
    start, stop, path = span
    adjusted = np.zeros_like(synth.adjusted)
    with pq.ParquetWriter(
        path, synth.output_schema_for(stop - start), filesystem=filesystem, compression=compression
    ) as writer:
        for table, adj in synth.part(start, stop, chunk_rows):
            # One row group per chunk, as the local engine writes (pyarrow caps at 1Mi rows).
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
            adjusted += adj
        # This file's counts, passed in: the plan is shared by the worker's tasks.
        record = synth.provenance(rows=total, adjusted=adjusted)
        record["engine"] = {"name": "dask", "start": start, "stop": stop}
        writer.add_key_value_metadata({provenance.KEY.decode(): provenance.dumps(record).decode()})
    return adjusted


def _check_output(output: str, source: str) -> tuple[pafs.FileSystem, str]:
    """Refuse outputs that are not a new directory, before any work is done."""
    if output == "-":
        msg = "--engine dask writes a directory of Parquet files; give -o DIR, not -"
        raise UsageError(msg)
    fs, path = resolve_filesystem(output)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.File or (
        info.type == pafs.FileType.Directory and fs.get_file_info(pafs.FileSelector(path))
    ):
        msg = (
            f"output {output!r} already exists; "
            "--engine dask writes a new directory of Parquet files"
        )
        raise UsageError(msg)
    if isinstance(fs, pafs.LocalFileSystem):
        out = Path(path).resolve()
        src = Path(source).resolve() if "://" not in source else None
        if src is not None and (out == src or src in out.parents):
            msg = f"output {output!r} would overwrite the source {source!r}; choose another path"
            raise UsageError(msg)
        if not out.parent.is_dir():
            msg = f"cannot write {output!r}: directory {str(out.parent)!r} does not exist"
            raise InputError(msg)
    return fs, path


#: Written last into a complete output directory, as Spark's and Hadoop's committers do;
#: readers (pyarrow, Dask, Spark) skip names starting with ``_`` when they read the data.
SUCCESS = "_SUCCESS"


def _mark_success(fs: pafs.FileSystem, path: str) -> None:
    with fs.open_output_stream(f"{path}/{SUCCESS}"):
        pass


@contextlib.contextmanager
def _output_dir(fs: pafs.FileSystem, path: str) -> Iterator[str]:
    """A directory to write the files into, committed whole or not at all.

    Local: the files go to a hidden sibling directory renamed into place at the end (one
    atomic rename). Object stores have no directory rename: the files go under
    ``PATH/_temporary/<token>/`` and are moved to ``PATH`` once every one is written (the
    commit of Hadoop's FileOutputCommitter); on any failure ``PATH`` is deleted again.
    Either way ``PATH/_SUCCESS`` is written last, so a reader that sees it sees every file.
    """
    if isinstance(fs, pafs.LocalFileSystem):
        out = Path(path).resolve()
        staging = out.parent / f".{out.name}.{secrets.token_hex(4)}.tmp"
        staging.mkdir()
        try:
            yield str(staging)
            _mark_success(fs, str(staging))
            os.replace(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return
    existed = fs.get_file_info(path).type == pafs.FileType.Directory  # empty, or refused before
    temporary = f"{path}/_temporary/{secrets.token_hex(4)}"
    fs.create_dir(temporary)
    try:
        yield temporary
        for info in fs.get_file_info(pafs.FileSelector(temporary)):
            fs.move(info.path, f"{path}/{info.base_name}")
        fs.delete_dir(f"{path}/_temporary")
        _mark_success(fs, path)
    except BaseException:
        with contextlib.suppress(OSError):
            if existed:
                fs.delete_dir_contents(path)
            else:
                fs.delete_dir(path)
        raise


def _fragment_rows(fragment: Any) -> int:
    return int(fragment.count_rows())


def _spread_rows(item: tuple[Any, int, int], schema: pa.Schema, columns: list[str]) -> pa.Table:
    """``k`` rows evenly spaced over a fragment of ``rows`` rows (only their row groups read)."""
    fragment, rows, k = item
    fragment.ensure_complete_metadata()
    groups = np.concatenate([[0], np.cumsum([g.num_rows for g in fragment.row_groups])])
    index = RowIndex((fragment,), schema, np.array([0, rows], dtype=np.int64), (groups.astype(np.int64),))
    return gather_rows(index, np.unique(np.linspace(0, rows - 1, k).round().astype(np.int64)), columns)


def _check_space(
    client: Any,
    src: SourceDataset,
    names: list[str],
    n: int | None,
    output: str,
    options: SynthesisOptions,
    precision: str,
    compression: str,
) -> None:
    """The local engine's free-space check (:func:`~mixsynth.estimate.check_free_space`),
    on a sample of source rows spread over the files and read by the workers."""
    run = mapper(client)
    rows = run(_fragment_rows, src.fragments)
    total = sum(rows)
    if total == 0:
        return  # nothing to measure; the synthesizer says what is wrong with the source
    want = min(total, _SPACE_SAMPLE)
    shares = [(f, r, max(1, round(want * r / total))) for f, r in zip(src.fragments, rows, strict=True) if r]
    parts = run(functools.partial(_spread_rows, schema=src.schema, columns=names), shares)
    sample = pa.concat_tables(parts).replace_schema_metadata(src.schema.metadata)
    check_free_space(sample, total if n is None else n, output, options=options, precision=precision,
                     compression=compression)


def generate_dataset(
    source: str,
    output: str,
    options: GenerateOptions | None = None,
    *,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    client: Any = None,
    notify: Callable[[str], None] | None = None,
) -> DatasetResult:
    """Synthesise rows from a Parquet dataset on a Dask cluster (``--engine dask``).

    Parameters
    ----------
    source : str
        Parquet file or directory (hive partitions read as columns), local or fsspec URL.
    output : str
        New directory (or URL) for ``part-NNNNN.parquet`` files of ``partition_rows`` rows,
        committed whole with a ``_SUCCESS`` marker, or (on failure) not at all.
    options : GenerateOptions, optional
        As for :func:`mixsynth.generate_file`; the rows are the local engine's for the
        same seed. ``execution.scheduler`` is the scheduler's address (default: the
        current client, else a LocalCluster); ``execution.chunk_rows`` the row-group size,
        ``execution.backend``, ``precision`` and ``memory_limit`` apply on each worker to
        the rows it gathers; ``execution.space_check`` refuses (before writing) an output
        larger than the free space of a local output's parent directory, measured on
        source rows spread over the files. The repair and anchoring fits run on the
        workers, one source column per task, from a pilot mixed there
        (:mod:`mixsynth.engines.fragment_fits`).
    partition_rows : int
        Synthetic rows per output file.
    client : distributed.Client, optional
        A client to run on, in place of ``execution.scheduler``.
    notify : callable, optional
        Receives one-line notices.

    Raises
    ------
    BackendUnavailable
        Dask is not installed, or the scheduler cannot be reached.
    ResourceError
        The output would not fit in the free space.
    """
    options = options or GenerateOptions(execution=ExecutionOptions(engine="dask"))
    run, synthesis = options.execution, options.synthesis
    refused = needs_every_row(synthesis)
    if refused:
        raise UsageError(refused)
    if partition_rows < 1:
        msg = f"partition_rows must be >= 1, got {partition_rows}"
        raise UsageError(msg)
    if source == "-":
        msg = "--engine dask reads a Parquet file or dataset (path or URL), not stdin"
        raise UsageError(msg)
    require_dask()
    fs, out_path = _check_output(output, source)
    src = open_dataset(source)
    names = select_columns(src.schema.names, options.columns, options.exclude, synthesis.target)
    with client_for(run.scheduler if client is None else client) as client:
        if run.space_check and isinstance(fs, pafs.LocalFileSystem):
            _check_space(client, src, names, options.rows, out_path, synthesis, run.precision, run.compression)
        rows = FragmentSource(src, names, mapper=mapper(client), reducer=tree_reducer(client),
                              memory_limit=run.memory_limit)
        synth = Synthesizer(rows, synthesis, backend=run.backend, precision=run.precision, notify=notify)
        m = synth.n if options.rows is None else options.rows
        starts = range(0, m, partition_rows)
        width = max(5, len(str(len(starts) - 1)))
        with _output_dir(fs, out_path) as path:
            spans = [
                (s, min(s + partition_rows, m), f"{path}/part-{i:0{width}d}.parquet")
                for i, s in enumerate(starts)
            ]
            synth.total_rows = m  # the last logical block is stratified over its part
            shipped = client.scatter(synth, broadcast=True)
            futures = client.map(
                _write_part,
                spans,
                synth=shipped,
                filesystem=fs,
                chunk_rows=run.chunk_rows,
                total=m,
                compression=run.compression,
                pure=False,
            )
            for adjusted in client.gather(futures):
                synth.adjusted += adjusted
    synth.rows_written = m
    names_out = [output.rstrip("/") + "/" + span[2].rsplit("/", 1)[1] for span in spans]
    return DatasetResult(output, names_out, m, synth.seed, synth.adjustments(), synth.provenance())
