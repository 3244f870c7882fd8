package drift

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/learning/internal/wire"
)

// PageHinkleyConfig holds Page-Hinkley's parameters.
type PageHinkleyConfig struct {
	MinInstances int     // samples before any signal (River: 30)
	Delta        float64 // tolerated change per sample (River: 0.005)
	Threshold    float64 // λ: drift when S_t − min S > λ (River: 50)
	Alpha        float64 // fading factor on S (River: 1 − 0.0001)
}

// DefaultPageHinkley returns River's defaults.
func DefaultPageHinkley() PageHinkleyConfig {
	return PageHinkleyConfig{MinInstances: 30, Delta: 0.005, Threshold: 50, Alpha: 1 - 0.0001}
}

// Validate checks the parameters.
func (c PageHinkleyConfig) Validate() error {
	if c.MinInstances < 1 {
		return fmt.Errorf("page-hinkley: min instances %d, want >= 1", c.MinInstances)
	}
	if !(c.Delta >= 0 && !math.IsInf(c.Delta, 1)) {
		return fmt.Errorf("page-hinkley: delta %v, want a finite number >= 0", c.Delta)
	}
	if !(c.Threshold > 0 && !math.IsInf(c.Threshold, 1)) {
		return fmt.Errorf("page-hinkley: threshold %v, want a finite number > 0", c.Threshold)
	}
	if !(c.Alpha > 0 && c.Alpha <= 1) {
		return fmt.Errorf("page-hinkley: alpha %v, want 0 < alpha <= 1", c.Alpha)
	}
	return nil
}

// PageHinkley is the Page-Hinkley test for an increase of the mean ("up" mode): with x̄_t the
// running mean, S_t = α·S_{t−1} + (x_t − x̄_t − δ) and M_t = min S; after MinInstances samples it
// signals a drift when S_t − M_t > λ. Non-finite inputs are ignored.
type PageHinkley struct {
	cfg       PageHinkleyConfig
	n         uint64
	mean, sum float64
	min       float64
}

// NewPageHinkley returns a Page-Hinkley detector.
func NewPageHinkley(cfg PageHinkleyConfig) (*PageHinkley, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &PageHinkley{cfg: cfg}, nil
}

// Add feeds one error value.
func (p *PageHinkley) Add(x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return false
	}
	p.n++
	p.mean += (x - p.mean) / float64(p.n)
	p.sum = p.cfg.Alpha*p.sum + (x - p.mean - p.cfg.Delta)
	if p.n == 1 || p.sum < p.min {
		p.min = p.sum
	}
	if p.n >= uint64(p.cfg.MinInstances) && p.sum-p.min > p.cfg.Threshold {
		p.Reset()
		return true
	}
	return false
}

// Reset forgets everything.
func (p *PageHinkley) Reset() { *p = PageHinkley{cfg: p.cfg} }

// MarshalBinary writes the state.
func (p *PageHinkley) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(40)
	w.Byte(stateVersion)
	w.Uint(p.n)
	w.Float(p.mean)
	w.Float(p.sum)
	w.Float(p.min)
	return w.Bytes(), nil
}

// UnmarshalBinary restores the state; on error the receiver is unchanged.
func (p *PageHinkley) UnmarshalBinary(b []byte) error {
	r := wire.NewReader(b)
	r.Version("page-hinkley", stateVersion)
	n := r.Uint()
	mean := r.Finite("page-hinkley mean")
	sum := r.Finite("page-hinkley sum")
	min := r.Finite("page-hinkley minimum")
	if r.Err() == nil && min > sum {
		r.Failf("page-hinkley minimum %v above the sum %v", min, sum)
	}
	if err := r.Done(); err != nil {
		return err
	}
	p.n, p.mean, p.sum, p.min = n, mean, sum, min
	return nil
}
