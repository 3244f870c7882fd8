package serving

import (
	"errors"
	"math"
	"testing"
)

// TestSchemaKeepPassesNaN: with on_nan "keep", missing values reach the
// model as NaN (tree formats route them); infinities are still refused.
func TestSchemaKeepPassesNaN(t *testing.T) {
	d := &Descriptor{ID: "m", Features: []string{"a", "b"}, Options: Options{OnNaN: OnNaNKeep}}
	s := NewSchema(d, 2)
	x, err := s.Vector(&Features{Names: []string{"b", "a"}, Values: []float64{math.NaN(), 1}}, nil)
	if err != nil || x[0] != 1 || !math.IsNaN(x[1]) {
		t.Fatalf("got %v, %v", x, err)
	}
	_, err = s.Vector(&Features{Values: []float64{math.Inf(1), 1}}, nil)
	if !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("infinity: %v", err)
	}
}
