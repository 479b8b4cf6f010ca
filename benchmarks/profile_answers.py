"""What handing a worker's answers to its parent costs: through the pipe, or the memory file.

    python benchmarks/profile_answers.py                  # randhie, 8e6 rows, 5 rounds
    python benchmarks/profile_answers.py --rows 4e6 --table sample_data/wine.parquet

A real answer (the first piece's table of ``Synthesizer.block`` on the default options,
seed 0, with its counts) is sent from a forked child to its parent as many times as the
rows ask, once pickled into the duplex pipe (how ``--jobs`` answered before
:mod:`mixsynth.engines.answers`) and once through :class:`~mixsynth.engines.answers.AnswerFile`,
the two alternating round by round. It prints the sender's and the receiver's CPU
seconds (``time.process_time``) and the wall time per way and round, the medians, and
checks that the last answer received equals the one sent.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import time
from multiprocessing.connection import Pipe
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mixsynth.engines.answers import AnswerFile  # noqa: E402
from mixsynth.engines.local import piece_rows  # noqa: E402
from mixsynth.options import SynthesisOptions  # noqa: E402
from mixsynth.synthesis.synthesizer import Synthesizer  # noqa: E402


def _one_way(answer: object, times: int, file: bool) -> tuple[float, float, float, bool]:
    """(sender CPU, receiver CPU, wall, last answer equal) for ``times`` answers."""
    ours, theirs = Pipe(duplex=True)
    said_r, said_w = os.pipe()
    answers = AnswerFile() if file else None
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            if answers is not None:
                answers.worker_side()
            c0 = time.process_time()
            for _ in range(times):
                if answers is not None:
                    answers.send(theirs, answer, parent)
                else:
                    theirs.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
            os.write(said_w, f"{time.process_time() - c0:.6f}".encode())
        finally:
            os._exit(0)
    theirs.close()
    os.close(said_w)
    if answers is not None:
        answers.parent_side()
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(times):
        if answers is not None:
            data, buffers = answers.receive(ours)
            got = pickle.loads(data, buffers=buffers)  # noqa: S301 - our own child
        else:
            got = pickle.loads(ours.recv_bytes())  # noqa: S301 - our own child
    received, wall = time.process_time() - c0, time.perf_counter() - w0
    sent = float(os.read(said_r, 64))
    os.waitpid(pid, 0)
    os.close(said_r)
    ours.close()
    if answers is not None:
        answers.close()
    return sent, received, wall, got[0].equals(answer[0])  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", default=str(ROOT / "tests" / "data" / "randhie.parquet"))
    parser.add_argument("--rows", type=float, default=8e6)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    synth = Synthesizer(pq.read_table(args.table), SynthesisOptions(seed=0))
    piece = piece_rows(synth.enc.X.shape[1])
    answer = synth.block(0, piece)
    times = max(1, round(args.rows / piece))
    print(f"{args.table}: {times} answers of {piece:,} rows ({answer[0].nbytes / 1e6:.2f} MB each)")
    results: dict[str, list[tuple[float, float, float, bool]]] = {"pipe": [], "memory file": []}
    for r in range(args.rounds):
        for way in results:
            got = _one_way(answer, times, way == "memory file")
            results[way].append(got)
            print(f"round {r + 1}, {way}: sender {got[0]:.3f} s, receiver {got[1]:.3f} s CPU, wall {got[2]:.3f} s")
    for way, runs in results.items():
        print(f"median, {way}: sender {statistics.median(x[0] for x in runs):.3f} s, receiver "
              f"{statistics.median(x[1] for x in runs):.3f} s CPU, wall {statistics.median(x[2] for x in runs):.3f} s; "
              f"answers equal: {all(x[3] for x in runs)}")


if __name__ == "__main__":
    main()
