package source

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// TestMain allows the tests' temporary directories and servers on
// 127.0.0.1, as an operator would with --model-dirs and --model-hosts.
func TestMain(m *testing.M) {
	SetPolicy(Policy{FileRoots: []string{os.TempDir()}, Hosts: []string{"127.0.0.1"}})
	os.Exit(m.Run())
}

// TestPolicyRefusesWhatWasNotAllowed: with no policy a node reads no file
// and calls no host for a model; with one, only what it names; a
// server cannot redirect the node elsewhere; and a refusal says nothing
// about the file it was asked for.
func TestPolicyRefusesWhatWasNotAllowed(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.bin")
	if err := os.WriteFile(model, []byte("model"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			// 127.0.0.1 sends the node to localhost: another host.
			http.Redirect(w, r, "http://localhost:"+strings.Split(r.Host, ":")[1]+"/m", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("model"))
	}))
	defer srv.Close()
	get := func(loc string, p *Policy) error {
		_, err := ModelBytes(t.Context(), &serving.Descriptor{ID: "m", Version: 1, Location: loc}, Options{Policy: p, NoCache: true})
		return err
	}
	none := &Policy{}
	for _, tc := range []struct {
		name, loc string
		policy    *Policy
		text      string // "" = allowed
	}{
		{"no policy, file", "file://" + model, none, "may not read model files"},
		{"no policy, /etc/hostname", "file:///etc/hostname", none, "may not read model files"},
		{"no policy, http", srv.URL + "/m", none, "may not call any host"},
		{"file outside the directories", "file:///etc/hostname", &Policy{FileRoots: []string{dir}}, "outside the directories"},
		{"missing file outside says nothing of it", "file:///etc/no-such-file", &Policy{FileRoots: []string{dir}}, "outside the directories"},
		{"file inside", "file://" + model, &Policy{FileRoots: []string{dir}}, ""},
		{"metadata address", "http://169.254.169.254/latest/meta-data/", &Policy{Hosts: []string{"127.0.0.1"}}, "not one this node may call"},
		{"allowed host", srv.URL + "/m", &Policy{Hosts: []string{"127.0.0.1"}}, ""},
		{"allowed host:port", srv.URL + "/m", &Policy{Hosts: []string{strings.TrimPrefix(srv.URL, "http://")}}, ""},
		{"other port of an allowed host:port", "http://127.0.0.1:1/m", &Policy{Hosts: []string{strings.TrimPrefix(srv.URL, "http://")}}, "not one this node may call"},
		{"any host, explicitly", srv.URL + "/m", &Policy{Hosts: []string{"*"}}, ""},
		{"redirect to another host", srv.URL + "/elsewhere", &Policy{Hosts: []string{"127.0.0.1", "localhost"}}, "another host"},
	} {
		err := get(tc.loc, tc.policy)
		switch {
		case tc.text == "" && err != nil:
			t.Errorf("%s: %v, want it read", tc.name, err)
		case tc.text != "" && (err == nil || !strings.Contains(err.Error(), tc.text)):
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.text)
		case tc.text != "" && strings.Contains(tc.text, "may not") && !errors.Is(err, serving.ErrInvalidDescriptor):
			t.Errorf("%s: %v does not wrap ErrInvalidDescriptor", tc.name, err)
		}
	}
}
