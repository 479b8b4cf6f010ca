"""Shared fixtures: a CLI runner, a Parquet writer into tmp_path, a seeded rng."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    """``CliRunner`` whose result keeps stdout and stderr apart (``result.stdout_bytes``)."""
    return CliRunner()


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
