package app

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a format package's reference: a model file, inputs, and the
// outputs the independent implementation that made it computed.
type fixture struct {
	Model     string          `json:"model"`
	Objective string          `json:"objective"`
	Labels    []string        `json:"labels"`
	Inputs    [][]*float64    `json:"inputs"`
	Predict   json.RawMessage `json:"predict"`
}

// TestFormatsThroughCluster: each model format, deployed through the
// control topic on one node, serves predictions through another node with
// the values its reference implementation computed.
func TestFormatsThroughCluster(t *testing.T) {
	nodes, _ := startTestCluster(t, 2, nil)
	cases := []struct {
		format, dir, expected string
		classify              bool
	}{
		{"xgboost", "xgboost", "binary_logistic.expected.json", true},
		{"xgboost", "xgboost", "multi_softprob.expected.json", true},
		{"xgboost", "xgboost", "reg_squarederror.expected.json", false},
		{"lightgbm", "lightgbm", "binary.expected.json", true},
		{"lightgbm", "lightgbm", "multiclass.expected.json", true},
		{"lightgbm", "lightgbm", "regression.expected.json", false},
	}
	for _, c := range cases {
		t.Run(c.format+"/"+c.expected, func(t *testing.T) {
			base := filepath.Join("..", "..", "..", "..", "serving", c.dir, "testdata")
			var fx fixture
			b, err := os.ReadFile(filepath.Join(base, c.expected))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &fx); err != nil {
				t.Fatal(err)
			}
			model, err := os.ReadFile(filepath.Join(base, fx.Model))
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("%s-%d", c.format, len(c.expected)+len(fx.Inputs))
			data, _ := json.Marshal(base64.StdEncoding.EncodeToString(model))
			d := map[string]any{"format": c.format, "data": json.RawMessage(data), "options": map[string]string{"on_nan": "keep"}}
			if c.classify {
				d["labels"] = fx.Labels
			}
			putModel(t, nodes[0].HTTPAddr(), id, d)
			events := make([]map[string]any, len(fx.Inputs))
			for i, row := range fx.Inputs {
				vals := make([]any, len(row))
				for j, v := range row {
					if v == nil {
						vals[j] = nil
					} else {
						vals[j] = *v
					}
				}
				events[i] = map[string]any{"id": fmt.Sprint(i), "features": vals}
			}
			out := postJSON(t, "http://"+nodes[1].HTTPAddr()+"/v1/models/"+id+"/predict", map[string]any{"events": events})
			var res struct {
				Errors  int `json:"errors"`
				Results []struct {
					Prediction struct {
						Label  string             `json:"label"`
						Scores map[string]float64 `json:"scores"`
						Value  *float64           `json:"value"`
					} `json:"prediction"`
					Error string `json:"error"`
				} `json:"results"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 {
				t.Fatalf("%d errors, first: %s", res.Errors, res.Results[0].Error)
			}
			checked := 0
			if c.classify {
				var want [][]float64
				if err := json.Unmarshal(fx.Predict, &want); err != nil {
					// binary fixtures give the positive-class probability per row
					want = nil
					var p []float64
					if err := json.Unmarshal(fx.Predict, &p); err != nil {
						t.Fatalf("predict: %v", err)
					}
					for _, v := range p {
						want = append(want, []float64{1 - v, v})
					}
				}
				for i, w := range want {
					for k, label := range fx.Labels {
						got := res.Results[i].Prediction.Scores[label]
						if math.Abs(got-w[k]) > 1e-5*math.Max(1, math.Abs(w[k])) {
							t.Fatalf("row %d %s: score %v, reference %v", i, label, got, w[k])
						}
						checked++
					}
				}
			} else {
				var want []float64
				if err := json.Unmarshal(fx.Predict, &want); err != nil {
					t.Fatal(err)
				}
				for i, w := range want {
					got := res.Results[i].Prediction.Value
					if got == nil || math.Abs(*got-w) > 1e-5*math.Max(1, math.Abs(w)) {
						t.Fatalf("row %d: value %v, reference %v", i, got, w)
					}
					checked++
				}
			}
			t.Logf("%d rows, %d values agree with the reference", len(fx.Inputs), checked)
		})
	}
}

// TestPMMLThroughCluster: every PMML fixture (scikit-learn fits written as
// PMML, with scikit-learn's predictions) deployed through one node serves
// the reference values and labels through another.
func TestPMMLThroughCluster(t *testing.T) {
	base := filepath.Join("..", "..", "..", "..", "serving", "pmml", "testdata")
	b, err := os.ReadFile(filepath.Join(base, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Name     string      `json:"name"`
			File     string      `json:"file"`
			Task     string      `json:"task"`
			Features []string    `json:"features"`
			Inputs   [][]float64 `json:"inputs"`
			Values   []float64   `json:"values"`
			Labels   []string    `json:"labels"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	nodes, _ := startTestCluster(t, 2, nil)
	for _, c := range doc.Cases {
		model, err := os.ReadFile(filepath.Join(base, c.File))
		if err != nil {
			t.Fatal(err)
		}
		id := "pmml-" + strings.ReplaceAll(c.Name, "_", "-")
		data, _ := json.Marshal(base64.StdEncoding.EncodeToString(model))
		putModel(t, nodes[0].HTTPAddr(), id, map[string]any{"format": "pmml", "data": json.RawMessage(data), "features": c.Features})
		events := make([]map[string]any, len(c.Inputs))
		for i, row := range c.Inputs {
			f := map[string]float64{}
			for j, name := range c.Features {
				f[name] = row[j]
			}
			events[i] = map[string]any{"features": f}
		}
		out := postJSON(t, "http://"+nodes[1].HTTPAddr()+"/v1/models/"+id+"/predict", map[string]any{"events": events})
		var res struct {
			Errors  int `json:"errors"`
			Results []struct {
				Prediction struct {
					Label string   `json:"label"`
					Value *float64 `json:"value"`
				} `json:"prediction"`
				Error string `json:"error"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		if res.Errors != 0 {
			t.Fatalf("%s: %d errors, first %q", c.Name, res.Errors, res.Results[0].Error)
		}
		for i := range c.Inputs {
			p := res.Results[i].Prediction
			switch {
			case c.Values != nil:
				if p.Value == nil || math.Abs(*p.Value-c.Values[i]) > 1e-6*math.Max(1, math.Abs(c.Values[i])) {
					t.Fatalf("%s row %d: value %v, reference %v", c.Name, i, p.Value, c.Values[i])
				}
			case c.Labels != nil:
				if p.Label != c.Labels[i] {
					t.Fatalf("%s row %d: label %q, reference %q", c.Name, i, p.Label, c.Labels[i])
				}
			}
		}
	}
	t.Logf("%d PMML models agree with scikit-learn through the cluster", len(doc.Cases))
}

// TestRemoteThroughCluster: a model served by another server over the Open
// Inference Protocol v2 answers through the cluster.
func TestRemoteThroughCluster(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/models/adder/infer" {
			http.NotFound(w, r)
			return
		}
		var req struct {
			Inputs []struct {
				Shape []int     `json:"shape"`
				Data  []float64 `json:"data"`
			} `json:"inputs"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Inputs) != 1 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		in := req.Inputs[0]
		rows, cols := in.Shape[0], in.Shape[1]
		out := make([]float64, rows)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				out[i] += in.Data[i*cols+j]
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"model_name": "adder", "outputs": []map[string]any{
			{"name": "sum", "shape": []int{rows, 1}, "datatype": "FP64", "data": out},
		}})
	}))
	defer srv.Close()
	nodes, _ := startTestCluster(t, 2, func(c *NodeConfig) { c.Sources.Hosts = []string{"127.0.0.1"} })
	data, _ := json.Marshal(map[string]any{"protocol": "v2", "url": srv.URL, "model": "adder", "datatype": "FP64",
		"outputs": map[string]string{"value": "sum"}, "num_features": 2})
	putModel(t, nodes[0].HTTPAddr(), "adder", map[string]any{"format": "remote", "data": json.RawMessage(data), "features": []string{"a", "b"}})
	out := postJSON(t, "http://"+nodes[1].HTTPAddr()+"/v1/models/adder/predict", map[string]any{"events": []map[string]any{
		{"features": map[string]float64{"a": 1.5, "b": 2}}, {"features": map[string]float64{"a": -1, "b": 0.25}},
	}})
	var res struct {
		Results []struct {
			Prediction struct {
				Value *float64 `json:"value"`
			} `json:"prediction"`
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{3.5, -0.75} {
		if v := res.Results[i].Prediction.Value; v == nil || *v != want {
			t.Fatalf("row %d: %v (%s), want %v", i, v, res.Results[i].Error, want)
		}
	}
}

// TestONNXThroughCluster: ONNX models (fixtures checked against
// onnxruntime) deployed through one node answer through another with
// onnxruntime's labels and values.
func TestONNXThroughCluster(t *testing.T) {
	base := filepath.Join("..", "..", "..", "..", "serving", "onnx", "testdata")
	nodes, _ := startTestCluster(t, 2, nil)
	for _, name := range []string{"linear_multiclass", "linear_regressor", "tree_gbm_binary", "svm_rbf_proba", "svm_regressor_rbf"} {
		b, err := os.ReadFile(filepath.Join(base, name+".expected.json"))
		if err != nil {
			t.Fatal(err)
		}
		var fx struct {
			Model  string `json:"model"`
			Inputs []struct {
				Dims []int     `json:"dims"`
				Data []float64 `json:"data"`
			} `json:"inputs"`
			Outputs []struct {
				Name string            `json:"name"`
				Data []json.RawMessage `json:"data"`
			} `json:"outputs"`
		}
		if err := json.Unmarshal(b, &fx); err != nil {
			t.Fatal(err)
		}
		model, err := os.ReadFile(filepath.Join(base, fx.Model))
		if err != nil {
			t.Fatal(err)
		}
		id := "onnx-" + strings.ReplaceAll(name, "_", "-")
		data, _ := json.Marshal(base64.StdEncoding.EncodeToString(model))
		putModel(t, nodes[0].HTTPAddr(), id, map[string]any{"format": "onnx", "data": json.RawMessage(data)})
		rows, cols := fx.Inputs[0].Dims[0], fx.Inputs[0].Dims[1]
		events := make([]map[string]any, rows)
		for i := range events {
			events[i] = map[string]any{"features": fx.Inputs[0].Data[i*cols : (i+1)*cols]}
		}
		out := postJSON(t, "http://"+nodes[1].HTTPAddr()+"/v1/models/"+id+"/predict", map[string]any{"events": events})
		var res struct {
			Errors  int `json:"errors"`
			Results []struct {
				Prediction struct {
					Label string   `json:"label"`
					Value *float64 `json:"value"`
				} `json:"prediction"`
				Error string `json:"error"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		if res.Errors != 0 {
			t.Fatalf("%s: %d errors, first %q", name, res.Errors, res.Results[0].Error)
		}
		first := fx.Outputs[0]
		for i := 0; i < rows; i++ {
			p := res.Results[i].Prediction
			if first.Name == "label" {
				var want string
				if json.Unmarshal(first.Data[i], &want) != nil {
					want = string(first.Data[i]) // an int64 label
				}
				if p.Label != want {
					t.Fatalf("%s row %d: label %q, onnxruntime %q", name, i, p.Label, want)
				}
				continue
			}
			var want float64
			if err := json.Unmarshal(first.Data[i], &want); err != nil {
				t.Fatal(err)
			}
			if p.Value == nil || math.Abs(*p.Value-want) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Fatalf("%s row %d: value %v, onnxruntime %v", name, i, p.Value, want)
			}
		}
	}
}
