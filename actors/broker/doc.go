// Package broker runs the embedded Kafka-protocol broker that actorserve uses for development,
// for tests and for small local clusters (the `actorserve dev` and `actorserve broker`
// subcommands). It wraps franz-go's kfake: one real TCP broker speaking the Kafka protocol, so any
// Kafka client (franz-go, librdkafka/kcat, kafkajs) can talk to it. Production deployments use a
// real Kafka cluster instead; kfake is not a durability or performance oracle.
//
// [New] starts exactly one broker from a [Config] and seeds the topics named by [Topics]:
//
//   - Models (default actorserve.models): 1 partition, cleanup.policy=compact.
//   - State (default actorserve.state): Config.Partitions partitions, cleanup.policy=compact.
//   - Events, Predictions, DeadLetter and Shadow (actorserve.events, actorserve.predictions,
//     actorserve.deadletter, actorserve.shadow): Config.Partitions partitions (default 6),
//     cleanup.policy=delete.
//
// Topics that already exist (a restart on the same DataDir) are kept as they are, except that the
// settings listed below are re-applied to them. Auto topic creation is on, so users can produce to
// and consume from their own topic names; auto-created topics get Config.Partitions partitions.
//
// Settings, and why:
//
//   - Retention and compaction run from the Broker every 30 s, not from kfake's cleaner (whose
//     log.cleaner.backoff.ms is set to ten years so it never runs). kfake compacts on the one
//     goroutine that answers every request, reading and rewriting every record of every
//     compacted topic (about 0.4 s per 100,000 records on one core), so compacting at every
//     pass stalled the whole broker for seconds every 30 s at a million models, though nothing
//     could be removed. Retention (which only walks batch metadata) is applied at every pass;
//     compaction only once the topics with cleanup.policy=compact (seeded or created by a node
//     or a user) hold together twice the bytes they held after the last compaction, like
//     Kafka's default min.cleanable.dirty.ratio of 0.5. The compacted topics thus stay under
//     about twice their live records, and passes get rarer as they get longer.
//   - The compacted topics carry retention.ms=-1 and retention.bytes=-1. kfake applies time and
//     size retention to every topic, compacted or not (real Kafka does not), so without this a
//     model descriptor would disappear after the 7-day default retention.
//   - In memory mode (DataDir == "") every record lives on the Go heap, so the data topics get
//     retention.ms=3600000 (1 h), retention.bytes=134217728 (128 MiB per partition) and
//     segment.bytes=16777216 (16 MiB, the unit in which retention frees memory); the same values
//     are set as broker defaults (log.retention.ms, log.retention.bytes, log.segment.bytes) so
//     auto-created topics are bounded too. With the defaults (6 partitions, three data topics)
//     the seeded data topics hold at most about 3×6×(128+16) MiB ≈ 2.5 GiB in the worst case;
//     retention is checked every 30 s. The compacted topics are bounded by about twice the bytes
//     of their live records.
//   - With a DataDir, records live in files (RSS stays small) and Kafka's defaults apply to the
//     data topics (7 days, no size limit).
//
// The listener binds Config.Listen. Clients must reach the broker at the address it advertises
// in metadata, which is Config.Advertise (default: the Listen host, or 127.0.0.1 when the Listen
// host is a wildcard such as 0.0.0.0) with the bound port. [Broker.Addrs] returns those
// advertised addresses, ready for kgo.SeedBrokers.
package broker
