package learning_test

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/learning/pa"
	"github.com/actorserve/actorserve/serving"
)

// sklearnFixture is testdata/sklearn_pa.json, made by testdata/gen_sklearn.py with Debian's
// scikit-learn 1.2.1: PassiveAggressiveClassifier/Regressor.partial_fit one row at a time
// (shuffle=False), coef_ and intercept_ recorded after every row.
type sklearnFixture struct {
	Sklearn string `json:"sklearn"`
	Cases   []struct {
		Name      string      `json:"name"`
		Task      string      `json:"task"`
		Variant   string      `json:"variant"`
		C         float64     `json:"C"`
		Epsilon   float64     `json:"epsilon"`
		X         [][]float64 `json:"X"`
		Y         []float64   `json:"y"`
		Coef      [][]float64 `json:"coef"`
		Intercept []float64   `json:"intercept"`
	} `json:"cases"`
}

func loadSklearn(t *testing.T) sklearnFixture {
	t.Helper()
	b, err := os.ReadFile("testdata/sklearn_pa.json")
	if err != nil {
		t.Fatal(err)
	}
	var f sklearnFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) != 5 {
		t.Fatalf("fixture has %d cases, want 5", len(f.Cases))
	}
	return f
}

const sklearnTol = 1e-9

func closeTo(a, b float64) bool {
	return math.Abs(a-b) <= sklearnTol*math.Max(1, math.Abs(b))
}

// TestSklearnPA reproduces scikit-learn's passive-aggressive weights, after every step, with
// the pa package's intercept rule (the intercept is left out of ||x||^2).
func TestSklearnPA(t *testing.T) {
	f := loadSklearn(t)
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			v := pa.PA1
			if c.Variant == "pa2" {
				v = pa.PA2
			}
			cfg := pa.Config{Variant: v, C: c.C, Epsilon: c.Epsilon, Intercept: true}
			d := len(c.X[0])
			var (
				learn  func(x []float64, y float64)
				weight func() ([]float64, float64)
			)
			if c.Task == "binary" {
				m, err := pa.NewBinary(d, cfg)
				if err != nil {
					t.Fatal(err)
				}
				learn = func(x []float64, y float64) { m.Learn(x, 2*y-1) } // classes [0, 1] -> -1, +1
				weight = func() ([]float64, float64) { return m.W, m.B }
			} else {
				m, err := pa.NewRegressor(d, cfg)
				if err != nil {
					t.Fatal(err)
				}
				learn = func(x []float64, y float64) { m.Learn(x, y) }
				weight = func() ([]float64, float64) { return m.W, m.B }
			}
			steps := 0
			for i, x := range c.X {
				learn(x, c.Y[i])
				w, b := weight()
				for j := range w {
					if !closeTo(w[j], c.Coef[i][j]) {
						t.Fatalf("row %d: w[%d] = %.17g, scikit-learn %.17g", i, j, w[j], c.Coef[i][j])
					}
				}
				if !closeTo(b, c.Intercept[i]) {
					t.Fatalf("row %d: intercept = %.17g, scikit-learn %.17g", i, b, c.Intercept[i])
				}
				if i > 0 && c.Intercept[i] != c.Intercept[i-1] {
					steps++
				}
			}
			if steps < 5 { // the fixture must exercise real steps, not only passive rows
				t.Fatalf("only %d active steps in the fixture", steps)
			}
		})
	}
}

// TestSklearnOnline runs the same fixtures through learning.Online with bias "intercept" and
// scaling off: the model's predictions must follow scikit-learn's weights.
func TestSklearnOnline(t *testing.T) {
	f := loadSklearn(t)
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			d := len(c.X[0])
			desc := &serving.Descriptor{ID: "sk", Format: learning.Format, Learning: &serving.Learning{
				Algorithm: c.Variant, Task: c.Task,
				Params: map[string]any{"C": c.C, "scale": false, "bias": "intercept"},
			}}
			for j := range d {
				desc.Features = append(desc.Features, "f"+strconv.Itoa(j))
			}
			if c.Task == "binary" {
				desc.Labels = []string{"0", "1"}
			} else {
				desc.Learning.Params["epsilon"] = c.Epsilon
			}
			o, err := learning.New(desc)
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range c.X {
				var y learning.Target
				if c.Task == "binary" {
					y = learning.Label(strconv.Itoa(int(c.Y[i])))
				} else {
					y = learning.Value(c.Y[i])
				}
				if _, err := o.Learn(x, y); err != nil {
					t.Fatal(err)
				}
			}
			// Probe with unit vectors and the origin: the margin is then w_j + b or b.
			last := len(c.X) - 1
			want := func(j int) float64 {
				m := c.Intercept[last]
				if j >= 0 {
					m += c.Coef[last][j]
				}
				return m
			}
			for j := -1; j < d; j++ {
				x := make([]float64, d)
				if j >= 0 {
					x[j] = 1
				}
				p, err := o.Predict(x)
				if err != nil {
					t.Fatal(err)
				}
				var got float64
				if c.Task == "binary" {
					// score of "1" is σ(margin): invert it
					s := p.Scores["1"]
					got = math.Log(s / (1 - s))
					if math.Abs(got-want(j)) > 1e-9*math.Max(1, math.Abs(want(j))) {
						t.Fatalf("probe %d: margin %.17g, scikit-learn %.17g", j, got, want(j))
					}
				} else {
					got = *p.Value
					if !closeTo(got, want(j)) {
						t.Fatalf("probe %d: value %.17g, scikit-learn %.17g", j, got, want(j))
					}
				}
			}
		})
	}
}
