package serving_test

import (
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// BenchmarkFeaturesJSON decodes the features of an iris event, named and positional.
func BenchmarkFeaturesJSON(b *testing.B) {
	for _, in := range []struct{ name, json string }{
		{"named", `{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}`},
		{"positional", `[5.1, 3.5, 1.4, 0.2]`},
	} {
		b.Run(in.name, func(b *testing.B) {
			data := []byte(in.json)
			var f serving.Features
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := f.UnmarshalJSON(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSchemaVector maps named features onto a 4-wide input under the mean policy.
func BenchmarkSchemaVector(b *testing.B) {
	d := &serving.Descriptor{ID: "iris", Features: []string{"sepal_length", "sepal_width", "petal_length", "petal_width"},
		Options: serving.Options{OnNaN: serving.OnNaNMean}}
	s := serving.NewSchema(d, 4)
	f := &serving.Features{Names: []string{"petal_width", "sepal_length", "sepal_width", "petal_length"}, Values: []float64{0.2, 5.1, 3.5, nan}}
	dst := make([]float64, 4)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Vector(f, dst); err != nil {
			b.Fatal(err)
		}
	}
}
