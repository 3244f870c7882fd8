// Package scale is the online standard scaler learning.Online puts in front of every learner:
// per feature, a running mean and population variance by Welford's method, and the transform
// z = (x − mean)/√var, with z = 0 while the variance is 0 (River's StandardScaler rule, so the
// very first example maps to the zero vector). Passive-aggressive steps depend on ‖x‖², so
// unscaled features with large ranges wreck them; see shared/notes/learning.md.
//
// The scaler is updated after the prediction it served (test-then-train), by the caller.
// Not safe for concurrent use.
package scale
