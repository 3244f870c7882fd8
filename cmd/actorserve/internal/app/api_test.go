package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker/brokertest"
	"github.com/actorserve/actorserve/actors/control"
)

// These tests drive one in-process node (embedded broker, real cluster
// member, real HTTP listener) through its HTTP API, as a user would.

// apiNode is a started node and its broker's addresses.
type apiNode struct {
	*Node
	base    string
	brokers []string
}

// startAPINode starts a one-node cluster with its own broker; adjust
// tunes the configuration before start.
func startAPINode(t *testing.T, adjust func(*NodeConfig)) *apiNode {
	t.Helper()
	b := brokertest.New(t)
	cfg := DefaultNodeConfig()
	cfg.Brokers = b.Addrs()
	cfg.Cluster.Gossip = "127.0.0.1:0"
	cfg.Cluster.Remote = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Cluster.Name = "t1"
	if adjust != nil {
		adjust(&cfg)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, err := StartNode(ctx, cfg, apiLogger(t))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(n.Close)
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("node not ready: %v", err)
	}
	an := &apiNode{Node: n, base: "http://" + n.HTTPAddr(), brokers: b.Addrs()}
	apiEventually(t, 5*time.Second, func() error {
		if st, body := an.do(t, "GET", "/readyz", nil); st != 200 {
			return fmt.Errorf("/readyz answered %d %s", st, body)
		}
		return nil
	})
	return an
}

// do sends one request (body: nil, string, []byte or a value to encode as
// JSON) and returns the status and the body.
func (n *apiNode) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		r = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.base+path, r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, path, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json (body %s)", method, path, ct, out)
	}
	return resp.StatusCode, out
}

// must sends a request that has to answer want, and decodes the answer
// into out (when non-nil).
func (n *apiNode) must(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	st, b := n.do(t, method, path, body)
	if st != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, st, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// deploy PUTs a descriptor and returns the version the server assigned.
func (n *apiNode) deploy(t *testing.T, id string, desc any) int64 {
	t.Helper()
	var d struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
	}
	n.must(t, http.StatusAccepted, "PUT", "/v1/models/"+id, desc, &d)
	if d.ID != id || d.Version < 1 {
		t.Fatalf("deploy %s answered %+v", id, d)
	}
	return d.Version
}

// model GETs /v1/models/{id}.
func (n *apiNode) model(t *testing.T, id string) apiModel {
	t.Helper()
	var m apiModel
	n.must(t, 200, "GET", "/v1/models/"+id, nil, &m)
	return m
}

type apiStats struct {
	ID        string           `json:"id"`
	Version   int64            `json:"version"`
	State     string           `json:"state"`
	Node      string           `json:"node"`
	Since     time.Time        `json:"since"`
	LastUsed  time.Time        `json:"last_used"`
	Usage     int64            `json:"usage"`
	Errors    int64            `json:"errors"`
	ErrorsBy  map[string]int64 `json:"errors_by_reason"`
	LastError string           `json:"last_error"`
	Previous  *apiStats        `json:"previous"`
}

type apiModel struct {
	apiStats
	Descriptor struct {
		Version int64 `json:"version"`
	} `json:"descriptor"`
	Partial bool `json:"partial"`
}

type apiPrediction struct {
	Label  string             `json:"label"`
	Scores map[string]float64 `json:"scores"`
	Value  *float64           `json:"value"`
}

type apiPredictOne struct {
	Model      string        `json:"model"`
	Version    int64         `json:"version"`
	ID         string        `json:"id"`
	Prediction apiPrediction `json:"prediction"`
	Node       string        `json:"node"`
}

type apiPredictMany struct {
	Model   string `json:"model"`
	Version int64  `json:"version"`
	Results []struct {
		ID         string         `json:"id"`
		Prediction *apiPrediction `json:"prediction"`
		Error      string         `json:"error"`
		Code       string         `json:"code"`
	} `json:"results"`
	Errors int `json:"errors"`
}

type apiErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// linearDesc returns a linear descriptor body.
func linearDesc(features, labels []string, coef [][]float64, icpt []float64, link string) map[string]any {
	d := map[string]any{
		"format": "linear",
		"data":   map[string]any{"coefficients": coef, "intercepts": icpt, "link": link},
	}
	if features != nil {
		d["features"] = features
	}
	if labels != nil {
		d["labels"] = labels
	}
	return d
}

func TestAPIErrors(t *testing.T) {
	const maxBody, maxEvents = 4096, 3
	n := startAPINode(t, func(c *NodeConfig) {
		c.HTTP.MaxBodyBytes = maxBody
		c.HTTP.MaxEvents = maxEvents
	})
	good := linearDesc([]string{"a", "b"}, nil, [][]float64{{2, -3}}, []float64{0.5}, "identity")
	if v := n.deploy(t, "m", good); v != 1 {
		t.Fatalf("first deploy got version %d, want 1", v)
	}

	big := `{"format":"linear","description":"` + strings.Repeat("x", maxBody) + `"}`
	bigPredict := `{"features":[` + strings.Repeat("1,", maxBody) + `1]}`
	events := func(k int) string {
		evs := make([]string, k)
		for i := range evs {
			evs[i] = `{"features":[1,2]}`
		}
		return `{"events":[` + strings.Join(evs, ",") + `]}`
	}

	cases := []struct {
		name         string
		method, path string
		body         any
		status       int
		code         string
		text         []string // substrings the error text must contain
	}{
		// deploy
		{"put malformed JSON", "PUT", "/v1/models/m", `{"format":"linear",`, 400, "invalid_descriptor", []string{"malformed JSON"}},
		{"put not an object", "PUT", "/v1/models/m", `[1,2]`, 400, "invalid_descriptor", []string{"want a JSON object"}},
		{"put unknown field", "PUT", "/v1/models/m", `{"format":"linear","formatt":"x"}`, 400, "invalid_descriptor", []string{`"formatt"`}},
		{"put duplicate field", "PUT", "/v1/models/m", `{"format":"linear","format":"linear"}`, 400, "invalid_descriptor", []string{`"format"`, "twice"}},
		{"put mistyped field", "PUT", "/v1/models/m", `{"format":"linear","version":"two"}`, 400, "invalid_descriptor", []string{"version", "want an integer"}},
		{"put id mismatch", "PUT", "/v1/models/m", `{"id":"other","format":"linear"}`, 400, "invalid_descriptor", []string{`"other"`, `"m"`}},
		{"put unknown format", "PUT", "/v1/models/x", `{"format":"onnx9"}`, 422, "unknown_format", []string{`"onnx9"`, "linear"}},
		{"put empty format", "PUT", "/v1/models/x", `{"data":{}}`, 422, "invalid_descriptor", []string{"format", "must not be empty"}},
		{"put bad on_nan", "PUT", "/v1/models/x", withField(good, "options", map[string]string{"on_nan": "foo"}), 422, "invalid_descriptor", []string{"options.on_nan", `"foo"`}},
		{"put duplicate features", "PUT", "/v1/models/x", withField(good, "features", []string{"a", "a"}), 422, "invalid_descriptor", []string{"features[1]", `"a"`}},
		{"put bad id", "PUT", "/v1/models/bad$id", good, 422, "invalid_descriptor", []string{"id", `"bad$id"`}},
		{"put model fails to load", "PUT", "/v1/models/x",
			linearDesc([]string{"a", "b"}, []string{"p", "q", "r"}, [][]float64{{1, 2}}, []float64{0}, "logistic"),
			422, "invalid_model", []string{"logistic", "2 labels", "3"}},
		{"put width mismatch", "PUT", "/v1/models/x", withField(good, "features", []string{"a", "b", "c"}), 422, "invalid_model", []string{"2 values", "3 features"}},
		{"put version conflict", "PUT", "/v1/models/m", withField(good, "version", 1), 409, "version_conflict", []string{`"m"`, "version 1"}},
		{"put body too large", "PUT", "/v1/models/m", big, 413, "body_too_large", []string{fmt.Sprint(maxBody)}},

		// predict: the request
		{"predict malformed JSON", "POST", "/v1/models/m/predict", `{"features":[1,2]`, 400, "decode_error", []string{"malformed predict request"}},
		{"predict not an object", "POST", "/v1/models/m/predict", `[1,2]`, 400, "decode_error", []string{"malformed predict request"}},
		{"predict no features", "POST", "/v1/models/m/predict", `{"id":"e1"}`, 400, "bad_request", []string{`"features"`}},
		{"predict bad id", "POST", "/v1/models/m/predict", `{"id":true,"features":[1,2]}`, 400, "bad_request", []string{`"id"`, "string or a number"}},
		{"predict string feature", "POST", "/v1/models/m/predict", `{"features":{"a":1,"b":"x"}}`, 400, "decode_error", []string{`feature "b"`, "a string"}},
		{"predict huge number", "POST", "/v1/models/m/predict", `{"features":[1,1e999]}`, 400, "decode_error", []string{"features[1]", "1e999"}},
		{"predict body too large", "POST", "/v1/models/m/predict", bigPredict, 413, "body_too_large", []string{fmt.Sprint(maxBody)}},
		{"predict too many events", "POST", "/v1/models/m/predict", events(maxEvents + 1), 413, "too_many_events", []string{"4 events", "3"}},
		{"predict empty events", "POST", "/v1/models/m/predict", `{"events":[]}`, 400, "bad_request", []string{`"events" is empty`}},
		{"predict batch event without features", "POST", "/v1/models/m/predict", `{"events":[{"features":[1,2]},{"id":"x"}]}`, 400, "bad_request", []string{"event 1", `"features"`}},

		// predict: the features against the model
		{"predict wrong positional count", "POST", "/v1/models/m/predict", `{"features":[1,2,3]}`, 422, "schema_mismatch", []string{`"m"`, "expected 2 features, got 3"}},
		{"predict unknown feature", "POST", "/v1/models/m/predict", `{"features":{"a":1,"b":2,"zz":3}}`, 422, "schema_mismatch", []string{`unknown feature "zz"`}},
		{"predict missing feature", "POST", "/v1/models/m/predict", `{"features":{"a":1}}`, 422, "schema_mismatch", []string{`missing feature "b"`}},
		{"predict unknown and missing", "POST", "/v1/models/m/predict", `{"features":{"a":1,"c":2}}`, 422, "schema_mismatch", []string{`unknown feature "c"`, `missing feature "b"`}},
		{"predict duplicate feature", "POST", "/v1/models/m/predict", `{"features":{"a":1,"a":2}}`, 422, "decode_error", []string{`"a"`, "twice"}},
		{"predict null feature", "POST", "/v1/models/m/predict", `{"features":{"a":1,"b":null}}`, 422, "nan_rejected", []string{`feature "b"`, "on_nan"}},
		{"predict null positional", "POST", "/v1/models/m/predict", `{"features":[null,1]}`, 422, "nan_rejected", []string{`feature "a"`}},

		// unknown things
		{"predict unknown model", "POST", "/v1/models/nope/predict", `{"features":[1,2]}`, 404, "unknown_model", []string{`"nope"`}},
		{"get unknown model", "GET", "/v1/models/nope", nil, 404, "unknown_model", []string{`"nope"`}},
		{"delete unknown model", "DELETE", "/v1/models/nope", nil, 404, "unknown_model", []string{`"nope"`}},
		{"unknown route", "GET", "/v2/models", nil, 404, "not_found", []string{"GET /v2/models"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, b := n.do(t, tc.method, tc.path, tc.body)
			if st != tc.status {
				t.Errorf("status %d, want %d; body %s", st, tc.status, b)
			}
			var e apiErrorBody
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("answer %q is not a JSON error: %v", b, err)
			}
			if e.Code != tc.code {
				t.Errorf("code %q, want %q (error %q)", e.Code, tc.code, e.Error)
			}
			for _, s := range tc.text {
				if !strings.Contains(e.Error, s) {
					t.Errorf("error %q does not name %q", e.Error, s)
				}
			}
		})
	}

	// Nothing above changed the deployed model or broke the node.
	if m := n.model(t, "m"); m.Descriptor.Version != 1 {
		t.Errorf("after the bad requests model m is at version %d, want 1", m.Descriptor.Version)
	}
	var p apiPredictOne
	n.must(t, 200, "POST", "/v1/models/m/predict", `{"id":"ok","features":{"b":1,"a":2}}`, &p)
	if p.Prediction.Value == nil || *p.Prediction.Value != 2*2-3*1+0.5 {
		t.Errorf("good predict after the bad ones: %+v", p)
	}
	var list struct {
		Models []apiStats `json:"models"`
	}
	n.must(t, 200, "GET", "/v1/models", nil, &list)
	for _, m := range list.Models {
		if m.ID != "m" {
			t.Errorf("a rejected descriptor was deployed: %+v", m)
		}
	}
	// The rejected events were counted against model m by reason.
	st := n.model(t, "m")
	for _, code := range []string{"schema_mismatch", "nan_rejected"} {
		if st.ErrorsBy[code] == 0 {
			t.Errorf("errors_by_reason %v has no %s", st.ErrorsBy, code)
		}
	}
	n.must(t, 200, "GET", "/livez", nil, nil)
}

// withField returns a copy of d with key set to v.
func withField(d map[string]any, key string, v any) map[string]any {
	out := make(map[string]any, len(d)+1)
	for k, x := range d {
		out[k] = x
	}
	out[key] = v
	return out
}

func sigmoid64(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func softmax64(z ...float64) []float64 {
	hi := slices.Max(z)
	var sum float64
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = math.Exp(v - hi)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestAPIPredictValues(t *testing.T) {
	n := startAPINode(t, nil)
	feats := []string{"a", "b"}
	n.deploy(t, "reg", linearDesc(feats, nil, [][]float64{{2, -3}}, []float64{0.5}, "identity"))
	n.deploy(t, "bin", linearDesc(feats, []string{"neg", "pos"}, [][]float64{{1.5, -0.5}}, []float64{-0.25}, "logistic"))
	n.deploy(t, "multi", linearDesc(feats, []string{"x", "y", "z"},
		[][]float64{{1, 0}, {0, 1}, {-1, -1}}, []float64{0.1, 0.2, 0.3}, "softmax"))

	// want is the prediction for (a, b), computed here independently.
	type want struct {
		value  *float64
		label  string
		scores map[string]float64
	}
	expect := map[string]func(a, b float64) want{
		"reg": func(a, b float64) want {
			v := 2*a - 3*b + 0.5
			return want{value: &v}
		},
		"bin": func(a, b float64) want {
			p := sigmoid64(1.5*a - 0.5*b - 0.25)
			l := "neg"
			if p >= 0.5 {
				l = "pos"
			}
			return want{label: l, scores: map[string]float64{"neg": 1 - p, "pos": p}}
		},
		"multi": func(a, b float64) want {
			s := softmax64(a+0.1, b+0.2, -a-b+0.3)
			labels := []string{"x", "y", "z"}
			best := 0
			for i := range s {
				if s[i] > s[best] {
					best = i
				}
			}
			return want{label: labels[best], scores: map[string]float64{"x": s[0], "y": s[1], "z": s[2]}}
		},
	}
	check := func(t *testing.T, model string, got *apiPrediction, a, b float64) {
		t.Helper()
		w := expect[model](a, b)
		if got == nil {
			t.Fatalf("%s(%v, %v): no prediction", model, a, b)
		}
		if w.value != nil {
			if got.Value == nil || !near(*got.Value, *w.value) {
				t.Errorf("%s(%v, %v): value %v, want %v", model, a, b, got.Value, *w.value)
			}
			if got.Label != "" || got.Scores != nil {
				t.Errorf("%s(%v, %v): regression answered a label or scores: %+v", model, a, b, got)
			}
			return
		}
		if got.Value != nil {
			t.Errorf("%s(%v, %v): classifier answered a value %v", model, a, b, *got.Value)
		}
		if got.Label != w.label {
			t.Errorf("%s(%v, %v): label %q, want %q", model, a, b, got.Label, w.label)
		}
		if len(got.Scores) != len(w.scores) {
			t.Errorf("%s(%v, %v): scores %v, want %v", model, a, b, got.Scores, w.scores)
		}
		var sum float64
		for l, p := range w.scores {
			if g, ok := got.Scores[l]; !ok || !near(g, p) {
				t.Errorf("%s(%v, %v): score of %q %v, want %v", model, a, b, l, got.Scores[l], p)
			}
			sum += got.Scores[l]
		}
		if !near(sum, 1) {
			t.Errorf("%s(%v, %v): scores sum to %v", model, a, b, sum)
		}
	}

	points := [][2]float64{{0, 0}, {1, 2}, {-3.5, 0.25}, {4, -1}, {1e3, -2e3}}
	for _, model := range []string{"reg", "bin", "multi"} {
		t.Run(model, func(t *testing.T) {
			for _, pt := range points {
				a, b := pt[0], pt[1]
				// named, in the descriptor's order and reversed
				for _, body := range []string{
					fmt.Sprintf(`{"id":"n1","features":{"a":%v,"b":%v}}`, a, b),
					fmt.Sprintf(`{"id":"n1","features":{"b":%v,"a":%v}}`, b, a),
				} {
					var p apiPredictOne
					n.must(t, 200, "POST", "/v1/models/"+model+"/predict", body, &p)
					if p.Model != model || p.Version != 1 || p.ID != "n1" || p.Node != "t1" {
						t.Errorf("named %s: header %+v", body, p)
					}
					check(t, model, &p.Prediction, a, b)
				}
				// positional, with a numeric id
				var p apiPredictOne
				n.must(t, 200, "POST", "/v1/models/"+model+"/predict", fmt.Sprintf(`{"id":7,"features":[%v,%v]}`, a, b), &p)
				if p.ID != "7" {
					t.Errorf("positional: id %q, want \"7\"", p.ID)
				}
				check(t, model, &p.Prediction, a, b)
			}

			// A batch of all points, named and positional mixed, with one
			// bad event in the middle.
			var evs []string
			for i, pt := range points {
				if i%2 == 0 {
					evs = append(evs, fmt.Sprintf(`{"id":"e%d","features":{"b":%v,"a":%v}}`, i, pt[1], pt[0]))
				} else {
					evs = append(evs, fmt.Sprintf(`{"id":"e%d","features":[%v,%v]}`, i, pt[0], pt[1]))
				}
			}
			bad := 2
			evs = slices.Insert(evs, bad, `{"id":"bad","features":[1,2,3]}`)
			var m apiPredictMany
			n.must(t, 200, "POST", "/v1/models/"+model+"/predict", `{"events":[`+strings.Join(evs, ",")+`]}`, &m)
			if m.Model != model || m.Version != 1 || m.Errors != 1 || len(m.Results) != len(points)+1 {
				t.Fatalf("batch: model %q version %d errors %d results %d, want %q 1 1 %d",
					m.Model, m.Version, m.Errors, len(m.Results), model, len(points)+1)
			}
			r := m.Results[bad]
			if r.ID != "bad" || r.Code != "schema_mismatch" || !strings.Contains(r.Error, "expected 2 features, got 3") || r.Prediction != nil {
				t.Errorf("batch: bad event's result %+v", r)
			}
			for i, pt := range points {
				j := i
				if i >= bad {
					j++
				}
				r := m.Results[j]
				if r.ID != fmt.Sprintf("e%d", i) || r.Code != "" || r.Error != "" {
					t.Errorf("batch: result %d is %+v", j, r)
				}
				check(t, model, r.Prediction, pt[0], pt[1])
			}
		})
	}
}

func TestAPIDescriptorSwap(t *testing.T) {
	n := startAPINode(t, nil)
	feats := []string{"a", "b"}
	v1 := linearDesc(feats, nil, [][]float64{{1, 1}}, []float64{0}, "identity")  // a+b
	v2 := linearDesc(feats, nil, [][]float64{{10, 0}}, []float64{5}, "identity") // 10a+5
	const a, b = 3.0, 4.0
	want := map[int64]float64{1: a + b, 2: 10*a + 5}

	predict := func(t *testing.T) apiPredictOne {
		t.Helper()
		var p apiPredictOne
		n.must(t, 200, "POST", "/v1/models/m/predict", fmt.Sprintf(`{"features":[%v,%v]}`, a, b), &p)
		w, ok := want[p.Version]
		if !ok || p.Prediction.Value == nil || *p.Prediction.Value != w {
			t.Fatalf("version %d predicted %v, want %v", p.Version, p.Prediction.Value, w)
		}
		return p
	}

	if v := n.deploy(t, "m", v1); v != 1 {
		t.Fatalf("deploy v1: version %d", v)
	}
	if m := n.model(t, "m"); m.State != "inactive" || m.Usage != 0 {
		t.Errorf("before any predict: %+v, want inactive with no usage", m.apiStats)
	}
	used := map[int64]int64{}
	for range 3 {
		used[predict(t).Version]++
	}
	before := n.model(t, "m")
	if before.State != "active" || before.Version != 1 || before.Usage != 3 || used[1] != 3 {
		t.Fatalf("after 3 predicts on v1: %+v", before.apiStats)
	}

	start := time.Now()
	if v := n.deploy(t, "m", v2); v != 2 {
		t.Fatalf("deploy v2: version %d", v)
	}
	acked := time.Since(start)
	apiEventually(t, 5*time.Second, func() error {
		p := predict(t)
		used[p.Version]++
		if p.Version != 2 {
			return fmt.Errorf("still serving version %d", p.Version)
		}
		return nil
	})
	swap := time.Since(start)
	t.Logf("descriptor swap: PUT v2 answered after %v; first v2 prediction %v after the PUT was sent (%d v1 predictions in between)",
		acked, swap, used[1]-3)
	for range 2 {
		used[predict(t).Version]++
	}

	after := n.model(t, "m")
	switch {
	case after.Version != 2 || after.Descriptor.Version != 2 || after.State != "active":
		t.Errorf("after the swap: version %d, descriptor version %d, state %q", after.Version, after.Descriptor.Version, after.State)
	case after.Usage != used[2]:
		t.Errorf("after the swap: usage %d, want %d (only version 2's predictions)", after.Usage, used[2])
	case !after.Since.After(before.Since):
		t.Errorf("since %v is not later than version 1's %v", after.Since, before.Since)
	case after.Previous == nil:
		t.Errorf("after the swap: no previous stats")
	case after.Previous.Version != 1 || after.Previous.Usage != used[1] || !after.Previous.Since.Equal(before.Since):
		t.Errorf("previous %+v, want version 1 with usage %d since %v", *after.Previous, used[1], before.Since)
	}

	// A v3 that cannot load is refused at the API...
	broken := linearDesc(feats, nil, [][]float64{{1, 2}}, []float64{0}, "cubic")
	st, body := n.do(t, "PUT", "/v1/models/m", broken)
	if st != 422 || !strings.Contains(string(body), "invalid_model") || !strings.Contains(string(body), "cubic") {
		t.Fatalf("PUT of a broken v3: %d %s, want 422 invalid_model naming the link", st, body)
	}
	// ...and when one reaches the control topic anyway (another writer),
	// the active actor keeps serving v2 and reports why.
	v3 := withField(broken, "id", "m")
	v3["version"] = 3
	val, err := json.Marshal(v3)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: control.DefaultTopic, Key: []byte("m"), Value: val}).FirstErr(); err != nil {
		t.Fatalf("produce v3: %v", err)
	}
	var failed apiModel
	apiEventually(t, 5*time.Second, func() error {
		failed = n.model(t, "m")
		if failed.Descriptor.Version != 3 || failed.LastError == "" {
			return fmt.Errorf("descriptor version %d, last_error %q", failed.Descriptor.Version, failed.LastError)
		}
		return nil
	})
	if failed.Version != 2 || failed.State != "active" || !strings.Contains(failed.LastError, "cubic") {
		t.Errorf("after a failed v3 load: version %d state %q last_error %q; want 2, active, naming the link",
			failed.Version, failed.State, failed.LastError)
	}
	for range 3 {
		if p := predict(t); p.Version != 2 {
			t.Fatalf("after a failed v3 load the actor serves version %d", p.Version)
		}
	}

	// DELETE retires it everywhere.
	n.must(t, http.StatusAccepted, "DELETE", "/v1/models/m", nil, nil)
	n.must(t, 404, "GET", "/v1/models/m", nil, nil)
	n.must(t, 404, "POST", "/v1/models/m/predict", `{"features":[1,2]}`, nil)
	var list struct {
		Models []apiStats `json:"models"`
		Count  int        `json:"count"`
	}
	n.must(t, 200, "GET", "/v1/models", nil, &list)
	if list.Count != 0 || len(list.Models) != 0 {
		t.Errorf("after DELETE /v1/models lists %+v", list)
	}
}

func TestAPIPassivation(t *testing.T) {
	const idle = 300 * time.Millisecond
	n := startAPINode(t, func(c *NodeConfig) { c.Model.IdleTimeout = idle })
	n.deploy(t, "m", linearDesc([]string{"a"}, nil, [][]float64{{2}}, []float64{1}, "identity"))

	// predictAndLook predicts once and reads the stats right away; it
	// reports false when the actor passivated in between (a slow machine).
	predictAndLook := func() (apiModel, bool) {
		var p apiPredictOne
		n.must(t, 200, "POST", "/v1/models/m/predict", `{"features":[3]}`, &p)
		if p.Prediction.Value == nil || *p.Prediction.Value != 7 {
			t.Fatalf("predict: %+v, want value 7", p)
		}
		m := n.model(t, "m")
		return m, m.State == "active"
	}
	var first apiModel
	apiEventually(t, 5*time.Second, func() error {
		m, ok := predictAndLook()
		if !ok || m.Usage != 1 {
			return fmt.Errorf("after the first predict: state %q usage %d", m.State, m.Usage)
		}
		first = m
		return nil
	})

	// Stats reads do not keep the actor alive: it passivates while we poll.
	start := time.Now()
	apiEventually(t, 5*time.Second, func() error {
		if m := n.model(t, "m"); m.State != "inactive" {
			return fmt.Errorf("state %q usage %d", m.State, m.Usage)
		}
		return nil
	})
	t.Logf("passivated %v after the last predict was read (idle timeout %v)", time.Since(start), idle)
	var list struct {
		Models []apiStats `json:"models"`
	}
	n.must(t, 200, "GET", "/v1/models?state=active", nil, &list)
	if len(list.Models) != 0 {
		t.Errorf("passivated model still listed as active: %+v", list.Models)
	}

	// The next event re-activates it with fresh stats.
	apiEventually(t, 5*time.Second, func() error {
		m, ok := predictAndLook()
		if !ok || m.Usage != 1 {
			return fmt.Errorf("after re-activation: state %q usage %d", m.State, m.Usage)
		}
		if !m.Since.After(first.Since) {
			return fmt.Errorf("since %v is not after the first activation's %v", m.Since, first.Since)
		}
		if m.Version != 1 || m.Previous != nil {
			t.Errorf("re-activated actor: version %d previous %+v", m.Version, m.Previous)
		}
		return nil
	})
}

// apiEventually polls cond every 20 ms until it returns nil or timeout
// passes, then fails with cond's last error.
func apiEventually(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// apiLogger logs warnings and errors to t.Log and goes quiet when the test
// ends, so goroutines that outlive it cannot panic the test binary.
func apiLogger(t *testing.T) *slog.Logger {
	w := &apiLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type apiLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *apiLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimSuffix(p, []byte("\n"))))
	}
	return len(p), nil
}
