package learning

import (
	"errors"
	"fmt"

	"github.com/actorserve/actorserve/learning/internal/wire"
	"github.com/actorserve/actorserve/serving"
)

// Sentinel errors. Errors from this package wrap one of them (test with [errors.Is]); the text
// names the parameter, feature or label concerned.
var (
	// ErrInvalidConfig marks a descriptor whose learning section cannot build a model: a missing
	// learning section, an unknown parameter, a value out of range, a combination that does not
	// exist (regression with SCW, DDM on absolute errors). It also matches
	// serving.ErrInvalidModel, which the registry's callers test for.
	ErrInvalidConfig = errors.New("invalid learning config")

	// ErrInvalidInput marks a feature vector or target Learn or Predict cannot use: the wrong
	// length (also serving.ErrSchemaMismatch), a NaN (also serving.ErrNaNRejected) or infinite
	// value (also serving.ErrInvalidEvent), a label where a value belongs or the reverse, an empty
	// label. The model is unchanged.
	ErrInvalidInput = errors.New("invalid learning input")

	// ErrUnknownLabel marks a label outside a full binary label set. The model is unchanged.
	ErrUnknownLabel = errors.New("unknown label")

	// ErrTooManyClasses marks a new label beyond learning.params.max_classes. The model is
	// unchanged.
	ErrTooManyClasses = errors.New("too many classes")

	// ErrInvalidState marks a snapshot UnmarshalBinary cannot read: truncated, corrupted, from a
	// newer format version, or over MaxStateBytes. The model is unchanged.
	ErrInvalidState = wire.ErrInvalidState

	// ErrIncompatibleState marks a snapshot of a different model shape than the receiver's:
	// another algorithm, task, feature count, bias rule, covariance form, scaling or drift
	// detector. The model is unchanged.
	ErrIncompatibleState = errors.New("incompatible learned state")
)

// configError is an ErrInvalidConfig that also matches serving.ErrInvalidModel.
type configError struct{ msg string }

func (e *configError) Error() string   { return ErrInvalidConfig.Error() + ": " + e.msg }
func (e *configError) Unwrap() []error { return []error{ErrInvalidConfig, serving.ErrInvalidModel} }

func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}
