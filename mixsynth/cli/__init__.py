"""The ``mixsynth`` command line: a thin Typer adapter over the library.

:mod:`~mixsynth.cli.commands` declares the commands, :mod:`~mixsynth.cli.choices` the values
of their enumerated options, :mod:`~mixsynth.cli.run` how a command runs (signals, the
worker thread, exit codes) and :mod:`~mixsynth.cli.progress` its progress bars.
"""

from mixsynth.cli.commands import app, main

__all__ = ["app", "main"]
