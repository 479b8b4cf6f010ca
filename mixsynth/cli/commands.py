"""The ``mixsynth`` commands: a thin Typer adapter over the library.

Each command parses options, calls the library, and writes data to stdout; notices and
progress go to stderr. :func:`mixsynth.cli.run.errors_to_exit` is the one place that maps
exceptions to exit codes.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from mixsynth import io
from mixsynth.arguments import load_json_object, parse_count, split_names
from mixsynth.cli.choices import (
    BackendName,
    BoundsPolicy,
    Compression,
    DiagnoseFormat,
    Engine,
    IdPolicy,
    LabelMode,
    Model,
    NanPolicy,
    Precision,
    RepairMode,
    Space,
    StudyFormat,
    StudyMode,
    Task,
)
from mixsynth.cli.progress import progress, scanning
from mixsynth.cli.run import (
    errors_to_exit,
    in_worker,
    leftovers_of,
    notice,
    require_stdout,
    standalone,
    stdout_to_devnull,
)
from mixsynth.console import isatty as _isatty
from mixsynth.errors import ExitStatus, ThresholdFailed
from mixsynth.job import generate_file
from mixsynth.memory import parse_size
from mixsynth.options import DEFAULT_CHUNK_ROWS, MAX_ROWS, ExecutionOptions, GenerateOptions, SynthesisOptions
from mixsynth.synthesis.labels import LabelOptions
from mixsynth.synthesis.within import parse_within
from mixsynth.weights import DEFAULT_SPEC, SPEC_HELP, parse
from mixsynth.weights.summary import law_summary, law_text

__all__ = ["app", "main"]

EXIT_CODES = (
    "Exit codes: 0 ok, 1 error (bad input), 2 usage (bad options), 3 backend unavailable, "
    "4 diagnostic threshold failed, 129 hung up (SIGHUP), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM)."
)

app = typer.Typer(
    name="mixsynth",
    help="Synthetic tabular and array data by covariance-preserving Mixup.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)



class _Command(TyperCommand):
    """Help that names each argument by its metavar alone (``SOURCE``, ``[LAW]``).

    Recent Typer writes a required argument as ``{source}`` in the usage line and adds a
    ``<str>`` type tag in the list of arguments; the options carry their own metavars.
    ``ctx`` and ``formatter`` are typed ``Any``: Typer 0.2x vendors its own click, whose
    classes differ from the installed click's.
    """

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        rows: dict[str, list[tuple[str, str]]] = {"Arguments": [], "Options": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                rows["Arguments"].append((_argument_name(param), record[1]))
            else:
                rows["Options"].append(record)
        for title, records in rows.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


def _argument_name(param: Any) -> str:
    return param.metavar or (param.name or "").upper()


def _print_version(value: bool) -> None:
    if value:
        from mixsynth.version import package_version  # noqa: PLC0415

        print(f"mixsynth {package_version()}", flush=True)
        raise typer.Exit(ExitStatus.OK)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Synthetic tabular and array data by covariance-preserving Mixup."""


@app.command(cls=_Command)
def generate(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help=(
        "Parquet file or directory of Parquet files; by extension CSV/TSV (.csv, .tsv, .csv.gz), "
        "Arrow IPC/Feather (.arrow, .feather), JSON Lines (.jsonl, .ndjson) or .npy array; or - "
        "for stdin (Parquet, Arrow IPC, JSON Lines or CSV, told by their first bytes; stdin is "
        "buffered whole in memory because Parquet's footer comes last)."))],
    output: Annotated[str, typer.Option("--output", "-o", metavar="PATH", help="Output Parquet file, or - for stdout.")] = "-",
    rows: Annotated[str | None, typer.Option("--rows", "-n", metavar="N", help="Rows to synthesise (e.g. 1000, 1e6); default: as many as the source.")] = None,
    weights: Annotated[str, typer.Option("--weights", "-w", metavar="LAW", help=f"Weight law: {SPEC_HELP}.")] = DEFAULT_SPEC,
    seed: Annotated[int | None, typer.Option(envvar="MIXSYNTH_SEED", metavar="INT", help="Seed; the same seed gives the same rows. Default: fresh, printed on stderr.")] = None,
    bounds: Annotated[BoundsPolicy, typer.Option(help="Out-of-range values: auto = clip every mixed column (dates and negative columns too) to its observed range; or clip/reflect/resample/none for every mixed column.")] = BoundsPolicy.auto,
    repair: Annotated[RepairMode, typer.Option(help="What corrects the mixed values: auto (default: marginals when the law keeps variance), marginals (map each column onto its source marginal: values, shares, mean and variance kept, nothing out of range), variance (shift and stretch so clipping keeps mean and variance) or none.")] = RepairMode.auto,
    space: Annotated[Space, typer.Option(help="Mixing space: raw, or rank-gauss (normal scores mapped back through each column's quantiles: near-exact one-round marginals, values in range).")] = Space.raw,
    bounds_file: Annotated[Path | None, typer.Option(metavar="FILE", help='JSON object {"column": [low, high]} (null = open) overriding the observed range; dates and times in ticks of their unit since 1970.')] = None,
    columns: Annotated[list[str] | None, typer.Option(metavar="NAMES", help="Columns to synthesise (comma-separated or repeated); default all.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(metavar="NAMES", help="Columns to leave out (comma-separated or repeated).")] = None,
    target: Annotated[str | None, typer.Option(metavar="COLUMN", help="Label column: a categorical target takes the dominant parent's label; a numeric one is mixed.")] = None,
    label_mode: Annotated[LabelMode | None, typer.Option(help="Target handling: dominant, within-class, soft or genlabel (class labels); mix or within-bin (numbers).")] = None,
    class_balance: Annotated[str | None, typer.Option(metavar="uniform|FILE", help="With within-class: 'uniform', or a JSON file {class: proportion}; default: the real frequencies.")] = None,
    bins: Annotated[int, typer.Option(metavar="N", help="Quantile bins of a numeric target for --label-mode within-bin.", min=1)] = 10,
    genlabel_model: Annotated[str, typer.Option(metavar="MODEL", help="GenLabel's class-conditional model: gaussian (shrinkage covariance), gmm:C or kde.")] = "gaussian",
    genlabel_gamma: Annotated[float, typer.Option(metavar="FLOAT", help="GenLabel: weight of the posterior against the mixed label (1 = posterior only).")] = 1.0,
    genlabel_soft: Annotated[bool, typer.Option(help="GenLabel: also write the probabilities as COL__p_<class> columns.")] = False,
    within: Annotated[list[str] | None, typer.Option(metavar="auto|none|NAMES", help="Draw all parents of a row from rows sharing these columns' values (comma-separated or repeated; numbers that are not whole by quantile bins), so group shares and the group-to-number association (η²) are kept. Default auto: a categorical column that explains at least half of some number's variance, if any (a notice names it); none: mix across all rows.")] = None,
    within_bins: Annotated[int, typer.Option(metavar="N", help="Quantile bins of a --within column whose numbers are not whole.", min=1)] = 10,
    nan: Annotated[NanPolicy, typer.Option(help="NaN/inf in float columns: error, or skip (treat as null).")] = NanPolicy.error,
    ids: Annotated[IdPolicy, typer.Option(help="Identifier columns (all values unique): regenerate fresh keys, or drop.")] = IdPolicy.regenerate,
    chunk_rows: Annotated[int, typer.Option("--row-group-size", "--chunk-rows", metavar="ROWS", help="Rows per Parquet row group (the unit readers skip and load); does not change the rows.", min=1)] = DEFAULT_CHUNK_ROWS,
    compression: Annotated[Compression, typer.Option(help="Parquet codec: zstd (smallest), snappy or lz4 (faster to write and read, larger), none; does not change the rows.")] = Compression.zstd,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notices on stderr (errors still shown).")] = False,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", envvar="MIXSYNTH_JOBS", min=1, metavar="N", help="Workers (processes on Linux, else threads); default: all cores. Does not change the rows.")] = None,
    backend: Annotated[BackendName, typer.Option(envvar="MIXSYNTH_BACKEND", help="Where rows are mixed: numpy (CPU), cupy (CUDA GPU; pip install -e '.[gpu]'; exit 3 if unavailable), or auto (cupy if usable, else numpy).")] = BackendName.numpy,
    precision: Annotated[Precision, typer.Option(help="Encoded dtype: auto = float32 when every mixed column is exact in float32 (float32 sources, small integers), else float64.")] = Precision.auto,
    memory_limit: Annotated[str | None, typer.Option(envvar="MIXSYNTH_MEMORY_LIMIT", metavar="SIZE", help="Encoded sources larger than this (e.g. 2GB, 512MiB, 25%) are memory-mapped from a file in $TMPDIR; default: half the RAM.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print on stdout what would happen (kinds, layout, blocks, peak memory, output size); write nothing.")] = False,
    space_check: Annotated[bool, typer.Option("--space-check/--no-space-check", help="Before writing -o FILE, refuse (exit 1) when the estimated output is larger than the free space in its directory.")] = True,
    memory_check: Annotated[bool, typer.Option("--memory-check/--no-memory-check", help="Before encoding, refuse (exit 1) when the estimated peak memory (as --dry-run prints it) is more than the address-space limit (ulimit -v), the container's limit or the machine's available memory leaves.")] = True,
    engine: Annotated[Engine, typer.Option(envvar="MIXSYNTH_ENGINE", help="local, or dask: SOURCE is a Parquet file or dataset (path or fsspec URL) and -o a new directory of Parquet files, written by Dask workers (pip install -e '.[dask]'); the same seed gives the same rows.")] = Engine.local,
    scheduler: Annotated[str | None, typer.Option(metavar="ADDRESS", help="With --engine dask: the scheduler's address (e.g. tcp://host:8786); default: Dask's configured scheduler-address, else a LocalCluster on this machine.")] = None,
) -> None:
    """Write synthetic rows mixed from SOURCE as Parquet.

    Example: mixsynth generate sample_data/penguins.parquet -n 1e4 -o - | mixsynth diagnose sample_data/penguins.parquet -
    """
    tell = (lambda _msg: None) if quiet else notice
    with errors_to_exit():
        if dry_run:  # the plan is printed on stdout
            require_stdout()
        elif output == "-":
            require_stdout("use -o FILE or give the command an open stdout")
        balance: Any = class_balance
        if balance not in (None, "uniform"):
            balance = load_json_object(Path(balance), "--class-balance")
        within_names, auto_within = parse_within(split_names(within) or "auto")
        options = GenerateOptions(
            rows=parse_count(rows, maximum=MAX_ROWS) if rows is not None else None,
            columns=split_names(columns), exclude=split_names(exclude),
            synthesis=SynthesisOptions(
                weights=weights, seed=seed, bounds=bounds.value, repair=repair.value, space=space.value,
                target=target, nan=nan.value, ids=ids.value,
                bounds_overrides=load_json_object(bounds_file, "--bounds-file") if bounds_file else None,
                labels=LabelOptions(label_mode.value if label_mode else None, balance, bins, genlabel_model,
                                    genlabel_gamma, genlabel_soft, within_names, within_bins, auto_within)),
            execution=ExecutionOptions(
                engine=engine.value, backend=backend.value, precision=precision.value, jobs=jobs,
                chunk_rows=chunk_rows, compression=compression.value,
                memory_limit=parse_size(memory_limit) if memory_limit is not None else None,
                scheduler=scheduler, space_check=space_check, memory_check=memory_check))
        run = functools.partial(generate_file, source, output, options, notify=tell, dry_run=dry_run,
                                stdout_isatty=_isatty(sys.stdout),
                                progress=lambda chunks, m: progress(chunks, m, "generate", quiet=quiet))
        # The Dask engine's work runs on its workers; this thread only waits for them.
        report = run() if engine is Engine.dask else in_worker(run, leftovers_of(output))
        if report is not None:
            # No data is written in a dry run, so the report is the output and goes to stdout.
            print("\n".join(report), flush=True)


@app.command(cls=_Command)
def diagnose(
    real: Annotated[str, typer.Argument(metavar="REAL", help="Real data: Parquet file or directory, local or fsspec URL (streamed in row batches); a local CSV/TSV, Arrow IPC/Feather, JSON Lines or .npy file by extension; or - for stdin (Parquet, Arrow IPC, JSON Lines or CSV, told by their first bytes; stdin is buffered whole in memory because Parquet's footer comes last).")],
    synth: Annotated[str, typer.Argument(metavar="SYNTH", help="Synthetic data, in the same forms; at most one of REAL, SYNTH and --holdout may be -.")],
    holdout: Annotated[str | None, typer.Option(metavar="PATH", help="Real rows not used for synthesis: adds holdout DCR and the share of synthetic rows closer to training than to holdout.")] = None,
    columns: Annotated[list[str] | None, typer.Option(metavar="NAMES", help="Columns to compare (comma-separated or repeated); default all shared columns.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(metavar="NAMES", help="Columns to leave out (comma-separated or repeated).")] = None,
    target: Annotated[str | None, typer.Option(metavar="COLUMN", help="Label column: always compared, never skipped as an identifier.")] = None,
    fmt: Annotated[DiagnoseFormat, typer.Option("--format", help="auto (a table on a terminal, JSON otherwise), table, json, ndjson (a line per column entry, then a {\"summary\": ...} line) or tsv (the columns table, header of JSON keys, empty = null).")] = DiagnoseFormat.auto,
    as_json: Annotated[bool, typer.Option("--json", help="Short for --format json.")] = False,
    sample: Annotated[str, typer.Option(metavar="N", help="Rows per side (seeded) for KS, Wasserstein, quantiles, Cramér's V, distinct values, DCR and detection; moments (skewness and kurtosis too), covariance, ranges and counts use all rows.")] = "50000",
    seed: Annotated[int, typer.Option(metavar="INT", help="Seed for the samples and the detection classifier.")] = 0,
    fail_under: Annotated[list[str] | None, typer.Option(metavar="METRIC=VALUE", help="METRIC=VALUE (a summary key), repeatable; exit 4 if a check fails. Lower bounds (fail below): variance_ratio_median, variance_ratio_min, total_variance_ratio, measured_variance_factor, dcr_p5, dcr_median, quality_score, column_shapes, column_pair_trends. Every other metric is lower-is-better, so its VALUE is an upper bound (fail above), as with --fail-over.")] = None,
    fail_over: Annotated[list[str] | None, typer.Option(metavar="METRIC=VALUE", help="METRIC=VALUE (a summary key), repeatable; exit 4 if METRIC is above VALUE. Any metric --fail-under takes, e.g. ks_max=0.1 or variance_ratio_max=1.1.")] = None,
    plot: Annotated[Path | None, typer.Option(metavar="PNG", help="Also write a PNG: variance ratios, correlation heatmaps, marginals (needs pip install -e '.[plot]').")] = None,
    detection: Annotated[bool, typer.Option("--detection", help="Also cross-validate a real-vs-synthetic classifier (ROC AUC, 0.5 = indistinguishable; slower).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notes on stderr (errors and failed thresholds still shown).")] = False,
    engine: Annotated[Engine, typer.Option(envvar="MIXSYNTH_ENGINE", help="local, or dask: Dask workers scan the Parquet files (paths or fsspec URLs; not - or .npy) for moments, covariance, ranges and counts, and pick the sampled rows in the same pass (pip install -e '.[dask]'); the report equals the local one up to float rounding.")] = Engine.local,
    scheduler: Annotated[str | None, typer.Option(metavar="ADDRESS", help="With --engine dask: the scheduler's address (e.g. tcp://host:8786); default: Dask's configured scheduler-address, else a LocalCluster on this machine.")] = None,
) -> None:
    """Compare SYNTH with REAL: variance ratios, covariance, marginals, ranges, nulls, privacy.

    Example: mixsynth generate real.parquet -o - | mixsynth diagnose real.parquet - --json | jq .summary
    """
    # Imported here so that other commands do not pay for loading scipy and scikit-learn.
    from mixsynth.diagnose import diagnose_paths, failed_checks, parse_thresholds  # noqa: PLC0415
    from mixsynth.diagnose.plot import check_plot, write_plot  # noqa: PLC0415
    from mixsynth.diagnose.render import emit  # noqa: PLC0415

    with errors_to_exit():
        require_stdout()
        checks = parse_thresholds(fail_under)
        over = parse_thresholds(fail_over, "--fail-over")
        if plot is not None:
            check_plot(plot)
        with scanning(quiet=quiet):
            report = diagnose_paths(real, synth, holdout=holdout, columns=split_names(columns),
                                    exclude=split_names(exclude), target=target, seed=seed,
                                    sample=parse_count(sample, "--sample"),
                                    detection=detection or "detection_auc" in checks | over,
                                    engine=engine.value, scheduler=scheduler)
        if plot is not None:
            # Before the report: a reader that stops early (| head) must not cost the picture.
            write_plot(report, plot)
        emit(report, "json" if as_json else fmt.value, thresholds=checks, over=over, notes=not quiet)
        failed = failed_checks(report.summary, checks, over)
        for line in failed:
            print(line, file=sys.stderr, flush=True)
        if failed:
            msg = f"{len(failed)} of {len(checks) + len(over)} diagnostic thresholds failed"
            raise ThresholdFailed(msg)


@app.command("weights", cls=_Command)
def weights_command(
    spec: Annotated[str, typer.Argument(metavar="LAW", help=f"Weight law: {SPEC_HELP}.")] = DEFAULT_SPEC,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Print a weight law's support, moments, variance factor c, c^10 and θ̄ (closed forms).

    Example: mixsynth weights epbeta:alpha=4.34,eps0=0.3,eps1=0.3 --json | jq .variance_factor
    """
    with errors_to_exit():
        require_stdout()
        print(law_text(law_summary(parse(spec)), as_json), flush=True)


@app.command("collapse-study", cls=_Command)
def collapse_study(
    real: Annotated[str, typer.Argument(metavar="REAL", help="Real table: Parquet file or directory; CSV/TSV, Arrow IPC/Feather, JSON Lines or .npy by extension; or - for stdin (Parquet, Arrow IPC, JSON Lines or CSV, told by their first bytes; stdin is buffered whole in memory because Parquet's footer comes last).")],
    rounds: Annotated[int, typer.Option("--rounds", "-k", metavar="K", help="Rounds of re-synthesis after round 0 (the real training rows).")],
    weights: Annotated[list[str] | None, typer.Option("--weights", "-w", metavar="LAW", help=f"Weight law, repeatable (default: epbeta, beta:1,1, midpoint, bootstrap): {SPEC_HELP}.")] = None,
    baseline: Annotated[bool, typer.Option(help="Also run the model-based baseline gmm (a GaussianMixture refitted each round).")] = True,
    mode: Annotated[StudyMode, typer.Option(help="replace: round r+1 from round r; accumulate: from the real rows plus every earlier round.")] = StudyMode.from_last,
    rows: Annotated[str | None, typer.Option("--rows", "-n", metavar="N", help="Rows per synthetic round (e.g. 5000, 1e4); default: as many as the real training rows.")] = None,
    target: Annotated[str | None, typer.Option(metavar="COLUMN", help="Label column: adds train-on-synthetic, test-on-real utility.")] = None,
    task: Annotated[Task, typer.Option(help="auto (from the target's type), classification or regression.")] = Task.auto,
    model: Annotated[Model | None, typer.Option(help="logistic, ridge, forest or hgb; default logistic (classification) or ridge (regression).")] = None,
    label_mode: Annotated[LabelMode | None, typer.Option(help="How the target is synthesised, as for generate; default within-class for class labels, mix for numbers.")] = None,
    within: Annotated[list[str] | None, typer.Option(metavar="auto|none|NAMES", help="As for generate (default auto): parents of a row share these columns' values (inside the target's class with within-class; auto does nothing there).")] = None,
    within_bins: Annotated[int, typer.Option(metavar="N", help="As for generate: quantile bins of a --within column whose numbers are not whole.", min=1)] = 10,
    test_size: Annotated[float, typer.Option(metavar="SHARE", help="Share of the real rows held out to score the models.")] = 0.25,
    seed: Annotated[int, typer.Option(envvar="MIXSYNTH_SEED", metavar="INT", help="Seed of the whole study (split, every round of every law, models).")] = 0,
    sample: Annotated[str, typer.Option(metavar="N", help="Rows per side for the KS and nearest-neighbour metrics of each round.")] = "5000",
    bounds: Annotated[BoundsPolicy, typer.Option(help="As for generate: auto clips every mixed column to its observed range.")] = BoundsPolicy.auto,
    repair: Annotated[RepairMode, typer.Option(help="As for generate: auto, marginals, variance or none.")] = RepairMode.auto,
    space: Annotated[Space, typer.Option(help="As for generate: raw or rank-gauss.")] = Space.raw,
    compare_repair: Annotated[bool, typer.Option("--compare-repair", help="Run each law as LAW[clip+repair], LAW[clip] and LAW[rank-gauss].")] = False,
    test_time_transform: Annotated[bool, typer.Option("--test-time-transform", help="Also score the models on test inputs moved to x̄+θ(x−x̄), θ = θ̄ compounded over the rounds (Carratino et al.).")] = False,
    stop_when: Annotated[str | None, typer.Option(metavar="METRIC<VALUE", help="METRIC<VALUE (or <=, >, >=): a law stops once a round meets it, e.g. variance_ratio_median<0.5.")] = None,
    fmt: Annotated[StudyFormat, typer.Option("--format", help="auto (tables on a terminal, NDJSON otherwise), table, json, or ndjson (a line per law and round as soon as it is computed).")] = StudyFormat.auto,
    plot: Annotated[Path | None, typer.Option(metavar="PNG", help="Also write a PNG: a panel per metric, a line per law (needs pip install -e '.[plot]').")] = None,
    output_dir: Annotated[Path | None, typer.Option(metavar="DIR", help="Keep each round's Parquet and trajectory.json here.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the interrupted study in --output-dir.")] = False,
    columns: Annotated[list[str] | None, typer.Option(metavar="NAMES", help="Columns to study (comma-separated or repeated); default all.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(metavar="NAMES", help="Columns to leave out (comma-separated or repeated).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No notices on stderr (errors still shown).")] = False,
) -> None:
    """Re-synthesise REAL round after round with each weight law (and a GMM baseline); track variance, structure and model quality.

    Example: mixsynth collapse-study sample_data/wine.parquet --rounds 10 --target cultivar --plot collapse.png
    """
    # Imported here so that other commands do not pay for scikit-learn and matplotlib.
    from mixsynth.collapse import CollapseStudy, StudyOptions  # noqa: PLC0415
    from mixsynth.collapse.plot import check_plot, write_plot  # noqa: PLC0415
    from mixsynth.collapse.render import StudyOutput, study_progress  # noqa: PLC0415

    with errors_to_exit():
        require_stdout()
        options = StudyOptions(
            rounds=rounds, weights=weights, baseline=baseline, mode=mode.value, rows=parse_count(rows) if rows else None,
            target=target, task=task.value, model=model.value if model else None,
            label_mode=label_mode.value if label_mode else None, test_size=test_size, seed=seed,
            sample=parse_count(sample, "--sample"), bounds=bounds.value, repair=repair.value, space=space.value,
            compare_repair=compare_repair, test_time_transform=test_time_transform, stop_when=stop_when,
            output_dir=str(output_dir) if output_dir else None, resume=resume,
            columns=split_names(columns), exclude=split_names(exclude),
            within=split_names(within), within_bins=within_bins)
        out = StudyOutput(fmt.value)
        options.check()
        if plot is not None:
            check_plot(plot)
        study = CollapseStudy(io.read_source(real).table, options, notify=(lambda _m: None) if quiet else notice)
        with study_progress(study.steps, rounds) as bar:
            study.on_step = bar.step
            for record in study:
                try:
                    out.add(record)
                except BrokenPipeError:
                    if plot is None:
                        raise
                    # The reader has gone (| head), but a picture was asked for: finish
                    # the study with stdout on devnull, then draw it.
                    stdout_to_devnull()
                bar.advance()
        if plot is not None:
            write_plot(out.records, study.meta(), plot)
        out.finish(study.meta())


def main() -> None:
    """Console-script entry point (and ``python -m mixsynth``)."""
    standalone.set()
    app(prog_name="mixsynth")
