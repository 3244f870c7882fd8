package lightgbm

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

// fixture is one testdata/<case>.expected.json, written by testdata/gen_lightgbm.py with
// scikit-learn's predictions for a HistGradientBoosting model written out as model.txt.
type fixture struct {
	Description string            `json:"description"`
	Versions    map[string]string `json:"versions"`
	Model       string            `json:"model"`
	Objective   string            `json:"objective"`
	Labels      []string          `json:"labels"`
	Inputs      [][]*float64      `json:"inputs"`
	Raw         json.RawMessage   `json:"raw"`
	Predict     json.RawMessage   `json:"predict"`
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

// matrix decodes a JSON array of numbers or of rows of numbers as rows.
func matrix(t *testing.T, raw json.RawMessage) [][]float64 {
	t.Helper()
	var rows [][]float64
	if s := strings.TrimSpace(string(raw)); len(s) > 1 && strings.HasPrefix(strings.TrimSpace(s[1:]), "[") {
		if err := json.Unmarshal(raw, &rows); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	var flat []float64
	if err := json.Unmarshal(raw, &flat); err != nil {
		t.Fatal(err)
	}
	for _, v := range flat {
		rows = append(rows, []float64{v})
	}
	return rows
}

type agreement struct{ abs, rel float64 }

// check compares got with want at 1e-12 relative (absolute below 1e-6 for values near 0):
// both sides compute in float64, so only the last bits may differ.
func (a *agreement) check(t *testing.T, what string, got, want float64) {
	t.Helper()
	d := math.Abs(got - want)
	r := d / math.Max(math.Abs(want), 1e-6)
	a.abs, a.rel = math.Max(a.abs, d), math.Max(a.rel, r)
	if !(r <= 1e-12) {
		t.Errorf("%s: got %.17g, want %.17g (rel error %.3g)", what, got, want, r)
	}
}

// TestFixtures loads every model gen_lightgbm.py made and compares our raw scores and
// predictions with scikit-learn's on the same rows: within 1e-12 relative, labels exactly.
func TestFixtures(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.expected.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata (%v); run testdata/gen_lightgbm.py", err)
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
			xs := f.rows()
			raws, preds := matrix(t, f.Raw), matrix(t, f.Predict)
			var a agreement
			z := make([]float64, m.classes)
			for i, x := range xs {
				row := "row " + strconv.Itoa(i)
				m.raw(x, z)
				for k := range z {
					a.check(t, row+" raw", z[k], raws[i][k])
				}
				p, err := m.Predict(x)
				if err != nil {
					t.Fatalf("%s: %v", row, err)
				}
				switch m.obj {
				case objBinary:
					a.check(t, row+" p", p.Scores[m.labels[1]], preds[i][0])
					want := m.labels[0]
					if preds[i][0] > 0.5 {
						want = m.labels[1]
					}
					if p.Label != want {
						t.Errorf("%s: label %q, want %q", row, p.Label, want)
					}
				case objMulticlass:
					best := 0
					for k, l := range m.labels {
						a.check(t, row+" score "+l, p.Scores[l], preds[i][k])
						if preds[i][k] > preds[i][best] {
							best = k
						}
					}
					if p.Label != m.labels[best] {
						t.Errorf("%s: label %q, want %q", row, p.Label, m.labels[best])
					}
				default:
					a.check(t, row+" value", *p.Value, preds[i][0])
				}
			}
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
			t.Logf("%s: %d rows, max abs error %.3g, max rel error %.3g (sklearn %s)",
				f.Objective, len(xs), a.abs, a.rel, f.Versions["sklearn"])
			total.abs, total.rel = math.Max(total.abs, a.abs), math.Max(total.rel, a.rel)
		})
	}
	t.Logf("all fixtures: max abs error %.3g, max rel error %.3g", total.abs, total.rel)
}
