"""Partitioned Parquet sources addressed by global row index (no Dask here).

A source is its list of Parquet fragments (files) in the order ``pyarrow.dataset`` lists
them, which is the order in which the local engine concatenates them. The global index
of a row is its fragment's offset plus its index inside the fragment, so the uniform
parent indices of :func:`mixsynth.synthesis.draws.draw` pick a fragment with probability
proportional to its row count and then a row inside it, and every engine that respects
the offsets draws the same parents.

The functions taking a fragment are pure and picklable: the Dask engine runs them on
workers, the tests run them with the builtin ``map``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from mixsynth.console import first_line
from mixsynth.errors import InputError
from mixsynth.io import refuse_special_file

__all__ = [
    "Call",
    "Mapper",
    "Reducer",
    "RowIndex",
    "SourceDataset",
    "gather_rows",
    "local_map",
    "local_reduce",
    "open_dataset",
    "resolve_filesystem",
]

T = TypeVar("T")
R = TypeVar("R")



def resolve_filesystem(url: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and path for a local path or any fsspec URL (``s3://``, ``memory://``)."""
    if "://" not in url:
        # Absolute, so that fragments shipped to a worker with another working directory
        # still name the same file.
        return pafs.LocalFileSystem(), str(Path(url).absolute())
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec comes with dask
        msg = f"reading {url!r} needs fsspec; pip install -e '.[dask]'"
        raise InputError(msg) from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ValueError, ImportError) as exc:  # an unknown scheme, or its package is missing
        msg = f"cannot open {url!r}: {first_line(exc)}"
        raise InputError(msg) from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


@dataclass(frozen=True)
class SourceDataset:
    """A Parquet file or directory of Parquet files, as fragments in dataset order."""

    name: str
    schema: pa.Schema
    fragments: tuple[Any, ...]  # pyarrow.dataset.ParquetFileFragment

    def select(self, columns: list[str]) -> pa.Schema:
        """The schema of the projected source (dataset metadata kept, as the local reader does)."""
        return pa.schema([self.schema.field(c) for c in columns], metadata=self.schema.metadata)


def open_dataset(source: str) -> SourceDataset:
    """List the fragments of a Parquet file or (hive-partitioned) directory, local or fsspec URL.

    Raises
    ------
    InputError
        Missing path, no Parquet files, or unreadable footers.
    """
    fs, path = resolve_filesystem(source)
    if isinstance(fs, pafs.LocalFileSystem):
        _refuse_special_files(path, source)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        msg = f"no such file or directory: {source!r}"
        raise InputError(msg)
    try:
        dataset = ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")
        fragments = tuple(dataset.get_fragments())
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"cannot read {source!r} as a Parquet dataset: {first_line(exc)}"
        raise InputError(msg) from None
    if not fragments:
        msg = f"directory {source!r} holds no Parquet files; expected *.parquet files"
        raise InputError(msg)
    return SourceDataset(source, dataset.schema, fragments)


def _refuse_special_files(path: str, shown: str) -> None:
    """The local engine's refusal of FIFOs, devices and sockets, for a file or for every
    file under a directory (before pyarrow opens the first one to read its schema, which
    would block on a FIFO). Names starting with ``.`` or ``_`` are skipped, as pyarrow's
    dataset discovery skips them."""
    refuse_special_file(path, repr(shown))
    if not os.path.isdir(path):
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for name in files:
            if not name.startswith((".", "_")):
                refuse_special_file(os.path.join(root, name))


#: ``reduce(fn, items, merge, finish)``: ``finish`` of the in-order merge of ``fn`` over
#: ``items`` (:func:`local_reduce`, or a Dask tree of merges on the workers).
Reducer = Callable[[Callable[[Any], Any], Sequence[Any], Callable[[Any, Any], Any], Callable[[Any], Any]], Any]


def local_reduce(
    fn: Callable[[Any], T], items: Sequence[Any], merge: Callable[[T, T], T], finish: Callable[[T], R]
) -> R:
    """A :data:`Reducer` in this process."""
    return finish(functools.reduce(merge, map(fn, items)))


#: Runs a function over items and returns the results in order (``map``, or a Dask client's).
Mapper = Callable[[Callable[[Any], T], Iterable[Any]], Iterable[T]]


def local_map(fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
    """A :data:`Mapper` in this process."""
    return [fn(item) for item in items]


class Call:
    """A picklable ``fn(item, *args)`` for a :data:`Mapper` (lambdas do not travel to Dask
    workers)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args

    def __call__(self, item: Any) -> Any:
        return self.fn(item, *self.args)


@dataclass(frozen=True)
class RowIndex:
    """Where global rows live: fragment offsets and row-group offsets inside each fragment."""

    fragments: tuple[Any, ...]
    schema: pa.Schema
    offsets: np.ndarray  # shape (F + 1,)
    group_offsets: tuple[np.ndarray, ...]  # per fragment, shape (G + 1,)

    @classmethod
    def build(cls, source: SourceDataset, facts: Sequence[Any]) -> RowIndex:
        """From each fragment's survey facts (their ``rows`` and ``row_groups`` sizes)."""
        offsets = np.concatenate([[0], np.cumsum([f.rows for f in facts])]).astype(np.int64)
        groups = tuple(
            np.concatenate([[0], np.cumsum(f.row_groups)]).astype(np.int64) for f in facts
        )
        return cls(source.fragments, source.schema, offsets, groups)

    @property
    def rows(self) -> int:
        """Total number of rows."""
        return int(self.offsets[-1])


def gather_rows(index: RowIndex, rows: np.ndarray, columns: list[str]) -> pa.Table:
    """The source rows at sorted distinct global indices ``rows``, in that order.

    Reads only the row groups that hold them, one fragment at a time.
    """
    tables = []
    frag = np.searchsorted(index.offsets, rows, side="right") - 1
    for f in np.unique(frag):
        local = rows[frag == f] - index.offsets[f]
        goff = index.group_offsets[f]
        group = np.searchsorted(goff, local, side="right") - 1
        wanted = np.unique(group)
        sizes = goff[wanted + 1] - goff[wanted]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        pos = starts[np.searchsorted(wanted, group)] + (local - goff[group])
        part = index.fragments[f].subset(row_group_ids=wanted.tolist())
        table = part.to_table(columns=columns, schema=index.schema)
        tables.append(table.take(pa.array(pos)))
    if not tables:
        return pa.schema([index.schema.field(c) for c in columns]).empty_table()
    return pa.concat_tables(tables)
