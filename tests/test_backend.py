"""Backends: resolution and its errors, the kernel and the Synthesizer on every namespace.

No GPU here: array_api_strict on its "device1" stands in for CuPy, so a NumPy-only step
in the device path (np.asarray on a device array, mixing host and device arrays, a dtype
promotion NumPy allows and the standard does not) fails these tests.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import types

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mixsynth.cli import app
from mixsynth.errors import BackendUnavailable, ExitStatus, UsageError
from mixsynth.options import SynthesisOptions
from mixsynth.synthesis.backend import NUMPY, Backend, Mixer, resolve
from mixsynth.synthesis.mix import mix
from mixsynth.synthesis.synthesizer import Synthesizer

NOT_INSTALLED = "cupy is not installed; pip install -e '.[gpu]'"


@pytest.fixture
def no_cupy(monkeypatch):
    """``import cupy`` fails, whatever is installed."""
    monkeypatch.setitem(sys.modules, "cupy", None)


@pytest.fixture
def cupy_without_device(monkeypatch):
    """A cupy that imports but whose CUDA runtime finds no device."""

    def no_device():
        msg = "cudaErrorNoDevice: no CUDA-capable device is detected"
        raise RuntimeError(msg)

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", fake)


def _host(backend, a):
    return backend.to_host(a)


def _table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pa.table({
        "x": rng.normal(size=n),
        "y": pa.array([None if i % 9 == 0 else float(v) for i, v in enumerate(rng.normal(size=n))]),
        "f32": rng.normal(size=n).astype(np.float32),
        "count": rng.integers(0, 50, n),
        "img": pa.FixedSizeListArray.from_arrays(pa.array(rng.random(4 * n).astype(np.float32)), 4),
        "g": pa.array(rng.choice(["a", "b", "c"], n)).dictionary_encode(),
    })


def _rows(table, backend, **kw):
    n = kw.pop("n", 20_000)
    run = {k: kw.pop(k) for k in ("precision", "memory_limit") if k in kw}
    synth = Synthesizer(table, SynthesisOptions(seed=3, **kw), backend=backend, notify=lambda _m: None, **run)
    return pa.concat_tables(synth.chunks(n, 7000, jobs=2)), synth


# --- resolution --------------------------------------------------------------------------


def test_numpy_is_the_host_backend():
    assert resolve("numpy") is NUMPY
    assert NUMPY.on_host
    assert NUMPY.name == "numpy"
    assert resolve(NUMPY) is NUMPY


def test_unknown_backend_is_a_usage_error():
    with pytest.raises(UsageError, match=r"unknown backend 'tpu'; expected one of numpy, cupy, auto"):
        resolve("tpu")


def test_cupy_missing_is_backend_unavailable(no_cupy):
    with pytest.raises(BackendUnavailable) as info:
        resolve("cupy")
    assert str(info.value) == NOT_INSTALLED
    assert info.value.exit_code == ExitStatus.BACKEND_UNAVAILABLE == 3


def test_cupy_without_a_device_says_why(cupy_without_device):
    with pytest.raises(BackendUnavailable) as info:
        resolve("cupy")
    assert str(info.value) == "no CUDA GPU found (cudaErrorNoDevice: no CUDA-capable device is detected)"


@pytest.mark.usefixtures("cupy_without_device")
def test_auto_falls_back_to_numpy_with_a_notice():
    notes = []
    assert resolve("auto", notify=notes.append) is NUMPY
    assert notes == ["backend auto: no CUDA GPU found (cudaErrorNoDevice: no CUDA-capable device "
                     "is detected); using numpy"]


def _fake_cupy(monkeypatch, count=None, error=None, kernel_error=None):
    """A cupy whose CUDA runtime reports ``count`` devices or raises ``error``, and whose
    first kernel raises ``kernel_error``."""

    def device_count():
        if error is not None:
            raise RuntimeError(error)
        return count

    def arange(*_args, **_kwargs):
        raise RuntimeError(kernel_error)

    fake = types.ModuleType("cupy")
    fake.float64 = np.float64
    fake.arange = arange
    fake.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=device_count),
        Device=contextlib.nullcontext,
    )
    monkeypatch.setitem(sys.modules, "cupy", fake)


@pytest.mark.parametrize(
    ("fake", "message"),
    [
        # What CUDA says on a machine with CuPy but no NVIDIA driver (no GPU).
        ({"error": "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version"},
         "no CUDA GPU found (cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA "
         "runtime version)"),
        ({"count": 0}, "no CUDA GPU found (the CUDA runtime reports 0 devices)"),
        ({"count": 1, "kernel_error": "nvrtc: libnvrtc.so.12 not found"},
         "a CUDA GPU was found but cannot run CuPy's kernels (nvrtc: libnvrtc.so.12 not found)"),
    ],
    ids=["no-driver", "no-device", "no-nvrtc"],
)
def test_cli_backend_cupy_without_a_gpu_says_so_first(runner, tmp_parquet, tmp_path, monkeypatch, fake, message):
    _fake_cupy(monkeypatch, **fake)
    src = tmp_parquet({"x": [1.0, 2.0, 3.0]})
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(src), "-o", str(out), "--backend", "cupy", "--seed", "1"])
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == f"Error: {message}\n"
    assert not out.exists()


@pytest.mark.slow
def test_cupy_not_installed_in_a_real_run(tmp_parquet, tmp_path):
    # A real process with "import cupy" blocked (this machine may or may not have CuPy).
    src = tmp_parquet({"x": [1.0, 2.0, 3.0]})
    code = ("import sys; sys.modules['cupy'] = None; from mixsynth.cli import main; "
            f"sys.argv = ['mixsynth', 'generate', {str(src)!r}, '--backend', 'cupy', '-o', "
            f"{str(tmp_path / 'o.parquet')!r}]; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 3
    assert done.stderr == f"Error: {NOT_INSTALLED}\n"
    assert not (tmp_path / "o.parquet").exists()


def test_cli_backend_cupy_exits_3_with_one_line(runner, tmp_parquet, tmp_path, no_cupy):
    src = tmp_parquet({"x": [1.0, 2.0, 3.0]})
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(src), "-o", str(out), "--backend", "cupy", "--seed", "1"])
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [f"Error: {NOT_INSTALLED}"]
    assert not out.exists()


def test_cli_backend_from_the_environment(runner, tmp_parquet, tmp_path, no_cupy):
    src = tmp_parquet({"x": [1.0, 2.0, 3.0]})
    args = ["generate", str(src), "-o", str(tmp_path / "o.parquet"), "--seed", "1"]
    result = runner.invoke(app, args, env={"MIXSYNTH_BACKEND": "cupy"})
    assert result.exit_code == 3


def test_cli_auto_falls_back_and_records_numpy(runner, tmp_parquet, tmp_path, no_cupy):
    src = tmp_parquet({"x": [1.0, 2.0, 3.0, 5.0]})
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["generate", str(src), "-o", str(out), "--backend", "auto", "--seed", "1", "-n", "50"])
    assert result.exit_code == 0, result.stderr
    assert f"mixsynth: backend auto: {NOT_INSTALLED}; using numpy" in result.stderr.splitlines()
    record = json.loads(pq.ParquetFile(out).metadata.metadata[b"mixsynth"])
    assert record["backend"] == "numpy"
    assert pq.read_table(out).num_rows == 50


# --- the kernel on every namespace ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_on_every_backend(backend, dtype):
    X = np.array([[0.0, 10.0], [1.0, 20.0], [4.0, -2.0]], dtype=dtype)
    parents = np.array([[0, 1], [2, 2], [1, 2]])
    w = np.array([[0.25, 0.75], [1.5, -0.5], [-0.5, 1.5]], dtype=dtype)
    put = backend.to_device
    out = mix(put(X), put(parents), put(w))
    assert out.dtype == backend.xp.asarray(put(X)).dtype
    host = _host(backend, out)
    assert host.dtype == dtype
    np.testing.assert_array_equal(host, [[0.75, 17.5], [4.0, -2.0], [5.5, -13.0]])


def test_mixer_moves_the_source_once_and_returns_host_rows(backend):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    mixer = Mixer(backend, X)
    parents = rng.integers(0, 40, size=(25, 2))
    w = np.column_stack([np.full(25, 0.3), np.full(25, 0.7)])  # float64: cast to X's dtype
    first = mixer(parents, w)
    device_copy = mixer._device_X
    second = mixer(parents, w)
    assert mixer._device_X is device_copy
    assert (device_copy is None) == backend.on_host
    assert isinstance(first, np.ndarray)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, mix(X, parents, w.astype(np.float32)))


def test_a_numpy_only_step_fails_on_the_stand_in_device():
    strict = pytest.importorskip("array_api_strict")
    careless = Backend(strict, "array_api_strict", strict.Device("device1"), to_host=np.asarray)
    with pytest.raises(RuntimeError, match="Can't convert array"):
        Mixer(careless, np.ones((3, 2)))(np.array([[0, 1]]), np.array([[0.5, 0.5]]))


def test_synthesizer_gives_the_same_rows_on_every_backend(backend):
    table = _table()
    want, _ = _rows(table, NUMPY, bounds="resample")
    got, synth = _rows(table, backend, bounds="resample")
    assert got.schema.equals(want.schema)
    for name in ("g", "count"):
        assert got[name].equals(want[name])
    for name in ("x", "y", "f32"):
        a, b = got[name].to_numpy(zero_copy_only=False), want[name].to_numpy(zero_copy_only=False)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True)
    assert got["y"].is_null().equals(want["y"].is_null())
    assert synth.provenance()["backend"] == backend.name
    synth.close()


def test_dry_run_also_checks_the_backend(runner, tmp_parquet, no_cupy):
    src = tmp_parquet({"x": [1.0, 2.0, 3.0]})
    result = runner.invoke(app, ["generate", str(src), "--dry-run", "--backend", "cupy"])
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [f"Error: {NOT_INSTALLED}"]
    assert result.stdout == ""


def test_a_source_too_big_for_the_device_is_a_clear_error():
    strict = pytest.importorskip("array_api_strict")
    tiny = Backend(strict, "array_api_strict", strict.Device("device1"), free_memory=lambda: 100)
    with pytest.raises(BackendUnavailable, match=r"does not fit in array_api_strict device memory"):
        Mixer(tiny, np.ones((50, 2)))(np.array([[0, 1]]), np.array([[0.5, 0.5]]))


def test_the_device_copy_is_waited_for_once():
    strict = pytest.importorskip("array_api_strict")
    waits = []
    b = Backend(strict, "array_api_strict", strict.Device("device1"), synchronize=lambda: waits.append(1))
    mixer = Mixer(b, np.arange(6.0).reshape(3, 2))
    for _ in range(3):
        out = mixer(np.array([[0, 2]]), np.array([[0.5, 0.5]]))
    assert waits == [1]
    assert out.tolist() == [[2.0, 3.0]]
