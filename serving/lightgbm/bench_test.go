package lightgbm

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// benchModel returns model.txt text for a binary model of nTrees complete trees of the given
// depth over width features, with random splits (missing type NaN, random default direction)
// and leaves.
func benchModel(nTrees, depth, width int) string {
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	fmt.Fprintf(&b, "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=%d\nobjective=binary sigmoid:1\n\n", width-1)
	leaves := 1 << depth
	splits := leaves - 1
	for t := range nTrees {
		var sf, th, dt, lc, rc, lv []string
		for i := range splits {
			sf = append(sf, strconv.Itoa(r.IntN(width)))
			th = append(th, strconv.FormatFloat(r.NormFloat64(), 'g', 17, 64))
			dt = append(dt, strconv.Itoa(8|2*r.IntN(2)))
			for _, c := range []int{2*i + 1, 2*i + 2} { // heap order: children of split i
				if c < splits {
					lc, rc = appendChild(lc, rc, c == 2*i+1, strconv.Itoa(c))
				} else {
					lc, rc = appendChild(lc, rc, c == 2*i+1, strconv.Itoa(^(c - splits)))
				}
			}
		}
		for range leaves {
			lv = append(lv, strconv.FormatFloat(r.NormFloat64()*0.1, 'g', 17, 64))
		}
		fmt.Fprintf(&b, "Tree=%d\nnum_leaves=%d\nnum_cat=0\nsplit_feature=%s\nthreshold=%s\ndecision_type=%s\nleft_child=%s\nright_child=%s\nleaf_value=%s\nshrinkage=0.1\n\n\n",
			t, leaves, strings.Join(sf, " "), strings.Join(th, " "), strings.Join(dt, " "), strings.Join(lc, " "), strings.Join(rc, " "), strings.Join(lv, " "))
	}
	b.WriteString("end of trees\n")
	return b.String()
}

func appendChild(lc, rc []string, left bool, v string) ([]string, []string) {
	if left {
		return append(lc, v), rc
	}
	return lc, append(rc, v)
}

// BenchmarkPredict scores a 100-tree, depth-6 binary model over 30 features, one row at a
// time and in batches of 64 (ns/op is per batch there; ns/row is per row in both).
// Run: go test -run=^$ -bench=Predict -benchmem ./serving/lightgbm
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
	text := []byte(benchModel(100, 6, 30))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := parse(text); err != nil {
			b.Fatal(err)
		}
	}
}
