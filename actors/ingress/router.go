package ingress

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/output"
)

// Table is the node's descriptor table.
type Table interface {
	Get(id string) (*serving.Descriptor, bool)
	List() []*serving.Descriptor
	// Sync catches the table up with the control topic (read-your-writes
	// for models deployed through another node a moment ago).
	Sync(ctx context.Context) error
}

// idSet is the models one data type or topic routes to. Its sorted list
// is built on the first read after a change to this set only, so a
// deploy costs O(1) here however many models are deployed.
type idSet struct {
	ids    map[string]struct{}
	sorted atomic.Pointer[[]string] // nil when stale
}

// binding is what one model is indexed under.
type binding struct {
	types, topics []string
}

// router keeps the routing index (updated per changed model, never
// rebuilt per change) and the compiled output programs.
type router struct {
	table Table

	mu      sync.RWMutex
	built   bool // false: the next read rebuilds the index from the table
	byType  map[string]*idSet
	byTopic map[string]*idSet
	bound   map[string]binding // by model id; only models with types or topics

	progMu sync.Mutex
	progs  map[string]compiled // by model id
}

type compiled struct {
	version int64
	prog    *output.Program
	err     error
}

func newRouter(t Table) *router {
	return &router{table: t, progs: map[string]compiled{}}
}

// invalidate updates the index for model id after a table change; an
// empty id rebuilds the whole index on the next read (after the table
// caught up with changes that were not announced one by one). It returns
// the topics id is now bound to that no model was bound to before.
func (r *router) invalidate(id string) (added []string) {
	r.progMu.Lock()
	delete(r.progs, id)
	r.progMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == "" {
		r.built = false
		return nil
	}
	if !r.built {
		return nil // the rebuild reads the table as it is then
	}
	var b binding
	if d, ok := r.table.Get(id); ok {
		b = binding{types: d.DataTypes, topics: d.Topics}
	}
	old := r.bound[id]
	for _, t := range old.types {
		unindex(r.byType, t, id)
	}
	for _, t := range old.topics {
		unindex(r.byTopic, t, id)
	}
	if len(b.types) == 0 && len(b.topics) == 0 {
		delete(r.bound, id)
		return nil
	}
	r.bound[id] = b
	for _, t := range b.types {
		index(r.byType, t, id)
	}
	for _, t := range b.topics {
		if index(r.byTopic, t, id) {
			added = append(added, t)
		}
	}
	return added
}

// index adds id to key's set (r.mu held) and reports whether the set is new.
func index(m map[string]*idSet, key, id string) bool {
	s, ok := m[key]
	if !ok {
		s = &idSet{ids: map[string]struct{}{}}
		m[key] = s
	}
	s.ids[id] = struct{}{}
	s.sorted.Store(nil)
	return !ok
}

// unindex removes id from key's set (r.mu held).
func unindex(m map[string]*idSet, key, id string) {
	s, ok := m[key]
	if !ok {
		return
	}
	delete(s.ids, id)
	s.sorted.Store(nil)
	if len(s.ids) == 0 {
		delete(m, key)
	}
}

// rebuild indexes the whole table (r.mu held): once at the start, and
// after invalidate("").
func (r *router) rebuild() {
	r.byType, r.byTopic, r.bound = map[string]*idSet{}, map[string]*idSet{}, map[string]binding{}
	for _, d := range r.table.List() {
		if len(d.DataTypes) == 0 && len(d.Topics) == 0 {
			continue
		}
		r.bound[d.ID] = binding{types: d.DataTypes, topics: d.Topics}
		for _, t := range d.DataTypes {
			index(r.byType, t, d.ID)
		}
		for _, t := range d.Topics {
			index(r.byTopic, t, d.ID)
		}
	}
	r.built = true
}

// read runs fn with the index built, under the read lock.
func (r *router) read(fn func()) {
	r.mu.RLock()
	if !r.built {
		r.mu.RUnlock()
		r.mu.Lock()
		if !r.built {
			r.rebuild()
		}
		r.mu.Unlock()
		r.mu.RLock()
	}
	defer r.mu.RUnlock()
	fn()
}

// lookup returns the sorted ids of key's set; callers must not modify it.
func lookup(m map[string]*idSet, key string) []string {
	s, ok := m[key]
	if !ok {
		return nil
	}
	if p := s.sorted.Load(); p != nil {
		return *p
	}
	ids := slices.Sorted(maps.Keys(s.ids))
	s.sorted.Store(&ids)
	return ids
}

// topics returns every topic some descriptor binds to.
func (r *router) topics() []string {
	var out []string
	r.read(func() { out = slices.Sorted(maps.Keys(r.byTopic)) })
	return out
}

// targets picks the models an event goes to: the record key when it names
// a deployed model; else the event's "model"; else every model listing its
// "type"; else every model bound to the topic. A key, model or type that
// names nothing deployed yields the name for the dead letter. The returned
// slice is shared: callers must not modify it.
func (r *router) targets(topic string, key []byte, ev *inEvent) (ids []string, unknown string) {
	if len(key) > 0 {
		if _, ok := r.table.Get(string(key)); ok {
			return []string{string(key)}, ""
		}
	}
	if ev.Model != "" {
		if _, ok := r.table.Get(ev.Model); ok {
			return []string{ev.Model}, ""
		}
		return nil, ev.Model
	}
	if ev.Type != "" {
		r.read(func() { ids = lookup(r.byType, ev.Type) })
		if len(ids) > 0 {
			return ids, ""
		}
		return nil, "type " + ev.Type
	}
	r.read(func() { ids = lookup(r.byTopic, topic) })
	if len(ids) > 0 {
		return ids, ""
	}
	if len(key) > 0 {
		return nil, string(key)
	}
	return nil, ""
}

// program returns the compiled output block of model id at its current
// version.
func (r *router) program(id string, version int64) (*output.Program, error) {
	r.progMu.Lock()
	c, ok := r.progs[id]
	r.progMu.Unlock()
	if ok && c.version == version {
		return c.prog, c.err
	}
	d, found := r.table.Get(id)
	if !found {
		return nil, nil
	}
	p, err := output.Compile(d.Output)
	r.progMu.Lock()
	r.progs[id] = compiled{version: d.Version, prog: p, err: err}
	r.progMu.Unlock()
	return p, err
}
