"""mixsynth as an oversampler for imbalanced data, against imbalanced-learn's SMOTE.

For each table, a binary task is made imbalanced by keeping a small share of the minority
class in the training split (the test split is untouched real data). Then the minority is
topped up to the majority's count by (a) nothing, (b) SMOTE, (c) mixsynth
``--label-mode within-class`` with the minority as the only class drawn (epbeta and
uniform laws). A classifier is trained on each and scored by balanced accuracy on the
test split, over several seeds.

Run: ``python benchmarks/bench_oversample.py`` (needs ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from imblearn.over_sampling import SMOTE
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mixsynth

ROOT = Path(__file__).resolve().parents[1]

# (file, label column, minority value, numeric feature columns or None for all numeric)
TASKS = [
    ("tests/data/breast_cancer.parquet", "benign", False, None),
    ("sample_data/wine.parquet", "cultivar", "class_2", None),
    ("sample_data/penguins.parquet", "species", "Chinstrap",
     ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]),
]
MODELS = {
    "logistic": lambda seed: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    "hgb": lambda seed: HistGradientBoostingClassifier(random_state=seed),
}


def _load(path: str, label: str, minority: object, features: list[str] | None) -> tuple[pd.DataFrame, list[str]]:
    df = pq.read_table(ROOT / path).to_pandas()
    if features is None:
        features = [c for c in df.columns if c != label and pd.api.types.is_numeric_dtype(df[c])
                    and not pd.api.types.is_bool_dtype(df[c])]
    df = df[[*features, label]].dropna()
    df["y"] = (df[label].astype(object) == minority).astype(int)
    return df[[*features, "y"]], features


def _split(df: pd.DataFrame, keep: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(df, test_size=0.3, stratify=df["y"], random_state=seed)
    minority = train[train.y == 1]
    kept = minority.sample(n=max(4, int(round(keep * len(train[train.y == 0])))), random_state=seed) \
        if len(minority) > keep * len(train[train.y == 0]) else minority
    return pd.concat([train[train.y == 0], kept]), test


def _oversample(method: str, train: pd.DataFrame, features: list[str], seed: int) -> tuple[pd.DataFrame, float]:
    need = int((train.y == 0).sum() - (train.y == 1).sum())
    start = time.perf_counter()
    if method == "none" or need <= 0:
        out = train
    elif method == "smote":
        k = min(5, int((train.y == 1).sum()) - 1)
        X, y = SMOTE(k_neighbors=k, random_state=seed).fit_resample(train[features], train.y)
        out = pd.concat([X, y.rename("y")], axis=1)
    else:
        law = method.split(":", 1)[1]
        table = pa.Table.from_pandas(train.assign(y=train.y.astype(str)), preserve_index=False)
        syn = mixsynth.generate(table, need, weights=law, seed=seed, target="y", label_mode="within-class",
                                class_balance={"1": 1.0}, bounds="none").to_pandas()
        out = pd.concat([train, syn.assign(y=syn.y.astype(int))], ignore_index=True)
    return out, time.perf_counter() - start


def run(seeds: int, keep: float) -> pd.DataFrame:
    """Balanced accuracy per table, method and model, averaged over ``seeds`` splits."""
    rows = []
    methods = ["none", "smote", "mixsynth:epbeta", "mixsynth:uniform"]
    for path, label, minority, features in TASKS:
        df, feats = _load(path, label, minority, features)
        for seed in range(seeds):
            train, test = _split(df, keep, seed)
            for method in methods:
                data, seconds = _oversample(method, train, feats, seed)
                for name, make in MODELS.items():
                    model = make(seed).fit(data[feats], data.y)
                    score = balanced_accuracy_score(test.y, model.predict(test[feats]))
                    rows.append({"table": Path(path).stem, "method": method, "model": name, "seed": seed,
                                 "balanced_accuracy": score, "seconds": seconds,
                                 "minority_train": int((train.y == 1).sum()),
                                 "majority_train": int((train.y == 0).sum())})
    return pd.DataFrame(rows)


def main() -> None:
    """Print the benchmark table (markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--keep", type=float, default=0.1, help="minority rows kept, as a share of the majority")
    args = parser.parse_args()
    res = run(args.seeds, args.keep)
    table = res.groupby(["table", "model", "method"]).agg(
        balanced_accuracy=("balanced_accuracy", "mean"), sd=("balanced_accuracy", "std"),
        seconds=("seconds", "mean"), minority=("minority_train", "mean"), majority=("majority_train", "mean"),
    ).reset_index()
    print(f"# oversampling: {args.seeds} seeds, minority kept at {args.keep:.0%} of the majority in training\n")
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
