"""Shared fixtures: a CLI runner, a Parquet writer into tmp_path, a seeded rng."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner


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
    from mixsynth.backend import resolve
    from mixsynth.errors import BackendUnavailable

    pytest.importorskip("cupy")
    try:
        return resolve("cupy")
    except BackendUnavailable as exc:
        pytest.skip(f"no CUDA device available ({exc})")


def _strict_backend():
    from mixsynth.backend import Backend

    strict = pytest.importorskip("array_api_strict")
    # "device1" is array_api_strict's stand-in for an accelerator: mixing it with host
    # arrays, or np.asarray() on it, raises, as CuPy does; NumPy-only code paths fail here.
    return Backend(strict, "array_api_strict", strict.Device("device1"))


@pytest.fixture(params=["numpy", "array_api_strict", pytest.param("cupy", marks=pytest.mark.gpu)])
def backend(request):
    """A compute backend: numpy; array_api_strict on a non-host device; cupy where CUDA is."""
    from mixsynth.backend import NUMPY

    if request.param == "numpy":
        return NUMPY
    return _strict_backend() if request.param == "array_api_strict" else _cupy_backend()


@pytest.fixture
def xp(backend):
    """The array namespace of ``backend`` (numpy, array_api_strict, cupy)."""
    return backend.xp
