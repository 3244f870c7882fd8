package app

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIngressHoldsEventsWhileOutputTopicsAreMissing: when the prediction
// and dead-letter topics are gone (deleted, not yet created, or the
// broker unreachable), Kafka's errors are not about the records, so no
// event may become a dead letter, be acknowledged or be committed. The
// events wait, the writes are retried, and once the topics exist again
// every event is predicted exactly as if nothing had happened.
func TestIngressHoldsEventsWhileOutputTopicsAreMissing(t *testing.T) {
	b := ingBroker(t)
	brokers := b.Addrs()
	n := ingStartNode(t, brokers, "p1", nil, nil)
	ingDeploy(t, n, "m", ingLinear([]string{"a"}, nil, [][]float64{{2}}, []float64{1}, "identity"))

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	parts := map[string]int32{}
	td, err := adm.ListTopics(ctx, ingPredictionsTopic, ingDeadLetterTopic)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range td.Sorted() {
		parts[d.Topic] = int32(len(d.Partitions))
	}
	if _, err := adm.DeleteTopics(ctx, ingPredictionsTopic, ingDeadLetterTopic); err != nil {
		t.Fatal(err)
	}

	const events = 5
	prod := ingProducer(t, brokers)
	for i := range events {
		r := ingEvent("m", ingJSON(map[string]any{"id": fmt.Sprintf("h-%d", i), "features": map[string]any{"a": i}}))
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// The writes fail and are retried; the events stay in flight.
	ingEventually(t, 30*time.Second, func() error {
		st := n.Ingress.Stats()
		if st.ProduceRetries < events {
			return fmt.Errorf("%d produce retries", st.ProduceRetries)
		}
		return nil
	})
	time.Sleep(time.Second) // a few more retries
	st := n.Ingress.Stats()
	dead := int64(0)
	for _, v := range st.DeadLetters {
		dead += v
	}
	if st.Predictions != 0 || dead != 0 || st.InFlight != events {
		t.Fatalf("while the output topics are missing: %d predictions, %d dead letters %v, %d in flight (want 0, 0, %d)",
			st.Predictions, dead, st.DeadLetters, st.InFlight, events)
	}
	for _, p := range st.Partitions {
		if p.Committed > 0 {
			t.Fatalf("partition %s/%d committed to %d with every event unwritten", p.Topic, p.Partition, p.Committed)
		}
	}

	for topic, np := range parts {
		if _, err := adm.CreateTopic(ctx, np, 1, nil, topic); err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	w := ingWatch(t, brokers)
	ingEventually(t, 30*time.Second, func() error {
		if got := len(w.predictions()); got != events {
			return fmt.Errorf("%d of %d predictions", got, events)
		}
		if st := n.Ingress.Stats(); st.InFlight != 0 {
			return fmt.Errorf("%d still in flight", st.InFlight)
		}
		return nil
	})
	for i := range events {
		if c := w.count(fmt.Sprintf("h-%d", i)); c != 1 {
			t.Errorf("event h-%d: %d outputs, want 1", i, c)
		}
	}
	if d := w.deadLetters(); len(d) != 0 {
		t.Errorf("%d dead letters", len(d))
	}
}
