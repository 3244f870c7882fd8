package app

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMOJOThroughCluster: every H2O MOJO fixture, deployed through one node
// of three and scored through another, predicts exactly what H2O's own
// scorer did on every reference row: labels exactly, probabilities,
// values, cluster distances and anomaly scores within 1e-9 relative.
func TestMOJOThroughCluster(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "..", "serving", "mojo", "testdata", "h2o")
	zips, err := filepath.Glob(filepath.Join(dir, "*.zip"))
	if err != nil || len(zips) < 8 {
		abs, _ := filepath.Abs(dir)
		t.Fatalf("the H2O fixtures are not at %s: %d zips (%v)", abs, len(zips), err)
	}
	nodes, _ := startTestCluster(t, 3, nil)
	for i, zipPath := range zips {
		name := strings.TrimSuffix(filepath.Base(zipPath), ".zip")
		t.Run(name, func(t *testing.T) {
			zip, err := os.ReadFile(zipPath)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(base64.StdEncoding.EncodeToString(zip))
			id := "mojo-" + strings.ReplaceAll(name, "_", "-")
			deployVia, predictVia := nodes[i%3], nodes[(i+1)%3]
			putModel(t, deployVia.HTTPAddr(), id, map[string]any{"format": "mojo", "data": json.RawMessage(data), "options": map[string]string{"on_nan": "keep"}})
			ref, err := os.ReadFile(strings.TrimSuffix(zipPath, ".zip") + ".expected.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(bytes.NewReader(ref))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			rows := 0
			for sc.Scan() {
				var row struct {
					RawInput      []*float64         `json:"raw_input"`
					Label         *string            `json:"label"`
					Probabilities map[string]float64 `json:"probabilities"`
					Value         *float64           `json:"value"`
					Cluster       *int               `json:"cluster"`
					Distances     []float64          `json:"distances"`
					Score         *float64           `json:"score"`
					Normalized    *float64           `json:"normalized_score"`
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
				out := postJSON(t, "http://"+predictVia.HTTPAddr()+"/v1/models/"+id+"/predict", map[string]any{"id": "r", "features": in})
				var got struct {
					Prediction struct {
						Label  *string            `json:"label"`
						Value  *float64           `json:"value"`
						Scores map[string]float64 `json:"scores"`
					} `json:"prediction"`
				}
				if err := json.Unmarshal(out, &got); err != nil {
					t.Fatalf("row %d: %s", rows, out)
				}
				p := got.Prediction
				near := func(what string, got, want float64) {
					if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
						t.Errorf("row %d: %s %v, H2O %v (%s)", rows, what, got, want, out)
					}
				}
				label := func() string {
					if p.Label == nil {
						return "<none>"
					}
					return *p.Label
				}
				value := func(what string, want float64) {
					if p.Value == nil {
						t.Errorf("row %d: no value, H2O %s %v (%s)", rows, what, want, out)
						return
					}
					near(what, *p.Value, want)
				}
				switch {
				case row.Label != nil:
					if label() != *row.Label {
						t.Errorf("row %d: label %s, H2O %q (%s)", rows, label(), *row.Label, out)
					}
					if len(p.Scores) != len(row.Probabilities) {
						t.Errorf("row %d: %d scores, H2O %d probabilities", rows, len(p.Scores), len(row.Probabilities))
					}
					for l, w := range row.Probabilities {
						near("p("+l+")", p.Scores[l], w)
					}
				case row.Cluster != nil:
					if label() != strconv.Itoa(*row.Cluster) {
						t.Errorf("row %d: cluster %s, H2O %d (%s)", rows, label(), *row.Cluster, out)
					}
					value("cluster", float64(*row.Cluster))
					for k, w := range row.Distances {
						near(fmt.Sprintf("distance %d", k), p.Scores[strconv.Itoa(k)], w)
					}
				case row.Normalized != nil && row.Score != nil:
					value("normalized score", *row.Normalized)
					near("mean length", p.Scores["mean_length"], *row.Score)
				case row.Value != nil:
					value("value", *row.Value)
				default:
					t.Fatalf("row %d: the reference holds no prediction: %s", rows, sc.Bytes())
				}
				rows++
			}
			if rows < 20 {
				t.Errorf("%d reference rows, want at least 20", rows)
			}
		})
	}
}
