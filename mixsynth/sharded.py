"""A Synthesizer whose source stays in Parquet fragments (the Dask engine's kernel).

:class:`ShardedSynthesizer` is prepared from facts gathered in one pass over the fragments
(row counts, nulls, extremes, temporal origins, identifier maxima) instead of the whole
table, and takes the decisions :class:`~mixsynth.generate.Synthesizer` takes on the
concatenated table: the same column kinds, identifiers, origins and bounds. Its blocks
use the same draws (global row indices), then read only the parent rows those draws name,
so for the same seed it writes the same rows as the local engine, for any number of
workers or partitions. The repair and anchoring fits are the local engine's too, each part
run where the rows are (:mod:`mixsynth.sharded_fit`): the pilot is mixed from its gathered
parents and each column is fitted by one task, so no source column reaches the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import pyarrow as pa

from mixsynth.anchor import Anchor
from mixsynth.backend import Backend, Mixer
from mixsynth.backend import resolve as resolve_backend
from mixsynth.bounds import apply_bounds, out_of_bounds
from mixsynth.dataset import (
    ColumnFacts,
    FragmentFacts,
    Reducer,
    RowIndex,
    SourceDataset,
    fragment_facts,
    gather_rows,
    id_like_over,
    kinds_of,
    local_reduce,
)
from mixsynth.draws import Draws, draw
from mixsynth.encode import Encoded, decode, encode
from mixsynth.errors import SchemaError, UsageError
from mixsynth.generate import _RESAMPLE_ATTEMPTS, DEFAULT_CHUNK_ROWS, Synthesizer
from mixsynth.labels import LabelOptions, LabelPlan
from mixsynth.plan import build_bounds, plan_specs
from mixsynth.repair import Repair, fit_repair
from mixsynth.schema import (
    ColumnSpec,
    Kind,
    infer_kind,
    is_mixed,
    storage_type,
)
from mixsynth.sharded_fit import (
    BalancePlan,
    add_counts,
    anchor_column,
    assemble_anchor,
    assemble_repair,
    exclusive_counts,
    exclusive_from_counts,
    plan_balance,
    repair_column,
    row_groups,
    same,
)
from mixsynth.space_plan import anchor_columns, repairable, resolve_repair
from mixsynth.weights import WeightLaw
from mixsynth.within import Within

__all__ = ["Mapper", "ShardedSynthesizer"]

T = TypeVar("T")
#: Gathered rows use dense position tables when the source has at most this many rows per id.
_DENSE = 16
#: Runs a function over items and returns the results in order (``map``, or a Dask client's).
Mapper = Callable[[Callable[[Any], T], Iterable[Any]], Iterable[T]]


def _local_map(fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
    return [fn(item) for item in items]


class _Call:
    """A picklable ``fn(item, *args)`` (lambdas do not travel to Dask workers)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args

    def __call__(self, item: Any) -> Any:
        return self.fn(item, *self.args)


@dataclass
class _Rows:
    """Gathered source rows: sorted global ids and a view of the synthesizer over them
    (and, when the taken columns are balanced, each row's joint state)."""

    ids: np.ndarray
    view: ShardedSynthesizer
    n: int
    states: np.ndarray | None = None

    def __post_init__(self) -> None:
        # Where the ids are dense (most of the source is gathered), a table of n positions
        # beats a binary search per parent by an order of magnitude.
        self._table: np.ndarray | None = None
        if self.n <= _DENSE * max(len(self.ids), 1):
            self._table = np.full(self.n, -1, dtype=np.int64)
            self._table[self.ids] = np.arange(len(self.ids))

    def local(self, parents: np.ndarray) -> np.ndarray:
        if self._table is not None:
            return self._table[parents]
        return np.searchsorted(self.ids, parents)


class _StatesOf:
    """The joint states of global rows, found among the held gathered rows.

    :func:`mixsynth.balance.balance_choice` only indexes its ``states`` with parents, and
    every parent of a block is gathered before it runs: this stands in for the local
    engine's array of one state per source row, which the client never builds.
    """

    def __init__(self, held: list[_Rows]) -> None:
        self.held = held

    def __getitem__(self, parents: np.ndarray) -> np.ndarray:
        rows = self.held[0]
        assert rows.states is not None  # set by _fetch whenever a plan exists
        return rows.states[rows.local(parents)]


def _mix_pilot(d: Draws, synth: ShardedSynthesizer) -> np.ndarray:
    """The pilot's mixed rows, from its parents alone (runs on a worker)."""
    rows = synth._fetch(_distinct(d.parents, synth.n))
    return rows.view._mix(Draws(rows.local(d.parents), d.w, d.u))


def _distinct(parents: np.ndarray, n: int) -> np.ndarray:
    """Sorted distinct values of ``parents`` (all in [0, n))."""
    if n <= _DENSE * parents.size:
        seen = np.zeros(n, dtype=bool)
        seen[parents.reshape(-1)] = True
        return np.flatnonzero(seen)
    return np.unique(parents)


class ShardedSynthesizer(Synthesizer):
    """A :class:`Synthesizer` over a partitioned Parquet source, read on demand.

    Parameters
    ----------
    source : SourceDataset
    columns : list of str
        Columns to synthesise (already selected, in source order).
    mapper : callable, optional
        ``mapper(fn, items)`` runs the one-pass survey over the fragments (default: in
        this process); the Dask engine passes one that runs on the workers.
    reducer : callable, optional
        A :data:`~mixsynth.dataset.Reducer` for scans merged over the fragments (the
        identifier check's keys); the Dask engine's merges them on the workers.
    weights, seed, bounds, bounds_overrides, repair, space, target, labels, nan, ids, notify,
    backend, precision, memory_limit
        As for :class:`Synthesizer`, with two limits: a ``target`` column and the
        ``--within`` columns (``labels.within``) are read whole here; and ``space`` must be
        ``raw`` and label modes ``soft``/``genlabel`` are refused, since they need every row
        at once. The repair and anchoring fits read the source column by column through
        ``mapper`` (on the Dask engine: one worker per column, never this process).
    """

    def __init__(
        self,
        source: SourceDataset,
        columns: list[str],
        *,
        mapper: Mapper[Any] | None = None,
        reducer: Reducer | None = None,
        weights: str | WeightLaw = "epbeta",
        seed: int | None = None,
        bounds: str = "auto",
        bounds_overrides: Mapping[str, object] | None = None,
        repair: str = "auto",
        space: str = "raw",
        target: str | None = None,
        labels: LabelOptions | None = None,
        nan: str = "error",
        ids: str = "regenerate",
        notify: Callable[[str], None] | None = None,
        backend: str | Backend = "numpy",
        precision: str = "auto",
        memory_limit: int | None = None,
    ) -> None:
        run = mapper or _local_map
        self._init_run(weights=weights, seed=seed, nan=nan, ids=ids, notify=notify, backend=backend)
        schema = source.select(columns)
        kinds = kinds_of(source.schema, columns)
        facts = list(run(_Call(fragment_facts, source.schema, kinds), source.fragments))
        self.index = RowIndex.build(source, facts)
        self.source_schema = schema
        reduce = reducer or local_reduce
        self.specs = self._plan(source, schema, kinds, facts, target, ids, reduce)
        self.label_plan = self._labels(source, target, labels or LabelOptions(), run)
        self.within = self._within(source, columns, labels or LabelOptions(), run)
        self.groups = self.within.groups if self.within else (self.label_plan.groups if self.label_plan else None)
        self.labeler = None
        self._check_nan(facts, nan)
        # encode() of a two-row table holding each column's global minimum and maximum makes
        # the local engine's layout (temporal origins, dtype, identifier starts), and its X is
        # all that build_bounds reads.
        self.extremes = _extreme_rows(schema, self.specs, facts)
        self.enc = encode(
            self.extremes, self.specs, nan=nan, precision=precision, notify=self.notify
        )
        self._copied = self._copied_columns()
        self._rounded = anchor_columns(self.enc)[1]
        if space != "raw":
            msg = (
                f"--space {space} ranks each column over the whole source and is not available "
                "with --engine dask; use --space raw"
            )
            raise UsageError(msg)
        self.space, self.rank_gauss = space, None
        self._X_mix = self.enc.X
        self._mixer = Mixer(self.backend, self.enc.X)  # blocks use their own (see _view)
        self.memory_limit = memory_limit
        self.bounds_policy, self.target, self.nan = bounds, target, nan
        self.bounds = build_bounds(self.enc, bounds, bounds_overrides)
        self.repair, self.anchor, self.balance = None, None, None
        #: The balance of the taken columns, when on: ``balance`` stays None and each block
        #: looks the states up among its gathered rows (see :class:`_StatesOf`).
        self._balance_plan: BalancePlan | None = None
        self.repair_mode = resolve_repair(repair, self.law, space, self.bounds)
        # The local engine's fits, each part run where the rows are (mixsynth.sharded_fit):
        # the client holds the pilot and the fitted maps, never a source column.
        self._run, self._reduce = run, reduce
        try:
            self._fit_correction()
        finally:
            del self._run, self._reduce
        self.adjusted = np.zeros(self.enc.X.shape[1], dtype=np.int64)
        self.rows_written = 0
        self.total_rows: int | None = None

    @property
    def n(self) -> int:
        """Number of source rows (over all fragments)."""
        return self.index.rows

    def clone(self) -> ShardedSynthesizer:
        """A shallow copy (``copy.copy`` would go through the pickling state below)."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin

    def __getstate__(self) -> dict[str, Any]:
        # What travels to workers: the plan, not the client's notice callback, array module
        # or device copy (the backend is resolved again by name on arrival).
        state = {**self.__dict__, "notify": None, "backend": self.backend.name}
        state.pop("_mixer", None)
        state.pop("_X_mix", None)
        state.pop("_run", None)  # the client's mapper and reducer, set only while fitting
        state.pop("_reduce", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.backend = resolve_backend(state["backend"])
        self._X_mix = self.enc.X
        self._mixer = Mixer(self.backend, self.enc.X)

    # -- preparation: the local engine's decisions, from global facts ---------------------

    def _plan(
        self,
        source: SourceDataset,
        schema: pa.Schema,
        kinds: dict[str, Kind | None],
        facts: list[FragmentFacts],
        target: str | None,
        ids: str,
        reduce: Reducer,
    ) -> list[ColumnSpec]:
        """As :func:`mixsynth.plan.plan_columns`, from per-fragment facts."""
        n = sum(f.rows for f in facts)
        return plan_specs(
            schema,
            n,
            # An unsupported type raises the local engine's error from infer_kind.
            kind_of=lambda fld: kinds[fld.name] or infer_kind(fld.name, fld.type),
            all_null=lambda name: sum(f.columns[name].nulls for f in facts) == n,
            looks_like_id=lambda name, kind: id_like_over(
                name, kind, source.schema, source.fragments, facts, reduce
            ),
            target=target,
            ids=ids,
            notify=self.notify,
        )

    def _labels(
        self, source: SourceDataset, target: str | None, labels: LabelOptions, run: Mapper[Any]
    ) -> LabelPlan | None:
        """The local engine's label plan, from the target column alone (read whole here)."""
        if labels.mode in ("soft", "genlabel"):
            msg = (
                f"--label-mode {labels.mode} fits a model on the whole source and is not available "
                "with --engine dask; use dominant, within-class, mix or within-bin"
            )
            raise UsageError(msg)
        column = None
        if target is not None:
            parts = run(_Call(_column, source.schema, target), source.fragments)
            column = pa.chunked_array(list(parts), type=source.schema.field(target).type)
        return self._plan_target(
            pa.table({target: column}) if column is not None else pa.table({}), target, labels
        )

    def _within(
        self, source: SourceDataset, columns: list[str], labels: LabelOptions, run: Mapper[Any]
    ) -> Within | None:
        """The local engine's ``--within`` groups, from those columns alone (read whole here);
        ``auto`` measures on the same sample rows as the local engine, gathered by index."""

        def whole(name: str) -> pa.ChunkedArray:
            parts = run(_Call(_column, source.schema, name), source.fragments)
            return pa.chunked_array(list(parts), type=source.schema.field(name).type)

        if not labels.within:
            return self._auto_within(labels, lambda ids, names: gather_rows(self.index, ids, names),
                                     whole, self.n)
        names = [c for c in dict.fromkeys(labels.within) if c in columns]
        arrays = {name: whole(name) for name in names}
        return self._plan_within(pa.table(arrays) if arrays else pa.table({}), labels)

    def _check_nan(self, facts: list[FragmentFacts], nan: str) -> None:
        """The local engine's NaN/inf error, with the global row of the first bad value."""
        offsets = self.index.offsets
        for spec in self.specs:
            cols = [f.columns[spec.name] for f in facts]
            bad = sum(c.bad for c in cols)
            if bad and nan != "skip" and is_mixed(spec.kind):
                first = next(
                    int(offsets[i]) + c.first_bad
                    for i, c in enumerate(cols)
                    if c.first_bad is not None
                )
                msg = (
                    f"column {spec.name!r} has {bad} NaN or infinite values (first at row "
                    f"{first}); expected finite numbers (use --nan skip to treat them as nulls)"
                )
                raise SchemaError(msg)

    # -- the fits before the first block (Synthesizer._fit_correction calls these) -------

    def _pilot(self) -> tuple[Draws, np.ndarray]:
        """The local engine's pilot: drawn here, its parents gathered and mixed on a worker."""
        d = self._pilot_draws()
        [pilot] = list(self._run(_Call(_mix_pilot, self), [d]))
        return d, pilot

    def _column_items(self, pilot: np.ndarray) -> list[tuple[int, np.ndarray]]:
        return [(i, np.ascontiguousarray(pilot[:, f.cols])) for i, f in enumerate(self.enc.features)]

    def _fit_anchor(self) -> Anchor:
        """:func:`mixsynth.anchor.fit_anchor`, one source column per task on the workers."""
        d, pilot = self._pilot()
        two_parents = self.law.k == 2
        features = self.enc.features
        parts = list(self._run(_Call(anchor_column, self, d, two_parents), self._column_items(pilot)))
        two = [
            (f.start + j, base)
            for f, part in zip(features, parts, strict=True)
            for j, base in enumerate(part.bases)
            if base is not None
        ]
        exclusive = np.zeros(self.enc.X.shape[1], dtype=bool)
        if two_parents and len(two) >= 2:
            # Summed where they are made: one (pairs x pairs) matrix comes back, not one per file.
            both, on = self._reduce(_Call(exclusive_counts, self, two), self.index.fragments, add_counts, same)
            exclusive = exclusive_from_counts(self.enc.X.shape[1], two, both, on, self.n)
        groups = None if self.groups is None else row_groups(self.groups, self.n)
        count = 1 if self.groups is None else len(self.groups.probs)
        return assemble_anchor([f.start for f in features], parts, exclusive, groups, count)

    def _fit_repair(self) -> Repair:
        """:func:`mixsynth.repair.fit_repair`, one source column per task on the workers."""
        d, pilot = self._pilot()
        if self.enc.features:
            task = _Call(repair_column, self, self.law.variance_factor())
            fitted = assemble_repair(list(self._run(task, self._column_items(pilot))))
        else:  # no mixed column: nothing is read of X but its width
            _, rounded = anchor_columns(self.enc)
            fitted = fit_repair(self.enc.X[:0], pilot, self.bounds, repairable(self.enc, self.bounds),
                                self.law.variance_factor(), rounded)
        self._notify_capped(fitted)
        return fitted

    def _plan_balance(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The local engine's balance plan from per-file scans, kept as ``_balance_plan``;
        returns None (``balance``), since no array of one state per source row is made."""
        if self._balanceable():
            names = [s.name for s in self.specs if s.name in self.enc.taken and not s.target]
            self._balance_plan = plan_balance(
                self._run, self.index.fragments, self.index.schema, names, self.n
            )
        return None

    # -- synthesis: gather the parents a range needs, then the local engine's steps ------

    def encode_rows(self, table: pa.Table, specs: list[ColumnSpec] | None = None) -> Encoded:
        """Source rows ``table`` encoded as the whole source is (``specs``: default all)."""
        specs = self.specs if specs is None else specs
        names = [s.name for s in specs]
        extremes = self.extremes.select(names)
        # The extreme rows ride along so encode() picks the global origins and dtype.
        both = pa.concat_tables(
            [pa.Table.from_arrays(table.select(names).columns, schema=extremes.schema), extremes]
        )
        enc = encode(
            both,
            specs,
            nan=self.nan,
            precision=self.enc.X.dtype.name,
            memory_limit=self.memory_limit,
        )
        m = table.num_rows
        enc.X = enc.X[:m]
        enc.taken = {k: v.slice(0, m) for k, v in enc.taken.items()}
        enc.taken_null = {k: v[:m] for k, v in enc.taken_null.items()}
        enc.id_start = self.enc.id_start
        return enc

    def whole_column(self, spec: ColumnSpec) -> np.ndarray:
        """One mixed column over every file, encoded: shape (n, width) (a worker's fit)."""
        parts = [f.to_table(columns=[spec.name], schema=self.index.schema) for f in self.index.fragments]
        return self.encode_rows(pa.concat_tables(parts), [spec]).X

    def _fetch(self, ids: np.ndarray) -> _Rows:
        enc = self.encode_rows(gather_rows(self.index, ids, [s.name for s in self.specs]))
        plan = self._balance_plan
        states = None if plan is None else plan.states(enc.taken)
        return _Rows(ids, self._view(enc, ids), self.n, states)

    def _view(self, enc: Encoded, ids: np.ndarray) -> ShardedSynthesizer:
        """This synthesizer over gathered rows ``enc`` (global ids ``ids``; its own kernel;
        self is untouched)."""
        view = self.clone()
        view.enc, view._X_mix = enc, enc.X
        if view.anchor is not None and view.anchor.row_group is not None:
            # The view's parents index its gathered rows, so its groups must too.
            view.anchor = dataclasses.replace(view.anchor, row_group=view.anchor.row_group[ids])
        view._mixer = Mixer(self.backend, enc.X)
        return view

    def _extend(self, rows: _Rows, parents: np.ndarray) -> _Rows:
        missing = np.setdiff1d(parents, rows.ids)
        if missing.size == 0:
            return rows
        new = self._fetch(missing)
        ids = np.concatenate([rows.ids, new.ids])
        order = np.argsort(ids, kind="stable")
        a, b = rows.view.enc, new.view.enc
        take = pa.array(order)
        enc = Encoded(
            columns=a.columns,
            X=np.vstack([a.X, b.X])[order],
            features=a.features,
            taken={k: pa.concat_arrays([a.taken[k], b.taken[k]]).take(take) for k in a.taken},
            taken_null={
                k: np.concatenate([a.taken_null[k], b.taken_null[k]])[order] for k in a.taken_null
            },
            id_start=a.id_start,
        )
        states = None
        if rows.states is not None and new.states is not None:
            states = np.concatenate([rows.states, new.states])[order]
        return _Rows(ids[order], self._view(enc, ids[order]), self.n, states)

    def _resample_sharded(
        self, rows: _Rows, Y: np.ndarray, d: Draws, start: int, stop: int
    ) -> tuple[np.ndarray, _Rows]:
        """As ``Synthesizer._resample``, fetching the redrawn parents as they are needed."""
        cols = self.bounds.active("resample")
        bad = out_of_bounds(Y, self.bounds, cols)
        counts = bad.sum(axis=0)
        for attempt in range(1, _RESAMPLE_ATTEMPTS + 1):
            idx = np.flatnonzero(bad.any(axis=1))
            if idx.size == 0:
                break
            redo = draw(
                self.seed, start, stop, self.n, self.law, attempt=attempt, groups=self.groups
            )
            for mine, theirs in ((d.parents, redo.parents), (d.w, redo.w), (d.u, redo.u)):
                mine[idx] = theirs[idx]
            rows = self._extend(rows, d.parents[idx])
            Y[idx] = rows.view._mix(Draws(rows.local(d.parents[idx]), d.w[idx], d.u[idx]))
            bad = out_of_bounds(Y, self.bounds, cols)
        return counts, rows

    def _block_with(self, rows: _Rows, start: int, stop: int) -> tuple[pa.Table, np.ndarray, _Rows]:
        held = [rows]

        def mix(whole: Draws, strata: int | None) -> np.ndarray:
            # Anchoring mixes whole logical blocks: fetch the parents past the range too.
            held[0] = self._extend(held[0], whole.parents)
            return held[0].view._mix(Draws(held[0].local(whole.parents), whole.w, whole.u), strata)

        d, Y = self._balanced(held)._whole_blocks(start, stop, mix)
        rows = held[0]
        adjusted = np.zeros(Y.shape[1], dtype=np.int64)
        if self.bounds.active("resample").any():
            counts, rows = self._resample_sharded(rows, Y, d, start, stop)
            adjusted += counts
        adjusted += apply_bounds(Y, self.bounds)
        local = Draws(rows.local(d.parents), d.w, d.u)
        table = rows.view.decode_rows(Y, local, start)
        return table, adjusted, rows

    def _balanced(self, held: list[_Rows]) -> ShardedSynthesizer:
        """self, or (taken columns balanced) a copy whose ``balance`` finds each parent's
        joint state among the rows ``held[0]`` gathered for the block."""
        plan = self._balance_plan
        if plan is None:
            return self
        twin = self.clone()
        # Typed as the local engine's array of states; balance_choice only indexes it.
        twin.balance = (cast(np.ndarray, _StatesOf(held)), plan.shares)
        return twin

    def decode_rows(self, Y: np.ndarray, d: Draws, start: int) -> pa.Table:
        """Decode mixed values ``Y`` with parents ``d`` indexing this view's rows."""
        return decode(self.enc, Y, self._taken_rows(d), start)

    def block(self, start: int, stop: int) -> tuple[pa.Table, np.ndarray]:
        """Synthetic rows ``start:stop`` (the local engine's rows) and their adjustments."""
        table, adjusted, _ = next(self.part(start, stop, stop - start))
        return table, adjusted

    def part(
        self, start: int, stop: int, chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> Iterator[tuple[pa.Table, np.ndarray, _Rows]]:
        """Rows ``start:stop`` in chunks; the parents of the whole range are read once."""
        d = draw(self.seed, start, stop, self.n, self.law, groups=self.groups)
        rows = self._fetch(_distinct(d.parents, self.n))
        for lo in range(start, stop, chunk_rows):
            hi = min(lo + chunk_rows, stop)
            table, adjusted, rows = self._block_with(rows, lo, hi)
            yield table, adjusted, rows


def _column(fragment: Any, schema: pa.Schema, name: str) -> pa.Array:
    return fragment.to_table(columns=[name], schema=schema).column(name).combine_chunks()


def _bounds_of(cols: list[ColumnFacts], kind: Kind) -> tuple[Any, Any]:
    lows: list[Any]
    highs: list[Any]
    if kind is Kind.TEMPORAL:
        lows, highs = [c.tick_low for c in cols], [c.tick_high for c in cols]
    elif kind in (Kind.INTEGER, Kind.ID):
        lows, highs = [c.int_low for c in cols], [c.int_high for c in cols]
    else:
        lows, highs = [c.low for c in cols], [c.high for c in cols]
    lows, highs = [v for v in lows if v is not None], [v for v in highs if v is not None]
    return (min(lows), max(highs)) if lows else (None, None)


def _extreme_array(field: pa.Field, kind: Kind, lo: Any, hi: Any) -> pa.Array:
    t, s = field.type, storage_type(field.type)
    if lo is None:
        return pa.nulls(2, type=t)
    if kind is Kind.TEMPORAL:
        width = pa.int32() if s.bit_width == 32 else pa.int64()
        return pa.array([lo, hi], pa.int64()).cast(width).cast(t)
    if kind is Kind.TENSOR:
        w = s.list_size
        values = pa.array([lo] * w + [hi] * w, pa.float64()).cast(s.value_type, safe=False)
        arr = pa.FixedSizeListArray.from_arrays(values, w).cast(s)
        return (
            pa.ExtensionArray.from_storage(t, arr) if isinstance(t, pa.BaseExtensionType) else arr
        )
    return pa.array([lo, hi], pa.int64() if kind in (Kind.INTEGER, Kind.ID) else pa.float64()).cast(
        t
    )


def _extreme_rows(
    schema: pa.Schema, specs: list[ColumnSpec], facts: list[FragmentFacts]
) -> pa.Table:
    """Two rows: each mixed (or integer identifier) column's global minimum, then maximum."""
    arrays, fields = [], []
    for spec in specs:
        fld = schema.field(spec.name)
        if is_mixed(spec.kind) or (spec.kind is Kind.ID and pa.types.is_integer(fld.type)):
            lo, hi = _bounds_of([f.columns[spec.name] for f in facts], spec.kind)
            arrays.append(_extreme_array(fld, spec.kind, lo, hi))
        else:
            arrays.append(pa.nulls(2, type=fld.type))
        fields.append(fld)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
