package queryable

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, s *Server, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// TestDashboardAssets: GET / serves the page, its script and style sheet
// are served with the right types, nothing is loaded from elsewhere, and
// unknown paths keep the API's JSON 404.
func TestDashboardAssets(t *testing.T) {
	s := New(DefaultConfig(), Deps{})
	page := serve(t, s, http.MethodGet, "/", nil)
	if page.Code != http.StatusOK || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %q", page.Code, page.Header().Get("Content-Type"))
	}
	html := page.Body.String()
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 2 {
		t.Fatalf("the page references %d assets, want the script and the style sheet", len(refs))
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, r := range refs {
		ref := r[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if strings.Contains(ref, "//") || strings.HasPrefix(ref, "/") {
			t.Errorf("the page loads %q: assets must be embedded and relative", ref)
			continue
		}
		rec := serve(t, s, http.MethodGet, "/"+ref, nil)
		ext := ref[strings.LastIndex(ref, "."):]
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), wantType[ext]) {
			t.Errorf("GET /%s: %d %q, want 200 %s", ref, rec.Code, rec.Header().Get("Content-Type"), wantType[ext])
		}
		if rec.Body.Len() < 100 {
			t.Errorf("GET /%s: %d bytes", ref, rec.Body.Len())
		}
		// No CDN, web fonts or remote imports in the assets either.
		external := regexp.MustCompile(`(?i)@import|url\(\s*['"]?(https?:)?//|(src|href)\s*=\s*['"](https?:)?//|fetch\(\s*['"](https?:)?//`)
		if m := external.FindString(rec.Body.String()); m != "" {
			t.Errorf("/%s loads an external resource: %q", ref, m)
		}
	}
	if csp := page.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy is %q", csp)
	}

	// Conditional GET.
	etag := page.Header().Get("ETag")
	if rec := serve(t, s, http.MethodGet, "/", map[string]string{"If-None-Match": etag}); etag == "" || rec.Code != http.StatusNotModified {
		t.Errorf("GET / with If-None-Match %q: %d, want 304", etag, rec.Code)
	}
	if rec := serve(t, s, http.MethodHead, "/style.css", nil); rec.Code != http.StatusOK {
		t.Errorf("HEAD /style.css: %d", rec.Code)
	}

	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/v1/nope"},
		{http.MethodGet, "/v1/models/"},
		{http.MethodGet, "/favicon.ico"},
		{http.MethodGet, "/dashboard/app.js"},
		{http.MethodGet, "/queryable/server.go"},
		{http.MethodPost, "/"},
		{http.MethodDelete, "/v1/nothing"}, // a wrong method on a known path is a 405 (TestMethodNotAllowed)
	} {
		rec := serve(t, s, c.method, c.path, nil)
		var e apiError
		if rec.Code != http.StatusNotFound || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Code != "not_found" || e.Error == "" {
			t.Errorf("%s %s: %d %s, want a JSON 404 with code not_found", c.method, c.path, rec.Code, rec.Body)
		}
	}
}
