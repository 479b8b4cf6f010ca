"""CPU time of the marginal anchoring (``Anchor.apply``) per 16 384-row piece, and a digest of
what it wrote (benchmarks/PROFILE.md, "Anchoring").

    python benchmarks/profile_anchor.py                       # randhie, 64 pieces, best of 5
    python benchmarks/profile_anchor.py --all --pieces 8      # digests of every bundled table
    python benchmarks/profile_anchor.py --all --baseline 91a8deb   # against anchor.py there
    python benchmarks/profile_anchor.py --steps 2000000 --baseline 91a8deb   # a whole run by step

The blocks are made by ``Synthesizer.block`` with the default options (so the anchoring is
stratified per logical block, as in ``mixsynth generate``); the arguments of every
``Anchor.apply`` call are recorded, then the calls are replayed on copies and timed with
``time.process_time`` (CPU seconds of this process, single thread: the figures hold on a
loaded machine where wall times do not). The digest is a SHA-256 of the mapped rows of all
pieces: run it before and after a change to ``anchor.py`` to check the output is the same,
bit for bit. ``--baseline REV`` loads ``mixsynth/synthesis/anchor.py`` and its ``anchor_*.py`` modules
as they were at the git revision REV beside the current ones, replays the same calls with
both (alternately, so that a change in the machine's load hits both alike), and checks that
both wrote the same bytes.

``--steps ROWS`` times a whole run instead, step by step: ``Synthesizer.chunks`` with one
job, the draws, the kernel, the anchoring, the bounds, the taken rows and the decoding
wrapped with CPU timers (the rest of a block, null fill and slicing, is "other"), and the
Parquet write (zstd, 131 072-row row groups, into memory), per 10^6 output rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib
import importlib.abc
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mixsynth.options import DEFAULT_CHUNK_ROWS, SynthesisOptions  # noqa: E402
from mixsynth.synthesis.synthesizer import Synthesizer  # noqa: E402

#: The module whose names the profile wraps.
generate = sys.modules[Synthesizer.__module__]

TABLES = sorted((ROOT / "sample_data").glob("*.parquet")) + sorted((ROOT / "tests" / "data").glob("*.parquet"))
PIECE = 16_384


class _Recorder:
    """Stands in for the fitted Anchor: keeps a copy of each call's arguments, then applies."""

    def __init__(self, anchor: Any) -> None:
        self.anchor = anchor
        self.calls: list[tuple[Any, ...]] = []

    def apply(self, Y: np.ndarray, *args: Any) -> None:
        self.calls.append((Y.copy(), *args))
        self.anchor.apply(Y, *args)


def recorded_calls(path: Path, pieces: int, seed: int) -> tuple[Any, list[tuple[Any, ...]]]:
    synth = Synthesizer(pq.read_table(path), SynthesisOptions(seed=seed, nan="skip"))
    if synth.anchor is None:
        return None, []
    rec = _Recorder(synth.anchor)
    # The held rows carry the anchoring that blocks apply.
    synth.anchor = synth.whole.anchor = rec  # type: ignore[assignment,union-attr]
    synth.total_rows = pieces * PIECE
    for i in range(pieces):
        synth.block(i * PIECE, (i + 1) * PIECE)
    return rec.anchor, rec.calls


def replay(anchor: Any, calls: list[tuple[Any, ...]]) -> tuple[float, str]:
    """CPU seconds of all the calls, and the digest of their outputs."""
    digest = hashlib.sha256()
    spent = 0.0
    for Y0, *args in calls:
        Y = Y0.copy()
        t0 = time.process_time()
        anchor.apply(Y, *args)
        spent += time.process_time() - t0
        digest.update(np.ascontiguousarray(Y).tobytes())
    return spent, digest.hexdigest()[:16]


class _RevisionFinder(importlib.abc.MetaPathFinder):
    """Finds ``mixsynth.<name>`` in ``files`` (name -> path) before the installed package."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        name = fullname.removeprefix("mixsynth.")
        if fullname.startswith("mixsynth.") and name in self.files:
            return importlib.util.spec_from_file_location(fullname, self.files[name])
        return None


def baseline_module(rev: str) -> Any:
    """``mixsynth/synthesis/anchor.py`` as it was at the git revision ``rev``, as a module of its own.

    The anchoring's other modules (``mixsynth/anchor_*.py``: the column maps, the exclusive
    sets) are taken at ``rev`` too, so that the baseline's maps are evaluated by the code of
    ``rev`` and not by the current one; the current modules are put back afterwards."""
    listed = subprocess.run(["git", "ls-tree", "--name-only", rev, "mixsynth/"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    folder = Path(tempfile.mkdtemp())
    files = {}
    for name in listed:
        stem = Path(name).stem
        if name.endswith(".py") and (stem == "anchor" or stem.startswith("anchor_")):
            text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True,
                                  capture_output=True, text=True).stdout
            files[stem] = folder / Path(name).name
            files[stem].write_text(text)
    package = sys.modules["mixsynth"]
    # Importing sets the modules and the package's attributes of those names: both come back.
    current = {stem: sys.modules.pop(f"mixsynth.{stem}", None) for stem in files}
    finder = _RevisionFinder(files)
    sys.meta_path.insert(0, finder)
    try:
        module = importlib.import_module("mixsynth.synthesis.anchor")
    finally:
        sys.meta_path.remove(finder)
        for stem, old in current.items():
            if old is None:
                sys.modules.pop(f"mixsynth.{stem}", None)
                if hasattr(package, stem):
                    delattr(package, stem)
            else:
                sys.modules[f"mixsynth.{stem}"] = old
                setattr(package, stem, old)
    sys.modules["anchor_baseline"] = module
    return module


def convert(anchor: Any, module: Any) -> Any:
    """The fitted ``anchor`` as the classes of ``module`` (the same maps and checks)."""
    maps = {j: module.ColumnMap(**{f.name: getattr(m, f.name) for f in dataclasses.fields(m)})
            for j, m in anchor.maps.items()}
    return module.Anchor(maps, anchor.check, tuple(convert(s, module) for s in anchor.by_group),
                         anchor.row_group)


class _Timed:
    """``fn`` with the CPU seconds of its calls added to ``spent[name]``."""

    def __init__(self, fn: Any, name: str, spent: dict[str, float]) -> None:
        self.fn, self.name, self.spent = fn, name, spent

    def __call__(self, *args: Any, **kw: Any) -> Any:
        t0 = time.process_time()
        try:
            return self.fn(*args, **kw)
        finally:
            self.spent[self.name] = self.spent.get(self.name, 0.0) + time.process_time() - t0


def steps(path: Path, rows: int, seed: int, anchor_module: Any = None) -> dict[str, float]:
    """CPU seconds per 10^6 rows of each step of a one-job run of ``rows`` rows."""
    spent: dict[str, float] = {}
    synth = Synthesizer(pq.read_table(path), SynthesisOptions(seed=seed, nan="skip"))
    if synth.anchor is not None:
        if anchor_module is not None:
            synth.anchor = synth.whole.anchor = convert(synth.anchor, anchor_module)  # type: ignore[union-attr]
        # A frozen dataclass: the instance's attribute is set past its __setattr__.
        object.__setattr__(synth.anchor, "apply", _Timed(synth.anchor.apply, "anchoring (Anchor.apply)", spent))
    synth.whole.mixer = _Timed(synth.whole.mixer, "kernel (Mixer)", spent)  # type: ignore[assignment,union-attr]
    synth._taken_rows = _Timed(synth._taken_rows, "taken rows", spent)  # type: ignore[method-assign]
    block = _Timed(synth.block, "block", spent)
    synth.block = block  # type: ignore[method-assign]
    saved = {name: getattr(generate, name) for name in ("draw", "apply_bounds", "decode", "balance_choice")}
    labels = {"draw": "draws", "apply_bounds": "bounds", "decode": "decode to Arrow",
              "balance_choice": "balanced parent choice"}
    try:
        for name, fn in saved.items():
            setattr(generate, name, _Timed(fn, labels[name], spent))
        sink = pa.BufferOutputStream()
        writer = None
        for table in synth.chunks(rows, DEFAULT_CHUNK_ROWS, 1):
            if writer is None:
                writer = pq.ParquetWriter(sink, table.schema, compression="zstd")
            t0 = time.process_time()
            writer.write_table(table, row_group_size=DEFAULT_CHUNK_ROWS)
            spent["Parquet write, zstd"] = spent.get("Parquet write, zstd", 0.0) + time.process_time() - t0
        assert writer is not None
        writer.close()
    finally:
        for name, fn in saved.items():
            setattr(generate, name, fn)
    total_block = spent.pop("block")
    spent["other (null fill, slicing)"] = total_block - sum(
        v for k, v in spent.items() if k != "Parquet write, zstd")
    spent["total"] = total_block + spent["Parquet write, zstd"]
    return {k: v * 1e6 / rows for k, v in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", default=str(ROOT / "tests" / "data" / "randhie.parquet"))
    parser.add_argument("--all", action="store_true", help="every table in sample_data and tests/data")
    parser.add_argument("--pieces", type=int, default=64, help="16 384-row pieces per table")
    parser.add_argument("--repeat", type=int, default=5, help="replays; the fastest is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", metavar="REV", help="also time anchor.py at this git revision")
    parser.add_argument("--steps", type=float, metavar="ROWS", help="time a whole run of ROWS rows by step")
    args = parser.parse_args()
    paths = TABLES if args.all else [Path(args.table)]
    base = baseline_module(args.baseline) if args.baseline else None
    if args.steps:
        for path in paths:
            runs = {"now": None} | ({args.baseline: base} if base else {})
            best: dict[str, dict[str, float]] = {}
            for _ in range(args.repeat):
                for name, module in runs.items():
                    got = steps(path, int(args.steps), args.seed, module)
                    best[name] = {k: min(v, best.get(name, {}).get(k, float("inf"))) for k, v in got.items()}
            print(f"{path.name}, {int(args.steps):,} rows, one job: CPU seconds per 10^6 rows (best of {args.repeat})")
            print("| step | " + " | ".join(best) + " |\n|---|" + "---|" * len(best))
            for k in best["now"]:
                print(f"| {k} | " + " | ".join(f"{b.get(k, 0.0):.3f}" for b in best.values()) + " |")
        return
    for path in paths:
        anchor, calls = recorded_calls(path, args.pieces, args.seed)
        if not calls:
            print(f"{path.name}: not anchored")
            continue
        anchors = {"now": anchor} | ({args.baseline: convert(anchor, base)} if base else {})
        spent: dict[str, float] = {}
        digests = set()
        for _ in range(args.repeat):
            for name, a in anchors.items():
                s, d = replay(a, calls)
                spent[name] = min(spent.get(name, float("inf")), s)
                digests.add(d)
        same = "" if len(digests) == 1 else " DIFFERENT OUTPUT"
        times = ", ".join(f"{name} {1e3 * s / len(calls):.2f} ms" for name, s in spent.items())
        ratio = f" ({spent[args.baseline] / spent['now']:.2f}x)" if base else ""
        print(f"{path.name}: {len(calls)} pieces; Anchor.apply CPU per {PIECE:,}-row piece: {times}{ratio}; "
              f"now {spent['now'] / (len(calls) * PIECE) * 1e6:.3f} s per 10^6 rows; digest "
              f"{'/'.join(sorted(digests))}{same}")


if __name__ == "__main__":
    main()
