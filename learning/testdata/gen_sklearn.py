#!/usr/bin/python3
"""Regenerate sklearn_pa.json: scikit-learn's passive-aggressive weights on fixed small data.

Run with Debian's scikit-learn (apt-get install -y python3-sklearn; version 1.2.1 made the
committed file):

    /usr/bin/python3 learning/testdata/gen_sklearn.py > learning/testdata/sklearn_pa.json

Each case trains with partial_fit one row at a time (shuffle=False, so the order is the file's)
and records coef_ and intercept_ after every row. scikit-learn keeps the intercept out of
||x||^2 (learning's bias "intercept" rule). Tests read the JSON only; they never run Python.
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.linear_model import PassiveAggressiveClassifier, PassiveAggressiveRegressor


def data():
    rng = np.random.RandomState(20240601)
    # binary: 4 features on different scales, labels from a noisy linear rule
    Xb = rng.normal(size=(60, 4)) * np.array([1.0, 3.0, 0.5, 2.0]) + np.array([0.5, -1.0, 0.0, 2.0])
    yb = (Xb @ np.array([1.0, -0.5, 2.0, 0.25]) + 0.3 * rng.normal(size=60) > 0.2).astype(int)
    # regression: 3 features, a linear target with noise
    Xr = rng.normal(size=(60, 3)) * np.array([1.0, 2.0, 0.5])
    yr = Xr @ np.array([0.7, -1.2, 2.5]) + 1.5 + 0.2 * rng.normal(size=60)
    return Xb, yb, Xr, yr


def path(model, X, y, classes=None):
    coefs, intercepts = [], []
    for i in range(len(X)):
        if classes is not None:
            model.partial_fit(X[i:i + 1], y[i:i + 1], classes=classes)
        else:
            model.partial_fit(X[i:i + 1], y[i:i + 1])
        coefs.append(np.ravel(model.coef_).tolist())
        intercepts.append(float(np.ravel(model.intercept_)[0]))
    return coefs, intercepts


def main():
    Xb, yb, Xr, yr = data()
    cases = []
    for name, loss, C in [("pa1_C1", "hinge", 1.0), ("pa1_C0.1", "hinge", 0.1), ("pa2_C0.5", "squared_hinge", 0.5)]:
        m = PassiveAggressiveClassifier(C=C, loss=loss, fit_intercept=True, shuffle=False, average=False)
        coefs, intercepts = path(m, Xb, yb, classes=np.array([0, 1]))
        cases.append({"name": name, "task": "binary", "variant": name[:3], "C": C, "epsilon": 0.0,
                      "X": Xb.tolist(), "y": yb.astype(float).tolist(), "coef": coefs, "intercept": intercepts})
    for name, loss, C, eps in [("pa1_C1_eps0.1", "epsilon_insensitive", 1.0, 0.1),
                               ("pa2_C0.5_eps0.2", "squared_epsilon_insensitive", 0.5, 0.2)]:
        m = PassiveAggressiveRegressor(C=C, loss=loss, epsilon=eps, fit_intercept=True, shuffle=False, average=False)
        coefs, intercepts = path(m, Xr, yr)
        cases.append({"name": name, "task": "regression", "variant": name[:3], "C": C, "epsilon": eps,
                      "X": Xr.tolist(), "y": yr.tolist(), "coef": coefs, "intercept": intercepts})
    json.dump({"sklearn": sklearn.__version__, "generator": "learning/testdata/gen_sklearn.py", "cases": cases},
              sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
