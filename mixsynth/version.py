"""The installed package version, apart from synthesis so any module can report it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["package_version"]


def package_version() -> str:
    """Installed mixsynth version (``0+unknown`` when run from an uninstalled tree)."""
    try:
        return version("mixsynth")
    except PackageNotFoundError:
        return "0+unknown"
