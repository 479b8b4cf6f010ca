"""Compute backends for the mixing kernel: NumPy on the host, CuPy on a CUDA device.

The kernel (:func:`mixsynth.synthesis.mix.mix`) is written once against the array API; a
:class:`Backend` says which namespace runs it, on which device, and how arrays cross
between host and device. Everything random is drawn on the host (docs/design.md section 5), so
only the encoded source, the parent indices and the weights travel to the device, and
the mixed rows travel back. ``cupy`` is imported here and nowhere else, and only when asked.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mixsynth.console import first_line
from mixsynth.errors import BackendUnavailable, UsageError
from mixsynth.options import BACKENDS
from mixsynth.synthesis.mix import mix, mix_scaled

__all__ = ["BACKENDS", "NUMPY", "Backend", "Mixer", "resolve"]

Array = Any
Notify = Callable[[str], None]


def _dlpack_to_host(a: Array) -> np.ndarray:
    # DLPack, not np.asarray: device arrays (CuPy, array_api_strict's "device1") refuse
    # implicit conversion, and a NumPy-only path must fail loudly in tests.
    return np.from_dlpack(a)


@dataclass(frozen=True)
class Backend:
    """An array namespace, a device, and the way back to host memory.

    Attributes
    ----------
    xp : module
        Array API namespace (``array_api_compat.numpy``, ``array_api_compat.cupy``, or any
        compliant namespace such as ``array_api_strict``).
    name : str
        Recorded in the provenance (``numpy``, ``cupy``, ...).
    device : object, optional
        Where arrays are created (``None``: the namespace's default).
    to_host : callable
        Device array -> NumPy array.
    stream : callable, optional
        Context manager run around each block's device work (CuPy: a stream per thread,
        so blocks in different threads overlap their transfers).
    free_memory : callable, optional
        Free bytes on the device, or None when unknown.
    synchronize : callable, optional
        Wait until the device has finished all queued work (copies included).

    Examples
    --------
    >>> b = resolve("numpy")
    >>> b.name, b.on_host
    ('numpy', True)
    """

    xp: Any
    name: str
    device: Any = None
    to_host: Callable[[Array], np.ndarray] = field(default=_dlpack_to_host, repr=False)
    stream: Callable[[], contextlib.AbstractContextManager[Any]] = field(
        default=contextlib.nullcontext, repr=False)
    free_memory: Callable[[], int | None] = field(default=lambda: None, repr=False)
    synchronize: Callable[[], None] = field(default=lambda: None, repr=False)

    @property
    def on_host(self) -> bool:
        """True when arrays already live in host memory as NumPy arrays (no copies)."""
        return getattr(self.xp, "__name__", None) in _HOST_NAMESPACES

    def to_device(self, a: np.ndarray) -> Array:
        """Copy a host array to the device (no copy for NumPy)."""
        if self.on_host:
            return a
        return self.xp.asarray(a, device=self.device)


#: Namespaces whose arrays are NumPy arrays in host memory.
_HOST_NAMESPACES = ("numpy", "array_api_compat.numpy")

#: The host backend; the default everywhere. NumPy itself, not ``array_api_compat.numpy``:
#: NumPy (1.26 and 2) has every function the kernel calls, and the compat wrapper costs
#: 0.2-0.3 s of start-up (it touches every NumPy submodule, f2py included) on every run.
NUMPY = Backend(np, "numpy", to_host=np.asarray)
#: Bytes of ``|X|`` looked at a time when finding each column's largest value.
_SLICE_BYTES = 64 * 2**20


def _import_cupy() -> Any:
    try:
        import cupy  # noqa: PLC0415 - optional dependency, imported only when asked for
    except ModuleNotFoundError as exc:
        if exc.name not in (None, "cupy") and not str(exc.name).startswith("cupy"):
            msg = f"cupy cannot be imported: {first_line(exc)}; pip install -e '.[gpu]'"
            raise BackendUnavailable(msg) from None
        msg = "cupy is not installed; pip install -e '.[gpu]'"
        raise BackendUnavailable(msg) from None
    except ImportError as exc:
        msg = f"cupy cannot be imported: {first_line(exc)}; pip install -e '.[gpu]'"
        raise BackendUnavailable(msg) from None
    return cupy


def _cupy_backend() -> Backend:
    cupy = _import_cupy()
    # Without a GPU the CUDA runtime's own words are about drivers ("CUDA driver version is
    # insufficient for CUDA runtime version" when no NVIDIA driver is installed), so the
    # message says what that means first and keeps CUDA's words as the detail.
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - any CUDA failure here means "no GPU to use"
        msg = f"no CUDA GPU found ({first_line(exc)})"
        raise BackendUnavailable(msg) from None
    if count < 1:
        msg = "no CUDA GPU found (the CUDA runtime reports 0 devices)"
        raise BackendUnavailable(msg)
    try:
        device = cupy.cuda.Device()
        with device:
            # A tiny kernel proves the driver, the runtime and NVRTC all work now, rather
            # than halfway through a long run.
            (cupy.arange(4, dtype=cupy.float64) * 2.0).sum().item()
    except Exception as exc:  # noqa: BLE001 - any CUDA failure means "no usable device"
        msg = f"a CUDA GPU was found but cannot run CuPy's kernels ({first_line(exc)})"
        raise BackendUnavailable(msg) from None
    import array_api_compat.cupy as cp_xp  # noqa: PLC0415 - imports cupy

    local = threading.local()

    def stream() -> contextlib.AbstractContextManager[Any]:
        # One non-blocking stream per worker thread: block b+1 computes while block b
        # copies back, and neither waits on the legacy default stream.
        if not hasattr(local, "stream"):
            with device:
                local.stream = cupy.cuda.Stream(non_blocking=True)
        return local.stream  # type: ignore[no-any-return]

    def to_host(a: Array) -> np.ndarray:
        return cupy.asnumpy(a, stream=cupy.cuda.get_current_stream())  # type: ignore[no-any-return]

    def free_memory() -> int:
        with device:
            return int(cupy.cuda.runtime.memGetInfo()[0])

    def synchronize() -> None:
        device.synchronize()

    return Backend(cp_xp, "cupy", device, to_host=to_host, stream=stream,
                   free_memory=free_memory, synchronize=synchronize)


def resolve(name: str | Backend = "numpy", *, notify: Notify | None = None) -> Backend:
    """The backend called ``name``.

    Parameters
    ----------
    name : {"numpy", "cupy", "auto"} or Backend
        ``auto`` is CuPy when it imports and finds a CUDA device, else NumPy (with a notice).
        A :class:`Backend` is returned as is (tests use this for ``array_api_strict``).
    notify : callable, optional
        Receives the one-line notice when ``auto`` falls back to NumPy.

    Raises
    ------
    BackendUnavailable
        ``cupy`` was asked for explicitly and is missing or has no device (exit code 3).
    UsageError
        An unknown name.
    """
    if isinstance(name, Backend):
        return name
    if name == "numpy":
        return NUMPY
    if name == "cupy":
        return _cupy_backend()
    if name == "auto":
        try:
            return _cupy_backend()
        except BackendUnavailable as exc:
            if notify is not None:
                notify(f"backend auto: {exc}; using numpy")
            return NUMPY
    msg = f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}"
    raise UsageError(msg)


class Mixer:
    """The kernel bound to one backend and one encoded source ``X`` (host, shape (n, d)).

    ``X`` moves to the device once, on first use (and is safe to share between threads);
    each call moves one block's parents and weights there and brings the mixed rows back.
    Weights are cast to ``X``'s dtype on the host, so mixing happens in the encoded
    precision on every backend. Columns whose values come near the dtype's largest float
    are mixed without overflow (:func:`~mixsynth.synthesis.mix.mix_scaled`): finite in, finite out.
    """

    def __init__(self, backend: Backend, X: np.ndarray) -> None:
        self.backend = backend
        self.X = X
        self._device_X: Array | None = None
        self._magnitude: np.ndarray | None = None
        self._lock = threading.Lock()

    def _largest(self) -> np.ndarray:
        """Largest ``|value|`` of each column of ``X`` (nulls ignored), computed once."""
        with self._lock:
            if self._magnitude is None:
                top = np.zeros(self.X.shape[1], dtype=self.X.dtype)
                step = max(1, _SLICE_BYTES // max(1, self.X.shape[1] * self.X.itemsize))
                for lo in range(0, self.X.shape[0], step):
                    # fmax ignores NaN (nulls); in row slices so |X| is never held whole.
                    np.fmax(top, np.fmax.reduce(np.abs(self.X[lo : lo + step]), axis=0), out=top)
                self._magnitude = top
            return self._magnitude

    def _overflow_scale(self, w: np.ndarray) -> np.ndarray | None:
        """Per-column powers of two under which no step of the mix overflows, or None when
        no column can (the usual case: then nothing changes)."""
        if self.X.shape[1] == 0:
            return None
        # Each step of mix() is bounded by |X| * (1 + 2 * sum_j |w_j|), j < k - 1.
        spread = 1.0 + 2.0 * float(np.abs(w[:, :-1]).sum(axis=1).max(initial=0.0))
        risky = self._largest() >= float(np.finfo(self.X.dtype).max) / spread
        if not risky.any():
            return None
        steps = np.where(risky, np.ceil(np.log2(spread)) + 1, 0).astype(np.int64)
        return np.ldexp(np.ones(len(steps), dtype=self.X.dtype), -steps)

    def _on_device(self) -> Array:
        if self.backend.on_host:
            return self.X
        with self._lock:
            if self._device_X is None:
                free = self.backend.free_memory()
                if free is not None and self.X.nbytes > free:
                    msg = (f"the encoded source ({self.X.nbytes / 2**30:.2f} GiB) does not fit in "
                           f"{self.backend.name} device memory ({free / 2**30:.2f} GiB free); "
                           "use --backend numpy or --precision float32")
                    raise BackendUnavailable(msg)
                device_X = self.backend.to_device(np.ascontiguousarray(self.X))
                # The copy may still be in flight on the default stream, and the workers'
                # non-blocking streams do not wait for it.
                self.backend.synchronize()
                self._device_X = device_X
            return self._device_X

    def __call__(self, parents: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Mixed rows for ``parents`` (int, (m, k)) and weights ``w`` ((m, k)): host (m, d)."""
        b = self.backend
        w = w.astype(self.X.dtype, copy=False)
        scale = self._overflow_scale(w)
        if b.on_host:
            if scale is None:
                return mix(self.X, parents, w, xp=b.xp)  # type: ignore[no-any-return]
            return mix_scaled(self.X, parents, w, scale, xp=b.xp)  # type: ignore[no-any-return]
        X = self._on_device()
        with b.stream():
            if scale is None:
                out = mix(X, b.to_device(parents), b.to_device(w), xp=b.xp)
            else:
                out = mix_scaled(X, b.to_device(parents), b.to_device(w), b.to_device(scale), xp=b.xp)
            return b.to_host(out)

    def release(self) -> None:
        """Drop the device copy of ``X`` (it is made again if needed)."""
        with self._lock:
            self._device_X = None

