"""Where a synthetic row is null: the dominant parent's pattern, stratified per block.

A row mixed from a null parent cannot mix that column, so it used to take the dominant
parent's value and its null: each row's null was a draw of a source row's, and a column's
null share random-walked over rounds of re-synthesis like plain resampling's, or further.
Anchoring makes every logical block's marginal of the values exact
(:mod:`mixsynth.synthesis.anchor`); this does the same for the nulls.

Per logical block (the rows written of it) and column with nulls in the source, the block
gets ``floor(B·p + jitter)`` nulls: ``p`` the source's null share, ``B`` the block's rows,
``jitter`` one uniform per block (so the count is ``B·p`` in expectation, and off by less
than one). Which rows: each row is scored by its parents, the dominant parent's null
first, then the other parent's (``2·dominant + other``), then a uniform per row; the top
count are null. Rows whose parents agree keep their null or value; only rows whose parents
disagree switch, as few as the count needs (one whose dominant parent is null takes the
other parent's value, one whose dominant parent is not takes a null); only where those
rows are too few does a row of two non-null parents take a null. Because the jitter
and the row uniforms are shared by all columns, two columns null together in the source
(a test not done: all its results null) have the same scores and the same counts, and
stay null together. A row both of whose parents are null has no value to take and stays
null, the only way a block can pass its count.

The draws come from :func:`mixsynth.synthesis.draws.null_draws`, a stream of their own per
logical block: the rows are the same for any chunking, jobs or engine, and a table without
nulls gives the rows it gave before. Columns without nulls in the source are not touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mixsynth.schema import ColumnSpec
from mixsynth.synthesis.draws import LOGICAL_BLOCK, Draws, null_draws
from mixsynth.synthesis.encode import Encoded

if TYPE_CHECKING:
    from mixsynth.synthesis.labels import Groups
    from mixsynth.synthesis.within import Within

__all__ = ["NullChoice", "NullPlan", "place_nulls", "plan_nulls"]


@dataclass(frozen=True)
class NullChoice:
    """Which rows are null, per column of a :class:`NullPlan`.

    Attributes
    ----------
    mixed : bool array of shape (m, len(plan.mixed))
        Mixed columns (in the plan's order): the row is null.
    taken : dict of str to bool array of shape (m,)
        Taken columns: the row is null.
    """

    mixed: np.ndarray
    taken: dict[str, np.ndarray]

    def rows(self, s: slice) -> NullChoice:
        """The choice for rows ``s`` of these."""
        return NullChoice(self.mixed[s], {k: v[s] for k, v in self.taken.items()})


@dataclass(frozen=True)
class NullPlan:
    """The columns whose nulls are stratified, and their source null shares.

    Attributes
    ----------
    mixed : list of (slice, float)
        Columns of ``X`` (a tensor: its elements, null together when the list is) and the
        column's null share.
    taken : dict of str to float
        Taken (boolean, categorical, string) columns and their null shares.
    """

    mixed: list[tuple[slice, float]]
    taken: dict[str, float]

    def choose(self, seed: int, enc: Encoded, d: Draws, lo: int, hi: int) -> NullChoice:
        """Which of rows ``lo:hi`` (whole logical blocks, the last maybe cut short) are null.

        Parameters
        ----------
        seed : int
            The run's seed (the null draws' streams are keyed by it and the block).
        enc : Encoded
            The held source rows; ``d``'s parents index them.
        d : Draws
            The rows' draws.
        lo, hi : int
            The rows' global range.
        """
        dominant, second = d.dominant(), d.second()
        order, jitter = null_draws(seed, lo, hi)
        # Only the parents' rows are read: the held rows may be the whole source.
        dominant_null = [np.isnan(enc.X[dominant, cols]).all(axis=1) for cols, _ in self.mixed]
        second_null = [np.isnan(enc.X[second, cols]).all(axis=1) for cols, _ in self.mixed]
        for name in self.taken:
            dominant_null.append(enc.taken_null[name][dominant])
            second_null.append(enc.taken_null[name][second])
        shares = np.array([p for _, p in self.mixed] + list(self.taken.values()))
        null = _choose(dominant_null, second_null, shares, order, jitter, np.arange(hi - lo) // LOGICAL_BLOCK)
        c = len(self.mixed)
        return NullChoice(null[:, :c], {name: null[:, c + i] for i, name in enumerate(self.taken)})


def _choose(
    dominant_null: list[np.ndarray],
    second_null: list[np.ndarray],
    shares: np.ndarray,
    order: np.ndarray,
    jitter: np.ndarray,
    block: np.ndarray,
) -> np.ndarray:
    """The null rows, shape (m, columns): per block, the top ``floor(B·p + jitter)`` rows by
    ``2·(dominant null) + (second null)``, then ``order``; rows with both parents null too.

    Examples
    --------
    >>> dn = np.array([True, True, False, False, True, False])
    >>> sn = np.array([False, False, False, False, True, True])
    >>> order = np.array([0.1, 0.9, 0.5, 0.5, 0.2, 0.7])
    >>> _choose([dn], [sn], np.array([1 / 3]), order, np.full(6, 0.5), np.zeros(6, int))[:, 0].tolist()
    [False, True, False, False, True, False]
    """
    m = order.size
    out = np.zeros((m, len(shares)), dtype=bool)
    cuts = np.flatnonzero(block[1:] != block[:-1]) + 1
    for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, m].tolist(), strict=True):
        size = hi - lo
        counts = np.clip(np.floor(size * shares + jitter[lo]), 0, size).astype(np.int64)
        for j, (dn, sn) in enumerate(zip(dominant_null, second_null, strict=True)):
            out[lo:hi, j] = _top(2 * dn[lo:hi].astype(np.int8) + sn[lo:hi], order[lo:hi], int(counts[j]))
            # No value to take: both parents are null.
            out[lo:hi, j] |= dn[lo:hi] & sn[lo:hi]
    return out


def _top(kind: np.ndarray, order: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` rows first by ``kind`` (3 to 0), then by ``order`` (descending; equal
    orders by row), as a stable sort of all rows would rank them: every row of the kinds
    above the last one reached, and the first rows of that kind by ``order``, which alone
    need sorting (a few per cent of a block: the rows whose parents disagree)."""
    top = np.zeros(kind.size, dtype=bool)
    left = count
    for k in (3, 2, 1, 0):
        rows = np.flatnonzero(kind == k)
        if rows.size <= left:
            top[rows] = True
            left -= rows.size
            continue
        if left > 0:
            top[rows[np.argsort(-order[rows], kind="stable")[:left]]] = True
        break
    return top


def plan_nulls(
    specs: list[ColumnSpec],
    enc: Encoded,
    null_counts: dict[str, int],
    n: int,
    within: Within | None = None,
    groups: Groups | None = None,
    parents: int = 2,
) -> NullPlan | None:
    """The columns with nulls in the source and their shares, or None when there are none
    or when the counts cannot be held to the source's shares.

    Parameters
    ----------
    specs : list of ColumnSpec
    enc : Encoded
        The encoded layout (mixed columns' places in ``X``; taken columns).
    null_counts : dict of str to int
        Nulls of each source column (over all ``n`` rows).
    n : int
        Source rows.
    within : Within, optional
        ``--within`` groups: their columns grouped by value take their value, and null,
        from a parent of the row's group (the target's labels are left alone too).
    groups : Groups, optional
        Parents are drawn within these. Drawn in proportion to their rows, a row's
        dominant parent is null with the source's share, as without groups; under another
        class balance the share would differ per class, and the dominant parent decides.
    parents : int
        Parents per row (the law's ``k``). With one (the bootstrap control) a row is a
        source row copied whole, nulls included: counting its nulls would make it
        something other than resampling, so they are left as copied.
    """
    skip = set(within.by_value) if within else set()
    if n <= 0 or parents < 2:
        return None
    if groups is not None and not groups.proportional(n):
        return None
    places = {f.spec.name: f.cols for f in enc.features}
    mixed: list[tuple[slice, float]] = []
    taken: dict[str, float] = {}
    for spec in specs:
        count = null_counts.get(spec.name, 0)
        if count == 0 or spec.name in skip or spec.target:
            continue
        if spec.name in places:
            mixed.append((places[spec.name], count / n))
        elif spec.name in enc.taken:
            taken[spec.name] = count / n
    return NullPlan(mixed, taken) if mixed or taken else None


def place_nulls(Y: np.ndarray, X_mix: np.ndarray, second: np.ndarray, plan: NullPlan, null: NullChoice) -> None:
    """Make the plan's mixed columns of ``Y`` (mixed rows, NaN filled from the dominant
    parent) null where ``null`` says, and give the other rows that lack a value (their
    dominant parent is null) the second parent's, from ``X_mix`` (the held rows in the
    mixing space; ``second`` indexes them). In place."""
    for i, (cols, _) in enumerate(plan.mixed):
        z = null.mixed[:, i]
        part = Y[:, cols]
        gap = np.flatnonzero(~z & np.isnan(part).any(axis=1))
        if gap.size:
            values = part[gap]
            missing = np.isnan(values)
            values[missing] = X_mix[second[gap]][:, cols][missing]
            Y[gap, cols] = values
        Y[z, cols] = np.nan

