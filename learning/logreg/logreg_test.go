package logreg_test

import (
	"errors"
	"math"
	"testing"

	"github.com/actorserve/actorserve/learning/logreg"
)

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if len(got) != len(want) || math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("%s = %.17g, want %.17g", what, got, want)
		}
	}
}

// Plain SGD, lr = 0.1. Step 1: x = (1, 2), y = +1: p = σ(0) = 0.5, p − t = −0.5,
// w = −0.1·(−0.5)·x = (0.05, 0.1). Step 2: x = (2, −1), y = −1: margin 0.1 − 0.1 = 0, p = 0.5,
// p − t = 0.5, w = (0.05 − 0.1, 0.1 + 0.05) = (−0.05, 0.15).
func TestBinarySGD(t *testing.T) {
	m, err := logreg.NewBinary(2, logreg.Config{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	m.Learn([]float64{1, 2}, 1)
	near(t, "w 1", m.W, []float64{0.05, 0.1}, 1e-15)
	m.Learn([]float64{2, -1}, -1)
	near(t, "w 2", m.W, []float64{-0.05, 0.15}, 1e-15)
	if p := logreg.Sigmoid(m.Margin([]float64{0, 1})); math.Abs(p-1/(1+math.Exp(-0.15))) > 1e-15 {
		t.Fatalf("P = %v", p)
	}
}

// AdaGrad, lr = 0.5. Step 1: g = (−0.5, −1), G = (0.25, 1), w = 0.5·(0.5/0.5, 1/1) = (0.5, 0.5)
// (less 1e-8 relative from the ε in √G + ε). Step 2: x = (2, −1), y = −1: margin 0.5,
// p = σ(0.5) = 0.6224593312018546, g = p·(2, −1), G = (0.25 + 4p², 1 + p²),
// w_i −= 0.5·g_i/√G_i.
func TestBinaryAdaGrad(t *testing.T) {
	m, _ := logreg.NewBinary(2, logreg.Config{LR: 0.5, AdaGrad: true})
	m.Learn([]float64{1, 2}, 1)
	near(t, "w 1", m.W, []float64{0.5, 0.5}, 1e-7)
	near(t, "G 1", m.G, []float64{0.25, 1}, 0)
	m.Learn([]float64{2, -1}, -1)
	p := 1 / (1 + math.Exp(-0.5))
	g0, g1 := 2*p, -p
	want := []float64{0.5 - 0.5*g0/math.Sqrt(0.25+g0*g0), 0.5 - 0.5*g1/math.Sqrt(1+g1*g1)}
	near(t, "w 2", m.W, want, 1e-7)
	m.ResetCovariance()
	near(t, "G reset", m.G, []float64{0, 0}, 0)
}

// Intercept and L2: x = (1, 0), y = +1, lr = 0.1, λ = 1, w = 0: p − t = −0.5;
// g = (−0.5, 0), b −= 0.1·(−0.5). Step 2 at w = (0.05, 0): g_0 = (σ(0.05+0.05) − 1)·1 + 0.05.
func TestInterceptL2(t *testing.T) {
	m, _ := logreg.NewBinary(2, logreg.Config{LR: 0.1, L2: 1, Intercept: true})
	m.Learn([]float64{1, 0}, 1)
	near(t, "w", m.W, []float64{0.05, 0}, 1e-15)
	near(t, "b", []float64{m.B}, []float64{0.05}, 1e-15)
	e := logreg.Sigmoid(0.1) - 1
	m.Learn([]float64{1, 0}, 1)
	near(t, "w 2", m.W, []float64{0.05 - 0.1*(e+0.05), 0}, 1e-15)
	near(t, "b 2", []float64{m.B}, []float64{0.05 - 0.1*e}, 1e-15)
}

// Softmax, plain SGD, lr = 0.1, 3 classes: x = (1, 2), y = 1: p = 1/3 each;
// w_0 = w_2 = −0.1·(1/3)·x, w_1 = −0.1·(−2/3)·x.
func TestSoftmax(t *testing.T) {
	m, err := logreg.NewSoftmax(2, 3, logreg.Config{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	m.Learn([]float64{1, 2}, 1)
	near(t, "W", m.W, []float64{-1.0 / 30, -2.0 / 30, 2.0 / 30, 4.0 / 30, -1.0 / 30, -2.0 / 30}, 1e-15)
	out := make([]float64, 3)
	m.Margins([]float64{1, 2}, out)
	logreg.SoftmaxInPlace(out)
	if !(out[1] > out[0] && out[0] == out[2]) || math.Abs(out[0]+out[1]+out[2]-1) > 1e-15 {
		t.Fatalf("probabilities %v", out)
	}
	m.AddClass()
	b, _ := m.MarshalBinary()
	r, _ := logreg.NewSoftmax(2, 0, logreg.Config{LR: 0.1})
	if err := r.UnmarshalBinary(b); err != nil || r.NumClasses() != 4 {
		t.Fatalf("restore: %v, %d classes", err, r.NumClasses())
	}
	if err := r.UnmarshalBinary(b[:5]); !errors.Is(err, logreg.ErrInvalidState) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestSigmoidExtremes(t *testing.T) {
	if logreg.Sigmoid(-1000) != 0 || logreg.Sigmoid(1000) != 1 || logreg.Sigmoid(0) != 0.5 {
		t.Fatal("sigmoid extremes")
	}
	m := []float64{1000, 1000, -1000}
	logreg.SoftmaxInPlace(m)
	near(t, "softmax", m, []float64{0.5, 0.5, 0}, 0)
}
