"""Small helpers for talking to people: terminal detection and one-line error text."""

from __future__ import annotations

__all__ = ["first_line", "isatty"]


def isatty(stream: object) -> bool:
    """Whether ``stream`` is a terminal; False for objects without ``isatty``, closed streams
    and streams whose ``isatty`` fails (OSError).

    Examples
    --------
    >>> import io
    >>> isatty(io.StringIO()), isatty(object())
    (False, False)
    """
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty).

    Library errors (pyarrow, cupy) can span many lines; ``Error: ...`` must stay one line.

    Examples
    --------
    >>> first_line(ValueError("bad footer\\nat offset 12")), first_line(OSError())
    ('bad footer', 'OSError')
    """
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
