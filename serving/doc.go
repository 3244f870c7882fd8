// Package serving defines what a deployed model is, independent of actors, the cluster and
// Kafka: the [Descriptor] published on the control topic (decoded strictly by
// [DecodeDescriptor] and checked by [Descriptor.Validate]), the [Model] interface every format
// implements, the [Registry] that maps format names to [Loader]s, the [Features] payload of an
// event (JSON or msgpack, named or positional), the [Schema] that turns it into a model's input
// vector under the descriptor's on_nan policy, and the [Prediction] a model returns. Each
// format lives in its own subpackage (serving/linear, ...) and adds itself with Register.
//
// Errors wrap the package's sentinels ([ErrInvalidDescriptor], [ErrUnknownFormat],
// [ErrInvalidModel], [ErrSchemaMismatch], [ErrNaNRejected], [ErrInvalidEvent], [ErrModel]) so
// callers can pick a dead-letter reason with [errors.Is]; the text names the field, feature,
// format or model concerned.
package serving
