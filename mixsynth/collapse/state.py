"""``--output-dir``: each round's Parquet, ``trajectory.json``, and ``--resume``.

Layout::

    DIR/trajectory.json                 settings, split sizes, every finished record
    DIR/split/train.parquet, test.parquet   the real split (round 0 and the test rows)
    DIR/rounds/<trajectory>/round-001.parquet ...

A round's Parquet is written (atomically) before its record, and ``trajectory.json`` is
rewritten (atomically) after every record, so an interrupted study keeps every completed
round, and a record on disk always has its round's rows beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import zlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mixsynth import io
from mixsynth.console import first_line
from mixsynth.errors import InputError, UsageError

__all__ = ["TRAJECTORY_FILE", "StudyState"]

TRAJECTORY_FILE = "trajectory.json"


def _slug(name: str) -> str:
    """A file-system-safe, collision-free directory name for a trajectory.

    Examples
    --------
    >>> _slug("beta:1,1")
    'beta_1_1-c853f631'
    """
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "law"
    return f"{clean[:60]}-{zlib.crc32(name.encode()):08x}"


def _unwritable(path: Path, exc: OSError) -> InputError:
    msg = f"cannot write --output-dir {str(path)!r}: {exc.strerror or exc}"
    return InputError(msg)


def _layout_problem(stored: Any) -> str | None:
    """What is wrong with a parsed ``trajectory.json``, or None if every part that a resume
    reads has its type (a record is replayed as it is, so each must be the round's)."""
    if not isinstance(stored, dict):
        return f"expected a JSON object, got {type(stored).__name__}"
    for part in ("params", "source"):
        if not isinstance(stored.get(part, {}), dict):
            return f"{part!r} is not an object"
    entries = stored.get("trajectories")
    if not isinstance(entries, list):
        return "'trajectories' is missing or not a list"
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            return f"trajectory {i} has no name"
        records = entry.get("records")
        if not isinstance(records, list):
            return f"trajectory {entry['name']!r} has no list of records"
        for r, record in enumerate(records):
            if not isinstance(record, dict) or record.get("round") != r:
                return f"record {r} of {entry['name']!r} is not the record of round {r}"
    return None


class StudyState:
    """The files of one study in ``root``.

    Parameters
    ----------
    root : str or Path
    header : dict
        ``{"params": ..., "source": ...}``: what determines the numbers. On resume the
        stored header must equal it.
    resume : bool
        Continue the study stored in ``root`` (a missing one starts fresh).

    Raises
    ------
    UsageError
        ``root`` holds a study and ``resume`` is false, or a stored study was made with
        other settings or another table.
    InputError
        ``root`` cannot be created or written.
    """

    def __init__(self, root: str | Path, header: dict[str, Any], *, resume: bool) -> None:
        self.root = Path(root)
        self.header = header
        self.records: dict[str, list[dict[str, Any]]] = {}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".probe.", dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise _unwritable(self.root, exc) from None
        stored = self._read()
        if stored is not None and not resume:
            msg = (
                f"{str(self.root)!r} already holds a study ({TRAJECTORY_FILE}); pass --resume to "
                "continue it, or choose another --output-dir"
            )
            raise UsageError(msg)
        if stored is not None:
            self._check(stored)
            for entry in stored["trajectories"]:
                self.records[entry["name"]] = list(entry["records"])
        self.resumed = stored is not None

    def _read(self) -> dict[str, Any] | None:
        path = self.root / TRAJECTORY_FILE
        if not path.exists():
            return None
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            msg = f"cannot read {str(path)!r} to resume: {exc.strerror or exc}"
            raise InputError(msg) from None
        except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
            raise self._damaged(path, first_line(exc)) from None
        problem = _layout_problem(stored)
        if problem is not None:
            raise self._damaged(path, problem)
        return stored

    def _damaged(self, path: Path, problem: str) -> InputError:
        msg = (
            f"cannot resume from {str(path)!r}: the file is damaged ({problem}); remove "
            f"{str(self.root)!r} or choose another --output-dir to start afresh"
        )
        return InputError(msg)

    def _check(self, stored: dict[str, Any]) -> None:
        for part in ("params", "source"):
            old, new = stored.get(part) or {}, self.header[part]
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    msg = (
                        f"cannot resume the study in {str(self.root)!r}: it was made with "
                        f"{key}={old.get(key)!r}, this run has {key}={new.get(key)!r}"
                    )
                    raise UsageError(msg)

    def stored(self, name: str, r: int) -> dict[str, Any] | None:
        """The finished record of ``name`` at round ``r``, if on disk."""
        records = self.records.get(name, [])
        return records[r] if r < len(records) else None

    def round_path(self, name: str, r: int) -> Path:
        """Where round ``r`` of ``name`` is kept."""
        return self.root / "rounds" / _slug(name) / f"round-{r:03d}.parquet"

    def write_table(self, path: Path, table: pa.Table) -> None:
        """Write ``table`` to ``path`` (atomically), creating its directory."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unwritable(path.parent, exc) from None
        io.write_parquet(str(path), table.schema, [table])

    def load(self, name: str, r: int) -> pa.Table:
        """Round ``r`` of ``name`` as written.

        Raises
        ------
        InputError
            The file is missing or unreadable (the study cannot be resumed).
        """
        path = self.round_path(name, r)
        try:
            return pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            msg = f"cannot resume: round {r} of {name!r} ({str(path)!r}) is unreadable: {exc}"
            raise InputError(msg) from None

    def add(self, name: str, record: dict[str, Any], table: pa.Table | None) -> None:
        """Keep ``table`` (round ``record["round"]``) and ``record``; rewrite the JSON."""
        if table is not None:
            self.write_table(self.round_path(name, record["round"]), table)
        records = self.records.setdefault(name, [])
        del records[record["round"] :]
        records.append(record)
        self.save(complete=False)

    def save(self, *, complete: bool, extra: dict[str, Any] | None = None) -> None:
        """Rewrite ``trajectory.json`` atomically."""
        doc = {
            **self.header,
            **(extra or {}),
            "complete": complete,
            "trajectories": [
                {
                    "name": n,
                    "dir": str(self.round_path(n, 0).parent.relative_to(self.root)),
                    "records": recs,
                }
                for n, recs in self.records.items()
            ],
        }
        path = self.root / TRAJECTORY_FILE
        tmp = None
        try:
            tmp = io.temp_file(path)
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=1)
            os.replace(tmp, path)
        except OSError as exc:
            raise _unwritable(self.root, exc) from None
        finally:
            # A full disk or a file-size limit stops the dump half-way: the old file stays
            # whole, and its half-written replacement must not stay beside it.
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
