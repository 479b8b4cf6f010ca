"""GenLabel (Sohn et al., ICML 2022): label mixed rows by a class-conditional model.

A mixed point between two classes does not belong to the mixed label; GenLabel fits
``p(x | class)`` on the real rows and labels each synthetic row by the posterior
``p(class | x)``. Features are the mixed numeric columns, standardised by the real rows
(nulls imputed by the mean); categorical feature columns are not used.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import logsumexp
from sklearn.covariance import LedoitWolf
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from mixsynth.synthesis.labels import parse_model

__all__ = ["GenLabelModel"]


class GenLabelModel:
    """Class-conditional density model with class priors.

    Parameters
    ----------
    X : array of shape (n, d)
        Encoded numeric features of the real rows (NaN = null).
    codes : int array of shape (n,)
        Class code per row (-1 = null label, not used in the fit).
    n_classes : int
    model : str
        ``gaussian`` (per-class Gaussian, Ledoit-Wolf shrinkage covariance), ``gmm:C``
        (per-class Gaussian mixture) or ``kde`` (per-class Gaussian KDE, Scott bandwidth).
    seed : int
    """

    def __init__(
        self, X: np.ndarray, codes: np.ndarray, n_classes: int, model: str = "gaussian", seed: int = 0
    ) -> None:
        self.kind, components = parse_model(model)
        self.mean = np.nanmean(X, axis=0)
        std = np.nanstd(X, axis=0)
        self.scale = np.where(std > 0, std, 1.0)
        Z = self._z(X)
        labelled = codes >= 0
        self.log_prior = np.log(np.bincount(codes[labelled], minlength=n_classes) / labelled.sum())
        self.models = []
        for c in range(n_classes):
            rows = Z[codes == c]
            if self.kind == "gaussian":
                cov = LedoitWolf().fit(rows).covariance_ if len(rows) > 1 else np.eye(Z.shape[1])
                self.models.append(stats.multivariate_normal(rows.mean(axis=0), cov, allow_singular=True))
            elif self.kind == "gmm":
                k = max(1, min(components, len(rows)))
                self.models.append(GaussianMixture(k, reg_covar=1e-4, random_state=seed).fit(rows))
            else:
                self.models.append(KernelDensity(bandwidth="scott").fit(rows))

    def _z(self, X: np.ndarray) -> np.ndarray:
        Z = (X - self.mean) / self.scale
        return np.where(np.isnan(Z), 0.0, Z)

    def posterior(self, X: np.ndarray) -> np.ndarray:
        """Class posterior ``p(class | x)`` for rows ``X`` of shape (m, d): shape (m, C)."""
        Z = self._z(X)
        logs = []
        for model in self.models:
            logs.append(model.logpdf(Z) if self.kind == "gaussian" else model.score_samples(Z))
        joint = np.column_stack(logs).reshape(len(Z), -1) + self.log_prior
        return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
