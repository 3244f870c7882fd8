package model

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/actorserve/actorserve/actors/msg"
)

// sketchBins bounds each latency sketch: 2048 bins at 1 % relative
// accuracy cover 1 ns to far beyond an hour; below that the lowest bins
// collapse, so memory never grows with traffic.
const (
	sketchAccuracy = 0.01
	sketchBins     = 2048
)

// Stats is one model version's serving statistics. The model actor is the
// only writer; readers (stats queries, HTTP) take snapshots from any
// goroutine without going through the actor's mailbox, so a busy or slow
// model still answers stats at once.
type Stats struct {
	mu sync.Mutex
	window
	previous *msg.ModelStats
	state    string
	format   string
	desc     string
	node     string
	id       string
	loaded   bool // a version's window is open
	series   *series
	// pending counts requests posted to the actor's mailbox and not yet
	// received (the mailbox depth).
	pending atomic.Int64
	// shed counts events of requests shed unrun (overload)
	shed atomic.Int64
	// totals: the node's running sums this model is counted in while it is
	// registered active (nil: none); see countIn.
	totals *nodeTotals
	// totals over the actor's life, for Prometheus (monotonic)
	events, failures int64
	sumSec           float64
	failBy           map[string]int64
	// variant: the stats of the model's shadow or canary (nil: none);
	// role, weight and the agreement counters when this is a variant's.
	variant                  *Stats
	role                     string
	weight                   float64
	served, compared, agreed int64
}

type window struct {
	version   int64
	since     time.Time
	lastUsed  time.Time
	usage     int64
	errors    int64
	errorsBy  map[string]int64
	sumNS     float64
	minNS     float64
	maxNS     float64
	sketch    *ddsketch.DDSketch
	lastError string
	learning  *msg.LearningStats
}

func newWindow(version int64, now time.Time) window {
	return window{version: version, since: now, minNS: math.Inf(1)} // the sketch: see addLatency
}

func newStats(id, node string) *Stats {
	return &Stats{id: id, node: node, state: "loading", window: newWindow(0, time.Now()), series: newSeries()}
}

// reset starts a new version's window, keeping the last one as previous.
func (s *Stats) reset(version int64, format, desc string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded {
		prev := s.snapshotLocked()
		prev.Previous = nil
		s.previous = &prev
	}
	if s.totals != nil {
		s.totals.usage.Add(-s.usage)
		s.totals.errors.Add(-s.errors)
	}
	s.window = newWindow(version, now)
	s.format, s.desc, s.state = format, desc, "active"
	s.loaded = true
}

func (s *Stats) setVariant(v *Stats) {
	s.mu.Lock()
	s.variant = v
	s.mu.Unlock()
}

func (s *Stats) setRole(role string, weight float64) {
	s.mu.Lock()
	s.role, s.weight = role, weight
	s.mu.Unlock()
}

func (s *Stats) setAgreement(served, compared, agreed int64) {
	s.mu.Lock()
	s.served, s.compared, s.agreed = served, compared, agreed
	s.mu.Unlock()
}

func (s *Stats) setLearning(ls *msg.LearningStats) {
	s.mu.Lock()
	s.learning = ls
	s.mu.Unlock()
}

func (s *Stats) lastUse() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastUsed.IsZero() {
		return s.since
	}
	return s.lastUsed
}

func (s *Stats) lastErr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastError
}

// observe records n events scored in d together: each is counted with a
// latency of d/n (a batch's time is shared evenly among its events).
func (s *Stats) observe(d time.Duration, n int, now time.Time) {
	if n <= 0 {
		return
	}
	per := float64(d.Nanoseconds()) / float64(n)
	if per <= 0 {
		per = 1 // a clock too coarse to see the work still did some
	}
	s.mu.Lock()
	s.usage += int64(n)
	s.sumNS += float64(d.Nanoseconds())
	s.minNS = math.Min(s.minNS, per)
	s.maxNS = math.Max(s.maxNS, per)
	s.addLatency(per, n)
	s.lastUsed = now
	s.series.add(now, n, per)
	if s.totals != nil {
		s.totals.usage.Add(int64(n))
		s.totals.addEvents(now.Unix(), int64(n))
	}
	s.events += int64(n)
	s.sumSec += d.Seconds()
	s.mu.Unlock()
}

// label records one label scored against the model's prediction, for the
// per-minute accuracy (or mean absolute error) of the history.
func (s *Stats) label(regression, correct bool, absErr float64) {
	s.mu.Lock()
	s.series.label(time.Now(), regression, correct, absErr)
	s.mu.Unlock()
}

// fail records n events that could not be scored, by reason code.
func (s *Stats) fail(code, text string, n int) {
	s.mu.Lock()
	s.errors += int64(n)
	if s.totals != nil {
		s.totals.errors.Add(int64(n))
	}
	if s.errorsBy == nil {
		s.errorsBy = map[string]int64{}
	}
	s.errorsBy[code] += int64(n)
	s.lastError = text
	s.series.fail(time.Now(), n)
	s.failures += int64(n)
	if s.failBy == nil {
		s.failBy = map[string]int64{}
	}
	s.failBy[code] += int64(n)
	s.mu.Unlock()
}

// setLastError reports a problem that is not an event's (a failed reload).
func (s *Stats) setLastError(text string) {
	s.mu.Lock()
	s.lastError = text
	s.mu.Unlock()
}

func (s *Stats) setState(state string) {
	s.mu.Lock()
	s.state = state
	s.mu.Unlock()
}

// Snapshot returns the current statistics.
func (s *Stats) Snapshot() msg.ModelStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.snapshotLocked()
	out.Rate1m = s.series.rate(time.Now())
	out.Mailbox = max(0, s.pending.Load())
	out.Shed = s.shed.Load()
	if s.variant != nil {
		v := s.variant.Snapshot() // a variant's stats have no variant: no cycle
		out.Variant = &v
	}
	return out
}

// snapshotWire is Snapshot plus the encoded sketch and histogram buckets,
// for stats that are to be merged.
func (s *Stats) snapshotWire() msg.ModelStats {
	out := s.Snapshot()
	s.mu.Lock()
	if s.usage > 0 {
		s.latencySketch().Encode(&out.Sketch, false)
	}
	out.Buckets = append([]uint64(nil), s.series.buckets[:]...)
	s.mu.Unlock()
	return out
}

// History returns the model's recent one-minute buckets.
func (s *Stats) History() []msg.HistoryPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.series.history(time.Now())
}

// promTotals are the monotonic totals Prometheus reads.
type promTotals struct {
	events, failures int64
	sumSec           float64
	failBy           map[string]int64
	buckets          [len(PromBuckets) + 1]uint64
	version          int64
	pending          int64
	learning         *msg.LearningStats
	updates, drifts  int64 // summed when per-model labels are off
}

func (s *Stats) promTotals() promTotals {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := promTotals{events: s.events, failures: s.failures, sumSec: s.sumSec, buckets: s.series.buckets, version: s.version, pending: max(0, s.pending.Load()), learning: s.learning}
	if len(s.failBy) > 0 {
		t.failBy = make(map[string]int64, len(s.failBy))
		for k, v := range s.failBy {
			t.failBy[k] = v
		}
	}
	return t
}

func (s *Stats) snapshotLocked() msg.ModelStats {
	out := msg.ModelStats{
		ID: s.id, Version: s.version, Format: s.format, Description: s.desc, Node: s.node,
		State: s.state, Since: s.since, LastUsed: s.lastUsed, Usage: s.usage, Errors: s.errors,
		LastError: s.lastError, Previous: s.previous, Learning: s.learning,
		Role: s.role, Weight: s.weight, Served: s.served, Compared: s.compared, Agreed: s.agreed,
	}
	if s.compared > 0 {
		out.Agreement = float64(s.agreed) / float64(s.compared)
	}
	if len(s.errorsBy) > 0 {
		out.ErrorsBy = make(map[string]int64, len(s.errorsBy))
		for k, v := range s.errorsBy {
			out.ErrorsBy[k] = v
		}
	}
	if s.usage > 0 {
		out.DurationMS = s.sumNS / 1e6
		out.MinMS = s.minNS / 1e6
		out.MaxMS = s.maxNS / 1e6
		out.MeanMS = s.sumNS / float64(s.usage) / 1e6
		if s.sketch == nil {
			out.P50MS, out.P95MS, out.P99MS = out.MinMS, out.MinMS, out.MinMS // one latency so far
		} else if qs, err := s.sketch.GetValuesAtQuantiles([]float64{0.5, 0.95, 0.99}); err == nil {
			// The sketch is 1 % accurate; never report outside [min, max].
			clamp := func(v float64) float64 { return math.Min(math.Max(v, s.minNS), s.maxNS) / 1e6 }
			out.P50MS, out.P95MS, out.P99MS = clamp(qs[0]), clamp(qs[1]), clamp(qs[2])
		}
	}
	return out
}
