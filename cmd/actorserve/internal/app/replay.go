package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/actors/control"
	"github.com/actorserve/actorserve/actors/ingress"
	"github.com/actorserve/actorserve/actors/msg"
	"github.com/actorserve/actorserve/actors/state"
	"github.com/actorserve/actorserve/queryable"
	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/output"
)

// replayConfig is `actorserve replay`.
type replayConfig struct {
	Model   string
	Version int64 // 0 = the current one
	From    string
	To      string // "" = the end offsets when the replay starts
	Output  string
	Brokers []string
	Inputs  []string
	// The topics a replay must never write to.
	ModelsTopic, StateTopic, Predictions, Shadow, DeadLetter string
	Batch                                                    int
	Workers                                                  int
	JoinWindow                                               int
	Progress                                                 time.Duration
	IdleTimeout                                              time.Duration
	Kafka                                                    KafkaConfig
	Sources                                                  SourcesConfig
}

func defaultReplayConfig() replayConfig {
	ic := ingress.DefaultConfig()
	return replayConfig{
		Brokers:     []string{"127.0.0.1:9092"},
		Inputs:      slices.Clone(ic.Topics),
		ModelsTopic: control.DefaultTopic,
		StateTopic:  state.DefaultTopic,
		Predictions: ic.Predictions,
		Shadow:      ic.Shadow,
		DeadLetter:  ic.DeadLetter,
		Batch:       256,
		Workers:     runtime.GOMAXPROCS(0),
		JoinWindow:  100_000,
		Progress:    time.Second,
		IdleTimeout: 10 * time.Second,
	}
}

func (c *replayConfig) registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Model, "model", c.Model, "id of the model to replay")
	fs.Int64Var(&c.Version, "version", c.Version, "version to score with: the current one, its shadow or canary, or a kept earlier one (default: the current one)")
	fs.StringVar(&c.From, "from", c.From, "where to start in every partition of the input topics: an RFC 3339 time (the first record at or after it), an offset, or \"start\"")
	fs.StringVar(&c.To, "to", c.To, "where to stop, exclusive: an RFC 3339 time, an offset, or \"end\" (default: the end offsets when the replay starts)")
	fs.StringVar(&c.Output, "output", c.Output, "topic the replayed predictions are written to (never a topic the cluster serves from or writes to)")
	fs.Func("brokers", "comma-separated Kafka bootstrap brokers host:port (default 127.0.0.1:9092)", func(s string) error {
		c.Brokers = splitComma(s)
		return nil
	})
	fs.Func("input-topics", "comma-separated input topics to read (default actorserve.events)", func(s string) error {
		c.Inputs = splitComma(s)
		return nil
	})
	fs.StringVar(&c.ModelsTopic, "models-topic", c.ModelsTopic, "compacted control topic that holds the model descriptors")
	fs.StringVar(&c.StateTopic, "state-topic", c.StateTopic, "the cluster's learned-state topic (refused as --output)")
	fs.StringVar(&c.Predictions, "predictions-topic", c.Predictions, "the cluster's live predictions topic (refused as --output)")
	fs.StringVar(&c.Shadow, "shadow-topic", c.Shadow, "the cluster's shadow topic (refused as --output)")
	fs.StringVar(&c.DeadLetter, "deadletter-topic", c.DeadLetter, "the cluster's dead-letter topic (refused as --output)")
	fs.IntVar(&c.Batch, "batch", c.Batch, "events scored per model call")
	fs.IntVar(&c.Workers, "workers", c.Workers, "goroutines scoring and writing batches, one per CPU by default")
	fs.IntVar(&c.JoinWindow, "join-window", c.JoinWindow, "predictions kept waiting for a later label-only event with the same id")
	fs.DurationVar(&c.Progress, "progress", c.Progress, "how often progress is printed on stderr (0 = never)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "stop when no record arrives this long before every partition reached --to (records missing from a compacted topic, transaction markers)")
	c.Kafka.registerFlags(fs)
	c.Sources.registerFlags(fs)
}

// validate checks the flags, above all that the output is no topic the
// live cluster reads or writes.
func (c *replayConfig) validate() error {
	var errs []error
	if c.Model == "" {
		errs = append(errs, errors.New("replay needs --model"))
	}
	if c.From == "" {
		errs = append(errs, errors.New("replay needs --from (an RFC 3339 time, an offset, or \"start\")"))
	}
	if c.Version < 0 {
		errs = append(errs, fmt.Errorf("--version %d: want a version above 0", c.Version))
	}
	if len(c.Inputs) == 0 {
		errs = append(errs, errors.New("--input-topics names no topic"))
	}
	if c.Batch < 1 {
		errs = append(errs, fmt.Errorf("--batch %d: want at least 1", c.Batch))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("--workers %d: want at least 1", c.Workers))
	}
	if c.JoinWindow < 0 {
		errs = append(errs, fmt.Errorf("--join-window %d: want 0 or more", c.JoinWindow))
	}
	switch {
	case c.Output == "":
		errs = append(errs, errors.New("replay needs --output, a topic of its own for the replayed predictions"))
	default:
		refused := []struct{ topic, role string }{
			{c.Predictions, "the live predictions topic (--predictions-topic)"},
			{c.Shadow, "the shadow topic (--shadow-topic)"},
			{c.DeadLetter, "the dead-letter topic (--deadletter-topic)"},
			{c.ModelsTopic, "the control topic (--models-topic)"},
			{c.StateTopic, "the learned-state topic (--state-topic)"},
		}
		for _, t := range c.Inputs {
			refused = append(refused, struct{ topic, role string }{t, "an input topic (--input-topics)"})
		}
		for _, r := range refused {
			if c.Output == r.topic {
				errs = append(errs, fmt.Errorf("--output %q is %s: a replay never writes where the cluster reads or writes; name a topic of its own, e.g. actorserve.replay.%s", c.Output, r.role, c.Model))
				break
			}
		}
	}
	return errors.Join(errs...)
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := defaultReplayConfig()
	c.registerFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: replay takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if err := c.Sources.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if len(c.Sources.Dirs) > 0 || len(c.Sources.Hosts) > 0 {
		c.Sources.apply()
	}
	rep, err := replay(ctx, c, stderr)
	if rep != nil {
		rep.print(stdout)
	}
	return err
}

// replayReport is what a replay did.
type replayReport struct {
	Model   string
	Version int64
	Output  string
	// Records is every record read in the range; Events those of the
	// model; Other counts undecodable records that name no model (not
	// keyed by it), which may or may not have been the model's.
	Records, Events, Other int64
	Scored, Written        int64
	Empty                  int64 // empty predictions skipped (options.on_empty: skip)
	Bad                    map[string]int64
	// Labels are labelled predictions (a label with the event, or a
	// label-only event joined by id); Unmatched label-only events found
	// no prediction within the join window.
	Labels, Unmatched int64
	Regression        bool
	Correct           int64
	AbsErr            float64
	Elapsed           time.Duration
	// Stopped names partitions left before --to after --idle-timeout.
	Stopped []string
}

func (r *replayReport) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// Accuracy is the share of labelled predictions that were right
// (classification); MAE the mean absolute error (regression).
func (r *replayReport) Accuracy() float64 {
	if r.Labels == 0 {
		return math.NaN()
	}
	return float64(r.Correct) / float64(r.Labels)
}

func (r *replayReport) MAE() float64 {
	if r.Labels == 0 {
		return math.NaN()
	}
	return r.AbsErr / float64(r.Labels)
}

func (r *replayReport) badTotal() int64 {
	var n int64
	for _, v := range r.Bad {
		n += v
	}
	return n
}

func (r *replayReport) print(w io.Writer) {
	fmt.Fprintf(w, "replayed model %s version %d to %s: %d events of %d records in %s (%.0f events/s, %.0f records/s)\n",
		r.Model, r.Version, r.Output, r.Events, r.Records, r.Elapsed.Round(time.Millisecond), r.rate(), float64(r.Records)/max(r.Elapsed.Seconds(), 1e-9))
	fmt.Fprintf(w, "  scored %d, written %d", r.Scored, r.Written)
	if r.Empty > 0 {
		fmt.Fprintf(w, ", empty predictions skipped %d", r.Empty)
	}
	fmt.Fprintln(w)
	if n := r.badTotal(); n > 0 {
		reasons := slices.Sorted(maps.Keys(r.Bad))
		parts := make([]string, len(reasons))
		for i, k := range reasons {
			parts[i] = fmt.Sprintf("%s %d", k, r.Bad[k])
		}
		fmt.Fprintf(w, "  bad events %d: %s\n", n, strings.Join(parts, ", "))
	} else {
		fmt.Fprintln(w, "  bad events 0")
	}
	if r.Other > 0 {
		fmt.Fprintf(w, "  undecodable records naming no model (not counted as the model's): %d\n", r.Other)
	}
	switch {
	case r.Labels == 0:
		fmt.Fprintln(w, "  no labels: no accuracy")
	case r.Regression:
		fmt.Fprintf(w, "  labels %d: MAE %.6g\n", r.Labels, r.MAE())
	default:
		fmt.Fprintf(w, "  labels %d: accuracy %.6f (%d correct)\n", r.Labels, r.Accuracy(), r.Correct)
	}
	if r.Unmatched > 0 {
		fmt.Fprintf(w, "  label-only events with no prediction within --join-window: %d\n", r.Unmatched)
	}
	if len(r.Stopped) > 0 {
		fmt.Fprintf(w, "  stopped after --idle-timeout before --to in: %s\n", strings.Join(r.Stopped, ", "))
	}
}

// replay re-scores the model's events of the range with the chosen
// version and writes the predictions to c.Output. It reads with a plain
// consumer (no group: the cluster's offsets are untouched) and never
// loads the model into the cluster. Memory is bounded by the batch, the
// client's fetch and produce buffers and the join window.
func replay(ctx context.Context, c replayConfig, stderr io.Writer) (*replayReport, error) {
	kopts, err := c.Kafka.opts()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	base := append(kopts, kgo.SeedBrokers(c.Brokers...))
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	rec, err := readModelRecord(ctx, base, adm, c.ModelsTopic, c.Model)
	if err != nil {
		return nil, err
	}
	d, err := pickVersion(rec, c.Version)
	if err != nil {
		return nil, err
	}
	if d.Learns() {
		return nil, fmt.Errorf("model %q version %d learns online: its predictions depend on state learned from the live stream, which a replay cannot rebuild; replay scores models that do not learn", c.Model, d.Version)
	}
	m, err := NewRegistry().Load(d)
	if err != nil {
		return nil, err
	}
	prog, err := output.Compile(d.Output)
	if err != nil {
		return nil, fmt.Errorf("model %q version %d: %w", c.Model, d.Version, err)
	}

	ranges, err := replayRanges(ctx, adm, c.Inputs, c.From, c.To)
	if err != nil {
		return nil, err
	}
	if err := ensureOutput(ctx, adm, c.Output, ranges); err != nil {
		return nil, err
	}

	assign := map[string]map[int32]kgo.Offset{}
	pending := 0
	for _, pr := range ranges {
		if pr.from >= pr.to {
			continue
		}
		if assign[pr.topic] == nil {
			assign[pr.topic] = map[int32]kgo.Offset{}
		}
		assign[pr.topic][pr.part] = kgo.NewOffset().At(pr.from)
		pending++
	}
	cl, err := kgo.NewClient(append(slices.Clone(base),
		kgo.ConsumePartitions(assign),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.DefaultProduceTopic(c.Output))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	s := newScorer(c, d, m, prog, cl)
	defer s.stop()
	rep := s.rep
	start := time.Now()
	stop := s.startProgress(stderr, start)
	defer stop()

	ends := map[string]map[int32]int64{}
	for _, pr := range ranges {
		if pr.from < pr.to {
			if ends[pr.topic] == nil {
				ends[pr.topic] = map[int32]int64{}
			}
			ends[pr.topic][pr.part] = pr.to
		}
	}
	lastRecord := time.Now()
	for pending > 0 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return s.finish(start), err
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			if ferr == nil {
				ferr = fmt.Errorf("read %s partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return s.finish(start), ferr
		}
		got := false
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			end, ok := ends[fp.Topic][fp.Partition]
			if !ok {
				return // done already
			}
			for _, r := range fp.Records {
				if r.Offset >= end {
					break
				}
				got = true
				s.take(r)
			}
			if n := len(fp.Records); n > 0 && fp.Records[n-1].Offset >= end-1 {
				delete(ends[fp.Topic], fp.Partition)
				cl.PauseFetchPartitions(map[string][]int32{fp.Topic: {fp.Partition}})
				pending--
			}
		})
		if err := s.err(); err != nil {
			return s.finish(start), err
		}
		if got {
			lastRecord = time.Now()
		} else if pending > 0 && c.IdleTimeout > 0 && time.Since(lastRecord) > c.IdleTimeout {
			for t, ps := range ends {
				for p := range ps {
					rep.Stopped = append(rep.Stopped, t+"/"+strconv.Itoa(int(p)))
				}
			}
			sort.Strings(rep.Stopped)
			break
		}
	}
	s.drain()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		return s.finish(start), fmt.Errorf("write predictions to %s: %w", c.Output, err)
	}
	return s.finish(start), s.err()
}

// readModelRecord reads the control topic up to its end and returns the
// model's record as every node applies it (the highest revision; a
// tombstone deletes).
func readModelRecord(ctx context.Context, base []kgo.Opt, adm *kadm.Client, topic, id string) (*serving.Descriptor, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("control topic %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("control topic %s: %w", topic, err)
	}
	assign := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	var lerr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
			return
		}
		st, _ := starts.Lookup(o.Topic, o.Partition)
		if o.Offset > st.Offset {
			assign[o.Partition] = kgo.NewOffset().At(st.Offset)
			want[o.Partition] = o.Offset
		}
	})
	if lerr != nil {
		if errors.Is(lerr, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("control topic %s does not exist (is this the cluster's --models-topic?)", topic)
		}
		return nil, fmt.Errorf("control topic %s: %w", topic, lerr)
	}
	var cur *serving.Descriptor
	if len(assign) > 0 {
		cl, err := kgo.NewClient(append(slices.Clone(base), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}))...)
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for len(want) > 0 {
			fetches := cl.PollFetches(rctx)
			if err := rctx.Err(); err != nil {
				return nil, fmt.Errorf("read control topic %s: %w", topic, err)
			}
			if err := fetches.Err0(); err != nil {
				return nil, fmt.Errorf("read control topic %s: %w", topic, err)
			}
			fetches.EachRecord(func(r *kgo.Record) {
				end, ok := want[r.Partition]
				if !ok || r.Offset >= end {
					return
				}
				if r.Offset >= end-1 {
					delete(want, r.Partition)
				}
				if string(r.Key) != id {
					return
				}
				if len(r.Value) == 0 {
					cur = nil // deleted
					return
				}
				d, err := serving.DecodeStoredDescriptor(r.Value)
				if err != nil || d.ID != id {
					return // the nodes do not serve it either
				}
				if cur == nil || d.Rev() > cur.Rev() {
					cur = d
				}
			})
		}
	}
	if cur == nil {
		return nil, fmt.Errorf("%w: model %q has no record in control topic %s (not deployed, or deleted)", queryable.ErrNotDeployed, id, topic)
	}
	return cur, nil
}

// pickVersion returns version v of the record (0 = the current one), or
// an error naming the versions it keeps.
func pickVersion(rec *serving.Descriptor, v int64) (*serving.Descriptor, error) {
	if v == 0 {
		return rec.Bare(), nil
	}
	if d, ok := rec.Find(v); ok {
		return d, nil
	}
	kept := []string{fmt.Sprintf("%d (current)", rec.Version)}
	if rec.Variant != nil {
		mode := "variant"
		if rec.Variant.Rollout != nil && rec.Variant.Rollout.Mode != "" {
			mode = rec.Variant.Rollout.Mode
		}
		kept = append(kept, fmt.Sprintf("%d (%s)", rec.Variant.Version, mode))
	}
	for _, h := range rec.History {
		kept = append(kept, strconv.FormatInt(h.Version, 10))
	}
	return nil, fmt.Errorf("model %q keeps no version %d: the versions it keeps are %s", rec.ID, v, strings.Join(kept, ", "))
}

// partRange is the offsets [from, to) a replay reads of one partition.
type partRange struct {
	topic    string
	part     int32
	from, to int64
}

// replayRanges resolves --from and --to for every partition of the input
// topics. --to never goes past the end offsets at the start, so a replay
// ends.
func replayRanges(ctx context.Context, adm *kadm.Client, topics []string, from, to string) ([]partRange, error) {
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	var errs []error
	for _, t := range topics {
		for _, o := range ends[t] {
			if o.Err != nil {
				if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
					errs = append(errs, fmt.Errorf("input topic %q does not exist", t))
				} else {
					errs = append(errs, fmt.Errorf("input topic %q partition %d: %w", t, o.Partition, o.Err))
				}
				break
			}
		}
		if len(ends[t]) == 0 {
			errs = append(errs, fmt.Errorf("input topic %q does not exist", t))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	bound := func(flagName, s string, def func(o kadm.ListedOffset) int64) (func(t string, p int32) int64, error) {
		switch {
		case s == "" || s == "end" && flagName == "to":
			return func(t string, p int32) int64 { o, _ := ends.Lookup(t, p); return def(o) }, nil
		case s == "start":
			return func(t string, p int32) int64 { o, _ := starts.Lookup(t, p); return o.Offset }, nil
		case s == "end":
			return func(t string, p int32) int64 { o, _ := ends.Lookup(t, p); return o.Offset }, nil
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if n < 0 {
				return nil, fmt.Errorf("%w: --%s %d: offsets are 0 or more", ErrUsage, flagName, n)
			}
			return func(string, int32) int64 { return n }, nil
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("%w: --%s %q: want an RFC 3339 time (2026-01-02T15:04:05Z), an offset, \"start\" or \"end\"", ErrUsage, flagName, s)
		}
		after, err := adm.ListOffsetsAfterMilli(ctx, ts.UnixMilli(), topics...)
		if err != nil {
			return nil, fmt.Errorf("list offsets after %s: %w", s, err)
		}
		return func(t string, p int32) int64 {
			o, ok := after.Lookup(t, p)
			if !ok || o.Err != nil || o.Offset < 0 {
				e, _ := ends.Lookup(t, p)
				return e.Offset
			}
			return o.Offset
		}, nil
	}
	fromAt, err := bound("from", from, nil)
	if err != nil {
		return nil, err
	}
	toAt, err := bound("to", to, func(o kadm.ListedOffset) int64 { return o.Offset })
	if err != nil {
		return nil, err
	}
	var out []partRange
	for _, t := range topics {
		parts := slices.Sorted(maps.Keys(ends[t]))
		for _, p := range parts {
			lo, _ := starts.Lookup(t, p)
			hi, _ := ends.Lookup(t, p)
			f := min(max(fromAt(t, p), lo.Offset), hi.Offset)
			e := min(max(toAt(t, p), f), hi.Offset)
			out = append(out, partRange{topic: t, part: p, from: f, to: e})
		}
	}
	return out, nil
}

// ensureOutput creates the output topic when it is missing, with as many
// partitions as the first input topic.
func ensureOutput(ctx context.Context, adm *kadm.Client, topic string, ranges []partRange) error {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("output topic %s: %w", topic, err)
	}
	if td, ok := tds[topic]; ok && td.Err == nil {
		return nil
	}
	var parts int32
	for _, r := range ranges {
		if r.topic == ranges[0].topic {
			parts++
		}
	}
	resp, err := adm.CreateTopic(ctx, max(parts, 1), -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create output topic %s: %w", topic, err)
	}
	return nil
}

// replayItem is one event of a batch, and what became of it.
type replayItem struct {
	rec     *kgo.Record
	id      string
	label   *msg.Label
	msgpack bool

	bad   string // the reason it failed, set by the worker
	empty bool   // an empty prediction skipped (options.on_empty: skip)
	pred  joined
}

// replayBatch is up to --batch events scored by one worker.
type replayBatch struct {
	seq   int64
	items []replayItem
	rows  [][]float64
	out   []serving.Prediction
	errs  []error
	done  chan struct{}
}

// labelOnly is a label-only event waiting for the batches read before it.
type labelOnly struct {
	after int64 // the last batch dispatched before it
	id    string
	label *msg.Label
}

// scorer decodes and vectorizes on the reading goroutine (the schema is
// stateful: on_nan "mean" follows the stream's order), scores, encodes
// and writes batches on --workers goroutines, and applies their results
// on the reading goroutine in the order read, so labels join the
// predictions before them.
type scorer struct {
	c      replayConfig
	d      *serving.Descriptor
	m      serving.Model
	schema *serving.Schema
	prog   *output.Program
	cl     *kgo.Client
	rep    *replayReport

	cur      *replayBatch
	seq      int64
	inflight []*replayBatch
	free     []*replayBatch
	work     chan *replayBatch
	wg       sync.WaitGroup
	waiting  []labelOnly

	// join remembers predictions waiting for a later label, oldest first.
	join      map[string]joined
	joinOrder []string
	joinHead  int

	records, events, scored, bad atomic.Int64
	written                      atomic.Int64
	mu                           sync.Mutex
	firstErr                     error
}

type joined struct {
	label string
	value *float64
}

func newScorer(c replayConfig, d *serving.Descriptor, m serving.Model, prog *output.Program, cl *kgo.Client) *scorer {
	s := &scorer{c: c, d: d, m: m, schema: serving.NewSchema(d, m.NumFeatures()), prog: prog, cl: cl,
		rep:  &replayReport{Model: c.Model, Version: d.Version, Output: c.Output, Bad: map[string]int64{}, Regression: len(d.Labels) == 0},
		join: map[string]joined{},
		work: make(chan *replayBatch, c.Workers),
	}
	for range c.Workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for b := range s.work {
				s.score(b)
				close(b.done)
			}
		}()
	}
	s.cur = s.newBatch()
	return s
}

// stop ends the workers once every batch was applied.
func (s *scorer) stop() {
	close(s.work)
	s.wg.Wait()
}

func (s *scorer) newBatch() *replayBatch {
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b
	}
	n := s.c.Batch
	return &replayBatch{items: make([]replayItem, 0, n), rows: make([][]float64, n), out: make([]serving.Prediction, n), errs: make([]error, n)}
}

func (s *scorer) badEvent(reason string) {
	s.rep.Bad[reason]++
	s.bad.Add(1)
}

// take handles one record of the range.
func (s *scorer) take(r *kgo.Record) {
	s.records.Add(1)
	s.rep.Records++
	keyed := string(r.Key) == s.c.Model
	ev, err := ingress.DecodeReplayEvent(r)
	if err != nil {
		if keyed {
			s.rep.Events++
			s.events.Add(1)
			s.badEvent(msg.CodeDecode)
		} else {
			s.rep.Other++
		}
		return
	}
	if !keyed && ev.Model != s.c.Model {
		return
	}
	s.rep.Events++
	s.events.Add(1)
	if ev.Features == nil {
		if ev.Label == nil {
			s.badEvent(msg.CodeSchemaMismatch) // as the ingress: no features and no label
			return
		}
		s.labelOnly(ev.ID, ev.Label)
		return
	}
	b := s.cur
	i := len(b.items)
	x, err := s.schema.Vector(ev.Features, b.rows[i])
	if err != nil {
		s.badEvent(replayCode(err))
		return
	}
	b.rows[i] = x
	b.items = append(b.items, replayItem{rec: r, id: ev.ID, label: ev.Label, msgpack: ev.Msgpack})
	if len(b.items) == s.c.Batch {
		s.dispatch()
	}
}

// replayCode is the reason the model actor gives a failed event.
func replayCode(err error) string {
	switch {
	case errors.Is(err, serving.ErrNaNRejected):
		return msg.CodeNaNRejected
	case errors.Is(err, serving.ErrSchemaMismatch):
		return msg.CodeSchemaMismatch
	case errors.Is(err, serving.ErrInvalidEvent):
		return msg.CodeDecode
	}
	return msg.CodeModelError
}

// dispatch hands the current batch to a worker, first applying the
// oldest batches while 2×workers are in flight (bounded memory).
func (s *scorer) dispatch() {
	b := s.cur
	if len(b.items) == 0 {
		return
	}
	for len(s.inflight) >= 2*s.c.Workers {
		s.applyHead()
	}
	s.seq++
	b.seq = s.seq
	b.done = make(chan struct{})
	s.inflight = append(s.inflight, b)
	s.work <- b
	s.cur = s.newBatch()
}

// drain dispatches the current batch and applies every batch.
func (s *scorer) drain() {
	s.dispatch()
	for len(s.inflight) > 0 {
		s.applyHead()
	}
	s.joinWaiting()
}

// applyHead waits for the oldest batch in flight and counts its results.
func (s *scorer) applyHead() {
	b := s.inflight[0]
	<-b.done
	s.inflight[0] = nil
	s.inflight = s.inflight[1:]
	for j := range b.items {
		it := &b.items[j]
		if it.bad != "" {
			s.badEvent(it.bad)
			continue
		}
		s.rep.Scored++
		if it.empty {
			s.rep.Empty++
		}
		if it.label != nil {
			s.addLabel(it.label, it.pred)
		} else if it.id != "" && s.c.JoinWindow > 0 {
			s.remember(it.id, it.pred)
		}
	}
	s.joinWaiting()
	clear(b.items)
	b.items = b.items[:0]
	s.free = append(s.free, b)
}

// score runs on a worker: it scores the batch, then encodes and writes
// its predictions.
func (s *scorer) score(b *replayBatch) {
	k := len(b.items)
	xs, out, errs := b.rows[:k], b.out[:k], b.errs[:k]
	clear(errs)
	t0 := time.Now()
	if err := predictBatch(s.m, xs, out, errs); err != nil {
		for j := range errs {
			errs[j] = err
		}
	}
	now := time.Now()
	latency := now.Sub(t0).Microseconds() / int64(k)
	policy := s.d.Options.EmptyPolicy()
	var scored int64
	for j := range b.items {
		it := &b.items[j]
		if errs[j] != nil {
			it.bad = msg.CodeModelError
			continue
		}
		p := out[j]
		out[j] = serving.Prediction{}
		it.pred = joined{label: p.Label, value: p.Value}
		if p.Empty() {
			switch policy {
			case serving.OnEmptySkip:
				it.empty = true
				scored++
				continue
			case serving.OnEmptyDeadLetter:
				it.bad = msg.CodeModelError
				continue
			}
		}
		user, err := ingress.ReplayUser(s.prog, it.rec, it.msgpack, p)
		if err != nil {
			it.bad = msg.CodeModelError
			continue
		}
		v, err := ingress.EncodeReplayPrediction(&ingress.ReplayPrediction{Model: s.c.Model, Version: s.d.Version, ID: it.id,
			Prediction: p, User: user, Node: "replay", LatencyUS: latency, TS: now.UTC()}, s.d.Labels, it.msgpack)
		if err != nil {
			it.bad = msg.CodeModelError
			continue
		}
		scored++
		key := it.rec.Key
		if it.id != "" {
			key = []byte(it.id)
		}
		rec := &kgo.Record{Key: key, Value: v, Headers: []kgo.RecordHeader{{Key: "actorserve-replay-of",
			Value: []byte(it.rec.Topic + "/" + strconv.Itoa(int(it.rec.Partition)) + "/" + strconv.FormatInt(it.rec.Offset, 10))}}}
		if it.msgpack {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: "content-type", Value: []byte("application/msgpack")})
		}
		s.cl.Produce(context.Background(), rec, s.produced)
	}
	s.scored.Add(scored)
}

func (s *scorer) produced(_ *kgo.Record, err error) {
	if err != nil {
		s.mu.Lock()
		if s.firstErr == nil {
			s.firstErr = fmt.Errorf("write prediction to %s: %w", s.c.Output, err)
		}
		s.mu.Unlock()
		return
	}
	s.written.Add(1)
}

func (s *scorer) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstErr
}

// addLabel adds one labelled prediction to the figures, as the model
// actor measures a model that does not learn.
func (s *scorer) addLabel(l *msg.Label, p joined) {
	if s.rep.Regression {
		if v, err := l.Float(); err == nil && p.value != nil {
			s.rep.Labels++
			s.rep.AbsErr += math.Abs(v - *p.value)
		}
		return
	}
	s.rep.Labels++
	if l.String() == p.label {
		s.rep.Correct++
	}
}

// remember keeps a prediction for a later label-only event, forgetting
// the oldest beyond the join window.
func (s *scorer) remember(id string, p joined) {
	if _, ok := s.join[id]; !ok {
		if len(s.join) >= s.c.JoinWindow {
			for s.joinHead < len(s.joinOrder) {
				old := s.joinOrder[s.joinHead]
				s.joinOrder[s.joinHead] = ""
				s.joinHead++
				if _, ok := s.join[old]; ok {
					delete(s.join, old)
					break
				}
			}
		}
		s.joinOrder = append(s.joinOrder, id)
		if s.joinHead > len(s.joinOrder)/2 && s.joinHead > 1024 {
			s.joinOrder = append(s.joinOrder[:0], s.joinOrder[s.joinHead:]...)
			s.joinHead = 0
		}
	}
	s.join[id] = p
}

// labelOnly joins a label-only event to its prediction once every batch
// read before it was applied.
func (s *scorer) labelOnly(id string, l *msg.Label) {
	for i := range s.cur.items {
		if s.cur.items[i].id == id {
			s.dispatch() // its prediction waits in the current batch
			break
		}
	}
	s.waiting = append(s.waiting, labelOnly{after: s.seq, id: id, label: l})
	if len(s.inflight) == 0 || len(s.waiting) >= maxLabelsWaiting {
		for len(s.inflight) > 0 && len(s.waiting) >= maxLabelsWaiting {
			s.applyHead()
		}
		s.joinWaiting()
	}
}

// maxLabelsWaiting bounds the label-only events held for batches in
// flight.
const maxLabelsWaiting = 4096

// joinWaiting joins the waiting label-only events whose batches were
// applied.
func (s *scorer) joinWaiting() {
	applied := s.seq
	if len(s.inflight) > 0 {
		applied = s.inflight[0].seq - 1
	}
	n := 0
	for n < len(s.waiting) && s.waiting[n].after <= applied {
		w := s.waiting[n]
		s.waiting[n] = labelOnly{}
		n++
		j, ok := s.join[w.id]
		if !ok || w.id == "" {
			s.rep.Unmatched++
			continue
		}
		delete(s.join, w.id)
		s.addLabel(w.label, j)
	}
	s.waiting = s.waiting[n:]
	if len(s.waiting) == 0 {
		s.waiting = nil
	}
}

// startProgress prints progress every c.Progress until the returned
// function is called.
func (s *scorer) startProgress(w io.Writer, start time.Time) func() {
	if s.c.Progress <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.c.Progress)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				fmt.Fprintf(w, "replay %s v%d: read %d records, %d events, scored %d, bad %d, written %d (%.0f events/s)\n",
					s.c.Model, s.d.Version, s.records.Load(), s.events.Load(), s.scored.Load(), s.bad.Load(), s.written.Load(), float64(s.events.Load())/el)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (s *scorer) finish(start time.Time) *replayReport {
	s.rep.Elapsed = time.Since(start)
	s.rep.Written = s.written.Load()
	return s.rep
}

// predictBatch scores a batch; a panicking model fails the batch, as in
// the model actor.
func predictBatch(m serving.Model, xs [][]float64, out []serving.Prediction, errs []error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: the model panicked: %v", serving.ErrModel, r)
		}
	}()
	return m.PredictBatch(xs, out, errs)
}
