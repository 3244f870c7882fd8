package model

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/actors/state"
	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
)

// Kind is the grain kind of model actors.
const Kind = "model"

// NodeActorName is the well-known actor on every node that answers stats
// queries for the model actors the node hosts.
const NodeActorName = "actorserve-node"

// Descriptors is the node's view of the deployed models (the control
// stream's table).
type Descriptors interface {
	Get(id string) (*serving.Descriptor, bool)
}

// Config configures the model actors of a node.
type Config struct {
	// IdleTimeout passivates a model actor that received nothing for this
	// long; it re-activates on the next event. 0 never passivates.
	IdleTimeout time.Duration
	// MaxActive bounds the model actors active on this node: activating
	// one more passivates the least recently used.
	MaxActive int
	// FeedbackMax bounds the predictions each model keeps waiting for
	// their labels; FeedbackTTL is how long one waits.
	FeedbackMax int
	FeedbackTTL time.Duration
	// CheckpointEvery and CheckpointInterval: an online model checkpoints
	// its learner after this many updates or this long after its last
	// checkpoint, whichever comes first, and when its actor stops.
	CheckpointEvery    int64
	CheckpointInterval time.Duration
	// MaxMailbox bounds the requests waiting for one model actor that this
	// node sends: beyond it a request is answered "overloaded" at once
	// instead of queueing (the ingress backs off and sends it again; HTTP
	// answers 503). Requests from other nodes are bounded by their
	// senders' windows and shed by their deadlines. 0 = no bound.
	MaxMailbox int64
	// Decide publishes a rollout rule's decision about a variant (nil:
	// rules only observe).
	Decide Decider
}

// Checkpoints stores online models' learned state (package state).
type Checkpoints interface {
	// Sync catches the node's view up with everything written so far.
	Sync(ctx context.Context) error
	// Latest returns the record of model id with the highest epoch.
	Latest(id string) (*state.Checkpoint, bool)
	// Claim makes a new activation the owner, carrying the state it takes
	// over, and returns its epoch; state.ErrStale if a newer one claimed.
	Claim(ctx context.Context, base *state.Checkpoint) (int64, error)
	// Save writes a checkpoint asynchronously, or returns state.ErrStale.
	Save(c *state.Checkpoint, done func(error)) error
	// Delete retires a model's learned state.
	Delete(ctx context.Context, id, node string) error
}

// Replayer reads a learning model's labelled events back from the input
// topic (package ingress).
type Replayer interface {
	// Home returns the input topic, the partition model id's events are
	// keyed to, and the offset the consumer group reads it from.
	Home(ctx context.Context, id string) (topic string, part int32, start int64, err error)
	// Replay calls fn with every labelled event of model id in partition
	// part from offset from to the partition's present end, in order.
	Replay(ctx context.Context, id string, part int32, from int64, fn func(ev *msg.Event) error) (int64, error)
}

// SetReplayer gives the host the reader of the input topic that new
// activations of learning models catch up from (before the node starts).
func (h *Host) SetReplayer(r Replayer) { h.replay = r }

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{IdleTimeout: 10 * time.Minute, MaxActive: 50000, FeedbackMax: 10000, FeedbackTTL: 10 * time.Minute,
		CheckpointEvery: 1000, CheckpointInterval: 10 * time.Second, MaxMailbox: 256}
}

// Host owns the model actors of one node: their kind, the registry of
// active actors and their stats, and the node actor that answers stats
// queries from other nodes.
type Host struct {
	cfg      Config
	nodeName string
	descs    Descriptors
	reg      *serving.Registry
	logger   *slog.Logger

	mu     sync.RWMutex
	active map[string]activeRef
	totals nodeTotals // the active models' stats, summed as they change
	sys    atomic.Pointer[actor.ActorSystem]

	partitions atomic.Pointer[func() []msg.PartitionInfo]
	ckpt       Checkpoints
	replay     Replayer
	// replicas are this node's local actors of frozen models (by id).
	replicas map[string]*actor.PID
	// fencing is set when the node learns it was declared dead: from then
	// on its actors write no learned state.
	fencing atomic.Bool
}

// Fencing tells the host that its node was declared dead: its actors stop
// writing learned state at once (they are about to be stopped).
func (h *Host) Fencing() { h.fencing.Store(true) }

// Fenced tells the host that its node rejoined under a new member id.
func (h *Host) Fenced() { h.fencing.Store(false) }

// SetCheckpoints gives the host its state store (before the node starts).
func (h *Host) SetCheckpoints(c Checkpoints) { h.ckpt = c }

// SetPartitions gives the host the function that lists the Kafka
// partitions this node's ingress owns, reported in stats answers.
func (h *Host) SetPartitions(fn func() []msg.PartitionInfo) { h.partitions.Store(&fn) }

// Partitions lists the partitions this node's ingress owns.
func (h *Host) Partitions() []msg.PartitionInfo {
	if fn := h.partitions.Load(); fn != nil {
		return (*fn)()
	}
	return nil
}

type activeRef struct {
	pid   *actor.PID
	stats *Stats
}

// NewHost returns the model host of node nodeName.
func NewHost(cfg Config, nodeName string, descs Descriptors, reg *serving.Registry, logger *slog.Logger) *Host {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Host{cfg: cfg, nodeName: nodeName, descs: descs, reg: reg, logger: logger.With("component", "model"),
		active: map[string]activeRef{}, replicas: map[string]*actor.PID{}}
}

func (h *Host) props() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { return &modelActor{h: h} },
		actor.WithMailbox(actor.Unbounded(mailboxGauge{h})))
}

// replicaInit starts a local replica of a frozen model. Local only.
type replicaInit struct{ id string }

// replica returns this node's local actor of frozen model id, spawning it
// on first use. Replicas are bounded and passivated like activations.
func (h *Host) replica(id string) (*actor.PID, *actor.ActorSystem, error) {
	sys := h.sys.Load()
	if sys == nil {
		return nil, nil, cluster.ErrStopped
	}
	h.mu.RLock()
	pid := h.replicas[id]
	h.mu.RUnlock()
	if pid != nil {
		return pid, sys, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if pid := h.replicas[id]; pid != nil {
		return pid, sys, nil
	}
	pid = sys.Root.SpawnPrefix(h.props(), "replica/"+id)
	sys.Root.Send(pid, replicaInit{id: id})
	h.replicas[id] = pid
	return pid, sys, nil
}

func (h *Host) dropReplica(id string, pid *actor.PID) {
	h.mu.Lock()
	if cur := h.replicas[id]; cur != nil && cur.Equal(pid) {
		delete(h.replicas, id)
	}
	h.mu.Unlock()
}

// predictLocal scores events with this node's replica of frozen model id:
// no lookup, no serialization, no other node.
func (h *Host) predictLocal(ctx context.Context, id string, events []msg.Event) (any, error) {
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	for attempt := 0; ; attempt++ {
		if timeout <= 0 {
			return nil, fmt.Errorf("%w: model %q", cluster.ErrTimeout, id)
		}
		pid, sys, err := h.replica(id)
		if err != nil {
			return nil, err
		}
		if full := h.full(id, len(events)); full != nil {
			return full, nil
		}
		now := time.Now()
		req := &msg.PredictRequest{Model: id, Events: events, Deadline: now.Add(timeout).UnixNano(), Sent: now.UnixNano()}
		res, err := sys.Root.RequestFuture(pid, req, timeout).Result()
		switch {
		case err == nil:
			return res, nil
		case errors.Is(err, actor.ErrDeadLetter) && attempt < 3:
			h.dropReplica(id, pid) // passivated a moment ago: start another
		case errors.Is(err, actor.ErrTimeout):
			return nil, fmt.Errorf("%w: model %q", cluster.ErrTimeout, id)
		default:
			return nil, err
		}
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
	}
}

// full answers "overloaded" when model id's local actor already has
// MaxMailbox requests waiting; nil when it may take one more.
func (h *Host) full(id string, events int) *wire.Error {
	if h.cfg.MaxMailbox <= 0 {
		return nil
	}
	h.mu.RLock()
	ref, ok := h.active[id]
	h.mu.RUnlock()
	if !ok {
		return nil
	}
	n := ref.stats.pending.Load()
	if n < h.cfg.MaxMailbox {
		return nil
	}
	ref.stats.shed.Add(int64(events))
	return &wire.Error{Code: msg.CodeOverloaded, Message: fmt.Sprintf("model %q is overloaded: %d requests wait in its mailbox (the bound is %d)", id, n, h.cfg.MaxMailbox)}
}

// Kind returns the grain kind to register with the cluster.
func (h *Host) Kind() *pcluster.Kind {
	return pcluster.NewKind(Kind, h.props())
}

// mailboxGauge counts the predict requests waiting in each model actor's
// mailbox (one instance serves every mailbox, so it counts by model id).
type mailboxGauge struct{ h *Host }

func (g mailboxGauge) MailboxStarted() {}
func (g mailboxGauge) MailboxEmpty()   {}

func (g mailboxGauge) MessagePosted(m any) { g.count(m, 1) }

func (g mailboxGauge) MessageReceived(m any) { g.count(m, -1) }

func (g mailboxGauge) count(m any, d int64) {
	if r, ok := actor.UnwrapEnvelopeMessage(m).(*msg.PredictRequest); ok && r.Model != "" {
		g.h.mu.RLock()
		ref, ok := g.h.active[r.Model]
		g.h.mu.RUnlock()
		if ok {
			ref.stats.pending.Add(d)
		}
	}
}

// Setup spawns this node's well-known actors in sys (called on every start
// of the node's actor system).
func (h *Host) Setup(sys *actor.ActorSystem) error {
	h.sys.Store(sys)
	_, err := sys.Root.SpawnNamed(actor.PropsFromFunc(h.receiveNode), NodeActorName)
	return err
}

func (h *Host) receiveNode(ctx actor.Context) {
	switch q := ctx.Message().(type) {
	case *msg.StatsQuery:
		h.respondStats(ctx, q) // page.go
	case *msg.HistoryQuery:
		pts, ok := h.History(q.ID)
		ctx.Respond(&msg.HistoryReply{Node: h.nodeName, Found: ok, Points: pts})
	}
}

// History returns the recent series of model id if its actor is active
// here.
func (h *Host) History(id string) ([]msg.HistoryPoint, bool) {
	h.mu.RLock()
	ref, ok := h.active[id]
	h.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return ref.stats.History(), true
}

func (h *Host) register(id string, pid *actor.PID, s *Stats) {
	h.mu.Lock()
	if old, ok := h.active[id]; ok && old.stats != s {
		old.stats.countIn(nil)
	}
	h.active[id] = activeRef{pid: pid, stats: s}
	s.countIn(&h.totals)
	var evict *actor.PID
	if h.cfg.MaxActive > 0 && len(h.active) > h.cfg.MaxActive {
		var oldest time.Time
		for oid, ref := range h.active {
			if oid == id {
				continue
			}
			if t := ref.stats.lastUse(); evict == nil || t.Before(oldest) {
				evict, oldest = ref.pid, t
			}
		}
	}
	h.mu.Unlock()
	if sys := h.sys.Load(); evict != nil && sys != nil {
		h.logger.Debug("too many active models; passivating the least recently used", "max_active", h.cfg.MaxActive)
		sys.Root.Poison(evict)
	}
}

func (h *Host) unregister(id string, pid *actor.PID) {
	h.mu.Lock()
	if ref, ok := h.active[id]; ok && ref.pid.Equal(pid) {
		delete(h.active, id)
		ref.stats.countIn(nil)
	}
	if cur := h.replicas[id]; cur != nil && cur.Equal(pid) {
		delete(h.replicas, id)
	}
	h.mu.Unlock()
}

// Notify tells the local actor of model id, if one is active here, that its
// descriptor changed or was deleted. The control-stream table calls it.
func (h *Host) Notify(id string) {
	h.mu.RLock()
	ref, ok := h.active[id]
	h.mu.RUnlock()
	if sys := h.sys.Load(); ok && sys != nil {
		sys.Root.Send(ref.pid, refresh{})
	}
}

// CheckpointAll asks every learning model active here to checkpoint now
// and waits (bounded by timeout). A node calls it before it leaves the
// cluster, so that the peers that take its models over restore the latest
// state.
func (h *Host) CheckpointAll(timeout time.Duration) {
	sys := h.sys.Load()
	if sys == nil || h.ckpt == nil {
		return
	}
	h.mu.RLock()
	pids := make([]*actor.PID, 0, len(h.active))
	for _, ref := range h.active {
		pids = append(pids, ref.pid)
	}
	h.mu.RUnlock()
	futures := make([]actor.Future, len(pids))
	for i, pid := range pids {
		futures[i] = sys.Root.RequestFuture(pid, checkpointNow{}, timeout)
	}
	for _, f := range futures {
		_ = f.Wait()
	}
}

// Stats returns the stats of the active actors on this node (only ids when
// given), sorted by id.
func (h *Host) Stats(ids ...string) []msg.ModelStats {
	return h.stats(ids, (*Stats).Snapshot)
}

// SketchStats is Stats with each model's encoded latency sketch and
// histogram buckets, for stats that are to be merged.
func (h *Host) SketchStats(ids ...string) []msg.ModelStats {
	return h.stats(ids, (*Stats).snapshotWire)
}

func (h *Host) stats(ids []string, snap func(*Stats) msg.ModelStats) []msg.ModelStats {
	h.mu.RLock()
	n := len(ids) // a page asks for a few ids: not room for every active model
	if n == 0 {
		n = len(h.active)
	}
	refs := make([]*Stats, 0, n)
	if len(ids) == 0 {
		for _, r := range h.active {
			refs = append(refs, r.stats)
		}
	} else {
		for _, id := range ids {
			if r, ok := h.active[id]; ok {
				refs = append(refs, r.stats)
			}
		}
	}
	h.mu.RUnlock()
	out := make([]msg.ModelStats, len(refs))
	for i, s := range refs {
		out[i] = snap(s)
	}
	slices.SortFunc(out, func(a, b msg.ModelStats) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

func (h *Host) descriptor(id string) (*serving.Descriptor, bool) {
	if h == nil {
		return nil, false
	}
	return h.descs.Get(id)
}

// Active is the number of model actors active on this node.
func (h *Host) Active() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.active)
}

// Client sends events to model actors wherever they run, without Kafka:
// the HTTP predict endpoint, the ingress and tests use it.
type Client struct {
	node *cluster.Node
	host *Host
}

// NewClient returns a client that calls every model's single activation
// through node.
func NewClient(node *cluster.Node) *Client { return &Client{node: node} }

// Client returns a client that scores frozen models with this node's
// local replicas and calls learning models' single activation (placed
// with the Kafka partition their events are keyed to) through node.
func (h *Host) Client(node *cluster.Node) *Client { return &Client{node: node, host: h} }

// localFull is Host.full for a client with a host: a learning model
// activated on this node is bounded like a replica.
func (c *Client) localFull(id string, events int) *wire.Error {
	if c.host == nil {
		return nil
	}
	return c.host.full(id, events)
}

// ErrRemote wraps an error a model actor answered with; errors.As to
// *wire.Error gives its code.
var ErrRemote = errors.New("model actor error")

// Predict scores events with model id and returns one result per event.
func (c *Client) Predict(ctx context.Context, id string, events []msg.Event) (*msg.PredictResponse, error) {
	var res any
	var err error
	if d, ok := c.host.descriptor(id); ok && !d.Learns() {
		res, err = c.host.predictLocal(ctx, id, events)
	}
	if _, learns := res.(errLearns); learns || res == nil && err == nil {
		if full := c.localFull(id, len(events)); full != nil {
			return nil, full
		}
		req := &msg.PredictRequest{Model: id, Events: events, Sent: time.Now().UnixNano()}
		if d, ok := ctx.Deadline(); ok {
			req.Deadline = d.UnixNano()
		}
		res, err = c.node.Request(ctx, Kind, id, req)
	}
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case *msg.PredictResponse:
		return r, nil
	case *wire.Error:
		return nil, r
	default:
		return nil, fmt.Errorf("model %q answered %T", id, res)
	}
}
