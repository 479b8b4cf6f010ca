"""Which source row each taken (boolean, categorical, string) column is copied from.

Taken columns are not mixed: a row copies all of them from one parent, its *chosen* one
(:meth:`~mixsynth.synthesis.draws.Draws.chosen`, balanced per block by
:mod:`mixsynth.synthesis.balance`), so their joint states are kept. A class target takes
the dominant parent's label. Nulls: where the row's nulls are counted per block
(:mod:`mixsynth.synthesis.nulls`), the count decides whether the row is null and the
parents only which value it takes; elsewhere the row keeps the dominant parent's null.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mixsynth.schema import ColumnSpec
from mixsynth.synthesis.draws import Draws
from mixsynth.synthesis.encode import Encoded
from mixsynth.synthesis.nulls import NullChoice

__all__ = ["taken_rows", "taken_with_nulls"]


def taken_rows(
    specs: list[ColumnSpec], enc: Encoded, d: Draws, choice: NullChoice | None
) -> dict[str, np.ndarray | pa.Array]:
    """The held row each taken column of ``enc`` is copied from, per row of ``d`` (whose
    parents are held rows); a null index where ``choice`` makes a row null that no parent
    can make null."""
    dominant, chosen = d.dominant(), d.chosen()
    rows: dict[str, np.ndarray | pa.Array] = {}
    for spec in specs:
        if spec.name not in enc.taken:
            continue
        if spec.target:
            rows[spec.name] = dominant
            continue
        null = enc.taken_null[spec.name]
        if choice is not None and spec.name in choice.taken:
            rows[spec.name] = taken_with_nulls(null, dominant, d.second(), chosen, choice.taken[spec.name])
            continue
        # Keep the dominant parent's null mask: fall back to it when either is null.
        rows[spec.name] = np.where(null[chosen] | null[dominant], dominant, chosen)
    return rows


def taken_with_nulls(
    null: np.ndarray, dominant: np.ndarray, second: np.ndarray, chosen: np.ndarray, z: np.ndarray
) -> pa.Array:
    """The held row a taken column is copied from, given its source nulls ``null`` (per
    held row), the rows' parents and ``z``, the rows to make null.

    A null row takes a null parent, the dominant one first, or a null index where no
    parent is null; another row takes its chosen parent, or, where that is null, a parent
    that is not (none: it stays null).

    Examples
    --------
    >>> null = np.array([True, False, False])
    >>> rows = taken_with_nulls(null, np.array([0, 1, 0]), np.array([1, 2, 2]),
    ...                         np.array([0, 2, 2]), np.array([False, False, True]))
    >>> rows.to_pylist()
    [1, 2, 0]
    """
    rows = np.where(null[chosen], np.where(null[dominant], second, dominant), chosen)
    rows = np.where(z, np.where(null[dominant], dominant, second), rows)
    return pa.array(rows, mask=z & ~null[rows])
