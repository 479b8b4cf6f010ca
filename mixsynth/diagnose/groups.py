"""Category-to-number association: the correlation ratio η² of every (categorical, numeric) pair.

``η² = SS_between / SS_total``: the share of a numeric column's variance explained by
the groups of a categorical column (1 when the category fixes the value, 0 when every
group has the same mean). It needs, per category, only the count, the sum and the sum of
squares of each numeric column, so :class:`GroupSums` collects them batch by batch over
all rows and merges exactly across batches and files (the Dask engine). Sums are of
``z = x − K`` with the real side's shift ``K``, as :class:`~mixsynth.moments.Moments`,
so ``Σ s_g²/n_g − S²/N`` does not cancel when ``|mean| ≫ std``. A pair counts the rows
where both values are present.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from mixsynth.diagnose.layout import Layout, category_values

__all__ = ["MAX_GROUP_CELLS", "GroupSums", "eta_squared", "eta_pairs"]

#: Categories × numeric dimensions kept per categorical column (three float64 arrays
#: each); a column with more categories than fit is left out of η², as one whose
#: groups are nearly single rows would explain everything anyway.
MAX_GROUP_CELLS = 2**16
#: Categories per column above which η² is not computed (as Cramér's V).
MAX_GROUPS = 1000
#: Categorical columns with η² (as Cramér's V's limit).
MAX_GROUP_COLUMNS = 64
#: Worst pairs listed in the report's ``pairs``.
_LISTED = 20


class GroupSums:
    """Per category of each categorical column: rows, sums and sums of squares of ``z``.

    Parameters
    ----------
    names : sequence of str
        Categorical columns to group by.
    shift : array of shape (d,)
        ``K`` in ``z = x − K`` (the real side's, on every side).
    """

    def __init__(self, names: Sequence[str], shift: np.ndarray) -> None:
        self.shift = shift
        d = shift.shape[0]
        self.limit = min(MAX_GROUPS, MAX_GROUP_CELLS // max(d, 1))
        self.keys: dict[str, dict[str, int]] = {n: {} for n in names[:MAX_GROUP_COLUMNS]}
        self.sums: dict[str, np.ndarray] = {n: np.zeros((3, 0, d)) for n in self.keys}
        self.too_many: set[str] = set()

    def _grow(self, name: str, values: list[Any]) -> np.ndarray | None:
        """Rows of ``values`` in this column's arrays (new keys appended in order); None
        once the column has more categories than :attr:`limit`."""
        keys = self.keys[name]
        for v in values:
            if v is not None and v not in keys:
                keys[v] = len(keys)
        if len(keys) > self.limit:
            self.too_many.add(name)
            self.keys[name], self.sums[name] = {}, np.zeros((3, 0, self.shift.shape[0]))
            return None
        grow = len(keys) - self.sums[name].shape[1]
        if grow:
            pad = np.zeros((3, grow, self.shift.shape[0]))
            self.sums[name] = np.concatenate([self.sums[name], pad], axis=1)
        return np.array([-1 if v is None else keys[v] for v in values], dtype=np.int64)

    def update(self, batch: pa.RecordBatch, X: np.ndarray) -> None:
        """Add a batch: its categorical columns and its numeric matrix ``X`` (NaN = null)."""
        if X.shape[1] == 0:
            return
        present = ~np.isnan(X)
        Z = np.where(present, X - self.shift, 0.0)
        stacked = np.hstack([present.astype(np.float64), Z, Z * Z])
        d = X.shape[1]
        for name in self.keys:
            if name in self.too_many:
                continue
            codes = pc.dictionary_encode(category_values(batch.column(name)))
            rows = self._grow(name, codes.dictionary.to_pylist())
            if rows is None:
                continue
            local = codes.indices.to_numpy(zero_copy_only=False)
            keep = ~np.asarray(codes.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            g = rows[local[keep].astype(np.int64)]
            # One sparse (groups × rows) indicator product sums all three blocks at once.
            M = sparse.csr_matrix((np.ones(g.size), (g, np.flatnonzero(keep))),
                                  shape=(self.sums[name].shape[1], X.shape[0]))
            self.sums[name] += np.asarray(M @ stacked).reshape(-1, 3, d).transpose(1, 0, 2)

    def merge(self, other: GroupSums) -> GroupSums:
        """The sums of both sets of rows (same columns and shift); keys keep first-seen order."""
        out = GroupSums(list(self.keys), self.shift)
        out.too_many = self.too_many | other.too_many
        for name in self.keys:
            if name in out.too_many:
                continue
            mine, theirs = self.keys[name], other.keys[name]
            rows = out._grow(name, list(mine) + list(theirs))
            if rows is None:
                continue
            out.sums[name][:, rows[: len(mine)]] += self.sums[name]
            out.sums[name][:, rows[len(mine):]] += other.sums[name]
        return out

    def eta_squared(self, name: str) -> np.ndarray | None:
        """η² of each numeric dimension explained by ``name`` (NaN where undefined), or None
        when the column is not grouped (too many categories, or past the column limit)."""
        if name not in self.keys or name in self.too_many:
            return None
        return eta_squared(*self.sums[name])


def eta_squared(n: np.ndarray, s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """η² per column from per-group counts ``n``, sums ``s`` and sums of squares ``q``
    (each of shape (groups, d)); NaN where the column has no spread or fewer than 2 groups.

    Examples
    --------
    Groups {1, 3} and {10, 12}: SS_between = 2·4.5² + 2·4.5² = 81, SS_total = 85.

    >>> n = np.array([[2.0], [2.0]]); s = np.array([[4.0], [22.0]]); q = np.array([[10.0], [244.0]])
    >>> eta_squared(n, s, q).round(6).tolist()
    [0.952941]
    """
    N, S, Q = n.sum(axis=0), s.sum(axis=0), q.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        base = S * S / N
        between = np.where(n > 0, s * s / n, 0.0).sum(axis=0) - base
        total = Q - base
        eta = np.clip(between / total, 0.0, 1.0)
    groups = (n > 0).sum(axis=0)
    # A spread below rounding of the sums is no spread: constant columns give NaN, not noise.
    flat = ~(total > 1e-12 * np.maximum(Q, 1e-300))
    return np.where(flat | (groups < 2) | (N < 2), np.nan, eta)


def eta_pairs(
    layout: Layout, real: GroupSums | None, synth: GroupSums | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """η² of every (categorical, numeric dimension) pair, real vs synthetic.

    Returns
    -------
    summary : dict
        ``eta_max_abs_diff``, ``eta_mean_abs_diff``, ``eta_pairs`` (pairs compared).
    pairs : list of dict
        The worst pairs (kind ``eta_squared``; ``a`` the categorical, ``b`` the numeric).
    """
    labels = layout.labels()
    found: list[dict[str, Any]] = []
    diffs: list[float] = []
    sides = [] if real is None or synth is None else [
        (c.name, real.eta_squared(c.name), synth.eta_squared(c.name)) for c in layout.categorical
    ]
    for name, er, es in sides:
        if er is None or es is None:
            continue
        for j in np.flatnonzero(np.isfinite(er) & np.isfinite(es)):
            diffs.append(float(abs(es[j] - er[j])))
            found.append({"kind": "eta_squared", "a": name, "b": labels[j],
                          "real": float(er[j]), "synth": float(es[j]), "abs_diff": diffs[-1]})
    summary: dict[str, Any] = {"eta_max_abs_diff": None, "eta_mean_abs_diff": None,
                               "eta_pairs": len(found)}
    if diffs:
        summary.update(eta_max_abs_diff=max(diffs), eta_mean_abs_diff=float(np.mean(diffs)))
    worst = np.argsort(-np.asarray(diffs), kind="stable")[:_LISTED]
    return summary, [found[i] for i in worst]
