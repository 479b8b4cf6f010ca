"""The provenance record of a run: what made its rows (stored under ``mixsynth`` in the
output's key-value metadata; see :mod:`mixsynth.provenance` for the storage)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixsynth import provenance
from mixsynth.synthesis.draws import LOGICAL_BLOCK
from mixsynth.synthesis.grid import from_steps
from mixsynth.synthesis.repair import repair_record
from mixsynth.version import package_version

if TYPE_CHECKING:
    from mixsynth.synthesis.encode import Feature
    from mixsynth.synthesis.synthesizer import Synthesizer

__all__ = ["run_record"]


def _plain(feat: Feature, x: float) -> float:
    """A bound in ``X`` as the column's plain value (ticks or integer), grid undone."""
    return x + feat.origin if feat.grid is None else from_steps(feat.grid, feat.origin, x)


def _labels(synth: Synthesizer) -> dict[str, Any] | None:
    plan = synth.label_plan
    if plan is None:
        return None
    record: dict[str, Any] = {"mode": plan.mode, "classes": plan.classes}
    if plan.groups is not None:
        record["groups"] = dict(zip(plan.groups.names, plan.groups.probs.tolist(), strict=True))
    if synth.labeler is not None:
        record |= synth.labeler.record()
        record["agreement_with_dominant"] = synth.agreement
    return record


def run_record(synth: Synthesizer, rows: int, adjusted: dict[str, int]) -> dict[str, Any]:
    """The record of ``synth`` having written ``rows`` rows, with ``adjusted`` values moved
    by the bounds policy per column."""
    law, options, enc, bounds = synth.law, synth.options, synth.enc, synth.bounds
    return {
        "mixsynth_version": package_version(),
        "seed": synth.seed,
        "rows": rows,
        "logical_block": LOGICAL_BLOCK,
        "backend": synth.backend.name,
        "precision": enc.X.dtype.name,
        "weights": {
            "given": options.weights_given,
            "spec": law.spec(),
            "variance_factor": law.variance_factor(),
            "theta_bar": law.theta_bar(),
        },
        "space": options.space,
        "repair": repair_record(synth.repair_mode, synth.repair, enc, synth.anchor),
        "bounds": {
            "policy": options.bounds,
            "columns": {
                f.spec.name: {
                    "policy": str(bounds.policy[f.start]),
                    "low": _plain(f, float(bounds.low[f.start])),
                    "high": _plain(f, float(bounds.high[f.start])),
                }
                for f in enc.features
            },
        },
        "adjusted": adjusted,
        "columns": {s.name: s.kind.value for s in synth.specs},
        "target": options.target,
        "label_mode": synth.label_plan.mode if synth.label_plan else None,
        "labels": _labels(synth),
        "within": synth.within.record() if synth.within else None,
        "nan": options.nan,
        "source": {
            "rows": synth.n,
            "schema_sha256": provenance.schema_fingerprint(synth.source_schema),
        },
    }
