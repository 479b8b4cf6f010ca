"""Writing a synthetic table as one Parquet file, atomically, to a path or stdout; the
``--compression`` choices, and the checks that refuse an output path before any work.

A file is written to a temporary file beside it and renamed at the end
(:mod:`mixsynth.io.files`), so a failed run leaves no partial file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from mixsynth import provenance
from mixsynth.console import first_line
from mixsynth.errors import InputError, UsageError
from mixsynth.io import files
from mixsynth.options import COMPRESSIONS

__all__ = ["COMPRESSIONS", "check_compression", "check_output", "write_parquet"]


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
    tmp = files.temp_file(target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


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
