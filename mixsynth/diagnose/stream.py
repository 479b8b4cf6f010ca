"""One pass over a side's record batches: moments, ranges, counts and a seeded sample.

Everything that can be merged batch by batch (non-null counts, sums of ``z``, ``z³``,
``z⁴`` and ``z·zᵀ``, min/max, out-of-range counts, null counts, category counts, and
per-category sums for η² in :mod:`~mixsynth.diagnose.groups`) is computed on all rows.
The sums are of ``z = x − K`` with ``K`` the real side's first-batch mean, the
"shifted data" form of the variance, which keeps the subtraction in
``Σz² − (Σz)²/n`` from cancelling when ``|mean| ≫ std``. The rows that distances need
(KS, Wasserstein, quantiles, DCR) are picked up in the same pass from a sorted set of
seeded row indices, so a file is read exactly once. Scans of consecutive row ranges
combine with :meth:`Scan.merge`, which is how ``--engine dask`` scans each file on a
worker and reduces the scans in a tree.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.diagnose.groups import GroupSums
from mixsynth.diagnose.inputs import Input
from mixsynth.diagnose.layout import Layout, category_values, numeric_block

# The one-pass moments live in the core module, shared with the Dask engine's reductions.
from mixsynth.moments import Moments

__all__ = [
    "MAX_CATEGORIES",
    "MAX_COV_DIMS",
    "Moments",
    "Scan",
    "batch_size",
    "first_mean",
    "sample_indices",
    "scan",
    "scan_batches",
]

#: Numeric matrix widths above this get per-column moments only (no d×d cross products).
MAX_COV_DIMS = 2048
#: Distinct values counted per categorical column before it is reported as too diverse.
MAX_CATEGORIES = 100_000


@dataclass
class Scan:
    """What one pass over a side produced."""

    rows: int
    moments: Moments
    nulls: dict[str, int]
    nonfinite: dict[str, int]
    counts: dict[str, Counter[str]]
    too_many: set[str]
    sample: pa.Table
    groups: GroupSums | None = None  # per-category sums for η² (None: not collected)

    def merge(self, other: Scan) -> Scan:
        """The scan of this scan's rows followed by ``other``'s (same shift and bounds).

        Counts add up exactly; a column is too diverse if it is on either side or the
        merged counts exceed :data:`MAX_CATEGORIES`, as in one pass over all rows.
        Category keys keep their order of first appearance (``most_common`` breaks ties
        by it), so a left-to-right merge equals one pass.
        """
        too_many = self.too_many | other.too_many
        counts: dict[str, Counter[str]] = {}
        for name, mine in self.counts.items():
            merged = Counter() if name in too_many else mine + other.counts[name]
            if len(merged) > MAX_CATEGORIES:
                too_many.add(name)
                merged = Counter()
            counts[name] = merged
        samples = [t for t in (self.sample, other.sample) if t.num_rows] or [self.sample]
        return Scan(
            self.rows + other.rows,
            self.moments.merge(other.moments),
            {k: v + other.nulls[k] for k, v in self.nulls.items()},
            {k: v + other.nonfinite[k] for k, v in self.nonfinite.items()},
            counts,
            too_many,
            pa.concat_tables(samples),
            None if self.groups is None or other.groups is None
            else self.groups.merge(other.groups),
        )


def sample_indices(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted distinct row indices: ``k`` of ``range(n)`` uniformly, or all when ``k >= n``."""
    if k >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)


def _count(counts: Counter[str], arr: pa.Array) -> None:
    vc = pc.value_counts(category_values(arr))
    for value, n in zip(
        vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True
    ):
        if value is not None:
            counts[value] += n


def batch_size(d: int) -> int:
    """Rows per record batch for a numeric matrix ``d`` columns wide (about 16 MiB of float64)."""
    return int(max(1024, min(65_536, 2**21 // max(d, 1))))


def first_mean(batches: Iterable[pa.RecordBatch], layout: Layout) -> np.ndarray:
    """The real side's shift ``K``: the mean of the first non-empty batch (0 where all null)."""
    for batch in batches:
        if batch.num_rows:
            X = numeric_block(batch, layout)
            with np.errstate(invalid="ignore"):  # all-null columns give NaN; shift by 0
                return np.nan_to_num(np.nansum(X, axis=0) / (~np.isnan(X)).sum(axis=0))
    return np.zeros(layout.d)


def scan(
    src: Input,
    layout: Layout,
    take: np.ndarray,
    *,
    shift: np.ndarray | None = None,
    ref: Moments | None = None,
) -> Scan:
    """Read ``src`` once: moments over all rows, plus the rows at indices ``take``.

    Parameters
    ----------
    src : Input
    layout : Layout
    take : sorted int64 array
        Global row indices to keep as the sample.
    shift : array of shape (layout.d,), optional
        ``K`` in ``z = x − K``; None takes the first batch's mean (the real side).
    ref : Moments, optional
        The real side's moments; values below its min or above its max are counted.
    """
    batches: Iterator[pa.RecordBatch] = _counted(
        b for b in src.batches(layout.names, batch_size(layout.d)) if b.num_rows
    )
    if shift is None:
        # The first batch gives the shift, then is scanned like the others.
        head = list(itertools.islice(batches, 1))
        shift = first_mean(head, layout)
        batches = itertools.chain(head, batches)
    bounds = None if ref is None else (ref.low, ref.high)
    return scan_batches(batches, layout, take, src.schema, shift, bounds)


#: Called with each scanned batch's row count (the CLI's progress bar sets it; a context
#: variable, so the library keeps no global state and other callers see nothing).
ROWS_SCANNED: ContextVar[Callable[[int], None] | None] = ContextVar("rows_scanned", default=None)


def _counted(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    tell = ROWS_SCANNED.get()
    for batch in batches:
        yield batch
        if tell is not None:
            tell(batch.num_rows)


def scan_batches(
    batches: Iterable[pa.RecordBatch],
    layout: Layout,
    take: np.ndarray,
    schema: pa.Schema,
    shift: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> Scan:
    """One pass over ``batches`` (row 0 of the first is row 0 of ``take``'s indices).

    ``schema`` is the source's (the empty sample's columns); ``bounds`` = (low, high) of
    the real side, counted as below/above the range. Scans of consecutive row ranges
    taken with the same ``shift`` and ``bounds`` combine with :meth:`Scan.merge`.
    """
    names = layout.names
    moments = Moments(shift, pairs=layout.d <= MAX_COV_DIMS)
    nulls = dict.fromkeys(names, 0)
    nonfinite = dict.fromkeys((c.name for c in layout.numeric), 0)
    counts: dict[str, Counter[str]] = {c.name: Counter() for c in layout.categorical}
    too_many: set[str] = set()
    picked: list[pa.Table] = []
    groups = GroupSums([c.name for c in layout.categorical], shift)
    offset = 0
    for batch in batches:
        b = batch.num_rows
        if b == 0:
            continue
        X = numeric_block(batch, layout)
        moments.update(X, bounds)
        groups.update(batch, X)
        for col in layout.numeric:
            null = batch.column(col.name).null_count
            nulls[col.name] += null
            # NaN beyond the null rows were NaN/±inf (or null tensor elements) in the data.
            nonfinite[col.name] += int(np.isnan(X[:, col.cols]).sum()) - null * col.width
        for cat in layout.categorical:
            arr = batch.column(cat.name)
            nulls[cat.name] += arr.null_count
            if cat.name not in too_many:
                _count(counts[cat.name], arr)
                if len(counts[cat.name]) > MAX_CATEGORIES:
                    too_many.add(cat.name)
                    counts[cat.name].clear()
        lo, hi = np.searchsorted(take, [offset, offset + b])
        if hi > lo:
            picked.append(pa.Table.from_batches([batch.take(pa.array(take[lo:hi] - offset))]))
        offset += b
    empty = pa.schema([schema.field(n) for n in names]).empty_table()
    sample = pa.concat_tables(picked) if picked else empty
    return Scan(offset, moments, nulls, nonfinite, counts, too_many, sample, groups)
