package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModelSourcesAreSafeByDefault: a node its operator did not allow any
// model directory or host refuses a descriptor that would make it read a
// file (and says nothing of the file) or call a URL (a cloud metadata
// address, say); one allowed a directory reads models there and nowhere
// else.
func TestModelSourcesAreSafeByDefault(t *testing.T) {
	b := ingBroker(t)
	n := ingStartNode(t, b.Addrs(), "s1", nil, nil)
	put := func(id string, desc map[string]any) (int, string) {
		t.Helper()
		body, _ := json.Marshal(desc)
		req, _ := http.NewRequestWithContext(t.Context(), "PUT", "http://"+n.HTTPAddr()+"/v1/models/"+id, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	hostname, _ := os.ReadFile("/etc/hostname")
	for _, tc := range []struct {
		name string
		desc map[string]any
		want string
	}{
		{"a system file", map[string]any{"format": "xgboost", "location": "file:///etc/hostname", "features": []string{"a"}}, "may not read model files"},
		{"a metadata address", map[string]any{"format": "xgboost", "location": "http://169.254.169.254/latest/meta-data/", "features": []string{"a"}}, "may not call any host"},
		{"a remote server", map[string]any{"format": "remote", "features": []string{"a"},
			"data": map[string]any{"protocol": "v2", "url": "http://169.254.169.254/", "model": "m"}}, "may not call any host"},
	} {
		code, body := put("m", tc.desc)
		if code/100 != 4 || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want a 4xx saying %q", tc.name, code, body, tc.want)
		}
		if len(bytes.TrimSpace(hostname)) > 0 && strings.Contains(body, string(bytes.TrimSpace(hostname))) || strings.Contains(body, "byte 0x") {
			t.Errorf("%s: the answer tells something of the file: %s", tc.name, body)
		}
	}

	// Allowed a directory, the node reads a model there, and only there.
	dir := t.TempDir()
	model := filepath.Join(dir, "m.json")
	lin, _ := json.Marshal(map[string]any{"coefficients": [][]float64{{2}}, "intercepts": []float64{1}, "link": "identity"})
	if err := os.WriteFile(model, lin, 0o600); err != nil {
		t.Fatal(err)
	}
	n.cfg.Sources = SourcesConfig{Dirs: []string{dir}}
	n.cfg.Sources.apply()
	t.Cleanup(func() { (&SourcesConfig{}).apply() })
	pmml := filepath.Join(dir, "m.pmml")
	if err := os.WriteFile(pmml, []byte("<PMML"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := put("outside", map[string]any{"format": "pmml", "location": "file:///etc/hostname", "features": []string{"a"}}); code/100 != 4 || !strings.Contains(body, "outside the directories") {
		t.Errorf("a file outside the allowed directory: %d %s", code, body)
	}
	if code, body := put("inside", map[string]any{"format": "pmml", "location": "file://" + pmml, "features": []string{"a"}}); strings.Contains(body, "may not read") || strings.Contains(body, "outside") {
		t.Errorf("a file inside the allowed directory was refused by the policy: %d %s", code, body)
	}
}
