package ingress

import (
	"context"
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

// routes is an immutable index of the descriptor table for routing.
type routes struct {
	byType  map[string][]string
	byTopic map[string][]string
}

// router keeps the routing index and the compiled output programs,
// rebuilt lazily after the table changes.
type router struct {
	table Table
	dirty atomic.Bool
	cur   atomic.Pointer[routes]
	mu    sync.Mutex

	progMu sync.Mutex
	progs  map[string]compiled // by model id
}

type compiled struct {
	version int64
	prog    *output.Program
	err     error
}

func newRouter(t Table) *router {
	r := &router{table: t, progs: map[string]compiled{}}
	r.dirty.Store(true)
	return r
}

// invalidate marks the index stale (called on every table change).
func (r *router) invalidate(id string) {
	r.dirty.Store(true)
	r.progMu.Lock()
	delete(r.progs, id)
	r.progMu.Unlock()
}

func (r *router) routes() *routes {
	if !r.dirty.Load() {
		return r.cur.Load()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dirty.Load() {
		return r.cur.Load()
	}
	r.dirty.Store(false)
	rt := &routes{byType: map[string][]string{}, byTopic: map[string][]string{}}
	for _, d := range r.table.List() {
		for _, t := range d.DataTypes {
			rt.byType[t] = append(rt.byType[t], d.ID)
		}
		for _, t := range d.Topics {
			rt.byTopic[t] = append(rt.byTopic[t], d.ID)
		}
	}
	r.cur.Store(rt)
	return rt
}

// topics returns every topic some descriptor binds to.
func (r *router) topics() []string {
	rt := r.routes()
	out := make([]string, 0, len(rt.byTopic))
	for t := range rt.byTopic {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// targets picks the models an event goes to: the record key when it names
// a deployed model; else the event's "model"; else every model listing its
// "type"; else every model bound to the topic. A key, model or type that
// names nothing deployed yields the name for the dead letter.
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
	rt := r.routes()
	if ev.Type != "" {
		if ids := rt.byType[ev.Type]; len(ids) > 0 {
			return ids, ""
		}
		return nil, "type " + ev.Type
	}
	if ids := rt.byTopic[topic]; len(ids) > 0 {
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
