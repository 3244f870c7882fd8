package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

func gossipKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func writeKeys(t *testing.T, path string, keys ...string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// outsider starts a node with key file keys (none: plaintext) that tries to
// join seed for a few seconds, and returns whether it got in and the
// members it sees.
func outsider(t *testing.T, seed *cluster.Node, keys string) (joined bool, members int) {
	t.Helper()
	cfg := clustertest.Config(9)
	cfg.Name = "outsider"
	cfg.Join = []string{seed.GossipAddr()}
	cfg.JoinTimeout = 3 * time.Second
	cfg.GossipKeyFile = keys
	n, err := cluster.New(cfg, counterKind(), clustertest.Logger(t, slog.LevelError))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		return false, 0
	}
	defer n.Close()
	time.Sleep(2 * time.Second)
	return true, len(n.Members())
}

// TestGossipEncryption: nodes sharing a gossip key form a cluster; a node
// with another key, or with none, cannot join it; and the key is rotated
// on the running cluster by editing the key file (new key added first,
// then made the only one) without any node leaving.
func TestGossipEncryption(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gossip.keys")
	keyA, keyB := gossipKey(t), gossipKey(t)
	writeKeys(t, file, keyA)
	c := clustertest.New(t, 2, clustertest.WithOptions(func(int) cluster.Options { return counterKind() }),
		clustertest.WithConfig(func(_ int, cfg *cluster.Config) { cfg.GossipKeyFile = file }))
	c.WaitMembers(2, 10*time.Second)

	onlyB := filepath.Join(dir, "b.keys")
	writeKeys(t, onlyB, keyB)
	if joined, m := outsider(t, c.Nodes[0], onlyB); joined {
		t.Errorf("a node with another key joined (it sees %d members)", m)
	}
	if joined, m := outsider(t, c.Nodes[0], ""); joined {
		t.Errorf("a node without a key joined (it sees %d members)", m)
	}
	for _, n := range c.Nodes {
		if got := len(n.Members()); got != 2 {
			t.Errorf("%s sees %d members after the outsiders tried, want 2", n.Name(), got)
		}
	}

	// Rotate: B added and made primary, then A removed.
	writeKeys(t, file, keyB, keyA)
	time.Sleep(5 * time.Second) // two checks of the file
	writeKeys(t, file, keyB)
	time.Sleep(5 * time.Second)
	c.WaitMembers(2, 5*time.Second)
	if joined, m := outsider(t, c.Nodes[1], onlyB); !joined || m != 3 {
		t.Errorf("after rotating to key B a node with key B: joined %v, sees %d members; want it in a cluster of 3", joined, m)
	}
	onlyA := filepath.Join(dir, "a.keys")
	writeKeys(t, onlyA, keyA)
	if joined, m := outsider(t, c.Nodes[1], onlyA); joined {
		t.Errorf("after rotating to key B a node with the retired key A joined (it sees %d members)", m)
	}
}

// TestPlaintextClusterOnlyWhenChosen: a node whose gossip or remoting is
// reachable from other machines refuses to start in plaintext unless its
// operator says so; on loopback it may.
func TestPlaintextClusterOnlyWhenChosen(t *testing.T) {
	cfg := cluster.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("loopback plaintext: %v", err)
	}
	cfg.Gossip, cfg.Remote, cfg.Advertise = "0.0.0.0:7946", "0.0.0.0:8090", "10.0.0.5"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "--gossip-key-file") || !strings.Contains(err.Error(), "--remote-tls-cert") {
		t.Errorf("reachable plaintext: %v, want it refused naming --gossip-key-file and --remote-tls-cert", err)
	}
	cfg.InsecureCluster = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("with --insecure-cluster: %v", err)
	}
}
