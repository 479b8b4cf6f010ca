"""The Dask engine's client does not hold the source: its memory does not grow with it.

The start-up fits (identifier checks, the pilot, anchoring and its balanced states) and the
blocks run on the workers; the client holds the plan, the pilot and the fitted maps, whose
sizes do not depend on the number of source rows. Measured with tracemalloc on the client
process (which also runs the scheduler) while the workers are separate processes, so that
only the client's own allocations count: NumPy reports its arrays to tracemalloc, and a
whole-column read would encode the source into such an array on the client.
"""

from __future__ import annotations

import contextlib
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth.options import ExecutionOptions, GenerateOptions, SynthesisOptions
from mixsynth.synthesis.labels import LabelOptions

distributed = pytest.importorskip("distributed")

#: Source rows of the smaller run (the larger has four times as many) and float columns.
ROWS, FLOATS = 250_000, 8


def _source(path: Path, rows: int) -> Path:
    """A multi-file dataset: float columns, a key column (an identifier, checked across
    files), and a string column of three values (balanced by anchoring's state plan)."""
    rng = np.random.default_rng(rows)
    path.mkdir()
    step = -(-rows // 4)
    for i, lo in enumerate(range(0, rows, step)):
        m = min(step, rows - lo)
        table = pa.table({
            "row_id": pa.array(np.arange(lo, lo + m)),
            **{f"x{j}": rng.gamma(1.0 + j, size=m) for j in range(FLOATS)},
            "kind": pa.array(rng.choice(["a", "b", "c"], size=m)),
        })
        pq.write_table(table, path / f"part-{i}.parquet", row_group_size=50_000)
    return path


def _client_peak(source: Path, out: Path, client, synthesis: SynthesisOptions | None = None) -> tuple[int, dict]:
    """Peak bytes allocated on the client (above what it held before) by one run, and the
    run's provenance record."""
    from mixsynth.engines.dask import generate_dataset

    options = GenerateOptions(rows=3000, synthesis=synthesis or SynthesisOptions(seed=1),
                              execution=ExecutionOptions(engine="dask"))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        generate_dataset(str(source), str(out), options, client=client, notify=lambda _msg: None)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    record = json.loads(pq.read_metadata(min(out.glob("*.parquet"))).metadata[b"mixsynth"])
    return peak, record


@contextlib.contextmanager
def _cluster(tmp_path: Path):
    """A client of a 2-worker LocalCluster (processes, one thread each) in ``tmp_path``."""
    import dask

    scratch = tmp_path / "scratch"
    with (
        dask.config.set({"temporary-directory": str(scratch)}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
            local_directory=str(scratch),
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _peaks(tmp_path: Path, make, synthesis: SynthesisOptions | None = None) -> tuple[int, int, dict]:
    """The client's peak for a source of ROWS rows and one of 4 * ROWS (after a first,
    unmeasured run that loads what every run needs: modules, the cluster's comms)."""
    with _cluster(tmp_path) as client:
        _client_peak(make(tmp_path / "warm", 20_000), tmp_path / "warm-out", client, synthesis)
        small, record = _client_peak(make(tmp_path / "small", ROWS), tmp_path / "small-out", client, synthesis)
        large, _ = _client_peak(make(tmp_path / "large", 4 * ROWS), tmp_path / "large-out", client, synthesis)
    return small, large, record


@pytest.mark.slow
def test_client_memory_does_not_grow_with_the_source(tmp_path):
    small, large, _ = _peaks(tmp_path, _source)
    # Reading the float columns whole, as the fits did on the client, takes this much for
    # the encoded matrix alone (the Arrow columns and the fits' copies come on top). When
    # they did, the client's peak was 44 MB and 133 MB; now it is 24 MB for both (the
    # pilot, 100 000 rows x 8 columns, and its copies on the way to the workers).
    whole = 4 * ROWS * FLOATS * 8
    assert large < 0.75 * whole, (small, large)
    assert large - small < whole / 16, (small, large)


def _grouped_source(path: Path, rows: int) -> Path:
    """Float columns whose level depends on a ``site`` column of four values: ``--within
    auto`` groups by it, and it can be a within-class target."""
    rng = np.random.default_rng(rows + 1)
    path.mkdir()
    step = -(-rows // 4)
    for i, lo in enumerate(range(0, rows, step)):
        m = min(step, rows - lo)
        site = rng.integers(0, 4, size=m)
        table = pa.table({
            **{f"x{j}": rng.gamma(1.0 + j, size=m) + 6.0 * site for j in range(FLOATS)},
            "site": pa.array(np.array(["north", "south", "east", "west"])[site]),
        })
        pq.write_table(table, path / f"part-{i}.parquet", row_group_size=50_000)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("target", [None, "site"])
def test_groups_stay_on_the_workers(tmp_path, target):
    """``--within auto`` (the default) and a within-class target group the draws by a
    column: its groups (a row index per source row) are made and kept where the rows are,
    so the client's memory does not grow with the source. Before, the client read the
    column whole and held the groups: its peak was 32 MB and 114 MB for the two sources;
    now it is 30 MB for both, either way."""
    labels = LabelOptions(mode="within-class") if target else LabelOptions()
    small, large, record = _peaks(tmp_path, _grouped_source, SynthesisOptions(seed=1, target=target, labels=labels))
    if target is None:
        assert record["within"]["columns"] == ["site"]  # auto chose the column: groups were made
    else:
        assert sorted(record["labels"]["groups"]) == ["east", "north", "south", "west"]
    # The groups of the large source alone: one int64 row index per row.
    groups = 4 * ROWS * 8
    assert large - small < groups / 4, (small, large)
