"""The diagnose report, its JSON form, and the ``--fail-under``/``--fail-over`` checks on its summary."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mixsynth.errors import UsageError

__all__ = [
    "CHECKS",
    "DiagnoseReport",
    "PlotData",
    "failed_checks",
    "jsonable",
    "parse_thresholds",
    "summarise",
]

#: Summary metrics ``--fail-under`` and ``--fail-over`` can check. For ``--fail-under``,
#: "min": the value must be at least the threshold; "max": lower is better, so the
#: threshold is an upper bound (kept for old scripts; ``--fail-over`` says so plainly).
#: ``--fail-over`` is an upper bound on any of them.
CHECKS: dict[str, str] = {
    "variance_ratio_median": "min",
    "variance_ratio_min": "min",
    "variance_ratio_max": "max",
    "total_variance_ratio": "min",
    "measured_variance_factor": "min",
    "cov_rel_error": "max",
    "corr_max_abs_diff": "max",
    "corr_mean_abs_diff": "max",
    "cramers_v_max_abs_diff": "max",
    "eta_max_abs_diff": "max",
    "ks_mean": "max",
    "ks_max": "max",
    "wasserstein_mean": "max",
    "tv_mean": "max",
    "tv_max": "max",
    "mean_drift_max_abs": "max",
    "quantile_shift_max": "max",
    "out_of_range_fraction": "max",
    "null_rate_max_diff": "max",
    "skewness_max_abs_diff": "max",
    "target_tv": "max",
    "dcr_p5": "min",
    "dcr_median": "min",
    "exact_copy_fraction": "max",
    "closer_to_train_fraction": "max",
    "detection_auc": "max",
    "quality_score": "min",
    "column_shapes": "min",
    "column_pair_trends": "min",
}


@dataclass(frozen=True)
class PlotData:
    """What ``--plot`` draws beyond the report: correlation matrices and sampled values."""

    labels: list[str]
    corr_real: np.ndarray | None
    corr_synth: np.ndarray | None
    marginals: list[tuple[str, np.ndarray, np.ndarray]]
    dims: int = 0  # numeric dimensions in all; the heatmaps show the first len(labels)
    eta: list[dict[str, Any]] = field(default_factory=list)  # worst η² pairs, as in ``pairs``


def jsonable(value: Any) -> Any:
    """Plain JSON types: NumPy scalars to Python, NaN/±inf to None, tuples to lists.

    Examples
    --------
    >>> jsonable({"a": float("nan"), "b": (np.float64(1.5), np.int64(2))})
    {'a': None, 'b': [1.5, 2]}
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class DiagnoseReport:
    """Real vs synthetic comparison; :meth:`to_dict` is the JSON contract.

    Attributes
    ----------
    summary : dict
        Whole-table numbers (keys of :data:`CHECKS` among them); None = not computed.
    columns : list of dict
        One entry per compared column (``name``, ``kind``, ``group`` and its metrics).
    pairs : list of dict
        Worst column pairs: correlation, Cramér's V and η² (categorical → numeric) differences.
    privacy : dict
        Distances to closest records (on the sampled rows).
    meta : dict
        Rows, sampling, skipped and one-sided columns, provenance, notes.
    """

    summary: dict[str, Any]
    columns: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    privacy: dict[str, Any]
    meta: dict[str, Any]
    plot: PlotData | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"summary", "columns", "pairs", "privacy", "meta"}`` with JSON-safe values."""
        return jsonable(
            {
                "summary": self.summary,
                "columns": self.columns,
                "pairs": self.pairs,
                "privacy": self.privacy,
                "meta": self.meta,
            }
        )


def _agg(entries: Sequence[dict[str, Any]], key: str, fn: Any) -> float | None:
    values = [e[key] for e in entries if e.get(key) is not None]
    return float(fn(values)) if values else None


def summarise(
    entries: Sequence[dict[str, Any]],
    *parts: Mapping[str, Any],
    out_of_range: float | None,
    predicted: float | None,
) -> dict[str, Any]:
    """Summary over column entries, merged with the whole-table ``parts``."""
    numeric = [e for e in entries if e["group"] == "numeric"]
    summary: dict[str, Any] = {
        "variance_ratio_median": _agg(numeric, "variance_ratio", np.median),
        "variance_ratio_min": _agg(numeric, "variance_ratio", min),
        "variance_ratio_max": _agg(numeric, "variance_ratio", max),
        "ks_mean": _agg(numeric, "ks", np.mean),
        "ks_max": _agg(numeric, "ks", max),
        "wasserstein_mean": _agg(numeric, "wasserstein", np.mean),
        "mean_drift_max_abs": _agg(numeric, "mean_drift", lambda v: max(map(abs, v))),
        "quantile_shift_max": _agg(numeric, "quantile_shift_max", max),
        "tv_mean": _agg(entries, "tv", np.mean),
        "tv_max": _agg(entries, "tv", max),
        "out_of_range_fraction": out_of_range,
        "out_of_range_fraction_max": _agg(numeric, "out_of_range_fraction", max),
        "null_rate_max_diff": _agg(entries, "null_rate_diff", lambda v: max(map(abs, v))),
        "kurtosis_ratio_median": _agg(numeric, "kurtosis_ratio", np.median),
        "distinct_ratio_median": _agg(numeric, "distinct_ratio", np.median),
        "skewness_max_abs_diff": _agg(numeric, "skewness_diff", lambda v: max(map(abs, v))),
    }
    for part in parts:
        summary.update(part)
    summary["predicted_variance_factor"] = predicted
    summary["measured_variance_factor"] = summary.get("total_variance_ratio")
    return summary


def parse_thresholds(values: Sequence[str] | None, option: str = "--fail-under") -> dict[str, float]:
    """``METRIC=VALUE`` strings to a mapping; the last of repeated metrics wins.

    ``option`` names the flag in error messages (``--fail-under`` or ``--fail-over``).

    Raises
    ------
    UsageError
        Not ``METRIC=VALUE``, an unknown metric, or a value that is not a number.

    Examples
    --------
    >>> parse_thresholds(["variance_ratio_min=0.9", "corr_max_abs_diff=.05"])
    {'variance_ratio_min': 0.9, 'corr_max_abs_diff': 0.05}
    """
    out: dict[str, float] = {}
    for text in values or []:
        name, sep, raw = text.partition("=")
        name = name.strip()
        if not sep or name not in CHECKS:
            known = ", ".join(sorted(CHECKS))
            msg = f"{option} expects METRIC=VALUE with METRIC one of {known}; got {text!r}"
            raise UsageError(msg)
        try:
            value = float(raw)
        except ValueError:
            msg = f"{option} {name} expects a number, got {raw.strip()!r}"
            raise UsageError(msg) from None
        if not math.isfinite(value):
            msg = f"{option} {name} expects a finite number, got {raw.strip()!r}"
            raise UsageError(msg)
        out[name] = value
    return out


def failed_checks(
    summary: Mapping[str, Any],
    thresholds: Mapping[str, float],
    over: Mapping[str, float] | None = None,
) -> list[str]:
    """One line per failed threshold; a metric that could not be computed fails.

    ``thresholds`` are ``--fail-under``'s (the direction from :data:`CHECKS`), ``over``
    are ``--fail-over``'s upper bounds.

    Examples
    --------
    >>> failed_checks({"variance_ratio_min": 0.671, "variance_ratio_max": 1.2, "ks_max": 0.01},
    ...               {"variance_ratio_min": 0.9, "ks_max": 0.1}, {"variance_ratio_max": 1.1})
    ['threshold failed: variance_ratio_min = 0.671 < 0.9', 'threshold failed: variance_ratio_max = 1.2 > 1.1']
    """
    bounds = [(name, limit, CHECKS[name]) for name, limit in thresholds.items()]
    bounds += [(name, limit, "max") for name, limit in (over or {}).items()]
    lines = []
    for name, limit, way in bounds:
        value = summary.get(name)
        if value is None or not math.isfinite(value):
            lines.append(
                f"threshold failed: {name} was not computed for these data (limit {limit:g})"
            )
        elif way == "min" and value < limit:
            lines.append(f"threshold failed: {name} = {value:.6g} < {limit:g}")
        elif way == "max" and value > limit:
            lines.append(f"threshold failed: {name} = {value:.6g} > {limit:g}")
    return lines
