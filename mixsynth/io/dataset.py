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
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from mixsynth.console import first_line
from mixsynth.errors import InputError, SchemaError
from mixsynth.io import refuse_special_file
from mixsynth.schema import ColumnSpec, Kind, id_rule, infer_kind, storage_type
from mixsynth.synthesis.encode import encode

__all__ = [
    "Call",
    "ColumnFacts",
    "FragmentFacts",
    "Mapper",
    "Reducer",
    "SourceDataset",
    "fragment_facts",
    "fragment_keys",
    "gather_rows",
    "id_like_over",
    "keys_distinct",
    "kinds_of",
    "local_map",
    "local_reduce",
    "merge_keys",
    "open_dataset",
    "resolve_filesystem",
    "sorted_keys",
    "ticks",
]

T = TypeVar("T")
R = TypeVar("R")

# Two 64-bit hashes per string: a false "duplicate" needs both to collide (< 1e-20 at 1e9 rows).
_HASH_KEYS = ("mixsynth-key-0xa", "mixsynth-key-0xb")


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


def kinds_of(schema: pa.Schema, columns: list[str]) -> dict[str, Kind | None]:
    """Kind of each column from its type; None where the type is unsupported."""
    kinds: dict[str, Kind | None] = {}
    for name in columns:
        try:
            kinds[name] = infer_kind(name, schema.field(name).type)
        except SchemaError:
            kinds[name] = None
    return kinds


def ticks(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Temporal values as int64 ticks, cast exactly as :func:`mixsynth.synthesis.encode.encode` does."""
    width = storage_type(column.type).bit_width
    return column.cast(pa.int32() if width == 32 else pa.int64()).cast(pa.int64())


@dataclass(frozen=True)
class ColumnFacts:
    """What one fragment knows about one column.

    ``low``/``high`` are the extremes of the encoded float values (finite ones only);
    ``tick_low``/``tick_high`` and ``int_low``/``int_high`` are exact for temporal and
    integer columns. ``bad`` counts non-null NaN/±inf in float columns, the first at
    local row ``first_bad``. ``unique`` is True when there are no nulls and no repeats.
    """

    nulls: int
    low: float | None = None
    high: float | None = None
    tick_low: int | None = None
    tick_high: int | None = None
    int_low: int | None = None
    int_high: int | None = None
    bad: int = 0
    first_bad: int | None = None
    unique: bool | None = None


@dataclass(frozen=True)
class FragmentFacts:
    """Row count, row-group sizes and per-column facts of one fragment."""

    rows: int
    row_groups: tuple[int, ...]
    columns: dict[str, ColumnFacts]


def _extremes(values: np.ndarray) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (None, None)


def _column_facts(
    name: str, column: pa.ChunkedArray, kind: Kind | None, field: pa.Field
) -> ColumnFacts:
    nulls = column.null_count
    if kind is Kind.FLOAT:
        values = column.cast(pa.float64()).to_numpy()
        null = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        bad = ~np.isfinite(values) & ~null
        first = int(np.flatnonzero(bad)[0]) if bad.any() else None
        low, high = _extremes(values)
        return ColumnFacts(nulls, low, high, bad=int(bad.sum()), first_bad=first)
    unique = None
    if kind in (Kind.STRING, Kind.INTEGER):
        unique = nulls == 0 and pc.count_distinct(column).as_py() == len(column)
    if kind is Kind.INTEGER:
        lo, hi = (s.as_py() for s in pc.min_max(column).values())
        return ColumnFacts(
            nulls,
            None if lo is None else float(lo),
            None if hi is None else float(hi),
            int_low=lo,
            int_high=hi,
            unique=unique,
        )
    if kind is Kind.TEMPORAL:
        lo, hi = (s.as_py() for s in pc.min_max(ticks(column)).values())
        return ColumnFacts(nulls, tick_low=lo, tick_high=hi)
    if kind is Kind.TENSOR:
        spec = ColumnSpec(name, kind, field)
        X = encode(pa.table({name: column}), [spec], nan="skip", precision="float64").X
        low, high = _extremes(X.reshape(-1))
        return ColumnFacts(nulls, low, high)
    return ColumnFacts(nulls, unique=unique)


def fragment_facts(
    fragment: Any, schema: pa.Schema, kinds: dict[str, Kind | None]
) -> FragmentFacts:
    """One pass over a fragment's projected columns (``kinds`` names them)."""
    fragment.ensure_complete_metadata()
    groups = tuple(rg.num_rows for rg in fragment.row_groups)
    table = fragment.to_table(columns=list(kinds), schema=schema)
    columns = {
        name: _column_facts(name, table.column(name), kind, schema.field(name))
        for name, kind in kinds.items()
    }
    return FragmentFacts(table.num_rows, groups, columns)


def fragment_keys(fragment: Any, schema: pa.Schema, name: str) -> np.ndarray:
    """Exact-or-hashed keys of a string/integer column, uint64 array of shape (rows, 2)."""
    column = fragment.to_table(columns=[name], schema=schema).column(name)
    keys = np.zeros((len(column), 2), dtype=np.uint64)
    if pa.types.is_integer(storage_type(column.type)):
        keys[:, 0] = column.cast(pa.int64(), safe=False).to_numpy().view(np.uint64)
        return keys
    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    for j, key in enumerate(_HASH_KEYS):
        keys[:, j] = pd.util.hash_array(values, hash_key=key, categorize=False)
    return keys


def sorted_keys(fragment: Any, schema: pa.Schema, name: str) -> np.ndarray | None:
    """:func:`fragment_keys` in sorted order, or None when a key repeats (mergeable with
    :func:`merge_keys`; a file's keys are half the size of its column, or less)."""
    return _sorted_unique(fragment_keys(fragment, schema, name))


def _sorted_unique(keys: np.ndarray) -> np.ndarray | None:
    s = keys[np.lexsort((keys[:, 1], keys[:, 0]))]
    if len(s) > 1 and bool(((s[1:, 0] == s[:-1, 0]) & (s[1:, 1] == s[:-1, 1])).any()):
        return None
    return s


def merge_keys(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Sorted keys of two scans, or None once any key repeats (then nothing more is kept)."""
    return None if a is None or b is None else _sorted_unique(np.concatenate([a, b]))


def keys_distinct(keys: np.ndarray | None) -> bool:
    """The answer of a merged key scan (run where the keys are, so only a bool travels)."""
    return keys is not None


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


def id_like_over(
    name: str,
    kind: Kind,
    schema: pa.Schema,
    fragments: Sequence[Any],
    facts: Sequence[FragmentFacts],
    reduce: Reducer = local_reduce,
) -> bool:
    """:func:`mixsynth.schema.id_like` over a partitioned column, from its fragments' facts.

    Counts, nulls and extremes come from the facts; whether a value repeats across files
    is a scan of each file's sorted keys merged by ``reduce`` (on a cluster: on the
    workers, so that no column is held whole by the caller), and runs only when the
    answer depends on it.
    """
    cols = [f.columns[name] for f in facts]

    def span() -> int:
        lows = [c.int_low for c in cols if c.int_low is not None]
        highs = [c.int_high for c in cols if c.int_high is not None]
        return max(highs) - min(lows) + 1

    def distinct() -> bool:
        if not all(c.unique for c in cols):
            return False
        live = [frag for frag, f in zip(fragments, facts, strict=True) if f.rows]
        return len(live) < 2 or bool(reduce(functools.partial(sorted_keys, schema=schema, name=name),
                                            live, merge_keys, keys_distinct))

    return id_rule(name, kind, sum(f.rows for f in facts), sum(c.nulls for c in cols), span, distinct)


@dataclass(frozen=True)
class RowIndex:
    """Where global rows live: fragment offsets and row-group offsets inside each fragment."""

    fragments: tuple[Any, ...]
    schema: pa.Schema
    offsets: np.ndarray  # shape (F + 1,)
    group_offsets: tuple[np.ndarray, ...]  # per fragment, shape (G + 1,)

    @classmethod
    def build(cls, source: SourceDataset, facts: list[FragmentFacts]) -> RowIndex:
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
