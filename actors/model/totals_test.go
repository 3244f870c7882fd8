package model

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorserve/actorserve/actors/msg"
)

// sumActive is what the node's totals must equal: the stats of the models
// active on h, summed one by one.
func sumActive(h *Host, now time.Time) msg.NodeTotals {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var tot msg.NodeTotals
	for _, ref := range h.active {
		ref.stats.mu.Lock()
		tot.Active++
		tot.Usage += ref.stats.usage
		tot.Errors += ref.stats.errors
		tot.Rate1m += ref.stats.series.rate(now)
		ref.stats.mu.Unlock()
	}
	return tot
}

// TestNodeTotalsFollowActiveModels: the node's running totals equal the
// sum over its active models through events, errors, a new version's
// window, passivation, an activation replacing another, and a minute
// passing.
func TestNodeTotalsFollowActiveModels(t *testing.T) {
	h := NewHost(DefaultConfig(), "n1", nil, nil, nil)
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	pid := func(i int) *actor.PID { return actor.NewPID("n1", fmt.Sprintf("a%d", i)) }
	stats := make([]*Stats, 4)
	check := func(step string, now time.Time) {
		t.Helper()
		want := sumActive(h, now)
		got := h.totals.read(now)
		h.mu.RLock()
		got.Active = len(h.active)
		h.mu.RUnlock()
		if got.Active != want.Active || got.Usage != want.Usage || got.Errors != want.Errors || math.Abs(got.Rate1m-want.Rate1m) > 1e-9 {
			t.Fatalf("%s: node totals %+v, summed over the active models %+v", step, got, want)
		}
	}
	for i := range stats {
		stats[i] = newStats(fmt.Sprintf("m%d", i), "n1")
		// Used before it is registered (events of its loading): counted
		// once registered.
		if i == 3 {
			stats[i].observe(time.Millisecond, 2, t0)
		}
		h.register(fmt.Sprintf("m%d", i), pid(i), stats[i])
	}
	check("registered", t0)
	for i, s := range stats {
		s.observe(time.Duration(i+1)*time.Millisecond, 3*(i+1), t0.Add(time.Duration(i)*time.Second))
		s.fail("invalid_input", "bad", i)
	}
	check("events and errors", t0.Add(5*time.Second))
	stats[1].reset(2, "linear", "", t0.Add(6*time.Second)) // a new version: a new window
	stats[1].observe(time.Millisecond, 5, t0.Add(6*time.Second))
	check("new version", t0.Add(7*time.Second))
	h.unregister("m2", pid(2)) // passivated
	check("passivated", t0.Add(8*time.Second))
	stats[2].observe(time.Millisecond, 7, t0.Add(9*time.Second)) // late, after passivation
	check("event after passivation", t0.Add(9*time.Second))
	h.unregister("m0", pid(99)) // another activation's stop: m0 stays
	check("stale stop", t0.Add(9*time.Second))
	again := newStats("m0", "n1") // m0 activated anew in place of the old one
	h.register("m0", pid(100), again)
	again.observe(time.Millisecond, 1, t0.Add(10*time.Second))
	check("activation replacing another", t0.Add(10*time.Second))
	check("a minute later", t0.Add(65*time.Second))
	stats[3].observe(time.Millisecond, 4, t0.Add(70*time.Second))
	check("events in a new minute", t0.Add(70*time.Second))
	for i := range 4 {
		h.unregister(fmt.Sprintf("m%d", i), pid(i))
	}
	h.unregister("m0", pid(100))
	if got := h.totals.read(t0.Add(70 * time.Second)); got != (msg.NodeTotals{}) {
		t.Fatalf("every model passivated: totals %+v, want zero", got)
	}
}

// BenchmarkStatsReplyTotals is the cost of a node's totals, which every
// page of the model list asks every node for, with 30,000 models active.
func BenchmarkStatsReplyTotals(b *testing.B) {
	h := NewHost(DefaultConfig(), "n1", nil, nil, nil)
	now := time.Now()
	for i := range 30_000 {
		s := newStats(fmt.Sprintf("m%06d", i), "n1")
		h.register(s.id, actor.NewPID("n1", s.id), s)
		s.observe(time.Millisecond, 1, now)
	}
	q := &msg.StatsQuery{Totals: true, IDs: []string{"m000001", "m000002"}}
	b.ReportAllocs()
	for b.Loop() {
		if rep := h.StatsReply("n1", q); rep.Totals.Active != 30_000 {
			b.Fatalf("active %d", rep.Totals.Active)
		}
	}
}
