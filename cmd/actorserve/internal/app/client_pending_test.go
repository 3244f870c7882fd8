package app

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestDeployCLIPending: `actorserve deploy` says a deploy answered pending
// (published, not read back in time) was published and not confirmed, not
// that it was deployed.
func TestDeployCLIPending(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id":"m","version":3,"revision":3,"pending":true,"offset":41,"status":"/v1/models/m","detail":"GET /v1/models/m shows the version once applied"}`))
	}))
	defer srv.Close()
	desc := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(desc, benchModelDesc, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := Run(t.Context(), []string{"deploy", "--http", srv.Listener.Addr().String(), desc}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "published m version 3, not confirmed yet: GET /v1/models/m shows the version once applied\n"; stdout.String() != want {
		t.Fatalf("deploy printed %q, want %q", stdout.String(), want)
	}
}
