package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
)

// ActivatorName is the well-known name of the actor that activates grains
// on each node.
const ActivatorName = "actorserve-activator"

// ErrRefused means the member asked to activate an identity refused: it
// does not own the identity in its view of the cluster (views disagree for
// a moment after a membership change), or does not host the kind.
var ErrRefused = errors.New("cluster: activation refused")

// ErrNoMember means no member hosts the requested kind (yet).
var ErrNoMember = errors.New("cluster: no member hosts this kind")

// ring is an immutable rendezvous-hashing view of the members.
type ring struct {
	byKind map[string][]ringMember
	// place maps an identity to its placement slot (and the member tag
	// that must host it); nil places every identity by itself.
	place PlacementFunc

	slotsMu sync.Mutex
	slots   map[slotsKey][]string // owners of every slot of a group, computed once per ring
}

type slotsKey struct {
	tag, group string
	count      int32
}

type ringMember struct {
	addr string
	hash uint64 // FNV-1a of the address
}

func newRing(members []*pcluster.Member, place PlacementFunc) *ring {
	r := &ring{byKind: map[string][]ringMember{}, place: place, slots: map[slotsKey][]string{}}
	for _, m := range members {
		rm := newRingMember(m.Address())
		for _, k := range m.Kinds {
			r.byKind[k] = append(r.byKind[k], rm)
		}
	}
	return r
}

func newRingMember(addr string) ringMember {
	return ringMember{addr: addr, hash: fnv64(addr)}
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix is the splitmix64 finalizer: keys and addresses that differ in one
// character get unrelated scores.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// score is member m's rendezvous score for a key hash.
func (m ringMember) score(keyHash uint64) uint64 { return mix(m.hash ^ keyHash) }

func highest(ms []ringMember, key string) string {
	kh := mix(fnv64(key))
	var best string
	var bestScore uint64
	for _, m := range ms {
		h := m.score(kh)
		if best == "" || h > bestScore || (h == bestScore && m.addr > best) {
			best, bestScore = m.addr, h
		}
	}
	return best
}

// AssignSlots assigns slots 0..count-1 of group to the members at addrs:
// each slot goes to the member with the highest rendezvous score for
// "group/slot" that has fewer than ceil(count/len(addrs)) slots yet. It is
// a pure function of its inputs, balanced, and moves few slots when a
// member joins or leaves. The identity lookup places slot-placed grains
// with it, and actorserve's Kafka group balancer assigns partitions with
// it, so both agree by construction.
func AssignSlots(addrs []string, group string, count int32) []string {
	ms := make([]ringMember, len(addrs))
	for i, a := range addrs {
		ms[i] = newRingMember(a)
	}
	return assignSlots(ms, group, count)
}

func assignSlots(ms []ringMember, group string, count int32) []string {
	owners := make([]string, count)
	if len(ms) == 0 || count <= 0 {
		return owners
	}
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b ringMember) int { return strings.Compare(a.addr, b.addr) })
	ms = slices.CompactFunc(ms, func(a, b ringMember) bool { return a.addr == b.addr })
	capacity := (int(count) + len(ms) - 1) / len(ms)
	load := make([]int, len(ms))
	for slot := range count {
		kh := mix(fnv64(group + "/" + strconv.Itoa(int(slot))))
		best := -1
		var bestScore uint64
		for i, m := range ms {
			if load[i] >= capacity {
				continue
			}
			if h := m.score(kh); best < 0 || h > bestScore {
				best, bestScore = i, h
			}
		}
		load[best]++
		owners[slot] = ms[best].addr
	}
	return owners
}

// owner picks the member that hosts identity: a pure function of the
// member set (and the placement function), so every node with the same
// view agrees. With a placement function the identity is placed by its
// slot, over the members carrying the placement's tag when any do.
func (r *ring) owner(kind, identity string) string {
	ms := r.byKind[kind]
	if r.place != nil {
		if sl, tag, ok := r.place(kind, identity); ok && sl.Count > 0 && sl.Index >= 0 && sl.Index < sl.Count {
			if tagged := r.byKind[tag]; tag != "" && len(tagged) > 0 {
				ms = r.intersect(ms, tagged)
			}
			return r.slotOwners(ms, tag, sl)[sl.Index]
		}
	}
	return highest(ms, identity)
}

func (r *ring) slotOwners(ms []ringMember, tag string, sl Slot) []string {
	k := slotsKey{tag: tag, group: sl.Group, count: sl.Count}
	r.slotsMu.Lock()
	defer r.slotsMu.Unlock()
	owners, ok := r.slots[k]
	if !ok {
		owners = assignSlots(ms, sl.Group, sl.Count)
		r.slots[k] = owners
	}
	return owners
}

// intersect keeps the members of ms that are also in tagged (both are
// short: one entry per node).
func (r *ring) intersect(ms, tagged []ringMember) []ringMember {
	out := make([]ringMember, 0, len(tagged))
	for _, t := range tagged {
		for _, m := range ms {
			if m.addr == t.addr {
				out = append(out, m)
				break
			}
		}
	}
	if len(out) == 0 {
		return ms
	}
	return out
}

// Slot is a placement slot: slot Index of Count slots of Group (for
// actorserve, partition Index of the Count partitions of an input topic).
type Slot struct {
	Group        string
	Index, Count int32
}

// PlacementFunc maps a grain identity to the slot it is placed by, and the
// member tag (see Options.Tags) whose members may host it. ok false places
// the identity by itself over every member hosting the kind.
type PlacementFunc func(kind, identity string) (slot Slot, tag string, ok bool)

// lookup is our protoactor IdentityLookup: rendezvous placement like the
// stock disthash lookup, but the ring is an atomic snapshot never locked
// across I/O, activation honours the caller's deadline, and in-flight calls
// to a member that left are cut short so they retry at once.
type lookup struct {
	node      *Node
	c         *pcluster.Cluster
	ring      atomic.Pointer[ring]
	activator *actor.PID
	sub       *eventstream.Subscription
	timeout   time.Duration
	logger    *slog.Logger
	topoCh    chan struct{} // closed and replaced on every topology change
	topoMu    sync.Mutex
	place     PlacementFunc
	cache     pidCache
}

func newLookup(n *Node, timeout time.Duration, place PlacementFunc, logger *slog.Logger) *lookup {
	l := &lookup{node: n, timeout: timeout, place: place, logger: logger, topoCh: make(chan struct{})}
	l.ring.Store(newRing(nil, place))
	return l
}

// maxCachedPIDs bounds the PID cache; past it the cache starts over.
const maxCachedPIDs = 100_000

// pidCache remembers where each identity is activated. Unlike protoactor's
// cache, entries are dropped on every topology change whose new owner is
// another member, not only when their member leaves: a call never goes to
// an activation its node no longer owns.
type pidCache struct {
	mu sync.RWMutex
	m  map[ciKey]*actor.PID
}

type ciKey struct{ kind, identity string }

func (c *pidCache) get(kind, identity string) (*actor.PID, bool) {
	c.mu.RLock()
	pid, ok := c.m[ciKey{kind, identity}]
	c.mu.RUnlock()
	return pid, ok
}

func (c *pidCache) set(kind, identity string, pid *actor.PID) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedPIDs {
		c.m = map[ciKey]*actor.PID{}
	}
	c.m[ciKey{kind, identity}] = pid
	c.mu.Unlock()
}

// remove drops the entry if it still points at pid.
func (c *pidCache) remove(kind, identity string, pid *actor.PID) {
	c.mu.Lock()
	if cur, ok := c.m[ciKey{kind, identity}]; ok && (pid == nil || cur.Equal(pid)) {
		delete(c.m, ciKey{kind, identity})
	}
	c.mu.Unlock()
}

// retainOwned drops every entry whose activation is not on its owner in r.
func (c *pidCache) retainOwned(r *ring) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, pid := range c.m {
		if r.owner(k.kind, k.identity) != pid.Address {
			delete(c.m, k)
			n++
		}
	}
	return n
}

// Setup implements pcluster.IdentityLookup.
func (l *lookup) Setup(c *pcluster.Cluster, _ []string, _ bool) {
	l.c = c
	props := actor.PropsFromProducer(func() actor.Actor {
		return &activator{lookup: l, c: c, actors: map[string]activation{}}
	})
	pid, err := c.ActorSystem.Root.SpawnNamed(props, ActivatorName)
	if err != nil {
		l.logger.Error("spawn activator", "err", err)
	}
	l.activator = pid
	l.sub = c.ActorSystem.EventStream.Subscribe(func(ev any) {
		switch e := ev.(type) {
		case *pcluster.ClusterTopology:
			l.onTopology(e)
		case *pcluster.ActivationTerminating:
			c.ActorSystem.Root.Send(pid, e)
		}
	})
}

func (l *lookup) onTopology(t *pcluster.ClusterTopology) {
	r := newRing(t.Members, l.place)
	l.ring.Store(r)
	for _, m := range t.Left {
		l.node.inflight.abort(l.c.ActorSystem, m.Address())
		l.c.PidCache.RemoveByMember(m)
	}
	l.cache.retainOwned(r)
	l.c.ActorSystem.Root.Send(l.activator, t)
	l.topoMu.Lock()
	close(l.topoCh)
	l.topoCh = make(chan struct{})
	l.topoMu.Unlock()
	l.logger.Info("topology", "members", len(t.Members), "joined", len(t.Joined), "left", len(t.Left))
}

// Get implements pcluster.IdentityLookup for protoactor's own callers.
func (l *lookup) Get(ci *pcluster.ClusterIdentity) *actor.PID {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	pid, _ := l.resolve(ctx, ci)
	return pid
}

// resolve asks the owner's activator for the identity's PID, once.
func (l *lookup) resolve(ctx context.Context, ci *pcluster.ClusterIdentity) (*actor.PID, error) {
	owner := l.ring.Load().owner(ci.Kind, ci.Identity)
	if owner == "" {
		return nil, fmt.Errorf("%w %q", ErrNoMember, ci.Kind)
	}
	timeout := l.timeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}
	sys := l.c.ActorSystem
	f := sys.Root.RequestFuture(actor.NewPID(owner, ActivatorName), &pcluster.ActivationRequest{ClusterIdentity: ci}, timeout)
	track := owner != sys.Address()
	if track {
		l.node.inflight.add(owner, f.PID())
		defer l.node.inflight.remove(owner, f.PID())
	}
	res, err := f.Result()
	if err != nil {
		return nil, fmt.Errorf("activate %s/%s on %s: %w", ci.Kind, ci.Identity, owner, err)
	}
	r, ok := res.(*pcluster.ActivationResponse)
	if !ok {
		return nil, fmt.Errorf("activate %s/%s on %s: %w", ci.Kind, ci.Identity, owner, errMemberLeft)
	}
	if r.Failed || r.Pid == nil {
		return nil, fmt.Errorf("activate %s/%s on %s: %w", ci.Kind, ci.Identity, owner, ErrRefused)
	}
	return r.Pid, nil
}

// RemovePid implements pcluster.IdentityLookup.
func (l *lookup) RemovePid(ci *pcluster.ClusterIdentity, pid *actor.PID) {
	l.c.PidCache.RemoveByValue(ci.Identity, ci.Kind, pid)
	l.cache.remove(ci.Kind, ci.Identity, pid)
}

// Shutdown implements pcluster.IdentityLookup. Safe to call twice.
func (l *lookup) Shutdown() {
	if l.sub != nil {
		l.c.ActorSystem.EventStream.Unsubscribe(l.sub)
	}
}

// stopActivations poisons every activation on this node and waits.
func (l *lookup) stopActivations(timeout time.Duration) {
	if l.activator == nil {
		return
	}
	_ = l.c.ActorSystem.Root.RequestFuture(l.activator, stopAll{}, timeout).Wait()
}

type stopAll struct{}

type activation struct {
	ci  *pcluster.ClusterIdentity
	pid *actor.PID
}

// activator spawns and tracks this node's activations.
type activator struct {
	lookup *lookup
	c      *pcluster.Cluster
	actors map[string]activation // kind/identity -> activation
	byPID  map[string]string
}

func (a *activator) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.byPID = map[string]string{}
	case *pcluster.ActivationRequest:
		a.activate(ctx, msg)
	case *pcluster.ActivationTerminating:
		a.deactivated(msg.Pid)
	case *actor.Terminated:
		a.deactivated(msg.Who)
	case *pcluster.ClusterTopology:
		r := a.lookup.ring.Load()
		self := a.c.ActorSystem.Address()
		for _, act := range a.actors {
			if r.owner(act.ci.Kind, act.ci.Identity) != self {
				ctx.Poison(act.pid)
			}
		}
	case stopAll:
		fs := make([]actor.Future, 0, len(a.actors))
		for _, act := range a.actors {
			fs = append(fs, ctx.PoisonFuture(act.pid))
		}
		for _, f := range fs {
			_ = f.Wait()
		}
		ctx.Respond(len(fs))
	}
}

// deactivated forgets a stopped activation. The activator learns of it
// from protoactor's ActivationTerminating event, published as each
// activation stops; it does not watch its activations, because a watch
// costs each one a watcher set.
func (a *activator) deactivated(pid *actor.PID) {
	if pid == nil {
		return
	}
	key, ok := a.byPID[pid.Id]
	if !ok {
		return
	}
	act := a.actors[key]
	delete(a.byPID, pid.Id)
	delete(a.actors, key)
	// A PID keeps its process (and so the whole stopped actor) reachable:
	// forget this node's cached ones, or a passivated model would keep
	// all its memory.
	a.lookup.cache.remove(act.ci.Kind, act.ci.Identity, act.pid)
	a.c.PidCache.RemoveByValue(act.ci.Identity, act.ci.Kind, act.pid)
	if k, ok := a.c.TryGetClusterKind(act.ci.Kind); ok {
		k.Dec()
	}
}

func (a *activator) activate(ctx actor.Context, msg *pcluster.ActivationRequest) {
	ci := msg.ClusterIdentity
	if ci == nil {
		ctx.Respond(&pcluster.ActivationResponse{Failed: true})
		return
	}
	key := ci.Kind + "/" + ci.Identity
	if act, ok := a.actors[key]; ok {
		ctx.Respond(&pcluster.ActivationResponse{Pid: act.pid})
		return
	}
	kind, ok := a.c.TryGetClusterKind(ci.Kind)
	if !ok {
		ctx.Respond(&pcluster.ActivationResponse{Failed: true})
		return
	}
	// Only the owner in this node's view activates: a caller with a
	// lagging (or newer) view retries until the views agree, so a stray
	// request never creates a second activation here.
	if owner := a.lookup.ring.Load().owner(ci.Kind, ci.Identity); owner != a.c.ActorSystem.Address() {
		a.lookup.logger.Debug("activation refused: not the owner in this node's view", "kind", ci.Kind, "identity", ci.Identity, "owner", owner)
		ctx.Respond(&pcluster.ActivationResponse{Failed: true})
		return
	}
	// Identities are ours; keep them for the duration of the activation.
	ci = &pcluster.ClusterIdentity{Kind: ci.Kind, Identity: ci.Identity}
	// Spawned from the root, not as a child: protoactor's child set
	// truncates its slice without clearing it, and a stale PID there keeps
	// a stopped actor's whole memory reachable. Supervision is the same
	// (the default strategy either way); names are unchanged.
	sys := ctx.ActorSystem()
	pid, err := sys.Root.SpawnNamed(pcluster.WithClusterIdentity(kind.Props, ci), ctx.Self().Id+"/"+ci.Identity+sys.ProcessRegistry.NextID())
	if err != nil {
		a.lookup.logger.Error("activation failed", "kind", ci.Kind, "identity", ci.Identity, "err", err)
		ctx.Respond(&pcluster.ActivationResponse{Failed: true})
		return
	}
	kind.Inc()
	a.actors[key] = activation{ci: ci, pid: pid}
	a.byPID[pid.Id] = key
	ctx.Respond(&pcluster.ActivationResponse{Pid: pid})
}
