"""The one-line error contract that every hostile-input test checks (shared by the test files)."""

from __future__ import annotations

from pathlib import Path


def assert_error(result, code: int, *fragments: str, out: Path | None = None) -> str:
    """The one-line error contract; returns the message after ``Error: ``."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.stdout_bytes == b""
    if out is not None:
        assert not out.exists()
        assert not list(out.parent.glob(".*.tmp"))
    return lines[0][len("Error: ") :]
