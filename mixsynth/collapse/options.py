"""What a collapse study is asked to do, checked once: :class:`StudyOptions`, ``--stop-when``."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from mixsynth.errors import UsageError

__all__ = [
    "DEFAULT_SAMPLE",
    "DEFAULT_WEIGHTS",
    "METRICS",
    "StopRule",
    "StudyOptions",
    "parse_stop",
]

#: The laws a study compares by default (the GMM baseline runs beside them); ``bootstrap``
#: (plain row resampling) is the control: the finite-sample drift every law has anyway.
DEFAULT_WEIGHTS = ("epbeta", "beta:1,1", "midpoint", "bootstrap")
#: Rows per side for diagnose's sorting/neighbour metrics (KS, DCR) in each round.
DEFAULT_SAMPLE = 5000
#: Per-round numbers of a record (besides ``utility``), in the order tables show them.
METRICS = (
    "variance_ratio_median",
    "total_variance_ratio",
    "within_class_variance_ratio",
    "cov_rel_error",
    "corr_max_abs_diff",
    "ks_mean",
    "kurtosis_ratio_median",
    "kurtosis_change_median_abs",
    "distinct_ratio_median",
    "out_of_range_fraction",
    "exact_copy_fraction",
)
_UTILITY = ("accuracy", "roc_auc", "log_loss", "r2", "rmse")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_STOP = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class StopRule:
    """``METRIC<VALUE`` (or ``<=``, ``>``, ``>=``): a law stops once a round meets it."""

    metric: str
    op: str
    value: float

    @property
    def text(self) -> str:
        """The rule as the user would write it."""
        return f"{self.metric}{self.op}{self.value:g}"

    def met(self, record: Mapping[str, Any]) -> bool:
        """True when the record's metric is known and satisfies the rule."""
        value: Any = record
        for part in self.metric.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return isinstance(value, int | float) and _OPS[self.op](float(value), self.value)


def parse_stop(text: str | None) -> StopRule | None:
    """Parse ``--stop-when``; metrics are record keys or ``utility.<score>``.

    Raises
    ------
    UsageError
        Not ``METRIC<VALUE``, an unknown metric, or a value that is not a finite number.

    Examples
    --------
    >>> parse_stop("variance_ratio_median<0.5")
    StopRule(metric='variance_ratio_median', op='<', value=0.5)
    >>> parse_stop("utility.accuracy <= .8").text
    'utility.accuracy<=0.8'
    """
    if text is None:
        return None
    match = _STOP.match(text)
    known = [*METRICS, *(f"utility.{u}" for u in _UTILITY)]
    if not match:
        msg = (
            "--stop-when expects METRIC<VALUE (or <=, >, >=), e.g. "
            f"variance_ratio_median<0.5; got {text!r}"
        )
        raise UsageError(msg)
    metric, op, raw = match.groups()
    if metric not in known:
        msg = f"--stop-when metric {metric!r} is unknown; expected one of {', '.join(known)}"
        raise UsageError(msg)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        msg = f"--stop-when {metric} expects a finite number after {op}, got {raw!r}"
        raise UsageError(msg)
    return StopRule(metric, op, value)


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        msg = f"unknown {option} {value!r}; expected one of {', '.join(allowed)}"
        raise UsageError(msg)


@dataclass(frozen=True)
class StudyOptions:
    """Settings of a collapse study; the CLI options of the same names.

    Attributes
    ----------
    rounds : int
        Rounds of re-synthesis after round 0 (the real training rows).
    weights : tuple of str
        Weight-law specs, as given (also the trajectories' names); None: the defaults.
    baseline : bool
        Also run the GMM baseline (``gmm``).
    mode : {"replace", "accumulate"}
        Round r+1 from round r, or from the real rows plus every earlier round.
    rows : int, optional
        Rows per synthetic round; default: as many as the real training rows.
    target, task, model, test_size, label_mode
        Train-on-synthetic, test-on-real utility (``model`` None: logistic or ridge).
        ``label_mode`` None: ``within-class`` for class labels (parents share the class,
        so class-conditional structure is what each law keeps or loses), ``mix`` for
        numbers.
    seed : int
        Everything (split, every round of every law, models, samples) derives from it.
    sample : int
        Rows per side for diagnose's KS and nearest-neighbour metrics.
    bounds, repair, space
        Passed to :func:`mixsynth.generate`.
    compare_repair : bool
        Each law three times: ``[clip+repair]``, ``[clip]`` and ``[rank-gauss]``.
    test_time_transform : bool
        Also score the model on test inputs moved to ``x̄ + θ(x − x̄)``.
    stop_when : str, optional
        ``METRIC<VALUE``: a law stops once a round meets it.
    output_dir : str, optional
        Keep each round's Parquet and ``trajectory.json`` there.
    resume : bool
        Continue the study in ``output_dir``.
    columns, exclude : sequence of str, optional
        Columns to study / leave out (as for ``generate``; the target is always kept).
    """

    rounds: int
    weights: Sequence[str] | None = DEFAULT_WEIGHTS
    baseline: bool = True
    mode: str = "replace"
    rows: int | None = None
    target: str | None = None
    task: str = "auto"
    model: str | None = None
    test_size: float = 0.25
    label_mode: str | None = None
    #: ``--within`` columns (or ``auto``, the default when None, or ``none``) and bins,
    #: passed to :func:`mixsynth.generate` (the GMM baseline ignores them, the bootstrap
    #: control ignores ``auto``); with ``within-class`` the groups nest in the classes.
    within: Sequence[str] | None = None
    within_bins: int = 10
    seed: int = 0
    sample: int = DEFAULT_SAMPLE
    bounds: str = "auto"
    repair: str = "auto"
    space: str = "raw"
    compare_repair: bool = False
    test_time_transform: bool = False
    stop_when: str | None = None
    output_dir: str | None = None
    resume: bool = False
    columns: Sequence[str] | None = None
    exclude: Sequence[str] | None = None

    def __post_init__(self) -> None:
        for name in ("columns", "exclude"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if self.weights is None:
            object.__setattr__(self, "weights", DEFAULT_WEIGHTS)
        if isinstance(self.weights, str):
            object.__setattr__(self, "weights", (self.weights,))
        object.__setattr__(self, "weights", tuple(self.weights or ()))
        if self.within is not None:
            object.__setattr__(self, "within", (self.within,) if isinstance(self.within, str) else tuple(self.within))

    def check(self) -> StopRule | None:
        """Validate the options that need no data; return the parsed stop rule.

        Raises
        ------
        UsageError
            For each bad or conflicting option, naming it.
        """
        if self.rounds < 1:
            msg = f"--rounds must be at least 1, got {self.rounds}"
            raise UsageError(msg)
        weights = tuple(self.weights or ())
        if not weights and not self.baseline:
            msg = "nothing to study: give at least one --weights law or keep the gmm baseline"
            raise UsageError(msg)
        if len(set(weights)) != len(weights):
            msg = f"--weights lists a law twice: {', '.join(weights)}"
            raise UsageError(msg)
        _choice("--mode", self.mode, ("replace", "accumulate"))
        _choice("--task", self.task, ("auto", "classification", "regression"))
        if self.model is not None:
            _choice("--model", self.model, ("logistic", "ridge", "forest", "hgb"))
        if self.rows is not None and self.rows < 2:
            msg = f"-n must be at least 2 rows per round, got {self.rows}"
            raise UsageError(msg)
        if not 0.0 < self.test_size < 1.0:
            msg = f"--test-size must be strictly between 0 and 1, got {self.test_size}"
            raise UsageError(msg)
        if not 0 <= self.seed < 2**63:
            msg = f"--seed must be an integer in [0, 2**63), got {self.seed}"
            raise UsageError(msg)
        if self.sample < 1:
            msg = f"--sample must be at least 1 row, got {self.sample}"
            raise UsageError(msg)
        if self.resume and self.output_dir is None:
            msg = "--resume needs --output-dir DIR (the study to continue)"
            raise UsageError(msg)
        return parse_stop(self.stop_when)

    def fingerprint(self) -> dict[str, Any]:
        """The settings that determine the numbers; a resumed study must match them
        (``rounds`` may grow and ``weights`` may change: each law is its own stream)."""
        skip = ("rounds", "weights", "baseline", "output_dir", "resume")
        return {k: v for k, v in asdict(self).items() if k not in skip}
