package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// recorder is a slog.Handler that keeps every record it gets.
type recorder struct {
	mu    *sync.Mutex
	recs  *[]string
	attrs []slog.Attr
}

func newRecorder() recorder { return recorder{mu: &sync.Mutex{}, recs: &[]string{}} }

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	for _, a := range r.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	r.mu.Lock()
	*r.recs = append(*r.recs, b.String())
	r.mu.Unlock()
	return nil
}
func (r recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return recorder{mu: r.mu, recs: r.recs, attrs: append(append([]slog.Attr(nil), r.attrs...), as...)}
}
func (r recorder) WithGroup(string) slog.Handler { return r }

func (r recorder) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range *r.recs {
		if strings.HasPrefix(s, "ERROR") {
			out = append(out, s)
		}
	}
	return out
}

// TestPeerLossIsNotAnError: when a peer dies, the survivors notice (a WARN
// is fine: an operator may want to know) but log nothing at ERROR, which
// is kept for what needs an operator; a clean shutdown logs no ERROR
// either.
func TestPeerLossIsNotAnError(t *testing.T) {
	rec := newRecorder()
	logger := slog.New(rec)
	var nodes []*cluster.Node
	for i := range 3 {
		cfg := clustertest.Config(i)
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		n, err := cluster.New(cfg, counterKind(), logger.With("node", cfg.Name))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	clustertest.Eventually(t, 15*time.Second, func() error {
		for _, n := range nodes {
			if m := len(n.Members()); m != 3 {
				return fmt.Errorf("%s sees %d members", n.Name(), m)
			}
		}
		return nil
	})
	// Traffic between all of them, so that connections exist to be lost.
	for i := range 30 {
		if _, err := ask(t, nodes[i%3], fmt.Sprintf("g%d", i), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	nodes[2].Kill()
	clustertest.Eventually(t, 20*time.Second, func() error {
		for _, n := range nodes[:2] {
			if m := len(n.Members()); m != 2 {
				return fmt.Errorf("%s sees %d members", n.Name(), m)
			}
		}
		return nil
	})
	// Calls keep working, and reach grains that lived on the dead node.
	for i := range 30 {
		if _, err := ask(t, nodes[i%2], fmt.Sprintf("g%d", i), 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second) // reconnect attempts to the dead peer
	for _, n := range nodes[:2] {
		n.Leave(2 * time.Second)
		_ = n.Close()
	}
	if errs := rec.errors(); len(errs) > 0 {
		for i, e := range errs {
			if i == 10 {
				t.Errorf("... and %d more", len(errs)-10)
				break
			}
			t.Errorf("logged at ERROR: %s", e)
		}
	}
}

func TestPeerLossClassification(t *testing.T) {
	for text, want := range map[string]bool{
		`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`: true,
		"memberlist: Push/Pull with X failed: dial tcp 127.0.0.1:41831: connect: connection refused":                                                        true,
		"memberlist: Failed to receive: read tcp 127.0.0.1:1->127.0.0.1:2: use of closed network connection":                                                true,
		"error reading from server: EOF":                                                           true,
		"cluster: setup: spawn node actor: name already taken":                                     false,
		"memberlist: Failed to decode push/pull message: msgpack decode error [pos 3]: bad header": false,
	} {
		if got := cluster.PeerLoss(text); got != want {
			t.Errorf("%q: peer loss %v, want %v", text, got, want)
		}
	}
}
