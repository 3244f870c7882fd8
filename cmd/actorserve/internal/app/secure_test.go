package app

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/cluster/clustertest"
	"github.com/actorserve/actorserve/queryable"
)

// TestSecureRoundTrip: two nodes with everything on — Kafka over TLS with
// SCRAM, HTTPS with bearer tokens, mutual TLS between the nodes' actor
// remoting and encrypted gossip — deploy a learning model, stream labelled
// events through Kafka while the gossip key is rotated, and answer
// predictions through the node that does not host the model (so the call
// crosses remoting). No event is lost.
func TestSecureRoundTrip(t *testing.T) {
	brokers, secure, ca, caFile, _, dir := secureKafka(t)
	keyFile := filepath.Join(dir, "gossip.keys")
	keyA, keyB := gossipKeyB64(t), gossipKeyB64(t)
	writeFileAtomic(t, keyFile, keyA+"\n")
	const admin = "admin-token-0123456789abcdef"
	var nodes []*Node
	for i := range 2 {
		cfg := DefaultNodeConfig()
		cfg.Brokers = brokers
		cfg.Kafka = secure
		cfg.Cluster = clustertest.Config(i)
		cfg.Cluster.GossipKeyFile = keyFile
		cfg.Cluster.RemoteTLSCert, cfg.Cluster.RemoteTLSKey = ca.Issue(t, dir, fmt.Sprintf("node%d", i), int64(100+i))
		cfg.Cluster.RemoteTLSCA = caFile
		cfg.HTTP.Listen = "127.0.0.1:0"
		cfg.HTTP.TLSCert, cfg.HTTP.TLSKey = cfg.Cluster.RemoteTLSCert, cfg.Cluster.RemoteTLSKey
		cfg.HTTP.Tokens = []queryable.Token{queryable.NewToken(admin, queryable.ScopeAdmin)}
		if i > 0 {
			cfg.Cluster.Join = []string{nodes[0].Cluster.GossipAddr()}
		}
		n, err := StartNode(t.Context(), cfg, clustertest.Logger(t, slog.LevelWarn))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		if err := n.WaitReady(t.Context()); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	clustertest.Eventually(t, 20*time.Second, func() error {
		for _, n := range nodes {
			if m := len(n.Cluster.Members()); m != 2 {
				return fmt.Errorf("%s sees %d members", n.Cluster.Name(), m)
			}
		}
		return nil
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 15 * time.Second}
	api := func(n *Node, method, path string, body any) (int, []byte) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(t.Context(), method, "https://"+n.HTTPAddr()+path, strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	if code, out := api(nodes[0], "PUT", "/v1/models/learner", learnerDesc); code != http.StatusAccepted {
		t.Fatalf("deploy over HTTPS: %d %s", code, out)
	}

	opts, err := secure.opts()
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(append(opts, kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("actorserve.events"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const events = 2000
	for i := range events {
		label := "neg"
		if i%2 == 0 {
			label = "pos"
		}
		prod.Produce(t.Context(), &kgo.Record{Key: []byte("learner"), Value: []byte(fmt.Sprintf(`{"id":"s-%d","features":{"a":%d,"b":1},"label":%q}`, i, i%7, label))}, nil)
		if i == events/2 {
			if err := prod.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			// Rotate the gossip key mid-stream: new key first, then alone.
			writeFileAtomic(t, keyFile, keyB+"\n"+keyA+"\n")
			time.Sleep(5 * time.Second)
			writeFileAtomic(t, keyFile, keyB+"\n")
			time.Sleep(5 * time.Second)
		}
	}
	if err := prod.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Every labelled event is learned exactly once.
	var updates int64
	clustertest.Eventually(t, 60*time.Second, func() error {
		code, out := api(nodes[1], "GET", "/v1/models/learner", nil)
		var v struct {
			Learning *struct {
				Updates int64 `json:"updates"`
			} `json:"learning"`
		}
		if code != 200 || json.Unmarshal(out, &v) != nil || v.Learning == nil {
			return fmt.Errorf("GET over HTTPS: %d %s", code, out)
		}
		updates = v.Learning.Updates
		if updates < events {
			return fmt.Errorf("%d of %d labelled events learned", updates, events)
		}
		return nil
	})
	if updates != events {
		t.Errorf("%d updates for %d labelled events", updates, events)
	}
	for _, n := range nodes {
		if m := len(n.Cluster.Members()); m != 2 {
			t.Errorf("%s sees %d members after the key rotation", n.Cluster.Name(), m)
		}
	}
	// Both nodes answer a prediction; one of them through remoting.
	for _, n := range nodes {
		code, out := api(n, "POST", "/v1/models/learner/predict", map[string]any{"id": "p", "features": map[string]float64{"a": 3, "b": 1}})
		if code != 200 || !strings.Contains(string(out), `"label"`) {
			t.Errorf("predict through %s: %d %s", n.Cluster.Name(), code, out)
		}
	}
}

func gossipKeyB64(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func writeFileAtomic(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}
