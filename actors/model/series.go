package model

import (
	"math"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/actorserve/actorserve/actors/msg"
)

// PromBuckets are the upper bounds (seconds) of the per-model latency
// histogram exported to Prometheus.
var PromBuckets = [...]float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

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
	p99NS  float64
}

// series is a model's recent time series: events per second over the last
// minute (for the rate) and the last 60 one-minute buckets of throughput
// and latency (for plotting). Fixed size: 60 second slots, 60 minute
// slots and one sketch for the minute in progress.
type series struct {
	secs    [60]secondSlot
	mins    [HistoryMinutes]minuteSlot
	cur     minuteSlot
	curSk   *ddsketch.DDSketch
	buckets [len(PromBuckets) + 1]uint64 // non-cumulative; last is +Inf
}

func newSeries() *series {
	sk, _ := ddsketch.LogCollapsingLowestDenseDDSketch(0.02, 512)
	return &series{curSk: sk}
}

func (s *series) roll(now time.Time) {
	m := now.Unix() / 60
	if s.cur.minute == m {
		return
	}
	if s.cur.minute != 0 && (s.cur.events > 0 || s.cur.errors > 0) {
		if !s.curSk.IsEmpty() {
			if q, err := s.curSk.GetValuesAtQuantiles([]float64{0.5, 0.99}); err == nil {
				s.cur.p50NS, s.cur.p99NS = q[0], q[1]
			}
		}
		s.mins[s.cur.minute%HistoryMinutes] = s.cur
	}
	s.cur = minuteSlot{minute: m}
	s.curSk.Clear()
}

func (s *series) add(now time.Time, n int, perNS float64) {
	s.roll(now)
	sec := now.Unix()
	slot := &s.secs[sec%60]
	if slot.sec != sec {
		*slot = secondSlot{sec: sec}
	}
	slot.n += int64(n)
	s.cur.events += int64(n)
	_ = s.curSk.AddWithCount(perNS, float64(n))
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
	out := make([]msg.HistoryPoint, 0, HistoryMinutes)
	for k := m - HistoryMinutes + 1; k < m; k++ {
		sl := s.mins[k%HistoryMinutes]
		if sl.minute != k {
			continue
		}
		out = append(out, point(sl, 60))
	}
	cur := s.cur
	if cur.events > 0 || cur.errors > 0 {
		if !s.curSk.IsEmpty() {
			if q, err := s.curSk.GetValuesAtQuantiles([]float64{0.5, 0.99}); err == nil {
				cur.p50NS, cur.p99NS = q[0], q[1]
			}
		}
		elapsed := math.Max(1, float64(now.Unix()%60+1))
		out = append(out, point(cur, elapsed))
	}
	return out
}

func point(sl minuteSlot, seconds float64) msg.HistoryPoint {
	return msg.HistoryPoint{
		Minute: time.Unix(sl.minute*60, 0).UTC(), Events: sl.events, Errors: sl.errors,
		Rate: float64(sl.events) / seconds, P50MS: sl.p50NS / 1e6, P99MS: sl.p99NS / 1e6,
	}
}
