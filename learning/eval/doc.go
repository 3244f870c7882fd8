// Package eval runs the prequential (test-then-train) protocol of shared/notes/learning.md §6
// over a CSV file: each row is predicted by an untrained-at-first [learning.Online] model,
// scored, and then learned from, optionally with the label arriving a fixed number of events
// later. Temporal data is read in its own order; i.i.d. data is run as N seeded shuffles and
// reported as mean [min, max]. [Run] evaluates several learner configurations at once and
// [WriteTable] prints the results; [ParseLearner] reads the compact learner specs a command line
// takes ("scw1:C=1,eta=0.75,drift=ddm").
package eval
