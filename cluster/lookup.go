package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
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

// ErrNoMember means no member hosts the requested kind (yet).
var ErrNoMember = errors.New("cluster: no member hosts this kind")

// ring is an immutable rendezvous-hashing view of the members.
type ring struct {
	byKind map[string][]ringMember
}

type ringMember struct {
	addr string
	hash uint64 // FNV-1a state after the address bytes
}

func newRing(members []*pcluster.Member) *ring {
	r := &ring{byKind: map[string][]ringMember{}}
	for _, m := range members {
		addr := m.Address()
		h := fnv.New64a()
		_, _ = h.Write([]byte(addr))
		rm := ringMember{addr: addr, hash: h.Sum64()}
		for _, k := range m.Kinds {
			r.byKind[k] = append(r.byKind[k], rm)
		}
	}
	return r
}

// owner picks the member with the highest score for identity: a pure
// function of the member set, so every node with the same view agrees.
func (r *ring) owner(kind, identity string) string {
	ms := r.byKind[kind]
	var best string
	var bestScore uint64
	for _, m := range ms {
		// FNV-1a continued over the identity, then mixed.
		h := m.hash
		for i := 0; i < len(identity); i++ {
			h ^= uint64(identity[i])
			h *= 1099511628211
		}
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= h >> 33
		if best == "" || h > bestScore || (h == bestScore && m.addr > best) {
			best, bestScore = m.addr, h
		}
	}
	return best
}

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
}

func newLookup(n *Node, timeout time.Duration, logger *slog.Logger) *lookup {
	l := &lookup{node: n, timeout: timeout, logger: logger, topoCh: make(chan struct{})}
	l.ring.Store(newRing(nil))
	return l
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
		if t, ok := ev.(*pcluster.ClusterTopology); ok {
			l.onTopology(t)
		}
	})
}

func (l *lookup) onTopology(t *pcluster.ClusterTopology) {
	l.ring.Store(newRing(t.Members))
	for _, m := range t.Left {
		l.node.inflight.abort(l.c.ActorSystem, m.Address())
		l.c.PidCache.RemoveByMember(m)
	}
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
		return nil, fmt.Errorf("activate %s/%s on %s: refused", ci.Kind, ci.Identity, owner)
	}
	return r.Pid, nil
}

// RemovePid implements pcluster.IdentityLookup.
func (l *lookup) RemovePid(ci *pcluster.ClusterIdentity, pid *actor.PID) {
	l.c.PidCache.RemoveByValue(ci.Identity, ci.Kind, pid)
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
	case *actor.Terminated:
		if key, ok := a.byPID[msg.Who.Id]; ok {
			act := a.actors[key]
			delete(a.byPID, msg.Who.Id)
			delete(a.actors, key)
			if k, ok := a.c.TryGetClusterKind(act.ci.Kind); ok {
				k.Dec()
			}
		}
	case *pcluster.ClusterTopology:
		r := newRing(msg.Members)
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
	// Identities are ours; keep them for the duration of the activation.
	ci = &pcluster.ClusterIdentity{Kind: ci.Kind, Identity: ci.Identity}
	pid := ctx.SpawnPrefix(pcluster.WithClusterIdentity(kind.Props, ci), ci.Identity)
	kind.Inc()
	a.actors[key] = activation{ci: ci, pid: pid}
	a.byPID[pid.Id] = key
	ctx.Respond(&pcluster.ActivationResponse{Pid: pid})
}
