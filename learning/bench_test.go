package learning_test

import (
	"fmt"
	"testing"

	"github.com/actorserve/actorserve/learning"
)

// BenchmarkLearn measures updates per second of learning.Online.Learn (predict, score, scale,
// step) per learner, binary task, online scaling on, at 4 and 100 features. SCW and AROW use
// covariance "auto": full at 4 features, diagonal at 100; the "-full" rows force a full Σ.
//
//	go test -run XXX -bench Learn -benchtime 2s ./learning/
func BenchmarkLearn(b *testing.B) {
	type variant struct {
		algo   string
		params map[string]any
		name   string
	}
	variants := []variant{
		{"pa", nil, "pa"}, {"pa1", nil, "pa1"}, {"pa2", nil, "pa2"},
		{"scw1", nil, "scw1"}, {"scw2", nil, "scw2"}, {"arow", nil, "arow"}, {"logreg", nil, "logreg"},
		{"scw1", map[string]any{"covariance": "full"}, "scw1-full"},
		{"arow", map[string]any{"covariance": "full"}, "arow-full"},
	}
	for _, d := range []int{4, 100} {
		data := synth(1, 4096, d, 2)
		for _, v := range variants {
			if d == 4 && v.params != nil {
				continue // auto is already full at 4 features
			}
			b.Run(fmt.Sprintf("%s/d=%d", v.name, d), func(b *testing.B) {
				o := mustNew(b, desc(v.algo, "binary", d, labelsOf(2), v.params, ""))
				ys := make([]learning.Target, len(data))
				for i, s := range data {
					ys[i] = learning.Label(s.label)
				}
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					if _, err := o.Learn(data[i].x, ys[i]); err != nil {
						b.Fatal(err)
					}
					i = (i + 1) & 4095
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			})
		}
	}
}

// BenchmarkPredict measures Decide (label only) and Predict (label and scores) at 4 features.
func BenchmarkPredict(b *testing.B) {
	data := synth(1, 4096, 4, 3)
	o := mustNew(b, desc("scw1", "multiclass", 4, labelsOf(3), nil, ""))
	for _, s := range data {
		o.Learn(s.x, learning.Label(s.label))
	}
	b.Run("decide", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			o.Decide(data[i].x)
			i = (i + 1) & 4095
		}
	})
	b.Run("predict", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			o.Predict(data[i].x)
			i = (i + 1) & 4095
		}
	})
}
