package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunBenchSmall runs every row of actorserve bench on a small stream:
// each processor must emit one output per event (await counts them), the
// actorserve rows must have sent batches to model actors with none
// crossing nodes (the events are keyed by model id, and placement follows
// partitions), and the table must name every row.
func TestRunBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four processors against an embedded broker")
	}
	cfg := BenchConfig{Events: 3000, Models: 4, Partitions: 4, Nodes: []int{1, 2}, Latency: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := RunBench(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("%d rows, want 4 (passthrough, consumer, 1 node, 2 nodes)", len(res))
	}
	for _, r := range res {
		if r.EventsPerSec <= 0 || r.Samples == 0 {
			t.Errorf("%s: %.0f events/s from %d latency samples", r.Name, r.EventsPerSec, r.Samples)
		}
	}
	for _, r := range res[2:] {
		if r.Batches == 0 || r.CrossNode != 0 {
			t.Errorf("%s: %d of %d batches crossed nodes", r.Name, r.CrossNode, r.Batches)
		}
		if r.RatioConsumer <= 0 {
			t.Errorf("%s: no ratio to the hand-written consumer", r.Name)
		}
	}
	var b bytes.Buffer
	WriteBenchTable(&b, cfg, res)
	for _, want := range []string{"(a) franz-go passthrough", "(a') franz-go consumer", "(b) actorserve, 1 node", "(c) actorserve, 2 node", "CPU S/1M EVENTS"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
