"""mixsynth: synthetic tabular and array data by covariance-preserving Mixup.

The Python API mirrors the CLI: :func:`generate` is ``mixsynth generate`` on a table in
memory, :func:`generate_file` the same file-to-file job the command runs, with its
:class:`GenerateOptions`.
"""

from mixsynth.api import generate
from mixsynth.errors import (
    BackendUnavailable,
    InputError,
    MixsynthError,
    MixsynthWarning,
    SchemaError,
    SolverError,
    UsageError,
)
from mixsynth.job import generate_file
from mixsynth.options import ExecutionOptions, GenerateOptions, SynthesisOptions
from mixsynth.synthesis.labels import LabelOptions
from mixsynth.synthesis.synthesizer import Synthesizer
from mixsynth.version import package_version
from mixsynth.weights import Beta, EpBeta, Midpoint

__version__ = package_version()


def __getattr__(name: str) -> object:
    # collapse_study pulls in scikit-learn; load it on first use, not with every import.
    if name == "collapse_study":
        from mixsynth.collapse.study import collapse_study

        return collapse_study
    msg = f"module 'mixsynth' has no attribute {name!r}"
    raise AttributeError(msg)

__all__ = [
    "BackendUnavailable",
    "Beta",
    "EpBeta",
    "ExecutionOptions",
    "GenerateOptions",
    "InputError",
    "LabelOptions",
    "Midpoint",
    "MixsynthError",
    "MixsynthWarning",
    "SchemaError",
    "SolverError",
    "SynthesisOptions",
    "Synthesizer",
    "collapse_study",
    "UsageError",
    "generate",
    "generate_file",
]
