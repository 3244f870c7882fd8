package app

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/queryable"
)

// TestHTTPNeedsTokensWithScopes: with tokens configured, every route of
// the OpenAPI document but the health probes answers 401 without a token
// and with an unknown one, 403 with a token lacking the route's scope,
// and as before with the right one.
func TestHTTPNeedsTokensWithScopes(t *testing.T) {
	const (
		readTok    = "read-token-0123456789"
		predictTok = "predict-token-0123456789"
		adminTok   = "admin-token-0123456789"
	)
	b := ingBroker(t)
	n := ingStartNode(t, b.Addrs(), "a1", nil, func(c *NodeConfig) {
		c.HTTP.Pprof = true
		c.HTTP.Tokens = []queryable.Token{
			queryable.NewToken(readTok, queryable.ScopeRead),
			queryable.NewToken(predictTok, queryable.ScopePredict),
			queryable.NewToken(adminTok, queryable.ScopeAdmin),
		}
	})
	do := func(method, path, token, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, "http://"+n.HTTPAddr()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(out)
	}
	// Deploy with the admin token, so the model routes have a model.
	desc := string(ingJSON(ingLinear([]string{"a"}, nil, [][]float64{{2}}, []float64{1}, "identity")))
	if code, body := do("PUT", "/v1/models/m", adminTok, desc); code != http.StatusAccepted {
		t.Fatalf("deploy with the admin token: %d %s", code, body)
	}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "queryable", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	open := []string{"/livez", "/readyz", "/version", "/v2/health/live", "/v2/health/ready"}
	routes := 0
	for path, ops := range doc.Paths {
		p := strings.ReplaceAll(strings.ReplaceAll(path, "{id}", "m"), "{version}", "1")
		for method := range ops {
			if method == "parameters" {
				continue
			}
			method = strings.ToUpper(method)
			if p == "/debug/pprof/profile" || p == "/debug/pprof/trace" {
				p += "?seconds=1"
			}
			routes++
			body := ""
			var need queryable.Scope
			switch {
			case method == "PUT":
				body, need = desc, queryable.ScopeAdmin
			case method == "DELETE" || strings.HasPrefix(p, "/debug/") || strings.HasSuffix(p, "/rollback") || strings.HasSuffix(p, "/promote"):
				need = queryable.ScopeAdmin
			case method == "POST":
				body, need = `{"id":"e1","features":{"a":1},"label":3}`, queryable.ScopePredict
			default:
				need = queryable.ScopeRead
			}
			name := method + " " + p
			if slices.Contains(open, path) {
				if code, _ := do(method, p, "", body); code == 401 || code == 403 {
					t.Errorf("%s is a health probe and must need no token: %d", name, code)
				}
				continue
			}
			if code, out := do(method, p, "", body); code != 401 || !strings.Contains(out, `"unauthorized"`) {
				t.Errorf("%s without a token: %d %s, want 401 unauthorized", name, code, out)
			}
			if code, _ := do(method, p, "not-a-known-token-at-all", body); code != 401 {
				t.Errorf("%s with an unknown token: %d, want 401", name, code)
			}
			for _, tok := range []struct {
				secret string
				scope  queryable.Scope
			}{{readTok, queryable.ScopeRead}, {predictTok, queryable.ScopePredict}} {
				code, out := do(method, p, tok.secret, body)
				switch {
				case tok.scope == need && (code == 401 || code == 403):
					t.Errorf("%s with a %s token: %d %s, want it served", name, tok.scope, code, out)
				case tok.scope != need && (code != 403 || !strings.Contains(out, `"forbidden"`)):
					t.Errorf("%s with a %s token: %d %s, want 403 forbidden", name, tok.scope, code, out)
				}
			}
			if method != "DELETE" {
				if code, out := do(method, p, adminTok, body); code == 401 || code == 403 {
					t.Errorf("%s with the admin token: %d %s, want it served", name, code, out)
				}
			}
		}
	}
	if code, out := do("DELETE", "/v1/models/m", adminTok, ""); code != http.StatusAccepted {
		t.Errorf("DELETE with the admin token: %d %s", code, out)
	}
	t.Logf("%d routes checked", routes)
	if routes < 15 {
		t.Errorf("only %d routes in the OpenAPI document", routes)
	}
}

// TestTokensFile: tokens are read from a file (scopes checked, short
// secrets refused without echoing them), and a node on a non-loopback
// address refuses to start open unless told to.
func TestTokensFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "# comment\nabcdefghijklmnop0123 read,predict\n\nqrstuvwxyz0123456789 admin\n")
	c := queryable.DefaultConfig()
	c.TokensFile = good
	if err := c.LoadTokens(); err != nil || len(c.Tokens) != 2 {
		t.Fatalf("good file: %v, %d tokens", err, len(c.Tokens))
	}
	for name, text := range map[string]string{
		"short": "sh0rt read\n", "scope": "abcdefghijklmnop0123 write\n", "fields": "abcdefghijklmnop0123\n",
	} {
		c := queryable.DefaultConfig()
		c.TokensFile = write(name, text)
		err := c.LoadTokens()
		if err == nil || !strings.Contains(err.Error(), "line 1") || strings.Contains(err.Error(), "abcdefghijklmnop0123") || strings.Contains(err.Error(), "sh0rt") {
			t.Errorf("%s: %v, want an error naming the line and not the secret", name, err)
		}
	}
	open := queryable.DefaultConfig()
	open.Listen = "0.0.0.0:0"
	if err := open.LoadTokens(); err == nil || !strings.Contains(err.Error(), "--auth-tokens-file") {
		t.Errorf("a non-loopback address with no token: %v, want a refusal", err)
	}
	open.InsecureNoAuth = true
	if err := open.LoadTokens(); err != nil {
		t.Errorf("with --insecure-no-auth: %v", err)
	}
}
