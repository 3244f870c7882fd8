package model

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/actorserve/actorserve/actors/msg"
)

// gatherModels registers the collector of a host with the given stats and
// returns the families by name.
func gatherModels(t *testing.T, maxModels int, stats map[string]*Stats) map[string]*dto.MetricFamily {
	t.Helper()
	h := &Host{active: map[string]activeRef{}}
	for id, s := range stats {
		h.active[id] = activeRef{stats: s}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h.Collector(maxModels))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func labels(m *dto.Metric) string {
	s := ""
	for _, l := range m.GetLabel() {
		s += fmt.Sprintf("%s=%s,", l.GetName(), l.GetValue())
	}
	return s
}

// series maps each series of a family (by its labels) to its value.
func seriesOf(f *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		switch {
		case m.Counter != nil:
			out[labels(m)] = m.GetCounter().GetValue()
		case m.Gauge != nil:
			out[labels(m)] = m.GetGauge().GetValue()
		case m.Histogram != nil:
			out[labels(m)] = float64(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

func statsWith(id string, version int64, events int, each time.Duration) *Stats {
	s := newStats(id, "n1")
	s.reset(version, "linear", "", time.Now())
	for range events {
		s.observe(each, 1, time.Now())
	}
	return s
}

// TestLatencyBucketsSpreadMicroseconds: linear models' 0.5-5 µs latencies
// fall into different buckets, not all into the first.
func TestLatencyBucketsSpreadMicroseconds(t *testing.T) {
	s := newStats("m", "n1")
	s.reset(1, "linear", "", time.Now())
	for _, d := range []time.Duration{400 * time.Nanosecond, 800 * time.Nanosecond, 2 * time.Microsecond, 4 * time.Microsecond} {
		s.observe(d, 1, time.Now())
	}
	fams := gatherModels(t, 10, map[string]*Stats{"m": s})
	h := fams["actorserve_model_latency_seconds"].GetMetric()[0].GetHistogram()
	if b := h.GetBucket(); b[0].GetUpperBound() != 1e-7 {
		t.Errorf("first bucket %v, want 1e-7 (100 ns)", b[0].GetUpperBound())
	}
	var prev uint64
	distinct := 0
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() <= 5e-6 && b.GetCumulativeCount() != prev {
			distinct++
		}
		prev = b.GetCumulativeCount()
	}
	if distinct != 4 {
		t.Errorf("4 latencies of 0.4-4 µs fill %d buckets up to 5 µs, want 4: %v", distinct, h.GetBucket())
	}
}

// TestModelSeriesVersionAndAccuracy: per-model series carry the version
// (a canary's under its own), and a model without labels has no accuracy
// sample.
func TestModelSeriesVersionAndAccuracy(t *testing.T) {
	labelled := statsWith("labelled", 3, 5, time.Microsecond)
	labelled.setLearning(&msg.LearningStats{Labels: 4, Accuracy: 0.75})
	unlabelled := statsWith("unlabelled", 1, 5, time.Microsecond)
	unlabelled.setLearning(&msg.LearningStats{Algorithm: "pa", Labels: 0})
	canary := statsWith("labelled", 4, 2, time.Microsecond)
	labelled.setVariant(canary)

	fams := gatherModels(t, 10, map[string]*Stats{"labelled": labelled, "unlabelled": unlabelled})
	events := seriesOf(fams["actorserve_model_events_total"])
	for k, v := range map[string]float64{"model=labelled,version=3,": 5, "model=labelled,version=4,": 2, "model=unlabelled,version=1,": 5} {
		if events[k] != v {
			t.Errorf("actorserve_model_events_total{%s} = %v, want %v (all: %v)", k, events[k], v, events)
		}
	}
	acc := seriesOf(fams["actorserve_learning_accuracy"])
	if len(acc) != 1 || acc["model=labelled,version=3,"] != 0.75 {
		t.Errorf("actorserve_learning_accuracy = %v, want only labelled's 0.75 (no sample without labels)", acc)
	}
	if u := seriesOf(fams["actorserve_learning_updates_total"]); len(u) != 1 {
		t.Errorf("actorserve_learning_updates_total = %v, want the online model's only", u)
	}
}

// TestMetricsTopModelsKeepSeries: above the limit the busiest models keep
// their own series and only the rest are summed into _all.
func TestMetricsTopModelsKeepSeries(t *testing.T) {
	stats := map[string]*Stats{}
	for i, n := range []int{50, 40, 30, 20, 10} {
		id := fmt.Sprintf("m%d", i)
		stats[id] = statsWith(id, 1, n, time.Microsecond)
	}
	events := seriesOf(gatherModels(t, 2, stats)["actorserve_model_events_total"])
	want := map[string]float64{"model=m0,version=1,": 50, "model=m1,version=1,": 40, "model=_all,version=,": 60}
	if len(events) != len(want) {
		t.Errorf("actorserve_model_events_total = %v, want %v", events, want)
	}
	for k, v := range want {
		if events[k] != v {
			t.Errorf("actorserve_model_events_total{%s} = %v, want %v", k, events[k], v)
		}
	}
	if events := seriesOf(gatherModels(t, 5, stats)["actorserve_model_events_total"]); len(events) != 5 {
		t.Errorf("at the limit: %d series, want 5, none aggregated: %v", len(events), events)
	}
}
