package linear_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/linear"
)

func desc(data string, features, labels []string) *serving.Descriptor {
	return &serving.Descriptor{ID: "m", Version: 1, Format: "linear", Data: json.RawMessage(data), Features: features, Labels: labels}
}

func load(t testing.TB, data string, features, labels []string) serving.Model {
	t.Helper()
	m, err := linear.Load(desc(data, features, labels))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m
}

const tol = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) <= tol }

func checkPrediction(t *testing.T, got, want serving.Prediction) {
	t.Helper()
	if got.Label != want.Label {
		t.Errorf("label = %q, want %q", got.Label, want.Label)
	}
	if (got.Value == nil) != (want.Value == nil) || got.Value != nil && !near(*got.Value, *want.Value) {
		t.Errorf("value = %v, want %v", ptrStr(got.Value), ptrStr(want.Value))
	}
	if len(got.Scores) != len(want.Scores) {
		t.Errorf("scores = %v, want %v", got.Scores, want.Scores)
	}
	for k, w := range want.Scores {
		if g, ok := got.Scores[k]; !ok || !near(g, w) {
			t.Errorf("scores[%q] = %v, want %v", k, g, w)
		}
	}
}

func ptrStr(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func val(v float64) *float64 { return &v }

func TestPredict(t *testing.T) {
	const (
		regression = `{"coefficients": [[0.5, -1, 2]], "intercepts": [0.25], "link": "identity"}`
		binary     = `{"coefficients": [[1, -2]], "intercepts": [0.5], "link": "logistic"}`
		multiclass = `{"coefficients": [[1, 0], [0, 1], [-1, -1]], "intercepts": [0, 0, 1], "link": "softmax"}`
	)
	hl := []string{"ham", "spam"}
	abc := []string{"a", "b", "c"}
	tests := []struct {
		name     string
		data     string
		features []string
		labels   []string
		x        []float64
		want     serving.Prediction
	}{
		// 0.5*2 - 1*3 + 2*0.5 + 0.25
		{"regression", regression, []string{"x", "y", "z"}, nil, []float64{2, 3, 0.5}, serving.Prediction{Value: val(-0.75)}},
		{"regression no intercepts", `{"coefficients": [[2, 3]], "link": "identity"}`, nil, nil, []float64{1, -1}, serving.Prediction{Value: val(-1)}},
		{"regression zero", regression, nil, nil, []float64{0, 0, 0}, serving.Prediction{Value: val(0.25)}},
		// z = 2.5, p = 1/(1+e^-2.5)
		{"binary positive", binary, nil, hl, []float64{2, 0}, serving.Prediction{Label: "spam",
			Scores: map[string]float64{"ham": 0.07585818002124345, "spam": 0.9241418199787566}}},
		// z = -3.5
		{"binary negative", binary, nil, hl, []float64{0, 2}, serving.Prediction{Label: "ham",
			Scores: map[string]float64{"ham": 0.9706877692486436, "spam": 0.02931223075135632}}},
		// z = 0: p = 0.5 goes to labels[1]
		{"binary threshold", binary, nil, hl, []float64{1.5, 1}, serving.Prediction{Label: "spam",
			Scores: map[string]float64{"ham": 0.5, "spam": 0.5}}},
		// z = -800: no overflow in exp
		{"binary saturated", binary, nil, hl, []float64{0, 400.25}, serving.Prediction{Label: "ham",
			Scores: map[string]float64{"ham": 1, "spam": 0}}},
		// z = [1, 2, -2]
		{"multiclass", multiclass, nil, abc, []float64{1, 2}, serving.Prediction{Label: "b",
			Scores: map[string]float64{"a": 0.26538792877224193, "b": 0.7213991842739688, "c": 0.013212886953789417}}},
		// z = [1, 1, -1]: a tie goes to the lowest index
		{"multiclass tie", multiclass, nil, abc, []float64{1, 1}, serving.Prediction{Label: "a",
			Scores: map[string]float64{"a": 0.46831053083348123, "b": 0.46831053083348123, "c": 0.06337893833303763}}},
		// z = [1000, 0, -999]: stable softmax
		{"multiclass large", multiclass, nil, abc, []float64{1000, 0}, serving.Prediction{Label: "a",
			Scores: map[string]float64{"a": 1, "b": 0, "c": 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := load(t, tt.data, tt.features, tt.labels)
			if m.NumFeatures() != len(tt.x) {
				t.Fatalf("NumFeatures = %d, want %d", m.NumFeatures(), len(tt.x))
			}
			got, err := m.Predict(tt.x)
			if err != nil {
				t.Fatal(err)
			}
			checkPrediction(t, got, tt.want)

			// A batch gives the same answers, row by row.
			xs := [][]float64{tt.x, tt.x[:1], tt.x}
			out := make([]serving.Prediction, 3)
			errs := make([]error, 3)
			if err := m.PredictBatch(xs, out, errs); err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 2} {
				if errs[i] != nil {
					t.Fatalf("row %d: %v", i, errs[i])
				}
				checkPrediction(t, out[i], tt.want)
			}
			if !errors.Is(errs[1], serving.ErrSchemaMismatch) || !out[1].Empty() {
				t.Errorf("short row: %+v, %v; want empty and ErrSchemaMismatch", out[1], errs[1])
			}
		})
	}
}

func TestPredictErrors(t *testing.T) {
	m := load(t, `{"coefficients": [[1, 1]], "link": "identity"}`, nil, nil)
	if _, err := m.Predict([]float64{1}); err == nil || err.Error() != "schema mismatch: linear: expected 2 features, got 1" {
		t.Errorf("short input: %v", err)
	}
	if _, err := m.Predict([]float64{math.MaxFloat64, math.MaxFloat64}); !errors.Is(err, serving.ErrModel) {
		t.Errorf("overflow: err = %v, want ErrModel", err)
	}
	if _, err := m.Predict([]float64{math.Inf(1), math.Inf(-1)}); !errors.Is(err, serving.ErrModel) {
		t.Errorf("Inf-Inf: err = %v, want ErrModel", err)
	}
	err := m.PredictBatch(make([][]float64, 2), make([]serving.Prediction, 1), make([]error, 2))
	if err == nil || err.Error() != "model error: linear: batch of 2 rows needs 2 outputs and errors, got 1 and 2" {
		t.Errorf("mismatched batch: %v", err)
	}
	mc := load(t, `{"coefficients": [[1], [-1]], "link": "softmax"}`, nil, []string{"a", "b"})
	if _, err := mc.Predict([]float64{math.Inf(1)}); !errors.Is(err, serving.ErrModel) {
		t.Errorf("multiclass Inf: err = %v, want ErrModel", err)
	}
}

var bigData = `{"coefficients": [[` + strings.Repeat("1,", linear.MaxDataBytes/2) + `1]], "link": "identity"}`

func TestLoadErrors(t *testing.T) {
	two := []string{"n", "p"}
	three := []string{"a", "b", "c"}
	tests := []struct {
		name     string
		data     string
		location string
		features []string
		labels   []string
		want     string
	}{
		{"no data", ``, "", nil, nil, `invalid model: linear: data is missing; want {"coefficients": [[...]], "intercepts": [...], "link": "..."}`},
		{"location", ``, "file:///m.json", nil, nil, `invalid model: linear: location is not supported; put the model inline in data`},
		{"data string", `"AAAA"`, "", nil, nil, `invalid model: linear: data: got a string, want an object`},
		{"data null", `null`, "", nil, nil, `invalid model: linear: data: got null, want an object`},
		{"data array", `[1]`, "", nil, nil, `invalid model: linear: data: got an array, want an object`},
		{"malformed", `{"link": }`, "", nil, nil, `invalid model: linear: data: malformed JSON at byte 10: invalid character '}' looking for beginning of value`},
		{"unknown field", `{"coefficients": [[1]], "link": "identity", "bias": 1}`, "", nil, nil, `invalid model: linear: data: unknown field "bias" (want coefficients, intercepts, link)`},
		{"no link", `{"coefficients": [[1]]}`, "", nil, nil, `invalid model: linear: data.link is missing; want one of identity, logistic, softmax`},
		{"link type", `{"coefficients": [[1]], "link": 1}`, "", nil, nil, `invalid model: linear: data.link: got a number, want a string`},
		{"bad link", `{"coefficients": [[1]], "link": "probit"}`, "", nil, nil, `invalid model: linear: link "probit" is not one of identity, logistic, softmax`},
		{"no coefficients", `{"link": "identity"}`, "", nil, nil, `invalid model: linear: data.coefficients is missing; want an array of rows, like [[0.5, -1.2]]`},
		{"coefficients type", `{"coefficients": {"a": 1}, "link": "identity"}`, "", nil, nil, `invalid model: linear: data.coefficients: got an object, want an array of rows`},
		{"no rows", `{"coefficients": [], "link": "identity"}`, "", nil, nil, `invalid model: linear: data.coefficients has no rows`},
		{"flat coefficients", `{"coefficients": [1, 2], "link": "identity"}`, "", nil, nil, `invalid model: linear: data.coefficients[0]: got a number, want an array of numbers`},
		{"empty row", `{"coefficients": [[]], "link": "identity"}`, "", nil, nil, `invalid model: linear: data.coefficients[0] is empty`},
		{"null row", `{"coefficients": [[1], null], "link": "softmax"}`, "", nil, two, `invalid model: linear: data.coefficients[1]: got null, want an array of numbers`},
		{"null coefficient", `{"coefficients": [[1, null]], "link": "identity"}`, "", nil, nil, `invalid model: linear: data.coefficients[0][1]: got null, want a number`},
		{"string coefficient", `{"coefficients": [["1"]], "link": "identity"}`, "", nil, nil, `invalid model: linear: data.coefficients[0][0]: got a string, want a number`},
		{"huge coefficient", `{"coefficients": [[1e999]], "link": "identity"}`, "", nil, nil, `invalid model: linear: data.coefficients[0][0]: 1e999 does not fit in a float64`},
		{"ragged", `{"coefficients": [[1, 2], [3]], "link": "softmax"}`, "", nil, two, `invalid model: linear: data.coefficients[1] has 1 values, data.coefficients[0] has 2`},
		{"intercepts count", `{"coefficients": [[1], [2], [3]], "intercepts": [0, 0], "link": "softmax"}`, "", nil, three, `invalid model: linear: data.intercepts has 2 values, want 3 (one per coefficient row)`},
		{"intercepts type", `{"coefficients": [[1]], "intercepts": 0.5, "link": "identity"}`, "", nil, nil, `invalid model: linear: data.intercepts: got a number, want an array of numbers`},
		{"null intercept", `{"coefficients": [[1]], "intercepts": [null], "link": "identity"}`, "", nil, nil, `invalid model: linear: data.intercepts[0]: got null, want a number`},
		{"features width", `{"coefficients": [[1, 2]], "link": "identity"}`, "", []string{"a", "b", "c"}, nil, `invalid model: linear: coefficient rows have 2 values but the descriptor lists 3 features`},
		{"identity rows", `{"coefficients": [[1], [2]], "link": "identity"}`, "", nil, nil, `invalid model: linear: link "identity" needs exactly 1 coefficient row, data has 2`},
		{"identity labels", `{"coefficients": [[1]], "link": "identity"}`, "", nil, two, `invalid model: linear: link "identity" is regression and takes no labels, descriptor has 2`},
		{"logistic labels", `{"coefficients": [[1]], "link": "logistic"}`, "", nil, three, `invalid model: linear: link "logistic" needs exactly 2 labels, descriptor has 3`},
		{"logistic no labels", `{"coefficients": [[1]], "link": "logistic"}`, "", nil, nil, `invalid model: linear: link "logistic" needs exactly 2 labels, descriptor has 0`},
		{"logistic rows", `{"coefficients": [[1], [2]], "link": "logistic"}`, "", nil, two, `invalid model: linear: link "logistic" needs exactly 1 coefficient row, data has 2 (use softmax for more classes)`},
		{"softmax rows", `{"coefficients": [[1], [2]], "link": "softmax"}`, "", nil, three, `invalid model: linear: link "softmax" needs one coefficient row per label: data has 2 rows, descriptor has 3 labels`},
		{"softmax one label", `{"coefficients": [[1]], "link": "softmax"}`, "", nil, []string{"a"}, `invalid model: linear: link "softmax" needs at least 2 labels, descriptor has 1`},
		{"duplicate labels", `{"coefficients": [[1], [2]], "link": "softmax"}`, "", nil, []string{"a", "a"}, `invalid model: linear: labels[1] "a" repeats an earlier label`},
		{"too big", bigData, "", nil, nil,
			fmt.Sprintf(`invalid model: linear: data is %d bytes, over the limit of %d`, len(bigData), linear.MaxDataBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := desc(tt.data, tt.features, tt.labels)
			if tt.data == "" {
				d.Data = nil
			}
			d.Location = tt.location
			m, err := linear.Load(d)
			if err == nil {
				t.Fatalf("Load = %v, want error %q", m, tt.want)
			}
			if !errors.Is(err, serving.ErrInvalidModel) {
				t.Errorf("error %v does not wrap ErrInvalidModel", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
	if _, err := linear.Load(nil); !errors.Is(err, serving.ErrInvalidModel) {
		t.Errorf("Load(nil) = %v", err)
	}
}

// Through the registry the error names the model and version.
func TestRegister(t *testing.T) {
	r := serving.NewRegistry()
	linear.Register(r)
	if f := r.Formats(); len(f) != 1 || f[0] != "linear" {
		t.Fatalf("Formats = %v", f)
	}
	d := desc(`{"coefficients": [[1]], "link": "logistic"}`, []string{"x"}, []string{"a", "b", "c"})
	_, err := r.Load(d)
	want := `load model "m" version 1: invalid model: linear: link "logistic" needs exactly 2 labels, descriptor has 3`
	if err == nil || err.Error() != want {
		t.Errorf("Load error\n got %v\nwant %s", err, want)
	}
	d.Labels = d.Labels[:2]
	m, err := r.Load(d)
	if err != nil || m.NumFeatures() != 1 {
		t.Fatalf("Load = %v, %v", m, err)
	}
}

// The model does not keep the descriptor's label slice.
func TestLoadCopiesLabels(t *testing.T) {
	labels := []string{"n", "p"}
	m := load(t, `{"coefficients": [[1]], "link": "logistic"}`, nil, labels)
	labels[1] = "changed"
	p, err := m.Predict([]float64{5})
	if err != nil || p.Label != "p" {
		t.Errorf("Predict = %+v, %v; want label p", p, err)
	}
}

func TestPredictAllocs(t *testing.T) {
	m := load(t, `{"coefficients": [[1, 0, 2, 1], [0, 1, 1, 0], [-1, -1, 0, 3]], "link": "softmax"}`, nil, []string{"a", "b", "c"})
	x := []float64{5.1, 3.5, 1.4, 0.2}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := m.Predict(x); err != nil {
			t.Fatal(err)
		}
	})
	// The scores map is the only allocation; swiss-table maps of up to 8 entries take at most 2.
	if allocs > 2 {
		t.Errorf("Predict allocates %v times, want at most 2 (the scores map)", allocs)
	}
	r := load(t, `{"coefficients": [[1, 0, 2, 1]], "link": "identity"}`, nil, nil)
	if allocs := testing.AllocsPerRun(200, func() { _, _ = r.Predict(x) }); allocs > 1 {
		t.Errorf("regression Predict allocates %v times, want at most 1 (the value)", allocs)
	}
}

// One model serves many goroutines; run with -race.
func TestPredictConcurrent(t *testing.T) {
	m := load(t, `{"coefficients": [[1, 0], [0, 1], [-1, -1]], "intercepts": [0, 0, 1], "link": "softmax"}`, nil, []string{"a", "b", "c"})
	want, err := m.Predict([]float64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			out := make([]serving.Prediction, 4)
			errs := make([]error, 4)
			for range 200 {
				xs := [][]float64{{1, 2}, {1, 2}, {1, 2}, {1, 2}}
				if err := m.PredictBatch(xs, out, errs); err != nil {
					t.Error(err)
					return
				}
				for i := range out {
					if errs[i] != nil || out[i].Label != want.Label || out[i].Scores["b"] != want.Scores["b"] {
						t.Errorf("row %d: %+v, %v", i, out[i], errs[i])
						return
					}
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}
