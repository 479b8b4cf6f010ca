"""``diagnose --engine dask``: the one-pass statistics as Dask reductions over Parquet files.

Each side is scanned file by file on the workers (:func:`scan_fragment`: moments with the
real side's shift, min/max, counts below/above the real range, null and NaN counts,
category counts, and the sampled rows that fall in the file), and the per-file
:class:`~mixsynth.diagnose.stream.Scan` results are merged in order, in a tree on the
workers (:func:`mixsynth.engines.dask_client.tree_reduce`). Every file is read once, by one
worker, and only the summaries and the sampled rows reach the client. The identifier
check of the real side's string and integer columns is a scan of the same kind
(:meth:`ClusterScan.id_like`): counts, nulls and extremes per file, then, when the answer
depends on it, each file's sorted keys merged on the workers, so that only a yes or no
comes back.

The shift (the real side's first-batch mean, read on the client), the seeded sample
indices and the real range are those of the local engine, so the report equals
``--engine local``'s: counts, ranges and sampled rows exactly, sums up to the rounding of
adding them in another order. Dask is imported only when :func:`cluster_scan` runs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from mixsynth.diagnose.inputs import Input
from mixsynth.diagnose.layout import Layout
from mixsynth.diagnose.stream import Moments, Scan, batch_size, first_mean, scan_batches
from mixsynth.engines.dask_client import client_for, tree_reduce, tree_reducer
from mixsynth.engines.survey import fragment_facts, id_like_over
from mixsynth.errors import InputError, UsageError
from mixsynth.schema import Kind, id_like

__all__ = ["ClusterScan", "check_paths", "cluster_scan", "scan_fragment"]


def check_paths(paths: Iterable[str]) -> None:
    """Refuse what the workers cannot read: stdin and ``.npy`` arrays (usage errors)."""
    for path in paths:
        if path == "-":
            msg = "--engine dask reads Parquet files or datasets (path or URL), not - (stdin)"
            raise UsageError(msg)
        if path.lower().endswith(".npy"):
            msg = (
                f"--engine dask reads Parquet files or datasets (path or URL), not the .npy "
                f"array {path!r}; use --engine local"
            )
            raise UsageError(msg)


def _fragment_rows(fragment: Any) -> int:
    return int(fragment.count_rows())


def scan_fragment(
    fragment: Any,
    take: np.ndarray,
    *,
    schema: pa.Schema,
    layout: Layout,
    shift: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray] | None,
) -> Scan:
    """The scan of one Parquet file (a ``pyarrow.dataset`` fragment); runs on a worker.

    ``take`` holds the sampled rows' indices inside this file.
    """
    # Without pre_buffer a worker holds one row group, not the whole file (as inputs.py).
    batches = fragment.to_batches(
        columns=layout.names, schema=schema, batch_size=batch_size(layout.d),
        fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False),
    )
    return scan_batches(batches, layout, take, schema, shift, bounds)


class ClusterScan:
    """:func:`mixsynth.diagnose.stream.scan`, with the files of a side scanned on a Dask client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(
        self,
        src: Input,
        layout: Layout,
        take: np.ndarray,
        *,
        shift: np.ndarray | None = None,
        ref: Moments | None = None,
    ) -> Scan:
        """As :func:`~mixsynth.diagnose.stream.scan`; ``src`` must be Parquet files."""
        fragments = src.fragments()
        rows = self.client.gather(self.client.map(_fragment_rows, fragments, pure=False))
        offsets = np.concatenate([[0], np.cumsum(rows, dtype=np.int64)])
        if offsets[-1] != src.num_rows:
            msg = f"{src.name!r} changed while it was read: {src.num_rows:,} rows, then {offsets[-1]:,}"
            raise InputError(msg)
        if shift is None:
            # The local engine's shift: the first batch as the client reads the input.
            shift = first_mean(src.batches(layout.names, batch_size(layout.d)), layout)
        cuts = np.searchsorted(take, offsets)
        takes = [take[cuts[i] : cuts[i + 1]] - offsets[i] for i in range(len(fragments))]
        task = functools.partial(
            scan_fragment,
            schema=src.schema,
            layout=layout,
            shift=shift,
            bounds=None if ref is None else (ref.low, ref.high),
        )
        futures = self.client.map(task, fragments, takes, pure=False)
        return tree_reduce(self.client, futures, Scan.merge)

    def id_like(self, src: Input, name: str, kind: Kind) -> bool:
        """:func:`mixsynth.schema.id_like` of ``src``'s column ``name``, as a scan of each
        file on the workers (counts, nulls, extremes, then if needed each file's sorted
        keys, merged on the cluster): the column is never read on the client."""
        fragments = src.fragments()
        if not fragments:  # held in memory already (stdin, .npy, a table)
            return id_like(name, kind, src.column(name))
        task = functools.partial(fragment_facts, schema=src.schema, kinds={name: kind})
        facts = self.client.gather(self.client.map(task, fragments, pure=False))
        return id_like_over(name, kind, src.schema, fragments, facts, tree_reducer(self.client))


@contextlib.contextmanager
def cluster_scan(scheduler: Any = None) -> Iterator[ClusterScan]:
    """A :class:`ClusterScan` on :func:`mixsynth.engines.dask_client.client_for`'s client.

    Raises
    ------
    BackendUnavailable
        Dask is not installed, or the scheduler cannot be reached.
    """
    with client_for(scheduler) as client:
        yield ClusterScan(client)
