// Package arow implements Adaptive Regularization of Weight vectors (Crammer, Kulesza and
// Dredze, NIPS 2009) as a binary classifier on labels ±1 over dense inputs. The weights are a
// Gaussian N(μ, Σ), μ = 0 and Σ = I at the start; the prediction is sign(μ·x) (a margin of
// exactly 0 predicts −1). When m = y·μ·x < 1:
//
//	v = xᵀΣx, β = 1/(v + r), α = (1 − m)·β
//	μ ← μ + α·y·Σx, Σ ← Σ − β·(Σx)(Σx)ᵀ
//
// Σ is full or diagonal ([Config.Full] false keeps only the diagonal of the same update,
// Σ_ii ← Σ_ii − β·(Σ_ii·x_i)²). No bias term: append a constant-1 feature. Not safe for
// concurrent use.
package arow
