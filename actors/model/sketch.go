package model

import "github.com/DataDog/sketches-go/ddsketch"

// newLatencySketch returns an empty latency sketch of a stats window.
func newLatencySketch() *ddsketch.DDSketch {
	sk, err := ddsketch.LogCollapsingLowestDenseDDSketch(sketchAccuracy, sketchBins)
	if err != nil {
		panic(err) // constant arguments; cannot fail
	}
	return sk
}

// addLatency records n events of per nanoseconds each in the window's
// latency sketch (usage, min and max already count them). The sketch is
// made only once two latencies differ: until then every event took min
// (== max) nanoseconds and the quantiles are that, so a model used once,
// or with one batch, holds no sketch.
func (w *window) addLatency(per float64, n int) {
	if w.sketch == nil {
		if w.minNS == w.maxNS {
			return
		}
		// Until now every event took the same time: the bound per did not set.
		before := w.minNS
		if per == w.minNS {
			before = w.maxNS
		}
		w.sketch = newLatencySketch()
		if k := w.usage - int64(n); k > 0 {
			_ = w.sketch.AddWithCount(before, float64(k))
		}
	}
	_ = w.sketch.AddWithCount(per, float64(n))
}

// latencySketch returns the window's sketch, or one made from its single
// latency when it has none yet (for stats that are to be merged).
func (w *window) latencySketch() *ddsketch.DDSketch {
	if w.sketch != nil {
		return w.sketch
	}
	sk := newLatencySketch()
	if w.usage > 0 {
		_ = sk.AddWithCount(w.minNS, float64(w.usage))
	}
	return sk
}
