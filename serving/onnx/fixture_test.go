package onnx

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// fixture is one testdata/<case>.expected.json: inputs written by gen_fixtures.py and
// onnxruntime's outputs written by run_ort.js (or numpy's, where "reference" says so).
type fixture struct {
	Case        string            `json:"case"`
	Description string            `json:"description"`
	Model       string            `json:"model"`
	ModelLevel  bool              `json:"model_level"`
	Labels      []string          `json:"labels"`
	Inputs      []fixtureTensor   `json:"inputs"`
	Outputs     []fixtureTensor   `json:"outputs"`
	Reference   string            `json:"reference"`
	Source      *sourceRef        `json:"source"`
	Versions    map[string]string `json:"versions"`
	OrtError    string            `json:"ort_error"`
}

type fixtureTensor struct {
	Name  string            `json:"name"`
	Dtype string            `json:"dtype"`
	Dims  []int             `json:"dims"`
	Data  []json.RawMessage `json:"data"`
}

// sourceRef holds the predictions of the library the model came from (scikit-learn or
// XGBoost) on the same inputs.
type sourceRef struct {
	Library  string            `json:"library"`
	Label    []json.RawMessage `json:"label"`
	Proba    []float64         `json:"proba"`
	Value    []float64         `json:"value"`
	Decision []float64         `json:"decision"`
}

func (ft *fixtureTensor) floats() []float64 {
	out := make([]float64, len(ft.Data))
	for k, raw := range ft.Data {
		if string(raw) == "null" {
			out[k] = math.NaN()
			continue
		}
		_ = json.Unmarshal(raw, &out[k])
	}
	return out
}

func (ft *fixtureTensor) strings() []string {
	out := make([]string, len(ft.Data))
	for k, raw := range ft.Data {
		if err := json.Unmarshal(raw, &out[k]); err != nil {
			out[k] = string(raw) // a number: its JSON text
		}
	}
	return out
}

// tensor converts a fixture tensor into the evaluator's.
func (ft *fixtureTensor) tensor(t testing.TB) *tensor {
	t.Helper()
	shape := append([]int{}, ft.Dims...)
	out := &tensor{shape: shape}
	switch ft.Dtype {
	case "float32":
		out.dt = dtFloat
		for _, v := range ft.floats() {
			out.f = append(out.f, float32(v))
		}
	case "float64":
		out.dt = dtDouble
		out.d = ft.floats()
	case "int64":
		out.dt = dtInt64
		for _, v := range ft.floats() {
			out.i = append(out.i, int64(v))
		}
	case "string":
		out.dt = dtString
		out.s = ft.strings()
	default:
		t.Fatalf("input %q: dtype %q", ft.Name, ft.Dtype)
	}
	return out
}

func readFixtures(t testing.TB) []*fixture {
	t.Helper()
	paths, err := filepath.Glob("testdata/*.expected.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata (%v); run testdata/gen_fixtures.py and run_ort.js", err)
	}
	var out []*fixture
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f fixture
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, &f)
	}
	return out
}

func modelBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func descriptorFor(b []byte, labels []string) *serving.Descriptor {
	return &serving.Descriptor{
		ID: "fixture", Format: Format, Labels: labels,
		Data: json.RawMessage(strconv.Quote(base64.StdEncoding.EncodeToString(b))),
	}
}

// agreement tracks the largest differences seen.
type agreement struct{ abs, rel float64 }

// tolerance: 1e-5 relative, or 1e-6 absolute for values below 0.1. Reported relative errors
// use the same floor: |got - want| / max(|want|, 0.1).
const relTol, absFloor = 1e-5, 1e-6

func (a *agreement) check(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.IsNaN(want) && math.IsNaN(got) {
		return
	}
	d := math.Abs(got - want)
	r := d / math.Max(math.Abs(want), absFloor/relTol)
	a.abs, a.rel = math.Max(a.abs, d), math.Max(a.rel, r)
	if !(r <= relTol) {
		t.Errorf("%s: got %.9g, want %.9g (abs error %.3g)", what, got, want, d)
	}
}

func (a *agreement) merge(b agreement) {
	a.abs, a.rel = math.Max(a.abs, b.abs), math.Max(a.rel, b.rel)
}

// TestFixturesGraph runs every fixture graph on its inputs and compares every output with
// onnxruntime's: numbers within 1e-5 relative, ints and strings exactly, shapes exactly.
func TestFixturesGraph(t *testing.T) {
	var total agreement
	for _, f := range readFixtures(t) {
		t.Run(f.Case, func(t *testing.T) {
			if f.Outputs == nil {
				t.Fatalf("no reference outputs (%s); run run_ort.js", f.OrtError)
			}
			g, err := decodeGraph(modelBytes(t, f.Model))
			if err != nil {
				t.Fatal(err)
			}
			feeds := make([]*tensor, len(g.inputs))
			for k, in := range g.inputs {
				for i := range f.Inputs {
					if f.Inputs[i].Name == in.name {
						feeds[k] = f.Inputs[i].tensor(t)
					}
				}
				if feeds[k] == nil {
					t.Fatalf("no fixture data for input %q", in.name)
				}
			}
			outs, err := g.run(feeds)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != len(f.Outputs) {
				t.Fatalf("%d outputs, reference has %d", len(outs), len(f.Outputs))
			}
			var a agreement
			for k, want := range f.Outputs {
				got := outs[k]
				name := g.outputs[k].name
				if !reflect.DeepEqual(got.shape, want.Dims) && !(len(got.shape) == 0 && len(want.Dims) == 0) {
					t.Errorf("output %q: shape %v, want %v", name, got.shape, want.Dims)
					continue
				}
				wantDt := map[string]dtype{"float32": dtFloat, "float64": dtDouble, "int64": dtInt64, "string": dtString}[want.Dtype]
				if got.dt != wantDt {
					t.Errorf("output %q: type %s, want %s", name, got.dt, want.Dtype)
					continue
				}
				switch got.dt {
				case dtString:
					ws := want.strings()
					for i := range ws {
						if got.s[i] != ws[i] {
							t.Errorf("output %q[%d]: %q, want %q", name, i, got.s[i], ws[i])
						}
					}
				case dtInt64:
					for i, w := range want.floats() {
						if got.i[i] != int64(w) {
							t.Errorf("output %q[%d]: %d, want %d", name, i, got.i[i], int64(w))
						}
					}
				default:
					for i, w := range want.floats() {
						a.check(t, name+"["+strconv.Itoa(i)+"]", got.float64At(i), w)
					}
				}
			}
			ref := "onnxruntime " + f.Versions["onnxruntime"]
			if f.Reference != "" {
				ref = f.Reference
			}
			t.Logf("%s: max abs error %.3g, max rel error %.3g vs %s", f.Case, a.abs, a.rel, ref)
			total.merge(a)
		})
	}
	t.Logf("all graphs: max abs error %.3g, max rel error %.3g", total.abs, total.rel)
}

// rows turns a fixture's inputs into feature rows (inputs concatenated in graph order).
func (f *fixture) rows(t testing.TB, m *model) [][]float64 {
	t.Helper()
	var xs [][]float64
	for _, fd := range m.feeds {
		var in *fixtureTensor
		for i := range f.Inputs {
			if f.Inputs[i].Name == fd.name {
				in = &f.Inputs[i]
			}
		}
		vals := in.floats()
		n := len(vals) / fd.width
		if xs == nil {
			xs = make([][]float64, n)
		}
		for r := range n {
			xs[r] = append(xs[r], vals[r*fd.width:(r+1)*fd.width]...)
		}
	}
	return xs
}

// TestFixturesModel loads every model-level fixture through Load, as a descriptor would, and
// compares Predict with onnxruntime: labels exactly, scores and values within 1e-5 relative;
// PredictBatch must give exactly what Predict gives. Where the fixture records the source
// library's own predictions (scikit-learn or XGBoost, whose fitted model the graph was made
// from), they must agree too, at the same tolerance.
func TestFixturesModel(t *testing.T) {
	var total, totalSk agreement
	for _, f := range readFixtures(t) {
		if !f.ModelLevel {
			continue
		}
		t.Run(f.Case, func(t *testing.T) {
			sm, err := Load(descriptorFor(modelBytes(t, f.Model), f.Labels))
			if err != nil {
				t.Fatal(err)
			}
			m := sm.(*model)
			xs := f.rows(t, m)
			var a, sk agreement
			skLabels := 0
			preds := make([]serving.Prediction, len(xs))
			for i, x := range xs {
				p, err := m.Predict(x)
				if err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				preds[i] = p
				row := "row " + strconv.Itoa(i)
				if m.task == taskRegression {
					a.check(t, row+" value", *p.Value, f.Outputs[m.score].floats()[i])
				} else {
					var scores []float64
					if m.score >= 0 {
						all := f.Outputs[m.score].floats()
						w := len(all) / len(xs)
						scores = all[i*w : (i+1)*w]
						if m.binaryOne {
							scores = []float64{1 - scores[0], scores[0]}
						}
						for k, l := range m.labels {
							a.check(t, row+" score "+l, p.Scores[l], scores[k])
						}
					}
					var want string
					if m.label >= 0 {
						want = f.Outputs[m.label].strings()[i]
					} else if m.binaryOne {
						want = m.labels[0]
						if scores[1] > 0.5 {
							want = m.labels[1]
						}
					} else {
						want = m.labels[argmax(scores)]
					}
					if p.Label != want {
						t.Errorf("%s: label %q, want %q", row, p.Label, want)
					}
				}
				if s := f.Source; s != nil {
					switch {
					case s.Value != nil:
						sk.check(t, row+" "+s.Library+" value", *p.Value, s.Value[i])
					case s.Proba != nil && p.Scores != nil:
						w := len(s.Proba) / len(xs)
						for k, l := range m.labels {
							sk.check(t, row+" "+s.Library+" probability of "+l, p.Scores[l], s.Proba[i*w+k])
						}
					}
					if s.Label != nil {
						var l string
						if err := json.Unmarshal(s.Label[i], &l); err != nil {
							l = string(s.Label[i])
						}
						if l == p.Label {
							skLabels++
						} else {
							t.Errorf("%s: label %q, %s says %q", row, p.Label, s.Library, l)
						}
					}
				}
			}
			out := make([]serving.Prediction, len(xs))
			errs := make([]error, len(xs))
			if err := m.PredictBatch(xs, out, errs); err != nil {
				t.Fatal(err)
			}
			for i := range xs {
				if errs[i] != nil || !reflect.DeepEqual(out[i], preds[i]) {
					t.Errorf("row %d: PredictBatch gave %+v (%v), Predict %+v", i, out[i], errs[i], preds[i])
				}
			}
			msg := "%s: vs onnxruntime: max abs error %.3g, max rel error %.3g (batch=%v)"
			args := []any{f.Case, a.abs, a.rel, m.batch}
			if s := f.Source; s != nil {
				msg += "; vs %s: max abs difference %.3g, max rel %.3g"
				args = append(args, s.Library, sk.abs, sk.rel)
				if s.Label != nil {
					msg += ", labels %d/%d equal"
					args = append(args, skLabels, len(xs))
				}
				totalSk.merge(sk)
			}
			t.Logf(msg, args...)
			total.merge(a)
		})
	}
	t.Logf("all models: vs onnxruntime max abs error %.3g, max rel error %.3g", total.abs, total.rel)
}

func argmax(v []float64) int {
	best := 0
	for k, x := range v {
		if x > v[best] {
			best = k
		}
	}
	return best
}

// The fixtures' descriptions double as documentation: make sure each says what it is.
func TestFixturesDescribed(t *testing.T) {
	for _, f := range readFixtures(t) {
		if strings.TrimSpace(f.Description) == "" {
			t.Errorf("%s has no description", f.Case)
		}
	}
}
