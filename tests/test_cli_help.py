"""``--help`` of every command: no type placeholders, every choice listed, typos refused early."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys

import pyarrow as pa
import pytest

from mixsynth import generate
from mixsynth.cli import app
from mixsynth.cli import choices as cli
from mixsynth.collapse.render import FORMATS as STUDY_FORMATS
from mixsynth.collapse.utility import MODELS, TASKS
from mixsynth.diagnose.render import FORMATS as DIAGNOSE_FORMATS
from mixsynth.options import REPAIR_MODES, SPACES
from mixsynth.synthesis.labels import LABEL_MODES

COMMANDS = ("generate", "diagnose", "collapse-study", "weights")

# The option and the values its help must list, per command.
CHOICES = {
    "generate": {
        "--repair": REPAIR_MODES,
        "--space": SPACES,
        "--label-mode": LABEL_MODES,
        "--bounds": ("auto", "clip", "reflect", "resample", "none"),
        "--compression": ("zstd", "snappy", "lz4", "none"),
    },
    "diagnose": {"--format": DIAGNOSE_FORMATS, "--engine": ("local", "dask")},
    "collapse-study": {
        "--format": STUDY_FORMATS,
        "--repair": REPAIR_MODES,
        "--space": SPACES,
        "--mode": ("replace", "accumulate"),
        "--task": TASKS,
        "--model": MODELS,
        "--label-mode": LABEL_MODES,
    },
}


@functools.cache
def _help(command: str) -> str:
    # A real run at a fixed width, as a user reads it (the help wraps at $COLUMNS).
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIXSYNTH_")} | {"COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "mixsynth", command, "--help"],
        capture_output=True, text=True, check=False, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_type_placeholders(command: str) -> None:
    text = _help(command)
    usage = text.splitlines()[0]
    assert usage.startswith(f"Usage: mixsynth {command} [OPTIONS] ")
    assert "{" not in usage, usage
    assert "<" not in usage, usage
    # Typer's type tags (<str>, <list[str]>, <path>, <int range>): every option names its
    # value (PATH, N, LAW) or lists its choices (<a|b>). COL__p_<class> is a column name.
    tags = set(re.findall(r"<[a-z]+(?:\[[a-z]+\])?(?: range)?>", text)) - {"<class>"}
    assert tags == set(), tags


def test_usage_names_the_arguments() -> None:
    assert _help("generate").splitlines()[0] == "Usage: mixsynth generate [OPTIONS] SOURCE"
    assert _help("diagnose").splitlines()[0] == "Usage: mixsynth diagnose [OPTIONS] REAL SYNTH"
    assert _help("collapse-study").splitlines()[0] == "Usage: mixsynth collapse-study [OPTIONS] REAL"
    assert _help("weights").splitlines()[0] == "Usage: mixsynth weights [OPTIONS] [LAW]"


@pytest.mark.parametrize("command", CHOICES)
def test_help_lists_each_choice_set(command: str) -> None:
    text = _help(command)
    for option, values in CHOICES[command].items():
        assert f"{option} <{'|'.join(values)}>" in text, option


def test_choices_match_the_library() -> None:
    # The CLI's enums must not drift from the tuples the library validates against.
    assert tuple(m.value for m in cli.RepairMode) == REPAIR_MODES
    assert tuple(m.value for m in cli.Space) == SPACES
    assert tuple(m.value for m in cli.LabelMode) == LABEL_MODES
    assert tuple(m.value for m in cli.DiagnoseFormat) == DIAGNOSE_FORMATS
    assert tuple(m.value for m in cli.StudyFormat) == STUDY_FORMATS
    assert tuple(m.value for m in cli.Task) == TASKS
    assert tuple(m.value for m in cli.Model) == MODELS


@pytest.mark.parametrize(
    ("args", "option", "value"),
    [
        (["generate", "missing.parquet", "--repair", "always"], "--repair", "always"),
        (["generate", "missing.parquet", "--space", "log"], "--space", "log"),
        (["generate", "missing.parquet", "--label-mode", "hard"], "--label-mode", "hard"),
        (["diagnose", "missing.parquet", "missing.parquet", "--format", "yaml"], "--format", "yaml"),
        (["collapse-study", "missing.parquet", "-k", "1", "--format", "tsv"], "--format", "tsv"),
        (["collapse-study", "missing.parquet", "-k", "1", "--mode", "append"], "--mode", "append"),
        (["collapse-study", "missing.parquet", "-k", "1", "--task", "ranking"], "--task", "ranking"),
        (["collapse-study", "missing.parquet", "-k", "1", "--model", "svm"], "--model", "svm"),
    ],
)
def test_a_typo_is_a_usage_error_before_any_file_is_opened(
    runner, args: list[str], option: str, value: str
) -> None:
    # The source does not exist: exit 2 naming the option (not exit 1 about the file)
    # shows that the choice was checked first.
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.stderr
    assert f"Invalid value for '{option}'" in result.stderr
    assert f"'{value}' is not one of" in result.stderr
    assert "missing.parquet" not in result.stderr
    assert result.stdout == ""


def test_the_python_api_keeps_string_arguments() -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "y": [2.0, 1.0, 4.0, 3.0, 6.0, 5.0]})
    out = generate(table, 10, seed=1, repair="none", space="rank-gauss")
    assert out.num_rows == 10
    assert out.column_names == ["x", "y"]
