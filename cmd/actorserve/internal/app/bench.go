package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker"
	"github.com/actorserve/actorserve/actors/control"
	"github.com/actorserve/actorserve/serving"
)

// BenchConfig configures `actorserve bench`.
type BenchConfig struct {
	Brokers    []string // empty: an embedded broker in this process
	Events     int      // events of the throughput run
	Models     int
	Partitions int
	Nodes      []int // node counts to run actorserve with
	Latency    time.Duration
	Logger     *slog.Logger
}

// BenchResult is one row of the bench table.
type BenchResult struct {
	Name         string        `json:"name"`
	EventsPerSec float64       `json:"events_per_sec"`
	Ratio        float64       `json:"ratio_to_passthrough"`
	Rate         float64       `json:"latency_rate"`
	P50          time.Duration `json:"p50"`
	P99          time.Duration `json:"p99"`
	Samples      int           `json:"samples"`
}

// RunBench measures (a) a plain franz-go consume→produce passthrough, the
// ceiling, then (b) actorserve with each node count: throughput over a
// preloaded topic, and end-to-end latency at half that rate.
func RunBench(ctx context.Context, cfg BenchConfig) ([]BenchResult, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	brokers := cfg.Brokers
	if len(brokers) == 0 {
		b, err := broker.New(broker.Config{Partitions: cfg.Partitions}, cfg.Logger)
		if err != nil {
			return nil, err
		}
		defer b.Close()
		brokers = b.Addrs()
	}
	var out []BenchResult
	pass, err := benchOne(ctx, cfg, brokers, "passthrough", 0)
	if err != nil {
		return nil, fmt.Errorf("passthrough: %w", err)
	}
	out = append(out, pass)
	for _, n := range cfg.Nodes {
		r, err := benchOne(ctx, cfg, brokers, "actorserve", n)
		if err != nil {
			return out, fmt.Errorf("actorserve %d nodes: %w", n, err)
		}
		r.Ratio = r.EventsPerSec / pass.EventsPerSec
		out = append(out, r)
	}
	return out, nil
}

type benchRun struct {
	cfg             BenchConfig
	brokers         []string
	in, out, group  string
	models          []string
	stop            func()
	adm             *kadm.Client
	client          *kgo.Client
	modelsTopic     string
	descriptorsDone bool
}

func benchOne(ctx context.Context, cfg BenchConfig, brokers []string, mode string, nodes int) (BenchResult, error) {
	tag := strconv.FormatUint(rand.Uint64()%1e9, 10)
	r := &benchRun{cfg: cfg, brokers: brokers, in: "bench-in-" + tag, out: "bench-out-" + tag, group: "bench-" + tag,
		modelsTopic: "bench-models-" + tag}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(2*time.Millisecond))
	if err != nil {
		return BenchResult{}, err
	}
	defer cl.Close()
	r.client, r.adm = cl, kadm.NewClient(cl)
	if _, err := r.adm.CreateTopics(ctx, int32(cfg.Partitions), 1, nil, r.in, r.out); err != nil {
		return BenchResult{}, err
	}
	if _, err := r.adm.CreateTopics(ctx, 1, 1, map[string]*string{"cleanup.policy": ptr("compact")}, r.modelsTopic); err != nil {
		return BenchResult{}, err
	}
	for i := 0; i < cfg.Models; i++ {
		r.models = append(r.models, fmt.Sprintf("bench-%02d", i))
	}
	name := "(a) franz-go passthrough"
	if mode != "passthrough" {
		name = fmt.Sprintf("(b) actorserve, %d node(s)", nodes)
		if err := r.publishModels(ctx); err != nil {
			return BenchResult{}, err
		}
	}
	// Throughput: preload, then process as fast as possible.
	if err := r.produce(ctx, cfg.Events, 0, nil); err != nil {
		return BenchResult{}, err
	}
	if err := r.startProcessor(ctx, mode, nodes); err != nil {
		return BenchResult{}, err
	}
	defer r.stop()
	span, err := r.await(ctx, cfg.Events, nil)
	if err != nil {
		return BenchResult{}, err
	}
	// Throughput is measured between the first and the last output
	// record's own timestamps, so that neither the processor's start-up
	// (joining the group; a node also joins the cluster) nor the reader's
	// speed counts.
	res := BenchResult{Name: name, EventsPerSec: float64(cfg.Events-1) / span.Seconds()}

	// Latency at half the measured maximum rate.
	res.Rate = res.EventsPerSec / 2
	n := int(res.Rate * cfg.Latency.Seconds())
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	readErr := make(chan error, 1)
	go func() {
		_, err := r.await(ctx, cfg.Events+n, func(sent time.Time) {
			mu.Lock()
			lat = append(lat, time.Since(sent))
			mu.Unlock()
		})
		readErr <- err
	}()
	if err := r.produce(ctx, n, res.Rate, nil); err != nil {
		return res, err
	}
	if err := <-readErr; err != nil {
		return res, err
	}
	// Drop the first second (warm-up), then take percentiles.
	skip := min(len(lat)/5, int(res.Rate))
	lat = lat[skip:]
	slices.Sort(lat)
	if len(lat) > 0 {
		res.P50 = lat[len(lat)/2]
		res.P99 = lat[len(lat)*99/100]
		res.Samples = len(lat)
	}
	return res, nil
}

func ptr[T any](v T) *T { return &v }

func (r *benchRun) publishModels(ctx context.Context) error {
	pub := control.NewPublisher(r.client, r.modelsTopic)
	for i, id := range r.models {
		d := &serving.Descriptor{ID: id, Version: 1, Format: "linear", Features: []string{"a", "b", "c", "d"}, Labels: []string{"no", "yes"},
			Data: json.RawMessage(fmt.Sprintf(`{"coefficients":[[0.1,0.2,0.3,%d]],"intercepts":[0.5],"link":"logistic"}`, i))}
		b, err := d.Encode()
		if err != nil {
			return err
		}
		if _, err := pub.Put(ctx, id, b); err != nil {
			return err
		}
	}
	return nil
}

// produce writes n events, paced at rate when rate > 0. Event ids carry
// the send time in nanoseconds so readers can measure end-to-end latency.
func (r *benchRun) produce(ctx context.Context, n int, rate float64, _ func()) error {
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	start := time.Now()
	var firstErr error
	var mu sync.Mutex
	buf := make([]byte, 0, 128)
	for k := 0; k < n; k++ {
		if interval > 0 {
			// Pace in 1 ms ticks: send what is due, then sleep.
			if due := start.Add(time.Duration(k) * interval); time.Until(due) > time.Millisecond {
				time.Sleep(time.Until(due))
			}
		}
		buf = buf[:0]
		buf = append(buf, `{"id":"t`...)
		buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
		buf = append(buf, `","features":{"a":0.5,"b":1.5,"c":-0.25,"d":`...)
		buf = strconv.AppendInt(buf, int64(k%10), 10)
		buf = append(buf, `}}`...)
		rec := &kgo.Record{Topic: r.in, Key: []byte(r.models[k%len(r.models)]), Value: append([]byte(nil), buf...)}
		r.client.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		})
	}
	if err := r.client.Flush(ctx); err != nil {
		return err
	}
	return firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// await reads the output topic from the start until total records and
// returns the span between the earliest and the latest record timestamp.
func (r *benchRun) await(ctx context.Context, total int, each func(sent time.Time)) (time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.ConsumeTopics(r.out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	got := 0
	var first, last time.Time
	for got < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return 0, fmt.Errorf("read %d of %d outputs: %w", got, total, ctx.Err())
		}
		fs.EachRecord(func(rec *kgo.Record) {
			got++
			if got <= total {
				if first.IsZero() || rec.Timestamp.Before(first) {
					first = rec.Timestamp
				}
				if rec.Timestamp.After(last) {
					last = rec.Timestamp
				}
			}
			if each != nil && got > r.cfg.Events {
				if ns, ok := sentTime(rec.Value); ok {
					each(time.Unix(0, ns))
				}
			}
		})
	}
	return max(last.Sub(first), time.Millisecond), nil
}

// sentTime finds "t<unixnano>" (the event id) in a record value.
func sentTime(v []byte) (int64, bool) {
	s := string(v)
	i := strings.Index(s, `"t`)
	for i >= 0 {
		j := i + 2
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j > i+2 && j < len(s) && s[j] == '"' {
			ns, err := strconv.ParseInt(s[i+2:j], 10, 64)
			return ns, err == nil
		}
		next := strings.Index(s[i+1:], `"t`)
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return 0, false
}

func (r *benchRun) startProcessor(ctx context.Context, mode string, nodes int) error {
	if mode == "passthrough" {
		return r.startPassthrough(ctx)
	}
	var started []*Node
	r.stop = func() {
		for _, n := range started {
			n.Close()
		}
	}
	var join []string
	for i := 0; i < nodes; i++ {
		cfg := DefaultNodeConfig()
		cfg.Brokers = r.brokers
		cfg.Cluster.Name = fmt.Sprintf("bench%d", i+1)
		cfg.Cluster.Gossip = "127.0.0.1:0"
		cfg.Cluster.Remote = "127.0.0.1:0"
		cfg.Cluster.Join = join
		cfg.HTTP.Listen = "127.0.0.1:0"
		cfg.Control.Topic = r.modelsTopic
		cfg.Ingress.Topics = []string{r.in}
		cfg.Ingress.Predictions = r.out
		cfg.Ingress.DeadLetter = r.out + "-dead"
		cfg.Ingress.Group = r.group
		n, err := StartNode(ctx, cfg, r.cfg.Logger)
		if err != nil {
			r.stop()
			return err
		}
		started = append(started, n)
		join = []string{n.Cluster.GossipAddr()}
	}
	return nil
}

// startPassthrough is the ceiling: a plain franz-go group consumer that
// produces every record, untouched, to the output topic and commits.
func (r *benchRun) startPassthrough(ctx context.Context) error {
	cons, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.ConsumerGroup(r.group), kgo.ConsumeTopics(r.in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return err
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.ProducerLinger(0))
	if err != nil {
		cons.Close()
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pctx.Err() == nil {
			fs := cons.PollRecords(pctx, 4096)
			fs.EachRecord(func(rec *kgo.Record) {
				prod.Produce(pctx, &kgo.Record{Topic: r.out, Key: rec.Key, Value: rec.Value}, nil)
			})
			cons.CommitUncommittedOffsets(pctx)
		}
	}()
	r.stop = func() {
		cancel()
		<-done
		prod.Close()
		cons.Close()
	}
	return nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := BenchConfig{}
	fs.IntVar(&cfg.Events, "events", 300000, "events of the throughput run")
	fs.IntVar(&cfg.Models, "models", 20, "models the events are spread over")
	fs.IntVar(&cfg.Partitions, "partitions", 6, "partitions of the input topic")
	fs.DurationVar(&cfg.Latency, "latency-duration", 10*time.Second, "length of the latency run at half the maximum rate")
	nodes := fs.String("nodes", "1,3", "actorserve node counts to run")
	brokers := fs.String("brokers", "", "Kafka brokers (default: an embedded broker in this process)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, s := range splitComma(*nodes) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("%w: --nodes %q", ErrUsage, *nodes)
		}
		cfg.Nodes = append(cfg.Nodes, n)
	}
	cfg.Brokers = splitComma(*brokers)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := RunBench(ctx, cfg)
	if err != nil && len(res) == 0 {
		return err
	}
	WriteBenchTable(stdout, cfg, res)
	return err
}

// WriteBenchTable prints the results as an aligned table.
func WriteBenchTable(w io.Writer, cfg BenchConfig, res []BenchResult) {
	fmt.Fprintf(w, "%d JSON events, %d linear models, %d partitions; latency at half the maximum rate for %s\n", cfg.Events, cfg.Models, cfg.Partitions, cfg.Latency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tEVENTS/S\tVS PASSTHROUGH\tLATENCY RATE\tP50\tP99")
	for _, r := range res {
		ratio := "-"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%.0f/s\t%s\t%s\n", r.Name, r.EventsPerSec, ratio, r.Rate, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	}
	_ = tw.Flush()
}

var _ = errors.New
