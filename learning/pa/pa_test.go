package pa_test

import (
	"errors"
	"math"
	"testing"

	"github.com/actorserve/actorserve/learning/pa"
)

const tol = 1e-12

func near(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}

type step struct {
	x       []float64
	y       float64
	changed bool
	w       []float64
	b       float64
}

// Hand-computed steps on x1 = (1, 2), y = +1; x2 = (2, −1), y = −1; x3 = (1, 1), y = +1.
func TestBinarySteps(t *testing.T) {
	cases := []struct {
		name  string
		cfg   pa.Config
		steps []step
	}{
		{"PA", pa.Config{Variant: pa.PA}, []step{
			// margin 0, loss 1, ‖x‖² = 5, τ = 1/5: w = 0.2·(1, 2)
			{[]float64{1, 2}, 1, true, []float64{0.2, 0.4}, 0},
			// margin 0.4 − 0.4 = 0, loss 1, τ = 0.2: w = (0.2, 0.4) − 0.2·(2, −1)
			{[]float64{2, -1}, -1, true, []float64{-0.2, 0.6}, 0},
			// margin −0.2 + 0.6 = 0.4, loss 0.6, ‖x‖² = 2, τ = 0.3
			{[]float64{1, 1}, 1, true, []float64{0.1, 0.9}, 0},
			// margin 1.0 >= 1: passive
			{[]float64{1, 1}, 1, false, []float64{0.1, 0.9}, 0},
		}},
		{"PA-I C=0.1", pa.Config{Variant: pa.PA1, C: 0.1}, []step{
			// τ = min(0.1, 1/5) = 0.1
			{[]float64{1, 2}, 1, true, []float64{0.1, 0.2}, 0},
			// margin 0.2 − 0.2 = 0, τ = min(0.1, 0.2) = 0.1
			{[]float64{2, -1}, -1, true, []float64{-0.1, 0.3}, 0},
			// margin 0.2, loss 0.8, 0.8/2 = 0.4, τ = 0.1
			{[]float64{1, 1}, 1, true, []float64{0, 0.4}, 0},
		}},
		{"PA-II C=0.5", pa.Config{Variant: pa.PA2, C: 0.5}, []step{
			// 1/(2C) = 1: τ = 1/(5 + 1) = 1/6
			{[]float64{1, 2}, 1, true, []float64{1.0 / 6, 2.0 / 6}, 0},
			// margin 2/6 − 2/6 = 0, τ = 1/6: w = (1/6 − 2/6, 2/6 + 1/6)
			{[]float64{2, -1}, -1, true, []float64{-1.0 / 6, 0.5}, 0},
			// margin 1/3, loss 2/3, τ = (2/3)/(2 + 1) = 2/9
			{[]float64{1, 1}, 1, true, []float64{-1.0/6 + 2.0/9, 0.5 + 2.0/9}, 0},
		}},
		{"PA-I C=1 intercept", pa.Config{Variant: pa.PA1, C: 1, Intercept: true}, []step{
			// margin 0, loss 1, ‖x‖² = 5 (intercept left out), τ = 0.2; b += 0.2
			{[]float64{1, 2}, 1, true, []float64{0.2, 0.4}, 0.2},
			// margin 0.4 − 0.4 + 0.2 = 0.2, loss 1.2, τ = 0.24: b = 0.2 − 0.24
			{[]float64{2, -1}, -1, true, []float64{-0.28, 0.64}, -0.04},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := pa.NewBinary(2, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range c.steps {
				if got := m.Learn(s.x, s.y); got != s.changed {
					t.Fatalf("step %d: changed = %v, want %v", i+1, got, s.changed)
				}
				near(t, "w", m.W, s.w)
				near(t, "b", []float64{m.B}, []float64{s.b})
			}
		})
	}
}

func TestBinaryZeroInput(t *testing.T) {
	for _, c := range []struct {
		cfg     pa.Config
		changed bool
		b       float64
	}{
		{pa.Config{Variant: pa.PA}, false, 0},
		{pa.Config{Variant: pa.PA1, C: 1, Intercept: true}, false, 0},
		// PA-II steps even on x = 0: τ = 1/(0 + 1/(2·0.5)) = 1 moves the intercept only
		{pa.Config{Variant: pa.PA2, C: 0.5, Intercept: true}, true, 1},
	} {
		m, _ := pa.NewBinary(2, c.cfg)
		if got := m.Learn([]float64{0, 0}, 1); got != c.changed || m.B != c.b || m.W[0] != 0 || m.W[1] != 0 {
			t.Fatalf("%v: changed %v, w %v, b %v; want changed %v, b %v", c.cfg.Variant, got, m.W, m.B, c.changed, c.b)
		}
	}
}

func TestRegressorSteps(t *testing.T) {
	m, err := pa.NewRegressor(2, pa.Config{Variant: pa.PA1, C: 1, Epsilon: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	steps := []step{
		// p = 0, loss |1 − 0| − 0.1 = 0.9, τ = min(1, 0.9/5) = 0.18 towards +
		{[]float64{1, 2}, 1, true, []float64{0.18, 0.36}, 0},
		// p = 0.18, loss 1.18 − 0.1 = 1.08, ‖x‖² = 1, τ = min(1, 1.08) = 1 towards −
		{[]float64{1, 0}, -1, true, []float64{-0.82, 0.36}, 0},
		// p = 0.36, |0.4 − 0.36| = 0.04 < ε: passive
		{[]float64{0, 1}, 0.4, false, []float64{-0.82, 0.36}, 0},
	}
	for i, s := range steps {
		if got := m.Learn(s.x, s.y); got != s.changed {
			t.Fatalf("step %d: changed = %v", i+1, got)
		}
		near(t, "w", m.W, s.w)
	}
	// PA-II, ε = 0, C = 0.5: τ = 1/(5 + 1) on the first step
	m2, _ := pa.NewRegressor(2, pa.Config{Variant: pa.PA2, C: 0.5})
	m2.Learn([]float64{1, 2}, 1)
	near(t, "PA-II w", m2.W, []float64{1.0 / 6, 2.0 / 6})
}

func TestMulticlassSteps(t *testing.T) {
	m, err := pa.NewMulticlass(2, 3, pa.Config{Variant: pa.PA})
	if err != nil {
		t.Fatal(err)
	}
	// Step 1: x = (1, 2), y = 1. All margins 0; the highest wrong class is the lowest index, 0.
	// loss 1, q = 2‖x‖² = 10, τ = 0.1: w1 += 0.1x, w0 −= 0.1x.
	m.Learn([]float64{1, 2}, 1)
	near(t, "W after 1", m.W, []float64{-0.1, -0.2, 0.1, 0.2, 0, 0})
	// Step 2: x = (2, −1), y = 2. Margins w0·x = 0, w1·x = 0, w2·x = 0; wrong class 0 (tie).
	// loss 1, q = 10, τ = 0.1: w2 = (0.2, −0.1), w0 = (−0.3, −0.1).
	m.Learn([]float64{2, -1}, 2)
	near(t, "W after 2", m.W, []float64{-0.3, -0.1, 0.1, 0.2, 0.2, -0.1})
	// Step 3: x = (1, 1), y = 0. Margins −0.4, 0.3, 0.1; wrong class 1.
	// loss 1 − (−0.4 − 0.3) = 1.7, q = 4, τ = 0.425.
	m.Learn([]float64{1, 1}, 0)
	near(t, "W after 3", m.W, []float64{0.125, 0.325, -0.325, -0.225, 0.2, -0.1})
	out := make([]float64, 3)
	m.Margins([]float64{1, 0}, out)
	near(t, "margins", out, []float64{0.125, -0.325, 0.2})

	// A new class starts at zero; fewer than two classes never change.
	m.AddClass()
	if m.NumClasses() != 4 {
		t.Fatalf("classes = %d", m.NumClasses())
	}
	one, _ := pa.NewMulticlass(2, 1, pa.Config{Variant: pa.PA})
	if one.Learn([]float64{1, 1}, 0) {
		t.Fatal("a one-class model learned")
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	m, _ := pa.NewMulticlass(2, 3, pa.Config{Variant: pa.PA1, C: 1, Intercept: true})
	m.Learn([]float64{1, 2}, 1)
	m.Learn([]float64{2, -1}, 2)
	b, _ := m.MarshalBinary()
	r, _ := pa.NewMulticlass(2, 0, pa.Config{Variant: pa.PA1, C: 1, Intercept: true})
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := r.MarshalBinary()
	if string(b) != string(b2) || r.NumClasses() != 3 {
		t.Fatal("round trip differs")
	}
	// wrong width, truncation and trailing bytes are errors that leave the receiver alone
	w3, _ := pa.NewMulticlass(3, 0, pa.Config{Variant: pa.PA})
	for _, bad := range [][]byte{b, b[:len(b)-1], append(append([]byte{}, b...), 0), nil} {
		if err := w3.UnmarshalBinary(bad); !errors.Is(err, pa.ErrInvalidState) {
			t.Fatalf("UnmarshalBinary(%d bytes) = %v", len(bad), err)
		}
		if w3.NumClasses() != 0 {
			t.Fatal("receiver changed on error")
		}
	}
	bin, _ := pa.NewBinary(2, pa.Config{Variant: pa.PA})
	bin.Learn([]float64{1, 2}, 1)
	bb, _ := bin.MarshalBinary()
	bin2, _ := pa.NewBinary(2, pa.Config{Variant: pa.PA})
	if err := bin2.UnmarshalBinary(bb); err != nil || bin2.W[1] != bin.W[1] {
		t.Fatalf("binary round trip: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []pa.Config{
		{Variant: pa.PA1, C: 0},
		{Variant: pa.PA2, C: -1},
		{Variant: pa.PA2, C: math.Inf(1)},
		{Variant: pa.PA, Epsilon: -0.1},
		{Variant: 7},
	} {
		if _, err := pa.NewBinary(2, c); err == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
	if _, err := pa.NewBinary(0, pa.Config{}); err == nil {
		t.Fatal("width 0 accepted")
	}
}
