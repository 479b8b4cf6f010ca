"""The collapse study loop: K rounds of re-synthesis per law, one record per (law, round).

Round 0 is the real training split. Round r+1 is generated from round r (``replace``) or
from the real rows plus rounds 1..r (``accumulate``). Each round is compared with the real
training rows (``diagnose``), measured for shape (:mod:`~mixsynth.collapse.metrics`) and,
with a target, scored train-on-synthetic / test-on-real
(:mod:`~mixsynth.collapse.utility`).

Randomness: every (law, round) has its own stream
``SeedSequence(seed, spawn_key=(crc32(law), round))``, so a law's numbers do not depend on
which other laws run, on the order, or on whether the study was resumed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mixsynth import provenance
from mixsynth.api import generate as mix_generate
from mixsynth.arguments import select_columns
from mixsynth.collapse.baselines import MAX_DIMS, GmmBaseline
from mixsynth.collapse.measure import Measures, forward_warnings
from mixsynth.collapse.options import StopRule, StudyOptions
from mixsynth.collapse.split import resolve_task, split_rows
from mixsynth.collapse.state import StudyState
from mixsynth.collapse.trajectory import BASELINE, SPLIT, Trajectory, build, seed_for
from mixsynth.collapse.utility import default_model
from mixsynth.diagnose.report import jsonable
from mixsynth.errors import MixsynthWarning, SchemaError, UsageError
from mixsynth.io.arrow import as_table
from mixsynth.synthesis.within import parse_within
from mixsynth.version import package_version

__all__ = ["BASELINE", "CollapseStudy", "collapse_study"]

#: Largest |value| a float column may hold: every round squares values (variances,
#: covariances, model fits), and squares of larger ones overflow float64.
MAX_MAGNITUDE = 1e150


def _refuse_huge_values(table: pa.Table) -> None:
    """A SchemaError naming the first float column with a NaN or infinite value, or a value
    beyond :data:`MAX_MAGNITUDE`."""
    for name, column in zip(table.column_names, table.columns, strict=True):
        t = column.type
        while pa.types.is_fixed_size_list(t) or isinstance(t, pa.BaseExtensionType):
            t = t.value_type if pa.types.is_fixed_size_list(t) else t.storage_type
        if not pa.types.is_floating(t) or column.null_count == len(column):
            continue
        values = column.combine_chunks()
        while not pa.types.is_floating(values.type):
            values = values.storage if isinstance(values, pa.ExtensionArray) else values.flatten()
        # Checked here, on the whole table: each round's generate would refuse them too, but
        # on the training split (its count and row are not the file's) and with a hint,
        # --nan skip, that collapse-study does not take.
        bad = pc.invert(pc.is_finite(values)).fill_null(False)
        count = pc.sum(bad).as_py() or 0
        if count:
            # A tensor's elements (null lists left out) are not one per row: no row then.
            at = f" (first at row {pc.index(bad, True).as_py()})" if len(values) == len(column) else ""
            msg = (f"column {name!r} has {count} NaN or infinite values{at}; collapse-study "
                   f"expects finite numbers (store them as nulls, or leave the column out with "
                   f"--exclude {name})")
            raise SchemaError(msg)
        largest = pc.max(pc.abs(values.cast(pa.float64()))).as_py()
        if largest is not None and largest > MAX_MAGNITUDE:
            msg = (f"column {name!r} has values up to {largest:.4g} in magnitude; collapse-study "
                   f"squares values (variances, model fits) and needs |value| <= {MAX_MAGNITUDE:g}: "
                   "rescale the column (generate itself mixes such values)")
            raise SchemaError(msg)


class CollapseStudy:
    """A prepared study; iterate it for one record per (trajectory, round), in round order.

    Parameters
    ----------
    data : pyarrow.Table or pandas.DataFrame
        The real table (split into training and test rows here).
    options : StudyOptions
    notify : callable, optional
        Receives one-line notices (each at most once).
    on_step : callable, optional
        Called with ``(trajectory, round)`` before each record is computed or replayed.

    Raises
    ------
    UsageError, InputError, SolverError
        Bad options, an unusable target, too few rows, an unknown law, an unusable
        ``output_dir``.
    """

    def __init__(
        self,
        data: Any,
        options: StudyOptions,
        *,
        notify: Callable[[str], None] | None = None,
        on_step: Callable[[str, int], None] | None = None,
    ) -> None:
        self.options = options
        self.stop: StopRule | None = options.check()
        self._told: set[str] = set()
        self._notify = notify or (
            lambda message: warnings.warn(message, MixsynthWarning, stacklevel=2)
        )
        self.on_step = on_step or (lambda _name, _r: None)
        table = as_table(data).replace_schema_metadata(None)
        target = options.target
        if options.columns is not None or options.exclude is not None:
            table = table.select(select_columns(table.column_names, options.columns, options.exclude, target))
        _refuse_huge_values(table)
        self.task = resolve_task(table, target, options.task) if target is not None else None
        self.model = (options.model or default_model(self.task)) if self.task else None
        rng = np.random.default_rng(seed_for(options.seed, SPLIT))
        split = split_rows(
            table,
            target=target,
            task=self.task,
            test_size=options.test_size,
            rng=rng,
            notify=self.notify,
        )
        self.train, self.test = split.train, split.test
        self.rows = options.rows or self.train.num_rows
        classification = self.task == "classification"
        self.label_mode = options.label_mode or ("within-class" if classification else None)
        self.measures = Measures(self.train, self.test, options, self.task, self.model, self.notify)
        self.gmm = (
            GmmBaseline(self.train.schema, target, classification) if options.baseline else None
        )
        if self.gmm is not None and (dims := self.gmm.dims(self.train)) > MAX_DIMS:
            self._leave_out_baseline(dims)
        self.trajectories = build(self.options)
        if self.gmm is not None:
            self.notify(self.gmm.note())
        self.state = (
            StudyState(options.output_dir, self.header(), resume=options.resume)
            if options.output_dir
            else None
        )
        if self.state is not None and not self.state.resumed:
            self.state.write_table(self.state.root / "split" / "train.parquet", self.train)
            self.state.write_table(self.state.root / "split" / "test.parquet", self.test)
        self._round0: dict[str, Any] | None = None

    def _leave_out_baseline(self, dims: int) -> None:
        """Said up front: the baseline's cost grows as d^2 in memory and d^3 in time, while
        the Mixup laws and the measures grow linearly in the columns."""
        if not self.options.weights:
            msg = (f"nothing to study: the gmm baseline models at most {MAX_DIMS} dimensions and this table "
                   f"has {dims}; give a --weights law, or choose fewer columns with --columns")
            raise UsageError(msg)
        self.notify(f"gmm baseline left out: the table has {dims} dimensions, over its limit of {MAX_DIMS} "
                    "(a full covariance per component: d^2 memory, d^3 time); choose fewer columns with "
                    "--columns to keep it, or pass --no-baseline")
        self.options = dataclasses.replace(self.options, baseline=False)
        self.gmm = None

    def notify(self, message: str) -> None:
        """Pass a notice on once."""
        if message not in self._told:
            self._told.add(message)
            self._notify(message)

    @property
    def names(self) -> list[str]:
        """Trajectory names, in record order within a round."""
        return [t.name for t in self.trajectories]

    @property
    def steps(self) -> int:
        """Records a full study yields (fewer when laws stop early)."""
        return len(self.trajectories) * (self.options.rounds + 1)

    def header(self) -> dict[str, Any]:
        """What determines the numbers: settings and the split (``trajectory.json``)."""
        return {
            "mixsynth_version": package_version(),
            "params": jsonable(self.options.fingerprint()),
            "source": {
                "train_rows": self.train.num_rows,
                "test_rows": self.test.num_rows,
                "schema_sha256": provenance.schema_fingerprint(self.train.schema),
                "train_sha256": _table_digest(self.train),
            },
        }

    def meta(self) -> dict[str, Any]:
        """The study's description for ``--format json`` and the plot."""
        return jsonable(
            {
                **self.header(),
                "rounds": self.options.rounds,
                "mode": self.options.mode,
                "target": self.options.target,
                "task": self.task,
                "model": self.model,
                "label_mode": self.label_mode,
                "trajectories": [
                    {
                        "name": t.name,
                        "weights": t.weights,
                        "variant": t.variant,
                        "spec": t.law.spec() if t.law else None,
                        "variance_factor": t.law.variance_factor() if t.law else None,
                        "theta_bar": t.law.theta_bar() if t.law else None,
                    }
                    for t in self.trajectories
                ],
                "baseline": self.gmm.note() if self.gmm else None,
                "stop_when": self.stop.text if self.stop else None,
                "notes": sorted(self._told),
            }
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for r in range(self.options.rounds + 1):
            for t in self.trajectories:
                if t.stopped:
                    continue
                self.on_step(t.name, r)
                stored = self.state.stored(t.name, r) if self.state else None
                record = stored if stored is not None else self._step(t, r)
                t.advance(self.options.mode, [self.train.num_rows] + [self.rows] * r)
                t.stopped = bool(record.get("stopped"))
                yield record
        if self.state is not None:
            self.state.save(complete=True, extra={"meta": self.meta()})

    def _step(self, t: Trajectory, r: int) -> dict[str, Any]:
        if r == 0:
            record = self._record(t, 0, self.train, None)
        else:
            source = self._source(t, r)
            seed = seed_for(self.options.seed, t.key, r)
            table, info = self._synthesise(t, source, seed)
            record = self._record(t, r, table, info)
            t.table = table
            if self.options.mode == "accumulate":
                t.pool.append(table)
            if self.state is not None:
                self.state.add(t.name, record, table)
            return record
        if self.state is not None:
            self.state.add(t.name, record, None)
        return record

    def _source(self, t: Trajectory, r: int) -> pa.Table:
        """The rows round ``r`` is made from, loading earlier rounds after a resume."""
        if self.options.mode == "replace":
            if r == 1:
                return self.train
            if t.table is None:
                t.table = self.state.load(t.name, r - 1)  # type: ignore[union-attr]
            return t.table
        while len(t.pool) < r - 1:
            t.pool.append(self.state.load(t.name, len(t.pool) + 1))  # type: ignore[union-attr]
        tables = [self.train, *t.pool]
        names = [set(x.column_names) for x in tables]
        common = [f.name for f in self.train.schema if all(f.name in n for n in names)]
        return pa.concat_tables([x.select(common).replace_schema_metadata(None) for x in tables])

    def _synthesise(self, t: Trajectory, source: pa.Table, seed: int) -> tuple[pa.Table, Any]:
        if t.law is None:
            assert self.gmm is not None
            return self.gmm.sample(source, self.rows, seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MixsynthWarning)
            table = mix_generate(
                source,
                self.rows,
                weights=t.weights,
                seed=seed,
                target=self.options.target,
                label_mode=self.label_mode,
                bounds=self.options.bounds,
                **self._within(t),
                **t.options,
            )
        forward_warnings(caught, t.name, self.notify)
        return table.replace_schema_metadata(None), None

    def _within(self, t: Trajectory) -> dict[str, Any]:
        """``within=`` for :func:`mixsynth.generate`: the study's (default ``auto``), except that
        the bootstrap control stays plain row resampling unless columns are named."""
        within = self.options.within if self.options.within is not None else "auto"
        names, auto = parse_within(within)
        if auto and t.weights == "bootstrap":
            return {"within": None}
        return {"within": list(names) if names else ("auto" if auto else None),
                "within_bins": self.options.within_bins}

    def _record(self, t: Trajectory, r: int, table: pa.Table, info: Any) -> dict[str, Any]:
        if r == 0 and self._round0 is not None:
            numbers = self._round0
        else:
            numbers = self.measures.numbers(table)
            if r == 0:
                self._round0 = numbers
        predicted = t.predicted[r]
        model_seed = seed_for(self.options.seed, t.key, r, 1)
        record: dict[str, Any] = {
            "weights": t.weights,
            "trajectory": t.name,
            "round": r,
            "rows": table.num_rows,
            "mode": self.options.mode,
            **numbers,
            "utility": self.measures.utility(table if r else None, model_seed, t.theta[r]),
            "predicted_variance_factor": predicted,
            "predicted_total_variance_ratio": self.measures.predicted_total(
                predicted, self.label_mode
            ),
            "variance_factor": t.law.variance_factor() if t.law else None,
        }
        if t.variant is not None:
            record["variant"] = t.variant
        if info is not None:
            record["baseline"] = info
        if r > 0 and self.stop is not None and self.stop.met(record):
            record["stopped"] = self.stop.text
        return jsonable(record)


def _table_digest(table: pa.Table) -> str:
    """SHA-256 of a table's values (to check that a resumed study has the same rows)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def collapse_study(
    data: Any,
    options: StudyOptions | None = None,
    *,
    notify: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> Iterator[dict[str, Any]]:
    """Run a collapse study; yield one record per (trajectory, round) as it is computed.

    Parameters
    ----------
    data : pyarrow.Table or pandas.DataFrame
    options : StudyOptions, optional
        Or give its fields as keyword arguments (``rounds=5, weights=["uniform"]``).
    notify : callable, optional
        Receives notices; default: :class:`~mixsynth.errors.MixsynthWarning` warnings.

    Yields
    ------
    dict
        The NDJSON record: ``weights``, ``trajectory``, ``round``, ``rows``, the diagnose
        numbers, ``utility`` (or None), ``predicted_variance_factor``, ...

    Examples
    --------
    >>> import numpy as np, pyarrow as pa
    >>> x = np.random.default_rng(0).normal(size=(400, 2))
    >>> table = pa.table({"a": x[:, 0], "b": x[:, 1]})
    >>> out = list(collapse_study(table, rounds=2, weights=["midpoint"], baseline=False, seed=1))
    >>> [(r["round"], r["predicted_variance_factor"]) for r in out]
    [(0, 1.0), (1, 0.5), (2, 0.25)]
    """
    opts = options if options is not None else StudyOptions(**kwargs)
    return iter(CollapseStudy(data, opts, notify=notify))
