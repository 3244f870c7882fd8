package queryable

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// dashboardFiles are the dashboard's page, script and style sheet: plain
// files, no build step, no external resources.
//
//go:embed dashboard
var dashboardFiles embed.FS

// asset is one embedded dashboard file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// dashboardAssets reads the embedded files once. The names are the URL
// paths they are served at ("" is the page itself).
func dashboardAssets() (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(dashboardFiles, "dashboard", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := dashboardFiles.ReadFile(p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(b)
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "dashboard/")
		out[name] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded dashboard: %w", err)
	}
	if _, ok := out["index.html"]; !ok {
		return nil, fmt.Errorf("embedded dashboard has no index.html")
	}
	out[""] = out["index.html"]
	return out, nil
}

// dashboard serves the live dashboard at GET / and its assets at
// /app.js and /style.css. Any other GET path answers the API's JSON 404,
// so unknown /v1/ paths stay machine-readable.
func (s *Server) dashboard() http.Handler {
	assets, err := dashboardAssets()
	if err != nil {
		// The files are compiled in; this only happens if the embed
		// directive and the folder disagree, which the tests catch.
		s.logger.Error("dashboard disabled", "err", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		a, ok := assets[name]
		if !ok || strings.HasPrefix(name, "v1/") {
			s.noRoute(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
