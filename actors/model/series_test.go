package model

import (
	"testing"
	"time"
)

// TestSeriesLazyAndBounded checks that an unused series holds no buckets,
// that it keeps only the minutes it saw within the last hour, and that
// the rate counts the last 60 seconds.
func TestSeriesLazyAndBounded(t *testing.T) {
	s := newSeries()
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	if got := s.rate(t0); got != 0 {
		t.Fatalf("rate of an unused series %v, want 0", got)
	}
	if pts := s.history(t0); len(pts) != 0 {
		t.Fatalf("history of an unused series %v, want none", pts)
	}
	if s.secs != nil || s.curSk != nil || s.mins != nil {
		t.Fatal("an unused series allocated its buckets")
	}
	// Events in minutes 0, 1 and 5; errors only in minute 7.
	for _, m := range []int{0, 1, 5} {
		s.add(t0.Add(time.Duration(m)*time.Minute), 6, 1e6)
	}
	s.fail(t0.Add(7*time.Minute), 2)
	now := t0.Add(7*time.Minute + 30*time.Second)
	pts := s.history(now)
	var minutes []int
	for _, p := range pts {
		minutes = append(minutes, int(p.Minute.Sub(t0)/time.Minute))
	}
	if len(minutes) != 4 || minutes[0] != 0 || minutes[1] != 1 || minutes[2] != 5 || minutes[3] != 7 {
		t.Fatalf("history minutes %v, want [0 1 5 7]", minutes)
	}
	if pts[0].Events != 6 || pts[3].Errors != 2 || pts[3].Events != 0 {
		t.Fatalf("history points %+v", pts)
	}
	if pts[0].P50MS < 0.98 || pts[0].P99MS > 1.02 {
		t.Fatalf("minute 0 (6 events of 1 ms): p50 %v ms, p99 %v ms", pts[0].P50MS, pts[0].P99MS)
	}
	// One event alone keeps its latency exactly, without a sketch; a
	// second observation in the same minute moves both into the sketch.
	one := newSeries()
	one.add(t0, 1, 3e6)
	if p := one.history(t0); len(p) != 1 || p[0].P50MS != 3 || p[0].P99MS != 3 || one.curSk != nil {
		t.Fatalf("one event of 3 ms: history %+v, sketch %v", p, one.curSk != nil)
	}
	one.add(t0, 2, 9e6)
	if p := one.history(t0); p[0].Events != 3 || p[0].P50MS < 8.8 || p[0].P99MS < 8.8 || p[0].P99MS > 9.2 || one.curSk == nil {
		t.Fatalf("events of 3, 9 and 9 ms: history %+v", p)
	}
	if len(s.mins) != 3 {
		t.Fatalf("%d closed minutes kept, want 3 (only minutes with events)", len(s.mins))
	}
	// An hour on, only minutes after now-60 remain.
	later := t0.Add(61 * time.Minute)
	s.add(later, 1, 1e6)
	pts = s.history(later)
	minutes = minutes[:0]
	for _, p := range pts {
		minutes = append(minutes, int(p.Minute.Sub(t0)/time.Minute))
	}
	if len(minutes) != 3 || minutes[0] != 5 || minutes[1] != 7 || minutes[2] != 61 {
		t.Fatalf("history minutes an hour on %v, want [5 7 61]", minutes)
	}
	if len(s.mins) != 2 {
		t.Fatalf("%d closed minutes kept an hour on, want 2", len(s.mins))
	}
	// The rate covers the last 60 seconds only.
	s.add(later.Add(10*time.Second), 59, 1e6)
	if got := s.rate(later.Add(30 * time.Second)); got != 1 {
		t.Fatalf("rate %v, want 1 (60 events in the last minute)", got)
	}
	if got := s.rate(later.Add(65 * time.Second)); got != float64(59)/60 {
		t.Fatalf("rate %v, want 59/60 once the first second left the window", got)
	}
}
