package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Defaults for [Config].
const (
	DefaultListen     = "127.0.0.1:9092"
	DefaultPartitions = 6
)

// Broker and topic settings; doc.go explains each choice.
const (
	kfakeCleanerOffMs   = "315360000000"   // log.cleaner.backoff.ms: 10 years, so kfake's own pass never runs; the Broker's does
	maintainEvery       = 30 * time.Second // retention every 30 s; compaction when the compacted topics are half dirty
	memRetentionMs      = "3600000"        // 1 h, data topics in memory mode
	memRetentionBytes   = "134217728"      // 128 MiB per partition, data topics in memory mode
	memSegmentBytes     = "16777216"       // 16 MiB segments, data topics in memory mode
	compactMaxMessage   = "16777216"       // max.message.bytes of the compacted topics: a node's largest record (descriptors with inline models, learned state)
	maxPartitions       = 10000
	maxTopicNameLen     = 249
	ensureTopicsTimeout = 15 * time.Second
)

// ErrInvalidConfig is wrapped by every error [Config.Validate] returns.
var ErrInvalidConfig = errors.New("invalid broker config")

// Topics names the topics the broker seeds. Empty fields take the defaults of [DefaultTopics].
type Topics struct {
	Models      string // compacted control topic: key = model id, value = descriptor JSON
	Events      string // input events
	Predictions string // predictions written by model actors
	DeadLetter  string // events that could not be scored
	Shadow      string // a shadow version's predictions
	State       string // compacted learned-state checkpoints
}

// DefaultTopics returns the default topic names.
func DefaultTopics() Topics {
	return Topics{
		Models:      "actorserve.models",
		Events:      "actorserve.events",
		Predictions: "actorserve.predictions",
		DeadLetter:  "actorserve.deadletter",
		Shadow:      "actorserve.shadow",
		State:       "actorserve.state",
	}
}

func (t Topics) withDefaults() Topics {
	d := DefaultTopics()
	for _, f := range []struct{ v, def *string }{
		{&t.Models, &d.Models}, {&t.Events, &d.Events}, {&t.Predictions, &d.Predictions},
		{&t.DeadLetter, &d.DeadLetter}, {&t.Shadow, &d.Shadow}, {&t.State, &d.State},
	} {
		if *f.v == "" {
			*f.v = *f.def
		}
	}
	return t
}

// Config configures the embedded broker. The zero value is usable: an in-memory broker on a
// random port of 127.0.0.1 with the default topics and partitions.
type Config struct {
	// Listen is the host:port to bind; port 0 picks a free port; "" means 127.0.0.1:0.
	Listen string
	// Advertise is the host (no port) clients are told to connect to. Default: the Listen
	// host, or 127.0.0.1 when the Listen host is a wildcard (0.0.0.0, ::, empty).
	Advertise string
	// DataDir persists topics, offsets and groups in this directory across restarts;
	// "" keeps everything in memory.
	DataDir string
	// Partitions is the partition count of the seeded data topics, of the State topic and of
	// auto-created topics (0 means DefaultPartitions). Models always has 1 partition.
	Partitions int
	// Topics names the seeded topics.
	Topics Topics
	// TLS, when set, makes the broker speak TLS only.
	TLS *tls.Config
	// SASL, when set, makes clients authenticate as one of these users
	// (each a superuser).
	SASL []SASLUser
}

// SASLUser is one account of the broker: Mechanism is PLAIN,
// SCRAM-SHA-256 or SCRAM-SHA-512.
type SASLUser struct {
	Mechanism, User, Password string
}

// DefaultConfig returns the configuration `actorserve broker` starts with.
func DefaultConfig() Config {
	return Config{Listen: DefaultListen, Partitions: DefaultPartitions, Topics: DefaultTopics()}
}

// RegisterFlags registers --listen, --advertise-host, --data-dir and --partitions on fs, with
// the defaults of [DefaultConfig]. Topic names are not flags here: the node owns those.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.Listen, "listen", d.Listen, "host:port the embedded Kafka broker listens on (port 0 = random)")
	fs.StringVar(&c.Advertise, "advertise-host", "", "host the broker advertises to clients (default: the --listen host, or 127.0.0.1 for a wildcard host)")
	fs.StringVar(&c.DataDir, "data-dir", "", "directory the broker persists its data in (default: in memory, bounded by retention)")
	fs.IntVar(&c.Partitions, "partitions", d.Partitions, "partitions of the seeded data topics and of auto-created topics")
	if c.Topics == (Topics{}) {
		c.Topics = d.Topics
	}
}

// Validate reports the first problem with c. Zero fields that New fills with defaults are valid.
func (c Config) Validate() error {
	if c.Listen != "" {
		_, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return fmt.Errorf("%w: listen address %q: want host:port, e.g. 127.0.0.1:9092: %v", ErrInvalidConfig, c.Listen, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("%w: listen address %q: port must be a number in 0..65535", ErrInvalidConfig, c.Listen)
		}
	}
	if c.Advertise != "" && (strings.ContainsAny(c.Advertise, " /") || isWildcard(c.Advertise)) {
		return fmt.Errorf("%w: advertise host %q: want a host name or IP clients can reach, without port", ErrInvalidConfig, c.Advertise)
	}
	if c.Advertise != "" {
		if _, _, err := net.SplitHostPort(c.Advertise); err == nil {
			return fmt.Errorf("%w: advertise host %q: give the host only; the port is the listen port", ErrInvalidConfig, c.Advertise)
		}
	}
	if c.Partitions < 0 || c.Partitions > maxPartitions {
		return fmt.Errorf("%w: partitions = %d: want 1..%d (0 = default %d)", ErrInvalidConfig, c.Partitions, maxPartitions, DefaultPartitions)
	}
	t := c.Topics.withDefaults()
	seen := make(map[string]string)
	for _, f := range []struct{ field, name string }{
		{"models", t.Models}, {"events", t.Events}, {"predictions", t.Predictions},
		{"deadletter", t.DeadLetter}, {"shadow", t.Shadow}, {"state", t.State},
	} {
		if err := validTopicName(f.name); err != nil {
			return fmt.Errorf("%w: %s topic: %v", ErrInvalidConfig, f.field, err)
		}
		if other, dup := seen[f.name]; dup {
			return fmt.Errorf("%w: %s and %s topics are both named %q", ErrInvalidConfig, other, f.field, f.name)
		}
		seen[f.name] = f.field
	}
	return nil
}

func validTopicName(name string) error {
	if name == "." || name == ".." {
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	if len(name) > maxTopicNameLen {
		return fmt.Errorf("topic name %q is longer than %d characters", name, maxTopicNameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q: only ASCII letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}

func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// Broker is one running embedded Kafka-protocol broker.
type Broker struct {
	cluster *kfake.Cluster
	addrs   []string
	logger  *slog.Logger
	adm     *kadm.Client // a client of this broker, to list its topics

	stop, stopped chan struct{}
	closeOnce     sync.Once

	// Owned by maintain.
	cleanBytes  int64 // bytes of the compacted topics after the last compaction
	compactions int   // compaction passes run
}

// New starts one broker, seeds the topics of cfg.Topics (see the package documentation for the
// configs it sets) and returns once they exist. Close it when done.
func New(cfg Config, logger *slog.Logger) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "broker")
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	cfg.Topics = cfg.Topics.withDefaults()

	host, portStr, _ := net.SplitHostPort(cfg.Listen) // checked by Validate
	port, _ := strconv.Atoi(portStr)
	advertise := cfg.Advertise
	if advertise == "" {
		advertise = host
		if isWildcard(host) {
			advertise = "127.0.0.1"
			logger.Warn("listening on a wildcard address; advertising 127.0.0.1, so clients on other hosts cannot connect: set the advertise host",
				"listen", cfg.Listen)
		}
	}
	ln := &listenFn{host: host, advertise: advertise}

	bcfgs := map[string]string{"log.cleaner.backoff.ms": kfakeCleanerOffMs}
	if cfg.DataDir == "" {
		bcfgs["log.retention.ms"] = memRetentionMs
		bcfgs["log.retention.bytes"] = memRetentionBytes
		bcfgs["log.segment.bytes"] = memSegmentBytes
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(ln.listen),
		kfake.ClusterID("actorserve"),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.BrokerConfigs(bcfgs),
		kfake.WithLogger(slogLogger{logger}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
	}
	if len(cfg.SASL) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.SASL {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.User, u.Password))
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", cfg.Listen, err)
	}
	cl, err := localClient(ln.dialAddr(), cfg)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("client of embedded broker %s: %w", cfg.Listen, err)
	}
	b := &Broker{cluster: c, addrs: c.ListenAddrs(), logger: logger, adm: kadm.NewClient(cl),
		stop: make(chan struct{}), stopped: make(chan struct{})}

	ctx, cancel := context.WithTimeout(context.Background(), ensureTopicsTimeout)
	defer cancel()
	if err := ensureTopics(ctx, b.adm, cfg); err != nil {
		cl.Close()
		c.Close()
		return nil, fmt.Errorf("seed topics on embedded broker %s: %w", cfg.Listen, err)
	}
	logger.Info("embedded Kafka broker started", "addrs", b.addrs, "listen", ln.boundAddr(),
		"data_dir", cfg.DataDir, "partitions", cfg.Partitions)
	go b.run(maintainEvery)
	return b, nil
}

// run calls maintain every interval until Close.
func (b *Broker) run(every time.Duration) {
	defer close(b.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.maintain()
		}
	}
}

// maintain applies retention to every topic, and compacts the compacted
// topics once they are at least half dirty: twice the bytes they held after
// the last compaction (Kafka's default min.cleanable.dirty.ratio, 0.5).
// Every topic with cleanup.policy=compact counts, seeded or not (a node's
// control topic may have another name).
//
// kfake does both on the goroutine that serves every request, and a
// compaction reads and rewrites every record of every compacted topic: about
// 0.4 s per 100,000 control records on one core, during which no produce,
// fetch or offset request is answered. Compacting every pass, as kfake's own
// cleaner does, stalled the broker for seconds every 30 s at 1,000,000
// models although no record could be removed; compacting when the bytes
// double keeps the compacted topics under about twice their live records
// and makes the passes rarer as they get longer, O(1) amortised per record.
// Retention only walks the batches' metadata.
func (b *Broker) maintain() {
	b.cluster.ApplyRetention()
	topics, size, err := b.compactedBytes()
	if err != nil {
		b.logger.Warn("list the compacted topics; compaction waits for the next pass", "err", err)
		return
	}
	if size > b.cleanBytes && size >= 2*b.cleanBytes {
		start := time.Now()
		b.cluster.Compact()
		b.compactions++
		_, b.cleanBytes, _ = b.compactedBytes()
		b.logger.Debug("compacted", "topics", topics, "bytes_before", size, "bytes_after", b.cleanBytes, "took", time.Since(start))
	}
}

// compactedBytes returns the topics with cleanup.policy=compact and the
// bytes they hold.
func (b *Broker) compactedBytes() (topics []string, n int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), ensureTopicsTimeout)
	defer cancel()
	listed, err := b.adm.ListTopics(ctx)
	if err != nil {
		return nil, 0, err
	}
	for _, t := range listed.Names() {
		info := b.cluster.TopicInfo(t)
		if info == nil {
			continue // deleted since
		}
		if p := info.Configs["cleanup.policy"]; p == nil || !strings.Contains(*p, "compact") {
			continue
		}
		topics = append(topics, t)
		for _, p := range b.cluster.PartitionInfos(t) {
			n += p.NumBytes
		}
	}
	return topics, n, nil
}

// Addrs returns the advertised host:port of the broker, for kgo.SeedBrokers.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Close stops the broker; with a DataDir it first writes its state to disk. Close the clients
// first. Close is idempotent.
func (b *Broker) Close() {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.stopped
		b.adm.Close()
		b.cluster.Close()
	})
}

// localClient returns a client of the broker this process runs.
func localClient(dialAddr string, cfg Config) (*kgo.Client, error) {
	// Every connection goes to the one local broker, whatever host it advertises: the
	// advertised name may only resolve for clients elsewhere (e.g. in other containers).
	var d net.Dialer
	opts := []kgo.Opt{
		kgo.SeedBrokers(dialAddr),
		kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, dialAddr)
			if err != nil || cfg.TLS == nil {
				return c, err
			}
			// This process talking to its own listener: the certificate is
			// the one it serves, so there is nothing to verify.
			return tls.Client(c, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}), nil //nolint:gosec
		}),
	}
	if len(cfg.SASL) > 0 {
		opts = append(opts, kgo.SASL(saslMechanism(cfg.SASL[0])))
	}
	return kgo.NewClient(opts...)
}

// ensureTopics creates the seeded topics that do not exist and (re)applies the settings the
// package documents to every seeded topic.
func ensureTopics(ctx context.Context, adm *kadm.Client, cfg Config) error {

	compact := map[string]*string{
		"cleanup.policy":    kadm.StringPtr("compact"),
		"retention.ms":      kadm.StringPtr("-1"),
		"retention.bytes":   kadm.StringPtr("-1"),
		"max.message.bytes": kadm.StringPtr(compactMaxMessage),
	}
	data := map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}
	if cfg.DataDir == "" {
		data["retention.ms"] = kadm.StringPtr(memRetentionMs)
		data["retention.bytes"] = kadm.StringPtr(memRetentionBytes)
		data["segment.bytes"] = kadm.StringPtr(memSegmentBytes)
	}
	t := cfg.Topics
	parts := int32(cfg.Partitions)
	for _, g := range []struct {
		partitions int32
		configs    map[string]*string
		topics     []string
	}{
		{1, compact, []string{t.Models}},
		{parts, compact, []string{t.State}},
		{parts, data, []string{t.Events, t.Predictions, t.DeadLetter, t.Shadow}},
	} {
		resp, err := adm.CreateTopics(ctx, g.partitions, 1, g.configs, g.topics...)
		if err != nil {
			return err
		}
		var existing []string
		for _, r := range resp.Sorted() {
			switch {
			case r.Err == nil:
			case errors.Is(r.Err, kerr.TopicAlreadyExists):
				existing = append(existing, r.Topic)
			default:
				return fmt.Errorf("create topic %q: %w (%s)", r.Topic, r.Err, r.ErrMessage)
			}
		}
		if len(existing) == 0 {
			continue
		}
		var alter []kadm.AlterConfig
		for k, v := range g.configs {
			alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
		}
		aresp, err := adm.AlterTopicConfigs(ctx, alter, existing...)
		if err != nil {
			return err
		}
		for _, r := range aresp {
			if r.Err != nil {
				return fmt.Errorf("set configs of existing topic %q: %w (%s)", r.Name, r.Err, r.ErrMessage)
			}
		}
	}
	return nil
}

// listenFn is the kfake.ListenFn: kfake asks for 127.0.0.1:<port>; we bind the configured host
// with that port and report the advertised host from Addr, which kfake puts in metadata.
type listenFn struct {
	host, advertise string
	bound           net.Addr // set by listen, before NewCluster returns
}

func (l *listenFn) listen(network, addr string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	inner, err := net.Listen(network, net.JoinHostPort(l.host, port))
	if err != nil {
		return nil, err
	}
	l.bound = inner.Addr()
	_, boundPort, _ := net.SplitHostPort(inner.Addr().String())
	return &advertisedListener{Listener: inner, addr: hostPortAddr(net.JoinHostPort(l.advertise, boundPort))}, nil
}

func (l *listenFn) boundAddr() string { return l.bound.String() }

// dialAddr is an address this process can dial to reach the bound listener.
func (l *listenFn) dialAddr() string {
	host, port, _ := net.SplitHostPort(l.bound.String())
	if isWildcard(host) {
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	return net.JoinHostPort(host, port)
}

type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (a *advertisedListener) Addr() net.Addr { return a.addr }

type hostPortAddr string

func (hostPortAddr) Network() string  { return "tcp" }
func (a hostPortAddr) String() string { return string(a) }

// slogLogger bridges kfake's leveled printf logger into slog. kfake logs every failed request
// at its info level, so that maps to slog debug.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelDebug
	default:
		lvl = slog.LevelDebug - 4
	}
	ctx := context.Background()
	if !s.l.Enabled(ctx, lvl) {
		return
	}
	s.l.Log(ctx, lvl, fmt.Sprintf(msg, args...), "source", "kfake")
}

func saslMechanism(u SASLUser) sasl.Mechanism {
	switch strings.ToUpper(u.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: u.User, Pass: u.Password}.AsMechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: u.User, Pass: u.Password}.AsSha512Mechanism()
	default:
		return scram.Auth{User: u.User, Pass: u.Password}.AsSha256Mechanism()
	}
}
