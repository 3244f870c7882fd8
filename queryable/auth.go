package queryable

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

// Scope is what a bearer token allows.
type Scope string

// The scopes. Admin allows everything; predict allows scoring and
// feedback; read allows every GET route (the API, the dashboard, metrics).
// Health probes (/livez, /readyz, /version) need no token, so
// orchestrators can use them.
const (
	ScopeRead    Scope = "read"
	ScopePredict Scope = "predict"
	ScopeAdmin   Scope = "admin"
)

// Token is one accepted bearer token: only its SHA-256 is kept.
type Token struct {
	sum    [sha256.Size]byte
	scopes map[Scope]bool
}

// NewToken returns a token accepting secret with scopes.
func NewToken(secret string, scopes ...Scope) Token {
	t := Token{sum: sha256.Sum256([]byte(secret)), scopes: map[Scope]bool{}}
	for _, s := range scopes {
		t.scopes[s] = true
	}
	return t
}

func (t Token) allows(s Scope) bool { return t.scopes[ScopeAdmin] || t.scopes[s] }

// MinTokenLength is the shortest secret accepted in a tokens file.
const MinTokenLength = 16

// ParseTokens reads tokens, one per line: the secret, a space, and its
// scopes separated by commas ("s3cr3t-s3cr3t-s3cr3t read,predict"). Blank
// lines and lines starting with # are skipped. Errors name the line, never
// the secret.
func ParseTokens(r io.Reader) ([]Token, error) {
	var out []Token
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("tokens line %d: want a token and its scopes (read, predict, admin) separated by a space", line)
		}
		if len(fields[0]) < MinTokenLength {
			return nil, fmt.Errorf("tokens line %d: the token is shorter than %d characters", line, MinTokenLength)
		}
		var scopes []Scope
		for _, s := range strings.Split(fields[1], ",") {
			switch sc := Scope(strings.TrimSpace(s)); sc {
			case ScopeRead, ScopePredict, ScopeAdmin:
				scopes = append(scopes, sc)
			default:
				return nil, fmt.Errorf("tokens line %d: unknown scope %q (want read, predict or admin)", line, s)
			}
		}
		out = append(out, NewToken(fields[0], scopes...))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return out, nil
}

// TokensEnv holds tokens in the tokens-file format, for containers that
// pass secrets in the environment.
const TokensEnv = "ACTORSERVE_AUTH_TOKENS"

// LoadTokens reads the tokens of TokensFile and of $ACTORSERVE_AUTH_TOKENS
// into Tokens, and refuses a node that would serve a non-loopback address
// with no token unless InsecureNoAuth says so.
func (c *Config) LoadTokens() error {
	if c.tokensLoaded {
		return nil
	}
	if c.TokensFile != "" {
		f, err := os.Open(c.TokensFile)
		if err != nil {
			return fmt.Errorf("http: auth-tokens-file: %w", err)
		}
		toks, err := ParseTokens(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("http: auth-tokens-file %s: %w", c.TokensFile, err)
		}
		c.Tokens = append(c.Tokens, toks...)
	}
	if env := os.Getenv(TokensEnv); env != "" {
		toks, err := ParseTokens(strings.NewReader(env))
		if err != nil {
			return fmt.Errorf("http: $%s: %w", TokensEnv, err)
		}
		c.Tokens = append(c.Tokens, toks...)
	}
	if len(c.Tokens) == 0 && !c.InsecureNoAuth && !loopback(c.Listen) {
		return fmt.Errorf("http: %s is reachable from other machines and no bearer token is configured: give --auth-tokens-file (or $%s), or --insecure-no-auth to serve it open", c.Listen, TokensEnv)
	}
	c.tokensLoaded = true
	return nil
}

// loopback says whether addr (host:port) listens on this machine only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// requiredScope is the scope route r needs; open routes need none.
func requiredScope(r *http.Request) (scope Scope, open bool) {
	p := r.URL.Path
	switch {
	case p == "/livez" || p == "/readyz" || p == "/version" || p == "/v2/health/live" || p == "/v2/health/ready":
		return "", true
	case strings.HasPrefix(p, "/debug/"):
		return ScopeAdmin, false
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return ScopeRead, false
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/v1/models/") &&
		(strings.HasSuffix(p, "/predict") || strings.HasSuffix(p, "/feedback")):
		return ScopePredict, false
	case r.Method == http.MethodPost && strings.HasPrefix(p, "/v2/models/") && strings.HasSuffix(p, "/infer"):
		return ScopePredict, false
	}
	return ScopeAdmin, false
}

var errNoToken = errors.New("no bearer token")

// authorize checks r's bearer token against every configured token in
// constant time (all are compared, whichever matches).
func authorize(tokens []Token, r *http.Request) (Token, error) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return Token{}, errNoToken
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	var found Token
	match := 0
	for _, t := range tokens {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			found, match = t, 1
		}
	}
	if match == 0 {
		return Token{}, errors.New("unknown bearer token")
	}
	return found, nil
}

// withAuth requires a bearer token with the route's scope on every route
// but the health probes: 401 without a known token, 403 without the scope.
func withAuth(tokens []Token, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		need, open := requiredScope(r)
		if open {
			next.ServeHTTP(w, r)
			return
		}
		t, err := authorize(tokens, r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="actorserve"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", fmt.Sprintf("%s %s needs a bearer token with scope %q: %s", r.Method, r.URL.Path, need, err))
			return
		}
		if !t.allows(need) {
			writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("%s %s needs scope %q, which this token does not have", r.Method, r.URL.Path, need))
			return
		}
		next.ServeHTTP(w, r)
	})
}
