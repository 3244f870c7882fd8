package app

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/serving"
)

// batchDelayModel takes two features, sleeps delay per call of
// PredictBatch (a model whose cost is per batch, like a remote call or a
// GPU kernel launch), counts its batches and predicts the first feature.
type batchDelayModel struct {
	delay   time.Duration
	batches *atomic.Int64
	events  *atomic.Int64
}

func (batchDelayModel) NumFeatures() int { return 2 }

func (m batchDelayModel) Predict(x []float64) (serving.Prediction, error) {
	v := x[0]
	return serving.Prediction{Value: &v}, nil
}

func (m batchDelayModel) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	time.Sleep(m.delay)
	m.batches.Add(1)
	m.events.Add(int64(len(xs)))
	for i, x := range xs {
		out[i], errs[i] = m.Predict(x)
	}
	return nil
}

// TestIngressOverloadedModelDeliversItsCapacity reproduces an overload
// collapse: events keyed by event id reach one frozen model from every
// partition, so each partition has a batch at the model at once; the
// model takes 30 ms per batch and the ingress gives a batch 150 ms. Six
// batches queued behind each other miss that deadline, and before the fix
// the actor still ran every expired batch while the partitions sent their
// next ones at once: almost every event became a "timeout" dead letter.
// Now a request carries its deadline, the actor sheds a batch it cannot
// finish in time without running it, and the partition backs off and
// sends the events again (in larger batches): every event is predicted
// exactly once and none is a dead letter.
func TestIngressOverloadedModelDeliversItsCapacity(t *testing.T) {
	const events = 6000
	var batches, scored atomic.Int64
	b := ingBroker(t)
	reg := ingRegistry(map[string]serving.Loader{
		"batchdelay": func(*serving.Descriptor) (serving.Model, error) {
			return batchDelayModel{delay: 30 * time.Millisecond, batches: &batches, events: &scored}, nil
		},
	})
	n := ingStartNode(t, b.Addrs(), "o1", reg, func(c *NodeConfig) {
		c.Ingress.RequestTimeout = 150 * time.Millisecond
		c.Ingress.MaxBatch = 64
	})
	w := ingWatch(t, b.Addrs())
	ingDeploy(t, n, "slow", map[string]any{"format": "batchdelay", "features": []string{"a", "b"}})

	// A long linger puts many events in each record batch, so every
	// partition reads a backlog at once.
	prod := ingProducer(t, b.Addrs(), kgo.ProducerLinger(100*time.Millisecond))
	recs := make([]*kgo.Record, events)
	parts := map[int32]bool{}
	for i := range recs {
		id := fmt.Sprintf("o-%d", i)
		recs[i] = ingEvent(id, ingJSON(map[string]any{"id": id, "model": "slow", "features": []float64{float64(i), 0}}))
		parts[ingPartitionOf(id)] = true
	}
	if len(parts) != ingEventPartitions {
		t.Fatalf("events reach %d of %d partitions", len(parts), ingEventPartitions)
	}
	start := time.Now()
	ingProduce(t, prod, recs...)

	ingEventually(t, 60*time.Second, func() error {
		got, dead := w.countModel("slow"), len(w.deadLetters())
		if got+dead < events {
			return fmt.Errorf("%d predictions and %d dead letters of %d events", got, dead, events)
		}
		return nil
	})
	elapsed := time.Since(start)
	st := n.Ingress.Stats()
	t.Logf("%d events in %v: %d predictions, %d dead letters %v; the model ran %d batches (%d events, %.1f per batch); ingress retries after shedding: %d",
		events, elapsed.Round(time.Millisecond), w.countModel("slow"), len(w.deadLetters()), st.DeadLetters,
		batches.Load(), scored.Load(), float64(scored.Load())/float64(max(1, batches.Load())), st.Overloaded)
	if d := w.deadLetters(); len(d) > 0 {
		t.Errorf("%d dead letters, want none; first: reason %q error %q", len(d), d[0].Headers["reason"], d[0].Headers["error"])
	}
	if dup := w.duplicates(); len(dup) > 0 {
		t.Errorf("%d event ids with duplicate predictions, e.g. %v", len(dup), ingFirstOf(dup))
	}
	for i := 0; i < events; i += 97 {
		if c := w.countIDModel(fmt.Sprintf("o-%d", i), "slow"); c != 1 {
			t.Errorf("event o-%d has %d predictions", i, c)
		}
	}
	// The model did work almost only for events that were answered: a
	// shed batch is never run, an expired one is not run after its
	// deadline. (A batch whose 30 ms sleep overran the estimate by a
	// hair may still finish late: allow three batches of that.)
	if wasted := scored.Load() - events; wasted > 3*64 {
		t.Errorf("the model scored %d events more than were predicted: it ran batches nobody waited for", wasted)
	}
	if st.Overloaded == 0 {
		t.Errorf("no batch was shed: the model was never overloaded, the test proves nothing")
	}
}

// TestIngressTooSlowModelTimesOut: a model slower than the whole deadline
// is not overloaded but too slow. Its batches are not shed for ever (that
// would hold its partition with no output): each is sent three times in
// all and then its events become "timeout" dead letters, and the stream
// goes on behind them.
func TestIngressTooSlowModelTimesOut(t *testing.T) {
	var batches, scored atomic.Int64
	b := ingBroker(t)
	reg := ingRegistry(map[string]serving.Loader{
		"batchdelay": func(*serving.Descriptor) (serving.Model, error) {
			return batchDelayModel{delay: 300 * time.Millisecond, batches: &batches, events: &scored}, nil
		},
	})
	n := ingStartNode(t, b.Addrs(), "o2", reg, func(c *NodeConfig) {
		c.Ingress.RequestTimeout = 150 * time.Millisecond
	})
	w := ingWatch(t, b.Addrs())
	ingDeploy(t, n, "tooslow", map[string]any{"format": "batchdelay", "features": []string{"a", "b"}})
	prod := ingProducer(t, b.Addrs())
	const events = 3
	for i := range events {
		ingProduce(t, prod, ingEvent("tooslow", ingJSON(map[string]any{"id": fmt.Sprintf("t-%d", i), "features": []float64{1, 2}})))
	}
	ingEventually(t, 60*time.Second, func() error {
		if d := len(w.deadLetters()); d < events {
			return fmt.Errorf("%d dead letters of %d events (predictions %d, model batches %d)", d, events, w.countModel("tooslow"), batches.Load())
		}
		return nil
	})
	for _, d := range w.deadLetters() {
		if d.Headers["reason"] != "timeout" {
			t.Errorf("dead letter with reason %q (%s), want timeout", d.Headers["reason"], d.Headers["error"])
		}
	}
	st := n.Ingress.Stats()
	t.Logf("%d dead letters, %d batches run, %d resent after a timeout, %d shed", len(w.deadLetters()), batches.Load(), st.TimeoutRetries, st.Overloaded)
	if st.TimeoutRetries < 2 {
		t.Errorf("%d batches resent after a timeout, want each batch sent three times", st.TimeoutRetries)
	}
}
