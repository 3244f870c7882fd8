package app

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTracingSpans: with tracing on, an HTTP call carrying a traceparent
// gets a server span in the caller's trace (a child of its span), and an
// event read from Kafka with a traceparent gets the span of its batch in
// that trace; with tracing off (the default) nothing is recorded and
// predictions still carry the header.
func TestTracingSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	b := ingBroker(t)
	n := ingStartNode(t, b.Addrs(), "tr1", nil, func(c *NodeConfig) {
		c.Tracing.Exporter, c.Tracing.SampleRatio = exp, 0 // only sampled parents are recorded
	})
	ingDeploy(t, n, "m", ingLinear([]string{"a", "b"}, nil, [][]float64{{2, -3}}, []float64{0.5}, "identity"))

	const httpTrace, httpParent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("POST", "http://"+n.HTTPAddr()+"/v1/models/m/predict", bytes.NewReader([]byte(`{"id":"h1","features":{"a":1,"b":2}}`)))
	req.Header.Set("traceparent", "00-"+httpTrace+"-"+httpParent+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("predict: %v %v", err, resp)
	}
	resp.Body.Close()
	// A call without a sampled parent is not recorded at ratio 0.
	resp, err = http.Post("http://"+n.HTTPAddr()+"/v1/models/m/predict", "application/json", bytes.NewReader([]byte(`{"id":"h2","features":{"a":1,"b":2}}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	const kafkaTrace, kafkaParent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	w := ingWatch(t, b.Addrs())
	ingProduce(t, ingProducer(t, b.Addrs()), ingEvent("m", ingJSON(map[string]any{"id": "k1", "features": map[string]any{"a": 1, "b": 1}}),
		kgo.RecordHeader{Key: "traceparent", Value: []byte("00-" + kafkaTrace + "-" + kafkaParent + "-01")}))
	ingEventually(t, 20*time.Second, func() error {
		if len(w.predictions()) < 1 {
			return fmt.Errorf("no prediction yet")
		}
		return nil
	})
	find := func(name, traceID, parent string) error {
		for _, s := range exp.GetSpans() {
			if s.Name == name && s.SpanContext.TraceID().String() == traceID && s.Parent.SpanID().String() == parent {
				return nil
			}
		}
		var names []string
		for _, s := range exp.GetSpans() {
			names = append(names, fmt.Sprintf("%s trace %s parent %s", s.Name, s.SpanContext.TraceID(), s.Parent.SpanID()))
		}
		return fmt.Errorf("no span %q in trace %s under %s; spans: %v", name, traceID, parent, names)
	}
	ingEventually(t, 10*time.Second, func() error {
		if err := find("POST /v1/models/{id}/predict", httpTrace, httpParent); err != nil {
			return err
		}
		return find("score m", kafkaTrace, kafkaParent)
	})
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() != httpTrace && s.SpanContext.TraceID().String() != kafkaTrace {
			t.Errorf("span %q of an unsampled trace %s was recorded", s.Name, s.SpanContext.TraceID())
		}
		if s.SpanKind != trace.SpanKindServer && s.SpanKind != trace.SpanKindConsumer {
			t.Errorf("span %q kind %v", s.Name, s.SpanKind)
		}
	}
	if p := w.predictions()[0]; p.Headers["traceparent"] != "00-"+kafkaTrace+"-"+kafkaParent+"-01" {
		t.Errorf("the prediction's traceparent %q", p.Headers["traceparent"])
	}
}
