package remote

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// TestSecretsAreReferences: a credential header given in clear is refused
// (without echoing it); given as env:NAME it is read from the node's
// environment at load and sent, and never stored in the descriptor.
func TestSecretsAreReferences(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("X-Tenant"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"outputs":[{"name":"y","shape":[1,1],"datatype":"FP64","data":[0.5]}]}`)
	}))
	defer srv.Close()
	desc := func(headers string) *serving.Descriptor {
		return &serving.Descriptor{ID: "r", Format: Format, Features: []string{"a"},
			Data: json.RawMessage(fmt.Sprintf(`{"protocol":"v2","url":"%s","model":"m","outputs":{"value":"y"},"headers":%s}`, srv.URL, headers))}
	}
	for _, h := range []string{`{"Authorization":"Bearer s3cr3t-value"}`, `{"X-Api-Key":"s3cr3t-value"}`, `{"x-auth-token":"s3cr3t-value"}`} {
		_, err := Load(desc(h))
		if err == nil || !strings.Contains(err.Error(), "holds a secret in clear") || !strings.Contains(err.Error(), `"env:NAME"`) {
			t.Errorf("%s: %v, want a refusal", h, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: the error shows the secret: %v", h, err)
		}
	}
	if _, err := Load(desc(`{"Authorization":"env:ACTORSERVE_TEST_UNSET_TOKEN"}`)); err == nil || !strings.Contains(err.Error(), `"ACTORSERVE_TEST_UNSET_TOKEN" is not set`) {
		t.Errorf("unset variable: %v", err)
	}
	t.Setenv("ACTORSERVE_TEST_TOKEN", "Bearer from-the-environment")
	d := desc(`{"Authorization":"env:ACTORSERVE_TEST_TOKEN","X-Tenant":"blue"}`)
	m, err := Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Predict([]float64{1}); err != nil {
		t.Fatal(err)
	}
	if g := got.Load(); g != "Bearer from-the-environment|blue" {
		t.Errorf("the server got %q", g)
	}
	if strings.Contains(string(d.Data), "from-the-environment") {
		t.Errorf("the descriptor now holds the secret: %s", d.Data)
	}
}
