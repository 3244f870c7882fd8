package lightgbm

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLightGBMLoad feeds arbitrary bytes to the model.txt parser. It must never panic, hang or
// allocate without bound, and any model it accepts must predict without panicking on ordinary,
// missing and extreme inputs. Run: go test -fuzz=FuzzLightGBMLoad -fuzztime=30s ./serving/lightgbm
func FuzzLightGBMLoad(f *testing.F) {
	for _, name := range []string{"traps.model.txt", "categorical.model.txt", "multiclass.model.txt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(constModel("multiclassova num_class:2", 2, []float64{1, 2}, "average_output")))
	f.Add([]byte("tree\nmax_feature_idx=0\nobjective=binary\nTree=0\nnum_leaves=2\nsplit_feature=0\nthreshold=0\n" +
		"decision_type=9\nleft_child=-1\nright_child=-2\nleaf_value=1 2\nnum_cat=1\ncat_boundaries=0 1\ncat_threshold=5\nend of trees\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parse(b)
		if err != nil {
			return
		}
		if err := m.setLabels(nil); err != nil {
			t.Fatalf("parse accepted a model whose default labels fail: %v", err)
		}
		for _, fill := range []float64{0, 1, -1, -0.5, math.NaN(), math.Inf(1), 1e300, 1e-36, 33} {
			x := make([]float64, m.NumFeatures())
			for i := range x {
				x[i] = fill
			}
			_, _ = m.Predict(x)
		}
	})
}
