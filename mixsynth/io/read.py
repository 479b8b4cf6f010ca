"""Reading a source into a Table: a Parquet file or directory, stdin, or a file of another
format (:mod:`mixsynth.io.formats`), with the message for a file that is not Parquet.

``-`` means stdin. Parquet keeps its footer at the end of the file, so a pipe can only be
read after it has been read whole: stdin is buffered in memory (as the Arrow maintainers
advise, apache/arrow-rs#2482).
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from mixsynth import provenance
from mixsynth.console import first_line, isatty
from mixsynth.errors import InputError, UsageError
from mixsynth.io import checks, formats
from mixsynth.memory import format_size, map_batches

if TYPE_CHECKING:
    import pyarrow.dataset as ds

__all__ = ["Select", "Source", "not_parquet", "read_source"]

#: Given the available column names, the ones to read.
Select = Callable[[list[str]], list[str]]


@dataclass
class Source:
    """A table read from a path or stdin.

    Attributes
    ----------
    table : pyarrow.Table
        Only the selected columns.
    name : str
        The path as given, or ``<stdin>``.
    provenance : dict or None
        The ``mixsynth`` record of a file that mixsynth wrote.
    mapped : bool
        The table's buffers are in a memory-mapped temporary file, not in RAM.
    """

    table: pa.Table
    name: str
    provenance: dict[str, Any] | None = None
    mapped: bool = False


def _parquet_files(path: Path) -> ds.Dataset:
    import pyarrow.dataset as ds  # noqa: PLC0415 - brings pandas: only for a directory
    try:
        dataset = ds.dataset(path, format="parquet", partitioning="hive")
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"cannot read {str(path)!r} as a Parquet dataset: {first_line(exc)}"
        raise InputError(msg) from None
    if not dataset.files:
        msg = f"directory {str(path)!r} holds no Parquet files; expected *.parquet files"
        raise InputError(msg)
    for file in dataset.files:
        checks.refuse_special_file(file)
    checks.check_same_columns(str(path), dataset)
    return dataset


def _read_stdin(stream: IO[bytes], select: Select | None) -> Source:
    data = stream.read()
    if not data:
        msg = "stdin is empty; expected Parquet, Arrow IPC, CSV/TSV or JSON Lines bytes"
        raise InputError(msg)
    record = None
    fmt = formats.sniff(data)
    try:
        if fmt == "parquet":
            pf = pq.ParquetFile(pa.BufferReader(data))
            table, record = pf.read(), provenance.loads(pf.metadata.metadata)
        else:
            table = formats.read_format(pa.BufferReader(data), fmt)
            record = provenance.loads(table.schema.metadata) if fmt == "ipc" else None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        msg = (f"stdin does not hold readable {formats.FORMAT_NAMES[fmt]} data: {first_line(exc)}; "
               "expected Parquet, Arrow IPC, CSV/TSV or JSON Lines")
        raise InputError(msg) from None
    checks.check_unique_names(table.column_names, "stdin")
    if select is not None:
        table = table.select(select(table.column_names))
    return Source(table, "<stdin>", record)


def _decoded_bytes(pf: pq.ParquetFile, cols: list[str]) -> int:
    """About how much memory ``cols`` take once read into Arrow (exact for fixed widths)."""
    # Once: each schema_arrow builds the whole Arrow schema again, and a look-up per column
    # made this quadratic (132 s before a 10 000-column source was read).
    meta, schema, total = pf.metadata, pf.schema_arrow, 0
    pages: collections.Counter[str] | None = None
    for name in cols:
        t = schema.field(name).type
        t = t.storage_type if isinstance(t, pa.BaseExtensionType) else t
        size = t.list_size if pa.types.is_fixed_size_list(t) else 1
        t = t.value_type if pa.types.is_fixed_size_list(t) else t
        t = t.index_type if pa.types.is_dictionary(t) else t
        try:
            total += meta.num_rows * size * max(t.bit_width // 8, 1)
        except ValueError:  # variable width (strings): Parquet's uncompressed page sizes
            if pages is None:  # one pass over the column chunks for every such column
                pages = collections.Counter()
                for i in range(meta.num_row_groups):
                    rg = meta.row_group(i)
                    for j in range(meta.num_columns):
                        chunk = rg.column(j)
                        pages[chunk.path_in_schema.split(".")[0]] += chunk.total_uncompressed_size
            total += pages[name]
    return total


def read_source(
    src: str,
    select: Select | None = None,
    *,
    stdin: IO[bytes] | None = None,
    memory_limit: int | None = None,
    notify: Callable[[str], None] | None = None,
) -> Source:
    """Read a Parquet file, a directory of Parquet files, a ``.npy`` array, CSV/TSV, Arrow
    IPC/Feather or JSON Lines (by the file's extension, :data:`mixsynth.io.INPUT_SUFFIXES`), or ``-``.

    Parameters
    ----------
    src : str
        Path, or ``-`` for stdin (read whole into memory; Parquet and Arrow IPC are told by
        their magic bytes, JSON Lines by a leading ``{``, anything else is read as CSV).
    select : callable, optional
        Given the available column names, returns the ones to read (column projection);
        it may raise :class:`UsageError` for unknown names.
    stdin : binary stream, optional
        Defaults to ``sys.stdin.buffer``.
    memory_limit : int, optional
        Bytes; a Parquet file whose selected columns would take more once read is streamed
        into a memory-mapped temporary file instead (:func:`mixsynth.memory.map_batches`),
        so a source larger than RAM can be read. None: always read into memory.
    notify : callable, optional
        Told when the source is spilled.

    Raises
    ------
    InputError
        Missing file, empty directory, not Parquet (nor the format its extension names),
        truncated file, empty stdin.
    """
    if src == "-":
        stream = stdin or sys.stdin.buffer
        if isatty(stream):
            msg = "refusing to read Parquet from a terminal on stdin; pipe data in or give a file path"
            raise UsageError(msg)
        return _read_stdin(stream, select)
    path = Path(src)
    if not path.exists():
        msg = f"no such file or directory: {src!r}"
        raise InputError(msg)
    checks.refuse_special_file(path, repr(src))
    if path.suffix.lower() == ".npy" and path.is_file():
        table = formats.npy_table(path)
        return Source(table.select(select(table.column_names)) if select else table, src)
    fmt = formats.input_format(src)
    if fmt is not None and path.is_file():
        try:
            table = formats.read_format(src, fmt)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            msg = f"cannot read {src!r} as {formats.FORMAT_NAMES[fmt]}: {first_line(exc)}"
            raise InputError(msg) from None
        checks.check_unique_names(table.column_names, repr(src))
        record = provenance.loads(table.schema.metadata) if fmt == "ipc" else None
        return Source(table.select(select(table.column_names)) if select else table, src, record)
    try:
        if path.is_dir():
            dataset = _parquet_files(path)
            names = dataset.schema.names
            checks.check_unique_names(names, repr(src))
            cols = select(names) if select else names
            return Source(dataset.to_table(columns=cols), src)
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        checks.check_unique_names(names, repr(src))
        cols = select(names) if select else names
        record = provenance.loads(pf.metadata.metadata)
        size = _decoded_bytes(pf, cols) if memory_limit is not None else 0
        if memory_limit is not None and size > memory_limit:
            if notify is not None:
                notify(f"source columns take about {format_size(size)}, over the memory limit of "
                       f"{format_size(memory_limit)}: reading them through a memory-mapped file")
            schema = pa.schema([pf.schema_arrow.field(c) for c in cols],
                               metadata=pf.schema_arrow.metadata)
            # pre_buffer off: with it, the reader caches every column chunk it has read for
            # the file's lifetime (960 MiB resident instead of 305 MiB for a 610 MiB source).
            streamed = pq.ParquetFile(path, pre_buffer=False)
            table = map_batches(schema, streamed.iter_batches(columns=cols))
            return Source(table, src, record, mapped=True)
        return Source(pf.read(columns=cols), src, record)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise InputError(not_parquet(src, exc)) from None


def not_parquet(src: str, exc: BaseException) -> str:
    """The message for ``src`` that pyarrow could not read as Parquet.

    A file whose name does not say Parquet (``data.txt``) was tried as Parquet only for
    want of a known extension, so the message lists what the extensions select.
    """
    detail, path = first_line(exc), Path(src)
    if path.suffix.lower() in (".parquet", ".parq", ".pq") or path.is_dir():
        return f"cannot read {src!r} as Parquet: {detail}"
    return f"cannot read {src!r} as Parquet: {detail.rstrip('.')}; {formats.EXPECTED_INPUT}"
