"""Waiting for a child process to reach a point (a file appears, a syscall blocks), shared by
the signal and fault tests. A deadline is a hang guard, never a measurement."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_for(find: Callable[[], Any], proc: subprocess.Popen[str], what: str, deadline_s: float = 120) -> Any:
    """Poll until ``find()`` returns something truthy and return it; if the process ends
    or the deadline passes first, kill it and fail naming ``what``."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline and proc.poll() is None:
        found = find()
        if found:
            return found
        time.sleep(0.05)
    code = proc.poll()
    proc.kill()
    proc.communicate()
    pytest.fail(f"{what} never appeared (exit {code})")
