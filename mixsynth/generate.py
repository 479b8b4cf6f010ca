"""Orchestration: encode the source, draw, mix, bound, decode, block by block."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth import parallel, provenance
from mixsynth.anchor import Anchor, fit_anchor
from mixsynth.backend import Backend, Mixer
from mixsynth.backend import resolve as resolve_backend
from mixsynth.balance import balance_choice, joint_states
from mixsynth.bounds import apply_bounds, out_of_bounds
from mixsynth.draws import LOGICAL_BLOCK, Draws, draw
from mixsynth.encode import decode, encode
from mixsynth.errors import MixsynthWarning, UsageError
from mixsynth.labels import LabelOptions, LabelPlan, plan_labels
from mixsynth.plan import build_bounds, plan_columns
from mixsynth.relabel import Labeler
from mixsynth.repair import MAX_STRETCH, Repair, fit_repair, stretch
from mixsynth.schema import ColumnSpec, Kind, is_mixed
from mixsynth.space_plan import (
    PILOT_ATTEMPT,
    anchor_columns,
    pilot_rows,
    plan_space,
    repair_record,
    repairable,
    resolve_repair,
)
from mixsynth.version import package_version  # re-exported: it used to live here
from mixsynth.weights import WeightLaw, parse
from mixsynth.within import Within, choose, plan_within, sample_rows

__all__ = ["DEFAULT_CHUNK_ROWS", "MAX_ROWS", "Synthesizer", "package_version"]

#: Rows per output chunk (a Parquet row group); any value gives the same rows.
DEFAULT_CHUNK_ROWS = 16 * LOGICAL_BLOCK
#: Largest ``-n`` accepted: row indices must stay exact in float64 and int64.
MAX_ROWS = 2**53
_RESAMPLE_ATTEMPTS = 8


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
    """A source table prepared for mixing; yields synthetic rows in chunks.

    Parameters
    ----------
    table : pyarrow.Table
        Source rows, already restricted to the columns to synthesise.
    weights : str or WeightLaw
        Weight law spec (see :func:`mixsynth.weights.parse`).
    seed : int or None
        None draws a fresh seed (see :attr:`seed`).
    bounds : {"auto", "clip", "reflect", "resample", "none"}
    bounds_overrides : mapping of column to [low, high], optional
    target : str, optional
        Label column: categorical targets take the dominant parent's value by default.
    labels : LabelOptions, optional
        Label mode and its parameters (needs ``target``).
    nan : {"error", "skip"}
    ids : {"regenerate", "drop"}
    notify : callable, optional
        Receives one-line notices; defaults to :class:`MixsynthWarning` warnings.
    backend : {"numpy", "cupy", "auto"} or Backend
        Where the mixing kernel runs (see :func:`mixsynth.backend.resolve`).
    precision : {"auto", "float32", "float64"}
        dtype of the encoded source and of the mixing (see :func:`mixsynth.encode.layout`).
    memory_limit : int, optional
        Bytes; a larger encoded source is memory-mapped from a temporary file.
    """

    def __init__(
        self,
        table: pa.Table,
        *,
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
        self._init_run(weights=weights, seed=seed, nan=nan, ids=ids, notify=notify, backend=backend)
        self.source_schema = table.schema
        self.specs = plan_columns(table, target=target, ids=ids, notify=self.notify)
        self.label_plan = self._plan_target(table, target, labels or LabelOptions())
        self.within = self._plan_within(table, labels or LabelOptions())
        self.groups = self.within.groups if self.within else (self.label_plan.groups if self.label_plan else None)
        self.enc = encode(table.select([s.name for s in self.specs]), self.specs, nan=nan,
                          precision=precision, memory_limit=memory_limit, notify=self.notify)
        self._copied = self._copied_columns()
        #: Columns of ``X`` that hold whole numbers (rounded; ties broken without bias).
        self._rounded = anchor_columns(self.enc)[1]
        self.rank_gauss = plan_space(space, self.enc)
        self.space = space
        # Mixing happens in the chosen space; nulls are filled from it before mapping back.
        self._X_mix = self.rank_gauss.forward(self.enc.X) if self.rank_gauss else self.enc.X
        self._mixer = Mixer(self.backend, self._X_mix)
        plan = self.label_plan
        self.labeler = (Labeler(plan, labels or LabelOptions(), self.enc, self.seed)
                        if plan is not None and plan.mode in ("soft", "genlabel") else None)
        self.bounds = build_bounds(self.enc, bounds, bounds_overrides)
        self.repair: Repair | None = None
        self.anchor: Anchor | None = None
        #: Joint states of the taken columns per source row and their shares, when each
        #: block's parent choice is balanced to them (see :mod:`mixsynth.balance`).
        self.balance: tuple[np.ndarray, np.ndarray] | None = None
        self.repair_mode = resolve_repair(repair, self.law, space, self.bounds)
        self._fit_correction()
        self.bounds_policy = bounds
        self.target = target
        self.nan = nan
        self.adjusted = np.zeros(self.enc.X.shape[1], dtype=np.int64)
        self.rows_written = 0
        #: Rows of the whole output (the last logical block is stratified over its part).
        self.total_rows: int | None = None

    def _init_run(self, *, weights: str | WeightLaw, seed: int | None, nan: str, ids: str,
                  notify: Callable[[str], None] | None, backend: str | Backend) -> None:
        """Options, law, seed and backend: the part of set-up every engine shares."""
        self.notify = notify or _warn
        self.backend = resolve_backend(backend, notify=self.notify)
        for option, value, allowed in (("nan", nan, ("error", "skip")), ("ids", ids, ("regenerate", "drop"))):
            if value not in allowed:
                msg = f"unknown --{option} value {value!r}; expected one of {', '.join(allowed)}"
                raise UsageError(msg)
        self.weights_given = weights if isinstance(weights, str) else weights.spec()
        self.law = parse(weights)
        if self.law.aims_to_preserve and abs(self.law.variance_factor() - 1.0) > 1e-9:
            self.notify(
                f"weights {self.law.spec()} do not preserve variance: factor "
                f"{self.law.variance_factor():.6g} per round (omit beta to have it solved)"
            )
        if seed is not None and not 0 <= seed < 2**63:
            msg = f"seed must be an integer in [0, 2**63), got {seed}"
            raise UsageError(msg)
        self.seed = secrets.randbits(63) if seed is None else int(seed)

    def _plan_target(self, table: pa.Table, target: str | None, labels: LabelOptions) -> LabelPlan | None:
        if target is None:
            if labels.mode is not None:
                msg = "--label-mode needs --target COL"
                raise UsageError(msg)
            return None
        i = next(i for i, s in enumerate(self.specs) if s.name == target)
        spec = self.specs[i]
        plan = plan_labels(target, table.column(target), not is_mixed(spec.kind), labels.mode,
                           class_balance=labels.class_balance, bins=labels.bins, notify=self.notify)
        if plan.categorical and is_mixed(spec.kind):
            # An integer column of class labels is taken from a parent, never mixed.
            self.specs[i] = ColumnSpec(spec.name, Kind.CATEGORICAL, spec.field, target=True)
        return plan

    def _plan_within(self, table: pa.Table, labels: LabelOptions) -> Within | None:
        """``--within`` groups, nested in the label mode's (see :mod:`mixsynth.within`)."""
        label = self.label_plan.groups if self.label_plan else None
        if labels.within:
            return plan_within(table, labels.within, labels.within_bins, label)
        return self._auto_within(labels, lambda ids, names: table.select(names).take(ids),
                                 table.column, table.num_rows)

    def _auto_within(self, labels: LabelOptions, rows: Callable[[np.ndarray, list[str]], pa.Table],
                     column: Callable[[str], pa.ChunkedArray], n: int) -> Within | None:
        """``--within auto``'s groups, the column measured on :func:`mixsynth.within.sample_rows`
        of the source (``rows(ids, names)`` reads them; ``column(name)`` reads the chosen one
        whole), or None: not asked, the label mode already groups, or no column explains
        enough."""
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
        choice = choose(rows(sample_rows(n, len(numbers)), candidates + numbers), candidates, numbers)
        if choice is None:
            return None
        within = plan_within(pa.table({choice.column: column(choice.column)}), [choice.column],
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
        return self.enc.n

    def output_schema_for(self, rows: int) -> pa.Schema:
        """Schema of a synthetic table of ``rows`` rows (the source's, less dropped columns)."""
        fields = [s.field for s in self.specs] + (self.labeler.extra_fields() if self.labeler else [])
        meta = provenance.output_metadata(self.source_schema.metadata, [f.name for f in fields], rows)
        return pa.schema(fields, metadata=meta)

    def _mix(self, d: Draws, strata: int | None = None) -> np.ndarray:
        """Mixed, null-filled, corrected rows for ``d``; ``strata`` (whole logical blocks
        only) stratifies the anchored columns per block (see :meth:`Anchor.apply`)."""
        Y = self._mixer(d.parents, d.w)
        # A null parent makes a NaN; the row then takes the dominant parent's value, so
        # the null mask is exactly the dominant parent's (docs/design.md section 3).
        rows, cols = np.nonzero(np.isnan(Y))
        if rows.size:
            Y[rows, cols] = self._X_mix[d.dominant()[rows], cols]
        if self.rank_gauss is not None:
            self.rank_gauss.inverse(Y)
        if self.repair is not None:
            stretch(Y, self.repair)
        if self.anchor is not None:
            self.anchor.apply(Y, self.enc.X, d.parents, d.w, d.u, strata)
        else:
            _break_ties(Y, self.enc.X, d, self._rounded)
        for copied in self._copied:
            Y[:, copied] = self.enc.X[d.parents[:, 0], copied]
        return Y

    def _fit_correction(self) -> None:
        """Fit what ``--repair`` asks for on the seeded pilot (before any block is made)."""
        if self.repair_mode == "variance":
            self.repair = self._fit_repair()
        elif self.repair_mode == "marginals":
            self.anchor = self._fit_anchor()
            self.balance = self._plan_balance()

    def _plan_balance(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The taken columns' joint state per source row and the states' shares, when the
        parent choice can be balanced: two parents, few well-filled states, and groups (if
        any) drawn in their source proportions (see :meth:`_balanceable`)."""
        if not self._balanceable():
            return None
        codes = []
        for spec in self.specs:
            if spec.name in self.enc.taken and not spec.target:
                arr = self.enc.taken[spec.name]
                arr = arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr
                codes.append(pc.dictionary_encode(arr, null_encoding="encode").indices.to_numpy())
        # The columns with fewest categories first, each kept while the joint states stay
        # few and well filled: names and cities would make every state a single row.
        kept: list[np.ndarray] = []
        states = None
        for code in sorted(codes, key=lambda c: int(c.max(initial=0))):
            trial = joint_states([*kept, code])
            if trial is not None:
                kept, states = [*kept, code], trial
        if states is None:
            return None
        return states, np.bincount(states) / states.size

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
        d = self._pilot_draws()
        return d, self._mix(d)

    def _pilot_draws(self) -> Draws:
        """The pilot's draws (apart so that the Dask engine mixes them where its rows are)."""
        rows = pilot_rows(self.enc.X.shape[1])
        return draw(self.seed, 0, rows, self.n, self.law, attempt=PILOT_ATTEMPT, groups=self.groups)

    def _fit_anchor(self) -> Anchor:
        d, pilot = self._pilot()
        columns, rounded = anchor_columns(self.enc)
        return fit_anchor(self.enc.X, pilot, d, columns, rounded, self.law.k == 2, self.groups)

    def _fit_repair(self) -> Repair:
        d, pilot = self._pilot()
        _, rounded = anchor_columns(self.enc)
        fitted = fit_repair(self.enc.X, pilot, self.bounds, repairable(self.enc, self.bounds),
                            self.law.variance_factor(), rounded)
        self._notify_capped(fitted)
        return fitted

    def _notify_capped(self, fitted: Repair) -> None:
        """Name each column whose stretch stopped at the cap (shared with the Dask engine)."""
        for feat in self.enc.features:
            if fitted.capped[feat.cols].any():
                self.notify(
                    f"variance repair of column {feat.spec.name!r} stopped at the cap "
                    f"s={MAX_STRETCH:g}: its variance ratio after bounds is "
                    f"{float(np.nanmedian(fitted.after[feat.cols])):.3g} (too much mass at a bound)"
                )

    def _resample(self, Y: np.ndarray, d: Draws, start: int, stop: int) -> np.ndarray:
        """Redraw rows with a ``resample`` column out of range; return the counts replaced."""
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
            Y[idx] = self._mix(Draws(d.parents[idx], d.w[idx], d.u[idx]))
            bad = out_of_bounds(Y, self.bounds, cols)
        return counts

    def _taken_rows(self, d: Draws) -> dict[str, np.ndarray]:
        dominant, chosen = d.dominant(), d.chosen()
        rows = {}
        for spec in self.specs:
            if spec.name not in self.enc.taken:
                continue
            if spec.target:
                rows[spec.name] = dominant
                continue
            null = self.enc.taken_null[spec.name]
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
        d, Y, adjusted = self._mixed_rows(start, stop)
        table = decode(self.enc, Y, self._taken_rows(d), start)
        return (self.labeler.apply(table, Y, d) if self.labeler else table), adjusted

    def _mixed_rows(self, start: int, stop: int) -> tuple[Draws, np.ndarray, np.ndarray]:
        d, Y = self._whole_blocks(start, stop, lambda whole, strata: self._mix(whole, strata))
        adjusted = np.zeros(Y.shape[1], dtype=np.int64)
        if self.bounds.active("resample").any():
            adjusted += self._resample(Y, d, start, stop)
        adjusted += apply_bounds(Y, self.bounds)
        return d, Y, adjusted

    def _whole_blocks(
        self, start: int, stop: int, mix: Callable[[Draws, int | None], np.ndarray]
    ) -> tuple[Draws, np.ndarray]:
        """Draws and mixed rows ``start:stop``, mixed as the whole logical blocks around them
        when anchoring stratifies per block (so a row never depends on the chunking)."""
        if self.anchor is None:
            d = draw(self.seed, start, stop, self.n, self.law, groups=self.groups)
            return d, mix(d, None)
        lo = start - start % LOGICAL_BLOCK
        hi = -(-stop // LOGICAL_BLOCK) * LOGICAL_BLOCK
        # The last block is stratified over the rows that are written, not all 8192: on a
        # table of a few thousand rows, a stratified 8192 cut to n would be a mere sample.
        hi = min(hi, self.total_rows) if self.total_rows else hi
        whole = draw(self.seed, lo, hi, self.n, self.law, groups=self.groups)
        Y = mix(whole, LOGICAL_BLOCK)
        if self.balance is not None:
            # After mixing: anchoring has used the drawn uniforms; the taken columns (and
            # anything else that asks Draws.chosen) see the balanced choice.
            blocks = np.arange(lo, hi) // LOGICAL_BLOCK
            balance_choice(*self.balance, whole.parents, whole.w, whole.u, blocks)
        s = slice(start - lo, stop - lo)
        d = Draws(whole.parents[s].copy(), whole.w[s].copy(), whole.u[s].copy())
        return d, (Y[s].copy() if (s.start, s.stop) != (0, hi - lo) else Y)

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
        self._mixer.release()

    def adjustments(self) -> dict[str, int]:
        """Values moved by the bounds policy so far, per column."""
        return {f.spec.name: int(self.adjusted[f.cols].sum()) for f in self.enc.features}

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
            d, Y, _ = self._mixed_rows(0, min(max(self.rows_written, 1), LOGICAL_BLOCK))
            record["agreement_with_dominant"] = self.labeler.agreement(Y, d)
        return record

    def provenance(self) -> dict[str, Any]:
        """The record stored under ``mixsynth`` in the output's key-value metadata."""
        law = self.law
        return {
            "mixsynth_version": package_version(),
            "seed": self.seed,
            "rows": self.rows_written,
            "logical_block": LOGICAL_BLOCK,
            "backend": self.backend.name,
            "precision": self.enc.X.dtype.name,
            "weights": {
                "given": self.weights_given,
                "spec": law.spec(),
                "variance_factor": law.variance_factor(),
                "theta_bar": law.theta_bar(),
            },
            "space": self.space,
            "repair": repair_record(self.repair_mode, self.repair, self.enc, self.anchor),
            "bounds": {
                "policy": self.bounds_policy,
                "columns": {
                    f.spec.name: {
                        "policy": str(self.bounds.policy[f.start]),
                        "low": float(self.bounds.low[f.start]) + f.origin,
                        "high": float(self.bounds.high[f.start]) + f.origin,
                    }
                    for f in self.enc.features
                },
            },
            "adjusted": self.adjustments(),
            "columns": {s.name: s.kind.value for s in self.specs},
            "target": self.target,
            "label_mode": self.label_plan.mode if self.label_plan else None,
            "labels": self._label_record(),
            "within": self.within.record() if self.within else None,
            "nan": self.nan,
            "source": {
                "rows": self.n,
                "schema_sha256": provenance.schema_fingerprint(self.source_schema),
            },
        }
