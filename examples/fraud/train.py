#!/usr/bin/python3
"""Train the fraud example's offline model with XGBoost and save it as JSON.

Run from the repository root with Debian's interpreter (python3-xgboost installs for
/usr/bin/python3 only):

    apt-get install -y --no-install-recommends python3-xgboost
    go run ./examples/fraud generate --seed 1 --n 60000 --csv /tmp/fraud-train.csv
    /usr/bin/python3 examples/fraud/train.py /tmp/fraud-train.csv examples/fraud/model/xgb.json

The training set comes from the same generator as the stream the example scores, with another
seed (1 here, 2 for the stream), so the model never sees the transactions it is measured on.
Training is deterministic (exact tree method, one thread, fixed seed): the same CSV gives the
same model file byte for byte.
"""

import sys

import numpy as np
import xgboost as xgb


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: train.py TRAIN.csv MODEL.json")
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(src, delimiter=",", skiprows=1, dtype=np.float64)
    if header[-1] != "fraud" or data.shape[1] != len(header):
        sys.exit(f"{src}: want feature columns then 'fraud', got {header}")
    X, y = data[:, :-1], data[:, -1]
    names = header[:-1]

    # Hold out the last fifth to report how the model does on rows it did not see.
    cut = len(y) * 4 // 5
    dtrain = xgb.DMatrix(X[:cut], label=y[:cut], feature_names=names)
    dvalid = xgb.DMatrix(X[cut:], label=y[cut:], feature_names=names)
    params = {
        "objective": "binary:logistic",
        "eval_metric": "aucpr",
        "tree_method": "exact",
        "max_depth": 4,
        "eta": 0.2,
        "subsample": 1.0,
        "min_child_weight": 1,
        "nthread": 1,
        "seed": 0,
    }
    bst = xgb.train(params, dtrain, num_boost_round=40)

    p = bst.predict(dvalid)
    flag = p > 0.5
    truth = y[cut:] == 1
    tp = int(np.sum(flag & truth))
    fp = int(np.sum(flag & ~truth))
    fn = int(np.sum(~flag & truth))
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    print(f"xgboost {xgb.__version__}: {len(y)} rows, {int(y.sum())} frauds; "
          f"held-out precision {precision:.3f} recall {recall:.3f} at 0.5")

    bst.save_model(dst)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
