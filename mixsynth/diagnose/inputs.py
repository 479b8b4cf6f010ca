"""Row sources for ``diagnose``: in-memory tables and Parquet read batch by batch.

``diagnose`` makes one pass over each side: moments, category counts and the sampled
rows all come from the same stream of record batches, so a Parquet file of any size is
read in bounded memory. Inputs that must be held whole anyway (stdin, ``.npy``,
DataFrames) are wrapped as in-memory tables and go through the same code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from mixsynth import io, provenance
from mixsynth.console import first_line
from mixsynth.errors import InputError
from mixsynth.io.dataset import open_dataset, resolve_filesystem

__all__ = ["Input", "from_data", "open_path"]


@dataclass
class Input:
    """A table that can be read as record batches and one column at a time.

    Attributes
    ----------
    name : str
        The path as given, ``<stdin>``, or a label such as ``real``.
    schema : pyarrow.Schema
    num_rows : int
    provenance : dict or None
        The ``mixsynth`` record of a file that mixsynth wrote.
    """

    name: str
    schema: pa.Schema
    num_rows: int
    provenance: dict[str, Any] | None
    _source: pa.Table | pq.ParquetFile | ds.Dataset

    def __post_init__(self) -> None:
        io.check_unique_names(self.schema.names, repr(self.name))

    def batches(self, columns: list[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        """Record batches of ``columns``, in row order."""
        src = self._source
        try:
            if isinstance(src, pa.Table):
                yield from src.select(columns).to_batches(max_chunksize=batch_size)
            elif isinstance(src, pq.ParquetFile):
                yield from src.iter_batches(batch_size=batch_size, columns=columns)
            else:
                yield from src.to_batches(
                    columns=columns, batch_size=batch_size, batch_readahead=2, fragment_readahead=1,
                    fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False),
                )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            msg = f"cannot read {self.name!r} as Parquet: {first_line(exc)}"
            raise InputError(msg) from None

    def fragments(self) -> tuple[Any, ...]:
        """The Parquet files behind this input, as ``pyarrow.dataset`` fragments in row order
        (picklable, for Dask workers); ``()`` for data held in memory (stdin, ``.npy``)."""
        src = self._source
        if isinstance(src, ds.Dataset):
            return tuple(src.get_fragments())
        if isinstance(src, pq.ParquetFile):
            return open_dataset(self.name).fragments
        return ()

    def column(self, name: str) -> pa.ChunkedArray:
        """One whole column (used for the identifier check on the real side)."""
        src = self._source
        try:
            if isinstance(src, pa.Table):
                return src.column(name)
            if isinstance(src, pq.ParquetFile):
                return src.read(columns=[name]).column(0)
            return src.to_table(columns=[name]).column(0)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            msg = f"cannot read {self.name!r} as Parquet: {first_line(exc)}"
            raise InputError(msg) from None


def open_path(path: str, *, stdin: Any = None) -> Input:
    """Open a Parquet file or directory (local or fsspec URL) for streaming; ``-``, ``.npy``
    and local CSV/TSV, Arrow IPC/Feather and JSON Lines files (:data:`mixsynth.io.INPUT_SUFFIXES`)
    are read whole.

    Raises
    ------
    InputError
        Missing file, not Parquet, truncated file, empty directory or stdin, unknown URL
        scheme.
    """
    p = Path(path)
    whole = p.suffix.lower() == ".npy" or io.input_format(path) is not None
    if path == "-" or (whole and p.is_file()):
        src = io.read_source(path, stdin=stdin)
        return Input(src.name, src.table.schema, src.table.num_rows, src.provenance, src.table)
    fs, where = resolve_filesystem(path)
    local = isinstance(fs, pafs.LocalFileSystem)
    if local:
        io.refuse_special_file(where, repr(path))
    try:
        kind = fs.get_file_info(where).type
        if kind == pafs.FileType.NotFound:
            msg = f"no such file or directory: {path!r}"
            raise InputError(msg)
        if kind == pafs.FileType.Directory:
            dataset = ds.dataset(where, filesystem=fs, format="parquet", partitioning="hive")
            if not dataset.files:
                msg = f"directory {path!r} holds no Parquet files; expected *.parquet files"
                raise InputError(msg)
            for file in dataset.files if local else ():
                io.refuse_special_file(file)
            # pyarrow takes the first file's schema: another file's extra columns would be
            # dropped and its missing ones read as nulls, so the comparison would be wrong.
            io.check_same_columns(path, dataset)
            return Input(path, dataset.schema, dataset.count_rows(), None, dataset)
        # pre_buffer would fetch every row group's column chunks before the first batch
        # (1.2 GB held for a 10-million-row file); without it memory is one row group.
        pf = pq.ParquetFile(p if local else fs.open_input_file(where), pre_buffer=False)
        record = provenance.loads(pf.metadata.metadata)
        return Input(path, pf.schema_arrow, pf.metadata.num_rows, record, pf)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise InputError(io.not_parquet(path, exc)) from None


def from_data(data: Any, name: str, record: dict[str, Any] | None = None) -> Input:
    """Wrap a pyarrow Table, a pandas DataFrame, or any object with the Arrow PyCapsule
    stream interface (``__arrow_c_stream__``: polars, DuckDB, a RecordBatchReader);
    provenance defaults to what it carries.

    Raises
    ------
    UsageError
        ``data`` is none of these.
    SchemaError
        Two columns of one name, or a DataFrame that Arrow cannot convert (e.g. mixed Python
        types in a column): see :func:`mixsynth.io.arrow.as_table`.
    """
    if record is None and io.is_dataframe(data):
        record = data.attrs.get("mixsynth")
    table = io.as_table(data, name)
    if record is None:
        record = provenance.loads(table.schema.metadata)
    return Input(name, table.schema, table.num_rows, record, table)
