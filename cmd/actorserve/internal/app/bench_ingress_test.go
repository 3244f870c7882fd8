package app

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/actorserve/actorserve/actors/broker"
)

// BenchmarkIngressNodes is the bench's rows (b) and (c) alone, for
// profiling the ingress path without the other rows in the profile, and
// for comparing the CPU per event of one node and three:
//
//	go test ./cmd/actorserve/internal/app -run '^$' -bench 'IngressNodes/nodes=1' -benchtime 1x -cpuprofile cpu.prof
//	go test ./cmd/actorserve/internal/app -run '^$' -bench IngressNodes -benchtime 1x -count 5
//
// Each iteration streams 1,000,000 preloaded JSON events through the nodes.
func BenchmarkIngressNodes(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			cfg := BenchConfig{Events: 1000000, Models: 20, Partitions: 6, Latency: time.Second, Logger: slog.New(slog.DiscardHandler)}
			br, err := broker.New(broker.Config{Partitions: cfg.Partitions}, cfg.Logger)
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			for b.Loop() {
				r, err := benchOne(context.Background(), cfg, br.Addrs(), benchActorserve, fmt.Sprintf("%d node(s)", nodes), nodes)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.EventsPerSec, "events/s")
				b.ReportMetric(r.CPUPerMillion, "cpu-s/1M")
				b.ReportMetric(float64(r.Fetched)/float64(cfg.Events), "fetched/event")
			}
		})
	}
}
