package app

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// TracingConfig turns on OpenTelemetry spans for the HTTP API and the
// Kafka ingress (off by default): with an OTLP/HTTP endpoint, spans go to
// that collector; trace context comes in through the standard W3C
// propagators (traceparent, tracestate, baggage) on HTTP requests and
// Kafka record headers.
type TracingConfig struct {
	Endpoint    string  // OTLP/HTTP traces endpoint, e.g. http://collector:4318
	SampleRatio float64 // share of new traces (no sampled parent) recorded
	// Exporter, for tests, receives the spans instead of an endpoint.
	Exporter sdktrace.SpanExporter
}

func (c *TracingConfig) registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Endpoint, "otlp-endpoint", c.Endpoint, "send OpenTelemetry spans of HTTP requests and ingress batches to this OTLP/HTTP endpoint (e.g. http://collector:4318); off when empty")
	fs.Float64Var(&c.SampleRatio, "trace-sample-ratio", c.SampleRatio, "share of new traces recorded (a sampled parent from traceparent is always followed)")
}

func (c *TracingConfig) validate() error {
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("--trace-sample-ratio %v is outside 0..1", c.SampleRatio)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--otlp-endpoint %q: want an http(s)://host:port URL", c.Endpoint)
		}
	}
	return nil
}

// start returns the node's tracer (nil when tracing is off) and a function
// that flushes and stops it.
func (c *TracingConfig) start(node string) (trace.Tracer, func(), error) {
	exp := c.Exporter
	if exp == nil && c.Endpoint == "" {
		return nil, func() {}, nil
	}
	if exp == nil {
		u, _ := url.Parse(c.Endpoint)
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
		if u.Scheme == "http" {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if u.Path != "" && u.Path != "/" {
			opts = append(opts, otlptracehttp.WithURLPath(u.Path))
		}
		var err error
		if exp, err = otlptracehttp.New(context.Background(), opts...); err != nil {
			return nil, nil, fmt.Errorf("otlp exporter: %w", err)
		}
	}
	export := sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(4096)) // bounded: spans beyond it are dropped, not queued
	if c.Exporter != nil {
		export = sdktrace.WithSyncer(exp) // tests read spans as they end
	}
	tp := sdktrace.NewTracerProvider(
		export,
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("actorserve"), semconv.ServiceInstanceID(node))),
	)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
	}
	return tp.Tracer("github.com/actorserve/actorserve"), stop, nil
}
