package model

import (
	"testing"
	"time"
)

// The history carries p95 and, per minute, the accuracy (classification)
// or mean absolute error (regression) of the labels scored in it; a
// minute without labels has neither.
func TestSeriesHistoryLabelsAndP95(t *testing.T) {
	s := newSeries()
	t0 := time.Unix(1_800_000_000, 0)
	for i := 1; i <= 100; i++ {
		s.add(t0, 1, float64(i*1000)) // 1..100 µs
	}
	for i := range 10 {
		s.label(t0, false, i < 7, 0)
	}
	t1 := t0.Add(time.Minute)
	s.add(t1, 1, 5000)
	s.label(t1, true, false, 2)
	s.label(t1, true, false, 4)
	t2 := t1.Add(time.Minute)
	s.add(t2, 1, 5000)
	h := s.history(t2.Add(time.Second))
	if len(h) != 3 {
		t.Fatalf("%d points", len(h))
	}
	p := h[0]
	if p.P95MS < 0.090 || p.P95MS > 0.099 || p.P50MS > p.P95MS || p.P95MS > p.P99MS {
		t.Errorf("p50 %v p95 %v p99 %v ms", p.P50MS, p.P95MS, p.P99MS)
	}
	if p.Labels != 10 || p.Accuracy == nil || *p.Accuracy != 0.7 || p.MAE != nil {
		t.Errorf("minute 0: labels %d accuracy %v mae %v", p.Labels, p.Accuracy, p.MAE)
	}
	if p := h[1]; p.Labels != 2 || p.MAE == nil || *p.MAE != 3 || p.Accuracy != nil {
		t.Errorf("minute 1: labels %d mae %v accuracy %v", p.Labels, p.MAE, p.Accuracy)
	}
	if p := h[2]; p.Labels != 0 || p.MAE != nil || p.Accuracy != nil {
		t.Errorf("minute 2 without labels: %+v", p)
	}
}
