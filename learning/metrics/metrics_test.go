package metrics_test

import (
	"errors"
	"math"
	"testing"

	"github.com/actorserve/actorserve/learning/metrics"
)

func eq(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-15 {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// truth 0 0 1 1 1 0 2 2, predicted 0 1 1 1 0 0 2 2: 6 of 8 right.
// Marginals: truth (3, 3, 2), predicted (3, 3, 2): p_e = (9 + 9 + 4)/64 = 22/64,
// κ = (48/64 − 22/64)/(42/64) = 13/21.
// No-change (first guess class 0): right at t = 0, 1, 3, 4, 7: p_nc = 5/8, κ_t = (6/8 − 5/8)/(3/8) = 1/3.
// Window 4 holds t = 4..7: wrong, right, right, right: 0.75.
func TestClassification(t *testing.T) {
	c := metrics.NewClassification(4)
	truth := []int{0, 0, 1, 1, 1, 0, 2, 2}
	pred := []int{0, 1, 1, 1, 0, 0, 2, 2}
	for i := range truth {
		c.Add(truth[i], pred[i])
	}
	eq(t, "accuracy", c.Accuracy(), 0.75)
	eq(t, "kappa", c.Kappa(), 13.0/21)
	eq(t, "no-change", c.NoChangeAccuracy(), 5.0/8)
	eq(t, "kappa_t", c.KappaTemporal(), 1.0/3)
	eq(t, "recent", c.RecentAccuracy(), 0.75)
	// A missing prediction (-1) counts as wrong and adds to no predicted marginal.
	c.Add(2, -1)
	eq(t, "accuracy", c.Accuracy(), 6.0/9)
	eq(t, "recent", c.RecentAccuracy(), 0.75) // window t = 5..8: right, right, right, wrong
	if c.N() != 9 {
		t.Fatal(c.N())
	}

	b, _ := c.MarshalBinary()
	r := metrics.NewClassification(2) // a shorter window keeps the most recent outcomes
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	eq(t, "restored accuracy", r.Accuracy(), c.Accuracy())
	eq(t, "restored kappa", r.Kappa(), c.Kappa())
	eq(t, "restored kappa_t", r.KappaTemporal(), c.KappaTemporal())
	eq(t, "restored recent (2)", r.RecentAccuracy(), 0.5) // t = 7 right, t = 8 wrong
	if err := r.CheckClasses(2); !errors.Is(err, metrics.ErrInvalidState) {
		t.Fatalf("CheckClasses(2) = %v", err)
	}
	if err := r.UnmarshalBinary(b[:len(b)-1]); !errors.Is(err, metrics.ErrInvalidState) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestEmptyAndDegenerate(t *testing.T) {
	c := metrics.NewClassification(0)
	eq(t, "empty accuracy", c.Accuracy(), 0)
	eq(t, "empty kappa", c.Kappa(), 0)
	eq(t, "empty kappa_t", c.KappaTemporal(), 0)
	// Always class 0, always right: p_e = 1 and p_nc = 1, both kappas defined as 0.
	for range 5 {
		c.Add(0, 0)
	}
	eq(t, "accuracy", c.Accuracy(), 1)
	eq(t, "kappa", c.Kappa(), 0)
	eq(t, "kappa_t", c.KappaTemporal(), 0)
}

// errors 0.5, 0, 1.5: MAE 2/3, over a window of 2: 0.75; RMSE √((0.25 + 2.25)/3).
func TestRegression(t *testing.T) {
	g := metrics.NewRegression(2)
	for i, p := range []float64{1.5, 2, 4.5} {
		g.Add(float64(i+1), p)
	}
	g.Add(1, math.NaN()) // skipped
	eq(t, "mae", g.MAE(), 2.0/3)
	eq(t, "recent", g.RecentMAE(), 0.75)
	eq(t, "rmse", g.RMSE(), math.Sqrt(2.5/3))
	b, _ := g.MarshalBinary()
	r := metrics.NewRegression(10)
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	eq(t, "restored mae", r.MAE(), g.MAE())
	eq(t, "restored recent", r.RecentMAE(), 0.75)
}

var sinkRegression *metrics.Regression

// TestRecentWindowGrowsLazily checks that the window holds nothing until
// values arrive, and still keeps exactly the last window values as its
// storage grows and wraps.
func TestRecentWindowGrowsLazily(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { sinkRegression = metrics.NewRegression(1000) }); n != 1 {
		t.Errorf("NewRegression(1000) made %v allocations, want 1 (no window before the first label)", n)
	}
	for _, window := range []int{1, 7, 16, 40, 1000} {
		g := metrics.NewRegression(window)
		for i := 1; i <= 2*window+5; i++ {
			g.Add(float64(i), 0)
			first := max(1, i-window+1)
			want := float64(first+i) / 2 // mean of first..i
			if got := g.RecentMAE(); math.Abs(got-want) > 1e-9 {
				t.Fatalf("window %d after %d values: RecentMAE %v, want %v", window, i, got, want)
			}
		}
	}
}
