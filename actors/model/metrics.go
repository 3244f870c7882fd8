package model

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// The per-model series carry the model id and, where two versions of one
// model can run side by side (a shadow or canary variant), the version.
var (
	descModelEvents  = prometheus.NewDesc("actorserve_model_events_total", "Events scored by a model actor on this node.", []string{"model", "version"}, nil)
	descModelErrors  = prometheus.NewDesc("actorserve_model_errors_total", "Events a model actor on this node could not score, by reason.", []string{"model", "version", "reason"}, nil)
	descModelLatency = prometheus.NewDesc("actorserve_model_latency_seconds", "Time a model actor spends scoring one event (a batch's time is shared by its events).", []string{"model", "version"}, nil)
	descModelMailbox = prometheus.NewDesc("actorserve_model_mailbox", "Requests waiting in a model actor's mailbox.", []string{"model"}, nil)
	descModelVersion = prometheus.NewDesc("actorserve_model_version", "Version of the model an active actor serves.", []string{"model"}, nil)
	descActive       = prometheus.NewDesc("actorserve_active_models", "Model actors active on this node.", nil, nil)
	descUpdates      = prometheus.NewDesc("actorserve_learning_updates_total", "Labelled examples an online model learned from (restored checkpoints included).", []string{"model", "version"}, nil)
	descDrifts       = prometheus.NewDesc("actorserve_learning_drifts_total", "Concept drifts an online model's detector found.", []string{"model", "version"}, nil)
	descAccuracy     = prometheus.NewDesc("actorserve_learning_accuracy", "Prequential accuracy of a model on the labels it received (no sample before its first label).", []string{"model", "version"}, nil)
)

// AllModels is the model label of the series that aggregate the models
// beyond the per-model limit.
const AllModels = "_all"

// collector exports the host's model stats at scrape time.
type collector struct {
	h         *Host
	maxModels int
}

// Collector returns a Prometheus collector for this node's model actors.
// The maxModels active models with the most events keep series of their
// own; the others, if any, are summed into one series labelled
// model="_all" (with an empty version), keeping the label set bounded.
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
		t  promTotals
	}
	refs := make([]ref, 0, len(c.h.active))
	for id, r := range c.h.active {
		refs = append(refs, ref{id: id, s: r.stats})
	}
	c.h.mu.RUnlock()
	ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(len(refs)))
	for i := range refs {
		refs[i].t = refs[i].s.promTotals()
	}
	// The busiest models keep their own series (ties by id, so the set is
	// stable between scrapes).
	if len(refs) > c.maxModels {
		slices.SortFunc(refs, func(a, b ref) int {
			return cmp.Or(cmp.Compare(b.t.events, a.t.events), cmp.Compare(a.id, b.id))
		})
	}
	var all promTotals
	all.failBy = map[string]int64{}
	for i, r := range refs {
		t := r.t
		if i < c.maxModels {
			version := strconv.FormatInt(t.version, 10)
			emitModel(ch, r.id, version, t)
			ch <- prometheus.MustNewConstMetric(descModelMailbox, prometheus.GaugeValue, float64(t.pending), r.id)
			ch <- prometheus.MustNewConstMetric(descModelVersion, prometheus.GaugeValue, float64(t.version), r.id)
			// A shadow or canary: its own series under its version.
			r.s.mu.Lock()
			v := r.s.variant
			r.s.mu.Unlock()
			if v != nil {
				if vt := v.promTotals(); vt.version != t.version {
					emitModel(ch, r.id, strconv.FormatInt(vt.version, 10), vt)
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
	if len(refs) > c.maxModels {
		emitCounts(ch, AllModels, "", all)
		ch <- prometheus.MustNewConstMetric(descModelMailbox, prometheus.GaugeValue, float64(all.pending), AllModels)
		ch <- prometheus.MustNewConstMetric(descUpdates, prometheus.CounterValue, float64(all.updates), AllModels, "")
		ch <- prometheus.MustNewConstMetric(descDrifts, prometheus.CounterValue, float64(all.drifts), AllModels, "")
	}
}

// emitModel writes one model version's series: its counts and latency,
// and its learning block. Accuracy has no sample before the first label
// (a 0 would fire alerts); updates and drifts only for online models.
func emitModel(ch chan<- prometheus.Metric, model, version string, t promTotals) {
	emitCounts(ch, model, version, t)
	ls := t.learning
	if ls == nil {
		return
	}
	if ls.Labels > 0 {
		ch <- prometheus.MustNewConstMetric(descAccuracy, prometheus.GaugeValue, ls.Accuracy, model, version)
	}
	if ls.Algorithm != "" {
		ch <- prometheus.MustNewConstMetric(descUpdates, prometheus.CounterValue, float64(ls.Updates), model, version)
		ch <- prometheus.MustNewConstMetric(descDrifts, prometheus.CounterValue, float64(ls.Drifts), model, version)
	}
}

func emitCounts(ch chan<- prometheus.Metric, model, version string, t promTotals) {
	ch <- prometheus.MustNewConstMetric(descModelEvents, prometheus.CounterValue, float64(t.events), model, version)
	for reason, n := range t.failBy {
		ch <- prometheus.MustNewConstMetric(descModelErrors, prometheus.CounterValue, float64(n), model, version, reason)
	}
	cum := make(map[float64]uint64, len(PromBuckets))
	var running uint64
	for i, b := range PromBuckets {
		running += t.buckets[i]
		cum[b] = running
	}
	count := running + t.buckets[len(PromBuckets)]
	ch <- prometheus.MustNewConstHistogram(descModelLatency, count, t.sumSec, cum, model, version)
}
