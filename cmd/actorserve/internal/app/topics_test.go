package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// bareKafka starts a broker with no topics and no automatic creation, as
// a managed Kafka usually is, and an admin client of it.
func bareKafka(t *testing.T) ([]string, *kadm.Client) {
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
	return c.ListenAddrs(), kadm.NewClient(cl)
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

// TestNodeCreatesItsTopics: on a Kafka without the topics, a node creates
// them with the settings they need (compacted control and state topics,
// one control partition, room for large records) and serves.
func TestNodeCreatesItsTopics(t *testing.T) {
	brokers, adm := bareKafka(t)
	n, err := startOn(t, brokers, nil)
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
	want := map[string]int{"actorserve.models": 1, "actorserve.state": 6, "actorserve.events": 6, "actorserve.predictions": 6, "actorserve.deadletter": 6}
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
	rcs, err := adm.DescribeTopicConfigs(ctx, "actorserve.models", "actorserve.state")
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		got := map[string]string{}
		for _, c := range rc.Configs {
			got[c.Key] = c.MaybeValue()
		}
		if got["cleanup.policy"] != "compact" || got["max.message.bytes"] != "16777216" {
			t.Errorf("topic %s: cleanup.policy %q, max.message.bytes %q; want compact and 16777216", rc.Name, got["cleanup.policy"], got["max.message.bytes"])
		}
	}
	// And it works: a deploy lands in the control topic it created.
	ingDeploy(t, n, "m", ingLinear([]string{"a"}, nil, [][]float64{{1}}, []float64{0}, "identity"))
}

// TestNodeRefusesWrongTopics: a node does not start on topics whose
// settings would lose data, and says which topic and setting is wrong; with
// --create-topics=false a missing topic is an error naming it.
func TestNodeRefusesWrongTopics(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(*kadm.Client) error
		adjust func(*NodeConfig)
		want   []string
	}{
		{"control topic not compacted", func(a *kadm.Client) error {
			_, err := a.CreateTopic(t.Context(), 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, "actorserve.models")
			return err
		}, nil, []string{`"actorserve.models"`, "cleanup.policy", `"delete"`, "compact"}},
		{"control topic with 3 partitions", func(a *kadm.Client) error {
			_, err := a.CreateTopic(t.Context(), 3, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, "actorserve.models")
			return err
		}, nil, []string{`"actorserve.models"`, "3 partitions", "want 1"}},
		{"state topic not compacted", func(a *kadm.Client) error {
			_, err := a.CreateTopic(t.Context(), 6, -1, nil, "actorserve.state")
			return err
		}, nil, []string{`"actorserve.state"`, "cleanup.policy"}},
		{"missing and not to be created", func(*kadm.Client) error { return nil },
			func(c *NodeConfig) { c.Topics.Create = false }, []string{`"actorserve.models"`, "does not exist", "create-topics=false", "cleanup.policy=compact"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brokers, adm := bareKafka(t)
			if err := tc.setup(adm); err != nil {
				t.Fatal(err)
			}
			_, err := startOn(t, brokers, tc.adjust)
			if err == nil {
				t.Fatalf("the node started")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
