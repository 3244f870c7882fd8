// Package cluster runs one actorserve node as a member of a protoactor-go
// cluster whose membership comes from hashicorp/memberlist.
//
// A [Node] starts an actor system with remoting, a memberlist-based
// ClusterProvider (node metadata carries the remote address and the hosted
// kinds; seeds are joined with retries; Leave is graceful) and actorserve's
// own identity lookup: rendezvous placement over the members, a ring held
// in an atomic snapshot and never locked across I/O, activations bounded by
// the caller's deadline, and calls in flight to a member that leaves
// completed at once so that [Node.Request] retries them on the new owner.
//
// A node that the others declared dead while it was cut off learns it (a
// peer's direct notice, or tombstones in memberlist's push/pull state),
// stops its actors and rejoins under a new member id: protoactor blocks a
// departed id forever.
//
// Messages between nodes are msgpack inside one protobuf envelope
// (package cluster/wire). Package cluster/clustertest starts in-process
// clusters for tests.
package cluster
