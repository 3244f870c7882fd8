// Package pa implements the passive-aggressive learners of Crammer, Dekel, Keshet,
// Shalev-Shwartz and Singer (JMLR 7:551–585, 2006) for dense inputs: [Binary] (hinge loss,
// labels ±1), [Multiclass] (multi-prototype, one weight vector per class, §7 of the paper) and
// [Regressor] (ε-insensitive loss), each in the three variants [PA], [PA1] and [PA2].
//
// Step sizes, with ℓ the loss and q = ‖x‖² (2‖x‖² for multiclass):
//
//	PA   τ = ℓ/q             (no update when q = 0)
//	PA-I τ = min(C, ℓ/q)     (no update when q = 0)
//	PA-II τ = ℓ/(q + 1/(2C))
//
// Bias: by default the learners have none; the caller appends a constant-1 feature, which puts
// the bias into ‖x‖² (the rule learning.Online uses). With [Config.Intercept] the learner keeps
// a separate intercept b that moves by the same step (b += τ·y) but is left out of ‖x‖² — the
// rule of scikit-learn's PassiveAggressiveClassifier/Regressor, whose weights these learners
// reproduce to 1e-9 (see learning/testdata/gen_sklearn.py).
//
// Ties: [Multiclass] picks the lowest class index among equal scores, both for the prediction
// and for the highest-scoring wrong class. A binary margin of exactly 0 predicts −1.
//
// Learners are not safe for concurrent use. MarshalBinary writes the learned state (weights,
// intercepts, class count); UnmarshalBinary restores it into a learner made by the same
// constructor with the same width, keeping the receiver's hyper-parameters.
package pa
