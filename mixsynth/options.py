"""The options of ``generate``, declared once: frozen, typed, and checked before any I/O.

:class:`GenerateOptions` is what a run was asked to do. Its parts are
:class:`SynthesisOptions` (what decides the rows: the weight law, seed, bounds, repair,
space, target and its :class:`~mixsynth.synthesis.labels.LabelOptions`) and
:class:`ExecutionOptions` (how they are made and written: engine, backend, precision,
workers, codec, row groups, checks), which never change the rows except ``precision``.
The CLI builds one from its flags, :func:`mixsynth.generate` from its keywords; the
engines receive it. Each object checks itself when built, against the tables
:data:`CHOICES` and :data:`RULES`, so a typo fails (exit 2) before a source is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mixsynth.errors import UsageError
from mixsynth.synthesis.draws import LOGICAL_BLOCK
from mixsynth.synthesis.labels import LABEL_MODES, LabelOptions, parse_model
from mixsynth.weights import DEFAULT_SPEC, WeightLaw, parse

__all__ = [
    "BACKENDS",
    "BOUNDS_POLICIES",
    "CHOICES",
    "COMPRESSIONS",
    "DEFAULT_CHUNK_ROWS",
    "ENGINES",
    "ExecutionOptions",
    "GenerateOptions",
    "ID_POLICIES",
    "MAX_ROWS",
    "NAN_POLICIES",
    "PRECISIONS",
    "REPAIR_MODES",
    "RULES",
    "SPACES",
    "SynthesisOptions",
    "needs_every_row",
]

BOUNDS_POLICIES = ("auto", "clip", "reflect", "resample", "none")
REPAIR_MODES = ("auto", "marginals", "variance", "none")
SPACES = ("raw", "rank-gauss")
NAN_POLICIES = ("error", "skip")
ID_POLICIES = ("regenerate", "drop")
BACKENDS = ("numpy", "cupy", "auto")
PRECISIONS = ("auto", "float32", "float64")
#: Parquet codecs that pyarrow, Spark and DuckDB all read (``none``: uncompressed); the
#: codec changes the bytes of the file, never its rows.
COMPRESSIONS = ("zstd", "snappy", "lz4", "none")
ENGINES = ("local", "dask")

#: Rows per output chunk (a Parquet row group); any value gives the same rows.
DEFAULT_CHUNK_ROWS = 16 * LOGICAL_BLOCK
#: Largest ``-n`` accepted: row indices must stay exact in float64 and int64.
MAX_ROWS = 2**53
#: Largest seed: the random streams are keyed by a 63-bit integer.
_SEED_LIMIT = 2**63

#: Every enumerated option: (attribute path, its CLI flag, the values it takes). Each
#: object is checked against it when built; the CLI's Typer choices (which need an Enum
#: class each) are held equal to it by tests/test_options.py.
CHOICES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("synthesis.bounds", "--bounds", BOUNDS_POLICIES),
    ("synthesis.repair", "--repair", REPAIR_MODES),
    ("synthesis.space", "--space", SPACES),
    ("synthesis.nan", "--nan", NAN_POLICIES),
    ("synthesis.ids", "--ids", ID_POLICIES),
    ("synthesis.labels.mode", "--label-mode", LABEL_MODES),
    ("execution.backend", "--backend", BACKENDS),
    ("execution.precision", "--precision", PRECISIONS),
    ("execution.compression", "--compression", COMPRESSIONS),
    ("execution.engine", "--engine", ENGINES),
)


def needs_every_row(o: SynthesisOptions) -> str | None:
    """Why ``o`` cannot run on a source read in pieces (the Dask engine), or None.

    Rank scores and the soft/GenLabel label models need every row of a column at once.
    """
    if o.space == "rank-gauss":
        return ("--space rank-gauss ranks each column over the whole source and is not available "
                "with --engine dask; use --space raw")
    if o.labels.mode in ("soft", "genlabel"):
        return (f"--label-mode {o.labels.mode} fits a model on the whole source and is not "
                "available with --engine dask; use dominant, within-class, mix or within-bin")
    return None


def _bad_balance(o: SynthesisOptions) -> bool:
    balance = o.labels.class_balance
    return isinstance(balance, str) and balance != "uniform"


Rule = tuple[str, Callable[[Any], bool], Callable[[Any], str]]

#: Checks of values and between options: (the object checked, a test that is True when
#: the options are wrong, the message raised, exit 2). ``synthesis`` rules run when a
#: :class:`SynthesisOptions` is built (an engine built directly is checked too), ``run``
#: rules when the :class:`GenerateOptions` is. Checks that need the data (a class name in
#: ``--class-balance``, a column name) come when the source's schema is known.
RULES: tuple[Rule, ...] = (
    ("synthesis", lambda o: o.labels.mode is not None and o.target is None,
     lambda o: "--label-mode needs --target COL"),
    ("synthesis", lambda o: o.labels.class_balance is not None and o.labels.mode != "within-class",
     lambda o: "--class-balance only applies with --label-mode within-class"),
    ("synthesis", _bad_balance,
     lambda o: ("--class-balance expects 'uniform' or a JSON file of class proportions, "
                f"got {o.labels.class_balance!r}")),
    ("synthesis", lambda o: o.seed is not None and not 0 <= o.seed < _SEED_LIMIT,
     lambda o: f"seed must be an integer in [0, 2**63), got {o.seed}"),
    ("synthesis", lambda o: o.labels.bins < 1, lambda o: f"--bins must be at least 1, got {o.labels.bins}"),
    ("synthesis", lambda o: o.labels.within_bins < 1,
     lambda o: f"--within-bins must be at least 1, got {o.labels.within_bins}"),
    ("synthesis", lambda o: not 0.0 <= o.labels.genlabel_gamma <= 1.0,
     lambda o: f"--genlabel-gamma must be in [0, 1], got {o.labels.genlabel_gamma}"),
    ("execution", lambda o: o.chunk_rows < 1, lambda o: f"chunk_rows must be >= 1, got {o.chunk_rows}"),
    ("execution", lambda o: o.jobs is not None and o.jobs < 1, lambda o: f"jobs must be >= 1, got {o.jobs}"),
    ("run", lambda o: o.rows is not None and not 1 <= o.rows <= MAX_ROWS,
     lambda o: f"number of rows must be between 1 and {MAX_ROWS}, got {o.rows}"),
    ("run", lambda o: o.execution.engine == "dask" and needs_every_row(o.synthesis) is not None,
     lambda o: str(needs_every_row(o.synthesis))),
)


def _check(obj: object, scope: str) -> None:
    """Raise :class:`UsageError` for the first :data:`CHOICES` entry or :data:`RULES` rule
    of ``scope`` (``"synthesis"``, ``"execution"`` or ``"run"``) that ``obj`` breaks."""
    prefix = scope + "."
    for path, flag, allowed in CHOICES:
        if path.startswith(prefix):
            value = _value(obj, path[len(prefix):])
            if value is not None and value not in allowed:
                msg = f"unknown {flag} {value!r}; expected one of {', '.join(allowed)}"
                raise UsageError(msg)
    for where, broken, message in RULES:
        if where == scope and broken(obj):
            raise UsageError(message(obj))


def _value(obj: object, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


@dataclass(frozen=True)
class SynthesisOptions:
    """What decides the synthetic rows (with the source and ``precision``).

    Attributes
    ----------
    weights : WeightLaw
        The weight law; a spec string (``"epbeta"``, ``"beta:2,2"``) is parsed when the
        object is built, so a typo fails there.
    seed : int or None
        None: a fresh seed is drawn when the engine is built (and printed).
    bounds : {"auto", "clip", "reflect", "resample", "none"}
    bounds_overrides : mapping of column to [low, high], optional
    repair : {"auto", "marginals", "variance", "none"}
    space : {"raw", "rank-gauss"}
    target : str, optional
    labels : LabelOptions
        The target's label mode and its parameters, and the ``--within`` groups.
    nan : {"error", "skip"}
    ids : {"regenerate", "drop"}
    weights_given : str
        The law as the user wrote it (the provenance record keeps both); set from
        ``weights``.
    """

    weights: WeightLaw | str = DEFAULT_SPEC
    seed: int | None = None
    bounds: str = "auto"
    bounds_overrides: Mapping[str, object] | None = None
    repair: str = "auto"
    space: str = "raw"
    target: str | None = None
    labels: LabelOptions = field(default_factory=LabelOptions)
    nan: str = "error"
    ids: str = "regenerate"
    weights_given: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        given = self.weights if isinstance(self.weights, str) else self.weights.spec()
        # Frozen: the parsed law replaces the string once, here, before any data is read.
        object.__setattr__(self, "weights_given", self.weights_given or given)
        object.__setattr__(self, "weights", parse(self.weights))
        _check(self, "synthesis")
        parse_model(self.labels.genlabel_model)

    @property
    def law(self) -> WeightLaw:
        """The parsed weight law."""
        assert isinstance(self.weights, WeightLaw)  # parsed in __post_init__
        return self.weights


@dataclass(frozen=True)
class ExecutionOptions:
    """How the rows are made and written; none of it changes the rows but ``precision``.

    Attributes
    ----------
    engine : {"local", "dask"}
    backend : {"numpy", "cupy", "auto"}
    precision : {"auto", "float32", "float64"}
    jobs : int or None
        Workers of the local engine (forked processes on Linux, else threads); None: all
        cores.
    chunk_rows : int
        Rows per Parquet row group (``--row-group-size``).
    compression : {"zstd", "snappy", "lz4", "none"}
    memory_limit : int or None
        Bytes of encoded source held in memory before it is spilled; None: half the RAM.
    scheduler : str or None
        The Dask scheduler's address.
    space_check, memory_check : bool
        Refuse before writing a run whose output or peak memory would not fit.
    """

    engine: str = "local"
    backend: str = "numpy"
    precision: str = "auto"
    jobs: int | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    compression: str = "zstd"
    memory_limit: int | None = None
    scheduler: str | None = None
    space_check: bool = True
    memory_check: bool = True

    def __post_init__(self) -> None:
        _check(self, "execution")


@dataclass(frozen=True)
class GenerateOptions:
    """One ``generate`` run's options: rows and columns, synthesis and execution.

    Built, it has passed :data:`CHOICES` and :data:`RULES`; nothing has been read.

    Attributes
    ----------
    rows : int or None
        Rows to synthesise; None: as many as the source.
    columns, exclude : tuple of str, optional
        Columns to keep / leave out (checked against the source's names once it is open).
    synthesis : SynthesisOptions
    execution : ExecutionOptions

    Examples
    --------
    >>> GenerateOptions(synthesis=SynthesisOptions(space="rankgauss"))
    Traceback (most recent call last):
    ...
    mixsynth.errors.UsageError: unknown --space 'rankgauss'; expected one of raw, rank-gauss
    """

    rows: int | None = None
    columns: Sequence[str] | None = None
    exclude: Sequence[str] | None = None
    synthesis: SynthesisOptions = field(default_factory=SynthesisOptions)
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)

    def __post_init__(self) -> None:
        _check(self, "run")
