package app

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
	"github.com/actorserve/actorserve/actors/ingress"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// TestPlacementFollowsPartitions is issue 10's acceptance in-process: on
// three nodes, every input partition is read by the node that hosts the
// model actors keyed to it, so in the steady state batches do not cross
// nodes — with events keyed by model id (frozen and learning models) and
// with events keyed by something else (a customer id; frozen models are
// scored by the local replica on the node that read them).
func TestPlacementFollowsPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 60,000 events through three nodes")
	}
	b := brokertest.New(t)
	var nodes []*Node
	for i := range 3 {
		nodes = append(nodes, ingStartNode(t, b.Addrs(), fmt.Sprintf("n%d", i+1), nil, func(c *NodeConfig) {
			if i > 0 {
				c.Cluster.Join = []string{nodes[0].Cluster.GossipAddr()}
			}
		}))
	}
	const frozen, online = 12, 6
	for i := range frozen {
		putModel(t, nodes[0].HTTPAddr(), fmt.Sprintf("m%02d", i), regressionModel(i))
	}
	for i := range online {
		putModel(t, nodes[0].HTTPAddr(), fmt.Sprintf("o%02d", i), map[string]any{
			"format": "online", "features": []string{"x0", "x1"}, "labels": []string{"neg", "pos"},
			"learning": map[string]any{"algorithm": "pa1", "task": "binary"},
		})
	}
	// Wait until every node owns its share of the partitions and sees all
	// three members: the steady state.
	clustertest.Eventually(t, 30*time.Second, func() error {
		total := 0
		for _, n := range nodes {
			k := len(n.Ingress.Stats().Partitions)
			if k == 0 {
				return fmt.Errorf("%s owns no partition", n.Cluster.Name())
			}
			if len(n.Cluster.Members()) != 3 {
				return fmt.Errorf("%s sees %d members", n.Cluster.Name(), len(n.Cluster.Members()))
			}
			total += k
		}
		if total != 6 {
			return fmt.Errorf("%d partitions owned in all, want 6", total)
		}
		return nil
	})
	// Each partition is read by the node the cluster places its models on.
	for _, n := range nodes {
		for _, p := range n.Ingress.Stats().Partitions {
			for i := range frozen + online {
				id := fmt.Sprintf("m%02d", i)
				if i >= frozen {
					id = fmt.Sprintf("o%02d", i-frozen)
				}
				if ingress.KeyPartition([]byte(id), 6) != p.Partition {
					continue
				}
				if owner := n.Cluster.Owner("model", id); owner != n.Cluster.RemoteAddr() {
					t.Errorf("partition %d is read by %s but model %s is placed on %s", p.Partition, n.Cluster.Name(), id, owner)
				}
			}
		}
	}

	prod := ingProducer(t, b.Addrs())
	produce := func(events int, key func(k int) string, value func(k int) string) {
		for k := range events {
			prod.Produce(t.Context(), &kgo.Record{Topic: "actorserve.events", Key: []byte(key(k)), Value: []byte(value(k))}, nil)
		}
		if err := prod.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	batches := func() (all, cross int64) {
		for _, n := range nodes {
			st := n.Ingress.Stats()
			all += st.Batches
			cross += st.CrossNode
		}
		return all, cross
	}
	predictions := func() int64 {
		var p int64
		for _, n := range nodes {
			p += n.Ingress.Stats().Predictions
		}
		return p
	}
	run := func(name string, events int, key func(k int) string, value func(k int) string) {
		t.Helper()
		all0, cross0 := batches()
		p0 := predictions()
		produce(events, key, value)
		clustertest.Eventually(t, 60*time.Second, func() error {
			if got := predictions() - p0; got < int64(events) {
				return fmt.Errorf("%s: %d of %d predictions", name, got, events)
			}
			return nil
		})
		all, cross := batches()
		all, cross = all-all0, cross-cross0
		share := float64(cross) / math.Max(1, float64(all))
		t.Logf("%s: %d events, %d batches, %d crossed nodes (%.2f %%)", name, events, all, cross, 100*share)
		if share >= 0.01 {
			t.Errorf("%s: %.2f %% of batches crossed nodes in the steady state, want under 1 %%", name, 100*share)
		}
	}
	// Keyed by model id: frozen and learning models.
	run("keyed by model id", 30000, func(k int) string {
		if k%3 == 0 {
			return fmt.Sprintf("o%02d", k%online)
		}
		return fmt.Sprintf("m%02d", k%frozen)
	}, func(k int) string {
		if k%3 == 0 {
			return fmt.Sprintf(`{"id":"e%d","features":{"x0":%d,"x1":%d},"label":"%s"}`, k, k%7, k%5, []string{"neg", "pos"}[k%2])
		}
		return fmt.Sprintf(`{"id":"e%d","features":{"x0":%d,"x1":%d}}`, k, k%7, k%5)
	})
	// Keyed by a customer id, routed by the "model" field: frozen models
	// are scored where the event was read.
	run("keyed by customer id", 30000, func(k int) string { return fmt.Sprintf("customer-%d", k%997) },
		func(k int) string {
			return fmt.Sprintf(`{"model":"m%02d","id":"c%d","features":{"x0":%d,"x1":%d}}`, k%frozen, k, k%7, k%5)
		})
}
