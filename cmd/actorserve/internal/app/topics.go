package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxTopicPartitions bounds --topic-partitions.
const maxTopicPartitions = 10000

// TopicsConfig says whether a node creates the topics it needs.
type TopicsConfig struct {
	// Create makes a node create missing topics at start and raise a
	// max.message.bytes that is too small; false only verifies them (for
	// operators who manage topics themselves).
	Create bool
	// Partitions is the partition count of topics a node creates (input,
	// output and state topics; the control topic always has one).
	Partitions int
}

func (c *TopicsConfig) registerFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Create, "create-topics", c.Create, "create missing Kafka topics at start and raise a too small max.message.bytes (false: only verify them)")
	fs.IntVar(&c.Partitions, "topic-partitions", c.Partitions, "partitions of the topics a node creates (not the control topic: it has one)")
}

func (c TopicsConfig) validate() error {
	if c.Partitions < 1 || c.Partitions > maxTopicPartitions {
		return fmt.Errorf("topic-partitions = %d: want 1..%d", c.Partitions, maxTopicPartitions)
	}
	return nil
}

// topicSpec is one topic a node needs and the settings it must have.
type topicSpec struct {
	name       string
	role       string
	compacted  string // what retention would delete if the topic were not compacted ("": need not be compacted)
	partitions int32  // exactly this many (0: any)
	create     int32  // partitions when created
	minMessage int    // max.message.bytes it must allow (0: no need)
}

// neededTopics lists the topics of cfg.
func neededTopics(cfg *NodeConfig) []topicSpec {
	p := int32(max(1, cfg.Topics.Partitions))
	specs := []topicSpec{
		{name: cfg.Control.Topic, role: "control", compacted: "model descriptors", partitions: 1, create: 1, minMessage: MaxRecordBytes},
		{name: cfg.StateTopic, role: "learned state", compacted: "learned state", create: p, minMessage: MaxRecordBytes},
	}
	if !cfg.Ingress.Disabled {
		for _, t := range cfg.Ingress.Topics {
			specs = append(specs, topicSpec{name: t, role: "input", create: p})
		}
		specs = append(specs,
			topicSpec{name: cfg.Ingress.Predictions, role: "predictions", create: p},
			topicSpec{name: cfg.Ingress.DeadLetter, role: "dead letters", create: p},
			topicSpec{name: cfg.Ingress.Shadow, role: "shadow predictions", create: p})
	}
	if specs[0].name == "" {
		specs[0].name = "actorserve.models"
	}
	// A topic named twice (e.g. dead letters written to an input topic)
	// is created and checked once, with the stricter settings first.
	var out []topicSpec
	for _, s := range specs {
		if !slices.ContainsFunc(out, func(o topicSpec) bool { return o.name == s.name }) {
			out = append(out, s)
		}
	}
	return out
}

// topicAdmin is what ensureTopics needs of Kafka.
type topicAdmin struct {
	cl      *kgo.Client
	adm     *kadm.Client
	brokers []string
	create  bool
	logger  *slog.Logger
}

// ensureTopics creates the topics a node needs that are missing (when
// cfg.Topics.Create) and verifies the settings of every one, before the
// node reads or writes any: a compacted topic that is not compacted would
// lose descriptors or learned state to retention, a control topic of
// several partitions would lose their order, and a max.message.bytes below
// MaxRecordBytes would refuse large descriptors and checkpoints (the node
// raises it when it may manage topics). A wrong setting fails the start
// with an error naming the topic, the setting, what it is, what it must be
// and how to fix it; every wrong topic is reported at once.
func ensureTopics(ctx context.Context, cfg *NodeConfig, logger *slog.Logger) error {
	cl, err := kgo.NewClient(append(slices.Clone(cfg.kafkaOpts), kgo.SeedBrokers(cfg.Brokers...))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ta := topicAdmin{cl: cl, adm: kadm.NewClient(cl), brokers: cfg.Brokers, create: cfg.Topics.Create, logger: logger.With("component", "topics")}
	specs := neededTopics(cfg)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	details, err := ta.adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("kafka %s: list topics: %w", strings.Join(cfg.Brokers, ","), err)
	}
	var errs []error
	for _, s := range specs {
		if err := ta.ensure(ctx, s, details[s.name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ensure creates topic s if it is missing (d says how it is now) and
// verifies it.
func (ta topicAdmin) ensure(ctx context.Context, s topicSpec, d kadm.TopicDetail) error {
	exists := d.Topic != "" && !errors.Is(d.Err, kerr.UnknownTopicOrPartition)
	if exists && d.Err != nil {
		return fmt.Errorf("topic %q (%s): %w: the node must be allowed to describe it", s.name, s.role, d.Err)
	}
	if !exists {
		if !ta.create {
			return fmt.Errorf("topic %q (%s) does not exist and --create-topics=false: create it%s", s.name, s.role, s.settings())
		}
		configs := s.configs()
		resp, err := ta.adm.CreateTopic(ctx, s.create, -1, configs, s.name)
		if err == nil && resp.Err != nil {
			err = resp.Err
			if resp.ErrMessage != "" {
				err = fmt.Errorf("%w: %s", err, resp.ErrMessage)
			}
		}
		switch {
		case err == nil:
			// Created with the settings of s: nothing to verify.
			ta.logger.Info("created topic", "topic", s.name, "role", s.role, "partitions", s.create, "configs", flat(configs))
			return nil
		case errors.Is(err, kerr.TopicAlreadyExists):
			// Another node created it a moment ago: verify it.
			if d, err = ta.awaitTopic(ctx, s.name); err != nil {
				return fmt.Errorf("topic %q (%s) was created by someone else but cannot be described: %w", s.name, s.role, err)
			}
		default:
			return fmt.Errorf("topic %q (%s) does not exist and the node could not create it (%v): create it%s", s.name, s.role, err, s.settings())
		}
	}
	return ta.verify(ctx, s, d)
}

// awaitTopic describes topic, which exists but may not be in the
// metadata of every broker yet or lack leaders, bypassing the client's
// metadata cache (which may remember the topic as unknown).
func (ta topicAdmin) awaitTopic(ctx context.Context, topic string) (kadm.TopicDetail, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, ta.cl)
		if err == nil {
			err = kerr.UnknownTopicOrPartition
			for _, t := range resp.Topics {
				if t.Topic != nil && *t.Topic == topic {
					if err = kerr.ErrorForCode(t.ErrorCode); err == nil {
						d := kadm.TopicDetail{Topic: topic, Partitions: kadm.PartitionDetails{}}
						for _, p := range t.Partitions {
							d.Partitions[p.Partition] = kadm.PartitionDetail{Topic: topic, Partition: p.Partition}
						}
						return d, nil
					}
				}
			}
		}
		if !kerr.IsRetriable(err) { // retriable: unknown topic, no leader yet
			return kadm.TopicDetail{}, err
		}
		select {
		case <-ctx.Done():
			return kadm.TopicDetail{}, err
		case <-tick.C:
		}
	}
}

// verify checks the partitions and configs of the existing topic s.
func (ta topicAdmin) verify(ctx context.Context, s topicSpec, d kadm.TopicDetail) error {
	var errs []error
	if s.partitions > 0 && len(d.Partitions) != int(s.partitions) {
		errs = append(errs, fmt.Errorf("topic %q (%s): partitions is %d, want %d (a model's descriptors must stay in order); recreate it%s and deploy the models again",
			s.name, s.role, len(d.Partitions), s.partitions, s.settings()))
	}
	if s.compacted == "" && s.minMessage == 0 {
		return errors.Join(errs...)
	}
	rcs, err := ta.adm.DescribeTopicConfigs(ctx, s.name)
	if err == nil {
		var rc kadm.ResourceConfig
		rc, err = rcs.On(s.name, nil)
		if err == nil {
			err = rc.Err
		}
		if err == nil {
			return errors.Join(append(errs, ta.checkConfigs(ctx, s, rc))...)
		}
	}
	return errors.Join(append(errs, fmt.Errorf("topic %q (%s): describe its configs: %w: the node must be allowed to describe them, to verify cleanup.policy and max.message.bytes", s.name, s.role, err))...)
}

// checkConfigs checks cleanup.policy and max.message.bytes of topic s.
func (ta topicAdmin) checkConfigs(ctx context.Context, s topicSpec, rc kadm.ResourceConfig) error {
	values := map[string]string{}
	for _, c := range rc.Configs {
		values[c.Key] = c.MaybeValue()
	}
	var errs []error
	if s.compacted != "" {
		if p := values["cleanup.policy"]; !slices.Contains(strings.Split(p, ","), "compact") {
			errs = append(errs, fmt.Errorf("topic %q (%s): cleanup.policy is %q, want \"compact\" (%s would be deleted by retention); fix it with %s",
				s.name, s.role, p, s.compacted, ta.fixCommand(s.name, "cleanup.policy=compact")))
		}
	}
	if s.minMessage == 0 {
		return errors.Join(errs...)
	}
	raw, ok := values["max.message.bytes"]
	if !ok {
		ta.logger.Warn("topic configs lack max.message.bytes; not verified", "topic", s.name, "want_at_least", s.minMessage)
		return errors.Join(errs...)
	}
	got, err := strconv.Atoi(raw)
	if err == nil && got >= s.minMessage {
		return errors.Join(errs...)
	}
	why := fmt.Sprintf("descriptors with inline model bytes and learned state up to %d MiB would be refused", s.minMessage>>20)
	want := "max.message.bytes=" + strconv.Itoa(s.minMessage)
	if !ta.create {
		return errors.Join(append(errs, fmt.Errorf("topic %q (%s): max.message.bytes is %q, want at least %d (%s); fix it with %s, or let the node do it (--create-topics=true)",
			s.name, s.role, raw, s.minMessage, why, ta.fixCommand(s.name, want)))...)
	}
	// Raising the limit loses nothing, so a node that manages its topics
	// does it.
	resp, err := ta.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr(strconv.Itoa(s.minMessage))}}, s.name)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = resp.On(s.name, nil); err == nil && r.Err != nil {
			err = r.Err
			if r.ErrMessage != "" {
				err = fmt.Errorf("%w: %s", err, r.ErrMessage)
			}
		}
	}
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("topic %q (%s): max.message.bytes is %q, want at least %d (%s), and the node could not raise it (%v); fix it with %s",
			s.name, s.role, raw, s.minMessage, why, err, ta.fixCommand(s.name, want)))...)
	}
	ta.logger.Info("raised the topic's max.message.bytes", "topic", s.name, "role", s.role, "was", raw, "now", s.minMessage)
	return errors.Join(errs...)
}

// fixCommand is the kafka-configs command that sets config on topic.
func (ta topicAdmin) fixCommand(topic, config string) string {
	bootstrap := "<broker>"
	if len(ta.brokers) > 0 {
		bootstrap = ta.brokers[0]
	}
	return fmt.Sprintf("kafka-configs.sh --bootstrap-server %s --alter --entity-type topics --entity-name %s --add-config %s", bootstrap, topic, config)
}

// configs are the topic configs s is created with.
func (s topicSpec) configs() map[string]*string {
	configs := map[string]*string{}
	if s.compacted != "" {
		configs["cleanup.policy"] = kadm.StringPtr("compact")
	}
	if s.minMessage > 0 {
		configs["max.message.bytes"] = kadm.StringPtr(strconv.Itoa(s.minMessage))
	}
	return configs
}

// settings says how to create s, for an error: " with 1 partition,
// cleanup.policy=compact, ...".
func (s topicSpec) settings() string {
	n := s.create
	if s.partitions > 0 {
		n = s.partitions
	}
	parts := []string{fmt.Sprintf("%d partitions", n)}
	if n == 1 {
		parts[0] = "1 partition"
	}
	if s.partitions == 0 {
		parts[0] += " (or the count you want)"
	}
	parts = append(parts, strings.Split(flat(s.configs()), ",")...)
	return " with " + strings.Join(slices.DeleteFunc(parts, func(p string) bool { return p == "" }), ", ")
}

func flat(m map[string]*string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+*v)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
