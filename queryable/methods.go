package queryable

import (
	"fmt"
	"net/http"
	"strings"
)

// probeMethods are the methods tried when a request matches no route, to
// tell a wrong method (405) from an unknown path (404).
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// noRoute answers a request no route serves: 405 with Allow when the path
// is served for other methods, else 404. Both carry the JSON error body.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	if allow := s.allowedMethods(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
		return
	}
	writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
}

// allowedMethods are the methods with a route of their own for r's path
// (the catch-all routes do not count).
func (s *Server) allowedMethods(r *http.Request) []string {
	var out []string
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); isRoute(pattern) {
			out = append(out, m)
		}
	}
	return out
}

// isRoute tells a route's pattern from the catch-alls (the JSON 404 and
// the dashboard's GET /).
func isRoute(pattern string) bool { return pattern != "" && pattern != "/" && pattern != "GET /" }
