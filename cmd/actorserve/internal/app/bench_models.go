package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/broker"
)

// ModelsBenchConfig configures `actorserve bench --active-fraction F`: how
// a node, or a cluster of nodes in one process, holds many models.
type ModelsBenchConfig struct {
	Brokers        []string // empty: an embedded broker in this process
	Nodes          int      // in-process nodes sharing the broker; 0: one
	Models         int      // models to deploy
	ActiveFraction float64  // of them, activated with one prediction each
	Concurrency    int      // concurrent HTTP requests while deploying and activating
	IdleTimeout    time.Duration
	Predicts       int    // predictions timed, one at a time
	PredictGCs     int    // then on until this many garbage collections completed
	Pages          int    // list pages timed
	ListCPUProfile string // where to write a CPU profile of the list pages alone ("": none)
	Logger         *slog.Logger
	Progress       io.Writer // one line per decile deployed; nil: none
	Kafka          KafkaConfig
}

// ModelsBenchResult is what the many-models bench measured.
type ModelsBenchResult struct {
	Nodes, Models, Active int
	// ActivePerNode is how many of the active models each node hosted
	// after activation.
	ActivePerNode []int
	// DeployRate is the deploy rate (models/s) of each tenth of the models.
	DeployRate    [10]float64
	DeployElapsed time.Duration
	// DeployRetries counts the deploys answered 503 (publish_failed) and
	// made again; DeployPending those answered 202 pending (published,
	// not read back within the deploy's bound); DeploySlowest is the
	// longest answer to a deploy.
	DeployRetries int
	DeployPending int
	DeploySlowest time.Duration
	// Bytes of live heap per model, after a full collection, summed over
	// the nodes (each holds the whole descriptor table): deployed (net of
	// what the embedded broker holds for the control record), active (on
	// top of deployed) and passivated (what stays of an active model after
	// its actor passivated).
	BytesDeployed, BytesActive, BytesPassivated float64
	// BrokerBytesPerRecord is the embedded broker's share, measured by
	// producing as many records of the same size to a scratch topic (0
	// with an external broker, whose memory is elsewhere).
	BrokerBytesPerRecord float64
	Passivated           bool // every active model passivated within the wait
	ListP50, ListP99     time.Duration
	// PredictP50 and PredictP99 are of the first cfg.Predicts predictions.
	PredictP50 time.Duration
	PredictP99 time.Duration
	// Steady is of every prediction, those first ones and the ones made
	// until cfg.PredictGCs garbage collections completed.
	Steady PredictRun
}

// PredictRun is the latency of a run of predictions, one at a time.
type PredictRun struct {
	Predicts, GCs int // predictions made, garbage collections completed meanwhile
	// ActiveAfter is the number of models active at the end: fewer than
	// were activated if some passivated meanwhile (idle timeout too short
	// for the run), and then predictions timed their re-activation.
	ActiveAfter    int
	Elapsed        time.Duration
	P50, P99, P999 time.Duration
}

// steadyPredictLimit bounds the predictions made to span garbage
// collections.
const steadyPredictLimit = 3 * time.Minute

// gcCycles is the number of garbage collections the process completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// benchModelDesc is a linear regression without labels.
var benchModelDesc = []byte(`{"format":"linear","features":["x0","x1"],"data":{"coefficients":[[0.5,-1]],"intercepts":[1],"link":"identity"}}`)

// runBenchCommand runs `actorserve bench`. The many-models mode
// (--active-fraction given, or ACTORSERVE_ACTIVE_FRACTION) is parsed here,
// where --nodes is one node count and the flags are this mode's own
// (`actorserve bench --active-fraction 0.1 -help` lists them); the
// throughput run is runBench's.
func runBenchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if !modelsBenchArgs(args) {
		return runBench(ctx, args, stdout, stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := ModelsBenchConfig{Progress: stderr}
	fs.IntVar(&cfg.Models, "models", 20, "models to deploy (with --active-fraction)")
	fs.IntVar(&cfg.Nodes, "nodes", 1, "nodes in this process the models are deployed on (with --active-fraction: one count)")
	fs.Float64Var(&cfg.ActiveFraction, "active-fraction", 0, "instead of the throughput run: deploy --models models on --nodes nodes, activate this fraction, and measure deploy rate, heap per model, list page and predict latency")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "concurrent HTTP requests while deploying and activating (with --active-fraction)")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 30*time.Second, "idle time before an actor passivates (with --active-fraction)")
	fs.IntVar(&cfg.Predicts, "predicts", 2000, "predictions timed (with --active-fraction)")
	fs.IntVar(&cfg.PredictGCs, "predict-gcs", 3, "then predictions timed until this many garbage collections completed, at most "+steadyPredictLimit.String()+" (with --active-fraction)")
	fs.IntVar(&cfg.Pages, "pages", 200, "list pages timed (with --active-fraction)")
	brokers := fs.String("brokers", "", "Kafka brokers (default: an embedded broker in this process)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&cfg.ListCPUProfile, "list-cpuprofile", "", "write a CPU profile of the timed list pages alone to this file (with --active-fraction; not with --cpuprofile)")
	cfg.Kafka.registerFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg.Brokers = splitComma(*brokers)
	if cfg.ActiveFraction <= 0 || cfg.ActiveFraction > 1 || cfg.Models < 10 || cfg.Nodes < 1 || cfg.Concurrency < 1 || cfg.IdleTimeout <= 0 || cfg.PredictGCs < 0 {
		return fmt.Errorf("%w: --active-fraction must be in (0, 1], --models at least 10, --nodes at least 1, --concurrency at least 1, --idle-timeout above 0, --predict-gcs at least 0", ErrUsage)
	}
	if _, err := cfg.Kafka.opts(); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if *cpuprofile != "" && cfg.ListCPUProfile != "" {
		return fmt.Errorf("%w: --cpuprofile and --list-cpuprofile cannot both be given (one CPU profile at a time)", ErrUsage)
	}
	stop, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	res, err := RunModelsBench(ctx, cfg)
	if err != nil {
		return err
	}
	WriteModelsBench(stdout, cfg, res)
	return nil
}

// modelsBenchArgs tells whether args (or the environment) ask for the
// many-models mode.
func modelsBenchArgs(args []string) bool {
	if os.Getenv("ACTORSERVE_ACTIVE_FRACTION") != "" {
		return true
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "active-fraction" {
			return true
		}
	}
	return false
}

// liveHeap is the live heap after full collections.
func liveHeap() float64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc)
}

// RunModelsBench deploys cfg.Models linear models on cfg.Nodes in-process
// nodes (the deploys spread over the nodes' HTTP APIs), activates
// cfg.ActiveFraction of them, and measures the deploy rate per tenth, the
// heap per deployed, active and passivated model, the latency of a list
// page of 100 and of a prediction. Model i of the active ones is activated
// and predicted through node i mod Nodes; list pages go to a random node.
func RunModelsBench(ctx context.Context, cfg ModelsBenchConfig) (ModelsBenchResult, error) {
	var res ModelsBenchResult
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Models < 10 || cfg.ActiveFraction <= 0 || cfg.ActiveFraction > 1 || cfg.Nodes < 0 {
		return res, fmt.Errorf("%w: --models %d (at least 10), --active-fraction %g (in (0, 1]) and --nodes %d (at least 1)", ErrUsage, cfg.Models, cfg.ActiveFraction, cfg.Nodes)
	}
	cfg.Concurrency = max(1, cfg.Concurrency)
	cfg.Nodes = max(1, cfg.Nodes)
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	brokers := cfg.Brokers
	embedded := len(brokers) == 0
	if embedded {
		b, err := broker.New(broker.Config{}, cfg.Logger)
		if err != nil {
			return res, err
		}
		defer b.Close()
		brokers = b.Addrs()
	}
	kopts, err := cfg.Kafka.opts()
	if err != nil {
		return res, err
	}
	tag := fmt.Sprintf("%d", time.Now().UnixNano())
	res.Nodes = cfg.Nodes
	res.Models = cfg.Models
	res.Active = max(1, int(float64(cfg.Models)*cfg.ActiveFraction))
	// The broker's share is calibrated before any node starts: a node
	// starting up allocates and frees enough to swamp it (a CI run under
	// -race measured -3.9 kB per record with the nodes up).
	if embedded {
		if res.BrokerBytesPerRecord, err = brokerBytesPerRecord(ctx, append(kopts, kgo.SeedBrokers(brokers...)), cfg.Models, tag); err != nil {
			return res, err
		}
	}
	nodes, err := startModelsBenchNodes(ctx, cfg, brokers, tag, res.Active)
	defer func() {
		for _, n := range nodes {
			n.Close()
		}
	}()
	if err != nil {
		return res, err
	}
	base := liveHeap()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency}, Timeout: 30 * time.Second}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = "http://" + n.HTTPAddr()
	}
	id := func(i int) string { return fmt.Sprintf("m%07d", i) }

	// Deploy, timing each tenth.
	var done atomic.Int64
	var tenths [11]time.Time
	var tmu sync.Mutex
	start := time.Now()
	tenths[0] = start
	var retries, pending atomic.Int64
	var slowest atomic.Int64
	err = parallel(ctx, cfg.Models, cfg.Concurrency, func(i int) error {
		r, p, d, err := deploy(ctx, client, addrs[i%len(addrs)]+"/v1/models/"+id(i), benchModelDesc)
		retries.Add(int64(r))
		if p {
			pending.Add(1)
		}
		for old := slowest.Load(); int64(d) > old && !slowest.CompareAndSwap(old, int64(d)); old = slowest.Load() {
		}
		if err != nil {
			return err
		}
		n := done.Add(1)
		if k := int(n * 10 / int64(cfg.Models)); k > 0 {
			tmu.Lock()
			if tenths[k].IsZero() {
				tenths[k] = time.Now()
				fmt.Fprintf(progress, "deployed %d models: %.0f/s this tenth\n", n, float64(cfg.Models)/10/tenths[k].Sub(tenths[k-1]).Seconds())
			}
			tmu.Unlock()
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("deploy: %w", err)
	}
	res.DeployElapsed = time.Since(start)
	res.DeployRetries, res.DeployPending, res.DeploySlowest = int(retries.Load()), int(pending.Load()), time.Duration(slowest.Load())
	for k := 1; k <= 10; k++ {
		if !tenths[k].IsZero() && !tenths[k-1].IsZero() {
			res.DeployRate[k-1] = float64(cfg.Models) / 10 / tenths[k].Sub(tenths[k-1]).Seconds()
		}
	}
	// A deploy is answered once its node's table holds it; the other
	// nodes read it from the control topic soon after.
	tableLen := func() (int, int) {
		lo, hi := nodes[0].Table.Len(), 0
		for _, n := range nodes {
			lo, hi = min(lo, n.Table.Len()), max(hi, n.Table.Len())
		}
		return lo, hi
	}
	deadline := time.Now().Add(time.Minute)
	for lo, hi := tableLen(); lo != cfg.Models || hi != cfg.Models; lo, hi = tableLen() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return res, fmt.Errorf("the nodes' tables hold %d to %d models a minute after deploying %d", lo, hi, cfg.Models)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deployed := liveHeap()
	res.BytesDeployed = (deployed-base)/float64(cfg.Models) - res.BrokerBytesPerRecord

	// Activate every k-th model with one prediction.
	stride := float64(cfg.Models) / float64(res.Active)
	active := make([]string, res.Active)
	for i := range active {
		active[i] = id(int(float64(i) * stride))
	}
	// Active model i is activated and predicted through node i mod Nodes
	// (a frozen model is scored by a replica on the node asked).
	predict := func(i int) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, addrs[i%len(addrs)]+"/v1/models/"+active[i]+"/predict", bytes.NewReader([]byte(`{"features":{"x0":1,"x1":2}}`)))
		return do(client, req, http.StatusOK)
	}
	activeNow := func() int {
		a := 0
		for _, n := range nodes {
			a += n.Host.Active()
		}
		return a
	}
	fmt.Fprintf(progress, "activating %d models\n", len(active))
	actStart := time.Now()
	if err := parallel(ctx, len(active), cfg.Concurrency, predict); err != nil {
		return res, fmt.Errorf("activate: %w", err)
	}
	if got := activeNow(); got != len(active) {
		return res, fmt.Errorf("%d of %d models active after activation (took %s; raise --idle-timeout)", got, len(active), time.Since(actStart).Round(time.Millisecond))
	}
	for _, n := range nodes {
		res.ActivePerNode = append(res.ActivePerNode, n.Host.Active())
	}
	activeHeap := liveHeap()
	res.BytesActive = (activeHeap - deployed) / float64(len(active))

	// Every node answers the first page for the whole cluster.
	for _, a := range addrs {
		if err := checkFirstPage(ctx, client, a, cfg.Models, len(active)); err != nil {
			return res, err
		}
	}

	// A list page of 100, from the start and from random cursors.
	stopProfile, err := startCPUProfile(cfg.ListCPUProfile)
	if err != nil {
		return res, err
	}
	stopProfile = sync.OnceFunc(stopProfile)
	defer stopProfile()
	var lat []time.Duration
	for i := range max(1, cfg.Pages) {
		u := addrs[rand.IntN(len(addrs))] + "/v1/models?limit=100"
		if i > 0 {
			u += "&cursor=" + base64.RawURLEncoding.EncodeToString([]byte(id(rand.IntN(cfg.Models))))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		t0 := time.Now()
		if err := do(client, req, http.StatusOK); err != nil {
			return res, fmt.Errorf("list: %w", err)
		}
		lat = append(lat, time.Since(t0))
	}
	stopProfile()
	res.ListP50, res.ListP99 = quantile(lat, 0.5), quantile(lat, 0.99)

	// Predictions of active models, one at a time: cfg.Predicts of them
	// right after the list pages, then on until cfg.PredictGCs garbage
	// collections have completed since the first. The first window lasts a
	// fraction of a second: at a large heap, whose collections come
	// seconds apart and last a few hundred milliseconds, one either misses
	// it or fills it, so its tail is a draw. The longer run meets
	// collections in the proportion a steady load does. The collections
	// are the process's (all nodes and the broker).
	lat = lat[:0]
	gc0, t0 := gcCycles(), time.Now()
	for k := 0; k < max(1, cfg.Predicts) || gcCycles()-gc0 < uint64(cfg.PredictGCs) && time.Since(t0) < steadyPredictLimit; k++ {
		if k == max(1, cfg.Predicts) {
			res.PredictP50, res.PredictP99 = quantile(lat, 0.5), quantile(lat, 0.99)
		}
		t := time.Now()
		if err := predict(rand.IntN(len(active))); err != nil {
			return res, err
		}
		lat = append(lat, time.Since(t))
	}
	if len(lat) <= max(1, cfg.Predicts) {
		res.PredictP50, res.PredictP99 = quantile(lat, 0.5), quantile(lat, 0.99)
	}
	res.Steady = PredictRun{Predicts: len(lat), GCs: int(gcCycles() - gc0), Elapsed: time.Since(t0),
		P50: quantile(lat, 0.5), P99: quantile(lat, 0.99), P999: quantile(lat, 0.999), ActiveAfter: activeNow()}
	lat = nil

	// Passivation: wait for every actor to go idle.
	fmt.Fprintf(progress, "waiting up to %s for %d models to passivate\n", cfg.IdleTimeout+time.Minute, len(active))
	deadline = time.Now().Add(cfg.IdleTimeout + time.Minute)
	for activeNow() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
	}
	res.Passivated = activeNow() == 0
	time.Sleep(time.Second) // the activator forgets stopped activations asynchronously
	res.BytesPassivated = (liveHeap() - deployed) / float64(len(active))
	return res, nil
}

// checkFirstPage asks the node at addr for the first page of 100 and
// checks that it speaks for every node: a full page, every deployed model
// counted, every active one counted.
func checkFirstPage(ctx context.Context, c *http.Client, addr string, models, active int) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/v1/models?limit=100", nil)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("list through %s: %w", addr, err)
	}
	defer resp.Body.Close()
	var page struct {
		Count   int  `json:"count"`
		Total   int  `json:"total"`
		Partial bool `json:"partial"`
		Totals  struct {
			Active int `json:"active"`
		} `json:"totals"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("list through %s: %s: %v", addr, resp.Status, err)
	}
	if page.Count != min(100, models) || page.Total != models || page.Partial || page.Totals.Active != active {
		return fmt.Errorf("list through %s: %d rows of %d models with %d active (partial %v), want %d of %d with %d active",
			addr, page.Count, page.Total, page.Totals.Active, page.Partial, min(100, models), models, active)
	}
	return nil
}

// startModelsBenchNodes starts cfg.Nodes nodes on brokers, each joining
// the one before, and waits until every node has read the control topic
// and sees every member (a list page gathers from every member). The
// nodes started are returned even with an error, for the caller to close.
func startModelsBenchNodes(ctx context.Context, cfg ModelsBenchConfig, brokers []string, tag string, active int) ([]*Node, error) {
	var nodes []*Node
	var join []string
	for i := range cfg.Nodes {
		ncfg := DefaultNodeConfig()
		ncfg.Brokers = brokers
		ncfg.Kafka = cfg.Kafka
		ncfg.Cluster.Name = fmt.Sprintf("bench%d", i+1)
		ncfg.Cluster.Gossip = "127.0.0.1:0"
		ncfg.Cluster.Remote = "127.0.0.1:0"
		ncfg.Cluster.Join = join
		ncfg.HTTP.Listen = "127.0.0.1:0"
		ncfg.Control.Topic = "bench-models-" + tag
		ncfg.Ingress.Topics = []string{"bench-models-in-" + tag}
		ncfg.Ingress.Predictions = "bench-models-out-" + tag
		ncfg.Ingress.DeadLetter = "bench-models-dead-" + tag
		ncfg.Ingress.Group = "bench-models-" + tag
		ncfg.Model.IdleTimeout = cfg.IdleTimeout
		ncfg.Model.MaxActive = max(ncfg.Model.MaxActive, active+1)
		n, err := StartNode(ctx, ncfg, cfg.Logger.With("node", ncfg.Cluster.Name))
		if err != nil {
			return nodes, fmt.Errorf("start node %s: %w", ncfg.Cluster.Name, err)
		}
		nodes = append(nodes, n)
		join = []string{n.Cluster.GossipAddr()}
	}
	for _, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			return nodes, err
		}
	}
	deadline := time.Now().Add(time.Minute)
	for _, n := range nodes {
		for len(n.Cluster.Members()) != len(nodes) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nodes, fmt.Errorf("node %s sees %d of %d members after a minute", n.Cluster.Name(), len(n.Cluster.Members()), len(nodes))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes, nil
}

// brokerBytesPerRecord measures what the embedded broker holds per
// control record, with n records of the same size in a scratch topic,
// deleted afterwards.
func brokerBytesPerRecord(ctx context.Context, opts []kgo.Opt, n int, tag string) (float64, error) {
	// As the node publishes descriptors: one record per batch, as sent.
	cl, err := kgo.NewClient(append(opts, kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	topic := "bench-calibrate-" + tag
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		return 0, fmt.Errorf("create %s: %w", topic, err)
	}
	// At least 2,000 records, so that the figure per record stands out of
	// what the rest of the process frees or allocates meanwhile.
	n = max(n, 2000)
	before := liveHeap()
	err = parallel(ctx, n, 32, func(i int) error {
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "m%07d", i), Value: benchModelDesc}).FirstErr()
	})
	if err != nil {
		return 0, fmt.Errorf("produce to %s: %w", topic, err)
	}
	per := (liveHeap() - before) / float64(n)
	if _, err := adm.DeleteTopic(ctx, topic); err != nil {
		return 0, fmt.Errorf("delete %s: %w", topic, err)
	}
	return per, nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// deployAttempts bounds the attempts of one deploy in the bench.
const deployAttempts = 5

// deploy PUTs desc to url until it is accepted. A 503 (publish_failed:
// not published) is made again, as a client would, up to deployAttempts in
// all; any other refusal is an error. It returns the attempts made again,
// whether the answer was 202 pending (published, not read back within the
// deploy's bound) and the slowest answer.
func deploy(ctx context.Context, c *http.Client, url string, desc []byte) (retries int, pending bool, slowest time.Duration, err error) {
	for attempt := 1; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(desc))
		t := time.Now()
		body, err := doBody(c, req, http.StatusAccepted)
		slowest = max(slowest, time.Since(t))
		if err == nil {
			var ans struct{ Pending bool }
			if err := json.Unmarshal(body, &ans); err != nil {
				return retries, false, slowest, fmt.Errorf("PUT %s: answer %q: %w", req.URL.Path, body, err)
			}
			return retries, ans.Pending, slowest, nil
		}
		var se *statusError
		if !errors.As(err, &se) || se.status != http.StatusServiceUnavailable || attempt == deployAttempts {
			return retries, false, slowest, err
		}
		retries++
	}
}

// statusError is an answer with another status than the one expected.
type statusError struct {
	status int
	text   string
}

func (e *statusError) Error() string { return e.text }

// do sends req and checks the status, draining the body.
func do(c *http.Client, req *http.Request, want int) error {
	_, err := doBody(c, req, want)
	return err
}

// doBody sends req, checks the status and returns the body.
func doBody(c *http.Client, req *http.Request, want int) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return nil, &statusError{resp.StatusCode, fmt.Sprintf("%s %s: %s %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(body))}
	}
	if want == http.StatusOK && len(body) > 0 && !json.Valid(body) {
		return nil, fmt.Errorf("%s %s: answer is not JSON", req.Method, req.URL.Path)
	}
	return body, nil
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// WriteModelsBench prints the many-models results.
func WriteModelsBench(w io.Writer, cfg ModelsBenchConfig, r ModelsBenchResult) {
	where := "one node"
	if r.Nodes > 1 {
		where = fmt.Sprintf("%d nodes in one process (deploys, activations and predictions spread over them)", r.Nodes)
	}
	fmt.Fprintf(w, "%d linear models (no labels) on %s, %d active (%.0f%%); %d concurrent requests\n", r.Models, where, r.Active, 100*cfg.ActiveFraction, cfg.Concurrency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "DEPLOY RATE PER TENTH (models/s)")
	for _, x := range r.DeployRate {
		fmt.Fprintf(tw, "\t%.0f", x)
	}
	fmt.Fprintln(tw)
	_ = tw.Flush()
	if r.Nodes > 1 {
		per := make([]string, len(r.ActivePerNode))
		for i, a := range r.ActivePerNode {
			per[i] = fmt.Sprint(a)
		}
		fmt.Fprintf(w, "active models per node: %s\n", strings.Join(per, ", "))
	}
	last, first := r.DeployRate[9], r.DeployRate[0]
	if first > 0 {
		fmt.Fprintf(w, "deploy: %s in all; the last tenth at %.0f%% of the first's rate; slowest answer %s; %d deploys answered 202 pending (published, not read back in time); %d answered 503 (not published) and made again\n",
			r.DeployElapsed.Round(time.Millisecond), 100*last/first, r.DeploySlowest.Round(time.Millisecond), r.DeployPending, r.DeployRetries)
	}
	perNode := ""
	if r.Nodes > 1 {
		perNode = fmt.Sprintf(", summed over the %d nodes' tables: %.0f B per node", r.Nodes, r.BytesDeployed/float64(r.Nodes))
	}
	fmt.Fprintf(w, "heap per deployed, never activated model: %.0f B (the embedded broker's copy of its control record, %.0f B, not counted%s)\n", r.BytesDeployed, r.BrokerBytesPerRecord, perNode)
	fmt.Fprintf(w, "heap per active model, on top:            %.0f B\n", r.BytesActive)
	passive := "every active model passivated"
	if !r.Passivated {
		passive = "NOT every model passivated in time"
	}
	fmt.Fprintf(w, "heap kept per passivated model:           %.0f B (%s)\n", r.BytesPassivated, passive)
	fmt.Fprintf(w, "GET /v1/models?limit=100: p50 %s, p99 %s (%d pages)\n", r.ListP50.Round(10*time.Microsecond), r.ListP99.Round(10*time.Microsecond), max(1, cfg.Pages))
	fmt.Fprintf(w, "POST /v1/models/{id}/predict, one at a time: p50 %s, p99 %s (the first %d predictions)\n", r.PredictP50.Round(10*time.Microsecond), r.PredictP99.Round(10*time.Microsecond), min(r.Steady.Predicts, max(1, cfg.Predicts)))
	fmt.Fprintf(w, "  spanning %d garbage collections: p50 %s, p99 %s, p99.9 %s (%d predictions in %s)\n", r.Steady.GCs, r.Steady.P50.Round(10*time.Microsecond), r.Steady.P99.Round(10*time.Microsecond), r.Steady.P999.Round(10*time.Microsecond), r.Steady.Predicts, r.Steady.Elapsed.Round(100*time.Millisecond))
	if r.Steady.ActiveAfter < r.Active {
		fmt.Fprintf(w, "  %d of the %d active models passivated before the predictions ended and were re-activated by them (raise --idle-timeout)\n", r.Active-r.Steady.ActiveAfter, r.Active)
	}
}
