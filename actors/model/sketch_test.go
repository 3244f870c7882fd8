package model

import (
	"math"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

// TestWindowSketchAtSecondLatency checks that a window holds no latency
// sketch while every event took the same time, reports that time as its
// quantiles and in its wire form, and keeps every event once the sketch
// is made.
func TestWindowSketchAtSecondLatency(t *testing.T) {
	decode := func(b []byte) *ddsketch.DDSketch {
		m, _ := mapping.NewLogarithmicMapping(0.01)
		sk, err := ddsketch.DecodeDDSketch(b, store.DefaultProvider, m)
		if err != nil {
			t.Fatal(err)
		}
		return sk
	}
	s := newStats("m", "n1")
	now := time.Now()
	s.observe(time.Millisecond, 1, now)
	s.observe(4*time.Millisecond, 4, now) // a batch of 4: 1 ms each
	if s.sketch != nil {
		t.Fatal("a sketch for events that all took 1 ms")
	}
	snap := s.snapshotWire()
	if snap.P50MS != 1 || snap.P99MS != 1 || snap.Usage != 5 {
		t.Fatalf("one latency: p50 %v, p99 %v, usage %d", snap.P50MS, snap.P99MS, snap.Usage)
	}
	if sk := decode(snap.Sketch); sk.GetCount() != 5 {
		t.Fatalf("wire sketch holds %v events, want 5", sk.GetCount())
	}
	for range 95 {
		s.observe(3*time.Millisecond, 1, now)
	}
	if s.sketch == nil {
		t.Fatal("no sketch after a second latency")
	}
	snap = s.snapshotWire()
	if math.Abs(snap.P50MS-3) > 0.03 || math.Abs(snap.P99MS-3) > 0.03 || snap.MinMS != 1 || snap.MaxMS != 3 {
		t.Fatalf("5 events of 1 ms and 95 of 3 ms: p50 %v, p99 %v, min %v, max %v", snap.P50MS, snap.P99MS, snap.MinMS, snap.MaxMS)
	}
	sk := decode(snap.Sketch)
	if sk.GetCount() != 100 {
		t.Fatalf("sketch holds %v events, want 100", sk.GetCount())
	}
	if q, _ := sk.GetValueAtQuantile(0.04); math.Abs(q-1e6) > 2e4 {
		t.Fatalf("the first 5 events (1 ms) are not in the sketch: 4th percentile %v ns", q)
	}
}
