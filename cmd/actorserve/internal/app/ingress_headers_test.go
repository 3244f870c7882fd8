package app

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTraceContextReachesPredictions: a traceparent header on an input
// record arrives unchanged on its prediction (headers off the allow-list
// do not), and the prediction is keyed like its input, so an entity's
// predictions stay in its partition; --predictions-key-by-id keys them by
// event id instead.
func TestTraceContextReachesPredictions(t *testing.T) {
	for _, byID := range []bool{false, true} {
		t.Run(fmt.Sprintf("key-by-id=%v", byID), func(t *testing.T) {
			b := ingBroker(t)
			n := ingStartNode(t, b.Addrs(), "h1", nil, func(c *NodeConfig) { c.Ingress.KeyByID = byID })
			w := ingWatch(t, b.Addrs())
			ingDeploy(t, n, "m", ingLinear([]string{"a", "b"}, nil, [][]float64{{2, -3}}, []float64{0.5}, "identity"))
			const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			var recs []*kgo.Record
			for i := range 20 {
				recs = append(recs, ingEvent(fmt.Sprintf("card-%d", i%4),
					ingJSON(map[string]any{"model": "m", "id": fmt.Sprintf("e%d", i), "features": map[string]any{"a": i, "b": 1}}),
					kgo.RecordHeader{Key: "traceparent", Value: []byte(tp + fmt.Sprint(i%10))},
					kgo.RecordHeader{Key: "X-Secret", Value: []byte("do not copy")}))
			}
			ingProduce(t, ingProducer(t, b.Addrs()), recs...)
			ingEventually(t, 20*time.Second, func() error {
				if got := len(w.predictions()); got < 20 {
					return fmt.Errorf("%d of 20 predictions", got)
				}
				return nil
			})
			for _, p := range w.predictions() {
				var i int
				if _, err := fmt.Sscanf(p.Pred.ID, "e%d", &i); err != nil {
					t.Fatalf("prediction id %q", p.Pred.ID)
				}
				if got, want := p.Headers["traceparent"], tp+fmt.Sprint(i%10); got != want {
					t.Errorf("%s: traceparent %q, want %q", p.Pred.ID, got, want)
				}
				if _, ok := p.Headers["X-Secret"]; ok {
					t.Errorf("%s: a header off the allow-list was copied", p.Pred.ID)
				}
				want := fmt.Sprintf("card-%d", i%4)
				if byID {
					want = p.Pred.ID
				}
				if string(p.Key) != want {
					t.Errorf("%s: key %q, want %q", p.Pred.ID, p.Key, want)
				}
			}
		})
	}
}
