package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/ingress"
	"github.com/actorserve/actorserve/actors/state"
	"github.com/actorserve/actorserve/cluster"
)

// Issue 10, with real processes: "a node joining a running cluster takes
// over its share of partitions and models with 0 lost events and no model
// active on two nodes for longer than the rebalance". A broker and two
// nodes serve six frozen models (one per partition of actorserve.events)
// and two online models while a stream keyed by model id runs; five seconds
// in a third node joins. A poller records, every ~150 ms, which nodes
// report each model, which node owns each partition and the cross-node
// batch counters, so the windows are measured, not assumed.

const joinEvents = "actorserve.events"

// joinNodeArgs are the flags of a node process; remote "" picks a port.
func joinNodeArgs(name, brokers, remote, seed string) []string {
	if remote == "" {
		remote = "127.0.0.1:0"
	}
	args := []string{"node", "--name", name, "--gossip", "127.0.0.1:0", "--remote", remote,
		"--http", "127.0.0.1:0", "--brokers", brokers, "--log-level", "warn", "--log-format", "text"}
	if seed != "" {
		args = append(args, "--join", seed)
	}
	return args
}

// startJoinCluster starts a broker and n node processes joined through n1
// and waits until each is ready and sees all n.
func startJoinCluster(t *testing.T, n int) []*node {
	t.Helper()
	b := start(t, "broker", "broker", "--listen", "127.0.0.1:0", "--log-level", "warn")
	brokers := b.await(t, regexp.MustCompile(`kafka broker listening on (\S+)`), 20*time.Second)[1]
	var nodes []*node
	for i := 1; i <= n; i++ {
		seed := ""
		if i > 1 {
			seed = nodes[0].gossip
		}
		name := fmt.Sprintf("n%d", i)
		p := start(t, name, joinNodeArgs(name, brokers, "", seed)...)
		m := p.await(t, nodeLine, 30*time.Second)
		nodes = append(nodes, &node{proc: p, http: m[2], gossip: m[3], brokers: brokers})
	}
	for _, nd := range nodes {
		eventually(t, 20*time.Second, func() error {
			if err := getJSON(nd.http+"/readyz", nil); err != nil {
				return err
			}
			var c joinClusterView
			if err := getJSON(nd.http+"/v1/cluster", &c); err != nil {
				return err
			}
			if len(c.Members) != n {
				return fmt.Errorf("%s sees %d members, want %d", nd.name, len(c.Members), n)
			}
			return nil
		})
	}
	return nodes
}

// remoteOf is the cluster (remote) address a node printed at start.
func remoteOf(n *node) string { return n.out.find(nodeLine)[4] }

// freeAddr returns a 127.0.0.1 address with a port free a moment ago, so
// the joining node's cluster address, which decides the partitions it
// takes, is known before it starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func eventsPartitions(t *testing.T, brokers string) int32 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tds, err := kadm.NewClient(cl).ListTopics(ctx, joinEvents)
	if err != nil {
		t.Fatal(err)
	}
	n := int32(len(tds[joinEvents].Partitions))
	if n == 0 {
		t.Fatalf("%s has no partitions", joinEvents)
	}
	return n
}

// plan maps each partition of actorserve.events to the name of the node
// the rendezvous balancer gives it to when exactly these nodes are members
// (addrs: cluster address -> node name).
func plan(addrs map[string]string, parts int32) []string {
	as := make([]string, 0, len(addrs))
	for a := range addrs {
		as = append(as, a)
	}
	owners := cluster.AssignSlots(as, joinEvents, parts)
	out := make([]string, len(owners))
	for p, a := range owners {
		out[p] = addrs[a]
	}
	return out
}

// idIn returns the first id prefix-k (k = 0, 1, ...) whose Kafka key
// partition is p.
func idIn(prefix string, p, parts int32) string {
	for k := 0; ; k++ {
		id := fmt.Sprintf("%s-%d", prefix, k)
		if ingress.KeyPartition([]byte(id), parts) == p {
			return id
		}
	}
}

type joinClusterView struct {
	Members []struct {
		Name       string `json:"name"`
		Remote     string `json:"remote"`
		Status     string `json:"status"`
		Partitions []struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
		} `json:"partitions"`
	} `json:"members"`
	Partial bool `json:"partial"`
}

// owners maps each partition of actorserve.events to the members that
// report owning it.
func (c joinClusterView) owners() map[int32][]string {
	out := map[int32][]string{}
	for _, m := range c.Members {
		for _, p := range m.Partitions {
			if p.Topic == joinEvents {
				out[p.Partition] = append(out[p.Partition], m.Name)
			}
		}
	}
	for _, o := range out {
		sort.Strings(o)
	}
	return out
}

// matches says whether every partition is owned by exactly its planned
// node.
func matches(owners map[int32][]string, want []string) bool {
	for p, w := range want {
		if o := owners[int32(p)]; len(o) != 1 || o[0] != w {
			return false
		}
	}
	return len(owners) == len(want)
}

// hostsOf lists the nodes reporting a model in GET /v1/models (sorted).
func hostsOf(node string, replicas []string) []string {
	switch {
	case len(replicas) > 0:
		return slices.Sorted(slices.Values(replicas))
	case node != "":
		return []string{node}
	}
	return nil
}

var crossLine = regexp.MustCompile(`(?m)^actorserve_ingress_batches_total\{cross_node="(true|false)"\} (\S+)$`)

// batches scrapes a node's cross-node and local batch counters.
func batches(n *node) (cross, local int64, err error) {
	resp, err := client.Get("http://" + n.http + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("%s /metrics: %d", n.name, resp.StatusCode)
	}
	for _, m := range crossLine.FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s /metrics: %q: %w", n.name, m[0], err)
		}
		if m[1] == "true" {
			cross = int64(v)
		} else {
			local = int64(v)
		}
	}
	return cross, local, nil
}

// joinSample is what one poll saw.
type joinSample struct {
	at time.Time
	// hosts: model id -> nodes reporting it (GET /v1/models).
	hosts map[string][]string
	// active: learning model id -> nodes whose per_node entry (GET
	// /v1/models/{id}) is in state "active"; loading activations are not.
	active       map[string][]string
	partial      bool
	members      []string
	owners       map[int32][]string
	cross, local int64 // summed over the nodes, last known value per node
}

// poller records samples until stopped.
type poller struct {
	via      *node
	learning []string
	mu       sync.Mutex
	samples  []joinSample
	nodes    atomic.Pointer[[]*node]
	errs     atomic.Int64
	stop     chan struct{}
	done     chan struct{}
}

func (p *poller) addNode(n *node) {
	ns := append(slices.Clone(*p.nodes.Load()), n)
	p.nodes.Store(&ns)
}

func (p *poller) run(every time.Duration) {
	defer close(p.done)
	lastCross, lastLocal := map[string]int64{}, map[string]int64{}
	for {
		began := time.Now()
		s, err := p.once(lastCross, lastLocal)
		if err != nil {
			p.errs.Add(1)
		} else {
			p.mu.Lock()
			p.samples = append(p.samples, s)
			p.mu.Unlock()
		}
		select {
		case <-p.stop:
			return
		case <-time.After(every - time.Since(began)):
		}
	}
}

func (p *poller) once(lastCross, lastLocal map[string]int64) (joinSample, error) {
	s := joinSample{at: time.Now(), hosts: map[string][]string{}, active: map[string][]string{}}
	var list modelsOut
	if err := getJSON(p.via.http+"/v1/models", &list); err != nil {
		return s, err
	}
	s.partial = list.Partial
	for _, m := range list.Models {
		s.hosts[m.ID] = hostsOf(m.Node, m.Replicas)
	}
	for _, id := range p.learning {
		v, err := getLearn(p.via, id)
		if err != nil {
			return s, err
		}
		var act []string
		if len(v.PerNode) == 0 && v.State == "active" {
			act = []string{v.Node}
		}
		for _, pn := range v.PerNode {
			if pn.State == "active" {
				act = append(act, pn.Node)
			}
		}
		sort.Strings(act)
		s.active[id] = act
	}
	var c joinClusterView
	if err := getJSON(p.via.http+"/v1/cluster", &c); err != nil {
		return s, err
	}
	s.partial = s.partial || c.Partial
	for _, m := range c.Members {
		s.members = append(s.members, m.Name)
	}
	sort.Strings(s.members)
	s.owners = c.owners()
	for _, n := range *p.nodes.Load() {
		if cr, lo, err := batches(n); err == nil {
			lastCross[n.name], lastLocal[n.name] = cr, lo
		}
	}
	for _, v := range lastCross {
		s.cross += v
	}
	for _, v := range lastLocal {
		s.local += v
	}
	return s, nil
}

func (p *poller) snapshot() []joinSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.samples)
}

// window is an interval during which a model was reported by several
// nodes: from the first sample that saw it to the first that did not
// (open while it still is).
type window struct {
	from, to time.Time
	open     bool
	nodes    []string
}

// multiWindows returns the intervals during which on(sample) names more
// than one node.
func multiWindows(samples []joinSample, on func(joinSample) []string) []window {
	var out []window
	var cur *window
	for _, s := range samples {
		ns := on(s)
		if len(ns) > 1 {
			if cur == nil {
				out = append(out, window{from: s.at, open: true})
				cur = &out[len(out)-1]
			}
			for _, n := range ns {
				if !slices.Contains(cur.nodes, n) {
					cur.nodes = append(cur.nodes, n)
				}
			}
			continue
		}
		if cur != nil {
			cur.to, cur.open = s.at, false
			cur = nil
		}
	}
	return out
}

func longest(ws []window, end time.Time) time.Duration {
	var d time.Duration
	for _, w := range ws {
		to := w.to
		if w.open {
			to = end
		}
		d = max(d, to.Sub(w.from))
	}
	return d
}

func describe(ws []window, since, end time.Time) string {
	if len(ws) == 0 {
		return "never"
	}
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		to := "still at the end"
		if !w.open {
			to = "+" + w.to.Sub(since).Round(time.Millisecond).String()
		} else {
			w.to = end
		}
		parts = append(parts, fmt.Sprintf("%v from +%s to %s (%s)", w.nodes, w.from.Sub(since).Round(time.Millisecond), to, w.to.Sub(w.from).Round(time.Millisecond)))
	}
	return strings.Join(parts, "; ")
}

// stateTimeline logs, per model, its claims and checkpoints in
// actorserve.state with their Kafka timestamps relative to since: the
// handover between two activations as Kafka recorded it.
func stateTimeline(t *testing.T, brokers string, since time.Time, ids ...string) {
	t.Helper()
	lines := map[string][]string{}
	for _, r := range readTopic(t, brokers, "actorserve.state") {
		var c state.Checkpoint
		if !slices.Contains(ids, string(r.Key)) || msgpack.Unmarshal(r.Value, &c) != nil {
			continue
		}
		var what string
		switch c.Kind {
		case state.KindClaim: // its epoch is its own offset
			what = fmt.Sprintf("claim by %s, epoch %d, taking over %d updates", c.Node, r.Offset, c.Updates)
		case state.KindDeleted:
			what = fmt.Sprintf("deletion by %s at offset %d", c.Node, r.Offset)
		default:
			what = fmt.Sprintf("checkpoint by %s of epoch %d, %d updates", c.Node, c.Epoch, c.Updates)
		}
		lines[string(r.Key)] = append(lines[string(r.Key)], fmt.Sprintf("%s at %+dms", what, r.Timestamp.Sub(since).Milliseconds()))
	}
	for _, id := range ids {
		t.Logf("%s in actorserve.state (times from the join): %s", id, strings.Join(lines[id], "; "))
	}
}

// outputs follows actorserve.predictions and actorserve.deadletter from
// their start and counts every event id seen.
type outputs struct {
	mu          sync.Mutex
	predictions map[string]int
	dead        map[string][]string // id -> "model reason: error"
}

func followOutputs(t *testing.T, brokers string) (*outputs, func()) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("actorserve.predictions", "actorserve.deadletter"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	o := &outputs{predictions: map[string]int{}, dead: map[string][]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			o.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				var ev struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(r.Value, &ev)
				if r.Topic == "actorserve.predictions" {
					o.predictions[ev.ID]++
					return
				}
				h := map[string]string{}
				for _, x := range r.Headers {
					h[x.Key] = string(x.Value)
				}
				o.dead[ev.ID] = append(o.dead[ev.ID], fmt.Sprintf("model %s reason %s: %s (from %s/%s@%s)",
					h["model"], h["reason"], h["error"], h["source-topic"], h["source-partition"], h["source-offset"]))
			})
			o.mu.Unlock()
		}
	}()
	return o, func() { cancel(); <-done; cl.Close() }
}

// missing returns the ids of want with neither a prediction nor a dead
// letter.
func (o *outputs) missing(want []string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, id := range want {
		if o.predictions[id] == 0 && len(o.dead[id]) == 0 {
			out = append(out, id)
		}
	}
	return out
}

// TestProcessNodeJoin: broker + n1 + n2; six frozen linear models, one per
// partition, and two online models, one in a partition that moves to the
// joining node and one in a partition that stays; a keyed stream of 5,000
// events over ~25 s; n3 joins 5 s in. Every event is accounted for, n3 owns
// its planned share of partitions and hosts the models keyed to them, each
// online model learned every labelled event exactly once (same state as
// an uninterrupted in-process run), and no online model stays reported by
// two nodes once the rebalance is over. Windows are measured and logged,
// not asserted.
func TestProcessNodeJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	nodes := startJoinCluster(t, 2)
	n1 := nodes[0]
	brokers := n1.brokers
	parts := eventsPartitions(t, brokers)

	// Where everything is and will be: n3's cluster address is chosen now,
	// so the partitions it takes are known before it starts.
	r3 := freeAddr(t)
	addrs := map[string]string{remoteOf(nodes[0]): "n1", remoteOf(nodes[1]): "n2"}
	before := plan(addrs, parts)
	addrs[r3] = "n3"
	after := plan(addrs, parts)
	var moves, stays []int32
	for p := range parts {
		if after[p] == "n3" {
			moves = append(moves, p)
		} else if after[p] == before[p] {
			stays = append(stays, p)
		}
	}
	if len(moves) == 0 || len(stays) == 0 {
		t.Fatalf("planned owners before %v after %v: want partitions that move to n3 and partitions that stay", before, after)
	}
	eventually(t, 20*time.Second, func() error {
		var c joinClusterView
		if err := getJSON(n1.http+"/v1/cluster", &c); err != nil {
			return err
		}
		if o := c.owners(); !matches(o, before) {
			return fmt.Errorf("partition owners %v, want the balancer's plan %v", o, before)
		}
		return nil
	})

	// Models: a frozen one per partition, an online one moving to n3 and
	// one staying where it is.
	var frozen []string
	home := map[string]int32{}
	for p := range parts {
		id := idIn(fmt.Sprintf("jf%d", p), p, parts)
		frozen = append(frozen, id)
		home[id] = p
		d := map[string]any{
			"format": "linear", "features": []string{"x0", "x1"},
			"data": map[string]any{"coefficients": [][]float64{{float64(p), 1}}, "intercepts": []float64{0.5}, "link": "identity"},
		}
		if _, err := do(http.MethodPut, n1.http+"/v1/models/"+id, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	learners := []string{idIn("jl-moves", moves[0], parts), idIn("jl-stays", stays[0], parts)}
	descs := []map[string]any{onlineDescriptor("arow"), onlineDescriptor("pa1")}
	const chunks, perFrozen, perLearner, joinChunk = 100, 5, 10, 20
	const labelledN = chunks * perLearner
	evs := make([][]labelled, len(learners))
	digests := make([]string, len(learners))
	for i, id := range learners {
		home[id] = ingress.KeyPartition([]byte(id), parts)
		evs[i] = labelledStream(id, uint64(20+i), labelledN)
		var updates uint64
		digests[i], updates = reference(t, id, descs[i], evs[i])
		if updates != labelledN {
			t.Fatalf("reference run of %s made %d updates from %d labelled events", id, updates, labelledN)
		}
		deployOnline(t, n1, id, descs[i])
	}
	all := append(slices.Clone(frozen), learners...)
	for _, n := range nodes { // every node's table holds every model before the stream
		eventually(t, 20*time.Second, func() error {
			var l modelsOut
			if err := getJSON(n.http+"/v1/models", &l); err != nil {
				return err
			}
			if len(l.Models) != len(all) {
				return fmt.Errorf("%s lists %d models, want %d", n.name, len(l.Models), len(all))
			}
			return nil
		})
	}
	for i, id := range learners {
		if h := activate(t, n1, id); h != before[home[id]] {
			t.Fatalf("%s (partition %d) activated on %s, want %s, the owner of its partition", id, home[id], h, before[home[id]])
		}
		t.Logf("%s: home partition %d, on %s, planned for %s after the join (%s)", id, home[id], before[home[id]], after[home[id]], descs[i]["learning"])
	}
	t.Logf("partitions of %s: owners before %v, planned after the join of n3 (%s) %v", joinEvents, before, r3, after)

	// The stream: per chunk 5 events for each frozen model and 10 labelled
	// events for each online model, interleaved, keyed by model id.
	var recs []*kgo.Record
	var ids []string
	fk := 0
	for c := range chunks {
		for j := range max(perFrozen, perLearner) {
			if j < perFrozen {
				for i, id := range frozen {
					ev := fmt.Sprintf("jf-e%d", fk)
					fk++
					recs = append(recs, &kgo.Record{Key: []byte(id), Value: fmt.Appendf(nil, `{"id":%q,"features":{"x0":%d,"x1":1}}`, ev, (fk+i)%9)})
					ids = append(ids, ev)
				}
			}
			if j < perLearner {
				for i, id := range learners {
					e := evs[i][c*perLearner+j]
					recs = append(recs, &kgo.Record{Key: []byte(id), Value: []byte(e.json())})
					ids = append(ids, e.id)
				}
			}
		}
	}
	chunk := len(recs) / chunks

	out, stopOutputs := followOutputs(t, brokers)
	defer stopOutputs()
	pl := &poller{via: n1, learning: learners, stop: make(chan struct{}), done: make(chan struct{})}
	polled := slices.Clone(nodes) // its own copy: nodes grows below while the poller reads
	pl.nodes.Store(&polled)
	go pl.run(150 * time.Millisecond)
	stopPoller := sync.OnceFunc(func() { close(pl.stop); <-pl.done })
	defer stopPoller()

	var n3p *proc
	var joined time.Time
	prod := newProducer(t, brokers)
	began := time.Now()
	stream(t, prod, recs, chunk, 200*time.Millisecond, map[int]func(){
		joinChunk * chunk: func() {
			joined = time.Now()
			n3p = start(t, "n3", joinNodeArgs("n3", brokers, r3, n1.gossip)...)
			t.Logf("n3 starts joining %s after the stream began, with %d of %d events produced", joined.Sub(began).Round(time.Millisecond), joinChunk*chunk, len(recs))
		},
	})
	streamed := time.Now()
	m := n3p.await(t, nodeLine, 30*time.Second)
	n3 := &node{proc: n3p, http: m[2], gossip: m[3], brokers: brokers}
	if m[4] != r3 {
		t.Fatalf("n3 listens for the cluster on %s, not the address %s it was given", m[4], r3)
	}
	pl.addNode(n3)
	nodes = append(nodes, n3)
	t.Logf("produced %d events in %s (%d frozen, %d labelled for each online model)", len(recs), streamed.Sub(began).Round(time.Millisecond), fk, labelledN)

	// Every event id in the predictions or the dead letters.
	deadline := time.Now().Add(60 * time.Second)
	for len(out.missing(ids)) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	drained := time.Now()

	// The rebalance is over once the partitions are where the balancer
	// plans them and no online model is reported by two nodes; bounded at
	// 60 s after the join.
	settled := func(s joinSample) bool {
		if !slices.Contains(s.members, "n3") || !matches(s.owners, after) {
			return false
		}
		for _, id := range learners {
			if len(s.hosts[id]) > 1 || len(s.active[id]) > 1 {
				return false
			}
		}
		return true
	}
	for time.Now().Before(joined.Add(60 * time.Second)) {
		if ss := pl.snapshot(); len(ss) > 0 && settled(ss[len(ss)-1]) && ss[len(ss)-1].at.After(drained) {
			break
		}
		time.Sleep(150 * time.Millisecond)
	}
	stopPoller()
	samples := pl.snapshot()
	end := samples[len(samples)-1].at

	// --- what the poller saw ---
	var period time.Duration
	if len(samples) > 1 {
		period = samples[len(samples)-1].at.Sub(samples[0].at) / time.Duration(len(samples)-1)
	}
	partial := 0
	for _, s := range samples {
		if s.partial {
			partial++
		}
	}
	t.Logf("poller: %d samples every %s on average through %s (%d failed polls, %d partial answers)", len(samples), period.Round(time.Millisecond), n1.name, pl.errs.Load(), partial)
	first := func(cond func(joinSample) bool) (time.Time, bool) {
		for _, s := range samples {
			if s.at.After(joined) && cond(s) {
				return s.at, true
			}
		}
		return time.Time{}, false
	}
	since := func(at time.Time, ok bool) string {
		if !ok {
			return "never seen"
		}
		return "+" + at.Sub(joined).Round(time.Millisecond).String()
	}
	member, okMember := first(func(s joinSample) bool { return slices.Contains(s.members, "n3") })
	owns, okOwns := first(func(s joinSample) bool {
		for _, o := range s.owners {
			if slices.Contains(o, "n3") {
				return true
			}
		}
		return false
	})
	// Settled: the first sample from which on every sample matches the
	// plan.
	var settle time.Time
	okSettle := false
	for i := len(samples) - 1; i >= 0 && samples[i].at.After(joined) && matches(samples[i].owners, after); i-- {
		settle, okSettle = samples[i].at, true
	}
	var unowned []string
	for _, s := range samples {
		if s.at.After(joined) && len(s.owners) < int(parts) {
			unowned = append(unowned, fmt.Sprintf("+%s %v", s.at.Sub(joined).Round(time.Millisecond), s.owners))
		}
	}
	t.Logf("rebalance: n3 a member at %s, owns its first partition at %s, partitions as planned from %s after the join (samples with a partition owned by nobody: %d)",
		since(member, okMember), since(owns, okOwns), since(settle, okSettle), len(unowned))
	if len(unowned) > 0 {
		t.Logf("  first sample with a partition owned by nobody: %s; last: %s", unowned[0], unowned[len(unowned)-1])
	}

	// Cross-node batches: before the join, during it, after it settled.
	at := func(tm time.Time) int64 { // last counter value sampled at or before tm
		var v int64
		for _, s := range samples {
			if s.at.After(tm) {
				break
			}
			v = s.cross
		}
		return v
	}
	var lastGrew time.Time
	for i := 1; i < len(samples); i++ {
		if samples[i].cross > samples[i-1].cross {
			lastGrew = samples[i].at
		}
	}
	crossEnd, localEnd := samples[len(samples)-1].cross, samples[len(samples)-1].local
	settleAt := end
	if okSettle {
		settleAt = settle
	}
	grew := "never grew"
	if !lastGrew.IsZero() {
		grew = fmt.Sprintf("last grew at +%s after the join", lastGrew.Sub(joined).Round(time.Millisecond))
	}
	t.Logf("cross-node batches: %d before the join, %d from the join until the partitions settled, %d after that (of %d local batches in all); %s; stream ended at +%s",
		at(joined), at(settleAt)-at(joined), crossEnd-at(settleAt), localEnd, grew, streamed.Sub(joined).Round(time.Millisecond))

	// Models on several nodes.
	rebalance := settleAt.Sub(joined)
	var learnerWins [][]window
	for _, id := range learners {
		reported := multiWindows(samples, func(s joinSample) []string { return s.hosts[id] })
		active := multiWindows(samples, func(s joinSample) []string { return s.active[id] })
		learnerWins = append(learnerWins, reported)
		var seen []string
		var prev []string
		for _, s := range samples {
			if h := s.hosts[id]; !slices.Equal(h, prev) {
				seen = append(seen, fmt.Sprintf("%v@%+dms", h, s.at.Sub(joined).Milliseconds()))
				prev = h
			}
		}
		within := "within"
		if longest(reported, end) > rebalance {
			within = "LONGER THAN"
		}
		t.Logf("%s (online, partition %d, %s -> %s): reported by several nodes %s, max %s (%s the rebalance window of %s); active (not loading) on several: %s, max %s; placements seen: %v",
			id, home[id], before[home[id]], after[home[id]], describe(reported, joined, end), longest(reported, end).Round(time.Millisecond),
			within, rebalance.Round(time.Millisecond), describe(active, joined, end), longest(active, end).Round(time.Millisecond), seen)
	}
	for _, id := range frozen {
		ws := multiWindows(samples, func(s joinSample) []string { return s.hosts[id] })
		t.Logf("%s (frozen, partition %d, %s -> %s): replicas on several nodes %s", id, home[id], before[home[id]], after[home[id]], describe(ws, joined, end))
	}

	// --- assertions ---
	out.mu.Lock()
	var deadReports []string
	dups := 0
	for _, id := range ids {
		for _, r := range out.dead[id] {
			deadReports = append(deadReports, id+": "+r)
		}
		dups += max(0, out.predictions[id]+len(out.dead[id])-1)
	}
	out.mu.Unlock()
	lost := out.missing(ids)
	t.Logf("outputs: %d events, %d lost, %d dead letters, %d duplicates (at-least-once redelivery), all read %s after the stream ended",
		len(ids), len(lost), len(deadReports), dups, drained.Sub(streamed).Round(time.Millisecond))
	if len(lost) > 0 {
		byModel := map[string]int{}
		for _, id := range lost {
			if strings.HasPrefix(id, "jf-e") {
				byModel["frozen"]++
			} else {
				byModel[id[:strings.LastIndex(id, "-")]]++
			}
		}
		t.Errorf("%d of %d events have neither a prediction nor a dead letter 60 s after the stream ended (by id prefix %v), first: %v",
			len(lost), len(ids), byModel, lost[:min(len(lost), 10)])
	}
	for i, r := range deadReports {
		if i == 20 {
			t.Errorf("... and %d more dead letters", len(deadReports)-20)
			break
		}
		t.Errorf("dead letter %s", r)
	}

	var c joinClusterView
	if err := getJSON(n1.http+"/v1/cluster", &c); err != nil {
		t.Fatal(err)
	}
	if o := c.owners(); !matches(o, after) || len(o) == 0 {
		t.Errorf("60 s after the join the partitions are owned %v, want the balancer's plan %v", o, after)
	}
	var list modelsOut
	if err := getJSON(n1.http+"/v1/models", &list); err != nil {
		t.Fatal(err)
	}
	onN3 := 0
	for _, mv := range list.Models {
		hosts := hostsOf(mv.Node, mv.Replicas)
		if slices.Contains(hosts, "n3") {
			onN3++
		}
		if after[home[mv.ID]] == "n3" && !slices.Contains(hosts, "n3") {
			t.Errorf("%s (partition %d, owned by n3) is hosted on %v, not on n3", mv.ID, home[mv.ID], hosts)
		}
	}
	t.Logf("n3 hosts %d of %d models; owners now %v", onN3, len(list.Models), c.owners())
	if onN3 == 0 {
		t.Errorf("n3 hosts no model after the join: %+v", list.Models)
	}
	for i, id := range learners {
		if ws := learnerWins[i]; len(ws) > 0 && ws[len(ws)-1].open {
			t.Errorf("%s still reported by %v at +%s after the join: a learning model has one activation once the rebalance is over",
				id, ws[len(ws)-1].nodes, end.Sub(joined).Round(time.Millisecond))
		}
	}
	stateTimeline(t, brokers, joined, learners...)
	if t.Failed() {
		logLog(t, brokers, learners...)
		t.FailNow()
	}
	for i, id := range learners {
		v := learnedExactly(t, n1, id, labelledN, digests[i], 30*time.Second)
		if v.Node != after[home[id]] {
			t.Errorf("%s ends on %s, want %s, the owner of its partition %d", id, v.Node, after[home[id]], home[id])
		}
		logFinal(t, id, v, began)
	}
	logLog(t, brokers, learners...)
}
