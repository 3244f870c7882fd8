package serving_test

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/serving"
)

var nan = math.NaN()

// sameFloats compares value lists, NaN equal to NaN.
func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool {
		return x == y && math.Signbit(x) == math.Signbit(y) || math.IsNaN(x) && math.IsNaN(y)
	})
}

func sameFeatures(a, b serving.Features) bool {
	return (a.Names == nil) == (b.Names == nil) && slices.Equal(a.Names, b.Names) && sameFloats(a.Values, b.Values)
}

func TestFeaturesUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want serving.Features
	}{
		{"array", `[5.1, 3.5, 1.4, 0.2]`, serving.Features{Values: []float64{5.1, 3.5, 1.4, 0.2}}},
		{"array ints and exponents", `[0, -0, 1e3, -2.5E-2, 10]`, serving.Features{Values: []float64{0, math.Copysign(0, -1), 1000, -0.025, 10}}},
		{"array null", `[1, null, 3]`, serving.Features{Values: []float64{1, nan, 3}}},
		{"empty array", ` [ ] `, serving.Features{Values: []float64{}}},
		{"object", `{"sepal_length": 5.1, "sepal_width": 3.5}`, serving.Features{Names: []string{"sepal_length", "sepal_width"}, Values: []float64{5.1, 3.5}}},
		{"object order kept", `{"z":1,"a":2,"m":3}`, serving.Features{Names: []string{"z", "a", "m"}, Values: []float64{1, 2, 3}}},
		{"object null", `{"a": null, "b": 2}`, serving.Features{Names: []string{"a", "b"}, Values: []float64{nan, 2}}},
		{"empty object", "{\n}", serving.Features{Names: []string{}, Values: []float64{}}},
		{"escaped name", `{"a\"b\u00e9\n": 1, "\ud83d\ude00": 2}`, serving.Features{Names: []string{"a\"bé\n", "😀"}, Values: []float64{1, 2}}},
		{"unicode name", `{"größe": 1}`, serving.Features{Names: []string{"größe"}, Values: []float64{1}}},
		{"duplicate names kept", `{"a": 1, "a": 2}`, serving.Features{Names: []string{"a", "a"}, Values: []float64{1, 2}}},
		{"whitespace", " \t\r\n{ \"a\" :\n1 , \"b\":2 }\n", serving.Features{Names: []string{"a", "b"}, Values: []float64{1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f serving.Features
			if err := json.Unmarshal([]byte(tt.in), &f); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.in, err)
			}
			if !sameFeatures(f, tt.want) {
				t.Fatalf("Unmarshal(%s) = %#v, want %#v", tt.in, f, tt.want)
			}
			// The direct call agrees with json.Unmarshal and with the reference decoder.
			var g serving.Features
			if err := g.UnmarshalJSON([]byte(tt.in)); err != nil || !sameFeatures(f, g) {
				t.Fatalf("UnmarshalJSON = %#v, %v", g, err)
			}
			ref, err := referenceFeatures([]byte(tt.in))
			if err != nil || !sameFeatures(f, ref) {
				t.Fatalf("reference decoder = %#v, %v", ref, err)
			}
		})
	}
}

func TestFeaturesUnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"null", `null`, `invalid event: features: got null, want an object or an array`},
		{"number", `42`, `invalid event: features: got a number, want an object or an array`},
		{"string", `"1,2"`, `invalid event: features: got a string, want an object or an array`},
		{"empty", ` `, `invalid event: features: empty input`},
		{"string value", `{"color": "red"}`, `invalid event: feature "color": got a string, want a number or null`},
		{"string in array", `[1, "2"]`, `invalid event: features[1]: got a string, want a number or null`},
		{"bool value", `{"a": 1, "flag": true}`, `invalid event: feature "flag": got a boolean, want a number or null`},
		{"nested object", `{"a": {"b": 1}}`, `invalid event: feature "a": got an object, want a number or null`},
		{"nested array", `[[1, 2], 3]`, `invalid event: features[0]: got an array, want a number or null`},
		{"out of range", `[1e400]`, `invalid event: features[0]: 1e400 does not fit in a float64`},
		{"leading zero", `[01]`, `invalid event: features: malformed JSON at byte 2: unexpected '1', want ',' or ']'`},
		{"bare minus", `[-]`, `invalid event: features: malformed JSON at byte 2: unexpected ']', want a digit`},
		{"dot without digits", `[1.]`, `invalid event: features: malformed JSON at byte 3: unexpected ']', want a digit after '.'`},
		{"exponent without digits", `[1e+]`, `invalid event: features: malformed JSON at byte 4: unexpected ']', want a digit in the exponent`},
		{"NaN literal", `[NaN]`, `invalid event: features: malformed JSON at byte 1: unexpected 'N', want a number or null`},
		{"Infinity literal", `{"a": Infinity}`, `invalid event: features: malformed JSON at byte 6: unexpected 'I', want a number or null`},
		{"hex", `[0x10]`, `invalid event: features: malformed JSON at byte 2: unexpected 'x', want ',' or ']'`},
		{"plus sign", `[+1]`, `invalid event: features: malformed JSON at byte 1: unexpected '+', want a number or null`},
		{"nul", `[nul]`, `invalid event: features: malformed JSON at byte 1: unexpected 'n', want null`},
		{"trailing comma", `[1,]`, `invalid event: features: malformed JSON at byte 3: unexpected ']', want a number or null`},
		{"trailing comma object", `{"a":1,}`, `invalid event: features: malformed JSON at byte 7: unexpected '}', want a feature name in double quotes`},
		{"missing colon", `{"a" 1}`, `invalid event: features: malformed JSON at byte 5: unexpected '1', want ':'`},
		{"unquoted name", `{a: 1}`, `invalid event: features: malformed JSON at byte 1: unexpected 'a', want a feature name in double quotes`},
		{"unterminated", `[1, 2`, `invalid event: features: malformed JSON: unexpected end of input, want ',' or ']'`},
		{"unterminated name", `{"ab`, `invalid event: features: malformed JSON: unexpected end of input, want the end of the feature name`},
		{"bad escape", `{"a\x": 1}`, `invalid event: features: malformed JSON at byte 4: unexpected 'x', want an escape sequence`},
		{"short unicode escape", `{"\u12": 1}`, `invalid event: features: malformed JSON at byte 6: unexpected '"', want 4 hex digits after \u`},
		{"control char in name", "{\"a\tb\": 1}", `invalid event: features: malformed JSON at byte 3: unexpected '\t', want no control characters inside a string`},
		{"trailing data", `[1] [2]`, `invalid event: features: malformed JSON at byte 4: unexpected '[', want data after the features`},
		{"too many", "[" + strings.Repeat("0,", serving.MaxFeatures) + "0]", `invalid event: features: more than 1048576 values`},
		{"too many named", "{" + strings.Repeat(`"a":0,`, serving.MaxFeatures) + `"b":0}`, `invalid event: features: more than 1048576 values`},
		{"garbage", "\x00\xff", `invalid event: features: got malformed JSON (unexpected '\x00' at byte 0), want an object or an array`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f serving.Features
			err := f.UnmarshalJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("UnmarshalJSON(%q) = %#v, want error", tt.in, f)
			}
			if !errors.Is(err, serving.ErrInvalidEvent) {
				t.Errorf("error %v does not wrap ErrInvalidEvent", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// An event embedding Features: absent features leave the zero value, null is an error.
func TestFeaturesInEvent(t *testing.T) {
	type event struct {
		Model    string           `json:"model"`
		Features serving.Features `json:"features"`
	}
	var e event
	if err := json.Unmarshal([]byte(`{"model":"iris","features":{"a":1,"b":null}}`), &e); err != nil {
		t.Fatal(err)
	}
	if want := (serving.Features{Names: []string{"a", "b"}, Values: []float64{1, nan}}); !sameFeatures(e.Features, want) {
		t.Errorf("features = %#v", e.Features)
	}
	if err := json.Unmarshal([]byte(`{"model":"iris","features":null}`), &e); !errors.Is(err, serving.ErrInvalidEvent) {
		t.Errorf("features null: err = %v, want ErrInvalidEvent", err)
	}
	if err := json.Unmarshal([]byte(`{"model":"iris","features":{"a":"x"}}`), &e); !errors.Is(err, serving.ErrInvalidEvent) {
		t.Errorf("string feature: err = %v, want ErrInvalidEvent", err)
	}
}

// Decoding into a used Features value replaces its content.
func TestFeaturesReuse(t *testing.T) {
	var f serving.Features
	for _, tt := range []struct {
		in   string
		want serving.Features
	}{
		{`{"a":1,"b":2,"c":3}`, serving.Features{Names: []string{"a", "b", "c"}, Values: []float64{1, 2, 3}}},
		{`[4]`, serving.Features{Values: []float64{4}}},
		{`{"d":5}`, serving.Features{Names: []string{"d"}, Values: []float64{5}}},
		{`{}`, serving.Features{Names: []string{}, Values: []float64{}}},
	} {
		if err := f.UnmarshalJSON([]byte(tt.in)); err != nil || !sameFeatures(f, tt.want) {
			t.Fatalf("UnmarshalJSON(%s) = %#v, %v; want %#v", tt.in, f, err, tt.want)
		}
	}
}

func TestFeaturesMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   serving.Features
		want string
	}{
		{"positional", serving.Features{Values: []float64{5.1, -0.5, 1e21, 1e-7, 100}}, `[5.1,-0.5,1e+21,1e-7,100]`},
		{"missing", serving.Features{Values: []float64{nan, math.Inf(1), 1}}, `[null,null,1]`},
		{"empty positional", serving.Features{}, `[]`},
		{"named", serving.Features{Names: []string{"b", "a"}, Values: []float64{1, nan}}, `{"b":1,"a":null}`},
		{"empty named", serving.Features{Names: []string{}}, `{}`},
		{"escaped names", serving.Features{Names: []string{"q\"\\\n\x01<", "bad\xff", "\u2028"}, Values: []float64{1, 2, 3}},
			`{"q\"\\\n\u0001\u003c":1,"bad\ufffd":2,"\u2028":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("Marshal = %s, want %s", b, tt.want)
			}
			// Round trip, with non-finite values coming back as NaN.
			var back serving.Features
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if len(back.Values) != len(tt.in.Values) || (back.Names == nil) != (tt.in.Names == nil) {
				t.Errorf("round trip = %#v", back)
			}
		})
	}
	if _, err := json.Marshal(serving.Features{Names: []string{"a"}, Values: []float64{1, 2}}); !errors.Is(err, serving.ErrInvalidEvent) {
		t.Errorf("Marshal with 1 name and 2 values: err = %v, want ErrInvalidEvent", err)
	}
}

func TestFeaturesMsgpack(t *testing.T) {
	type event struct {
		Model    string           `msgpack:"model"`
		Features serving.Features `msgpack:"features"`
	}
	for _, in := range []serving.Features{
		{Values: []float64{1, nan, -3.5}},
		{Names: []string{"z", "a"}, Values: []float64{1, nan}},
		{Names: []string{}, Values: []float64{}},
	} {
		b, err := msgpack.Marshal(event{"iris", in})
		if err != nil {
			t.Fatal(err)
		}
		var out event
		if err := msgpack.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if !sameFeatures(out.Features, in) {
			t.Errorf("msgpack round trip = %#v, want %#v", out.Features, in)
		}
	}

	// A msgpack event as a producer in another language would write it.
	b, err := msgpack.Marshal(map[string]any{"model": "iris", "features": map[string]any{"a": int8(3), "b": nil}})
	if err != nil {
		t.Fatal(err)
	}
	var e event
	if err := msgpack.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for i, n := range e.Features.Names {
		got[n] = e.Features.Values[i]
	}
	if len(got) != 2 || got["a"] != 3 || !math.IsNaN(got["b"]) {
		t.Errorf("msgpack map features = %#v", e.Features)
	}

	for _, tt := range []struct {
		name string
		in   any
		want string
	}{
		{"string value", map[string]any{"a": "x"}, `invalid event: feature "a": got a string, want a number or nil`},
		{"bool in array", []any{1, true}, `invalid event: features[1]: got a boolean, want a number or nil`},
		{"nested", []any{[]any{1}}, `invalid event: features[0]: got an array, want a number or nil`},
		{"not a map", "abc", `invalid event: features: got a string, want a map or an array`},
		{"int key", map[int]float64{1: 2}, `invalid event: features: name 0 is a number, want a string`},
		{"too many", make([]float64, serving.MaxFeatures+1), `invalid event: features: more than 1048576 values`},
	} {
		b, err := msgpack.Marshal(map[string]any{"features": tt.in})
		if err != nil {
			t.Fatal(err)
		}
		var e event
		err = msgpack.Unmarshal(b, &e)
		if err == nil || !errors.Is(err, serving.ErrInvalidEvent) || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.want)
		}
	}
}
