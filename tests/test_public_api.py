"""The public surface stays honest: __all__, --help for every command, the README in step."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

import mixsynth
from mixsynth.cli import app
from mixsynth.errors import ExitStatus

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
COMMANDS = sorted(get_command(app).commands)


def _modules():
    for info in pkgutil.walk_packages(mixsynth.__path__, "mixsynth."):
        if info.name.endswith("__main__"):
            continue
        yield importlib.import_module(info.name)


@pytest.mark.parametrize("module", list(_modules()), ids=lambda m: m.__name__)
def test_every_module_declares_all_and_it_resolves(module):
    assert hasattr(module, "__all__"), f"{module.__name__} has no __all__"
    for name in module.__all__:
        assert hasattr(module, name), f"{module.__name__}.__all__ names missing {name!r}"


def test_no_module_is_shadowed_by_a_name_of_its_package():
    # ``import mixsynth.x.y as m`` must give the module y, never a function or object that
    # the package x exports under the same name (mixsynth.generate once did).
    for module in _modules():
        parent, _, name = module.__name__.rpartition(".")
        assert getattr(importlib.import_module(parent), name) is module, module.__name__


def test_top_level_all_is_exactly_the_public_names():
    public = {n for n, v in vars(mixsynth).items() if not n.startswith("_") and not inspect.ismodule(v)}
    lazy = {"collapse_study"}  # served by the module __getattr__ on first use
    assert set(mixsynth.__all__) == (public | lazy) - {"annotations", "package_version"}
    assert callable(mixsynth.collapse_study)
    assert callable(mixsynth.generate)  # the function, not the submodule of the same name


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_shows_every_command_in_a_pipeline(command):
    assert re.search(rf"^mixsynth {command}\b.*", README, re.MULTILINE), f"README lacks a `mixsynth {command}` example"


def test_readme_exit_codes_match_the_enum():
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", README, re.MULTILINE))
    assert {int(code) for code in table} == {int(status) for status in ExitStatus}


def test_readme_names_the_ci_test_command():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "pip install -e '.[test]' && ruff check . && mypy && pytest" in README
    steps = [line.removeprefix("python -m ") for line in ci.splitlines() if line.startswith("python -m ")]
    assert steps == ["pip install -q -e '.[test]'", "ruff check .", "mypy", "pytest"]


def test_readme_commands_write_only_ignored_scratch_files():
    # A newcomer who runs the README must not change a tracked file (docs/collapse.png was
    # once a --plot target) nor be left with untracked output that git shows.
    root = Path(__file__).resolve().parents[1]
    ignored = set((root / ".gitignore").read_text().splitlines())
    outputs = re.findall(r"(?:^|\s)(?:-o|--output|--plot|--output-dir) ([^\s`|-][^\s`|]*)", README)
    assert "synth.parquet" in outputs
    for path in outputs:
        assert "/" not in path, f"README writes {path!r} outside the top of the clone"
        assert f"/{path}" in ignored, f"{path!r}, written by a README command, is not in .gitignore"
