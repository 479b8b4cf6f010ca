"""``mixsynth diagnose`` on a 10-million-row synthetic file: wall time and peak memory.

Makes synthetic wine rows with ``mixsynth generate sample_data/wine.parquet -n N`` (1e6
and 1e7 by default), then times ``mixsynth diagnose sample_data/wine.parquet FILE --json``
on each, with the default ``--sample`` and with ``--detection``. Each command runs in its
own child process, whose peak resident set size is read with ``resource.getrusage`` in a
one-child wrapper (so the number is that command's alone). Moments, covariance, ranges
and counts are computed on all rows in one streamed pass; only the sampled metrics use
``--sample`` rows, so memory should stay flat as N grows.

The measured table is printed and written to ``benchmarks/RESULTS.md`` under the
``## diagnose`` heading (the rest of that file is left as it is).

Run: ``python benchmarks/bench_diagnose.py`` (a few minutes on 2 cores; needs ~1.3 GB of
free disk in the temporary directory for the 10-million-row file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINE = ROOT / "sample_data" / "wine.parquet"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
HEADING = "## diagnose"

# Runs one command (argv[2:]) with stdout to argv[1]; prints its exit code and peak RSS
# (KiB) as JSON on stderr. Being the only child of this wrapper, RUSAGE_CHILDREN is its own.
_WRAPPER = (
    "import json, resource, subprocess, sys\n"
    "with open(sys.argv[1], 'wb') as out:\n"
    "    rc = subprocess.run(sys.argv[2:], stdout=out).returncode\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'rc': rc, 'maxrss_kib': rss}), file=sys.stderr)\n"
)


def _measure(args: list[str], out: Path) -> dict:
    """Wall time, exit code and peak RSS of one command; its stdout goes to ``out``."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, str(out), *args],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    result = json.loads(done.stderr.strip().splitlines()[-1])
    if result["rc"] != 0:
        sys.exit(f"command failed ({result['rc']}): {' '.join(args)}\n{done.stderr}")
    return {"seconds": seconds, "peak_rss_mib": result["maxrss_kib"] / 1024}


def _machine() -> str:
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read_text()).group(1))
        mem = f", {kib / 2**20:.0f} GiB RAM"
    cpu = platform.processor() or platform.machine()
    load = f", load average {os.getloadavg()[0]:.1f} at start" if hasattr(os, "getloadavg") else ""
    return f"{os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}{load}"


def _write_results(text: str) -> None:
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = f"{HEADING}\n\n{text.strip()}\n\n"
    new = pattern.sub(lambda _: section, old) if pattern.search(old) else old.rstrip() + "\n\n" + section
    RESULTS.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=["1e6", "1e7"], help="Synthetic rows.")
    parser.add_argument("--workdir", type=Path, default=None, help="Where to write the files.")
    parser.add_argument("--no-write", action="store_true", help="Do not update RESULTS.md.")
    args = parser.parse_args()
    mixsynth = [sys.executable, "-m", "mixsynth"]
    lines = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for rows in args.rows:
            synth = Path(tmp) / f"wine_{rows}.parquet"
            gen = _measure([*mixsynth, "generate", str(WINE), "-n", rows, "--seed", "1", "-q",
                            "-o", str(synth)], Path(tmp) / "gen.out")
            size = synth.stat().st_size / 2**20
            lines.append((rows, "generate (for reference)", gen, f"{size:,.0f} MiB written"))
            for extra in ([], ["--detection"]):
                label = " ".join(["diagnose --json", *extra])
                out = Path(tmp) / "report.json"
                command = [*mixsynth, "diagnose", str(WINE), str(synth), "--json", *extra]
                res = _measure(command, out)
                summary = json.loads(out.read_text())["summary"]
                note = (f"variance_ratio_median {summary['variance_ratio_median']:.4f}, "
                        f"corr_max_abs_diff {summary['corr_max_abs_diff']:.4f}")
                if summary.get("detection_auc") is not None:
                    note += f", detection_auc {summary['detection_auc']:.3f}"
                lines.append((rows, label, res, note))
            synth.unlink()
    header = "| synthetic rows | command | seconds | peak RSS (MiB) | result |\n"
    header += "|---:|:---|---:|---:|:---|"
    body = "\n".join(f"| {float(r):,.0f} | `{label}` | {m['seconds']:.1f} | "
                     f"{m['peak_rss_mib']:,.0f} | {note} |" for r, label, m, note in lines)
    text = (
        f"Machine: {_machine()}, no GPU. Command: `python benchmarks/bench_diagnose.py` "
        f"(rows {', '.join(args.rows)}). Real table: `sample_data/wine.parquet` (178 rows, 14 "
        "columns); synthetic rows from `mixsynth generate -n N --seed 1` (default EpBeta). "
        "Diagnose streams the synthetic file in row batches for moments, covariance, ranges and "
        "counts, and reads a seeded 50,000-row sample for KS/Wasserstein/quantiles/DCR "
        "(detection: at most 10,000 rows per side, here all 178 real rows and as many "
        "synthetic). Peak RSS is the child process's `ru_maxrss`, "
        "interpreter and imports (pandas, scipy, scikit-learn) included.\n\n"
        f"{header}\n{body}\n"
    )
    print(text)
    if not args.no_write:
        _write_results(text)
        print(f"written to {RESULTS.relative_to(ROOT)} under {HEADING!r}")


if __name__ == "__main__":
    main()
