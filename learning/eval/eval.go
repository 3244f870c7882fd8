package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/serving"
)

// Learner is one configuration to evaluate.
type Learner struct {
	Name     string           // row name in the table; ParseLearner uses the spec
	Learning serving.Learning // an empty Task takes Config.Task
}

// Config says what to evaluate.
type Config struct {
	Path   string   // CSV file; ignored when Data is set
	Data   *Dataset // an already loaded dataset
	Header Header
	Label  string // target column by name or index ("" = last; negative counts from the end)
	// Task is the task of learners that name none: "binary", "multiclass", "regression", or ""
	// for binary when the target has two distinct values and multiclass otherwise.
	Task string
	// Seeds > 0 runs each learner on that many shuffles of the rows (seeds 1..Seeds), for
	// i.i.d. data; 0 runs once in file order, for temporal data.
	Seeds int
	// Delay is the label delay in events: the label of row t is learned after row t+Delay has
	// been predicted (0: test-then-train on each row).
	Delay int
	// Limit uses only the first Limit rows of the file (0: all), before any shuffle.
	Limit    int
	Learners []Learner
	// Parallel is how many runs go at once (0: GOMAXPROCS).
	Parallel int
	// Curve > 0 records each run's windowed accuracy (MAE for regression) every Curve events,
	// over the model's recent window (learning.params.window, 1000 by default).
	Curve int
}

// Point is one sample of a learning curve.
type Point struct {
	Event  int     // events seen so far
	Recent float64 // windowed accuracy, or windowed MAE for regression
}

// Summary is a mean with its range over runs.
type Summary struct{ Mean, Min, Max float64 }

// RunResult is one run of one learner.
type RunResult struct {
	Seed                    int // 0 for file order
	Accuracy, Kappa, KappaT float64
	NoChange                float64 // accuracy of repeating the previous label
	MAE                     float64
	Updates, Drifts         uint64
	Seconds                 float64 // time in predict and learn calls
	Curve                   []Point // when Config.Curve > 0
}

// Result summarises a learner over its runs.
type Result struct {
	Name          string
	Task          string
	Rows          int
	Features      int
	Accuracy      Summary
	Kappa         Summary
	KappaT        Summary
	MAE           Summary
	NoChange      Summary
	Drifts        Summary
	UpdatesPerSec float64 // total updates / total time in predict and learn calls
	Runs          []RunResult
}

// Run evaluates each learner of cfg and returns one Result per learner, in order.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if len(cfg.Learners) == 0 {
		return nil, errors.New("eval: no learners")
	}
	if cfg.Seeds < 0 || cfg.Delay < 0 || cfg.Limit < 0 {
		return nil, fmt.Errorf("eval: seeds %d, delay %d, limit %d: want >= 0", cfg.Seeds, cfg.Delay, cfg.Limit)
	}
	d := cfg.Data
	if d == nil {
		var err error
		if d, err = Load(cfg.Path, cfg.Header, cfg.Label); err != nil {
			return nil, err
		}
	}
	n := len(d.X)
	if cfg.Limit > 0 && cfg.Limit < n {
		n = cfg.Limit
	}
	sub := &Dataset{Features: d.Features, Target: d.Target, X: d.X[:n], Y: d.Y[:n]}
	classes := sub.Classes()
	values := make([]float64, n)
	task := cfg.Task
	if task == "" {
		task = learning.TaskMulticlass
		if len(classes) <= 2 {
			task = learning.TaskBinary
		}
	}

	type job struct{ learner, seed int }
	var jobs []job
	seeds := []int{0}
	if cfg.Seeds > 0 {
		seeds = seeds[:0]
		for s := 1; s <= cfg.Seeds; s++ {
			seeds = append(seeds, s)
		}
	}
	descs := make([]*serving.Descriptor, len(cfg.Learners))
	for i, l := range cfg.Learners {
		ll := l.Learning
		if ll.Task == "" {
			ll.Task = task
		}
		desc := &serving.Descriptor{ID: "eval", Format: learning.Format, Features: sub.Features, Learning: &ll}
		if ll.Task == learning.TaskRegression {
			for j, y := range sub.Y {
				v, err := strconv.ParseFloat(y, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("%w: row %d: target %q is not a finite number (learner %s does regression)", ErrInvalidData, j+1, y, name(l))
				}
				values[j] = v
			}
		} else {
			desc.Labels = classes
			if ll.Task == learning.TaskBinary && len(classes) > 2 {
				return nil, fmt.Errorf("%w: learner %s is binary but target %q has %d classes", ErrInvalidData, name(l), sub.Target, len(classes))
			}
		}
		if _, err := learning.New(desc); err != nil {
			return nil, fmt.Errorf("eval: learner %s: %w", name(l), err)
		}
		descs[i] = desc
		for _, s := range seeds {
			jobs = append(jobs, job{i, s})
		}
	}

	results := make([][]RunResult, len(cfg.Learners))
	for i := range results {
		results[i] = make([]RunResult, len(seeds))
	}
	par := cfg.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range min(par, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				jb := jobs[j]
				rr, err := runOne(ctx, descs[jb.learner], sub, values, jb.seed, cfg.Delay, cfg.Curve)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("eval: learner %s, seed %d: %w", name(cfg.Learners[jb.learner]), jb.seed, err)
					}
					mu.Unlock()
					cancel()
					continue
				}
				results[jb.learner][slices.Index(seeds, jb.seed)] = rr
			}
		}()
	}
feed:
	for j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Result, len(cfg.Learners))
	for i, l := range cfg.Learners {
		out[i] = summarise(name(l), descs[i].Learning.Task, n, len(sub.Features), results[i])
	}
	return out, nil
}

func name(l Learner) string {
	if l.Name != "" {
		return l.Name
	}
	return l.Learning.Algorithm
}

// runOne is one prequential pass.
// Order is the order in which a run with the given seed visits n rows:
// file order for seed 0, else a seeded shuffle. Replays through the
// cluster use it to see the same sequence.
func Order(n, seed int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if seed > 0 {
		rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	return order
}

func runOne(ctx context.Context, desc *serving.Descriptor, d *Dataset, values []float64, seed, delay, curve int) (RunResult, error) {
	o, err := learning.New(desc)
	if err != nil {
		return RunResult{}, err
	}
	order := Order(len(d.X), seed)
	regression := desc.Learning.Task == learning.TaskRegression
	target := func(i int) learning.Target {
		if regression {
			return learning.Value(values[i])
		}
		return learning.Label(d.Y[i])
	}
	type pending struct {
		row int
		p   serving.Prediction
	}
	queue := make([]pending, 0, delay+1)
	var points []Point
	var paused time.Duration // time spent recording the curve, left out of the throughput
	start := time.Now()
	for t, i := range order {
		if t&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return RunResult{}, err
			}
		}
		if curve > 0 && t > 0 && t%curve == 0 {
			t0 := time.Now()
			points = append(points, point(o, t))
			paused += time.Since(t0)
		}
		if delay == 0 {
			if _, err := o.Learn(d.X[i], target(i)); err != nil {
				return RunResult{}, fmt.Errorf("row %d: %w", i+1, err)
			}
			continue
		}
		p, err := o.Decide(d.X[i])
		if err != nil {
			return RunResult{}, fmt.Errorf("row %d: %w", i+1, err)
		}
		queue = append(queue, pending{i, p})
		if len(queue) > delay {
			q := queue[0]
			queue = queue[1:]
			if _, err := o.LearnAfter(d.X[q.row], target(q.row), q.p); err != nil {
				return RunResult{}, fmt.Errorf("row %d: %w", q.row+1, err)
			}
		}
	}
	for _, q := range queue {
		if _, err := o.LearnAfter(d.X[q.row], target(q.row), q.p); err != nil {
			return RunResult{}, fmt.Errorf("row %d: %w", q.row+1, err)
		}
	}
	secs := (time.Since(start) - paused).Seconds()
	if curve > 0 {
		points = append(points, point(o, len(order)))
	}
	st := o.Stats()
	rr := RunResult{Seed: seed, Accuracy: st.Accuracy, Kappa: st.Kappa, KappaT: st.KappaT, MAE: st.MAE,
		NoChange: st.NoChange, Updates: st.Updates, Drifts: st.Drifts, Seconds: secs, Curve: points}
	return rr, nil
}

func point(o *learning.Online, t int) Point {
	st := o.Stats()
	if st.Task == learning.TaskRegression {
		return Point{Event: t, Recent: st.MAERecent}
	}
	return Point{Event: t, Recent: st.AccuracyRecent}
}

func summarise(nm, task string, rows, features int, runs []RunResult) Result {
	r := Result{Name: nm, Task: task, Rows: rows, Features: features, Runs: runs}
	pick := func(f func(RunResult) float64) Summary {
		s := Summary{Min: math.Inf(1), Max: math.Inf(-1)}
		for _, x := range runs {
			v := f(x)
			s.Mean += v
			s.Min = math.Min(s.Min, v)
			s.Max = math.Max(s.Max, v)
		}
		s.Mean /= float64(len(runs))
		return s
	}
	r.Accuracy = pick(func(x RunResult) float64 { return x.Accuracy })
	r.Kappa = pick(func(x RunResult) float64 { return x.Kappa })
	r.KappaT = pick(func(x RunResult) float64 { return x.KappaT })
	r.MAE = pick(func(x RunResult) float64 { return x.MAE })
	r.NoChange = pick(func(x RunResult) float64 { return x.NoChange })
	r.Drifts = pick(func(x RunResult) float64 { return float64(x.Drifts) })
	var ups uint64
	var secs float64
	for _, x := range runs {
		ups += x.Updates
		secs += x.Seconds
	}
	if secs > 0 {
		r.UpdatesPerSec = float64(ups) / secs
	}
	return r
}

// WriteTable prints results as an aligned table: accuracy mean [min, max] (MAE for
// regression), kappa, kappa-temporal, drifts and updates per second.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "learner\ttask\trows\truns\taccuracy mean [min, max]\tkappa\tkappa_t\tmae\tdrifts\tupdates/s")
	for _, r := range results {
		acc, k, kt, mae := "-", "-", "-", "-"
		if r.Task == learning.TaskRegression {
			mae = fmt.Sprintf("%.4f [%.4f, %.4f]", r.MAE.Mean, r.MAE.Min, r.MAE.Max)
		} else {
			acc = fmt.Sprintf("%.4f [%.4f, %.4f]", r.Accuracy.Mean, r.Accuracy.Min, r.Accuracy.Max)
			k = fmt.Sprintf("%.4f", r.Kappa.Mean)
			kt = fmt.Sprintf("%.4f", r.KappaT.Mean)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%.1f\t%s\n", r.Name, r.Task, r.Rows, len(r.Runs),
			acc, k, kt, mae, r.Drifts.Mean, humanRate(r.UpdatesPerSec))
	}
	return tw.Flush()
}

func humanRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// ParseLearner reads a learner spec: an algorithm, optionally followed by a colon and
// comma-separated key=value pairs. The keys task, drift and name set those fields; every other
// key is a learning parameter, its value a number, true/false, or else a string. Examples:
//
//	pa
//	pa1:C=0.5
//	scw1:C=1,eta=0.75,drift=ddm,drift_reset=covariance,name=scw1+ddm
//	logreg:lr=0.05,scale=false
func ParseLearner(spec string) (Learner, error) {
	spec = strings.TrimSpace(spec)
	algo, rest, _ := strings.Cut(spec, ":")
	l := Learner{Name: spec, Learning: serving.Learning{Algorithm: strings.TrimSpace(algo), Params: map[string]any{}}}
	if l.Learning.Algorithm == "" {
		return Learner{}, fmt.Errorf("eval: learner spec %q names no algorithm", spec)
	}
	if rest != "" {
		for _, kv := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" {
				return Learner{}, fmt.Errorf("eval: learner spec %q: %q is not key=value", spec, kv)
			}
			switch k {
			case "task":
				l.Learning.Task = v
			case "drift":
				l.Learning.Drift = v
			case "name":
				l.Name = v
			default:
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					l.Learning.Params[k] = f
				} else if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
					l.Learning.Params[k] = b
				} else {
					l.Learning.Params[k] = v
				}
			}
		}
	}
	return l, nil
}
