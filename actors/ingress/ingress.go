package ingress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster"
)

// Predictor scores events with a model actor wherever it runs (the
// direct-send client of package model).
type Predictor interface {
	Predict(ctx context.Context, id string, events []msg.Event) (*msg.PredictResponse, error)
}

type tp struct {
	topic string
	part  int32
}

// Stats are the ingress counters of one node.
type Stats struct {
	Events      int64            `json:"events"`
	Predictions int64            `json:"predictions"`
	DeadLetters map[string]int64 `json:"dead_letters"`
	Skipped     int64            `json:"skipped"`
	Feedback    int64            `json:"feedback"`
	Unmatched   int64            `json:"unmatched_feedback"`
	Pauses      int64            `json:"pauses"`
	// Fetched counts records decoded from fetch responses, those read again
	// after a pause included (a paused partition's buffered records are
	// dropped and fetched again on resume); Fetched/Events near 1 means
	// backpressure costs no decoding twice.
	Fetched int64 `json:"fetched"`
	// Batches counts batches sent to model actors; CrossNode those that
	// were answered by an actor on another node.
	Batches   int64 `json:"batches"`
	CrossNode int64 `json:"cross_node_batches"`
	// Rerouted counts labelled events of learning models forwarded to the
	// model's home partition.
	Rerouted int64 `json:"rerouted"`
	// ProduceRetries counts writes to Kafka (predictions, dead letters,
	// forwarded labels) retried after a failure that may heal (a missing
	// topic, an unreachable broker); the event stays unacknowledged
	// meanwhile. DeadLetterFailed counts dead letters Kafka refused for
	// good; their events are held, never acknowledged.
	ProduceRetries   int64 `json:"produce_retries"`
	DeadLetterFailed int64 `json:"dead_letters_failed"`
	// Overloaded counts batches a model actor shed unrun (it could not
	// have finished them in time); TimeoutRetries batches that got no
	// answer in time and were sent again. Both are held and retried after
	// a backoff, not dead-lettered (a timeout only up to TimeoutRetries).
	Overloaded     int64            `json:"overloaded_batches"`
	TimeoutRetries int64            `json:"timeout_retries"`
	InFlight       int64            `json:"in_flight"`
	Partitions     []PartitionStats `json:"partitions"`
}

// PartitionStats describes one owned partition.
type PartitionStats struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	InFlight  int64  `json:"in_flight"`
	Paused    bool   `json:"paused"`
	Committed int64  `json:"committed"`
	Lag       int64  `json:"lag"`
}

type counters struct {
	events, predictions, skipped, pauses atomic.Int64
	fetched                              atomic.Int64
	feedback, unmatched                  atomic.Int64
	batches, crossNode                   atomic.Int64
	rerouted, produceRetries             atomic.Int64
	deadLetterFailed                     atomic.Int64
	overloaded, timeoutRetries           atomic.Int64
	shadow, shadowFailed                 atomic.Int64
	mu                                   sync.Mutex
	dead                                 map[string]int64
}

func (c *counters) deadLetter(reason string) {
	c.mu.Lock()
	if c.dead == nil {
		c.dead = map[string]int64{}
	}
	c.dead[reason]++
	c.mu.Unlock()
}

// Ingress reads the input topics as a member of the nodes' consumer group.
// Each assigned partition gets its own ingress actor (partition); the
// poll loop only hands records over and pauses partitions whose window is
// full, so a slow model holds back its own partition and nothing else.
type Ingress struct {
	cfg    Config
	node   string
	table  Table
	pred   Predictor
	router *router
	logger *slog.Logger

	consumer *kgo.Client
	producer *kgo.Client

	mu     sync.Mutex
	parts  map[tp]*partition
	topics map[string]bool
	held   bool // Config.Held until Release

	stats   counters
	e2e     endToEnd
	aborted atomic.Bool
	// Abort and shutdown can both close the clients, at the same time when
	// a node is killed while it stops; kgo's Close must not run twice at
	// once (the race detector saw it), so each closes once.
	consumerClosed, producerClosed sync.Once
	// parts caches the partition count of the first input topic.
	nparts   atomic.Int32
	npartsAt atomic.Int64 // unix nanoseconds of the last look-up
	base     context.Context
	stop     context.CancelFunc
}

// New creates the ingress; Run starts it.
func New(cfg Config, node string, table Table, pred Predictor, logger *slog.Logger) (*Ingress, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	in := &Ingress{cfg: cfg, node: node, table: table, pred: pred, router: newRouter(table),
		logger: logger.With("component", "ingress"), parts: map[tp]*partition{}, topics: map[string]bool{}, e2e: newEndToEnd(), held: cfg.Held}
	in.base, in.stop = context.WithCancel(context.Background())
	topics := slices.Clone(cfg.Topics)
	topics = append(topics, in.router.topics()...)
	slices.Sort(topics)
	topics = slices.Compact(topics)
	for _, t := range topics {
		in.topics[t] = true
	}
	var err error
	in.producer, err = kgo.NewClient(append(slices.Clone(cfg.ClientOpts),
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ProducerLinger(cfg.ProducerLinger),
		kgo.MaxBufferedRecords(cfg.ProducerMaxBuffered),
		kgo.ClientID("actorserve-"+node),
	)...)
	if err != nil {
		return nil, fmt.Errorf("ingress producer: %w", err)
	}
	return in, nil
}

// newConsumer creates the group consumer. It joins the group at once, so
// Run creates it: by then the node is a cluster member and its address,
// which the group balancer places partitions by, is known.
func (in *Ingress) newConsumer() error {
	in.mu.Lock()
	topics := slices.Sorted(maps.Keys(in.topics))
	in.mu.Unlock()
	cfg := in.cfg
	balancer := kgo.CooperativeStickyBalancer()
	if cfg.MemberAddr != nil {
		balancer = &rendezvousBalancer{addr: cfg.MemberAddr}
	}
	cl, err := kgo.NewClient(append(slices.Clone(cfg.ClientOpts),
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.Balancers(balancer),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(in.assigned),
		kgo.OnPartitionsRevoked(in.revoked),
		kgo.OnPartitionsLost(in.lost),
		kgo.FetchMaxBytes(16<<20),
		// Small, so that a pause drops little (Config.FetchPartitionBytes).
		// With 1 MiB and polls of 4,096 records, a backlog of 1,000,000
		// events was decoded 3.7 times over; now once (bench, Stats.Fetched).
		kgo.FetchMaxPartitionBytes(int32(cfg.FetchPartitionBytes)),
		kgo.WithHooks(fetchCounter{&in.stats.fetched}),
		// A fetch that finds nothing waits this long; while it waits, a
		// partition resumed after backpressure is not fetched. Measured
		// here: 500 ms made resumed partitions idle for half a second
		// (30k events/s); 100 ms keeps them flowing.
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.HeartbeatInterval(min(time.Second, cfg.SessionTimeout/3)),
		kgo.ClientID("actorserve-"+in.node),
	)...)
	if err != nil {
		return fmt.Errorf("ingress consumer: %w", err)
	}
	in.mu.Lock()
	in.consumer = cl
	// A descriptor that bound a topic while the client was being made
	// found no consumer to add it to (addTopics): add it now.
	var late []string
	for t := range in.topics {
		if !slices.Contains(topics, t) {
			late = append(late, t)
		}
	}
	if in.held {
		cl.PauseFetchTopics(append(topics, late...)...)
	}
	in.mu.Unlock()
	if len(late) > 0 {
		in.logger.Info("reading topics bound by descriptors", "topics", late)
		cl.AddConsumeTopics(late...)
	}
	return nil
}

// Release starts reading the input of an ingress started with Config.Held;
// otherwise it does nothing.
func (in *Ingress) Release() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.held {
		return
	}
	in.held = false
	if in.consumer != nil {
		in.consumer.ResumeFetchTopics(in.consumer.PauseFetchTopics()...)
	}
}

// TableChanged is called for every descriptor change: it refreshes the
// routing index and starts reading any newly bound topic.
// It costs the same however many models are deployed: only id's entries
// in the index change.
func (in *Ingress) TableChanged(id string) {
	in.addTopics(in.router.invalidate(id))
}

// addTopics starts reading the topics not read yet.
func (in *Ingress) addTopics(topics []string) {
	if len(topics) == 0 {
		return
	}
	var add []string
	in.mu.Lock()
	for _, t := range topics {
		if !in.topics[t] {
			in.topics[t] = true
			add = append(add, t)
		}
	}
	consumer := in.consumer
	if in.held && consumer != nil && len(add) > 0 {
		consumer.PauseFetchTopics(add...)
	}
	in.mu.Unlock()
	if len(add) > 0 && consumer != nil {
		in.logger.Info("reading topics bound by descriptors", "topics", add)
		consumer.AddConsumeTopics(add...)
	}
}

func (in *Ingress) predict(id string, events []msg.Event) (*msg.PredictResponse, error) {
	ctx, cancel := context.WithTimeout(in.base, in.cfg.RequestTimeout)
	defer cancel()
	for {
		resp, err := in.pred.Predict(ctx, id, events)
		if !errors.Is(err, cluster.ErrStopped) || ctx.Err() != nil {
			return resp, err
		}
		// The node is restarting its actor system (fencing): wait for it.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: node restarting", cluster.ErrTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Run polls until ctx ends, then drains, commits and leaves the group.
func (in *Ingress) Run(ctx context.Context) error {
	// The table is loaded by now: index it afresh (changes made before the
	// node subscribed to the table were not announced one by one).
	in.router.invalidate("")
	in.addTopics(in.router.topics())
	if err := in.newConsumer(); err != nil {
		in.producer.Close()
		return err
	}
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		t := time.NewTicker(in.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				in.commitAll(ctx, nil)
			}
		}
	}()
	for {
		// Everything buffered, so that a partition paused below drops
		// nothing franz-go already fetched and decoded (see the consumer's
		// FetchMaxPartitionBytes). A poll holds at most FetchMaxBytes, and a
		// partition may go past its window by what one poll gave it.
		fetches := in.consumer.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			break
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				in.logger.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		now := time.Now()
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			in.mu.Lock()
			p := in.parts[tp{fp.Topic, fp.Partition}]
			in.mu.Unlock()
			if p == nil {
				return
			}
			if len(fp.Records) == 0 {
				p.hwm.Store(fp.HighWatermark)
				return
			}
			p.enqueue(fp.Records, fp.HighWatermark, now)
		})
	}
	<-commitDone
	in.shutdown()
	return nil
}

// Abort stops the ingress as a crash would: the clients close at once,
// nothing is drained or committed.
func (in *Ingress) Abort() {
	in.aborted.Store(true)
	in.stop()
	in.mu.Lock()
	consumer := in.consumer
	in.mu.Unlock()
	if consumer != nil {
		in.consumerClosed.Do(consumer.Close)
	}
	in.producerClosed.Do(in.producer.Close)
}

// shutdown drains every partition, commits, and closes the clients.
func (in *Ingress) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), in.cfg.DrainTimeout)
	defer cancel()
	in.mu.Lock()
	parts := slices.Collect(maps.Values(in.parts))
	clear(in.parts) // the revocation Close triggers finds nothing left to do
	in.mu.Unlock()
	for _, p := range parts {
		p.close()
	}
	if in.aborted.Load() {
		for _, p := range parts {
			close(p.stop)
			<-p.done
		}
		return
	}
	for _, p := range parts {
		if !p.drain(ctx) {
			in.logger.Warn("shutdown: partition not drained in time; the rest is read again after restart", "topic", p.topic, "partition", p.id, "in_flight", p.inflight.Load())
		}
	}
	in.commitAll(context.Background(), parts)
	in.stop()
	for _, p := range parts {
		close(p.stop)
		<-p.done
	}
	in.consumerClosed.Do(in.consumer.Close) // leaves the group
	fctx, fcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer fcancel()
	_ = in.producer.Flush(fctx)
	in.producerClosed.Do(in.producer.Close)
}

// commitAll commits the processed offsets of parts (all when nil).
func (in *Ingress) commitAll(ctx context.Context, parts []*partition) {
	if parts == nil {
		in.mu.Lock()
		parts = slices.Collect(maps.Values(in.parts))
		in.mu.Unlock()
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	byTP := map[tp]*partition{}
	for _, p := range parts {
		if eo, ok := p.toCommit(); ok {
			byTP[tp{p.topic, p.id}] = p
			if offsets[p.topic] == nil {
				offsets[p.topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[p.topic][p.id] = eo
		}
	}
	if len(offsets) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in.consumer.CommitOffsetsSync(cctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			in.logger.Warn("commit offsets", "err", err)
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					in.logger.Warn("commit offset refused; retried at the next commit", "topic", t.Topic, "partition", p.Partition, "code", p.ErrorCode)
					continue
				}
				if part := byTP[tp{t.Topic, p.Partition}]; part != nil {
					part.committedAt(offsets[t.Topic][p.Partition].Offset)
				}
			}
		}
	})
}

func (in *Ingress) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for t, ps := range assigned {
		for _, id := range ps {
			key := tp{t, id}
			if in.parts[key] != nil {
				continue
			}
			p := newPartition(in, t, id)
			in.parts[key] = p
			go p.run()
		}
	}
	in.logger.Info("partitions assigned", "partitions", assigned)
}

// revoked drains the revoked partitions (bounded), commits what they
// processed and stops their actors. Records they did not finish are read
// again by the next owner: at-least-once.
func (in *Ingress) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	parts := in.detach(revoked)
	dctx, cancel := context.WithTimeout(ctx, in.cfg.DrainTimeout)
	defer cancel()
	for _, p := range parts {
		p.drain(dctx)
	}
	in.commitAll(ctx, parts)
	in.finish(parts, revoked)
	in.logger.Info("partitions revoked", "partitions", revoked)
}

// lost stops the partitions without committing (the group already gave
// them away).
func (in *Ingress) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	parts := in.detach(lost)
	in.finish(parts, lost)
	in.logger.Warn("partitions lost", "partitions", lost)
}

func (in *Ingress) detach(m map[string][]int32) []*partition {
	in.mu.Lock()
	defer in.mu.Unlock()
	var parts []*partition
	for t, ps := range m {
		for _, id := range ps {
			if p := in.parts[tp{t, id}]; p != nil {
				delete(in.parts, tp{t, id})
				p.close()
				parts = append(parts, p)
			}
		}
	}
	return parts
}

func (in *Ingress) finish(parts []*partition, m map[string][]int32) {
	for _, p := range parts {
		p.cancel()
		close(p.stop)
		<-p.done
	}
	// A pause outlives the assignment in franz-go; lift it so the
	// partition is read if it comes back.
	in.consumer.ResumeFetchPartitions(m)
}

// Stats returns the ingress counters and the owned partitions.
func (in *Ingress) Stats() Stats {
	s := Stats{
		Events: in.stats.events.Load(), Predictions: in.stats.predictions.Load(),
		Skipped: in.stats.skipped.Load(), Pauses: in.stats.pauses.Load(), Fetched: in.stats.fetched.Load(), DeadLetters: map[string]int64{},
		Feedback: in.stats.feedback.Load(), Unmatched: in.stats.unmatched.Load(),
		Batches: in.stats.batches.Load(), CrossNode: in.stats.crossNode.Load(), Rerouted: in.stats.rerouted.Load(),
		ProduceRetries: in.stats.produceRetries.Load(), DeadLetterFailed: in.stats.deadLetterFailed.Load(),
		Overloaded: in.stats.overloaded.Load(), TimeoutRetries: in.stats.timeoutRetries.Load(),
	}
	in.stats.mu.Lock()
	for k, v := range in.stats.dead {
		s.DeadLetters[k] = v
	}
	in.stats.mu.Unlock()
	in.mu.Lock()
	for _, p := range in.parts {
		p.pmu.Lock()
		paused := p.paused
		p.pmu.Unlock()
		p.cmu.Lock()
		committed := p.committed
		p.cmu.Unlock()
		ps := PartitionStats{Topic: p.topic, Partition: p.id, InFlight: p.inflight.Load(), Paused: paused, Committed: committed, Lag: p.lag()}
		s.InFlight += ps.InFlight
		s.Partitions = append(s.Partitions, ps)
	}
	in.mu.Unlock()
	sort.Slice(s.Partitions, func(i, j int) bool {
		a, b := s.Partitions[i], s.Partitions[j]
		return a.Topic < b.Topic || (a.Topic == b.Topic && a.Partition < b.Partition)
	})
	return s
}

// fetchCounter counts the records franz-go decodes from fetch responses.
type fetchCounter struct{ n *atomic.Int64 }

func (f fetchCounter) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	f.n.Add(int64(m.NumRecords))
}
