"""The report's ``meta``: what was compared, how it was sampled, and notes for the reader."""

from __future__ import annotations

from typing import Any

from mixsynth.diagnose.inputs import Input
from mixsynth.diagnose.layout import Layout
from mixsynth.diagnose.privacy import COPY_TOLERANCE
from mixsynth.diagnose.report import CHECKS
from mixsynth.diagnose.stream import MAX_CATEGORIES, MAX_COV_DIMS, Scan
from mixsynth.version import package_version

__all__ = ["SAMPLED_METRICS", "build_meta"]

#: Metrics computed on the seeded sample rather than on all rows.
SAMPLED_METRICS = (
    "ks", "wasserstein", "quantiles", "cramers_v", "distinct", "quality_score", "dcr",
    "detection_auc",
)

_DEFINITIONS = {
    "variance_ratio": "synthetic variance / real variance (ddof=1, all rows)",
    # Not the word NaN: a JSON reader checks for bare NaN literals.
    "null_rate": "missing rows / all rows, a missing row being null or, in a numeric (not tensor) column, "
                 "not a finite number (generate --nan skip writes such values as null)",
    "exact_copy": f"DCR <= {COPY_TOLERANCE:g} x median real-to-real nearest-neighbour distance",
    "predicted_variance_factor": "summary: E[sum of squared weights] of the weight law, before bounds; per "
                                 "column: the variance ratio the generation aims at (null: no closed form)",
    "measured_variance_factor": "total_variance_ratio = tr(Σ_s)/tr(Σ_r), real-standardised",
    "checks": "min: value must be >= the --fail-under limit; max: an upper bound; --fail-over: an upper bound on any",
    "skewness": "m3 / m2^1.5 (biased, as scipy.stats.skew), all rows, one pass",
    "kurtosis": "excess (Fisher) kurtosis m4 / m2^2 - 3 (biased, as scipy.stats.kurtosis), "
                "all rows, one pass",
    "kurtosis_ratio": "(kurtosis_synth + 3) / (kurtosis_real + 3), the ratio of fourth "
                      "standardised moments (never divides by ~0)",
    "distinct_ratio": "distinct_synth / distinct_real: distinct non-null values counted on "
                      "equal-size seeded samples (meta.shape.distinct_rows rows per side), "
                      "so the ratio does not reflect the row counts",
    "repair_stretch": "generate's variance-repair stretch around the mean (null: not repaired)",
    "repair_shift": "generate's variance-repair shift of the mean (null: not repaired)",
    "anchor_form": "generate's marginal anchoring map: continuous, discrete or two-valued (null: not anchored)",
    "predicted_basis": "why that prediction holds, or why no closed form applies",
    "label_agreement": "share of synthetic rows whose GenLabel label equals the dominant "
                       "parent's label (from generate's record)",
    "target_tv": "total variation distance of the class frequencies of the target column",
    "eta_squared": "correlation ratio of a (categorical a, numeric b) pair: the share of b's "
                   "variance explained by a's groups, SS_between / SS_total (all rows)",
    "quality_score": "SDMetrics' single-table QualityReport score (mean of column_shapes and "
                     "column_pair_trends) on the sampled rows; meta.quality says how",
    "tensor": "a tensor column's entry: medians over its elements (skewness_diff and "
              "mean_drift: the element that moved most)",
}


def _notes(layout: Layout, real: Input, synth: Input, sides: dict[str, tuple[Input, Scan]],
           sample: int, sampled_metrics: list[str]) -> list[str]:
    notes = []
    taken = {k: s.sample.num_rows for k, (_, s) in sides.items()}
    if any(taken[k] < s.rows for k, (_, s) in sides.items()):
        counts = ", ".join(f"{k} {taken[k]:,} of {s.rows:,}" for k, (_, s) in sides.items())
        notes.append(f"{', '.join(sampled_metrics)} use a seeded sample of at most {sample:,} "
                     f"rows per side ({counts}); moments, covariance, ranges, nulls and "
                     "category counts use all rows")
    if layout.only_real or layout.only_synth:
        notes.append(f"columns on one side only: real {list(layout.only_real)}, "
                     f"synthetic {list(layout.only_synth)}")
    notes += [f"skipped {name!r}: {why}" for name, why in layout.skipped]
    real_scan, synth_scan = sides["real"][1], sides["synth"][1]
    notes += [f"{n!r} is entirely null in the real data; only its null rate is compared"
              for n, c in real_scan.nulls.items() if c == real_scan.rows]
    notes += [f"{n!r}: {c:,} NaN/inf {side} values treated as null"
              for side, scan in (("real", real_scan), ("synthetic", synth_scan))
              for n, c in scan.nonfinite.items() if c]
    too_many = real_scan.too_many | synth_scan.too_many
    notes += [f"{n!r}: more than {MAX_CATEGORIES:,} categories; frequencies not compared"
              for n in sorted(too_many)]
    if layout.d > MAX_COV_DIMS:
        notes.append(f"{layout.d} numeric dimensions > {MAX_COV_DIMS}: covariance and "
                     "correlation not computed")
    record = synth.provenance
    if record:
        adjusted = sum(v for v in (record.get("adjusted") or {}).values() if isinstance(v, int))
        repaired = (record.get("repair") or {}).get("columns") or {}
        if adjusted:
            won_back = (f"; variance repair stretched {len(repaired)} column(s) to win it back"
                        if repaired else "")
            notes.append(f"the predicted variance factor applies before bounds adjustment, which "
                         f"moved {adjusted:,} synthetic values (clipping shrinks variance)"
                         + won_back)
        notes += [f"{n!r}: variance repair hit its stretch cap; its variance stays below target"
                  for n, r in repaired.items() if r.get("capped")]
        made_from = (record.get("source") or {}).get("rows")
        if made_from not in (None, real.num_rows):
            notes.append(f"the synthetic file was made from {made_from:,} rows; "
                         f"the real table has {real.num_rows:,}")
    return notes


def _provenance(record: dict[str, Any] | None) -> dict[str, Any] | None:
    if not record:
        return None
    weights = record.get("weights") or {}
    return {
        "weights": weights.get("spec"),
        "variance_factor": weights.get("variance_factor"),
        "seed": record.get("seed"),
        "bounds_policy": (record.get("bounds") or {}).get("policy"),
        "adjusted": record.get("adjusted"),
    }


def _labels(record: dict[str, Any] | None) -> dict[str, Any] | None:
    labels = (record or {}).get("labels")
    if not labels:
        return None
    keep = ("mode", "classes", "genlabel_model", "genlabel_gamma", "probability_columns")
    return {"target": (record or {}).get("target")} | {k: labels[k] for k in keep if k in labels}


def build_meta(layout: Layout, sides: dict[str, tuple[Input, Scan]], *, sample: int, seed: int,
               detection: bool, distinct_rows: int, engine: str = "local") -> dict[str, Any]:
    """``meta`` for a report; ``sides`` maps ``real``/``synth``/``holdout`` to (input, scan);
    ``engine`` says where the one-pass statistics were computed (``local`` or ``dask``)."""
    real, synth = sides["real"][0], sides["synth"][0]
    record = synth.provenance or {}
    taken = {k: s.sample.num_rows for k, (_, s) in sides.items()}
    sampled_metrics = list(SAMPLED_METRICS if detection else SAMPLED_METRICS[:-1])
    return {
        "mixsynth_version": package_version(),
        "inputs": {k: side.name for k, (side, _) in sides.items()},
        "engine": engine,
        "rows": {k: s.rows for k, (_, s) in sides.items()},
        "sample": {
            "max_rows": sample, "seed": seed, "rows": taken,
            "sampled": any(taken[k] < s.rows for k, (_, s) in sides.items()),
            "metrics": sampled_metrics,
        },
        "numeric_dims": layout.d,
        "only_real": list(layout.only_real),
        "only_synth": list(layout.only_synth),
        "skipped": [{"name": n, "reason": w} for n, w in layout.skipped],
        "provenance": _provenance(synth.provenance),
        "repair_mode": (record.get("repair") or {}).get("mode"),
        "space": record.get("space"),
        "labels": _labels(synth.provenance),
        "shape": {
            "skewness_kurtosis": "all rows (one-pass shifted power sums)",
            "distinct_rows": distinct_rows,
        },
        "checks": dict(CHECKS),
        "definitions": dict(_DEFINITIONS),
        "notes": _notes(layout, real, synth, sides, sample, sampled_metrics),
    }
