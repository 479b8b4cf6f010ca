"""The synthesizer: one plan of the rows, mixed block by block from a row source.

:class:`Synthesizer` takes every decision once (column kinds, the target's label plan,
``--within`` groups, the encoded layout, bounds, the repair or anchoring fits) through a
:class:`~mixsynth.synthesis.sources.RowSource`, then makes any range of synthetic rows as a pure
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

from mixsynth import provenance
from mixsynth.engines.local import piece_rows, run_blocks
from mixsynth.errors import MixsynthWarning, UsageError
from mixsynth.options import DEFAULT_CHUNK_ROWS, MAX_ROWS, SynthesisOptions, needs_every_row
from mixsynth.schema import is_mixed
from mixsynth.synthesis.anchor import Anchor
from mixsynth.synthesis.backend import Backend, Mixer
from mixsynth.synthesis.backend import resolve as resolve_backend
from mixsynth.synthesis.balance import balance_choice
from mixsynth.synthesis.bounds import apply_bounds, build_bounds, out_of_bounds
from mixsynth.synthesis.draws import LOGICAL_BLOCK, PILOT_ATTEMPT, Draws, draw, pilot_rows
from mixsynth.synthesis.encode import Encoded, decode
from mixsynth.synthesis.groups import plan_groups, plan_target
from mixsynth.synthesis.held import Held, distinct
from mixsynth.synthesis.nulls import NullChoice, place_nulls, plan_nulls
from mixsynth.synthesis.record import run_record
from mixsynth.synthesis.relabel import Labeler
from mixsynth.synthesis.repair import Repair, capped_notices, resolve_repair, stretch
from mixsynth.synthesis.rounding import break_ties, rounded_columns
from mixsynth.synthesis.sources import RowSource, TableSource
from mixsynth.synthesis.space import plan_space
from mixsynth.synthesis.taken import taken_rows

__all__ = ["Synthesizer"]

_RESAMPLE_ATTEMPTS = 8
Notify = Callable[[str], None]
#: A run of rows: draws, mixed values, bounds adjustments, held rows, nulls.
Mixed = tuple[Draws, np.ndarray, np.ndarray, Held, NullChoice | None]


def _warn(message: str) -> None:
    warnings.warn(message, MixsynthWarning, stacklevel=3)


class Synthesizer:
    """A source prepared for mixing; yields synthetic rows in chunks.

    Parameters
    ----------
    source : pyarrow.Table or RowSource
        Source rows, already restricted to the columns to synthesise: a table (held in
        memory, :class:`~mixsynth.synthesis.sources.TableSource`) or another row source (the Dask
        engine's :class:`~mixsynth.engines.fragments.FragmentSource`).
    options : SynthesisOptions, optional
        What decides the rows (law, seed, bounds, repair, space, target, labels, nan,
        ids); checked when it was built. Default: all defaults, a fresh seed.
    backend : {"numpy", "cupy", "auto"} or Backend
        Where the mixing kernel runs (see :func:`mixsynth.synthesis.backend.resolve`).
    precision : {"auto", "float32", "float64"}
        dtype of the encoded source and of the mixing (see :func:`mixsynth.synthesis.encode.layout`).
    memory_limit : int, optional
        Bytes; a larger encoded table is memory-mapped from a temporary file.
    notify : callable, optional
        Receives one-line notices; defaults to :class:`MixsynthWarning` warnings.
    """

    def __init__(
        self, source: pa.Table | RowSource, options: SynthesisOptions | None = None, *,
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
        in_memory = self.source.holds_every_row
        refused = None if in_memory else needs_every_row(opts)
        if refused:
            raise UsageError(refused)
        self.seed = secrets.randbits(63) if opts.seed is None else int(opts.seed)
        self.source_schema = self.source.schema
        specs = self.source.column_specs(opts.target, opts.ids, self.notify)
        self.specs, self.label_plan = plan_target(self.source, specs, opts.target, opts.labels, self.notify)
        self.within = plan_groups(self.source, self.specs, opts.labels, self.label_plan, self.notify)
        self.groups = self.within.groups if self.within else (self.label_plan.groups if self.label_plan else None)
        self.enc = self.source.encode(self.specs, opts.nan, precision, self.notify)
        self._copied = self._copied_columns()
        #: The columns whose nulls are counted per block (see :mod:`mixsynth.synthesis.nulls`).
        self.nulls = plan_nulls(self.specs, self.enc, self.source.null_counts(), self.n, self.within, self.groups,
                                self.law.k)
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
        #: balanced to them (see :mod:`mixsynth.synthesis.balance`); the held rows carry the states.
        self.balance: np.ndarray | None = None
        self.repair_mode = resolve_repair(opts.repair, self.law, opts.space, self.bounds)
        self._fit_correction()
        self.adjusted = np.zeros(self.enc.X.shape[1], dtype=np.int64)
        self.rows_written = 0
        #: Soft or GenLabel labels: the share of rows whose label is the dominant parent's.
        self.agreement: float | None = None
        #: Rows of the whole output (the last logical block is stratified over its part).
        self.total_rows: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        # What travels to workers: the plan, not the caller's notice callback or the
        # backend's array module (resolved again by name on arrival).
        return {**self.__dict__, "notify": None, "backend": self.backend.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.backend = resolve_backend(state["backend"])

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
        if anchor is not None and anchor.by_group:
            # The held rows' parents index them, so the row groups must too.
            anchor = dataclasses.replace(anchor, row_group=anchor.rows_in_groups[ids], groups=None)
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

    def mix(self, held: Held, d: Draws, strata: int | None = None, null: NullChoice | None = None) -> np.ndarray:
        """Mixed, null-filled, corrected rows for ``d`` (parents by global index, all in
        ``held``); ``strata`` (whole logical blocks only) stratifies the anchored columns per
        block (see :meth:`Anchor.apply`); ``null``: the rows' nulls (else the dominant's)."""
        d = d if held.ids is None else Draws(held.local(d.parents), d.w, d.u)
        Y = held.mixer(d.parents, d.w)
        # A null parent makes a NaN; the row then takes the dominant parent's value, so
        # without a choice the null mask is the dominant parent's (docs/design.md section 3).
        rows, cols = np.nonzero(np.isnan(Y))
        if rows.size:
            Y[rows, cols] = held.X_mix[d.dominant()[rows], cols]
        if null is not None and self.nulls is not None:
            place_nulls(Y, held.X_mix, d.second(), self.nulls, null)
        if self.rank_gauss is not None:
            self.rank_gauss.inverse(Y)
        if self.repair is not None:
            stretch(Y, self.repair)
        if held.anchor is not None:
            held.anchor.apply(Y, held.enc.X, d.parents, d.w, d.u, strata)
        else:
            break_ties(Y, held.enc.X, d, self._rounded)
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
            for line in capped_notices(self.repair, self.enc):
                self.notify(line)
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
        two parents, and groups (if any) drawn in proportion to their rows (then each
        state's expected share, Σ_g P(g)·P(state | g), is its source share, and a switch
        never leaves the row's group; under another balance the quotas differ per class)."""
        return self.law.k == 2 and (self.groups is None or self.groups.proportional(self.n))

    def _pilot(self) -> tuple[Draws, np.ndarray]:
        """The pilot's draws and mixed rows: its own random streams, so it never depends on
        the blocks or how they are chunked."""
        return self.source.pilot(self, pilot_rows(self.enc.X.shape[1]))

    def pilot_draws(self, rows: int) -> Draws:
        """The pilot's draws (the source mixes them where its rows, and its groups, are)."""
        return draw(self.seed, 0, rows, self.n, self.law, attempt=PILOT_ATTEMPT, groups=self.groups)

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
        d, Y, adjusted, held, choice = self._mixed_rows(held, start, stop)
        local = d if held.ids is None else Draws(held.local(d.parents), d.w, d.u)
        table = decode(held.enc, Y, taken_rows(self.specs, held.enc, local, choice), start)
        return (self.labeler.apply(table, Y, d) if self.labeler else table), adjusted, held

    def _mixed_rows(self, held: Held, start: int, stop: int) -> Mixed:
        d, Y, held, choice = self._whole_blocks(held, start, stop)
        adjusted = np.zeros(Y.shape[1], dtype=np.int64)
        if self.bounds.active("resample").any():
            counts, held = self._resample(held, Y, d, start, stop)
            adjusted += counts
        adjusted += apply_bounds(Y, self.bounds)
        return d, Y, adjusted, held, choice

    def _block_span(self, start: int, stop: int) -> tuple[int, int]:
        """The logical blocks around rows ``start:stop``, the last cut to the rows written."""
        hi = -(-stop // LOGICAL_BLOCK) * LOGICAL_BLOCK
        return start - start % LOGICAL_BLOCK, (min(hi, self.total_rows) if self.total_rows else hi)

    def _nulls(self, held: Held, whole: Draws, lo: int, hi: int) -> NullChoice | None:
        """Which of rows ``lo:hi`` (whole logical blocks, drawn as ``whole``) are null."""
        if self.nulls is None:
            return None
        local = whole if held.ids is None else Draws(held.local(whole.parents), whole.w, whole.u)
        return self.nulls.choose(self.seed, held.enc, local, lo, hi)

    def _whole_blocks(self, held: Held, start: int, stop: int) -> tuple[Draws, np.ndarray, Held, NullChoice | None]:
        """Draws, mixed rows and nulls of ``start:stop``, drawn as the whole logical blocks
        around them when anchoring or the null counts work per block (a row never depends
        on chunking), and mixed so too when anchoring stratifies them."""
        if self.anchor is None and self.nulls is None:
            d = draw(self.seed, start, stop, self.n, self.law, groups=self.groups)
            held = self._extend(held, d.parents)
            return d, self.mix(held, d), held, None
        lo, hi = self._block_span(start, stop)
        whole = draw(self.seed, lo, hi, self.n, self.law, groups=self.groups)
        # The parents past the range are needed too.
        held = self._extend(held, whole.parents)
        choice = self._nulls(held, whole, lo, hi)
        s = slice(start - lo, stop - lo)
        mine = choice and choice.rows(s)
        if self.anchor is None:  # only the null counts: mix just the rows asked for
            d = Draws(whole.parents[s], whole.w[s], whole.u[s])
            return d, self.mix(held, d, null=mine), held, mine
        Y = self.mix(held, whole, LOGICAL_BLOCK, choice)
        if self.balance is not None:
            # After mixing: anchoring has used the drawn uniforms; the taken columns (and
            # anything else that asks Draws.chosen) see the balanced choice.
            assert held.states is not None
            blocks = np.arange(lo, hi) // LOGICAL_BLOCK
            balance_choice(held.states, self.balance, held.local(whole.parents), whole.w, whole.u, blocks)
        d = Draws(whole.parents[s].copy(), whole.w[s].copy(), whole.u[s].copy())
        return d, (Y[s].copy() if (s.start, s.stop) != (0, hi - lo) else Y), held, mine

    def chunks(
        self, rows: int, chunk_rows: int = DEFAULT_CHUNK_ROWS, jobs: int = 1
    ) -> Iterator[pa.Table]:
        """Synthesise ``rows`` rows, yielding tables of at most ``chunk_rows`` rows.

        The rows do not depend on ``chunk_rows`` or on ``jobs`` (worker threads, see
        :mod:`mixsynth.engines.local`): randomness is keyed by logical block.
        """
        if not 1 <= rows <= MAX_ROWS:
            msg = f"number of rows must be between 1 and {MAX_ROWS}, got {rows}"
            raise UsageError(msg)
        if chunk_rows < 1:
            msg = f"chunk_rows must be >= 1, got {chunk_rows}"
            raise UsageError(msg)
        self.total_rows = rows
        if self.labeler is not None:
            # Measured on the first logical block before the blocks are made, so it does
            # not depend on chunking and the writer's footer only reads it.
            m = min(rows, LOGICAL_BLOCK)
            d, Y, _, _, _ = self._mixed_rows(self._held_for(0, m), 0, m)
            self.agreement = self.labeler.agreement(Y, d)
        # Processes for the NumPy backend (its blocks hold the GIL too often for threads to
        # scale); a GPU's context does not survive a fork, and its kernel is the GPU's work.
        processes = self.backend.name == "numpy"
        piece = piece_rows(self.enc.X.shape[1])
        for stop, table, adjusted in run_blocks(self.block, rows, chunk_rows, jobs, piece, processes=processes):
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

    def provenance(self, rows: int | None = None, adjusted: np.ndarray | None = None) -> dict[str, Any]:
        """The record stored under ``mixsynth`` in the output's key-value metadata (``rows``
        and ``adjusted``: of a part written elsewhere, default this object's counts)."""
        return run_record(self, self.rows_written if rows is None else rows, self.adjustments(adjusted))
