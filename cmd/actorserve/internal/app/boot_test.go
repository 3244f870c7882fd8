package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorserve/actorserve/cluster/clustertest"
)

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr is a local TCP address nothing listens on (it was free a
// moment ago).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestProbesWhileBrokersUnreachable: a node whose brokers do not answer
// binds its port and answers at once: /livez 200, /readyz 503 with the
// reason naming the broker and --brokers; its log says the same at WARN,
// once per brokerWarnEvery however often it dials; cancelling the start
// returns.
func TestProbesWhileBrokersUnreachable(t *testing.T) {
	broker, httpAddr := freeAddr(t), freeAddr(t)
	cfg := DefaultNodeConfig()
	cfg.Brokers = []string{broker}
	cfg.Cluster.Name = "unreachable"
	cfg.Cluster.Gossip = "127.0.0.1:0"
	cfg.Cluster.Remote = "127.0.0.1:0"
	cfg.HTTP.Listen = httpAddr
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	defer func() {
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	}()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := make(chan error, 1)
	go func() {
		n, err := StartNode(ctx, cfg, logger)
		if n != nil {
			n.Close()
		}
		started <- err
	}()

	get := func(path string) (int, map[string]string, error) {
		c := http.Client{Timeout: 500 * time.Millisecond}
		resp, err := c.Get("http://" + httpAddr + path)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return resp.StatusCode, nil, fmt.Errorf("%s: %w", path, err)
		}
		return resp.StatusCode, body, nil
	}
	clustertest.Eventually(t, 2*time.Second, func() error {
		if st, _, err := get("/livez"); err != nil || st != http.StatusOK {
			return fmt.Errorf("/livez: %d %v", st, err)
		}
		st, body, err := get("/readyz")
		if err != nil || st != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz: %d %v", st, err)
		}
		if body["code"] != "not_ready" || !strings.Contains(body["error"], broker) || !strings.Contains(body["error"], "--brokers") {
			return fmt.Errorf("/readyz says %v, want not_ready naming %s and --brokers", body, broker)
		}
		return nil
	})
	if st, body, err := get("/v1/models"); err != nil || st != http.StatusServiceUnavailable || body["code"] != "not_ready" {
		t.Errorf("/v1/models while starting: %d %v %v, want 503 not_ready", st, body, err)
	}
	// Dialled three times (every brokerCheckEvery), warned once.
	clustertest.Eventually(t, 4*brokerCheckEvery, func() error {
		if n := strings.Count(logs.String(), "dialled the Kafka brokers"); n < 3 {
			return fmt.Errorf("dialled the brokers %d times", n)
		}
		return nil
	})
	warn := regexp.MustCompile(`level=WARN msg="no Kafka broker answers.*--brokers.*brokers=` + regexp.QuoteMeta(broker))
	if n := len(warn.FindAllString(logs.String(), -1)); n != 1 {
		t.Errorf("%d WARN lines naming %s and --brokers after three dials, want 1 (rate-limited)", n, broker)
	}

	cancel()
	select {
	case err := <-started:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), broker) {
			t.Errorf("StartNode: %v, want context.Canceled naming the broker", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StartNode did not return after its context was cancelled")
	}
	if _, err := net.DialTimeout("tcp", httpAddr, time.Second); err == nil {
		t.Errorf("%s still accepts connections after the start was cancelled", httpAddr)
	}
}
