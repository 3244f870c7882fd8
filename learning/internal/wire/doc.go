// Package wire is the little binary encoding every learned-state snapshot in learning uses:
// unsigned varints for counts and lengths, IEEE-754 bits (little-endian) for floats, so that a
// restored value is bit-identical. A Reader never panics on malformed input: every length is
// checked against the bytes that remain before anything is allocated, and the first error
// sticks (later reads return zero values).
package wire
