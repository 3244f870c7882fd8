package pa

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/learning/internal/vec"
	"github.com/actorserve/actorserve/learning/internal/wire"
)

// ErrInvalidState marks a snapshot UnmarshalBinary cannot read (the same value as
// learning.ErrInvalidState).
var ErrInvalidState = wire.ErrInvalidState

// Variant selects the step-size rule.
type Variant uint8

// The three passive-aggressive variants.
const (
	PA  Variant = iota // τ = ℓ/q: as aggressive as possible
	PA1                // τ = min(C, ℓ/q)
	PA2                // τ = ℓ/(q + 1/(2C))
)

func (v Variant) String() string {
	switch v {
	case PA:
		return "PA"
	case PA1:
		return "PA-I"
	case PA2:
		return "PA-II"
	}
	return fmt.Sprintf("Variant(%d)", v)
}

// Config holds the hyper-parameters.
type Config struct {
	Variant Variant
	// C is the aggressiveness of PA-I and PA-II (> 0); PA ignores it.
	C float64
	// Epsilon is the insensitivity of the regression loss max(0, |w·x − y| − ε) (>= 0).
	Epsilon float64
	// Intercept keeps a separate intercept that is not part of ‖x‖² (scikit-learn's rule).
	Intercept bool
}

// Validate checks the hyper-parameters.
func (c Config) Validate() error {
	if c.Variant > PA2 {
		return fmt.Errorf("pa: unknown variant %d", c.Variant)
	}
	if c.Variant != PA && !(c.C > 0 && !math.IsInf(c.C, 1)) {
		return fmt.Errorf("pa: C = %v, want a finite number > 0", c.C)
	}
	if !(c.Epsilon >= 0 && !math.IsInf(c.Epsilon, 1)) {
		return fmt.Errorf("pa: epsilon = %v, want a finite number >= 0", c.Epsilon)
	}
	return nil
}

// step returns τ for loss ℓ > 0 and squared norm q, and false when no update applies.
func (c Config) step(loss, q float64) (float64, bool) {
	switch c.Variant {
	case PA:
		if q == 0 {
			return 0, false
		}
		return loss / q, true
	case PA1:
		if q == 0 {
			return 0, false
		}
		return math.Min(c.C, loss/q), true
	}
	return loss / (q + 0.5/c.C), true
}

const stateVersion = 1

// Binary is a binary passive-aggressive classifier on labels y ∈ {−1, +1}.
type Binary struct {
	cfg Config
	W   []float64 // weights, one per input
	B   float64   // intercept (stays 0 unless Config.Intercept)
}

// NewBinary returns a zero-weight classifier over d inputs.
func NewBinary(d int, cfg Config) (*Binary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d < 1 {
		return nil, fmt.Errorf("pa: %d inputs, want at least 1", d)
	}
	return &Binary{cfg: cfg, W: make([]float64, d)}, nil
}

// Margin returns w·x + b.
func (b *Binary) Margin(x []float64) float64 { return vec.Dot(b.W, x) + b.B }

// Learn takes one step on (x, y) with y = −1 or +1 and reports whether the weights changed.
func (b *Binary) Learn(x []float64, y float64) bool {
	loss := 1 - y*b.Margin(x)
	if loss <= 0 {
		return false
	}
	tau, ok := b.cfg.step(loss, vec.SqNorm(x[:len(b.W)]))
	if !ok || tau == 0 {
		return false
	}
	u := tau * y
	vec.Axpy(u, x[:len(b.W)], b.W)
	if b.cfg.Intercept {
		b.B += u
	}
	return true
}

// Reset sets every weight to 0.
func (b *Binary) Reset() {
	vec.Zero(b.W)
	b.B = 0
}

// MarshalBinary writes the weights and intercept.
func (b *Binary) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(16 + 8*len(b.W))
	w.Byte(stateVersion)
	w.Floats(b.W)
	w.Float(b.B)
	return w.Bytes(), nil
}

// UnmarshalBinary restores weights written by MarshalBinary of a classifier of the same width;
// on error the receiver is unchanged.
func (b *Binary) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("pa binary", stateVersion)
	w := r.Floats("pa binary weights", len(b.W))
	bias := r.Finite("pa binary intercept")
	if err := r.Done(); err != nil {
		return err
	}
	copy(b.W, w)
	b.B = bias
	return nil
}

// Regressor is a passive-aggressive regressor with the ε-insensitive loss.
type Regressor struct {
	cfg Config
	W   []float64
	B   float64
}

// NewRegressor returns a zero-weight regressor over d inputs.
func NewRegressor(d int, cfg Config) (*Regressor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d < 1 {
		return nil, fmt.Errorf("pa: %d inputs, want at least 1", d)
	}
	return &Regressor{cfg: cfg, W: make([]float64, d)}, nil
}

// Predict returns w·x + b.
func (g *Regressor) Predict(x []float64) float64 { return vec.Dot(g.W, x) + g.B }

// Learn takes one step towards y and reports whether the weights changed.
func (g *Regressor) Learn(x []float64, y float64) bool {
	p := g.Predict(x)
	loss := math.Abs(y-p) - g.cfg.Epsilon
	if loss <= 0 {
		return false
	}
	tau, ok := g.cfg.step(loss, vec.SqNorm(x[:len(g.W)]))
	if !ok || tau == 0 {
		return false
	}
	if y-p < 0 {
		tau = -tau
	}
	vec.Axpy(tau, x[:len(g.W)], g.W)
	if g.cfg.Intercept {
		g.B += tau
	}
	return true
}

// Reset sets every weight to 0.
func (g *Regressor) Reset() {
	vec.Zero(g.W)
	g.B = 0
}

// MarshalBinary writes the weights and intercept.
func (g *Regressor) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(16 + 8*len(g.W))
	w.Byte(stateVersion)
	w.Floats(g.W)
	w.Float(g.B)
	return w.Bytes(), nil
}

// UnmarshalBinary restores weights written by MarshalBinary of a regressor of the same width;
// on error the receiver is unchanged.
func (g *Regressor) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("pa regressor", stateVersion)
	w := r.Floats("pa regressor weights", len(g.W))
	bias := r.Finite("pa regressor intercept")
	if err := r.Done(); err != nil {
		return err
	}
	copy(g.W, w)
	g.B = bias
	return nil
}

// Multiclass is the multi-prototype passive-aggressive classifier: one weight vector w_r per
// class, prediction argmax_r w_r·x, and on a mistake (or a margin below 1) the true class's
// vector moves towards x and the highest-scoring wrong class's vector away from it, by the
// same τ, with q = 2‖x‖² because ‖Φ(x,y) − Φ(x,s)‖² = 2‖x‖².
type Multiclass struct {
	cfg Config
	d   int
	W   []float64 // class r's weights are W[r*d : (r+1)*d]
	B   []float64 // one intercept per class (zeros unless Config.Intercept)
	m   []float64 // scratch margins
}

// NewMulticlass returns a zero-weight classifier over d inputs with k classes (k may be 0;
// add classes with AddClass).
func NewMulticlass(d, k int, cfg Config) (*Multiclass, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d < 1 || k < 0 {
		return nil, fmt.Errorf("pa: %d inputs and %d classes, want at least 1 input", d, k)
	}
	return &Multiclass{cfg: cfg, d: d, W: make([]float64, k*d), B: make([]float64, k), m: make([]float64, k)}, nil
}

// NumClasses returns the number of classes.
func (c *Multiclass) NumClasses() int { return len(c.B) }

// AddClass appends a class with zero weights.
func (c *Multiclass) AddClass() {
	c.W = append(c.W, make([]float64, c.d)...)
	c.B = append(c.B, 0)
	c.m = append(c.m, 0)
}

// Margins writes w_r·x + b_r for every class r into out (len(out) >= NumClasses()).
func (c *Multiclass) Margins(x []float64, out []float64) {
	for r := range c.B {
		out[r] = vec.Dot(c.W[r*c.d:(r+1)*c.d], x) + c.B[r]
	}
}

// Learn takes one step on (x, y) with y a class index and reports whether the weights changed.
// With fewer than two classes there is no wrong class and nothing changes.
func (c *Multiclass) Learn(x []float64, y int) bool {
	k := len(c.B)
	if k < 2 || y < 0 || y >= k {
		return false
	}
	c.Margins(x, c.m)
	s := -1
	for r := 0; r < k; r++ {
		if r != y && (s < 0 || c.m[r] > c.m[s]) {
			s = r
		}
	}
	loss := 1 - (c.m[y] - c.m[s])
	if loss <= 0 {
		return false
	}
	x = x[:c.d]
	tau, ok := c.cfg.step(loss, 2*vec.SqNorm(x))
	if !ok || tau == 0 {
		return false
	}
	vec.Axpy(tau, x, c.W[y*c.d:(y+1)*c.d])
	vec.Axpy(-tau, x, c.W[s*c.d:(s+1)*c.d])
	if c.cfg.Intercept {
		c.B[y] += tau
		c.B[s] -= tau
	}
	return true
}

// Reset sets every weight to 0 and keeps the classes.
func (c *Multiclass) Reset() {
	vec.Zero(c.W)
	vec.Zero(c.B)
}

// MarshalBinary writes the class count, weights and intercepts.
func (c *Multiclass) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(16 + 8*(len(c.W)+len(c.B)))
	w.Byte(stateVersion)
	w.Uint(uint64(len(c.B)))
	w.Floats(c.W)
	w.Floats(c.B)
	return w.Bytes(), nil
}

// MaxClasses bounds the class count a snapshot may hold.
const MaxClasses = 1 << 16

// UnmarshalBinary restores a snapshot of a classifier of the same width, with any number of
// classes up to [MaxClasses]; on error the receiver is unchanged.
func (c *Multiclass) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("pa multiclass", stateVersion)
	k := r.Count("pa multiclass classes", MaxClasses)
	w := r.Floats("pa multiclass weights", k*c.d)
	b := r.Floats("pa multiclass intercepts", k)
	if err := r.Done(); err != nil {
		return err
	}
	c.W, c.B, c.m = w, b, make([]float64, k)
	return nil
}
