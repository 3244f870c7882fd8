package app

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestMOJOThroughCluster: H2O MOJO models deployed through one node score
// through the other exactly as H2O's own scorer did (the fixtures'
// reference rows, ../shared/fixtures/h2o).
func TestMOJOThroughCluster(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "..", "shared", "fixtures", "h2o")
	if _, err := os.Stat(dir); err != nil {
		abs, _ := filepath.Abs(dir)
		t.Fatalf("the H2O fixtures are not at %s (../shared beside the repository): %v", abs, err)
	}
	nodes, _ := startTestCluster(t, 2, nil)
	for _, name := range []string{"glm_regression_prostate", "gbm_binomial_prostate", "kmeans_titanic"} {
		zip, err := os.ReadFile(filepath.Join(dir, name+".zip"))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(base64.StdEncoding.EncodeToString(zip))
		id := "mojo-" + name[:3]
		putModel(t, nodes[0].HTTPAddr(), id, map[string]any{"format": "mojo", "data": json.RawMessage(data), "options": map[string]string{"on_nan": "keep"}})
		ref, err := os.ReadFile(filepath.Join(dir, name+".expected.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(ref))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		rows := 0
		for sc.Scan() {
			var row struct {
				RawInput []*float64 `json:"raw_input"`
				Label    *string    `json:"label"`
				Value    *float64   `json:"value"`
				Cluster  *int       `json:"cluster"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatal(err)
			}
			in := make([]any, len(row.RawInput))
			for i, v := range row.RawInput {
				if v != nil {
					in[i] = *v // nil (JSON null): missing
				}
			}
			out := postJSON(t, "http://"+nodes[1].HTTPAddr()+"/v1/models/"+id+"/predict", map[string]any{"id": "r", "features": in})
			var got struct {
				Prediction struct {
					Label *string  `json:"label"`
					Value *float64 `json:"value"`
				} `json:"prediction"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s row %d: %s", name, rows, out)
			}
			switch {
			case row.Label != nil && (got.Prediction.Label == nil || *got.Prediction.Label != *row.Label):
				t.Errorf("%s row %d: label %v, want %q (%s)", name, rows, got.Prediction.Label, *row.Label, out)
			case row.Value != nil && (got.Prediction.Value == nil || math.Abs(*got.Prediction.Value-*row.Value) > 1e-9*math.Max(1, math.Abs(*row.Value))):
				t.Errorf("%s row %d: value %v, want %v (%s)", name, rows, got.Prediction.Value, *row.Value, out)
			}
			rows++
			if rows == 20 {
				break
			}
		}
		if rows == 0 {
			t.Errorf("%s: no reference rows", name)
		}
	}
}
