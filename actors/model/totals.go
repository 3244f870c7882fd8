package model

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/actorserve/actorserve/actors/msg"
)

// nodeTotals are the running sums of the stats of the models active on a
// node: the usage and errors of their current windows and their events of
// the last minute. Each model's Stats moves its share in when it is
// registered active and out when it is not (countIn), and adds to them as
// it records events, so the node's totals cost O(1) to read: every page of
// the model list asks every node for them, and summing them over the
// active models made a page cost O(active models).
type nodeTotals struct {
	usage, errors atomic.Int64

	mu   sync.Mutex
	secs [60]secondSlot // events by second, in slot sec % 60
}

// addEvents counts n events of second sec; a second older than the one
// its slot holds is more than a minute old and is dropped.
func (t *nodeTotals) addEvents(sec, n int64) {
	t.mu.Lock()
	sl := &t.secs[slot(sec)]
	switch {
	case sl.sec < sec:
		*sl = secondSlot{sec: sec, n: n}
	case sl.sec == sec:
		sl.n += n
	}
	t.mu.Unlock()
}

// removeEvents takes back n events of second sec, if its slot still holds
// that second.
func (t *nodeTotals) removeEvents(sec, n int64) {
	t.mu.Lock()
	if sl := &t.secs[slot(sec)]; sl.sec == sec {
		sl.n -= n
	}
	t.mu.Unlock()
}

func slot(sec int64) int { return int(((sec % 60) + 60) % 60) }

// read returns the totals; Active is not known here.
func (t *nodeTotals) read(now time.Time) msg.NodeTotals {
	sec := now.Unix()
	var n int64
	t.mu.Lock()
	for _, sl := range t.secs {
		if sl.sec > sec-60 && sl.sec <= sec {
			n += sl.n
		}
	}
	t.mu.Unlock()
	return msg.NodeTotals{Usage: t.usage.Load(), Errors: t.errors.Load(), Rate1m: float64(n) / 60}
}

// countIn makes t (nil: none) the totals s is counted in, moving its
// current usage, errors and events of the last minute out of the totals it
// was counted in and into t.
func (s *Stats) countIn(t *nodeTotals) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.totals == t {
		return
	}
	if old := s.totals; old != nil {
		old.usage.Add(-s.usage)
		old.errors.Add(-s.errors)
		for _, sl := range s.series.secs {
			old.removeEvents(sl.sec, sl.n)
		}
	}
	s.totals = t
	if t != nil {
		t.usage.Add(s.usage)
		t.errors.Add(s.errors)
		for _, sl := range s.series.secs {
			t.addEvents(sl.sec, sl.n)
		}
	}
}
