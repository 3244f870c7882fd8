package serving

import "errors"

// Sentinel errors. Every error this package returns wraps one of them, so callers test with
// [errors.Is]; the text around it names the field, feature, format or model concerned.
var (
	// ErrInvalidDescriptor marks a descriptor that cannot be decoded or fails [Descriptor.Validate]:
	// malformed JSON, an unknown or mistyped field, an out-of-range value.
	ErrInvalidDescriptor = errors.New("invalid descriptor")

	// ErrUnknownFormat marks a descriptor whose format has no loader in the [Registry].
	// Validation failures for this reason wrap ErrInvalidDescriptor as well.
	ErrUnknownFormat = errors.New("unknown model format")

	// ErrInvalidModel marks model data a loader rejects: inconsistent shapes, non-finite
	// parameters, data over the format's size limit, a combination the format does not support.
	ErrInvalidModel = errors.New("invalid model")

	// ErrSchemaMismatch marks an event whose features do not fit the model: the wrong number of
	// positional values, an unknown or missing feature name, named input to a model without names.
	// Dead letters carry reason "schema_mismatch".
	ErrSchemaMismatch = errors.New("schema mismatch")

	// ErrNaNRejected marks an event with a missing (NaN or null) feature when the descriptor's
	// options.on_nan is "reject". Dead letters carry reason "nan_rejected".
	ErrNaNRejected = errors.New("nan rejected")

	// ErrInvalidEvent marks a malformed event payload: features that are neither an object nor an
	// array, a string or nested value where a number belongs, a duplicate feature name, an
	// infinite value. Dead letters carry reason "decode_error".
	ErrInvalidEvent = errors.New("invalid event")

	// ErrModel marks a failure inside a model while predicting, such as a score that overflowed
	// to a non-finite number, or a loader that panicked. Dead letters carry reason "model_error".
	ErrModel = errors.New("model error")
)
