package app

import (
	"strings"
	"testing"
	"time"
)

// TestModelsBenchRuns runs the many-models bench small: every figure it
// reports must have been measured.
func TestModelsBenchRuns(t *testing.T) {
	// Bytes per model are heap differences: measured in a process of its own.
	if !inOwnProcess(t, "bench_models_test.go") {
		return
	}
	cfg := ModelsBenchConfig{Models: 60, ActiveFraction: 0.25, Concurrency: 4, IdleTimeout: time.Second, Predicts: 20, Pages: 5}
	r, err := RunModelsBench(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Models != 60 || r.Active != 15 || !r.Passivated {
		t.Fatalf("%d models, %d active, passivated %v", r.Models, r.Active, r.Passivated)
	}
	for k, rate := range r.DeployRate {
		if rate <= 0 {
			t.Errorf("no deploy rate for tenth %d: %v", k+1, r.DeployRate)
		}
	}
	if r.BytesActive <= 0 || r.BrokerBytesPerRecord <= 0 || r.ListP99 <= 0 || r.PredictP99 < r.PredictP50 || r.PredictP50 <= 0 {
		t.Errorf("figures not measured: %+v", r)
	}
	var out strings.Builder
	WriteModelsBench(&out, cfg, r)
	for _, want := range []string{"60 linear models", "15 active", "DEPLOY RATE PER TENTH", "heap per active model", "every active model passivated", "limit=100", "predict"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// Bad flags are usage errors.
	var errOut strings.Builder
	if err := runBench(t.Context(), []string{"--active-fraction", "1.5"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--active-fraction") {
		t.Errorf("--active-fraction 1.5: %v", err)
	}
}
