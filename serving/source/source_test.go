package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actorserve/actorserve/serving"
)

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func inlineDesc(b []byte) *serving.Descriptor {
	s, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
	return &serving.Descriptor{ID: "m", Version: 1, Format: "x", Data: s}
}

func TestInline(t *testing.T) {
	payload := []byte("model bytes")
	tests := []struct {
		name    string
		d       *serving.Descriptor
		opts    Options
		want    []byte
		wantErr []error
		text    string
	}{
		{name: "ok", d: inlineDesc(payload), want: payload},
		{name: "ok with sha256", d: func() *serving.Descriptor { d := inlineDesc(payload); d.SHA256 = digest(payload); return d }(), want: payload},
		{name: "wrong sha256", d: func() *serving.Descriptor { d := inlineDesc(payload); d.SHA256 = digest([]byte("other")); return d }(),
			wantErr: []error{serving.ErrInvalidDescriptor}, text: digest(payload)},
		{name: "over limit", d: inlineDesc(bytes.Repeat([]byte("x"), 1000)), opts: Options{MaxInlineBytes: 100},
			wantErr: []error{ErrTooLarge, serving.ErrInvalidModel}, text: "limit of 100"},
		{name: "just over limit", d: inlineDesc(bytes.Repeat([]byte("x"), 101)), opts: Options{MaxInlineBytes: 100},
			wantErr: []error{ErrTooLarge}},
		{name: "not base64", d: &serving.Descriptor{ID: "m", Data: json.RawMessage(`"%%%"`)}, wantErr: []error{serving.ErrInvalidDescriptor}},
		{name: "nothing", d: &serving.Descriptor{ID: "m"}, wantErr: []error{serving.ErrInvalidDescriptor}, text: "neither data nor location"},
		{name: "both", d: func() *serving.Descriptor { d := inlineDesc(payload); d.Location = "file:///x"; return d }(),
			wantErr: []error{serving.ErrInvalidDescriptor}, text: "not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.NoCache = true
			b, err := ModelBytes(t.Context(), tc.d, tc.opts)
			checkErr(t, err, tc.wantErr, tc.text)
			if tc.wantErr == nil && !bytes.Equal(b, tc.want) {
				t.Fatalf("got %q, want %q", b, tc.want)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want []error, text string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("error %q does not wrap %q", err, w)
		}
	}
	if text != "" && !strings.Contains(err.Error(), text) {
		t.Errorf("error %q does not mention %q", err, text)
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	payload := []byte("file model")
	good := filepath.Join(dir, "m.bin")
	if err := os.WriteFile(good, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, bytes.Repeat([]byte("y"), 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	loc := func(p string) *serving.Descriptor {
		return &serving.Descriptor{ID: "m", Version: 1, Location: "file://" + p}
	}
	tests := []struct {
		name    string
		d       *serving.Descriptor
		opts    Options
		want    []byte
		wantErr []error
		text    string
	}{
		{name: "ok", d: loc(good), want: payload},
		{name: "ok inside root", d: loc(good), opts: Options{FileRoot: dir}, want: payload},
		{name: "sha256 ok", d: func() *serving.Descriptor { d := loc(good); d.SHA256 = digest(payload); return d }(), want: payload},
		{name: "sha256 wrong", d: func() *serving.Descriptor { d := loc(good); d.SHA256 = strings.Repeat("ab", 32); return d }(),
			wantErr: []error{ErrChecksum, serving.ErrInvalidModel}, text: digest(payload) + ", descriptor says " + strings.Repeat("ab", 32)},
		{name: "too large", d: loc(big), opts: Options{MaxBytes: 4096}, wantErr: []error{ErrTooLarge, serving.ErrInvalidModel}, text: "5000 bytes"},
		{name: "missing", d: loc(filepath.Join(dir, "nope")), wantErr: []error{ErrFetch}, text: "nope"},
		{name: "directory", d: loc(dir), wantErr: []error{ErrFetch}, text: "not a regular file"},
		{name: "outside root", d: loc(secret), opts: Options{FileRoot: dir}, wantErr: []error{serving.ErrInvalidDescriptor}, text: "outside"},
		{name: "symlink out of root", d: loc(link), opts: Options{FileRoot: dir}, wantErr: []error{serving.ErrInvalidDescriptor}, text: "outside"},
		{name: "dotdot out of root", d: loc(dir + "/../" + filepath.Base(outside) + "/secret"), opts: Options{FileRoot: dir}, wantErr: []error{serving.ErrInvalidDescriptor}},
		{name: "host", d: &serving.Descriptor{ID: "m", Location: "file://example.com/x"}, wantErr: []error{serving.ErrInvalidDescriptor}, text: "host"},
		{name: "relative", d: &serving.Descriptor{ID: "m", Location: "file:x"}, wantErr: []error{serving.ErrInvalidDescriptor}, text: "absolute"},
		{name: "disabled", d: loc(good), opts: Options{DisableFile: true}, wantErr: []error{serving.ErrInvalidDescriptor}, text: "disabled"},
		{name: "bad sha", d: func() *serving.Descriptor { d := loc(good); d.SHA256 = "zz"; return d }(), wantErr: []error{serving.ErrInvalidDescriptor}},
		{name: "scheme", d: &serving.Descriptor{ID: "m", Location: "ftp://x/y"}, wantErr: []error{serving.ErrInvalidDescriptor}, text: "scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.NoCache = true
			b, err := ModelBytes(t.Context(), tc.d, tc.opts)
			checkErr(t, err, tc.wantErr, tc.text)
			if tc.wantErr == nil && !bytes.Equal(b, tc.want) {
				t.Fatalf("got %q, want %q", b, tc.want)
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 100)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(payload) })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/slow-headers", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write(payload[:10])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	mux.HandleFunc("/big-declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000000000")
		_, _ = w.Write(payload)
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 100 { // 100 kB streamed without a length
			if _, err := w.Write(bytes.Repeat([]byte("z"), 1000)); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	loc := func(p string) *serving.Descriptor {
		return &serving.Descriptor{ID: "m", Version: 1, Location: srv.URL + p}
	}
	tests := []struct {
		name    string
		d       *serving.Descriptor
		opts    Options
		want    []byte
		wantErr []error
		text    string
	}{
		{name: "ok", d: loc("/ok"), want: payload},
		{name: "ok sha256", d: func() *serving.Descriptor { d := loc("/ok"); d.SHA256 = digest(payload); return d }(), want: payload},
		{name: "wrong digest", d: func() *serving.Descriptor { d := loc("/ok"); d.SHA256 = digest([]byte("x")); return d }(),
			wantErr: []error{ErrChecksum, serving.ErrInvalidModel}, text: "sha256 of the 1000 bytes read is " + digest(payload) + ", descriptor says " + digest([]byte("x"))},
		{name: "404", d: loc("/missing"), wantErr: []error{ErrFetch}, text: "404"},
		{name: "500", d: loc("/error"), wantErr: []error{ErrFetch}, text: "500"},
		{name: "slow headers", d: loc("/slow-headers"), opts: Options{Timeout: 100 * time.Millisecond}, wantErr: []error{ErrFetch}, text: "timed out"},
		{name: "slow body", d: loc("/slow-body"), opts: Options{Timeout: 100 * time.Millisecond}, wantErr: []error{ErrFetch}, text: "timed out"},
		{name: "declared too large", d: loc("/big-declared"), opts: Options{MaxBytes: 5000}, wantErr: []error{ErrTooLarge}, text: "1000000000000 bytes"},
		{name: "streamed too large", d: loc("/big-chunked"), opts: Options{MaxBytes: 5000}, wantErr: []error{ErrTooLarge}, text: "more than the limit of 5000"},
		{name: "disabled", d: loc("/ok"), opts: Options{DisableHTTP: true}, wantErr: []error{serving.ErrInvalidDescriptor}},
		{name: "connection refused", d: &serving.Descriptor{ID: "m", Location: "http://127.0.0.1:1/x"}, wantErr: []error{ErrFetch}},
		{name: "password redacted", d: &serving.Descriptor{ID: "m", Location: "http://u:hunter2@127.0.0.1:1/x"}, wantErr: []error{ErrFetch}, text: "xxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.NoCache = true
			b, err := ModelBytes(t.Context(), tc.d, tc.opts)
			checkErr(t, err, tc.wantErr, tc.text)
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the password: %v", err)
			}
			if tc.wantErr == nil && !bytes.Equal(b, tc.want) {
				t.Fatalf("got %d bytes, want %d", len(b), len(tc.want))
			}
		})
	}
}

func TestCache(t *testing.T) {
	var hits atomic.Int64
	gate := make(chan struct{})
	payload := []byte("cached model")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/gated" {
			<-gate
		}
		if r.URL.Path == "/fail" {
			http.Error(w, "no", 503)
			return
		}
		_, _ = w.Write(payload)
	}))
	t.Cleanup(srv.Close)
	c := NewCache(1<<20, 2)
	opts := Options{Cache: c}

	d := &serving.Descriptor{ID: "m", Version: 1, Location: srv.URL + "/a"}
	for range 3 {
		b, err := ModelBytes(t.Context(), d, opts)
		if err != nil || !bytes.Equal(b, payload) {
			t.Fatalf("got %q, %v", b, err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("3 loads of one location+version made %d requests, want 1", n)
	}
	d2 := *d
	d2.Version = 2
	if _, err := ModelBytes(t.Context(), &d2, opts); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("a new version should download again: %d requests, want 2", n)
	}

	// Keyed by sha256: another location with the same digest is a hit.
	withSum := &serving.Descriptor{ID: "m", Version: 3, Location: srv.URL + "/b", SHA256: digest(payload)}
	if _, err := ModelBytes(t.Context(), withSum, opts); err != nil {
		t.Fatal(err)
	}
	other := &serving.Descriptor{ID: "n", Version: 9, Location: srv.URL + "/c", SHA256: strings.ToUpper(digest(payload))}
	if _, err := ModelBytes(t.Context(), other, opts); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 3 {
		t.Fatalf("same sha256 should be a cache hit: %d requests, want 3", n)
	}
	if c.Len() != 2 { // budget of 2 entries
		t.Fatalf("cache holds %d entries, want 2", c.Len())
	}

	// Failures are not cached.
	fail := &serving.Descriptor{ID: "m", Version: 1, Location: srv.URL + "/fail"}
	for range 2 {
		if _, err := ModelBytes(t.Context(), fail, opts); !errors.Is(err, ErrFetch) {
			t.Fatalf("got %v, want ErrFetch", err)
		}
	}
	if n := hits.Load(); n != 5 {
		t.Fatalf("failed fetches should be retried: %d requests, want 5", n)
	}

	// Concurrent callers share one download.
	before := hits.Load()
	gated := &serving.Descriptor{ID: "g", Version: 1, Location: srv.URL + "/gated"}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			b, err := ModelBytes(t.Context(), gated, opts)
			if err == nil && !bytes.Equal(b, payload) {
				err = fmt.Errorf("got %q", b)
			}
			errs <- err
		})
	}
	waitFor(t, func() bool { return hits.Load() > before })
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := hits.Load() - before; n != 1 {
		t.Fatalf("8 concurrent loads made %d requests, want 1", n)
	}

	// Too large for the cache: fetched, not kept.
	small := NewCache(4, 10)
	if _, err := ModelBytes(t.Context(), d, Options{Cache: small}); err != nil {
		t.Fatal(err)
	}
	if small.Len() != 0 || small.Bytes() != 0 {
		t.Fatalf("oversized entry was cached: %d entries, %d bytes", small.Len(), small.Bytes())
	}
	c.Purge()
	if c.Len() != 0 {
		t.Fatal("purge left entries")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
