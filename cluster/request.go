package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
)

// ErrTimeout means a call did not complete before its deadline.
var ErrTimeout = errors.New("cluster: request timed out")

// ErrStopped means the node is shutting down or restarting.
var ErrStopped = errors.New("cluster: node stopped")

// errMemberLeft completes futures to a member that left the topology.
var errMemberLeft = errors.New("member left")

type memberLeft struct{}

// inflight tracks the futures waiting on each remote member, so that when a
// member leaves (or is declared dead) they complete at once and the call
// retries on the new owner instead of waiting out its whole deadline.
type inflight struct {
	mu sync.Mutex
	by map[string]map[*actor.PID]struct{}
}

func (f *inflight) add(addr string, pid *actor.PID) {
	f.mu.Lock()
	if f.by == nil {
		f.by = map[string]map[*actor.PID]struct{}{}
	}
	s := f.by[addr]
	if s == nil {
		s = map[*actor.PID]struct{}{}
		f.by[addr] = s
	}
	s[pid] = struct{}{}
	f.mu.Unlock()
}

func (f *inflight) remove(addr string, pid *actor.PID) {
	f.mu.Lock()
	if s := f.by[addr]; s != nil {
		delete(s, pid)
		if len(s) == 0 {
			delete(f.by, addr)
		}
	}
	f.mu.Unlock()
}

func (f *inflight) abort(sys *actor.ActorSystem, addr string) {
	f.mu.Lock()
	s := f.by[addr]
	delete(f.by, addr)
	f.mu.Unlock()
	for pid := range s {
		sys.Root.Send(pid, memberLeft{})
	}
}

// Request sends msg to the grain kind/identity wherever it is activated in
// the cluster and returns its reply. It activates the grain if needed,
// retries with a millisecond backoff while the grain moves (dead letters,
// a member leaving), and gives up only at ctx's deadline (or the default
// request timeout when ctx has none). msg and the reply must be
// wire.Message values when they may cross nodes.
func (n *Node) Request(ctx context.Context, kind, identity string, msg any) (any, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.RequestTimeout)
		defer cancel()
	}
	backoff := 2 * time.Millisecond
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, n.deadlineErr(ctx, kind, identity, lastErr)
			case <-t.C:
			}
			backoff = min(backoff*2, 200*time.Millisecond)
		}
		rt := n.rt.Load()
		if rt == nil {
			return nil, ErrStopped
		}
		c := rt.cluster
		pid, ok := rt.lookup.cache.get(kind, identity)
		if !ok {
			var err error
			pid, err = rt.lookup.resolve(ctx, pcluster.NewClusterIdentity(identity, kind))
			if err != nil {
				lastErr = err
				if ctx.Err() != nil {
					return nil, n.deadlineErr(ctx, kind, identity, lastErr)
				}
				continue
			}
			rt.lookup.cache.set(kind, identity, pid)
		}
		timeout := time.Until(deadlineOf(ctx))
		if timeout <= 0 {
			return nil, n.deadlineErr(ctx, kind, identity, lastErr)
		}
		f := c.ActorSystem.Root.RequestFuture(pid, msg, timeout)
		remoteCall := pid.Address != c.ActorSystem.Address()
		if remoteCall {
			n.inflight.add(pid.Address, f.PID())
		}
		res, err := f.Result()
		if remoteCall {
			n.inflight.remove(pid.Address, f.PID())
		}
		switch {
		case err == nil:
			if _, left := res.(memberLeft); left {
				rt.lookup.cache.remove(kind, identity, pid)
				lastErr = fmt.Errorf("%s left during the call", pid.Address)
				continue
			}
			return res, nil
		case errors.Is(err, actor.ErrDeadLetter) || errors.Is(err, remote.ErrDeadLetter):
			// The activation stopped (passivated, moved); find it again.
			rt.lookup.cache.remove(kind, identity, pid)
			lastErr = fmt.Errorf("%s: dead letter", pid)
			continue
		case errors.Is(err, actor.ErrTimeout) || errors.Is(err, remote.ErrTimeout):
			rt.lookup.cache.remove(kind, identity, pid)
			return nil, n.deadlineErr(ctx, kind, identity, err)
		default:
			return nil, err
		}
	}
}

func (n *Node) deadlineErr(ctx context.Context, kind, identity string, last error) error {
	if last == nil {
		last = ctx.Err()
	}
	return fmt.Errorf("%w: %s %q: %v", ErrTimeout, kind, identity, last)
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// RequestPID sends msg to a specific actor (for example a well-known node
// actor on another member) and waits for the reply until ctx is done or the
// member leaves.
func (n *Node) RequestPID(ctx context.Context, pid *actor.PID, msg any) (any, error) {
	rt := n.rt.Load()
	if rt == nil {
		return nil, ErrStopped
	}
	timeout := n.cfg.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: %s", ErrTimeout, pid)
	}
	sys := rt.cluster.ActorSystem
	f := sys.Root.RequestFuture(pid, msg, timeout)
	if pid.Address != sys.Address() {
		n.inflight.add(pid.Address, f.PID())
		defer n.inflight.remove(pid.Address, f.PID())
	}
	res, err := f.Result()
	if err != nil {
		if errors.Is(err, actor.ErrTimeout) || errors.Is(err, remote.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrTimeout, pid)
		}
		return nil, fmt.Errorf("request %s: %w", pid, err)
	}
	if _, left := res.(memberLeft); left {
		return nil, fmt.Errorf("request %s: %w", pid, errMemberLeft)
	}
	return res, nil
}
