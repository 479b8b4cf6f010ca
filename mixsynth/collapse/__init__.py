"""Model-collapse studies (``mixsynth collapse-study``): K rounds of re-synthesis per law.

Modules by concept: :mod:`~mixsynth.collapse.study` (the loop),
:mod:`~mixsynth.collapse.options` (settings, ``--stop-when``),
:mod:`~mixsynth.collapse.split` (the real train/test split),
:mod:`~mixsynth.collapse.utility` (train on synthetic, test on real; Carratino's
test-time transform), :mod:`~mixsynth.collapse.baselines` (the GMM baseline),
:mod:`~mixsynth.collapse.metrics` (kurtosis and distinct-value ratios),
:mod:`~mixsynth.collapse.state` (``--output-dir``, ``--resume``),
:mod:`~mixsynth.collapse.plot` (``--plot``).
"""

from mixsynth.collapse.options import DEFAULT_WEIGHTS, METRICS, StopRule, StudyOptions, parse_stop
from mixsynth.collapse.study import BASELINE, CollapseStudy, collapse_study

__all__ = [
    "BASELINE",
    "DEFAULT_WEIGHTS",
    "METRICS",
    "CollapseStudy",
    "StopRule",
    "StudyOptions",
    "collapse_study",
    "parse_stop",
]
