package metrics

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/learning/internal/wire"
)

// ErrInvalidState marks a snapshot UnmarshalBinary cannot read (the same value as
// learning.ErrInvalidState).
var ErrInvalidState = wire.ErrInvalidState

// DefaultWindow is the default length of the recent window.
const DefaultWindow = 1000

// MaxWindow bounds the recent window.
const MaxWindow = 1 << 20

// MaxClasses bounds the class count a snapshot may hold.
const MaxClasses = 1 << 16

// ring is a window of the last size values, oldest overwritten first. Its
// storage grows with the values pushed, up to size: a model that never
// receives a label holds no window at all.
type ring struct {
	v    []float64 // len(v) == next until full, then len(v) == size
	size int
	next int
	full bool
}

func newRing(n int) ring { return ring{size: n} }

func (r *ring) push(x float64) (old float64, evicted bool) {
	if r.size == 0 {
		return 0, false
	}
	if !r.full {
		if len(r.v) == cap(r.v) {
			grown := make([]float64, len(r.v), min(max(2*cap(r.v), 16), r.size))
			copy(grown, r.v)
			r.v = grown
		}
		r.v = append(r.v, x)
		r.next++
		if r.next == r.size {
			r.next, r.full = 0, true
		}
		return 0, false
	}
	old = r.v[r.next]
	r.v[r.next] = x
	r.next++
	if r.next == r.size {
		r.next = 0
	}
	return old, true
}

func (r *ring) len() int {
	if r.full {
		return r.size
	}
	return r.next
}

// ordered returns the values oldest first.
func (r *ring) ordered() []float64 {
	if !r.full {
		return append([]float64(nil), r.v[:r.next]...)
	}
	return append(append([]float64(nil), r.v[r.next:]...), r.v[:r.next]...)
}

func (r *ring) sum() float64 {
	var s float64
	for _, x := range r.ordered() {
		s += x
	}
	return s
}

// Classification scores a stream of (true class, predicted class) pairs.
type Classification struct {
	n         uint64
	correct   uint64
	noChange  uint64   // events the no-change classifier got right
	last      int      // previous true class; 0 before the first event
	truth     []uint64 // per class: how often it was the true class
	predicted []uint64 // per class: how often it was predicted
	recent    ring     // 1 for a correct prediction, 0 otherwise
	recentOK  int
}

// NewClassification returns empty scores with a recent window of the given length
// (DefaultWindow when window <= 0, at most MaxWindow).
func NewClassification(window int) *Classification {
	return &Classification{recent: newRing(clampWindow(window))}
}

func clampWindow(w int) int {
	if w <= 0 {
		return DefaultWindow
	}
	return min(w, MaxWindow)
}

func grow(s []uint64, k int) []uint64 {
	for len(s) <= k {
		s = append(s, 0)
	}
	return s
}

// Add records one prediction. Classes are indexes >= 0; pred < 0 means no prediction (always
// wrong). The no-change classifier's first guess is class 0.
func (c *Classification) Add(truth, pred int) {
	if truth < 0 {
		return
	}
	c.n++
	ok := truth == pred
	if ok {
		c.correct++
	}
	if truth == c.last {
		c.noChange++
	}
	c.last = truth
	c.truth = grow(c.truth, truth)
	c.truth[truth]++
	if pred >= 0 {
		c.predicted = grow(c.predicted, pred)
		c.predicted[pred]++
	}
	v := 0.0
	if ok {
		v = 1
	}
	if old, ev := c.recent.push(v); ev && old == 1 {
		c.recentOK--
	}
	if ok {
		c.recentOK++
	}
}

// N returns the number of events scored.
func (c *Classification) N() uint64 { return c.n }

// CheckClasses reports an error wrapping ErrInvalidState if the scores mention a class index
// >= k (after a restore, k is the model's class count).
func (c *Classification) CheckClasses(k int) error {
	if len(c.truth) > k || len(c.predicted) > k || (c.last >= k && c.last != 0) {
		return fmt.Errorf("%w: metrics mention %d classes, the model has %d", ErrInvalidState, max(len(c.truth), len(c.predicted), c.last+1), k)
	}
	return nil
}

// Correct returns the number of correct predictions.
func (c *Classification) Correct() uint64 { return c.correct }

// Accuracy returns the fraction correct over all time (0 before the first event).
func (c *Classification) Accuracy() float64 { return ratio(c.correct, c.n) }

// RecentAccuracy returns the fraction correct over the recent window.
func (c *Classification) RecentAccuracy() float64 {
	return ratio(uint64(c.recentOK), uint64(c.recent.len()))
}

// NoChangeAccuracy returns the accuracy of the no-change classifier on the same stream.
func (c *Classification) NoChangeAccuracy() float64 { return ratio(c.noChange, c.n) }

// Kappa returns Cohen's κ = (p₀ − p_e)/(1 − p_e), p_e the chance agreement from the true and
// predicted marginals; 0 when p_e = 1 or nothing was scored.
func (c *Classification) Kappa() float64 {
	if c.n == 0 {
		return 0
	}
	n := float64(c.n)
	var pe float64
	for k, t := range c.truth {
		if k < len(c.predicted) {
			pe += float64(t) / n * float64(c.predicted[k]) / n
		}
	}
	return kappa(c.Accuracy(), pe)
}

// KappaTemporal returns κ_t = (p₀ − p_nc)/(1 − p_nc), p_nc the no-change classifier's accuracy;
// 0 when p_nc = 1 or nothing was scored. Negative means worse than repeating the last label.
func (c *Classification) KappaTemporal() float64 {
	if c.n == 0 {
		return 0
	}
	return kappa(c.Accuracy(), c.NoChangeAccuracy())
}

func kappa(p0, p float64) float64 {
	if p >= 1 {
		return 0
	}
	return (p0 - p) / (1 - p)
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

const stateVersion = 1

// MarshalBinary writes the scores.
func (c *Classification) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(64 + 8*(len(c.truth)+len(c.predicted)) + 8*c.recent.len())
	w.Byte(stateVersion)
	w.Uint(c.n)
	w.Uint(c.correct)
	w.Uint(c.noChange)
	w.Uint(uint64(c.last))
	w.Uints(c.truth)
	w.Uints(c.predicted)
	w.Floats(c.recent.ordered())
	return w.Bytes(), nil
}

// UnmarshalBinary restores scores; on error the receiver is unchanged.
func (c *Classification) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("classification metrics", stateVersion)
	n := r.Uint()
	correct := r.Uint()
	noChange := r.Uint()
	last := r.Count("last class", MaxClasses)
	truth := r.Uints("true-class counts", -1)
	predicted := r.Uints("predicted-class counts", -1)
	recent := r.Floats("recent outcomes", -1)
	if r.Err() == nil {
		switch {
		case correct > n || noChange > n:
			r.Failf("counts exceed the %d events", n)
		case len(truth) > MaxClasses || len(predicted) > MaxClasses:
			r.Failf("more than %d classes", MaxClasses)
		case uint64(len(recent)) > n:
			r.Failf("%d recent outcomes but %d events", len(recent), n)
		}
		for _, v := range recent {
			if v != 0 && v != 1 {
				r.Failf("recent outcome %v is neither 0 nor 1", v)
				break
			}
		}
	}
	if err := r.Done(); err != nil {
		return err
	}
	fresh := Classification{n: n, correct: correct, noChange: noChange, last: last,
		truth: truth, predicted: predicted, recent: newRing(c.recent.size)}
	if fresh.recent.size == 0 {
		fresh.recent = newRing(DefaultWindow)
	}
	for _, v := range recent {
		if old, ev := fresh.recent.push(v); ev && old == 1 {
			fresh.recentOK--
		}
		if v == 1 {
			fresh.recentOK++
		}
	}
	*c = fresh
	return nil
}

// Regression scores a stream of (true value, predicted value) pairs.
type Regression struct {
	n      uint64
	sumAbs float64
	sumSq  float64
	recent ring // absolute errors
}

// NewRegression returns empty scores with a recent window of the given length.
func NewRegression(window int) *Regression {
	return &Regression{recent: newRing(clampWindow(window))}
}

// Add records one prediction; a pair whose error is not finite is skipped.
func (g *Regression) Add(truth, pred float64) {
	e := math.Abs(truth - pred)
	if math.IsNaN(e) || math.IsInf(e, 0) {
		return
	}
	g.n++
	g.sumAbs += e
	g.sumSq += e * e
	g.recent.push(e)
}

// N returns the number of events scored.
func (g *Regression) N() uint64 { return g.n }

// MAE returns the mean absolute error over all time (0 before the first event).
func (g *Regression) MAE() float64 {
	if g.n == 0 {
		return 0
	}
	return g.sumAbs / float64(g.n)
}

// RMSE returns the root mean squared error over all time.
func (g *Regression) RMSE() float64 {
	if g.n == 0 {
		return 0
	}
	return math.Sqrt(g.sumSq / float64(g.n))
}

// RecentMAE returns the mean absolute error over the recent window (summed afresh, O(window)).
func (g *Regression) RecentMAE() float64 {
	n := g.recent.len()
	if n == 0 {
		return 0
	}
	return g.recent.sum() / float64(n)
}

// MarshalBinary writes the scores.
func (g *Regression) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(40 + 8*g.recent.len())
	w.Byte(stateVersion)
	w.Uint(g.n)
	w.Float(g.sumAbs)
	w.Float(g.sumSq)
	w.Floats(g.recent.ordered())
	return w.Bytes(), nil
}

// UnmarshalBinary restores scores; on error the receiver is unchanged.
func (g *Regression) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("regression metrics", stateVersion)
	n := r.Uint()
	sumAbs := r.Finite("absolute error sum")
	sumSq := r.Finite("squared error sum")
	recent := r.Floats("recent errors", -1)
	if r.Err() == nil {
		if sumAbs < 0 || sumSq < 0 || uint64(len(recent)) > n {
			r.Failf("inconsistent regression metrics")
		}
		for _, v := range recent {
			if v < 0 {
				r.Failf("recent error %v is negative", v)
				break
			}
		}
	}
	if err := r.Done(); err != nil {
		return err
	}
	size := g.recent.size
	if size == 0 {
		size = DefaultWindow
	}
	fresh := Regression{n: n, sumAbs: sumAbs, sumSq: sumSq, recent: newRing(size)}
	for _, v := range recent {
		fresh.recent.push(v)
	}
	*g = fresh
	return nil
}
