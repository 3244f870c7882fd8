// Package logreg is online logistic regression by stochastic gradient descent, with AdaGrad
// step sizes by default: [Binary] (labels ±1, P(y=+1) = σ(w·x + b)) and [Softmax] (multinomial,
// one weight vector per class, P(r) = softmax_r(w_r·x + b_r)). It is the probabilistic baseline
// next to the passive-aggressive and confidence-weighted learners.
//
// One step on (x, y) with predicted probabilities p and one-hot target t, per weight:
//
//	g = (p − t)·x_i + λ·w_i           (λ = [Config.L2]; the intercept is not regularised)
//	AdaGrad: G_i += g², w_i −= lr·g / (√G_i + 1e-8)
//	plain SGD: w_i −= lr·g
//
// Bias: none by default (append a constant-1 feature, as learning.Online does); with
// [Config.Intercept] a separate intercept is learned by the same rule. Ties in argmax go to the
// lowest class index; a binary margin of 0 predicts −1. Not safe for concurrent use.
package logreg
