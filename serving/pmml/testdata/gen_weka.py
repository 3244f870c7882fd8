#!/usr/bin/python3
"""Score the RegressionModel, GeneralRegressionModel and NeuralNetwork fixtures with Weka's
PMML consumer, a second evaluator independent of ours, and record its outputs in
weka_expected.json. Weka 3.6 reads only these three model types.

    apt-get install -y --no-install-recommends default-jdk-headless
    apt-get download weka && dpkg -x weka_*.deb /tmp/weka    # the jar only
    /usr/bin/python3 gen_weka.py /tmp/weka/usr/share/java/weka.jar
"""

import json
import os
import subprocess
import sys
import tempfile

# PMML 4.4 documents (usageType="target") are beyond Weka 3.6; they are tried and skipped.
CASES = ["regression_linear", "regression_logit", "regression_softmax", "regression_categorical",
         "neural_classifier", "neural_regressor", "grm_multinomial", "grm_poisson", "grm_factor"]
STRING_FIELDS = {"color": ["1", "2", "3"]}


def main(jar):
    exp = json.load(open("expected.json"))
    tmp = tempfile.mkdtemp()
    subprocess.run(["javac", "-nowarn", "-cp", jar, "-d", tmp, "WekaPMML.java"], check=True, stderr=subprocess.DEVNULL)
    out = {"generator": "gen_weka.py", "evaluator": "Weka %s PMMLFactory / PMMLClassifier.distributionForInstance" % os.path.basename(jar),
           "cases": []}
    for case in exp["cases"]:
        if case["name"] not in CASES:
            continue
        lines = ["@relation fixture"]
        for f in case["features"]:
            if f in STRING_FIELDS:
                lines.append("@attribute %s {%s}" % (f, ",".join(STRING_FIELDS[f])))
            else:
                lines.append("@attribute %s numeric" % f)
        target = {"regression_linear": "y", "regression_categorical": "y", "neural_regressor": "y", "grm_factor": "y",
                  "grm_poisson": "count", "regression_logit": "diagnosis"}.get(case["name"], "species")
        if case["task"] == "regression":
            lines.append("@attribute %s numeric" % target)
        else:
            lines.append("@attribute %s {%s}" % (target, ",".join(sorted(set(case["labels"])) if case["task"] == "binary" else ["setosa", "versicolor", "virginica"])))
        lines.append("@data")
        for row in case["inputs"]:
            cells = [("%d" % v if case["features"][i] in STRING_FIELDS else repr(v)) for i, v in enumerate(row)]
            lines.append(",".join(cells + ["?"]))
        arff = os.path.join(tmp, case["name"] + ".arff")
        open(arff, "w").write("\n".join(lines) + "\n")
        res = subprocess.run(["java", "-cp", jar + ":" + tmp, "WekaPMML", case["file"], arff],
                             capture_output=True, text=True)
        if res.returncode != 0:
            err = [l for l in res.stderr.splitlines() if "Exception" in l][:1]
            out.setdefault("skipped", []).append({"name": case["name"], "reason": " ".join(err)})
            continue
        rows = [[float(x) for x in l.split()] for l in res.stdout.strip().splitlines()]
        entry = {"name": case["name"], "file": case["file"], "features": case["features"], "task": case["task"], "inputs": case["inputs"]}
        if case["task"] == "regression":
            entry["values"] = [r[0] for r in rows]
        else:
            entry["probabilities"] = rows
        out["cases"].append(entry)
    with open("weka_expected.json", "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
