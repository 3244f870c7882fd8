package drift

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/learning/internal/wire"
)

// DDMConfig holds DDM's parameters.
type DDMConfig struct {
	WarmStart      int     // samples before any signal (River: 30)
	WarningLevel   float64 // warning when p + s > p_min + WarningLevel·s_min (River: 2)
	DriftThreshold float64 // drift when p + s > p_min + DriftThreshold·s_min (River: 3)
}

// DefaultDDM returns River's defaults.
func DefaultDDM() DDMConfig { return DDMConfig{WarmStart: 30, WarningLevel: 2, DriftThreshold: 3} }

// Validate checks the parameters.
func (c DDMConfig) Validate() error {
	if c.WarmStart < 1 {
		return fmt.Errorf("ddm: warm start %d, want >= 1", c.WarmStart)
	}
	if !(c.WarningLevel > 0 && c.DriftThreshold >= c.WarningLevel && !math.IsInf(c.DriftThreshold, 1)) {
		return fmt.Errorf("ddm: warning level %v and drift threshold %v, want 0 < warning <= drift", c.WarningLevel, c.DriftThreshold)
	}
	return nil
}

// DDM is the Drift Detection Method on 0/1 error bits: p_i is the error rate after i samples
// and s_i = √(p_i(1 − p_i)/i); it records (p_min, s_min) where p_i + s_i is smallest and
// signals a drift when p_i + s_i > p_min + 3·s_min (a warning at 2·s_min). Values outside
// [0, 1] are clamped into it.
type DDM struct {
	cfg        DDMConfig
	n          uint64
	sum        float64
	pMin, sMin float64
	minSet     bool
	warning    bool
}

// NewDDM returns a DDM detector.
func NewDDM(cfg DDMConfig) (*DDM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &DDM{cfg: cfg}, nil
}

// Add feeds one error bit.
func (d *DDM) Add(err float64) bool {
	if !(err > 0) { // also NaN
		err = 0
	} else if err > 1 {
		err = 1
	}
	d.n++
	d.sum += err
	n := float64(d.n)
	p := d.sum / n
	s := math.Sqrt(p * (1 - p) / n)
	d.warning = false
	if d.n < uint64(d.cfg.WarmStart) {
		return false
	}
	if !d.minSet || p+s <= d.pMin+d.sMin {
		d.pMin, d.sMin, d.minSet = p, s, true
	}
	if p+s > d.pMin+d.cfg.DriftThreshold*d.sMin {
		d.Reset()
		return true
	}
	d.warning = p+s > d.pMin+d.cfg.WarningLevel*d.sMin
	return false
}

// Warning reports whether the last Add crossed the warning level without a drift.
func (d *DDM) Warning() bool { return d.warning }

// Reset forgets everything.
func (d *DDM) Reset() { *d = DDM{cfg: d.cfg} }

// MarshalBinary writes the state.
func (d *DDM) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(40)
	w.Byte(stateVersion)
	w.Uint(d.n)
	w.Float(d.sum)
	w.Bool(d.minSet)
	w.Float(d.pMin)
	w.Float(d.sMin)
	w.Bool(d.warning)
	return w.Bytes(), nil
}

// UnmarshalBinary restores the state; on error the receiver is unchanged.
func (d *DDM) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("ddm", stateVersion)
	n := r.Uint()
	sum := r.Finite("ddm error sum")
	minSet := r.Bool()
	pMin := r.Finite("ddm p_min")
	sMin := r.Finite("ddm s_min")
	warning := r.Bool()
	if r.Err() == nil && (sum < 0 || sum > float64(n)) {
		r.Failf("ddm error sum %v outside [0, %d]", sum, n)
	}
	if err := r.Done(); err != nil {
		return err
	}
	d.n, d.sum, d.minSet, d.pMin, d.sMin, d.warning = n, sum, minSet, pMin, sMin, warning
	return nil
}
