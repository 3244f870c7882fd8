// Package linear serves linear models (format "linear"): linear regression, logistic
// regression and multinomial (softmax) regression, given inline in a descriptor's data as
// coefficients, intercepts and a link. [Load] checks the model against the descriptor and
// precomputes a flat weight matrix, so a prediction allocates nothing but its result;
// [Register] adds the format to a [serving.Registry].
package linear
