// Package ingress reads events from Kafka as a member of the nodes'
// consumer group and writes every outcome back to Kafka.
//
// Each assigned partition gets an ingress actor (a goroutine with its own
// mailbox) that decodes records (JSON or msgpack), routes them by key,
// model, type or topic binding, micro-batches them per model actor, and
// produces predictions or dead letters with a reason. A bounded window of
// events in flight per partition pauses and resumes fetching, so a slow
// model holds back only its own partition. Offsets are committed up to the
// last contiguous event whose outputs Kafka acknowledged: at-least-once.
// [Ingress] is the entry point; it is also a Prometheus collector.
package ingress
