"""One pass over a side's record batches: moments, ranges, counts and a seeded sample.

Everything that can be merged batch by batch (non-null counts, sums of ``z``, ``z³``,
``z⁴`` and ``z·zᵀ``, min/max, out-of-range counts, null counts, category counts) is
computed on all rows.
The sums are of ``z = x − K`` with ``K`` the real side's first-batch mean, the
"shifted data" form of the variance, which keeps the subtraction in
``Σz² − (Σz)²/n`` from cancelling when ``|mean| ≫ std``. The rows that distances need
(KS, Wasserstein, quantiles, DCR) are picked up in the same pass from a sorted set of
seeded row indices, so a file is read exactly once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.diagnose.inputs import Input
from mixsynth.diagnose.layout import Layout, category_values, numeric_block

# The one-pass moments live in the core module, shared with the Dask engine's reductions.
from mixsynth.moments import Moments

__all__ = ["MAX_CATEGORIES", "MAX_COV_DIMS", "Moments", "Scan", "sample_indices", "scan"]

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


def _batch_size(d: int) -> int:
    return int(max(1024, min(65_536, 2**21 // max(d, 1))))


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
    d = layout.d
    names = layout.names
    moments: Moments | None = None
    nulls = dict.fromkeys(names, 0)
    nonfinite = dict.fromkeys((c.name for c in layout.numeric), 0)
    counts: dict[str, Counter[str]] = {c.name: Counter() for c in layout.categorical}
    too_many: set[str] = set()
    picked: list[pa.Table] = []
    offset = 0
    for batch in src.batches(names, _batch_size(d)):
        b = batch.num_rows
        if b == 0:
            continue
        X = numeric_block(batch, layout)
        if moments is None:
            if shift is None:
                with np.errstate(invalid="ignore"):  # all-null columns give NaN; shift by 0
                    shift = np.nan_to_num(np.nansum(X, axis=0) / (~np.isnan(X)).sum(axis=0))
            moments = Moments(shift, pairs=d <= MAX_COV_DIMS)
        moments.update(X, None if ref is None else (ref.low, ref.high))
        for col in layout.numeric:
            null = batch.column(col.name).null_count
            nulls[col.name] += null
            # NaN beyond the null rows were NaN/±inf (or null tensor elements) in the data.
            nonfinite[col.name] += int(np.isnan(X[:, col.cols]).sum()) - null * col.width
        for col in layout.categorical:
            arr = batch.column(col.name)
            nulls[col.name] += arr.null_count
            if col.name not in too_many:
                _count(counts[col.name], arr)
                if len(counts[col.name]) > MAX_CATEGORIES:
                    too_many.add(col.name)
                    counts[col.name].clear()
        lo, hi = np.searchsorted(take, [offset, offset + b])
        if hi > lo:
            picked.append(pa.Table.from_batches([batch.take(pa.array(take[lo:hi] - offset))]))
        offset += b
    if moments is None:
        moments = Moments(np.zeros(d) if shift is None else shift, pairs=d <= MAX_COV_DIMS)
    schema = pa.schema([src.schema.field(n) for n in names])
    sample = pa.concat_tables(picked) if picked else schema.empty_table()
    return Scan(offset, moments, nulls, nonfinite, counts, too_many, sample)
