// Package learning trains online linear models from streamed labels while they serve.
//
// [Online] is a serving.Model built from a descriptor of format "online" ([New], [Register]):
// it predicts from the first event on and learns from each labelled example, test-then-train
// ([Online.Learn]), or from a label that arrives after its prediction ([Online.LearnAfter]).
// Learners live in subpackages: learning/pa (PA, PA-I, PA-II for binary, multiclass and
// regression), learning/scw (SCW-I, SCW-II), learning/arow, learning/logreg (SGD with AdaGrad).
// In front of every learner sits an online standard scaler (learning/scale, updated after the
// prediction it served); behind it, prequential metrics (learning/metrics: accuracy over all time
// and a recent window, Cohen's kappa, kappa-temporal, MAE) and an optional drift detector
// (learning/drift: DDM, ADWIN, Page-Hinkley) whose drifts are counted, timestamped and can reset
// the SCW/AROW covariance or the whole learner. [Online.Stats] reports all of it as JSON;
// [Online.MarshalBinary] snapshots the whole state, which restores bit-identically.
// learning/eval runs the prequential protocol over a CSV file.
//
// Rules pinned by tests (see shared/notes/learning.md for the reasoning):
//
//   - Bias: a constant-1 input appended after scaling (params.bias "feature", the default), so
//     the bias is part of ‖x‖² and of Σ. "intercept" (PA family and logreg) keeps a separate
//     intercept outside the norm, as scikit-learn does; "none" has no bias.
//   - Ties: the lowest class index wins; a binary margin of exactly 0 predicts labels[0].
//   - Multiclass: PA is multi-prototype (one vector per class, Crammer et al. §7), logreg is
//     multinomial (softmax), SCW and AROW are one-vs-rest.
//   - Scores: binary models give {labels[0]: 1 − σ(f), labels[1]: σ(f)} for margin f (for logreg
//     the probability), multiclass models the softmax of the per-class margins.
//   - Scaling: z = (x − mean)/std with running population statistics (Welford), z = 0 while a
//     feature's variance is 0; the statistics are updated after predicting and before learning,
//     so the learner steps on x rescaled with statistics that include x (River's order).
//
// An Online is not safe for concurrent use, Predict included: it belongs to one goroutine.
package learning
