// Package brokertest starts the embedded broker of package broker for tests: in memory, on a
// random port of 127.0.0.1, logging to t.Log, closed when the test ends.
//
//	b := brokertest.New(t)
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
package brokertest

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"

	"github.com/actorserve/actorserve/actors/broker"
)

// New starts a broker with cfg (default: the zero Config, i.e. in memory on 127.0.0.1:0) and
// closes it in t.Cleanup. It fails the test if the broker does not start.
func New(t testing.TB, cfg ...broker.Config) *broker.Broker {
	t.Helper()
	var c broker.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	b, err := broker.New(c, Logger(t))
	if err != nil {
		t.Fatalf("start embedded broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// Logger returns a debug-level text logger that writes to t.Log and goes quiet once the test
// has finished, so goroutines that outlive the test cannot make it panic.
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Helper()
		w.t.Log(string(bytes.TrimSuffix(p, []byte("\n"))))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
