package mojo

import (
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// BenchmarkPredict scores each fixture's 50 reference rows, one row at a time (ns/op is per
// row) and as one batch of 50 (ns/row reports per row).
// Run: go test -run=^$ -bench=Predict -benchmem ./serving/mojo
func BenchmarkPredict(b *testing.B) {
	for _, name := range fixtureNames {
		m := loadFixture(b, name)
		rows := readExpected(b, name)
		xs := make([][]float64, len(rows))
		for i, r := range rows {
			xs[i] = features(b, m, r.Input)
		}
		b.Run(name+"/single", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := m.Predict(xs[i%len(xs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(name+"/batch50", func(b *testing.B) {
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
}

// BenchmarkLoad parses each fixture MOJO from its zip bytes.
func BenchmarkLoad(b *testing.B) {
	for _, name := range fixtureNames {
		zb := readFixture(b, name+".zip")
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(zb)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(zb); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
