"""Parsing of option strings shared by the CLI commands (counts, name lists, JSON files)
and the column selection they make."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mixsynth.errors import UsageError

__all__ = ["check_known", "load_json_object", "parse_count", "select_columns", "split_names"]


def parse_count(text: str, option: str = "-n", maximum: int | None = None) -> int:
    """A positive row count, written as ``1000``, ``1e6``, ``1_000_000`` or ``2.5e3``.

    Raises
    ------
    UsageError
        Not a number, not a whole number, not positive, or above ``maximum``.

    Examples
    --------
    >>> parse_count("1e6"), parse_count("1_000"), parse_count("2.5e3")
    (1000000, 1000, 2500)
    """
    clean = text.strip().replace("_", "")
    try:
        value = float(clean)
    except ValueError:
        msg = f"{option} expects a whole number of rows such as 1000 or 1e6, got {text!r}"
        raise UsageError(msg) from None
    if not math.isfinite(value) or value != int(value):
        msg = f"{option} expects a whole number of rows such as 1000 or 1e6, got {text!r}"
        raise UsageError(msg)
    if value < 1:
        msg = f"{option} must be at least 1, got {text!r}"
        raise UsageError(msg)
    count = int(clean) if clean.isdigit() else int(value)
    # Checked here, not only by the generator, so the message names the option and the
    # run stops before the source is read or any output is opened.
    if maximum is not None and count > maximum:
        msg = f"{option} must be at most {maximum}, got {text!r}"
        raise UsageError(msg)
    return count


def split_names(values: Sequence[str] | None) -> list[str] | None:
    """Column names from repeated and/or comma-separated options (``--exclude a,b --exclude c``).

    Examples
    --------
    >>> split_names(["a,b", " c "])
    ['a', 'b', 'c']
    """
    if not values:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def load_json_object(path: Path, option: str) -> dict[str, Any]:
    """A JSON object from a file named by ``option``.

    Raises
    ------
    UsageError
        Unreadable file, invalid JSON, or not a JSON object.
    """
    try:
        # Bytes, not text: json detects UTF-8/16/32 and their BOMs (PowerShell's ``>``
        # writes UTF-16), where read_text() would use the locale and raise a traceback.
        data = json.loads(Path(path).read_bytes())
    except OSError as exc:
        msg = f"cannot read {option} {str(path)!r}: {exc.strerror or exc}"
        raise UsageError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"{option} {str(path)!r} is not valid JSON: {exc.msg} at line {exc.lineno}"
        raise UsageError(msg) from None
    except UnicodeDecodeError as exc:
        msg = (f"{option} {str(path)!r} is not valid JSON: not UTF-8, UTF-16 or UTF-32 text "
               f"({exc.reason})")
        raise UsageError(msg) from None
    if not isinstance(data, dict):
        msg = f"{option} {str(path)!r} must hold a JSON object, got {type(data).__name__}"
        raise UsageError(msg)
    return data


def _names(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(names[:20])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


def check_known(available: Sequence[str], asked: Iterable[str], option: str) -> None:
    """Raise :class:`UsageError` naming ``option`` for the first name of ``asked`` not in
    ``available`` (the message lists up to 20 available names)."""
    for name in asked:
        if name not in available:
            msg = f"unknown column {name!r} in {option}; the source has: {_names(available)}"
            raise UsageError(msg)


def select_columns(
    available: Sequence[str],
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    target: str | None = None,
) -> list[str]:
    """Names to read and synthesise, in source order (``columns`` minus ``exclude``).

    The target is always kept. Unknown names raise :class:`UsageError`.

    Examples
    --------
    >>> select_columns(["a", "b", "c"], columns=["c", "a"], exclude=["c"])
    ['a']
    """
    check_known(available, columns or [], "--columns")
    check_known(available, exclude or [], "--exclude")
    check_known(available, [target] if target else [], "--target")
    if target and target in (exclude or []):
        msg = f"column {target!r} is both the --target and in --exclude"
        raise UsageError(msg)
    wanted = set(columns) if columns else set(available)
    wanted -= set(exclude or [])
    if target:
        wanted.add(target)
    chosen = [name for name in available if name in wanted]
    if not chosen:
        msg = "no columns selected: --columns/--exclude leave nothing to synthesise"
        raise UsageError(msg)
    return chosen
