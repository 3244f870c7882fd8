package drift_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/actorserve/actorserve/learning/drift"
)

// bits returns n Bernoulli(p) error bits from a seeded generator.
func bits(rng *rand.Rand, n int, p float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		if rng.Float64() < p {
			out[i] = 1
		}
	}
	return out
}

// stream is 3000 bits at error rate 0.1 followed by 2000 at 0.5: one abrupt drift at 3000.
func stream(seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	return append(bits(rng, 3000, 0.1), bits(rng, 2000, 0.5)...)
}

func detectors(t *testing.T) map[string]func() drift.Detector {
	return map[string]func() drift.Detector{
		"ddm": func() drift.Detector {
			d, err := drift.NewDDM(drift.DefaultDDM())
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		"adwin": func() drift.Detector {
			d, err := drift.NewADWIN(drift.DefaultADWIN())
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		// threshold 50 is tuned for larger losses; on 0/1 bits a jump of 0.4 takes ~125 samples
		"ph": func() drift.Detector {
			d, err := drift.NewPageHinkley(drift.DefaultPageHinkley())
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
}

// Each detector finds the drift at 3000 on each of 10 seeds within its delay bound, with few
// false alarms before it. DDM is the noisiest: with p_min fixed early from a short prefix it
// fires about once per 3000 stationary samples at an error rate of 0.1 (as MOA's and River's do).
func TestAbruptDrift(t *testing.T) {
	bounds := map[string]struct{ delay, falseAlarms int }{
		"ddm":   {600, 15},
		"adwin": {150, 1},
		"ph":    {200, 1},
	}
	for name, mk := range detectors(t) {
		t.Run(name, func(t *testing.T) {
			bound := bounds[name]
			falseAlarms := 0
			for seed := uint64(1); seed <= 10; seed++ {
				d := mk()
				found := -1
				for i, e := range stream(seed) {
					if d.Add(e) {
						if i < 3000 {
							falseAlarms++
							continue
						}
						found = i
						break
					}
				}
				if found < 0 || found > 3000+bound.delay {
					t.Fatalf("seed %d: drift found at %d, want within %d after 3000", seed, found, bound.delay)
				}
				t.Logf("seed %d: detected at +%d, false alarms so far %d", seed, found-3000, falseAlarms)
			}
			if falseAlarms > bound.falseAlarms {
				t.Fatalf("%d false alarms in 10 × 3000 stationary samples", falseAlarms)
			}
		})
	}
}

// A drop of the error rate is not a drift (the model got better), unless ADWIN is asked for
// both directions.
func TestImprovementIsNotDrift(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	s := append(bits(rng, 2000, 0.5), bits(rng, 2000, 0.05)...)
	for name, mk := range detectors(t) {
		d := mk()
		for i, e := range s {
			if d.Add(e) && i >= 2000 {
				t.Fatalf("%s signalled a drift at %d after the error fell", name, i)
			}
		}
	}
	cfg := drift.DefaultADWIN()
	cfg.Both = true
	a, _ := drift.NewADWIN(cfg)
	n := 0
	for _, e := range s {
		if a.Add(e) {
			n++
		}
	}
	if n == 0 {
		t.Fatal("ADWIN with Both missed the drop")
	}
}

// ADWIN drops the old part of its window at a drift.
func TestADWINWindow(t *testing.T) {
	a, _ := drift.NewADWIN(drift.DefaultADWIN())
	for _, e := range stream(3)[:3000] {
		a.Add(e)
	}
	if w := a.Width(); w != 3000 {
		t.Fatalf("stationary width %d, want 3000", w)
	}
	if m := a.Mean(); m < 0.08 || m > 0.12 {
		t.Fatalf("mean %v", m)
	}
	for _, e := range stream(3)[3000:] {
		if a.Add(e) {
			break
		}
	}
	if w := a.Width(); w >= 3000 {
		t.Fatalf("width %d after the drift, want it cut", w)
	}
}

// DDM: no signal during the warm start, whatever the errors.
func TestDDMWarmStart(t *testing.T) {
	d, _ := drift.NewDDM(drift.DDMConfig{WarmStart: 30, WarningLevel: 2, DriftThreshold: 3})
	for i := range 29 {
		e := 0.0
		if i > 20 {
			e = 1
		}
		if d.Add(e) {
			t.Fatalf("signal at %d during warm start", i)
		}
	}
	if _, err := drift.NewDDM(drift.DDMConfig{WarmStart: 0, WarningLevel: 2, DriftThreshold: 3}); err == nil {
		t.Fatal("warm start 0 accepted")
	}
}

// Snapshots restore the exact state: a restored detector signals exactly when the original does.
func TestMarshalContinues(t *testing.T) {
	s := stream(11)
	for name, mk := range detectors(t) {
		a := mk()
		for _, e := range s[:2900] {
			a.Add(e)
		}
		b, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		r := mk()
		if err := r.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, e := range s[2900:] {
			if x, y := a.Add(e), r.Add(e); x != y {
				t.Fatalf("%s: original %v, restored %v at %d", name, x, y, 2900+i)
			}
		}
		for _, bad := range [][]byte{b[:len(b)-1], append(append([]byte{}, b...), 0), {2}} {
			if err := mk().UnmarshalBinary(bad); !errors.Is(err, drift.ErrInvalidState) {
				t.Fatalf("%s: bad snapshot: %v", name, err)
			}
		}
	}
}

func FuzzADWINUnmarshal(f *testing.F) {
	a, _ := drift.NewADWIN(drift.DefaultADWIN())
	for _, e := range stream(5)[:500] {
		a.Add(e)
	}
	b, _ := a.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		d, _ := drift.NewADWIN(drift.DefaultADWIN())
		if err := d.UnmarshalBinary(p); err != nil {
			return
		}
		for i := range 100 {
			d.Add(float64(i % 2))
		}
	})
}
