// Package scw implements Soft Confidence-Weighted learning (Wang, Zhao and Hoi, "Exact Soft
// Confidence-Weighted Learning", ICML 2012), variants SCW-I and SCW-II, as a binary classifier
// on labels ±1 over dense inputs. The weights are a Gaussian N(μ, Σ), μ = 0 and Σ = I at the
// start; the prediction is sign(μ·x) (a margin of exactly 0 predicts −1).
//
// With φ = Φ⁻¹(η), ψ = 1 + φ²/2, ζ = 1 + φ², v = xᵀΣx and m = y·μ·x, an update happens when
// the loss φ·√v − m is positive:
//
//	SCW-I:  α = min{C, max{0, (−m·ψ + √(m²φ⁴/4 + v·φ²·ζ)) / (v·ζ)}}
//	SCW-II: n = v + 1/(2C), γ = φ·√(φ²m²v² + 4nv(n + vφ²)),
//	        α = max{0, (−(2mn + φ²mv) + γ) / (2(n² + nvφ²))}
//	u = ¼(−αvφ + √(α²v²φ² + 4v))², β = αφ / (√u + vαφ)
//	μ ← μ + α·y·Σx, Σ ← Σ − β·(Σx)(Σx)ᵀ
//
// Σ is full (O(d²) memory and time per update) or diagonal ([Config.Full] false), in which case
// only the diagonal of the same update is kept: Σ_ii ← Σ_ii − β·(Σ_ii·x_i)². There is no bias
// term: append a constant-1 feature (learning.Online does). Not safe for concurrent use.
package scw
