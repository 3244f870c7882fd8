package xgboost

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

// fixture is one testdata/<case>.expected.json, written by testdata/gen_xgboost.py with
// XGBoost's own predictions.
type fixture struct {
	Description string            `json:"description"`
	Versions    map[string]string `json:"versions"`
	Model       string            `json:"model"`
	Objective   string            `json:"objective"`
	Labels      []string          `json:"labels"`
	Inputs      [][]*float64      `json:"inputs"`
	Predict     json.RawMessage   `json:"predict"`
	Margin      json.RawMessage   `json:"margin"`
	Softprob    [][]float64       `json:"softprob"`
}

func readFixture(t testing.TB, path string) (*fixture, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	model, err := os.ReadFile(filepath.Join(filepath.Dir(path), f.Model))
	if err != nil {
		t.Fatal(err)
	}
	return &f, model
}

func descriptor(model []byte, labels []string) *serving.Descriptor {
	return &serving.Descriptor{
		ID: "fixture", Format: Format, Labels: labels,
		Data: json.RawMessage(strconv.Quote(base64.StdEncoding.EncodeToString(model))),
	}
}

func (f *fixture) rows() [][]float64 {
	xs := make([][]float64, len(f.Inputs))
	for i, r := range f.Inputs {
		xs[i] = make([]float64, len(r))
		for j, v := range r {
			if v == nil {
				xs[i][j] = math.NaN()
			} else {
				xs[i][j] = *v
			}
		}
	}
	return xs
}

// agreement tracks the largest absolute and relative differences seen.
type agreement struct{ abs, rel float64 }

// check compares got with want at 1e-6 relative (absolute below 1e-6 for values near 0):
// XGBoost computes in float32, and we follow it, so at most an ulp or so may differ.
func (a *agreement) check(t *testing.T, what string, got, want float64) {
	t.Helper()
	d := math.Abs(got - want)
	r := d / math.Max(math.Abs(want), 1e-6)
	a.abs, a.rel = math.Max(a.abs, d), math.Max(a.rel, r)
	if !(r <= 1e-6) {
		t.Errorf("%s: got %.9g, want %.9g (rel error %.3g)", what, got, want, r)
	}
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

// TestFixtures loads every model gen_xgboost.py made and compares our predictions with
// XGBoost's Booster.predict on the same rows: scores, values and margins within 1e-6 relative
// (the issue asks for 1e-5), labels exactly.
func TestFixtures(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.expected.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata (%v); run testdata/gen_xgboost.py", err)
	}
	var total agreement
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".expected.json")
		t.Run(name, func(t *testing.T) {
			f, modelBytes := readFixture(t, path)
			sm, err := Load(descriptor(modelBytes, f.Labels))
			if err != nil {
				t.Fatal(err)
			}
			m := sm.(*model)
			labels := m.labels
			xs := f.rows()
			var margins [][]float64
			if m.groups == 1 {
				var flat []float64
				if err := json.Unmarshal(f.Margin, &flat); err != nil {
					t.Fatal(err)
				}
				for _, v := range flat {
					margins = append(margins, []float64{v})
				}
			} else if err := json.Unmarshal(f.Margin, &margins); err != nil {
				t.Fatal(err)
			}
			var pred []float64
			var probs [][]float64
			if m.obj == objSoftprob {
				err = json.Unmarshal(f.Predict, &probs)
			} else {
				err = json.Unmarshal(f.Predict, &pred)
			}
			if err != nil {
				t.Fatal(err)
			}

			var a agreement
			z := make([]float32, m.groups)
			for i, x := range xs {
				m.margins(x, z)
				for k := range z {
					a.check(t, "row "+strconv.Itoa(i)+" margin", float64(z[k]), margins[i][k])
				}
				p, err := m.Predict(x)
				if err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				row := "row " + strconv.Itoa(i)
				switch m.obj {
				case objBinary:
					a.check(t, row+" p", p.Scores[labels[1]], pred[i])
					a.check(t, row+" 1-p", p.Scores[labels[0]], 1-pred[i])
					want := labels[0]
					if pred[i] > 0.5 {
						want = labels[1]
					}
					if p.Label != want {
						t.Errorf("%s: label %q, want %q (p %v)", row, p.Label, want, pred[i])
					}
				case objLogitRaw:
					a.check(t, row+" value", *p.Value, pred[i])
					a.check(t, row+" p", p.Scores[labels[1]], 1/(1+math.Exp(-pred[i])))
					if math.Abs(pred[i]) > 1e-6 && (p.Label == labels[1]) != (pred[i] > 0) {
						t.Errorf("%s: label %q for margin %v", row, p.Label, pred[i])
					}
				case objSoftprob:
					for k, l := range labels {
						a.check(t, row+" score "+l, p.Scores[l], probs[i][k])
					}
					if want := labels[argmax(margins[i])]; p.Label != want {
						t.Errorf("%s: label %q, want %q", row, p.Label, want)
					}
				case objSoftmax:
					if want := labels[int(pred[i])]; p.Label != want {
						t.Errorf("%s: label %q, want %q (XGBoost's class %v)", row, p.Label, want, pred[i])
					}
					for k, l := range labels {
						a.check(t, row+" score "+l, p.Scores[l], f.Softprob[i][k])
					}
				default:
					a.check(t, row+" value", *p.Value, pred[i])
				}
			}

			// The batch path gives exactly what Predict gives.
			out := make([]serving.Prediction, len(xs))
			errs := make([]error, len(xs))
			if err := m.PredictBatch(xs, out, errs); err != nil {
				t.Fatal(err)
			}
			for i, x := range xs {
				p, _ := m.Predict(x)
				if errs[i] != nil || !reflect.DeepEqual(out[i], p) {
					t.Errorf("row %d: PredictBatch gave %+v (%v), Predict %+v", i, out[i], errs[i], p)
				}
			}
			t.Logf("%s: %d rows, max abs error %.3g, max rel error %.3g (xgboost %s)",
				f.Objective, len(xs), a.abs, a.rel, f.Versions["xgboost"])
			total.abs, total.rel = math.Max(total.abs, a.abs), math.Max(total.rel, a.rel)
		})
	}
	t.Logf("all fixtures: max abs error %.3g, max rel error %.3g", total.abs, total.rel)
}
