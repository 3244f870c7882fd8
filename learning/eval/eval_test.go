package eval_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/learning/eval"
	"github.com/actorserve/actorserve/serving"
)

const small = `id,size,colour,weight,kind
1,2.0,red,0.5,b
2,1.0,blue,1.5,a
3,2.5,red,0.25,b
4,0.5,green,2.0,a
`

func TestRead(t *testing.T) {
	d, err := eval.Read(strings.NewReader(small), eval.HeaderAuto, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Target != "kind" || !reflect.DeepEqual(d.Features, []string{"id", "size", "weight"}) ||
		!reflect.DeepEqual(d.Skipped, []string{"colour"}) || len(d.X) != 4 || d.X[1][2] != 1.5 || d.Y[3] != "a" {
		t.Fatalf("%+v", d)
	}
	for _, label := range []string{"weight", "3", "-2"} {
		d, err := eval.Read(strings.NewReader(small), eval.HeaderAuto, label)
		if err != nil || d.Target != "weight" || d.Y[0] != "0.5" || len(d.Features) != 2 {
			t.Fatalf("label %q: %+v %v", label, d, err)
		}
	}
	// No header: columns are c0, c1, ...; numeric targets sort numerically.
	d, err = eval.Read(strings.NewReader("1,2,10\n3,4,9\n5,6,10\n0,0,2\n"), eval.HeaderAuto, "")
	if err != nil || d.Target != "c2" || len(d.X) != 4 || !reflect.DeepEqual(d.Classes(), []string{"2", "9", "10"}) {
		t.Fatalf("%+v %v", d, err)
	}
	d, err = eval.Read(strings.NewReader("5,6\n1,2\n"), eval.HeaderYes, "")
	if err != nil || len(d.X) != 1 || d.Features[0] != "5" || d.Y[0] != "2" {
		t.Fatalf("forced header: %+v %v", d, err)
	}
	if _, err = eval.Read(strings.NewReader("a,b\n1,2\n"), eval.HeaderNo, ""); !errors.Is(err, eval.ErrInvalidData) {
		t.Fatalf("forced no header on a text row: %v", err)
	}
	for _, c := range []struct{ csv, label, want string }{
		{"", "", "no rows"},
		{"a,b\n", "", "a header and no data rows"},
		{small, "nope", `no column named "nope"`},
		{small, "9", "out of range"},
		{"x,y\na,1\nb,2\n", "", "no numeric feature column"},
		{"x,y\n1,\n2,a\n", "", "row 1 has an empty target"},
		{"x,y\n1,2\n1\n", "", "wrong number of fields"},
	} {
		_, err := eval.Read(strings.NewReader(c.csv), eval.HeaderAuto, c.label)
		if !errors.Is(err, eval.ErrInvalidData) || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%q/%q: %v, want %q", c.csv, c.label, err, c.want)
		}
	}
}

func TestParseLearner(t *testing.T) {
	l, err := eval.ParseLearner(" scw1:C=0.5, eta=0.8,drift=ddm,drift_reset=covariance,scale=false,name=s ")
	if err != nil {
		t.Fatal(err)
	}
	want := eval.Learner{Name: "s", Learning: serving.Learning{Algorithm: "scw1", Drift: "ddm",
		Params: map[string]any{"C": 0.5, "eta": 0.8, "drift_reset": "covariance", "scale": false}}}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("%+v", l)
	}
	if l, _ := eval.ParseLearner("pa"); l.Name != "pa" || l.Learning.Algorithm != "pa" || len(l.Learning.Params) != 0 {
		t.Fatalf("%+v", l)
	}
	for _, bad := range []string{"", ":C=1", "pa1:C"} {
		if _, err := eval.ParseLearner(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}

// writeCSV writes n rows of a 3-feature, 3-class problem and returns the path.
func writeCSV(t *testing.T, n int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("x0,x1,x2,class\n")
	for range n {
		x := []float64{rng.NormFloat64(), rng.NormFloat64() * 10, rng.NormFloat64() + 5}
		c := 0
		if x[0] > 0.5 {
			c = 1
		} else if x[1] > 3 {
			c = 2
		}
		fmt.Fprintf(&b, "%g,%g,%g,k%d\n", x[0], x[1], x[2], c)
	}
	p := filepath.Join(t.TempDir(), "data.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func learners(t *testing.T, specs ...string) []eval.Learner {
	var out []eval.Learner
	for _, s := range specs {
		l, err := eval.ParseLearner(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func TestRun(t *testing.T) {
	path := writeCSV(t, 1500)
	cfg := eval.Config{Path: path, Seeds: 5, Learners: learners(t, "pa1", "scw1:drift=ddm", "logreg"), Curve: 500}
	res, err := eval.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		if r.Task != "multiclass" || r.Rows != 1500 || r.Features != 3 || len(r.Runs) != 5 || r.UpdatesPerSec <= 0 {
			t.Fatalf("%+v", r)
		}
		if r.Accuracy.Mean < 0.8 || r.Accuracy.Min > r.Accuracy.Mean || r.Accuracy.Max < r.Accuracy.Mean || r.Kappa.Mean <= 0 {
			t.Fatalf("%s: accuracy %+v kappa %+v", r.Name, r.Accuracy, r.Kappa)
		}
		for i, run := range r.Runs {
			if run.Seed != i+1 || run.Updates != 1500 || len(run.Curve) != 3 || run.Curve[2].Event != 1500 {
				t.Fatalf("%s run %d: %+v", r.Name, i, run)
			}
		}
		if r.Runs[0].Accuracy == r.Runs[1].Accuracy && r.Runs[1].Accuracy == r.Runs[2].Accuracy {
			t.Fatalf("%s: shuffles gave identical accuracies", r.Name)
		}
	}
	// Deterministic: the same config gives the same numbers.
	again, err := eval.Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res {
		for j := range res[i].Runs {
			a, b := res[i].Runs[j], again[i].Runs[j]
			if a.Accuracy != b.Accuracy || a.Kappa != b.Kappa || !reflect.DeepEqual(a.Curve, b.Curve) {
				t.Fatalf("run %s/%d differs between two runs", res[i].Name, j)
			}
		}
	}
	var out bytes.Buffer
	if err := eval.WriteTable(&out, res); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"learner", "accuracy mean [min, max]", "kappa_t", "updates/s", "scw1:drift=ddm",
		fmt.Sprintf("%.4f [%.4f, %.4f]", res[0].Accuracy.Mean, res[0].Accuracy.Min, res[0].Accuracy.Max)} {
		if !strings.Contains(text, want) {
			t.Fatalf("table lacks %q:\n%s", want, text)
		}
	}
	t.Log("\n" + text)
}

// With a label delay every row is still scored once and learned once, and learning from
// older labels costs accuracy on this easy stream only a little.
func TestRunDelay(t *testing.T) {
	path := writeCSV(t, 2000)
	var acc []float64
	for _, delay := range []int{0, 200} {
		res, err := eval.Run(t.Context(), eval.Config{Path: path, Delay: delay, Learners: learners(t, "arow")})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Runs[0].Updates != 2000 || res[0].Runs[0].Seed != 0 {
			t.Fatalf("delay %d: %+v", delay, res[0].Runs[0])
		}
		acc = append(acc, res[0].Accuracy.Mean)
	}
	if acc[1] >= acc[0] || acc[1] < acc[0]-0.1 {
		t.Fatalf("accuracy without delay %.4f, with delay 200 %.4f", acc[0], acc[1])
	}
}

func TestRunRegressionAndErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.csv")
	var b strings.Builder
	b.WriteString("a,b,y\n")
	rng := rand.New(rand.NewPCG(3, 3))
	for range 1000 {
		a, c := rng.NormFloat64(), rng.NormFloat64()
		fmt.Fprintf(&b, "%g,%g,%g\n", a, c, 2*a-c+1)
	}
	os.WriteFile(p, []byte(b.String()), 0o644)
	res, err := eval.Run(t.Context(), eval.Config{Path: p, Task: "regression", Learners: learners(t, "pa1:epsilon=0.01"), Delay: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Task != "regression" || r.MAE.Mean <= 0 || r.MAE.Mean > 0.2 || math.IsNaN(r.MAE.Mean) {
		t.Fatalf("%+v", r)
	}
	var out bytes.Buffer
	eval.WriteTable(&out, res)
	if !strings.Contains(out.String(), "regression") {
		t.Fatal(out.String())
	}

	path := writeCSV(t, 100)
	for _, c := range []struct {
		cfg  eval.Config
		want string
	}{
		{eval.Config{Path: path}, "no learners"},
		{eval.Config{Path: path, Learners: learners(t, "svm")}, "learning.algorithm"},
		{eval.Config{Path: path, Task: "binary", Learners: learners(t, "pa")}, "has 3 classes"},
		{eval.Config{Path: path, Task: "regression", Learners: learners(t, "pa")}, "not a finite number"},
		{eval.Config{Path: filepath.Join(t.TempDir(), "missing.csv"), Learners: learners(t, "pa")}, "no such file"},
		{eval.Config{Path: path, Seeds: -1, Learners: learners(t, "pa")}, "want >= 0"},
	} {
		if _, err := eval.Run(t.Context(), c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := eval.Run(ctx, eval.Config{Path: path, Seeds: 3, Learners: learners(t, "pa")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
