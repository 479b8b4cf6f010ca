"""Shared fixtures: a CLI runner, a Parquet writer into tmp_path, a seeded rng, a Dask cluster."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

# The signal tests send what a terminal sends (Ctrl-C, a hang-up) and check what a user
# gets. A suite started under nohup, or as a background job of a non-interactive shell,
# inherits SIGHUP or SIGINT ignored, which mixsynth rightly leaves ignored (and so do the
# commands the tests start, which inherit it too): give the suite a terminal's defaults.
# Tests of an ignored signal set it themselves.
if os.name == "posix":
    for _sig, _default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGHUP, signal.SIG_DFL),
                           (signal.SIGTERM, signal.SIG_DFL)):
        if signal.getsignal(_sig) is signal.SIG_IGN:
            signal.signal(_sig, _default)


@pytest.fixture
def runner() -> CliRunner:
    """``CliRunner`` whose result keeps stdout and stderr apart (``result.stdout_bytes``).

    ``MIXSYNTH_*`` variables (seed, engine, backend, ...) set in the caller's shell are
    removed, so tests see the defaults.
    """
    return CliRunner(env={name: None for name in os.environ if name.startswith("MIXSYNTH_")})


@pytest.fixture
def tmp_parquet(tmp_path: Path) -> Callable[..., Path]:
    """Write a pyarrow table (or a dict of columns) to ``tmp_path/<name>`` and return the path."""

    def write(table: pa.Table | dict, name: str = "source.parquet") -> Path:
        path = tmp_path / name
        pq.write_table(table if isinstance(table, pa.Table) else pa.table(table), path)
        return path

    return write


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so test data is the same on every run."""
    return np.random.default_rng(0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect ``gpu`` tests unless the ``-m`` expression names them (``pytest -m gpu``).

    Without CUDA they could only skip, and no test here skips because of its environment;
    a marker in ``addopts`` would not do, since any ``-m`` given on the command line (``-m
    "not slow"``) replaces it.
    """
    if "gpu" in (config.getoption("markexpr") or ""):
        return
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if gpu:
        config.hook.pytest_deselected(items=gpu)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]


def _cupy_backend():
    from mixsynth.errors import BackendUnavailable
    from mixsynth.synthesis.backend import resolve

    pytest.importorskip("cupy")
    try:
        return resolve("cupy")
    except BackendUnavailable as exc:
        pytest.skip(f"no CUDA device available ({exc})")


def _strict_backend():
    from mixsynth.synthesis.backend import Backend

    strict = pytest.importorskip("array_api_strict")
    # "device1" is array_api_strict's stand-in for an accelerator: mixing it with host
    # arrays, or np.asarray() on it, raises, as CuPy does; NumPy-only code paths fail here.
    return Backend(strict, "array_api_strict", strict.Device("device1"))


@pytest.fixture(params=["numpy", "array_api_strict", pytest.param("cupy", marks=pytest.mark.gpu)])
def backend(request):
    """A compute backend: numpy; array_api_strict on a non-host device; cupy where CUDA is."""
    from mixsynth.synthesis.backend import NUMPY

    if request.param == "numpy":
        return NUMPY
    return _strict_backend() if request.param == "array_api_strict" else _cupy_backend()


@pytest.fixture
def xp(backend):
    """The array namespace of ``backend`` (numpy, array_api_strict, cupy)."""
    return backend.xp


@contextlib.contextmanager
def local_cluster(n_workers: int, directory: Path) -> Iterator:
    """A ``distributed.Client`` on an in-process LocalCluster of ``n_workers`` workers.

    ``processes=False`` keeps the workers in this process (fast start, ``memory://`` visible
    to them); the scheduler, workers and task graph are still distributed's own.
    ``dashboard_address=":0"`` because ``None`` still binds 8787, and a busy 8787 warns,
    which ``filterwarnings = error`` turns into test errors. Scratch space goes to
    ``directory``, not ``dask-scratch-space`` in the system temp folder (the scheduler
    reads ``temporary-directory``, the workers ``local_directory``).
    """
    import dask  # the test extra installs it: no skip
    import distributed

    with (
        dask.config.set({"temporary-directory": str(directory)}),
        distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=False,
            dashboard_address=":0",
            local_directory=str(directory),
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="session")
def dask_client(tmp_path_factory):
    """One 2-worker LocalCluster's client, shared by every Dask test of the session."""
    with local_cluster(2, tmp_path_factory.mktemp("dask")) as client:
        yield client


@pytest.fixture(scope="session")
def make_dask_client() -> Callable[[int, Path], contextlib.AbstractContextManager]:
    """:func:`local_cluster`, for a test that needs a cluster of another size."""
    return local_cluster
