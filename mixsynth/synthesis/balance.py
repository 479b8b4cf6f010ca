"""Balanced parent choice: stratify the shares of taken (categorical) columns per block.

Boolean, categorical and string columns are taken whole from one parent, the same one for
all of them in a row, so their joint distribution is kept. That makes each synthetic row's
categories a draw from the source rows: every round resamples the shares, which then
random-walk like plain resampling's (a 1.5 % flag drifts by a third in ten rounds of
20 000 rows). Anchoring stratifies the mixed columns per logical block (see
:mod:`mixsynth.synthesis.anchor`); this does the same for the taken ones, with their joint state.

Each row of a two-parent block has two candidates, the chosen parent's state and the other
parent's. Starting from the chosen ones, the block's count of each joint state is brought
to its source share (largest remainders) by switching rows to their other parent, most
balanced choices first (the rows whose choice was closest to a coin flip), and only
between a state in surplus and one in deficit. Usually a few dozen rows of 8 192 switch;
the rest keep the parent that ``clip(λ, 0, 1)`` picked. The switch is written into the
row's uniform ``u`` (the value that picks the other parent), so every consumer of
``Draws.chosen`` sees it, on every engine.
"""

from __future__ import annotations

import numpy as np

from mixsynth.synthesis.anchor_sort import packed_order

__all__ = ["MAX_STATES", "ROWS_PER_STATE", "balance_choice", "joint_states", "quotas"]

#: Balance only joint states that are few and well filled (as anchoring's discrete rule).
MAX_STATES = 64
ROWS_PER_STATE = 5


def joint_states(codes: list[np.ndarray]) -> np.ndarray | None:
    """One code per source row for the tuple of its taken columns' codes, or None when
    there are too many distinct tuples for shares to mean anything.

    Examples
    --------
    >>> joint_states([np.array([0, 0, 1, 1] * 5), np.array([0, 1, 0, 0] * 5)]).tolist()[:4]
    [0, 1, 2, 2]
    """
    if not codes:
        return None
    inverse = _row_codes(codes)
    states = int(inverse.max()) + 1 if inverse.size else 0
    if states < 2 or states > min(MAX_STATES, inverse.size // ROWS_PER_STATE):
        return None
    return inverse.astype(np.int64)


def _row_codes(codes: list[np.ndarray]) -> np.ndarray:
    """``np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)[1]``: the rank of
    each row's tuple among the distinct tuples in lexicographic order.

    The tuples of non-negative codes are numbered in mixed radix, the first column most
    significant, which orders them as the lexicographic sort does; a sort of one integer
    per row is an order of magnitude faster than the sort of rows (a tenth of a second of
    start-up on a 20 000-row table). Tuples too many to number in 63 bits take the sort of
    rows.
    """
    key = np.zeros(codes[0].size, dtype=np.int64)
    span = 1
    for code in codes:
        low, high = (int(code.min()), int(code.max())) if code.size else (0, 0)
        radix = high + 1
        if low < 0 or span * radix >= 2**62:
            _, inverse = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
            return inverse.reshape(-1)
        key = key * radix + code
        span *= radix
    return np.unique(key, return_inverse=True)[1].reshape(-1)


def quotas(shares: np.ndarray, m: int) -> np.ndarray:
    """Counts summing to ``m`` closest to ``shares * m`` (largest remainders, ties to the
    lower state).

    Examples
    --------
    >>> quotas(np.array([0.5, 0.3, 0.2]), 7).tolist()
    [4, 2, 1]
    """
    exact = shares * m
    base = np.floor(exact).astype(np.int64)
    short = m - int(base.sum())
    if short > 0:
        order = np.lexsort((np.arange(shares.size), -(exact - base)))
        base[order[:short]] += 1
    return base


def balance_choice(
    states: np.ndarray, shares: np.ndarray, parents: np.ndarray, w: np.ndarray, u: np.ndarray, block: np.ndarray
) -> int:
    """Switch rows to their other parent so each block's joint-state counts meet their quotas.

    Parameters
    ----------
    states : int array of shape (n,)
        Joint state of each source row (:func:`joint_states`).
    shares : float array
        Each state's share of the source rows.
    parents, w : arrays of shape (m, 2)
        The rows' parents and weights (two-parent laws only).
    u : float array of shape (m,)
        The rows' uniforms; switched rows get the value that picks the other parent.
    block : int array of shape (m,)
        Logical block of each row (non-decreasing).

    Returns
    -------
    int
        Rows switched.
    """
    # clip(w, 0, None) and its row sums, column by column: the same operations (maximum,
    # one addition per row), so the same bits, at a tenth of the cost of sum(axis=1).
    w0, w1 = np.maximum(w[:, 0], 0.0), np.maximum(w[:, 1], 0.0)
    p0 = w0 / (w0 + w1)
    first = u < p0  # Draws.chosen's rule for two parents
    mine = states[np.where(first, parents[:, 0], parents[:, 1])]
    other = states[np.where(first, parents[:, 1], parents[:, 0])]
    # Rows that can switch: another state, and a choice that was not forced (0 < p0 < 1).
    free = (mine != other) & (p0 > 0.0) & (p0 < 1.0)
    switched = []
    cuts = np.flatnonzero(block[1:] != block[:-1]) + 1
    for lo, hi in zip(np.r_[0, cuts].tolist(), np.r_[cuts, block.size].tolist(), strict=True):
        need = quotas(shares, hi - lo)
        have = np.bincount(mine[lo:hi], minlength=shares.size)
        if not np.array_equal(have, need):
            switched.append(_Block(lo, hi, mine, other, free, p0, shares.size).balance(have, need))
    if not switched:
        return 0
    rows = np.concatenate(switched)
    # The midpoint of the other parent's interval of u: picks it, stays in (0, 1).
    u[rows] = np.where(first[rows], (p0[rows] + 1.0) / 2.0, p0[rows] / 2.0)
    return int(rows.size)


class _Block:
    """One logical block's free rows, in the passes' order and by pair of states.

    A row can switch from its state ``a`` to its other parent's ``b``; the passes visit the
    free rows most balanced choice first (``|p0 - 0.5|``, ties by row). Within a pass a
    giver (over its quota) never falls under it and a taker never rises past what it may
    take, so a giver may give ``have - need`` rows and a taker take ``need - have`` (one
    more into a full state), and a state that has run out stays out. The rows of one pair
    ``(a, b)`` that switch in a pass are therefore the first of that pair's remaining rows,
    at most as many as the smaller allowance: a later row is skipped whatever comes before
    it, and a skipped row changes nothing. So each pass visits, in order, only the rows
    within their pair's allowance (under two per moved row, against seventeen for all
    candidates on randhie), with the same rule and the same result; switched rows are always a
    prefix of their pair's rows, so a count per pair says where each pair resumes.
    """

    def __init__(
        self, lo: int, hi: int, mine: np.ndarray, other: np.ndarray, free: np.ndarray, p0: np.ndarray, k: int
    ) -> None:
        rows = np.flatnonzero(free[lo:hi]) + lo
        # The order of every pass: sorting once is the same as sorting each pass's subset,
        # as a stable sort keeps the row order of ties.
        self.rows = rows[_stable_order(np.abs(p0[rows] - 0.5))]
        self.a, self.b = mine[self.rows], other[self.rows]
        pair = self.a.astype(np.int64, copy=False) * k + self.b
        #: Places (in the pass order) of each pair's rows, pair after pair, each in that order.
        # Pair codes fit 16 bits up to 181 states: NumPy's stable sort of those is a radix sort.
        self.by_pair = np.argsort(pair.astype(np.int16) if k * k < 1 << 15 else pair, kind="stable")
        counts = np.bincount(pair, minlength=k * k)
        codes = np.flatnonzero(counts)
        ends = np.cumsum(counts)[codes]
        index = np.zeros(k * k, dtype=np.int64)
        index[codes] = np.arange(codes.size)
        #: Each place's pair, as an index into ``pairs``.
        self.pair = index[pair]
        #: [giving state, taking state, start and end in by_pair, rows switched so far]
        self.pairs = [[c // k, c % k, e - n, e, 0] for c, n, e in
                      zip(codes.tolist(), counts[codes].tolist(), ends.tolist(), strict=True)]

    def balance(self, have: np.ndarray, need: np.ndarray) -> np.ndarray:
        """Up to five passes; returns the switched rows. ``have`` is updated in place."""
        got, want = have.tolist(), need.tolist()
        moved: list[int] = []
        # Direct moves (surplus -> deficit) first; where a pair of states has no row to
        # move, a move into a state that is on quota lets the next direct pass pass the
        # surplus on (a -> b -> c), so rare states are balanced through common ones.
        for into_full in (False, True, False, True, False):
            if got == want:
                break
            moved += self._pass(got, want, into_full)
        have[:] = got
        return self.rows[moved]

    def _pass(self, got: list[int], want: list[int], into_full: bool) -> list[int]:
        """One pass, most balanced choice first; updates ``got``, returns places moved."""
        spans = []
        for pair in self.pairs:
            a, b, start, end, done = pair
            if got[a] > want[a] and (got[b] < want[b] or (into_full and got[b] == want[b])):
                allow = min(got[a] - want[a], want[b] - got[b] + into_full)
                spans.append(self.by_pair[start + done:min(start + done + allow, end)])
        if not spans:
            return []
        places = np.sort(np.concatenate(spans))
        moved = []
        # The sequential rule on the rows that may switch; plain Python ints in the loop
        # (numpy scalars cost a microsecond per touch). The row-by-row loop stopped once
        # every count met its quota; no row can switch then, so going on changes nothing.
        pairs = self.pairs
        for i, a, b, j in zip(places.tolist(), self.a[places].tolist(), self.b[places].tolist(),
                              self.pair[places].tolist(), strict=True):
            if got[a] > want[a] and (got[b] < want[b] or (into_full and got[b] == want[b])):
                got[a] -= 1
                got[b] += 1
                pairs[j][4] += 1
                moved.append(i)
        return moved


def _stable_order(x: np.ndarray) -> np.ndarray:
    """``np.argsort(x, kind="stable")`` for float64 ``x`` with no NaN and no ``-0.0``
    (an absolute value), at about half its cost.

    Equal values have equal packed keys but for the index bits, so
    :func:`~mixsynth.synthesis.anchor_sort.packed_order` puts them in index order, as the
    stable sort does (``-0.0`` would sort before ``0.0`` whatever the index: hence the
    condition). Where its gathered values are not in order (values that differ only in the
    packed-away bits), the stable sort itself is used.
    """
    by = packed_order(x)
    if by is not None:
        got = x[by]
        if (got[1:] >= got[:-1]).all():
            return by
    return np.argsort(x, kind="stable")
