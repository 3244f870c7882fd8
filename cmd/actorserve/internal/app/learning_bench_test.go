package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// produceLabelled writes n labelled events for model id, keyed by it.
func produceLabelled(tb testing.TB, cl *kgo.Client, id string, from, n int) {
	tb.Helper()
	for k := from; k < from+n; k++ {
		a, b := float64(k%13)/6-1, float64(k%7)/3-1
		label := "neg"
		if a+0.5*b > 0.1 {
			label = "pos"
		}
		v := fmt.Sprintf(`{"id":"e%d","features":{"a":%g,"b":%g},"label":%q}`, k, a, b, label)
		cl.Produce(tb.Context(), &kgo.Record{Topic: "actorserve.events", Key: []byte(id), Value: []byte(v)}, nil)
	}
	if err := cl.Flush(tb.Context()); err != nil {
		tb.Fatal(err)
	}
}

var learnerDesc = map[string]any{
	"format": "online", "features": []string{"a", "b"}, "labels": []string{"neg", "pos"},
	"learning": map[string]any{"algorithm": "arow", "task": "binary"},
}

// BenchmarkLearningStream measures a learning model fed labelled events
// through Kafka on one node: from the first event produced to the last
// one learned (reported as events/s).
func BenchmarkLearningStream(b *testing.B) {
	bk := brokertest.New(b)
	n := startTestNode(b, bk.Addrs(), "n1")
	cl := ingProducer(b, bk.Addrs())
	const events = 50000
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("learner-%d", i)
		putModel(b, n.HTTPAddr(), id, learnerDesc)
		start := time.Now()
		produceLabelled(b, cl, id, 0, events)
		clustertest.Eventually(b, 60*time.Second, func() error {
			m := getModelJSON(b, n.HTTPAddr(), id)
			if m.Learning == nil || m.Learning.Updates < events {
				return fmt.Errorf("learning %+v", m.Learning)
			}
			return nil
		})
		b.ReportMetric(events/time.Since(start).Seconds(), "events/s")
	}
}

// BenchmarkReactivation measures how long a learning model takes to answer
// again after the node hosting it dies, as a function of the labelled
// events since its last checkpoint (all of which the new activation
// replays from Kafka before it serves).
func BenchmarkReactivation(b *testing.B) {
	for _, since := range []int{0, 1000, 10000, 50000} {
		b.Run(fmt.Sprintf("since_checkpoint=%d", since), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				bk := brokertest.New(b)
				slow := func(c *NodeConfig) {
					c.Model.CheckpointEvery = 1 << 40
					c.Model.CheckpointInterval = time.Hour
				}
				n1 := ingStartNode(b, bk.Addrs(), "n1", nil, slow)
				n2 := ingStartNode(b, bk.Addrs(), "n2", nil, func(c *NodeConfig) {
					slow(c)
					c.Cluster.Join = []string{n1.Cluster.GossipAddr()}
				})
				clustertest.Eventually(b, 20*time.Second, func() error {
					if len(n1.Ingress.Stats().Partitions) == 0 || len(n2.Ingress.Stats().Partitions) == 0 {
						return fmt.Errorf("partitions not spread yet")
					}
					return nil
				})
				putModel(b, n1.HTTPAddr(), "learner", learnerDesc)
				cl := ingProducer(b, bk.Addrs())
				// 1,000 events, a checkpoint (the actor stops on a new
				// version... here: an explicit checkpoint on leave is not
				// wanted, so the first activation's replay checkpoint is it).
				produceLabelled(b, cl, "learner", 0, 1000)
				var m learningJSON
				clustertest.Eventually(b, 30*time.Second, func() error {
					m = getModelJSON(b, n1.HTTPAddr(), "learner")
					if m.Learning == nil || m.Learning.Updates < 1000 {
						return fmt.Errorf("learning %+v", m.Learning)
					}
					return nil
				})
				produceLabelled(b, cl, "learner", 1000, since)
				clustertest.Eventually(b, 60*time.Second, func() error {
					m = getModelJSON(b, n1.HTTPAddr(), "learner")
					if m.Learning == nil || m.Learning.Updates < int64(1000+since) {
						return fmt.Errorf("learning %+v", m.Learning)
					}
					return nil
				})
				owner, other := n1, n2
				if m.Node == n2.Cluster.Name() {
					owner, other = n2, n1
				}
				owner.Kill()
				// Wait until the survivor has noticed (its lookup moved the
				// model), then time the re-activation alone.
				clustertest.Eventually(b, 30*time.Second, func() error {
					if len(other.Cluster.Members()) != 1 {
						return fmt.Errorf("%s still sees %d members", other.Cluster.Name(), len(other.Cluster.Members()))
					}
					return nil
				})
				b.StartTimer()
				start := time.Now()
				clustertest.Eventually(b, 60*time.Second, func() error {
					if err := postJSONStatus(other.HTTPAddr(), "/v1/models/learner/predict", map[string]any{"features": map[string]float64{"a": 0, "b": 0}}); err != nil {
						return err
					}
					return nil
				})
				took := time.Since(start)
				b.StopTimer()
				m = getModelJSON(b, other.HTTPAddr(), "learner")
				if m.Learning == nil || m.Learning.Updates != int64(1000+since) {
					b.Fatalf("after re-activation: %+v, want %d updates", m.Learning, 1000+since)
				}
				b.ReportMetric(float64(took.Microseconds())/1000, "ms/reactivation")
				b.ReportMetric(float64(m.Learning.Replayed), "replayed")
				other.Close()
			}
		})
	}
}
