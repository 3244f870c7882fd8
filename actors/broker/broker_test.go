package broker_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker"
	"github.com/actorserve/actorserve/actors/broker/brokertest"
)

func newClient(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.ProducerLinger(0)}, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes n keyed records to topic and waits for the acks.
func produce(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records to %s: %v", n, topic, err)
	}
}

// consumeAll reads topic from the start until it has n records, and returns their values.
func consumeAll(t *testing.T, addrs []string, topic string, n int, opts ...kgo.Opt) map[string]bool {
	t.Helper()
	// A short fetch wait: kgo may send its first fetch before every partition's start offset is
	// known, and that fetch then long-polls for FetchMaxWait (5 s by default) on the partitions
	// it has, which may be the empty ones.
	cl := newClient(t, addrs, append([]kgo.Opt{
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond),
	}, opts...)...)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got := make(map[string]bool)
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: got %d of %d records before timeout", topic, len(got), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	return got
}

func TestProduceConsume(t *testing.T) {
	b := brokertest.New(t)
	if got := b.Addrs(); len(got) != 1 || !strings.HasPrefix(got[0], "127.0.0.1:") {
		t.Fatalf("Addrs() = %v, want one 127.0.0.1:port", got)
	}
	cl := newClient(t, b.Addrs(), kgo.AllowAutoTopicCreation())
	for _, topic := range []string{broker.DefaultTopics().Events, "user.own-topic"} {
		t.Run(topic, func(t *testing.T) {
			produce(t, cl, topic, 50)
			if got := consumeAll(t, b.Addrs(), topic, 50); len(got) != 50 {
				t.Fatalf("consumed %d distinct records, want 50", len(got))
			}
		})
	}
}

func describe(t *testing.T, addrs []string, topics ...string) (map[string]map[string]string, map[string]int) {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addrs))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		t.Fatalf("describe topic configs: %v", err)
	}
	cfgs := make(map[string]map[string]string)
	for _, rc := range rcs {
		if rc.Err != nil {
			t.Fatalf("describe configs of %s: %v", rc.Name, rc.Err)
		}
		cfgs[rc.Name] = make(map[string]string)
		for _, c := range rc.Configs {
			cfgs[rc.Name][c.Key] = c.MaybeValue()
		}
	}
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	parts := make(map[string]int)
	for _, d := range details {
		if d.Err != nil {
			t.Fatalf("topic %s: %v", d.Topic, d.Err)
		}
		parts[d.Topic] = len(d.Partitions)
	}
	return cfgs, parts
}

func TestSeededTopics(t *testing.T) {
	topics := broker.Topics{Models: "m", Events: "e", Predictions: "p", DeadLetter: "d", Shadow: "sh", State: "s"}
	for _, tc := range []struct {
		name     string
		dataDir  bool
		wantData map[string]string
	}{
		{"memory", false, map[string]string{"cleanup.policy": "delete", "retention.ms": "3600000", "retention.bytes": "134217728", "segment.bytes": "16777216"}},
		{"datadir", true, map[string]string{"cleanup.policy": "delete", "retention.ms": "604800000", "retention.bytes": "-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := broker.Config{Partitions: 3, Topics: topics}
			if tc.dataDir {
				cfg.DataDir = t.TempDir()
			}
			b := brokertest.New(t, cfg)
			cfgs, parts := describe(t, b.Addrs(), "m", "e", "p", "d", "s")
			wantParts := map[string]int{"m": 1, "s": 3, "e": 3, "p": 3, "d": 3}
			for topic, want := range wantParts {
				if parts[topic] != want {
					t.Errorf("topic %s has %d partitions, want %d", topic, parts[topic], want)
				}
			}
			compact := map[string]string{"cleanup.policy": "compact", "retention.ms": "-1", "retention.bytes": "-1"}
			for topic, want := range map[string]map[string]string{"m": compact, "s": compact, "e": tc.wantData, "p": tc.wantData, "d": tc.wantData} {
				for k, v := range want {
					if got := cfgs[topic][k]; got != v {
						t.Errorf("topic %s: %s = %q, want %q", topic, k, got, v)
					}
				}
			}
		})
	}
}

func TestDataDirRestartKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	logger := brokertest.Logger(t)
	cfg := broker.Config{DataDir: dir}
	topic := broker.DefaultTopics().Models

	b1, err := broker.New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, b1.Addrs())
	produce(t, cl, topic, 20)
	cl.Close()
	b1.Close()

	b2, err := broker.New(cfg, logger) // a new random port, same data
	if err != nil {
		t.Fatalf("restart on %s: %v", dir, err)
	}
	t.Cleanup(b2.Close) // after the clients' cleanups
	if got := consumeAll(t, b2.Addrs(), topic, 20); len(got) != 20 {
		t.Fatalf("after restart consumed %d records, want 20", len(got))
	}
	cfgs, _ := describe(t, b2.Addrs(), topic)
	if got := cfgs[topic]["cleanup.policy"]; got != "compact" {
		t.Fatalf("after restart %s cleanup.policy = %q, want compact", topic, got)
	}
}

func TestListenAndAdvertise(t *testing.T) {
	for _, tc := range []struct {
		name, listen, advertise, wantHost string
	}{
		{"loopback alias", "127.0.0.2:0", "", "127.0.0.2"},
		{"wildcard", "0.0.0.0:0", "", "127.0.0.1"},
		{"advertised name", "127.0.0.1:0", "localhost", "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := broker.New(broker.Config{Listen: tc.listen, Advertise: tc.advertise}, brokertest.Logger(t))
			if err != nil {
				if strings.Contains(err.Error(), "assign requested address") {
					t.Skipf("%s not available here: %v", tc.listen, err)
				}
				t.Fatal(err)
			}
			t.Cleanup(b.Close) // after the clients' cleanups
			addrs := b.Addrs()
			if len(addrs) != 1 || !strings.HasPrefix(addrs[0], tc.wantHost+":") || strings.HasSuffix(addrs[0], ":0") {
				t.Fatalf("Addrs() = %v, want %s:<port>", addrs, tc.wantHost)
			}
			cl := newClient(t, addrs)
			produce(t, cl, broker.DefaultTopics().Events, 5)
			if got := consumeAll(t, addrs, broker.DefaultTopics().Events, 5); len(got) != 5 {
				t.Fatalf("consumed %d records, want 5", len(got))
			}
		})
	}
}

func TestKcatListsMetadata(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not on PATH (%v): install it (Debian/Ubuntu: apt-get install kcat) to run this interop test", err)
	}
	b := brokertest.New(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-b", b.Addrs()[0], "-L").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -b %s -L: %v\n%s", b.Addrs()[0], err, out)
	}
	text := string(out)
	d := broker.DefaultTopics()
	for _, want := range []string{
		"1 brokers:", b.Addrs()[0],
		fmt.Sprintf("topic %q with 1 partitions", d.Models),
		fmt.Sprintf("topic %q with 6 partitions", d.Events),
		fmt.Sprintf("topic %q with 6 partitions", d.State),
		d.Predictions, d.DeadLetter, d.Shadow,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("kcat -L output lacks %q:\n%s", want, text)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  broker.Config
		ok   bool
	}{
		{"zero", broker.Config{}, true},
		{"default", broker.DefaultConfig(), true},
		{"no port", broker.Config{Listen: "127.0.0.1"}, false},
		{"bad port", broker.Config{Listen: "127.0.0.1:99999"}, false},
		{"negative partitions", broker.Config{Partitions: -1}, false},
		{"bad topic", broker.Config{Topics: broker.Topics{Events: "no spaces"}}, false},
		{"duplicate topics", broker.Config{Topics: broker.Topics{Events: "x", Predictions: "x"}}, false},
		{"advertise with port", broker.Config{Advertise: "host:9092"}, false},
		{"advertise wildcard", broker.Config{Advertise: "0.0.0.0"}, false},
		{"advertise ipv6", broker.Config{Advertise: "::1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, broker.ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestRegisterFlags(t *testing.T) {
	var cfg broker.Config
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if cfg.Listen != broker.DefaultListen || cfg.Partitions != broker.DefaultPartitions || cfg.Topics != broker.DefaultTopics() {
		t.Fatalf("defaults after RegisterFlags = %+v", cfg)
	}
	if err := fs.Parse([]string{"--listen", "0.0.0.0:19092", "--data-dir", "/tmp/x", "--partitions", "2", "--advertise-host", "kafka"}); err != nil {
		t.Fatal(err)
	}
	want := broker.Config{Listen: "0.0.0.0:19092", Advertise: "kafka", DataDir: "/tmp/x", Partitions: 2, Topics: broker.DefaultTopics()}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("after parse = %+v, want %+v", cfg, want)
	}
}
