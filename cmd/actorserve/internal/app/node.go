package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/control"
	"github.com/actorserve/actorserve/actors/ingress"
	"github.com/actorserve/actorserve/actors/model"
	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/actors/state"
	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/queryable"
	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/lightgbm"
	"github.com/actorserve/actorserve/serving/linear"
	"github.com/actorserve/actorserve/serving/mojo"
	"github.com/actorserve/actorserve/serving/onnx"
	"github.com/actorserve/actorserve/serving/pmml"
	"github.com/actorserve/actorserve/serving/remote"
	"github.com/actorserve/actorserve/serving/xgboost"
)

// MaxRecordBytes is the largest record a node writes to the control and
// state topics (descriptors with inline model bytes, learned state). The
// topics must accept it: the embedded broker seeds them so, and on Kafka a
// node creates them so or raises their max.message.bytes (see ensureTopics).
const MaxRecordBytes = 16 << 20

// NodeConfig is everything one node needs.
type NodeConfig struct {
	Cluster         cluster.Config
	HTTP            queryable.Config
	Control         control.Config
	Model           model.Config
	Ingress         ingress.Config
	Brokers         []string
	ShutdownTimeout time.Duration
	// StateTopic is the compacted topic of online models' learned state.
	StateTopic string
	// MetricsMaxModels switches per-model Prometheus labels off above
	// this many active models on a node.
	MetricsMaxModels int
	// Sources says which directories and hosts models may be read from.
	Sources SourcesConfig
	// Topics says whether missing topics are created at start.
	Topics TopicsConfig
	// Kafka says how to connect to Kafka (TLS, SASL).
	Kafka     KafkaConfig
	kafkaOpts []kgo.Opt
	// Tracing turns on OpenTelemetry spans (off by default).
	Tracing TracingConfig
}

// DefaultNodeConfig returns the defaults of `actorserve node`.
func DefaultNodeConfig() NodeConfig {
	cc := cluster.DefaultConfig()
	cc.Gossip = "127.0.0.1:7946"
	cc.Remote = "127.0.0.1:8090"
	return NodeConfig{
		Cluster:          cc,
		HTTP:             queryable.DefaultConfig(),
		Control:          control.DefaultConfig(),
		Model:            model.DefaultConfig(),
		Ingress:          ingress.DefaultConfig(),
		Brokers:          []string{"127.0.0.1:9092"},
		ShutdownTimeout:  30 * time.Second,
		MetricsMaxModels: 1000,
		StateTopic:       state.DefaultTopic,
		Topics:           TopicsConfig{Create: true, Partitions: 6},
		Tracing:          TracingConfig{SampleRatio: 0.01},
	}
}

// RegisterFlags binds every node flag.
func (c *NodeConfig) RegisterFlags(fs *flag.FlagSet) {
	c.Cluster.RegisterFlags(fs)
	c.HTTP.RegisterFlags(fs)
	c.Control.RegisterFlags(fs)
	c.Ingress.RegisterFlags(fs)
	c.Sources.registerFlags(fs)
	c.Kafka.registerFlags(fs)
	c.Topics.registerFlags(fs)
	c.Tracing.registerFlags(fs)
	fs.DurationVar(&c.Model.IdleTimeout, "idle-timeout", c.Model.IdleTimeout, "passivate a model actor idle this long (0 = never)")
	fs.IntVar(&c.Model.MaxActive, "max-active", c.Model.MaxActive, "most model actors active on a node; one more passivates the least recently used")
	fs.Int64Var(&c.Model.MaxMailbox, "max-mailbox", c.Model.MaxMailbox, "most requests this node queues for one model actor; more are answered \"overloaded\" at once (0 = no bound)")
	fs.Func("brokers", "comma-separated Kafka bootstrap brokers host:port (default 127.0.0.1:9092)", func(s string) error {
		c.Brokers = nil
		for _, b := range strings.Split(s, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Brokers = append(c.Brokers, b)
			}
		}
		return nil
	})
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "bound on graceful shutdown")
	fs.StringVar(&c.StateTopic, "state-topic", c.StateTopic, "compacted topic of online models' learned state")
	fs.Int64Var(&c.Model.CheckpointEvery, "checkpoint-every", c.Model.CheckpointEvery, "checkpoint an online model after this many updates")
	fs.DurationVar(&c.Model.CheckpointInterval, "checkpoint-interval", c.Model.CheckpointInterval, "checkpoint an online model this long after its last checkpoint")
	fs.IntVar(&c.Model.FeedbackMax, "feedback-max", c.Model.FeedbackMax, "predictions per model kept waiting for their labels")
	fs.IntVar(&c.HTTP.KeepVersions, "keep-versions", serving.DefaultKeepVersions, fmt.Sprintf("versions each model keeps loadable for rollback, the current one included (1..%d)", serving.MaxKeepVersions))
	fs.DurationVar(&c.Model.FeedbackTTL, "feedback-ttl", c.Model.FeedbackTTL, "how long a prediction waits for its label")
	fs.IntVar(&c.MetricsMaxModels, "metrics-max-models", c.MetricsMaxModels, "per-model series in /metrics for at most this many active models per node, the busiest; the others are summed under model=\"_all\"")
}

// Validate reports every configuration error.
func (c *NodeConfig) Validate() error {
	if err := c.Tracing.validate(); err != nil {
		return err
	}
	if c.HTTP.KeepVersions < 0 || c.HTTP.KeepVersions > serving.MaxKeepVersions {
		return fmt.Errorf("--keep-versions %d is outside 1..%d", c.HTTP.KeepVersions, serving.MaxKeepVersions)
	}
	c.Control.Brokers = c.Brokers
	c.Ingress.Brokers = c.Brokers
	kopts, kerr := c.Kafka.opts()
	if kerr != nil {
		kerr = fmt.Errorf("kafka: %w", kerr)
	}
	c.kafkaOpts = kopts
	c.Control.ClientOpts = kopts
	c.Ingress.ClientOpts = kopts
	c.Cluster.HTTP = c.HTTP.Listen
	return errors.Join(kerr, c.Cluster.Validate(), c.HTTP.Validate(), c.HTTP.LoadTokens(), c.Control.Validate(), c.Ingress.Validate(), c.Sources.validate(), c.Topics.validate())
}

// Node is one running actorserve node: cluster member, descriptor table,
// model host and HTTP API.
type Node struct {
	cfg    NodeConfig
	logger *slog.Logger
	// decisions counts the rollout rule decisions this node published.
	decisions *prometheus.CounterVec
	Cluster   *cluster.Node
	Host      *model.Host
	Table     *control.Table[*serving.Descriptor]
	API       *queryable.Server
	Ingress   *ingress.Ingress
	State     *state.Store
	// Formats is the model format registry (tests add formats to it).
	Formats *serving.Registry

	kafka *kgo.Client
	// eventsPartitions is the partition count of the first input topic
	// (0 while unknown), which model placement hashes keys over.
	eventsPartitions atomic.Int32
	ingressCancel    context.CancelFunc
	ingressDone      chan struct{}
	httpSrv          *http.Server
	boot             *boot // answers probes until the API takes over
	httpAddr         string
	// httpAdvertised is the HTTP address peers and clients are told.
	httpAdvertised string
	cancel         context.CancelFunc
	wg             sync.WaitGroup
	once           sync.Once
	stopTracing    func() // flushes the spans still buffered
}

// decodeDescriptor is the control table's decoder. It reads forward-
// compatibly (fields of a newer build are skipped), and a record it cannot
// read at all becomes a placeholder naming the reason (Invalid), so the
// model shows why it does not serve that version instead of silently
// keeping an older one. The record key must be the descriptor's id.
func decodeDescriptor(key string, value []byte) (*serving.Descriptor, error) {
	d, err := serving.DecodeStoredDescriptor(value)
	if err == nil && d.ID != key {
		err = fmt.Errorf("descriptor id %q under key %q", d.ID, key)
	}
	if err != nil {
		ph := &serving.Descriptor{ID: key, Invalid: err.Error()}
		// Keep its version if that much is readable, so it orders with
		// the others.
		var v struct {
			Version int64 `json:"version"`
		}
		if json.Unmarshal(value, &v) == nil && v.Version > 0 && v.Version <= serving.MaxVersion {
			ph.Version = v.Version
		}
		return ph, nil
	}
	return d, nil
}

// resolveVersion makes a model's records apply in one order on every node
// alike: a record is applied only when its revision is higher than the one
// the table holds (a record of a build without revisions: when its version
// is higher, the rule that build applies). A rollback
// goes back to an earlier version with a higher revision; versions stay
// unique because a new one goes above every version the record keeps. Every node applies the control topic in the
// same order, so when two nodes publish the same version at once the
// first in the log wins everywhere, and a stale or older version written
// later is ignored everywhere (the API sees it lost and answers so). A
// placeholder for a record this node cannot read is applied when its
// version is unknown (0): the model shows the problem.
func resolveVersion(logger *slog.Logger) func(id string, cur *serving.Descriptor, had bool, next *serving.Descriptor, offset int64) (*serving.Descriptor, bool) {
	return func(id string, cur *serving.Descriptor, had bool, next *serving.Descriptor, offset int64) (*serving.Descriptor, bool) {
		newer := false
		switch {
		case !had:
		case next.Revision == 0:
			// A record of a build without revisions: the rule that build
			// applies, so that nodes of both builds agree during an upgrade.
			newer = next.Version > cur.Version
		default:
			newer = next.Rev() > cur.Rev()
		}
		if !had || newer || (next.Invalid != "" && next.Version == 0) {
			if len(next.Unknown) > 0 {
				logger.Warn("descriptor has fields this build does not know (written by a newer build?); they are ignored",
					"model", id, "version", next.Version, "fields", next.Unknown, "offset", offset)
			}
			if next.Invalid != "" {
				logger.Warn("descriptor could not be decoded; the model shows the error", "model", id, "offset", offset, "err", next.Invalid)
			}
			return next, true
		}
		logger.Info("descriptor not applied: the model is already at this or a later revision",
			"model", id, "version", next.Version, "revision", next.Rev(), "current", cur.Version, "current_revision", cur.Rev(), "offset", offset)
		return nil, false
	}
}

// rolloutDecider publishes the decisions of rollout rules: promote the
// variant, or end it (roll it back), as a lifecycle record every node
// applies. Each replica of a frozen model judges on its own share of
// events; the first decision published wins and the others find no
// variant left to decide on, which is no error.
func rolloutDecider(table *control.Table[*serving.Descriptor], pub queryable.Publisher, keep int, by string, decisions *prometheus.CounterVec, logger *slog.Logger) model.Decider {
	return func(ctx context.Context, id string, version int64, promote bool, reason string) error {
		_, err := queryable.Transition(ctx, table, pub, id, func(cur *serving.Descriptor) (*serving.Descriptor, error) {
			now := time.Now().UTC()
			if promote {
				return serving.Promote(cur, version, keep, by, reason, now)
			}
			return serving.EndVariant(cur, version, keep, by, reason, now)
		})
		action := serving.ActionRollback
		if promote {
			action = serving.ActionPromote
		}
		switch {
		case errors.Is(err, serving.ErrLifecycle) || errors.Is(err, queryable.ErrNotDeployed):
			logger.Info("rollout decision not needed: the variant was decided already", "model", id, "variant_version", version, "action", action)
			return nil
		case err != nil:
			return err
		}
		decisions.WithLabelValues(action).Inc()
		logger.Info("rollout decision published", "model", id, "variant_version", version, "action", action, "reason", reason)
		return nil
	}
}

// NewRegistry returns the format registry with every built-in format.
func NewRegistry() *serving.Registry {
	reg := serving.NewRegistry()
	linear.Register(reg)
	mojo.Register(reg)
	xgboost.Register(reg)
	lightgbm.Register(reg)
	learning.Register(reg)
	pmml.Register(reg)
	onnx.Register(reg)
	remote.Register(reg)
	return reg
}

// StartNode starts a node and returns once its HTTP API listens and it
// has joined the cluster. Readiness (/readyz) follows once the descriptor
// table has caught up with the control topic.
func StartNode(ctx context.Context, cfg NodeConfig, logger *slog.Logger) (*Node, error) {
	return StartNodeWith(ctx, cfg, nil, logger)
}

// StartNodeWith is StartNode with a given format registry (nil = the
// built-in formats).
func StartNodeWith(ctx context.Context, cfg NodeConfig, formats *serving.Registry, logger *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Sources.apply()
	logger = logger.With("node", cfg.Cluster.Name)
	n := &Node{cfg: cfg, logger: logger, stopTracing: func() {}}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	tracer, stopTracing, err := cfg.Tracing.start(cfg.Cluster.Name)
	if err != nil {
		return nil, err
	}
	if tracer != nil {
		n.stopTracing = stopTracing
		cfg.HTTP.Tracer, cfg.Ingress.Tracer = tracer, tracer
	}
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()

	// HTTP listener first: with port 0 its real address is advertised to
	// peers, and it answers probes at once (/livez 200, /readyz 503 with
	// what the node waits for) until the API takes over.
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", cfg.HTTP.Listen, err)
	}
	n.httpAddr = ln.Addr().String()
	if err := n.serveHTTP(ln); err != nil {
		ln.Close()
		return nil, err
	}
	bootCtx, bootDone := context.WithCancel(ctx)
	watching := make(chan struct{})
	defer func() { bootDone(); <-watching }() // no broker check logs after the start
	go func() {
		defer close(watching)
		n.boot.watchBrokers(bootCtx, cfg.Brokers, logger)
	}()
	n.boot.setPhase("waiting for a Kafka broker")
	if err := n.boot.awaitBrokers(ctx); err != nil {
		return nil, err
	}
	n.boot.setPhase("checking topics")
	if err := ensureTopics(ctx, &cfg, logger); err != nil {
		return nil, err
	}
	cfg.Cluster.HTTP = n.httpAddr
	if cfg.Cluster.Advertise != "" {
		_, port, _ := net.SplitHostPort(n.httpAddr)
		cfg.Cluster.HTTP = net.JoinHostPort(cfg.Cluster.Advertise, port)
	}
	n.httpAdvertised = cfg.Cluster.HTTP

	reg := prometheus.NewRegistry()
	table, err := control.NewTable(cfg.Control, decodeDescriptor, logger, reg)
	if err != nil {
		return nil, err
	}
	table.SetResolver(resolveVersion(logger.With("component", "control")))
	n.Table = table
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := table.Run(runCtx); err != nil && runCtx.Err() == nil {
			logger.Error("control table stopped", "err", err)
		}
	}()

	// Descriptors with inline model bytes and learned-state checkpoints can
	// be larger than a producer batch's default 1 MB.
	n.kafka, err = kgo.NewClient(append(slices.Clone(cfg.kafkaOpts), kgo.SeedBrokers(cfg.Brokers...), kgo.ProducerLinger(0), kgo.ProducerBatchMaxBytes(MaxRecordBytes))...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}

	if formats == nil {
		formats = NewRegistry()
	}
	n.Formats = formats
	publisher := control.NewPublisher(n.kafka, cfg.Control.Topic)
	n.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "actorserve_rollout_decisions_total",
		Help: "Rollout rule decisions this node published, by action (promote, rollback)."}, []string{"action"})
	cfg.Model.Decide = rolloutDecider(table, publisher, cfg.HTTP.KeepVersions, "rules@"+cfg.Cluster.Name, n.decisions, logger)
	n.Host = model.NewHost(cfg.Model, cfg.Cluster.Name, table, formats, logger)
	n.State, err = state.New(cfg.Brokers, cfg.StateTopic, n.kafka, logger, cfg.kafkaOpts...)
	if err != nil {
		return nil, err
	}
	n.Host.SetCheckpoints(n.State)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.State.Run(runCtx); err != nil && runCtx.Err() == nil {
			logger.Error("state table stopped", "err", err)
		}
	}()
	// Model actors restore learned state on activation: read it before
	// this node hosts any.
	n.boot.setPhase("reading the state topic")
	if err := n.State.WaitReady(ctx); err != nil {
		return nil, fmt.Errorf("read the state topic: %w", err)
	}

	// Placement follows partitions: a model's actor lives on the node that
	// owns the input partition its events are keyed to (see placement).
	var tags []string
	if !cfg.Ingress.Disabled {
		tags = []string{tagIngress}
		n.refreshPartitions(ctx)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.followPartitions(runCtx)
		}()
	}
	n.Cluster, err = cluster.New(cfg.Cluster, cluster.Options{
		Kinds:     []*pcluster.Kind{n.Host.Kind()},
		Setup:     n.Host.Setup,
		Placement: n.placement,
		Tags:      tags,
		OnFencing: n.Host.Fencing,
		OnFenced:  func(string) { n.Host.Fenced() },
	}, logger)
	if err != nil {
		return nil, err
	}
	if !cfg.Ingress.Disabled {
		icfg := cfg.Ingress
		icfg.MemberAddr = n.Cluster.RemoteAddr
		n.Ingress, err = ingress.New(icfg, cfg.Cluster.Name, table, n.Host.Client(n.Cluster), logger)
		if err != nil {
			return nil, err
		}
		// New activations of learning models replay their labelled events
		// from the input topic.
		n.Host.SetReplayer(n.Ingress)
	}
	// Join only with the descriptor table loaded: a model placed on this
	// node the moment it joins must find its descriptor.
	n.boot.setPhase("reading the control topic")
	if err := table.WaitReady(ctx); err != nil {
		return nil, fmt.Errorf("read the control topic: %w", err)
	}
	n.boot.setPhase("joining the cluster")
	if err := n.Cluster.Start(ctx); err != nil {
		return nil, err
	}

	table.Subscribe(func(e control.Entry[*serving.Descriptor]) {
		n.Host.Notify(e.ID)
		if n.Ingress != nil {
			n.Ingress.TableChanged(e.ID)
		}
	})
	if n.Ingress != nil {
		// Consume only once the table is loaded, or early events would be
		// dead-lettered as unknown models.
		ictx, icancel := context.WithCancel(context.Background())
		n.ingressCancel, n.ingressDone = icancel, make(chan struct{})
		go func() {
			defer close(n.ingressDone)
			if err := table.WaitReady(ictx); err != nil {
				return
			}
			if err := n.Ingress.Run(ictx); err != nil {
				logger.Error("ingress stopped", "err", err)
			}
		}()
	}

	if n.Ingress != nil {
		in := n.Ingress
		n.Host.SetPartitions(func() []msg.PartitionInfo {
			st := in.Stats()
			out := make([]msg.PartitionInfo, len(st.Partitions))
			for i, p := range st.Partitions {
				out[i] = msg.PartitionInfo{Topic: p.Topic, Partition: p.Partition, Lag: p.Lag, InFlight: p.InFlight, Paused: p.Paused}
			}
			return out
		})
	}
	if err := registerMetrics(reg, n, cfg.MetricsMaxModels); err != nil {
		return nil, err
	}

	n.API = queryable.New(cfg.HTTP, queryable.Deps{
		Node: n.Cluster, Host: n.Host, Table: table, Registry: formats, Logger: logger, Gatherer: reg, Metrics: reg,
		Publisher: publisher,
		ForgetState: func(ctx context.Context, id string) error {
			return n.State.Delete(ctx, id, cfg.Cluster.Name)
		},
		AppendEvents: n.appendEvents,
		Ready: func() error {
			if !table.Ready() {
				return errors.New("descriptor table is still loading the control topic")
			}
			if len(n.Cluster.Members()) == 0 {
				return errors.New("not a cluster member")
			}
			return nil
		},
	})
	n.boot.serve(n.API.Handler())
	ok = true
	logger.Info("node ready to serve", "http", n.httpAddr, "gossip", n.Cluster.GossipAddr(), "remote", n.Cluster.RemoteAddr())
	return n, nil
}

// serveHTTP serves ln (with TLS when configured): the boot handler until
// the API takes over.
func (n *Node) serveHTTP(ln net.Listener) error {
	cfg, logger := n.cfg, n.logger
	tlsCfg, err := cfg.HTTP.TLSConfig()
	if err != nil {
		return err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	n.boot = newBoot()
	n.httpSrv = &http.Server{
		Handler:           n.boot,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      cfg.HTTP.PredictTimeout + time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// Failed TLS handshakes and the like: a client's problem, logged
		// as a warning with the node's other lines.
		ErrorLog: slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn),
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// logEvent is an event as appended to the input topic for learning.
type logEvent struct {
	Model    string           `json:"model"`
	ID       string           `json:"id,omitempty"`
	Features serving.Features `json:"features,omitzero"`
	Label    any              `json:"label"`
}

// appendEvents writes labelled events of learning model id to the first
// input topic, keyed by the model id (so to the model's home partition),
// and returns their offsets once Kafka acknowledged every one.
func (n *Node) appendEvents(ctx context.Context, id string, events []msg.Event) ([]int64, error) {
	if len(n.cfg.Ingress.Topics) == 0 {
		return nil, errors.New("no input topic")
	}
	recs := make([]*kgo.Record, len(events))
	for i, ev := range events {
		le := logEvent{Model: id, ID: ev.ID}
		if !ev.NoFeatures {
			le.Features = ev.Features
		}
		if ev.Label != nil {
			if ev.Label.Num {
				le.Label = ev.Label.V
			} else {
				le.Label = ev.Label.S
			}
		}
		b, err := json.Marshal(&le)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		recs[i] = &kgo.Record{Topic: n.cfg.Ingress.Topics[0], Key: []byte(id), Value: b,
			Headers: []kgo.RecordHeader{{Key: "actorserve-source", Value: []byte("http")}}}
	}
	res := n.kafka.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return nil, err
	}
	offsets := make([]int64, len(res))
	for i, r := range res {
		offsets[i] = r.Record.Offset
	}
	return offsets, nil
}

// tagIngress marks the members that read Kafka partitions: model actors
// are placed over them.
const tagIngress = "@ingress"

// placement places a model actor by the input partition its events are
// keyed to (key = model id, partition = murmur2(key) % P, Kafka's own
// partitioner); the ingress's group balancer assigns that partition with
// the same rendezvous function over the same members, so the partition and
// its models share a node. While P is unknown models are placed by id.
func (n *Node) placement(kind, id string) (slot cluster.Slot, tag string, ok bool) {
	p := n.eventsPartitions.Load()
	if kind != model.Kind || p <= 0 {
		return cluster.Slot{}, "", false
	}
	return cluster.Slot{Group: n.cfg.Ingress.Topics[0], Index: ingress.KeyPartition([]byte(id), p), Count: p}, tagIngress, true
}

// refreshPartitions reads the partition count of the first input topic.
func (n *Node) refreshPartitions(ctx context.Context) {
	if len(n.cfg.Ingress.Topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	topic := n.cfg.Ingress.Topics[0]
	tds, err := kadm.NewClient(n.kafka).ListTopics(ctx, topic)
	if err != nil {
		n.logger.Warn("partition count of the input topic unknown; models are placed by id until it is known", "topic", topic, "err", err)
		return
	}
	td, ok := tds[topic]
	if !ok || td.Err != nil || len(td.Partitions) == 0 {
		return
	}
	if old := n.eventsPartitions.Swap(int32(len(td.Partitions))); old != int32(len(td.Partitions)) && old != 0 {
		n.logger.Warn("input topic partition count changed; models move with their partitions", "topic", topic, "from", old, "to", len(td.Partitions))
	}
}

// followPartitions re-reads the partition count now and then (a topic
// created later, partitions added).
func (n *Node) followPartitions(ctx context.Context) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.refreshPartitions(ctx)
		}
	}
}

// HTTPAddr is the address the API listens on.
func (n *Node) HTTPAddr() string { return n.httpAddr }

// AdvertisedHTTP is the HTTP address clients are told (the listen address
// unless --advertise is set).
func (n *Node) AdvertisedHTTP() string { return n.httpAdvertised }

// WaitReady waits until the descriptor table has loaded the control topic.
func (n *Node) WaitReady(ctx context.Context) error { return n.Table.WaitReady(ctx) }

// Shutdown stops the node gracefully, in order: readiness 503; stop
// consuming, drain in-flight events and commit offsets; checkpoint learned
// state; leave the cluster (peers re-home this node's models at once, and
// restore the state just written, while this node still routes requests
// to them); drain HTTP; stop the model actors (a last checkpoint if they
// learned since) and the actor system; stop reading the control topic. One
// timeout bounds it all: if a step hangs, Shutdown returns an error at
// the deadline anyway (the process then exits; Kafka and the cluster treat
// it as a crash). Leaving before stopping the actors means no request
// fails during the move.
func (n *Node) Shutdown(ctx context.Context) error {
	var err error
	n.once.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, n.cfg.ShutdownTimeout)
		defer cancel()
		finished := make(chan error, 1)
		go func() { finished <- n.shutdown(ctx) }()
		select {
		case err = <-finished:
		case <-ctx.Done():
			// A grace second for steps that end with the context.
			select {
			case err = <-finished:
			case <-time.After(time.Second):
				n.logger.Error("shutdown did not finish within its timeout; giving up", "timeout", n.cfg.ShutdownTimeout)
				err = fmt.Errorf("shutdown did not finish within %v", n.cfg.ShutdownTimeout)
			}
		}
	})
	return err
}

func (n *Node) shutdown(ctx context.Context) error {
	var err error
	n.logger.Info("shutting down")
	if n.API != nil {
		n.API.Drain()
	}
	n.stopIngress()
	if n.Host != nil {
		n.Host.CheckpointAll(leaveTimeout(ctx))
		if n.kafka != nil {
			fctx, cancel := context.WithTimeout(ctx, leaveTimeout(ctx))
			_ = n.kafka.Flush(fctx) // the checkpoints are in Kafka before peers restore them
			cancel()
		}
	}
	if n.Cluster != nil {
		n.Cluster.Leave(leaveTimeout(ctx))
	}
	if n.httpSrv != nil {
		err = n.httpSrv.Shutdown(ctx)
	}
	n.closeRest()
	n.logger.Info("stopped")
	return err
}

func leaveTimeout(ctx context.Context) time.Duration {
	d := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl)/2)
	}
	return d
}

// Kill stops the node as a crash would: no leave, no drain, no commit.
// Tests use it to simulate SIGKILL in-process.
func (n *Node) Kill() {
	n.once.Do(func() {
		if n.ingressCancel != nil {
			n.ingressCancel()
		}
		if n.Cluster != nil {
			n.Cluster.Kill()
		}
		if n.httpSrv != nil {
			_ = n.httpSrv.Close()
		}
		if n.kafka != nil {
			n.kafka.Close()
		}
		n.cancel()
		if n.Ingress != nil {
			n.Ingress.Abort()
		}
	})
}

// Close stops the node at once, without leaving the cluster gracefully.
func (n *Node) Close() {
	n.once.Do(func() {
		if n.httpSrv != nil {
			_ = n.httpSrv.Close()
		}
		n.closeRest()
	})
}

// stopIngress stops consuming, drains in-flight events and commits.
func (n *Node) stopIngress() {
	if n.ingressCancel != nil {
		n.ingressCancel()
		<-n.ingressDone
		n.ingressCancel = nil
	}
}

func (n *Node) closeRest() {
	n.stopIngress()
	if n.Cluster != nil {
		_ = n.Cluster.Close() // model actors checkpoint as they stop
	}
	if n.kafka != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := n.kafka.Flush(ctx); err != nil {
			n.logger.Warn("flush checkpoints", "err", err)
		}
		cancel()
	}
	n.cancel()
	if n.kafka != nil {
		n.kafka.Close()
	}
	n.wg.Wait()
	n.stopTracing()
}
