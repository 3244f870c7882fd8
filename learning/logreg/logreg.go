package logreg

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/learning/internal/vec"
	"github.com/actorserve/actorserve/learning/internal/wire"
)

// ErrInvalidState marks a snapshot UnmarshalBinary cannot read (the same value as
// learning.ErrInvalidState).
var ErrInvalidState = wire.ErrInvalidState

// Config holds the hyper-parameters.
type Config struct {
	LR        float64 // learning rate, > 0
	AdaGrad   bool    // per-weight AdaGrad step sizes (else a constant lr)
	L2        float64 // L2 penalty λ >= 0
	Intercept bool    // learn a separate intercept
}

// Validate checks the hyper-parameters.
func (c Config) Validate() error {
	if !(c.LR > 0 && !math.IsInf(c.LR, 1)) {
		return fmt.Errorf("logreg: lr = %v, want a finite number > 0", c.LR)
	}
	if !(c.L2 >= 0 && !math.IsInf(c.L2, 1)) {
		return fmt.Errorf("logreg: l2 = %v, want a finite number >= 0", c.L2)
	}
	return nil
}

const adagradEps = 1e-8

// Sigmoid returns 1/(1 + e^−z) without overflow.
func Sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// row is one weight vector with its intercept and AdaGrad accumulators.
type row struct {
	w, g  []float64
	b, gb float64
}

func (r *row) step(cfg *Config, x []float64, err float64) bool {
	changed := false
	for i, xi := range x {
		g := err*xi + cfg.L2*r.w[i]
		if g == 0 {
			continue
		}
		changed = true
		if cfg.AdaGrad {
			r.g[i] += g * g
			r.w[i] -= cfg.LR * g / (math.Sqrt(r.g[i]) + adagradEps)
		} else {
			r.w[i] -= cfg.LR * g
		}
	}
	if cfg.Intercept && err != 0 {
		changed = true
		if cfg.AdaGrad {
			r.gb += err * err
			r.b -= cfg.LR * err / (math.Sqrt(r.gb) + adagradEps)
		} else {
			r.b -= cfg.LR * err
		}
	}
	return changed
}

const stateVersion = 1

// Binary is a logistic-regression classifier on labels ±1.
type Binary struct {
	cfg Config
	W   []float64 // weights
	G   []float64 // AdaGrad accumulators (sums of squared gradients)
	B   float64   // intercept (0 unless Config.Intercept)
	GB  float64   // the intercept's accumulator
}

// NewBinary returns zero weights over d inputs.
func NewBinary(d int, cfg Config) (*Binary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d < 1 {
		return nil, fmt.Errorf("logreg: %d inputs, want at least 1", d)
	}
	return &Binary{cfg: cfg, W: make([]float64, d), G: make([]float64, d)}, nil
}

// Margin returns w·x + b; P(y = +1) is Sigmoid(Margin).
func (b *Binary) Margin(x []float64) float64 { return vec.Dot(b.W, x) + b.B }

// Learn takes one gradient step on (x, y) with y = −1 or +1 and reports whether a weight
// changed.
func (b *Binary) Learn(x []float64, y float64) bool {
	t := 0.0
	if y > 0 {
		t = 1
	}
	err := Sigmoid(b.Margin(x)) - t
	r := row{w: b.W, g: b.G, b: b.B, gb: b.GB}
	changed := r.step(&b.cfg, x[:len(b.W)], err)
	b.B, b.GB = r.b, r.gb
	return changed
}

// ResetCovariance resets the AdaGrad accumulators, restoring the initial step sizes (the
// counterpart of an SCW/AROW covariance reset after a drift).
func (b *Binary) ResetCovariance() {
	vec.Zero(b.G)
	b.GB = 0
}

// Reset sets weights and accumulators to 0.
func (b *Binary) Reset() {
	vec.Zero(b.W)
	b.B = 0
	b.ResetCovariance()
}

// MarshalBinary writes weights, intercept and accumulators.
func (b *Binary) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(32 + 16*len(b.W))
	w.Byte(stateVersion)
	w.Floats(b.W)
	w.Floats(b.G)
	w.Float(b.B)
	w.Float(b.GB)
	return w.Bytes(), nil
}

// UnmarshalBinary restores a snapshot of a learner of the same width; on error the receiver is
// unchanged.
func (b *Binary) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("logreg binary", stateVersion)
	w := r.Floats("logreg weights", len(b.W))
	g := r.Floats("logreg accumulators", len(b.W))
	bias := r.Finite("logreg intercept")
	gb := r.Finite("logreg intercept accumulator")
	if err := r.Done(); err != nil {
		return err
	}
	copy(b.W, w)
	copy(b.G, g)
	b.B, b.GB = bias, gb
	return nil
}

// MaxClasses bounds the class count a snapshot may hold.
const MaxClasses = 1 << 16

// Softmax is multinomial logistic regression.
type Softmax struct {
	cfg Config
	d   int
	W   []float64 // class r's weights are W[r*d : (r+1)*d]
	G   []float64 // AdaGrad accumulators, same layout
	B   []float64 // intercepts
	GB  []float64 // intercept accumulators
	p   []float64 // scratch
}

// NewSoftmax returns zero weights over d inputs and k classes (k may be 0).
func NewSoftmax(d, k int, cfg Config) (*Softmax, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d < 1 || k < 0 {
		return nil, fmt.Errorf("logreg: %d inputs and %d classes, want at least 1 input", d, k)
	}
	return &Softmax{cfg: cfg, d: d, W: make([]float64, k*d), G: make([]float64, k*d),
		B: make([]float64, k), GB: make([]float64, k), p: make([]float64, k)}, nil
}

// NumClasses returns the number of classes.
func (s *Softmax) NumClasses() int { return len(s.B) }

// AddClass appends a class with zero weights.
func (s *Softmax) AddClass() {
	s.W = append(s.W, make([]float64, s.d)...)
	s.G = append(s.G, make([]float64, s.d)...)
	s.B = append(s.B, 0)
	s.GB = append(s.GB, 0)
	s.p = append(s.p, 0)
}

// Margins writes w_r·x + b_r for every class into out; softmax of them is the probability.
func (s *Softmax) Margins(x []float64, out []float64) {
	for r := range s.B {
		out[r] = vec.Dot(s.W[r*s.d:(r+1)*s.d], x) + s.B[r]
	}
}

// SoftmaxInPlace turns margins into probabilities, subtracting the maximum first.
func SoftmaxInPlace(m []float64) {
	if len(m) == 0 {
		return
	}
	mx := m[0]
	for _, v := range m[1:] {
		mx = math.Max(mx, v)
	}
	var sum float64
	for i, v := range m {
		m[i] = math.Exp(v - mx)
		sum += m[i]
	}
	for i := range m {
		m[i] /= sum
	}
}

// Learn takes one gradient step on (x, y) with y a class index and reports whether a weight
// changed.
func (s *Softmax) Learn(x []float64, y int) bool {
	k := len(s.B)
	if y < 0 || y >= k {
		return false
	}
	s.Margins(x, s.p)
	SoftmaxInPlace(s.p)
	x = x[:s.d]
	changed := false
	for r := 0; r < k; r++ {
		err := s.p[r]
		if r == y {
			err -= 1
		}
		rw := row{w: s.W[r*s.d : (r+1)*s.d], g: s.G[r*s.d : (r+1)*s.d], b: s.B[r], gb: s.GB[r]}
		if rw.step(&s.cfg, x, err) {
			changed = true
		}
		s.B[r], s.GB[r] = rw.b, rw.gb
	}
	return changed
}

// ResetCovariance resets the AdaGrad accumulators.
func (s *Softmax) ResetCovariance() {
	vec.Zero(s.G)
	vec.Zero(s.GB)
}

// Reset sets weights and accumulators to 0 and keeps the classes.
func (s *Softmax) Reset() {
	vec.Zero(s.W)
	vec.Zero(s.B)
	s.ResetCovariance()
}

// MarshalBinary writes the class count, weights, intercepts and accumulators.
func (s *Softmax) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(32 + 16*(len(s.W)+len(s.B)))
	w.Byte(stateVersion)
	w.Uint(uint64(len(s.B)))
	w.Floats(s.W)
	w.Floats(s.G)
	w.Floats(s.B)
	w.Floats(s.GB)
	return w.Bytes(), nil
}

// UnmarshalBinary restores a snapshot of a learner of the same width with up to [MaxClasses]
// classes; on error the receiver is unchanged.
func (s *Softmax) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("logreg softmax", stateVersion)
	k := r.Count("logreg classes", MaxClasses)
	w := r.Floats("logreg weights", k*s.d)
	g := r.Floats("logreg accumulators", k*s.d)
	b := r.Floats("logreg intercepts", k)
	gb := r.Floats("logreg intercept accumulators", k)
	if err := r.Done(); err != nil {
		return err
	}
	s.W, s.G, s.B, s.GB, s.p = w, g, b, gb, make([]float64, k)
	return nil
}
