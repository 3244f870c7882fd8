package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/ingress"
	"github.com/actorserve/actorserve/actors/state"
	"github.com/actorserve/actorserve/cmd/actorserve/internal/app"
	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/serving"
)

// Issue 11, "learning that loses nothing", with real processes: whatever
// happens to the node that hosts an online model while it learns from a
// labelled stream (SIGKILL, SIGSTOP long enough to be declared dead,
// eviction ping-pong, a node joining and another leaving, labels sent over
// HTTP), the final learner is bit-identical to one that learned the same
// events in order without interruption, computed here in-process from the
// same descriptor, and its update count equals the number of labelled
// events exactly.

// labelled is one labelled example of the binary concept a - 0.7b > 0.2,
// with 2 % of the labels flipped so the learner keeps updating.
type labelled struct {
	id    string
	a, b  float64
	label string
}

func labelledStream(model string, seed uint64, n int) []labelled {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	evs := make([]labelled, n)
	for k := range evs {
		a, b := r.Float64()*4-2, r.Float64()*4-2
		pos := a-0.7*b > 0.2
		if r.Float64() < 0.02 {
			pos = !pos
		}
		label := "neg"
		if pos {
			label = "pos"
		}
		evs[k] = labelled{id: fmt.Sprintf("%s-%d", model, k), a: a, b: b, label: label}
	}
	return evs
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// json is the event as a user writes it to actorserve.events; floats
// round-trip exactly.
func (e labelled) json() string {
	return fmt.Sprintf(`{"id":%q,"features":{"a":%s,"b":%s},"label":%q}`, e.id, fmtFloat(e.a), fmtFloat(e.b), e.label)
}

func onlineDescriptor(algorithm string) map[string]any {
	return map[string]any{
		"format": "online", "features": []string{"a", "b"}, "labels": []string{"neg", "pos"},
		"learning": map[string]any{"algorithm": algorithm, "task": "binary", "drift": "none"},
	}
}

// reference learns evs in order in-process, as the model actor does
// (predictEach and teach: vector, predict, LearnAfter with the prediction),
// and returns the SHA-256 of the whole learned state and the update count.
func reference(t *testing.T, id string, desc map[string]any, evs []labelled) (string, uint64) {
	t.Helper()
	b, err := json.Marshal(desc)
	if err != nil {
		t.Fatal(err)
	}
	d, err := serving.DecodeDescriptor(b)
	if err != nil {
		t.Fatal(err)
	}
	d.ID, d.Version = id, 1
	m, err := app.NewRegistry().Load(d)
	if err != nil {
		t.Fatal(err)
	}
	online, ok := m.(*learning.Online)
	if !ok {
		t.Fatalf("descriptor of %s loads a %T, not a *learning.Online", id, m)
	}
	schema := serving.NewSchema(d, m.NumFeatures())
	var x []float64
	for _, e := range evs {
		f := serving.Features{Names: []string{"a", "b"}, Values: []float64{e.a, e.b}}
		if x, err = schema.Vector(&f, x); err != nil {
			t.Fatal(err)
		}
		pred, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := online.LearnAfter(x, learning.Label(e.label), pred); err != nil {
			t.Fatal(err)
		}
	}
	st, err := online.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(st)
	return hex.EncodeToString(sum[:]), online.Stats().Updates
}

type learnBlock struct {
	Updates     int64  `json:"updates"`
	Replayed    int64  `json:"replayed"`
	Restored    int64  `json:"restored_updates"`
	Epoch       int64  `json:"epoch"`
	Partition   int32  `json:"partition"`
	Position    int64  `json:"position"`
	Checkpoints int64  `json:"checkpoints"`
	SHA256      string `json:"state_sha256"`
}

type learnView struct {
	Node     string      `json:"node"`
	State    string      `json:"state"`
	Replicas []string    `json:"replicas"`
	Learning *learnBlock `json:"learning"`
	PerNode  []struct {
		Node     string      `json:"node"`
		State    string      `json:"state"`
		Learning *learnBlock `json:"learning"`
	} `json:"per_node"`
}

func (v learnView) String() string {
	s := fmt.Sprintf("node=%q state=%q replicas=%v", v.Node, v.State, v.Replicas)
	if l := v.Learning; l != nil {
		s += fmt.Sprintf(" updates=%d replayed=%d restored_updates=%d epoch=%d partition=%d position=%d checkpoints=%d sha256=%s",
			l.Updates, l.Replayed, l.Restored, l.Epoch, l.Partition, l.Position, l.Checkpoints, l.SHA256)
	}
	for _, p := range v.PerNode {
		s += fmt.Sprintf(" [per_node %s %s", p.Node, p.State)
		if p.Learning != nil {
			s += fmt.Sprintf(" updates=%d epoch=%d sha256=%s", p.Learning.Updates, p.Learning.Epoch, p.Learning.SHA256)
		}
		s += "]"
	}
	return s
}

func getLearn(via *node, id string) (learnView, error) {
	var v learnView
	err := getJSON(via.http+"/v1/models/"+id, &v)
	return v, err
}

// probe is an unlabelled prediction: it activates the model if needed and
// teaches it nothing.
func probe(via *node, id string) (string, error) {
	var out predictOut
	_, err := do(http.MethodPost, via.http+"/v1/models/"+id+"/predict", map[string]any{"features": map[string]float64{"a": 0.5, "b": -0.5}}, &out)
	return out.Node, err
}

// answersAgain polls probe through via from the moment of a fault until
// one answer comes from a node other than gone (gone may be ""), and sends
// how long after the fault that was.
func answersAgain(via *node, id, gone string, fault time.Time) <-chan string {
	ch := make(chan string, 1)
	go func() {
		deadline := fault.Add(90 * time.Second)
		for time.Now().Before(deadline) {
			n, err := probe(via, id)
			if err == nil && n != gone {
				ch <- fmt.Sprintf("answered again through %s (on %s) %s after the fault", via.name, n, time.Since(fault).Round(time.Millisecond))
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		ch <- "did not answer within 90 s of the fault"
	}()
	return ch
}

func deployOnline(t *testing.T, via *node, id string, desc map[string]any) {
	t.Helper()
	if _, err := do(http.MethodPut, via.http+"/v1/models/"+id, desc, nil); err != nil {
		t.Fatal(err)
	}
}

// activate makes the model active (its first claim) before any event, and
// returns the node that hosts it.
func activate(t *testing.T, via *node, id string) string {
	t.Helper()
	var host string
	eventually(t, 30*time.Second, func() error {
		n, err := probe(via, id)
		host = n
		return err
	})
	return host
}

func byName(nodes []*node, name string) *node {
	for _, n := range nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

func otherThan(nodes []*node, names ...string) *node {
	for _, n := range nodes {
		if !slices.Contains(names, n.name) {
			return n
		}
	}
	return nil
}

func newProducer(t *testing.T, brokers string) *kgo.Client {
	t.Helper()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.DefaultProduceTopic("actorserve.events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	return prod
}

// stream produces recs in order in chunks of chunk records with a pause
// after each, so that faults land mid-stream; at[k] runs (on this
// goroutine; it must not block long) once the first k records are
// acknowledged by Kafka.
func stream(t *testing.T, prod *kgo.Client, recs []*kgo.Record, chunk int, pause time.Duration, at map[int]func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for from := 0; from < len(recs); from += chunk {
		to := min(from+chunk, len(recs))
		for _, r := range recs[from:to] {
			prod.Produce(ctx, r, func(r *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce %s: %v", r.Value, err)
				}
			})
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for k, f := range at {
			if k > from && k <= to {
				f()
			}
		}
		time.Sleep(pause)
	}
}

func records(id string, evs []labelled) []*kgo.Record {
	recs := make([]*kgo.Record, len(evs))
	for i, e := range evs {
		recs[i] = &kgo.Record{Key: []byte(id), Value: []byte(e.json())}
	}
	return recs
}

// learnedExactly waits until the model's single activation, asked through
// via, has learned exactly updates labels into the state with digest want;
// it re-activates the model with an unlabelled prediction when it is not
// active. It returns the final view.
func learnedExactly(t *testing.T, via *node, id string, updates int64, want string, timeout time.Duration) learnView {
	t.Helper()
	var last learnView
	var lastProbe time.Time
	eventually(t, timeout, func() error {
		v, err := getLearn(via, id)
		if err != nil {
			return err
		}
		last = v
		if v.State != "active" || v.Learning == nil {
			if time.Since(lastProbe) > 2*time.Second {
				lastProbe = time.Now()
				go probe(via, id) //nolint:errcheck // only activates; the next GET tells
			}
			return fmt.Errorf("%s not active: %s", id, v)
		}
		if len(v.Replicas) > 1 || len(v.PerNode) > 1 {
			return fmt.Errorf("%s reported by several nodes: %s", id, v)
		}
		if v.Learning.Updates != updates || v.Learning.SHA256 != want {
			return fmt.Errorf("%s: want updates=%d sha256=%s, last seen %s", id, updates, want, v)
		}
		// The activation serving is the one holding the fence: the
		// latest claim of the model in the state topic.
		if at, by, ok := latestClaim(t, via.brokers, id); !ok || at != v.Learning.Epoch {
			return fmt.Errorf("%s: served with epoch %d, but the latest claim in actorserve.state is %s@%d (found %v): %s", id, v.Learning.Epoch, by, at, ok, v)
		}
		return nil
	})
	return last
}

// latestClaim returns the offset (epoch) and node of the model's latest
// claim in actorserve.state.
func latestClaim(t *testing.T, brokers, id string) (int64, string, bool) {
	t.Helper()
	at, by, ok := int64(-1), "", false
	for _, r := range readTopic(t, brokers, "actorserve.state") {
		var c state.Checkpoint
		if string(r.Key) != id || msgpack.Unmarshal(r.Value, &c) != nil || c.Kind != state.KindClaim {
			continue
		}
		if r.Offset > at {
			at, by, ok = r.Offset, c.Node, true
		}
	}
	return at, by, ok
}

// readTopic reads topic from its start up to its end offsets as they are
// now.
func readTopic(t *testing.T, brokers, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Logf("end offsets of %s: %v", topic, err)
		return nil
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	got := map[int32]int64{}
	done := func() bool {
		for p, end := range want {
			if got[p] < end {
				return false
			}
		}
		return true
	}
	for !done() && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			got[r.Partition] = r.Offset + 1
		})
	}
	if !done() {
		t.Logf("read %s: stopped at %v of %v", topic, got, want)
	}
	return out
}

// logLog reports what the logs say about the models: dead letters keyed by
// them, and claims (activations) and checkpoints in the state topic.
func logLog(t *testing.T, brokers string, ids ...string) {
	t.Helper()
	reasons := map[string]map[string]int{}
	for _, r := range readTopic(t, brokers, "actorserve.deadletter") {
		id := string(r.Key)
		if !slices.Contains(ids, id) {
			continue
		}
		if reasons[id] == nil {
			reasons[id] = map[string]int{}
		}
		reason := "?"
		for _, h := range r.Headers {
			if h.Key == "reason" {
				reason = string(h.Value)
			}
		}
		reasons[id][reason]++
	}
	claims, ckpts := map[string][]string{}, map[string]int{}
	for _, r := range readTopic(t, brokers, "actorserve.state") {
		var c state.Checkpoint
		if msgpack.Unmarshal(r.Value, &c) != nil {
			continue
		}
		switch c.Kind {
		case state.KindClaim:
			claims[c.Model] = append(claims[c.Model], fmt.Sprintf("%s@%d", c.Node, r.Offset))
		case state.KindCheckpoint:
			ckpts[c.Model]++
		}
	}
	for _, id := range ids {
		cl := claims[id]
		if len(cl) > 12 {
			cl = append(append(cl[:6:6], "..."), cl[len(cl)-6:]...)
		}
		t.Logf("%s: %d claims (activations, node@epoch: %v) and %d checkpoints in actorserve.state; dead letters keyed by it: %v",
			id, len(claims[id]), cl, ckpts[id], reasons[id])
	}
}

func logFinal(t *testing.T, id string, v learnView, since time.Time) {
	t.Helper()
	t.Logf("%s final on %s: updates=%d sha256=%s (= reference), this activation restored_updates=%d replayed=%d epoch=%d position=%d; %s after the stream started",
		id, v.Node, v.Learning.Updates, v.Learning.SHA256, v.Learning.Restored, v.Learning.Replayed, v.Learning.Epoch, v.Learning.Position,
		time.Since(since).Round(time.Millisecond))
}

func sendSignal(t *testing.T, n *node, sig syscall.Signal) {
	t.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s %s: %v", sig, n.name, err)
	}
}

// TestProcessLearningExactAfterSIGKILL: the node hosting an online model
// (arow, checkpoints every 200 updates) is SIGKILLed 8,000 events into a
// 20,000-event labelled stream.
func TestProcessLearningExactAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	nodes := startCluster(t, "--checkpoint-every", "200")
	const id, n = "lf-kill", 20000
	desc := onlineDescriptor("arow")
	evs := labelledStream(id, 11, n)
	want, updates := reference(t, id, desc, evs)
	deployOnline(t, nodes[0], id, desc)
	host := activate(t, nodes[0], id)
	prod := newProducer(t, nodes[0].brokers)

	var victim *node
	var answered <-chan string
	began := time.Now()
	stream(t, prod, records(id, evs), 500, 150*time.Millisecond, map[int]func(){
		8000: func() {
			v, err := getLearn(nodes[0], id)
			if err != nil || v.State != "active" {
				t.Fatalf("before the kill: %v %s", err, v)
			}
			victim = byName(nodes, v.Node)
			fault := time.Now()
			sendSignal(t, victim, syscall.SIGKILL)
			t.Logf("SIGKILL %s (hosting %s since activation on %s) with 8000 events produced, %d learned, epoch %d",
				victim.name, id, host, v.Learning.Updates, v.Learning.Epoch)
			answered = answersAgain(otherThan(nodes, victim.name), id, victim.name, fault)
		},
	})
	via := otherThan(nodes, victim.name)
	t.Logf("%s: %s", id, <-answered)
	final := learnedExactly(t, via, id, int64(updates), want, 90*time.Second)
	logFinal(t, id, final, began)
	logLog(t, nodes[0].brokers, id)
}

// TestProcessLearningExactAfterSIGSTOP: the hosting node is stopped for
// 15 s mid-stream (declared dead by the cluster and by the consumer group),
// then continued: it fences itself, and the learning of its old activation
// must not win over the new one's.
func TestProcessLearningExactAfterSIGSTOP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	nodes := startCluster(t)
	const id, n = "lf-stop", 20000
	desc := onlineDescriptor("pa1")
	evs := labelledStream(id, 12, n)
	want, updates := reference(t, id, desc, evs)
	deployOnline(t, nodes[0], id, desc)
	activate(t, nodes[0], id)
	prod := newProducer(t, nodes[0].brokers)

	var victim *node
	var answered <-chan string
	continued := make(chan struct{})
	began := time.Now()
	stream(t, prod, records(id, evs), 500, 150*time.Millisecond, map[int]func(){
		8000: func() {
			v, err := getLearn(nodes[0], id)
			if err != nil || v.State != "active" {
				t.Fatalf("before the stop: %v %s", err, v)
			}
			victim = byName(nodes, v.Node)
			fault := time.Now()
			sendSignal(t, victim, syscall.SIGSTOP)
			t.Logf("SIGSTOP %s (hosting %s) with 8000 events produced, %d learned, epoch %d", victim.name, id, v.Learning.Updates, v.Learning.Epoch)
			answered = answersAgain(otherThan(nodes, victim.name), id, victim.name, fault)
			go func() {
				defer close(continued)
				time.Sleep(15 * time.Second) // the fault: stopped this long
				_ = victim.cmd.Process.Signal(syscall.SIGCONT)
			}()
		},
	})
	via := otherThan(nodes, victim.name)
	t.Logf("%s: %s", id, <-answered)
	<-continued
	woke := time.Now()
	t.Logf("SIGCONT %s after 15 s", victim.name)
	// The woken node acts on stale beliefs until it learns it was declared
	// dead: it must fence itself and rejoin, and whatever its old
	// activation does must not win. Check once it is back, through it and
	// through a survivor: exact state, served by the latest claim.
	fenced := regexp.MustCompile(`fencing: this node was declared dead`)
	eventually(t, 30*time.Second, func() error {
		if victim.out.find(fenced) == nil {
			return fmt.Errorf("%s has not logged fencing itself", victim.name)
		}
		var c struct {
			Members []json.RawMessage `json:"members"`
		}
		if err := getJSON(victim.http+"/readyz", nil); err != nil {
			return err
		}
		if err := getJSON(victim.http+"/v1/cluster", &c); err != nil {
			return err
		}
		if len(c.Members) != 3 {
			return fmt.Errorf("%s sees %d members", victim.name, len(c.Members))
		}
		return nil
	})
	t.Logf("%s fenced itself and is back in a 3-member cluster %s after SIGCONT", victim.name, time.Since(woke).Round(time.Millisecond))
	final := learnedExactly(t, via, id, int64(updates), want, 90*time.Second)
	again := learnedExactly(t, victim, id, int64(updates), want, 30*time.Second)
	if again.Learning.Epoch < final.Learning.Epoch {
		t.Fatalf("through %s: epoch went back from %d to %d: %s", victim.name, final.Learning.Epoch, again.Learning.Epoch, again)
	}
	logFinal(t, id, again, began)
	logLog(t, nodes[0].brokers, id)
}

// samePartition returns two model ids with the same home partition of
// actorserve.events, so they are placed on the same node.
func samePartition(t *testing.T, brokers, prefix string) (string, string, int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tds, err := kadm.NewClient(cl).ListTopics(ctx, "actorserve.events")
	if err != nil {
		t.Fatal(err)
	}
	parts := int32(len(tds["actorserve.events"].Partitions))
	if parts == 0 {
		t.Fatal("actorserve.events has no partitions")
	}
	a := prefix + "-a"
	pa := ingress.KeyPartition([]byte(a), parts)
	for k := 0; ; k++ {
		b := fmt.Sprintf("%s-b%d", prefix, k)
		if ingress.KeyPartition([]byte(b), parts) == pa {
			return a, b, pa
		}
	}
}

// TestProcessLearningExactUnderEviction: every node keeps at most one
// model active; two online models in the same home partition (so on the
// same node) get interleaved labelled streams of 10,000 each, so each batch
// of one evicts the other: hundreds of checkpoint-at-stop, claim, restore
// and replay cycles.
func TestProcessLearningExactUnderEviction(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	nodes := startCluster(t, "--max-active", "1", "--checkpoint-every", "200")
	ida, idb, part := samePartition(t, nodes[0].brokers, "lf-evict")
	const n = 10000
	da, db := onlineDescriptor("arow"), onlineDescriptor("pa1")
	ea, eb := labelledStream(ida, 13, n), labelledStream(idb, 14, n)
	wantA, updA := reference(t, ida, da, ea)
	wantB, updB := reference(t, idb, db, eb)
	deployOnline(t, nodes[0], ida, da)
	deployOnline(t, nodes[0], idb, db)
	ha := activate(t, nodes[0], ida)
	hb := activate(t, nodes[0], idb)
	if ha != hb {
		t.Fatalf("%s on %s and %s on %s share partition %d but not a node", ida, ha, idb, hb, part)
	}
	t.Logf("%s and %s share partition %d and node %s (max 1 active model per node)", ida, idb, part, ha)
	ra, rb := records(ida, ea), records(idb, eb)
	recs := make([]*kgo.Record, 0, 2*n)
	for k := range n {
		recs = append(recs, ra[k], rb[k])
	}
	prod := newProducer(t, nodes[0].brokers)
	began := time.Now()
	stream(t, prod, recs, 500, 100*time.Millisecond, nil)
	t.Logf("produced %d interleaved events in %s", len(recs), time.Since(began).Round(time.Millisecond))
	// One at a time: activating one evicts the other, which must come back
	// with the same state.
	fa := learnedExactly(t, nodes[1], ida, int64(updA), wantA, 120*time.Second)
	logFinal(t, ida, fa, began)
	fb := learnedExactly(t, nodes[1], idb, int64(updB), wantB, 60*time.Second)
	logFinal(t, idb, fb, began)
	fa = learnedExactly(t, nodes[2], ida, int64(updA), wantA, 60*time.Second)
	t.Logf("%s evicted and re-activated once more: restored_updates=%d replayed=%d epoch=%d, same digest", ida, fa.Learning.Restored, fa.Learning.Replayed, fa.Learning.Epoch)
	logLog(t, nodes[0].brokers, ida, idb)
}

// TestProcessLearningExactThroughJoinAndLeave: with no periodic
// checkpoints (every 10⁹ updates or hourly), a fourth node joins 5,000
// events into the stream, and 12,000 events in the node then hosting the
// model leaves gracefully (SIGTERM).
func TestProcessLearningExactThroughJoinAndLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	flags := []string{"--checkpoint-every", "1000000000", "--checkpoint-interval", "1h"}
	nodes := startCluster(t, flags...)
	const id, n = "lf-churn", 20000
	desc := onlineDescriptor("arow")
	evs := labelledStream(id, 15, n)
	want, updates := reference(t, id, desc, evs)
	deployOnline(t, nodes[0], id, desc)
	activate(t, nodes[0], id)
	prod := newProducer(t, nodes[0].brokers)

	var joined time.Time
	var leaving *node
	var answered <-chan string
	began := time.Now()
	stream(t, prod, records(id, evs), 500, 150*time.Millisecond, map[int]func(){
		5000: func() {
			before, _ := getLearn(nodes[0], id)
			args := []string{"node", "--name", "n4", "--gossip", "127.0.0.1:0", "--remote", "127.0.0.1:0",
				"--http", "127.0.0.1:0", "--brokers", nodes[0].brokers, "--log-level", "warn", "--log-format", "text",
				"--join", nodes[0].gossip}
			args = append(args, flags...)
			joined = time.Now()
			p := start(t, "n4", args...)
			m := p.await(t, nodeLine, 30*time.Second)
			nodes = append(nodes, &node{proc: p, http: m[2], gossip: m[3], brokers: nodes[0].brokers})
			t.Logf("n4 joins with 5000 events produced; %s was on %s with %d learned", id, before.Node, before.Learning.Updates)
		},
		12000: func() {
			v, err := getLearn(nodes[0], id)
			if err != nil || v.State != "active" {
				t.Fatalf("before the leave: %v %s", err, v)
			}
			t.Logf("%s is on %s %s after n4 started joining, %d learned, epoch %d", id, v.Node, time.Since(joined).Round(time.Millisecond), v.Learning.Updates, v.Learning.Epoch)
			leaving = byName(nodes, v.Node)
			fault := time.Now()
			sendSignal(t, leaving, syscall.SIGTERM)
			t.Logf("SIGTERM %s (hosting %s) with 12000 events produced", leaving.name, id)
			answered = answersAgain(otherThan(nodes, leaving.name), id, leaving.name, fault)
		},
	})
	via := otherThan(nodes, leaving.name)
	t.Logf("%s: %s", id, <-answered)
	select {
	case <-leaving.done:
		if code := leaving.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM", leaving.name, code)
		}
	case <-time.After(35 * time.Second):
		t.Errorf("%s did not exit within 35 s of SIGTERM", leaving.name)
	}
	final := learnedExactly(t, via, id, int64(updates), want, 90*time.Second)
	logFinal(t, id, final, began)
	logLog(t, nodes[0].brokers, id)
}

// TestProcessLearningExactHTTPFeedbackSIGKILL: 4,000 labelled examples
// sent with POST /v1/models/{id}/feedback in batches of 100 (each answered
// 202 once Kafka holds them), then the hosting node is SIGKILLed one second
// after the last 202. No periodic checkpoints: the new activation has only
// the first one's claim and must learn every acknowledged label by replay.
func TestProcessLearningExactHTTPFeedbackSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	nodes := startCluster(t, "--checkpoint-every", "1000000000", "--checkpoint-interval", "1h")
	const id, n, batch = "lf-http", 4000, 100
	desc := onlineDescriptor("pa1")
	evs := labelledStream(id, 16, n)
	want, updates := reference(t, id, desc, evs)
	deployOnline(t, nodes[0], id, desc)
	activate(t, nodes[0], id)

	type event struct {
		ID       string             `json:"id"`
		Features map[string]float64 `json:"features"`
		Label    string             `json:"label"`
	}
	type accepted struct {
		Model    string  `json:"model"`
		Accepted int     `json:"accepted"`
		Offsets  []int64 `json:"offsets"`
	}
	began := time.Now()
	var offsets []int64
	for from := 0; from < n; from += batch {
		body := struct {
			Events []event `json:"events"`
		}{}
		for _, e := range evs[from : from+batch] {
			body.Events = append(body.Events, event{ID: e.id, Features: map[string]float64{"a": e.a, "b": e.b}, Label: e.label})
		}
		via := nodes[(from/batch)%len(nodes)]
		var out accepted
		code, err := do(http.MethodPost, via.http+"/v1/models/"+id+"/feedback", body, &out)
		if err != nil || code != http.StatusAccepted || out.Accepted != batch || len(out.Offsets) != batch {
			t.Fatalf("feedback %d..%d through %s: %d %v %+v", from, from+batch, via.name, code, err, out)
		}
		offsets = append(offsets, out.Offsets...)
	}
	if !sort.SliceIsSorted(offsets, func(i, j int) bool { return offsets[i] < offsets[j] }) {
		t.Errorf("feedback offsets are not increasing in the order sent: %v...", offsets[:min(len(offsets), 20)])
	}
	last := time.Now()
	t.Logf("%d labelled events accepted (202) in %d batches in %s, offsets %d..%d", n, n/batch, last.Sub(began).Round(time.Millisecond), offsets[0], offsets[len(offsets)-1])
	time.Sleep(time.Until(last.Add(time.Second))) // the fault: one second after the last 202
	v, err := getLearn(nodes[0], id)
	if err != nil || v.State != "active" || v.Learning == nil {
		t.Fatalf("before the kill: %v %s", err, v)
	}
	victim := byName(nodes, v.Node)
	fault := time.Now()
	sendSignal(t, victim, syscall.SIGKILL)
	t.Logf("SIGKILL %s (hosting %s) 1 s after the last 202, with %d learned, epoch %d", victim.name, id, v.Learning.Updates, v.Learning.Epoch)
	via := otherThan(nodes, victim.name)
	t.Logf("%s: %s", id, <-answersAgain(via, id, victim.name, fault))
	final := learnedExactly(t, via, id, int64(updates), want, 90*time.Second)
	logFinal(t, id, final, began)
	logLog(t, nodes[0].brokers, id)
}
