package model_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/actorserve/actorserve/actors/model"
	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/clustertest"
	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/linear"
)

// table is an in-memory descriptor table shared by every node of a fixture.
type table struct {
	mu sync.RWMutex
	m  map[string]*serving.Descriptor
}

func newTable(ds ...*serving.Descriptor) *table {
	t := &table{m: map[string]*serving.Descriptor{}}
	for _, d := range ds {
		t.put(d)
	}
	return t
}

func (t *table) Get(id string) (*serving.Descriptor, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d, ok := t.m[id]
	return d, ok
}

func (t *table) put(d *serving.Descriptor) {
	t.mu.Lock()
	t.m[d.ID] = d
	t.mu.Unlock()
}

func (t *table) del(id string) {
	t.mu.Lock()
	delete(t.m, id)
	t.mu.Unlock()
}

var featureNames = []string{"a", "b", "c", "d"}

// linearDesc is a logistic binary model over features a..d.
func linearDesc(id string, version int64, w [4]float64, b float64) *serving.Descriptor {
	data := fmt.Sprintf(`{"coefficients":[[%g,%g,%g,%g]],"intercepts":[%g],"link":"logistic"}`, w[0], w[1], w[2], w[3], b)
	return &serving.Descriptor{
		ID: id, Version: version, Format: "linear",
		Features: featureNames, Labels: []string{"no", "yes"},
		Data: json.RawMessage(data),
	}
}

var (
	w1 = [4]float64{0.1, 0.2, 0.3, 0.4}
	b1 = 0.5
	w2 = [4]float64{-1, 0.5, 0.25, -0.125}
	b2 = -0.25
)

func descV1(id string) *serving.Descriptor { return linearDesc(id, 1, w1, b1) }

// expect is the hand-computed prediction of the logistic model (w, b) for x.
func expect(w [4]float64, b float64, x []float64) (label string, yes float64) {
	z := b
	for i := range w {
		z += w[i] * x[i]
	}
	yes = 1 / (1 + math.Exp(-z))
	label = "no"
	if yes >= 0.5 {
		label = "yes"
	}
	return label, yes
}

// fixture is a cluster whose nodes all host model actors over one table.
type fixture struct {
	*clustertest.Cluster
	table *table
	hosts []*model.Host
}

type fixtureOpts struct {
	cfg     model.Config
	formats func(reg *serving.Registry)
}

func newFixture(tb testing.TB, n int, tbl *table, o fixtureOpts) *fixture {
	tb.Helper()
	reg := serving.NewRegistry()
	linear.Register(reg)
	if o.formats != nil {
		o.formats(reg)
	}
	f := &fixture{table: tbl, hosts: make([]*model.Host, n)}
	f.Cluster = clustertest.New(tb, n, clustertest.WithOptions(func(i int) cluster.Options {
		h := model.NewHost(o.cfg, clustertest.Config(i).Name, tbl, reg, nil)
		f.hosts[i] = h
		return cluster.Options{Kinds: []*pcluster.Kind{h.Kind()}, Setup: h.Setup}
	}))
	return f
}

// owner is the index of the node that owns model id, agreed by every node.
func (f *fixture) owner(tb testing.TB, id string) int {
	tb.Helper()
	addr := f.Nodes[0].Owner(model.Kind, id)
	for _, n := range f.Nodes[1:] {
		if got := n.Owner(model.Kind, id); got != addr {
			tb.Fatalf("nodes disagree on the owner of %q: %s and %s", id, addr, got)
		}
	}
	for i, n := range f.Nodes {
		if n.RemoteAddr() == addr {
			return i
		}
	}
	tb.Fatalf("owner %q of %q is no node of the fixture", addr, id)
	return -1
}

// idsOwnedBy returns k model ids that node i owns.
func (f *fixture) idsOwnedBy(tb testing.TB, i, k int) []string {
	tb.Helper()
	var ids []string
	for j := 0; len(ids) < k; j++ {
		if j > 100*k {
			tb.Fatalf("found only %d of %d ids owned by node %d", len(ids), k, i)
		}
		id := fmt.Sprintf("m-%03d", j)
		if f.owner(tb, id) == i {
			ids = append(ids, id)
		}
	}
	return ids
}

func (f *fixture) activeTotal() int {
	n := 0
	for _, h := range f.hosts {
		n += h.Active()
	}
	return n
}

func (f *fixture) notifyAll(id string) {
	for _, h := range f.hosts {
		h.Notify(id)
	}
}

// stats returns the stats of id on host h, or an error while it has none.
func stats(h *model.Host, id string) (msg.ModelStats, error) {
	s := h.Stats(id)
	if len(s) != 1 {
		return msg.ModelStats{}, fmt.Errorf("host has %d stats for %q, want 1", len(s), id)
	}
	return s[0], nil
}

func predict(tb testing.TB, node *cluster.Node, id string, events ...msg.Event) (*msg.PredictResponse, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return model.NewClient(node).Predict(ctx, id, events)
}

func mustPredict(tb testing.TB, node *cluster.Node, id string, events ...msg.Event) *msg.PredictResponse {
	tb.Helper()
	res, err := predict(tb, node, id, events...)
	if err != nil {
		tb.Fatalf("predict %q: %v", id, err)
	}
	if len(res.Results) != len(events) {
		tb.Fatalf("predict %q: %d results for %d events", id, len(res.Results), len(events))
	}
	return res
}

func named(id string, x ...float64) msg.Event {
	return msg.Event{ID: id, Features: serving.Features{Names: featureNames[:len(x)], Values: x}}
}

func positional(id string, x ...float64) msg.Event {
	return msg.Event{ID: id, Features: serving.Features{Values: x}}
}

func wireCode(err error) string {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return ""
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func checkResult(t *testing.T, r msg.Result, id string, w [4]float64, b float64, x []float64) {
	t.Helper()
	label, yes := expect(w, b, x)
	switch {
	case r.ID != id:
		t.Errorf("result id %q, want %q", r.ID, id)
	case r.Code != "" || r.Error != "":
		t.Errorf("event %q failed: %s: %s", id, r.Code, r.Error)
	case r.Prediction.Label != label:
		t.Errorf("event %q: label %q, want %q (p(yes) = %v)", id, r.Prediction.Label, label, yes)
	case !near(r.Prediction.Scores["yes"], yes) || !near(r.Prediction.Scores["no"], 1-yes):
		t.Errorf("event %q: scores %v, want yes=%v no=%v", id, r.Prediction.Scores, yes, 1-yes)
	}
}

func TestPredict(t *testing.T) {
	inputs := [][]float64{
		{1, 2, 3, 4},         // z = 3.5
		{-10, -10, -10, -10}, // z = -9.5
		{0, 0, 0, 0},         // z = 0.5
		{-5, 0, 0, 0},        // z = 0: p = 0.5 exactly, label "yes"
		{1e3, -1e3, 2.5, -0.75},
	}
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			tbl := newTable()
			ids := []string{"m", "iris", "churn", "fraud", "ctr", "spam"}
			for _, id := range ids {
				tbl.put(descV1(id))
			}
			f := newFixture(t, n, tbl, fixtureOpts{cfg: model.DefaultConfig()})
			for _, id := range ids {
				owner := f.owner(t, id)
				for ci, caller := range f.Nodes {
					var events []msg.Event
					for k, x := range inputs {
						if k%2 == 0 {
							events = append(events, named(fmt.Sprintf("e%d", k), x...))
						} else {
							events = append(events, positional(fmt.Sprintf("e%d", k), x...))
						}
					}
					res := mustPredict(t, caller, id, events...)
					if res.Model != id || res.Version != 1 || res.Node != f.Nodes[owner].Name() {
						t.Errorf("caller n%d: answer from %s for %s v%d, want %s v1 from %s",
							ci+1, res.Node, res.Model, res.Version, id, f.Nodes[owner].Name())
					}
					if res.LatencyNS <= 0 {
						t.Errorf("latency %d ns, want > 0", res.LatencyNS)
					}
					for k, x := range inputs {
						checkResult(t, res.Results[k], fmt.Sprintf("e%d", k), w1, b1, x)
					}
					// One event per call too.
					res = mustPredict(t, caller, id, named("single", inputs[0]...))
					checkResult(t, res.Results[0], "single", w1, b1, inputs[0])
				}
			}
			// Each model is active exactly once, on its owner.
			for i, h := range f.hosts {
				for _, s := range h.Stats() {
					if own := f.owner(t, s.ID); own != i {
						t.Errorf("model %q active on n%d, owner is n%d", s.ID, i+1, own+1)
					}
				}
			}
			if got := f.activeTotal(); got != len(ids) {
				t.Errorf("%d active model actors, want %d", got, len(ids))
			}
		})
	}
}

func TestPredictEventErrors(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			f := newFixture(t, n, newTable(descV1("m")), fixtureOpts{cfg: model.DefaultConfig()})
			caller := f.Nodes[n-1]
			good := []float64{1, 2, 3, 4}
			res := mustPredict(t, caller, "m",
				named("ok1", good...),
				positional("short", 1, 2, 3),
				positional("long", 1, 2, 3, 4, 5),
				msg.Event{ID: "unknown-name", Features: serving.Features{Names: []string{"a", "b", "c", "z"}, Values: good}},
				named("missing-name", 1, 2, 3),
				positional("nan", 1, math.NaN(), 3, 4),
				positional("ok2", good...),
			)
			want := []struct{ id, code, text string }{
				{"ok1", "", ""},
				{"short", msg.CodeSchemaMismatch, "expected 4 features, got 3"},
				{"long", msg.CodeSchemaMismatch, "expected 4 features, got 5"},
				{"unknown-name", msg.CodeSchemaMismatch, `"z"`},
				{"missing-name", msg.CodeSchemaMismatch, `"d"`},
				{"nan", msg.CodeNaNRejected, `"b"`},
				{"ok2", "", ""},
			}
			for i, w := range want {
				r := res.Results[i]
				if r.ID != w.id {
					t.Errorf("result %d is %q, want %q (order kept)", i, r.ID, w.id)
				}
				if w.code == "" {
					checkResult(t, r, w.id, w1, b1, good)
					continue
				}
				if r.Code != w.code || !strings.Contains(r.Error, w.text) || !r.Prediction.Empty() {
					t.Errorf("event %q: code %q error %q prediction %+v; want code %q, error naming %s, no prediction",
						w.id, r.Code, r.Error, r.Prediction, w.code, w.text)
				}
			}
			s, err := stats(f.hosts[f.owner(t, "m")], "m")
			if err != nil {
				t.Fatal(err)
			}
			if s.Usage != 2 || s.Errors != 5 || s.ErrorsBy[msg.CodeSchemaMismatch] != 4 || s.ErrorsBy[msg.CodeNaNRejected] != 1 {
				t.Errorf("usage %d errors %d by reason %v; want 2, 5, {schema_mismatch: 4, nan_rejected: 1}", s.Usage, s.Errors, s.ErrorsBy)
			}
		})
	}
}

// checkStats verifies the internal consistency of one stats window.
func checkStats(t *testing.T, s msg.ModelStats) {
	t.Helper()
	if !(s.MinMS > 0 && s.MinMS <= s.P50MS && s.P50MS <= s.P95MS && s.P95MS <= s.P99MS && s.P99MS <= s.MaxMS) {
		t.Errorf("want 0 < min <= p50 <= p95 <= p99 <= max, got %v %v %v %v %v", s.MinMS, s.P50MS, s.P95MS, s.P99MS, s.MaxMS)
	}
	if s.Usage > 0 && math.Abs(s.MeanMS-s.DurationMS/float64(s.Usage)) > 1e-12*s.MeanMS {
		t.Errorf("mean %v ms, want duration/usage = %v/%d = %v", s.MeanMS, s.DurationMS, s.Usage, s.DurationMS/float64(s.Usage))
	}
	if s.MinMS > s.MeanMS || s.MeanMS > s.MaxMS {
		t.Errorf("mean %v outside [min %v, max %v]", s.MeanMS, s.MinMS, s.MaxMS)
	}
}

func TestStats(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			f := newFixture(t, n, newTable(descV1("m"), descV1("other")), fixtureOpts{cfg: model.DefaultConfig()})
			const singles, batches, batch = 40, 5, 16
			before := time.Now()
			for i := range singles {
				mustPredict(t, f.Nodes[i%n], "m", positional(fmt.Sprint(i), float64(i), 1, 2, 3))
			}
			for i := range batches {
				events := make([]msg.Event, batch)
				for j := range events {
					events[j] = named(fmt.Sprintf("b%d-%d", i, j), float64(j), 1, 2, 3)
				}
				// 3 bad events per batch: 2 schema mismatches, 1 NaN.
				events[0] = positional("short", 1)
				events[5] = named("short-named", 1, 2)
				events[9] = positional("nan", math.NaN(), 1, 2, 3)
				mustPredict(t, f.Nodes[(i+1)%n], "m", events...)
			}
			mustPredict(t, f.Nodes[0], "other", positional("x", 1, 2, 3, 4))
			after := time.Now()

			owner := f.owner(t, "m")
			s, err := stats(f.hosts[owner], "m")
			if err != nil {
				t.Fatal(err)
			}
			wantUsage := int64(singles + batches*(batch-3))
			if s.Usage != wantUsage {
				t.Errorf("usage %d, want %d", s.Usage, wantUsage)
			}
			if s.Errors != batches*3 || s.ErrorsBy[msg.CodeSchemaMismatch] != batches*2 || s.ErrorsBy[msg.CodeNaNRejected] != batches || len(s.ErrorsBy) != 2 {
				t.Errorf("errors %d by reason %v, want %d: schema_mismatch %d, nan_rejected %d",
					s.Errors, s.ErrorsBy, batches*3, batches*2, batches)
			}
			if !strings.Contains(s.LastError, `event "nan"`) {
				t.Errorf("last error %q, want the last bad event's", s.LastError)
			}
			if s.ID != "m" || s.Version != 1 || s.Format != "linear" || s.State != "active" || s.Node != f.Nodes[owner].Name() || s.Previous != nil {
				t.Errorf("stats header %+v", s)
			}
			if s.Since.Before(before.Add(-time.Second)) || s.LastUsed.Before(s.Since) || s.LastUsed.After(after) {
				t.Errorf("since %v last used %v, want within [%v, %v]", s.Since, s.LastUsed, before, after)
			}
			checkStats(t, s)

			// All stats of a host come sorted, only from the owner.
			var all []msg.ModelStats
			for _, h := range f.hosts {
				all = append(all, h.Stats()...)
			}
			if len(all) != 2 {
				t.Fatalf("%d stats across hosts, want 2", len(all))
			}
			if o := f.owner(t, "other"); o == owner {
				if got := f.hosts[owner].Stats(); got[0].ID != "m" || got[1].ID != "other" {
					t.Errorf("stats not sorted by id: %s, %s", got[0].ID, got[1].ID)
				}
			}

			// The node actor answers stats queries from any node.
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			pid := actor.NewPID(f.Nodes[owner].RemoteAddr(), model.NodeActorName)
			res, err := f.Nodes[n-1].RequestPID(ctx, pid, &msg.StatsQuery{IDs: []string{"m"}})
			if err != nil {
				t.Fatalf("stats query: %v", err)
			}
			reply, ok := res.(*msg.StatsReply)
			if !ok {
				t.Fatalf("stats query answered %T", res)
			}
			if reply.Node != f.Nodes[owner].Name() || reply.MemberID != f.Nodes[owner].MemberID() ||
				len(reply.Models) != 1 || reply.Models[0].Usage != wantUsage || reply.Models[0].Errors != s.Errors {
				t.Errorf("stats reply %+v, want n%d's stats of m", reply, owner+1)
			}
		})
	}
}

func TestNotifyNewVersion(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			f := newFixture(t, n, newTable(descV1("m")), fixtureOpts{cfg: model.DefaultConfig()})
			x := []float64{1, 2, 3, 4}
			const uses = 7
			for range uses {
				res := mustPredict(t, f.Nodes[0], "m", positional("e", x...))
				checkResult(t, res.Results[0], "e", w1, b1, x)
			}
			mustPredict(t, f.Nodes[0], "m", positional("bad", 1))
			h := f.hosts[f.owner(t, "m")]

			f.table.put(linearDesc("m", 2, w2, b2))
			f.notifyAll("m")
			var s msg.ModelStats
			clustertest.Eventually(t, 5*time.Second, func() error {
				var err error
				if s, err = stats(h, "m"); err != nil {
					return err
				}
				if s.Version != 2 {
					return fmt.Errorf("version %d, want 2", s.Version)
				}
				return nil
			})
			if s.Usage != 0 || s.Errors != 0 || s.ErrorsBy != nil || s.LastError != "" || s.State != "active" {
				t.Errorf("v2 stats not reset: %+v", s)
			}
			p := s.Previous
			if p == nil || p.Version != 1 || p.Usage != uses || p.Errors != 1 || p.ErrorsBy[msg.CodeSchemaMismatch] != 1 || p.Previous != nil {
				t.Fatalf("previous = %+v, want v1 with usage %d and 1 error", p, uses)
			}
			if p.Since.After(s.Since) {
				t.Errorf("previous window since %v is after the new one's %v", p.Since, s.Since)
			}

			for _, caller := range f.Nodes {
				res := mustPredict(t, caller, "m", positional("e", x...))
				if res.Version != 2 {
					t.Errorf("answered by version %d, want 2", res.Version)
				}
				checkResult(t, res.Results[0], "e", w2, b2, x)
			}
			if s, _ = stats(h, "m"); s.Usage != int64(n) || s.Previous == nil || s.Previous.Usage != uses {
				t.Errorf("after two more predicts: usage %d previous %+v", s.Usage, s.Previous)
			}

			// Notify without a change keeps the window; a third version
			// keeps only v2 as previous.
			f.notifyAll("m")
			f.table.put(linearDesc("m", 3, w1, b1))
			f.notifyAll("m")
			clustertest.Eventually(t, 5*time.Second, func() error {
				s, err := stats(h, "m")
				if err != nil {
					return err
				}
				if s.Version != 3 || s.Previous == nil || s.Previous.Version != 2 || s.Previous.Usage != int64(n) || s.Previous.Previous != nil {
					return fmt.Errorf("version %d previous %+v, want 3 with v2 (usage %d) as previous", s.Version, s.Previous, n)
				}
				return nil
			})
		})
	}
}

func TestNotifyBadVersionKeepsServing(t *testing.T) {
	f := newFixture(t, 2, newTable(descV1("m")), fixtureOpts{cfg: model.DefaultConfig()})
	x := []float64{1, 2, 3, 4}
	mustPredict(t, f.Nodes[0], "m", positional("e", x...))
	h := f.hosts[f.owner(t, "m")]

	bad := linearDesc("m", 2, w2, b2)
	bad.Data = json.RawMessage(`{"coefficients":[[1,2,3]],"intercepts":[0],"link":"logistic"}`)
	f.table.put(bad)
	f.notifyAll("m")
	clustertest.Eventually(t, 5*time.Second, func() error {
		s, err := stats(h, "m")
		if err != nil {
			return err
		}
		if s.LastError == "" {
			return errors.New("no last_error yet")
		}
		return nil
	})
	s, _ := stats(h, "m")
	if s.Version != 1 || s.State != "active" || s.Usage != 1 || !strings.Contains(s.LastError, "version 2") {
		t.Errorf("after a bad v2: version %d state %q usage %d last error %q; want v1 active, usage 1, an error naming version 2",
			s.Version, s.State, s.Usage, s.LastError)
	}
	res := mustPredict(t, f.Nodes[1], "m", positional("e", x...))
	if res.Version != 1 {
		t.Errorf("answered by version %d, want 1 (v2 does not load)", res.Version)
	}
	checkResult(t, res.Results[0], "e", w1, b1, x)
}

func TestModelFailed(t *testing.T) {
	bad := descV1("broken")
	bad.Data = json.RawMessage(`{"coefficients":[[1,2]],"link":"logistic"}`)
	f := newFixture(t, 2, newTable(bad), fixtureOpts{cfg: model.DefaultConfig()})
	for _, caller := range f.Nodes {
		_, err := predict(t, caller, "broken", positional("a", 1, 2, 3, 4), positional("b", 1, 2, 3, 4))
		if code := wireCode(err); code != msg.CodeModelFailed || !strings.Contains(err.Error(), `"broken"`) {
			t.Errorf("predict on a model that cannot load: %v (code %q), want code %q naming the model", err, code, msg.CodeModelFailed)
		}
	}
	s, err := stats(f.hosts[f.owner(t, "broken")], "broken")
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "failed" || s.Version != 1 || s.Usage != 0 || s.Errors != 4 || s.ErrorsBy[msg.CodeModelFailed] != 4 || s.LastError == "" {
		t.Errorf("stats of a model that cannot load: %+v", s)
	}

	// A fixed version loads on the next notify.
	f.table.put(linearDesc("broken", 2, w1, b1))
	f.notifyAll("broken")
	res := mustPredict(t, f.Nodes[0], "broken", positional("a", 1, 2, 3, 4))
	if res.Version != 2 {
		t.Errorf("answered by version %d after the fix, want 2", res.Version)
	}
	checkResult(t, res.Results[0], "a", w1, b1, []float64{1, 2, 3, 4})
}

func TestNotifyDelete(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			f := newFixture(t, n, newTable(descV1("m"), descV1("keep")), fixtureOpts{cfg: model.DefaultConfig()})
			for _, caller := range f.Nodes {
				mustPredict(t, caller, "m", positional("e", 1, 2, 3, 4))
				mustPredict(t, caller, "keep", positional("e", 1, 2, 3, 4))
			}
			if got := f.activeTotal(); got != 2 {
				t.Fatalf("%d active, want 2", got)
			}
			f.table.del("m")
			f.notifyAll("m")
			h := f.hosts[f.owner(t, "m")]
			clustertest.Eventually(t, 5*time.Second, func() error {
				if s := h.Stats("m"); len(s) != 0 {
					return fmt.Errorf("m still active: %+v", s[0])
				}
				if got := f.activeTotal(); got != 1 {
					return fmt.Errorf("%d active, want 1 (keep)", got)
				}
				return nil
			})
			for _, caller := range f.Nodes {
				_, err := predict(t, caller, "m", positional("e", 1, 2, 3, 4))
				if code := wireCode(err); code != msg.CodeUnknownModel {
					t.Errorf("predict on a deleted model: %v (code %q), want %q", err, code, msg.CodeUnknownModel)
				}
			}
			mustPredict(t, f.Nodes[0], "keep", positional("e", 1, 2, 3, 4))
		})
	}
}

func TestUnknownModel(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			f := newFixture(t, n, newTable(descV1("m")), fixtureOpts{cfg: model.DefaultConfig()})
			for _, caller := range f.Nodes {
				res, err := predict(t, caller, "nope", positional("e", 1, 2, 3, 4))
				var we *wire.Error
				if !errors.As(err, &we) || we.Code != msg.CodeUnknownModel || !strings.Contains(we.Message, `"nope"`) {
					t.Fatalf("predict on an unknown model: %v, %v; want a *wire.Error with code %q naming the model", res, err, msg.CodeUnknownModel)
				}
			}
			// The actor stops itself: unknown ids leave nothing behind.
			clustertest.Eventually(t, 5*time.Second, func() error {
				if got := f.activeTotal(); got != 0 {
					return fmt.Errorf("%d active, want 0", got)
				}
				return nil
			})
			// Deploying it later serves it.
			f.table.put(descV1("nope"))
			res := mustPredict(t, f.Nodes[0], "nope", positional("e", 1, 2, 3, 4))
			checkResult(t, res.Results[0], "e", w1, b1, []float64{1, 2, 3, 4})
		})
	}
}

func TestIdlePassivation(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			cfg := model.Config{IdleTimeout: 200 * time.Millisecond}
			f := newFixture(t, n, newTable(descV1("m"), descV1("other")), fixtureOpts{cfg: cfg})
			for _, caller := range f.Nodes {
				mustPredict(t, caller, "m", positional("e", 1, 2, 3, 4))
				mustPredict(t, caller, "other", positional("e", 1, 2, 3, 4))
			}
			if got := f.activeTotal(); got != 2 {
				t.Fatalf("%d active, want 2", got)
			}
			clustertest.Eventually(t, 5*time.Second, func() error {
				if got := f.activeTotal(); got != 0 {
					return fmt.Errorf("%d active after the idle timeout, want 0", got)
				}
				return nil
			})
			// The next event re-activates it with fresh stats.
			res := mustPredict(t, f.Nodes[n-1], "m", positional("e", 1, 2, 3, 4))
			checkResult(t, res.Results[0], "e", w1, b1, []float64{1, 2, 3, 4})
			s, err := stats(f.hosts[f.owner(t, "m")], "m")
			if err != nil {
				t.Fatal(err)
			}
			if s.Usage != 1 {
				t.Errorf("usage %d after re-activation, want 1", s.Usage)
			}
		})
	}
}

// slowModel blocks in PredictBatch until release is closed.
type slowModel struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (m *slowModel) NumFeatures() int { return 4 }
func (m *slowModel) Predict(x []float64) (serving.Prediction, error) {
	v := x[0]
	return serving.Prediction{Value: &v}, nil
}

func (m *slowModel) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	m.once.Do(func() { close(m.entered) })
	<-m.release
	for i, x := range xs {
		out[i], errs[i] = m.Predict(x)
	}
	return nil
}

func TestStatsWhileBusy(t *testing.T) {
	slow := &slowModel{entered: make(chan struct{}), release: make(chan struct{})}
	d := &serving.Descriptor{ID: "slow", Version: 1, Format: "slow", Features: featureNames, Data: json.RawMessage(`{}`)}
	f := newFixture(t, 2, newTable(d), fixtureOpts{
		cfg: model.DefaultConfig(),
		formats: func(reg *serving.Registry) {
			reg.Register("slow", func(*serving.Descriptor) (serving.Model, error) { return slow, nil })
		},
	})
	defer func() {
		select {
		case <-slow.release:
		default:
			close(slow.release)
		}
	}()
	done := make(chan error, 1)
	go func() {
		_, err := predict(t, f.Nodes[0], "slow", positional("e", 1, 2, 3, 4))
		done <- err
	}()
	select {
	case <-slow.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow model was never called")
	}
	h := f.hosts[f.owner(t, "slow")]
	got := make(chan []msg.ModelStats, 1)
	go func() { got <- h.Stats() }()
	select {
	case s := <-got:
		if len(s) != 1 || s[0].ID != "slow" || s[0].State != "active" || s[0].Usage != 0 {
			t.Errorf("stats of the busy model: %+v", s)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Host.Stats blocked while the model actor was busy")
	}
	// The node actor answers as well (it does not ask the model actor).
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	pid := actor.NewPID(f.Nodes[f.owner(t, "slow")].RemoteAddr(), model.NodeActorName)
	if _, err := f.Nodes[1].RequestPID(ctx, pid, &msg.StatsQuery{}); err != nil {
		t.Errorf("stats query while the model is busy: %v", err)
	}
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatalf("predict on the slow model: %v", err)
	}
	if s, _ := stats(h, "slow"); s.Usage != 1 {
		t.Errorf("usage %d after the slow call finished, want 1", s.Usage)
	}
}

// TestMaxActivePassivatesLeastRecentlyUsed: a node never holds more than
// MaxActive model actors; activating one more stops the least recently
// used.
func TestMaxActivePassivatesLeastRecentlyUsed(t *testing.T) {
	descs := newTable()
	cfg := model.DefaultConfig()
	cfg.MaxActive = 3
	f := newFixture(t, 1, descs, fixtureOpts{cfg: cfg})
	host := f.hosts[0]
	client := model.NewClient(f.Nodes[0])
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("lru-%d", i)
		descs.put(descV1(id))
		if _, err := client.Predict(t.Context(), id, []msg.Event{{Features: serving.Features{Values: []float64{1, 2, 3, 4}}}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct last-use times
	}
	clustertest.Eventually(t, 5*time.Second, func() error {
		if n := host.Active(); n != 3 {
			return fmt.Errorf("%d active, want 3", n)
		}
		return nil
	})
	active := map[string]bool{}
	for _, s := range host.Stats() {
		active[s.ID] = true
	}
	if !active["lru-4"] || !active["lru-3"] || !active["lru-2"] || active["lru-0"] {
		t.Fatalf("active %v: the least recently used should have gone", active)
	}
}

// panicky is a model that panics on a negative first feature.
type panicky struct{}

func (panicky) NumFeatures() int { return 4 }
func (panicky) Predict(x []float64) (serving.Prediction, error) {
	if x[0] < 0 {
		panic("boom")
	}
	v := x[0]
	return serving.Prediction{Value: &v}, nil
}
func (p panicky) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	for i, x := range xs {
		out[i], errs[i] = p.Predict(x)
	}
	return nil
}

// TestPanickingModelIsAModelError: a model that panics answers a
// model_error for the batch and keeps serving.
func TestPanickingModelIsAModelError(t *testing.T) {
	d := &serving.Descriptor{ID: "p", Version: 1, Format: "panicky", Features: featureNames}
	f := newFixture(t, 1, newTable(d), fixtureOpts{cfg: model.DefaultConfig(), formats: func(reg *serving.Registry) {
		reg.Register("panicky", func(*serving.Descriptor) (serving.Model, error) { return panicky{}, nil })
	}})
	client := model.NewClient(f.Nodes[0])
	res, err := client.Predict(t.Context(), "p", []msg.Event{{Features: serving.Features{Values: []float64{-1, 0, 0, 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Results[0].Code != msg.CodeModelError || !strings.Contains(res.Results[0].Error, "panicked") {
		t.Fatalf("result %+v", res.Results[0])
	}
	res, err = client.Predict(t.Context(), "p", []msg.Event{{Features: serving.Features{Values: []float64{2, 0, 0, 0}}}})
	if err != nil || res.Results[0].Prediction.Value == nil || *res.Results[0].Prediction.Value != 2 {
		t.Fatalf("after the panic: %+v %v", res, err)
	}
}

// TestOverloadIsShedNotQueued: a model actor's mailbox holds at most
// MaxMailbox requests from its node (more are answered "overloaded" at
// once), and a request that waited past its deadline is answered
// "overloaded" without running the model: a busy model does no work
// nobody waits for.
func TestOverloadIsShedNotQueued(t *testing.T) {
	slow := &slowModel{entered: make(chan struct{}), release: make(chan struct{})}
	var runs atomic.Int64
	d := &serving.Descriptor{ID: "slow", Version: 1, Format: "slow", Features: featureNames, Data: json.RawMessage(`{}`)}
	cfg := model.DefaultConfig()
	cfg.MaxMailbox = 3
	f := newFixture(t, 1, newTable(d), fixtureOpts{
		cfg: cfg,
		formats: func(reg *serving.Registry) {
			reg.Register("slow", func(*serving.Descriptor) (serving.Model, error) { return countingModel{slow, &runs}, nil })
		},
	})
	var once sync.Once
	release := func() { once.Do(func() { close(slow.release) }) }
	defer release()
	h := f.hosts[0]
	client := h.Client(f.Nodes[0])
	call := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		_, err := client.Predict(ctx, "slow", []msg.Event{positional("e", 1, 2, 3, 4)})
		return err
	}

	first := make(chan error, 1)
	go func() { first <- call(10 * time.Second) }()
	<-slow.entered // the model is busy with the first request

	// Three requests with 300 ms deadlines wait in the mailbox; the rest
	// are refused at once, without queueing.
	queued := make(chan error, 3)
	for range 3 {
		go func() { queued <- call(300 * time.Millisecond) }()
	}
	var s msg.ModelStats
	deadline := time.Now().Add(5 * time.Second)
	for s.Mailbox < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		s, _ = stats(h, "slow")
	}
	if s.Mailbox != 3 {
		t.Fatalf("mailbox %d, want the 3 waiting requests", s.Mailbox)
	}
	for i := range 5 {
		if err := call(10 * time.Second); wireCode(err) != msg.CodeOverloaded {
			t.Errorf("request %d beyond a full mailbox: %v, want code %q", i, err, msg.CodeOverloaded)
		}
	}
	// The queued requests' deadlines pass while the model is still busy;
	// their callers give up.
	for range 3 {
		if err := <-queued; !errors.Is(err, cluster.ErrTimeout) {
			t.Errorf("a request queued past its deadline: %v, want a timeout", err)
		}
	}
	release()
	if err := <-first; err != nil {
		t.Fatalf("the first request: %v", err)
	}
	// The actor then reaches the three expired requests and sheds them
	// unrun: the model ran once in all.
	deadline = time.Now().Add(5 * time.Second)
	for s.Mailbox > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		s, _ = stats(h, "slow")
	}
	if r := runs.Load(); r != 1 {
		t.Errorf("the model ran %d times, want 1 (expired requests must not run)", r)
	}
	if s, _ = stats(h, "slow"); s.Shed != 8 || s.Usage != 1 || s.Errors != 0 {
		t.Errorf("stats: shed %d usage %d errors %d, want 8 shed (5 refused, 3 expired), usage 1, no errors", s.Shed, s.Usage, s.Errors)
	}
	// With the model free again, a request is served.
	if err := call(10 * time.Second); err != nil {
		t.Errorf("a request after the overload: %v", err)
	}
}

// countingModel counts the batches a model runs.
type countingModel struct {
	serving.Model
	runs *atomic.Int64
}

func (m countingModel) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	m.runs.Add(1)
	return m.Model.PredictBatch(xs, out, errs)
}
