package xgboost

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzXGBoostLoad feeds arbitrary bytes to the JSON model parser. It must never panic, hang
// or allocate without bound, and any model it accepts must predict without panicking on
// ordinary, missing and extreme inputs. Run: go test -fuzz=FuzzXGBoostLoad -fuzztime=30s ./serving/xgboost
func FuzzXGBoostLoad(f *testing.F) {
	f.Add([]byte(tinyModel))
	f.Add([]byte(constModel("multi:softprob", 3, []float64{1, 2, 3}, []int{0, 1, 2})))
	f.Add([]byte(`{"learner":{}}`))
	f.Add([]byte(`[NaN,-Infinity]`))
	for _, name := range []string{"categorical", "dart_binary", "rf_binary"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name+".model.json")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parse(b)
		if err != nil {
			return
		}
		if err := m.setLabels(nil); err != nil {
			t.Fatalf("parse accepted a model whose default labels fail: %v", err)
		}
		for _, fill := range []float64{0, 1, -1, math.NaN(), math.Inf(1), 1e300, 3.5} {
			x := make([]float64, m.NumFeatures())
			for i := range x {
				x[i] = fill
			}
			_, _ = m.Predict(x)
		}
	})
}
