package lightgbm

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/source"
)

func load(t testing.TB, text string, labels []string) serving.Model {
	t.Helper()
	m, err := Load(descriptor([]byte(text), labels))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTraps scores testdata/traps.model.txt, written by hand, whose six trees each exercise one
// rule of LightGBM's Tree::Decision (v3/v4):
//
//	Tree 0  f0 <= 0.5, missing type None (NaN reads as 0)      leaves 1 | 2
//	Tree 1  f1 <= -1, missing type Zero, default left            leaves 10 | 20
//	Tree 2  f2 <= 1.5, missing type NaN, default right           leaves 100 | 200
//	Tree 3  f3 categorical, left set {0, 1, 3, 33}
//	        (cat_threshold words 11 = 0b1011 and 2 = bit 33-32)  leaves 1000 | 2000
//	Tree 4  f0 <= 0 (Zero, default right), then f1 <= 2 (None)   leaves 10000 | 20000 | 30000
//	Tree 5  a single leaf                                         0.5
//
// The expected sums below are worked out by hand from those rules; each comment lists the
// leaf taken in trees 0-4.
func TestTraps(t *testing.T) {
	text, err := os.ReadFile("testdata/traps.model.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, string(text), nil)
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		x    []float64
		want float64
		why  string
	}{
		{[]float64{0, 0, 0, 1}, 21111.5, "1 10(zero: default left) 100 1000 20000(zero: default right, 0<=2)"},
		{[]float64{nan, nan, nan, nan}, 22211.5, "1(NaN as 0) 10(NaN as 0 is zero) 200(NaN default right) 2000(NaN right) 20000"},
		{[]float64{0.7, 5, 1.5, 3.7}, 31122.5, "2 20 100(1.5<=1.5) 1000(int 3.7 = 3) 30000"},
		{[]float64{-1, -3, 1.5000000000000002, 33}, 11211.5, "1 10 200 1000(33 in word 1) 10000"},
		{[]float64{1e-36, 1e-40, -1e-36, 2}, 22111.5, "1 10(|x|<=1e-35 is zero) 100 2000(2 not in set) 20000"},
		{[]float64{-1e-36, 2, 0, -1}, 22121.5, "1 20 100 2000(negative right) 20000(2<=2)"},
		{[]float64{0.5, -1, nan, -0.5}, 21211.5, "1(0.5<=0.5) 10 200 1000(int -0.5 = 0, in set) 20000"},
		{[]float64{inf, -inf, inf, 64}, 22212.5, "2 10 200 2000(64 beyond the bitset) 20000"},
		{[]float64{0, 0, 0, 1e10}, 22111.5, "1 10 100 2000(category beyond int32) 20000"},
		{[]float64{0, 0, 0, 32}, 22111.5, "1 10 100 2000(bit 32 not set) 20000"},
		{[]float64{0, 0, 0, 33.9}, 21111.5, "1 10 100 1000(int 33.9 = 33) 20000"},
		{[]float64{0, 0, 0, 0}, 21111.5, "1 10 100 1000(category 0) 20000"},
	} {
		p, err := m.Predict(tc.x)
		if err != nil {
			t.Fatal(err)
		}
		if p.Value == nil || *p.Value != tc.want {
			t.Errorf("Predict(%v) = %+v, want %v: %s", tc.x, p, tc.want, tc.why)
		}
		out, errs := make([]serving.Prediction, 9), make([]error, 9)
		xs := make([][]float64, 9) // 9 rows: one lane group of 8 and a remainder
		for i := range xs {
			xs[i] = tc.x
		}
		if err := m.PredictBatch(xs, out, errs); err != nil {
			t.Fatal(err)
		}
		for i := range out {
			if errs[i] != nil || *out[i].Value != tc.want {
				t.Errorf("PredictBatch(%v)[%d] = %v, %v; want %v", tc.x, i, *out[i].Value, errs[i], tc.want)
			}
		}
	}
	if _, err := m.Predict([]float64{1, 2, 3}); !errors.Is(err, serving.ErrSchemaMismatch) {
		t.Errorf("Predict with 3 features: %v, want ErrSchemaMismatch", err)
	}
}

// constModel returns model.txt text with single-leaf trees: leaves[i] is tree i's value.
func constModel(objective string, numClass int, leaves []float64, extraHeader string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tree\nversion=v4\nnum_class=%d\nnum_tree_per_iteration=%d\nlabel_index=0\nmax_feature_idx=1\nobjective=%s\n%s\n",
		numClass, numClass, objective, extraHeader)
	for i, v := range leaves {
		fmt.Fprintf(&b, "Tree=%d\nnum_leaves=1\nnum_cat=0\nleaf_value=%s\nshrinkage=1\n\n\n", i, strconv.FormatFloat(v, 'g', -1, 64))
	}
	b.WriteString("end of trees\n\nparameters:\nend of parameters\n")
	return b.String()
}

func sig(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func TestObjectives(t *testing.T) {
	for _, tc := range []struct {
		objective string
		classes   int
		leaves    []float64
		extra     string
		value     float64            // regression
		scores    map[string]float64 // classification
		label     string
	}{
		{"regression", 1, []float64{1.5, -0.25}, "", 1.25, nil, ""},
		{"regression sqrt", 1, []float64{-1, -2}, "", -9, nil, ""},
		{"regression_l1", 1, []float64{2}, "", 2, nil, ""},
		{"huber", 1, []float64{2, 1}, "", 3, nil, ""},
		{"fair", 1, []float64{-2}, "", -2, nil, ""},
		{"quantile", 1, []float64{7}, "", 7, nil, ""},
		{"mape", 1, []float64{7}, "", 7, nil, ""},
		{"lambdarank", 1, []float64{0.25}, "", 0.25, nil, ""},
		{"poisson", 1, []float64{0.5, 0.25}, "", math.Exp(0.75), nil, ""},
		{"gamma", 1, []float64{1}, "", math.E, nil, ""},
		{"tweedie", 1, []float64{-1}, "", 1 / math.E, nil, ""},
		{"cross_entropy", 1, []float64{0.5}, "", sig(0.5), nil, ""},
		{"binary sigmoid:1", 1, []float64{0.3, -0.1}, "", 0, map[string]float64{"0": 1 - sig(0.2), "1": sig(0.2)}, "1"},
		{"binary sigmoid:2", 1, []float64{-0.3}, "", 0, map[string]float64{"0": 1 - sig(-0.6), "1": sig(-0.6)}, "0"},
		// Random forest: the two iterations' outputs are averaged before the sigmoid.
		{"binary sigmoid:1", 1, []float64{1, 3}, "average_output", 0, map[string]float64{"0": 1 - sig(2), "1": sig(2)}, "1"},
		{"multiclass num_class:3", 3, []float64{1, 2, 3, 0.5, 0, -1}, "", 0, softmax(1.5, 2, 2), "1"},
		{"multiclassova num_class:3 sigmoid:1", 3, []float64{1, -1, 0.5}, "", 0,
			map[string]float64{"0": sig(1), "1": sig(-1), "2": sig(0.5)}, "0"},
	} {
		t.Run(tc.objective+" "+tc.extra, func(t *testing.T) {
			m := load(t, constModel(tc.objective, tc.classes, tc.leaves, tc.extra), nil)
			p, err := m.Predict([]float64{0, 0})
			if err != nil {
				t.Fatal(err)
			}
			if tc.scores == nil {
				if p.Value == nil || math.Abs(*p.Value-tc.value) > 1e-12*math.Max(1, math.Abs(tc.value)) || p.Scores != nil {
					t.Errorf("Predict = %+v, want value %v", p, tc.value)
				}
				return
			}
			if p.Label != tc.label || p.Value != nil || len(p.Scores) != len(tc.scores) {
				t.Errorf("Predict = %+v, want label %q", p, tc.label)
			}
			for l, want := range tc.scores {
				if math.Abs(p.Scores[l]-want) > 1e-15 {
					t.Errorf("score %s = %v, want %v", l, p.Scores[l], want)
				}
			}
		})
	}
}

func softmax(z ...float64) map[string]float64 {
	var sum float64
	for _, v := range z {
		sum += math.Exp(v)
	}
	out := map[string]float64{}
	for k, v := range z {
		out[strconv.Itoa(k)] = math.Exp(v) / sum
	}
	return out
}

func TestLabels(t *testing.T) {
	bin := constModel("binary sigmoid:1", 1, []float64{2}, "")
	if p, _ := load(t, bin, []string{"ham", "spam"}).Predict([]float64{0, 0}); p.Label != "spam" || len(p.Scores) != 2 {
		t.Errorf("Predict = %+v, want spam", p)
	}
	reg := serving.NewRegistry()
	Register(reg)
	d := descriptor([]byte(bin), nil)
	d.ID, d.Features = "b", []string{"x", "y"}
	m, err := reg.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.(fmt.Stringer).String(); !strings.Contains(s, "binary classifier, 1 trees") {
		t.Errorf("String() = %q", s)
	}
}

func TestLoadErrors(t *testing.T) {
	traps, err := os.ReadFile("testdata/traps.model.txt")
	if err != nil {
		t.Fatal(err)
	}
	base := string(traps)
	rep := func(old, new string) string {
		if !strings.Contains(base, old) {
			panic("traps.model.txt has no " + old)
		}
		return strings.Replace(base, old, new, 1)
	}
	for _, tc := range []struct {
		name, model string
		labels      []string
		want        string
	}{
		{"empty", "", nil, "first line"},
		{"json dump", `{"name":"tree"}`, nil, "dump_model"},
		{"not a model", "hello\nworld\n", nil, `first line is "hello"`},
		{"truncated", base[:strings.Index(base, "Tree=5")], nil, "truncated"},
		{"no trees", "tree\nmax_feature_idx=1\nobjective=regression\nend of trees\n", nil, "no trees"},
		{"no objective", rep("objective=regression\n", ""), nil, "custom objective"},
		{"objective", rep("objective=regression", "objective=frobnicate"), nil, `objective "frobnicate" is not supported`},
		{"xentlambda", rep("objective=regression", "objective=cross_entropy_lambda"), nil, "not supported"},
		{"no max_feature_idx", rep("max_feature_idx=3\n", ""), nil, "no max_feature_idx"},
		{"feature count", rep("max_feature_idx=3", "max_feature_idx=99999999"), nil, "max_feature_idx"},
		{"feature names", rep("feature_names=none_f0 zero_f1", "feature_names=zero_f1"), nil, "feature_names has 3 names"},
		{"multiclass classes", rep("objective=regression", "objective=multiclass num_class:3"), nil, "num_class >= 2"},
		{"regression classes", rep("num_class=1\nnum_tree_per_iteration=1", "num_class=2\nnum_tree_per_iteration=2"), nil, "one output"},
		{"sigmoid", rep("objective=regression", "objective=binary sigmoid:-1"), nil, "sigmoid:-1"},
		{"tree order", rep("Tree=2", "Tree=7"), nil, "want Tree=2"},
		{"num_leaves", rep("num_leaves=3", "num_leaves=x"), nil, "num_leaves"},
		{"array length", rep("leaf_value=10000 20000 30000", "leaf_value=10000 20000"), nil, "leaf_value has 2 values"},
		{"split length", rep("split_feature=0 1", "split_feature=0"), nil, "split_feature has 1 values"},
		{"nan leaf", rep("leaf_value=1 2", "leaf_value=1 nan"), nil, "not finite"},
		{"bad number", rep("threshold=0.5", "threshold=half"), nil, "not a number"},
		{"feature range", rep("split_feature=0 1", "split_feature=0 4"), nil, "feature 4"},
		{"child range", rep("right_child=1 -3", "right_child=1 -4"), nil, "child -4"},
		{"internal child range", rep("right_child=1 -3", "right_child=2 -3"), nil, "child 2"},
		{"cycle", rep("right_child=1 -3", "right_child=1 0"), nil, "reached twice"},
		{"self loop", rep("left_child=-1 -2", "left_child=0 -2"), nil, "reached twice"},
		{"shared leaf", rep("left_child=-1 -2", "left_child=-3 -2"), nil, "reached twice"},
		{"decision type", rep("decision_type=4 0", "decision_type=12 0"), nil, "decision_type 12"},
		{"decision bits", rep("decision_type=4 0", "decision_type=64 0"), nil, "decision_type 64"},
		{"category index", rep("threshold=0\ndecision_type=9", "threshold=1\ndecision_type=9"), nil, "category set"},
		{"cat boundaries", rep("cat_boundaries=0 2", "cat_boundaries=0 3"), nil, "cat_threshold has 2 words"},
		{"cat boundaries order", rep("cat_boundaries=0 2", "cat_boundaries=1 2"), nil, "start at 0"},
		{"cat word", rep("cat_threshold=11 2", "cat_threshold=11 4294967296"), nil, "cat_threshold[1]"},
		{"linear tree", rep("is_linear=0", "is_linear=1"), nil, "linear trees"},
		{"duplicate key", rep("num_cat=0\nsplit_feature=0\n", "num_cat=0\nsplit_feature=0\nsplit_feature=0\n"), nil, "appears twice"},
		{"labels on regression", base, []string{"a", "b"}, "takes no labels"},
		{"label count", constModel("binary sigmoid:1", 1, []float64{1}, ""), []string{"a", "b", "c"}, "2 classes, descriptor has 3 labels"},
		{"iterations", constModel("multiclass num_class:2", 2, []float64{1, 2, 3}, ""), nil, "whole number of iterations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(descriptor([]byte(tc.model), tc.labels))
			if !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error %v, want ErrInvalidModel containing %q", err, tc.want)
			}
		})
	}
	// A location: the model is read from the file.
	t.Cleanup(source.SetPolicy(source.Policy{FileRoots: []string{os.TempDir()}})) // as --model-dirs would
	path := filepath.Join(t.TempDir(), "model.txt")
	if err := os.WriteFile(path, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	d := descriptor([]byte(base), nil)
	d.Location, d.Data = "file://"+path, nil
	if _, err := Load(d); err != nil {
		t.Errorf("Load from %s: %v", d.Location, err)
	}
	d.Location = "file://" + path + ".missing"
	if _, err := Load(d); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "model.txt.missing") {
		t.Errorf("Load from a missing file: %v", err)
	}
	d = descriptor([]byte(base), nil)
	d.Features = []string{"a"}
	if _, err := Load(d); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "lists 1") {
		t.Errorf("Load with 1 feature name: %v", err)
	}
	if _, err := Load(nil); !errors.Is(err, serving.ErrInvalidModel) {
		t.Errorf("Load(nil): %v", err)
	}
	if _, err := Load(&serving.Descriptor{ID: "x"}); !errors.Is(err, serving.ErrInvalidModel) {
		t.Errorf("Load without data: %v", err)
	}
}

func TestCRLF(t *testing.T) {
	text, err := os.ReadFile("testdata/traps.model.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, strings.ReplaceAll(string(text), "\n", "\r\n"), nil)
	if p, _ := m.Predict([]float64{0, 0, 0, 1}); *p.Value != 21111.5 {
		t.Errorf("CRLF model: %v, want 21111.5", *p.Value)
	}
}

func TestOverflow(t *testing.T) {
	for _, obj := range []string{"regression", "poisson", "binary sigmoid:1"} {
		leaves := []float64{1.7e308, 1.7e308}
		if obj == "poisson" {
			leaves = []float64{400, 400}
		}
		m := load(t, constModel(obj, 1, leaves, ""), nil)
		if _, err := m.Predict([]float64{0, 0}); !errors.Is(err, serving.ErrModel) {
			t.Errorf("%s: Predict with an overflowing score: %v, want ErrModel", obj, err)
		}
		out, errs := make([]serving.Prediction, 1), make([]error, 1)
		if err := m.PredictBatch([][]float64{{0, 0}}, out, errs); err != nil || !errors.Is(errs[0], serving.ErrModel) || !out[0].Empty() {
			t.Errorf("%s: PredictBatch = %+v, %v, %v", obj, out, errs, err)
		}
	}
}

// TestManyClasses covers the path that allocates scratch space when there are more classes
// than the stack buffer holds.
func TestManyClasses(t *testing.T) {
	const k = maxStackClasses + 2
	leaves := make([]float64, k)
	for i := range leaves {
		leaves[i] = float64(i) / 10
	}
	m := load(t, constModel("multiclass num_class:"+strconv.Itoa(k), k, leaves, ""), nil)
	p, err := m.Predict([]float64{0, 0})
	if err != nil || p.Label != strconv.Itoa(k-1) || len(p.Scores) != k {
		t.Fatalf("Predict = %+v, %v", p, err)
	}
}

func TestBatchErrors(t *testing.T) {
	text, _ := os.ReadFile("testdata/traps.model.txt")
	m := load(t, string(text), nil)
	xs := [][]float64{{0, 0, 0, 1}, {1}, {0, 0, 0, 1}}
	out, errs := make([]serving.Prediction, 3), make([]error, 3)
	if err := m.PredictBatch(xs, out, errs); err != nil {
		t.Fatal(err)
	}
	if *out[0].Value != 21111.5 || !errors.Is(errs[1], serving.ErrSchemaMismatch) || !out[1].Empty() || *out[2].Value != 21111.5 {
		t.Errorf("PredictBatch = %+v %v", out, errs)
	}
	if err := m.PredictBatch(xs, out[:1], errs); !errors.Is(err, serving.ErrModel) {
		t.Errorf("PredictBatch with short out: %v, want ErrModel", err)
	}
}

func TestConcurrentPredict(t *testing.T) {
	f, model := readFixture(t, "testdata/multiclass.expected.json")
	m := load(t, string(model), f.Labels)
	xs := f.rows()
	want := make([]serving.Prediction, len(xs))
	for i, x := range xs {
		want[i], _ = m.Predict(x)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errs := make([]serving.Prediction, len(xs)), make([]error, len(xs))
			for range 20 {
				if err := m.PredictBatch(xs, out, errs); err != nil {
					t.Error(err)
					return
				}
				for i := range xs {
					if out[i].Label != want[i].Label || out[i].Scores[want[i].Label] != want[i].Scores[want[i].Label] {
						t.Errorf("row %d differs under concurrency", i)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
