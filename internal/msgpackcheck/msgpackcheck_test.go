package msgpackcheck

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func values() []any {
	big := map[string]any{}
	for i := range 70000 {
		big[strings.Repeat("k", i%40)+string(rune('a'+i%26))+string(rune(i))] = i
	}
	return []any{
		nil, true, false, 0, -1, 127, 128, -33, 255, 1 << 15, -1 << 15, 1 << 31, -1 << 31, uint64(math.MaxUint64), int64(math.MinInt64),
		float32(1.5), math.Pi, math.NaN(), "", strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 256), strings.Repeat("s", 70000),
		[]byte{}, bytes.Repeat([]byte{1}, 255), bytes.Repeat([]byte{1}, 256), bytes.Repeat([]byte{1}, 70000),
		make([]any, 15), make([]any, 16), make([]any, 70000), map[string]any{"a": 1}, big,
		time.Unix(1, 0), time.Unix(1, 5), time.Date(2600, 1, 1, 0, 0, 0, 1, time.UTC),
		map[string]any{"a": []any{map[string]any{"b": []any{1, "x", nil, []byte("y"), 2.5}}}},
	}
}

// TestAcceptsWhatTheEncoderWrites: every kind of value the encoder writes
// (each width of integer, string, binary, array and map, floats, times as
// extensions, nesting) passes, and the same bytes cut short by one fail.
func TestAcceptsWhatTheEncoderWrites(t *testing.T) {
	for i, v := range values() {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(b); err != nil {
			t.Errorf("value %d (%T, %d bytes): %v", i, v, len(b), err)
		}
		if err := Check(b[:len(b)-1]); err == nil {
			t.Errorf("value %d (%T) cut short by one byte passes", i, v)
		}
	}
	// Extension codes written by hand: fixext 1..16, ext8/16/32.
	for _, b := range [][]byte{
		{0xd4, 1, 0}, {0xd5, 1, 0, 0}, {0xd6, 1, 0, 0, 0, 0}, {0xd7, 1, 0, 0, 0, 0, 0, 0, 0, 0}, append([]byte{0xd8, 1}, make([]byte, 16)...),
		{0xc7, 2, 1, 0, 0}, {0xc8, 0, 2, 1, 0, 0}, {0xc9, 0, 0, 0, 2, 1, 0, 0},
	} {
		if err := Check(b); err != nil {
			t.Errorf("% x: %v", b, err)
		}
		if err := Check(b[:len(b)-1]); err == nil {
			t.Errorf("% x cut short passes", b)
		}
	}
}

// TestRejectsBombs: length prefixes claiming more than follows, a code that
// is never used, and nesting deeper than MaxDepth fail.
func TestRejectsBombs(t *testing.T) {
	for name, b := range map[string]string{
		"array32 of 4G":           "\xdd\xff\xff\xff\xff",
		"map32 of 4G":             "\xdf\xff\xff\xff\xff",
		"map16 of 2 in 3 bytes":   "\xde\x00\x02\x01\x01\x01",
		"bin32 of 4 GB":           "\xc6\xff\xff\xff\xff0",
		"str32 of 4 GB":           "\xdb\xff\xff\xff\xff0",
		"ext32 of 4 GB":           "\xc9\xff\xff\xff\xff0",
		"fixext16 short":          "\xd8\x01\x00",
		"fixarray inside map":     "\x81\xa1a\x9f\x01",
		"0xc1":                    "\xc1",
		"empty":                   "",
		"length prefix cut":       "\xdc\x00",
		"nesting MaxDepth+1 deep": strings.Repeat("\x91", MaxDepth+1) + "\xc0",
	} {
		if err := Check([]byte(b)); err == nil {
			t.Errorf("%s: passes", name)
		}
	}
	if err := Check([]byte(strings.Repeat("\x91", MaxDepth) + "\xc0")); err != nil {
		t.Errorf("nesting MaxDepth deep: %v", err)
	}
}

// FuzzCheck: whatever passes Check decodes without unbounded allocation
// (the fuzzer would run out of memory otherwise), and what the decoder reads
// from it and the encoder writes again passes Check too.
func FuzzCheck(f *testing.F) {
	for _, v := range values()[:30] {
		b, _ := msgpack.Marshal(v)
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add([]byte("\xdd\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if Check(b) != nil {
			return
		}
		var v any
		if err := msgpack.Unmarshal(b, &v); err != nil {
			return
		}
		again, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatalf("%x decodes to %#v, which does not encode: %v", b, v, err)
		}
		if err := Check(again); err != nil {
			t.Fatalf("%x decodes to %#v; encoded again as %x it fails: %v", b, v, again, err)
		}
	})
}
