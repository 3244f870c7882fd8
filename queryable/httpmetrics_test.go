package queryable

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestHTTPMetrics: requests are counted by route pattern (not the raw
// path), method and code, and timed by route and method.
func TestHTTPMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	cfg := DefaultConfig()
	cfg.Tokens = []Token{NewToken("a-long-enough-secret", ScopeAdmin)}
	s := New(cfg, Deps{Metrics: reg})
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/livez"},
		{http.MethodGet, "/livez"},
		{http.MethodPost, "/livez"},         // 405
		{http.MethodGet, "/v1/models/a"},    // 401: no token
		{http.MethodGet, "/v1/models/b"},    // 401, same route
		{"BREW", "/v1/models/c"},            // an unknown method
		{http.MethodGet, "/no/such/path/1"}, // 404
	} {
		s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
	}
	got := map[string]float64{}
	series := map[string]int{}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			key := strings.Join(ls, ",")
			series[f.GetName()]++
			if f.GetName() == "actorserve_http_requests_total" {
				got[key] = m.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{
		"code=200,method=GET,route=/livez":          2,
		"code=405,method=POST,route=/":              1,
		"code=401,method=GET,route=/v1/models/{id}": 2,
		"code=401,method=other,route=/":             1,
		"code=401,method=GET,route=/":               1,
	}
	if len(got) != len(want) {
		t.Errorf("actorserve_http_requests_total = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("actorserve_http_requests_total{%s} = %v, want %v", k, got[k], v)
		}
	}
	if n := series["actorserve_http_request_duration_seconds"]; n != 5 {
		t.Errorf("actorserve_http_request_duration_seconds has %d series, want 5 (route and method pairs)", n)
	}
}
