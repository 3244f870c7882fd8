package learning_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/serving"
)

func TestNewErrors(t *testing.T) {
	noLearning := desc("pa", "binary", 2, nil, nil, "")
	noLearning.Learning = nil
	cases := []struct {
		name string
		d    *serving.Descriptor
		want string
	}{
		{"nil", nil, "descriptor is nil"},
		{"no learning", noLearning, "no learning section"},
		{"no features", desc("pa", "binary", 0, nil, nil, ""), "features: 0 names"},
		{"algorithm", desc("svm", "binary", 2, nil, nil, ""), `learning.algorithm: "svm"`},
		{"task", desc("pa", "ranking", 2, nil, nil, ""), `learning.task: "ranking"`},
		{"drift", desc("pa", "binary", 2, nil, nil, "kswin"), `learning.drift: "kswin"`},
		{"C for pa", desc("pa", "binary", 2, nil, map[string]any{"C": 1.0}, ""), "C not used by algorithm pa"},
		{"typo", desc("pa1", "binary", 2, nil, map[string]any{"c": 1.0}, ""), "c not used by algorithm pa1"},
		{"C negative", desc("pa1", "binary", 2, nil, map[string]any{"C": -1.0}, ""), "learning.params.C: -1, want a number > 0"},
		{"eta", desc("scw1", "binary", 2, nil, map[string]any{"eta": 1.2}, ""), "learning.params.eta: 1.2"},
		{"scale type", desc("pa", "binary", 2, nil, map[string]any{"scale": "yes"}, ""), "learning.params.scale: got string"},
		{"regression scw", desc("scw1", "regression", 2, nil, nil, ""), "regression needs algorithm pa"},
		{"regression ddm", desc("pa1", "regression", 2, nil, nil, "ddm"), "ddm watches 0/1 errors"},
		{"intercept scw", desc("scw1", "binary", 2, nil, map[string]any{"bias": "intercept"}, ""), "learning.params.bias: intercept"},
		{"covariance reset pa", desc("pa", "binary", 2, nil, map[string]any{"drift_reset": "covariance"}, "ddm"), "drift_reset: covariance"},
		{"drift param without drift", desc("pa", "binary", 2, nil, map[string]any{"ddm_warm_start": 10.0}, ""), "ddm_warm_start not used"},
		{"three binary labels", desc("pa", "binary", 2, []string{"a", "b", "c"}, nil, ""), "a binary model takes at most 2"},
		{"duplicate label", desc("pa", "multiclass", 2, []string{"a", "a"}, nil, ""), `labels[1]: "a" repeats`},
		{"regression labels", desc("pa", "regression", 2, []string{"a"}, nil, ""), "a regression model has no labels"},
		{"max_classes", desc("pa", "multiclass", 2, nil, map[string]any{"max_classes": 1.0}, ""), "max_classes: 1"},
		{"max_classes fraction", desc("pa", "multiclass", 2, nil, map[string]any{"max_classes": 2.5}, ""), "max_classes: 2.5"},
		{"too many parameters", desc("scw1", "multiclass", 1000, nil, map[string]any{"covariance": "full", "max_classes": 100.0}, ""), "over the limit"},
		{"adwin delta", desc("arow", "binary", 2, nil, map[string]any{"adwin_delta": 2.0}, "adwin"), "adwin: delta 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := learning.New(c.d)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, learning.ErrInvalidConfig) || !errors.Is(err, serving.ErrInvalidModel) {
				t.Fatalf("%v does not wrap ErrInvalidConfig and serving.ErrInvalidModel", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
	// Every algorithm builds for every task it supports.
	for _, a := range serving.LearningAlgorithms {
		for _, task := range []string{"binary", "multiclass"} {
			mustNew(t, desc(a, task, 3, nil, nil, "adwin"))
		}
	}
	for _, a := range []string{"pa", "pa1", "pa2"} {
		mustNew(t, desc(a, "regression", 3, nil, map[string]any{"bias": "intercept"}, "ph"))
	}
}

func TestUntrainedPredicts(t *testing.T) {
	x := []float64{1, 2}
	o := mustNew(t, desc("scw1", "binary", 2, []string{"no", "yes"}, nil, ""))
	p, err := o.Predict(x)
	if err != nil || p.Label != "no" || p.Scores["no"] != 0.5 || p.Scores["yes"] != 0.5 {
		t.Fatalf("binary untrained: %+v, %v", p, err)
	}
	o = mustNew(t, desc("pa", "multiclass", 2, []string{"a", "b", "c"}, nil, ""))
	if p, _ = o.Predict(x); p.Label != "a" || p.Scores["c"] != 1.0/3 {
		t.Fatalf("multiclass untrained: %+v", p)
	}
	o = mustNew(t, desc("pa1", "regression", 2, nil, nil, ""))
	if p, _ = o.Predict(x); p.Value == nil || *p.Value != 0 || p.Label != "" {
		t.Fatalf("regression untrained: %+v", p)
	}
	o = mustNew(t, desc("arow", "multiclass", 2, nil, nil, ""))
	if p, err = o.Predict(x); err != nil || !p.Empty() {
		t.Fatalf("no labels: %+v, %v", p, err)
	}
	out, errs := make([]serving.Prediction, 2), make([]error, 2)
	if err := o.PredictBatch([][]float64{x, {1}}, out, errs); err != nil || errs[0] != nil || !errors.Is(errs[1], serving.ErrSchemaMismatch) {
		t.Fatalf("batch: %v %v", err, errs)
	}
}

// Bias as a constant-1 feature, in the norm: PA, scaling off, labels (neg, pos).
// Step 1: x = (1, 2) → (1, 2, 1), y = +1: ‖x‖² = 6, τ = 1/6, w = (1/6, 2/6, 1/6).
// Step 2: x = (2, −1) → (2, −1, 1), y = −1: margin 2/6 − 2/6 + 1/6 = 1/6, loss 7/6, τ = 7/36,
// w = (1/6 − 14/36, 2/6 + 7/36, 1/6 − 7/36) = (−8/36, 19/36, −1/36).
// Predicting (0, 0) reads the bias: −1/36 < 0, so "neg", with P(pos) = σ(−1/36).
func TestBiasFeaturePinned(t *testing.T) {
	o := mustNew(t, desc("pa", "binary", 2, []string{"neg", "pos"}, map[string]any{"scale": false}, ""))
	u, err := o.Learn([]float64{1, 2}, learning.Label("pos"))
	if err != nil || !u.Changed || u.Label != "neg" || u.Correct {
		t.Fatalf("step 1: %+v %v", u, err)
	}
	p, _ := o.Predict([]float64{0, 0})
	if want := 1 / (1 + math.Exp(-1.0/6)); p.Label != "pos" || math.Abs(p.Scores["pos"]-want) > 1e-15 {
		t.Fatalf("after step 1: %+v, want pos with %v", p, want)
	}
	o.Learn([]float64{2, -1}, learning.Label("neg"))
	p, _ = o.Predict([]float64{0, 0})
	if want := 1 / (1 + math.Exp(1.0/36)); p.Label != "neg" || math.Abs(p.Scores["pos"]-want) > 1e-15 {
		t.Fatalf("after step 2: %+v, want neg with P(pos) %v", p, want)
	}
	p, _ = o.Predict([]float64{1, 0})  // −8/36 − 1/36 < 0
	q, _ := o.Predict([]float64{0, 1}) // 19/36 − 1/36 > 0
	if p.Label != "neg" || q.Label != "pos" {
		t.Fatalf("probes: %v %v", p.Label, q.Label)
	}
}

// Ties go to the lowest class index: after one multi-prototype PA step on x = (1, 2) with
// class b (bias none, scaling off) w_a = −0.1x, w_b = 0.1x, w_c = 0, so x = (2, −1) scores 0
// for every class and predicts a.
func TestTiesLowestIndex(t *testing.T) {
	o := mustNew(t, desc("pa", "multiclass", 2, []string{"a", "b", "c"}, map[string]any{"scale": false, "bias": "none"}, ""))
	o.Learn([]float64{1, 2}, learning.Label("b"))
	p, _ := o.Predict([]float64{2, -1})
	if p.Label != "a" || p.Scores["a"] != p.Scores["c"] {
		t.Fatalf("tie: %+v", p)
	}
	if p, _ = o.Predict([]float64{1, 2}); p.Label != "b" {
		t.Fatalf("after learning: %+v", p)
	}
}

func TestGrowClasses(t *testing.T) {
	o := mustNew(t, desc("scw1", "multiclass", 2, nil, map[string]any{"max_classes": 3.0}, ""))
	for i, l := range []string{"x", "y", "x", "z"} {
		u, err := o.Learn([]float64{float64(i), 1}, learning.Label(l))
		if err != nil {
			t.Fatal(err)
		}
		if u.NewClass != (i != 2) {
			t.Fatalf("step %d: NewClass %v", i, u.NewClass)
		}
	}
	if got := strings.Join(o.Labels(), ","); got != "x,y,z" {
		t.Fatalf("labels %s", got)
	}
	before := snapshot(t, o)
	if _, err := o.Learn([]float64{1, 1}, learning.Label("w")); !errors.Is(err, learning.ErrTooManyClasses) ||
		!strings.Contains(err.Error(), "max_classes is 3") {
		t.Fatalf("fourth class: %v", err)
	}
	if !bytes.Equal(before, snapshot(t, o)) {
		t.Fatal("a rejected label changed the model")
	}
	b := mustNew(t, desc("pa", "binary", 2, nil, nil, ""))
	b.Learn([]float64{1, 1}, learning.Label("p"))
	b.Learn([]float64{1, 1}, learning.Label("q"))
	if _, err := b.Learn([]float64{1, 1}, learning.Label("r")); !errors.Is(err, learning.ErrUnknownLabel) {
		t.Fatalf("third binary label: %v", err)
	}
	if st := b.Stats(); st.Classes != 2 || st.Updates != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestInvalidInputLeavesModel(t *testing.T) {
	for _, task := range []string{"binary", "regression"} {
		o := mustNew(t, desc("pa1", task, 3, nil, nil, "ph"))
		for _, s := range synth(1, 50, 3, 2) {
			if _, err := o.Learn(s.x, target(task, s)); err != nil {
				t.Fatal(err)
			}
		}
		before := snapshot(t, o)
		ok := learning.Label("c0")
		if task == "regression" {
			ok = learning.Value(1)
		}
		for _, c := range []struct {
			x    []float64
			y    learning.Target
			want error
		}{
			{[]float64{1, math.NaN(), 0}, ok, serving.ErrNaNRejected},
			{[]float64{math.Inf(-1), 0, 0}, ok, serving.ErrInvalidEvent},
			{[]float64{1e200, 1e200, 0}, ok, serving.ErrInvalidEvent},
			{[]float64{1, 2}, ok, serving.ErrSchemaMismatch},
			{[]float64{1, 2, 3}, learning.Value(math.NaN()), learning.ErrInvalidInput},
			{[]float64{1, 2, 3}, learning.Label(""), learning.ErrInvalidInput},
		} {
			_, err := o.Learn(c.x, c.y)
			if !errors.Is(err, c.want) || !errors.Is(err, learning.ErrInvalidInput) {
				t.Fatalf("%s: Learn(%v, %v) = %v, want %v", task, c.x, c.y, err, c.want)
			}
			if _, err := o.Predict(c.x); err == nil && len(c.x) != 3 {
				t.Fatalf("Predict(%v) accepted", c.x)
			}
			if !bytes.Equal(before, snapshot(t, o)) {
				t.Fatalf("%s: rejected input %v changed the model", task, c.x)
			}
		}
	}
}

// Every algorithm, task and detector: a restored model predicts bit-identically and then
// learns identically.
func TestMarshalRoundTrip(t *testing.T) {
	type cfg struct {
		algo, task, drift string
		params            map[string]any
	}
	var cfgs []cfg
	for _, a := range serving.LearningAlgorithms {
		cfgs = append(cfgs, cfg{a, "binary", "ddm", nil}, cfg{a, "multiclass", "adwin", nil})
	}
	cfgs = append(cfgs,
		cfg{"pa2", "regression", "ph", map[string]any{"bias": "intercept"}},
		cfg{"scw2", "multiclass", "ph", map[string]any{"covariance": "diag", "scale": false}},
		cfg{"logreg", "multiclass", "none", map[string]any{"bias": "intercept", "l2": 0.01}},
	)
	clock := func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	for _, c := range cfgs {
		t.Run(c.algo+"/"+c.task+"/"+c.drift, func(t *testing.T) {
			k := 2
			if c.task == "multiclass" {
				k = 4
			}
			data := synth(3, 600, 4, k)
			d := desc(c.algo, c.task, 4, nil, c.params, c.drift)
			o := mustNew(t, d, learning.WithClock(clock))
			for _, s := range data[:400] {
				if _, err := o.Learn(s.x, target(c.task, s)); err != nil {
					t.Fatal(err)
				}
			}
			b := snapshot(t, o)
			var zero learning.Online
			if err := zero.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			into := mustNew(t, d, learning.WithClock(clock))
			if err := into.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			for _, r := range []*learning.Online{&zero, into} {
				if r.Stats() != o.Stats() {
					t.Fatalf("stats %+v, want %+v", r.Stats(), o.Stats())
				}
				for _, s := range data[400:450] {
					p1, _ := o.Predict(s.x)
					p2, _ := r.Predict(s.x)
					if !samePrediction(p1, p2) {
						t.Fatalf("restored predicts %+v, original %+v", p2, p1)
					}
				}
			}
			for _, s := range data[400:] {
				for _, m := range []*learning.Online{o, &zero, into} {
					if _, err := m.Learn(s.x, target(c.task, s)); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := snapshot(t, o)
			if !bytes.Equal(want, snapshot(t, &zero)) || !bytes.Equal(want, snapshot(t, into)) {
				t.Fatal("restored models diverged after learning the same examples")
			}
			if st := o.Stats(); st.Updates != 600 || (c.task != "regression" && st.Accuracy < 0.5) {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestRestoreIncompatible(t *testing.T) {
	src := mustNew(t, desc("scw1", "binary", 3, []string{"a", "b"}, nil, ""))
	src.Learn([]float64{1, 2, 3}, learning.Label("b"))
	b := snapshot(t, src)
	for _, d := range []*serving.Descriptor{
		desc("pa", "binary", 3, nil, nil, ""),
		desc("scw1", "multiclass", 3, nil, nil, ""),
		desc("scw1", "binary", 4, nil, nil, ""),
		desc("scw1", "binary", 3, nil, map[string]any{"covariance": "diag"}, ""),
		desc("scw1", "binary", 3, nil, map[string]any{"scale": false}, ""),
		desc("scw1", "binary", 3, nil, nil, "ddm"),
		desc("scw1", "binary", 3, []string{"a", "c"}, nil, ""), // a third label
	} {
		o := mustNew(t, d)
		before := snapshot(t, o)
		if err := o.UnmarshalBinary(b); !errors.Is(err, learning.ErrIncompatibleState) {
			t.Fatalf("%+v: %v", d.Learning, err)
		}
		if !bytes.Equal(before, snapshot(t, o)) {
			t.Fatal("a failed restore changed the model")
		}
	}
	// Hyper-parameters may change; descriptor labels the snapshot lacks are added.
	m := mustNew(t, desc("pa", "multiclass", 2, []string{"a", "b"}, map[string]any{"max_classes": 5.0}, ""))
	m.Learn([]float64{1, 2}, learning.Label("b"))
	r := mustNew(t, desc("pa", "multiclass", 2, []string{"c", "a"}, map[string]any{"max_classes": 5.0}, ""))
	if err := r.UnmarshalBinary(snapshot(t, m)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Labels(), ","); got != "a,b,c" {
		t.Fatalf("labels after restore %s", got)
	}
	if err := new(learning.Online).UnmarshalBinary([]byte{9}); !errors.Is(err, learning.ErrInvalidState) ||
		!strings.Contains(err.Error(), "version 9") {
		t.Fatalf("future version: %v", err)
	}
}

// Delayed feedback with the prediction made at the time is the same as test-then-train when
// nothing happened in between.
func TestLearnAfterMatchesLearn(t *testing.T) {
	for _, task := range []string{"multiclass", "regression"} {
		a := mustNew(t, desc("pa1", task, 4, nil, nil, ""))
		b := mustNew(t, desc("pa1", task, 4, nil, nil, ""))
		for _, s := range synth(5, 300, 4, 3) {
			ua, err := a.Learn(s.x, target(task, s))
			if err != nil {
				t.Fatal(err)
			}
			p, err := b.Decide(s.x)
			if err != nil {
				t.Fatal(err)
			}
			ub, err := b.LearnAfter(s.x, target(task, s), p)
			if err != nil {
				t.Fatal(err)
			}
			if ua != ub {
				t.Fatalf("%s: Learn %+v, LearnAfter %+v", task, ua, ub)
			}
		}
		if !bytes.Equal(snapshot(t, a), snapshot(t, b)) {
			t.Fatalf("%s: models differ", task)
		}
	}
	r := mustNew(t, desc("pa", "regression", 1, nil, nil, ""))
	if _, err := r.LearnAfter([]float64{1}, learning.Value(1), serving.Prediction{}); !errors.Is(err, learning.ErrInvalidInput) {
		t.Fatalf("regression feedback without a value: %v", err)
	}
}

// flipped is a binary stream whose concept reverses at n/2: y = [x0 + x1 > 0] before, its
// negation after.
func flipped(n int) []sample {
	data := synth(8, n, 2, 1)
	for i := range data {
		pos := data[i].x[0]+(data[i].x[1]-1)/2 > 0
		if i >= n/2 {
			pos = !pos
		}
		data[i].label = "n"
		if pos {
			data[i].label = "p"
		}
	}
	return data
}

// After the concept flips, DDM fires; resetting AROW's covariance lets it relearn the new
// concept much faster than keeping its shrunken Σ.
func TestDriftReset(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	data := flipped(6000)
	after := map[string]float64{}
	for _, reset := range []string{"covariance", "none", "model"} {
		o := mustNew(t, desc("arow", "binary", 2, []string{"n", "p"}, map[string]any{"drift_reset": reset, "window": 1000.0}, "ddm"),
			learning.WithClock(func() time.Time { return at }))
		firstDrift, right := -1, 0
		for i, s := range data {
			u, err := o.Learn(s.x, learning.Label(s.label))
			if err != nil {
				t.Fatal(err)
			}
			if u.Drift && i >= 3000 && firstDrift < 0 {
				firstDrift = i
			}
			if u.Correct && i >= 3000 && i < 4000 {
				right++
			}
		}
		st := o.Stats()
		if st.Drifts == 0 || !st.LastDrift.Equal(at) || firstDrift < 0 || firstDrift > 3300 {
			t.Fatalf("%s: drifts %d at %v, first after the flip at %d", reset, st.Drifts, st.LastDrift, firstDrift)
		}
		after[reset] = float64(right) / 1000
		t.Logf("drift_reset %s: %d drifts, first after the flip at %d, accuracy over the 1000 after the flip %.3f, overall %.3f",
			reset, st.Drifts, firstDrift, after[reset], st.Accuracy)
	}
	if after["covariance"] < 0.9 || after["model"] < 0.9 || after["none"] > after["covariance"]-0.05 {
		t.Fatalf("accuracy after the flip %v: a covariance or model reset should relearn it faster", after)
	}
}

func TestRegistryAndWarmStart(t *testing.T) {
	reg := serving.NewRegistry()
	learning.Register(reg)
	d := desc("scw2", "multiclass", 4, labelsOf(3), map[string]any{"C": 0.5}, "")
	m, err := reg.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := m.(*learning.Online)
	if !ok {
		t.Fatalf("loader returned %T", m)
	}
	data := synth(2, 300, 4, 3)
	for _, s := range data {
		o.Learn(s.x, learning.Label(s.label))
	}
	// A descriptor whose data is a snapshot starts from it.
	d2 := *d
	d2.Data, _ = json.Marshal(base64.StdEncoding.EncodeToString(snapshot(t, o)))
	m2, err := reg.Load(&d2)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := o.Predict(data[0].x)
	p2, _ := m2.Predict(data[0].x)
	if !samePrediction(p1, p2) || m2.(*learning.Online).Stats().Updates != 300 {
		t.Fatal("warm start differs")
	}
	d2.Data = json.RawMessage(`"AAAA"`)
	if _, err := reg.Load(&d2); !errors.Is(err, serving.ErrInvalidModel) {
		t.Fatalf("bad data: %v", err)
	}
}

func TestRegressionLearns(t *testing.T) {
	o := mustNew(t, desc("pa1", "regression", 4, nil, map[string]any{"epsilon": 0.05}, "adwin"))
	for _, s := range synth(4, 3000, 4, 1) {
		u, err := o.Learn(s.x, learning.Value(s.value))
		if err != nil {
			t.Fatal(err)
		}
		if u.Loss != math.Abs(u.Value-s.value) {
			t.Fatalf("loss %v for prediction %v of %v", u.Loss, u.Value, s.value)
		}
	}
	st := o.Stats()
	if st.MAERecent > 0.3 || st.MAE < st.MAERecent || st.Accuracy != 0 {
		t.Fatalf("stats %+v: the regressor did not learn y = w·x + 3", st)
	}
}

func TestStatsJSON(t *testing.T) {
	o := mustNew(t, desc("arow", "binary", 2, nil, nil, "ddm"))
	o.Learn([]float64{1, 1}, learning.Label("a"))
	b, err := json.Marshal(o.Stats())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"updates":1`, `"accuracy":0`, `"accuracy_recent"`, `"kappa"`, `"kappa_t"`, `"mae"`, `"drifts":0`, `"classes":1`} {
		if !bytes.Contains(b, []byte(f)) {
			t.Fatalf("%s lacks %s", b, f)
		}
	}
	if bytes.Contains(b, []byte("last_drift")) {
		t.Fatalf("%s has last_drift before any drift", b)
	}
}
