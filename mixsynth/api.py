"""The Python API: ``mixsynth.generate`` mirrors ``mixsynth generate``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mixsynth import provenance
from mixsynth.arguments import select_columns
from mixsynth.io.arrow import as_table, is_dataframe
from mixsynth.options import DEFAULT_CHUNK_ROWS, ExecutionOptions, GenerateOptions, SynthesisOptions
from mixsynth.synthesis.labels import LabelOptions
from mixsynth.synthesis.synthesizer import Synthesizer
from mixsynth.synthesis.within import parse_within
from mixsynth.weights import WeightLaw

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["as_table", "generate"]


def generate(
    data: pa.Table | pd.DataFrame | Any,
    n: int | None = None,
    *,
    weights: str | WeightLaw = "epbeta",
    seed: int | None = None,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    target: str | None = None,
    label_mode: str | None = None,
    class_balance: str | Mapping[str, float] | None = None,
    bins: int = 10,
    genlabel_model: str = "gaussian",
    genlabel_gamma: float = 1.0,
    genlabel_soft: bool = False,
    within: str | Sequence[str] | None = "auto",
    within_bins: int = 10,
    bounds: str = "auto",
    bounds_overrides: Mapping[str, object] | None = None,
    repair: str = "auto",
    space: str = "raw",
    nan: str = "error",
    ids: str = "regenerate",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    jobs: int = 1,
    backend: str = "numpy",
    precision: str = "auto",
    memory_limit: int | None = None,
) -> pa.Table | pd.DataFrame:
    """Synthesise ``n`` rows by mixing rows of ``data`` (what ``mixsynth generate`` writes).

    Parameters
    ----------
    data : pyarrow.Table, pandas.DataFrame, or an object with ``__arrow_c_stream__``
        Any Arrow PyCapsule stream (polars, DuckDB, a ``pyarrow.RecordBatchReader``) is read
        into a Table first.
    n : int, optional
        Rows to synthesise; default: as many as ``data`` has.
    weights, seed, bounds, bounds_overrides, target, nan, ids
        As for :class:`Synthesizer` and the CLI options of the same names.
    label_mode, class_balance, bins, genlabel_model, genlabel_gamma, genlabel_soft
        Label handling of ``target``; see :class:`mixsynth.synthesis.labels.LabelOptions`.
    within : "auto", "none", None, or sequence of str
        Draw all parents of a row from rows sharing these columns' values (numbers that
        are not whole by ``within_bins`` quantile bins); ``"auto"`` (default) picks a
        categorical column that explains most of some number's variance, if there is one
        (a notice says which); ``"none"`` or None mixes across all rows. See
        :mod:`mixsynth.synthesis.within`.
    repair : {"auto", "variance", "none"}
        Stretch bounded columns so bounds do not shrink their variance (``auto``: when
        bounds are active and the law keeps variance).
    space : {"raw", "rank-gauss"}
        Mix raw values, or normal scores mapped back through the empirical quantiles.
    columns, exclude : sequence of str, optional
        Columns to keep / leave out.
    jobs : int
        Worker threads (the rows do not depend on it); 1 runs in the calling thread.
    backend, precision, memory_limit
        As for :class:`Synthesizer` (``--backend``, ``--precision``, ``--memory-limit``).

    Returns
    -------
    pyarrow.Table or pandas.DataFrame
        A DataFrame for a DataFrame, else a Table. The provenance record is in the table's schema metadata
        under ``mixsynth`` (a DataFrame carries it in ``df.attrs["mixsynth"]``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "g": ["a", "b", "a", "b"]})
    >>> out = generate(df, 6, seed=0)
    >>> out.shape, list(out.columns)
    ((6, 2), ['x', 'g'])
    >>> out.attrs["mixsynth"]["weights"]["variance_factor"]  # doctest: +ELLIPSIS
    0.99999999...
    """
    # The keywords become the checked options first: a typo fails before the data is read.
    within_names, auto_within = parse_within(within)
    labels = LabelOptions(label_mode, class_balance, bins, genlabel_model, genlabel_gamma, genlabel_soft,
                          within_names, within_bins, auto_within)
    options = GenerateOptions(
        rows=n, columns=columns, exclude=exclude,
        synthesis=SynthesisOptions(weights=weights, seed=seed, bounds=bounds, bounds_overrides=bounds_overrides,
                                   repair=repair, space=space, target=target, labels=labels, nan=nan, ids=ids),
        execution=ExecutionOptions(backend=backend,
                                   precision=precision, jobs=jobs, chunk_rows=chunk_rows,
                                   memory_limit=memory_limit))
    table = as_table(data)
    names = select_columns(table.column_names, columns, exclude, target)
    run = options.execution
    synth = Synthesizer(table.select(names), options.synthesis, backend=run.backend, precision=run.precision,
                        memory_limit=run.memory_limit)
    rows = table.num_rows if n is None else n
    parts = list(synth.chunks(rows, run.chunk_rows, run.jobs or 1))
    record = synth.provenance()
    schema = synth.output_schema_for(rows)
    out = pa.Table.from_batches([b for p in parts for b in p.to_batches()], schema=schema.remove_metadata())
    out = out.replace_schema_metadata({**(schema.metadata or {}), provenance.KEY: provenance.dumps(record)})
    if is_dataframe(data):
        frame = out.to_pandas()
        frame.attrs["mixsynth"] = record
        return frame
    return out
