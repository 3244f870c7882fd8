#!/usr/bin/python3
"""Generate XGBoost JSON fixtures and XGBoost's own predictions for them.

Run from this folder with Debian's interpreter (the packages install for /usr/bin/python3 only):

    apt-get install -y --no-install-recommends python3-xgboost python3-sklearn
    /usr/bin/python3 gen_xgboost.py

For every case it writes <case>.model.json (bst.save_model, the file users upload) and
<case>.expected.json: the input rows (null = missing), bst.predict(...) and
bst.predict(..., output_margin=True) on those rows, and the generator's package versions.
The Go tests compare the package's predictions with these numbers; they need no Python.

Inputs are float32-rounded like every XGBoost input, except a few "edge" rows per case whose
values sit just below a split condition in float64 but round onto it in float32: XGBoost
compares float32(x) < split, so those rows go right, and a float64 comparison would send them
left.
"""

import json
import platform
import sys

import numpy as np
import sklearn
import xgboost as xgb
from sklearn import datasets

SEED = 7
N_TEST = 80


def versions():
    return {
        "xgboost": xgb.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def with_nans(rng, X, frac):
    X = X.copy()
    X[rng.random(X.shape) < frac] = np.nan
    return X


def edge_rows(bst, X, rng, count=6):
    """Rows whose value at some split's feature lies just below that split's condition in
    float64 but rounds to it in float32."""
    gb = json.loads(bst.save_raw("json").decode())["learner"]["gradient_booster"]
    trees = (gb["model"] if "model" in gb else gb["gbtree"]["model"])["trees"]
    splits = []
    for t in trees:
        for i, left in enumerate(t["left_children"]):
            if left != -1 and t.get("split_type", [0] * len(t["left_children"]))[i] == 0:
                splits.append((t["split_indices"][i], t["split_conditions"][i]))
    rows = []
    for _ in range(count):
        f, cond = splits[rng.integers(len(splits))]
        c32 = np.float32(cond)
        below = np.nextafter(np.float64(c32), -np.inf)  # float64 just below; float32(below) == c32
        assert np.float32(below) == c32 and below < np.float64(c32)
        row = X[rng.integers(len(X))].astype(np.float64).copy()
        row[f] = below
        rows.append(row)
    return np.array(rows)


def f32(X):
    return X.astype(np.float32).astype(np.float64)


def to_json_rows(X):
    return [[None if np.isnan(v) else float(v) for v in row] for row in X]


def write_case(name, bst, X_test, description, labels=None, softprob_of=None, extra=None):
    bst.save_model(f"{name}.model.json")
    dm = xgb.DMatrix(X_test, missing=np.nan, **(extra or {}))
    pred = bst.predict(dm)
    margin = bst.predict(dm, output_margin=True)
    out = {
        "description": description,
        "generator": "gen_xgboost.py",
        "versions": versions(),
        "model": f"{name}.model.json",
        "objective": json.loads(bst.save_config())["learner"]["objective"]["name"],
        "labels": labels,
        "inputs": to_json_rows(X_test),
        "predict": pred.astype(np.float64).tolist(),
        "margin": margin.astype(np.float64).tolist(),
    }
    if softprob_of is not None:
        out["softprob"] = softprob_of.astype(np.float64).tolist()
    with open(f"{name}.expected.json", "w") as fh:
        json.dump(out, fh, separators=(",", ":"), allow_nan=False)
        fh.write("\n")


def train(params, X, y, rounds, **dm):
    p = {"seed": SEED, "nthread": 1}
    p.update(params)
    return xgb.train(p, xgb.DMatrix(X, label=y, missing=np.nan, **dm), rounds)


def split(rng, X, y):
    idx = rng.permutation(len(X))
    test, train_ = idx[:N_TEST], idx[N_TEST:]
    return X[train_], y[train_], X[test], y[test]


def main():
    rng = np.random.default_rng(SEED)

    # Binary: breast cancer, first 10 features, 10% missing everywhere.
    bc = datasets.load_breast_cancer()
    X, y = f32(with_nans(rng, bc.data[:, :10], 0.1)), bc.target.astype(float)
    Xtr, ytr, Xte, _ = split(rng, X, y)
    for obj in ["binary:logistic", "binary:logitraw"]:
        bst = train({"objective": obj, "max_depth": 3, "eta": 0.3, "base_score": 0.35}, Xtr, ytr, 20)
        Xt = np.vstack([Xte, edge_rows(bst, Xte, rng)])
        labels = ["malignant", "benign"] if obj == "binary:logistic" else None
        write_case(obj.replace(":", "_"), bst, Xt,
                   f"breast cancer (10 features, 10% NaN), {obj}, base_score 0.35, 20 rounds depth 3",
                   labels=labels)

    # DART booster: tree outputs scaled by weight_drop.
    bst = train({"booster": "dart", "objective": "binary:logistic", "max_depth": 3, "eta": 0.3,
                 "rate_drop": 0.3, "skip_drop": 0.0, "base_score": 0.6}, Xtr, ytr, 12)
    write_case("dart_binary", bst, np.vstack([Xte[:40], edge_rows(bst, Xte, rng)]),
               "breast cancer, dart booster (rate_drop 0.3), binary:logistic, 12 rounds")

    # Random forest: 5 parallel trees per round.
    bst = train({"objective": "binary:logistic", "max_depth": 4, "eta": 1, "num_parallel_tree": 5,
                 "subsample": 0.8, "colsample_bynode": 0.8}, Xtr, ytr, 1)
    write_case("rf_binary", bst, Xte[:40],
               "breast cancer, random forest (num_parallel_tree 5, 1 round), binary:logistic")

    # Multiclass: iris plus two noise features, 10% missing.
    iris = datasets.load_iris()
    X = np.hstack([iris.data, rng.normal(size=(len(iris.data), 2))])
    X, y = f32(with_nans(rng, X, 0.1)), iris.target.astype(float)
    idx = rng.permutation(len(X))
    te, tr = idx[:60], idx[60:]
    for obj in ["multi:softprob", "multi:softmax"]:
        bst = train({"objective": obj, "num_class": 3, "max_depth": 3, "eta": 0.3}, X[tr], y[tr], 15)
        Xt = np.vstack([X[te], edge_rows(bst, X[te], rng)])
        softprob = None
        if obj == "multi:softmax":
            probe = xgb.Booster(model_file=None)
            probe.load_model(bytearray(bst.save_raw("json")))
            probe.set_param({"objective": "multi:softprob"})
            softprob = probe.predict(xgb.DMatrix(Xt, missing=np.nan))
        write_case(obj.replace(":", "_"), bst, Xt,
                   f"iris + 2 noise features (10% NaN), {obj}, 3 classes, 15 rounds depth 3",
                   labels=["setosa", "versicolor", "virginica"] if obj == "multi:softprob" else None,
                   softprob_of=softprob)

    # Regression: diabetes, 10% missing.
    db = datasets.load_diabetes()
    X, y = f32(with_nans(rng, db.data, 0.1)), db.target.astype(float)
    Xtr, ytr, Xte, _ = split(rng, X, y)
    for obj, target, base in [
        ("reg:squarederror", ytr, 150.0),
        ("reg:absoluteerror", ytr, 140.0),
        ("reg:pseudohubererror", ytr / 100.0, 1.5),
        ("reg:logistic", (ytr - 25.0) / 330.0, 0.4),
        ("reg:gamma", ytr, 150.0),
        ("reg:tweedie", ytr, 150.0),
    ]:
        bst = train({"objective": obj, "max_depth": 3, "eta": 0.3, "base_score": base}, Xtr, target, 20)
        Xt = np.vstack([Xte, edge_rows(bst, Xte, rng)])
        write_case(obj.replace(":", "_"), bst, Xt,
                   f"diabetes (10% NaN), {obj}, base_score {base}, 20 rounds depth 3")

    # Poisson counts from a log-linear model.
    Xp = rng.normal(size=(400, 5))
    lam = np.exp(0.4 * Xp[:, 0] - 0.3 * Xp[:, 1] + 0.2 * Xp[:, 2] * Xp[:, 3] + 0.5)
    yp = rng.poisson(lam).astype(float)
    Xp = f32(with_nans(rng, Xp, 0.1))
    Xtr, ytr, Xte, _ = split(rng, Xp, yp)
    bst = train({"objective": "count:poisson", "max_depth": 3, "eta": 0.3, "base_score": 2.0}, Xtr, ytr, 20)
    write_case("count_poisson", bst, np.vstack([Xte, edge_rows(bst, Xte, rng)]),
               "synthetic Poisson counts (5 features, 10% NaN), count:poisson, base_score 2, 20 rounds")

    # Categorical splits (hist, enable_categorical): feature 0 is a category 0..7.
    n = 600
    cat = rng.integers(0, 8, size=n).astype(float)
    z = rng.normal(size=(n, 2))
    yc = np.where(np.isin(cat, [1, 4, 6]), 2.0, -1.0) + z[:, 0] + 0.1 * rng.normal(size=n)
    Xc = np.column_stack([cat, z])
    Xc[rng.random(n) < 0.05, 0] = np.nan
    Xc = f32(Xc)
    ft = {"feature_types": ["c", "q", "q"], "enable_categorical": True}
    bst = train({"objective": "reg:squarederror", "tree_method": "hist", "max_depth": 3, "eta": 0.3,
                 "max_cat_to_onehot": 1}, Xc[:500], yc[:500], 10, **ft)
    odd = np.array([[-1, 0.1, 0.2], [1.5, 0.1, 0.2], [3.9, -0.3, 0.0], [8, 0.0, 0.0], [100, 0.5, 0.5],
                    [16777216, 0.0, 1.0], [1e9, 0.0, 1.0], [np.nan, 1.0, -1.0]])
    write_case("categorical", bst, np.vstack([Xc[500:580], odd]),
               "synthetic, feature 0 categorical (0..7, 5% NaN; plus negative, fractional and "
               "unseen categories), reg:squarederror, hist, 10 rounds depth 3", extra=ft)


if __name__ == "__main__":
    if sys.executable != "/usr/bin/python3":
        print("warning: run with /usr/bin/python3 (Debian's python3-xgboost)", file=sys.stderr)
    main()
