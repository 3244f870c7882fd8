package mojo

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

// fixtureDir holds the H2O MOJO fixtures and h2o-genmodel's reference predictions
// (testdata/h2o/README.md says where they come from).
const fixtureDir = "testdata/h2o"

// fixtureNames are the fixtures this package must score exactly like h2o-genmodel.
var fixtureNames = []string{
	"gbm_binomial_prostate",
	"gbm_regression_prostate",
	"drf_binomial_titanic",
	"glm_binomial_titanic",
	"glm_regression_prostate",
	"kmeans_titanic",
	"isofor_prostate",
	"deeplearning_binomial_titanic",
}

// tolerance is the largest relative difference allowed from genmodel's numbers.
const tolerance = 1e-9

// readFixture returns a fixture file, failing the test (not skipping it) when it is missing.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	if _, err := os.Stat(fixtureDir); err != nil {
		abs, _ := filepath.Abs(fixtureDir)
		tb.Fatalf("H2O MOJO fixtures are missing: %s (%v); they are part of the repository (serving/mojo/testdata/h2o)", abs, err)
	}
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	return b
}

// loadFixture loads a fixture MOJO through a registry, as a node would.
func loadFixture(tb testing.TB, name string) *Model {
	tb.Helper()
	b := readFixture(tb, name+".zip")
	reg := serving.NewRegistry()
	Register(reg)
	data, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
	m, err := reg.Load(&serving.Descriptor{ID: name, Version: 1, Format: Format, Data: data})
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	return m.(*Model)
}

type expectedRow struct {
	Row            int                `json:"row"`
	Input          map[string]any     `json:"input"`
	RawInput       []*float64         `json:"raw_input"`
	Label          *string            `json:"label"`
	Probabilities  map[string]float64 `json:"probabilities"`
	Value          *float64           `json:"value"`
	Cluster        *int               `json:"cluster"`
	Distances      []float64          `json:"distances"`
	Score          *float64           `json:"score"`
	NormalizedScor *float64           `json:"normalized_score"`
}

func readExpected(tb testing.TB, name string) []expectedRow {
	tb.Helper()
	sc := bufio.NewScanner(bytes.NewReader(readFixture(tb, name+".expected.jsonl")))
	sc.Buffer(nil, 1<<24)
	var rows []expectedRow
	for sc.Scan() {
		var r expectedRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return rows
}

// features turns a reference row's input into this package's vector: levels become their
// index, unseen levels an index past the domain, nulls NaN.
func features(tb testing.TB, m *Model, in map[string]any) []float64 {
	tb.Helper()
	names := m.Features()
	x := make([]float64, len(names))
	for j, n := range names {
		switch v := in[n].(type) {
		case nil:
			x[j] = math.NaN()
		case float64:
			x[j] = v
		case string:
			levels := m.Levels(j)
			if levels == nil {
				tb.Fatalf("feature %q is numeric in the MOJO, the fixture gives %q", n, v)
			}
			x[j] = float64(len(levels)) // unseen
			for k, l := range levels {
				if l == v {
					x[j] = float64(k)
					break
				}
			}
		default:
			tb.Fatalf("feature %q: unexpected %T", n, v)
		}
	}
	return x
}

func relErr(got, want float64) float64 {
	if got == want {
		return 0
	}
	d := math.Abs(got - want)
	s := math.Max(math.Abs(got), math.Abs(want))
	if s == 0 || math.IsNaN(d) {
		return math.Inf(1)
	}
	return d / s
}

func TestFixtures(t *testing.T) {
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			m := loadFixture(t, name)
			rows := readExpected(t, name)
			if len(rows) != 50 {
				t.Fatalf("%d reference rows, want 50", len(rows))
			}
			var worst float64
			check := func(row int, what string, got, want float64) {
				t.Helper()
				e := relErr(got, want)
				worst = math.Max(worst, e)
				if e > tolerance {
					t.Errorf("row %d %s = %v, genmodel %v (relative error %.3g)", row, what, got, want, e)
				}
			}
			xs := make([][]float64, len(rows))
			want := make([]serving.Prediction, len(rows))
			for i, r := range rows {
				x := features(t, m, r.Input)
				xs[i] = x
				// The converted row must equal genmodel's raw_input (NaN for null).
				row := make([]float64, len(x))
				if err := m.convert(x, row); err != nil {
					t.Fatalf("row %d: %v", r.Row, err)
				}
				for j, w := range r.RawInput {
					if (w == nil) != math.IsNaN(row[j]) || (w != nil && *w != row[j]) {
						t.Errorf("row %d raw_input[%d] = %v, genmodel %v", r.Row, j, row[j], w)
					}
				}
				p, err := m.Predict(x)
				if err != nil {
					t.Fatalf("row %d: %v", r.Row, err)
				}
				want[i] = p
				switch {
				case r.Probabilities != nil:
					if p.Label != *r.Label {
						t.Errorf("row %d label %q, genmodel %q", r.Row, p.Label, *r.Label)
					}
					if len(p.Scores) != len(r.Probabilities) {
						t.Errorf("row %d: %d scores, genmodel %d probabilities", r.Row, len(p.Scores), len(r.Probabilities))
					}
					for l, w := range r.Probabilities {
						check(r.Row, "p("+l+")", p.Scores[l], w)
					}
				case r.Cluster != nil:
					if p.Label != strconv.Itoa(*r.Cluster) || p.Value == nil || *p.Value != float64(*r.Cluster) {
						t.Errorf("row %d cluster %q (%v), genmodel %d", r.Row, p.Label, p.Value, *r.Cluster)
					}
					for k, w := range r.Distances {
						check(r.Row, fmt.Sprintf("distance %d", k), p.Scores[strconv.Itoa(k)], w)
					}
				case r.NormalizedScor != nil:
					if p.Value == nil {
						t.Fatalf("row %d: no value", r.Row)
					}
					check(r.Row, "normalized score", *p.Value, *r.NormalizedScor)
					check(r.Row, "score", p.Scores["score"], *r.NormalizedScor)
					check(r.Row, "mean length", p.Scores["mean_length"], *r.Score)
				case r.Value != nil:
					if p.Value == nil {
						t.Fatalf("row %d: no value", r.Row)
					}
					check(r.Row, "value", *p.Value, *r.Value)
				default:
					t.Fatalf("row %d: reference row has no prediction", r.Row)
				}
			}
			// PredictBatch must give exactly what Predict gives.
			out := make([]serving.Prediction, len(xs))
			errs := make([]error, len(xs))
			if err := m.PredictBatch(xs, out, errs); err != nil {
				t.Fatal(err)
			}
			for i := range out {
				if errs[i] != nil {
					t.Fatalf("batch row %d: %v", i, errs[i])
				}
				if fmt.Sprint(out[i].Label, out[i].Scores, deref(out[i].Value)) != fmt.Sprint(want[i].Label, want[i].Scores, deref(want[i].Value)) {
					t.Errorf("batch row %d = %+v, Predict gave %+v", i, out[i], want[i])
				}
			}
			t.Logf("%s: %d rows match genmodel; max relative error %.3g", name, len(rows), worst)
		})
	}
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// rezip copies a MOJO zip, passing model.ini through edit.
func rezip(tb testing.TB, b []byte, edit func(ini string) string) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		if f.Name == "model.ini" {
			body = []byte(edit(string(body)))
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func setKey(key, value string) func(string) string {
	return func(ini string) string {
		var out []string
		for _, l := range strings.Split(ini, "\n") {
			if k, _, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
				l = key + " = " + value
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	}
}

func TestUnsupportedRejected(t *testing.T) {
	tests := []struct {
		fixture string
		edit    func(string) string
		want    []string // substrings of the error
	}{
		{"kmeans_titanic", setKey("algorithm", "Stacked Ensemble"), []string{`algorithm "Stacked Ensemble"`, "not supported"}},
		{"isofor_prostate", setKey("algorithm", "Extended Isolation Forest"), []string{`"Extended Isolation Forest"`, "not supported"}},
		{"kmeans_titanic", setKey("algorithm", "XGBoost"), []string{`"XGBoost"`}},
		{"kmeans_titanic", setKey("mojo_version", "1.10"), []string{"K-means MOJO version 1.10 is not supported", "1.00"}},
		{"glm_regression_prostate", setKey("mojo_version", "1.10"), []string{"GLM MOJO version 1.10"}},
		{"gbm_binomial_prostate", setKey("mojo_version", "1.50"), []string{"GBM MOJO version 1.50"}},
		{"deeplearning_binomial_titanic", setKey("mojo_version", "2.00"), []string{"Deep Learning MOJO version 2.00"}},
		{"gbm_binomial_prostate", setKey("distribution", "custom"), []string{`distribution "custom"`}},
		{"gbm_binomial_prostate", setKey("_genmodel_encoding", "OneHotExplicit"), []string{`"OneHotExplicit"`}},
		{"glm_binomial_titanic", setKey("link", "probit"), []string{`link "probit"`}},
		{"deeplearning_binomial_titanic", setKey("activation", "Sigmoid"), []string{`activation "Sigmoid"`}},
		{"deeplearning_binomial_titanic", setKey("category", "AutoEncoder"), []string{"autoencoders"}},
		{"kmeans_titanic", setKey("algorithm", "null"), []string{"no algorithm"}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.fixture, tc.want[0]), func(t *testing.T) {
			b := rezip(t, readFixture(t, tc.fixture+".zip"), tc.edit)
			_, err := Parse(b)
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			if !errors.Is(err, serving.ErrInvalidModel) {
				t.Errorf("error %v does not wrap ErrInvalidModel", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDescriptorChecks(t *testing.T) {
	b := readFixture(t, "gbm_binomial_prostate.zip")
	data, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
	reg := serving.NewRegistry()
	Register(reg)
	load := func(features, labels []string) (serving.Model, error) {
		return reg.Load(&serving.Descriptor{ID: "m", Version: 1, Format: Format, Data: data, Features: features, Labels: labels})
	}
	feats := []string{"AGE", "RACE", "DPROS", "DCAPS", "PSA", "VOL", "GLEASON"}
	if _, err := load(feats, nil); err != nil {
		t.Fatalf("the MOJO's own features: %v", err)
	}
	if _, err := load([]string{"RACE", "AGE", "DPROS", "DCAPS", "PSA", "VOL", "GLEASON"}, nil); err == nil || !strings.Contains(err.Error(), `"RACE"`) {
		t.Errorf("misordered features: %v", err)
	}
	// The response levels are "0" and "1": labels rename them.
	m, err := load(nil, []string{"benign", "cancer"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Predict([]float64{65, 1, 2, 1, 10, 0, 6})
	if err != nil {
		t.Fatal(err)
	}
	if p.Label != "benign" && p.Label != "cancer" || len(p.Scores) != 2 {
		t.Errorf("renamed labels: %+v", p)
	}
	if _, err := load(nil, []string{"a", "b", "c"}); err == nil {
		t.Error("three labels for two classes loaded")
	}

	// Real class names cannot be renamed.
	b = readFixture(t, "glm_binomial_titanic.zip")
	data, _ = json.Marshal(base64.StdEncoding.EncodeToString(b))
	gm, err := load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	own := gm.(*Model).Labels()
	if _, err := load(nil, own); err != nil {
		t.Errorf("the model's own labels %v: %v", own, err)
	}
	if !slicesEqual(own, indexLabels(2)) {
		if _, err := load(nil, []string{"died", "survived"}); err == nil {
			t.Errorf("labels differing from the model's %v loaded", own)
		}
	}

	// Regression takes no labels.
	b = readFixture(t, "glm_regression_prostate.zip")
	data, _ = json.Marshal(base64.StdEncoding.EncodeToString(b))
	if _, err := load(nil, []string{"x"}); err == nil {
		t.Error("labels on a regression loaded")
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestPredictInputs(t *testing.T) {
	m := loadFixture(t, "glm_binomial_titanic")
	x := make([]float64, m.NumFeatures())
	if _, err := m.Predict(x[:3]); !errors.Is(err, serving.ErrSchemaMismatch) {
		t.Errorf("short row: %v", err)
	}
	cat := -1
	for j := range x {
		if m.Levels(j) != nil {
			cat = j
			break
		}
	}
	if cat < 0 {
		t.Fatal("no categorical column")
	}
	x[cat] = 0.5
	if _, err := m.Predict(x); !errors.Is(err, serving.ErrSchemaMismatch) || !strings.Contains(err.Error(), m.Features()[cat]) {
		t.Errorf("fractional level: %v", err)
	}
	// An unseen level (index past the domain, or negative) scores like a missing value.
	x[cat] = math.NaN()
	pNaN, err := m.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{float64(len(m.Levels(cat))), -1, 1e12} {
		x[cat] = v
		p, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(p) != fmt.Sprint(pNaN) {
			t.Errorf("level %v scored %+v, missing scored %+v", v, p, pNaN)
		}
	}
}

func TestJavaRandom(t *testing.T) {
	// new java.util.Random(seed).nextDouble(), as Java prints it.
	for _, tc := range []struct {
		seed int64
		want float64
	}{{42, 0.7275636800328681}, {0, 0.730967787376657}, {-7, 0.2691218093260761}, {123456789012345, 0.6691460388561377}, {math.MinInt64, 0.730967787376657}} {
		if got := newJavaRandom(tc.seed).nextDouble(); got != tc.want {
			t.Errorf("Random(%d).nextDouble() = %v, want %v", tc.seed, got, tc.want)
		}
	}
}

func TestMultinomialTie(t *testing.T) {
	// No tie: the largest probability wins.
	if got := multinomialLabel([]float64{0, 0.2, 0.5, 0.3}, nil, nil); got != 1 {
		t.Errorf("argmax = %d, want 1", got)
	}
	// A tie between classes 1 and 2 with priors: the draw picks one of the tied classes.
	got := multinomialLabel([]float64{0, 0.2, 0.4, 0.4}, []float64{0.1, 0.45, 0.45}, []float64{1, 2})
	if got < 0 || got > 2 {
		t.Errorf("tie = %d", got)
	}
}
