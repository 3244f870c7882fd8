package scale

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/learning/internal/wire"
)

// ErrInvalidState marks a snapshot UnmarshalBinary cannot read (the same value as
// learning.ErrInvalidState).
var ErrInvalidState = wire.ErrInvalidState

// Scaler holds running statistics for d features.
type Scaler struct {
	n    uint64
	mean []float64
	m2   []float64 // sum of squared deviations from the mean
	inv  []float64 // cached 1/√(m2/n), 0 where the variance is 0
}

// New returns a scaler over d features that has seen nothing.
func New(d int) *Scaler {
	return &Scaler{mean: make([]float64, d), m2: make([]float64, d), inv: make([]float64, d)}
}

// Dim returns d.
func (s *Scaler) Dim() int { return len(s.mean) }

// Count returns how many vectors the scaler has seen.
func (s *Scaler) Count() uint64 { return s.n }

// Mean returns feature i's running mean.
func (s *Scaler) Mean(i int) float64 { return s.mean[i] }

// Var returns feature i's running population variance (0 before two distinct values).
func (s *Scaler) Var(i int) float64 {
	if s.n == 0 {
		return 0
	}
	return s.m2[i] / float64(s.n)
}

// Update adds x (len >= Dim) to the statistics.
func (s *Scaler) Update(x []float64) {
	s.n++
	n := float64(s.n)
	r := 1 / n
	for i, xi := range x[:len(s.mean)] {
		d := xi - s.mean[i]
		s.mean[i] += d * r
		s.m2[i] += d * (xi - s.mean[i])
		s.inv[i] = invStd(s.m2[i], n)
	}
}

// invStd returns 1/√(m2/n), or 0 when the variance is 0.
func invStd(m2, n float64) float64 {
	if !(m2 > 0) {
		return 0
	}
	return math.Sqrt(n / m2)
}

// Transform writes the standardised x into dst (both len >= Dim; they may be the same slice).
func (s *Scaler) Transform(dst, x []float64) {
	dst = dst[:len(s.mean)]
	for i, xi := range x[:len(s.mean)] {
		dst[i] = (xi - s.mean[i]) * s.inv[i]
	}
}

// Reset forgets everything.
func (s *Scaler) Reset() {
	s.n = 0
	for i := range s.mean {
		s.mean[i], s.m2[i], s.inv[i] = 0, 0, 0
	}
}

const stateVersion = 1

// MarshalBinary writes the count, means and squared-deviation sums.
func (s *Scaler) MarshalBinary() ([]byte, error) {
	w := wire.NewWriter(16 + 16*len(s.mean))
	w.Byte(stateVersion)
	w.Uint(s.n)
	w.Floats(s.mean)
	w.Floats(s.m2)
	return w.Bytes(), nil
}

// UnmarshalBinary restores a snapshot of a scaler of the same width; on error the receiver is
// unchanged.
func (s *Scaler) UnmarshalBinary(p []byte) error {
	r := wire.NewReader(p)
	r.Version("scaler", stateVersion)
	n := r.Uint()
	mean := r.Floats("scaler means", len(s.mean))
	m2 := r.Floats("scaler squared deviations", len(s.mean))
	for i, v := range m2 {
		if v < 0 {
			r.Failf("scaler squared deviation %d is negative (%v)", i, v)
			break
		}
	}
	if err := r.Done(); err != nil {
		return err
	}
	if n == 0 {
		for i := range mean {
			if mean[i] != 0 || m2[i] != 0 {
				return fmt.Errorf("%w: scaler has seen nothing but has statistics", ErrInvalidState)
			}
		}
	}
	s.n = n
	copy(s.mean, mean)
	copy(s.m2, m2)
	for i := range s.inv {
		s.inv[i] = invStd(s.m2[i], float64(n))
	}
	return nil
}
