"""The CuPy backend on a CUDA machine, in one prepared run: checks, tests, timings, agreement.

    python benchmarks/gpu.py                  # on a CUDA machine: writes benchmarks/RESULTS_gpu.md
    python benchmarks/gpu.py --sizes 1e6,1e7  # smaller sizes (the default is 1e7,1e8)
    python benchmarks/gpu.py --dry            # no GPU needed: the NumPy half at 1e5,1e6 rows

What it does, in order (a failed step is reported and the run goes on; the exit code is 1
if any step failed, 3 when there is no usable CUDA device, as ``--backend cupy`` exits):

1. Checks that the ``gpu`` extra is installed and that CuPy finds a device (else says how
   to install it: ``pip install -e '.[gpu]'`` in the mixsynth clone).
2. Runs the CuPy-marked tests: ``pytest -m gpu`` (none may skip).
3. Times the mixing kernel (:func:`mixsynth.synthesis.mix.mix`) on the encoded rows of
   ``tests/data/randhie.parquet`` for each size: NumPy on one core against CuPy with the
   inputs already on the device, and CuPy with the host-device copies that ``generate``
   pays; checks the two outputs agree within float tolerance.
4. Times a whole ``mixsynth generate --backend cupy`` against ``--backend numpy`` (all
   cores) for each size, and checks the two files' rows agree within float tolerance.

With ``--dry`` steps 1, 2 and the CuPy ``generate`` runs are skipped, and the kernel's device
half runs on ``array_api_strict``'s stand-in device (its times mean nothing): the script is
known to work before GPU time is spent on it. GPU time comes in minutes: at the default
sizes the whole run takes about 5 minutes on an H200 with 16 cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASE = ROOT / "tests" / "data" / "randhie.parquet"
RESULTS = HERE / "RESULTS_gpu.md"
INSTALL = "pip install -e '.[gpu]'"
#: Relative tolerance between backends, per encoded dtype (a few ulps of the mixed values).
RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
EXIT_NO_DEVICE = 3


def parse_sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def cuda_backend() -> tuple[object | None, str]:
    """(mixsynth's cupy Backend, a line about the device) or (None, why not)."""
    if importlib.util.find_spec("cupy") is None:
        return None, (f"the gpu extra is not installed (no cupy): run `{INSTALL}` in the mixsynth "
                      "clone (CuPy for CUDA 12), then run this script again")
    from mixsynth.errors import BackendUnavailable
    from mixsynth.synthesis.backend import resolve

    try:
        backend = resolve("cupy")
    except BackendUnavailable as exc:
        return None, f"no usable CUDA device: {exc}"
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    runtime = cupy.cuda.runtime.runtimeGetVersion()
    return backend, (f"{name}, {props['totalGlobalMem'] / 2**30:.0f} GiB; CuPy {cupy.__version__}, "
                     f"CUDA runtime {runtime // 1000}.{runtime % 1000 // 10}")


def stand_in() -> object | None:
    """array_api_strict on its non-host device (as the tests use it), or None."""
    if importlib.util.find_spec("array_api_strict") is None:
        return None
    import array_api_strict

    from mixsynth.synthesis.backend import Backend

    return Backend(array_api_strict, "array_api_strict", array_api_strict.Device("device1"))


def gpu_tests() -> tuple[bool, str]:
    """Run ``pytest -m gpu``: (all ran and passed, the summary line)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", "-rs"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    lines = [ln for ln in done.stdout.strip().splitlines() if ln.strip()]
    summary = lines[-1].strip("= ") if lines else f"no output (exit {done.returncode})"
    ok = done.returncode == 0 and "passed" in summary and "skipped" not in summary
    if not ok:
        print(done.stdout[-4000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
    return ok, summary


def encoded_source() -> np.ndarray:
    """The encoded (n, d) rows that ``generate`` mixes for randhie (its own dtype)."""
    from mixsynth.options import SynthesisOptions
    from mixsynth.synthesis.synthesizer import Synthesizer

    synth = Synthesizer(pq.read_table(BASE), SynthesisOptions(seed=0), notify=lambda _msg: None)
    return np.ascontiguousarray(synth.enc.X)


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def agree(a: np.ndarray, b: np.ndarray) -> tuple[bool, float, float]:
    """(within tolerance, max relative difference, share of bit-identical values)."""
    rtol = RTOL[a.dtype]
    same_nan = np.array_equal(np.isnan(a), np.isnan(b))
    scale = np.maximum(np.nanmax(np.abs(a), axis=0), np.finfo(a.dtype).tiny)
    rel = np.nan_to_num(np.abs(a - b) / scale)
    identical = float(np.mean((a == b) | (np.isnan(a) & np.isnan(b))))
    return bool(same_nan and rel.max() <= rtol), float(rel.max()), identical


def kernel_rows(X: np.ndarray, sizes: list[int], backend: object | None) -> list[list[str]]:
    from mixsynth.synthesis.backend import Mixer
    from mixsynth.synthesis.mix import mix

    rows = []
    rng = np.random.default_rng(0)
    for m in sizes:
        parents = rng.integers(0, X.shape[0], size=(m, 2), dtype=np.int64)
        lam = rng.random(m, dtype=np.float64) * 1.6 - 0.3  # EpBeta's support, eps = 0.3
        w = np.column_stack([lam, 1.0 - lam]).astype(X.dtype)
        host = best_of(lambda: mix(X, parents, w, xp=np))  # noqa: B023 - called at once
        want = mix(X, parents, w, xp=np)
        row = [f"{m:,}", f"{X.shape[1]} × {X.dtype}", f"{host:.3f} s"]
        if backend is None:
            rows.append([*row, "not run", "", "not run", "", ""])
            continue
        xp = backend.xp
        Xd, pd, wd = (backend.to_device(a) for a in (X, parents, w))
        backend.synchronize()

        def on_device(Xd=Xd, pd=pd, wd=wd, xp=xp) -> None:
            mix(Xd, pd, wd, xp=xp)
            backend.synchronize()

        device = best_of(on_device)
        got = backend.to_host(mix(Xd, pd, wd, xp=xp))
        mixer = Mixer(backend, X)
        with_copies = best_of(lambda mixer=mixer: mixer(parents, w))  # noqa: B023 - called at once
        ok, rel, same = agree(want, got)
        rows.append([*row, f"{device:.4f} s", f"**{host / device:.0f}×**", f"{with_copies:.3f} s",
                     f"{host / with_copies:.1f}×", f"{'yes' if ok else '**no**'} (max rel. diff {rel:.1e}, "
                     f"{same:.2%} bit-identical)"])
        del Xd, pd, wd, got, mixer
        xp.get_default_memory_pool().free_all_blocks() if hasattr(xp, "get_default_memory_pool") else None
    return rows


def run_generate(out: Path, m: int, backend: str) -> float:
    cmd = [sys.executable, "-m", "mixsynth", "generate", str(BASE), "-n", str(m), "-o", str(out),
           "--seed", "0", "-q", "--backend", backend]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        msg = f"generate --backend {backend} -n {m} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}"
        raise RuntimeError(msg)
    return wall


def files_agree(a: Path, b: Path) -> tuple[bool, str]:
    """Compare two outputs row group by row group (memory: one row group of each)."""
    fa, fb = pq.ParquetFile(a), pq.ParquetFile(b)
    if fa.metadata.num_rows != fb.metadata.num_rows or fa.schema_arrow != fb.schema_arrow:
        return False, "different row counts or schemas"
    worst, exact_cols, mismatched = 0.0, 0, 0
    for g in range(fa.metadata.num_row_groups):
        ta, tb = fa.read_row_group(g), fb.read_row_group(g)
        for name in ta.column_names:
            ca, cb = ta.column(name), tb.column(name)
            if ca.equals(cb):
                exact_cols += 1
                continue
            if pa.types.is_floating(ca.type):
                x = ca.to_numpy(zero_copy_only=False).astype(np.float64)
                y = cb.to_numpy(zero_copy_only=False).astype(np.float64)
                scale = max(float(np.nanmax(np.abs(x))), np.finfo(np.float64).tiny)
                worst = max(worst, float(np.nanmax(np.abs(x - y))) / scale)
                mismatched += int(np.sum(np.isnan(x) != np.isnan(y)))
            else:
                mismatched += int(len(ca) - pc.sum(pc.equal(ca, cb)).as_py())
    total = fa.metadata.num_row_groups * len(fa.schema_arrow)
    ok = mismatched == 0 and worst <= RTOL[np.dtype(np.float32)]
    return ok, (f"{exact_cols}/{total} column chunks identical, max rel. diff of floats {worst:.1e}, "
                f"{mismatched} non-float values differ")


def generate_rows(sizes: list[int], gpu: bool, work: Path) -> list[list[str]]:
    rows = []
    for m in sizes:
        host = run_generate(work / "numpy.parquet", m, "numpy")
        size = (work / "numpy.parquet").stat().st_size / 2**20
        if not gpu:
            # Exercise the comparison too (a file agrees with itself), so it is known to work.
            if not files_agree(work / "numpy.parquet", work / "numpy.parquet")[0]:
                msg = "files_agree rejects a file compared with itself"
                raise RuntimeError(msg)
            rows.append([f"{m:,}", f"{host:.2f} s", "not run", "", "", f"{size:,.1f} MiB"])
            continue
        device = run_generate(work / "cupy.parquet", m, "cupy")
        ok, detail = files_agree(work / "numpy.parquet", work / "cupy.parquet")
        rows.append([f"{m:,}", f"{host:.2f} s", f"{device:.2f} s", f"{host / device:.2f}×",
                     f"{'yes' if ok else '**no**'}: {detail}", f"{size:,.1f} MiB"])
        (work / "cupy.parquet").unlink()
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry", action="store_true", help="no GPU: run the NumPy half at small sizes")
    parser.add_argument("--sizes", type=parse_sizes, help="comma-separated row counts (default 1e7,1e8; --dry 1e5,1e6)")
    parser.add_argument("--results", type=Path, help=f"Markdown file to write (default {RESULTS.name}; --dry: none)")
    args = parser.parse_args()
    sizes = args.sizes or ([10**5, 10**6] if args.dry else [10**7, 10**8])
    failed = False
    t0 = time.perf_counter()
    if args.dry:
        backend, device, tests = stand_in(), "array_api_strict stand-in (--dry)", "not run (--dry)"
    else:
        backend, device = cuda_backend()
        if backend is None:
            print(f"benchmarks/gpu.py: {device}", file=sys.stderr)
            return EXIT_NO_DEVICE
        print(f"device: {device}\nrunning pytest -m gpu ...", file=sys.stderr, flush=True)
        ok, tests = gpu_tests()
        failed |= not ok
        tests = f"{'passed' if ok else '**FAILED**'}: {tests}"
    print("timing the kernel ...", file=sys.stderr, flush=True)
    X = encoded_source()
    kernel = kernel_rows(X, sizes, backend)
    failed |= any("**no**" in r[-1] for r in kernel)
    print("timing generate ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="mixsynth-gpu-") as tmp:
        try:
            whole = generate_rows(sizes, not args.dry, Path(tmp))
        except RuntimeError as exc:
            whole, failed = [[str(exc), "", "", "", "", ""]], True
    failed |= any("**no**" in c for r in whole for c in r)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    minutes = (time.perf_counter() - t0) / 60
    report = "\n\n".join([
        "# mixsynth on a GPU",
        f"`python benchmarks/gpu.py{' --dry' if args.dry else ''}"
        f"{' --sizes ' + ','.join(f'{s:g}' for s in sizes) if args.sizes else ''}`, "
        f"{minutes:.1f} minutes. Device: {device}. Host: {platform.processor() or platform.machine()}, "
        f"{cores} cores; Python {platform.python_version()}, NumPy {np.__version__}, "
        f"pyarrow {pa.__version__}.",
        f"## CuPy tests\n\n`pytest -m gpu`: {tests}.",
        "## Kernel\n\n`mixsynth.synthesis.mix.mix` on the encoded rows of `tests/data/randhie.parquet` "
        "(as `generate` mixes them), random parents and EpBeta-range weights. NumPy: one call on "
        "one core. CuPy on device: inputs already on the GPU, timed to completion (synchronised). "
        "CuPy with copies: parents and weights to the device and the rows back, as `generate` "
        "does per block. Best of 3.\n\n"
        + table(["rows", "columns", "NumPy", "CuPy on device", "speed-up", "CuPy with copies",
                 "speed-up", "agree"], kernel),
        f"## Whole `generate`\n\n`mixsynth generate tests/data/randhie.parquet -n N --seed 0` with "
        f"`--backend numpy` (all {cores} cores) and `--backend cupy`, wall time of the command "
        "(start-up, reading, mixing, bounds, decoding, zstd Parquet writing). The files are "
        "compared row group by row group.\n\n"
        + table(["rows", "numpy", "cupy", "speed-up", "rows agree", "output size"], whole),
    ]) + "\n"
    print(report)
    target = args.results or (None if args.dry else RESULTS)
    if target is not None:
        target.write_text(report)
        print(f"wrote {target}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
