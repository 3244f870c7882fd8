package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// recorder is a slog.Handler that keeps every record it gets at min or
// above, as "LEVEL message key=value ...".
type recorder struct {
	mu    *sync.Mutex
	recs  *[]string
	attrs []slog.Attr
	min   slog.Level
}

func newRecorder(min slog.Level) recorder {
	return recorder{mu: &sync.Mutex{}, recs: &[]string{}, min: min}
}

func (r recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.min }
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
	r.attrs = append(append([]slog.Attr(nil), r.attrs...), as...)
	return r
}
func (r recorder) WithGroup(string) slog.Handler { return r }

// find returns the records at level that contain text.
func (r recorder) find(level slog.Level, text string) []string {
	var out []string
	for _, s := range r.all(text) {
		if strings.HasPrefix(s, level.String()+" ") {
			out = append(out, s)
		}
	}
	return out
}

// all returns the records at any level that contain text.
func (r recorder) all(text string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range *r.recs {
		if strings.Contains(s, text) {
			out = append(out, s)
		}
	}
	return out
}

func (r recorder) errors() []string { return r.find(slog.LevelError, "") }

// TestPeerLossIsNotAnError: when a peer dies or leaves, the survivors
// notice (a WARN is fine: an operator may want to know) but log nothing at
// ERROR, which is kept for what needs an operator; the survivors' clean
// shutdown afterwards logs no ERROR either. Records of all three nodes
// count, the departed one's included.
func TestPeerLossIsNotAnError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		depart func(*cluster.Node)
	}{
		{"killed", func(n *cluster.Node) { n.Kill() }},
		{"left", func(n *cluster.Node) { n.Leave(2 * time.Second); _ = n.Close() }},
	} {
		// Not in parallel: protoactor's remote.Start sets gRPC's global
		// logger, a data race when two nodes start at once.
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(slog.LevelDebug)
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
				t.Cleanup(func() { _ = n.Close() })
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
			gone := nodes[2].RemoteAddr()
			tc.depart(nodes[2])
			clustertest.Eventually(t, 20*time.Second, func() error {
				for _, n := range nodes[:2] {
					if m := len(n.Members()); m != 2 {
						return fmt.Errorf("%s sees %d members", n.Name(), m)
					}
				}
				return nil
			})
			// Calls keep working, and reach grains that lived on the departed node.
			for i := range 30 {
				if _, err := ask(t, nodes[i%2], fmt.Sprintf("g%d", i), 10*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			if tc.name == "killed" {
				// The loss was seen and logged, so the check below has
				// something to judge.
				clustertest.Eventually(t, 10*time.Second, func() error {
					if len(rec.find(slog.LevelWarn, gone))+len(rec.find(slog.LevelError, gone)) == 0 {
						return fmt.Errorf("no WARN or ERROR about the dead peer %s", gone)
					}
					return nil
				})
			}
			time.Sleep(2 * time.Second) // let reconnect attempts to the departed peer log
			for _, n := range nodes[:2] {
				n.Leave(2 * time.Second)
				_ = n.Close()
			}
			for _, s := range rec.find(slog.LevelWarn, "") {
				t.Log(s)
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
		})
	}
}

// TestPeerLossClassification: error texts seen when a peer is killed or
// leaves, or this node shuts down, are peer loss; certificate and TLS
// failures, a wrong gossip key, a name clash and malformed input are not,
// even where gRPC calls them Unavailable too.
func TestPeerLossClassification(t *testing.T) {
	for text, want := range map[string]bool{
		// Seen in TestPeerLossIsNotAnError before they were classified:
		// protoactor (message, then the error attribute) and memberlist.
		`EndpointWriter failed to connect rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:44393: connect: connection refused"`:               true,
		`EndpointWriter failed to create receive stream rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:44393: connect: connection refused"`: true,
		"EndpointWriter lost connection rpc error: code = Unavailable desc = error reading from server: EOF":                                                                                                   true,
		"EndpointWriter lost connection rpc error: code = Canceled desc = grpc: the client connection is closing":                                                                                              true,
		"memberlist: Failed to send gossip to 127.0.0.1:41831: write udp 127.0.0.1:40001->127.0.0.1:41831: use of closed network connection":                                                                   true,
		"memberlist: Failed to send UDP ping: write udp 127.0.0.1:40001->127.0.0.1:41831: use of closed network connection":                                                                                    true,
		"memberlist: Push/Pull with X failed: dial tcp 127.0.0.1:41831: connect: connection refused":                                                                                                           true,
		// protoactor's gossip loop on a survivor as it shuts down.
		"remote no longer exists future: dead letter":       true,
		"Could not get heartbeat state future: dead letter": true,
		// The same categories in other words.
		"memberlist: Failed to receive: read tcp 127.0.0.1:1->127.0.0.1:2: use of closed network connection":                          true,
		"memberlist: Push/Pull with X failed: dial tcp 10.0.0.7:7946: i/o timeout":                                                    true,
		"memberlist: Failed fallback TCP ping: write tcp 10.0.0.1:1->10.0.0.7:7946: write: broken pipe":                               true,
		"memberlist: Failed to read remote state: read tcp 10.0.0.1:1->10.0.0.7:2: read: connection reset by peer from=10.0.0.7:2":    true,
		"EndpointWriter failed to connect rpc error: code = Unavailable desc = dial tcp: lookup n3.svc on 10.0.0.10:53: no such host": true,
		"dial tcp 10.0.0.7:8090: connect: connection timed out":                                                                       true,
		// Needs an operator.
		`EndpointWriter failed to connect rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: x509: certificate signed by unknown authority"`: false,
		`rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`:                           false,
		"rpc error: code = Unavailable desc = connection error: remote error: tls: bad certificate":                                                                                                  false,
		"memberlist: Decrypt packet failed: No installed keys could decrypt the message from=10.0.0.7:7946":                                                                                          false,
		"memberlist: failed to receive: encryption is configured but remote state is not encrypted from=10.0.0.7:1":                                                                                  false,
		"memberlist: Conflicting address for n2. Mine: 10.0.0.2:7946 Theirs: 10.0.0.9:7946 Old state: 0":                                                                                             false,
		"cluster: setup: spawn node actor: name already taken":                                                                                                                                       false,
		"memberlist: Failed to decode push/pull message: msgpack decode error [pos 3]: bad header":                                                                                                   false,
	} {
		if got := cluster.PeerLoss(text); got != want {
			t.Errorf("%q: peer loss %v, want %v", text, got, want)
		}
	}
}

// TestLogLevelsThroughNode drives the two bridges as a node wires them:
// records on protoactor's logger, and memberlist lines provoked by real
// connections to the gossip port. A peer-loss ERROR arrives as a WARN, an
// unrecognised one stays ERROR, protoactor's INFO is dropped; when the
// node's handler takes only ERROR, a downgraded record is dropped rather
// than shown as a WARN.
func TestLogLevelsThroughNode(t *testing.T) {
	start := func(t *testing.T, rec recorder) *cluster.Node {
		t.Helper()
		n, err := cluster.New(clustertest.Config(0), counterKind(), slog.New(rec))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		return n
	}
	unavailable := errors.New("rpc error: code = Unavailable desc = error reading from server: EOF")
	untrusted := errors.New(`rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: x509: certificate signed by unknown authority"`)
	serialize := errors.New("wire: type 12345 is not registered")
	protoactor := func(l *slog.Logger) {
		l.Error("EndpointWriter lost connection", slog.String("address", "case-lost"), slog.Any("error", unavailable))
		l.Error("EndpointWriter failed to connect", slog.String("address", "case-x509"), slog.Any("error", untrusted), slog.Int("retry", 0))
		// "EOF" in a payload is not an error text.
		l.Error("EndpointWriter failed to serialize message", slog.String("address", "case-serialize"), slog.Any("error", serialize), slog.String("message", "EOF"))
		l.Info("Started EndpointWriter. connecting", slog.String("address", "case-info"))
	}

	t.Run("protoactor", func(t *testing.T) {
		rec := newRecorder(slog.LevelDebug)
		protoactor(start(t, rec).System().Logger())
		for _, c := range []struct {
			address string
			level   slog.Level
		}{
			{"case-lost", slog.LevelWarn},
			{"case-x509", slog.LevelError},
			{"case-serialize", slog.LevelError},
		} {
			if got := rec.find(c.level, "address="+c.address); len(got) != 1 {
				t.Errorf("%s: %d records at %s, want 1; all: %q", c.address, len(got), c.level, rec.all(c.address))
			}
		}
		if got := rec.find(slog.LevelInfo, "case-info"); len(got) != 0 {
			t.Errorf("protoactor INFO passed: %q", got)
		}
	})

	t.Run("protoactor, handler at ERROR", func(t *testing.T) {
		rec := newRecorder(slog.LevelError)
		protoactor(start(t, rec).System().Logger())
		var got []string
		for _, a := range []string{"case-lost", "case-x509", "case-serialize", "case-info"} {
			if len(rec.all(a)) > 0 {
				got = append(got, a)
			}
		}
		if want := []string{"case-x509", "case-serialize"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("records logged: %v, want %v", got, want)
		}
	})

	t.Run("memberlist", func(t *testing.T) {
		rec := newRecorder(slog.LevelDebug)
		n := start(t, rec)
		send := func(b byte) {
			t.Helper()
			c, err := net.Dial("tcp", n.GossipAddr())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.Write([]byte{b})
			_ = c.Close()
		}
		for _, c := range []struct {
			send  byte
			text  string
			level slog.Level
		}{
			// A push/pull whose peer hangs up before its state: the
			// "[ERR] ... Failed to read remote state: EOF" of a peer that died.
			{6, "Failed to read remote state", slog.LevelWarn},
			// A message type memberlist does not know: not peer loss.
			{200, "invalid msgType (200)", slog.LevelError},
		} {
			send(c.send)
			clustertest.Eventually(t, 5*time.Second, func() error {
				all := rec.all(c.text)
				if len(all) == 0 {
					return fmt.Errorf("no %q line yet", c.text)
				}
				if got := rec.find(c.level, c.text); len(got) != len(all) {
					return fmt.Errorf("%q logged as %q, want %s", c.text, all, c.level)
				}
				return nil
			})
		}
	})
}
