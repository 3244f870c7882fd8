#!/usr/bin/env python3
"""A minimal Open Inference Protocol (KServe v2) REST client, written from the
protocol's specification with the Python standard library only; it knows
nothing about actorserve. It checks server and model health and metadata,
then sends rows for inference and prints one JSON document with everything
it got back.

    python3 client.py URL MODEL ROWS_JSON [--datatype FP32|FP64|INT64] [--per-feature NAMES]

ROWS_JSON is a list of rows ([[1.5, 2.0], [0.5, 1.0]]). With --per-feature
a,b the rows are sent as one tensor per feature ([batch] each, named a and
b) instead of one [batch, features] tensor.
"""
import argparse
import json
import sys
import urllib.error
import urllib.request


def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("model")
    ap.add_argument("rows")
    ap.add_argument("--datatype", default="FP64")
    ap.add_argument("--per-feature", default="")
    a = ap.parse_args()
    base = a.url.rstrip("/")
    rows = json.loads(a.rows)
    out = {}
    out["live"] = call("GET", base + "/v2/health/live")
    out["ready"] = call("GET", base + "/v2/health/ready")
    out["server"] = call("GET", base + "/v2")
    out["metadata"] = call("GET", base + "/v2/models/" + a.model)
    out["model_ready"] = call("GET", base + "/v2/models/" + a.model + "/ready")
    if a.per_feature:
        names = a.per_feature.split(",")
        inputs = [{"name": n, "shape": [len(rows)], "datatype": a.datatype, "data": [r[i] for r in rows]}
                  for i, n in enumerate(names)]
    else:
        flat = [v for r in rows for v in r]
        inputs = [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": a.datatype, "data": flat}]
    status, resp = call("POST", base + "/v2/models/" + a.model + "/infer", {"id": "req-1", "inputs": inputs})
    out["infer_status"] = status
    out["infer"] = resp
    # Outputs by name, reshaped to one entry per row as the spec's shapes say.
    outputs = {}
    if status == 200:
        for t in resp["outputs"]:
            shape, data = t["shape"], t["data"]
            if len(shape) == 2:
                data = [data[i * shape[1]:(i + 1) * shape[1]] for i in range(shape[0])]
            outputs[t["name"]] = {"data": data, "datatype": t["datatype"], "parameters": t.get("parameters", {})}
    out["outputs"] = outputs
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
