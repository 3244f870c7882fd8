package model

import (
	"math"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/actorserve/actorserve/actors/msg"
)

// PromBuckets are the upper bounds (seconds) of the per-model latency
// histogram exported to Prometheus, from 100 ns: linear models score in
// 0.5-5 µs.
var PromBuckets = [...]float64{1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// HistoryMinutes is how many one-minute buckets a model keeps.
const HistoryMinutes = 60

type secondSlot struct {
	sec int64
	n   int64
}

type minuteSlot struct {
	minute int64 // unix minute; 0 = empty
	events int64
	errors int64
	p50NS  float64
	p95NS  float64
	p99NS  float64
	// labels scored this minute: how many, how many the model got right
	// (classification), and the sum of absolute errors (regression)
	labels, correct int64
	absErr          float64
	regression      bool
}

// series is a model's recent time series: events per second over the last
// minute (for the rate) and up to 60 one-minute buckets of throughput and
// latency (for plotting). It holds nothing until the model is used, and
// then only what it has seen: the seconds with events of the last minute,
// the minutes with events of the last hour, and a sketch for the minute in
// progress once it has more than one observation.
type series struct {
	secs []secondSlot // seconds with events, oldest first, within the last minute
	mins []minuteSlot // closed minutes with events, oldest first, within the last hour
	cur  minuteSlot
	// The minute in progress: its one latency while it has one
	// observation, then a sketch (kept for the following minutes).
	curOne  float64
	curObs  int
	curSk   *ddsketch.DDSketch
	buckets [len(PromBuckets) + 1]uint64 // non-cumulative; last is +Inf
}

func newSeries() *series { return &series{} }

func (s *series) roll(now time.Time) {
	m := now.Unix() / 60
	if s.cur.minute == m {
		return
	}
	if s.cur.minute != 0 && (s.cur.events > 0 || s.cur.errors > 0 || s.cur.labels > 0) {
		s.cur.p50NS, s.cur.p95NS, s.cur.p99NS = s.quantiles()
		s.mins = append(s.mins, s.cur)
	}
	// Keep the minutes of the last hour only, in place.
	old := 0
	for old < len(s.mins) && s.mins[old].minute <= m-HistoryMinutes {
		old++
	}
	if old > 0 {
		s.mins = append(s.mins[:0], s.mins[old:]...)
	}
	s.cur = minuteSlot{minute: m}
	s.curOne, s.curObs = 0, 0
	if s.curSk != nil {
		s.curSk.Clear()
	}
}

// quantiles returns the p50, p95 and p99 latency of the minute in progress.
func (s *series) quantiles() (p50, p95, p99 float64) {
	switch {
	case s.curObs == 1:
		return s.curOne, s.curOne, s.curOne
	case s.curObs > 1 && !s.curSk.IsEmpty():
		if q, err := s.curSk.GetValuesAtQuantiles([]float64{0.5, 0.95, 0.99}); err == nil {
			return q[0], q[1], q[2]
		}
	}
	return 0, 0, 0
}

// label records one label scored against a prediction in the minute in
// progress: right or wrong for a classifier, its absolute error for a
// regression.
func (s *series) label(now time.Time, regression, correct bool, absErr float64) {
	s.roll(now)
	s.cur.regression = regression
	s.cur.labels++
	if correct {
		s.cur.correct++
	}
	s.cur.absErr += absErr
}

// observe records n events of perNS each in the minute in progress: the
// first observation of a single event is kept aside, and the sketch is
// made (or reused) only for a second one.
func (s *series) observe(n int, perNS float64) {
	if s.curObs == 0 && n == 1 {
		s.curOne, s.curObs = perNS, 1
		return
	}
	if s.curSk == nil {
		s.curSk, _ = ddsketch.LogCollapsingLowestDenseDDSketch(0.02, 512)
	}
	if s.curObs == 1 {
		_ = s.curSk.Add(s.curOne)
	}
	s.curObs = 2 // more than one: the sketch holds every observation
	_ = s.curSk.AddWithCount(perNS, float64(n))
}

func (s *series) add(now time.Time, n int, perNS float64) {
	s.roll(now)
	sec := now.Unix()
	if k := len(s.secs); k > 0 && s.secs[k-1].sec == sec {
		s.secs[k-1].n += int64(n)
	} else {
		old := 0
		for old < len(s.secs) && s.secs[old].sec <= sec-60 {
			old++
		}
		if old > 0 {
			s.secs = append(s.secs[:0], s.secs[old:]...)
		}
		s.secs = append(s.secs, secondSlot{sec: sec, n: int64(n)})
	}
	s.cur.events += int64(n)
	s.observe(n, perNS)
	secs := perNS / 1e9
	i := 0
	for i < len(PromBuckets) && secs > PromBuckets[i] {
		i++
	}
	s.buckets[i] += uint64(n)
}

func (s *series) fail(now time.Time, n int) {
	s.roll(now)
	s.cur.errors += int64(n)
}

// rate is the events per second over the last 60 seconds.
func (s *series) rate(now time.Time) float64 {
	sec := now.Unix()
	var n int64
	for _, sl := range s.secs {
		if sl.sec > sec-60 && sl.sec <= sec {
			n += sl.n
		}
	}
	return float64(n) / 60
}

// history returns the filled minute buckets of the last hour, oldest
// first, including the minute in progress.
func (s *series) history(now time.Time) []msg.HistoryPoint {
	s.roll(now)
	m := now.Unix() / 60
	out := make([]msg.HistoryPoint, 0, len(s.mins)+1)
	for _, sl := range s.mins {
		if sl.minute > m-HistoryMinutes && sl.minute < m {
			out = append(out, point(sl, 60))
		}
	}
	cur := s.cur
	if cur.events > 0 || cur.errors > 0 || cur.labels > 0 {
		cur.p50NS, cur.p95NS, cur.p99NS = s.quantiles()
		elapsed := math.Max(1, float64(now.Unix()%60+1))
		out = append(out, point(cur, elapsed))
	}
	return out
}

func point(sl minuteSlot, seconds float64) msg.HistoryPoint {
	p := msg.HistoryPoint{
		Minute: time.Unix(sl.minute*60, 0).UTC(), Events: sl.events, Errors: sl.errors,
		Rate: float64(sl.events) / seconds, P50MS: sl.p50NS / 1e6, P95MS: sl.p95NS / 1e6, P99MS: sl.p99NS / 1e6,
		Labels: sl.labels,
	}
	switch {
	case sl.labels > 0 && sl.regression:
		mae := sl.absErr / float64(sl.labels)
		p.MAE = &mae
	case sl.labels > 0:
		acc := float64(sl.correct) / float64(sl.labels)
		p.Accuracy = &acc
	}
	return p
}
