package gauss

import (
	"github.com/actorserve/actorserve/learning/internal/vec"
	"github.com/actorserve/actorserve/learning/internal/wire"
)

// Gaussian is N(μ, Σ) over d weights. With Full, Sigma is d×d row-major; otherwise it holds
// the d diagonal entries. Not safe for concurrent use (Variance writes a scratch vector).
type Gaussian struct {
	Mu    []float64
	Sigma []float64
	Full  bool
	sx    []float64 // Σx from the last Variance call
}

// New returns μ = 0, Σ = I over d weights.
func New(d int, full bool) *Gaussian {
	g := &Gaussian{Mu: make([]float64, d), Full: full, sx: make([]float64, d)}
	if full {
		g.Sigma = make([]float64, d*d)
	} else {
		g.Sigma = make([]float64, d)
	}
	g.ResetCovariance()
	return g
}

// Dim is d.
func (g *Gaussian) Dim() int { return len(g.Mu) }

// Margin returns μ·x.
func (g *Gaussian) Margin(x []float64) float64 { return vec.Dot(g.Mu, x) }

// Variance computes Σx (kept for [Gaussian.Update]) and returns the confidence xᵀΣx.
func (g *Gaussian) Variance(x []float64) float64 {
	d := len(g.Mu)
	x = x[:d]
	if g.Full {
		for i := 0; i < d; i++ {
			g.sx[i] = vec.Dot(g.Sigma[i*d:(i+1)*d], x)
		}
	} else {
		for i, s := range g.Sigma {
			g.sx[i] = s * x[i]
		}
	}
	return vec.Dot(g.sx, x)
}

// Update applies μ ← μ + α·y·Σx and Σ ← Σ − β·(Σx)(Σx)ᵀ with the Σx of the last
// [Gaussian.Variance] call. The diagonal form keeps only the diagonal of that update:
// Σ_ii ← Σ_ii − β·(Σ_ii·x_i)², which stays non-negative because β < 1/(xᵀΣx).
func (g *Gaussian) Update(alpha, beta, y float64) {
	vec.Axpy(alpha*y, g.sx, g.Mu)
	if g.Full {
		d := len(g.Mu)
		for i := 0; i < d; i++ {
			vec.Axpy(-beta*g.sx[i], g.sx, g.Sigma[i*d:(i+1)*d])
		}
		return
	}
	for i, s := range g.sx {
		g.Sigma[i] -= beta * s * s
	}
}

// ResetCovariance sets Σ = I and keeps μ.
func (g *Gaussian) ResetCovariance() {
	vec.Zero(g.Sigma)
	d := len(g.Mu)
	if g.Full {
		for i := 0; i < d; i++ {
			g.Sigma[i*d+i] = 1
		}
		return
	}
	for i := range g.Sigma {
		g.Sigma[i] = 1
	}
}

// Reset sets μ = 0 and Σ = I.
func (g *Gaussian) Reset() {
	vec.Zero(g.Mu)
	g.ResetCovariance()
}

// Append writes μ and Σ.
func (g *Gaussian) Append(w *wire.Writer) {
	w.Floats(g.Mu)
	w.Floats(g.Sigma)
}

// Read reads what Append wrote into a Gaussian of the same dimension and form, replacing μ
// and Σ only when both decode.
func (g *Gaussian) Read(r *wire.Reader) {
	d := len(g.Mu)
	mu := r.Floats("mu", d)
	ns := d
	if g.Full {
		ns = d * d
	}
	sigma := r.Floats("sigma", ns)
	if r.Err() != nil {
		return
	}
	copy(g.Mu, mu)
	copy(g.Sigma, sigma)
}
