"""Trajectories: one law (or law variant, or the GMM baseline) followed round after round.

Seeds: every (law, round) draws from ``SeedSequence(seed, spawn_key=(crc32(law), round))``,
so a law's numbers do not depend on which other laws run, on their order, or on whether
the study was resumed. Variants of one law (``--compare-repair``) share its stream: a
paired comparison of the options.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from mixsynth.collapse.options import StudyOptions
from mixsynth.errors import UsageError
from mixsynth.weights import WeightLaw, parse

__all__ = ["BASELINE", "SPLIT", "DIAGNOSE", "REAL_MODEL", "Trajectory", "build", "seed_for"]

BASELINE = "gmm"
# Keys above 2**32 cannot collide with a crc32 law key.
SPLIT, DIAGNOSE, REAL_MODEL = 2**32, 2**32 + 1, 2**32 + 2


def seed_for(seed: int, *key: int) -> int:
    """A 63-bit integer seed from ``SeedSequence(seed, spawn_key=key)``.

    Examples
    --------
    >>> seed_for(0, 1, 2) == seed_for(0, 1, 2) != seed_for(0, 1, 3)
    True
    """
    state = np.random.SeedSequence(seed, spawn_key=key).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


@dataclass
class Trajectory:
    """A law's rounds so far: the latest table (``replace``) or the pool (``accumulate``),
    and the predicted variance factor and Carratino ``θ`` per round."""

    name: str
    weights: str
    law: WeightLaw | None
    options: dict[str, Any] = field(default_factory=dict)
    variant: dict[str, str] | None = None
    table: pa.Table | None = None
    pool: list[pa.Table] = field(default_factory=list)
    predicted: list[float | None] = field(default_factory=lambda: [1.0])
    theta: list[float | None] = field(default_factory=lambda: [1.0])
    stopped: bool = False

    @property
    def key(self) -> int:
        """The law's seed key (shared by its variants)."""
        return zlib.crc32(self.weights.encode())

    def advance(self, mode: str, sizes: Sequence[int]) -> None:
        """Extend the predictions to the next round; ``sizes`` are the row counts of the
        real rows and of rounds 1..r (the pool an ``accumulate`` round mixes)."""
        if self.law is None:
            self.predicted.append(None)
            self.theta.append(None)
            return
        for series, factor in (
            (self.predicted, self.law.variance_factor()),
            (self.theta, self.law.theta_bar()),
        ):
            values = [float(v) for v in series if v is not None]  # all set: a law's series
            if mode == "replace":
                series.append(factor * values[-1])
                continue
            # The pool's variance is the size-weighted mean of its members' (their means
            # agree in expectation), and the next round shrinks it by the law's factor.
            pooled = sum(s * v for s, v in zip(sizes, values, strict=True)) / sum(sizes)
            series.append(factor * pooled)


def _variants(options: StudyOptions) -> list[tuple[str, dict[str, str]]]:
    """Name suffixes and generate options of each law's trajectories."""
    extra = {}
    if options.repair != "auto":
        extra["repair"] = options.repair
    if options.space != "raw":
        extra["space"] = options.space
    if not options.compare_repair:
        return [("", extra)]
    bounds = {"auto": "clip", "none": "no-bounds"}.get(options.bounds, options.bounds)
    return [
        (f"[{bounds}+repair]", {"repair": "variance", "space": "raw"}),
        (f"[{bounds}]", {"repair": "none", "space": "raw"}),
        ("[rank-gauss]", {"repair": options.repair, "space": "rank-gauss"}),
    ]


def build(options: StudyOptions) -> list[Trajectory]:
    """The study's trajectories: each law (times its variants), then ``gmm``.

    Raises
    ------
    UsageError, SolverError
        An unknown or infeasible law; a law named like the baseline or given twice.
    """
    out = []
    for spec in options.weights or ():
        law = parse(spec)
        for suffix, extra in _variants(options):
            variant = {"bounds": options.bounds, **extra} if suffix else None
            out.append(Trajectory(spec + suffix, spec, law, extra, variant))
    if options.baseline:
        out.append(Trajectory(BASELINE, BASELINE, None))
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        msg = f"trajectory names must be unique; got {', '.join(names)}"
        raise UsageError(msg)
    return out
