"""Checks that refuse a source before it is read: a path that is not a regular file or a
directory, two columns of one name, and the files of a directory that disagree on their
columns.
"""

from __future__ import annotations

import collections
import os
import stat
from typing import TYPE_CHECKING

import pyarrow as pa

from mixsynth.errors import InputError, SchemaError

if TYPE_CHECKING:
    # Imported where a dataset is opened: pyarrow.dataset brings pandas (0.4 s of start-up).
    import pyarrow.dataset as ds

__all__ = ["check_same_columns", "check_unique_names", "refuse_special_file"]

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
