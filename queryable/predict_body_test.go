package queryable

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/cluster/wire"
	"github.com/actorserve/actorserve/serving"
)

func TestDecodePredictBody(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		batch  bool
		events []msg.Event // on success
		status int         // on failure
		code   string
		text   string
	}{
		{name: "named", body: `{"id":"e1","features":{"a":1,"b":-2.5}}`,
			events: []msg.Event{{ID: "e1", Features: named([]string{"a", "b"}, 1, -2.5)}}},
		{name: "positional numeric id", body: `{"id":42,"features":[1,2]}`,
			events: []msg.Event{{ID: "42", Features: positional(1, 2)}}},
		{name: "numeric id with spaces", body: "{\"id\" : \n -7.5e2 \t,\"features\":[1]}",
			events: []msg.Event{{ID: "-7.5e2", Features: positional(1)}}},
		{name: "id out of float64 range is still a number", body: `{"id":1e999,"features":[1]}`,
			events: []msg.Event{{ID: "1e999", Features: positional(1)}}},
		{name: "null id", body: `{"id":null,"features":[]}`,
			events: []msg.Event{{Features: positional()}}},
		{name: "null feature is NaN", body: `{"features":{"a":null}}`,
			events: []msg.Event{{Features: named([]string{"a"}, math.NaN())}}},
		{name: "batch", body: `{"events":[{"id":"x","features":[1]},{"features":{"q":3}}]}`, batch: true,
			events: []msg.Event{{ID: "x", Features: positional(1)}, {Features: named([]string{"q"}, 3)}}},
		{name: "batch at the limit", body: `{"events":[{"features":[1]},{"features":[2]},{"features":[3]}]}`, batch: true,
			events: []msg.Event{{Features: positional(1)}, {Features: positional(2)}, {Features: positional(3)}}},

		{name: "empty body", body: ``, status: 400, code: msg.CodeDecode, text: "malformed predict request"},
		{name: "malformed", body: `{"features":[1,2]`, status: 400, code: msg.CodeDecode, text: "malformed predict request"},
		{name: "array body", body: `[1,2]`, status: 400, code: msg.CodeDecode, text: "malformed predict request"},
		{name: "string feature", body: `{"features":{"a":"x"}}`, status: 400, code: msg.CodeDecode, text: `feature "a"`},
		{name: "nested feature", body: `{"features":[[1]]}`, status: 400, code: msg.CodeDecode, text: "features[0]"},
		{name: "features not a container", body: `{"features":7}`, status: 400, code: msg.CodeDecode, text: "want an object or an array"},
		{name: "no features", body: `{"id":"a"}`, status: 400, code: "bad_request", text: `event has no "features"`},
		{name: "null body", body: `null`, status: 400, code: "bad_request", text: `"features"`},
		{name: "bad id", body: `{"id":{},"features":[1]}`, status: 400, code: "bad_request", text: `"id" must be a string or a number`},
		{name: "empty events", body: `{"events":[]}`, batch: true, status: 400, code: "bad_request", text: `"events" is empty`},
		{name: "too many events", body: `{"events":[{"features":[1]},{"features":[2]},{"features":[3]},{"features":[4]}]}`, batch: true,
			status: http.StatusRequestEntityTooLarge, code: "too_many_events", text: "4 events is over the limit of 3"},
		{name: "batch event without features", body: `{"events":[{"features":[1]},{}]}`, batch: true, status: 400, code: "bad_request", text: `event 1 has no "features"`},
		{name: "batch event bad id", body: `{"events":[{"id":true,"features":[1]}]}`, batch: true, status: 400, code: "bad_request", text: `event 0: "id"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, batch, err := decodePredictBody([]byte(tc.body), 3)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if batch != tc.batch || !sameEvents(evs, tc.events) {
					t.Fatalf("got batch %v %+v, want %v %+v", batch, evs, tc.batch, tc.events)
				}
				return
			}
			var be *bodyError
			if !errors.As(err, &be) {
				t.Fatalf("error %v (%T), want a *bodyError", err, err)
			}
			if be.status != tc.status || be.code != tc.code || !strings.Contains(be.text, tc.text) {
				t.Errorf("got %d %s %q, want %d %s containing %q", be.status, be.code, be.text, tc.status, tc.code, tc.text)
			}
			if evs != nil {
				t.Errorf("events %+v returned with an error", evs)
			}
		})
	}
}

// FuzzPredictBody checks that decoding a predict body never panics, that
// it either accepts 1..maxEvents well-formed events or answers a 400/413
// with a code and text, and that accepted events survive re-encoding as
// JSON and the inter-node wire unchanged.
func FuzzPredictBody(f *testing.F) {
	for _, s := range []string{
		`{"id":"e1","features":{"a":1,"b":-2.5e3}}`,
		`{"id":7,"features":[1,2,null]}`,
		`{"id":-0.5e-3,"features":[]}`,
		`{"features":{}}`,
		`{"features":{"a\u00e9\"\\":1,"":2,"a":3,"a":4}}`,
		`{"events":[{"id":"x","features":[1]},{"features":{"q":3}}]}`,
		`{"events":[]}`,
		`{"events":null,"features":[1]}`,
		`{"events":[{"features":[1]},{"features":[2]},{"features":[3]},{"features":[4]},{"features":[5]}]}`,
		`{"features":[1e999]}`,
		`{"id":1e999,"features":[0]}`,
		`{"id":{"x":1},"features":[0]}`,
		`{"features":"abc"}`,
		`{"model":"m","features":[1],"extra":true}`,
		"{\"features\":{\"\xff\xfe\":1}}",
		`null`,
		`[]`,
		`{"features":[1,2`,
		``,
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, limit uint8) {
		maxEvents := int(limit%8) + 1
		evs, batch, err := decodePredictBody(b, maxEvents)
		if err != nil {
			var be *bodyError
			if !errors.As(err, &be) {
				t.Fatalf("error %v is %T, want *bodyError", err, err)
			}
			if be.status != http.StatusBadRequest && be.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for %q", be.status, b)
			}
			if be.code == "" || be.text == "" || be.Error() != be.text {
				t.Fatalf("error without code or text: %+v", be)
			}
			if evs != nil {
				t.Fatalf("events returned with an error: %+v", evs)
			}
			return
		}
		if len(evs) < 1 || len(evs) > maxEvents || (!batch && len(evs) != 1) {
			t.Fatalf("accepted %d events (batch %v, limit %d) from %q", len(evs), batch, maxEvents, b)
		}
		for i, ev := range evs {
			if ev.Features.Names != nil && len(ev.Features.Names) != len(ev.Features.Values) {
				t.Fatalf("event %d: %d names, %d values", i, len(ev.Features.Names), len(ev.Features.Values))
			}
			for _, v := range ev.Features.Values {
				if math.IsInf(v, 0) {
					t.Fatalf("event %d: infinite value accepted from %q", i, b)
				}
			}
		}

		// What we accepted re-encodes to a body that decodes the same.
		again, err := json.Marshal(map[string]any{"events": evs})
		if err != nil {
			t.Fatalf("re-encode %+v: %v", evs, err)
		}
		evs2, batch2, err := decodePredictBody(again, maxEvents)
		if err != nil || !batch2 || !sameEvents(evs, evs2) {
			t.Fatalf("re-encoded body %s decodes to %+v, %v; want %+v", again, evs2, err, evs)
		}

		// And it crosses nodes unchanged.
		out, err := wire.RoundTrip(&msg.PredictRequest{Events: evs})
		if err != nil {
			t.Fatalf("wire round trip: %v", err)
		}
		if req, ok := out.(*msg.PredictRequest); !ok || !sameEvents(evs, req.Events) {
			t.Fatalf("wire round trip gave %+v, want %+v", out, evs)
		}
	})
}

func named(names []string, vals ...float64) serving.Features {
	return serving.Features{Names: names, Values: vals}
}

func positional(vals ...float64) serving.Features { return serving.Features{Values: vals} }

// sameEvents compares events treating NaN as equal to NaN and an empty
// slice as equal to a nil one, but named input never equal to positional.
func sameEvents(a, b []msg.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		fa, fb := a[i].Features, b[i].Features
		if a[i].ID != b[i].ID || (fa.Names == nil) != (fb.Names == nil) ||
			len(fa.Names) != len(fb.Names) || len(fa.Values) != len(fb.Values) {
			return false
		}
		for j := range fa.Names {
			if fa.Names[j] != fb.Names[j] {
				return false
			}
		}
		for j, v := range fa.Values {
			w := fb.Values[j]
			if v != w && !(math.IsNaN(v) && math.IsNaN(w)) {
				return false
			}
		}
	}
	return true
}
