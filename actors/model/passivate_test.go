package model

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/clustertest"
	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/linear"
)

type oneTable map[string]*serving.Descriptor

func (t oneTable) Get(id string) (*serving.Descriptor, bool) { d, ok := t[id]; return d, ok }

// TestPassivatedModelIsCollected activates models, lets them passivate,
// and checks that nothing keeps their actors' memory (the stats stand
// for it): a passivated model must cost its node nothing but a few map
// entries.
func TestPassivatedModelIsCollected(t *testing.T) {
	reg := serving.NewRegistry()
	linear.Register(reg)
	tbl := oneTable{}
	const n = 20
	for i := range n {
		id := fmt.Sprintf("p%d", i)
		tbl[id] = &serving.Descriptor{ID: id, Version: 1, Format: "linear", Features: []string{"a"},
			Data: json.RawMessage(`{"coefficients":[[2]],"intercepts":[1],"link":"identity"}`)}
	}
	var h *Host
	c := clustertest.New(t, 1, clustertest.WithOptions(func(i int) cluster.Options {
		h = NewHost(Config{IdleTimeout: 300 * time.Millisecond}, clustertest.Config(i).Name, tbl, reg, nil)
		return cluster.Options{Kinds: []*pcluster.Kind{h.Kind()}, Setup: h.Setup}
	}))
	client := NewClient(c.Nodes[0])
	var stats []weak.Pointer[Stats]
	for id := range tbl {
		res, err := client.Predict(t.Context(), id, []msg.Event{{ID: "e", Features: serving.Features{Values: []float64{1}}}})
		if err != nil || len(res.Results) != 1 || res.Results[0].Code != "" {
			t.Fatalf("predict %s: %+v, %v", id, res, err)
		}
		h.mu.RLock()
		stats = append(stats, weak.Make(h.active[id].stats))
		h.mu.RUnlock()
	}
	clustertest.Eventually(t, 10*time.Second, func() error {
		if a := h.Active(); a != 0 {
			return fmt.Errorf("%d models still active", a)
		}
		runtime.GC()
		live := 0
		for _, p := range stats {
			if p.Value() != nil {
				live++
			}
		}
		if live > 0 {
			return fmt.Errorf("%d of %d passivated models are still reachable", live, n)
		}
		return nil
	})
}
