package app

import (
	"bytes"
	"context"
	"math"
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
	cfg := BenchConfig{Events: 3000, Models: 4, Partitions: 4, Nodes: []int{1, 2}, Latency: time.Second, Rounds: 2}
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
		if r.Runs != 2 || r.MinEventsPerSec > r.EventsPerSec || r.EventsPerSec > r.MaxEventsPerSec {
			t.Errorf("%s: %d runs, %.0f events/s outside its spread %.0f-%.0f", r.Name, r.Runs, r.EventsPerSec, r.MinEventsPerSec, r.MaxEventsPerSec)
		}
	}
	for _, r := range res[2:] {
		if r.Batches == 0 || r.CrossNode != 0 {
			t.Errorf("%s: %d of %d batches crossed nodes", r.Name, r.CrossNode, r.Batches)
		}
		if r.Fetched < int64(cfg.Events) {
			t.Errorf("%s: the nodes decoded %d records for %d events", r.Name, r.Fetched, cfg.Events)
		}
		if r.RatioConsumer <= 0 {
			t.Errorf("%s: no ratio to the hand-written consumer", r.Name)
		}
	}
	if r := res[3]; r.RatioFirstNodes <= 0 || r.CPURatioFirstNodes <= 0 {
		t.Errorf("%s: no ratio to one node (throughput %v, CPU %v)", r.Name, r.RatioFirstNodes, r.CPURatioFirstNodes)
	}
	var b bytes.Buffer
	WriteBenchTable(&b, cfg, res)
	for _, want := range []string{"(a) franz-go passthrough", "(a') franz-go consumer", "(b) actorserve, 1 node", "(c) actorserve, 2 node", "CPU S/1M EVENTS", "VS 1ST NODES", "FETCHED/EVENT", "2 round(s)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// benchSummary reports each row's median run and the medians of ratios
// taken within a round, so that a slow spell in one round does not make
// one row look faster than another.
func TestBenchSummaryMediansAndRoundRatios(t *testing.T) {
	run := func(eps, cpu float64) BenchResult { return BenchResult{EventsPerSec: eps, CPUPerMillion: cpu} }
	runs := [][]BenchResult{
		{run(1000, 1), run(500, 2), run(900, 1)},  // (a): round 2 was a slow spell
		{run(400, 3), run(200, 6), run(300, 4)},   // (a')
		{run(300, 4), run(150, 8), run(310, 4)},   // one node
		{run(270, 5), run(150, 8), run(330, 4.4)}, // three nodes
	}
	res := benchSummary(runs)
	if len(res) != 4 {
		t.Fatalf("%d rows", len(res))
	}
	one, three := res[2], res[3]
	if one.EventsPerSec != 300 || one.MinEventsPerSec != 150 || one.MaxEventsPerSec != 310 || one.Runs != 3 {
		t.Errorf("one node: median %v spread %v-%v runs %d, want 300, 150-310, 3", one.EventsPerSec, one.MinEventsPerSec, one.MaxEventsPerSec, one.Runs)
	}
	// Within-round ratios 0.9, 1.0, 1.0645: median 1.0 (the ratio of the
	// medians, 270/300, would be 0.9).
	if three.RatioFirstNodes != 1 {
		t.Errorf("three nodes vs one: %v, want the median of the within-round ratios, 1", three.RatioFirstNodes)
	}
	if want := 1.1; math.Abs(three.CPURatioFirstNodes-want) > 1e-9 {
		t.Errorf("CPU three nodes vs one: %v, want %v", three.CPURatioFirstNodes, want)
	}
	if want := 0.3; math.Abs(one.Ratio-want) > 1e-9 {
		t.Errorf("one node vs passthrough: %v, want %v", one.Ratio, want)
	}
	if res[0].Ratio != 0 || res[2].RatioFirstNodes != 0 {
		t.Errorf("ratios of a row to itself: %v %v, want none", res[0].Ratio, res[2].RatioFirstNodes)
	}
}
