#!/usr/bin/python3
"""Generate LightGBM text-model fixtures whose predictions an independent implementation knows.

Debian has no LightGBM package, so these models are not written by LightGBM itself. They are
scikit-learn HistGradientBoosting models (sklearn's port of LightGBM's algorithm) written out in
LightGBM's model.txt format; the expected outputs are scikit-learn's own predictions. Run from
this folder with Debian's interpreter:

    apt-get install -y --no-install-recommends python3-sklearn
    /usr/bin/python3 gen_lightgbm.py

The mapping, node by node (sklearn -> LightGBM):
  - numeric split "x <= num_threshold", NaN to missing_go_to_left
      -> threshold, decision_type = missing type NaN (8) | default-left (2) if missing_go_to_left;
  - categorical split "category in raw_left_cat_bitsets[bitset_idx]" -> left
      -> decision_type 1 | 8, threshold = index into cat_boundaries, cat_threshold = the bitset
         words (LightGBM: category in the bitset -> left);
  - leaf values are final contributions in both (learning rate already applied);
  - internal nodes are numbered 0..L-2 and leaves 0..L-1 in sklearn's depth-first order; a
    leaf child is written as ~leaf;
  - _baseline_prediction (sklearn's starting score) is added to the leaves of each class's first
    tree, as LightGBM's boost_from_average does. Adding it there is the same float64 addition
    sklearn performs first, so the sums agree to the last bit.
Trees are written iteration-major (tree i is class i % num_class), as LightGBM does.

Categorical columns of the test rows hold only categories seen in training and no NaN: there
sklearn sends NaN and unknown categories along missing_go_to_left, while LightGBM sends them
right. (The Go tests check LightGBM's rule on hand-written models.)

Each case writes <case>.model.txt and <case>.expected.json: inputs (null = NaN), sklearn's raw
scores, its predictions (probabilities for classifiers), labels, and the package versions.
"""

import json
import platform

import numpy as np
import sklearn
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

SEED = 11
N_TEST = 80


def versions():
    return {"sklearn": sklearn.__version__, "numpy": np.__version__, "python": platform.python_version()}


def g17(v):
    return "%.17g" % float(v)


def with_nans(rng, X, frac, cols=None):
    X = X.copy()
    mask = rng.random(X.shape) < frac
    if cols is not None:
        keep = np.zeros(X.shape[1], bool)
        keep[cols] = True
        mask &= keep
    X[mask] = np.nan
    return X


def tree_block(index, predictor, extra, learning_rate):
    nodes = predictor.nodes
    internal = [i for i in range(len(nodes)) if not nodes["is_leaf"][i]]
    leaves = [i for i in range(len(nodes)) if nodes["is_leaf"][i]]
    iid = {old: k for k, old in enumerate(internal)}
    lid = {old: k for k, old in enumerate(leaves)}

    def child(old):
        return iid[old] if old in iid else ~lid[old]

    split_feature, threshold, decision_type, left, right, gain = [], [], [], [], [], []
    internal_value, internal_count = [], []
    cat_boundaries, cat_threshold = [0], []
    for old in internal:
        n = nodes[old]
        split_feature.append(str(int(n["feature_idx"])))
        gain.append("%g" % n["gain"])
        if n["is_categorical"]:
            words = [int(w) for w in predictor.raw_left_cat_bitsets[n["bitset_idx"]]]
            while len(words) > 1 and words[-1] == 0:
                words.pop()
            threshold.append(str(len(cat_boundaries) - 1))
            cat_threshold.extend(str(w) for w in words)
            cat_boundaries.append(len(cat_threshold))
            decision_type.append(str(1 | 8))
        else:
            threshold.append(g17(n["num_threshold"]))
            decision_type.append(str(8 | (2 if n["missing_go_to_left"] else 0)))
        left.append(str(child(int(n["left"]))))
        right.append(str(child(int(n["right"]))))
        internal_value.append("%g" % n["value"])
        internal_count.append(str(int(n["count"])))
    leaf_value = [g17(float(nodes["value"][old]) + extra) for old in leaves]
    leaf_count = [str(int(nodes["count"][old])) for old in leaves]
    lines = [
        f"num_leaves={len(leaves)}",
        f"num_cat={len(cat_boundaries) - 1}",
        "split_feature=" + " ".join(split_feature),
        "split_gain=" + " ".join(gain),
        "threshold=" + " ".join(threshold),
        "decision_type=" + " ".join(decision_type),
        "left_child=" + " ".join(left),
        "right_child=" + " ".join(right),
        "leaf_value=" + " ".join(leaf_value),
        "leaf_weight=" + " ".join(leaf_count),
        "leaf_count=" + " ".join(leaf_count),
        "internal_value=" + " ".join(internal_value),
        "internal_weight=" + " ".join(internal_count),
        "internal_count=" + " ".join(internal_count),
    ]
    if len(cat_boundaries) > 1:
        lines.append("cat_boundaries=" + " ".join(str(b) for b in cat_boundaries))
        lines.append("cat_threshold=" + " ".join(cat_threshold))
    lines += ["is_linear=0", f"shrinkage={learning_rate:g}"]
    return f"Tree={index}\n" + "\n".join(lines) + "\n\n"


def model_text(est, objective, X_train, categorical=()):
    k = est.n_trees_per_iteration_
    base = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1)
    assert base.shape == (k,)
    blocks = []
    for it, per_class in enumerate(est._predictors):
        for c, predictor in enumerate(per_class):
            extra = float(base[c]) if it == 0 else 0.0
            blocks.append(tree_block(len(blocks), predictor, extra, est.learning_rate))
    infos = []
    for j in range(X_train.shape[1]):
        col = X_train[:, j][~np.isnan(X_train[:, j])]
        if j in categorical:
            infos.append(":".join(str(int(v)) for v in np.unique(col)))
        else:
            infos.append(f"[{g17(col.min())}:{g17(col.max())}]")
    nf = X_train.shape[1]
    header = [
        "tree",
        "version=v4",
        f"num_class={k}",
        f"num_tree_per_iteration={k}",
        "label_index=0",
        f"max_feature_idx={nf - 1}",
        f"objective={objective}",
        "feature_names=" + " ".join(f"Column_{j}" for j in range(nf)),
        "feature_infos=" + " ".join(infos),
        "tree_sizes=" + " ".join(str(len(b)) for b in blocks),
    ]
    params = [
        "parameters:",
        "[boosting: gbdt]",
        f"[objective: {objective.split()[0]}]",
        f"[learning_rate: {est.learning_rate:g}]",
        f"[num_iterations: {len(est._predictors)}]",
        "end of parameters",
    ]
    return ("\n".join(header) + "\n\n" + "".join(blocks) + "end of trees\n\n"
            + "feature_importances:\n\n" + "\n".join(params) + "\n\npandas_categorical:null\n")


def rows(X):
    return [[None if np.isnan(v) else float(v) for v in r] for r in X]


def write_case(name, est, objective, X_train, X_test, description, raw, predict, labels=None,
               categorical=()):
    with open(f"{name}.model.txt", "w") as fh:
        fh.write(model_text(est, objective, X_train, categorical))
    out = {
        "description": description,
        "generator": "gen_lightgbm.py",
        "reference": "scikit-learn HistGradientBoosting predictions on the same rows",
        "versions": versions(),
        "model": f"{name}.model.txt",
        "objective": objective,
        "labels": labels,
        "inputs": rows(X_test),
        "raw": np.asarray(raw, dtype=np.float64).tolist(),
        "predict": np.asarray(predict, dtype=np.float64).tolist(),
    }
    with open(f"{name}.expected.json", "w") as fh:
        json.dump(out, fh, separators=(",", ":"), allow_nan=False)
        fh.write("\n")


def split(rng, X, y):
    idx = rng.permutation(len(X))
    return X[idx[N_TEST:]], y[idx[N_TEST:]], X[idx[:N_TEST]], y[idx[:N_TEST]]


def main():
    rng = np.random.default_rng(SEED)
    common = {"max_leaf_nodes": 8, "learning_rate": 0.2, "early_stopping": False, "random_state": SEED}

    # Binary: breast cancer, first 10 features, 10% NaN.
    bc = datasets.load_breast_cancer()
    X = with_nans(rng, bc.data[:, :10], 0.1)
    Xtr, ytr, Xte, _ = split(rng, X, bc.target)
    est = HistGradientBoostingClassifier(max_iter=20, **common).fit(Xtr, ytr)
    write_case("binary", est, "binary sigmoid:1", Xtr, Xte,
               "breast cancer (10 features, 10% NaN), HistGradientBoostingClassifier, 20 iterations, 8 leaves",
               est.decision_function(Xte), est.predict_proba(Xte)[:, 1], labels=["malignant", "benign"])

    # Multiclass: iris plus two noise features, 10% NaN.
    iris = datasets.load_iris()
    X = with_nans(rng, np.hstack([iris.data, rng.normal(size=(len(iris.data), 2))]), 0.1)
    idx = rng.permutation(len(X))
    te, tr = idx[:60], idx[60:]
    est = HistGradientBoostingClassifier(max_iter=15, **common).fit(X[tr], iris.target[tr])
    write_case("multiclass", est, "multiclass num_class:3", X[tr], X[te],
               "iris + 2 noise features (10% NaN), HistGradientBoostingClassifier, 3 classes, 15 iterations",
               est.decision_function(X[te]), est.predict_proba(X[te]), labels=["setosa", "versicolor", "virginica"])

    # Regression: diabetes, 10% NaN; squared and absolute error.
    db = datasets.load_diabetes()
    X = with_nans(rng, db.data, 0.1)
    Xtr, ytr, Xte, _ = split(rng, X, db.target)
    for name, loss, objective in [("regression", "squared_error", "regression"),
                                  ("regression_l1", "absolute_error", "regression_l1")]:
        est = HistGradientBoostingRegressor(loss=loss, max_iter=20, **common).fit(Xtr, ytr)
        write_case(name, est, objective, Xtr, Xte,
                   f"diabetes (10% NaN), HistGradientBoostingRegressor loss={loss}, 20 iterations",
                   est._raw_predict(Xte)[:, 0], est.predict(Xte))

    # Poisson: synthetic counts; LightGBM's poisson objective predicts exp(raw).
    Xp = rng.normal(size=(500, 5))
    yp = rng.poisson(np.exp(0.4 * Xp[:, 0] - 0.3 * Xp[:, 1] + 0.2 * Xp[:, 2] * Xp[:, 3] + 0.5)).astype(float)
    Xp = with_nans(rng, Xp, 0.1)
    Xtr, ytr, Xte, _ = split(rng, Xp, yp)
    est = HistGradientBoostingRegressor(loss="poisson", max_iter=20, **common).fit(Xtr, ytr)
    write_case("poisson", est, "poisson", Xtr, Xte,
               "synthetic Poisson counts (5 features, 10% NaN), HistGradientBoostingRegressor loss=poisson",
               est._raw_predict(Xte)[:, 0], est.predict(Xte))

    # Categorical splits: feature 0 is a category 0..39 (bitsets over two 32-bit words).
    n = 900
    cat = rng.integers(0, 40, size=n).astype(float)
    z = rng.normal(size=(n, 2))
    logit = np.where(np.isin(cat, [1, 4, 6, 33, 35, 38]), 2.0, -1.0) + z[:, 0]
    y = (logit + rng.logistic(size=n) > 0).astype(int)
    X = np.column_stack([cat, with_nans(rng, z, 0.1)])
    est = HistGradientBoostingClassifier(max_iter=15, categorical_features=[0], **common).fit(X[:800], y[:800])
    write_case("categorical", est, "binary sigmoid:1", X[:800], X[800:],
               "synthetic binary, feature 0 categorical with 40 categories, numeric features 10% NaN, 15 iterations",
               est.decision_function(X[800:]), est.predict_proba(X[800:])[:, 1], categorical=(0,))


if __name__ == "__main__":
    main()
