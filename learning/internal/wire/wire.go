package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrInvalidState marks a snapshot that cannot be decoded: truncated, trailing bytes, an
// unknown version, a length or value out of range. Every learning package re-exports it.
var ErrInvalidState = errors.New("invalid learned state")

// Writer appends encoded values to a byte slice.
type Writer struct{ b []byte }

// NewWriter returns a writer whose buffer starts with capacity n.
func NewWriter(n int) *Writer { return &Writer{b: make([]byte, 0, n)} }

// Bytes returns the encoded bytes.
func (w *Writer) Bytes() []byte { return w.b }

// Byte appends one byte.
func (w *Writer) Byte(v byte) { w.b = append(w.b, v) }

// Bool appends a bool as one byte.
func (w *Writer) Bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// Uint appends an unsigned varint.
func (w *Writer) Uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

// Int appends a signed varint.
func (w *Writer) Int(v int64) { w.b = binary.AppendVarint(w.b, v) }

// Float appends the 8 bytes of v's IEEE-754 bits.
func (w *Writer) Float(v float64) { w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v)) }

// Floats appends a length and the values.
func (w *Writer) Floats(v []float64) {
	w.Uint(uint64(len(v)))
	for _, f := range v {
		w.Float(f)
	}
}

// Uints appends a length and the values as varints.
func (w *Writer) Uints(v []uint64) {
	w.Uint(uint64(len(v)))
	for _, u := range v {
		w.Uint(u)
	}
}

// Blob appends a length and the bytes.
func (w *Writer) Blob(p []byte) {
	w.Uint(uint64(len(p)))
	w.b = append(w.b, p...)
}

// String appends a length and the string's bytes.
func (w *Writer) String(s string) {
	w.Uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// Reader decodes what a Writer wrote. The first error sticks; check [Reader.Err] or
// [Reader.Done] once at the end.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads from b; it does not copy b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error, wrapping [ErrInvalidState].
func (r *Reader) Err() error { return r.err }

// Failf records an error (if none is recorded yet) wrapping [ErrInvalidState].
func (r *Reader) Failf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrInvalidState, fmt.Sprintf(format, args...))
	}
}

// Done returns the first error, or an error if bytes remain unread.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) > 0 {
		r.Failf("%d trailing bytes", len(r.b))
	}
	return r.err
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.Failf("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	switch r.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.Failf("bool byte is neither 0 nor 1")
	return false
}

// Uint reads an unsigned varint.
func (r *Reader) Uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.Failf("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Int reads a signed varint.
func (r *Reader) Int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.Failf("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Count reads an unsigned varint that must be at most max; what names it in errors.
func (r *Reader) Count(what string, max int) int {
	v := r.Uint()
	if r.err == nil && v > uint64(max) {
		r.Failf("%s %d is over the limit of %d", what, v, max)
		return 0
	}
	return int(v)
}

// Float reads 8 bytes of IEEE-754 bits.
func (r *Reader) Float() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.Failf("truncated")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// Finite reads a float that must be finite; what names it in errors.
func (r *Reader) Finite(what string) float64 {
	v := r.Float()
	if r.err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		r.Failf("%s is not finite", what)
		return 0
	}
	return v
}

// Floats reads a length and that many finite floats; the length must equal want unless want
// is negative. what names the vector in errors.
func (r *Reader) Floats(what string, want int) []float64 {
	n := r.Uint()
	if r.err != nil {
		return nil
	}
	if want >= 0 && n != uint64(want) {
		r.Failf("%s has %d values, want %d", what, n, want)
		return nil
	}
	if n > uint64(len(r.b)/8) {
		r.Failf("%s: %d values do not fit in the %d remaining bytes", what, n, len(r.b))
		return nil
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(r.b[8*i:]))
		if math.IsNaN(out[i]) || math.IsInf(out[i], 0) {
			r.Failf("%s[%d] is not finite", what, i)
			return nil
		}
	}
	r.b = r.b[8*n:]
	return out
}

// Uints reads a length (which must equal want unless want is negative) and that many varints.
func (r *Reader) Uints(what string, want int) []uint64 {
	n := r.Uint()
	if r.err != nil {
		return nil
	}
	if want >= 0 && n != uint64(want) {
		r.Failf("%s has %d values, want %d", what, n, want)
		return nil
	}
	if n > uint64(len(r.b)) { // each varint takes at least one byte
		r.Failf("%s: %d values do not fit in the %d remaining bytes", what, n, len(r.b))
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = r.Uint()
	}
	if r.err != nil {
		return nil
	}
	return out
}

// Blob reads a length and that many bytes; the result aliases the input.
func (r *Reader) Blob(what string) []byte {
	n := r.Uint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.Failf("%s: %d bytes do not fit in the %d remaining bytes", what, n, len(r.b))
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// String reads a length and that many bytes as a string.
func (r *Reader) String(what string) string { return string(r.Blob(what)) }

// Version reads the leading version byte of a snapshot and checks it is want; what names the
// snapshot kind in errors.
func (r *Reader) Version(what string, want byte) {
	v := r.Byte()
	if r.err == nil && v != want {
		r.Failf("%s snapshot version %d, this build reads version %d", what, v, want)
	}
}
