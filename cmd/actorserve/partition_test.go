package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/state"
)

// isolate cuts node i off the other nodes, both ways, and leaves every
// node's path to the broker (on the bridge) alone: a blackhole route to
// each peer in i's namespace and one to i in each peer's. Gossip (UDP and
// TCP) and actor remoting (gRPC) between i and the others stop, as in a
// partition between racks; Kafka stays reachable from both sides, so a
// node on the wrong side can still write to the state topic. rejoin
// removes the routes.
func (b *bridgeNet) isolate(i int) error { return b.routes("add", i) }

func (b *bridgeNet) rejoin(i int) error { return b.routes("del", i) }

func (b *bridgeNet) routes(op string, i int) error {
	for j := range b.ns {
		if j == i {
			continue
		}
		for _, r := range [][2]string{{b.ns[i], b.nodeIP[j]}, {b.ns[j], b.nodeIP[i]}} {
			if out, err := exec.Command("ip", "netns", "exec", r[0], "ip", "route", op, "blackhole", r[1]+"/32").CombinedOutput(); err != nil {
				return fmt.Errorf("ip netns exec %s ip route %s blackhole %s/32: %v: %s", r[0], op, r[1], err, out)
			}
		}
	}
	return nil
}

// localActive lists the nodes whose own actors include an active id
// (GET /v1/models?local=true on each).
func localActive(nodes []*node, id string) ([]string, error) {
	var on []string
	for _, n := range nodes {
		var l modelsOut
		if err := getJSON(n.http+"/v1/models?local=true", &l); err != nil {
			return nil, fmt.Errorf("%s: %w", n.name, err)
		}
		for _, m := range l.Models {
			if m.ID == id && m.State == "active" {
				on = append(on, n.name)
			}
		}
	}
	sort.Strings(on)
	return on, nil
}

// stateLog follows actorserve.state from its start for the whole test,
// keeping every record as it arrives: the broker compacts the topic every
// 30 s, after which a reader would no longer see the superseded claims and
// checkpoints this test is about.
type stateLog struct {
	mu   sync.Mutex
	recs []*kgo.Record
	next map[int32]int64
}

func followState(t *testing.T, brokers string) *stateLog {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(state.DefaultTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	l := &stateLog{next: map[int32]int64{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				l.mu.Lock()
				l.recs = append(l.recs, r)
				l.next[r.Partition] = r.Offset + 1
				l.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
	return l
}

// records returns model id's records once the log has caught up with the
// topic's end offsets, in offset order (one key, one partition).
func (l *stateLog) records(t *testing.T, brokers, id string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	eventually(t, 20*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, state.DefaultTopic)
		if err != nil {
			return err
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		var behind error
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil && l.next[o.Partition] < o.Offset {
				behind = fmt.Errorf("state log read partition %d up to %d of %d", o.Partition, l.next[o.Partition], o.Offset)
			}
		})
		return behind
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*kgo.Record
	for _, r := range l.recs {
		if string(r.Key) == id {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

// staleCheckpoints goes through model id's state records and returns the
// claims (node@offset, time after since), how many checkpoints landed after
// a newer claim than their own epoch, and a description of those written
// (record timestamp) more than late after that claim: an old activation
// that kept writing once the newer claim was there to read.
func staleCheckpoints(recs []*kgo.Record, since time.Time, late time.Duration) (claims []string, stale int, lateOnes []string) {
	claim, claimAt, claimBy := int64(-1), time.Time{}, ""
	for _, r := range recs {
		var c state.Checkpoint
		if msgpack.Unmarshal(r.Value, &c) != nil {
			continue
		}
		switch c.Kind {
		case state.KindClaim:
			claim, claimAt, claimBy = r.Offset, r.Timestamp, c.Node
			claims = append(claims, fmt.Sprintf("%s@%d (%+.1fs)", c.Node, r.Offset, r.Timestamp.Sub(since).Seconds()))
		case state.KindCheckpoint:
			if c.Epoch >= claim {
				continue
			}
			stale++
			if d := r.Timestamp.Sub(claimAt); d > late {
				lateOnes = append(lateOnes, fmt.Sprintf("offset %d by %s (epoch %d, %d updates) %s after the claim by %s at %d",
					r.Offset, c.Node, c.Epoch, c.Updates, d.Round(time.Millisecond), claimBy, claim))
			}
		}
	}
	return claims, stale, lateOnes
}

// TestProcessLearningSingleActivationUnderPartition: three node
// processes, each in a network namespace; the node hosting an online model
// that learns a labelled stream is cut off the other two (gossip and
// remoting, both ways) while the broker stays reachable from every side.
// The survivors declare it dead and re-activate the model (within a
// generous 30 s); the cut-off node keeps running on its stale view. After
// healing, the cut-off node fences itself and rejoins, and then:
//   - exactly one node holds an active activation of the model, asked on
//     every node, and it is the one holding the latest claim;
//   - the learned state is bit-identical to an uninterrupted run of the
//     same events, with exactly one update per label;
//   - no checkpoint of an older activation was written more than 3 s after
//     a newer claim was in the state topic (the old activation stopped
//     writing once it could read the claim; readers ignore the few written
//     before it could).
//
// While cut off, the node still owns the model's home partition in the
// consumer group, so it keeps learning: each side claims in turn, and
// learning stays exactly-once through the claims' positions. Checked by
// mutation: state.Store.Save and the model actor's checkpoint without
// their fencing checks fail the third point (30 late stale checkpoints);
// an activator that keeps activations it no longer owns after a topology
// change fails the first two (the survivor's activation stays and serves
// its stale state).
func TestProcessLearningSingleActivationUnderPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bn := newBridgeNet(t, 3)
	brokers := fmt.Sprintf("%s:%d", bn.hostIP, freePort(t))
	bp := startWith(t, nil, "broker", "broker", "--listen", brokers, "--log-level", "warn")
	bp.await(t, regexp.MustCompile(`kafka broker listening on (\S+)`), 30*time.Second)
	var nodes []*node
	for i := range 3 {
		name, ip := fmt.Sprintf("n%d", i+1), bn.nodeIP[i]
		args := []string{"node", "--name", name, "--gossip", ip + ":0", "--remote", ip + ":0", "--http", ip + ":0",
			"--brokers", brokers, "--log-level", "warn", "--log-format", "text",
			"--insecure-no-auth", "--insecure-cluster", // reachable addresses in plaintext: the test network is private
			"--checkpoint-every", "200"}
		if i > 0 {
			args = append(args, "--join", nodes[0].gossip)
		}
		p := startWith(t, []string{"ip", "netns", "exec", bn.ns[i]}, name, args...)
		m := p.await(t, nodeLine, 60*time.Second)
		nodes = append(nodes, &node{proc: p, http: m[2], gossip: m[3], brokers: brokers})
	}
	allMembers := func(timeout time.Duration) {
		t.Helper()
		for _, n := range nodes {
			eventually(t, timeout, func() error {
				got, err := members(n)
				if err == nil && got != 3 {
					err = fmt.Errorf("%s sees %d members, want 3", n.name, got)
				}
				return err
			})
		}
	}
	allMembers(60 * time.Second)

	const id, total, cutAt = "lf-part", 24000, 6000
	desc := onlineDescriptor("arow")
	evs := labelledStream(id, 15, total)
	want, updates := reference(t, id, desc, evs)
	sl := followState(t, brokers)
	deployOnline(t, nodes[0], id, desc)
	activate(t, nodes[0], id)
	prod := newProducer(t, brokers)

	type failover struct {
		after time.Duration
		on    string
		err   error
	}
	var victim, via *node
	var cut time.Time
	reactivated := make(chan failover, 1)
	healed := make(chan error, 1)
	began := time.Now()
	stream(t, prod, records(id, evs), 250, 150*time.Millisecond, map[int]func(){
		cutAt: func() {
			v, err := getLearn(nodes[0], id)
			if err != nil || v.State != "active" {
				t.Fatalf("before the partition: %v %s", err, v)
			}
			victim = byName(nodes, v.Node)
			via = otherThan(nodes, victim.name)
			vi := int(victim.name[1] - '1')
			cut = time.Now()
			if err := bn.isolate(vi); err != nil {
				t.Fatal(err)
			}
			t.Logf("cut %s (hosting %s) off the other two with %d events produced, %d learned, epoch %d",
				victim.name, id, cutAt, v.Learning.Updates, v.Learning.Epoch)
			go func() {
				// The survivors re-activate the model: a prediction through
				// one of them is answered by a node other than the cut one.
				f := failover{err: fmt.Errorf("no answer from a survivor within 60 s")}
				for time.Since(cut) < 60*time.Second {
					if on, err := probe(via, id); err == nil && on != "" && on != victim.name {
						f = failover{after: time.Since(cut), on: on}
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				reactivated <- f
				// Both sides now run an activation: keep the split a few
				// seconds longer while labelled events flow, then heal.
				time.Sleep(5 * time.Second)
				healed <- bn.rejoin(vi)
			}()
		},
	})
	f := <-reactivated
	if f.err != nil {
		t.Fatalf("after cutting %s off: %v", victim.name, f.err)
	}
	t.Logf("survivors re-activated %s on %s %s after the cut", id, f.on, f.after.Round(time.Millisecond))
	if f.after > 30*time.Second {
		t.Errorf("failover took %s, over the 30 s bound", f.after.Round(time.Millisecond))
	}
	if err := <-healed; err != nil {
		t.Fatal(err)
	}
	healedAt := time.Now()
	t.Logf("healed %s after the cut", healedAt.Sub(cut).Round(time.Millisecond))

	// The cut-off node learns it was declared dead, fences itself (stops
	// its actors) and rejoins under a new member id.
	fenced := regexp.MustCompile(`fencing: this node was declared dead`)
	eventually(t, 60*time.Second, func() error {
		if victim.out.find(fenced) == nil {
			return fmt.Errorf("%s has not logged fencing itself", victim.name)
		}
		return nil
	})
	allMembers(60 * time.Second)
	t.Logf("%s fenced itself and all three see 3 members %s after healing", victim.name, time.Since(healedAt).Round(time.Millisecond))

	// Exact learned state through every node, served by the latest claim.
	var final learnView
	for _, n := range append([]*node{via}, nodes...) {
		final = learnedExactly(t, n, id, int64(updates), want, 90*time.Second)
	}
	// Exactly one activation, asked on every node.
	eventually(t, 10*time.Second, func() error {
		on, err := localActive(nodes, id)
		if err != nil {
			return err
		}
		if len(on) != 1 || on[0] != final.Node {
			return fmt.Errorf("%s is active on %v, want only on %s", id, on, final.Node)
		}
		return nil
	})
	// No stale write: an old activation stops writing once the newer
	// claim is readable.
	recs := sl.records(t, brokers, id)
	claims, stale, late := staleCheckpoints(recs, cut, 3*time.Second)
	if len(late) > 0 {
		t.Errorf("%d checkpoints of an older activation written more than 3 s after a newer claim, e.g. %s", len(late), strings.Join(late[:min(3, len(late))], "; "))
	}
	logFinal(t, id, final, began)
	t.Logf("actorserve.state for %s: %d records, claims (node@epoch, time after the cut) %v; %d stale checkpoints (written before their activation could read the newer claim; ignored by readers)",
		id, len(recs), claims, stale)
}
