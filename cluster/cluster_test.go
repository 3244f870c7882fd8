package cluster_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/actorserve/actorserve/cluster"
	"github.com/actorserve/actorserve/cluster/clustertest"
	"github.com/actorserve/actorserve/cluster/wire"
)

// Test-only wire types; ids 90..99 of cluster's reserved range.
const (
	typePing uint32 = 90
	typePong uint32 = 91
)

type ping struct {
	Payload []byte `msgpack:"p"`
}

func (m *ping) Serialize() (remote.RootSerialized, error) { return wire.Pack(typePing, m) }

type pong struct {
	Identity string `msgpack:"i"`
	Address  string `msgpack:"a"`
	Count    int    `msgpack:"c"`
	Size     int    `msgpack:"s"`
}

func (m *pong) Serialize() (remote.RootSerialized, error) { return wire.Pack(typePong, m) }

func init() {
	wire.Register(typePing, "test.ping", func() wire.Message { return new(ping) })
	wire.Register(typePong, "test.pong", func() wire.Message { return new(pong) })
}

// counter is a grain that counts the pings it received in this activation.
type counter struct{ n int }

func (c *counter) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *ping:
		c.n++
		id := pcluster.GetClusterIdentity(ctx)
		ctx.Respond(&pong{Identity: id.Identity, Address: ctx.Self().Address, Count: c.n, Size: len(m.Payload)})
	}
}

func counterKind() cluster.Options {
	return cluster.Options{Kinds: []*pcluster.Kind{
		pcluster.NewKind("counter", actor.PropsFromProducer(func() actor.Actor { return &counter{} })),
	}}
}

func fixture(t *testing.T, n int) *clustertest.Cluster {
	return clustertest.New(t, n, clustertest.WithOptions(func(int) cluster.Options { return counterKind() }))
}

func ask(t testing.TB, node *cluster.Node, id string, timeout time.Duration) (*pong, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := node.Request(ctx, "counter", id, &ping{})
	if err != nil {
		return nil, err
	}
	p, ok := res.(*pong)
	if !ok {
		return nil, fmt.Errorf("reply %T, want *pong", res)
	}
	return p, nil
}

func TestWireRoundTripAcrossNodes(t *testing.T) {
	c := fixture(t, 2)
	// Find an identity owned by node 2 and call it from node 1, so the
	// request and the reply both cross the wire.
	var id string
	for i := 0; ; i++ {
		id = fmt.Sprintf("x-%d", i)
		if c.Nodes[0].Owner("counter", id) == c.Nodes[1].RemoteAddr() {
			break
		}
	}
	payload := make([]byte, 3<<20) // larger than gRPC's default 4 MiB batch limit x2 in flight
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := c.Nodes[0].Request(ctx, "counter", id, &ping{Payload: payload})
			if err != nil {
				errs <- err
				return
			}
			if p := res.(*pong); p.Size != len(payload) || p.Address != c.Nodes[1].RemoteAddr() {
				errs <- fmt.Errorf("got %+v", p)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSingleActivationAndSpread(t *testing.T) {
	c := fixture(t, 3)
	hosts := map[string]int{}
	for i := 0; i < 60; i++ {
		id := fmt.Sprintf("m-%d", i)
		var first string
		for j, node := range c.Nodes {
			p, err := ask(t, node, id, 5*time.Second)
			if err != nil {
				t.Fatalf("%s via %s: %v", id, node.Name(), err)
			}
			if j == 0 {
				first = p.Address
			} else if p.Address != first {
				t.Fatalf("%s answered from %s and %s", id, first, p.Address)
			}
			if p.Count != j+1 {
				t.Fatalf("%s count %d after %d calls: more than one activation", id, p.Count, j+1)
			}
		}
		hosts[first]++
	}
	if len(hosts) != 3 {
		t.Fatalf("60 identities placed on %d nodes: %v", len(hosts), hosts)
	}
}

func TestKilledNodeGrainsReactivate(t *testing.T) {
	c := fixture(t, 3)
	ids := make([]string, 30)
	for i := range ids {
		ids[i] = fmt.Sprintf("k-%d", i)
		if _, err := ask(t, c.Nodes[0], ids[i], 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	victim := c.Nodes[2]
	addr := victim.RemoteAddr()
	start := time.Now()
	victim.Kill()
	// Every identity answers through a survivor; calls in flight when the
	// topology changes retry at once.
	var wg sync.WaitGroup
	var failed atomic.Int32
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := ask(t, c.Nodes[1], id, 15*time.Second)
			if err != nil || p.Address == addr {
				failed.Add(1)
				t.Errorf("%s: %v %+v", id, err, p)
			}
		}()
	}
	wg.Wait()
	t.Logf("all %d identities answered %s after the kill", len(ids), time.Since(start))
	if failed.Load() > 0 {
		t.Fatalf("%d identities failed", failed.Load())
	}
}

func TestLeaveMovesGrainsQuickly(t *testing.T) {
	c := fixture(t, 3)
	var ids []string
	for i := 0; len(ids) < 10; i++ {
		id := fmt.Sprintf("l-%d", i)
		if c.Nodes[0].Owner("counter", id) == c.Nodes[2].RemoteAddr() {
			ids = append(ids, id)
			if _, err := ask(t, c.Nodes[0], id, 5*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	leaving := c.Nodes[2]
	start := time.Now()
	leaving.Leave(5 * time.Second)
	c.WaitMembers(2, 5*time.Second, 2)
	for _, id := range ids {
		p, err := ask(t, c.Nodes[0], id, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if p.Address == leaving.RemoteAddr() {
			t.Fatalf("%s still on the leaving node", id)
		}
	}
	t.Logf("grains moved %s after Leave", time.Since(start))
	_ = leaving.Close()
}

// TestFencedNodeRejoinsWithNewID cuts a node off until the others declare
// it dead, heals the cut, and checks that it fences itself and comes back
// under a new id: a node that joined through a seed, and the seed itself
// (started with no seeds of its own, it rejoins through the peers it knew).
func TestFencedNodeRejoinsWithNewID(t *testing.T) {
	for _, tc := range []struct {
		name string
		idx  int
	}{{"joined", 2}, {"seed", 0}} {
		t.Run(tc.name, func(t *testing.T) { testFencedRejoin(t, tc.idx) })
	}
}

// activations is how many counter grains node hosts in its current
// runtime.
func activations(node *cluster.Node) int32 {
	sys := node.System()
	if sys == nil {
		return 0
	}
	k, ok := pcluster.GetCluster(sys).TryGetClusterKind("counter")
	if !ok {
		return 0
	}
	return k.Count()
}

func testFencedRejoin(t *testing.T, idx int) {
	c := fixture(t, 3)
	node := c.Nodes[idx]
	others := slices.Delete(slices.Clone(c.Nodes), idx, idx+1)
	oldID := node.MemberID()
	// Grains the node owns, activated there before the cut.
	var ids []string
	for i := 0; len(ids) < 10; i++ {
		if id := fmt.Sprintf("o-%d", i); node.Owner("counter", id) == node.RemoteAddr() {
			ids = append(ids, id)
			if p, err := ask(t, others[0], id, 5*time.Second); err != nil || p.Address != node.RemoteAddr() || p.Count != 1 {
				t.Fatalf("%s before the cut: %+v %v", id, p, err)
			}
		}
	}
	c.Cuts[idx].Cut()
	// The others declare it dead.
	clustertest.Eventually(t, 20*time.Second, func() error {
		for _, n := range others {
			for _, m := range n.Members() {
				if m.ID == oldID {
					return fmt.Errorf("%s still lists %s", n.Name(), oldID)
				}
			}
		}
		return nil
	})
	// The others re-activate its grains among themselves, while the cut-off
	// node may still hold the old activations (split brain while cut).
	for _, id := range ids {
		clustertest.Eventually(t, 20*time.Second, func() error {
			p, err := ask(t, others[0], id, 5*time.Second)
			if err == nil && p.Address == node.RemoteAddr() {
				err = fmt.Errorf("answered by the cut-off node")
			}
			if err != nil {
				return fmt.Errorf("%s during the cut, via %s: %v; want an activation on a survivor", id, others[0].Name(), err)
			}
			return nil
		})
	}
	t.Logf("during the cut: %d activations on the cut-off node, %d and %d on the others", activations(node), activations(others[0]), activations(others[1]))
	c.Cuts[idx].Heal()
	// It learns it was declared dead, fences itself, and comes back under a
	// new member id that everyone lists.
	clustertest.Eventually(t, 30*time.Second, func() error {
		if node.Fences() == 0 {
			return fmt.Errorf("node has not fenced itself")
		}
		newID := node.MemberID()
		if newID == "" || newID == oldID {
			return fmt.Errorf("member id %q", newID)
		}
		for _, n := range c.Nodes {
			found := false
			for _, m := range n.Members() {
				found = found || m.ID == newID
			}
			if !found || len(n.Members()) != 3 {
				return fmt.Errorf("%s sees %d members, new id listed: %v", n.Name(), len(n.Members()), found)
			}
		}
		return nil
	})
	// Exactly one activation of each grain remains, on its owner, reached
	// alike from every node: the fenced node's old activations stopped (its
	// owner's first answer starts a fresh count) and the survivors' ones
	// from the cut were dropped (one activation in all).
	for _, id := range ids {
		owner := node.Owner("counter", id)
		for j, n := range append([]*cluster.Node{node}, others...) {
			p, err := ask(t, n, id, 10*time.Second)
			if err != nil {
				t.Fatalf("%s via %s after healing: %v", id, n.Name(), err)
			}
			if p.Address != owner || p.Count != j+1 {
				t.Fatalf("%s via %s after healing: answered by %s with count %d, want %s with %d (one fresh activation)", id, n.Name(), p.Address, p.Count, owner, j+1)
			}
		}
	}
	clustertest.Eventually(t, 10*time.Second, func() error {
		var total int32
		for _, n := range c.Nodes {
			total += activations(n)
		}
		if total != int32(len(ids)) {
			return fmt.Errorf("%d counter activations on the nodes (%d, %d, %d), want %d, one per grain", total,
				activations(c.Nodes[0]), activations(c.Nodes[1]), activations(c.Nodes[2]), len(ids))
		}
		return nil
	})
	// And it serves grains again.
	for i := 0; i < 20; i++ {
		if _, err := ask(t, node, fmt.Sprintf("f-%d", i), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLeavingNodeNeverFences: a node declared dead while it leaves (the
// peers it told it is going, or that lost patience while it shut down)
// does not fence itself and rejoin; it stops, at once, even when the
// seeds it would rejoin through are gone.
func TestLeavingNodeNeverFences(t *testing.T) {
	c := fixture(t, 2)
	seed, node := c.Nodes[0], c.Nodes[1]
	node.Leave(2 * time.Second)
	seed.Kill() // the seed is gone too
	cluster.SignalFence(node, "a peer lists this node as dead")
	time.Sleep(300 * time.Millisecond) // a fence would have begun by now
	done := make(chan struct{})
	start := time.Now()
	go func() {
		_ = node.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Close did not return within 15 s of a fence signal while leaving")
	}
	if f := node.Fences(); f != 0 {
		t.Errorf("the leaving node fenced itself %d times and rejoined", f)
	}
	t.Logf("closed in %v after the fence signal", time.Since(start).Round(time.Millisecond))
}

// TestPeerConnectionsStartSmall checks what a node holds for each peer it
// talks to. protoactor preallocates a peer's outgoing queue at its
// configured size; at its default (1,000,000 slots, 16 MB of pointers the
// collector scans every cycle) two nodes that talked held 32 MB more heap.
func TestPeerConnectionsStartSmall(t *testing.T) {
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before := heap()
	c := fixture(t, 2)
	// A request each way, so that each node opens its queue to the other.
	for from, to := range []int{1, 0} {
		var id string
		for i := 0; ; i++ {
			id = fmt.Sprintf("q-%d", i)
			if c.Nodes[from].Owner("counter", id) == c.Nodes[to].RemoteAddr() {
				break
			}
		}
		if _, err := ask(t, c.Nodes[from], id, 10*time.Second); err != nil {
			t.Fatalf("node %d to node %d: %v", from, to, err)
		}
	}
	after := heap()
	grown := int64(after) - int64(before)
	t.Logf("two nodes that talked: heap in use %+.1f MiB", float64(grown)/(1<<20))
	if limit := int64(12 << 20); grown > limit {
		t.Errorf("two nodes that talked hold %.1f MiB more heap, over %d MiB: peer queues preallocated large?", float64(grown)/(1<<20), limit>>20)
	}
}
