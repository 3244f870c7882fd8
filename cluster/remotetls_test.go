package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/clustertest"
)

// TestRemotingMutualTLS: with remoting certificates, nodes of one CA form a
// cluster and call each other's grains, while a node with no certificate,
// or one of another CA, cannot deliver a single actor message to them
// (the message is counted where it would arrive). A node with a
// certificate of the right CA, outside the cluster, can: the refusals are
// the certificates', not the network's.
func TestRemotingMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := clustertest.NewCA(t), clustertest.NewCA(t)
	caFile := ca.WriteCA(t, dir, "ca.pem")
	otherCA := other.WriteCA(t, dir, "other.pem")
	var received atomic.Int64
	probe := func(int) cluster.Options {
		o := counterKind()
		o.Setup = func(sys *actor.ActorSystem) error {
			_, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
				if _, ok := ctx.Message().(*ping); ok {
					received.Add(1)
					ctx.Respond(&pong{})
				}
			}), "probe")
			return err
		}
		return o
	}
	c := clustertest.New(t, 2, clustertest.WithOptions(probe), clustertest.WithConfig(func(i int, cfg *cluster.Config) {
		cfg.RemoteTLSCert, cfg.RemoteTLSKey = ca.Issue(t, dir, cfg.Name, int64(10+i))
		cfg.RemoteTLSCA = caFile
	}))
	c.WaitMembers(2, 10*time.Second)
	// Grains answer across nodes over mutual TLS.
	crossed := 0
	for i := 0; i < 20; i++ {
		p, err := ask(t, c.Nodes[0], "g"+string(rune('a'+i)), 5*time.Second)
		if err != nil {
			t.Fatalf("grain call over mutual TLS: %v", err)
		}
		if p.Address != c.Nodes[0].RemoteAddr() {
			crossed++
		}
	}
	if crossed == 0 {
		t.Fatalf("no grain call crossed nodes: the test proves nothing")
	}

	target := c.Nodes[0].RemoteAddr()
	// Each outsider runs in a process of its own, as a real node would:
	// actor systems in one process may share connection state.
	send := func(name, cert, key, ca string) error {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run", "^$")
		cmd.Env = append(os.Environ(), outsiderEnv+"="+strings.Join([]string{name, target, cert, key, ca}, ","))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	before := received.Load()
	fc, fk := ca.Issue(t, dir, "friend", 50)
	if err := send("friend", fc, fk, caFile); err != nil {
		t.Errorf("a node with the cluster's certificate could not deliver a message: %v", err)
	}
	if got := received.Load() - before; got != 1 {
		t.Fatalf("the probe received %d messages, want the friend's 1", got)
	}
	before = received.Load()
	if err := send("plain", "", "", ""); err == nil {
		t.Errorf("a node without a certificate delivered an actor message")
	}
	sc, sk := other.Issue(t, dir, "stranger", 99)
	if err := send("stranger", sc, sk, otherCA); err == nil {
		t.Errorf("a node with a certificate of another CA delivered an actor message")
	}
	if got := received.Load() - before; got != 0 {
		t.Errorf("the probe received %d messages from nodes without the cluster's certificate", got)
	}
}

// outsiderEnv makes the test binary an outsider node that sends one ping
// to the probe actor at an address and exits 0 if it was answered:
// NAME,ADDRESS,CERT,KEY,CA (empty certificate fields: plaintext).
const outsiderEnv = "ACTORSERVE_TEST_OUTSIDER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(outsiderEnv); spec != "" {
		os.Exit(runOutsider(spec))
	}
	os.Exit(m.Run())
}

func runOutsider(spec string) int {
	f := strings.Split(spec, ",")
	if len(f) != 5 {
		fmt.Println("bad outsider spec", spec)
		return 2
	}
	cfg := clustertest.Config(7)
	cfg.Name = f[0]
	cfg.RemoteTLSCert, cfg.RemoteTLSKey, cfg.RemoteTLSCA = f[2], f[3], f[4]
	n, err := cluster.New(cfg, counterKind(), slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return 2
	}
	if err := n.Start(context.Background()); err != nil {
		fmt.Println(err)
		return 2
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := n.RequestPID(ctx, actor.NewPID(f[1], "probe"), &ping{}); err != nil {
		fmt.Println(err)
		return 1
	}
	return 0
}
