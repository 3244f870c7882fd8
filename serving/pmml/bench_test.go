package pmml

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// benchCase loads one fixture model and its inputs.
func benchCase(b *testing.B, name string) (*Model, [][]float64) {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		b.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Name, File string
			Features   []string
			Inputs     [][]float64
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	for _, c := range doc.Cases {
		if c.Name != name {
			continue
		}
		src, err := os.ReadFile(filepath.Join("testdata", c.File))
		if err != nil {
			b.Fatal(err)
		}
		m, err := Compile(src, Options{Features: c.Features})
		if err != nil {
			b.Fatal(err)
		}
		xs := c.Inputs
		for len(xs) < 64 {
			xs = append(xs, c.Inputs...)
		}
		return m, xs[:64]
	}
	b.Fatalf("no fixture %q", name)
	return nil, nil
}

// BenchmarkPredict scores fixture models one row at a time and in batches
// of 64 (ns/row in both). Run: go test -run='^$' -bench=. ./serving/pmml
func BenchmarkPredict(b *testing.B) {
	for _, name := range []string{"regression_softmax", "tree_classifier", "random_forest", "gbm_classifier", "neural_classifier"} {
		m, xs := benchCase(b, name)
		b.Run(name+"/single", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := m.Predict(xs[i%64]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
		})
		b.Run(name+"/batch64", func(b *testing.B) {
			out := make([]serving.Prediction, 64)
			errs := make([]error, 64)
			for b.Loop() {
				if err := m.PredictBatch(xs, out, errs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/row")
		})
	}
}
