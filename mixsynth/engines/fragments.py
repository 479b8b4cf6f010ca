"""A partitioned Parquet dataset as a row source (the Dask engine's).

:class:`FragmentSource` is a :class:`~mixsynth.synthesis.sources.RowSource` whose rows stay in
Parquet fragments. It surveys them in one pass (row counts, nulls, extremes, temporal
origins, identifier maxima) and from those facts gives the answers an in-memory table
gives: the same column kinds, identifiers, origins and bounds. A block gathers only the
parent rows its draws name (global row indices), so for the same seed the synthesizer
writes the same rows as over the whole table, for any number of workers or files. The
repair and anchoring fits run where the rows are (:mod:`mixsynth.engines.fragment_fits`): the pilot
is drawn and mixed from its gathered parents on a worker and each column is fitted by one
task, so no source column reaches the caller. A target's label plan and ``--within``
groups are planned on a worker too, and their row order stays on the workers
(:mod:`mixsynth.engines.fragment_groups`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import pyarrow as pa

from mixsynth.engines import fragment_fits as fits
from mixsynth.engines.fragment_groups import plan_here
from mixsynth.engines.survey import (
    FragmentFacts,
    check_nan,
    extreme_rows,
    fragment_facts,
    grids_of,
    id_like_over,
    kinds_of,
)
from mixsynth.io.dataset import (
    Call,
    Mapper,
    Reducer,
    RowIndex,
    SourceDataset,
    gather_rows,
    local_map,
    local_reduce,
)
from mixsynth.schema import ColumnSpec, infer_kind
from mixsynth.synthesis.anchor import Anchor
from mixsynth.synthesis.anchor_exclusive import exclusive_from_counts
from mixsynth.synthesis.columns import plan_specs
from mixsynth.synthesis.draws import Draws
from mixsynth.synthesis.encode import Encoded, encode
from mixsynth.synthesis.grid import Grid
from mixsynth.synthesis.held import distinct
from mixsynth.synthesis.repair import Repair, fit_repair, repairable
from mixsynth.synthesis.rounding import rounded_columns

if TYPE_CHECKING:
    from mixsynth.synthesis.held import Held
    from mixsynth.synthesis.synthesizer import Synthesizer

__all__ = ["FragmentSource"]

Notify = Callable[[str], None]
P = TypeVar("P")


def _pilot(rows: int, synth: Synthesizer) -> tuple[Draws, np.ndarray]:
    """The pilot's draws and mixed rows, from its parents alone (runs on a worker: grouped
    draws need the groups' row order, which stays on the workers)."""
    d = synth.pilot_draws(rows)
    return d, synth.mix(synth.source.gather(synth, distinct(d.parents, synth.n)), d)


class FragmentSource:
    """The rows of a partitioned Parquet dataset, read on demand.

    Parameters
    ----------
    source : SourceDataset
    columns : list of str
        Columns to synthesise (already selected, in source order).
    mapper : callable, optional
        ``mapper(fn, items)`` runs the survey, the fits and the reads of whole columns
        over the fragments (default: in this process); the Dask engine passes one that
        runs on the workers.
    reducer : callable, optional
        A :data:`~mixsynth.io.dataset.Reducer` for scans merged over the fragments (the
        identifier check's keys, the anchoring's exclusive sets); the Dask engine's
        merges them on the workers.
    memory_limit : int, optional
        Bytes of gathered rows a worker encodes before spilling them to a file.
    """

    holds_every_row = False

    def __init__(
        self,
        source: SourceDataset,
        columns: list[str],
        *,
        mapper: Mapper[Any] | None = None,
        reducer: Reducer | None = None,
        memory_limit: int | None = None,
    ) -> None:
        self._run: Mapper[Any] = mapper or local_map
        self._reduce: Reducer = reducer or local_reduce
        self.dataset = source
        self.memory_limit = memory_limit
        self._schema = source.select(columns)
        self._kinds = kinds_of(source.schema, columns)
        self.facts: list[FragmentFacts] = list(
            self._run(Call(fragment_facts, source.schema, self._kinds), source.fragments))
        self.index = RowIndex.build(source, self.facts)
        self.specs: list[ColumnSpec] = []
        self.nan = "error"
        self.precision = "auto"
        self.extremes: pa.Table | None = None
        #: Each integer and temporal column's grid, from the files' facts merged.
        self.grids: dict[str, Grid | None] = {}
        #: The balance of the taken columns, when on: each gathered row's joint state.
        self.balance_plan: fits.BalancePlan | None = None

    def __getstate__(self) -> dict[str, Any]:
        # What travels to workers: the plan and the file list, not the caller's mapper and
        # reducer (a Dask client cannot be pickled), nor the survey's facts.
        return {**self.__dict__, "_run": None, "_reduce": None, "facts": None, "dataset": None}

    @property
    def n(self) -> int:
        """Number of source rows (over all fragments)."""
        return self.index.rows

    @property
    def schema(self) -> pa.Schema:
        """The selected columns' schema."""
        return self._schema

    # -- the decisions, from the survey's facts ---------------------------------------------

    def column_specs(self, target: str | None, ids: str, notify: Notify) -> list[ColumnSpec]:
        """As :func:`mixsynth.synthesis.columns.plan_columns`, from per-fragment facts."""
        facts, n, kinds, source = self.facts, self.n, self._kinds, self.dataset
        return plan_specs(
            self._schema,
            n,
            # An unsupported type raises the local engine's error from infer_kind.
            kind_of=lambda fld: kinds[fld.name] or infer_kind(fld.name, fld.type),
            all_null=lambda name: sum(f.columns[name].nulls for f in facts) == n,
            looks_like_id=lambda name, kind: id_like_over(
                name, kind, source.schema, source.fragments, facts, self._reduce
            ),
            target=target,
            ids=ids,
            notify=notify,
        )

    def plan(self, names: list[str], fn: Callable[[pa.Table, Notify], P], notify: Notify) -> P:
        """``fn(columns, notify)`` run on a worker that reads the whole columns; the plan's
        groups keep their row order there (:class:`GroupOrder`), so no column and no
        index per row comes to the caller."""
        task = Call(plan_here, self.index, names, fn, secrets.token_hex(8))
        [(planned, notices)] = list(self._run(task, [None]))
        for line in notices:
            notify(line)
        return cast("P", planned)

    def rows(self, ids: np.ndarray, names: list[str]) -> pa.Table:
        """Rows ``ids`` of columns ``names``, gathered by index."""
        return gather_rows(self.index, ids, names)

    def encode(self, specs: list[ColumnSpec], nan: str, precision: str, notify: Notify) -> Encoded:
        """The layout of the whole source: ``encode()`` of a two-row table holding each
        column's global minimum and maximum gives its temporal origins, dtype and
        identifier starts, and its X is all that the bounds read; the grids come from
        the files' facts (two rows do not show a grid)."""
        check_nan(specs, self.facts, self.index.offsets, nan)
        self.extremes = extreme_rows(self._schema, specs, self.facts)
        self.grids = grids_of(self._schema, specs, self.facts)
        enc = encode(self.extremes, specs, nan=nan, precision=precision, notify=notify, grids=self.grids)
        self.specs, self.nan, self.precision = specs, nan, enc.X.dtype.name
        return enc

    def null_counts(self) -> dict[str, int]:
        """Nulls of each column over every file, from the survey's facts, as a table counts
        them (a float column's NaN and infinities, nulls under ``--nan skip``, included)."""
        return {s.name: sum(f.columns[s.name].nulls + f.columns[s.name].bad for f in self.facts) for s in self.specs}

    # -- rows -------------------------------------------------------------------------------

    def encode_rows(self, table: pa.Table, specs: list[ColumnSpec] | None = None) -> Encoded:
        """Source rows ``table`` encoded as the whole source is (``specs``: default all)."""
        assert self.extremes is not None, "encode() comes first"
        specs = self.specs if specs is None else specs
        names = [s.name for s in specs]
        extremes = self.extremes.select(names)
        # The extreme rows ride along so encode() picks the global origins and dtype.
        both = pa.concat_tables(
            [pa.Table.from_arrays(table.select(names).columns, schema=extremes.schema), extremes]
        )
        enc = encode(both, specs, nan=self.nan, precision=self.precision, memory_limit=self.memory_limit,
                     grids=self.grids)
        m = table.num_rows
        enc.X = enc.X[:m]
        enc.taken = {k: v.slice(0, m) for k, v in enc.taken.items()}
        enc.taken_null = {k: v[:m] for k, v in enc.taken_null.items()}
        return enc

    def whole_column(self, spec: ColumnSpec) -> np.ndarray:
        """One mixed column over every file, encoded: shape (n, width) (a worker's fit)."""
        parts = [f.to_table(columns=[spec.name], schema=self.index.schema) for f in self.index.fragments]
        return self.encode_rows(pa.concat_tables(parts), [spec]).X

    def gather(self, synth: Synthesizer, ids: np.ndarray) -> Held:
        """Rows ``ids``, read from the files that hold them and encoded."""
        enc = self.encode_rows(gather_rows(self.index, ids, [s.name for s in self.specs]))
        enc.id_start = synth.enc.id_start
        plan = self.balance_plan
        states = None if plan is None else plan.states(enc.taken)
        return synth.held_rows(enc, ids, states)

    # -- the fits, run where the rows are ---------------------------------------------------

    def pilot(self, synth: Synthesizer, rows: int) -> tuple[Draws, np.ndarray]:
        """The pilot: drawn, its parents gathered and mixed on a worker."""
        [(d, pilot)] = list(self._run(Call(_pilot, synth), [rows]))
        return d, pilot

    def _column_items(self, synth: Synthesizer, pilot: np.ndarray) -> list[tuple[int, np.ndarray]]:
        return [(i, np.ascontiguousarray(pilot[:, f.cols])) for i, f in enumerate(synth.enc.features)]

    def fit_anchor(self, synth: Synthesizer, d: Draws, pilot: np.ndarray) -> Anchor:
        """:func:`mixsynth.synthesis.anchor.fit_anchor`, one source column per task on the workers."""
        two_parents = synth.law.k == 2
        features = synth.enc.features
        width = synth.enc.X.shape[1]
        parts = list(self._run(Call(fits.anchor_column, synth, d, two_parents), self._column_items(synth, pilot)))
        two = [
            (f.start + j, base)
            for f, part in zip(features, parts, strict=True)
            for j, base in enumerate(part.bases)
            if base is not None
        ]
        exclusive = np.zeros(width, dtype=bool)
        if two_parents and len(two) >= 2:
            # Summed where they are made: one (pairs x pairs) matrix comes back, not one per file.
            counting = Call(fits.exclusive_counts, synth, two)
            both, on = self._reduce(counting, self.index.fragments, fits.add_counts, fits.same)
            exclusive = exclusive_from_counts(width, two, both, on, self.n)
        return fits.assemble_anchor([f.start for f in features], parts, exclusive, synth.groups, self.n)

    def fit_repair(self, synth: Synthesizer, d: Draws, pilot: np.ndarray) -> Repair:
        """:func:`mixsynth.synthesis.repair.fit_repair`, one source column per task on the workers."""
        if synth.enc.features:
            task = Call(fits.repair_column, synth, synth.law.variance_factor())
            return fits.assemble_repair(list(self._run(task, self._column_items(synth, pilot))))
        # No mixed column: nothing is read of X but its width.
        return fit_repair(synth.enc.X[:0], pilot, synth.bounds, repairable(synth.enc, synth.bounds),
                          synth.law.variance_factor(), rounded_columns(synth.enc))

    def balance(self, synth: Synthesizer) -> tuple[np.ndarray | None, np.ndarray] | None:
        """The balance plan from per-file scans; each gathered row then carries its state
        (no array of one state per source row is made)."""
        names = [s.name for s in synth.specs if s.name in synth.enc.taken and not s.target]
        self.balance_plan = fits.plan_balance(self._run, self.index.fragments, self.index.schema, names, self.n)
        return None if self.balance_plan is None else (None, self.balance_plan.shares)
