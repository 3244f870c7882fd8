package arow_test

import (
	"errors"
	"math"
	"testing"

	"github.com/actorserve/actorserve/learning/arow"
)

func near(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		if len(got) != len(want) || math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("%s = %.17g, want %.17g", what, got, want)
		}
	}
}

// r = 1. Step 1: x = (1, 2), y = +1: m = 0, v = 5, β = 1/6, α = 1/6,
// μ = (1/6, 1/3), Σ = I − (1/6)xxᵀ = [[5/6, −1/3], [−1/3, 1/3]].
// Step 2: x = (1, −1), y = −1: m = −(1/6 − 1/3) = 1/6, Σx = (7/6, −2/3), v = 11/6, β = 6/17,
// α = (5/6)(6/17) = 5/17, μ = (−3/17, 9/17), Σ = [[6/17, −1/17], [−1/17, 3/17]].
// Step 3: x = (2, 1), y = +1: m = 3/17, Σx = (11/17, 1/17), v = 23/17, β = 17/40, α = 7/20,
// μ = (1/20, 11/20), Σ = [[7/40, −3/40], [−3/40, 7/40]].
func TestFullSteps(t *testing.T) {
	m, err := arow.New(2, arow.Config{R: 1, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	m.Learn([]float64{1, 2}, 1)
	near(t, "mu 1", m.Mu(), []float64{1.0 / 6, 1.0 / 3})
	near(t, "sigma 1", m.Sigma(), []float64{5.0 / 6, -1.0 / 3, -1.0 / 3, 1.0 / 3})
	m.Learn([]float64{1, -1}, -1)
	near(t, "mu 2", m.Mu(), []float64{-3.0 / 17, 9.0 / 17})
	near(t, "sigma 2", m.Sigma(), []float64{6.0 / 17, -1.0 / 17, -1.0 / 17, 3.0 / 17})
	m.Learn([]float64{2, 1}, 1)
	near(t, "mu 3", m.Mu(), []float64{1.0 / 20, 11.0 / 20})
	near(t, "sigma 3", m.Sigma(), []float64{7.0 / 40, -3.0 / 40, -3.0 / 40, 7.0 / 40})
	// margin μ·(0, 4) = 2.2 >= 1: passive
	if m.Learn([]float64{0, 4}, 1) {
		t.Fatal("margin above 1 updated the model")
	}
}

// Diagonal, r = 1. Step 1 as above with Σ = (1 − 1/6, 1 − 4/6) = (5/6, 1/3).
// Step 2: x = (1, −1), y = −1: m = 1/6, Σx = (5/6, −1/3), v = 7/6, β = 6/13, α = 5/13,
// μ = (1/6 − 25/78, 1/3 + 5/39) = (−2/13, 6/13), Σ = (5/6 − 25/78, 1/3 − 2/39) = (20/39, 11/39).
func TestDiagonalSteps(t *testing.T) {
	m, _ := arow.New(2, arow.Config{R: 1})
	m.Learn([]float64{1, 2}, 1)
	near(t, "mu 1", m.Mu(), []float64{1.0 / 6, 1.0 / 3})
	near(t, "sigma 1", m.Sigma(), []float64{5.0 / 6, 1.0 / 3})
	m.Learn([]float64{1, -1}, -1)
	near(t, "mu 2", m.Mu(), []float64{-2.0 / 13, 6.0 / 13})
	near(t, "sigma 2", m.Sigma(), []float64{20.0 / 39, 11.0 / 39})
}

// r = 0.5: step 1 β = 1/(5 + 0.5) = 2/11, α = 2/11.
func TestRegulariser(t *testing.T) {
	m, _ := arow.New(2, arow.Config{R: 0.5, Full: true})
	m.Learn([]float64{1, 2}, 1)
	near(t, "mu", m.Mu(), []float64{2.0 / 11, 4.0 / 11})
	if _, err := arow.New(2, arow.Config{R: 0}); err == nil {
		t.Fatal("r = 0 accepted")
	}
}

func TestMarshal(t *testing.T) {
	m, _ := arow.New(3, arow.Config{R: 1})
	m.Learn([]float64{1, 2, 3}, 1)
	b, _ := m.MarshalBinary()
	r, _ := arow.New(3, arow.Config{R: 1})
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	near(t, "mu", r.Mu(), m.Mu())
	near(t, "sigma", r.Sigma(), m.Sigma())
	for _, bad := range [][]byte{b[:len(b)-3], append(append([]byte{}, b...), 1), {9}} {
		if err := r.UnmarshalBinary(bad); !errors.Is(err, arow.ErrInvalidState) {
			t.Fatalf("bad snapshot: %v", err)
		}
	}
	near(t, "mu after failed restores", r.Mu(), m.Mu())
	r.ResetCovariance()
	near(t, "sigma reset", r.Sigma(), []float64{1, 1, 1})
}
