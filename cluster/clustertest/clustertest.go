// Package clustertest starts in-process actorserve clusters for tests: N
// real nodes on 127.0.0.1 with random ports, joined through the first.
package clustertest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorserve/actorserve/cluster"
)

// Cluster is a set of in-process nodes.
type Cluster struct {
	t     testing.TB
	Nodes []*cluster.Node
	Cuts  []*Cuttable
	opts  func(i int) cluster.Options
	cfg   func(i int, c *cluster.Config)
}

// Option adjusts a fixture.
type Option func(*Cluster)

// WithOptions gives node i its hosted kinds and setup.
func WithOptions(f func(i int) cluster.Options) Option { return func(c *Cluster) { c.opts = f } }

// WithConfig adjusts node i's configuration.
func WithConfig(f func(i int, cfg *cluster.Config)) Option { return func(c *Cluster) { c.cfg = f } }

// Config returns the configuration fixture nodes use: random ports and
// failure detection that a loaded machine does not trip. A probe every
// second with a 500 ms timeout (suspicion x3: a dead node is noticed in
// about 4-5 s): with a 200-250 ms probe timeout, memberlist declared live
// nodes dead on a CPU-saturated 2-core machine (499 of 1000 activations
// split between two views in the prototype; shared/notes/
// protoactor-memberlist.md, "keep probe intervals >= 1 s").
func Config(i int) cluster.Config {
	cfg := cluster.DefaultConfig()
	cfg.Name = fmt.Sprintf("n%d", i+1)
	cfg.ProbeInterval = time.Second
	cfg.ProbeTimeout = 500 * time.Millisecond
	cfg.SuspicionMult = 3
	cfg.PushPullInterval = 2 * time.Second
	cfg.JoinTimeout = 10 * time.Second
	return cfg
}

// Logger returns a slog logger writing to t.Log at level. It goes quiet
// when the test ends: protoactor goroutines may log after a node closed,
// and t.Log after the test has finished panics.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// New starts n nodes and waits until every node sees all n. The nodes are
// closed when the test ends.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	for _, o := range opts {
		o(c)
	}
	for i := 0; i < n; i++ {
		c.Add()
	}
	c.WaitMembers(n, 20*time.Second)
	return c
}

// Add starts one more node joined through the first.
func (c *Cluster) Add() *cluster.Node {
	c.t.Helper()
	i := len(c.Nodes)
	cfg := Config(i)
	cut := &Cuttable{}
	cfg.WrapTransport = cut.Wrap
	if i > 0 {
		cfg.Join = []string{c.Nodes[0].GossipAddr()}
	}
	if c.cfg != nil {
		c.cfg(i, &cfg)
	}
	var o cluster.Options
	if c.opts != nil {
		o = c.opts(i)
	}
	node, err := cluster.New(cfg, o, Logger(c.t, slog.LevelWarn))
	if err != nil {
		c.t.Fatalf("node %d: %v", i, err)
	}
	if err := node.Start(context.Background()); err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	c.t.Cleanup(func() { _ = node.Close() })
	c.Nodes = append(c.Nodes, node)
	c.Cuts = append(c.Cuts, cut)
	return node
}

// WaitMembers waits until every running node sees exactly n members.
func (c *Cluster) WaitMembers(n int, timeout time.Duration, skip ...int) {
	c.t.Helper()
	Eventually(c.t, timeout, func() error {
		for i, node := range c.Nodes {
			if contains(skip, i) {
				continue
			}
			if got := len(node.Members()); got != n {
				return fmt.Errorf("node %s sees %d members, want %d", node.Name(), got, n)
			}
		}
		return nil
	})
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// Eventually polls cond every 20 ms until it returns nil or timeout passes,
// then fails the test with cond's last error.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
