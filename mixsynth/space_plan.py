"""Choosing the mixing space and the variance repair for a run (``--space``, ``--repair``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixsynth.bounds import Bounds
from mixsynth.encode import Encoded
from mixsynth.errors import UsageError
from mixsynth.repair import Repair
from mixsynth.schema import Kind
from mixsynth.space import RankGauss
from mixsynth.weights import WeightLaw

__all__ = [
    "PILOT_ATTEMPT",
    "REPAIR_MODES",
    "SPACES",
    "pilot_rows",
    "plan_space",
    "repair_record",
    "repairable",
    "resolve_repair",
]

SPACES = ("raw", "rank-gauss")
REPAIR_MODES = ("auto", "variance", "none")
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
    """``auto`` means ``variance`` when bounds are active, the law keeps variance and the
    space is raw (rank-gauss stays in range by construction); otherwise ``none``."""
    if repair not in REPAIR_MODES:
        msg = f"unknown --repair {repair!r}; expected one of {', '.join(REPAIR_MODES)}"
        raise UsageError(msg)
    if repair != "auto":
        return repair
    active = bool(np.isin(bounds.policy, ["clip", "reflect"]).any())
    keeps = abs(law.variance_factor() - 1.0) < 1e-9
    return "variance" if active and keeps and space == "raw" else "none"


def repairable(enc: Encoded, bounds: Bounds) -> np.ndarray:
    """Columns that can be stretched: mixed numbers under clip or reflect (not resample,
    whose redraws already follow the law, and not temporal ticks)."""
    ok = np.isin(bounds.policy, ["clip", "reflect"])
    for feat in enc.features:
        if feat.spec.kind is Kind.TEMPORAL:
            ok[feat.cols] = False
    return ok


def repair_record(mode: str, repair: Repair | None, enc: Encoded) -> dict[str, Any]:
    """Provenance: the stretch and the pilot variance ratios per column (median over tensor elements)."""
    record: dict[str, Any] = {"mode": mode}
    if repair is None:
        return record
    med = lambda a, f: float(np.nanmedian(a[f.cols]))  # noqa: E731
    record["columns"] = {
        f.spec.name: {
            "stretch": med(repair.scale, f),
            "variance_ratio_before": med(repair.before, f),
            "variance_ratio_after": med(repair.after, f),
            "capped": bool(repair.capped[f.cols].any()),
        }
        for f in enc.features
        if (repair.scale[f.cols] != 1.0).any() or repair.capped[f.cols].any()
    }
    return record
