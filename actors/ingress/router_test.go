package ingress

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// mapTable is an in-memory descriptor table for router tests.
type mapTable struct {
	mu   sync.RWMutex
	rows map[string]*serving.Descriptor
}

func newMapTable() *mapTable { return &mapTable{rows: map[string]*serving.Descriptor{}} }

func (t *mapTable) put(d *serving.Descriptor) {
	t.mu.Lock()
	t.rows[d.ID] = d
	t.mu.Unlock()
}

func (t *mapTable) del(id string) {
	t.mu.Lock()
	delete(t.rows, id)
	t.mu.Unlock()
}

func (t *mapTable) Get(id string) (*serving.Descriptor, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d, ok := t.rows[id]
	return d, ok
}

func (t *mapTable) List() []*serving.Descriptor {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*serving.Descriptor, 0, len(t.rows))
	for _, id := range slices.Sorted(maps.Keys(t.rows)) {
		out = append(out, t.rows[id])
	}
	return out
}

func (t *mapTable) Sync(context.Context) error { return nil }

// BenchmarkTableChanged is the router's cost of one descriptor change
// (a deploy) followed by one routed event, with n models already deployed
// (one in ten bound to a type): it must not grow with n.
func BenchmarkTableChanged(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("models=%d", n), func(b *testing.B) {
			tab := newMapTable()
			for i := range n {
				d := &serving.Descriptor{ID: fmt.Sprintf("m%07d", i)}
				if i%10 == 0 {
					d.DataTypes = []string{fmt.Sprintf("type%d", i%100)}
				}
				tab.put(d)
			}
			r := newRouter(tab)
			ev := &inEvent{Type: "type0"}
			r.targets("in", nil, ev)
			b.ResetTimer()
			for i := range b.N {
				id := fmt.Sprintf("new%09d", i)
				tab.put(&serving.Descriptor{ID: id, DataTypes: []string{"other"}})
				r.invalidate(id)
				if ids, _ := r.targets("in", nil, ev); len(ids) != n/100 {
					b.Fatalf("type0 routes to %d models, want %d", len(ids), n/100)
				}
			}
		})
	}
}

// TestRouterFollowsChanges updates the index one model at a time and
// checks it against a rebuild from the table after every step.
func TestRouterFollowsChanges(t *testing.T) {
	tab := newMapTable()
	tab.put(&serving.Descriptor{ID: "b", DataTypes: []string{"iris"}, Topics: []string{"t1"}})
	tab.put(&serving.Descriptor{ID: "a", DataTypes: []string{"iris"}})
	r := newRouter(tab)
	type want struct {
		iris, wine, t1, t2 []string
		added              []string
	}
	steps := []struct {
		name   string
		change func() string
		want   want
	}{
		{"start", func() string { return "none" }, want{iris: []string{"a", "b"}, t1: []string{"b"}}},
		{"new model on a new topic", func() string {
			tab.put(&serving.Descriptor{ID: "c", DataTypes: []string{"wine"}, Topics: []string{"t2"}})
			return "c"
		}, want{iris: []string{"a", "b"}, wine: []string{"c"}, t1: []string{"b"}, t2: []string{"c"}, added: []string{"t2"}}},
		{"model changes type and topic", func() string {
			tab.put(&serving.Descriptor{ID: "b", DataTypes: []string{"wine"}, Topics: []string{"t2"}})
			return "b"
		}, want{iris: []string{"a"}, wine: []string{"b", "c"}, t2: []string{"b", "c"}}},
		{"model deleted", func() string { tab.del("c"); return "c" }, want{iris: []string{"a"}, wine: []string{"b"}, t2: []string{"b"}}},
		{"model loses its bindings", func() string {
			tab.put(&serving.Descriptor{ID: "a"})
			return "a"
		}, want{wine: []string{"b"}, t2: []string{"b"}}},
		{"topic bound again", func() string {
			tab.put(&serving.Descriptor{ID: "a", Topics: []string{"t1"}})
			return "a"
		}, want{wine: []string{"b"}, t1: []string{"a"}, t2: []string{"b"}, added: []string{"t1"}}},
	}
	for _, st := range steps {
		// Read before the change, so the change is incremental.
		r.targets("t1", nil, &inEvent{Type: "iris"})
		added := r.invalidate(st.change())
		if !slices.Equal(added, st.want.added) {
			t.Errorf("%s: added topics %v, want %v", st.name, added, st.want.added)
		}
		fresh := newRouter(tab)
		for _, rt := range []*router{r, fresh} {
			kind := "incremental"
			if rt == fresh {
				kind = "rebuilt"
			}
			for _, c := range []struct {
				typ, topic string
				want       []string
			}{{"iris", "", st.want.iris}, {"wine", "", st.want.wine}, {"", "t1", st.want.t1}, {"", "t2", st.want.t2}} {
				got, _ := rt.targets(c.topic, nil, &inEvent{Type: c.typ})
				if !slices.Equal(got, c.want) {
					t.Errorf("%s (%s): type %q topic %q routes to %v, want %v", st.name, kind, c.typ, c.topic, got, c.want)
				}
			}
		}
		var topics []string
		for _, tp := range []string{"t1", "t2"} {
			if len(map[string][]string{"t1": st.want.t1, "t2": st.want.t2}[tp]) > 0 {
				topics = append(topics, tp)
			}
		}
		if got := r.topics(); !slices.Equal(got, topics) {
			t.Errorf("%s: topics %v, want %v", st.name, got, topics)
		}
	}
}
