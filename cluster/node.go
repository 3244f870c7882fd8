package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options are the pieces a node hosts; the cluster package knows no model.
type Options struct {
	// Kinds are the grain kinds this node hosts.
	Kinds []*pcluster.Kind
	// Setup runs on every (re)start of the actor system, before the node
	// joins: spawn well-known actors here.
	Setup func(sys *actor.ActorSystem) error
	// OnFenced is called after the node fenced itself and rejoined under a
	// new member id.
	OnFenced func(newID string)
	// OnFencing is called when the node learns it was declared dead, before
	// it stops its activations: they must not write anything from then on.
	OnFencing func()
	// Placement, when set, places grains by a placement key instead of
	// their identity (actorserve: the Kafka partition a model's events are
	// keyed to), over the members carrying the placement's tag.
	Placement PlacementFunc
	// Tags are gossiped with the node's kinds; a PlacementFunc may ask
	// for members carrying one (a node that reads Kafka partitions).
	Tags []string
}

// runtime is one incarnation of the node: an actor system, its cluster and
// its memberlist. A fenced node replaces it with a fresh one.
type runtime struct {
	sys      *actor.ActorSystem
	cluster  *pcluster.Cluster
	provider *provider
	lookup   *lookup
}

// Node is one actorserve cluster member.
type Node struct {
	cfg    Config
	opts   Options
	logger *slog.Logger

	rt       atomic.Pointer[runtime]
	inflight inflight

	mu         sync.Mutex // serialises start, fence and stop
	remotePort int
	gossipPort int
	rejoin     []string // gossip addresses of the peers known before the last fence
	fences     atomic.Int64
	stopped    bool
	closing    atomic.Bool // set before Close or Kill takes mu, so a fence restart loop gives up
	// leaving is set once the node began to leave: from then on being
	// declared dead is what it asked for, not a reason to fence and
	// rejoin (a node shutting down must never start again).
	leaving atomic.Bool
	done    chan struct{}
}

// New validates cfg and returns a node that is not started.
func New(cfg Config, opts Options, logger *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Node{cfg: cfg, opts: opts, logger: logger.With("component", "cluster"), done: make(chan struct{})}, nil
}

// Start starts the actor system and remoting, joins the cluster through
// the seeds and returns once this node is a member.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.rt.Load() != nil {
		return errors.New("cluster: node already started")
	}
	_, rp, _ := SplitHostPort(n.cfg.Remote)
	_, gp, _ := SplitHostPort(n.cfg.Gossip)
	n.remotePort, n.gossipPort = rp, gp
	if err := n.startRuntime(); err != nil {
		return err
	}
	go n.watchFence()
	return nil
}

// endpointQueueSize is the initial size of the queue of messages to one
// peer (see startRuntime).
const endpointQueueSize = 1024

func (n *Node) startRuntime() (err error) {
	host, _, _ := SplitHostPort(n.cfg.Remote)
	gHost, _, _ := SplitHostPort(n.cfg.Gossip)
	cfg := n.cfg
	cfg.Gossip = net.JoinHostPort(gHost, strconv.Itoa(n.gossipPort))

	paLogger := slog.New(minLevelHandler{n.logger.Handler(), slog.LevelWarn}).With("component", "protoactor")
	sys := actor.NewActorSystemWithConfig(actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return paLogger }),
	))
	maxB := n.cfg.MaxMessageBytes
	creds, err := n.cfg.remoteTLS()
	if err != nil {
		return err
	}
	serverOpts := []grpc.ServerOption{grpc.MaxRecvMsgSize(maxB), grpc.MaxSendMsgSize(maxB)}
	dialCreds := insecure.NewCredentials()
	if creds != nil {
		serverOpts = append(serverOpts, grpc.Creds(creds.server))
		dialCreds = creds.client
	}
	ropts := []remote.ConfigOption{
		remote.WithServerOptions(serverOpts...),
		remote.WithDialOptions(
			grpc.WithTransportCredentials(dialCreds),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxB), grpc.MaxCallSendMsgSize(maxB)),
		),
		remote.WithEndpointWriterBatchSize(n.cfg.WriterBatch),
		// protoactor preallocates each peer's outgoing queue at this size:
		// its default of 1,000,000 slots is 16 MB per peer, all pointers,
		// which every garbage collection scans (at three nodes in one
		// process, 92 MB and about a tenth of the CPU per event). The queue
		// doubles when full; what waits in it is bounded by the callers'
		// windows (ingress in-flight events, request timeouts).
		remote.WithEndpointWriterQueueSize(endpointQueueSize),
	}
	if n.cfg.Advertise != "" {
		ropts = append(ropts, remote.WithAdvertisedHost(net.JoinHostPort(n.cfg.Advertise, strconv.Itoa(n.remotePort))))
	}
	rc := remote.Configure(host, n.remotePort, ropts...)
	lk := newLookup(n, n.cfg.ActivationTimeout, n.opts.Placement, n.logger)
	prov := newProvider(cfg, n.logger, n.cfg.HTTP)
	prov.tags = n.opts.Tags
	prov.rejoin = n.rejoin
	cc := pcluster.Configure(n.cfg.ClusterName, prov, lk, rc,
		pcluster.WithKinds(n.opts.Kinds...),
		pcluster.WithRequestTimeout(n.cfg.RequestTimeout),
	)
	c := pcluster.New(sys, cc)
	if n.opts.Setup != nil {
		if err := n.opts.Setup(sys); err != nil {
			sys.Shutdown()
			return fmt.Errorf("cluster: setup: %w", err)
		}
	}
	defer func() {
		// protoactor panics when the provider fails to start.
		if r := recover(); r != nil {
			err = fmt.Errorf("cluster: start member: %v", r)
			_ = prov.close()
			if c.Remote != nil {
				c.Remote.Shutdown(false) // free the port for the next attempt
			}
			sys.Shutdown()
		}
	}()
	c.StartMember()
	// Remember the real ports so a restart after fencing reuses them.
	if _, p, err := sys.GetHostPort(); err == nil {
		n.remotePort = p
	}
	if prov.ml != nil {
		n.gossipPort = int(prov.ml.LocalNode().Port)
	}
	n.rt.Store(&runtime{sys: sys, cluster: c, provider: prov, lookup: lk})
	n.logger.Info("node started", "member", sys.ID, "remote", sys.Address(), "gossip", n.GossipAddr())
	return nil
}

// watchFence restarts the node under a new member id when the cluster
// declared it dead: protoactor blocks a departed member id forever, so a
// node that was cut off and came back would otherwise be a zombie holding
// activations no one routes to.
func (n *Node) watchFence() {
	for {
		rt := n.rt.Load()
		if rt == nil {
			return
		}
		select {
		case <-n.done:
			return
		case reason := <-rt.provider.fenced:
			n.fence(rt, reason)
		}
	}
}

func (n *Node) fence(old *runtime, reason string) {
	if n.leaving.Load() || n.closing.Load() {
		n.logger.Info("declared dead while leaving; not fencing", "reason", reason)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped || n.rt.Load() != old || n.leaving.Load() {
		return
	}
	n.logger.Warn("fencing: this node was declared dead; stopping its actors and rejoining under a new member id",
		"member", old.sys.ID, "reason", reason)
	if n.opts.OnFencing != nil {
		n.opts.OnFencing()
	}
	// Rejoin through every peer this incarnation knew, not only the
	// configured seeds (a seed node has none).
	n.rejoin = slices.DeleteFunc(old.provider.knownPeers(), func(a string) bool { return a == n.GossipAddr() })
	n.rt.Store(nil)
	n.shutdownRuntime(old, false)
	backoff := 200 * time.Millisecond
	for !n.stopped && !n.closing.Load() && !n.leaving.Load() {
		err := n.startRuntime()
		if err == nil {
			break
		}
		n.logger.Error("fencing: restart failed, retrying", "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
	n.fences.Add(1)
	if rt := n.rt.Load(); rt != nil && n.opts.OnFenced != nil {
		n.opts.OnFenced(rt.sys.ID)
	}
}

// shutdownRuntime stops one incarnation. Graceful means the peers were
// told (Leave) first.
func (n *Node) shutdownRuntime(rt *runtime, graceful bool) {
	rt.lookup.stopActivations(5 * time.Second)
	if !graceful {
		// Do not tell anyone: we are already dead to them.
		_ = rt.provider.close()
	}
	rt.cluster.Shutdown(false)
	rt.cluster.Gossip.Shutdown()
	rt.lookup.Shutdown()
	_ = rt.provider.close()
}

// Leave tells the cluster this node is going: peers re-home its grains at
// once (tens of milliseconds) while it can still route requests to them.
func (n *Node) Leave(timeout time.Duration) {
	n.leaving.Store(true)
	if rt := n.rt.Load(); rt != nil {
		rt.provider.leave(timeout)
		// Wait for our own view to drop us so our calls route to peers.
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			self := false
			for _, m := range rt.provider.members() {
				self = self || m.Self
			}
			if !self {
				break
			}
			rt.provider.kickLoop()
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Close stops this node's activations, then the actor system, remoting and
// memberlist. Call Leave first for a graceful departure.
func (n *Node) Close() error {
	n.closing.Store(true)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return nil
	}
	n.stopped = true
	close(n.done)
	rt := n.rt.Swap(nil)
	if rt == nil {
		return nil
	}
	n.shutdownRuntime(rt, true)
	n.logger.Info("node stopped")
	return nil
}

// Kill stops the node abruptly, without telling the cluster (tests use it
// to simulate a crash in-process).
func (n *Node) Kill() {
	n.closing.Store(true)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	n.stopped = true
	close(n.done)
	if rt := n.rt.Swap(nil); rt != nil {
		_ = rt.provider.close()
		rt.cluster.Shutdown(false)
		rt.cluster.Gossip.Shutdown()
	}
}

// Members returns this node's current view of the cluster.
func (n *Node) Members() []Member {
	if rt := n.rt.Load(); rt != nil {
		return rt.provider.members()
	}
	return nil
}

// System returns the current actor system (nil while stopped or fencing).
func (n *Node) System() *actor.ActorSystem {
	if rt := n.rt.Load(); rt != nil {
		return rt.sys
	}
	return nil
}

// MemberID is the current member id (changes when the node fences itself).
func (n *Node) MemberID() string {
	if rt := n.rt.Load(); rt != nil {
		return rt.sys.ID
	}
	return ""
}

// Name is the configured node name.
func (n *Node) Name() string { return n.cfg.Name }

// RemoteAddr is the actor remoting address host:port.
func (n *Node) RemoteAddr() string {
	if rt := n.rt.Load(); rt != nil {
		return rt.sys.Address()
	}
	return ""
}

// GossipAddr is the memberlist address host:port.
func (n *Node) GossipAddr() string {
	h, _, _ := SplitHostPort(n.cfg.Gossip)
	if n.cfg.Advertise != "" {
		h = n.cfg.Advertise
	}
	return net.JoinHostPort(h, strconv.Itoa(n.gossipPort))
}

// Fences counts how often this node fenced itself.
func (n *Node) Fences() int64 { return n.fences.Load() }

// Owner returns the remote address of the member that owns kind/identity
// in this node's current view ("" when none).
func (n *Node) Owner(kind, identity string) string {
	if rt := n.rt.Load(); rt != nil {
		return rt.lookup.ring.Load().owner(kind, identity)
	}
	return ""
}

// TopologyChanged returns a channel closed at the next topology change.
func (n *Node) TopologyChanged() <-chan struct{} {
	rt := n.rt.Load()
	if rt == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	rt.lookup.topoMu.Lock()
	defer rt.lookup.topoMu.Unlock()
	return rt.lookup.topoCh
}
