"""mixsynth benchmarks, one command: the I/O floor, codecs, peers, growth, cores and engines.

    python benchmarks/run.py            # full run (about 15 minutes on 2 cores)
    python benchmarks/run.py --quick    # smaller sizes (about 3 minutes)
    python benchmarks/run.py --no-peers --results benchmarks/RESULTS.md
    python benchmarks/run.py --sections floor,codecs   # only these sections

The floor (section 1) is what no generator can avoid: reading the source and writing a
table of exactly the output's rows and values, with the output's own codec and row-group
size (``tasks.py floor``; the values come memory-mapped from an Arrow file made beforehand,
so producing them costs nothing). Section 1 also compares ``--jobs 1`` with all cores and
peak memory across ``-n``; section 2 the codecs of ``--compression``.

Needs ``pip install -e '.[bench]'`` (SDV pins pandas<3, so use a separate virtual
environment). Every measurement is a separate process started from here: wall time is
what a user waits for (interpreter start and imports included), peak RSS is that
process's own (``os.wait4`` in a small launcher: a process forked from this benchmark
would inherit its high-water mark, see ``measure``), or, where larger, the peak
proportional set size of the process and its workers together (``--jobs`` forks worker
processes on Linux, which share the parent's pages; sampled every 20 ms from ``/proc``). Times are the best of 3
runs (1 with ``--quick``; peers: 1 run), because the machine may be shared; peak RSS is
the largest of those runs. Inputs are
built from the real table
``tests/data/randhie.parquet`` (20,190 rows, 10 columns: 1 integer count, 5 floats,
3 booleans + 1 boolean label) by ``mixsynth generate`` itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.ipc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASE = ROOT / "tests" / "data" / "randhie.parquet"
sys.path.insert(0, str(HERE))
from tasks import NUMERIC  # noqa: E402

FULL = {
    "floor": [10**6, 8 * 10**6],
    "codecs_n": 4 * 10**6,
    "growth_n": [10**5, 10**6, 10**7],
    "growth_input": [10**5, 10**6, 10**7],
    "input": 10**6,
    "cores_n": 10**7,
    "peers_rows": None,
}
QUICK = {
    "floor": [10**5, 10**6],
    "codecs_n": 10**6,
    "growth_n": [10**4, 10**5, 10**6],
    "growth_input": [10**4, 10**5, 10**6],
    "input": 10**5,
    "cores_n": 10**6,
    "peers_rows": 5000,
}


@dataclass
class Run:
    wall: float
    rss_mb: float
    rc: int
    out: str
    err: str
    #: User + system CPU seconds of the process (and children it waited for).
    cpu: float = 0.0


def _tree_pss_kb(pid: int) -> int:
    """Proportional set size of ``pid`` and its descendants (kB; 0 where /proc does not tell):
    forked workers share the parent's pages, so their RSS would count those twice."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
            todo += _children(p)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def _children(pid: int) -> list[int]:
    """The children of every thread of ``pid`` (a child belongs to the thread that forked
    it: mixsynth's workers are forked by its job thread, not its main thread)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError), open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return found


#: Starts the measured command and reports what the kernel counted for it. Linux records,
#: when a process execs, the resident high-water mark of the memory image it replaces,
#: which for a child forked from this benchmark (holding the floor's table, up to a
#: gigabyte) is this benchmark's: its ru_maxrss then reads that, not the command's own. A
#: launcher started fresh (about 10 MB) passes on only its own small image. It writes its
#: child's wall time, CPU and peak RSS (of the child, or of its largest reaped worker) as
#: JSON to the file ``argv[1]``.
_LAUNCH = (
    "import json, os, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(proc.pid, 0)\n"
    "wall = time.perf_counter() - t0\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    json.dump({'rc': os.waitstatus_to_exitcode(status), 'wall': wall, 'maxrss_kb': usage.ru_maxrss,\n"
    "               'cpu': usage.ru_utime + usage.ru_stime}, f)\n"
)


def measure(cmd: list[str], timeout: float = 900) -> Run:
    """Run ``cmd`` (through a small launcher, see :data:`_LAUNCH`): its wall time, CPU, and
    peak memory: the larger of the process's own peak RSS and the peak proportional set
    size of it and its worker processes together (sampled every 20 ms), so a run with
    forked workers counts their own memory too, and shared pages once."""
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.NamedTemporaryFile("r", suffix=".json") as report,
    ):
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCH, report.name, *cmd], stdout=out, stderr=err,
                                cwd=ROOT, start_new_session=True)
        deadline = time.perf_counter() + timeout
        tree_kb = 0
        while proc.poll() is None:
            # The command is the launcher's child; the launcher's own ~10 MB are not counted.
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                tree_kb = max(tree_kb, sum(_tree_pss_kb(c) for c in _children(proc.pid)))
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)  # the launcher and the command it started
                proc.wait()
                return Run(timeout, 0.0, -9, "", f"timed out after {timeout:.0f} s")
            time.sleep(0.02)
        out.seek(0)
        err.seek(0)
        got = json.loads(report.read() or "{}")
        if not got:
            return Run(0.0, 0.0, proc.returncode or 1, out.read(), err.read())
        return Run(got["wall"], max(got["maxrss_kb"], tree_kb) / 1024, got["rc"], out.read(), err.read(),
                   got["cpu"])


REPEAT = 3


def best(cmd: list[str], what: str) -> Run:
    """The fastest of ``REPEAT`` runs (the machine may be shared); peak RSS is the largest
    seen, CPU time the least."""
    runs = [checked(measure(cmd), what) for _ in range(REPEAT)]
    fastest = min(runs, key=lambda r: r.wall)
    fastest.rss_mb = max(r.rss_mb for r in runs)
    fastest.cpu = min(r.cpu for r in runs)
    return fastest


def mixsynth(*args: object) -> list[str]:
    return [sys.executable, "-m", "mixsynth", "generate", *map(str, args)]


def task(name: str, src: Path, out: Path, rows: int) -> list[str]:
    return [sys.executable, str(HERE / "tasks.py"), name, str(src), str(out), str(rows)]


def checked(run: Run, what: str) -> Run:
    if run.rc != 0:
        print(f"FAILED: {what} (exit {run.rc})\n{run.err[-2000:]}", file=sys.stderr)
    return run


def fmt_rows(n: int) -> str:
    return f"{n:,}"


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    lscpu = subprocess.run(
        ["lscpu"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[:12]
    mem = next(
        (
            line
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "",
    )
    import numpy
    import pandas

    versions = (
        f"Python {platform.python_version()}, numpy {numpy.__version__}, "
        f"pandas {pandas.__version__}, pyarrow {pa.__version__}"
    )
    for name in ("dask", "sdv", "imblearn", "skbio", "mixsynth"):
        try:
            versions += f", {name} {__import__(name).__version__}"
        except Exception as exc:  # noqa: BLE001 - report whatever is missing
            versions += f", {name} unavailable ({type(exc).__name__})"
    return (
        "```\n$ lscpu | head -n 12\n"
        + "\n".join(lscpu)
        + f"\n$ grep MemTotal /proc/meminfo\n{mem}\n```\n{versions}. No GPU."
    )


def build_inputs(work: Path, sizes: list[int]) -> dict[int, Path]:
    """Inputs of each size, synthesised from the real table by mixsynth (seeded)."""
    paths = {}
    for i, n in enumerate(sorted(set(sizes))):
        path = work / f"input_{n}.parquet"
        checked(
            measure(mixsynth(BASE, "-n", n, "-o", path, "--seed", 100 + i, "-q")),
            f"build input {n}",
        )
        paths[n] = path
    return paths


def quality(real: pa.Table, out: Path) -> dict[str, float]:
    from mixsynth.diagnose import diagnose

    synth = pq.read_table(out)
    summary = diagnose(real, synth, columns=NUMERIC, sample=20_000, seed=0).to_dict()["summary"]
    return summary


#: What ``mixsynth generate`` writes by default (``--compression``, ``--row-group-size``).
CODEC, ROW_GROUP = "zstd", 16 * 8192


def arrow_values(parquet: Path, arrow: Path) -> None:
    """The rows of ``parquet`` as an uncompressed Arrow IPC file (the floor maps it)."""
    table = pq.read_table(parquet)
    table = table.replace_schema_metadata(None)
    with pa.OSFile(str(arrow), "wb") as sink, pyarrow.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def floor_run(src: Path, out: Path, work: Path, m: int, codec: str = CODEC, group: int = ROW_GROUP) -> Run:
    """Time the floor for the rows that mixsynth wrote to ``out``."""
    values = work / "values.arrow"
    arrow_values(out, values)
    run = best(task("floor", src, work / "floor.parquet", m) + [str(values), codec, str(group)], "floor")
    same = pq.read_table(work / "floor.parquet").equals(pq.read_table(out).replace_schema_metadata(None))
    values.unlink()
    if not same:
        print(f"FAILED: the floor's table differs from mixsynth's ({m} rows)", file=sys.stderr)
    return run


def section_floor(work: Path, sizes: dict) -> str:
    src, cores = BASE, default_cores()
    start_mix = min(measure([sys.executable, "-m", "mixsynth", "--help"]).wall for _ in range(3))
    start_floor = min(
        measure([sys.executable, "-c", "import numpy, pyarrow.parquet"]).wall for _ in range(3)
    )
    rows, mine, floors = [], {}, {}
    n = pq.read_metadata(src).num_rows
    for m in sizes["floor"]:
        out = work / "mix.parquet"
        mine[m] = best(mixsynth(src, "-n", m, "-o", out, "--seed", 0, "-q"), "mixsynth")
        floor = floors[m] = floor_run(src, out, work, m)
        ratio = mine[m].wall / floor.wall
        work_ratio = (mine[m].wall - start_mix) / (floor.wall - start_floor)
        rows.append(
            [
                fmt_rows(n),
                fmt_rows(m),
                f"{floor.wall:.2f} s",
                f"{floor.cpu:.2f} s",
                f"{floor.rss_mb:.0f} MB",
                f"{mine[m].wall:.2f} s",
                f"{mine[m].cpu:.2f} s",
                f"{mine[m].rss_mb:.0f} MB",
                f"**{ratio:.2f}×**",
                f"{work_ratio:.2f}×",
                f"{mine[m].cpu / floor.cpu:.2f}×",
            ]
        )
    big, small = max(sizes["floor"]), min(sizes["floor"])
    one = best(mixsynth(src, "-n", big, "-o", work / "mix.parquet", "--seed", 0, "-q", "--jobs", 1), "jobs 1")
    speedup = one.wall / mine[big].wall
    flat = mine[big].rss_mb / mine[small].rss_mb
    bound = floor_bound(src, work, big, small, one, floors, cores)
    return (
        "## 1. I/O floor, cores, memory\n\n"
        f"Source `tests/data/randhie.parquet` ({fmt_rows(n)} rows, 10 columns), default options "
        f"({CODEC}, {ROW_GROUP:,}-row row groups, all {cores} cores). Floor: read the source, and "
        "write a table of exactly the output's rows and values with the output's codec and "
        "row-group size (the values memory-mapped from an Arrow file made beforehand, so "
        "making them costs nothing; the floor's file holds the same table as mixsynth's). Wall "
        "times include interpreter start and imports: "
        f"`python -m mixsynth --help` takes {start_mix:.2f} s, `import numpy, pyarrow.parquet` "
        f'{start_floor:.2f} s (best of 3); "after start-up" subtracts these. CPU is user + '
        "system seconds of the process, all its threads (the least of the runs): on a shared, "
        "loaded machine it moves less than wall time.\n\n"
        + table(
            [
                "source rows",
                "output rows",
                "floor time",
                "floor CPU",
                "floor peak RSS",
                "mixsynth time",
                "mixsynth CPU",
                "mixsynth peak RSS",
                "mixsynth / floor",
                "after start-up",
                "CPU / floor CPU",
            ],
            rows,
        )
        + f"\n\n{fmt_rows(big)} rows: `--jobs 1` {one.wall:.2f} s ({one.cpu:.2f} s CPU), all {cores} "
        f"cores {mine[big].wall:.2f} s ({mine[big].cpu:.2f} s CPU): **{speedup:.2f}× faster** with "
        f"{cores} cores. Peak RSS at "
        f"{fmt_rows(big)} rows / at {fmt_rows(small)} rows: **{flat:.2f}×** (flat in `-n`).\n\n"
        + bound
    )


START_ROWS = 1000


def floor_bound(src: Path, work: Path, big: int, small: int, one: Run, floors: dict[int, Run], cores: int) -> str:
    """What the targets of 1.5× the floor and of ``--jobs`` scaling need, from costs measured here.

    A run is a serial part (imports, reading, fitting: a run of :data:`START_ROWS` rows) plus
    work that grows with the rows: one job's CPU per row (``--jobs 1`` at ``big`` rows less
    the serial part), of which the Parquet write (the floor's CPU per row, from its two
    sizes) runs on one thread. The best any split over ``cores`` can do is the serial part
    plus the larger of the write and the per-row work divided by the cores; no sharing
    cost, no hand-off. The same with ``--repair none`` (no anchoring) says how much of the
    distance is the anchoring's.
    """
    out = work / "mix.parquet"
    start = best(mixsynth(src, "-n", START_ROWS, "-o", out, "--seed", 0, "-q"), "start-up")
    plain = best(mixsynth(src, "-n", big, "-o", out, "--seed", 0, "-q", "--jobs", 1, "--repair", "none"),
                 "--repair none")
    per = (big - START_ROWS) / 1e6  # millions of rows that the per-row costs cover
    write = (floors[big].cpu - floors[small].cpu) / ((big - small) / 1e6)
    work_cpu = (one.cpu - start.cpu) / per
    plain_cpu = (plain.cpu - start.cpu) / per
    target = 1.5 * floors[big].wall

    def best_wall(cpu: float) -> float:
        return start.wall + max(write, cpu / cores) * big / 1e6

    allowed = (target - start.wall) * cores / (big / 1e6)
    jobs_best = one.wall / (start.wall + (one.wall - start.wall) / cores)
    return (
        f"**What the targets need** (from this run; `floor_bound` in `benchmarks/run.py`). The serial "
        f"part (imports, reading, fitting: `-n {START_ROWS}`) takes {start.wall:.2f} s; one job spends "
        f"{work_cpu:.2f} s of CPU per 10⁶ rows on top of it ({plain_cpu:.2f} s with `--repair none`, no "
        f"anchoring), of which the Parquet write is about {write:.2f} s (the floor's CPU per 10⁶ rows). "
        f"Split perfectly over {cores} cores, with no cost for sharing them and the write on one thread, "
        f"{fmt_rows(big)} rows would take at best {best_wall(work_cpu):.2f} s "
        f"(**{best_wall(work_cpu) / floors[big].wall:.2f}× the floor**; {best_wall(plain_cpu):.2f} s, "
        f"{best_wall(plain_cpu) / floors[big].wall:.2f}×, without anchoring). 1.5× the floor "
        f"({target:.2f} s) would leave {allowed:.2f} s of CPU per 10⁶ rows on {cores} cores"
        + (" (less than the serial part alone)" if allowed <= 0 else "")
        + f". With the serial part as it is, `--jobs {cores}` can be at most **{jobs_best:.2f}×** "
        f"faster than `--jobs 1` ({one.wall:.2f} s)."
    )


def section_codecs(work: Path, sizes: dict) -> str:
    src, m = BASE, sizes["codecs_n"]
    rows = []
    for codec in ("zstd", "snappy", "lz4", "none"):
        out = work / f"codec_{codec}.parquet"
        mine = best(mixsynth(src, "-n", m, "-o", out, "--seed", 0, "-q", "--compression", codec), codec)
        floor = floor_run(src, out, work, m, codec)
        rows.append(
            [
                f"`--compression {codec}`",
                f"{mine.wall:.2f} s",
                f"{floor.wall:.2f} s",
                f"{mine.wall / floor.wall:.2f}×",
                f"{out.stat().st_size / 2**20:.1f} MiB",
                f"{out.stat().st_size / m:.2f}",
            ]
        )
    same = all(
        pq.read_table(work / f"codec_{c}.parquet").equals(pq.read_table(work / "codec_zstd.parquet"))
        for c in ("snappy", "lz4", "none")
    )
    return (
        f"## 2. Codecs\n\n`tests/data/randhie.parquet` to {fmt_rows(m)} rows, "
        f"{ROW_GROUP:,}-row row groups; each codec's floor writes with that codec. The rows are "
        f"the same for every codec: {'yes' if same else '**no**'}.\n\n"
        + table(["codec", "mixsynth time", "floor time", "mixsynth / floor", "file size", "bytes per row"], rows)
    )


def section_peers(work: Path, sizes: dict) -> str:
    real = pq.read_table(BASE)
    src = BASE
    if sizes["peers_rows"]:
        src = work / "peers_input.parquet"
        pq.write_table(real.slice(0, sizes["peers_rows"]), src)
        real = real.slice(0, sizes["peers_rows"])
    n = real.num_rows
    tools = [
        (
            "mixsynth (EpBeta, variance-preserving; default)",
            mixsynth(src, "-n", n, "-o", work / "p_mix.parquet", "--seed", 0, "-q"),
            work / "p_mix.parquet",
        ),
        (
            "mixsynth `-w uniform` (plain Mixup weights)",
            mixsynth(
                src, "-n", n, "-o", work / "p_uni.parquet", "--seed", 0, "-q", "-w", "uniform"
            ),
            work / "p_uni.parquet",
        ),
        (
            "SDV GaussianCopula (fit + sample)",
            task("sdv", src, work / "p_sdv.parquet", n),
            work / "p_sdv.parquet",
        ),
        (
            "imbalanced-learn SMOTE (label `hlthg`)",
            task("smote", src, work / "p_smote.parquet", n),
            work / "p_smote.parquet",
        ),
        (
            "scikit-bio `skbio.table.mixup` (α=2)",
            task("skbio", src, work / "p_skbio.parquet", n),
            work / "p_skbio.parquet",
        ),
    ]
    rows, notes = [], []
    for name, cmd, out in tools:
        run = measure(cmd)
        if run.rc != 0:
            last = (run.err.strip().splitlines() or ["no message"])[-1]
            rows.append([name, "failed", "", f"{run.rss_mb:.0f} MB", "", "", "", "", ""])
            notes.append(f"- {name}: exit {run.rc}: `{last}`")
            continue
        inner = json.loads(run.out)["seconds"] if run.out.strip().startswith("{") else None
        q = quality(real, out)
        rows.append(
            [
                name,
                f"{run.wall:.2f} s",
                f"{inner:.2f} s" if inner is not None else "(= wall)",
                f"{run.rss_mb:.0f} MB",
                f"{q['variance_ratio_median']:.3f} "
                f"[{q['variance_ratio_min']:.3f}, {q['variance_ratio_max']:.3f}]",
                f"{q['cov_rel_error']:.3f}",
                f"{q['corr_mean_abs_diff']:.3f}",
                f"{q['ks_mean']:.3f}",
                f"{q['exact_copy_fraction']:.4f}",
            ]
        )
    text = (
        f"## 3. Peers\n\nSame Parquet input for all: `tests/data/randhie.parquet`"
        f"{' (first ' + fmt_rows(n) + ' rows)' if sizes['peers_rows'] else ''}, "
        f"{fmt_rows(n)} rows in, "
        f"{fmt_rows(n)} synthetic rows out. Quality from `mixsynth.diagnose.diagnose(real, synth, "
        f"columns={NUMERIC})` (the six numeric columns, since SMOTE and scikit-bio return floats "
        "only): variance ratio synthetic/real (median [min, max]; 1 is ideal), relative Frobenius "
        "error of the covariance, mean |Δ correlation|, mean Kolmogorov–Smirnov statistic, share "
        'of synthetic rows that copy a real row. "work" excludes interpreter start and imports '
        "(mixsynth: wall only).\n\n"
        + table(
            [
                "tool",
                "wall time",
                "work",
                "peak RSS",
                "variance ratio",
                "cov. error",
                "mean abs Δcorr",
                "KS mean",
                "exact copies",
            ],
            rows,
        )
    )
    return text + ("\n\n" + "\n".join(notes) if notes else "")


def section_growth(work: Path, inputs: dict[int, Path], sizes: dict) -> str:
    src = inputs[sizes["input"]]
    rows = []
    for m in sizes["growth_n"]:
        run = best(mixsynth(src, "-n", m, "-o", work / "g.parquet", "--seed", 0, "-q"), "growth")
        rows.append(
            [
                fmt_rows(sizes["input"]),
                fmt_rows(m),
                f"{run.wall:.2f} s",
                f"{run.rss_mb:.0f} MB",
                f"{m / run.wall:,.0f} rows/s",
            ]
        )
    m = sizes["growth_input"][1]
    for n in sizes["growth_input"]:
        run = best(
            mixsynth(inputs[n], "-n", m, "-o", work / "g.parquet", "--seed", 0, "-q"), "growth"
        )
        rows.append(
            [
                fmt_rows(n),
                fmt_rows(m),
                f"{run.wall:.2f} s",
                f"{run.rss_mb:.0f} MB",
                f"{m / run.wall:,.0f} rows/s",
            ]
        )
    return (
        "## 4. Growth\n\nFirst rows: fixed input, more output rows (peak RSS should stay flat in "
        "`-n`: output is written block by block). Last rows: more input rows, fixed output (the "
        "encoded source is held in memory, so RSS grows with the input).\n\n"
        + table(["input rows", "output rows", "time", "peak RSS", "throughput"], rows)
    )


def default_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _same_rows(a: pa.Table, b: pa.Table) -> bool:
    return a.num_rows == b.num_rows and all(
        a.column(i).equals(b.column(i)) for i in range(a.num_columns)
    )


def section_cores(work: Path, inputs: dict[int, Path], sizes: dict) -> str:
    src, m = inputs[sizes["input"]], sizes["cores_n"]
    rows = []
    local = {}
    for jobs in (1, 2):
        out = work / f"jobs{jobs}.parquet"
        run = best(mixsynth(src, "-n", m, "-o", out, "--seed", 0, "-q", "--jobs", jobs), "jobs")
        local[jobs] = run
        rows.append([f"local engine, `--jobs {jobs}`", f"{run.wall:.2f} s", f"{run.rss_mb:.0f} MB"])
    speedup = local[1].wall / local[2].wall
    parts = work / "partitioned"
    parts.mkdir()
    t = pq.read_table(src)
    step = -(-t.num_rows // 4)
    for i in range(4):
        pq.write_table(t.slice(i * step, step), parts / f"part-{i}.parquet", row_group_size=65_536)
    del t
    run_local = best(
        mixsynth(parts, "-n", m, "-o", work / "dir_local.parquet", "--seed", 0, "-q"), "local dir"
    )
    rows.append(
        [
            "local engine, same 4-file dataset, default jobs",
            f"{run_local.wall:.2f} s",
            f"{run_local.rss_mb:.0f} MB",
        ]
    )
    runs = []
    for i in range(REPEAT):
        out = work / f"dask_out{i}"
        runs.append(
            checked(
                measure(mixsynth(parts, "-n", m, "-o", out, "--seed", 0, "-q", "--engine", "dask")),
                "dask",
            )
        )
    run_dask = min(runs, key=lambda r: r.wall)
    run_dask.rss_mb = max(r.rss_mb for r in runs)
    rows.append(
        [
            "Dask engine, LocalCluster (2 worker processes, 1 thread each; started by the command)",
            f"{run_dask.wall:.2f} s",
            f"{run_dask.rss_mb:.0f} MB (largest process)",
        ]
    )
    same = run_dask.rc == 0 and _same_rows(
        ds.dataset(work / "dask_out0").to_table(), pq.read_table(work / "dir_local.parquet")
    )
    return (
        f"## 5. Cores and engines\n\n{fmt_rows(sizes['input'])} input rows, "
        f"{fmt_rows(m)} output rows. `--jobs 2` vs `--jobs 1`: speed-up {speedup:.2f}× "
        "(time with 1 job / time with 2). Dask engine output identical to the local "
        f"engine's for the same seed: {'yes' if same else '**no**'}.\n\n"
        + table(["engine", "time", "peak RSS"], rows)
    )


SECTIONS = ("floor", "codecs", "peers", "growth", "cores", "gpu")
BEGIN, END = "<!-- benchmarks/run.py: begin -->", "<!-- benchmarks/run.py: end -->"


def write_results(path: Path, report: str) -> None:
    """Put the report between its markers in ``path``, keeping other sections of the file."""
    block = f"{BEGIN}\n{report}{END}\n"
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        new = block + ("\n" + old if old else "")
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers (SDV, SMOTE, scikit-bio)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="also write the report (with the machine) to this Markdown file",
    )
    args = parser.parse_args()
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    if args.no_peers:
        wanted = [s for s in wanted if s != "peers"]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; expected some of {', '.join(SECTIONS)}")
    sizes = QUICK if args.quick else FULL
    global REPEAT
    REPEAT = 1 if args.quick else 3
    t0 = time.perf_counter()
    load0 = f"{os.getloadavg()[0]:.2f}"
    work = Path(tempfile.mkdtemp(prefix="mixsynth-bench-"))
    try:
        needs_inputs = {"growth", "cores"} & set(wanted)
        inputs = build_inputs(work, [sizes["input"], *sizes["growth_input"]]) if needs_inputs else {}
        runners = {
            "floor": lambda: section_floor(work, sizes),
            "codecs": lambda: section_codecs(work, sizes),
            "peers": lambda: section_peers(work, sizes),
            "growth": lambda: section_growth(work, inputs, sizes),
            "cores": lambda: section_cores(work, inputs, sizes),
            "gpu": lambda: (
                "## GPU\n\nThe CuPy backend (`--backend cupy`) is measured on a CUDA machine by "
                "`python benchmarks/gpu.py` (results in `benchmarks/RESULTS_gpu.md`)."
            ),
        }
        sections = [runners[name]() for name in SECTIONS if name in wanted]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    minutes = (time.perf_counter() - t0) / 60
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    if wanted != list(SECTIONS):
        command += " --sections " + ",".join(wanted)
    load = (
        f"load average {load0} at the start, {os.getloadavg()[0]:.2f} at the end "
        "(the machine is shared)"
    )
    report = (
        f"# mixsynth benchmarks\n\n`{command}`, {minutes:.1f} minutes in all; {load}.\n\n"
        + machine()
        + "\n\n"
        + "\n\n".join(sections)
        + "\n"
    )
    print(report)
    if args.results:
        write_results(args.results, report)


if __name__ == "__main__":
    main()
