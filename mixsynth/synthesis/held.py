"""The source rows a block mixes from: every row of an in-memory table, or the parent rows
a block names, gathered from Parquet fragments.

A block's draws name parents by their global row index (:mod:`mixsynth.synthesis.draws`). The
synthesizer turns them into positions among the :class:`Held` rows with :meth:`Held.local`
before it reads them, so one piece of code mixes, anchors, balances and decodes on either
engine. For a whole table the positions are the indices themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from mixsynth.synthesis.anchor import Anchor
from mixsynth.synthesis.backend import Mixer
from mixsynth.synthesis.encode import Encoded

__all__ = ["Held", "distinct"]

#: Gathered rows use dense position tables when the source has at most this many rows per id.
_DENSE = 16


def distinct(parents: np.ndarray, n: int) -> np.ndarray:
    """Sorted distinct values of ``parents`` (all in [0, n)).

    Examples
    --------
    >>> distinct(np.array([[3, 1], [1, 0]]), 5)
    array([0, 1, 3])
    """
    if n <= _DENSE * parents.size:
        seen = np.zeros(n, dtype=bool)
        seen[parents.reshape(-1)] = True
        return np.flatnonzero(seen)
    return np.unique(parents)


@dataclass
class Held:
    """Encoded source rows and what mixing them needs.

    Attributes
    ----------
    enc : Encoded
        The rows, encoded as the whole source is.
    X_mix : ndarray
        ``enc.X`` in the mixing space (normal scores under ``--space rank-gauss``).
    mixer : Mixer
        The kernel over ``X_mix`` on the run's backend.
    n : int
        Rows of the whole source.
    ids : int64 array or None
        The global index of each held row (sorted); None when every source row is held,
        in order.
    states : int array or None
        Each held row's joint state of the taken columns, when their choice is balanced.
    anchor : Anchor or None
        The run's anchoring, its row groups indexed by held row.
    """

    enc: Encoded
    X_mix: np.ndarray
    mixer: Mixer
    n: int
    ids: np.ndarray | None = None
    states: np.ndarray | None = None
    anchor: Anchor | None = None
    _table: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # Where the ids are dense (most of the source is gathered), a table of n positions
        # beats a binary search per parent by an order of magnitude.
        if self.ids is not None and self.n <= _DENSE * max(len(self.ids), 1):
            self._table = np.full(self.n, -1, dtype=np.int64)
            self._table[self.ids] = np.arange(len(self.ids))

    def local(self, parents: np.ndarray) -> np.ndarray:
        """Positions among the held rows of the global rows ``parents`` (all held)."""
        if self.ids is None:
            return parents
        if self._table is not None:
            found: np.ndarray = self._table[parents]
            return found
        return np.searchsorted(self.ids, parents)

    def missing(self, parents: np.ndarray) -> np.ndarray:
        """The rows of ``parents`` not held (sorted, distinct)."""
        if self.ids is None:
            return np.empty(0, dtype=np.int64)
        return np.setdiff1d(parents, self.ids)

    def merged(self, other: Held) -> tuple[np.ndarray, Encoded, np.ndarray | None]:
        """The global ids, rows and states of ``self`` and ``other`` together, sorted by id
        (both gathered: ``ids`` set)."""
        assert self.ids is not None
        assert other.ids is not None
        ids = np.concatenate([self.ids, other.ids])
        order = np.argsort(ids, kind="stable")
        a, b = self.enc, other.enc
        take = pa.array(order)
        enc = Encoded(
            columns=a.columns,
            X=np.vstack([a.X, b.X])[order],
            features=a.features,
            taken={k: pa.concat_arrays([a.taken[k], b.taken[k]]).take(take) for k in a.taken},
            taken_null={k: np.concatenate([a.taken_null[k], b.taken_null[k]])[order] for k in a.taken_null},
            id_start=a.id_start,
        )
        states = None
        if self.states is not None and other.states is not None:
            states = np.concatenate([self.states, other.states])[order]
        return ids[order], enc, states
