package drift

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/learning/internal/wire"
)

// ADWINConfig holds ADWIN's parameters.
type ADWINConfig struct {
	Delta       float64 // confidence δ of a cut (River: 0.002)
	Clock       int     // test for a cut every Clock inserts (River: 32)
	MaxBuckets  int     // buckets per size level before two merge (River: 5)
	MinWindow   int     // L: both sides of a cut hold at least L items (River: 5)
	GracePeriod int     // no test before the window holds this many items (River: 10)
	// Both signals a cut whichever way the mean moved; by default only a cut after which the
	// mean is higher (the error went up) is a drift, as MOA's ADWINChangeDetector does. The
	// window is cut either way.
	Both bool
}

// DefaultADWIN returns River's defaults (signalling increases only).
func DefaultADWIN() ADWINConfig {
	return ADWINConfig{Delta: 0.002, Clock: 32, MaxBuckets: 5, MinWindow: 5, GracePeriod: 10}
}

// Validate checks the parameters.
func (c ADWINConfig) Validate() error {
	if !(c.Delta > 0 && c.Delta < 1) {
		return fmt.Errorf("adwin: delta %v, want 0 < delta < 1", c.Delta)
	}
	if c.Clock < 1 || c.Clock > 1<<20 {
		return fmt.Errorf("adwin: clock %d, want 1 to %d", c.Clock, 1<<20)
	}
	if c.MaxBuckets < 2 || c.MaxBuckets > maxBuckets {
		return fmt.Errorf("adwin: max buckets %d, want 2 to %d", c.MaxBuckets, maxBuckets)
	}
	if c.MinWindow < 1 {
		return fmt.Errorf("adwin: min window %d, want >= 1", c.MinWindow)
	}
	if c.GracePeriod < 0 {
		return fmt.Errorf("adwin: grace period %d, want >= 0", c.GracePeriod)
	}
	return nil
}

const (
	maxBuckets = 1000 // per level, bound for configs and snapshots
	maxLevels  = 62   // bucket sizes 2^0 … 2^61 keep the width in a uint64
)

// bucket summarises 2^level consecutive values: their sum and their sum of squared deviations
// from their mean.
type bucket struct{ total, m2 float64 }

// ADWIN is the ADaptive WINdowing detector: a window of recent values kept as an exponential
// histogram (level i holds up to MaxBuckets buckets of 2^i values, oldest first), which drops
// its older part whenever two sub-windows have means that differ by more than
//
//	ε = √(2·m·σ²·d) + (2/3)·m·d,  m = 1/(n0 − L + 1) + 1/(n1 − L + 1),  d = ln(2·ln W / δ)
//
// with W the window length and σ² its variance. Memory is O(MaxBuckets·log W). Non-finite
// inputs are ignored.
type ADWIN struct {
	cfg    ADWINConfig
	width  uint64
	total  float64
	m2     float64 // sum of squared deviations over the window
	tick   uint64
	levels [][]bucket
}

// NewADWIN returns an ADWIN detector.
func NewADWIN(cfg ADWINConfig) (*ADWIN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &ADWIN{cfg: cfg}, nil
}

// Width returns the current window length.
func (a *ADWIN) Width() uint64 { return a.width }

// Mean returns the mean of the window (0 when empty).
func (a *ADWIN) Mean() float64 {
	if a.width == 0 {
		return 0
	}
	return a.total / float64(a.width)
}

// Add inserts a value and, every Clock inserts, tests the window for cuts.
func (a *ADWIN) Add(x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return false
	}
	a.insert(x)
	a.tick++
	if a.tick%uint64(a.cfg.Clock) != 0 || a.width <= uint64(a.cfg.GracePeriod) {
		return false
	}
	before := a.Mean()
	if !a.shrink() {
		return false
	}
	return a.cfg.Both || a.Mean() > before
}

func (a *ADWIN) insert(x float64) {
	a.width++
	if a.width > 1 {
		w := float64(a.width)
		d := x - a.total/(w-1)
		a.m2 += (w - 1) * d * d / w
	}
	a.total += x
	if len(a.levels) == 0 {
		a.levels = append(a.levels, nil)
	}
	a.levels[0] = append(a.levels[0], bucket{total: x})
	for i := 0; i < len(a.levels); i++ {
		if len(a.levels[i]) <= a.cfg.MaxBuckets {
			break
		}
		for len(a.levels[i]) > a.cfg.MaxBuckets {
			if i+1 == len(a.levels) {
				if len(a.levels) == maxLevels { // 2^61 values: cannot happen in practice
					return
				}
				a.levels = append(a.levels, nil)
			}
			b0, b1 := a.levels[i][0], a.levels[i][1]
			n := math.Ldexp(1, i)
			d := b0.total/n - b1.total/n
			merged := bucket{total: b0.total + b1.total, m2: b0.m2 + b1.m2 + n*n*d*d/(2*n)}
			a.levels[i+1] = append(a.levels[i+1], merged)
			k := copy(a.levels[i], a.levels[i][2:])
			a.levels[i] = a.levels[i][:k]
		}
	}
}

// shrink drops the oldest bucket while some split of the window shows a significant change,
// and reports whether it dropped any.
func (a *ADWIN) shrink() bool {
	cut := false
	for a.width > 0 && a.findCut() {
		a.dropOldest()
		cut = true
	}
	return cut
}

func (a *ADWIN) findCut() bool {
	L := uint64(a.cfg.MinWindow)
	w := float64(a.width)
	variance := a.m2 / w
	dd := math.Log(2 * math.Log(w) / a.cfg.Delta)
	var n0 uint64
	n1 := a.width
	var u0 float64
	u1 := a.total
	for i := len(a.levels) - 1; i >= 0; i-- {
		nb := uint64(1) << i
		for _, b := range a.levels[i] {
			n0 += nb
			n1 -= nb
			u0 += b.total
			u1 -= b.total
			if n1 == 0 {
				return false
			}
			if n0 < L || n1 < L {
				continue
			}
			m := 1/float64(n0-L+1) + 1/float64(n1-L+1)
			eps := math.Sqrt(2*m*variance*dd) + 2.0/3.0*dd*m
			if math.Abs(u0/float64(n0)-u1/float64(n1)) > eps {
				return true
			}
		}
	}
	return false
}

func (a *ADWIN) dropOldest() {
	top := len(a.levels) - 1
	for top >= 0 && len(a.levels[top]) == 0 {
		top--
	}
	if top < 0 {
		return
	}
	b := a.levels[top][0]
	k := copy(a.levels[top], a.levels[top][1:])
	a.levels[top] = a.levels[top][:k]
	for len(a.levels) > 0 && len(a.levels[len(a.levels)-1]) == 0 {
		a.levels = a.levels[:len(a.levels)-1]
	}
	nb := uint64(1) << top
	a.width -= nb
	a.total -= b.total
	if a.width == 0 {
		a.total, a.m2 = 0, 0
		return
	}
	n1, w := float64(nb), float64(a.width)
	d := b.total/n1 - a.total/w
	a.m2 -= b.m2 + n1*w*d*d/(n1+w)
	if a.m2 < 0 {
		a.m2 = 0
	}
}

// Reset empties the window.
func (a *ADWIN) Reset() { *a = ADWIN{cfg: a.cfg} }

// MarshalBinary writes the window.
func (a *ADWIN) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(64)
	w.Byte(stateVersion)
	w.Uint(a.width)
	w.Float(a.total)
	w.Float(a.m2)
	w.Uint(a.tick)
	w.Uint(uint64(len(a.levels)))
	for _, l := range a.levels {
		w.Uint(uint64(len(l)))
		for _, b := range l {
			w.Float(b.total)
			w.Float(b.m2)
		}
	}
	return w.Bytes(), nil
}

// UnmarshalBinary restores the window; on error the receiver is unchanged.
func (a *ADWIN) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("adwin", stateVersion)
	width := r.Uint()
	total := r.Finite("adwin total")
	m2 := r.Finite("adwin variance")
	tick := r.Uint()
	nl := r.Count("adwin levels", maxLevels)
	var levels [][]bucket
	var sum uint64
	for i := 0; i < nl && r.Err() == nil; i++ {
		nb := r.Count("adwin buckets per level", maxBuckets+1)
		l := make([]bucket, 0, nb)
		for j := 0; j < nb && r.Err() == nil; j++ {
			l = append(l, bucket{total: r.Finite("adwin bucket total"), m2: r.Finite("adwin bucket variance")})
		}
		levels = append(levels, l)
		sum += uint64(nb) << i
	}
	if r.Err() == nil && sum != width {
		r.Failf("adwin buckets hold %d values, the window says %d", sum, width)
	}
	if r.Err() == nil && m2 < 0 {
		r.Failf("adwin variance %v is negative", m2)
	}
	if err := r.Done(); err != nil {
		return err
	}
	a.width, a.total, a.m2, a.tick, a.levels = width, total, m2, tick, levels
	return nil
}
