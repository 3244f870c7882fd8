package ingress

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
)

// Config configures a node's Kafka ingress.
type Config struct {
	// Brokers are the Kafka bootstrap brokers (the node owns the flag).
	Brokers []string
	// Group is the consumer group the nodes share.
	Group string
	// Topics are the input topics every node reads. Topics that
	// descriptors bind to ("topics") are added as they appear.
	Topics []string
	// Predictions and DeadLetter are the output topics.
	Predictions string
	// Shadow is the topic a shadow version's predictions go to (never the
	// predictions topic).
	Shadow     string
	DeadLetter string
	// PropagateHeaders are the input record headers copied onto the
	// event's prediction (trace context by default), matched without
	// regard to case.
	PropagateHeaders []string
	// Tracer, when set, gives every batch sent to a model actor an
	// OpenTelemetry span linked to its events' trace context (off by
	// default).
	Tracer trace.Tracer
	// KeyByID keys predictions by the event id instead of the input
	// record's key (which keeps one entity's predictions in one partition,
	// co-partitioned with its input, for joins downstream).
	KeyByID bool
	// MaxInFlight bounds the events of one partition that were read but
	// not yet fully processed; at this mark the partition is paused, and
	// it resumes at ResumeAt.
	MaxInFlight int
	ResumeAt    int
	// FetchPartitionBytes is the most one fetch asks of one partition.
	// franz-go drops what it buffered for a partition when it is paused (to
	// fetch it again on resume); the ingress polls everything buffered, so
	// a pause costs at most the one fetch that may be under way: this many
	// bytes, decoded twice. Raise it for a broker far away (a partition
	// reads at most this much per round trip).
	FetchPartitionBytes int
	// MaxBatch is the most events sent to a model actor in one message.
	MaxBatch int
	// Linger holds a partially filled batch this long for more events;
	// 0 sends at the end of each polled chunk (lowest latency).
	Linger time.Duration
	// ProducerLinger is the output producer's linger (0 = low latency).
	ProducerLinger time.Duration
	// ProducerMaxBuffered bounds records buffered in the producer.
	ProducerMaxBuffered int
	// RequestTimeout bounds one batch's round trip to its model actor; the
	// request carries it as its deadline, and an actor that cannot finish
	// the batch in time sheds it unrun ("overloaded"): the batch is sent
	// again after a backoff, as often as it takes. A batch that got no
	// answer in time is sent again up to TimeoutRetries times, then its
	// events become dead letters with reason "timeout".
	RequestTimeout time.Duration
	TimeoutRetries int
	// CommitInterval is how often processed offsets are committed.
	CommitInterval time.Duration
	// DrainTimeout bounds waiting for in-flight events on revocation and
	// shutdown before the final commit.
	DrainTimeout time.Duration
	// SessionTimeout is the consumer-group session timeout: a node that
	// dies loses its partitions to the others after this long.
	SessionTimeout time.Duration
	// Disabled turns the ingress off (the node then only serves HTTP).
	Disabled bool
	// Held starts the ingress holding its input: it joins the consumer
	// group and takes its partitions but reads nothing until Release. The
	// bench uses it so that every node of a cluster has its partitions
	// before the first event is read (otherwise the first node reads a
	// preloaded topic alone while the others join).
	Held bool
	// ClientOpts are extra franz-go options of every Kafka client the
	// ingress creates (TLS, SASL).
	ClientOpts []kgo.Opt
	// MemberAddr returns this node's cluster (remote) address. The group
	// balancer assigns each partition to the member whose address wins the
	// rendezvous hash the cluster places model actors with, so partitions
	// and their models share a node. Nil falls back to Kafka's
	// cooperative-sticky balancer (no alignment).
	MemberAddr func() string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Group:               "actorserve",
		Topics:              []string{"actorserve.events"},
		Predictions:         "actorserve.predictions",
		Shadow:              "actorserve.shadow",
		PropagateHeaders:    []string{"traceparent", "tracestate", "baggage"},
		DeadLetter:          "actorserve.deadletter",
		MaxInFlight:         16384,
		ResumeAt:            8192,
		FetchPartitionBytes: 128 << 10,
		MaxBatch:            256,
		ProducerMaxBuffered: 65536,
		RequestTimeout:      10 * time.Second,
		TimeoutRetries:      2,
		CommitInterval:      time.Second,
		DrainTimeout:        10 * time.Second,
		SessionTimeout:      6 * time.Second, // the least a stock broker accepts (group.min.session.timeout.ms); memberlist notices a death in ~3.5 s
	}
}

// RegisterFlags binds the ingress flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "group", c.Group, "Kafka consumer group the nodes share")
	fs.Func("input-topics", "comma-separated input topics (default actorserve.events); topics bound by descriptors are added", func(s string) error {
		c.Topics = nil
		for _, t := range strings.Split(s, ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.Topics = append(c.Topics, t)
			}
		}
		return nil
	})
	fs.StringVar(&c.Predictions, "predictions-topic", c.Predictions, "topic predictions are written to")
	fs.StringVar(&c.Shadow, "shadow-topic", c.Shadow, "topic a shadow version's predictions are written to")
	fs.StringVar(&c.DeadLetter, "deadletter-topic", c.DeadLetter, "topic dead letters are written to")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", c.MaxInFlight, "events in flight per partition before it is paused")
	fs.IntVar(&c.FetchPartitionBytes, "fetch-partition-bytes", c.FetchPartitionBytes, "most bytes one fetch asks of one partition (a pause may fetch this much again)")
	fs.IntVar(&c.MaxBatch, "max-batch", c.MaxBatch, "most events per message to a model actor")
	fs.DurationVar(&c.Linger, "batch-linger", c.Linger, "hold a partial batch this long for more events (0 = send at once)")
	fs.DurationVar(&c.ProducerLinger, "producer-linger", c.ProducerLinger, "output producer linger (0 = lowest latency)")
	fs.DurationVar(&c.RequestTimeout, "ingress-timeout", c.RequestTimeout, "deadline for a batch at its model actor")
	fs.IntVar(&c.TimeoutRetries, "ingress-timeout-retries", c.TimeoutRetries, "times a batch that got no answer in time is sent again before its events become \"timeout\" dead letters")
	fs.DurationVar(&c.CommitInterval, "commit-interval", c.CommitInterval, "how often processed offsets are committed")
	fs.DurationVar(&c.SessionTimeout, "session-timeout", c.SessionTimeout, "consumer-group session timeout (a dead node's partitions move after this)")
	fs.BoolVar(&c.Disabled, "no-ingress", c.Disabled, "do not consume events from Kafka")
	fs.Func("propagate-headers", "comma-separated input record headers copied onto predictions (default traceparent,tracestate,baggage; \"\" for none)", func(s string) error {
		c.PropagateHeaders = nil
		for _, h := range strings.Split(s, ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.PropagateHeaders = append(c.PropagateHeaders, h)
			}
		}
		return nil
	})
	fs.BoolVar(&c.KeyByID, "predictions-key-by-id", c.KeyByID, "key predictions by the event id instead of the input record's key")
}

// Validate reports configuration errors.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("ingress: no brokers"))
	}
	if c.Group == "" || c.Predictions == "" || c.DeadLetter == "" || c.Shadow == "" {
		errs = append(errs, errors.New("ingress: group, predictions-topic and deadletter-topic must be set"))
	}
	if c.TimeoutRetries < 0 {
		errs = append(errs, fmt.Errorf("ingress: ingress-timeout-retries (%d) must not be negative", c.TimeoutRetries))
	}
	if c.MaxInFlight < 1 || c.MaxBatch < 1 {
		errs = append(errs, fmt.Errorf("ingress: max-in-flight (%d) and max-batch (%d) must be positive", c.MaxInFlight, c.MaxBatch))
	}
	if c.FetchPartitionBytes < 1<<10 || c.FetchPartitionBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("ingress: fetch-partition-bytes (%d) must be between 1 KiB and 64 MiB", c.FetchPartitionBytes))
	}
	if c.ResumeAt <= 0 || c.ResumeAt >= c.MaxInFlight {
		c.ResumeAt = max(1, c.MaxInFlight/2)
	}
	if c.RequestTimeout <= 0 || c.CommitInterval <= 0 || c.DrainTimeout <= 0 || c.SessionTimeout < time.Second {
		errs = append(errs, errors.New("ingress: timeouts and intervals must be positive"))
	}
	return errors.Join(errs...)
}
