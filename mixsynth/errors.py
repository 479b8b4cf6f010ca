"""Domain exceptions and the exit codes they map to.

Library code raises these; only the CLI turns them into ``Error: ...`` on stderr
and an exit code (see :func:`mixsynth.cli._errors_to_exit`).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "BackendUnavailable",
    "ExitStatus",
    "InputError",
    "MixsynthError",
    "MixsynthWarning",
    "SchemaError",
    "SolverError",
    "ThresholdFailed",
    "UsageError",
]


class ExitStatus(IntEnum):
    """Process exit codes, documented in ``--help`` and the README."""

    OK = 0
    ERROR = 1
    USAGE = 2
    BACKEND_UNAVAILABLE = 3
    THRESHOLD_FAILED = 4
    INTERRUPTED = 130


class MixsynthError(Exception):
    """Base class for expected failures; the message is one user-facing sentence."""

    exit_code: int = ExitStatus.ERROR


class InputError(MixsynthError):
    """The input could not be read or does not hold usable data."""


class SchemaError(MixsynthError):
    """A column has a type or content that mixsynth cannot synthesise."""


class SolverError(MixsynthError):
    """A weight law is invalid or its parameters are infeasible."""


class UsageError(MixsynthError):
    """Bad or conflicting options (exit code 2, like Click's usage errors)."""

    exit_code = ExitStatus.USAGE


class BackendUnavailable(MixsynthError):
    """A requested compute backend (CuPy, Dask) is not installed or has no device."""

    exit_code = ExitStatus.BACKEND_UNAVAILABLE


class ThresholdFailed(MixsynthError):
    """A diagnostic threshold given with ``--fail-under`` was not met."""

    exit_code = ExitStatus.THRESHOLD_FAILED


class MixsynthWarning(UserWarning):
    """Notices from the library (e.g. a law that does not preserve variance)."""
