"""``collapse-study`` output: NDJSON as records arrive, one JSON document, or rich tables;
and the progress bar on stderr. No computation here."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mixsynth.collapse.options import METRICS
from mixsynth.console import isatty
from mixsynth.errors import UsageError

__all__ = ["FORMATS", "StudyOutput", "study_progress", "utility_metrics"]

FORMATS = ("auto", "table", "json", "ndjson")


def utility_metrics(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """The utility scores present in ``records`` (``accuracy``, ``roc_auc``, ``log_loss`` or
    ``r2``, ``rmse``)."""
    for record in records:
        utility = record.get("utility")
        if utility:
            return [k for k in ("accuracy", "roc_auc", "log_loss", "r2", "rmse") if k in utility]
    return []


class StudyOutput:
    """Writes records as they come (``ndjson``) or all at the end (``json``, ``table``).

    Parameters
    ----------
    fmt : {"auto", "table", "json", "ndjson"}
        ``auto``: tables on a terminal, NDJSON otherwise (so pipes get a stream).
    stdout : text stream, optional
    """

    def __init__(self, fmt: str, stdout: IO[str] | None = None) -> None:
        if fmt not in FORMATS:
            msg = f"--format expects one of {', '.join(FORMATS)}, got {fmt!r}"
            raise UsageError(msg)
        self.out = stdout or sys.stdout
        self.fmt = ("table" if isatty(self.out) else "ndjson") if fmt == "auto" else fmt
        self.records: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        """Take one record; NDJSON prints it at once."""
        self.records.append(record)
        if self.fmt == "ndjson":
            print(json.dumps(record), file=self.out, flush=True)

    def finish(self, meta: dict[str, Any]) -> None:
        """Print the JSON document or the tables (NDJSON has nothing left to say)."""
        if self.fmt == "json":
            print(
                json.dumps({"study": meta, "records": self.records}, indent=1),
                file=self.out,
                flush=True,
            )
        elif self.fmt == "table":
            console = Console(file=self.out, highlight=False, soft_wrap=False)
            for title, table in tables(self.records, meta):
                console.print(Text(title, style="bold"))
                console.print(table)
            for note in meta.get("notes", []):
                console.print(f"note: {note}", style="dim")


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _grid(
    records: list[dict[str, Any]],
) -> tuple[list[str], list[int], dict[tuple[str, int], dict[str, Any]]]:
    names = list(dict.fromkeys(r["trajectory"] for r in records))
    rounds = sorted({r["round"] for r in records})
    return names, rounds, {(r["trajectory"], r["round"]): r for r in records}


def tables(records: list[dict[str, Any]], meta: Mapping[str, Any]) -> Iterator[tuple[str, Table]]:
    """A title and a table per metric: laws as columns, rounds as rows (a stopped law's
    cells blank)."""
    names, rounds, at = _grid(records)
    metrics: list[tuple[str, str | None]] = [(m, None) for m in METRICS]
    metrics[3:3] = [("predicted_total_variance_ratio", None), ("predicted_variance_factor", None)]
    metrics += [(u, "utility") for u in utility_metrics(records)]
    if any((r.get("utility") or {}).get("test_time_transform") for r in records):
        metrics += [(u, "test_time_transform") for u in utility_metrics(records)]
    for metric, block in metrics:
        title = metric if block is None else f"{block.replace('_', ' ')}: {metric}"
        if block == "utility":
            title += f" ({meta.get('model')}, trained on the round, tested on real rows)"
        table = Table()
        table.add_column("round", justify="right")
        for name in names:
            table.add_column(name, justify="right")
        real = block == "utility"
        if real:
            table.add_column("real", justify="right", style="dim")
        for r in rounds:
            row = [str(r)]
            for name in names:
                record = at.get((name, r))
                row.append(
                    _cell(_lookup(record, metric, block))
                    + (" (stop)" if record and record.get("stopped") else "")
                )
            if real:
                first = next(iter(at.values()))
                row.append(_cell(((first.get("utility") or {}).get("real") or {}).get(metric)))
            table.add_row(*row)
        yield title, table


def _lookup(record: Mapping[str, Any] | None, metric: str, block: str | None) -> Any:
    if record is None:
        return None
    if block is None:
        return record.get(metric)
    utility = record.get("utility") or {}
    if block == "utility":
        return utility.get(metric)
    return (utility.get("test_time_transform") or {}).get(metric)


class study_progress:  # noqa: N801 - used like a function: ``with study_progress(...) as bar``
    """One rich bar on stderr for the whole study, naming the current law and round.

    Shown only when stderr is a terminal. ``step(name, r)`` names the record being
    computed; ``advance()`` counts it done.
    """

    def __init__(self, total: int, rounds: int, stderr: IO[str] | None = None) -> None:
        err = stderr or sys.stderr
        self.rounds = rounds
        self.bar = Progress(
            TextColumn("collapse-study"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(file=err),
            transient=True,
            disable=not isatty(err),
        )
        self.task = self.bar.add_task("", total=total)

    def __enter__(self) -> study_progress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]

    def step(self, name: str, r: int) -> None:
        """Name the (law, round) now being computed."""
        self.bar.update(self.task, description=f"{name} · round {r}/{self.rounds}")

    def advance(self) -> None:
        """Count one record done."""
        self.bar.advance(self.task)
