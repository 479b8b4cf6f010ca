"""Train on synthetic, test on real: a scikit-learn model per round, scored on real rows.

Carratino et al. ("On Mixup Regularization") show that training on mixed rows is close to
training on inputs shrunk toward the mean by ``θ̄ = E[max(λ, 1−λ)]``. Their one-line fix
evaluates the trained model on test inputs moved to ``x̄ + θ̄(x − x̄)``; over ``r`` rounds of
re-synthesis the shrinkage compounds, so the study passes the compounded ``θ``. Only
numeric inputs are moved (categoricals are taken from a parent, never shrunk).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mixsynth.collapse.frame import categorical_values, feature_frame, numeric_block
from mixsynth.errors import UsageError

__all__ = ["MODELS", "TASKS", "Evaluator", "default_model", "make_model"]

TASKS = ("auto", "classification", "regression")
MODELS = ("logistic", "ridge", "forest", "hgb")


def default_model(task: str) -> str:
    """``logistic`` for classification, ``ridge`` for regression."""
    return "logistic" if task == "classification" else "ridge"


def _estimator(model: str, task: str, seed: int) -> Any:
    # Imported here: each is a heavy module and a study uses one of them.
    if model == "logistic":
        if task != "classification":
            msg = (
                "--model logistic needs a classification target; "
                "use ridge, forest or hgb for regression"
            )
            raise UsageError(msg)
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

        return LogisticRegression(max_iter=2000)
    if model == "ridge":
        from sklearn.linear_model import Ridge, RidgeClassifier  # noqa: PLC0415

        return RidgeClassifier() if task == "classification" else Ridge()
    if model == "forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor  # noqa: PLC0415

        cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
        return cls(n_estimators=100, random_state=seed)
    if model == "hgb":
        from sklearn.ensemble import (  # noqa: PLC0415
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        )

        cls = (
            HistGradientBoostingClassifier
            if task == "classification"
            else HistGradientBoostingRegressor
        )
        return cls(random_state=seed)
    msg = f"unknown --model {model!r}; expected one of {', '.join(MODELS)}"
    raise UsageError(msg)


def make_model(
    model: str, task: str, numeric: list[str], categorical: list[str], seed: int
) -> Pipeline:
    """Impute + scale numeric columns, one-hot categoricals, then the estimator.

    Raises
    ------
    UsageError
        Unknown model name, or ``logistic`` for a regression target.
    """
    parts = []
    if numeric:
        # keep_empty_features: a column that is all null in one round must not vanish
        # (the test rows would then have more columns than the model).
        parts.append(
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
                ),
                numeric,
            )
        )
    if categorical:
        parts.append(
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical)
        )
    return Pipeline([("prep", ColumnTransformer(parts)), ("model", _estimator(model, task, seed))])


def _labels(column: pa.ChunkedArray, task: str) -> np.ndarray:
    if task == "classification":
        return categorical_values(column)
    return numeric_block(column)[:, 0]


@dataclass
class Evaluator:
    """Fits the study's model on a table's rows and scores it on the real test rows.

    Parameters
    ----------
    test : pyarrow.Table
        Held-out real rows (target never null).
    target, task, model : str
        Resolved task (``classification`` or ``regression``) and model name.
    """

    test: pa.Table
    target: str
    task: str
    model: str

    def __post_init__(self) -> None:
        self.X_test, self.numeric, self.categorical = feature_frame(self.test, [self.target])
        self.y_test = _labels(self.test.column(self.target), self.task)
        self.classes = sorted(set(self.y_test)) if self.task == "classification" else []
        make_model(self.model, self.task, self.numeric, self.categorical, 0)  # fail early

    def score(self, train: pa.Table, seed: int, thetas: tuple[float, ...] = ()) -> dict[str, Any]:
        """Fit on ``train`` and score on the test rows, then once per test-time ``θ``.

        Returns
        -------
        dict
            ``{"scores": {metric: value}, "transformed": [{"theta": θ, metric: value, ...}]}``;
            metrics are ``accuracy``, ``roc_auc``, ``log_loss`` (classification) or ``r2``,
            ``rmse`` (regression); None where a metric cannot be computed.
        """
        X, _, _ = feature_frame(train, [self.target])
        X = X.reindex(columns=self.X_test.columns)
        y = _labels(train.column(self.target), self.task)
        keep = ~pd.isna(y) if self.task == "regression" else np.ones(len(y), dtype=bool)
        X, y = X[keep], y[keep]
        if self.task == "classification" and len(set(y)) < 2:
            empty = dict.fromkeys(("accuracy", "roc_auc", "log_loss"))
            return {
                "scores": empty,
                "transformed": [{"theta": t, **empty} for t in thetas],
                "note": "the training rows hold a single class; no model fitted",
            }
        pipe = make_model(self.model, self.task, self.numeric, self.categorical, seed % 2**32)
        with warnings.catch_warnings():
            # Collapsed rounds are nearly separable or constant; lbfgs then stops at
            # max_iter, and the model it has is exactly what the study should score.
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipe.fit(X, y)
        out: dict[str, Any] = {"scores": self._metrics(pipe, self.X_test)}
        if thetas:
            mean = X[self.numeric].mean(axis=0, skipna=True).fillna(0.0)
            moved = []
            for theta in thetas:
                Xt = self.X_test.copy()
                Xt[self.numeric] = mean + theta * (Xt[self.numeric] - mean)
                moved.append({"theta": theta, **self._metrics(pipe, Xt)})
            out["transformed"] = moved
        return out

    def _metrics(self, pipe: Pipeline, X: pd.DataFrame) -> dict[str, float | None]:
        if self.task == "regression":
            pred = pipe.predict(X)
            return {
                "r2": float(r2_score(self.y_test, pred)),
                "rmse": float(np.sqrt(mean_squared_error(self.y_test, pred))),
            }
        pred = pipe.predict(X)
        out: dict[str, float | None] = {
            "accuracy": float(accuracy_score(self.y_test, pred)),
            "roc_auc": None,
            "log_loss": None,
        }
        scores = self._class_scores(pipe, X)
        if scores is not None and len(self.classes) >= 2:
            binary = scores[:, 1] if len(self.classes) == 2 else scores
            out["roc_auc"] = float(
                roc_auc_score(self.y_test, binary, multi_class="ovr", labels=self.classes)
            )
            if hasattr(pipe, "predict_proba"):
                out["log_loss"] = float(log_loss(self.y_test, scores, labels=self.classes))
        return out

    def _class_scores(self, pipe: Pipeline, X: pd.DataFrame) -> np.ndarray | None:
        """Probabilities (or decision scores) in the order of all test classes."""
        fitted = list(pipe.classes_)
        if hasattr(pipe, "predict_proba"):
            raw = pipe.predict_proba(X)
            fill = 0.0
        else:
            raw = pipe.decision_function(X)
            raw = np.column_stack([-raw, raw]) if raw.ndim == 1 else raw
            fill = float(raw.min()) - 1.0
        full = np.full((len(X), len(self.classes)), fill)
        for j, c in enumerate(self.classes):
            if c in fitted:
                full[:, j] = raw[:, fitted.index(c)]
        if fill == 0.0:
            # A class missing from the training rows has probability 0; the rest sum to 1
            # again only if every fitted class is a test class, so renormalise.
            full = np.clip(full, 1e-15, None)
            full /= full.sum(axis=1, keepdims=True)
        return full
