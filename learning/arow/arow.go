package arow

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/learning/internal/gauss"
	"github.com/actorserve/actorserve/learning/internal/wire"
)

// ErrInvalidState marks a snapshot UnmarshalBinary cannot read (the same value as
// learning.ErrInvalidState).
var ErrInvalidState = wire.ErrInvalidState

// Config holds the hyper-parameters.
type Config struct {
	R    float64 // regulariser r > 0: larger is more conservative
	Full bool    // full covariance; false keeps only its diagonal
}

// Validate checks the hyper-parameters.
func (c Config) Validate() error {
	if !(c.R > 0 && !math.IsInf(c.R, 1)) {
		return fmt.Errorf("arow: r = %v, want a finite number > 0", c.R)
	}
	return nil
}

// Binary is an AROW classifier on labels ±1.
type Binary struct {
	cfg Config
	g   *gauss.Gaussian
}

const stateVersion = 1

// New returns μ = 0, Σ = I over d inputs.
func New(d int, cfg Config) (*Binary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d < 1 {
		return nil, fmt.Errorf("arow: %d inputs, want at least 1", d)
	}
	return &Binary{cfg: cfg, g: gauss.New(d, cfg.Full)}, nil
}

// Mu returns the mean weights μ (not a copy).
func (b *Binary) Mu() []float64 { return b.g.Mu }

// Sigma returns the covariance (d×d row-major when full, else its diagonal; not a copy).
func (b *Binary) Sigma() []float64 { return b.g.Sigma }

// Margin returns μ·x.
func (b *Binary) Margin(x []float64) float64 { return b.g.Margin(x) }

// Learn takes one step on (x, y) with y = −1 or +1 and reports whether μ and Σ changed.
func (b *Binary) Learn(x []float64, y float64) bool {
	m := y * b.g.Margin(x)
	if m >= 1 {
		return false
	}
	v := b.g.Variance(x)
	beta := 1 / (v + b.cfg.R)
	alpha := (1 - m) * beta
	b.g.Update(alpha, beta, y)
	return true
}

// ResetCovariance sets Σ = I and keeps μ.
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
// r stays the receiver's. On error the receiver is unchanged.
func (b *Binary) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("arow", stateVersion)
	if full := r.Bool(); r.Err() == nil && full != b.g.Full {
		r.Failf("arow snapshot has full covariance %v, this learner %v", full, b.g.Full)
	}
	g := gauss.New(b.g.Dim(), b.g.Full)
	g.Read(r)
	if err := r.Done(); err != nil {
		return err
	}
	b.g = g
	return nil
}
