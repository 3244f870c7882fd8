package ingress

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/actorserve/actorserve/actors/msg"
)

// maxSpanLinks bounds the links of one batch span (one per traced event).
const maxSpanLinks = 128

var tracePropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// recordCarrier reads a record's headers as a propagation carrier.
type recordCarrier []kgo.RecordHeader

func (c recordCarrier) Get(key string) string {
	for _, h := range c {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
func (c recordCarrier) Set(string, string) {}
func (c recordCarrier) Keys() []string {
	out := make([]string, len(c))
	for i, h := range c {
		out[i] = h.Key
	}
	return out
}

// traceBatch starts the span of one batch sent to a model actor (when
// tracing is on): a consumer span linked to the trace context of each of
// its events (traceparent headers), or a child of it when the batch is one
// traced event. The returned function ends it with the actor's answer.
func (in *Ingress) traceBatch(model string, batch []item) func(*msg.PredictResponse, error) {
	t := in.cfg.Tracer
	if t == nil {
		return func(*msg.PredictResponse, error) {}
	}
	var links []trace.Link
	for _, it := range batch {
		if len(links) == maxSpanLinks {
			break
		}
		ctx := tracePropagator.Extract(context.Background(), recordCarrier(it.e.rec.Headers))
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx := context.Background()
	if len(batch) == 1 && len(links) == 1 {
		ctx = trace.ContextWithRemoteSpanContext(ctx, links[0].SpanContext)
		links = nil
	}
	_, span := t.Start(ctx, "score "+model, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...),
		trace.WithAttributes(attribute.String("messaging.system", "kafka"), attribute.String("actorserve.model", model),
			attribute.Int("messaging.batch.message_count", len(batch))))
	return func(resp *msg.PredictResponse, err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		} else if resp != nil {
			span.SetAttributes(attribute.String("actorserve.node", resp.Node), attribute.Int64("actorserve.version", resp.Version))
		}
		span.End()
	}
}
