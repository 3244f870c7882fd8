package xgboost

import (
	"encoding/json"
	"errors"
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

// tinyModel is a hand-written one-tree regression model: x0 < 0.5 (or missing) gives
// 0.5 + -1, otherwise 0.5 + 1.
const tinyModel = `{"learner":{"attributes":{},"feature_names":[],"feature_types":[],
"learner_model_param":{"base_score":"5E-1","num_class":"0","num_feature":"2","num_target":"1"},
"objective":{"name":"reg:squarederror","reg_loss_param":{"scale_pos_weight":"1"}},
"gradient_booster":{"name":"gbtree","model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":"1","size_leaf_vector":"0"},
"tree_info":[0],"trees":[{"base_weights":[0,0,0],"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[],
"default_left":[1,0,0],"id":0,"left_children":[1,-1,-1],"loss_changes":[0,0,0],"parents":[2147483647,0,0],
"right_children":[2,-1,-1],"split_conditions":[5E-1,-1E0,1E0],"split_indices":[0,0,0],"split_type":[0,0,0],
"sum_hessian":[1,1,1],"tree_param":{"num_deleted":"0","num_feature":"2","num_nodes":"3","size_leaf_vector":"0"}}]}}},
"version":[1,7,4]}`

func load(t testing.TB, modelJSON string, labels []string) serving.Model {
	t.Helper()
	m, err := Load(descriptor([]byte(modelJSON), labels))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTinyModel(t *testing.T) {
	m := load(t, tinyModel, nil)
	if m.NumFeatures() != 2 {
		t.Fatalf("NumFeatures = %d, want 2", m.NumFeatures())
	}
	for _, tc := range []struct {
		x    []float64
		want float64
	}{
		{[]float64{0, 9}, -0.5},
		{[]float64{0.49999, 9}, -0.5},
		{[]float64{0.5, 9}, 1.5},           // not < 0.5: right
		{[]float64{0.49999999999, 9}, 1.5}, // float32(x) == 0.5: right, as in XGBoost
		{[]float64{math.NaN(), 9}, -0.5},   // missing: default_left
		{[]float64{math.Inf(1), 9}, 1.5},   // +Inf is not missing
		{[]float64{math.Inf(-1), math.NaN()}, -0.5},
	} {
		p, err := m.Predict(tc.x)
		if err != nil {
			t.Fatal(err)
		}
		if p.Value == nil || *p.Value != tc.want || p.Label != "" || p.Scores != nil {
			t.Errorf("Predict(%v) = %+v, want value %v", tc.x, p, tc.want)
		}
	}
	if _, err := m.Predict([]float64{1}); !errors.Is(err, serving.ErrSchemaMismatch) {
		t.Errorf("Predict with 1 feature: %v, want ErrSchemaMismatch", err)
	}
	xs := [][]float64{{0, 0}, {1}, {1, 1}}
	out := make([]serving.Prediction, 3)
	errs := make([]error, 3)
	if err := m.PredictBatch(xs, out, errs); err != nil {
		t.Fatal(err)
	}
	if *out[0].Value != -0.5 || !errors.Is(errs[1], serving.ErrSchemaMismatch) || !out[1].Empty() || *out[2].Value != 1.5 {
		t.Errorf("PredictBatch = %+v %v", out, errs)
	}
	if err := m.PredictBatch(xs, out[:2], errs); !errors.Is(err, serving.ErrModel) {
		t.Errorf("PredictBatch with short out: %v, want ErrModel", err)
	}
}

func TestBinaryLabels(t *testing.T) {
	bin := strings.Replace(tinyModel, "reg:squarederror", "binary:logistic", 1)
	m := load(t, bin, nil)
	p, err := m.Predict([]float64{1, 0}) // margin logit(0.5) + 1 = 1
	if err != nil {
		t.Fatal(err)
	}
	want := float64(float32(1 / (1 + math.Exp(-1))))
	if p.Label != "1" || math.Abs(p.Scores["1"]-want) > 1e-7 || math.Abs(p.Scores["0"]-(1-want)) > 1e-7 || p.Value != nil {
		t.Errorf("Predict = %+v, want label 1, p %v", p, want)
	}
	m = load(t, bin, []string{"ham", "spam"})
	if p, _ := m.Predict([]float64{0, 0}); p.Label != "ham" || len(p.Scores) != 2 {
		t.Errorf("Predict = %+v, want ham", p)
	}
	raw := strings.Replace(tinyModel, "reg:squarederror", "binary:logitraw", 1)
	m = load(t, raw, nil)
	if p, _ := m.Predict([]float64{1, 0}); p.Value == nil || *p.Value != 1.5 || p.Label != "1" {
		t.Errorf("logitraw Predict = %+v, want value 1.5 (base_score stays a margin) and label 1", p)
	}
}

func TestRegistry(t *testing.T) {
	reg := serving.NewRegistry()
	Register(reg)
	d := descriptor([]byte(tinyModel), nil)
	d.ID, d.Version, d.Features = "tiny", 3, []string{"a", "b"}
	m, err := reg.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.(interface{ String() string }).String(); !strings.Contains(s, "1 trees") {
		t.Errorf("String() = %q", s)
	}
}

func TestQuoteNonFinite(t *testing.T) {
	for in, want := range map[string]string{
		`[1,NaN,-Infinity,Infinity]`:       `[1,"NaN","-Infinity","Infinity"]`,
		`{"NaN":"a NaN \" Infinity",x:-1}`: `{"NaN":"a NaN \" Infinity",x:-1}`,
		`[-1E0,Nope,In]`:                   `[-1E0,Nope,In]`,
		`"\\"NaN`:                          `"\\""NaN"`,
	} {
		if got := string(quoteNonFinite([]byte(in))); got != want {
			t.Errorf("quoteNonFinite(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestNonFiniteConditions(t *testing.T) {
	inf := strings.Replace(tinyModel, `"split_conditions":[5E-1,`, `"split_conditions":[Infinity,`, 1)
	m := load(t, inf, nil)
	if p, _ := m.Predict([]float64{1e30, 0}); *p.Value != -0.5 {
		t.Errorf("x < +Inf should go left, got %v", *p.Value)
	}
}

func TestLoadErrors(t *testing.T) {
	rep := func(old, new string) string {
		if !strings.Contains(tinyModel, old) {
			panic("tinyModel has no " + old)
		}
		return strings.Replace(tinyModel, old, new, 1)
	}
	for _, tc := range []struct {
		name, model string
		labels      []string
		want        string
	}{
		{"empty", "", nil, "model data is empty"},
		{"not json", "hello", nil, "does not start with a JSON object"},
		{"ubjson", "{L\x00\x00\x00\x00\x00\x00\x00\x07learner{", nil, "UBJSON"},
		{"old binary", "binf\x00\x00\x00?", nil, "old binary format"},
		{"malformed", tinyModel[:200], nil, "malformed JSON"},
		{"no learner", `{"version":[1,7,4]}`, nil, "no learner"},
		{"old version", rep(`"version":[1,7,4]`, `"version":[0,90,0]`), nil, "XGBoost 1.0"},
		{"objective", rep("reg:squarederror", "rank:foo"), nil, `objective "rank:foo" is not supported`},
		{"no objective", rep(`"name":"reg:squarederror",`, ``), nil, "objective.name is missing"},
		{"gblinear", rep(`"name":"gbtree"`, `"name":"gblinear"`), nil, "gblinear"},
		{"dart without weights", rep(`"name":"gbtree","model"`, `"name":"dart","gbtree":{"name":"gbtree","model"`) + "}", nil, "weight_drop"},
		{"num_feature", rep(`"num_feature":"2","num_target"`, `"num_feature":"x","num_target"`), nil, "num_feature"},
		{"too many features", rep(`"num_feature":"2","num_target"`, `"num_feature":"99999999","num_target"`), nil, "out of range"},
		{"num_target", rep(`"num_target":"1"`, `"num_target":"2"`), nil, "multi-target"},
		{"binary with classes", rep(`"num_class":"0"`, `"num_class":"3"`), nil, "num_class is 3"},
		{"multi without classes", rep("reg:squarederror", "multi:softprob"), nil, "num_class >= 2"},
		{"base_score range", rep(`"base_score":"5E-1"`, `"base_score":"1.5E0"`), nil, ""},
		{"logistic base_score", strings.Replace(rep(`"base_score":"5E-1"`, `"base_score":"1.5E0"`), "reg:squarederror", "binary:logistic", 1), nil, "must be in (0, 1)"},
		{"base_score vector", rep(`"base_score":"5E-1"`, `"base_score":"[1E0,2E0]"`), nil, "vectors are not supported"},
		{"base_score nan", rep(`"base_score":"5E-1"`, `"base_score":"nan"`), nil, "not a finite number"},
		{"num_trees", rep(`"num_trees":"1"`, `"num_trees":"2"`), nil, "num_trees is 2"},
		{"tree_info", rep(`"tree_info":[0]`, `"tree_info":[1]`), nil, "tree_info[0] = 1"},
		{"tree_info length", rep(`"tree_info":[0]`, `"tree_info":[0,0]`), nil, "tree_info has 2 entries"},
		{"vector leaf", rep(`"num_nodes":"3","size_leaf_vector":"0"`, `"num_nodes":"3","size_leaf_vector":"3"`), nil, "vector leaves"},
		{"array length", rep(`"split_conditions":[5E-1,-1E0,1E0]`, `"split_conditions":[5E-1,-1E0]`), nil, "split_conditions has 2 entries"},
		{"num_nodes", rep(`"num_nodes":"3"`, `"num_nodes":"4"`), nil, "num_nodes is 4"},
		{"child range", rep(`"right_children":[2,-1,-1]`, `"right_children":[5,-1,-1]`), nil, "outside [0, 3)"},
		{"cycle", strings.Replace(rep(`"left_children":[1,-1,-1]`, `"left_children":[1,0,-1]`),
			`"right_children":[2,-1,-1]`, `"right_children":[2,2,-1]`, 1), nil, "reached twice"},
		{"shared", rep(`"right_children":[2,-1,-1]`, `"right_children":[1,-1,-1]`), nil, "reached twice"},
		{"self loop", rep(`"left_children":[1,-1,-1]`, `"left_children":[0,-1,-1]`), nil, "reached twice"},
		{"half leaf", rep(`"right_children":[2,-1,-1]`, `"right_children":[2,2,-1]`), nil, "no left child"},
		{"feature", rep(`"split_indices":[0,0,0]`, `"split_indices":[2,0,0]`), nil, "feature 2"},
		{"nan leaf", rep(`"split_conditions":[5E-1,-1E0,1E0]`, `"split_conditions":[5E-1,NaN,1E0]`), nil, "non-finite value"},
		{"nan split", rep(`"split_conditions":[5E-1,-1E0,1E0]`, `"split_conditions":[NaN,-1E0,1E0]`), nil, "NaN split condition"},
		{"split_type", rep(`"split_type":[0,0,0]`, `"split_type":[2,0,0]`), nil, "split_type 2"},
		{"categorical without set", rep(`"split_type":[0,0,0]`, `"split_type":[1,0,0]`), nil, "no categories entry"},
		{"categories range", rep(`"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[]`,
			`"categories":[1],"categories_nodes":[0],"categories_segments":[1],"categories_sizes":[1]`), nil, "outside categories"},
		{"categories overlap", rep(`"categories":[],"categories_nodes":[],"categories_segments":[],"categories_sizes":[]`,
			`"categories":[1,2],"categories_nodes":[0,1],"categories_segments":[0,0],"categories_sizes":[2,2]`), nil, "add up to more"},
		{"string where number", rep(`"split_indices":[0,0,0]`, `"split_indices":["a",0,0]`), nil, "element 0: got \"a\", want a number"},
		{"labels on regression", tinyModel, []string{"a", "b"}, "takes no labels"},
		{"label count", strings.Replace(tinyModel, "reg:squarederror", "binary:logistic", 1), []string{"a", "b", "c"}, "2 classes, descriptor has 3 labels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(descriptor([]byte(tc.model), tc.labels))
			if tc.want == "" { // accepted
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error %v, want ErrInvalidModel containing %q", err, tc.want)
			}
		})
	}

	// A location: the model is read from the file.
	t.Cleanup(source.SetPolicy(source.Policy{FileRoots: []string{os.TempDir()}})) // as --model-dirs would
	path := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(path, []byte(tinyModel), 0o600); err != nil {
		t.Fatal(err)
	}
	d := descriptor([]byte(tinyModel), nil)
	d.Location, d.Data = "file://"+path, nil
	if _, err := Load(d); err != nil {
		t.Errorf("Load from %s: %v", d.Location, err)
	}
	d.Location = "file://" + path + ".missing"
	if _, err := Load(d); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "m.json.missing") {
		t.Errorf("Load from a missing file: %v", err)
	}
	d = descriptor([]byte(tinyModel), nil)
	d.Features = []string{"only-one"}
	if _, err := Load(d); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "lists 1") {
		t.Errorf("Load with 1 feature name: %v", err)
	}
	d = &serving.Descriptor{ID: "x", Format: Format, Data: json.RawMessage(`"not base64!"`)}
	if _, err := Load(d); !errors.Is(err, serving.ErrInvalidModel) {
		t.Errorf("Load with bad base64: %v", err)
	}
	if _, err := Load(nil); !errors.Is(err, serving.ErrInvalidModel) {
		t.Errorf("Load(nil): %v", err)
	}
}

func TestConcurrentPredict(t *testing.T) {
	f, model := readFixture(t, "testdata/multi_softprob.expected.json")
	m, err := Load(descriptor(model, f.Labels))
	if err != nil {
		t.Fatal(err)
	}
	xs := f.rows()
	want := make([]serving.Prediction, len(xs))
	for i, x := range xs {
		want[i], _ = m.Predict(x)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]serving.Prediction, len(xs))
			errs := make([]error, len(xs))
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

// constModel returns a model of single-leaf trees: leaves[i] is tree i's value, info[i] its class.
func constModel(obj string, numClass int, leaves []float64, info []int) string {
	var trees, groups []string
	for i, v := range leaves {
		trees = append(trees, `{"left_children":[-1],"right_children":[-1],"split_indices":[0],"split_conditions":[`+
			strconv.FormatFloat(v, 'g', -1, 64)+`],"default_left":[0]}`)
		groups = append(groups, strconv.Itoa(info[i]))
	}
	return `{"learner":{"learner_model_param":{"base_score":"5E-1","num_class":"` + strconv.Itoa(numClass) +
		`","num_feature":"1"},"objective":{"name":"` + obj + `"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[` +
		strings.Join(groups, ",") + `],"trees":[` + strings.Join(trees, ",") + `]}}}}`
}

// TestManyClasses covers the path that allocates margins when there are more classes than the
// stack buffer holds.
func TestManyClasses(t *testing.T) {
	const k = maxStackClasses + 3
	var leaves []float64
	var info []int
	for c := range k {
		leaves, info = append(leaves, float64(c)), append(info, c)
	}
	m := load(t, constModel("multi:softprob", k, leaves, info), nil)
	p, err := m.Predict([]float64{0})
	if err != nil {
		t.Fatal(err)
	}
	if p.Label != strconv.Itoa(k-1) || len(p.Scores) != k {
		t.Errorf("Predict = label %q with %d scores, want %d", p.Label, len(p.Scores), k-1)
	}
	var sum float64
	for _, s := range p.Scores {
		sum += s
	}
	if math.Abs(sum-1) > 1e-6 {
		t.Errorf("scores sum to %v", sum)
	}
	out, errs := make([]serving.Prediction, 1), make([]error, 1)
	if err := m.PredictBatch([][]float64{{0}}, out, errs); err != nil || errs[0] != nil || out[0].Label != p.Label {
		t.Errorf("PredictBatch = %+v %v %v", out, errs, err)
	}
}

func TestOverflow(t *testing.T) {
	for _, obj := range []string{"reg:squarederror", "binary:logistic", "count:poisson"} {
		leaves := []float64{3e38, 3e38}
		if obj == "count:poisson" {
			leaves = []float64{60, 60} // exp(120) overflows float32
		}
		m := load(t, constModel(obj, 0, leaves, []int{0, 0}), nil)
		if _, err := m.Predict([]float64{1}); !errors.Is(err, serving.ErrModel) {
			t.Errorf("%s: Predict with an overflowing score: %v, want ErrModel", obj, err)
		}
	}
	m := load(t, constModel("multi:softmax", 2, []float64{3e38, 3e38, 1}, []int{0, 0, 1}), nil)
	if _, err := m.Predict([]float64{1}); !errors.Is(err, serving.ErrModel) {
		t.Errorf("softmax Predict with an overflowing margin: %v, want ErrModel", err)
	}
}
