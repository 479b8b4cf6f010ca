"""diagnose's quality score against sdmetrics' own QualityReport on the sample tables.

sdmetrics is not a mixsynth dependency: it runs in a separate virtual environment whose
Python is given with ``--sdmetrics-python`` (``python -m venv /tmp/sdm &&
/tmp/sdm/bin/pip install sdmetrics pyarrow``). For each table the script makes one
synthetic table with ``mixsynth.generate`` (default options, seed 0), scores it with
``mixsynth.diagnose`` and, in the other environment, with
``sdmetrics.reports.single_table.QualityReport`` on the same two Parquet files, and
prints a Markdown table (``benchmarks/RESULTS_quality.md`` holds a run).

Usage: ``python benchmarks/bench_quality.py --sdmetrics-python /tmp/sdm/bin/python``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import warnings
from pathlib import Path

import pyarrow.parquet as pq

import mixsynth
from mixsynth.diagnose import diagnose
from mixsynth.diagnose.inputs import from_data
from mixsynth.diagnose.layout import plan_layout
from mixsynth.schema import Kind

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("penguins", "wine")

# Runs in the sdmetrics environment: argv = real.parquet synth.parquet metadata.json.
_SDMETRICS = """
import json, sys, warnings
import pandas as pd
warnings.simplefilter("ignore")
import sdmetrics
from sdmetrics.reports.single_table import QualityReport
real, synth = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
metadata = json.load(open(sys.argv[3]))
report = QualityReport()
report.generate(real, synth, metadata, verbose=False)
props = report.get_properties().set_index("Property")["Score"]
every = QualityReport()
every.real_correlation_threshold = every.real_association_threshold = 0
every.generate(real, synth, metadata, verbose=False)
all_pairs = every.get_properties().set_index("Property")["Score"]["Column Pair Trends"]
print(json.dumps({"version": sdmetrics.__version__, "quality_score": report.get_score(),
                  "column_shapes": props["Column Shapes"],
                  "column_pair_trends": props["Column Pair Trends"],
                  "column_pair_trends_all_pairs": all_pairs}))
"""


def sdtypes(real, synth) -> dict:
    """SDMetrics metadata with the column kinds diagnose compares (skipped columns: id)."""
    layout = plan_layout(from_data(real, "real"), from_data(synth, "synthetic"))
    columns = {c.name: {"sdtype": "datetime" if c.kind is Kind.TEMPORAL else "numerical"}
               for c in layout.numeric}
    columns |= {c.name: {"sdtype": "boolean" if c.kind is Kind.BOOLEAN else "categorical"}
                for c in layout.categorical}
    columns |= {name: {"sdtype": "id"} for name, _ in layout.skipped}
    return {"columns": columns}


def compare(name: str, python: str, workdir: Path) -> dict:
    real = pq.read_table(ROOT / "sample_data" / f"{name}.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth = mixsynth.generate(real, seed=0).replace_schema_metadata(None)
    ours = diagnose(real, synth)
    paths = [workdir / f"{name}.{side}.parquet" for side in ("real", "synth")]
    for table, path in zip((real, synth), paths, strict=True):
        pq.write_table(table, path)
    meta = workdir / f"{name}.metadata.json"
    meta.write_text(json.dumps(sdtypes(real, synth)))
    done = subprocess.run([python, "-c", _SDMETRICS, *map(str, paths), str(meta)],
                          capture_output=True, text=True, check=True)
    theirs = json.loads(done.stdout)
    keys = ("quality_score", "column_shapes", "column_pair_trends")
    everything = ours.meta["quality"]["column_pair_trends_all_pairs"]
    return {"all_pairs_mixsynth": everything, "all_pairs_sdmetrics": theirs["column_pair_trends_all_pairs"],
            "table": name, "rows": real.num_rows, "version": theirs["version"],
            "pairs": f"{ours.meta['quality']['pairs_counted']} of {ours.meta['quality']['pairs']}",
            **{f"{k}_mixsynth": ours.summary[k] for k in keys},
            **{f"{k}_sdmetrics": theirs[k] for k in keys}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdmetrics-python", required=True, help="python of a venv with sdmetrics")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [compare(name, args.sdmetrics_python, Path(tmp)) for name in TABLES]
    print(f"sdmetrics {rows[0]['version']}, mixsynth {mixsynth.__version__}; "
          "synthetic: `mixsynth.generate(real, seed=0)` (default options, as many rows as real)\n")
    print("| table | rows | pairs counted | score: mixsynth | sdmetrics | column shapes: mixsynth "
          "| sdmetrics | pair trends: mixsynth | sdmetrics | all pairs (thresholds 0): mixsynth "
          "| sdmetrics | largest difference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        keys = ("quality_score", "column_shapes", "column_pair_trends", "all_pairs")
        worst = max(abs(r[f"{k}_mixsynth"] - r[f"{k}_sdmetrics"]) for k in keys)
        cells = " | ".join(f"{r[f'{k}_{who}']:.4f}" for k in keys for who in ("mixsynth", "sdmetrics"))
        print(f"| {r['table']} | {r['rows']:,} | {r['pairs']} | {cells} | {worst:.2g} |")


if __name__ == "__main__":
    main()
