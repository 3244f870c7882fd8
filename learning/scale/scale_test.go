package scale_test

import (
	"errors"
	"math"
	"testing"

	"github.com/actorserve/actorserve/learning/scale"
)

func TestWelford(t *testing.T) {
	s := scale.New(2)
	out := make([]float64, 2)
	// Nothing seen: every feature maps to 0.
	s.Transform(out, []float64{5, -3})
	if out[0] != 0 || out[1] != 0 {
		t.Fatalf("untrained transform %v", out)
	}
	// One vector: variance 0, still 0.
	s.Update([]float64{1, 10})
	s.Transform(out, []float64{1, 10})
	if out[0] != 0 || out[1] != 0 {
		t.Fatalf("after one vector %v", out)
	}
	// Feature 0 sees 1, 3: mean 2, population variance 1. Feature 1 sees 10, 10: variance 0.
	s.Update([]float64{3, 10})
	if s.Mean(0) != 2 || s.Var(0) != 1 || s.Var(1) != 0 || s.Count() != 2 {
		t.Fatalf("mean %v var %v var %v", s.Mean(0), s.Var(0), s.Var(1))
	}
	s.Transform(out, []float64{4, 12})
	if out[0] != 2 || out[1] != 0 {
		t.Fatalf("transform %v, want (2, 0)", out)
	}
	// 1, 3, 8: mean 4, population variance ((−3)² + (−1)² + 4²)/3 = 26/3
	s.Update([]float64{8, 11})
	if math.Abs(s.Mean(0)-4) > 1e-15 || math.Abs(s.Var(0)-26.0/3) > 1e-14 {
		t.Fatalf("mean %v var %v", s.Mean(0), s.Var(0))
	}
	s.Transform(out, []float64{4 + math.Sqrt(26.0/3), 0})
	if math.Abs(out[0]-1) > 1e-14 {
		t.Fatalf("z = %v, want 1", out[0])
	}
}

func TestMarshal(t *testing.T) {
	s := scale.New(3)
	for _, x := range [][]float64{{1, 2, 3}, {2, 0, 3}, {-4, 1, 3.5}} {
		s.Update(x)
	}
	b, _ := s.MarshalBinary()
	r := scale.New(3)
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	a, c := make([]float64, 3), make([]float64, 3)
	x := []float64{0.3, -7, 100}
	s.Transform(a, x)
	r.Transform(c, x)
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(c[i]) {
			t.Fatalf("restored transform %v, want %v", c, a)
		}
	}
	if err := scale.New(2).UnmarshalBinary(b); !errors.Is(err, scale.ErrInvalidState) {
		t.Fatalf("wrong width: %v", err)
	}
}
