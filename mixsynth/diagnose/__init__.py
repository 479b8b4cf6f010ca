"""Compare synthetic data with the real data it imitates (``mixsynth diagnose``).

Modules by concept: :mod:`~mixsynth.diagnose.inputs` (streamed row sources),
:mod:`~mixsynth.diagnose.layout` (which columns, as numbers),
:mod:`~mixsynth.diagnose.stream` (one pass: moments, counts, sample),
:mod:`~mixsynth.diagnose.marginals` (per column), :mod:`~mixsynth.diagnose.structure`
(covariance, correlation, contingency), :mod:`~mixsynth.diagnose.groups` (η² of
category → number pairs), :mod:`~mixsynth.diagnose.quality` (SDMetrics' quality score),
:mod:`~mixsynth.diagnose.privacy` (DCR),
:mod:`~mixsynth.diagnose.detection` (classifier AUC), :mod:`~mixsynth.diagnose.report`
(the report and ``--fail-under`` checks), :mod:`~mixsynth.diagnose.plot` (``--plot``).
"""

from mixsynth.diagnose.core import DEFAULT_SAMPLE, diagnose, diagnose_paths
from mixsynth.diagnose.report import CHECKS, DiagnoseReport, failed_checks, parse_thresholds

__all__ = [
    "CHECKS",
    "DEFAULT_SAMPLE",
    "DiagnoseReport",
    "diagnose",
    "diagnose_paths",
    "failed_checks",
    "parse_thresholds",
]
