package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorserve/actorserve/serving"
)

// fakeServer emulates a v2 and a TensorFlow Serving endpoint of a model "m" that returns,
// per row x, p = sigmoid(sum(x)) as probabilities [1-p, p], the class index, the string label
// and the sum as a value. mode changes its behaviour for failure tests.
type fakeServer struct {
	t        *testing.T
	srv      *httptest.Server
	requests atomic.Int64
	inflight atomic.Int64
	peak     atomic.Int64
	mode     atomic.Value // string
	failN    atomic.Int64 // with mode "flaky": this many 503s first
	release  chan struct{}
	lastBody atomic.Value // string
}

func newFake(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, release: make(chan struct{})}
	f.mode.Store("ok")
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.release)
		f.srv.Close()
	})
	return f
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	body, _ := io.ReadAll(r.Body)
	f.lastBody.Store(string(body))
	switch f.mode.Load().(string) {
	case "slow":
		select {
		case <-r.Context().Done():
		case <-f.release:
		}
		return
	case "hold": // answers after release, for the concurrency test
		select {
		case <-r.Context().Done():
			return
		case <-f.release:
		}
	case "fail":
		http.Error(w, `{"error":"model crashed"}`, http.StatusInternalServerError)
		return
	case "flaky":
		if f.failN.Add(-1) >= 0 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
	case "badrequest":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unexpected shape for input 'x'"}`))
		return
	case "garbage":
		_, _ = w.Write([]byte(`<html>not json</html>`))
		return
	case "short": // one prediction too few
		_, _ = w.Write([]byte(`{"predictions":[], "outputs":[{"name":"probs","shape":[1,2],"datatype":"FP32","data":[0.5,0.5]}]}`))
		return
	case "huge":
		_, _ = w.Write([]byte(`{"outputs":[{"name":"probs","data":[` + strings.Repeat("0.5,", 100000) + `0.5]}]}`))
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/v2/models/m") && strings.HasSuffix(r.URL.Path, "/infer"):
		f.v2(w, body)
	case strings.HasPrefix(r.URL.Path, "/v1/models/m") && strings.HasSuffix(r.URL.Path, ":predict"):
		f.tf(w, body)
	default:
		http.Error(w, "no such model", http.StatusNotFound)
	}
}

func (f *fakeServer) v2(w http.ResponseWriter, body []byte) {
	var req struct {
		Inputs []struct {
			Name     string    `json:"name"`
			Shape    []int     `json:"shape"`
			Datatype string    `json:"datatype"`
			Data     []float64 `json:"data"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Inputs) != 1 || len(req.Inputs[0].Shape) != 2 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	in := req.Inputs[0]
	n, k := in.Shape[0], in.Shape[1]
	if len(in.Data) != n*k {
		http.Error(w, "data does not match shape", http.StatusBadRequest)
		return
	}
	var probs, sums []float64
	var idx []int
	var names []string
	for i := range n {
		s := 0.0
		for _, v := range in.Data[i*k : (i+1)*k] {
			s += v
		}
		p := sigmoid(s)
		probs = append(probs, 1-p, p)
		sums = append(sums, s)
		c := 0
		if p > 0.5 {
			c = 1
		}
		idx = append(idx, c)
		names = append(names, []string{"neg", "pos"}[c])
	}
	resp := map[string]any{"model_name": "m", "outputs": []any{
		map[string]any{"name": "probs", "shape": []int{n, 2}, "datatype": "FP64", "data": probs},
		map[string]any{"name": "class", "shape": []int{n}, "datatype": "INT64", "data": idx},
		map[string]any{"name": "label", "shape": []int{n, 1}, "datatype": "BYTES", "data": names},
		map[string]any{"name": "sum", "shape": []int{n, 1}, "datatype": "FP64", "data": sums},
	}}
	_ = json.NewEncoder(w).Encode(resp)
}

func (f *fakeServer) tf(w http.ResponseWriter, body []byte) {
	var req struct {
		Signature string            `json:"signature_name"`
		Instances []json.RawMessage `json:"instances"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
		return
	}
	var preds []any
	for _, raw := range req.Instances {
		var x []float64
		if err := json.Unmarshal(raw, &x); err != nil {
			var obj map[string][]float64
			if err := json.Unmarshal(raw, &obj); err != nil {
				http.Error(w, `{"error":"bad instance"}`, http.StatusBadRequest)
				return
			}
			x = obj["x"]
		}
		s := 0.0
		for _, v := range x {
			s += v
		}
		p := sigmoid(s)
		switch req.Signature {
		case "regress":
			preds = append(preds, s)
		case "multi":
			preds = append(preds, map[string]any{"probabilities": []float64{1 - p, p}, "value": s})
		default:
			preds = append(preds, []float64{1 - p, p})
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"predictions": preds})
}

func load(t *testing.T, d *serving.Descriptor, cfg string) *model {
	t.Helper()
	d.Data = json.RawMessage(cfg)
	if d.ID == "" {
		d.ID = "r"
	}
	m, err := Load(d)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m.(*model)
}

var rows = [][]float64{{0.5, 1}, {-2, 0.25}, {0, 0}}

func TestProtocols(t *testing.T) {
	f := newFake(t)
	two := []string{"a", "b"}
	tests := []struct {
		name   string
		labels []string
		cfg    string
		check  func(t *testing.T, i int, x []float64, p serving.Prediction)
		path   string
		body   string
	}{
		{name: "v2 probabilities", labels: []string{"neg", "pos"},
			cfg:  `{"protocol":"v2","url":"%s","model":"m","outputs":{"probabilities":"probs"}}`,
			path: "/v2/models/m/infer", body: `"shape":[3,2],"datatype":"FP32","data":[0.5,1,-2,0.25,0,0]}],"outputs":[{"name":"probs"}]`,
			check: func(t *testing.T, i int, x []float64, p serving.Prediction) {
				want := sigmoid(x[0] + x[1])
				if math.Abs(p.Scores["pos"]-want) > 1e-12 || math.Abs(p.Scores["neg"]-(1-want)) > 1e-12 {
					t.Errorf("row %d scores %v, want pos %v", i, p.Scores, want)
				}
				if wl := map[bool]string{true: "pos", false: "neg"}[want > 0.5]; p.Label != wl {
					t.Errorf("row %d label %q, want %q", i, p.Label, wl)
				}
			}},
		{name: "v2 default output is probabilities with labels, FP64, version", labels: two,
			cfg:  `{"protocol":"v2","url":"%s/","model":"m","version":"7","datatype":"FP64","input":"x"}`,
			path: "/v2/models/m/versions/7/infer", body: `{"inputs":[{"name":"x","shape":[3,2],"datatype":"FP64"`,
			check: func(t *testing.T, i int, x []float64, p serving.Prediction) {
				if math.Abs(p.Scores["b"]-sigmoid(x[0]+x[1])) > 1e-12 {
					t.Errorf("row %d scores %v", i, p.Scores)
				}
			}},
		{name: "v2 label strings", cfg: `{"protocol":"v2","url":"%s","model":"m","outputs":{"label":"label"}}`,
			check: func(t *testing.T, i int, x []float64, p serving.Prediction) {
				if want := map[bool]string{true: "pos", false: "neg"}[x[0]+x[1] > 0]; p.Label != want || p.Scores != nil {
					t.Errorf("row %d got %+v, want label %q", i, p, want)
				}
			}},
		{name: "v2 label index", labels: []string{"no", "yes"}, cfg: `{"protocol":"v2","url":"%s","model":"m","outputs":{"label":"class","probabilities":"probs"}}`,
			check: func(t *testing.T, i int, x []float64, p serving.Prediction) {
				if want := map[bool]string{true: "yes", false: "no"}[x[0]+x[1] > 0]; p.Label != want || len(p.Scores) != 2 {
					t.Errorf("row %d got %+v, want label %q", i, p, want)
				}
			}},
		{name: "v2 value", cfg: `{"protocol":"v2","url":"%s","model":"m","outputs":{"value":"sum"}}`,
			check: func(t *testing.T, i int, x []float64, p serving.Prediction) {
				if p.Value == nil || *p.Value != float64(float32(x[0]))+float64(float32(x[1])) {
					t.Errorf("row %d got %+v", i, p)
				}
			}},
		{name: "tfserving probabilities", labels: two, cfg: `{"protocol":"tfserving","url":"%s","model":"m"}`,
			path: "/v1/models/m:predict", body: `{"instances":[[0.5,1],[-2,0.25],[0,0]]}`,
			check: func(t *testing.T, i int, x []float64, p serving.Prediction) {
				if math.Abs(p.Scores["b"]-sigmoid(x[0]+x[1])) > 1e-12 {
					t.Errorf("row %d scores %v", i, p.Scores)
				}
			}},
		{name: "tfserving regression, signature, named input, version", cfg: `{"protocol":"tfserving","url":"%s","model":"m","version":"2","signature":"regress","input":"x"}`,
			path: "/v1/models/m/versions/2:predict", body: `{"signature_name":"regress","instances":[{"x":[0.5,1]},`,
			check: func(t *testing.T, i int, x []float64, p serving.Prediction) {
				if p.Value == nil || *p.Value != x[0]+x[1] {
					t.Errorf("row %d got %+v", i, p)
				}
			}},
		{name: "tfserving named outputs", labels: two, cfg: `{"protocol":"tfserving","url":"%s","model":"m","signature":"multi","outputs":{"probabilities":"probabilities"}}`,
			check: func(t *testing.T, i int, x []float64, p serving.Prediction) {
				if math.Abs(p.Scores["b"]-sigmoid(x[0]+x[1])) > 1e-12 {
					t.Errorf("row %d scores %v", i, p.Scores)
				}
			}},
		{name: "tfserving named value", cfg: `{"protocol":"tfserving","url":"%s","model":"m","signature":"multi","outputs":{"value":"value"}}`,
			check: func(t *testing.T, i int, x []float64, p serving.Prediction) {
				if p.Value == nil || *p.Value != x[0]+x[1] {
					t.Errorf("row %d got %+v", i, p)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, &serving.Descriptor{Features: []string{"u", "v"}, Labels: tc.labels}, fmt.Sprintf(tc.cfg, f.srv.URL))
			before := f.requests.Load()
			out := make([]serving.Prediction, len(rows))
			errs := make([]error, len(rows))
			if err := m.PredictBatch(rows, out, errs); err != nil {
				t.Fatal(err)
			}
			if n := f.requests.Load() - before; n != 1 {
				t.Errorf("a batch of %d made %d requests, want 1", len(rows), n)
			}
			for i := range rows {
				if errs[i] != nil {
					t.Fatalf("row %d: %v", i, errs[i])
				}
				tc.check(t, i, rows[i], out[i])
			}
			if tc.body != "" && !strings.Contains(f.lastBody.Load().(string), tc.body) {
				t.Errorf("request body %s does not contain %s", f.lastBody.Load(), tc.body)
			}
			p, err := m.Predict(rows[0])
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, 0, rows[0], p)
		})
	}
}

func TestRowErrors(t *testing.T) {
	f := newFake(t)
	m := load(t, &serving.Descriptor{Features: []string{"u", "v"}}, fmt.Sprintf(`{"protocol":"tfserving","url":"%s","model":"m","signature":"regress"}`, f.srv.URL))
	xs := [][]float64{{1, 2}, {math.NaN(), 1}, {1}, {3, 4}}
	out := make([]serving.Prediction, len(xs))
	errs := make([]error, len(xs))
	if err := m.PredictBatch(xs, out, errs); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || *out[0].Value != 3 || errs[3] != nil || *out[3].Value != 7 {
		t.Fatalf("good rows: %v %v %+v %+v", errs[0], errs[3], out[0], out[3])
	}
	if !errors.Is(errs[1], serving.ErrModel) || !errors.Is(errs[2], serving.ErrSchemaMismatch) {
		t.Fatalf("bad rows: %v / %v", errs[1], errs[2])
	}
	if !strings.Contains(f.lastBody.Load().(string), `[[1,2],[3,4]]`) {
		t.Fatalf("bad rows were sent: %s", f.lastBody.Load())
	}
}

func TestFailures(t *testing.T) {
	cfg := func(url, extra string) string {
		return fmt.Sprintf(`{"protocol":"v2","url":"%s","model":"m","outputs":{"probabilities":"probs"},"timeout_ms":200,"backoff_ms":1,"max_backoff_ms":5%s}`, url, extra)
	}
	tests := []struct {
		name     string
		mode     string
		failN    int64
		extra    string
		wantErr  error
		text     string
		requests int64
	}{
		{name: "slow times out", mode: "slow", extra: `,"retries":-1`, wantErr: ErrRemote, text: "timed out after 200ms", requests: 1},
		{name: "slow retried", mode: "slow", extra: `,"retries":1`, wantErr: ErrRemote, text: "gave up after 2 attempts", requests: 2},
		{name: "flaky recovers", mode: "flaky", failN: 2, extra: `,"retries":2`, requests: 3},
		{name: "flaky out of retries", mode: "flaky", failN: 5, extra: `,"retries":2`, wantErr: ErrRemote, text: "503", requests: 3},
		{name: "4xx not retried", mode: "badrequest", extra: `,"retries":3`, wantErr: ErrRemote, text: "unexpected shape", requests: 1},
		{name: "not json", mode: "garbage", wantErr: ErrRemote, text: "malformed answer", requests: 1},
		{name: "wrong row count", mode: "short", wantErr: ErrRemote, text: "2 values for 3 rows", requests: 1},
		{name: "response too large", mode: "huge", extra: `,"max_response_bytes":1000`, wantErr: ErrRemote, text: "max_response_bytes", requests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.mode.Store(tc.mode)
			f.failN.Store(tc.failN)
			m := load(t, &serving.Descriptor{Features: []string{"u", "v"}, Labels: []string{"neg", "pos"}}, cfg(f.srv.URL, tc.extra))
			out := make([]serving.Prediction, 3)
			errs := make([]error, 3)
			err := m.PredictBatch(rows, out, errs)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != nil && (!errors.Is(err, tc.wantErr) || !errors.Is(err, serving.ErrModel)):
				t.Fatalf("got %v, want %v wrapping serving.ErrModel", err, tc.wantErr)
			case tc.wantErr != nil && !strings.Contains(err.Error(), tc.text):
				t.Fatalf("error %q does not mention %q", err, tc.text)
			case tc.wantErr == nil && out[0].Label == "":
				t.Fatalf("no prediction: %+v", out)
			}
			if n := f.requests.Load(); n != tc.requests {
				t.Fatalf("%d requests, want %d", n, tc.requests)
			}
		})
	}
}

func TestMalformedMappings(t *testing.T) {
	f := newFake(t)
	tests := []struct {
		name, cfg string
		labels    []string
		text      string
	}{
		{name: "missing output", cfg: `{"protocol":"v2","url":"%s","model":"m","outputs":{"probabilities":"nope"}}`, text: `no output "nope"`},
		{name: "label count", labels: []string{"a", "b", "c"}, cfg: `{"protocol":"v2","url":"%s","model":"m","outputs":{"probabilities":"probs"}}`, text: "3 labels"},
		{name: "strings as probabilities", cfg: `{"protocol":"v2","url":"%s","model":"m","outputs":{"probabilities":"label"}}`, text: "not probabilities"},
		{name: "vector as value", cfg: `{"protocol":"v2","url":"%s","model":"m","outputs":{"value":"probs"}}`, text: "regression value is one number"},
		{name: "label index out of range", labels: []string{"only"}, cfg: `{"protocol":"v2","url":"%s","model":"m","outputs":{"label":"class"}}`, text: "class index"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, &serving.Descriptor{Features: []string{"u", "v"}, Labels: tc.labels}, fmt.Sprintf(tc.cfg, f.srv.URL))
			_, err := m.Predict([]float64{1, 1})
			if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want ErrRemote mentioning %q", err, tc.text)
			}
		})
	}
}

func TestBreaker(t *testing.T) {
	f := newFake(t)
	f.mode.Store("fail")
	m := load(t, &serving.Descriptor{Features: []string{"u", "v"}, Labels: []string{"neg", "pos"}},
		fmt.Sprintf(`{"protocol":"v2","url":"%s","model":"m","retries":-1,"breaker_failures":3,"breaker_cooldown_ms":60000}`, f.srv.URL))
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	m.br.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	for i := range 3 {
		if _, err := m.Predict([]float64{1, 1}); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "model crashed") {
			t.Fatalf("call %d: got %v, want the server's 500", i, err)
		}
	}
	if st, opens := m.br.snapshot(); st != open || opens != 1 {
		t.Fatalf("after 3 failures the breaker is %s (opened %d times), want open", st, opens)
	}
	_, err := m.Predict([]float64{1, 1})
	if !errors.Is(err, ErrCircuitOpen) || !errors.Is(err, serving.ErrModel) || !strings.Contains(err.Error(), "next probe in 1m0s") {
		t.Fatalf("got %v, want a fast ErrCircuitOpen", err)
	}
	if n := f.requests.Load(); n != 3 {
		t.Fatalf("the open breaker let a request through: %d requests", n)
	}

	// After the cool-down one probe goes out; it fails, so the breaker opens again.
	advance(61 * time.Second)
	if _, err := m.Predict([]float64{1, 1}); !errors.Is(err, ErrRemote) {
		t.Fatalf("probe: got %v, want the server's error", err)
	}
	if st, opens := m.br.snapshot(); st != open || opens != 2 || f.requests.Load() != 4 {
		t.Fatalf("failed probe: breaker %s, opened %d times, %d requests", st, opens, f.requests.Load())
	}
	if _, err := m.Predict([]float64{1, 1}); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("got %v, want ErrCircuitOpen after a failed probe", err)
	}

	// The server recovers: the next probe closes the breaker.
	f.mode.Store("ok")
	advance(61 * time.Second)
	p, err := m.Predict([]float64{1, 1})
	if err != nil || p.Label != "pos" {
		t.Fatalf("probe after recovery: %+v, %v", p, err)
	}
	if st, _ := m.br.snapshot(); st != closed {
		t.Fatalf("breaker is %s after a good probe, want closed", st)
	}
	for range 5 {
		if _, err := m.Predict([]float64{1, 1}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBreakerHalfOpenSingleProbe(t *testing.T) {
	b := &breaker{threshold: 1, cooldown: time.Second, now: time.Now}
	b.record(false)
	if ok, _ := b.allow(); ok {
		t.Fatal("open breaker allowed a call")
	}
	b.openedAt = b.openedAt.Add(-2 * time.Second)
	if ok, _ := b.allow(); !ok {
		t.Fatal("cooled-down breaker refused the probe")
	}
	if ok, wait := b.allow(); ok || wait != 0 {
		t.Fatal("half-open breaker allowed a second call while the probe is out")
	}
	b.record(true)
	if ok, _ := b.allow(); !ok {
		t.Fatal("closed breaker refused a call")
	}
	off := &breaker{threshold: 0}
	for range 10 {
		off.record(false)
	}
	if ok, _ := off.allow(); !ok {
		t.Fatal("disabled breaker refused a call")
	}
}

func TestConcurrencyBound(t *testing.T) {
	f := newFake(t)
	f.mode.Store("hold")
	m := load(t, &serving.Descriptor{Features: []string{"u", "v"}, Labels: []string{"neg", "pos"}},
		fmt.Sprintf(`{"protocol":"v2","url":"%s","model":"m","max_concurrency":2,"timeout_ms":5000}`, f.srv.URL))
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			_, err := m.Predict([]float64{1, 1})
			errs <- err
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.inflight.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("calls did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.mode.Store("ok")
	f.release <- struct{}{}
	f.release <- struct{}{}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := f.peak.Load(); p > 2 {
		t.Fatalf("%d calls were in flight at once, max_concurrency is 2", p)
	}
}

func TestConcurrencyWaitTimesOut(t *testing.T) {
	f := newFake(t)
	f.mode.Store("slow")
	m := load(t, &serving.Descriptor{Features: []string{"u"}},
		fmt.Sprintf(`{"protocol":"tfserving","url":"%s","model":"m","max_concurrency":1,"timeout_ms":100,"retries":-1,"breaker_failures":-1}`, f.srv.URL))
	var wg sync.WaitGroup
	results := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			_, err := m.Predict([]float64{1})
			results <- err
		})
	}
	wg.Wait()
	close(results)
	var texts []string
	for err := range results {
		if !errors.Is(err, ErrRemote) {
			t.Fatalf("got %v, want ErrRemote", err)
		}
		texts = append(texts, err.Error())
	}
	if !strings.Contains(strings.Join(texts, "|"), "timed out") {
		t.Fatalf("errors %q: want a timeout", texts)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, data string
		features   []string
		labels     []string
		text       string
	}{
		{name: "missing", data: ``, text: "data is missing"},
		{name: "not object", data: `[1]`, text: "data"},
		{name: "unknown field", data: `{"protocol":"v2","url":"http://h","model":"m","timeout":1}`, text: `unknown field "timeout"`},
		{name: "protocol", data: `{"protocol":"grpc","url":"http://h","model":"m"}`, text: "data.protocol"},
		{name: "url scheme", data: `{"protocol":"v2","url":"ftp://h","model":"m"}`, text: "data.url"},
		{name: "no model", data: `{"protocol":"v2","url":"http://h"}`, text: "data.model is missing"},
		{name: "model slash", data: `{"protocol":"v2","url":"http://h","model":"a/b"}`, text: "data.model"},
		{name: "datatype", data: `{"protocol":"v2","url":"http://h","model":"m","datatype":"BYTES"}`, text: "data.datatype"},
		{name: "wrong type", data: `{"protocol":"v2","url":"http://h","model":"m","retries":"x"}`, text: "data.retries"},
		{name: "negative timeout", data: `{"protocol":"v2","url":"http://h","model":"m","timeout_ms":-1}`, text: "timeout_ms"},
		{name: "too many retries", data: `{"protocol":"v2","url":"http://h","model":"m","retries":11}`, text: "retries 11"},
		{name: "value and probabilities", data: `{"protocol":"v2","url":"http://h","model":"m","outputs":{"value":"a","probabilities":"b"}}`, text: "cannot be combined"},
		{name: "value with labels", labels: []string{"a"}, data: `{"protocol":"v2","url":"http://h","model":"m","outputs":{"value":"a"}}`, text: "has labels"},
		{name: "no width", features: []string{}, data: `{"protocol":"v2","url":"http://h","model":"m"}`, text: "input width"},
		{name: "width mismatch", data: `{"protocol":"v2","url":"http://h","model":"m","num_features":3}`, text: "num_features is 3"},
		{name: "trailing", data: `{"protocol":"v2","url":"http://h","model":"m"} {}`, text: "extra content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			feats := tc.features
			if feats == nil {
				feats = []string{"a", "b"}
			}
			_, err := Load(&serving.Descriptor{ID: "r", Features: feats, Labels: tc.labels, Data: json.RawMessage(tc.data)})
			if !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want ErrInvalidModel mentioning %q", err, tc.text)
			}
		})
	}
	m, err := Load(&serving.Descriptor{ID: "r", Data: json.RawMessage(`{"protocol":"v2","url":"http://127.0.0.1:9","model":"m","num_features":4}`)})
	if err != nil || m.NumFeatures() != 4 {
		t.Fatalf("num_features without descriptor features: %v, %v", m, err)
	}
}

func TestRegistry(t *testing.T) {
	f := newFake(t)
	reg := serving.NewRegistry()
	Register(reg)
	d := &serving.Descriptor{ID: "r", Format: Format, Features: []string{"u", "v"}, Labels: []string{"neg", "pos"},
		Data: json.RawMessage(fmt.Sprintf(`{"protocol":"v2","url":"%s","model":"m"}`, f.srv.URL))}
	m, err := reg.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict([]float64{-1, -1})
	if err != nil || p.Label != "neg" {
		t.Fatalf("%+v %v", p, err)
	}
	if s := fmt.Sprint(m); !strings.Contains(s, "breaker closed") {
		t.Fatalf("String: %s", s)
	}
}

func TestBackoff(t *testing.T) {
	m := &model{backoff: 10 * time.Millisecond, maxBackoff: 100 * time.Millisecond}
	for n, want := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond, 5: 100 * time.Millisecond, 60: 100 * time.Millisecond} {
		for range 20 {
			if d := m.backoffFor(n); d < want/2 || d > want {
				t.Fatalf("backoff for attempt %d is %s, want within [%s, %s]", n, d, want/2, want)
			}
		}
	}
}

// TestServerHostMustBeAllowed: a descriptor cannot make the node call a
// host its operator did not allow (a cloud metadata address, say).
func TestServerHostMustBeAllowed(t *testing.T) {
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://internal.example:8080"} {
		d := &serving.Descriptor{ID: "r", Format: "remote", Features: []string{"a"},
			Data: json.RawMessage(`{"url":"` + u + `","model":"m","protocol":"v2"}`)}
		_, err := Load(d)
		if err == nil || !strings.Contains(err.Error(), "not one this node may call") {
			t.Errorf("remote server %s: %v, want it refused by the host policy", u, err)
		}
	}
}
