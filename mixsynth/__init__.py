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
from mixsynth.generate import Synthesizer, generate, package_version
from mixsynth.weights import Beta, EpBeta, Midpoint

__version__ = package_version()

__all__ = [
    "BackendUnavailable",
    "Beta",
    "EpBeta",
    "InputError",
    "Midpoint",
    "MixsynthError",
    "MixsynthWarning",
    "SchemaError",
    "SolverError",
    "Synthesizer",
    "UsageError",
    "generate",
]
