// Package control is the model control stream: the compacted Kafka topic (default
// actorserve.models) whose key is a model id and whose value is that model's descriptor
// (JSON), an empty value being a tombstone that retires the model.
//
// Every node keeps the whole topic in memory in a [Table], like a Kafka Streams GlobalKTable:
// [Table.Run] reads the topic from the beginning with a plain (non-group) consumer and then
// follows it; [Table.WaitReady] returns once the records up to the high watermarks listed at
// start are applied, which is what the node's /readyz waits for. Readers use [Table.Get],
// [Table.List] and [Table.Len]; model actors and the HTTP API learn of changes through
// [Table.Subscribe] and wait for their own writes with [Table.WaitFor]. [Publisher] writes
// descriptors and tombstones with a client the caller owns.
//
// The table is generic over the decoded value: the caller passes the decode function (for
// descriptors, a thin wrapper over serving.DecodeDescriptor), so this package does not import
// serving. A record whose key is empty or whose value fails to decode is logged at WARN with
// its id and offset, counted, and skipped; the id keeps its previous value.
//
// Metrics (registered on the injected registerer, none if it is nil):
// actorserve_control_records_total, actorserve_control_decode_errors_total and the gauge
// actorserve_control_descriptors.
package control
