package app

import (
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestParseFlagsAnywhere: flags may follow positional arguments, "--" ends
// flags, environment variables fill flags not given, flags win.
func TestParseFlagsAnywhere(t *testing.T) {
	env := map[string]string{"ACTORSERVE_HTTP": "env:1", "ACTORSERVE_SORT": "usage"}
	old := Env
	Env = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	defer func() { Env = old }()
	cases := []struct {
		args       []string
		http, sort string
		pos        []string
	}{
		{[]string{"file.json", "--http", "a:1"}, "a:1", "usage", []string{"file.json"}},
		{[]string{"--http", "a:1", "file.json"}, "a:1", "usage", []string{"file.json"}},
		{[]string{"x", "--sort", "p99_ms", "y"}, "env:1", "p99_ms", []string{"x", "y"}},
		{[]string{"--", "--http", "z"}, "env:1", "usage", []string{"--http", "z"}},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		http := fs.String("http", "default", "")
		sort := fs.String("sort", "", "")
		if err := parse(fs, c.args); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if *http != c.http || *sort != c.sort || len(fs.Args()) != len(c.pos) {
			t.Fatalf("%v: http %q sort %q args %q", c.args, *http, *sort, fs.Args())
		}
		for i := range c.pos {
			if fs.Arg(i) != c.pos[i] {
				t.Fatalf("%v: args %q", c.args, fs.Args())
			}
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Int("n", 0, "")
	if err := parse(fs, []string{"x", "--n", "notanumber"}); !errors.Is(err, ErrUsage) {
		t.Fatalf("bad value: %v, want ErrUsage", err)
	}
}

// TestHealthCommand: `actorserve health` succeeds on 200 and fails with
// the server's reason otherwise.
func TestHealthCommand(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/livez":
			w.WriteHeader(200)
		case r.URL.Path == "/readyz" && ready:
			w.WriteHeader(200)
		default:
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`{"error":"node is shutting down","code":"draining"}`))
		}
	}))
	defer srv.Close()
	var out strings.Builder
	if err := Run(t.Context(), []string{"health", "--http", srv.URL}, &out, io.Discard); err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Fatalf("ready node: %v %q", err, out.String())
	}
	ready = false
	err := Run(t.Context(), []string{"health", "--http", srv.URL}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "draining") {
		t.Fatalf("draining node: %v", err)
	}
	if err := Run(t.Context(), []string{"health", "--live", "--http", srv.URL}, io.Discard, io.Discard); err != nil {
		t.Fatalf("live check: %v", err)
	}
}
