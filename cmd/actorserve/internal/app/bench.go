package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
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
	// Kafka is how to reach Brokers (TLS, SASL).
	Kafka KafkaConfig
	// Rounds is how many times each row runs, interleaved (see RunBench).
	Rounds int
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
	// RatioConsumer is EventsPerSec over that of (a'), the hand-written
	// franz-go consumer that scores the same models.
	RatioConsumer float64 `json:"ratio_to_consumer,omitempty"`
	// CPUPerMillion is the process's CPU seconds (user + system) over the
	// throughput window, per million events; 0 where not measured.
	CPUPerMillion float64 `json:"cpu_seconds_per_million_events,omitempty"`
	// Batches and CrossNode are the throughput run's batches sent to model
	// actors and those answered on another node, summed over the nodes
	// (actorserve rows only).
	Batches   int64 `json:"batches,omitempty"`
	CrossNode int64 `json:"cross_node_batches,omitempty"`
	// Fetched is the records the nodes decoded from fetch responses over
	// the throughput run; above Events, records fetched again after a
	// backpressure pause.
	Fetched int64 `json:"fetched_records,omitempty"`
	// Runs is how many runs the row's figures summarise; MinEventsPerSec
	// and MaxEventsPerSec their spread (EventsPerSec is the median run).
	Runs            int     `json:"runs"`
	MinEventsPerSec float64 `json:"min_events_per_sec"`
	MaxEventsPerSec float64 `json:"max_events_per_sec"`
	// RatioFirstNodes is the throughput over that of the first actorserve
	// row (one node, usually) in the same round, the median over rounds;
	// CPURatioFirstNodes the same for CPU seconds per million events.
	RatioFirstNodes    float64 `json:"ratio_to_first_node_count,omitempty"`
	CPURatioFirstNodes float64 `json:"cpu_ratio_to_first_node_count,omitempty"`
}

// Bench modes: what consumes the input topic.
const (
	benchPassthrough = "passthrough" // (a) franz-go, records copied untouched
	benchConsumer    = "consumer"    // (a') franz-go, hand-written scoring
	benchActorserve  = "actorserve"  // (b), (c), ... actorserve nodes
)

// RunBench measures (a) a plain franz-go consume→produce passthrough, the
// ceiling, (a') a hand-written franz-go consumer that scores the same
// models (what a user would write instead of actorserve), then actorserve
// with each node count: throughput over a preloaded topic, CPU per event
// over that run, and end-to-end latency at half that rate.
//
// With Rounds > 1 every row runs that many times, the rows interleaved
// (a, a', b, c, a, a', b, c, ...) so that a slow spell of a shared machine
// falls on all rows alike. Each row reports the run of median throughput,
// the spread of all its runs, and ratios that are the median of the ratios
// measured within one round (row over (a), over (a'), over one node).
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
	type row struct {
		mode, name string
		nodes      int
	}
	rows := []row{{benchPassthrough, "(a) franz-go passthrough", 0}, {benchConsumer, "(a') franz-go consumer, encoding/json", 0}}
	for i, n := range cfg.Nodes {
		rows = append(rows, row{benchActorserve, fmt.Sprintf("(%c) actorserve, %d node(s)", 'b'+i, n), n})
	}
	rounds := max(cfg.Rounds, 1)
	runs := make([][]BenchResult, len(rows)) // runs[row][round]
	for round := range rounds {
		for i, rw := range rows {
			r, err := benchOne(ctx, cfg, brokers, rw.mode, rw.name, rw.nodes)
			if err != nil {
				return benchSummary(runs), fmt.Errorf("%s, round %d of %d: %w", rw.name, round+1, rounds, err)
			}
			runs[i] = append(runs[i], r)
		}
	}
	return benchSummary(runs), nil
}

// benchSummary turns runs[row][round] into one result per row: the run of
// median throughput, with the spread of all runs and the ratios taken
// within each round (then their median). Rows 0 and 1 are (a) and (a');
// a row with fewer runs than (a) (a failed round) is compared over the
// rounds it has.
func benchSummary(runs [][]BenchResult) []BenchResult {
	var out []BenchResult
	median := func(xs []float64) float64 {
		if len(xs) == 0 {
			return 0
		}
		xs = slices.Clone(xs)
		slices.Sort(xs)
		if len(xs)%2 == 1 {
			return xs[len(xs)/2]
		}
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	ratio := func(i, base int) float64 {
		if base >= len(runs) || base == i {
			return 0
		}
		var rs []float64
		for k, r := range runs[i] {
			if k < len(runs[base]) && runs[base][k].EventsPerSec > 0 {
				rs = append(rs, r.EventsPerSec/runs[base][k].EventsPerSec)
			}
		}
		return median(rs)
	}
	oneNode := -1
	for i, rs := range runs {
		if len(rs) == 0 {
			continue
		}
		sorted := slices.Clone(rs)
		slices.SortFunc(sorted, func(a, b BenchResult) int { return cmp.Compare(a.EventsPerSec, b.EventsPerSec) })
		r := sorted[(len(sorted)-1)/2]
		r.Runs = len(rs)
		r.MinEventsPerSec, r.MaxEventsPerSec = sorted[0].EventsPerSec, sorted[len(sorted)-1].EventsPerSec
		var cpus []float64
		for _, x := range rs {
			if x.CPUPerMillion > 0 {
				cpus = append(cpus, x.CPUPerMillion)
			}
		}
		r.CPUPerMillion = median(cpus)
		if i >= 1 {
			r.Ratio = ratio(i, 0)
		}
		if i >= 2 {
			r.RatioConsumer = ratio(i, 1)
			if oneNode < 0 {
				oneNode = i
			} else {
				r.RatioFirstNodes = ratio(i, oneNode)
				var cr []float64
				for k, x := range rs {
					if k < len(runs[oneNode]) && runs[oneNode][k].CPUPerMillion > 0 && x.CPUPerMillion > 0 {
						cr = append(cr, x.CPUPerMillion/runs[oneNode][k].CPUPerMillion)
					}
				}
				r.CPURatioFirstNodes = median(cr)
			}
		}
		out = append(out, r)
	}
	return out
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
	nodes           []*Node // actorserve mode

	failMu sync.Mutex
	failed error // the processor's own failure; ends await
}

// fail records the processor's first failure.
func (r *benchRun) fail(err error) {
	r.failMu.Lock()
	r.failed = cmpErr(r.failed, err)
	r.failMu.Unlock()
}

func (r *benchRun) failure() error {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	return r.failed
}

func benchOne(ctx context.Context, cfg BenchConfig, brokers []string, mode, name string, nodes int) (BenchResult, error) {
	tag := strconv.FormatUint(rand.Uint64()%1e9, 10)
	r := &benchRun{cfg: cfg, brokers: brokers, in: "bench-in-" + tag, out: "bench-out-" + tag, group: "bench-" + tag,
		modelsTopic: "bench-models-" + tag}
	cl, err := kgo.NewClient(r.kopts(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(2*time.Millisecond))...)
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
	// The embedded broker keeps every record in memory: drop this run's
	// topics afterwards, so that a later run's garbage collector does not
	// scan an earlier run's records.
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = r.adm.DeleteTopics(dctx, r.in, r.out, r.out+"-dead", r.modelsTopic)
	}()
	for i := 0; i < cfg.Models; i++ {
		r.models = append(r.models, fmt.Sprintf("bench-%02d", i))
	}
	if mode != benchPassthrough {
		if err := r.publishModels(ctx); err != nil {
			return BenchResult{}, err
		}
	}
	// Throughput: preload, then process as fast as possible.
	if err := r.produce(ctx, cfg.Events, 0, nil); err != nil {
		return BenchResult{}, err
	}
	runtime.GC() // each run starts from a collected heap
	cpu := startCPUSampler(2 * time.Millisecond)
	if err := r.startProcessor(ctx, mode, nodes); err != nil {
		cpu.Stop()
		return BenchResult{}, err
	}
	defer r.stop()
	first, last, err := r.await(ctx, cfg.Events, nil)
	samples := cpu.Stop()
	if err != nil {
		return BenchResult{}, err
	}
	// Throughput is measured between the first and the last output
	// record's own timestamps, so that neither the processor's start-up
	// (joining the group; a node also joins the cluster) nor the reader's
	// speed counts.
	span := max(last.Sub(first), time.Millisecond)
	res := BenchResult{Name: name, EventsPerSec: float64(cfg.Events-1) / span.Seconds()}
	// CPU is the whole process's (getrusage RUSAGE_SELF, user + system)
	// over the same window, from the first to the last output record's
	// timestamp (millisecond precision, hence the extra millisecond), for
	// every mode alike. The harness shares the process: the embedded
	// broker, the preloaded topic's fetches, the output reader and the
	// sampler count in every row, so rows compare; the absolute numbers
	// are higher than the processor's own.
	if c, ok := cpuBetween(samples, first, last.Add(time.Millisecond)); ok {
		res.CPUPerMillion = c.Seconds() / float64(cfg.Events) * 1e6
	}
	for _, n := range r.nodes {
		if n.Ingress != nil {
			st := n.Ingress.Stats()
			res.Batches += st.Batches
			res.CrossNode += st.CrossNode
			res.Fetched += st.Fetched
		}
	}

	// Latency at half the measured maximum rate.
	res.Rate = res.EventsPerSec / 2
	n := int(res.Rate * cfg.Latency.Seconds())
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	readErr := make(chan error, 1)
	go func() {
		_, _, err := r.await(ctx, cfg.Events+n, func(sent time.Time) {
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
// returns the earliest and the latest record timestamp among them.
func (r *benchRun) await(ctx context.Context, total int, each func(sent time.Time)) (first, last time.Time, err error) {
	cl, err := kgo.NewClient(r.kopts(kgo.SeedBrokers(r.brokers...), kgo.ConsumeTopics(r.out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return first, last, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	got := 0
	for got < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return first, last, fmt.Errorf("read %d of %d outputs: %w", got, total, ctx.Err())
		}
		if err := r.failure(); err != nil {
			return first, last, fmt.Errorf("after %d of %d outputs: %w", got, total, err)
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
	return first, last, nil
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
	switch mode {
	case benchPassthrough:
		return r.startPassthrough(ctx)
	case benchConsumer:
		return r.startConsumer(ctx)
	}
	r.stop = func() {
		for _, n := range r.nodes {
			n.Close()
		}
	}
	var join []string
	for i := 0; i < nodes; i++ {
		cfg := DefaultNodeConfig()
		cfg.Brokers = r.brokers
		cfg.Kafka = r.cfg.Kafka
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
		// Every node takes its partitions before any reads: otherwise the
		// first node reads the preloaded topic alone (and through two
		// rebalances) while the others start, and an N-node row measures
		// mostly one node.
		cfg.Ingress.Held = true
		n, err := StartNode(ctx, cfg, r.cfg.Logger)
		if err != nil {
			r.stop()
			return err
		}
		r.nodes = append(r.nodes, n)
		join = []string{n.Cluster.GossipAddr()}
	}
	if err := r.awaitAssignment(ctx); err != nil {
		r.stop()
		return err
	}
	for _, n := range r.nodes {
		n.Ingress.Release()
	}
	return nil
}

// awaitAssignment waits until the nodes own every input partition between
// them, each node some (the group has settled), and the assignment has
// held for half a second.
func (r *benchRun) awaitAssignment(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var stableSince time.Time
	last := ""
	for {
		var owned []string
		total := 0
		for _, n := range r.nodes {
			k := 0
			for _, p := range n.Ingress.Stats().Partitions {
				if p.Topic == r.in {
					k++
				}
			}
			total += k
			owned = append(owned, strconv.Itoa(k))
		}
		now := strings.Join(owned, ",")
		settled := total == r.cfg.Partitions && (len(r.nodes) > r.cfg.Partitions || !slices.Contains(owned, "0"))
		switch {
		case !settled || now != last:
			stableSince = time.Time{}
		case stableSince.IsZero():
			stableSince = time.Now()
		case time.Since(stableSince) >= 500*time.Millisecond:
			return nil
		}
		last = now
		select {
		case <-ctx.Done():
			return fmt.Errorf("the %d nodes did not settle on the %d partitions of %s (partitions per node: %s): %w", len(r.nodes), r.cfg.Partitions, r.in, now, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// startPassthrough is the ceiling: a plain franz-go group consumer that
// produces every record, untouched, to the output topic and commits.
func (r *benchRun) startPassthrough(ctx context.Context) error {
	cons, err := kgo.NewClient(r.kopts(kgo.SeedBrokers(r.brokers...), kgo.ConsumerGroup(r.group), kgo.ConsumeTopics(r.in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		return err
	}
	prod, err := kgo.NewClient(r.kopts(kgo.SeedBrokers(r.brokers...), kgo.ProducerLinger(0))...)
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
	fs.IntVar(&cfg.Rounds, "rounds", 3, "runs of every row, interleaved; each row reports its median run and the median of its ratios within a round")
	brokers := fs.String("brokers", "", "Kafka brokers (default: an embedded broker in this process)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	// Many models: --active-fraction switches to bench_models.go's mode
	// (runBenchCommand sends such arguments there); named here for -help.
	fs.Float64("active-fraction", 0, "instead of the throughput run, the many-models bench: deploy --models models and activate this `fraction` of them (its flags: actorserve bench --active-fraction 0.1 -help)")
	cfg.Kafka.registerFlags(fs)
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
	if _, err := cfg.Kafka.opts(); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	stop, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	res, err := RunBench(ctx, cfg)
	if err != nil && len(res) == 0 {
		return err
	}
	WriteBenchTable(stdout, cfg, res)
	return err
}

// WriteBenchTable prints the results as an aligned table.
func WriteBenchTable(w io.Writer, cfg BenchConfig, res []BenchResult) {
	fmt.Fprintf(w, "%d JSON events, %d linear models, %d partitions; %d round(s), rows interleaved; latency at half the maximum rate for %s\n",
		cfg.Events, cfg.Models, cfg.Partitions, max(cfg.Rounds, 1), cfg.Latency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tEVENTS/S (MEDIAN)\tMIN-MAX\tVS (A)\tVS (A')\tVS 1ST NODES\tCPU S/1M EVENTS\tCPU VS 1ST NODES\tCROSS-NODE BATCHES\tFETCHED/EVENT\tLATENCY RATE\tP50\tP99")
	for _, r := range res {
		cpu := "-"
		if r.CPUPerMillion > 0 {
			cpu = fmt.Sprintf("%.1f", r.CPUPerMillion)
		}
		cross := "-"
		if r.Batches > 0 {
			cross = fmt.Sprintf("%.1f%% of %d", 100*float64(r.CrossNode)/float64(r.Batches), r.Batches)
		}
		fetched := "-"
		if r.Fetched > 0 {
			fetched = fmt.Sprintf("%.2f", float64(r.Fetched)/float64(cfg.Events))
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f-%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f/s\t%s\t%s\n", r.Name, r.EventsPerSec, r.MinEventsPerSec, r.MaxEventsPerSec,
			ratioText(r.Ratio), ratioText(r.RatioConsumer), ratioText(r.RatioFirstNodes), cpu, ratioText(r.CPURatioFirstNodes),
			cross, fetched, r.Rate, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "Ratios are medians of the ratios within one round. CPU: the whole process (user + system) over the throughput window, the embedded broker and the output reader included in every row.")
}

func ratioText(r float64) string {
	if r <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r)
}

var _ = errors.New

// kopts returns opts after the run's Kafka connection options (TLS, SASL).
func (r *benchRun) kopts(opts ...kgo.Opt) []kgo.Opt {
	base, _ := r.cfg.Kafka.opts() // checked when the run starts
	return append(base, opts...)
}

// startCPUProfile writes a CPU profile to path until the returned stop is
// called; with an empty path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
