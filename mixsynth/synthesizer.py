"""The synthesizer: one plan of the rows, mixed block by block from a row source.

:class:`Synthesizer` takes every decision once (column kinds, the target's label plan,
``--within`` groups, the encoded layout, bounds, the repair or anchoring fits) through a
:class:`~mixsynth.sources.RowSource`, then makes any range of synthetic rows as a pure
function of the seed: draw → gather the parents → mix on the backend → null fill →
space → repair/anchor → bounds → decode (docs/design.md). The local engine's source is
an in-memory table, the Dask engine's a set of Parquet fragments; the block code is the
same, so the same seed gives the same rows on both.
"""

from __future__ import annotations

import dataclasses
import secrets
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from mixsynth import parallel, provenance
from mixsynth.anchor import Anchor
from mixsynth.backend import Backend, Mixer
from mixsynth.backend import resolve as resolve_backend
from mixsynth.balance import balance_choice
from mixsynth.bounds import apply_bounds, build_bounds, out_of_bounds
from mixsynth.draws import LOGICAL_BLOCK, PILOT_ATTEMPT, Draws, draw, pilot_rows
from mixsynth.encode import Encoded, decode, rounded_columns
from mixsynth.errors import MixsynthWarning, UsageError
from mixsynth.held import Held, distinct
from mixsynth.labels import LabelOptions, LabelPlan, plan_labels
from mixsynth.options import DEFAULT_CHUNK_ROWS, MAX_ROWS, SynthesisOptions, needs_every_row
from mixsynth.relabel import Labeler
from mixsynth.repair import MAX_STRETCH, Repair, repair_record, resolve_repair, stretch
from mixsynth.schema import ColumnSpec, Kind, is_mixed
from mixsynth.sources import RowSource, TableSource
from mixsynth.space import plan_space
from mixsynth.version import package_version
from mixsynth.within import Within, choose, plan_within, sample_rows

__all__ = ["Synthesizer"]

_RESAMPLE_ATTEMPTS = 8
Notify = Callable[[str], None]


def _warn(message: str) -> None:
    warnings.warn(message, MixsynthWarning, stacklevel=3)


def _break_ties(Y: np.ndarray, X: np.ndarray, d: Draws, rounded: np.ndarray) -> None:
    """Round exact halves of the whole-number columns toward the chosen parent's value.

    Rounding half to even turned every (0, 1) pair of a flag under ``midpoint`` weights
    into 0 (a 10 % flag became 1 %). Toward the chosen parent (picked with probability
    ``clip(λ, 0, 1)``, 1/2 for a midpoint) is unbiased, and every dummy of a one-hot set
    follows the same parent, so the set stays exclusive. Other values round in decode.
    """
    cols = np.flatnonzero(rounded)
    if cols.size == 0:
        return
    sub = Y[:, cols]
    low = np.floor(sub)
    rows, k = np.nonzero(sub - low == 0.5)
    if rows.size == 0:
        return
    j = cols[k]
    parent = X[d.chosen()[rows], j]
    up = np.where(np.isnan(parent), d.u[rows] < 0.5, parent > Y[rows, j])
    Y[rows, j] = low[rows, k] + up


class Synthesizer:
    """A source prepared for mixing; yields synthetic rows in chunks.

    Parameters
    ----------
    source : pyarrow.Table or RowSource
        Source rows, already restricted to the columns to synthesise: a table (held in
        memory, :class:`~mixsynth.sources.TableSource`) or another row source (the Dask
        engine's :class:`~mixsynth.sharded.FragmentSource`).
    options : SynthesisOptions, optional
        What decides the rows (law, seed, bounds, repair, space, target, labels, nan,
        ids); checked when it was built. Default: all defaults, a fresh seed.
    backend : {"numpy", "cupy", "auto"} or Backend
        Where the mixing kernel runs (see :func:`mixsynth.backend.resolve`).
    precision : {"auto", "float32", "float64"}
        dtype of the encoded source and of the mixing (see :func:`mixsynth.encode.layout`).
    memory_limit : int, optional
        Bytes; a larger encoded table is memory-mapped from a temporary file.
    notify : callable, optional
        Receives one-line notices; defaults to :class:`MixsynthWarning` warnings.
    """

    def __init__(
        self,
        source: pa.Table | RowSource,
        options: SynthesisOptions | None = None,
        *,
        backend: str | Backend = "numpy",
        precision: str = "auto",
        memory_limit: int | None = None,
        notify: Notify | None = None,
    ) -> None:
        self.source: RowSource = TableSource(source, memory_limit) if isinstance(source, pa.Table) else source
        self.options = opts = options or SynthesisOptions()
        self.notify = notify or _warn
        self.backend = resolve_backend(backend, notify=self.notify)
        self.law = opts.law
        if self.law.aims_to_preserve and abs(self.law.variance_factor() - 1.0) > 1e-9:
            self.notify(
                f"weights {self.law.spec()} do not preserve variance: factor "
                f"{self.law.variance_factor():.6g} per round (omit beta to have it solved)"
            )
        in_memory = isinstance(self.source, TableSource)
        refused = None if in_memory else needs_every_row(opts)
        if refused:
            raise UsageError(refused)
        self.seed = secrets.randbits(63) if opts.seed is None else int(opts.seed)
        self.source_schema = self.source.schema
        self.specs = self.source.column_specs(opts.target, opts.ids, self.notify)
        self.label_plan = self._plan_target(opts.target, opts.labels)
        self.within = self._plan_within(opts.labels)
        self.groups = self.within.groups if self.within else (self.label_plan.groups if self.label_plan else None)
        self.enc = self.source.encode(self.specs, opts.nan, precision, self.notify)
        self._copied = self._copied_columns()
        #: Columns of ``X`` that hold whole numbers (rounded; ties broken without bias).
        self._rounded = rounded_columns(self.enc)
        self.rank_gauss = plan_space(opts.space, self.enc)
        #: Every source row, when the source is held in memory (else blocks gather theirs).
        self.whole: Held | None = None
        if in_memory:
            # Mixing happens in the chosen space; nulls are filled from it before mapping back.
            X_mix = self.rank_gauss.forward(self.enc.X) if self.rank_gauss else self.enc.X
            self.whole = Held(self.enc, X_mix, Mixer(self.backend, X_mix), self.enc.n)
        plan = self.label_plan
        self.labeler = (Labeler(plan, opts.labels, self.enc, self.seed)
                        if plan is not None and plan.mode in ("soft", "genlabel") else None)
        self.bounds = build_bounds(self.enc, opts.bounds, opts.bounds_overrides)
        self.repair: Repair | None = None
        self.anchor: Anchor | None = None
        #: Shares of the taken columns' joint states, when each block's parent choice is
        #: balanced to them (see :mod:`mixsynth.balance`); the held rows carry the states.
        self.balance: np.ndarray | None = None
        self.repair_mode = resolve_repair(opts.repair, self.law, opts.space, self.bounds)
        self._fit_correction()
        self.adjusted = np.zeros(self.enc.X.shape[1], dtype=np.int64)
        self.rows_written = 0
        #: Rows of the whole output (the last logical block is stratified over its part).
        self.total_rows: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        # What travels to workers: the plan, not the caller's notice callback or the
        # backend's array module (resolved again by name on arrival).
        return {**self.__dict__, "notify": None, "backend": self.backend.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.backend = resolve_backend(state["backend"])

    def _plan_target(self, target: str | None, labels: LabelOptions) -> LabelPlan | None:
        if target is None:
            return None
        i = next(i for i, s in enumerate(self.specs) if s.name == target)
        spec = self.specs[i]
        plan = plan_labels(target, self.source.columns([target]).column(target), not is_mixed(spec.kind), labels.mode,
                           class_balance=labels.class_balance, bins=labels.bins, notify=self.notify)
        if plan.categorical and is_mixed(spec.kind):
            # An integer column of class labels is taken from a parent, never mixed.
            self.specs[i] = ColumnSpec(spec.name, Kind.CATEGORICAL, spec.field, target=True)
        return plan

    def _plan_within(self, labels: LabelOptions) -> Within | None:
        """``--within`` groups, nested in the label mode's (see :mod:`mixsynth.within`)."""
        label = self.label_plan.groups if self.label_plan else None
        if labels.within:
            names = [c for c in dict.fromkeys(labels.within) if c in self.source.schema.names]
            return plan_within(self.source.columns(names), labels.within, labels.within_bins, label)
        return self._auto_within(labels)

    def _auto_within(self, labels: LabelOptions) -> Within | None:
        """``--within auto``'s groups, the column measured on :func:`mixsynth.within.sample_rows`
        of the source, or None: not asked, the label mode already groups, or no column
        explains enough."""
        plan = self.label_plan
        if not labels.auto_within or (plan is not None and plan.groups is not None):
            return None
        # A soft or GenLabel target must stay free to mix: grouping by it would make every
        # row's label a single class.
        free_target = plan is not None and plan.mode in ("soft", "genlabel")
        taken = (Kind.BOOLEAN, Kind.CATEGORICAL, Kind.STRING)
        candidates = [s.name for s in self.specs if s.kind in taken and not (free_target and s.target)]
        numbers = [s.name for s in self.specs if s.kind in (Kind.FLOAT, Kind.INTEGER, Kind.TEMPORAL)]
        if not candidates or not numbers:
            return None
        sample = self.source.rows(sample_rows(self.source.n, len(numbers)), candidates + numbers)
        choice = choose(sample, candidates, numbers)
        if choice is None:
            return None
        within = plan_within(self.source.columns([choice.column]), [choice.column],
                             labels.within_bins, None, auto=choice)
        self.notify(str(within.notice()))
        return within

    def _copied_columns(self) -> list[slice]:
        """Columns of ``X`` grouped by value under ``--within``: every parent of a row holds
        the same value, which the row takes as it is."""
        names = set(self.within.by_value) if self.within else set()
        return [f.cols for f in self.enc.features if f.spec.name in names and is_mixed(f.spec.kind)]

    @property
    def n(self) -> int:
        """Number of source rows."""
        return self.source.n

    def output_schema_for(self, rows: int) -> pa.Schema:
        """Schema of a synthetic table of ``rows`` rows (the source's, less dropped columns)."""
        fields = [s.field for s in self.specs] + (self.labeler.extra_fields() if self.labeler else [])
        meta = provenance.output_metadata(self.source_schema.metadata, [f.name for f in fields], rows)
        return pa.schema(fields, metadata=meta)

    # -- the held rows a block mixes from ----------------------------------------------------

    def held_rows(self, enc: Encoded, ids: np.ndarray, states: np.ndarray | None = None) -> Held:
        """Gathered source rows ``enc`` (global ids ``ids``, sorted) made ready to mix: their
        own kernel, and the anchoring's row groups indexed by held row."""
        anchor = self.anchor
        if anchor is not None and anchor.row_group is not None:
            # The held rows' parents index them, so the row groups must too.
            anchor = dataclasses.replace(anchor, row_group=anchor.row_group[ids])
        return Held(enc, enc.X, Mixer(self.backend, enc.X), self.n, ids, states, anchor)

    def _extend(self, held: Held, parents: np.ndarray) -> Held:
        """``held``, plus the rows of ``parents`` it lacks."""
        missing = held.missing(parents)
        if missing.size == 0:
            return held
        ids, enc, states = held.merged(self.source.gather(self, missing))
        return self.held_rows(enc, ids, states)

    def _held_for(self, start: int, stop: int) -> Held:
        """The held rows with every parent rows ``start:stop`` draw (before resampling)."""
        if self.whole is not None:
            return self.whole
        d = draw(self.seed, start, stop, self.n, self.law, groups=self.groups)
        return self.source.gather(self, distinct(d.parents, self.n))

    # -- mixing -----------------------------------------------------------------------------

    def mix(self, held: Held, d: Draws, strata: int | None = None) -> np.ndarray:
        """Mixed, null-filled, corrected rows for ``d`` (parents by global index, all in
        ``held``); ``strata`` (whole logical blocks only) stratifies the anchored columns
        per block (see :meth:`Anchor.apply`)."""
        d = d if held.ids is None else Draws(held.local(d.parents), d.w, d.u)
        Y = held.mixer(d.parents, d.w)
        # A null parent makes a NaN; the row then takes the dominant parent's value, so
        # the null mask is exactly the dominant parent's (docs/design.md section 3).
        rows, cols = np.nonzero(np.isnan(Y))
        if rows.size:
            Y[rows, cols] = held.X_mix[d.dominant()[rows], cols]
        if self.rank_gauss is not None:
            self.rank_gauss.inverse(Y)
        if self.repair is not None:
            stretch(Y, self.repair)
        if held.anchor is not None:
            held.anchor.apply(Y, held.enc.X, d.parents, d.w, d.u, strata)
        else:
            _break_ties(Y, held.enc.X, d, self._rounded)
        for copied in self._copied:
            Y[:, copied] = held.enc.X[d.parents[:, 0], copied]
        return Y

    # -- the fits before the first block ----------------------------------------------------

    def _fit_correction(self) -> None:
        """Fit what ``--repair`` asks for on the seeded pilot (before any block is made);
        the source runs each fit where its rows are."""
        if self.repair_mode == "variance":
            d, pilot = self._pilot()
            self.repair = self.source.fit_repair(self, d, pilot)
            self._notify_capped(self.repair)
        elif self.repair_mode == "marginals":
            d, pilot = self._pilot()
            self.anchor = self.source.fit_anchor(self, d, pilot)
            planned = self.source.balance(self) if self._balanceable() else None
            self.balance = None if planned is None else planned[1]
            if self.whole is not None:
                self.whole.anchor = self.anchor
                self.whole.states = None if planned is None else planned[0]

    def _balanceable(self) -> bool:
        """Whether the taken columns' parent choice can be balanced to their source shares:
        two parents, and no groups or groups drawn in proportion to their rows (``--within``,
        ``within-class`` without ``--class-balance``). Then each state's expected share
        under the group draws, Σ_g P(g)·P(state | g), is its source share, and a switch to
        the other parent never leaves the row's group. Under another class balance the
        quotas would differ per class, and the choice is left alone."""
        if self.law.k != 2:
            return False
        g = self.groups
        n = self.n
        return g is None or (int(g.sizes.sum()) == n and np.array_equal(g.probs, g.sizes / n))

    def _pilot(self) -> tuple[Draws, np.ndarray]:
        """The pilot's draws and mixed rows: its own random streams, so it never depends on
        the blocks or how they are chunked."""
        rows = pilot_rows(self.enc.X.shape[1])
        d = draw(self.seed, 0, rows, self.n, self.law, attempt=PILOT_ATTEMPT, groups=self.groups)
        return d, self.source.mix_pilot(self, d)

    def _notify_capped(self, fitted: Repair) -> None:
        """Name each column whose stretch stopped at the cap."""
        for feat in self.enc.features:
            if fitted.capped[feat.cols].any():
                self.notify(
                    f"variance repair of column {feat.spec.name!r} stopped at the cap "
                    f"s={MAX_STRETCH:g}: its variance ratio after bounds is "
                    f"{float(np.nanmedian(fitted.after[feat.cols])):.3g} (too much mass at a bound)"
                )

    # -- blocks -----------------------------------------------------------------------------

    def _resample(self, held: Held, Y: np.ndarray, d: Draws, start: int, stop: int) -> tuple[np.ndarray, Held]:
        """Redraw rows with a ``resample`` column out of range, gathering the new parents;
        return the counts replaced and the held rows."""
        cols = self.bounds.active("resample")
        bad = out_of_bounds(Y, self.bounds, cols)
        counts = bad.sum(axis=0)
        for attempt in range(1, _RESAMPLE_ATTEMPTS + 1):
            idx = np.flatnonzero(bad.any(axis=1))
            if idx.size == 0:
                break
            redo = draw(self.seed, start, stop, self.n, self.law, attempt=attempt, groups=self.groups)
            for mine, theirs in ((d.parents, redo.parents), (d.w, redo.w), (d.u, redo.u)):
                mine[idx] = theirs[idx]
            held = self._extend(held, d.parents[idx])
            Y[idx] = self.mix(held, Draws(d.parents[idx], d.w[idx], d.u[idx]))
            bad = out_of_bounds(Y, self.bounds, cols)
        return counts, held

    def _taken_rows(self, held: Held, d: Draws) -> dict[str, np.ndarray]:
        """The held row each taken column is copied from (``d``'s parents are held rows)."""
        dominant, chosen = d.dominant(), d.chosen()
        rows = {}
        for spec in self.specs:
            if spec.name not in held.enc.taken:
                continue
            if spec.target:
                rows[spec.name] = dominant
                continue
            null = held.enc.taken_null[spec.name]
            # Keep the dominant parent's null mask: fall back to it when either is null.
            rows[spec.name] = np.where(null[chosen] | null[dominant], dominant, chosen)
        return rows

    def block(self, start: int, stop: int) -> tuple[pa.Table, np.ndarray]:
        """Synthetic rows ``start:stop`` and the bounds adjustments they needed.

        A pure function of the arguments (and the prepared source): safe to call from
        several threads or workers, in any order.

        Returns
        -------
        table : pyarrow.Table
        adjusted : int64 array of shape (d,)
            Values moved by the bounds policy, per encoded column.
        """
        table, adjusted, _ = self._block_with(self._held_for(start, stop), start, stop)
        return table, adjusted

    def part(
        self, start: int, stop: int, chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """Rows ``start:stop`` in chunks of ``chunk_rows``; the parents the range draws are
        gathered once (a Dask engine's output file)."""
        held = self._held_for(start, stop)
        for lo in range(start, stop, chunk_rows):
            table, adjusted, held = self._block_with(held, lo, min(lo + chunk_rows, stop))
            yield table, adjusted

    def _block_with(self, held: Held, start: int, stop: int) -> tuple[pa.Table, np.ndarray, Held]:
        d, Y, adjusted, held = self._mixed_rows(held, start, stop)
        local = d if held.ids is None else Draws(held.local(d.parents), d.w, d.u)
        table = decode(held.enc, Y, self._taken_rows(held, local), start)
        return (self.labeler.apply(table, Y, d) if self.labeler else table), adjusted, held

    def _mixed_rows(self, held: Held, start: int, stop: int) -> tuple[Draws, np.ndarray, np.ndarray, Held]:
        d, Y, held = self._whole_blocks(held, start, stop)
        adjusted = np.zeros(Y.shape[1], dtype=np.int64)
        if self.bounds.active("resample").any():
            counts, held = self._resample(held, Y, d, start, stop)
            adjusted += counts
        adjusted += apply_bounds(Y, self.bounds)
        return d, Y, adjusted, held

    def _whole_blocks(self, held: Held, start: int, stop: int) -> tuple[Draws, np.ndarray, Held]:
        """Draws and mixed rows ``start:stop``, mixed as the whole logical blocks around them
        when anchoring stratifies per block (so a row never depends on the chunking)."""
        if self.anchor is None:
            d = draw(self.seed, start, stop, self.n, self.law, groups=self.groups)
            held = self._extend(held, d.parents)
            return d, self.mix(held, d), held
        lo = start - start % LOGICAL_BLOCK
        hi = -(-stop // LOGICAL_BLOCK) * LOGICAL_BLOCK
        # The last block is stratified over the rows that are written, not all 8192: on a
        # table of a few thousand rows, a stratified 8192 cut to n would be a mere sample.
        hi = min(hi, self.total_rows) if self.total_rows else hi
        whole = draw(self.seed, lo, hi, self.n, self.law, groups=self.groups)
        # Anchoring mixes whole logical blocks: the parents past the range are needed too.
        held = self._extend(held, whole.parents)
        Y = self.mix(held, whole, LOGICAL_BLOCK)
        if self.balance is not None:
            # After mixing: anchoring has used the drawn uniforms; the taken columns (and
            # anything else that asks Draws.chosen) see the balanced choice.
            assert held.states is not None
            blocks = np.arange(lo, hi) // LOGICAL_BLOCK
            balance_choice(held.states, self.balance, held.local(whole.parents), whole.w, whole.u, blocks)
        s = slice(start - lo, stop - lo)
        d = Draws(whole.parents[s].copy(), whole.w[s].copy(), whole.u[s].copy())
        return d, (Y[s].copy() if (s.start, s.stop) != (0, hi - lo) else Y), held

    def chunks(
        self, rows: int, chunk_rows: int = DEFAULT_CHUNK_ROWS, jobs: int = 1
    ) -> Iterator[pa.Table]:
        """Synthesise ``rows`` rows, yielding tables of at most ``chunk_rows`` rows.

        The rows do not depend on ``chunk_rows`` or on ``jobs`` (worker threads, see
        :mod:`mixsynth.parallel`): randomness is keyed by logical block.
        """
        if not 1 <= rows <= MAX_ROWS:
            msg = f"number of rows must be between 1 and {MAX_ROWS}, got {rows}"
            raise UsageError(msg)
        if chunk_rows < 1:
            msg = f"chunk_rows must be >= 1, got {chunk_rows}"
            raise UsageError(msg)
        self.total_rows = rows
        for stop, table, adjusted in parallel.run_blocks(self.block, rows, chunk_rows, jobs):
            self.adjusted += adjusted
            self.rows_written = stop
            yield table

    def close(self) -> None:
        """Free the device copy of the source (a spilled source's file is already unlinked
        and goes with the last reference to it)."""
        if self.whole is not None:
            self.whole.mixer.release()

    def adjustments(self, adjusted: np.ndarray | None = None) -> dict[str, int]:
        """Values moved by the bounds policy so far (or in ``adjusted``), per column."""
        counts = self.adjusted if adjusted is None else adjusted
        return {f.spec.name: int(counts[f.cols].sum()) for f in self.enc.features}

    def _label_record(self) -> dict[str, Any] | None:
        plan = self.label_plan
        if plan is None:
            return None
        record: dict[str, Any] = {"mode": plan.mode, "classes": plan.classes}
        if plan.groups is not None:
            record["groups"] = dict(zip(plan.groups.names, plan.groups.probs.tolist(), strict=True))
        if self.labeler is not None:
            record |= self.labeler.record()
            # Measured on the first logical block so it does not depend on chunking.
            m = min(max(self.rows_written, 1), LOGICAL_BLOCK)
            d, Y, _, _ = self._mixed_rows(self._held_for(0, m), 0, m)
            record["agreement_with_dominant"] = self.labeler.agreement(Y, d)
        return record

    def provenance(self, rows: int | None = None, adjusted: np.ndarray | None = None) -> dict[str, Any]:
        """The record stored under ``mixsynth`` in the output's key-value metadata (``rows``
        and ``adjusted``: of a part written elsewhere, default this object's counts)."""
        law = self.law
        rows = self.rows_written if rows is None else rows
        return {
            "mixsynth_version": package_version(),
            "seed": self.seed,
            "rows": rows,
            "logical_block": LOGICAL_BLOCK,
            "backend": self.backend.name,
            "precision": self.enc.X.dtype.name,
            "weights": {
                "given": self.options.weights_given,
                "spec": law.spec(),
                "variance_factor": law.variance_factor(),
                "theta_bar": law.theta_bar(),
            },
            "space": self.options.space,
            "repair": repair_record(self.repair_mode, self.repair, self.enc, self.anchor),
            "bounds": {
                "policy": self.options.bounds,
                "columns": {
                    f.spec.name: {
                        "policy": str(self.bounds.policy[f.start]),
                        "low": float(self.bounds.low[f.start]) + f.origin,
                        "high": float(self.bounds.high[f.start]) + f.origin,
                    }
                    for f in self.enc.features
                },
            },
            "adjusted": self.adjustments(adjusted),
            "columns": {s.name: s.kind.value for s in self.specs},
            "target": self.options.target,
            "label_mode": self.label_plan.mode if self.label_plan else None,
            "labels": self._label_record(),
            "within": self.within.record() if self.within else None,
            "nan": self.options.nan,
            "source": {
                "rows": self.n,
                "schema_sha256": provenance.schema_fingerprint(self.source_schema),
            },
        }
