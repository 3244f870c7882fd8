package pmml

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzPMMLLoad feeds arbitrary documents to the parser and compiler. They must never panic,
// hang or allocate without bound, and any model they accept must predict without panicking
// on ordinary, missing and extreme inputs. Run:
// go test -run '^$' -fuzz=FuzzPMMLLoad -fuzztime=60s ./serving/pmml
func FuzzPMMLLoad(f *testing.F) {
	for _, name := range []string{"tree_classifier.pmml", "regression_softmax.pmml", "gbm_classifier.pmml",
		"neural_classifier.pmml", "grm_factor.pmml", "naive_bayes.pmml", "svm_poly_ovo.pmml"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil && len(b) < 20000 {
			f.Add(b)
		}
	}
	f.Add([]byte(tree("weightedConfidence", "returnLastPrediction")))
	f.Add([]byte(tree("aggregateNodes", "")))
	f.Add([]byte(segmented("max", "classification", []float64{1, 2}, leafTree(0.3), leafTree(0.8))))
	f.Add([]byte(regressionOf("", `<DerivedField name="d" optype="continuous" dataType="double"><MapValues outputColumn="o" dataType="double"><FieldColumnPair field="x" column="i"/><InlineTable><row><i>1</i><o>2</o></row></InlineTable></MapValues></DerivedField>`)))
	lim := DefaultLimits
	lim.MaxBytes = 1 << 20
	lim.MaxElements = 20000
	lim.MaxNodes = 10000
	lim.MaxModels = 100
	lim.MaxSteps = 200000
	f.Fuzz(func(t *testing.T, b []byte) {
		start := time.Now()
		m, err := Compile(b, Options{Limits: &lim})
		if err != nil {
			return
		}
		for _, fill := range []float64{0, 1, -1, math.NaN(), math.Inf(1), 1e300, 2.5} {
			x := make([]float64, m.NumFeatures())
			for i := range x {
				x[i] = fill
			}
			_, _ = m.Predict(x)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("took %s", d)
		}
	})
}
