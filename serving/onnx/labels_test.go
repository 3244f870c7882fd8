package onnx

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/onnx/internal/pb"
)

// A classifier exported with integer classes 0..K-1 (scikit-learn on an
// integer target) deploys with human-readable labels: they name the
// indices, in the label output and in the ZipMap's scores alike.
func TestIntegerClassesTakeNamedLabels(t *testing.T) {
	b, err := os.ReadFile("testdata/svm_rbf_proba.onnx")
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"setosa", "versicolor", "virginica"}
	plain := load(t, b, nil)
	named := load(t, b, names)
	rows := [][]float64{{4.4, 2.9, 1.4, 0.2}, {6.5, 3, 5.8, 2.2}, {5.9, 3, 4.2, 1.5}, {6.1, 2.8, 4.7, 1.2}}
	seen := map[string]bool{}
	for _, x := range rows {
		p, err := plain.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		q, err := named.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		k, err := strconv.Atoi(p.Label)
		if err != nil || k < 0 || k >= len(names) {
			t.Fatalf("unnamed label %q is not a class index", p.Label)
		}
		if q.Label != names[k] {
			t.Errorf("row %v: label %q, want %q (index %s)", x, q.Label, names[k], p.Label)
		}
		seen[q.Label] = true
		if len(q.Scores) != len(names) {
			t.Fatalf("scores %v, want one per name", q.Scores)
		}
		for k, n := range names {
			if q.Scores[n] != p.Scores[strconv.Itoa(k)] {
				t.Errorf("row %v: score of %q = %v, want %v", x, n, q.Scores[n], p.Scores[strconv.Itoa(k)])
			}
		}
	}
	if len(seen) < 2 {
		t.Errorf("the rows predicted only %v; the test needs several classes", seen)
	}

	// A wrong number of names still fails, naming both lists.
	if _, err := Load(descriptorFor(b, names[:2])); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), `["0", "1", "2"]`) {
		t.Errorf("two names for three classes: %v", err)
	}
}

// Classes that are real names (strings, or integers other than 0..K-1)
// must still equal the descriptor's labels.
func TestRealClassNamesMustMatch(t *testing.T) {
	ints := newMB().input("X", pb.TensorProto_FLOAT, -1, 2).
		ml1("LinearClassifier", []string{"X"}, []string{"l", "s"}, aFloats("coefficients", 1, 2, -1, 0.5), aFloats("intercepts", 0, 0),
			aInts("classlabels_ints", 3, 7)).
		output("l", pb.TensorProto_INT64, -1).output("s", pb.TensorProto_FLOAT, -1, 2)
	if _, err := Load(descriptorFor(ints.bytes(t), []string{"low", "high"})); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), `["3", "7"]`) {
		t.Errorf("classes 3 and 7 named low and high: %v", err)
	}
	if _, err := Load(descriptorFor(ints.bytes(t), []string{"3", "7"})); err != nil {
		t.Errorf("classes 3 and 7 with their own names: %v", err)
	}
	if _, err := Load(descriptorFor(linearModel().bytes(t), []string{"x", "y", "z"})); !errors.Is(err, serving.ErrInvalidModel) || !strings.Contains(err.Error(), "must be equal") {
		t.Errorf("string classes renamed: %v", err)
	}
}
