package app

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/actorserve/actorserve/actors/broker"
)

// BenchmarkIngressOneNode is the bench's row (b) alone, for profiling the
// ingress path without the other rows in the profile:
//
//	go test ./cmd/actorserve/internal/app -run '^$' -bench IngressOneNode -benchtime 1x -cpuprofile cpu.prof
//
// Each iteration streams 500,000 preloaded JSON events through one node.
func BenchmarkIngressOneNode(b *testing.B) {
	cfg := BenchConfig{Events: 500000, Models: 20, Partitions: 6, Latency: time.Second, Logger: slog.New(slog.DiscardHandler)}
	br, err := broker.New(broker.Config{Partitions: cfg.Partitions}, cfg.Logger)
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	for b.Loop() {
		r, err := benchOne(context.Background(), cfg, br.Addrs(), benchActorserve, "one node", 1)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.EventsPerSec, "events/s")
		b.ReportMetric(r.CPUPerMillion, "cpu-s/1M")
	}
}
