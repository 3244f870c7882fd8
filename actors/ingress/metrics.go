package ingress

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descEvents      = prometheus.NewDesc("actorserve_ingress_events_total", "Input records read by this node's ingress.", nil, nil)
	descPredictions = prometheus.NewDesc("actorserve_predictions_total", "Prediction records acknowledged by Kafka.", nil, nil)
	descDead        = prometheus.NewDesc("actorserve_deadletters_total", "Dead letters written, by reason.", []string{"reason"}, nil)
	descSkipped     = prometheus.NewDesc("actorserve_ingress_skipped_total", "Empty predictions skipped (on_empty: skip).", nil, nil)
	descPauses      = prometheus.NewDesc("actorserve_ingress_pauses_total", "Times a partition was paused because its in-flight window was full.", nil, nil)
	descFetched     = prometheus.NewDesc("actorserve_ingress_records_fetched_total", "Records decoded from fetch responses, including records fetched again after a pause; compare with actorserve_ingress_events_total.", nil, nil)
	descInFlight    = prometheus.NewDesc("actorserve_ingress_in_flight", "Records read but not yet fully processed, per partition.", []string{"topic", "partition"}, nil)
	descLag         = prometheus.NewDesc("actorserve_ingress_lag", "Records behind the high watermark not yet processed, per owned partition.", []string{"topic", "partition"}, nil)
	descPaused      = prometheus.NewDesc("actorserve_ingress_paused", "1 while a partition is paused by backpressure.", []string{"topic", "partition"}, nil)
	descOwned       = prometheus.NewDesc("actorserve_ingress_partitions", "Partitions this node owns in the consumer group.", nil, nil)
	descFeedback    = prometheus.NewDesc("actorserve_feedback_total", "Label-only events read, by whether they matched an earlier prediction.", []string{"matched"}, nil)
	descRetried     = prometheus.NewDesc("actorserve_ingress_batches_retried_total", "Batches sent to a model actor again after a backoff, by reason: overloaded (the actor shed it unrun) or timeout (no answer in time).", []string{"reason"}, nil)
	descBatches     = prometheus.NewDesc("actorserve_ingress_batches_total", "Batches sent to model actors, by whether the actor ran on another node (cross_node=\"true\").", []string{"cross_node"}, nil)
)

// Describe implements prometheus.Collector.
func (in *Ingress) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEvents, descPredictions, descDead, descSkipped, descPauses, descFetched, descInFlight, descLag, descPaused, descOwned, descFeedback, descBatches, descRetried} {
		ch <- d
	}
	in.e2e.vec.Describe(ch)
}

// Collect implements prometheus.Collector: it reads the ingress counters
// at scrape time, so the data path keeps no second set of metrics.
func (in *Ingress) Collect(ch chan<- prometheus.Metric) {
	in.e2e.vec.Collect(ch)
	s := in.Stats()
	ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(s.Events))
	ch <- prometheus.MustNewConstMetric(descPredictions, prometheus.CounterValue, float64(s.Predictions))
	ch <- prometheus.MustNewConstMetric(descSkipped, prometheus.CounterValue, float64(s.Skipped))
	ch <- prometheus.MustNewConstMetric(descPauses, prometheus.CounterValue, float64(s.Pauses))
	ch <- prometheus.MustNewConstMetric(descFetched, prometheus.CounterValue, float64(s.Fetched))
	for reason, n := range s.DeadLetters {
		ch <- prometheus.MustNewConstMetric(descDead, prometheus.CounterValue, float64(n), reason)
	}
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(s.Batches-s.CrossNode), "false")
	ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(s.CrossNode), "true")
	ch <- prometheus.MustNewConstMetric(descRetried, prometheus.CounterValue, float64(s.Overloaded), "overloaded")
	ch <- prometheus.MustNewConstMetric(descRetried, prometheus.CounterValue, float64(s.TimeoutRetries), "timeout")
	ch <- prometheus.MustNewConstMetric(descOwned, prometheus.GaugeValue, float64(len(s.Partitions)))
	ch <- prometheus.MustNewConstMetric(descFeedback, prometheus.CounterValue, float64(s.Feedback-s.Unmatched), "true")
	ch <- prometheus.MustNewConstMetric(descFeedback, prometheus.CounterValue, float64(s.Unmatched), "false")
	for _, p := range s.Partitions {
		part := strconv.Itoa(int(p.Partition))
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(p.InFlight), p.Topic, part)
		if p.Lag >= 0 {
			ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(p.Lag), p.Topic, part)
		}
		paused := 0.0
		if p.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(descPaused, prometheus.GaugeValue, paused, p.Topic, part)
	}
}

// endToEnd is the latency from an input record to its prediction
// acknowledged by Kafka, measured from the record's timestamp (time in
// Kafka and lag included) and from the moment this node polled it.
type endToEnd struct {
	vec          *prometheus.HistogramVec
	record, poll prometheus.Observer
}

func newEndToEnd() endToEnd {
	vec := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "actorserve_ingress_prediction_latency_seconds",
		Help:    "Time from an input record to its prediction acknowledged by Kafka: from the record's timestamp (from=\"record\", time in Kafka and the producer's clock included) or from when this node polled it (from=\"poll\").",
		Buckets: []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		// Also a native histogram, for servers that scrape protobuf.
		NativeHistogramBucketFactor:    1.1,
		NativeHistogramMaxBucketNumber: 100,
	}, []string{"from"})
	return endToEnd{vec: vec, record: vec.WithLabelValues("record"), poll: vec.WithLabelValues("poll")}
}

// predicted observes a prediction of e that Kafka acknowledged now.
func (t endToEnd) predicted(e *entry) {
	now := time.Now()
	t.poll.Observe(now.Sub(e.polled).Seconds())
	if ts := e.rec.Timestamp; !ts.IsZero() {
		t.record.Observe(max(0, now.Sub(ts).Seconds())) // a producer clock ahead of ours counts as 0
	}
}
