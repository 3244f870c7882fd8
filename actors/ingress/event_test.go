package ingress

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/actorserve/actorserve/serving"
)

// sameEvent compares events, treating NaN features as equal.
func sameEvent(a, b inEvent) bool {
	fa, fb := a.Features, b.Features
	a.Features, b.Features = nil, nil
	if !reflect.DeepEqual(a, b) || (fa == nil) != (fb == nil) {
		return false
	}
	if fa == nil {
		return true
	}
	ja, _ := json.Marshal(fa)
	jb, _ := json.Marshal(fb)
	return string(ja) == string(jb) && reflect.DeepEqual(fa.Names, fb.Names)
}

func stdDecode(b []byte) (inEvent, error) {
	var ev inEvent
	err := json.Unmarshal(b, &ev)
	return ev, err
}

var eventSeeds = []string{
	`{"model":"iris","id":"e-42","features":{"a":5.1,"b":3.5}}`,
	`{"id":17,"features":[1,2,3],"label":"x","extra":{"nested":[1,{"k":"v"}],"s":"a\"b"}}`,
	`{"type":"iris","features":{"a":null}}`,
	`{"Model":"x","features":[1]}`,
	`{"model":"a","model":"b","features":[1]}`,
	`{"id":null,"model":null,"features":null}`,
	`{"id":"\u00e9","features":[1]}`,
	` { "id" : -1.5e3 , "features" : [ ] } `,
	`{"features":{"a":"x"}}`,
	`{}`, `[]`, `{"id":tru}`, `{"id":1,}`, "{\"id\":\"\xff\",\"features\":[1]}",
}

// TestFastDecodeMatchesEncodingJSON: whenever the fast path accepts an
// event, encoding/json decodes it to the same value.
func TestFastDecodeMatchesEncodingJSON(t *testing.T) {
	handled := 0
	for _, s := range eventSeeds {
		var fast inEvent
		if !fastDecodeJSON([]byte(s), &fast) {
			continue
		}
		handled++
		std, err := stdDecode([]byte(s))
		if err != nil {
			t.Fatalf("%s: fast path accepted, encoding/json says %v", s, err)
		}
		if !sameEvent(fast, std) {
			t.Fatalf("%s:\nfast %+v\nstd  %+v", s, fast, std)
		}
	}
	if handled < 4 {
		t.Fatalf("fast path handled only %d seeds", handled)
	}
}

func FuzzFastDecode(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast inEvent
		if !fastDecodeJSON(b, &fast) {
			return
		}
		std, err := stdDecode(b)
		if err != nil {
			t.Fatalf("%q: fast path accepted, encoding/json says %v", b, err)
		}
		if !sameEvent(fast, std) {
			t.Fatalf("%q:\nfast %+v\nstd  %+v", b, fast, std)
		}
	})
}

// TestPredictionJSONMatchesEncodingJSON: the hand-written encoder's output
// decodes to the same record as encoding/json's.
func TestPredictionJSONMatchesEncodingJSON(t *testing.T) {
	v := 1.5e-9
	cases := []outPrediction{
		{Model: "iris", Version: 3, ID: "e-\"1\"\n<x>", Prediction: serving.Prediction{Label: "setosa", Scores: map[string]float64{"setosa": 0.97, "versicolor": 0.02, "virginica": 0.01}},
			Node: "n2", LatencyUS: 41, TS: time.Date(2026, 11, 22, 1, 2, 3, 456789, time.UTC)},
		{Model: "r\u2028", Version: 1, Prediction: serving.Prediction{Value: &v}, User: map[string]any{"alert": true, "card": "c-1"}, Node: "n1", TS: time.Unix(0, 0).UTC()},
		{Model: "bad\xffutf8", Prediction: serving.Prediction{Scores: map[string]float64{"b": 1e22, "a": -0.0}}, TS: time.Unix(5, 0).UTC()},
	}
	for _, c := range cases {
		fast, err := encodePrediction(&c, encJSON, []string{"setosa", "versicolor", "virginica"})
		if err != nil {
			t.Fatal(err)
		}
		std, _ := json.Marshal(&c)
		var a, b map[string]any
		if err := json.Unmarshal(fast, &a); err != nil {
			t.Fatalf("fast output is not JSON: %v: %s", err, fast)
		}
		_ = json.Unmarshal(std, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("fast %s\nstd  %s", fast, std)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	v := []byte(`{"id":"t1763772000000000000","features":{"a":0.5,"b":1.5,"c":-0.25,"d":7}}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			var ev inEvent
			if !fastDecodeJSON(v, &ev) {
				b.Fatal("not handled")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := stdDecode(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncodePrediction(b *testing.B) {
	p := outPrediction{Model: "bench-01", Version: 1, ID: "t1763772000000000000", Prediction: serving.Prediction{Label: "yes", Scores: map[string]float64{"no": 0.3, "yes": 0.7}},
		Node: "n1", LatencyUS: 120, TS: time.Now().UTC()}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			_, _ = encodePrediction(&p, encJSON, []string{"no", "yes"})
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(&p)
		}
	})
}
