package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/cluster/clustertest"
	"github.com/actorserve/actorserve/cluster/tlsfiles"
)

// secureKafka starts an embedded broker that speaks only TLS (with a
// certificate of a fresh CA) and SCRAM-SHA-256, and returns its addresses,
// the client configuration that reaches it, the CA, its file, the broker's
// certificate pair and the directory holding them.
func secureKafka(t testing.TB) (brokers []string, secure KafkaConfig, ca *clustertest.CA, caFile string, pair *tlsfiles.Pair, dir string) {
	t.Helper()
	dir = t.TempDir()
	ca = clustertest.NewCA(t)
	caFile = ca.WriteCA(t, dir, "ca.pem")
	certFile, keyFile := ca.Issue(t, dir, "broker", 7)
	var err error
	pair, err = tlsfiles.LoadPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	const user, pass = "actorserve", "kafka-secret-0123456789"
	kc, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}),
		kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", user, pass),

		kfake.DefaultNumPartitions(6),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	brokers = kc.ListenAddrs()
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secure = KafkaConfig{TLS: true, CAFile: caFile, SASL: "scram-sha-256", User: user, PasswordFile: passFile}
	return brokers, secure, ca, caFile, pair, dir
}

// TestKafkaOverTLSAndSASL: a node whose Kafka needs TLS and SCRAM
// authentication deploys, streams and predicts through it; a node with a
// wrong password never becomes ready; and kcat, an independent client,
// produces and reads predictions over TLS.
func TestKafkaOverTLSAndSASL(t *testing.T) {
	brokers, secure, _, caFile, pair, dir := secureKafka(t)

	// A wrong password: the node never reads the control topic.
	bad := secure
	badPass := filepath.Join(dir, "bad")
	if err := os.WriteFile(badPass, []byte("wrong-password-000000"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad.PasswordFile = badPass
	func() {
		cfg := DefaultNodeConfig()
		cfg.Brokers = brokers
		cfg.Cluster.Gossip, cfg.Cluster.Remote, cfg.HTTP.Listen, cfg.Cluster.Name = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "bad"
		cfg.Kafka = bad
		ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
		defer cancel()
		n, err := StartNodeWith(ctx, cfg, nil, ingLogger(t))
		if err != nil {
			return // refused at once: fine
		}
		defer n.Close()
		if err := n.WaitReady(ctx); err == nil {
			t.Errorf("a node with a wrong Kafka password became ready")
		}
	}()

	n := ingStartNode(t, brokers, "k1", nil, func(c *NodeConfig) { c.Kafka = secure })
	ingDeploy(t, n, "m", ingLinear([]string{"a"}, nil, [][]float64{{2}}, []float64{1}, "identity"))
	opts, err := secure.opts()
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(append(opts, kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("actorserve.events"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const events = 200
	for i := range events {
		prod.Produce(t.Context(), &kgo.Record{Key: []byte("m"), Value: []byte(fmt.Sprintf(`{"id":"k-%d","features":{"a":%d}}`, i, i))}, nil)
	}
	if err := prod.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(append(opts, kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("actorserve.predictions"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for len(seen) < events && ctx.Err() == nil {
		cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var p struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(r.Value, &p) == nil {
				seen[p.ID] = true
			}
		})
	}
	if len(seen) != events {
		t.Fatalf("%d of %d predictions through TLS+SCRAM Kafka", len(seen), events)
	}

	// A plaintext client without credentials gets nothing.
	plain, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("actorserve.predictions"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(t.Context(), 2*time.Second)
	got := 0
	for pctx.Err() == nil {
		got += plain.PollFetches(pctx).NumRecords()
	}
	pcancel()
	plain.Close()
	if got > 0 {
		t.Errorf("a plaintext client without credentials read %d records", got)
	}

	// kcat (librdkafka's own TLS) reads the predictions a node wrote
	// through a TLS-only broker. (kcat's librdkafka 2.0 does not speak SASL
	// to this broker: it wants SaslHandshake v0, which the embedded broker,
	// like Kafka 4, no longer offers; the node's SASL is shown above.)
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not on PATH (%v): install it (apt-get install kcat) to run this interop test", err)
	}
	tlsOnly, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: pair.GetCertificate}),
		kfake.DefaultNumPartitions(6))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tlsOnly.Close)
	tb := tlsOnly.ListenAddrs()
	n2 := ingStartNode(t, tb, "k2", nil, func(c *NodeConfig) { c.Kafka = KafkaConfig{TLS: true, CAFile: caFile} })
	ingDeploy(t, n2, "m", ingLinear([]string{"a"}, nil, [][]float64{{2}}, []float64{1}, "identity"))
	kctx, kcancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer kcancel()
	for i := range 5 {
		in := fmt.Sprintf("m:{\"id\":\"c-%d\",\"features\":{\"a\":%d}}", i, i)
		cmd := exec.CommandContext(kctx, kcat, "-b", tb[0], "-X", "security.protocol=SSL", "-X", "ssl.ca.location="+caFile,
			"-P", "-t", "actorserve.events", "-K", ":", "-X", "topic.partitioner=murmur2_random")
		cmd.Stdin = strings.NewReader(in + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat produce over TLS: %v\n%s", err, out)
		}
	}
	var out []byte
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err = exec.CommandContext(kctx, kcat, "-b", tb[0], "-X", "security.protocol=SSL", "-X", "ssl.ca.location="+caFile,
			"-C", "-t", "actorserve.predictions", "-o", "beginning", "-e", "-q", "-f", "%s\n").CombinedOutput()
		if err == nil && strings.Count(string(out), `"id":"c-`) >= 5 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || strings.Count(string(out), `"id":"c-`) < 5 {
		t.Errorf("kcat over TLS read %q (%v), want the 5 predictions of its events", out, err)
	}
	if out, err := exec.CommandContext(kctx, kcat, "-b", tb[0], "-m", "3", "-L").CombinedOutput(); err == nil {
		t.Errorf("kcat in plaintext listed a TLS-only broker:\n%s", out)
	}
}
