"""Choosing the mixing space and the variance repair for a run (``--space``, ``--repair``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from mixsynth.anchor import Anchor
from mixsynth.bounds import Bounds
from mixsynth.encode import Encoded
from mixsynth.errors import UsageError
from mixsynth.repair import Repair
from mixsynth.schema import Kind, storage_type
from mixsynth.space import RankGauss
from mixsynth.weights import WeightLaw

__all__ = [
    "PILOT_ATTEMPT",
    "REPAIR_MODES",
    "SPACES",
    "anchor_columns",
    "pilot_rows",
    "plan_space",
    "repair_record",
    "repairable",
    "resolve_repair",
]

SPACES = ("raw", "rank-gauss")
REPAIR_MODES = ("auto", "marginals", "variance", "none")
#: The repair pilot draws from streams ``(block, PILOT_ATTEMPT)``, apart from the output's.
PILOT_ATTEMPT = 1000
_PILOT_ROWS = 100_000
_PILOT_CELLS = 20_000_000


def pilot_rows(d: int) -> int:
    """Pilot sample size: 100 000 rows, fewer for very wide inputs (bounded work)."""
    return int(min(_PILOT_ROWS, max(8192, _PILOT_CELLS // max(d, 1))))


def plan_space(space: str, enc: Encoded) -> RankGauss | None:
    """The rank-Gaussian transform of float and integer columns, or None for ``raw``."""
    if space not in SPACES:
        msg = f"unknown --space {space!r}; expected one of {', '.join(SPACES)}"
        raise UsageError(msg)
    if space == "raw":
        return None
    d = enc.X.shape[1]
    columns, integer = np.zeros(d, dtype=bool), np.zeros(d, dtype=bool)
    for feat in enc.features:
        columns[feat.cols] = feat.spec.kind in (Kind.FLOAT, Kind.INTEGER)
        integer[feat.cols] = feat.spec.kind is Kind.INTEGER
    return RankGauss(enc.X, columns, integer)


def resolve_repair(repair: str, law: WeightLaw, space: str, bounds: Bounds) -> str:
    """``auto`` means ``marginals`` (anchoring, :mod:`mixsynth.anchor`) when the law keeps
    variance, mixes and the space is raw; otherwise ``none``: a shrinking law is left to
    shrink (that is what comparing laws measures), plain row resampling has nothing to
    correct, and rank-gauss maps each column back through its own ranks already."""
    if repair not in REPAIR_MODES:
        msg = f"unknown --repair {repair!r}; expected one of {', '.join(REPAIR_MODES)}"
        raise UsageError(msg)
    if repair != "auto":
        return repair
    keeps = abs(law.variance_factor() - 1.0) < 1e-9
    copies = law.spec().split(":")[0] == "bootstrap"
    return "marginals" if keeps and not copies and space == "raw" else "none"


def anchor_columns(enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
    """Columns of ``X`` to anchor (every mixed column) and those to round to whole
    numbers (integers, ticks, integer tensor elements)."""
    d = enc.X.shape[1]
    columns, rounded = np.ones(d, dtype=bool), np.zeros(d, dtype=bool)
    for feat in enc.features:
        t = feat.spec.field.type
        if feat.spec.kind is Kind.TENSOR:
            rounded[feat.cols] = pa.types.is_integer(storage_type(t).value_type)
        else:
            rounded[feat.cols] = feat.spec.kind in (Kind.INTEGER, Kind.TEMPORAL)
    return columns, rounded


def repairable(enc: Encoded, bounds: Bounds) -> np.ndarray:
    """Columns that can be stretched: mixed numbers under clip or reflect (not resample,
    whose redraws already follow the law, and not temporal ticks)."""
    ok = np.isin(bounds.policy, ["clip", "reflect"])
    for feat in enc.features:
        if feat.spec.kind is Kind.TEMPORAL:
            ok[feat.cols] = False
    return ok


def repair_record(mode: str, repair: Repair | None, enc: Encoded, anchor: Anchor | None = None) -> dict[str, Any]:
    """Provenance: the anchoring maps, or the shift, stretch and pilot variance ratios per
    column (median over tensor elements)."""
    record: dict[str, Any] = {"mode": mode}
    if anchor is not None:
        names = {j: f.spec.name for f in enc.features for j in range(f.start, f.start + f.width)}
        record["columns"] = anchor.record(names)
        return record
    if repair is None:
        return record
    med = lambda a, f: float(np.nanmedian(a[f.cols]))  # noqa: E731
    record["columns"] = {
        f.spec.name: {
            "stretch": med(repair.scale, f),
            "shift": med(repair.shift, f),
            "variance_ratio_before": med(repair.before, f),
            "variance_ratio_after": med(repair.after, f),
            "capped": bool(repair.capped[f.cols].any()),
        }
        for f in enc.features
        if (repair.scale[f.cols] != 1.0).any() or (repair.shift[f.cols] != 0.0).any() or repair.capped[f.cols].any()
    }
    return record
