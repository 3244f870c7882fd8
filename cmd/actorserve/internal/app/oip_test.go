package app

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// oipClientOut is what examples/oip/client.py prints.
type oipClientOut struct {
	Live        [2]json.RawMessage `json:"live"`
	Ready       [2]json.RawMessage `json:"ready"`
	Server      [2]json.RawMessage `json:"server"`
	Metadata    [2]json.RawMessage `json:"metadata"`
	ModelReady  [2]json.RawMessage `json:"model_ready"`
	InferStatus int                `json:"infer_status"`
	Infer       json.RawMessage    `json:"infer"`
	Outputs     map[string]struct {
		Data       json.RawMessage   `json:"data"`
		Datatype   string            `json:"datatype"`
		Parameters map[string]string `json:"parameters"`
	} `json:"outputs"`
}

// TestOpenInferenceProtocolClient: an Open Inference Protocol client
// written from the spec alone (examples/oip/client.py, standard library
// Python) gets, through every node of three, the answers /v1 gives for a
// linear, an ONNX and a PMML model.
func TestOpenInferenceProtocolClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed for the independent client: %v", err)
	}
	client := filepath.Join("..", "..", "..", "..", "examples", "oip", "client.py")
	nodes, _ := startTestCluster(t, 3, nil)

	onnx, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "serving", "onnx", "testdata", "linear_multiclass.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	pdir := filepath.Join("..", "..", "..", "..", "serving", "pmml", "testdata")
	pmml, err := os.ReadFile(filepath.Join(pdir, "gbm_classifier.pmml"))
	if err != nil {
		t.Fatal(err)
	}
	var pcases struct {
		Cases []struct {
			Name     string      `json:"name"`
			Features []string    `json:"features"`
			Inputs   [][]float64 `json:"inputs"`
		} `json:"cases"`
	}
	if b, err := os.ReadFile(filepath.Join(pdir, "expected.json")); err != nil || json.Unmarshal(b, &pcases) != nil {
		t.Fatalf("pmml expected.json: %v", err)
	}
	var pFeatures []string
	var pRows [][]float64
	for _, c := range pcases.Cases {
		if c.Name == "gbm_classifier" {
			pFeatures, pRows = c.Features, c.Inputs[:4]
		}
	}
	b64 := func(b []byte) json.RawMessage { d, _ := json.Marshal(base64.StdEncoding.EncodeToString(b)); return d }
	models := []struct {
		id       string
		desc     map[string]any
		rows     [][]float64
		features []string
	}{
		{"iris", map[string]any{"format": "linear", "features": []string{"petal_length", "petal_width"}, "labels": []string{"setosa", "versicolor", "virginica"},
			"data": map[string]any{"coefficients": [][]float64{{-2.1, -1.0}, {0.3, -0.2}, {1.8, 1.2}}, "intercepts": []float64{6.0, 1.1, -7.1}, "link": "softmax"}},
			[][]float64{{1.4, 0.2}, {4.5, 1.5}, {6.0, 2.5}}, []string{"petal_length", "petal_width"}},
		{"onnx-multi", map[string]any{"format": "onnx", "data": b64(onnx)},
			[][]float64{{5.1, 3.5, 1.4, 0.2}, {6.7, 3.1, 4.4, 1.4}, {7.7, 3.0, 6.1, 2.3}}, nil},
		{"pmml-gbm", map[string]any{"format": "pmml", "data": b64(pmml), "features": pFeatures}, pRows, pFeatures},
		{"price", map[string]any{"format": "linear", "features": []string{"x", "y"},
			"data": map[string]any{"coefficients": [][]float64{{2, -0.5}}, "intercepts": []float64{1}, "link": "identity"}},
			[][]float64{{1, 2}, {0.25, -4}}, []string{"x", "y"}},
	}
	for _, m := range models {
		putModel(t, nodes[0].HTTPAddr(), m.id, m.desc)
	}
	for mi, m := range models {
		// The reference: /v1 predict of the same rows.
		evs := make([]map[string]any, len(m.rows))
		for i, r := range m.rows {
			evs[i] = map[string]any{"id": fmt.Sprint(i), "features": r}
		}
		var ref struct {
			Results []struct {
				Prediction struct {
					Label  string             `json:"label"`
					Scores map[string]float64 `json:"scores"`
					Value  *float64           `json:"value"`
				} `json:"prediction"`
			} `json:"results"`
		}
		if err := json.Unmarshal(postJSON(t, "http://"+nodes[0].HTTPAddr()+"/v1/models/"+m.id+"/predict", map[string]any{"events": evs}), &ref); err != nil {
			t.Fatal(err)
		}
		for ni, n := range nodes {
			forms := [][]string{{"--datatype", "FP64"}}
			if m.features != nil {
				forms = append(forms, []string{"--datatype", "FP32", "--per-feature", strings.Join(m.features, ",")})
			}
			for _, form := range forms {
				rows, _ := json.Marshal(m.rows)
				args := append([]string{client, "http://" + n.HTTPAddr(), m.id, string(rows)}, form...)
				out, err := exec.Command(python, args...).Output()
				if err != nil {
					t.Fatalf("%s via node %d %v: %v", m.id, ni, form, err)
				}
				var got oipClientOut
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("client output %s: %v", out, err)
				}
				for what, pair := range map[string][2]json.RawMessage{"live": got.Live, "ready": got.Ready, "server": got.Server, "metadata": got.Metadata, "model ready": got.ModelReady} {
					if string(pair[0]) != "200" {
						t.Errorf("%s: %s answered %s %s", m.id, what, pair[0], pair[1])
					}
				}
				if got.InferStatus != 200 {
					t.Fatalf("%s %v: infer %d %s", m.id, form, got.InferStatus, got.Infer)
				}
				if v, ok := got.Outputs["value"]; ok {
					var vals []float64
					_ = json.Unmarshal(v.Data, &vals)
					for i := range m.rows {
						if ref.Results[i].Prediction.Value == nil || len(vals) != len(m.rows) || !close32(vals[i], *ref.Results[i].Prediction.Value, form) {
							t.Errorf("%s %v row %d: value %v, /v1 %v", m.id, form, i, vals, ref.Results[i].Prediction.Value)
						}
					}
					continue
				}
				var labels []string
				_ = json.Unmarshal(got.Outputs["label"].Data, &labels)
				var scores [][]float64
				_ = json.Unmarshal(got.Outputs["scores"].Data, &scores)
				names := strings.Split(got.Outputs["scores"].Parameters["labels"], ",")
				if len(labels) != len(m.rows) || len(scores) != len(m.rows) {
					t.Fatalf("%s %v: outputs %+v", m.id, form, got.Outputs)
				}
				for i := range m.rows {
					p := ref.Results[i].Prediction
					if labels[i] != p.Label {
						t.Errorf("%s %v row %d: label %q, /v1 %q", m.id, form, i, labels[i], p.Label)
					}
					for k, name := range names {
						if !close32(scores[i][k], p.Scores[name], form) {
							t.Errorf("%s %v row %d: score of %q %v, /v1 %v", m.id, form, i, name, scores[i][k], p.Scores[name])
						}
					}
				}
			}
			_ = mi
		}
	}
}

// close32 compares a value computed from FP32 inputs (rounded on the way)
// loosely, and from FP64 inputs exactly.
func close32(a, b float64, form []string) bool {
	if form[1] == "FP32" {
		return math.Abs(a-b) <= 1e-5*math.Max(1, math.Abs(b))
	}
	return a == b
}
