package onnx

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// FuzzONNXLoad feeds arbitrary bytes, and mutations of every fixture model, to the loader.
// It must never panic, hang or allocate without bound; any model it accepts must predict
// (Predict and PredictBatch) without panicking on ordinary, missing and extreme inputs.
// Run: go test -run='^$' -fuzz=FuzzONNXLoad -fuzztime=60s ./serving/onnx
func FuzzONNXLoad(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x08\x08"))
	f.Add(linearModel().bytes(f))
	f.Add(mlpModel(3, 4, 2).bytes(f))
	f.Add(forestModel(2, 2, 3).bytes(f))
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.onnx"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parse(b)
		if err != nil {
			return
		}
		if err := m.setHead(nil); err != nil {
			return
		}
		xs := make([][]float64, 0, 6)
		for _, fill := range []float64{0, 1, -1, math.NaN(), 1e30, 3.5} {
			x := make([]float64, m.NumFeatures())
			for i := range x {
				x[i] = fill
			}
			_, _ = m.Predict(x)
			xs = append(xs, x)
		}
		out := make([]serving.Prediction, len(xs))
		errs := make([]error, len(xs))
		if err := m.PredictBatch(xs, out, errs); err != nil {
			t.Fatalf("PredictBatch failed as a whole: %v", err)
		}
	})
}
