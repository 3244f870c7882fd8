package wire

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	w := NewWriter(0)
	w.Byte(7)
	w.Bool(true)
	w.Uint(1 << 40)
	w.Int(-5)
	w.Float(math.Copysign(0, -1))
	w.Floats([]float64{1.5, -2})
	w.Uints([]uint64{3, 300})
	w.String("héllo")
	r := NewReader(w.Bytes())
	r.Version("t", 7)
	if !r.Bool() || r.Uint() != 1<<40 || r.Int() != -5 || !math.Signbit(r.Float()) {
		t.Fatal("scalars")
	}
	if f := r.Floats("f", 2); f[1] != -2 {
		t.Fatal(f)
	}
	if u := r.Uints("u", -1); u[1] != 300 {
		t.Fatal(u)
	}
	if s := r.String("s"); s != "héllo" {
		t.Fatal(s)
	}
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	nan := NewWriter(0)
	nan.Floats([]float64{math.NaN()})
	big := NewWriter(0)
	big.Uint(1 << 60) // a length far beyond the input
	for _, c := range []struct {
		name string
		in   []byte
		read func(r *Reader)
		want string
	}{
		{"empty", nil, func(r *Reader) { r.Byte() }, "truncated"},
		{"varint", []byte{0x80}, func(r *Reader) { r.Uint() }, "bad varint"},
		{"bool", []byte{2}, func(r *Reader) { r.Bool() }, "neither 0 nor 1"},
		{"count", []byte{10}, func(r *Reader) { r.Count("things", 9) }, "things 10 is over the limit of 9"},
		{"floats length", big.Bytes(), func(r *Reader) { r.Floats("w", -1) }, "do not fit"},
		{"floats want", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}, func(r *Reader) { r.Floats("w", 2) }, "has 1 values, want 2"},
		{"nan", nan.Bytes(), func(r *Reader) { r.Floats("w", 1) }, "w[0] is not finite"},
		{"uints", big.Bytes(), func(r *Reader) { r.Uints("u", -1) }, "do not fit"},
		{"blob", big.Bytes(), func(r *Reader) { r.Blob("b") }, "do not fit"},
		{"version", []byte{2}, func(r *Reader) { r.Version("model", 1) }, "model snapshot version 2, this build reads version 1"},
		{"trailing", []byte{1, 2}, func(r *Reader) { r.Byte() }, "1 trailing bytes"},
	} {
		r := NewReader(c.in)
		c.read(r)
		err := r.Done()
		if !errors.Is(err, ErrInvalidState) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v, want %q", c.name, err, c.want)
		}
		// the first error sticks
		r.Failf("later")
		if strings.Contains(r.Err().Error(), "later") {
			t.Fatalf("%s: error replaced", c.name)
		}
	}
}
