package serving_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/serving"
)

// referenceFeatures decodes features with encoding/json's tokenizer: the slow, obviously
// correct reading the hand-written parser must agree with.
func referenceFeatures(b []byte) (serving.Features, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var f serving.Features
	tok, err := dec.Token()
	if err != nil {
		return f, err
	}
	value := func() (float64, error) {
		tok, err := dec.Token()
		if err != nil {
			return 0, err
		}
		switch v := tok.(type) {
		case nil:
			return math.NaN(), nil
		case json.Number:
			return strconv.ParseFloat(string(v), 64)
		}
		return 0, errors.New("not a number")
	}
	switch tok {
	case json.Delim('{'):
		f.Names, f.Values = []string{}, []float64{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return f, err
			}
			v, err := value()
			if err != nil {
				return f, err
			}
			f.Names = append(f.Names, k.(string))
			f.Values = append(f.Values, v)
		}
	case json.Delim('['):
		f.Values = []float64{}
		for dec.More() {
			v, err := value()
			if err != nil {
				return f, err
			}
			f.Values = append(f.Values, v)
		}
	default:
		return f, errors.New("not an object or array")
	}
	if _, err := dec.Token(); err != nil {
		return f, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return f, errors.New("trailing data")
	}
	return f, nil
}

func FuzzFeaturesJSON(f *testing.F) {
	for _, s := range []string{
		`[5.1, 3.5, 1.4, 0.2]`, `{"a": 1, "b": null}`, `[]`, `{}`, `null`, `[1e400]`, `[-0.0e-0]`,
		`{"a\u00e9\ud83d\ude00": 1}`, `{"a": "x"}`, `[[1]]`, `{"a": {"b": 1}}`, `[01]`, `[1,]`, `{"a":1,}`,
		"{\"\xff\": 1}", `{"\ud800": 2}`, `[1] x`, ` [ 1 , 2 ] `, `[true]`, `[nul]`, `{"a" 1}`, `"s"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got serving.Features
		err := got.UnmarshalJSON(b)
		ref, refErr := referenceFeatures(b)
		if err != nil {
			if !errors.Is(err, serving.ErrInvalidEvent) {
				t.Fatalf("error %v does not wrap ErrInvalidEvent", err)
			}
			if refErr == nil {
				t.Fatalf("UnmarshalJSON(%q) failed (%v) but the reference accepts it as %#v", b, err, ref)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("UnmarshalJSON accepted invalid JSON %q", b)
		}
		if refErr != nil {
			t.Fatalf("UnmarshalJSON(%q) = %#v but the reference fails: %v", b, got, refErr)
		}
		if !sameFeatures(got, ref) {
			t.Fatalf("UnmarshalJSON(%q) = %#v, reference %#v", b, got, ref)
		}
		// Round trips through JSON and msgpack keep names, order and values.
		enc, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", got, err)
		}
		var back serving.Features
		if err := json.Unmarshal(enc, &back); err != nil || !sameFeatures(back, got) {
			t.Fatalf("JSON round trip of %#v via %s = %#v, %v", got, enc, back, err)
		}
		mp, err := msgpack.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var mback serving.Features
		if err := msgpack.Unmarshal(mp, &mback); err != nil || !sameFeatures(mback, got) {
			t.Fatalf("msgpack round trip of %#v = %#v, %v", got, mback, err)
		}
	})
}

func FuzzFeaturesMsgpack(f *testing.F) {
	for _, v := range []any{
		[]any{1.5, nil, int8(-3), uint64(1 << 60)}, map[string]any{"a": 1.0}, "x", nil, []any{"s"},
		map[string]any{"a": map[string]any{}}, []any{true}, []any{float32(2.5)},
	} {
		b, _ := msgpack.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})       // array32 claiming 4G elements
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1}) // map32 claiming 4G members
	f.Fuzz(func(t *testing.T, b []byte) {
		var got serving.Features
		if err := msgpack.Unmarshal(b, &got); err != nil {
			return
		}
		if got.Names != nil && len(got.Names) != len(got.Values) {
			t.Fatalf("decoded %d names and %d values", len(got.Names), len(got.Values))
		}
	})
}

func FuzzDecodeDescriptor(f *testing.F) {
	f.Add([]byte(fullDescriptor))
	for _, s := range []string{
		`{}`, `null`, `[]`, `{"id":"a","version":-1}`, `{"id":"a","options":{"on_nan":"foo"}}`,
		`{"learning":{"params":{"C":1e308,"x":[1],"y":null}}}`, `{"data":"AAEC","sha256":"00"}`,
		`{"output":{"":""}}`, `{"created_at":"2025-01-02T03:04:05.999999999+14:00"}`, `{"id":"a"} `,
		`{"features":["a","a",""],"labels":null}`, `{"id":"\u0000\ud800"}`, `{"data":{"a":[1,2,{"b":null}]}}`,
	} {
		f.Add([]byte(s))
	}
	reg := fakeRegistry()
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := serving.DecodeDescriptor(b)
		if err != nil {
			if d != nil || !errors.Is(err, serving.ErrInvalidDescriptor) {
				t.Fatalf("DecodeDescriptor(%q) = %v, %v", b, d, err)
			}
			return
		}
		verr := d.Validate(reg)
		if verr != nil && !errors.Is(verr, serving.ErrInvalidDescriptor) {
			t.Fatalf("Validate error %v does not wrap ErrInvalidDescriptor", verr)
		}
		// Encode is stable: decoding its output and encoding again gives the same bytes.
		enc, err := d.Encode()
		if err != nil {
			t.Fatalf("Encode(%+v): %v", d, err)
		}
		d2, err := serving.DecodeDescriptor(enc)
		if err != nil {
			t.Fatalf("decoding encoded %s: %v", enc, err)
		}
		enc2, err := d2.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encode not stable:\n%s\n%s (%v)", enc, enc2, err)
		}
		if verr2 := d2.Validate(reg); (verr == nil) != (verr2 == nil) {
			t.Fatalf("Validate changed after a round trip: %v, then %v", verr, verr2)
		}
		if verr == nil {
			m, err := reg.Load(d)
			if err != nil {
				if !errors.Is(err, serving.ErrInvalidModel) { // "other" has a fixed width
					t.Fatalf("Load of a valid descriptor: %v", err)
				}
				return
			}
			s := serving.NewSchema(d, m.NumFeatures())
			if _, err := s.Vector(&serving.Features{Values: make([]float64, m.NumFeatures())}, nil); err != nil {
				t.Fatalf("Vector of zeros: %v", err)
			}
		}
	})
}
