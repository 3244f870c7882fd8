package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// bareKafka starts a broker with no topics and no automatic creation, as
// a managed Kafka usually is (the embedded broker seeds the topics and
// creates any topic a client asks for), and an admin client of it.
func bareKafka(t *testing.T) (*kfake.Cluster, []string, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, c.ListenAddrs(), kadm.NewClient(cl)
}

func startOn(t *testing.T, brokers []string, adjust func(*NodeConfig)) (*Node, error) {
	t.Helper()
	cfg := DefaultNodeConfig()
	cfg.Brokers = brokers
	cfg.Cluster.Gossip, cfg.Cluster.Remote, cfg.HTTP.Listen, cfg.Cluster.Name = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "tp"
	if adjust != nil {
		adjust(&cfg)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	n, err := StartNodeWith(ctx, cfg, nil, ingLogger(t))
	if err == nil {
		t.Cleanup(n.Close)
	}
	return n, err
}

// topicConfigs returns the configs of topic.
func topicConfigs(t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe configs of %s: %v %v", topic, err, rc.Err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		got[c.Key] = c.MaybeValue()
	}
	return got
}

// TestNodeCreatesItsTopics: on a Kafka without the topics, a node creates
// them with the settings they need (compacted control and state topics,
// one control partition, room for large records) and serves.
func TestNodeCreatesItsTopics(t *testing.T) {
	_, brokers, adm := bareKafka(t)
	n, err := startOn(t, brokers, func(c *NodeConfig) { c.Topics.Partitions = 4 })
	if err != nil {
		t.Fatalf("start on a Kafka without topics: %v", err)
	}
	ctx := t.Context()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"actorserve.models": 1, "actorserve.state": 4, "actorserve.events": 4, "actorserve.predictions": 4, "actorserve.deadletter": 4}
	for topic, parts := range want {
		d, ok := td[topic]
		if !ok {
			t.Errorf("topic %s was not created", topic)
			continue
		}
		if len(d.Partitions) != parts {
			t.Errorf("topic %s has %d partitions, want %d", topic, len(d.Partitions), parts)
		}
	}
	for _, topic := range []string{"actorserve.models", "actorserve.state"} {
		if _, ok := td[topic]; !ok {
			continue
		}
		got := topicConfigs(t, adm, topic)
		if got["cleanup.policy"] != "compact" || got["max.message.bytes"] != "16777216" {
			t.Errorf("topic %s: cleanup.policy %q, max.message.bytes %q; want compact and 16777216", topic, got["cleanup.policy"], got["max.message.bytes"])
		}
	}
	// And it works: a deploy lands in the control topic it created.
	ingDeploy(t, n, "m", ingLinear([]string{"a"}, nil, [][]float64{{1}}, []float64{0}, "identity"))
}

// TestNodeRefusesWrongTopics: a node does not start on topics whose
// settings would lose data or refuse its records, and says which topic and
// setting is wrong, what it is and what it must be; a missing topic it may
// not create is an error naming it and the settings to create it with.
func TestNodeRefusesWrongTopics(t *testing.T) {
	small := map[string]*string{"cleanup.policy": kadm.StringPtr("compact"), "max.message.bytes": kadm.StringPtr("1048588")}
	noCreate := func(c *NodeConfig) { c.Topics.Create = false }
	refuse := func(key kmsg.Key, code int16) func(*kfake.Cluster) {
		return func(c *kfake.Cluster) {
			c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				switch req := req.(type) {
				case *kmsg.CreateTopicsRequest:
					resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
					for _, rt := range req.Topics {
						st := kmsg.NewCreateTopicsResponseTopic()
						st.Topic, st.ErrorCode = rt.Topic, code
						resp.Topics = append(resp.Topics, st)
					}
					return resp, nil, true
				case *kmsg.IncrementalAlterConfigsRequest:
					resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
					for _, rr := range req.Resources {
						sr := kmsg.NewIncrementalAlterConfigsResponseResource()
						sr.ResourceType, sr.ResourceName, sr.ErrorCode = rr.ResourceType, rr.ResourceName, code
						resp.Resources = append(resp.Resources, sr)
					}
					return resp, nil, true
				}
				return nil, nil, false
			})
		}
	}
	for _, tc := range []struct {
		name    string
		topics  map[string]int32 // created before the node starts, with configs
		configs map[string]*string
		broker  func(*kfake.Cluster)
		adjust  func(*NodeConfig)
		want    []string
	}{
		{"control topic not compacted", map[string]int32{"actorserve.models": 1}, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, nil, nil,
			[]string{`topic "actorserve.models"`, `cleanup.policy is "delete", want "compact"`, "model descriptors would be deleted by retention", "kafka-configs.sh", "--add-config cleanup.policy=compact"}},
		{"control topic with 3 partitions", map[string]int32{"actorserve.models": 3}, small, nil, nil,
			[]string{`topic "actorserve.models"`, "partitions is 3, want 1"}},
		{"state topic compact,delete is compacted", map[string]int32{"actorserve.state": 6}, map[string]*string{"cleanup.policy": kadm.StringPtr("compact,delete")}, nil, nil,
			nil}, // starts
		{"state topic delete only", map[string]int32{"actorserve.state": 6}, map[string]*string{"max.message.bytes": kadm.StringPtr("16777216")}, nil, nil,
			[]string{`topic "actorserve.state"`, `cleanup.policy is "delete"`, "learned state would be deleted"}},
		{"max.message.bytes too small, not to be fixed", map[string]int32{"actorserve.models": 1}, small, nil, noCreate,
			[]string{`topic "actorserve.models"`, `max.message.bytes is "1048588", want at least 16777216`, "--add-config max.message.bytes=16777216"}},
		{"max.message.bytes too small, raising refused", map[string]int32{"actorserve.models": 1}, small, refuse(kmsg.IncrementalAlterConfigs, kerr.TopicAuthorizationFailed.Code), nil,
			[]string{`topic "actorserve.models"`, `max.message.bytes is "1048588"`, "could not raise it", "TOPIC_AUTHORIZATION_FAILED"}},
		{"missing and not to be created", nil, nil, nil, noCreate,
			[]string{`topic "actorserve.models" (control) does not exist`, "--create-topics=false", "1 partition, cleanup.policy=compact, max.message.bytes=16777216", `topic "actorserve.events"`}},
		{"missing and creation refused", nil, nil, refuse(kmsg.CreateTopics, kerr.PolicyViolation.Code), nil,
			[]string{`topic "actorserve.models" (control) does not exist`, "could not create it", "POLICY_VIOLATION", "create it with 1 partition, cleanup.policy=compact", `topic "actorserve.deadletter"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, brokers, adm := bareKafka(t)
			for topic, parts := range tc.topics {
				if _, err := adm.CreateTopic(t.Context(), parts, -1, tc.configs, topic); err != nil {
					t.Fatal(err)
				}
			}
			if tc.broker != nil {
				tc.broker(c)
			}
			_, err := startOn(t, brokers, tc.adjust)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("the node did not start: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("the node started")
			}
			t.Logf("start failed as it should: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestNodeRaisesTopicMaxMessageBytes: a node that manages its topics raises a
// control or state topic's max.message.bytes that is too small (it loses
// nothing), and then takes a descriptor larger than Kafka's default 1 MiB.
func TestNodeRaisesTopicMaxMessageBytes(t *testing.T) {
	_, brokers, adm := bareKafka(t)
	if _, err := adm.CreateTopic(t.Context(), 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, "actorserve.models"); err != nil {
		t.Fatal(err)
	}
	if got := topicConfigs(t, adm, "actorserve.models")["max.message.bytes"]; got != "1048588" {
		t.Fatalf("before: max.message.bytes %q, want the default 1048588", got)
	}
	n, err := startOn(t, brokers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := topicConfigs(t, adm, "actorserve.models")["max.message.bytes"]; got != "16777216" {
		t.Errorf("after: max.message.bytes %q, want 16777216", got)
	}
	if err := n.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	ingDeploy(t, n, "big", bigLinear(100000))
}

// TestEmbeddedBrokerTopicsSuitANode: the embedded broker seeds topics a
// node takes as they are, without creating or changing any, and its
// control topic takes a descriptor larger than Kafka's default 1 MiB.
func TestEmbeddedBrokerTopicsSuitANode(t *testing.T) {
	b := ingBroker(t)
	n, err := startOn(t, b.Addrs(), func(c *NodeConfig) { c.Topics.Create = false })
	if err != nil {
		t.Fatalf("a node that only verifies refuses the embedded broker's topics: %v", err)
	}
	if err := n.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	ingDeploy(t, n, "big", bigLinear(100000))
}

// TestNodesStartingTogetherShareTheTopics: nodes that start at once on a
// Kafka without the topics all start, whichever of them creates a topic.
func TestNodesStartingTogetherShareTheTopics(t *testing.T) {
	_, brokers, adm := bareKafka(t)
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := startOn(t, brokers, func(c *NodeConfig) { c.Cluster.Name = fmt.Sprintf("tp%d", i) })
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("a node did not start: %v", err)
		}
	}
	if got := topicConfigs(t, adm, "actorserve.models"); got["cleanup.policy"] != "compact" {
		t.Errorf("control topic cleanup.policy %q", got["cleanup.policy"])
	}
}

// bigLinear is a linear model descriptor with features inline features,
// about 30 bytes of JSON each; its random coefficients keep the record
// large after the producer's compression.
func bigLinear(features int) map[string]any {
	rng := rand.New(rand.NewPCG(1, 2))
	names := make([]string, features)
	coef := make([]float64, features)
	for i := range names {
		names[i] = fmt.Sprintf("f%06d", i)
		coef[i] = rng.Float64()
	}
	return ingLinear(names, nil, [][]float64{coef}, []float64{0}, "identity")
}
