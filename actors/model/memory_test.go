package model_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/actorserve/actorserve/actors/model"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// BenchmarkModelMemory measures the heap one model costs on its node:
// active (one prediction, no labels) and after passivation, over
// memoryModels linear models deployed in the table before the baseline.
// It reports bytes per model; b.N does not matter.
//
//	go test ./actors/model/ -run '^$' -bench ModelMemory -benchtime 1x
func BenchmarkModelMemory(b *testing.B) {
	const memoryModels = 5_000
	tbl := newTable()
	ids := make([]string, memoryModels)
	for i := range ids {
		ids[i] = fmt.Sprintf("mem-%05d", i)
		tbl.put(descV1(ids[i]))
	}
	cfg := model.DefaultConfig()
	cfg.IdleTimeout = 8 * time.Second
	f := newFixture(b, 1, tbl, fixtureOpts{cfg: cfg})
	node, host := f.Nodes[0], f.hosts[0]
	mustPredict(b, node, "mem-00000", positional("e", 1, 2, 3, 4)) // warm up the node
	clustertest.Eventually(b, 10*time.Second, func() error {
		if n := host.Active(); n != 0 {
			return fmt.Errorf("%d active after warm-up", n)
		}
		return nil
	})
	base := heap()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < len(ids); i += 16 {
				mustPredict(b, node, ids[i], positional("e", 1, 2, 3, 4))
			}
		})
	}
	wg.Wait()
	active := heap()
	if n := host.Active(); n != memoryModels {
		b.Fatalf("%d of %d models active when measured (activation took %v; the idle timeout is %v)", n, memoryModels, time.Since(start), cfg.IdleTimeout)
	}
	clustertest.Eventually(b, 30*time.Second, func() error {
		if n := host.Active(); n != 0 {
			return fmt.Errorf("%d of %d models still active", n, memoryModels)
		}
		return nil
	})
	passive := heap()
	b.ReportMetric(float64(active-base)/memoryModels, "B/active")
	b.ReportMetric(float64(passive-base)/memoryModels, "B/passivated")
	runtime.KeepAlive(tbl)
}

// heap is the live heap after a full collection.
func heap() int64 {
	var m runtime.MemStats
	for range 2 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
