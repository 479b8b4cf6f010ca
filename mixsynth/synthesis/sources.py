"""Where a synthesizer's source rows come from: the strategy an engine plugs in.

:class:`~mixsynth.synthesis.synthesizer.Synthesizer` takes every decision (column kinds, label plan,
groups, layout, bounds, fits) through a :class:`RowSource`, and mixes its blocks from the
:class:`~mixsynth.synthesis.held.Held` rows the source gives it. :class:`TableSource` is an
in-memory table (the local engine and the Python API): it holds every row, and its fits
read whole columns. :class:`mixsynth.engines.fragments.FragmentSource` is a partitioned Parquet
dataset (the Dask engine): it gathers the parents a block names, and runs its fits where
the rows are. Both give the same answers, so the same seed gives the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth.schema import ColumnSpec, Kind
from mixsynth.synthesis.anchor import Anchor, fit_anchor
from mixsynth.synthesis.balance import joint_states
from mixsynth.synthesis.columns import plan_columns
from mixsynth.synthesis.draws import Draws
from mixsynth.synthesis.encode import Encoded, encode
from mixsynth.synthesis.repair import Repair, fit_repair, repairable
from mixsynth.synthesis.rounding import rounded_columns

if TYPE_CHECKING:
    from mixsynth.synthesis.held import Held
    from mixsynth.synthesis.synthesizer import Synthesizer

__all__ = ["RowSource", "TableSource"]

Notify = Callable[[str], None]
#: What a plan over whole columns makes (a label plan, ``--within`` groups).
P = TypeVar("P")


class RowSource(Protocol):
    """What a synthesizer asks of its source (see the module docstring)."""

    #: Every row is in memory (encoded once, mixed in any space, fitted whole); else the
    #: blocks gather their parents and what needs every row at once is refused.
    holds_every_row: bool

    @property
    def n(self) -> int:
        """Source rows."""

    @property
    def schema(self) -> pa.Schema:
        """The source's schema (the columns to synthesise)."""

    def column_specs(self, target: str | None, ids: str, notify: Notify) -> list[ColumnSpec]:
        """Each column's kind and role (:func:`mixsynth.synthesis.columns.plan_columns`)."""

    def plan(self, names: list[str], fn: Callable[[pa.Table, Notify], P], notify: Notify) -> P:
        """``fn(columns, notify)`` on the whole columns ``names`` (the target's label plan,
        the ``--within`` groups). A source that does not hold its rows runs it where they
        are and keeps the groups' row order there (:class:`~mixsynth.synthesis.labels.OrderRef`)."""

    def rows(self, ids: np.ndarray, names: list[str]) -> pa.Table:
        """Rows ``ids`` (sorted global indices) of columns ``names``."""

    def encode(self, specs: list[ColumnSpec], nan: str, precision: str, notify: Notify) -> Encoded:
        """The encoded layout (and, for a source held in memory, its rows)."""

    def null_counts(self) -> dict[str, int]:
        """Nulls of each column over every row, NaN and infinities of ``--nan skip`` included
        (after :meth:`encode`)."""

    def gather(self, synth: Synthesizer, ids: np.ndarray) -> Held:
        """The held rows that include ``ids`` (sorted distinct global indices)."""

    def pilot(self, synth: Synthesizer, rows: int) -> tuple[Draws, np.ndarray]:
        """The pilot's draws (:meth:`Synthesizer.pilot_draws`) and mixed rows (before
        bounds), as a block mixes them."""

    def fit_anchor(self, synth: Synthesizer, d: Draws, pilot: np.ndarray) -> Anchor:
        """:func:`mixsynth.synthesis.anchor.fit_anchor` over the whole source."""

    def fit_repair(self, synth: Synthesizer, d: Draws, pilot: np.ndarray) -> Repair:
        """:func:`mixsynth.synthesis.repair.fit_repair` over the whole source."""

    def balance(self, synth: Synthesizer) -> tuple[np.ndarray | None, np.ndarray] | None:
        """The taken columns' joint state per source row (None where the held rows carry
        their own) and the states' shares, or None when no few well-filled states fit."""


class TableSource:
    """An in-memory Arrow table as a row source: every row is held.

    Parameters
    ----------
    table : pyarrow.Table
        Source rows, restricted to the columns to synthesise.
    memory_limit : int, optional
        Bytes; a larger encoded source is memory-mapped from a temporary file.
    """

    holds_every_row = True

    def __init__(self, table: pa.Table, memory_limit: int | None = None) -> None:
        self._table: pa.Table | None = table
        self._n = table.num_rows
        self._schema = table.schema
        self.memory_limit = memory_limit
        self._nulls: dict[str, int] = {}

    @property
    def n(self) -> int:
        """Source rows."""
        return self._n

    @property
    def schema(self) -> pa.Schema:
        """The table's schema."""
        return self._schema

    @property
    def table(self) -> pa.Table:
        """The table, until it is encoded (then only the encoded rows are kept)."""
        assert self._table is not None, "the table is released once encoded"
        return self._table

    def column_specs(self, target: str | None, ids: str, notify: Notify) -> list[ColumnSpec]:
        """:func:`mixsynth.synthesis.columns.plan_columns` of the table."""
        return plan_columns(self.table, target=target, ids=ids, notify=notify)

    def plan(self, names: list[str], fn: Callable[[pa.Table, Notify], P], notify: Notify) -> P:
        """``fn`` on the columns ``names`` of the table."""
        return fn(self.table.select(names), notify)

    def rows(self, ids: np.ndarray, names: list[str]) -> pa.Table:
        """Rows ``ids`` of columns ``names``."""
        return self.table.select(names).take(ids)

    def encode(self, specs: list[ColumnSpec], nan: str, precision: str, notify: Notify) -> Encoded:
        """The whole table encoded; the Arrow table is released (its memory can go)."""
        enc = encode(self.table.select([s.name for s in specs]), specs, nan=nan, precision=precision,
                     memory_limit=self.memory_limit, notify=notify)
        # Counted now: the table goes once encoded. A float column's NaN and infinities
        # (nulls under --nan skip) are NaN in X, as the Dask engine's survey counts them.
        self._nulls = {s.name: self.table.column(s.name).null_count for s in specs}
        for f in enc.features:
            if f.spec.kind is Kind.FLOAT:
                self._nulls[f.spec.name] = int(np.isnan(enc.X[:, f.start]).sum())
        self._table = None
        return enc

    def null_counts(self) -> dict[str, int]:
        """Nulls of each encoded column (a float column's NaN and infinities included)."""
        return self._nulls

    def gather(self, synth: Synthesizer, ids: np.ndarray) -> Held:
        """Every row, whatever ``ids`` asks (:attr:`Synthesizer.whole`)."""
        assert synth.whole is not None
        return synth.whole

    def pilot(self, synth: Synthesizer, rows: int) -> tuple[Draws, np.ndarray]:
        """The pilot mixed from the held rows."""
        d = synth.pilot_draws(rows)
        return d, synth.mix(self.gather(synth, d.parents), d)

    def fit_anchor(self, synth: Synthesizer, d: Draws, pilot: np.ndarray) -> Anchor:
        """:func:`mixsynth.synthesis.anchor.fit_anchor` on the encoded rows."""
        every = np.ones(synth.enc.X.shape[1], dtype=bool)
        return fit_anchor(synth.enc.X, pilot, d, every, rounded_columns(synth.enc), synth.law.k == 2, synth.groups)

    def fit_repair(self, synth: Synthesizer, d: Draws, pilot: np.ndarray) -> Repair:
        """:func:`mixsynth.synthesis.repair.fit_repair` on the encoded rows."""
        return fit_repair(synth.enc.X, pilot, synth.bounds, repairable(synth.enc, synth.bounds),
                          synth.law.variance_factor(), rounded_columns(synth.enc))

    def balance(self, synth: Synthesizer) -> tuple[np.ndarray | None, np.ndarray] | None:
        """The taken columns' joint state per row and the states' shares. The columns with
        fewest categories come first, each kept while the joint states stay few and well
        filled: names and cities would make every state one row."""
        codes = []
        for spec in synth.specs:
            if spec.name in synth.enc.taken and not spec.target:
                arr = synth.enc.taken[spec.name]
                arr = arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr
                codes.append(pc.dictionary_encode(arr, null_encoding="encode").indices.to_numpy())
        kept: list[np.ndarray] = []
        states = None
        for code in sorted(codes, key=lambda c: int(c.max(initial=0))):
            trial = joint_states([*kept, code])
            if trial is not None:
                kept, states = [*kept, code], trial
        if states is None:
            return None
        return states, np.bincount(states) / states.size
