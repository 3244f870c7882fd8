#!/usr/bin/python3
"""Make the ONNX fixtures of serving/onnx.

Each case is <case>.onnx plus <case>.expected.json. This script builds every graph by hand
with onnx.helper (Debian python3-onnx 1.12), most of them from parameters of models fitted
with scikit-learn (Debian python3-sklearn 1.2) or XGBoost (python3-xgboost 1.7), and writes
the inputs and, where there is one, the source library's own prediction ("source"). run_ort.js then fills in "outputs" with onnxruntime's results
(the ground truth the Go tests compare with).

Run with Debian's Python, not a pyenv one (it cannot see the Debian packages):

    cd serving/onnx/testdata && /usr/bin/python3 gen_fixtures.py && node run_ort.js

Inputs are float32-rounded before they reach scikit-learn, so every side sees the same numbers.
"""

import json
import os
import sys

import numpy as np
import onnx
import sklearn
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.svm import SVC, SVR, LinearSVR

OUT = os.path.dirname(os.path.abspath(__file__))
ML = "ai.onnx.ml"
FLOAT, DOUBLE, INT64, STRING = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.STRING
NP = {FLOAT: np.float32, DOUBLE: np.float64, INT64: np.int64}
DT = {FLOAT: "float32", DOUBLE: "float64", INT64: "int64", STRING: "string"}
VERSIONS = {"python": sys.version.split()[0], "onnx": onnx.__version__, "sklearn": sklearn.__version__,
            "numpy": np.__version__}
rng = np.random.default_rng(20240601)
written = []


def f32(a):
    return np.asarray(a, dtype=np.float32)


def model(nodes, inputs, outputs, inits=(), opset=13, ml=3, name="g", ir=8):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    imports = [helper.make_opsetid("", opset)]
    if ml:
        imports.append(helper.make_opsetid(ML, ml))
    return helper.make_model(graph, opset_imports=imports, ir_version=ir, producer_name="actorserve gen_fixtures.py")


def tinfo(name, elem, shape):
    """shape: a list of dims (None for unknown) or an int rank."""
    if isinstance(shape, int):
        shape = [None] * shape
    return helper.make_tensor_value_info(name, elem, shape)


def seqmap_info(name, key_type):
    """A sequence of maps from key_type to float, as ZipMap returns (onnx 1.12 has no helper)."""
    vi = onnx.ValueInfoProto()
    vi.name = name
    mt = vi.type.sequence_type.elem_type.map_type
    mt.key_type = key_type
    mt.value_type.tensor_type.elem_type = FLOAT
    return vi


def jsonable(a):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return [None if np.isnan(v) else float(v) for v in a.ravel()]
    if a.dtype.kind in "iu":
        return [int(v) for v in a.ravel()]
    return [str(v) for v in a.ravel()]


def no_zipmap(m):
    """A copy of m whose ZipMap outputs are replaced by the ZipMap's input tensor, for
    onnxruntime-node, which cannot return sequences of maps."""
    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    g = m2.graph
    zips = {n.output[0]: n for n in g.node if n.op_type == "ZipMap"}
    if not zips:
        return None
    for i, o in enumerate(list(g.output)):
        if o.name in zips:
            z = zips[o.name]
            g.node.remove(z)
            g.output.remove(o)
            g.output.insert(i, tinfo(z.input[0], FLOAT, 2))
    return m2


def save(case, m, inputs, desc, labels=None, sklearn_ref=None, model_level=True, check=True, numpy_outputs=None):
    """inputs: list of (name, elem_type, ndarray)."""
    if check:
        onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, case + ".onnx"))
    ort_model = None
    nz = no_zipmap(m)
    if nz is not None:
        ort_model = case + ".ort.onnx"
        onnx.save(nz, os.path.join(OUT, ort_model))
    doc = {
        "case": case,
        "description": desc,
        "model": case + ".onnx",
        "ort_model": ort_model,
        "model_level": model_level,
        "labels": labels,
        "inputs": [{"name": n, "dtype": DT[t], "dims": list(np.asarray(a).shape), "data": jsonable(a)}
                   for n, t, a in inputs],
        "source": sklearn_ref,
        "versions": VERSIONS,
        "outputs": None,
    }
    if numpy_outputs is not None:
        # onnxruntime cannot run this graph: the expected outputs are computed with numpy.
        doc["reference"] = "numpy"
        doc["outputs"] = [{"name": n, "dtype": str(np.asarray(a).dtype), "dims": list(np.asarray(a).shape),
                           "data": jsonable(a)} for n, a in numpy_outputs]
    with open(os.path.join(OUT, case + ".expected.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    written.append(case)


def sk_ref(library=None, **kw):
    """The source library's own predictions (scikit-learn unless library says otherwise)."""
    out = {"library": library or f"scikit-learn {sklearn.__version__}"}
    for k, v in kw.items():
        out[k] = jsonable(v) if not isinstance(v, list) else v
    return out


# --- data ---------------------------------------------------------------------------------

iris_X, iris_y = load_iris(return_X_y=True)
iris_X = f32(iris_X).astype(np.float64)
bc_X, bc_y = load_breast_cancer(return_X_y=True)
bc_X = f32(bc_X[:, :6]).astype(np.float64)
db_X, db_y = load_diabetes(return_X_y=True)
db_X = f32(db_X).astype(np.float64)


def pick(X, n=24):
    idx = rng.choice(len(X), size=n, replace=False)
    return X[idx]


# --- linear models ------------------------------------------------------------------------

def linear_cases():
    lr = LogisticRegression(max_iter=5000).fit(bc_X, bc_y)
    X = pick(bc_X)
    w, b = f32(lr.coef_[0]), f32(lr.intercept_[0])
    nodes = [
        helper.make_node("LinearClassifier", ["X"], ["label", "raw"], domain=ML,
                         coefficients=list(np.concatenate([-w, w])), intercepts=[-float(b), float(b)],
                         classlabels_ints=[0, 1], post_transform="LOGISTIC"),
        helper.make_node("Normalizer", ["raw"], ["probs"], domain=ML, norm="L1"),
        helper.make_node("ZipMap", ["probs"], ["probabilities"], domain=ML, classlabels_int64s=[0, 1]),
    ]
    m = model(nodes, [tinfo("X", FLOAT, [None, 6])], [tinfo("label", INT64, [None]), seqmap_info("probabilities", INT64)])
    save("linear_binary", m, [("X", FLOAT, f32(X))],
         "LogisticRegression on breast cancer (6 features) as skl2onnx writes it: LinearClassifier "
         "with both classes' rows, LOGISTIC, Normalizer L1, ZipMap",
         sklearn_ref=sk_ref(label=lr.predict(X), proba=lr.predict_proba(X)))

    lr = LogisticRegression(max_iter=5000).fit(iris_X, iris_y)
    X = pick(iris_X)
    names = ["setosa", "versicolor", "virginica"]
    nodes = [
        helper.make_node("LinearClassifier", ["X"], ["label", "probs"], domain=ML,
                         coefficients=list(f32(lr.coef_).ravel()), intercepts=list(f32(lr.intercept_)),
                         classlabels_strings=names, post_transform="SOFTMAX", multi_class=1),
        helper.make_node("ZipMap", ["probs"], ["probabilities"], domain=ML, classlabels_strings=names),
    ]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("label", STRING, [None]), seqmap_info("probabilities", STRING)])
    save("linear_multiclass", m, [("X", FLOAT, f32(X))],
         "multinomial LogisticRegression on iris: LinearClassifier SOFTMAX with string labels, ZipMap",
         sklearn_ref=sk_ref(label=[names[k] for k in lr.predict(X)], proba=lr.predict_proba(X)))

    # One coefficient row, two labels: onnxruntime writes (1-s, s) without transforming.
    X = f32(rng.normal(size=(16, 3)))
    for post, case in [("NONE", "linear_onerow"), ("LOGISTIC", "linear_onerow_logistic"),
                       ("SOFTMAX", "linear_onerow_softmax"), ("SOFTMAX_ZERO", "linear_onerow_softmax_zero")]:
        nodes = [helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain=ML,
                                  coefficients=[0.5, -1.25, 2.0], intercepts=[0.1], classlabels_ints=[3, 7],
                                  post_transform=post)]
        m = model(nodes, [tinfo("X", FLOAT, [None, 3])], [tinfo("label", INT64, [None]), tinfo("scores", FLOAT, [None, 2])])
        save(case, m, [("X", FLOAT, X)], f"LinearClassifier with one coefficient row and labels 3, 7, post_transform {post}")

    reg = LinearRegression().fit(db_X, db_y)
    X = pick(db_X)
    nodes = [helper.make_node("LinearRegressor", ["X"], ["variable"], domain=ML,
                              coefficients=list(f32(reg.coef_)), intercepts=[float(reg.intercept_)])]
    m = model(nodes, [tinfo("X", FLOAT, [None, 10])], [tinfo("variable", FLOAT, [None, 1])])
    save("linear_regressor", m, [("X", FLOAT, f32(X))], "LinearRegression on diabetes: LinearRegressor",
         sklearn_ref=sk_ref(value=reg.predict(X)))

    X = f32(rng.normal(size=(12, 4)))
    for post in ["SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"]:
        coef = f32(rng.normal(size=12) * 0.3)
        if post == "PROBIT":
            coef *= 0.1
        nodes = [helper.make_node("LinearRegressor", ["X"], ["Y"], domain=ML, coefficients=list(coef),
                                  intercepts=[0.25, 0.0, -0.5] if post != "PROBIT" else [0.5, 0.4, 0.6],
                                  targets=3, post_transform=post)]
        m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("Y", FLOAT, [None, 3])])
        save("linear_regressor_3_" + post.lower(), m, [("X", FLOAT, X)],
             f"LinearRegressor with 3 targets and post_transform {post} (graph check only)", model_level=False)
    nodes = [helper.make_node("LinearRegressor", ["X"], ["Y"], domain=ML, coefficients=[0.1, -0.05, 0.02, 0.03],
                              intercepts=[0.5], post_transform="PROBIT")]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("Y", FLOAT, [None, 1])])
    save("linear_regressor_probit", m, [("X", FLOAT, X)],
         "LinearRegressor with one target and PROBIT (onnxruntime's approximate inverse erf)")


# --- trees --------------------------------------------------------------------------------

def float32_threshold(t):
    w = np.float32(t)
    if np.float64(w) > t:
        w = np.nextafter(w, np.float32(-np.inf))
    return float(w)


class Trees:
    def __init__(self):
        self.nodes = {k: [] for k in ["treeids", "nodeids", "featureids", "modes", "values", "truenodeids",
                                      "falsenodeids", "missing"]}
        self.w = {k: [] for k in ["treeids", "nodeids", "ids", "weights"]}

    def add_sklearn(self, tid, tree, leaf_weights):
        """leaf_weights(i) -> list of (class or target id, weight) for leaf i. Thresholds
        become the largest float32 w with float32(x) <= t  <=>  x <= w, so that float32
        comparisons route every float32 input as scikit-learn's double comparisons do."""
        t = tree.tree_
        for i in range(t.node_count):
            leaf = t.children_left[i] == -1
            n = self.nodes
            n["treeids"].append(tid)
            n["nodeids"].append(i)
            n["featureids"].append(0 if leaf else int(t.feature[i]))
            n["modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            n["values"].append(0.0 if leaf else float32_threshold(t.threshold[i]))
            n["truenodeids"].append(0 if leaf else int(t.children_left[i]))
            n["falsenodeids"].append(0 if leaf else int(t.children_right[i]))
            n["missing"].append(0)
            if leaf:
                for cid, wv in leaf_weights(i):
                    self.w["treeids"].append(tid)
                    self.w["nodeids"].append(i)
                    self.w["ids"].append(cid)
                    self.w["weights"].append(float(wv))

    def add(self, tid, nid, feat, mode, value, t, f, missing=0, weights=()):
        n = self.nodes
        for k, v in zip(["treeids", "nodeids", "featureids", "modes", "values", "truenodeids", "falsenodeids", "missing"],
                        [tid, nid, feat, mode, value, t, f, missing]):
            n[k].append(v)
        for cid, wv in weights:
            self.w["treeids"].append(tid)
            self.w["nodeids"].append(nid)
            self.w["ids"].append(cid)
            self.w["weights"].append(float(wv))

    def attrs(self, prefix, with_missing=False):
        n = self.nodes
        a = {"nodes_treeids": n["treeids"], "nodes_nodeids": n["nodeids"], "nodes_featureids": n["featureids"],
             "nodes_modes": n["modes"], "nodes_values": n["values"], "nodes_truenodeids": n["truenodeids"],
             "nodes_falsenodeids": n["falsenodeids"],
             prefix + "_treeids": self.w["treeids"], prefix + "_nodeids": self.w["nodeids"],
             prefix + "_ids": self.w["ids"], prefix + "_weights": self.w["weights"]}
        if with_missing:
            a["nodes_missing_value_tracks_true"] = n["missing"]
        return a


def tree_classifier(case, attrs, labels, X, desc, elem=FLOAT, nfeat=None, ml=3, sk=None, zipmap=True, label_strings=False):
    nfeat = nfeat or X.shape[1]
    kw = dict(attrs)
    if label_strings:
        kw["classlabels_strings"] = labels
    else:
        kw["classlabels_int64s"] = labels
    nodes = [helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probs"], domain=ML, **kw)]
    outs = [tinfo("label", STRING if label_strings else INT64, [None])]
    if zipmap:
        zk = {"classlabels_strings": labels} if label_strings else {"classlabels_int64s": labels}
        nodes.append(helper.make_node("ZipMap", ["probs"], ["probabilities"], domain=ML, **zk))
        outs.append(seqmap_info("probabilities", STRING if label_strings else INT64))
    else:
        outs.append(tinfo("probs", FLOAT, [None, len(labels)]))
    m = model(nodes, [tinfo("X", elem, [None, nfeat])], outs, ml=ml)
    save(case, m, [("X", elem, X.astype(NP[elem]))], desc, sklearn_ref=sk)


def tree_cases():
    # Random forest, multiclass: leaf weights are class frequencies / trees.
    rf = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(iris_X, iris_y)
    tr = Trees()
    for k, est in enumerate(rf.estimators_):
        v = est.tree_.value
        tr.add_sklearn(k, est, lambda i, v=v: [(c, v[i][0][c] / v[i][0].sum() / 5) for c in range(3)])
    X = pick(iris_X)
    tree_classifier("tree_rf_multiclass", tr.attrs("class") | {"post_transform": "NONE"}, [0, 1, 2], X,
                    "RandomForestClassifier (5 trees, depth 3) on iris: TreeEnsembleClassifier + ZipMap",
                    sk=sk_ref(label=rf.predict(X), proba=rf.predict_proba(X)))

    rf = RandomForestClassifier(n_estimators=7, max_depth=4, random_state=1).fit(bc_X, bc_y)
    X = pick(bc_X)
    tr = Trees()
    for k, est in enumerate(rf.estimators_):
        v = est.tree_.value
        tr.add_sklearn(k, est, lambda i, v=v: [(0, v[i][0][1] / v[i][0].sum() / 7)])
    tree_classifier("tree_rf_binary", tr.attrs("class") | {"post_transform": "NONE"}, [0, 1], X,
                    "RandomForestClassifier (7 trees, depth 4) on breast cancer as skl2onnx writes a binary "
                    "forest: one weight per leaf (the positive class's share) under class id 0",
                    sk=sk_ref(label=rf.predict(X), proba=rf.predict_proba(X)))
    tr = Trees()
    for k, est in enumerate(rf.estimators_):
        v = est.tree_.value
        tr.add_sklearn(k, est, lambda i, v=v: [(c, v[i][0][c] / v[i][0].sum() / 7) for c in range(2)])
    tree_classifier("tree_rf_binary_bothclasses", tr.attrs("class") | {"post_transform": "NONE"}, [0, 1], X,
                    "the same forest with weights for both classes: onnxruntime labels a row 1 whenever class 1 "
                    "has a positive score, so its labels (and ours) differ from scikit-learn's where p < 0.5",
                    sk=sk_ref(proba=rf.predict_proba(X)))

    # Gradient boosting, binary: weights for class 0 only, base value = initial log-odds,
    # LOGISTIC: onnxruntime's binary special case.
    gb = GradientBoostingClassifier(n_estimators=20, max_depth=3, learning_rate=0.3, random_state=0).fit(bc_X, bc_y)
    tr = Trees()
    for k, est in enumerate(gb.estimators_[:, 0]):
        v = est.tree_.value
        tr.add_sklearn(k, est, lambda i, v=v: [(0, v[i][0][0] * gb.learning_rate)])
    X = pick(bc_X)
    base = float(gb._raw_predict_init(X[:1])[0][0])
    tree_classifier("tree_gbm_binary", tr.attrs("class") | {"post_transform": "LOGISTIC", "base_values": [base]}, [0, 1], X,
                    "GradientBoostingClassifier (20 trees) on breast cancer: one class id, base value, LOGISTIC",
                    sk=sk_ref(label=gb.predict(X), proba=gb.predict_proba(X)))

    gb = GradientBoostingClassifier(n_estimators=10, max_depth=2, learning_rate=0.5, random_state=0).fit(iris_X, iris_y)
    tr = Trees()
    tid = 0
    for m_ in range(gb.estimators_.shape[0]):
        for c in range(3):
            est = gb.estimators_[m_, c]
            v = est.tree_.value
            tr.add_sklearn(tid, est, lambda i, v=v, c=c: [(c, v[i][0][0] * gb.learning_rate)])
            tid += 1
    X = pick(iris_X)
    base = [float(v) for v in gb._raw_predict_init(X[:1])[0]]
    tree_classifier("tree_gbm_multiclass", tr.attrs("class") | {"post_transform": "SOFTMAX", "base_values": base},
                    ["a", "b", "c"], X, "GradientBoostingClassifier (10 rounds × 3 classes) on iris: SOFTMAX, string labels",
                    sk=sk_ref(label=[["a", "b", "c"][k] for k in gb.predict(X)], proba=gb.predict_proba(X)),
                    label_strings=True)

    # Binary with a positive weight per leaf for class 1 only and no base values
    # (all-positive binary case: scores 1-p, p).
    tr = Trees()
    tr.add(0, 0, 0, "BRANCH_LEQ", 0.5, 1, 2)
    tr.add(0, 1, 0, "LEAF", 0, 0, 0, weights=[(1, 0.2)])
    tr.add(0, 2, 1, "BRANCH_LT", -0.25, 3, 4)
    tr.add(0, 3, 0, "LEAF", 0, 0, 0, weights=[(1, 0.9)])
    tr.add(0, 4, 0, "LEAF", 0, 0, 0, weights=[(1, 0.6)])
    X = f32(np.concatenate([rng.normal(size=(14, 2)), [[0.5, 0], [0.6, -0.25], [0.6, -0.3]]]))
    tree_classifier("tree_binary_onepositive", tr.attrs("class") | {"post_transform": "NONE"}, [10, 20], X,
                    "hand-made binary tree classifier with class-1 weights only, all positive", zipmap=False)
    tree_classifier("tree_binary_onepositive_logistic", tr.attrs("class") | {"post_transform": "LOGISTIC"}, [10, 20], X,
                    "the same with LOGISTIC", zipmap=False)
    # Mixed-sign class-1 weights and two base values.
    tr2 = Trees()
    tr2.add(0, 0, 0, "BRANCH_LEQ", 0.0, 1, 2)
    tr2.add(0, 1, 0, "LEAF", 0, 0, 0, weights=[(1, -0.7)])
    tr2.add(0, 2, 0, "LEAF", 0, 0, 0, weights=[(1, 0.4)])
    tr2.add(1, 0, 1, "BRANCH_GT", 0.3, 1, 2)
    tr2.add(1, 1, 0, "LEAF", 0, 0, 0, weights=[(1, 0.3)])
    tr2.add(1, 2, 0, "LEAF", 0, 0, 0, weights=[(1, -0.1)])
    tree_classifier("tree_binary_mixed_logistic", tr2.attrs("class") | {"post_transform": "LOGISTIC"}, [0, 1], X,
                    "binary, class-1 weights of both signs, LOGISTIC, no base values", zipmap=False)
    tree_classifier("tree_binary_mixed_base2", tr2.attrs("class") | {"post_transform": "NONE", "base_values": [0.1, 0.1]},
                    [0, 1], X, "binary, class-1 weights, two base values", zipmap=False)
    # Both classes weighted, two base values, SOFTMAX; and SOFTMAX_ZERO multiclass.
    tr3 = Trees()
    tr3.add(0, 0, 0, "BRANCH_GTE", 0.1, 1, 2)
    tr3.add(0, 1, 0, "LEAF", 0, 0, 0, weights=[(0, 0.3), (1, 0.7)])
    tr3.add(0, 2, 0, "LEAF", 0, 0, 0, weights=[(0, 0.8), (1, -0.2)])
    tree_classifier("tree_binary_both_base2", tr3.attrs("class") | {"post_transform": "SOFTMAX", "base_values": [0.05, -0.05]},
                    [0, 1], X, "binary, weights for both classes, two base values, SOFTMAX", zipmap=False)
    tr4 = Trees()
    tr4.add(0, 0, 0, "BRANCH_LEQ", 0.0, 1, 2)
    tr4.add(0, 1, 0, "LEAF", 0, 0, 0, weights=[(0, 1.5)])
    tr4.add(0, 2, 0, "LEAF", 0, 0, 0, weights=[(2, 0.5), (1, 0.25)])
    tree_classifier("tree_softmax_zero", tr4.attrs("class") | {"post_transform": "SOFTMAX_ZERO"}, ["x", "y", "z"], X,
                    "multiclass with classes left without score: SOFTMAX_ZERO", zipmap=False, label_strings=True)

    # Regressors from scikit-learn.
    gbr = GradientBoostingRegressor(n_estimators=25, max_depth=3, learning_rate=0.2, random_state=0).fit(db_X, db_y)
    tr = Trees()
    for k, est in enumerate(gbr.estimators_[:, 0]):
        v = est.tree_.value
        tr.add_sklearn(k, est, lambda i, v=v: [(0, v[i][0][0] * gbr.learning_rate)])
    X = pick(db_X)
    base = float(gbr._raw_predict_init(X[:1])[0][0])
    nodes = [helper.make_node("TreeEnsembleRegressor", ["X"], ["variable"], domain=ML, n_targets=1,
                              base_values=[base], **tr.attrs("target"))]
    m = model(nodes, [tinfo("X", FLOAT, [None, 10])], [tinfo("variable", FLOAT, [None, 1])])
    save("tree_gbr", m, [("X", FLOAT, f32(X))], "GradientBoostingRegressor (25 trees) on diabetes: SUM with a base value",
         sklearn_ref=sk_ref(value=gbr.predict(X)))

    rfr = RandomForestRegressor(n_estimators=6, max_depth=4, random_state=0).fit(db_X, db_y)
    tr = Trees()
    for k, est in enumerate(rfr.estimators_):
        v = est.tree_.value
        tr.add_sklearn(k, est, lambda i, v=v: [(0, v[i][0][0])])
    nodes = [helper.make_node("TreeEnsembleRegressor", ["X"], ["variable"], domain=ML, n_targets=1,
                              aggregate_function="AVERAGE", **tr.attrs("target"))]
    m = model(nodes, [tinfo("X", FLOAT, [None, 10])], [tinfo("variable", FLOAT, [None, 1])])
    save("tree_rfr", m, [("X", FLOAT, f32(X))], "RandomForestRegressor (6 trees) on diabetes: AVERAGE",
         sklearn_ref=sk_ref(value=rfr.predict(X)))

    # Every node mode, NaN routing with and without missing_value_tracks_true.
    tr = Trees()
    modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]
    for k, mode in enumerate(modes):
        for track in (0, 1):
            tid = 2 * k + track
            tr.add(tid, 0, k % 3, mode, 0.5, 1, 2, missing=track)
            tr.add(tid, 1, 0, "LEAF", 0, 0, 0, weights=[(0, 1.0 + tid)])
            tr.add(tid, 2, 0, "LEAF", 0, 0, 0, weights=[(0, -0.5 * tid)])
    X = f32(rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=(20, 3)))
    X[::3, 0] = np.nan
    X[1::4, 1] = np.nan
    X[2::5, 2] = np.nan
    for agg in ["SUM", "AVERAGE", "MIN", "MAX"]:
        nodes = [helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain=ML, n_targets=1,
                                  aggregate_function=agg, base_values=[0.125], **tr.attrs("target", with_missing=True))]
        m = model(nodes, [tinfo("X", FLOAT, [None, 3])], [tinfo("Y", FLOAT, [None, 1])])
        save("tree_modes_" + agg.lower(), m, [("X", FLOAT, X)],
             f"12 one-split trees: every node mode, with and without missing_value_tracks_true, NaN inputs, {agg}")

    # Two targets, base values, transforms.
    tr = Trees()
    tr.add(0, 0, 0, "BRANCH_LEQ", 0.0, 1, 2)
    tr.add(0, 1, 0, "LEAF", 0, 0, 0, weights=[(0, 0.5), (1, -0.25)])
    tr.add(0, 2, 1, "BRANCH_GT", 0.5, 3, 4)
    tr.add(0, 3, 0, "LEAF", 0, 0, 0, weights=[(1, 1.5)])
    tr.add(0, 4, 0, "LEAF", 0, 0, 0, weights=[(0, -1.0)])
    tr.add(1, 0, 1, "BRANCH_LT", 0.2, 1, 2)
    tr.add(1, 1, 0, "LEAF", 0, 0, 0, weights=[(0, 0.75)])
    tr.add(1, 2, 0, "LEAF", 0, 0, 0, weights=[(1, 0.1)])
    X = f32(rng.normal(size=(16, 2)))
    for agg, post in [("SUM", "LOGISTIC"), ("AVERAGE", "SOFTMAX"), ("MIN", "SOFTMAX_ZERO"), ("MAX", "NONE")]:
        nodes = [helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain=ML, n_targets=2, aggregate_function=agg,
                                  post_transform=post, base_values=[0.1, -0.2], **tr.attrs("target"))]
        m = model(nodes, [tinfo("X", FLOAT, [None, 2])], [tinfo("Y", FLOAT, [None, 2])])
        save(f"tree_2targets_{agg.lower()}_{post.lower()}", m, [("X", FLOAT, X)],
             f"regressor with 2 targets, {agg}, {post}, base values (graph check only)", model_level=False)
    tr1 = Trees()
    tr1.add(0, 0, 0, "BRANCH_LEQ", 0.0, 1, 2)
    tr1.add(0, 1, 0, "LEAF", 0, 0, 0, weights=[(0, 0.3)])
    tr1.add(0, 2, 0, "LEAF", 0, 0, 0, weights=[(0, 0.85)])
    nodes = [helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain=ML, n_targets=1,
                              post_transform="PROBIT", **tr1.attrs("target"))]
    m = model(nodes, [tinfo("X", FLOAT, [None, 2])], [tinfo("Y", FLOAT, [None, 1])])
    save("tree_probit", m, [("X", FLOAT, X)], "one-target regressor with PROBIT")

    # ai.onnx.ml 3: double thresholds and weights as tensors, double input.
    gbr2 = GradientBoostingRegressor(n_estimators=8, max_depth=3, random_state=0).fit(db_X, db_y)
    tr = Trees()
    for k, est in enumerate(gbr2.estimators_[:, 0]):
        v = est.tree_.value
        tr.add_sklearn(k, est, lambda i, v=v: [(0, v[i][0][0] * gbr2.learning_rate)])
    a = tr.attrs("target")
    vals, wts = a.pop("nodes_values"), a.pop("target_weights")
    base = float(gbr2._raw_predict_init(db_X[:1])[0][0])
    nodes = [helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain=ML, n_targets=1,
                              nodes_values_as_tensor=numpy_helper.from_array(np.array(vals, dtype=np.float64)),
                              target_weights_as_tensor=numpy_helper.from_array(np.array(wts, dtype=np.float64)),
                              base_values_as_tensor=numpy_helper.from_array(np.array([base], dtype=np.float64)), **a)]
    m = model(nodes, [tinfo("X", DOUBLE, [None, 10])], [tinfo("Y", FLOAT, [None, 1])], ml=3)
    X = pick(db_X)
    save("tree_v3_double", m, [("X", DOUBLE, X)],
         "GradientBoostingRegressor as TreeEnsembleRegressor (ai.onnx.ml 3) with double thresholds, weights and input",
         sklearn_ref=sk_ref(value=gbr2.predict(X)))


def xgboost_trees(bst, class_of_tree, scale=1.0):
    """The trees of an XGBoost booster as onnxmltools writes them: BRANCH_LT (XGBoost goes to
    "yes" when x < split), missing values to the default child through
    nodes_missing_value_tracks_true, leaves weighted for the tree's class."""
    tr = Trees()
    for tid, dump in enumerate(bst.get_dump(dump_format="json")):
        stack = [json.loads(dump)]
        while stack:
            nd = stack.pop()
            nid = nd["nodeid"]
            if "leaf" in nd:
                tr.add(tid, nid, 0, "LEAF", 0.0, 0, 0, weights=[(class_of_tree(tid), nd["leaf"] * scale)])
                continue
            feat = int(nd["split"].lstrip("f"))
            tr.add(tid, nid, feat, "BRANCH_LT", float(np.float32(nd["split_condition"])), nd["yes"], nd["no"],
                   missing=int(nd["missing"] == nd["yes"]))
            stack.extend(nd["children"])
    return tr


def xgboost_cases():
    import xgboost as xgb
    global VERSIONS
    VERSIONS = dict(VERSIONS, xgboost=xgb.__version__)
    X = bc_X.copy()
    X[rng.random(X.shape) < 0.1] = np.nan
    y = bc_y
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "base_score": 0.5,
                     "tree_method": "exact"}, xgb.DMatrix(X, label=y, missing=np.nan), num_boost_round=12)
    tr = xgboost_trees(bst, lambda t: 0)
    Xs = pick(X)
    dm = xgb.DMatrix(Xs, missing=np.nan)
    p = bst.predict(dm)
    tree_classifier("xgb_binary", tr.attrs("class", with_missing=True) | {"post_transform": "LOGISTIC", "base_values": [0.0]},
                    [0, 1], Xs, "XGBoost binary:logistic (12 trees, depth 3, 10% NaN) as onnxmltools writes it: "
                    "BRANCH_LT, missing values by nodes_missing_value_tracks_true, one class id, LOGISTIC",
                    sk=sk_ref(label=(p > 0.5).astype(np.int64), proba=np.stack([1 - p, p], axis=1), library=f"xgboost {xgb.__version__}"), zipmap=False)

    Xi = iris_X.copy()
    Xi[rng.random(Xi.shape) < 0.1] = np.nan
    bst = xgb.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2, "eta": 0.5, "base_score": 0.5,
                     "tree_method": "exact"}, xgb.DMatrix(Xi, label=iris_y, missing=np.nan), num_boost_round=6)
    tr = xgboost_trees(bst, lambda t: t % 3)
    Xs = pick(Xi)
    p = bst.predict(xgb.DMatrix(Xs, missing=np.nan))
    tree_classifier("xgb_multiclass", tr.attrs("class", with_missing=True) | {"post_transform": "SOFTMAX",
                                                                            "base_values": [0.5, 0.5, 0.5]},
                    [0, 1, 2], Xs, "XGBoost multi:softprob (6 rounds × 3 classes, 10% NaN) as onnxmltools writes it",
                    sk=sk_ref(label=p.argmax(axis=1), proba=p, library=f"xgboost {xgb.__version__}"), zipmap=False)

    Xd = db_X.copy()
    Xd[rng.random(Xd.shape) < 0.1] = np.nan
    bst = xgb.train({"objective": "reg:squarederror", "max_depth": 3, "eta": 0.3, "base_score": 150.0,
                     "tree_method": "exact"}, xgb.DMatrix(Xd, label=db_y, missing=np.nan), num_boost_round=10)
    tr = xgboost_trees(bst, lambda t: 0)
    Xs = pick(Xd)
    nodes = [helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain=ML, n_targets=1, base_values=[150.0],
                              **tr.attrs("target", with_missing=True))]
    m = model(nodes, [tinfo("X", FLOAT, [None, 10])], [tinfo("Y", FLOAT, [None, 1])])
    save("xgb_regressor", m, [("X", FLOAT, f32(Xs))], "XGBoost reg:squarederror (10 trees, 10% NaN), BRANCH_LT with missing tracking",
         sklearn_ref=sk_ref(value=bst.predict(xgb.DMatrix(Xs, missing=np.nan)), library=f"xgboost {xgb.__version__}"))


def misc_cases():
    # Two inputs through FeatureVectorizer, a Constant, a double Gemm.
    c = lambda a, n, dt: numpy_helper.from_array(np.asarray(a, dtype=dt), n)
    nodes = [
        helper.make_node("Cast", ["B"], ["Bf"], to=FLOAT),
        helper.make_node("FeatureVectorizer", ["A", "Bf"], ["fv"], domain=ML, inputdimensions=[2, 3]),
        helper.make_node("Cast", ["fv"], ["fvd"], to=DOUBLE),
        helper.make_node("Constant", [], ["W"], value=c(rng.normal(size=(5, 2)), "W", np.float64)),
        helper.make_node("Gemm", ["fvd", "W", "b"], ["g"], alpha=0.75),
        helper.make_node("Softmax", ["g"], ["probs"], axis=1),
    ]
    m = model(nodes, [tinfo("A", FLOAT, [None, 2]), tinfo("B", INT64, [None, 3])], [tinfo("probs", DOUBLE, [None, 2])],
              inits=[c([0.5, -0.5], "b", np.float64)])
    save("misc_two_inputs", m, [("A", FLOAT, f32(rng.normal(size=(10, 2)))),
                                ("B", INT64, rng.integers(-3, 4, size=(10, 3)).astype(np.int64))],
         "two graph inputs (float and int64) joined by FeatureVectorizer, Cast, Constant, double Gemm, Softmax",
         labels=["no", "yes"])


def tree_ensemble_v5():
    # Two trees: tree 0 splits on x0 <= 0.5 then x1 in {1, 3}; tree 1 is a single leaf.
    def node(**kw):
        return kw
    nodes_featureids = [0, 1, 0]
    modes = np.array([0, 6, 3], dtype=np.uint8)  # LEQ, MEMBER, GT
    splits = np.array([0.5, 0.0, -1.0], dtype=np.float32)
    truenode = [1, 0, 2]
    trueleaf = [0, 1, 1]
    falsenode = [2, 1, 3]
    falseleaf = [1, 1, 1]
    leaf_targets = [0, 1, 0, 1, 0]
    leaf_w = np.array([1.0, 2.0, -0.5, 0.25, 3.0], dtype=np.float32)
    members = np.array([1.0, 3.0, np.nan], dtype=np.float32)
    # tree roots: node 0 (tree 0); tree 1 = node 2 ... and a degenerate leaf tree via node 2 is a branch.
    # post_transform 3 (SOFTMAX_ZERO): onnxruntime 1.30 reads 1 as LOGISTIC and 2 as SOFTMAX, the
    # reverse of the ONNX spec (1 SOFTMAX, 2 LOGISTIC), so those two cannot be checked against it.
    for nt, case, post, agg in [(2, "tree_ensemble_v5_2targets", 3, 1), (1, "tree_ensemble_v5", 0, 1)]:
        lt = leaf_targets if nt == 2 else [0] * 5
        n = helper.make_node(
            "TreeEnsemble", ["X"], ["Y"], domain=ML, n_targets=nt, aggregate_function=agg, post_transform=post,
            nodes_featureids=nodes_featureids,
            nodes_modes=numpy_helper.from_array(modes), nodes_splits=numpy_helper.from_array(splits),
            nodes_truenodeids=truenode, nodes_trueleafs=trueleaf, nodes_falsenodeids=falsenode,
            nodes_falseleafs=falseleaf, nodes_missing_value_tracks_true=[1, 0, 0],
            leaf_targetids=lt, leaf_weights=numpy_helper.from_array(leaf_w),
            membership_values=numpy_helper.from_array(members), tree_roots=[0, 2])
        m = model([n], [tinfo("X", FLOAT, [None, 2])], [tinfo("Y", FLOAT, [None, nt])], opset=21, ml=5, ir=10)
        X = f32([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0], [1.0, 1.0], [np.nan, 3.0], [0.5, np.nan], [-2.0, 0.0],
                 [0.75, 3.0], [0.25, -1.0], [-1.0, 1.0]])
        save(case, m, [("X", FLOAT, X)],
             f"TreeEnsemble (ai.onnx.ml 5): LEQ, set membership and GT nodes, {nt} target(s)",
             check=False, model_level=(nt == 1))


# --- SVMs ---------------------------------------------------------------------------------

def svm_attrs(svc, kernel):
    gamma = float(svc._gamma)
    return dict(kernel_type=kernel, kernel_params=[gamma, float(svc.coef0), float(svc.degree)],
                support_vectors=list(f32(svc.support_vectors_).ravel()),
                coefficients=list(f32(svc._dual_coef_).ravel()), rho=list(f32(svc._intercept_)))


def svm_cases():
    Xtr = iris_X[:, :4]
    svc = SVC(kernel="rbf", probability=True, random_state=0, gamma=0.5).fit(Xtr, iris_y)
    a = svm_attrs(svc, "RBF")
    a |= dict(vectors_per_class=[int(v) for v in svc.n_support_], prob_a=list(f32(svc.probA_)),
              prob_b=list(f32(svc.probB_)), classlabels_ints=[0, 1, 2])
    nodes = [helper.make_node("SVMClassifier", ["X"], ["label", "probs"], domain=ML, **a),
             helper.make_node("ZipMap", ["probs"], ["probabilities"], domain=ML, classlabels_int64s=[0, 1, 2])]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("label", INT64, [None]), seqmap_info("probabilities", INT64)])
    X = pick(Xtr)
    save("svm_rbf_proba", m, [("X", FLOAT, f32(X))], "SVC(rbf, probability=True) on iris: SVMClassifier with prob_a/prob_b",
         sklearn_ref=sk_ref(label=svc.predict(X), proba=svc.predict_proba(X)))

    sel = iris_y > 0
    svc = SVC(kernel="poly", degree=3, gamma=0.3, coef0=1.0).fit(Xtr[sel], iris_y[sel])
    a = svm_attrs(svc, "POLY") | dict(vectors_per_class=[int(v) for v in svc.n_support_], classlabels_ints=[1, 2])
    nodes = [helper.make_node("SVMClassifier", ["X"], ["label", "scores"], domain=ML, **a)]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("label", INT64, [None]), tinfo("scores", FLOAT, [None, 2])])
    X = pick(Xtr[sel])
    save("svm_poly_binary", m, [("X", FLOAT, f32(X))], "binary SVC(poly, degree 3) on iris classes 1 and 2",
         sklearn_ref=sk_ref(label=svc.predict(X), decision=svc.decision_function(X)))

    svc = SVC(kernel="sigmoid", gamma=0.05, coef0=-0.5, C=3).fit(Xtr, iris_y)
    a = svm_attrs(svc, "SIGMOID") | dict(vectors_per_class=[int(v) for v in svc.n_support_],
                                         classlabels_strings=["s", "ve", "vi"])
    nodes = [helper.make_node("SVMClassifier", ["X"], ["label", "scores"], domain=ML, **a)]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("label", STRING, [None]), tinfo("scores", FLOAT, [None, 3])])
    X = pick(Xtr)
    save("svm_sigmoid_multiclass", m, [("X", FLOAT, f32(X))],
         "SVC(sigmoid) on iris without probabilities: labels by votes, one score per class pair",
         sklearn_ref=sk_ref(label=[["s", "ve", "vi"][k] for k in svc.predict(X)]))

    svc = SVC(kernel="linear", C=0.5).fit(Xtr, iris_y)
    a = svm_attrs(svc, "LINEAR") | dict(vectors_per_class=[int(v) for v in svc.n_support_], classlabels_ints=[0, 1, 2],
                                        post_transform="SOFTMAX")
    nodes = [helper.make_node("SVMClassifier", ["X"], ["label", "scores"], domain=ML, **a)]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("label", INT64, [None]), tinfo("scores", FLOAT, [None, 3])])
    save("svm_linear_kernel", m, [("X", FLOAT, f32(X))], "SVC(linear kernel) on iris, SOFTMAX over pairwise scores",
         sklearn_ref=sk_ref(label=svc.predict(X)))

    # liblinear mode: one coefficient row per class, rho[0] for all.
    coef = f32(rng.normal(size=(3, 4)) * 0.5)
    nodes = [helper.make_node("SVMClassifier", ["X"], ["label", "scores"], domain=ML, coefficients=list(coef.ravel()),
                              kernel_params=[0.0, 0.0, 0.0], rho=[0.25], classlabels_ints=[5, 6, 7], post_transform="LOGISTIC")]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("label", INT64, [None]), tinfo("scores", FLOAT, [None, 3])])
    save("svm_liblinear", m, [("X", FLOAT, f32(X))], "SVMClassifier without support vectors (liblinear mode), LOGISTIC")

    svr = SVR(kernel="rbf", gamma=0.1, C=50).fit(db_X, db_y)
    nodes = [helper.make_node("SVMRegressor", ["X"], ["Y"], domain=ML, n_supports=len(svr.support_vectors_),
                              **svm_attrs(svr, "RBF"))]
    m = model(nodes, [tinfo("X", FLOAT, [None, 10])], [tinfo("Y", FLOAT, [None, 1])])
    X = pick(db_X)
    save("svm_regressor_rbf", m, [("X", FLOAT, f32(X))], "SVR(rbf) on diabetes: SVMRegressor",
         sklearn_ref=sk_ref(value=svr.predict(X)))

    lsvr = LinearSVR(C=5, max_iter=100000, random_state=0).fit(db_X, db_y)
    nodes = [helper.make_node("SVMRegressor", ["X"], ["Y"], domain=ML, n_supports=0, coefficients=list(f32(lsvr.coef_)),
                              kernel_params=[0.0, 0.0, 0.0],
                              rho=[float(lsvr.intercept_[0])])]
    m = model(nodes, [tinfo("X", FLOAT, [None, 10])], [tinfo("Y", FLOAT, [None, 1])])
    save("svm_regressor_linear", m, [("X", FLOAT, f32(X))], "LinearSVR on diabetes: SVMRegressor without support vectors",
         sklearn_ref=sk_ref(value=lsvr.predict(X)))


# --- preprocessing operators ----------------------------------------------------------------

def preprocessing_cases():
    X = f32(rng.normal(size=(12, 4)) * 3)
    X[2, 1] = np.nan
    X[5, 3] = np.nan
    X[7] = [0, 0, 0, 0]
    X[8, 2] = 0.5
    nodes = [
        helper.make_node("Imputer", ["X"], ["imputed"], domain=ML, imputed_value_floats=[1.5, -2.0, 0.25, 4.0],
                         replaced_value_float=float("nan")),
        helper.make_node("Scaler", ["imputed"], ["scaled"], domain=ML, offset=[0.5, -1, 2, 0], scale=[2.0, 0.5, 1.0, -1.5]),
        helper.make_node("Normalizer", ["scaled"], ["nmax"], domain=ML, norm="MAX"),
        helper.make_node("Normalizer", ["scaled"], ["nl1"], domain=ML, norm="L1"),
        helper.make_node("Normalizer", ["scaled"], ["nl2"], domain=ML, norm="L2"),
        helper.make_node("Binarizer", ["imputed"], ["bin"], domain=ML, threshold=0.5),  # onnxruntime rejects NaN
        helper.make_node("ArrayFeatureExtractor", ["imputed", "idx"], ["picked"], domain=ML),
        helper.make_node("Scaler", ["imputed"], ["scaled1"], domain=ML, offset=[1.0], scale=[3.0]),
        helper.make_node("Imputer", ["Xi"], ["imputed_i"], domain=ML, imputed_value_int64s=[7], replaced_value_int64=-1),
    ]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4]), tinfo("Xi", INT64, [None, 2])],
              [tinfo(n, FLOAT, 2) for n in ["imputed", "scaled", "nmax", "nl1", "nl2", "bin", "picked", "scaled1"]] +
              [tinfo("imputed_i", INT64, 2)],
              inits=[numpy_helper.from_array(np.array([3, 0, 3], dtype=np.int64), "idx")])
    Xi = rng.integers(-2, 3, size=(12, 2)).astype(np.int64)
    save("preprocess", m, [("X", FLOAT, X), ("Xi", INT64, Xi)],
         "Imputer (NaN and int64), Scaler, Normalizer MAX/L1/L2, Binarizer, ArrayFeatureExtractor (graph check only)",
         model_level=False)

    # A regression pipeline through them: imputer -> scaler -> linear regressor.
    nodes = [
        helper.make_node("Imputer", ["X"], ["imputed"], domain=ML, imputed_value_floats=[1.5, -2.0, 0.25, 4.0],
                         replaced_value_float=float("nan")),
        helper.make_node("Scaler", ["imputed"], ["scaled"], domain=ML, offset=[0.5, -1, 2, 0], scale=[2.0, 0.5, 1.0, -1.5]),
        helper.make_node("LinearRegressor", ["scaled"], ["Y"], domain=ML, coefficients=[0.3, -0.2, 0.5, 0.1],
                         intercepts=[1.0]),
    ]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("Y", FLOAT, [None, 1])])
    save("pipeline_regression", m, [("X", FLOAT, X)], "Imputer -> Scaler -> LinearRegressor, with NaN inputs")

    # Strings: LabelEncoder (v2) and OneHotEncoder, int64 <-> string, float keys.
    S = np.array([["red"], ["green"], ["blue"], ["mauve"], ["green"], ["red"]], dtype=object)
    I = np.array([[0], [1], [2], [5], [-1], [1]], dtype=np.int64)
    F = f32([[0.5], [1.5], [2.0], [np.nan], [-0.0], [7.0]])
    nodes = [
        helper.make_node("LabelEncoder", ["S"], ["s2i"], domain=ML, keys_strings=["red", "green", "blue"],
                         values_int64s=[10, 20, 30], default_int64=-9),
        helper.make_node("LabelEncoder", ["I"], ["i2s"], domain=ML, keys_int64s=[0, 1, 2], values_strings=["a", "b", "c"],
                         default_string="?"),
        helper.make_node("LabelEncoder", ["F"], ["f2f"], domain=ML, keys_floats=[0.5, 1.5, 0.0], values_floats=[5.0, 15.0, 42.0],
                         default_float=-1.0),
        helper.make_node("OneHotEncoder", ["S"], ["s1h"], domain=ML, cats_strings=["blue", "green", "red"], zeros=1),
        helper.make_node("OneHotEncoder", ["I"], ["i1h"], domain=ML, cats_int64s=[2, 1, 0, 5], zeros=1),
        helper.make_node("OneHotEncoder", ["F"], ["f1h"], domain=ML, cats_int64s=[0, 1, 2, 7], zeros=1),
        helper.make_node("Cast", ["s2i"], ["s2i_f"], to=FLOAT),
        helper.make_node("Cast", ["F"], ["f_str"], to=STRING),
        helper.make_node("Cast", ["f_str"], ["f_back"], to=DOUBLE),
        helper.make_node("Cast", ["I"], ["i_str"], to=STRING),
    ]
    m = model(nodes, [tinfo("S", STRING, [None, 1]), tinfo("I", INT64, [None, 1]), tinfo("F", FLOAT, [None, 1])],
              [tinfo(n, t, r) for n, t, r in [("s2i", INT64, 2), ("i2s", STRING, 2), ("f2f", FLOAT, 2), ("s1h", FLOAT, 3),
                                                ("i1h", FLOAT, 3), ("f1h", FLOAT, 3), ("s2i_f", FLOAT, 2),
                                                ("f_str", STRING, 2), ("f_back", DOUBLE, 2), ("i_str", STRING, 2)]], ml=2)
    save("encoders", m, [("S", STRING, S), ("I", INT64, I), ("F", FLOAT, F)],
         "LabelEncoder (ai.onnx.ml 2: string->int, int->string, float->float), OneHotEncoder, Cast to and from strings "
         "(graph check only)", model_level=False)

    # Classifier pipeline with a string label head built from ArgMax and LabelEncoder v1.
    nodes = [
        helper.make_node("Scaler", ["X"], ["scaled"], domain=ML, offset=[0.0], scale=[0.5]),
        helper.make_node("ArgMax", ["scaled"], ["am"], axis=1, keepdims=0),
        helper.make_node("LabelEncoder", ["am"], ["label"], domain=ML, classes_strings=["w", "x", "y", "z"],
                         default_string="none"),
        helper.make_node("Softmax", ["scaled"], ["probs"], axis=1),
    ]
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("label", STRING, [None]), tinfo("probs", FLOAT, [None, 4])],
              opset=11, ml=1)
    save("argmax_labelencoder_v1", m, [("X", FLOAT, f32(rng.normal(size=(10, 4))))],
         "Scaler -> ArgMax -> LabelEncoder (ai.onnx.ml 1) as the label, Softmax (opset 11) as scores",
         labels=["w", "x", "y", "z"])


# --- dense networks ---------------------------------------------------------------------------

def gemm_chain(coefs, intercepts, hidden, out_act, xname="X"):
    nodes, inits, cur = [], [], xname
    for k, (W, b) in enumerate(zip(coefs, intercepts)):
        inits += [numpy_helper.from_array(f32(W), f"W{k}"), numpy_helper.from_array(f32(b), f"B{k}")]
        nodes.append(helper.make_node("Gemm", [cur, f"W{k}", f"B{k}"], [f"h{k}"]))
        cur = f"h{k}"
        act = hidden if k < len(coefs) - 1 else out_act
        if act:
            nodes.append(helper.make_node(act, [cur], [f"a{k}"], **({"axis": 1} if act == "Softmax" else {})))
            cur = f"a{k}"
    return nodes, inits, cur


def dense_cases():
    mlp = MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=3000, random_state=0).fit(iris_X, iris_y)
    nodes, inits, out = gemm_chain(mlp.coefs_, mlp.intercepts_, "Relu", "Softmax")
    nodes.append(helper.make_node("Identity", [out], ["probs"]))
    m = model(nodes, [tinfo("X", FLOAT, [None, 4])], [tinfo("probs", FLOAT, [None, 3])], inits=inits, ml=0)
    X = pick(iris_X)
    save("mlp_multiclass", m, [("X", FLOAT, f32(X))], "MLPClassifier (16, 8) relu on iris: Gemm, Relu, Softmax",
         labels=["setosa", "versicolor", "virginica"],
         sklearn_ref=sk_ref(label=[["setosa", "versicolor", "virginica"][k] for k in mlp.predict(X)], proba=mlp.predict_proba(X)))

    mlp = MLPClassifier(hidden_layer_sizes=(6,), activation="tanh", max_iter=3000, random_state=0).fit(bc_X / 100, bc_y)
    # MatMul + Add instead of Gemm, as PyTorch-style exports write it.
    W0, W1 = f32(mlp.coefs_[0]), f32(mlp.coefs_[1])
    b0, b1 = f32(mlp.intercepts_[0]), f32(mlp.intercepts_[1])
    nodes = [helper.make_node("Div", ["X", "hundred"], ["xs"]),
             helper.make_node("MatMul", ["xs", "W0"], ["m0"]), helper.make_node("Add", ["m0", "b0"], ["z0"]),
             helper.make_node("Tanh", ["z0"], ["t0"]),
             helper.make_node("MatMul", ["t0", "W1"], ["m1"]), helper.make_node("Add", ["m1", "b1"], ["z1"]),
             helper.make_node("Sigmoid", ["z1"], ["p"])]
    inits = [numpy_helper.from_array(W0, "W0"), numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(b0, "b0"),
             numpy_helper.from_array(b1, "b1"), numpy_helper.from_array(f32(100.0), "hundred")]
    m = model(nodes, [tinfo("X", FLOAT, [None, 6])], [tinfo("p", FLOAT, [None, 1])], inits=inits, ml=0)
    X = pick(bc_X)
    save("mlp_binary_sigmoid", m, [("X", FLOAT, f32(X))],
         "binary MLPClassifier (tanh) on breast cancer as MatMul/Add/Tanh/Sigmoid with one output column",
         labels=["benign", "malignant"][::-1],
         sklearn_ref=sk_ref(proba=mlp.predict_proba(f32(X) / np.float32(100))))

    mlp = MLPRegressor(hidden_layer_sizes=(10,), activation="logistic", max_iter=5000, random_state=0).fit(db_X, db_y / 100)
    nodes, inits, out = gemm_chain(mlp.coefs_, mlp.intercepts_, "Sigmoid", None)
    m = model(nodes, [tinfo("X", FLOAT, [None, 10])], [tinfo(out, FLOAT, [None, 1])], inits=inits, ml=0)
    X = pick(db_X)
    save("mlp_regressor", m, [("X", FLOAT, f32(X))], "MLPRegressor (10, logistic) on diabetes/100: Gemm, Sigmoid",
         sklearn_ref=sk_ref(value=mlp.predict(X)))

    # Shape operators at opset 13: inputs for Reshape, Squeeze, Unsqueeze, Clip.
    X = f32(rng.normal(size=(8, 6)))
    c = lambda a, n, dt=np.float32: numpy_helper.from_array(np.asarray(a, dtype=dt), n)
    nodes = [
        helper.make_node("Reshape", ["X", "shape3"], ["r3"]),                      # [N,2,3]
        helper.make_node("Transpose", ["r3"], ["tr"], perm=[0, 2, 1]),            # [N,3,2]
        helper.make_node("Unsqueeze", ["tr", "ax1"], ["u"]),                      # [N,1,3,2]
        helper.make_node("Squeeze", ["u", "ax1"], ["sq"]),                        # [N,3,2]
        helper.make_node("Flatten", ["sq"], ["fl"], axis=1),                      # [N,6]
        helper.make_node("Sub", ["fl", "row"], ["d0"]),
        helper.make_node("Mul", ["d0", "col2"], ["d1"]),                          # broadcast [6] and [1,6]
        helper.make_node("Div", ["d1", "two"], ["d2"]),
        helper.make_node("Clip", ["d2", "lo", "hi"], ["cl"]),
        helper.make_node("LeakyRelu", ["cl"], ["lr"], alpha=0.2),
        helper.make_node("Concat", ["lr", "X"], ["cat"], axis=1),                 # [N,12]
        helper.make_node("Gemm", ["cat", "Wt", "bias"], ["g"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Softmax", ["g"], ["probs"], axis=-1),
        helper.make_node("Softmax", ["r3"], ["sm3"], axis=1),                     # opset 13: along axis 1 only
        helper.make_node("MatMul", ["r3", "M"], ["mm3"]),                         # batched [N,2,3]x[3,4]
        helper.make_node("Relu", ["mm3"], ["mmr"]),
        helper.make_node("Clip", ["X", "lo"], ["clip_lo"]),
        helper.make_node("Transpose", ["tr"], ["trd"]),                           # default perm
    ]
    inits = [c([0, 2, -1], "shape3", np.int64), c([1], "ax1", np.int64), c(rng.normal(size=6), "row"),
             c(rng.normal(size=(1, 6)), "col2"), c(2.0, "two"), c(-0.75, "lo"), c(0.9, "hi"),
             c(rng.normal(size=(3, 12)), "Wt"), c(rng.normal(size=(1, 3)), "bias"), c(rng.normal(size=(3, 4)), "M")]
    m = model(nodes, [tinfo("X", FLOAT, [None, 6])],
              [tinfo("probs", FLOAT, [None, 3])] + [tinfo(n, FLOAT, r) for n, r in [("sm3", 3), ("mmr", 3), ("cat", 2),
                                                                                 ("clip_lo", 2), ("trd", 3)]],
              inits=inits, ml=0)
    save("dense_opset13", m, [("X", FLOAT, X)],
         "opset 13: Reshape, Transpose, Unsqueeze/Squeeze with axes inputs, Flatten, Sub/Mul/Div broadcasting, Clip "
         "inputs, LeakyRelu, Concat, Gemm transB/alpha/beta, Softmax axis -1 and 1, batched MatMul",
         labels=["p", "q", "r"])

    # Opset 11: Squeeze/Unsqueeze attributes, Clip inputs, Softmax flattening at axis.
    nodes = [
        helper.make_node("Reshape", ["X", "shape3"], ["r3"]),
        helper.make_node("Softmax", ["r3"], ["sm_legacy"], axis=1),                # softmax over 6 values per row
        helper.make_node("Unsqueeze", ["X"], ["u"], axes=[-1]),
        helper.make_node("Squeeze", ["u"], ["sq"], axes=[2]),
        helper.make_node("Clip", ["sq", "lo"], ["cl"]),
        helper.make_node("Gemm", ["Wa", "cl"], ["gT"], transA=1, transB=1),        # [2,N]... A^T [2x6]^T? see below
    ]
    inits = [c([0, 2, -1], "shape3", np.int64), c(-0.5, "lo"), c(rng.normal(size=(6, 2)), "Wa")]
    m = model(nodes, [tinfo("X", FLOAT, [None, 6])], [tinfo("sm_legacy", FLOAT, 3), tinfo("cl", FLOAT, 2),
                                                      tinfo("gT", FLOAT, 2)],
              inits=inits, opset=11, ml=0)
    save("dense_opset11", m, [("X", FLOAT, X)],
         "opset 11: Softmax flattening at axis 1, Unsqueeze/Squeeze axes attributes, Clip min input only, "
         "Gemm transA/transB (graph check only)", model_level=False)

    # Opset 7/6 era: Clip attributes (opset 6), Reshape with a shape input, double precision.
    nodes = [
        helper.make_node("Clip", ["X"], ["cl"], min=-0.5, max=0.5),
        helper.make_node("Mul", ["cl", "k"], ["y"]),
        helper.make_node("Reshape", ["y", "shape"], ["r"]),
        helper.make_node("Softmax", ["r"], ["out"]),
    ]
    # IR 3: initializers are listed among the graph inputs too.
    m = model(nodes, [tinfo("X", DOUBLE, [None, 6]), tinfo("k", DOUBLE, [6]), tinfo("shape", INT64, [2])],
              [tinfo("out", DOUBLE, [None, 6])],
              inits=[c(rng.normal(size=6), "k", np.float64), c([-1, 6], "shape", np.int64)], opset=7, ml=0, ir=3)
    Xd = X.astype(np.float64)
    y = np.clip(Xd, -0.5, 0.5) * numpy_helper.to_array(m.graph.initializer[0])
    e = np.exp(y - y.max(axis=1, keepdims=True))
    save("dense_opset7_double", m, [("X", DOUBLE, Xd)],
         "opset 7: Clip with min/max attributes, Mul, Reshape with a shape input, Softmax (default axis 1), doubles; "
         "expected outputs from numpy (onnxruntime 1.30 has no Clip-6 kernel)",
         labels=["a", "b", "c", "d", "e", "f"], numpy_outputs=[("out", e / e.sum(axis=1, keepdims=True))])

    # int64 arithmetic and casts.
    Xi = rng.integers(-20, 20, size=(8, 3)).astype(np.int64)
    nodes = [
        helper.make_node("Div", ["X", "three"], ["q"]),
        helper.make_node("Mul", ["q", "X"], ["p"]),
        helper.make_node("Sub", ["p", "one"], ["s"]),
        helper.make_node("Clip", ["s", "lo"], ["c"]),
        helper.make_node("Cast", ["c"], ["cf"], to=FLOAT),
        helper.make_node("Cast", ["Xf"], ["xi"], to=INT64),
        helper.make_node("ArgMax", ["Xf"], ["am0"], axis=0, keepdims=1, select_last_index=1),
    ]
    Xf = f32(rng.normal(size=(8, 3)) * 10)
    m = model(nodes, [tinfo("X", INT64, [None, 3]), tinfo("Xf", FLOAT, [None, 3])],
              [tinfo(n, t, 2) for n, t in [("q", INT64), ("c", INT64), ("cf", FLOAT), ("xi", INT64), ("am0", INT64)]],
              inits=[c(3, "three", np.int64), c(1, "one", np.int64), c(-50, "lo", np.int64)], ml=0)
    save("int64_ops", m, [("X", INT64, Xi), ("Xf", FLOAT, Xf)],
         "int64 Div (truncation), Mul, Sub, Clip; Cast float->int64 (truncation); ArgMax over axis 0 (graph check only)",
         model_level=False)


def main():
    for old in os.listdir(OUT):
        if old.endswith(".onnx") or old.endswith(".expected.json"):
            os.remove(os.path.join(OUT, old))
    linear_cases()
    tree_cases()
    tree_ensemble_v5()
    svm_cases()
    preprocessing_cases()
    dense_cases()
    xgboost_cases()
    misc_cases()
    print(f"wrote {len(written)} cases: {' '.join(written)}")


if __name__ == "__main__":
    main()
