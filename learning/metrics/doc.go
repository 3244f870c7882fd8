// Package metrics keeps prequential (test-then-train) scores of an online model: for
// classification, accuracy over all time and over a sliding window of recent events, Cohen's
// kappa (against chance agreement from the marginals) and kappa-temporal (against the
// no-change classifier, which predicts the previous true label); for regression, mean absolute
// error over all time and over the window. See shared/notes/learning.md §6.
//
// Not safe for concurrent use. MarshalBinary writes everything; UnmarshalBinary restores it
// into a receiver whose window may differ in length (the most recent outcomes are kept).
package metrics
