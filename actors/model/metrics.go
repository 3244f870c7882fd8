package model

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descModelEvents  = prometheus.NewDesc("actorserve_model_events_total", "Events scored by a model actor on this node.", []string{"model"}, nil)
	descModelErrors  = prometheus.NewDesc("actorserve_model_errors_total", "Events a model actor on this node could not score, by reason.", []string{"model", "reason"}, nil)
	descModelLatency = prometheus.NewDesc("actorserve_model_latency_seconds", "Time a model actor spends scoring one event (a batch's time is shared by its events).", []string{"model"}, nil)
	descModelMailbox = prometheus.NewDesc("actorserve_model_mailbox", "Requests waiting in a model actor's mailbox.", []string{"model"}, nil)
	descModelVersion = prometheus.NewDesc("actorserve_model_version", "Version of the model an active actor serves.", []string{"model"}, nil)
	descActive       = prometheus.NewDesc("actorserve_active_models", "Model actors active on this node.", nil, nil)
	descUpdates      = prometheus.NewDesc("actorserve_learning_updates_total", "Labelled examples an online model learned from (restored checkpoints included).", []string{"model"}, nil)
	descDrifts       = prometheus.NewDesc("actorserve_learning_drifts_total", "Concept drifts an online model's detector found.", []string{"model"}, nil)
	descAccuracy     = prometheus.NewDesc("actorserve_learning_accuracy", "Prequential accuracy of a model on the labels it received.", []string{"model"}, nil)
)

// AllModels is the model label used when per-model labels are switched off.
const AllModels = "_all"

// collector exports the host's model stats at scrape time.
type collector struct {
	h         *Host
	maxModels int
}

// Collector returns a Prometheus collector for this node's model actors.
// Above maxModels active models the per-model series collapse into one
// series labelled model="_all", keeping the label set bounded.
func (h *Host) Collector(maxModels int) prometheus.Collector { return collector{h, maxModels} }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descModelEvents, descModelErrors, descModelLatency, descModelMailbox, descModelVersion, descActive, descUpdates, descDrifts, descAccuracy} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.h.mu.RLock()
	type ref struct {
		id string
		s  *Stats
	}
	refs := make([]ref, 0, len(c.h.active))
	for id, r := range c.h.active {
		refs = append(refs, ref{id, r.stats})
	}
	c.h.mu.RUnlock()
	ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(len(refs)))
	perModel := len(refs) <= c.maxModels
	var all promTotals
	all.failBy = map[string]int64{}
	for _, r := range refs {
		t := r.s.promTotals()
		if perModel {
			emit(ch, r.id, t)
			ch <- prometheus.MustNewConstMetric(descModelVersion, prometheus.GaugeValue, float64(t.version), r.id)
			if ls := t.learning; ls != nil {
				ch <- prometheus.MustNewConstMetric(descAccuracy, prometheus.GaugeValue, ls.Accuracy, r.id)
				if ls.Algorithm != "" {
					ch <- prometheus.MustNewConstMetric(descUpdates, prometheus.CounterValue, float64(ls.Updates), r.id)
					ch <- prometheus.MustNewConstMetric(descDrifts, prometheus.CounterValue, float64(ls.Drifts), r.id)
				}
			}
			continue
		}
		if ls := t.learning; ls != nil && ls.Algorithm != "" {
			all.updates += ls.Updates
			all.drifts += ls.Drifts
		}
		all.events += t.events
		all.failures += t.failures
		all.sumSec += t.sumSec
		all.pending += t.pending
		for k, v := range t.failBy {
			all.failBy[k] += v
		}
		for i := range all.buckets {
			all.buckets[i] += t.buckets[i]
		}
	}
	if !perModel {
		emit(ch, AllModels, all)
		ch <- prometheus.MustNewConstMetric(descUpdates, prometheus.CounterValue, float64(all.updates), AllModels)
		ch <- prometheus.MustNewConstMetric(descDrifts, prometheus.CounterValue, float64(all.drifts), AllModels)
	}
}

func emit(ch chan<- prometheus.Metric, model string, t promTotals) {
	ch <- prometheus.MustNewConstMetric(descModelEvents, prometheus.CounterValue, float64(t.events), model)
	for reason, n := range t.failBy {
		ch <- prometheus.MustNewConstMetric(descModelErrors, prometheus.CounterValue, float64(n), model, reason)
	}
	ch <- prometheus.MustNewConstMetric(descModelMailbox, prometheus.GaugeValue, float64(t.pending), model)
	cum := make(map[float64]uint64, len(PromBuckets))
	var running, count uint64
	for i, b := range PromBuckets {
		running += t.buckets[i]
		cum[b] = running
	}
	count = running + t.buckets[len(PromBuckets)]
	ch <- prometheus.MustNewConstHistogram(descModelLatency, count, t.sumSec, cum, model)
}
