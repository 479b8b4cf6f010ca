"""What is measured in each round: diagnose's summary against the real training rows,
shape and within-class variance ratios, and train-on-synthetic / test-on-real utility."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from mixsynth.collapse.metrics import SHAPE_METRICS, ClassVariance, ShapeReference
from mixsynth.collapse.options import METRICS, StudyOptions
from mixsynth.collapse.trajectory import DIAGNOSE, REAL_MODEL, seed_for
from mixsynth.collapse.utility import Evaluator
from mixsynth.diagnose import diagnose
from mixsynth.errors import MixsynthWarning

__all__ = ["EXTRA", "Measures", "forward_warnings", "kurtosis_change"]

#: diagnose numbers recorded beside the contract's.
EXTRA = (
    "variance_ratio_min",
    "corr_mean_abs_diff",
    "wasserstein_mean",
    "dcr_median",
    "null_rate_max_diff",
    "skewness_max_abs_diff",
)


def kurtosis_change(columns: list[dict[str, Any]]) -> dict[str, float | None]:
    """Synthetic minus real **excess** kurtosis per numeric column of a diagnose report
    (all rows; a tensor column's medians), None where either is undefined.

    A variance-keeping two-parent law raises it every round (the raw kurtosis becomes
    ``κ + E[u²](2κ + 6)`` with ``u = λ(1 − λ)``); the bootstrap control keeps it on average.
    """
    out: dict[str, float | None] = {}
    for e in columns:
        if e["group"] != "numeric":
            continue
        real, synth = e.get("kurtosis_real"), e.get("kurtosis_synth")
        if real is None or synth is None or not (np.isfinite(real) and np.isfinite(synth)):
            out[e["name"]] = None
        else:
            out[e["name"]] = float(synth - real)
    return out


def forward_warnings(
    caught: list[warnings.WarningMessage], prefix: str, notify: Callable[[str], None]
) -> None:
    """mixsynth's notices become notices; any other warning is raised again as it was."""
    for w in caught:
        if issubclass(w.category, MixsynthWarning):
            notify(f"{prefix}: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


class Measures:
    """The real training rows (and test rows) every round is compared with.

    Parameters
    ----------
    train, test : pyarrow.Table
    options : StudyOptions
    task, model : str or None
        Resolved task and model name (None without a target).
    notify : callable
    """

    def __init__(
        self,
        train: pa.Table,
        test: pa.Table,
        options: StudyOptions,
        task: str | None,
        model: str | None,
        notify: Callable[[str], None],
    ) -> None:
        self.train, self.options, self.task, self.model = train, options, task, model
        self.notify = notify
        target = options.target
        classes = task == "classification" and target is not None
        self.evaluator = Evaluator(test, target, task, model) if target and task and model else None
        self.shape = ShapeReference(train, [target] if classes and target else [])
        self.classes = ClassVariance(train, target) if classes and target else None
        self._real: dict[str, Any] | None = None

    def numbers(self, table: pa.Table) -> dict[str, Any]:
        """diagnose's summary (the contract's keys and :data:`EXTRA`), the shape ratios, the
        change of excess kurtosis per column (``kurtosis_change``) and its median absolute
        value, and the within-class variance ratio of ``table`` against the training rows."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MixsynthWarning)
            report = diagnose(
                self.train,
                table,
                target=self.options.target,
                sample=self.options.sample,
                seed=seed_for(self.options.seed, DIAGNOSE),
            )
        forward_warnings(caught, "diagnose", self.notify)
        summary = report.summary
        numbers = {k: summary.get(k) for k in METRICS}
        numbers["within_class_variance_ratio"] = self.classes.ratio(table) if self.classes else None
        # diagnose's own kurtosis/distinct numbers win once it reports them.
        shape = self.shape.ratios(table)
        for k in SHAPE_METRICS:
            numbers[k] = summary[k] if summary.get(k) is not None else shape[k]
        change = kurtosis_change(report.columns)
        numbers["kurtosis_change"] = change
        changes = [abs(v) for v in change.values() if v is not None]
        numbers["kurtosis_change_median_abs"] = float(np.median(changes)) if changes else None
        return numbers | {k: summary.get(k) for k in EXTRA}

    def predicted_total(self, factor: float | None, label_mode: str | None) -> float | None:
        """The total variance ratio ``factor`` implies: all of it, or with ``within-class``
        mixing only the within-class part."""
        if factor is None or self.classes is None or label_mode != "within-class":
            return factor
        return self.classes.predicted_total(factor)

    def utility(
        self, table: pa.Table | None, seed: int, theta: float | None
    ) -> dict[str, Any] | None:
        """The utility block: the model trained on ``table`` (None: on the real training
        rows) and scored on the test rows, beside the real-trained model's scores."""
        if self.evaluator is None:
            return None
        tt = self.options.test_time_transform
        # One thread: small models, and BLAS threads oversubscribe a busy 2-core machine.
        with threadpool_limits(1):
            if self._real is None:
                real_seed = seed_for(self.options.seed, REAL_MODEL)
                self._real = self.evaluator.score(self.train, real_seed, (1.0,) if tt else ())
            thetas = (theta,) if tt and theta is not None else ()
            fitted = self._real if table is None else self.evaluator.score(table, seed, thetas)
        out: dict[str, Any] = {
            "task": self.task,
            "model": self.model,
            **fitted["scores"],
            "real": self._real["scores"],
        }
        if tt:
            moved = fitted.get("transformed") or []
            out["test_time_transform"] = moved[0] if moved else None
        if "note" in fitted:
            out["note"] = fitted["note"]
        return out
