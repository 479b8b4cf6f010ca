"""Progress bars on stderr (rich), shown only on a terminal and never with ``--quiet``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from mixsynth.console import isatty as _isatty

__all__ = ["progress", "scanning"]

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def progress(items: Iterable[pa.Table], total: int, label: str, *, quiet: bool = False) -> Iterator[pa.Table]:
    """Yield ``items`` while a rich bar on stderr counts their rows (only on a TTY, not with --quiet)."""
    show = not quiet and _isatty(sys.stderr) and total >= 200_000
    columns = (TextColumn(label), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} rows"),
               TimeRemainingColumn())
    with Progress(*columns, console=_stderr, transient=True, disable=not show) as bar:
        task = bar.add_task(label, total=total)
        for item in items:
            yield item
            bar.advance(task, item.num_rows)


@contextlib.contextmanager
def scanning(*, quiet: bool = False) -> Iterator[None]:
    """A rich bar on stderr counting the rows diagnose has scanned (only on a TTY, not with
    --quiet): a large input otherwise sits silent for seconds."""
    from mixsynth.diagnose.stream import ROWS_SCANNED  # noqa: PLC0415

    show = not quiet and _isatty(sys.stderr)
    columns = (TextColumn("diagnose"), BarColumn(), TextColumn("{task.completed:,} rows scanned"),
               TimeElapsedColumn())
    with Progress(*columns, console=_stderr, transient=True, disable=not show) as bar:
        task = bar.add_task("diagnose", total=None)
        token = ROWS_SCANNED.set(lambda rows: bar.advance(task, rows))
        try:
            yield
        finally:
            ROWS_SCANNED.reset(token)
