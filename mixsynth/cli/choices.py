"""The choices of the commands' enumerated options, as Typer lists them in ``--help``.

The values of ``generate``'s are :data:`mixsynth.options.CHOICES`' (a test holds them
equal); Typer needs an Enum class per option to list and check them before a command runs.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "BackendName", "BoundsPolicy", "Compression", "DiagnoseFormat", "Engine", "IdPolicy", "LabelMode", "Model",
    "NanPolicy", "Precision", "RepairMode", "Space", "StudyFormat", "StudyMode", "Task",
]


class BoundsPolicy(str, Enum):
    """``--bounds`` choices."""

    auto = "auto"
    clip = "clip"
    reflect = "reflect"
    resample = "resample"
    none = "none"


class NanPolicy(str, Enum):
    """``--nan`` choices."""

    error = "error"
    skip = "skip"


class IdPolicy(str, Enum):
    """``--ids`` choices."""

    regenerate = "regenerate"
    drop = "drop"


class BackendName(str, Enum):
    """``--backend`` choices."""

    numpy = "numpy"
    cupy = "cupy"
    auto = "auto"


class Precision(str, Enum):
    """``--precision`` choices."""

    auto = "auto"
    float32 = "float32"
    float64 = "float64"


class Compression(str, Enum):
    """``--compression`` choices (:data:`mixsynth.io.COMPRESSIONS`)."""

    zstd = "zstd"
    snappy = "snappy"
    lz4 = "lz4"
    none = "none"


class Engine(str, Enum):
    """``--engine`` choices."""

    local = "local"
    dask = "dask"


class RepairMode(str, Enum):
    """``--repair`` choices (:data:`mixsynth.options.REPAIR_MODES`)."""

    auto = "auto"
    marginals = "marginals"
    variance = "variance"
    none = "none"


class Space(str, Enum):
    """``--space`` choices (:data:`mixsynth.options.SPACES`)."""

    raw = "raw"
    rank_gauss = "rank-gauss"


class LabelMode(str, Enum):
    """``--label-mode`` choices (:data:`mixsynth.synthesis.labels.LABEL_MODES`)."""

    dominant = "dominant"
    within_class = "within-class"
    soft = "soft"
    genlabel = "genlabel"
    mix = "mix"
    within_bin = "within-bin"


class DiagnoseFormat(str, Enum):
    """``diagnose --format`` choices (:data:`mixsynth.diagnose.render.FORMATS`)."""

    auto = "auto"
    table = "table"
    json = "json"
    ndjson = "ndjson"
    tsv = "tsv"


class StudyFormat(str, Enum):
    """``collapse-study --format`` choices (:data:`mixsynth.collapse.render.FORMATS`)."""

    auto = "auto"
    table = "table"
    json = "json"
    ndjson = "ndjson"


class StudyMode(str, Enum):
    """``collapse-study --mode`` choices."""

    # Not named "replace": a str Enum member of that name would hide str.replace.
    from_last = "replace"
    accumulate = "accumulate"


class Task(str, Enum):
    """``collapse-study --task`` choices (:data:`mixsynth.collapse.utility.TASKS`)."""

    auto = "auto"
    classification = "classification"
    regression = "regression"


class Model(str, Enum):
    """``collapse-study --model`` choices (:data:`mixsynth.collapse.utility.MODELS`)."""

    logistic = "logistic"
    ridge = "ridge"
    forest = "forest"
    hgb = "hgb"
