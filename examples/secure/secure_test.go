// Package secure holds the test that runs examples/secure/run.sh: a TLS and
// SCRAM broker and three nodes with HTTPS, bearer tokens, mutual TLS
// between nodes and encrypted gossip.
package secure

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/examples/internal/extest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	extest.Cleanup()
	os.Exit(code)
}

// TestSecureScript runs run.sh to the end and checks what it promises: a
// three-member cluster reached over HTTPS with a token, a request without
// a token refused with 401, every streamed event scored through the
// encrypted Kafka, no secret in any log, and every process gone.
func TestSecureScript(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker and three nodes")
	}
	p := extest.FreePorts(t, 10)
	join := func(ps []int) string {
		s := make([]string, len(ps))
		for i, v := range ps {
			s[i] = strconv.Itoa(v)
		}
		return strings.Join(s, " ")
	}
	work := t.TempDir()
	env := []string{
		"BROKER_PORT=" + strconv.Itoa(p[0]),
		"HTTP_PORTS=" + join(p[1:4]),
		"GOSSIP_PORTS=" + join(p[4:7]),
		"REMOTE_PORTS=" + join(p[7:10]),
		"EVENTS=1000",
		"AS_BIN=" + extest.Build(t, "./cmd/actorserve"),
		"WORK=" + work,
	}
	sh := extest.Start(t, extest.Options{Env: env, Timeout: 150 * time.Second}, "bash", "examples/secure/run.sh")
	if err := sh.Wait(); err != nil {
		t.Fatalf("run.sh: %v\n%s", err, sh.Output())
	}
	out := sh.Output()
	for _, want := range []string{
		"== cluster: 3 members, asked over HTTPS with a token",
		"401 unauthorized",
		"== model m scored 1000 events from the encrypted stream",
		"== done: every connection was TLS, every request authenticated",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// No secret appears in the script's output or any log.
	secrets := filepath.Join(work, "secrets")
	var secret []string
	if b, err := os.ReadFile(filepath.Join(secrets, "tokens")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && !strings.HasPrefix(l, "#") {
				secret = append(secret, f[0])
			}
		}
	}
	for _, f := range []string{"kafka.pass", "gossip.keys"} {
		if b, err := os.ReadFile(filepath.Join(secrets, f)); err == nil {
			secret = append(secret, strings.TrimSpace(string(b)))
		}
	}
	if len(secret) < 5 {
		t.Fatalf("found %d secrets in %s, want 3 tokens, the Kafka password and the gossip key", len(secret), secrets)
	}
	logs, _ := filepath.Glob(filepath.Join(work, "*.log"))
	for _, l := range append(logs, "") {
		text := out
		if l != "" {
			b, _ := os.ReadFile(l)
			text = string(b)
		}
		for _, s := range secret {
			if strings.Contains(text, s) {
				t.Errorf("a secret appears in %s", map[bool]string{true: "the script's output", false: l}[l == ""])
			}
		}
	}
	if n := extest.CheckPIDFile(t, filepath.Join(work, "pids")); n != 4 {
		t.Errorf("the PID file lists %d processes, want the broker and three nodes", n)
	}
}
