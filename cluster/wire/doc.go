// Package wire carries actorserve messages between nodes.
//
// protoactor-go's remote layer only sends protobuf messages: anything else
// sent to a remote actor is dropped with an ERROR log and the caller times
// out. Every actorserve message is therefore a plain Go struct that
// implements remote.RootSerializable by packing itself as msgpack inside one
// generated protobuf message, [Envelope]. Locally nothing is serialized: the
// actor system passes pointers.
//
// Type ids come from an append-only registry ([Register]); each package that
// declares wire messages lists its ids once, in one const block.
package wire
