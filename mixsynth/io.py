"""Reading sources and writing synthetic tables; the only module that does file I/O.

``-`` means stdin/stdout. Parquet keeps its footer at the end of the file, so a pipe can
only be read after it has been read whole: stdin is buffered in memory (as the Arrow
maintainers advise, apache/arrow-rs#2482). Output is written to a temporary file in the
target directory and renamed at the end, so a failed run leaves no partial file.
"""

from __future__ import annotations

import collections
import contextlib
import glob
import itertools
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.ipc as ipc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from mixsynth import provenance
from mixsynth.console import first_line, isatty
from mixsynth.errors import InputError, SchemaError, UsageError
from mixsynth.memory import format_size, map_batches

__all__ = [
    "COMPRESSIONS", "EXPECTED_INPUT", "INPUT_SUFFIXES", "Source", "check_compression", "check_output",
    "capsule_table", "check_same_columns", "check_unique_names", "input_format", "not_parquet", "read_format",
    "read_source", "refuse_special_file", "remove_own_temps", "remove_stale_temps", "temp_file", "write_parquet",
]

#: ``--compression`` choices: Parquet codecs that pyarrow, Spark and DuckDB all read
#: (``none``: uncompressed). The codec changes the bytes of the file, never its rows.
COMPRESSIONS = ("zstd", "snappy", "lz4", "none")

#: Sources other than Parquet and ``.npy``, by the end of the file name (any case); a
#: ``.gz`` ending is decompressed on the fly by pyarrow's readers.
INPUT_SUFFIXES = {
    ".csv": "csv", ".csv.gz": "csv", ".tsv": "tsv", ".tsv.gz": "tsv",
    ".arrow": "ipc", ".arrows": "ipc", ".feather": "ipc", ".ipc": "ipc",
    ".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".ndjson": "jsonl", ".ndjson.gz": "jsonl",
}
_FORMAT_NAMES = {"csv": "CSV", "tsv": "TSV", "ipc": "Arrow IPC", "jsonl": "JSON Lines", "parquet": "Parquet"}

#: What a source may be, for error messages.
EXPECTED_INPUT = (
    "expected Parquet (a file or a directory of files), or by extension CSV/TSV (.csv, .tsv, "
    ".csv.gz), Arrow IPC/Feather (.arrow, .feather, .ipc), JSON Lines (.jsonl, .ndjson) or .npy"
)

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


def _npy_table(path: Path) -> pa.Table:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        msg = f"cannot read {str(path)!r} as a .npy array: {first_line(exc)}"
        raise InputError(msg) from None
    if arr.ndim == 0 or arr.dtype.kind not in "biuf":
        msg = f"{str(path)!r} holds a {arr.dtype} array of shape {arr.shape}; expected numbers, one row per item"
        raise InputError(msg)
    if 0 in arr.shape[1:]:
        msg = (f"{str(path)!r} holds an array of shape {arr.shape}, whose rows have no values; "
               "expected at least one value per row")
        raise InputError(msg)
    if arr.ndim == 1:
        return pa.table({"array": np.asarray(arr)})
    shape = arr.shape[1:]
    values = pa.array(np.ascontiguousarray(arr).reshape(-1))
    storage = pa.FixedSizeListArray.from_arrays(values, int(np.prod(shape)))
    tensor = pa.fixed_shape_tensor(values.type, shape)
    return pa.table({"array": pa.ExtensionArray.from_storage(tensor, storage)})


_SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def refuse_special_file(path: str | os.PathLike[str], shown: str | None = None) -> None:
    """Refuse a source path that is not a regular file or a directory.

    Opening a FIFO blocks until a writer comes, inside pyarrow's C++ code where neither
    Ctrl-C nor SIGTERM is looked at; and Parquet's footer comes last, so a pipe could not
    be read as a file anyway. stdin (``-``) is the way to stream a table in. A missing
    path is left to the caller (it says so in its own words).

    Raises
    ------
    InputError
        A FIFO, a device or a socket.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    kind = next((name for test, name in _SPECIAL_FILES if test(mode)), None)
    if kind is not None:
        where = shown if shown is not None else repr(str(path))
        msg = (f"{where} is {kind}, not a file; expected a regular file or a directory "
               f"(to stream a table, pipe it to stdin and give - as the path)")
        raise InputError(msg)


def check_unique_names(names: list[str], where: str) -> None:
    """Refuse a table that holds two columns of one name.

    Arrow allows it (Parquet and IPC files can carry it), but every column is looked up
    by name downstream, so the second column would be unreachable.

    Raises
    ------
    SchemaError
        A name occurs more than once.
    """
    counts = collections.Counter(names)
    dups = [n for n in counts if counts[n] > 1]
    if dups:
        msg = (f"{where} has {counts[dups[0]]} columns named {dups[0]!r}; expected unique column "
               "names (rename one before reading it with mixsynth)")
        raise SchemaError(msg)


def _parquet_files(path: Path) -> ds.Dataset:
    try:
        dataset = ds.dataset(path, format="parquet", partitioning="hive")
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"cannot read {str(path)!r} as a Parquet dataset: {first_line(exc)}"
        raise InputError(msg) from None
    if not dataset.files:
        msg = f"directory {str(path)!r} holds no Parquet files; expected *.parquet files"
        raise InputError(msg)
    for file in dataset.files:
        refuse_special_file(file)
    check_same_columns(str(path), dataset)
    return dataset


def check_same_columns(path: str, dataset: ds.Dataset) -> None:
    """Every file must hold the same columns with the same types.

    pyarrow takes the first file's schema for the whole dataset: a file that lacks a
    column would silently contribute nulls, and its extra columns would be dropped.
    """
    first = None
    for fragment in dataset.get_fragments():
        columns = {f.name: f.type for f in fragment.physical_schema}
        if first is None:
            first, first_path = columns, fragment.path
            continue
        # A column that is all null in one file may be typed null there; the scan casts it.
        clash = [
            n for n in first
            if n in columns and columns[n] != first[n] and pa.null() not in (columns[n], first[n])
        ]
        diff = [f"{n} missing" for n in first if n not in columns]
        diff += [f"extra {n}" for n in columns if n not in first]
        diff += [f"{n}: {columns[n]} instead of {first[n]}" for n in clash]
        if not diff:
            continue
        msg = (
            f"files in {path!r} do not share one schema: {fragment.path!r} differs from "
            f"{first_path!r} ({'; '.join(diff)}); expected the same columns in every file"
        )
        raise InputError(msg)


def input_format(path: str) -> str | None:
    """``csv``, ``tsv``, ``ipc`` or ``jsonl`` by the end of ``path`` (:data:`INPUT_SUFFIXES`);
    None for anything else (read as Parquet, or ``.npy``)."""
    lower = path.lower()
    return next((fmt for suffix, fmt in INPUT_SUFFIXES.items() if lower.endswith(suffix)), None)


def read_format(source: str | pa.NativeFile, fmt: str) -> pa.Table:
    """Read CSV, TSV, JSON Lines or Arrow IPC with pyarrow's own readers.

    Parameters
    ----------
    source : str or pyarrow.NativeFile
        A path, or a seekable pyarrow file (stdin's bytes in a ``BufferReader``).
    fmt : {"csv", "tsv", "jsonl", "ipc"}
        Arrow IPC is the file format (Feather v2) or the stream format, told apart by
        the first bytes.

    Notes
    -----
    CSV and JSON Lines carry no types: pyarrow infers them (integers, floats, booleans,
    ISO dates and times, else strings). In CSV an empty unquoted field is null and ``""``
    an empty string, which is how pyarrow and pandas write them.
    """
    if fmt in ("csv", "tsv"):
        parse = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")
        convert = pacsv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
        return pacsv.read_csv(source, parse_options=parse, convert_options=convert)
    if fmt == "jsonl":
        return pajson.read_json(source)
    with contextlib.ExitStack() as stack:
        file = stack.enter_context(pa.OSFile(source)) if isinstance(source, str) else source
        head = file.read(6)
        file.seek(0)
        if head == b"ARROW1":
            return ipc.open_file(file).read_all()
        return ipc.open_stream(file).read_all()


def capsule_table(data: Any, what: str) -> pa.Table:
    """A Table from any object with the Arrow PyCapsule stream interface
    (``__arrow_c_stream__``: polars and DuckDB frames, pandas >= 2.2, pyarrow readers).

    Raises
    ------
    SchemaError
        The object's stream could not be read (an Arrow type pyarrow does not know, an
        error raised by the producer).
    """
    try:
        return pa.table(data)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError) as exc:
        msg = f"{what} cannot be read through its Arrow stream: {first_line(exc)}"
        raise SchemaError(msg) from None


def _sniff(data: bytes) -> str:
    """The format of stdin's bytes: Parquet and Arrow IPC by their magic, else text."""
    if data[:4] == b"PAR1":
        return "parquet"
    # IPC file magic, or a stream's first message (the continuation marker 0xFFFFFFFF).
    if data[:6] == b"ARROW1" or data[:4] == b"\xff\xff\xff\xff":
        return "ipc"
    if data.lstrip()[:1] == b"{":
        return "jsonl"
    header = data.split(b"\n", 1)[0]
    return "tsv" if b"\t" in header and b"," not in header else "csv"


def _read_stdin(stream: IO[bytes], select: Select | None) -> Source:
    data = stream.read()
    if not data:
        msg = "stdin is empty; expected Parquet, Arrow IPC, CSV/TSV or JSON Lines bytes"
        raise InputError(msg)
    record = None
    fmt = _sniff(data)
    try:
        if fmt == "parquet":
            pf = pq.ParquetFile(pa.BufferReader(data))
            table, record = pf.read(), provenance.loads(pf.metadata.metadata)
        else:
            table = read_format(pa.BufferReader(data), fmt)
            record = provenance.loads(table.schema.metadata) if fmt == "ipc" else None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        msg = (f"stdin does not hold readable {_FORMAT_NAMES[fmt]} data: {first_line(exc)}; "
               "expected Parquet, Arrow IPC, CSV/TSV or JSON Lines")
        raise InputError(msg) from None
    check_unique_names(table.column_names, "stdin")
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
    IPC/Feather or JSON Lines (by the file's extension, :data:`INPUT_SUFFIXES`), or ``-``.

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
    refuse_special_file(path, repr(src))
    if path.suffix.lower() == ".npy" and path.is_file():
        table = _npy_table(path)
        return Source(table.select(select(table.column_names)) if select else table, src)
    fmt = input_format(src)
    if fmt is not None and path.is_file():
        try:
            table = read_format(src, fmt)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
            msg = f"cannot read {src!r} as {_FORMAT_NAMES[fmt]}: {first_line(exc)}"
            raise InputError(msg) from None
        check_unique_names(table.column_names, repr(src))
        record = provenance.loads(table.schema.metadata) if fmt == "ipc" else None
        return Source(table.select(select(table.column_names)) if select else table, src, record)
    try:
        if path.is_dir():
            dataset = _parquet_files(path)
            names = dataset.schema.names
            check_unique_names(names, repr(src))
            cols = select(names) if select else names
            return Source(dataset.to_table(columns=cols), src)
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        check_unique_names(names, repr(src))
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
    return f"cannot read {src!r} as Parquet: {detail.rstrip('.')}; {EXPECTED_INPUT}"


def check_output(dst: str, src: str | None = None, *, stdout_isatty: bool = False) -> None:
    """Refuse outputs that would lose data or spray binary on a terminal.

    Raises
    ------
    UsageError
        ``dst`` is ``-`` and stdout is a terminal, or ``dst`` is (inside) the source.
    InputError
        The directory that should hold ``dst`` does not exist.
    """
    if dst == "-":
        if stdout_isatty:
            msg = "refusing to write binary Parquet to a terminal; use -o FILE or pipe the output"
            raise UsageError(msg)
        return
    if dst.endswith(("/", os.sep)) or os.path.basename(dst) in (".", ".."):
        # pathlib drops a trailing "/" (and "/."), so "out/dir/" would quietly become a
        # file named "dir": the user asked for a directory, and a file is not one.
        example = os.path.join(dst, "synth.parquet")
        msg = f"output {dst!r} names a directory; expected a file path such as {example!r}"
        raise UsageError(msg)
    out = Path(dst).resolve()
    if src not in (None, "-"):
        source = Path(src).resolve()
        # samefile also catches a second name for the source: a hard link, or another
        # spelling on a case-insensitive file system (which resolve() does not fold).
        same = out.exists() and source.exists() and os.path.samefile(out, source)
        if out == source or same or (source.is_dir() and source in out.parents):
            msg = f"output {dst!r} would overwrite the source {src!r}; choose another path"
            raise UsageError(msg)
    if out.is_dir():
        msg = f"output {dst!r} is a directory; expected a file path"
        raise UsageError(msg)
    if not out.parent.is_dir():
        msg = f"cannot write {dst!r}: directory {str(out.parent)!r} does not exist"
        raise InputError(msg)


class _Stdout:
    """stdout for the Parquet writer that goes silent once the run has failed.

    ``ParquetWriter.close()`` always writes a footer; after a failure that footer would
    make the truncated output a valid-looking table, so it must not reach the pipe.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.failed, self.closed, self.written = raw, False, False, 0

    def write(self, data: bytes) -> int:
        if not self.failed:
            self.raw.write(data)
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        if not self.failed:
            self.raw.flush()

    def close(self) -> None:
        self.closed = True


def temp_file(target: Path, suffix: str = ".tmp") -> str:
    """A new empty file beside ``target``, to be renamed onto it once written whole.

    Named ``.<name>.<pid>.<random><suffix>``: the process id lets a later run tell the
    leftovers of a process that died without cleaning up (SIGKILL, a power cut) from the
    file of a run still writing, and :func:`remove_stale_temps` removes the former first.

    Raises
    ------
    OSError
        The directory cannot be written.
    """
    remove_stale_temps(target, suffix)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    # mkstemp makes the file 0600 and os.replace keeps that; give the output the mode a
    # plain open() would (0666 less the umask), or other users could not read it.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return tmp


def write_whole(path: str | Path, write: Callable[[str], None], what: str = "file") -> None:
    """Write ``path`` whole or not at all: ``write(tmp)`` fills a :func:`temp_file` beside
    it, which is then renamed onto it (a failure or a kill leaves no partial ``path``).

    Raises
    ------
    InputError
        The directory or the file cannot be written (named, with the system's reason).
    """
    target = Path(path).resolve()
    try:
        tmp = temp_file(target)
    except OSError as exc:
        msg = f"cannot write {what} {str(path)!r}: {exc.strerror or exc}"
        raise InputError(msg) from None
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        msg = f"cannot write {what} {str(path)!r}: {exc.strerror or exc}"
        raise InputError(msg) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def remove_stale_temps(target: Path, suffix: str = ".tmp") -> list[Path]:
    """Remove the temporary files of ``target`` (see :func:`temp_file`) whose process is
    gone; returns them.

    A process id is only known on this machine: a directory shared with another host
    writing the same file name is not supported (two writers of one file race anyway).
    """
    if os.name != "posix":
        return []  # Windows' os.kill(pid, 0) would end the process, not probe it
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[a-z0-9_]+" + re.escape(suffix))
    removed = []
    try:
        entries = [e.name for e in os.scandir(target.parent)]
    except OSError:
        return []
    for name in entries:
        found = pattern.fullmatch(name)
        if found is None or _running(int(found.group(1))):
            continue
        with contextlib.suppress(OSError):
            (target.parent / name).unlink()
            removed.append(target.parent / name)
    return removed


def remove_own_temps(target: Path, suffix: str = ".tmp") -> list[Path]:
    """Remove this process's temporary files of ``target`` (see :func:`temp_file`); returns them.

    For a process about to end while the thread writing ``target`` cannot be stopped (a
    signal found it inside native code): that thread's own cleanup will never run.
    """
    removed = []
    for path in target.parent.glob(f".{glob.escape(target.name)}.{os.getpid()}.*{suffix}"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: no signal sent, only the checks
    except (ProcessLookupError, OverflowError):  # no such process; larger than any id
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


@contextlib.contextmanager
def _sink(dst: str, stdout: IO[bytes] | None) -> Iterator[Any]:
    if dst == "-":
        if stdout is None and sys.stdout is None:
            # Started with stdout closed (``>&-``): Python then sets sys.stdout to None.
            msg = "cannot write stdout: it is closed; use -o FILE or give the command an open stdout"
            raise InputError(msg)
        guard = _Stdout(stdout or sys.stdout.buffer)
        try:
            yield guard
        except BaseException:
            guard.failed = True
            raise
        return
    target = Path(dst)
    tmp = temp_file(target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def check_compression(name: str) -> str:
    """``name`` if it is one of :data:`COMPRESSIONS`.

    Raises
    ------
    UsageError
        Any other name.
    """
    if name not in COMPRESSIONS:
        msg = f"unknown compression {name!r}; expected one of {', '.join(COMPRESSIONS)}"
        raise UsageError(msg)
    return name


def write_parquet(
    dst: str,
    schema: pa.Schema,
    chunks: Iterable[pa.Table],
    footer: Callable[[], dict[str, Any]] | None = None,
    *,
    stdout: IO[bytes] | None = None,
    compression: str = "zstd",
) -> None:
    """Write ``chunks`` as one Parquet file (a row group per chunk), atomically.

    Parameters
    ----------
    dst : str
        File path, or ``-`` for stdout (``stdout`` or ``sys.stdout.buffer``).
    schema : pyarrow.Schema
    chunks : iterable of pyarrow.Table
    footer : callable, optional
        Called after the last chunk; its record is stored under ``mixsynth`` in the
        footer's key-value metadata (so it can hold counts known only at the end).
    compression : {"zstd", "snappy", "lz4", "none"}
        Parquet codec (see :data:`COMPRESSIONS`).

    Raises
    ------
    InputError
        The file or stdout could not be written (disk full, no permission, ...).
    """
    # Produce the first chunk before opening the writer: the writer puts the Parquet magic
    # on stdout at once, and an error raised lazily by the chunk generator (a bad row count,
    # an unusable column) must leave stdout empty, not holding a stray "PAR1".
    check_compression(compression)
    chunks = iter(chunks)
    first = next(chunks, None)
    try:
        with _sink(dst, stdout) as sink:
            writer = pq.ParquetWriter(sink, schema, compression=compression)
            try:
                for chunk in itertools.chain([first] if first is not None else [], chunks):
                    # One row group per chunk, even past pyarrow's default cap of 1Mi rows.
                    writer.write_table(chunk, row_group_size=max(chunk.num_rows, 1))
                if footer is not None:
                    record = provenance.dumps(footer()).decode()
                    writer.add_key_value_metadata({provenance.KEY.decode(): record})
            except BaseException:
                if isinstance(sink, _Stdout):
                    sink.failed = True
                raise
            finally:
                writer.close()
    except BrokenPipeError:
        raise  # the reader has gone (``| head``): the CLI leaves quietly
    except OSError as exc:
        # Disk full, read-only file system, unwritable directory: an expected failure with
        # a one-line message, not a traceback.
        where = "stdout" if dst == "-" else repr(dst)
        msg = f"cannot write {where}: {exc.strerror or first_line(exc)}"
        raise InputError(msg) from None
