package ingress

import (
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/internal/msgpackcheck"
)

func msgpackRecord(b []byte) *kgo.Record {
	return &kgo.Record{Value: b, Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte("application/msgpack")}}}
}

// canonicalEvent is ev as a map a client could have sent: the id as a
// string, the label as a string or a number.
func canonicalEvent(ev inEvent) map[string]any {
	m := map[string]any{"model": ev.Model, "id": string(ev.ID), "type": ev.Type}
	if ev.Features != nil {
		m["features"] = *ev.Features
	}
	if ev.Label != nil {
		if ev.Label.Num {
			m["label"] = ev.Label.V
		} else {
			m["label"] = ev.Label.S
		}
	}
	return m
}

// sameDecoded is sameEvent with a NaN label equal to itself.
func sameDecoded(a, b inEvent) bool {
	if a.Label != nil && b.Label != nil && a.Label.Num && b.Label.Num && math.IsNaN(a.Label.V) && math.IsNaN(b.Label.V) {
		a.Label, b.Label = nil, nil
	}
	return sameEvent(a, b)
}

// jsonCanHold says whether JSON can carry ev unchanged: no infinite or NaN
// label, no infinite feature (NaN is null), no invalid UTF-8.
func jsonCanHold(ev inEvent) bool {
	strs := []string{ev.Model, string(ev.ID), ev.Type}
	if ev.Label != nil {
		if ev.Label.Num && (math.IsNaN(ev.Label.V) || math.IsInf(ev.Label.V, 0)) {
			return false
		}
		strs = append(strs, ev.Label.S)
	}
	if ev.Features != nil {
		for _, v := range ev.Features.Values {
			if math.IsInf(v, 0) {
				return false
			}
		}
		strs = append(strs, ev.Features.Names...)
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

var msgpackEventSeeds = []any{
	map[string]any{"model": "iris", "id": "e-42", "features": map[string]any{"a": 5.1, "b": nil}},
	map[string]any{"id": 17, "features": []any{1, 2.5, nil}, "label": "x", "extra": map[string]any{"nested": []any{1, "v"}}},
	map[string]any{"type": "iris", "id": -1.5e3, "label": 3, "features": []any{}},
	map[string]any{"id": uint64(1) << 63, "label": float32(0.5), "features": map[string]any{}},
	map[string]any{"id": nil, "model": nil, "features": nil},
	map[string]any{"id": true, "features": []any{1}},
	map[string]any{"features": map[string]any{"a": "x"}},
	map[string]any{"features": []any{[]any{1}}},
	map[string]any{"label": []any{1}},
	map[string]any{"label": math.Inf(1), "features": []any{math.NaN(), math.Inf(-1)}},
	map[string]any{"id": "\xff", "features": map[string]any{"\xfe": 1}},
}

// FuzzDecodeMsgpackEvent fuzzes the msgpack event decoder on its own
// (decodeEvent on a record whose content-type says msgpack, so no JSON path
// runs): it never panics; a failure wraps errDecode; and an accepted event,
// sent again as a client would (id as a string, label as a string or a
// number), decodes to the same event as msgpack and, when JSON can hold its
// values, as JSON: the two encodings mean the same thing.
func FuzzDecodeMsgpackEvent(f *testing.F) {
	for _, s := range msgpackEventSeeds {
		b, err := msgpack.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x'})                                          // map32 claiming 4G members
	f.Add([]byte{0x81, 0xa8, 'f', 'e', 'a', 't', 'u', 'r', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}) // features: array32 of 4G
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, enc, err := decodeEvent(msgpackRecord(b))
		if err != nil {
			if !errors.Is(err, errDecode) {
				t.Fatalf("error %v does not wrap errDecode", err)
			}
			return
		}
		if enc != encMsgpack {
			t.Fatalf("a msgpack record decoded as encoding %d", enc)
		}
		if ev.Features != nil && ev.Features.Names != nil && len(ev.Features.Names) != len(ev.Features.Values) {
			t.Fatalf("%d feature names, %d values", len(ev.Features.Names), len(ev.Features.Values))
		}
		canon := canonicalEvent(ev)
		mb, err := msgpack.Marshal(canon)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", canon, err)
		}
		again, _, err := decodeEvent(msgpackRecord(mb))
		if err != nil || !sameDecoded(ev, again) {
			t.Fatalf("msgpack %x decodes to %+v; sent again it gives %+v (%v)", b, ev, again, err)
		}
		if !jsonCanHold(ev) {
			return
		}
		jb, err := json.Marshal(canon)
		if err != nil {
			t.Fatalf("JSON of %+v: %v", canon, err)
		}
		fromJSON, enc, err := decodeEvent(&kgo.Record{Value: jb})
		if err != nil || enc != encJSON || !sameDecoded(ev, fromJSON) {
			t.Fatalf("msgpack %x decodes to %+v, its JSON %s to %+v (%v)", b, ev, jb, fromJSON, err)
		}
	})
}

// TestMsgpackEventSeeds pins what the seeds decode to, so the fuzz target's
// round trips start from known-good and known-bad events.
func TestMsgpackEventSeeds(t *testing.T) {
	decode := func(v any) (inEvent, error) {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		ev, _, err := decodeEvent(msgpackRecord(b))
		return ev, err
	}
	ev, err := decode(msgpackEventSeeds[1])
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "17" || ev.Label == nil || ev.Label.S != "x" || ev.Features.Names != nil ||
		len(ev.Features.Values) != 3 || ev.Features.Values[1] != 2.5 || !math.IsNaN(ev.Features.Values[2]) {
		t.Errorf("seed 1 decoded to %+v, features %+v", ev, ev.Features)
	}
	ev, err = decode(msgpackEventSeeds[2])
	if err != nil || ev.ID != "-1500" || ev.Label == nil || !ev.Label.Num || ev.Label.V != 3 || ev.Type != "iris" {
		t.Errorf("seed 2 decoded to %+v (%v)", ev, err)
	}
	ev, err = decode(msgpackEventSeeds[3])
	if err != nil || ev.ID != "9223372036854775808" || ev.Label.V != 0.5 || ev.Features.Names == nil || len(ev.Features.Values) != 0 {
		t.Errorf("seed 3 decoded to %+v (%v)", ev, err)
	}
	for i, want := range map[int]string{5: "id must be a string or a number", 6: `feature "a"`, 8: "label must be a string or a number"} {
		_, err := decode(msgpackEventSeeds[i])
		if !errors.Is(err, errDecode) || !strings.Contains(err.Error(), want) {
			t.Errorf("seed %d: error %v, want one wrapping errDecode that says %q", i, err, want)
		}
	}
}

// TestMsgpackLengthBombs: a few bytes whose length prefixes claim gigabytes
// fail at once, allocating next to nothing (the msgpack library allocates
// for a claimed length before reading: a 9-byte record made a node allocate
// 4 GB, or run out of memory); valid nesting still decodes and nesting
// deeper than msgpackcheck.MaxDepth does not.
func TestMsgpackLengthBombs(t *testing.T) {
	bombs := map[string]string{
		"id: array32 of 4G":             "\x81\xa2id\xdd\xff\xff\xff\xff",
		"id: map32 of 4G":               "\x81\xa2id\xdf\xff\xff\xff\xff",
		"id: bin32 of 4 GB":             "\x81\xa2id\xc6\xff\xff\xff\xff0",
		"label: str32 of 4 GB":          "\x81\xa5label\xdb\xff\xff\xff\xff0",
		"unknown field: ext32 of 4 GB":  "\x84\xa2!d\xc9\xff\xff\xff\xff0",
		"features: array32 of 4G":       "\x81\xa8features\xdd\xff\xff\xff\xff",
		"event: map16 longer than data": "\xde\xff\xff\xa2id\xa1x",
		"nested 2000 deep":              "\x81\xa2id" + strings.Repeat("\x91", 2000) + "\xc0",
	}
	for name, b := range bombs {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		_, _, err := decodeEvent(msgpackRecord([]byte(b)))
		runtime.ReadMemStats(&m1)
		if !errors.Is(err, errDecode) {
			t.Errorf("%s: %v, want an error wrapping errDecode", name, err)
		}
		if a := m1.TotalAlloc - m0.TotalAlloc; a > 64<<10 {
			t.Errorf("%s: decoding allocated %d bytes", name, a)
		}
	}
	ok := map[string]any{"id": "e", "extra": []any{[]any{[]any{1, "x", map[string]any{"k": []byte{1, 2}}}}}, "features": []any{1.5}}
	b, _ := msgpack.Marshal(ok)
	if ev, _, err := decodeEvent(msgpackRecord(b)); err != nil || ev.ID != "e" || ev.Features.Values[0] != 1.5 {
		t.Errorf("a nested valid event: %+v, %v", ev, err)
	}
	deep := "\x82\xa2id\xa1e\xa1x" + strings.Repeat("\x91", msgpackcheck.MaxDepth-2) + "\xc0"
	if _, _, err := decodeEvent(msgpackRecord([]byte(deep))); err != nil {
		t.Errorf("nesting %d deep: %v", msgpackcheck.MaxDepth-1, err)
	}
}
