// Package gauss holds the Gaussian weight distribution N(μ, Σ) that the confidence-weighted
// learners (SCW, AROW) share, with a full or a diagonal covariance, and its rank-one update.
package gauss
