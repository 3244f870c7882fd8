package model_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorserve/actorserve/actors/model"
	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/serving"
)

// Benchmarks of the predict round trip through model.Client: 64 concurrent
// callers spread over 16 model ids of a linear binary model. Each reports
// events/s (events, not calls) and the p50/p99 latency of one call.
//
//	go test ./actors/model/ -run '^$' -bench . -benchtime 3s -count 3

const (
	benchCallers = 64
	benchModels  = 16
)

func BenchmarkPredictLocal(b *testing.B)            { benchPredict(b, 1, 1) }
func BenchmarkPredictCrossNode(b *testing.B)        { benchPredict(b, 2, 1) }
func BenchmarkPredictBatch64Local(b *testing.B)     { benchPredict(b, 1, 64) }
func BenchmarkPredictBatch64CrossNode(b *testing.B) { benchPredict(b, 2, 64) }

// benchPredict builds a cluster of n nodes once, deploys benchModels ids
// all owned by the last node, warms them up, and measures calls of batch
// events each from the first node (local when n == 1, cross-node when 2).
func benchPredict(b *testing.B, n, batch int) {
	tbl := newTable()
	f := newFixture(b, n, tbl, fixtureOpts{cfg: model.DefaultConfig()})
	caller, owner := f.Nodes[0], n-1
	ids := f.idsOwnedBy(b, owner, benchModels)
	for _, id := range ids {
		tbl.put(descV1(id))
	}
	events := make([]msg.Event, batch)
	for i := range events {
		events[i] = msg.Event{ID: fmt.Sprint(i), Features: serving.Features{
			Names: featureNames, Values: []float64{float64(i % 7), 0.5, -1.25, float64(i % 3)},
		}}
	}
	// Warm up: activate every id and fill the caller's pid cache.
	for _, id := range ids {
		for range 4 {
			res := mustPredict(b, caller, id, events...)
			if res.Node != f.Nodes[owner].Name() {
				b.Fatalf("model %q answered from %s, want %s", id, res.Node, f.Nodes[owner].Name())
			}
			for _, r := range res.Results {
				if r.Code != "" {
					b.Fatalf("warm-up event failed: %s: %s", r.Code, r.Error)
				}
			}
		}
	}
	if got := f.hosts[owner].Active(); got != benchModels {
		b.Fatalf("%d active model actors on the owner, want %d", got, benchModels)
	}
	client := model.NewClient(caller)

	procs := runtime.GOMAXPROCS(0)
	par := (benchCallers + procs - 1) / procs // RunParallel starts par*GOMAXPROCS goroutines
	b.Run(fmt.Sprintf("callers=%d", par*procs), func(b *testing.B) {
		var (
			mu      sync.Mutex
			lat     []time.Duration
			next    atomic.Int64
			failure error
		)
		b.SetParallelism(par)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			local := make([]time.Duration, 0, 4096)
			var ferr error
			for i := int(next.Add(1)); pb.Next(); i++ {
				id := ids[i%len(ids)]
				start := time.Now()
				res, err := client.Predict(ctx, id, events)
				local = append(local, time.Since(start))
				switch {
				case ferr != nil:
				case err != nil:
					ferr = fmt.Errorf("predict %q: %w", id, err)
				case len(res.Results) != batch || res.Results[0].Code != "":
					ferr = fmt.Errorf("predict %q: %d results, first %+v", id, len(res.Results), res.Results[0])
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			if failure == nil {
				failure = ferr
			}
			mu.Unlock()
		})
		b.StopTimer()
		if failure != nil {
			b.Fatal(failure)
		}
		slices.Sort(lat)
		pct := func(p int) float64 {
			if len(lat) == 0 {
				return 0
			}
			return float64(lat[min(len(lat)-1, len(lat)*p/100)]) / float64(time.Microsecond)
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(pct(50), "p50-us")
		b.ReportMetric(pct(99), "p99-us")
	})
}
