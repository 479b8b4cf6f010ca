"""One measured task per process, for benchmarks/run.py (which times it and reads its peak RSS).

Each task prints one JSON object on stdout: ``seconds`` is the work alone (fit + sample,
or read + write), without the interpreter start and imports that the wall time includes.

    python benchmarks/tasks.py floor SRC OUT ROWS VALUES [COMPRESSION [ROW_GROUP]]
    python benchmarks/tasks.py sdv|smote|skbio SRC OUT ROWS
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

#: Numeric feature columns of the peer-comparison table (tests/data/randhie.parquet).
NUMERIC = ["mdvis", "lncoins", "lpi", "fmde", "physlm", "disea"]
#: Class label for SMOTE.
LABEL = "hlthg"
#: Rows per row group, as ``mixsynth generate`` writes them.
ROW_GROUP = 16 * 8192


def floor(
    src: str, out: str, rows: int, values: str, compression: str = "zstd", row_group: int = ROW_GROUP
) -> float:
    """The I/O floor of ``mixsynth generate``: read the source, and write a table of exactly
    the output's rows and values with the output's codec and row-group size.

    ``values`` is an uncompressed Arrow IPC file of the rows mixsynth wrote, memory-mapped so
    that getting them costs (next to) nothing: the floor is the reading and the writing a
    generator cannot avoid, not any way of making the values.
    """
    t0 = time.perf_counter()
    pq.read_table(src)
    with pa.memory_map(values) as source:
        table = pyarrow.ipc.open_file(source).read_all()
        if table.num_rows != rows:
            msg = f"{values} holds {table.num_rows} rows, not {rows}"
            raise SystemExit(msg)
        with pq.ParquetWriter(out, table.schema, compression=compression) as writer:
            for start in range(0, rows, row_group):
                part = table.slice(start, row_group)
                writer.write_table(part, row_group_size=part.num_rows)
    return time.perf_counter() - t0


def sdv(src: str, out: str, rows: int) -> float:
    """SDV GaussianCopula: fit on the whole table, sample ``rows``."""
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    df = pq.read_table(src).to_pandas()
    t0 = time.perf_counter()
    metadata = Metadata.detect_from_dataframes({"source": df})
    model = GaussianCopulaSynthesizer(metadata)
    model.fit({"source": df})  # SDV 2 takes {table name: DataFrame}
    synth = model.sample(rows)
    seconds = time.perf_counter() - t0
    synth = next(iter(synth.values())) if isinstance(synth, dict) else synth  # SDV 2 returns a dict
    pq.write_table(pa.Table.from_pandas(synth, preserve_index=False), out)
    return seconds


def smote(src: str, out: str, rows: int) -> float:
    """imbalanced-learn SMOTE on (numeric features, class label): ``rows`` new rows, classes in
    their real proportions (both classes are oversampled by the same factor)."""
    from imblearn.over_sampling import SMOTE

    table = pq.read_table(src)
    X = np.column_stack([table[c].to_numpy().astype(np.float64) for c in NUMERIC])
    y = table[LABEL].to_numpy(zero_copy_only=False).astype(np.int64)
    t0 = time.perf_counter()
    counts = np.bincount(y)
    extra = np.round(rows * counts / counts.sum()).astype(int)
    extra[-1] = rows - extra[:-1].sum()
    strategy = {c: int(counts[c] + extra[c]) for c in range(len(counts))}
    Xr, yr = SMOTE(sampling_strategy=strategy, k_neighbors=5, random_state=0).fit_resample(X, y)
    seconds = time.perf_counter() - t0
    new = Xr[len(X) :]
    cols = {c: new[:, i] for i, c in enumerate(NUMERIC)}
    cols[LABEL] = yr[len(X) :].astype(bool)
    pq.write_table(pa.table(cols), out)
    return seconds


def skbio(src: str, out: str, rows: int) -> float:
    """scikit-bio ``skbio.table.mixup`` (vanilla mixup, λ ~ Beta(2, 2)) on the numeric features."""
    from skbio.table import mixup

    table = pq.read_table(src)
    X = np.column_stack([table[c].to_numpy().astype(np.float64) for c in NUMERIC])
    t0 = time.perf_counter()
    aug, _ = mixup(X, rows, alpha=2.0, seed=0)
    seconds = time.perf_counter() - t0
    pq.write_table(pa.table({c: np.asarray(aug)[:, i] for i, c in enumerate(NUMERIC)}), out)
    return seconds


TASKS = {"floor": floor, "sdv": sdv, "smote": smote, "skbio": skbio}

if __name__ == "__main__":
    name, src, out, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(float(sys.argv[4]))
    extra = [int(a) if a.isdigit() else a for a in sys.argv[5:]]
    print(json.dumps({"seconds": TASKS[name](src, out, rows, *extra)}))
