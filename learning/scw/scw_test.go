package scw_test

import (
	"errors"
	"math"
	"testing"

	"github.com/actorserve/actorserve/learning/scw"
)

const tol = 1e-12

// etaPhi1 is Φ(1), so that φ = Φ⁻¹(η) = 1, ψ = 1.5 and ζ = 2 in the hand computations.
var etaPhi1 = 0.5 * (1 + math.Erf(1/math.Sqrt2))

func near(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range want {
		if len(got) != len(want) || math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("%s = %.17g, want %.17g", what, got, want)
		}
	}
}

func TestPhi(t *testing.T) {
	if p := scw.Phi(etaPhi1); math.Abs(p-1) > 1e-14 {
		t.Fatalf("Phi(Φ(1)) = %v", p)
	}
	if p := scw.Phi(0.95); math.Abs(p-1.6448536269514722) > 1e-12 {
		t.Fatalf("Phi(0.95) = %v", p)
	}
}

// Steps x1 = (1, 2), y = +1; x2 = (1, −1), y = −1; x3 = (2, 1), y = +1, with φ = 1.
//
// SCW-I, C = 1, step 1: m = 0, v = 5, α = √(vφ²ζ)/(vζ) = √10/10 = 0.31622776601683794,
// u = ¼(−αvφ + √(α²v²φ² + 4v))² = ¼(−1.5811 + 4.7434)² = 2.5, β = αφ/(√u + vαφ) = 0.1,
// μ = α·x1, Σ = I − 0.1·x1x1ᵀ = [[0.9, −0.2], [−0.2, 0.6]].
// Step 2: m = y·μ·x2 = 0.31622776601683794, Σx2 = (1.1, −0.8), v = 1.9,
// α = (−1.5m + √(m²/4 + 3.8))/3.8 = 0.3898471243514573, β = 0.2168652462712847.
// Step 3: m = 0.7191250899753114, v = 2.9749441173082816, α = 0.2330985562069221,
// β = 0.11068121219548256. (Evaluated with numpy from the formulas in the package comment.)
func TestSCW1Steps(t *testing.T) {
	m, err := scw.New(2, scw.Config{Variant: scw.SCW1, C: 1, Eta: etaPhi1, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		x         []float64
		y         float64
		mu, sigma []float64
	}{
		{[]float64{1, 2}, 1, []float64{0.31622776601683794, 0.6324555320336759}, []float64{0.9, -0.2, -0.2, 0.6}},
		{[]float64{1, -1}, -1, []float64{-0.11260407076976514, 0.9443332315148417},
			[]float64{0.6375930520117454, -0.00915858328126945, -0.00915858328126945, 0.46120624238637775}},
		{[]float64{2, 1}, 1, []float64{0.18250511643347578, 1.0475700356491966},
			[]float64{0.4601903624486281, -0.07121861905617118, -0.07121861905617118, 0.4394960414313252}},
	}
	for i, s := range steps {
		if !m.Learn(s.x, s.y) {
			t.Fatalf("step %d passive", i+1)
		}
		near(t, "mu", m.Mu(), s.mu)
		near(t, "sigma", m.Sigma(), s.sigma)
	}
	// Now μ·x1 = 2.28 and √(x1ᵀΣx1) < 1.7: the loss φ√v − m is negative, so x1 is passive.
	if m.Learn([]float64{1, 2}, 1) {
		t.Fatal("confident correct example updated the model")
	}
	if a := m.Alpha(0.3, 0); a != 0 {
		t.Fatalf("alpha with v = 0 is %v", a)
	}
}

// SCW-I with C = 0.2 caps α at 0.2 on every step: step 1 u = ¼(−1 + √21)² = 3.2087121525220796,
// β = 0.2/(√u + 1) = 0.07165151389911681.
func TestSCW1Cap(t *testing.T) {
	m, _ := scw.New(2, scw.Config{Variant: scw.SCW1, C: 0.2, Eta: etaPhi1, Full: true})
	m.Learn([]float64{1, 2}, 1)
	near(t, "mu", m.Mu(), []float64{0.2, 0.4})
	near(t, "sigma", m.Sigma(), []float64{0.9283484861008832, -0.14330302779823362, -0.14330302779823362, 0.7133939444035328})
	m.Learn([]float64{1, -1}, -1)
	m.Learn([]float64{2, 1}, 1)
	near(t, "mu", m.Mu(), []float64{0.2937664731967183, 0.6843424384409245})
	near(t, "sigma", m.Sigma(), []float64{0.5787344740632798, -0.10357611961942358, -0.10357611961942358, 0.5936966855226535})
}

// SCW-II, C = 1, step 1: n = v + 1/(2C) = 5.5, γ = φ√(4nv(n + vφ²)) = √1155,
// α = γ/(2(n² + nvφ²)) = √1155/115.5 = 0.29424494316824984, β = 2/21 = 0.09523809523809523.
func TestSCW2Steps(t *testing.T) {
	m, _ := scw.New(2, scw.Config{Variant: scw.SCW2, C: 1, Eta: etaPhi1, Full: true})
	m.Learn([]float64{1, 2}, 1)
	near(t, "mu", m.Mu(), []float64{0.29424494316824984, 0.5884898863364997})
	near(t, "sigma", m.Sigma(), []float64{0.9047619047619048, -0.19047619047619047, -0.19047619047619047, 0.6190476190476191})
	m.Learn([]float64{1, -1}, -1)
	near(t, "mu", m.Mu(), []float64{-0.0718376766949193, 0.8590726923223204})
	m.Learn([]float64{2, 1}, 1)
	near(t, "mu", m.Mu(), []float64{0.20518661655814263, 0.9537010946760299})
	near(t, "sigma", m.Sigma(), []float64{0.49990688989088383, -0.07897956420809392, -0.07897956420809392, 0.4725058045546892})
}

// The diagonal form takes the same α and β on the first step (Σ = I is diagonal) and keeps
// the diagonal of the update: Σ = (1 − 0.1·1², 1 − 0.1·2²) = (0.9, 0.6).
// Step 2: Σx2 = (0.9, −0.6), v = 1.5, m = 0.31622776601683794; from the SCW-I formula
// α = (−1.5m + √(m²/4 + 3))/3 = 0.43234263271, the rest as in the full case.
func TestSCWDiagonal(t *testing.T) {
	m, _ := scw.New(2, scw.Config{Variant: scw.SCW1, C: 1, Eta: etaPhi1})
	m.Learn([]float64{1, 2}, 1)
	near(t, "mu", m.Mu(), []float64{0.31622776601683794, 0.6324555320336759})
	near(t, "sigma", m.Sigma(), []float64{0.9, 0.6})
	v, mm := 1.5, 0.31622776601683794
	alpha := (-1.5*mm + math.Sqrt(mm*mm/4+3)) / 3
	if a := m.Alpha(mm, v); math.Abs(a-alpha) > tol {
		t.Fatalf("alpha = %v, want %v", a, alpha)
	}
	beta := m.Beta(alpha, v)
	m.Learn([]float64{1, -1}, -1)
	near(t, "mu", m.Mu(), []float64{0.31622776601683794 - alpha*0.9, 0.6324555320336759 + alpha*0.6})
	near(t, "sigma", m.Sigma(), []float64{0.9 - beta*0.81, 0.6 - beta*0.36})
}

func TestResetAndMarshal(t *testing.T) {
	m, _ := scw.New(2, scw.Config{Variant: scw.SCW1, C: 1, Eta: 0.8, Full: true})
	m.Learn([]float64{1, 2}, 1)
	b, _ := m.MarshalBinary()
	r, _ := scw.New(2, scw.Config{Variant: scw.SCW1, C: 1, Eta: 0.8, Full: true})
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	near(t, "restored mu", r.Mu(), m.Mu())
	near(t, "restored sigma", r.Sigma(), m.Sigma())
	diag, _ := scw.New(2, scw.Config{Variant: scw.SCW1, C: 1, Eta: 0.8})
	if err := diag.UnmarshalBinary(b); !errors.Is(err, scw.ErrInvalidState) {
		t.Fatalf("full snapshot into diagonal learner: %v", err)
	}
	mu := append([]float64(nil), m.Mu()...)
	m.ResetCovariance()
	near(t, "mu after covariance reset", m.Mu(), mu)
	near(t, "sigma after covariance reset", m.Sigma(), []float64{1, 0, 0, 1})
	m.Reset()
	near(t, "mu after reset", m.Mu(), []float64{0, 0})
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []scw.Config{
		{Variant: scw.SCW1, C: 1, Eta: 0.5},
		{Variant: scw.SCW1, C: 1, Eta: 1},
		{Variant: scw.SCW2, C: 0, Eta: 0.7},
		{Variant: 3, C: 1, Eta: 0.7},
	} {
		if _, err := scw.New(2, c); err == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
}
