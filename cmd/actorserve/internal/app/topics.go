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
)

// TopicsConfig says whether a node creates the topics it needs.
type TopicsConfig struct {
	// Create makes a node create missing topics at start; false only
	// verifies them (for operators who manage topics themselves).
	Create bool
	// Partitions is the partition count of topics a node creates (input,
	// output and state topics; the control topic always has one).
	Partitions int
}

func (c *TopicsConfig) registerFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Create, "create-topics", c.Create, "create missing Kafka topics at start (false: only verify them)")
	fs.IntVar(&c.Partitions, "topic-partitions", c.Partitions, "partitions of the topics a node creates")
}

// topicSpec is one topic a node needs and the settings it must have.
type topicSpec struct {
	name       string
	role       string
	compacted  bool
	partitions int32 // exactly this many (0: any)
	create     int32 // partitions when created
	minMessage int   // max.message.bytes it should allow (0: no need)
}

// neededTopics lists the topics of cfg.
func neededTopics(cfg *NodeConfig) []topicSpec {
	p := int32(max(1, cfg.Topics.Partitions))
	specs := []topicSpec{
		{name: cfg.Control.Topic, role: "control (model descriptors)", compacted: true, partitions: 1, create: 1, minMessage: MaxRecordBytes},
		{name: cfg.StateTopic, role: "learned state", compacted: true, create: p, minMessage: MaxRecordBytes},
	}
	if !cfg.Ingress.Disabled {
		for _, t := range cfg.Ingress.Topics {
			specs = append(specs, topicSpec{name: t, role: "input", create: p})
		}
		specs = append(specs,
			topicSpec{name: cfg.Ingress.Predictions, role: "predictions", create: p},
			topicSpec{name: cfg.Ingress.DeadLetter, role: "dead letters", create: p})
	}
	if specs[0].name == "" {
		specs[0].name = "actorserve.models"
	}
	return specs
}

// ensureTopics creates the topics a node needs that are missing (when
// allowed) and verifies the settings of every one: a compacted topic that
// is not compacted would lose descriptors or learned state to retention,
// and a control topic of several partitions would lose their order. A
// wrong setting fails the start with an error naming the topic, the
// setting, what it is and what it must be. A max.message.bytes below what
// inline models and learned state may need is logged, not fatal.
func ensureTopics(ctx context.Context, cfg *NodeConfig, logger *slog.Logger) error {
	cl, err := kgo.NewClient(append(slices.Clone(cfg.kafkaOpts), kgo.SeedBrokers(cfg.Brokers...))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	specs := neededTopics(cfg)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("kafka %s: list topics: %w", strings.Join(cfg.Brokers, ","), err)
	}
	var errs []error
	for _, s := range specs {
		d, exists := details[s.name]
		if exists && errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			exists = false
		}
		if exists && d.Err != nil {
			errs = append(errs, fmt.Errorf("topic %q (%s): %w", s.name, s.role, d.Err))
			continue
		}
		if !exists {
			if !cfg.Topics.Create {
				errs = append(errs, fmt.Errorf("topic %q (%s) does not exist and --create-topics=false: create it%s", s.name, s.role, s.settings()))
				continue
			}
			configs := map[string]*string{}
			if s.compacted {
				configs["cleanup.policy"] = kadm.StringPtr("compact")
			}
			if s.minMessage > 0 {
				configs["max.message.bytes"] = kadm.StringPtr(strconv.Itoa(s.minMessage))
			}
			resp, err := adm.CreateTopic(ctx, s.create, -1, configs, s.name)
			if err == nil {
				err = resp.Err
			}
			switch {
			case err == nil:
				logger.Info("created topic", "topic", s.name, "role", s.role, "partitions", s.create, "configs", flat(configs))
				continue
			case errors.Is(err, kerr.TopicAlreadyExists):
				// Another node created it a moment ago: verify it below.
			default:
				errs = append(errs, fmt.Errorf("topic %q (%s) does not exist and could not be created (%v): create it%s", s.name, s.role, err, s.settings()))
				continue
			}
			if details, err = adm.ListTopics(ctx, names...); err != nil {
				return fmt.Errorf("kafka: list topics: %w", err)
			}
			d = details[s.name]
		}
		if s.partitions > 0 && len(d.Partitions) != int(s.partitions) {
			errs = append(errs, fmt.Errorf("topic %q (%s) has %d partitions, want %d (a model's descriptors must stay in order); recreate it with %d", s.name, s.role, len(d.Partitions), s.partitions, s.partitions))
		}
		if !s.compacted && s.minMessage == 0 {
			continue
		}
		rcs, err := adm.DescribeTopicConfigs(ctx, s.name)
		if err != nil {
			return fmt.Errorf("kafka: describe the configs of topic %q: %w", s.name, err)
		}
		rc, err := rcs.On(s.name, nil)
		if err != nil || rc.Err != nil {
			errs = append(errs, fmt.Errorf("topic %q (%s): describe configs: %v", s.name, s.role, errors.Join(err, rc.Err)))
			continue
		}
		values := map[string]string{}
		for _, c := range rc.Configs {
			values[c.Key] = c.MaybeValue()
		}
		if s.compacted && !strings.Contains(values["cleanup.policy"], "compact") {
			errs = append(errs, fmt.Errorf("topic %q (%s): cleanup.policy is %q, want \"compact\" (with delete, retention would remove what it keeps); fix it with kafka-configs --alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact", s.name, s.role, values["cleanup.policy"], s.name))
		}
		if v, err := strconv.Atoi(values["max.message.bytes"]); s.minMessage > 0 && err == nil && v < s.minMessage {
			logger.Warn("topic allows smaller records than inline models and learned state may need; larger ones will be refused",
				"topic", s.name, "max.message.bytes", v, "want", s.minMessage)
		}
	}
	return errors.Join(errs...)
}

func (s topicSpec) settings() string {
	var parts []string
	if s.create > 0 {
		n := s.create
		if s.partitions > 0 {
			n = s.partitions
		}
		parts = append(parts, fmt.Sprintf("%d partitions", n))
	}
	if s.compacted {
		parts = append(parts, "cleanup.policy=compact")
	}
	if s.minMessage > 0 {
		parts = append(parts, fmt.Sprintf("max.message.bytes=%d", s.minMessage))
	}
	if len(parts) == 0 {
		return ""
	}
	return " with " + strings.Join(parts, ", ")
}

func flat(m map[string]*string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+*v)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}
