package linear_test

import (
	"testing"

	"github.com/actorserve/actorserve/serving"
)

const (
	benchMulticlass = `{"coefficients": [[0.4, -1.2, 2.1, 0.3], [-0.5, 0.7, -0.1, 1.9], [0.05, 0.2, -1.4, -2.2]], "intercepts": [0.1, -0.3, 0.2], "link": "softmax"}`
	benchBinary     = `{"coefficients": [[0.4, -1.2, 2.1, 0.3]], "intercepts": [0.1], "link": "logistic"}`
	benchRegression = `{"coefficients": [[0.4, -1.2, 2.1, 0.3]], "intercepts": [0.1], "link": "identity"}`
)

// BenchmarkPredict scores 4-feature inputs: one at a time, and in batches of 64 rows
// (ns/op is per batch there). Run with: go test -bench=Predict -benchmem ./serving/linear
func BenchmarkPredict(b *testing.B) {
	models := []struct {
		name, data string
		labels     []string
	}{
		{"multiclass3", benchMulticlass, []string{"setosa", "versicolor", "virginica"}},
		{"binary", benchBinary, []string{"ham", "spam"}},
		{"regression", benchRegression, nil},
	}
	x := []float64{5.1, 3.5, 1.4, 0.2}
	xs := make([][]float64, 64)
	for i := range xs {
		xs[i] = []float64{5.1 + float64(i)*0.01, 3.5, 1.4 - float64(i)*0.02, 0.2}
	}
	for _, mc := range models {
		m := load(b, mc.data, nil, mc.labels)
		b.Run(mc.name+"/single", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Predict(x); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mc.name+"/batch64", func(b *testing.B) {
			out := make([]serving.Prediction, len(xs))
			errs := make([]error, len(xs))
			b.ReportAllocs()
			for b.Loop() {
				if err := m.PredictBatch(xs, out, errs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
