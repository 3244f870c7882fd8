package scw

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/learning/internal/gauss"
	"github.com/actorserve/actorserve/learning/internal/wire"
)

// ErrInvalidState marks a snapshot UnmarshalBinary cannot read (the same value as
// learning.ErrInvalidState).
var ErrInvalidState = wire.ErrInvalidState

// Variant selects SCW-I or SCW-II.
type Variant uint8

// The two variants.
const (
	SCW1 Variant = 1 // α capped at C
	SCW2 Variant = 2 // squared-loss slack with weight C
)

// Config holds the hyper-parameters.
type Config struct {
	Variant Variant
	C       float64 // aggressiveness, > 0 (the paper tunes 2⁻⁴ … 2⁴)
	Eta     float64 // confidence η, in (0.5, 1) (0.7–0.9 works well)
	Full    bool    // full covariance; false keeps only its diagonal
}

// Validate checks the hyper-parameters.
func (c Config) Validate() error {
	if c.Variant != SCW1 && c.Variant != SCW2 {
		return fmt.Errorf("scw: unknown variant %d", c.Variant)
	}
	if !(c.C > 0 && !math.IsInf(c.C, 1)) {
		return fmt.Errorf("scw: C = %v, want a finite number > 0", c.C)
	}
	if !(c.Eta > 0.5 && c.Eta < 1) {
		return fmt.Errorf("scw: eta = %v, want 0.5 < eta < 1", c.Eta)
	}
	return nil
}

// Phi returns Φ⁻¹(η), the inverse standard-normal CDF.
func Phi(eta float64) float64 { return math.Sqrt2 * math.Erfinv(2*eta-1) }

// Binary is an SCW classifier on labels ±1.
type Binary struct {
	cfg                        Config
	phi, psi, zeta, phi2, phi4 float64
	g                          *gauss.Gaussian
}

const stateVersion = 1

// New returns μ = 0, Σ = I over d inputs.
func New(d int, cfg Config) (*Binary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d < 1 {
		return nil, fmt.Errorf("scw: %d inputs, want at least 1", d)
	}
	phi := Phi(cfg.Eta)
	return &Binary{
		cfg: cfg, phi: phi, psi: 1 + phi*phi/2, zeta: 1 + phi*phi,
		phi2: phi * phi, phi4: phi * phi * phi * phi,
		g: gauss.New(d, cfg.Full),
	}, nil
}

// Mu returns the mean weights μ (not a copy).
func (b *Binary) Mu() []float64 { return b.g.Mu }

// Sigma returns the covariance (d×d row-major when full, else its diagonal; not a copy).
func (b *Binary) Sigma() []float64 { return b.g.Sigma }

// Margin returns μ·x.
func (b *Binary) Margin(x []float64) float64 { return b.g.Margin(x) }

// Alpha returns the SCW step α for margin m = y·μ·x and confidence v = xᵀΣx (0 when no
// update applies).
func (b *Binary) Alpha(m, v float64) float64 {
	if v <= 0 || b.phi*math.Sqrt(v)-m <= 0 {
		return 0
	}
	phi, phi2 := b.phi, b.phi2
	var a float64
	if b.cfg.Variant == SCW1 {
		a = (-m*b.psi + math.Sqrt(m*m*b.phi4/4+v*phi2*b.zeta)) / (v * b.zeta)
		a = math.Min(b.cfg.C, math.Max(0, a))
	} else {
		n := v + 0.5/b.cfg.C
		gamma := phi * math.Sqrt(phi2*m*m*v*v+4*n*v*(n+v*phi2))
		a = math.Max(0, (-(2*m*n+phi2*m*v)+gamma)/(2*(n*n+n*v*phi2)))
	}
	return a
}

// Beta returns β for step α and confidence v.
func (b *Binary) Beta(alpha, v float64) float64 {
	phi := b.phi
	t := -alpha*v*phi + math.Sqrt(alpha*alpha*v*v*phi*phi+4*v)
	u := t * t / 4
	return alpha * phi / (math.Sqrt(u) + v*alpha*phi)
}

// Learn takes one step on (x, y) with y = −1 or +1 and reports whether μ and Σ changed.
func (b *Binary) Learn(x []float64, y float64) bool {
	m := y * b.g.Margin(x)
	v := b.g.Variance(x)
	alpha := b.Alpha(m, v)
	if alpha <= 0 {
		return false
	}
	b.g.Update(alpha, b.Beta(alpha, v), y)
	return true
}

// ResetCovariance sets Σ = I and keeps μ: what to do when a drift detector fires, since a
// shrunken Σ makes the learner barely move.
func (b *Binary) ResetCovariance() { b.g.ResetCovariance() }

// Reset sets μ = 0 and Σ = I.
func (b *Binary) Reset() { b.g.Reset() }

// MarshalBinary writes μ and Σ.
func (b *Binary) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(16 + 8*(len(b.g.Mu)+len(b.g.Sigma)))
	w.Byte(stateVersion)
	w.Bool(b.g.Full)
	b.g.Append(w)
	return w.Bytes(), nil
}

// UnmarshalBinary restores μ and Σ written by a learner of the same width and covariance form;
// the hyper-parameters stay the receiver's. On error the receiver is unchanged.
func (b *Binary) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("scw", stateVersion)
	if full := r.Bool(); r.Err() == nil && full != b.g.Full {
		r.Failf("scw snapshot has full covariance %v, this learner %v", full, b.g.Full)
	}
	g := gauss.New(b.g.Dim(), b.g.Full)
	g.Read(r)
	if err := r.Done(); err != nil {
		return err
	}
	b.g = g
	return nil
}
