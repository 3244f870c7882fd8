package eval

import (
	"context"
	"testing"
)

// TestSEARecoversAfterEachDrift: on a generated SEA stream, a learner with
// a drift detector dips after each concept change and recovers: the
// windowed accuracy a while after each drift is back near the level before.
func TestSEARecoversAfterEachDrift(t *testing.T) {
	d, drifts := GenerateSEA(40000, 1, 0.1)
	if len(drifts) != 3 || drifts[0] != 10000 {
		t.Fatalf("drifts at %v", drifts)
	}
	l, err := ParseLearner("arow:drift=ddm,window=500")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{Data: d, Learners: []Learner{l}, Curve: 250})
	if err != nil {
		t.Fatal(err)
	}
	curve := res[0].Runs[0].Curve
	at := func(event int) float64 {
		for _, p := range curve {
			if p.Event >= event {
				return p.Recent
			}
		}
		return curve[len(curve)-1].Recent
	}
	for _, dr := range drifts {
		before, after := at(dr-50), at(dr+6000)
		dip := before
		for _, p := range curve {
			if p.Event > dr && p.Event <= dr+3000 && p.Recent < dip {
				dip = p.Recent
			}
		}
		t.Logf("drift at %d: windowed accuracy %.3f before, %.3f at the dip, %.3f 6000 events after", dr, before, dip, after)
		if dip > before-0.02 {
			t.Errorf("drift at %d: no dip (%.3f before, lowest %.3f): the stream did not drift", dr, before, dip)
		}
		if after < before-0.03 || after < 0.8 {
			t.Errorf("drift at %d: accuracy %.3f before, only %.3f after: no recovery", dr, before, after)
		}
	}
	if res[0].Drifts.Mean < 1 {
		t.Errorf("the detector found no drift in a stream with three")
	}
}
