"""Orchestration: plan the columns, scan each side once, compute and assemble the report."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from mixsynth.diagnose.detection import detection_auc
from mixsynth.diagnose.groups import eta_pairs
from mixsynth.diagnose.inputs import Input, from_data, open_path
from mixsynth.diagnose.layout import Layout, numeric_block, plan_layout
from mixsynth.diagnose.marginals import categorical_entries, element_metrics, numeric_entries
from mixsynth.diagnose.meta import build_meta
from mixsynth.diagnose.plot import plot_data
from mixsynth.diagnose.privacy import dcr, distance_space
from mixsynth.diagnose.quality import quality
from mixsynth.diagnose.report import DiagnoseReport, summarise
from mixsynth.diagnose.stream import Scan, sample_indices, scan
from mixsynth.diagnose.structure import contingency, correlation, covariance
from mixsynth.errors import InputError, UsageError
from mixsynth.schema import Kind

__all__ = ["DEFAULT_SAMPLE", "ENGINES", "diagnose", "diagnose_paths"]

#: Rows per side for the metrics that need sorting or neighbours.
DEFAULT_SAMPLE = 50_000
#: Where the one-pass statistics are computed (``diagnose --engine``).
ENGINES = ("local", "dask")

#: :func:`~mixsynth.diagnose.stream.scan`'s signature: (input, layout, take, *, shift, ref).
ScanSide = Callable[..., Scan]
#: An engine's identifier check of a side's column: (input, name, kind) -> bool.
IdCheckOf = Callable[[Input, str, Kind], bool]


def diagnose(
    real: Any,
    synth: Any,
    *,
    holdout: Any = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    target: str | None = None,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    provenance: dict[str, Any] | None = None,
    detection: bool = False,
) -> DiagnoseReport:
    """Compare a synthetic table with the real one it imitates.

    Parameters
    ----------
    real, synth : pyarrow.Table, pandas.DataFrame, or an object with ``__arrow_c_stream__``
        (polars, DuckDB): compared on the columns they share; the others are listed in ``meta``.
    holdout : same kinds, optional
        Real rows not used for synthesis: adds holdout DCR and ``closer_to_train_fraction``.
    columns, exclude : sequence of str, optional
        Columns to compare / leave out (names must be on both sides).
    target : str, optional
        Label column: always compared, never skipped as an identifier.
    sample : int
        Rows per side for KS, Wasserstein, quantiles, Cramér's V, DCR and detection.
    seed : int
        Seeds the samples and the detection classifier.
    provenance : dict, optional
        The synthetic table's mixsynth record; default: read from ``synth`` (schema
        metadata, or ``DataFrame.attrs["mixsynth"]``).
    detection : bool
        Also cross-validate a real-vs-synthetic classifier (slower).

    Returns
    -------
    DiagnoseReport

    Examples
    --------
    >>> import pyarrow as pa
    >>> real = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 1.0, 4.0, 3.0]})
    >>> half = pa.table({"x": [1.75, 2.25, 2.75, 3.25], "y": [2.25, 1.75, 3.25, 2.75]})
    >>> report = diagnose(real, half)
    >>> report.summary["variance_ratio_median"], report.summary["corr_max_abs_diff"]
    (0.25, 0.0)
    """
    inputs = (
        from_data(real, "real"),
        from_data(synth, "synthetic", provenance),
        None if holdout is None else from_data(holdout, "holdout"),
    )
    return _run(
        *inputs,
        columns=columns,
        exclude=exclude,
        target=target,
        sample=sample,
        seed=seed,
        detection=detection,
    )


def diagnose_paths(
    real: str,
    synth: str,
    *,
    holdout: str | None = None,
    stdin: Any = None,
    engine: str = "local",
    scheduler: Any = None,
    **options: Any,
) -> DiagnoseReport:
    """:func:`diagnose` for paths: Parquet files or directories (local or fsspec URLs) are
    streamed in row batches.

    ``-`` (stdin) and ``.npy`` are read whole; at most one path may be ``-``. Other keyword
    arguments are those of :func:`diagnose` except ``provenance`` (read from the file).

    Parameters
    ----------
    engine : {"local", "dask"}
        ``dask``: each Parquet file is scanned by a Dask worker (moments, covariance,
        ranges, null and category counts, and the sampled rows in it) and the scans are
        reduced on the cluster; the report equals the local one up to float rounding.
    scheduler : str or distributed.Client, optional
        With ``engine="dask"``: the scheduler address or client; default: the current
        client, Dask's configured ``scheduler-address``, else a LocalCluster for the call.

    Raises
    ------
    UsageError
        More than one path is ``-``; an unknown engine; ``-`` or ``.npy`` with ``dask``.
    InputError
        A path is missing or unreadable, or has no rows.
    BackendUnavailable
        ``engine="dask"`` without Dask installed, or an unreachable scheduler.
    """
    paths = [p for p in (real, synth, holdout) if p is not None]
    if engine not in ENGINES:
        msg = f"engine must be one of {', '.join(ENGINES)}; got {engine!r}"
        raise UsageError(msg)
    given = [p for p in paths if p == "-"]
    if len(given) > 1:
        msg = f"only one of REAL, SYNTH and --holdout may be - (stdin); got {len(given)}"
        raise UsageError(msg)
    if engine == "dask":
        from mixsynth.diagnose.cluster import check_paths  # noqa: PLC0415
        from mixsynth.engines.dask_client import require_dask  # noqa: PLC0415 - the Dask engine only

        check_paths(paths)
        require_dask()
    inputs = (
        open_path(real, stdin=stdin),
        open_path(synth, stdin=stdin),
        None if holdout is None else open_path(holdout, stdin=stdin),
    )
    with _scanner(engine, scheduler) as (scan_side, id_check):
        return _run(*inputs, scan_side=scan_side, id_check=id_check, engine=engine, **options)


@contextlib.contextmanager
def _scanner(engine: str, scheduler: Any) -> Iterator[tuple[ScanSide, IdCheckOf | None]]:
    """The engine's scan of a side and its identifier check (None: read the column whole)."""
    if engine == "local":
        yield scan, None
        return
    from mixsynth.diagnose.cluster import cluster_scan  # noqa: PLC0415 - imports Dask

    with cluster_scan(scheduler) as scan_side:
        yield scan_side, scan_side.id_like


def _check(
    real: Input, synth: Input, holdout: Input | None, layout: Layout, sample: int, seed: int
) -> None:
    if sample < 1:
        msg = f"sample must be at least 1 row, got {sample}"
        raise UsageError(msg)
    if not 0 <= seed < 2**63:
        msg = f"seed must be an integer in [0, 2**63), got {seed}"
        raise UsageError(msg)
    for side in filter(None, (real, synth, holdout)):
        if side.num_rows == 0:
            msg = f"{side.name!r} has no rows; expected at least one row to compare"
            raise InputError(msg)
    if holdout is not None:
        missing = [n for n in layout.names if n not in holdout.schema.names]
        if missing:
            shown = ", ".join(map(repr, missing[:5]))
            msg = f"holdout {holdout.name!r} lacks compared columns {shown}; expected them all"
            raise InputError(msg)


def _run(
    real: Input,
    synth: Input,
    holdout: Input | None,
    *,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    target: str | None = None,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    detection: bool = False,
    scan_side: ScanSide = scan,
    id_check: IdCheckOf | None = None,
    engine: str = "local",
) -> DiagnoseReport:
    layout = plan_layout(real, synth, columns=columns, exclude=exclude, target=target,
                         id_check=None if id_check is None else functools.partial(id_check, real))
    _check(real, synth, holdout, layout, sample, seed)
    # Children 0-2 seed the samples (as before the fourth existed), 3 the distinct rows.
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    rs = scan_side(real, layout, sample_indices(real.num_rows, sample, rngs[0]))
    sides = {"real": (real, rs)}
    for key, side, rng in (("synth", synth, rngs[1]), ("holdout", holdout, rngs[2])):
        if side is not None:
            take = sample_indices(side.num_rows, sample, rng)
            sides[key] = (side, scan_side(side, layout, take, shift=rs.moments.shift,
                                          ref=rs.moments))
    ss = sides["synth"][1]
    X = {k: numeric_block(s.sample, layout) for k, (_, s) in sides.items()}
    equal = _equal_rows(X["real"], X["synth"], rngs[3])
    m = element_metrics(rs, ss, X["real"], X["synth"], equal)
    entries = numeric_entries(layout, m, rs, ss, synth.provenance)
    entries += categorical_entries(layout, rs, ss)
    corr, corr_pairs = correlation(layout, rs.moments, ss.moments)
    cont, cont_pairs = contingency(layout, rs.sample, ss.sample)
    eta, eta_list = eta_pairs(layout, rs.groups, ss.groups)
    score, score_meta = quality(layout, rs.sample, ss.sample, X["real"], X["synth"])
    space = dict(zip(X, distance_space(layout, rs.moments, rs.counts,
                                       [(X[k], s.sample) for k, (_, s) in sides.items()]),
                     strict=True))
    privacy = dcr(space["real"], space["synth"], space.get("holdout"), seed)
    privacy.update(detection_auc(space["real"], space["synth"], seed) if detection
                   else {"detection_auc": None})
    summary = summarise(
        entries, covariance(rs.moments, ss.moments), corr, cont, eta, score,
        {k: privacy.get(k) for k in ("dcr_p5", "dcr_median", "exact_copy_fraction",
                                     "closer_to_train_fraction", "detection_auc")},
        _labels(entries, target, synth.provenance),
        out_of_range=_out_of_range(ss),
        predicted=((synth.provenance or {}).get("weights") or {}).get("variance_factor"),
    )
    meta = build_meta(layout, sides, sample=sample, seed=seed, detection=detection,
                      distinct_rows=equal[0].shape[0], engine=engine)
    meta["quality"] = score_meta
    plot = plot_data(layout, rs.moments, ss.moments, X["real"], X["synth"], entries, eta_list)
    return DiagnoseReport(summary, entries, corr_pairs + cont_pairs + eta_list, privacy, meta, plot)


def _equal_rows(
    Xr: np.ndarray, Xs: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The same number of sampled rows from each side (a seeded subset of the larger)."""
    k = min(Xr.shape[0], Xs.shape[0])
    return Xr[sample_indices(Xr.shape[0], k, rng)], Xs[sample_indices(Xs.shape[0], k, rng)]


def _labels(
    entries: list[dict[str, Any]], target: str | None, record: dict[str, Any] | None
) -> dict[str, float | None]:
    """``label_agreement`` from generate's label record; ``target_tv`` for a class target."""
    record = record or {}
    name = target if target is not None else record.get("target")
    entry = next((e for e in entries if e["name"] == name), None)
    return {
        "label_agreement": (record.get("labels") or {}).get("agreement_with_dominant"),
        "target_tv": entry["tv"] if entry is not None and entry["group"] == "categorical" else None,
    }


def _out_of_range(synth: Scan) -> float | None:
    m = synth.moments
    present = int(m.count.sum())
    return float((m.below.sum() + m.above.sum()) / present) if present else None
