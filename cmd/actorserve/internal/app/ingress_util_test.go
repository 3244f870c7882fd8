package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/actorserve/actorserve/actors/broker"
	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/linear"
)

// Helpers of the Kafka ingress tests (ingress_test.go): a node on a given
// broker, deploys over HTTP, a producer, and a watcher that collects the
// predictions and dead letters the node writes.

const (
	ingEventsTopic      = "actorserve.events"
	ingPredictionsTopic = "actorserve.predictions"
	ingDeadLetterTopic  = "actorserve.deadletter"
	ingEventPartitions  = 6
)

// ingBroker starts an in-memory embedded broker (as brokertest.New) that
// logs only warnings, so -v output stays readable.
func ingBroker(t testing.TB) *broker.Broker {
	t.Helper()
	b, err := broker.New(broker.Config{}, ingLogger(t))
	if err != nil {
		t.Fatalf("start embedded broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// ingStartNode starts a node named name on brokers with the format
// registry reg (nil = built-ins) and waits until it is ready; adjust tunes
// the configuration. The node is closed when the test ends.
func ingStartNode(t testing.TB, brokers []string, name string, reg *serving.Registry, adjust func(*NodeConfig)) *Node {
	t.Helper()
	cfg := DefaultNodeConfig()
	cfg.Brokers = brokers
	cfg.Cluster.Gossip = "127.0.0.1:0"
	cfg.Cluster.Remote = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Cluster.Name = name
	if adjust != nil {
		adjust(&cfg)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	n, err := StartNodeWith(ctx, cfg, reg, ingLogger(t))
	if err != nil {
		t.Fatalf("start node %s: %v", name, err)
	}
	t.Cleanup(n.Close)
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("node %s not ready: %v", name, err)
	}
	if n.Ingress == nil {
		t.Fatalf("node %s runs no ingress", name)
	}
	return n
}

// ingRegistry returns the built-in formats plus extra ones.
func ingRegistry(extra map[string]serving.Loader) *serving.Registry {
	reg := serving.NewRegistry()
	linear.Register(reg)
	for f, l := range extra {
		reg.Register(f, l)
	}
	return reg
}

// ingDeploy PUTs desc as model id and waits until the node's descriptor
// table holds the version the API assigned.
func ingDeploy(t testing.TB, n *Node, id string, desc map[string]any) {
	t.Helper()
	body, err := json.Marshal(desc)
	if err != nil {
		t.Fatalf("encode descriptor %s: %v", id, err)
	}
	// Generous: a 100,000-feature model under -race on a loaded 2-core
	// machine took over 10 s; this bounds a hang, not the deploy's speed.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "PUT", "http://"+n.HTTPAddr()+"/v1/models/"+id, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("deploy %s: %v", id, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("deploy %s: status %d, body %s", id, resp.StatusCode, out)
	}
	var d struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(out, &d); err != nil || d.Version < 1 {
		t.Fatalf("deploy %s answered %s (%v)", id, out, err)
	}
	ingEventually(t, 10*time.Second, func() error {
		got, ok := n.Table.Get(id)
		if !ok || got.Version != d.Version {
			return fmt.Errorf("descriptor table has no %s version %d yet", id, d.Version)
		}
		return nil
	})
}

// ingLinear returns a linear descriptor body.
func ingLinear(features, labels []string, coef [][]float64, icpt []float64, link string) map[string]any {
	d := map[string]any{
		"format":   "linear",
		"data":     map[string]any{"coefficients": coef, "intercepts": icpt, "link": link},
		"features": features,
	}
	if labels != nil {
		d["labels"] = labels
	}
	return d
}

// ingProducer returns a producer on brokers (linger 0), closed at the end
// of the test.
func ingProducer(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0)}, opts...)...)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ingProduce writes recs synchronously and fails the test on any error;
// the records come back with their partition and offset set.
func ingProduce(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records: %v", len(recs), err)
	}
}

// ingEvent builds an events-topic record with key (nil = none) and value.
func ingEvent(key string, value []byte, headers ...kgo.RecordHeader) *kgo.Record {
	r := &kgo.Record{Topic: ingEventsTopic, Value: value, Headers: headers}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

// ingJSON encodes v or panics (test data only).
func ingJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// ingPartitionOf is the partition franz-go's default partitioner (murmur2,
// as Kafka's Java client) picks for key on the events topic.
func ingPartitionOf(key string) int32 {
	p := kgo.StickyKeyPartitioner(nil).ForTopic(ingEventsTopic)
	return int32(p.Partition(&kgo.Record{Key: []byte(key)}, ingEventPartitions))
}

// ingOut is one record the node wrote.
type ingOut struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   map[string]string
	Time      time.Time     // the record's timestamp (when the node wrote it)
	Pred      ingPrediction // decoded for predictions
	DecodeErr error
}

// ingPrediction is a prediction record as the ingress writes it.
type ingPrediction struct {
	Model      string `json:"model" msgpack:"model"`
	Version    int64  `json:"version" msgpack:"version"`
	ID         string `json:"id" msgpack:"id"`
	Prediction struct {
		Label  string             `json:"label" msgpack:"label"`
		Scores map[string]float64 `json:"scores" msgpack:"scores"`
		Value  *float64           `json:"value" msgpack:"value"`
	} `json:"prediction" msgpack:"prediction"`
	User      map[string]any `json:"user" msgpack:"user"`
	Node      string         `json:"node" msgpack:"node"`
	LatencyUS int64          `json:"latency_us" msgpack:"latency_us"`
}

// ingWatcher reads the predictions and dead-letter topics from the start
// in the background.
type ingWatcher struct {
	mu    sync.Mutex
	preds []ingOut
	dead  []ingOut
	// per event id (predictions) and per "id/model"
	byID      map[string]int
	byIDModel map[string]int
	byModel   map[string]int
}

func ingWatch(t testing.TB, brokers []string) *ingWatcher {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(ingPredictionsTopic, ingDeadLetterTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatalf("watcher: %v", err)
	}
	w := &ingWatcher{byID: map[string]int{}, byIDModel: map[string]int{}, byModel: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachRecord(w.add)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
	return w
}

func (w *ingWatcher) add(r *kgo.Record) {
	o := ingOut{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Headers: map[string]string{}, Time: r.Timestamp}
	for _, h := range r.Headers {
		o.Headers[h.Key] = string(h.Value)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.Topic == ingDeadLetterTopic {
		w.dead = append(w.dead, o)
		return
	}
	if o.Headers["content-type"] == "application/msgpack" {
		o.DecodeErr = msgpack.Unmarshal(r.Value, &o.Pred)
	} else {
		o.DecodeErr = json.Unmarshal(r.Value, &o.Pred)
	}
	w.preds = append(w.preds, o)
	w.byID[o.Pred.ID]++
	w.byIDModel[o.Pred.ID+"/"+o.Pred.Model]++
	w.byModel[o.Pred.Model]++
}

// predictions returns a copy of the predictions seen so far.
func (w *ingWatcher) predictions() []ingOut {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]ingOut(nil), w.preds...)
}

// deadLetters returns a copy of the dead letters seen so far.
func (w *ingWatcher) deadLetters() []ingOut {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]ingOut(nil), w.dead...)
}

// undecodable returns an error describing the first prediction that did
// not decode (in the encoding its content-type header names), or nil.
func (w *ingWatcher) undecodable() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.preds {
		if p.DecodeErr != nil {
			return fmt.Errorf("prediction %q (content-type %q) does not decode: %v", p.Value, p.Headers["content-type"], p.DecodeErr)
		}
	}
	return nil
}

// count returns how many predictions were seen for event id.
func (w *ingWatcher) count(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byID[id]
}

// countModel returns how many predictions model wrote.
func (w *ingWatcher) countModel(model string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byModel[model]
}

// countIDModel returns how many predictions of model were seen for id.
func (w *ingWatcher) countIDModel(id, model string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byIDModel[id+"/"+model]
}

// duplicates lists the event ids with more than one prediction.
func (w *ingWatcher) duplicates() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := map[string]int{}
	for id, c := range w.byIDModel {
		if c > 1 {
			d[id] = c
		}
	}
	return d
}

// ingEventually polls cond every 10 ms until it returns nil or timeout
// passes, then fails with cond's last error.
func ingEventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ingCommitted returns the group's committed offset of each events-topic
// partition (-1 = none).
func ingCommitted(t testing.TB, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets of group %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p := range int32(ingEventPartitions) {
		out[p] = -1
		if o, ok := offs.Lookup(topic, p); ok && o.Err == nil {
			out[p] = o.At
		}
	}
	return out
}

func ingNear(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// ingLogger logs warnings and errors to t.Log and goes quiet when the test
// ends, so goroutines that outlive it cannot panic the test binary.
func ingLogger(t testing.TB) *slog.Logger {
	w := &ingLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type ingLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *ingLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimSuffix(p, []byte("\n"))))
	}
	return len(p), nil
}

// inOwnProcess runs the calling test again in a process of its own and
// reports whether the caller is that process (and should run the test's
// body). Tests that measure the heap use it: in the package's test binary
// the heap also holds what earlier tests left to collect (their nodes,
// brokers and goroutines winding down), which moved such figures by tens of
// MiB on a loaded machine. The child inherits the environment (GORACE too,
// so its race reports go where the parent's do).
func inOwnProcess(t *testing.T, logFile string) bool {
	t.Helper()
	if os.Getenv("ACTORSERVE_TEST_ISOLATED") == t.Name() {
		return true
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "ACTORSERVE_TEST_ISOLATED="+t.Name())
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, logFile) {
			t.Log(strings.TrimSpace(line))
		}
	}
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	return false
}
