"""Blocks on one thread, on worker threads and on forked worker processes (no writing).

    python benchmarks/profile_jobs.py                    # randhie, 2e6 rows, 3 rounds
    python benchmarks/profile_jobs.py --rows 4e6 --rounds 5 --table sample_data/wine.parquet
    python benchmarks/profile_jobs.py --rows 8e6 --write      # whole runs: blocks and the write

Each round runs every mode once, in turn (so a change in the machine's load hits all of
them alike), each in a fresh interpreter: ``Synthesizer.chunks`` on the default options,
seed 0, with one job, ``--jobs`` threads (``run_blocks(processes=False)``) and ``--jobs``
processes (:mod:`mixsynth.engines.processes`), consuming the tables without writing them
(``--write``: writing them as ``mixsynth generate`` does, zstd in 131 072-row row groups).
A fourth mode runs ``--jobs`` one-job interpreters side by side, each on its own, and
reports one's CPU: what the machine charges a computation for sharing it (caches, memory,
clock), which no way of splitting the work avoids. It prints wall seconds and CPU seconds
(user + system of the process and of the workers it waited for) per mode and round, the
medians, and checks that every mode made the same rows (a digest of the tables).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import hashlib, json, resource, sys, time
import pyarrow.parquet as pq
import mixsynth.synthesis.synthesizer as synthesizer
from mixsynth.engines.local import run_blocks
from mixsynth.options import SynthesisOptions

path, rows, jobs, mode = sys.argv[1], int(float(sys.argv[2])), int(sys.argv[3]), sys.argv[4]
synth = synthesizer.Synthesizer(pq.read_table(path), SynthesisOptions(seed=0))
if mode == "threads":  # the synthesizer's own run_blocks, told not to fork
    synthesizer.run_blocks = lambda *a, **k: run_blocks(*a, **{**k, "processes": False})
digest = hashlib.sha256()
t0 = time.perf_counter()
c0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
writer = None
for table in synth.chunks(rows, 131072, 1 if mode == "one" else jobs):
    if sys.argv[5] != "-":  # --write: as mixsynth generate writes (zstd, one row group per chunk)
        writer = writer or pq.ParquetWriter(sys.argv[5], table.schema, compression="zstd")
        writer.write_table(table, row_group_size=table.num_rows)
    for column in table.columns:
        for chunk in column.chunks:
            for buf in chunk.buffers():
                if buf is not None:
                    digest.update(buf)
if writer is not None:
    writer.close()
wall = time.perf_counter() - t0
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime - c0 + kids.ru_utime + kids.ru_stime
print(json.dumps({"wall": wall, "cpu": cpu, "digest": digest.hexdigest()[:16]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", default=str(ROOT / "tests" / "data" / "randhie.parquet"))
    parser.add_argument("--rows", type=float, default=2e6)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="also write the Parquet output (a whole run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        _run(args, work)


def _run(args: argparse.Namespace, work: str) -> None:
    modes = ["one", "threads", "processes", "side by side"]
    got: dict[str, list[dict[str, float | str]]] = {m: [] for m in modes}
    for r in range(args.rounds):
        for mode in modes:
            # "side by side": --jobs one-job interpreters at once, each on its own: what
            # running that many independent computations costs this machine per run.
            count, child = (args.jobs, "one") if mode == "side by side" else (1, mode)
            cmd = [sys.executable, "-c", CHILD, args.table, str(args.rows), str(args.jobs), child]
            procs = [subprocess.Popen(cmd + [str(Path(work) / f"{i}.parquet") if args.write else "-"],
                                      stdout=subprocess.PIPE, text=True, cwd=ROOT) for i in range(count)]
            runs = [json.loads(p.communicate()[0]) for p in procs]
            if any(p.returncode for p in procs):
                msg = f"{mode} failed"
                raise SystemExit(msg)
            # Side by side: the slowest one's wall time, one interpreter's CPU (the mean).
            got[mode].append({"wall": max(x["wall"] for x in runs), "cpu": sum(x["cpu"] for x in runs) / count,
                              "digest": runs[0]["digest"]})
            print(f"round {r + 1} {mode:12s} wall {got[mode][-1]['wall']:.2f} s  CPU {got[mode][-1]['cpu']:.2f} s",
                  flush=True)
    digests = {run["digest"] for runs in got.values() for run in runs}
    rows = int(args.rows)
    what = "blocks and the zstd Parquet write" if args.write else "blocks only"
    print(f"\n{Path(args.table).name}, {rows:,} rows, {what}, --jobs {args.jobs}, medians of {args.rounds} "
          f"(load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    print("| mode | wall | CPU | speed-up over one job |\n|---|---|---|---|")
    one = statistics.median(float(run["wall"]) for run in got["one"])
    for mode in modes:
        wall = statistics.median(float(run["wall"]) for run in got[mode])
        cpu = statistics.median(float(run["cpu"]) for run in got[mode])
        name = {"one": "one job", "threads": f"{args.jobs} threads", "processes": f"{args.jobs} processes",
                "side by side": f"{args.jobs} one-job runs side by side (each)"}[mode]
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {one / wall:.2f}× |")
    print("same rows in every mode" if len(digests) == 1 else f"DIFFERENT ROWS: {sorted(digests)}")


if __name__ == "__main__":
    main()
