// Package model hosts model actors: one protoactor grain per deployed
// model, activated on first use from the node's descriptor table.
//
// A model actor loads its model through the format registry, scores events
// one at a time or in batches, keeps per-version statistics (usage, errors
// by reason, latency min/max/mean and percentiles from a bounded DDSketch,
// rate, a 60-minute history) that queries read without going through its
// mailbox, swaps in a new descriptor version eagerly, joins labels to
// earlier predictions, lets online models learn and checkpoints their
// state, and passivates when idle. A [Host] owns a node's model actors,
// answers cluster-wide stats queries for them and exports them to
// Prometheus; a [Client] sends events to a model actor wherever it runs.
package model
