package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The fault suite: a broker with a data directory and three node processes
// under a steady stream keyed by model id, one fault per scenario. Each
// scenario checks every event id (a prediction, or a dead letter for the
// malformed ones and only those) and prints one line; TestFaultSuite prints
// the table at the end. Run it alone with
//
//	go test ./cmd/actorserve -run TestFaultSuite -v
const (
	faultEvents = 16000 // per scenario
	faultRate   = 2000  // events/s: an 8 s stream
	faultAt     = 3 * time.Second
	faultModels = 12
)

// faultRig is one scenario's broker and nodes.
type faultRig struct {
	t       *testing.T
	dir     string
	brokers string
	broker  *proc
	nodes   map[string]*node
	// net, when set, puts each node in a network namespace of its own on
	// a bridge, so that one can be cut off the network.
	net *bridgeNet
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newFaultRig(t *testing.T, netns bool) *faultRig {
	r := &faultRig{t: t, dir: t.TempDir(), nodes: map[string]*node{}}
	host := "127.0.0.1"
	if netns {
		r.net = newBridgeNet(t, 3)
		host = r.net.hostIP
	}
	r.brokers = fmt.Sprintf("%s:%d", host, freePort(t))
	r.startBroker()
	for _, name := range []string{"n1", "n2", "n3"} {
		join := ""
		if name != "n1" {
			join = r.nodes["n1"].gossip
		}
		r.startNode(name, join)
	}
	r.waitMembers(3, "n1", "n2", "n3")
	return r
}

func (r *faultRig) startBroker() {
	r.broker = startWith(r.t, nil, "broker", "broker", "--listen", r.brokers, "--data-dir", r.dir, "--log-level", "warn")
	r.broker.await(r.t, regexp.MustCompile(`kafka broker listening on (\S+)`), 30*time.Second)
}

func (r *faultRig) startNode(name, join string) *node {
	ip := "127.0.0.1"
	var prefix []string
	if r.net != nil {
		i := int(name[1] - '1')
		ip = r.net.nodeIP[i]
		prefix = []string{"ip", "netns", "exec", r.net.ns[i]}
	}
	args := []string{"node", "--name", name, "--gossip", ip + ":0", "--remote", ip + ":0",
		"--http", ip + ":0", "--brokers", r.brokers, "--log-level", "warn", "--log-format", "text"}
	if r.net != nil {
		// Reachable addresses in plaintext: the test network is private.
		args = append(args, "--insecure-no-auth", "--insecure-cluster")
	}
	if join != "" {
		args = append(args, "--join", join)
	}
	p := startWith(r.t, prefix, name, args...)
	m := p.await(r.t, nodeLine, 60*time.Second)
	n := &node{proc: p, http: m[2], gossip: m[3], brokers: r.brokers}
	r.nodes[name] = n
	return n
}

// waitMembers waits until each named node is ready and sees n members.
func (r *faultRig) waitMembers(n int, names ...string) {
	for _, name := range names {
		nd := r.nodes[name]
		eventually(r.t, 60*time.Second, func() error {
			var c struct {
				Members []any `json:"members"`
			}
			if err := getJSON(nd.http+"/readyz", nil); err != nil {
				return err
			}
			if err := getJSON(nd.http+"/v1/cluster", &c); err != nil {
				return err
			}
			if len(c.Members) != n {
				return fmt.Errorf("%s sees %d members, want %d", name, len(c.Members), n)
			}
			return nil
		})
	}
}

// faultResult is one row of the suite's table.
type faultResult struct {
	scenario                string
	events, lost, dups      int
	deadLetters, malformed  int
	longestGap, answerAgain time.Duration
}

// faultScenario injects a fault into r (and heals it); n1, the seed,
// keeps running throughout and is the node asked.
type faultScenario struct {
	name      string
	malformed bool // 1 % of the events are not JSON
	netns     bool // the nodes run in network namespaces
	inject    func(r *faultRig)
}

var idInValue = regexp.MustCompile(`"id":"(e\d+)"`)

func runFaultScenario(t *testing.T, sc faultScenario) faultResult {
	r := newFaultRig(t, sc.netns)
	ids := deployModels(t, r.nodes["n1"], faultModels)

	var mu sync.Mutex
	var wrongValues []string
	modelIndex := map[string]int{}
	for i, id := range ids {
		modelIndex[id] = i
	}
	preds := make([]int, faultEvents)
	dead := make([]int, faultEvents)
	var predTimes []time.Time
	cons, err := kgo.NewClient(kgo.SeedBrokers(r.brokers), kgo.ConsumeTopics("actorserve.predictions", "actorserve.deadletter"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	readCtx, stopRead := context.WithCancel(context.Background())
	defer stopRead()
	go func() {
		for readCtx.Err() == nil {
			cons.PollFetches(readCtx).EachRecord(func(rec *kgo.Record) {
				m := idInValue.FindSubmatch(rec.Value)
				if m == nil {
					return
				}
				var k int
				if _, err := fmt.Sscanf(string(m[1]), "e%d", &k); err != nil || k < 0 || k >= faultEvents {
					return
				}
				var value float64
				wrong := ""
				if rec.Topic == "actorserve.predictions" {
					// model i computes i*x0 + x1 + 0.5; event k has x0 = k%9, x1 = 1.
					var p struct {
						Model      string `json:"model"`
						Prediction struct {
							Value *float64 `json:"value"`
						} `json:"prediction"`
					}
					i, ok := -1, false
					if json.Unmarshal(rec.Value, &p) == nil && p.Prediction.Value != nil {
						i, ok = modelIndex[p.Model]
						value = *p.Prediction.Value
					}
					if want := float64(i)*float64(k%9) + 1.5; !ok || i != k%faultModels || math.Abs(value-want) > 1e-9 {
						wrong = fmt.Sprintf("e%d: %s", k, rec.Value)
					}
				}
				mu.Lock()
				if wrong != "" {
					wrongValues = append(wrongValues, wrong)
				}
				if rec.Topic == "actorserve.predictions" {
					preds[k]++
					predTimes = append(predTimes, rec.Timestamp)
				} else {
					dead[k]++
				}
				mu.Unlock()
			})
		}
	}()

	prod, err := kgo.NewClient(kgo.SeedBrokers(r.brokers), kgo.DefaultProduceTopic("actorserve.events"), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	malformed := make([]bool, faultEvents)
	var produceErrs atomic.Int64
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		per := faultRate / 100
		for k := 0; k < faultEvents; {
			<-tick.C
			for j := 0; j < per && k < faultEvents; j, k = j+1, k+1 {
				v := fmt.Sprintf(`{"id":"e%d","features":{"x0":%d,"x1":1}}`, k, k%9)
				if sc.malformed && k%100 == 42 {
					malformed[k] = true
					v = fmt.Sprintf(`{"id":"e%d","features":{"x0":`, k) // cut short
				}
				prod.Produce(context.Background(), &kgo.Record{Key: []byte(ids[k%faultModels]), Value: []byte(v)}, func(_ *kgo.Record, err error) {
					if err != nil {
						produceErrs.Add(1)
					}
				})
			}
		}
	}()

	time.Sleep(faultAt)
	// Models answering again: from the fault on, every model is asked
	// through a node that keeps running, until all answer.
	via := r.nodes["n1"]
	faultTime := time.Now()
	answered := make(chan time.Duration, 1)
	go func() {
		deadline := time.Now().Add(120 * time.Second)
		for time.Now().Before(deadline) {
			ok := true
			for i, id := range ids {
				if _, err := predict(via, id, i, 2, 1); err != nil {
					ok = false
					break
				}
			}
			if ok {
				answered <- time.Since(faultTime)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		answered <- -1
	}()
	sc.inject(r)
	answerAgain := <-answered
	if answerAgain < 0 {
		t.Fatalf("not every model answered through n1 within 120 s of the fault")
	}
	<-streamed
	if err := prod.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := produceErrs.Load(); n > 0 {
		t.Fatalf("%d events could not be produced", n)
	}
	// Every event: a prediction, or a dead letter when malformed.
	outcome := func() (lost, dups, deadN, wrong int) {
		mu.Lock()
		defer mu.Unlock()
		for k := range faultEvents {
			switch {
			case malformed[k] && dead[k] == 0:
				lost++
			case malformed[k]:
			case preds[k] == 0:
				lost++
			}
			if preds[k] > 1 {
				dups += preds[k] - 1
			}
			deadN += dead[k]
			if dead[k] > 0 && !malformed[k] {
				wrong++
			}
		}
		return
	}
	eventually(t, 120*time.Second, func() error {
		if lost, _, _, _ := outcome(); lost > 0 {
			return fmt.Errorf("%d of %d events without their output yet", lost, faultEvents)
		}
		return nil
	})
	lost, dups, deadN, wrong := outcome()
	if wrong > 0 {
		t.Errorf("%d well-formed events became dead letters", wrong)
	}
	mu.Lock()
	if len(wrongValues) > 0 {
		t.Errorf("%d predictions with a wrong model or value, e.g. %s", len(wrongValues), wrongValues[0])
	}
	mu.Unlock()
	mu.Lock()
	times := slices.Clone(predTimes)
	mu.Unlock()
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	var gap time.Duration
	for i := 1; i < len(times); i++ {
		gap = max(gap, times[i].Sub(times[i-1]))
	}
	nm := 0
	for _, m := range malformed {
		if m {
			nm++
		}
	}
	res := faultResult{scenario: sc.name, events: faultEvents, lost: lost, dups: dups, deadLetters: deadN, malformed: nm,
		longestGap: gap, answerAgain: answerAgain}
	t.Logf("%s: %d events, %d lost, %d duplicates, %d dead letters (%d malformed), longest gap in predictions %v, all models answering %v after the fault",
		res.scenario, res.events, res.lost, res.dups, res.deadLetters, res.malformed, res.longestGap.Round(time.Millisecond), res.answerAgain.Round(time.Millisecond))
	return res
}

func signalProc(t *testing.T, p *proc, s syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		t.Fatalf("signal %v to %s: %v", s, p.name, err)
	}
}

// TestFaultSuite runs every scenario and prints the table.
func TestFaultSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	scenarios := []faultScenario{
		{name: "SIGKILL a node", inject: func(r *faultRig) {
			signalProc(r.t, r.nodes["n2"].proc, syscall.SIGKILL)
		}},
		{name: "SIGKILL a node and restart it", inject: func(r *faultRig) {
			signalProc(r.t, r.nodes["n2"].proc, syscall.SIGKILL)
			<-r.nodes["n2"].done
			time.Sleep(time.Second)
			r.startNode("n2", r.nodes["n1"].gossip)
		}},
		{name: "SIGSTOP a node 15 s, then SIGCONT", inject: func(r *faultRig) {
			signalProc(r.t, r.nodes["n2"].proc, syscall.SIGSTOP)
			time.Sleep(15 * time.Second)
			signalProc(r.t, r.nodes["n2"].proc, syscall.SIGCONT)
		}},
		{name: "SIGKILL the broker, restart it", inject: func(r *faultRig) {
			signalProc(r.t, r.broker, syscall.SIGKILL)
			<-r.broker.done
			time.Sleep(3 * time.Second)
			r.startBroker()
		}},
		{name: "SIGTERM a node", inject: func(r *faultRig) {
			signalProc(r.t, r.nodes["n2"].proc, syscall.SIGTERM)
		}},
		{name: "1 % malformed input", malformed: true, inject: func(*faultRig) {}},
		{name: "network partition of a node 12 s", netns: true, inject: func(r *faultRig) {
			r.net.cut(r.t, 1)
			// The others must see it gone (or the cut did nothing) ...
			seen := false
			for end := time.Now().Add(12 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
				var c struct {
					Members []any `json:"members"`
				}
				if getJSON(r.nodes["n1"].http+"/v1/cluster", &c) == nil && len(c.Members) == 2 {
					seen = true
				}
			}
			if !seen {
				r.t.Errorf("n1 never saw the cut-off node leave: the partition did not happen")
			}
			r.net.heal(r.t, 1)
			// ... and it comes back, under a new member id.
			r.waitMembers(3, "n1", "n2", "n3")
		}},
	}
	var rows []faultResult
	for _, sc := range scenarios {
		t.Run(strings.ReplaceAll(sc.name, " ", "_"), func(t *testing.T) {
			res := runFaultScenario(t, sc)
			if res.lost > 0 {
				t.Errorf("%d events lost", res.lost)
			}
			rows = append(rows, res)
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| scenario | events | lost | duplicates | dead letters | longest gap in predictions | all models answer after |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %v | %v |\n", r.scenario, r.events, r.lost, r.dups, r.deadLetters,
			r.longestGap.Round(10*time.Millisecond), r.answerAgain.Round(10*time.Millisecond))
	}
	t.Log(b.String())
}

// startWith starts the test binary as actorserve with args, behind the
// command prefix (for example ip netns exec NS); see start.
func startWith(t *testing.T, prefix []string, name string, args ...string) *proc {
	t.Helper()
	if len(prefix) == 0 {
		return start(t, name, args...)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prefix[0], append(append(prefix[1:len(prefix):len(prefix)], self), args...)...)
	cmd.Env = append(os.Environ(), asBinary+"=1")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	p := &proc{name: name, cmd: cmd, out: newLineBuf(), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.out.consume(stdout) }()
	go func() { defer wg.Done(); p.out.consume(stderr) }()
	go func() { wg.Wait(); _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, p.out.String())
		}
	})
	return p
}

// bridgeNet is a private network for a test: a bridge in this namespace
// (the broker's side) and one network namespace per node, each joined to
// the bridge by a veth pair. Cutting a node sets its end down: gossip,
// remoting and Kafka traffic stop both ways, as in a real partition.
type bridgeNet struct {
	bridge string
	hostIP string
	ns     []string
	veth   []string // the namespace side of each pair
	nodeIP []string
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s (the partition scenario needs root and network namespaces: ip netns, veth, bridge)", strings.Join(args, " "), err, out)
	}
}

func newBridgeNet(t *testing.T, nodes int) *bridgeNet {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("the partition scenario needs the ip tool (iproute2): %v", err)
	}
	id := os.Getpid() % 10000
	sub := 100 + id%150
	b := &bridgeNet{bridge: fmt.Sprintf("asbr%d", id), hostIP: fmt.Sprintf("10.213.%d.1", sub)}
	ipCmd(t, "link", "add", b.bridge, "type", "bridge")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", b.bridge).Run() })
	ipCmd(t, "addr", "add", b.hostIP+"/24", "dev", b.bridge)
	ipCmd(t, "link", "set", b.bridge, "up")
	for i := range nodes {
		ns := fmt.Sprintf("as%d-n%d", id, i+1)
		host, peer := fmt.Sprintf("asv%dh%d", id, i+1), fmt.Sprintf("asv%dn%d", id, i+1)
		ip := fmt.Sprintf("10.213.%d.%d", sub, 11+i)
		ipCmd(t, "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		ipCmd(t, "link", "add", host, "type", "veth", "peer", "name", peer)
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
		ipCmd(t, "link", "set", peer, "netns", ns)
		ipCmd(t, "netns", "exec", ns, "ip", "addr", "add", ip+"/24", "dev", peer)
		ipCmd(t, "netns", "exec", ns, "ip", "link", "set", peer, "up")
		ipCmd(t, "netns", "exec", ns, "ip", "link", "set", "lo", "up")
		ipCmd(t, "link", "set", host, "master", b.bridge)
		ipCmd(t, "link", "set", host, "up")
		b.ns, b.veth, b.nodeIP = append(b.ns, ns), append(b.veth, peer), append(b.nodeIP, ip)
	}
	return b
}

// cut takes node i off the network; heal puts it back.
func (b *bridgeNet) cut(t *testing.T, i int) {
	ipCmd(t, "netns", "exec", b.ns[i], "ip", "link", "set", b.veth[i], "down")
}

func (b *bridgeNet) heal(t *testing.T, i int) {
	ipCmd(t, "netns", "exec", b.ns[i], "ip", "link", "set", b.veth[i], "up")
}
