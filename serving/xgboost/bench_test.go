package xgboost

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// benchModel returns a binary:logistic model of nTrees complete trees of the given depth over
// width features, with random splits and leaves.
func benchModel(nTrees, depth, width int) string {
	r := rand.New(rand.NewPCG(1, 2))
	var trees, info []string
	n := 1<<(depth+1) - 1
	for range nTrees {
		var l, rc, si, sc, dl []string
		for i := range n {
			if i < n/2 {
				l, rc = append(l, strconv.Itoa(2*i+1)), append(rc, strconv.Itoa(2*i+2))
				si, sc = append(si, strconv.Itoa(r.IntN(width))), append(sc, strconv.FormatFloat(r.NormFloat64(), 'g', 8, 32))
			} else {
				l, rc = append(l, "-1"), append(rc, "-1")
				si, sc = append(si, "0"), append(sc, strconv.FormatFloat(r.NormFloat64()*0.1, 'g', 8, 32))
			}
			dl = append(dl, strconv.Itoa(r.IntN(2)))
		}
		trees = append(trees, fmt.Sprintf(`{"left_children":[%s],"right_children":[%s],"split_indices":[%s],"split_conditions":[%s],"default_left":[%s]}`,
			strings.Join(l, ","), strings.Join(rc, ","), strings.Join(si, ","), strings.Join(sc, ","), strings.Join(dl, ",")))
		info = append(info, "0")
	}
	return fmt.Sprintf(`{"learner":{"learner_model_param":{"base_score":"5E-1","num_class":"0","num_feature":"%d"},`+
		`"objective":{"name":"binary:logistic"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[%s],"trees":[%s]}}},"version":[1,7,4]}`,
		width, strings.Join(info, ","), strings.Join(trees, ","))
}

// BenchmarkPredict scores a 100-tree, depth-6 binary model over 30 features, one row at a
// time and in batches of 64 (ns/op is per batch there; ns/row is per row in both).
// Run: go test -run=^$ -bench=Predict -benchmem ./serving/xgboost
func BenchmarkPredict(b *testing.B) {
	m := load(b, benchModel(100, 6, 30), nil)
	r := rand.New(rand.NewPCG(3, 4))
	xs := make([][]float64, 64)
	for i := range xs {
		xs[i] = make([]float64, 30)
		for j := range xs[i] {
			xs[i][j] = r.NormFloat64()
		}
	}
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := m.Predict(xs[i%64]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
	})
	b.Run("batch64", func(b *testing.B) {
		out := make([]serving.Prediction, len(xs))
		errs := make([]error, len(xs))
		b.ReportAllocs()
		for b.Loop() {
			if err := m.PredictBatch(xs, out, errs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/row")
	})
}

// BenchmarkLoad parses the same 100-tree model.
func BenchmarkLoad(b *testing.B) {
	js := []byte(benchModel(100, 6, 30))
	b.SetBytes(int64(len(js)))
	for b.Loop() {
		if _, err := parse(js); err != nil {
			b.Fatal(err)
		}
	}
}
