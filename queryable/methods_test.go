package queryable

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMethodNotAllowed: a wrong method on a known path answers 405 with
// Allow and the JSON error; an unknown path still answers 404.
func TestMethodNotAllowed(t *testing.T) {
	s := New(DefaultConfig(), Deps{})
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodPost, "/v1/models", 405, "GET, HEAD"},
		{http.MethodPatch, "/v1/models/m1", 405, "GET, HEAD, PUT, DELETE"},
		{http.MethodGet, "/v1/models/m1/predict", 405, "POST"},
		{http.MethodPut, "/v1/models/m1/rollback", 405, "POST"},
		{http.MethodPost, "/livez", 405, "GET, HEAD"},
		{http.MethodGet, "/v1/nothing", 404, ""},
		{http.MethodPost, "/nothing", 404, ""},
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		var body apiError
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: body %q: %v", c.method, c.path, rec.Body, err)
		}
		wantCode := "method_not_allowed"
		if c.status == 404 {
			wantCode = "not_found"
		}
		if rec.Code != c.status || rec.Header().Get("Allow") != c.allow || body.Code != wantCode || body.Error == "" {
			t.Errorf("%s %s: %d Allow %q %+v, want %d Allow %q code %s", c.method, c.path, rec.Code, rec.Header().Get("Allow"), body, c.status, c.allow, wantCode)
		}
	}
}
