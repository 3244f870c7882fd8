package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker"
	"github.com/actorserve/actorserve/actors/broker/brokertest"
	"github.com/actorserve/actorserve/actors/control"
)

// desc stands in for serving.Descriptor.
type desc struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
}

func decodeDesc(key string, v []byte) (desc, error) {
	var d desc
	if err := json.Unmarshal(v, &d); err != nil {
		return desc{}, err
	}
	if d.ID != key {
		return desc{}, fmt.Errorf("descriptor id %q does not match key %q", d.ID, key)
	}
	return d, nil
}

func descJSON(id string, version int64) []byte {
	b, _ := json.Marshal(desc{ID: id, Version: version})
	return b
}

const waitTimeout = 5 * time.Second

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newPublisher returns a publisher whose client is closed before the broker.
func newPublisher(t *testing.T, b *broker.Broker, topic string) (*control.Publisher, *kgo.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return control.NewPublisher(cl, topic), cl
}

func put(t *testing.T, p *control.Publisher, id string, version int64) int64 {
	t.Helper()
	off, err := p.Put(ctxTimeout(t), id, descJSON(id, version))
	if err != nil {
		t.Fatalf("put %s v%d: %v", id, version, err)
	}
	return off
}

type tableOpts struct {
	topic     string
	reg       prometheus.Registerer
	subscribe func(control.Entry[desc]) // subscribed before Run starts
}

// startTable runs a table against b until the test ends (stopped before the broker closes).
func startTable(t *testing.T, b *broker.Broker, o tableOpts) *control.Table[desc] {
	t.Helper()
	cfg := control.DefaultConfig()
	cfg.Brokers = b.Addrs()
	if o.topic != "" {
		cfg.Topic = o.topic
	}
	table, err := control.NewTable(cfg, decodeDesc, brokertest.Logger(t), o.reg)
	if err != nil {
		t.Fatal(err)
	}
	if o.subscribe != nil {
		t.Cleanup(table.Subscribe(o.subscribe))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- table.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v, want nil after cancel", err)
		}
	})
	return table
}

func waitReady(t *testing.T, table *control.Table[desc]) {
	t.Helper()
	if err := table.WaitReady(ctxTimeout(t)); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if !table.Ready() {
		t.Fatal("Ready() = false after WaitReady returned nil")
	}
}

func waitVersion(t *testing.T, table *control.Table[desc], id string, version int64) {
	t.Helper()
	err := table.WaitFor(ctxTimeout(t), id, func(d desc, ok bool) bool { return ok && d.Version == version })
	if err != nil {
		t.Fatalf("WaitFor %s v%d: %v", id, version, err)
	}
}

// recorder collects subscriber calls.
type recorder struct {
	mu      sync.Mutex
	entries []control.Entry[desc]
}

func (r *recorder) add(e control.Entry[desc]) {
	r.mu.Lock()
	r.entries = append(r.entries, e)
	r.mu.Unlock()
}

func (r *recorder) get() []control.Entry[desc] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]control.Entry[desc](nil), r.entries...)
}

func TestReadyAfterCatchUp(t *testing.T) {
	for _, tc := range []struct {
		name       string
		partitions int32
	}{
		{"seeded topic", 0},
		{"three partitions", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := brokertest.New(t)
			topic := control.DefaultTopic
			if tc.partitions > 0 {
				topic = "models.p" + strconv.Itoa(int(tc.partitions))
				createTopic(t, b, topic, tc.partitions)
			}
			pub, _ := newPublisher(t, b, topic)
			const n = 100
			for i := range n {
				put(t, pub, fmt.Sprintf("m%03d", i), int64(i))
			}

			reg := prometheus.NewRegistry()
			table := startTable(t, b, tableOpts{topic: topic, reg: reg})
			waitReady(t, table)
			if got := table.Len(); got != n {
				t.Fatalf("Len() = %d right after WaitReady, want %d", got, n)
			}
			for i := range n {
				id := fmt.Sprintf("m%03d", i)
				if d, ok := table.Get(id); !ok || d.Version != int64(i) {
					t.Fatalf("Get(%s) = %+v, %v; want version %d", id, d, ok, i)
				}
			}
			list := table.List()
			for i, d := range list {
				if d.ID != fmt.Sprintf("m%03d", i) {
					t.Fatalf("List()[%d].ID = %s, want sorted ids", i, d.ID)
				}
			}
			if got := metricValue(t, reg, "actorserve_control_descriptors"); got != n {
				t.Errorf("actorserve_control_descriptors = %v, want %d", got, n)
			}
			if got := metricValue(t, reg, "actorserve_control_records_total"); got != n {
				t.Errorf("actorserve_control_records_total = %v, want %d", got, n)
			}
		})
	}
}

func createTopic(t *testing.T, b *broker.Broker, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctxTimeout(t), partitions, 1,
		map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// metricValue returns the value of the unlabelled counter or gauge name in reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestEmptyTopicReadyAtOnce(t *testing.T) {
	b := brokertest.New(t)
	table := startTable(t, b, tableOpts{})
	waitReady(t, table)
	if table.Len() != 0 || len(table.List()) != 0 {
		t.Fatalf("empty topic: Len() = %d, List() = %v", table.Len(), table.List())
	}
}

func TestMissingTopicReadyAndPickedUpLater(t *testing.T) {
	b := brokertest.New(t)
	const topic = "models.created.later"
	table := startTable(t, b, tableOpts{topic: topic})
	waitReady(t, table)

	createTopic(t, b, topic, 1)
	pub, _ := newPublisher(t, b, topic)
	put(t, pub, "late", 1)
	waitVersion(t, table, "late", 1)
}

func TestFollowsLiveUpdates(t *testing.T) {
	b := brokertest.New(t)
	pub, _ := newPublisher(t, b, "")
	put(t, pub, "a", 1)
	table := startTable(t, b, tableOpts{})
	waitReady(t, table)
	var rec recorder
	defer table.Subscribe(rec.add)()

	offB := put(t, pub, "b", 1)
	offC := put(t, pub, "c", 7)
	waitVersion(t, table, "c", 7)
	if d, ok := table.Get("b"); !ok || d.Version != 1 {
		t.Fatalf("Get(b) = %+v, %v", d, ok)
	}
	eventually(t, "two subscriber calls", func() bool { return len(rec.get()) == 2 })
	want := []control.Entry[desc]{
		{ID: "b", Value: desc{"b", 1}, Offset: offB},
		{ID: "c", Value: desc{"c", 7}, Offset: offC},
	}
	if got := rec.get(); !reflect.DeepEqual(got, want) {
		t.Fatalf("subscriber got %+v, want %+v", got, want)
	}
}

func TestTombstoneRemovesAndNotifies(t *testing.T) {
	b := brokertest.New(t)
	reg := prometheus.NewRegistry()
	pub, _ := newPublisher(t, b, "")
	put(t, pub, "keep", 1)
	put(t, pub, "gone", 1)
	table := startTable(t, b, tableOpts{reg: reg})
	waitReady(t, table)
	var rec recorder
	cancel := table.Subscribe(rec.add)
	defer cancel()

	if err := pub.Delete(ctxTimeout(t), "gone"); err != nil {
		t.Fatal(err)
	}
	if err := table.WaitFor(ctxTimeout(t), "gone", func(_ desc, ok bool) bool { return !ok }); err != nil {
		t.Fatal(err)
	}
	if table.Len() != 1 {
		t.Fatalf("Len() = %d after tombstone, want 1", table.Len())
	}
	eventually(t, "a deletion entry", func() bool { return len(rec.get()) == 1 })
	if e := rec.get()[0]; e.ID != "gone" || !e.Deleted || e.Value != (desc{}) || e.Offset != 2 {
		t.Fatalf("subscriber got %+v, want deletion of gone at offset 2", e)
	}
	if got := metricValue(t, reg, "actorserve_control_descriptors"); got != 1 {
		t.Errorf("actorserve_control_descriptors = %v, want 1", got)
	}

	// A tombstone for an unknown id changes nothing and notifies nobody; after cancel, the
	// subscriber hears nothing more.
	cancel()
	if err := pub.Delete(ctxTimeout(t), "never-existed"); err != nil {
		t.Fatal(err)
	}
	put(t, pub, "after", 1)
	waitVersion(t, table, "after", 1)
	if got := len(rec.get()); got != 1 {
		t.Fatalf("subscriber got %d entries after cancel, want still 1", got)
	}
}

func TestLaterVersionReplacesEarlier(t *testing.T) {
	b := brokertest.New(t)
	pub, _ := newPublisher(t, b, "")
	put(t, pub, "iris", 1)
	put(t, pub, "iris", 2)
	var rec recorder
	table := startTable(t, b, tableOpts{subscribe: rec.add}) // subscribed before the catch-up: sees it too
	waitReady(t, table)
	if d, _ := table.Get("iris"); d.Version != 2 || table.Len() != 1 {
		t.Fatalf("after catch-up Get(iris) = %+v, Len() = %d; want version 2, 1 entry", d, table.Len())
	}
	put(t, pub, "iris", 3)
	waitVersion(t, table, "iris", 3)
	eventually(t, "three subscriber calls", func() bool { return len(rec.get()) == 3 })
	for i, e := range rec.get() {
		if e.Value.Version != int64(i+1) || e.Offset != int64(i) {
			t.Fatalf("entry %d = %+v, want version %d at offset %d (offset order)", i, e, i+1, i)
		}
	}
}

func TestDecodeErrorsSkippedAndCounted(t *testing.T) {
	b := brokertest.New(t)
	reg := prometheus.NewRegistry()
	pub, cl := newPublisher(t, b, "")
	put(t, pub, "good", 1)
	if _, err := pub.Put(ctxTimeout(t), "good", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Put(ctxTimeout(t), "other", descJSON("mismatched-id", 1)); err != nil {
		t.Fatal(err)
	}
	// A record without a key cannot name a model.
	if err := cl.ProduceSync(ctxTimeout(t), &kgo.Record{Topic: control.DefaultTopic, Value: descJSON("", 1)}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	table := startTable(t, b, tableOpts{reg: reg})
	waitReady(t, table)
	if d, ok := table.Get("good"); !ok || d.Version != 1 {
		t.Fatalf("Get(good) = %+v, %v; want the last good value, version 1", d, ok)
	}
	if _, ok := table.Get("other"); ok || table.Len() != 1 {
		t.Fatalf("undecodable records entered the table: %+v", table.List())
	}
	if got := metricValue(t, reg, "actorserve_control_decode_errors_total"); got != 3 {
		t.Errorf("actorserve_control_decode_errors_total = %v, want 3", got)
	}

	// The table keeps following after bad records.
	if _, err := pub.Put(ctxTimeout(t), "good", []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	put(t, pub, "good", 2)
	waitVersion(t, table, "good", 2)
	if got := metricValue(t, reg, "actorserve_control_decode_errors_total"); got != 4 {
		t.Errorf("actorserve_control_decode_errors_total = %v, want 4", got)
	}
	if got := metricValue(t, reg, "actorserve_control_records_total"); got != 6 {
		t.Errorf("actorserve_control_records_total = %v, want 6", got)
	}
}

func TestDecoderPanicIsADecodeError(t *testing.T) {
	b := brokertest.New(t)
	pub, _ := newPublisher(t, b, "")
	put(t, pub, "boom", 1)
	put(t, pub, "fine", 1)
	cfg := control.Config{Brokers: b.Addrs()}
	table, err := control.NewTable(cfg, func(key string, v []byte) (desc, error) {
		if key == "boom" {
			panic("bad input")
		}
		return decodeDesc(key, v)
	}, brokertest.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- table.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := table.WaitReady(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	if _, ok := table.Get("boom"); ok || table.Len() != 1 {
		t.Fatalf("table = %+v, want only fine", table.List())
	}
}

func TestWaitFor(t *testing.T) {
	b := brokertest.New(t)
	pub, _ := newPublisher(t, b, "")
	table := startTable(t, b, tableOpts{})
	waitReady(t, table)

	errc := make(chan error, 1)
	go func() {
		errc <- table.WaitFor(ctxTimeout(t), "x", func(d desc, ok bool) bool { return ok && d.Version >= 2 })
	}()
	put(t, pub, "x", 1)
	put(t, pub, "x", 2)
	if err := <-errc; err != nil {
		t.Fatalf("WaitFor: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := table.WaitFor(ctx, "x", func(d desc, ok bool) bool { return d.Version == 99 })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor never-true cond = %v, want context.DeadlineExceeded", err)
	}
}

func TestTwoTablesSeeTheSame(t *testing.T) {
	b := brokertest.New(t)
	pub, _ := newPublisher(t, b, "")
	for i := range 10 {
		put(t, pub, fmt.Sprintf("pre%d", i), 1)
	}
	t1 := startTable(t, b, tableOpts{reg: prometheus.NewRegistry()})
	t2 := startTable(t, b, tableOpts{reg: prometheus.NewRegistry()})
	waitReady(t, t1)
	waitReady(t, t2)
	for i := range 10 {
		put(t, pub, fmt.Sprintf("live%d", i), int64(i))
	}
	put(t, pub, "pre3", 2)
	if err := pub.Delete(ctxTimeout(t), "pre4"); err != nil {
		t.Fatal(err)
	}
	put(t, pub, "last", 1)
	for _, table := range []*control.Table[desc]{t1, t2} {
		waitVersion(t, table, "last", 1)
	}
	l1, l2 := t1.List(), t2.List()
	if !reflect.DeepEqual(l1, l2) || len(l1) != 20 {
		t.Fatalf("tables differ or wrong size:\n%+v\n%+v", l1, l2)
	}
}

func TestFollowsAcrossBrokerRestart(t *testing.T) {
	dir := t.TempDir()
	logger := brokertest.Logger(t)
	b1, err := broker.New(broker.Config{DataDir: dir}, logger)
	if err != nil {
		t.Fatal(err)
	}
	addr := b1.Addrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	pub := control.NewPublisher(cl, "")
	put(t, pub, "a", 1)
	cl.Close()

	var b2 *broker.Broker
	t.Cleanup(func() {
		if b2 != nil {
			b2.Close()
		}
	})
	table := startTable(t, b1, tableOpts{}) // stopped before b2 closes
	waitReady(t, table)

	b1.Close()
	b2, err = broker.New(broker.Config{DataDir: dir, Listen: addr}, logger)
	if err != nil {
		t.Fatalf("restart broker on %s: %v", addr, err)
	}
	pub2, _ := newPublisher(t, b2, "")
	put(t, pub2, "b", 1)
	put(t, pub2, "a", 2)
	waitVersion(t, table, "a", 2)
	if _, ok := table.Get("b"); !ok || table.Len() != 2 {
		t.Fatalf("after restart table = %+v, want a and b", table.List())
	}
}

func TestWaitReadyTimesOutWithoutBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now

	cfg := control.Config{Brokers: []string{addr}, ReadyTimeout: 200 * time.Millisecond}
	table, err := control.NewTable(cfg, decodeDesc, brokertest.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := table.WaitReady(t.Context()); !errors.Is(err, control.ErrNotReady) {
		t.Fatalf("WaitReady before Run = %v, want ErrNotReady", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- table.Run(ctx) }()
	err = table.WaitReady(t.Context())
	cancel()
	if runErr := <-done; runErr != nil {
		t.Errorf("Run = %v after cancel, want nil", runErr)
	}
	if !errors.Is(err, control.ErrNotReady) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady = %v, want ErrNotReady and DeadlineExceeded", err)
	}
	t.Logf("WaitReady error text: %v", err)
	if table.Ready() {
		t.Fatal("Ready() = true without a broker")
	}
	if err := table.Run(context.Background()); err == nil {
		t.Fatal("second Run returned nil, want an error")
	}
}

func TestPublisherRejectsEmpty(t *testing.T) {
	b := brokertest.New(t)
	pub, _ := newPublisher(t, b, "")
	if _, err := pub.Put(t.Context(), "", []byte("{}")); !errors.Is(err, control.ErrEmptyID) {
		t.Errorf("Put empty id = %v, want ErrEmptyID", err)
	}
	if _, err := pub.Put(t.Context(), "x", nil); !errors.Is(err, control.ErrEmptyValue) {
		t.Errorf("Put empty value = %v, want ErrEmptyValue", err)
	}
	if err := pub.Delete(t.Context(), ""); !errors.Is(err, control.ErrEmptyID) {
		t.Errorf("Delete empty id = %v, want ErrEmptyID", err)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  control.Config
		ok   bool
	}{
		{"ok", control.Config{Brokers: []string{"127.0.0.1:9092"}}, true},
		{"no brokers", control.Config{}, false},
		{"broker without port", control.Config{Brokers: []string{"kafka"}}, false},
		{"negative timeout", control.Config{Brokers: []string{"k:1"}, ReadyTimeout: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, control.ErrInvalidConfig)) {
				t.Fatalf("Validate() = %v, want ok=%v (errors wrap ErrInvalidConfig)", err, tc.ok)
			}
		})
	}
	if _, err := control.NewTable[desc](control.Config{Brokers: []string{"k:1"}}, nil, nil, nil); !errors.Is(err, control.ErrInvalidConfig) {
		t.Errorf("NewTable with nil decode = %v, want ErrInvalidConfig", err)
	}

	var cfg control.Config
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if cfg.Topic != control.DefaultTopic {
		t.Fatalf("default topic = %q", cfg.Topic)
	}
	if err := fs.Parse([]string{"--models-topic", "my.models"}); err != nil || cfg.Topic != "my.models" {
		t.Fatalf("parse: %v, topic %q", err, cfg.Topic)
	}

	reg := prometheus.NewRegistry()
	ok := control.Config{Brokers: []string{"k:1"}}
	if _, err := control.NewTable(ok, decodeDesc, nil, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := control.NewTable(ok, decodeDesc, nil, reg); err == nil {
		t.Fatal("second table on one registry: want a registration error")
	}
}
