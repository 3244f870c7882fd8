package drift

import (
	"encoding"

	"github.com/actorserve/actorserve/learning/internal/wire"
)

// ErrInvalidState marks a snapshot UnmarshalBinary cannot read (the same value as
// learning.ErrInvalidState).
var ErrInvalidState = wire.ErrInvalidState

// Detector watches an error stream.
type Detector interface {
	// Add feeds one error value and reports whether a drift is detected at this point; the
	// detector has then already reset itself. Call from one goroutine at a time.
	Add(err float64) (drift bool)
	// Reset forgets everything seen. Call from the goroutine that calls Add.
	Reset()
	// MarshalBinary writes the whole state; UnmarshalBinary restores it (receiver unchanged on
	// error). Call from the goroutine that calls Add.
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

var (
	_ Detector = (*DDM)(nil)
	_ Detector = (*ADWIN)(nil)
	_ Detector = (*PageHinkley)(nil)
)

const stateVersion = 1
