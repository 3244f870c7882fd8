package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/learning/eval"
	"github.com/actorserve/actorserve/serving"
)

type learnerFlags []string

func (l *learnerFlags) String() string     { return strings.Join(*l, " ") }
func (l *learnerFlags) Set(s string) error { *l = append(*l, s); return nil }

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg eval.Config
	var learners learnerFlags
	header := fs.String("header", "auto", "the CSV's first row: auto, yes or no")
	fs.StringVar(&cfg.Path, "file", "", "CSV file (or --generate)")
	generate := fs.String("generate", "", "evaluate on a generated stream instead of a file: sea:rows=N,seed=S,noise=P (SEA concepts with three abrupt drifts)")
	fs.StringVar(&cfg.Label, "label", "", "label column, by name or index (default: the last; negative counts from the end)")
	fs.StringVar(&cfg.Task, "task", "", "binary, multiclass or regression (default: from the labels)")
	fs.IntVar(&cfg.Seeds, "shuffle-seeds", 0, "evaluate on this many seeded shuffles (i.i.d. data); 0 keeps file order (temporal data)")
	fs.IntVar(&cfg.Delay, "delay", 0, "label delay in events")
	fs.IntVar(&cfg.Limit, "limit", 0, "use only the first N rows")
	fs.Var(&learners, "learner", "learner spec, repeatable, e.g. pa, pa1:C=0.5, scw1:eta=0.75,drift=ddm, arow, logreg (default: pa, pa1, pa2, scw1, scw2, arow, logreg)")
	fs.IntVar(&cfg.Curve, "curve", 0, "sample the windowed accuracy every N events (with --plot)")
	plot := fs.String("plot", "", "write the learning curves (first run of each learner) to this SVG file; implies --curve 500 when not given")
	marks := fs.String("mark", "", "comma-separated event positions to mark on the plot (for example where concepts drift)")
	through := fs.Bool("through-cluster", false, "replay the data through Kafka and a running cluster as events followed by their labels")
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP address of any node (with --through-cluster)")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka brokers (with --through-cluster)")
	topic := fs.String("topic", "actorserve.events", "events topic (with --through-cluster)")
	var kc KafkaConfig
	kc.registerFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	kopts, err := kc.opts()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	var markAt []int
	if *generate != "" {
		kind, rest, _ := strings.Cut(*generate, ":")
		if kind != "sea" {
			return fmt.Errorf("%w: --generate %q: only sea is known", ErrUsage, *generate)
		}
		rows, seed, noise := 100000, 1, 0.1
		for _, kv := range splitComma(rest) {
			k, v, _ := strings.Cut(kv, "=")
			var err error
			switch k {
			case "rows":
				rows, err = strconv.Atoi(v)
			case "seed":
				seed, err = strconv.Atoi(v)
			case "noise":
				noise, err = strconv.ParseFloat(v, 64)
			default:
				err = fmt.Errorf("unknown key")
			}
			if err != nil || rows < 4 || seed < 0 || noise < 0 || noise >= 0.5 {
				return fmt.Errorf("%w: --generate %q: %q", ErrUsage, *generate, kv)
			}
		}
		d, drifts := eval.GenerateSEA(rows, uint64(seed), noise)
		cfg.Data, markAt = d, drifts
		cfg.Path = fmt.Sprintf("SEA stream (%d rows, seed %d, noise %.2f)", rows, seed, noise)
	}
	if cfg.Path == "" {
		return fmt.Errorf("%w: eval needs --file or --generate", ErrUsage)
	}
	switch *header {
	case "auto":
		cfg.Header = eval.HeaderAuto
	case "yes":
		cfg.Header = eval.HeaderYes
	case "no":
		cfg.Header = eval.HeaderNo
	default:
		return fmt.Errorf("%w: --header %q: want auto, yes or no", ErrUsage, *header)
	}
	if len(learners) == 0 {
		learners = learnerFlags{"pa", "pa1", "pa2", "scw1", "scw2", "arow", "logreg"}
	}
	for _, spec := range learners {
		l, err := eval.ParseLearner(spec)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
		cfg.Learners = append(cfg.Learners, l)
	}
	if *plot != "" && cfg.Curve == 0 {
		cfg.Curve = 500
	}
	for _, m := range splitComma(*marks) {
		v, err := strconv.Atoi(m)
		if err != nil {
			return fmt.Errorf("%w: --mark %q", ErrUsage, m)
		}
		markAt = append(markAt, v)
	}
	if *through && cfg.Data != nil {
		return fmt.Errorf("%w: --through-cluster needs --file", ErrUsage)
	}
	if !*through {
		res, err := eval.Run(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "prequential evaluation of %s (%s)\n", cfg.Path, orderNote(cfg))
		if err := eval.WriteTable(stdout, res); err != nil {
			return err
		}
		if *plot != "" {
			f, err := os.Create(*plot)
			if err != nil {
				return err
			}
			defer f.Close()
			name := cfg.Path
			if cfg.Data == nil {
				name = filepath.Base(cfg.Path)
			}
			title := fmt.Sprintf("Prequential accuracy over the last %d events: %s", windowOf(cfg), name)
			if err := plotCurves(f, title, "windowed accuracy", res, markAt); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "plot written to %s\n", *plot)
		}
		return nil
	}
	res, err := evalThroughCluster(ctx, cfg, *httpAddr, splitComma(*brokers), *topic, stderr, kopts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "prequential evaluation of %s through the cluster at %s (%s)\n", cfg.Path, *httpAddr, orderNote(cfg))
	return eval.WriteTable(stdout, res)
}

// windowOf is the recent window the curves use (learning.params.window,
// 1000 by default).
func windowOf(cfg eval.Config) int {
	for _, l := range cfg.Learners {
		if v, ok := l.Learning.Params["window"].(float64); ok {
			return int(v)
		}
	}
	return 1000
}

func orderNote(cfg eval.Config) string {
	s := "file order"
	if cfg.Seeds > 0 {
		s = fmt.Sprintf("%d seeded shuffles", cfg.Seeds)
	}
	if cfg.Delay > 0 {
		s += fmt.Sprintf(", labels delayed by %d events", cfg.Delay)
	}
	return s
}

// evalThroughCluster deploys one online model per learner and seed,
// produces every row as an event and its label as a later label-only
// event (after Delay more events), waits until the cluster has learned from
// every label, and reads the model's live learning stats.
func evalThroughCluster(ctx context.Context, cfg eval.Config, httpAddr string, brokers []string, topic string, progress io.Writer, kopts ...kgo.Opt) ([]eval.Result, error) {
	d, err := eval.Load(cfg.Path, cfg.Header, cfg.Label)
	if err != nil {
		return nil, err
	}
	if cfg.Limit > 0 && cfg.Limit < len(d.X) {
		d.X, d.Y = d.X[:cfg.Limit], d.Y[:cfg.Limit]
	}
	task := cfg.Task
	classes := d.Classes()
	if task == "" {
		task = learning.TaskMulticlass
		if len(classes) == 2 {
			task = learning.TaskBinary
		}
	}
	cl, err := kgo.NewClient(append(kopts, kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(2*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	h := httpFlags{addr: httpAddr}
	seeds := max(1, cfg.Seeds)
	tag := strconv.FormatUint(rand.Uint64()%1e6, 10)
	var out []eval.Result
	for li, l := range cfg.Learners {
		res := eval.Result{Name: l.Name, Task: task, Rows: len(d.X), Features: len(d.Features)}
		var accs, kappas, kappaTs, maes, drifts []float64
		var totalRows int
		var totalTime time.Duration
		for seed := 1; seed <= seeds; seed++ {
			s := seed
			if cfg.Seeds == 0 {
				s = 0 // file order
			}
			order := eval.Order(len(d.X), s)
			id := fmt.Sprintf("eval-%s-%d-%d", tag, li, seed)
			lg := l.Learning
			if lg.Task == "" {
				lg.Task = task
			}
			desc := &serving.Descriptor{ID: id, Format: learning.Format, Features: d.Features, Learning: &lg}
			if task != learning.TaskRegression {
				desc.Labels = classes
			}
			body, _ := json.Marshal(desc)
			if err := call(ctx, http.MethodPut, h.url("/v1/models/"+id), body, nil); err != nil {
				return nil, fmt.Errorf("deploy %s: %w", id, err)
			}
			start := time.Now()
			produce := func(v any) {
				b, _ := json.Marshal(v)
				cl.Produce(ctx, &kgo.Record{Key: []byte(id), Value: b}, nil)
			}
			for t := 0; t < len(order)+cfg.Delay; t++ {
				if t < len(order) {
					i := order[t]
					feats := make(map[string]float64, len(d.Features))
					for j, name := range d.Features {
						feats[name] = d.X[i][j]
					}
					produce(map[string]any{"id": strconv.Itoa(t), "features": feats})
				}
				if k := t - cfg.Delay; k >= 0 && k < len(order) {
					produce(map[string]any{"id": strconv.Itoa(k), "label": d.Y[order[k]]})
				}
			}
			if err := cl.Flush(ctx); err != nil {
				return nil, err
			}
			var st learningJSONStats
			for {
				var m struct {
					Learning *learningJSONStats `json:"learning"`
				}
				if err := call(ctx, http.MethodGet, h.url("/v1/models/"+id), nil, &m); err != nil {
					return nil, err
				}
				if m.Learning != nil && m.Learning.Matched+m.Learning.Unmatched >= int64(len(order)) {
					st = *m.Learning
					break
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
			el := time.Since(start)
			fmt.Fprintf(progress, "%s seed %d: %d events and labels in %s (%d labels unmatched)\n", l.Name, seed, len(order), el.Round(time.Millisecond), st.Unmatched)
			totalRows += len(order)
			totalTime += el
			accs, kappas, kappaTs, maes, drifts = append(accs, st.Accuracy), append(kappas, st.Kappa), append(kappaTs, st.KappaT), append(maes, st.MAE), append(drifts, float64(st.Drifts))
			_ = call(ctx, http.MethodDelete, h.url("/v1/models/"+id), nil, nil)
		}
		res.Accuracy, res.Kappa, res.KappaT, res.MAE, res.Drifts = summary(accs), summary(kappas), summary(kappaTs), summary(maes), summary(drifts)
		res.UpdatesPerSec = float64(totalRows) / totalTime.Seconds()
		res.Runs = make([]eval.RunResult, seeds)
		out = append(out, res)
	}
	return out, nil
}

type learningJSONStats struct {
	Accuracy  float64 `json:"accuracy"`
	Kappa     float64 `json:"kappa"`
	KappaT    float64 `json:"kappa_t"`
	MAE       float64 `json:"mae"`
	Drifts    int64   `json:"drifts"`
	Matched   int64   `json:"matched_feedback"`
	Unmatched int64   `json:"unmatched_feedback"`
}

func summary(v []float64) eval.Summary {
	if len(v) == 0 {
		return eval.Summary{}
	}
	s := eval.Summary{Min: v[0], Max: v[0]}
	for _, x := range v {
		s.Mean += x
		s.Min, s.Max = min(s.Min, x), max(s.Max, x)
	}
	s.Mean /= float64(len(v))
	return s
}
