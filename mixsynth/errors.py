"""Domain exceptions and the exit codes they map to.

Library code raises these; only the CLI turns them into ``Error: ...`` on stderr
and an exit code (see :func:`mixsynth.cli.run.errors_to_exit`).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "BackendUnavailable",
    "Cancelled",
    "ExitStatus",
    "InputError",
    "MixsynthError",
    "MixsynthWarning",
    "ResourceError",
    "SchemaError",
    "SolverError",
    "Terminated",
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
    HANGUP = 129  # 128 + SIGHUP, as a shell reports a process the signal ended
    INTERRUPTED = 130
    TERMINATED = 143  # 128 + SIGTERM


class MixsynthError(Exception):
    """Base class for expected failures; the message is one user-facing sentence."""

    exit_code: int = ExitStatus.ERROR


class InputError(MixsynthError):
    """The input could not be read or does not hold usable data."""


class SchemaError(MixsynthError):
    """A column has a type or content that mixsynth cannot synthesise."""


class SolverError(MixsynthError):
    """A weight law is invalid or its parameters are infeasible."""


class ResourceError(MixsynthError):
    """The run needs more disk space or memory than it can get (checked before it starts)."""


class UsageError(MixsynthError):
    """Bad or conflicting options (exit code 2, like Click's usage errors)."""

    exit_code = ExitStatus.USAGE


class BackendUnavailable(MixsynthError):
    """A requested compute backend (CuPy, Dask) is not installed or has no device."""

    exit_code = ExitStatus.BACKEND_UNAVAILABLE


class ThresholdFailed(MixsynthError):
    """A diagnostic threshold given with ``--fail-under`` was not met."""

    exit_code = ExitStatus.THRESHOLD_FAILED


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while a command ran.

    Raised in the main thread as Python raises :class:`KeyboardInterrupt` for SIGINT, and
    like it not an :class:`Exception`, so no ``except Exception`` swallows it and every
    ``finally`` on the way out runs (temporary files are removed).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """``128 + signum``: 143 for SIGTERM, 129 for SIGHUP."""
        return 128 + self.signum


class Cancelled(BaseException):
    """A job running in a worker thread was asked to stop (see :mod:`mixsynth.engines.worker`).

    Raised in the worker at its next checkpoint, after the main thread took Ctrl-C or a stop
    signal; like :class:`Terminated` not an :class:`Exception`, so the worker unwinds
    through every ``finally`` (its temporary file removed) and nothing swallows it.
    """


class MixsynthWarning(UserWarning):
    """Notices from the library (e.g. a law that does not preserve variance)."""
