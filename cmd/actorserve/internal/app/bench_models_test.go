package app

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
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
	if r.Steady.Predicts != 20 || r.Steady.P99 != r.PredictP99 {
		t.Errorf("--predict-gcs 0: %d predictions in the steady run, want the 20 first ones: %+v", r.Steady.Predicts, r.Steady)
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
	for _, args := range [][]string{{"--active-fraction", "1.5"}, {"--active-fraction=0.5", "--nodes", "0"}, {"--models", "100", "-active-fraction", "0.1", "--nodes", "1,3"}} {
		if err := runBenchCommand(t.Context(), args, &out, &errOut); !errors.Is(err, ErrUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// TestModelsBenchThreeNodes runs the many-models bench on three nodes in
// one process: the deploys, activations and predictions spread over them,
// and every node's first list page speaks for the whole cluster (the
// bench fails otherwise).
func TestModelsBenchThreeNodes(t *testing.T) {
	var out, errOut strings.Builder
	args := []string{"--models", "90", "--nodes", "3", "--active-fraction", "0.2", "--concurrency", "6", "--idle-timeout", "2s", "--predicts", "30", "--predict-gcs", "1", "--pages", "6"}
	if err := runBenchCommand(t.Context(), args, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !regexp.MustCompile(`spanning [1-9][0-9]* garbage collections: p50 [0-9.]+[µm]s`).MatchString(out.String()) {
		t.Errorf("no predictions spanning a garbage collection:\n%s", out.String())
	}
	// Active model i went through node i mod 3: 18 models, 6 on each.
	for _, want := range []string{"90 linear models (no labels) on 3 nodes", "18 active (20%)", "active models per node: 6, 6, 6", "every active model passivated", "limit=100"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBenchDeployRetries: a deploy answered 503 (not published) is made
// again and counted; any other refusal, or 503 to the last attempt, is an
// error; a 202 pending (published, not read back in time) is counted and
// not made again.
func TestBenchDeployRetries(t *testing.T) {
	for _, tc := range []struct {
		answers     []int
		body        string // of the last answer
		retries     int
		pending     bool
		wantErr     bool
		wantAttempt int
	}{
		{[]int{202}, `{}`, 0, false, false, 1},
		{[]int{202}, `{"id":"m","version":1,"pending":true}`, 0, true, false, 1},
		{[]int{503, 503, 202}, `{}`, 2, false, false, 3},
		{[]int{400}, `{}`, 0, false, true, 1},
		{[]int{503, 409}, `{}`, 1, false, true, 2},
		{[]int{503, 503, 503, 503, 503, 202}, `{}`, 4, false, true, deployAttempts},
	} {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := int(calls.Add(1)) - 1
			if r.Method != http.MethodPut || n >= len(tc.answers) {
				w.WriteHeader(http.StatusTeapot)
				return
			}
			w.WriteHeader(tc.answers[n])
			body := `{}`
			if n == len(tc.answers)-1 {
				body = tc.body
			}
			_, _ = w.Write([]byte(body))
		}))
		retries, pending, slowest, err := deploy(t.Context(), srv.Client(), srv.URL+"/v1/models/m", benchModelDesc)
		srv.Close()
		if retries != tc.retries || pending != tc.pending || (err != nil) != tc.wantErr || int(calls.Load()) != tc.wantAttempt || slowest <= 0 {
			t.Errorf("answers %v %s: %d retries, pending %v, %d attempts, slowest %v, err %v; want %d retries, pending %v, %d attempts, error %v",
				tc.answers, tc.body, retries, pending, calls.Load(), slowest, err, tc.retries, tc.pending, tc.wantAttempt, tc.wantErr)
		}
	}
}
