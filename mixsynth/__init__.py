"""mixsynth: synthetic tabular and array data by covariance-preserving Mixup.

The Python API mirrors the CLI: :func:`generate` is ``mixsynth generate``.
"""

from mixsynth.errors import (
    BackendUnavailable,
    InputError,
    MixsynthError,
    MixsynthWarning,
    SchemaError,
    SolverError,
    UsageError,
)
from mixsynth.api import generate
from mixsynth.generate import Synthesizer, package_version
from mixsynth.labels import LabelOptions
from mixsynth.weights import Beta, EpBeta, Midpoint

__version__ = package_version()

__all__ = [
    "BackendUnavailable",
    "Beta",
    "EpBeta",
    "InputError",
    "LabelOptions",
    "Midpoint",
    "MixsynthError",
    "MixsynthWarning",
    "SchemaError",
    "SolverError",
    "Synthesizer",
    "UsageError",
    "generate",
]
