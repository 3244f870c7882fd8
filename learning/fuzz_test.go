package learning_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/serving"
)

// fuzzModels are the receivers FuzzUnmarshalBinary restores into, besides a zero Online.
func fuzzModels(t testing.TB) []*learning.Online {
	return []*learning.Online{
		mustNew(t, desc("pa1", "binary", 3, nil, nil, "ddm")),
		mustNew(t, desc("scw1", "multiclass", 3, nil, nil, "adwin")),
		mustNew(t, desc("arow", "multiclass", 3, nil, map[string]any{"covariance": "diag"}, "")),
		mustNew(t, desc("logreg", "multiclass", 3, nil, map[string]any{"bias": "intercept"}, "ph")),
		mustNew(t, desc("pa2", "regression", 3, nil, nil, "adwin")),
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	for _, o := range fuzzModels(f) {
		task := o.Task()
		for _, s := range synth(6, 80, 3, 3) {
			if task == "binary" {
				s.label = s.label[:1] + string('0'+s.label[1]%2)
			}
			if _, err := o.Learn(s.x, target(task, s)); err != nil {
				f.Fatal(err)
			}
		}
		b := snapshot(f, o)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2, '{', '}'})
	f.Fuzz(func(t *testing.T, p []byte) {
		receivers := append(fuzzModels(t), new(learning.Online))
		for _, o := range receivers {
			var before []byte
			if o.Task() != "" {
				before = snapshot(t, o)
			}
			if err := o.UnmarshalBinary(p); err != nil {
				if !errors.Is(err, learning.ErrInvalidState) && !errors.Is(err, learning.ErrIncompatibleState) {
					t.Fatalf("error %v wraps neither ErrInvalidState nor ErrIncompatibleState", err)
				}
				if before != nil && !bytes.Equal(before, snapshot(t, o)) {
					t.Fatal("a failed restore changed the model")
				}
				continue
			}
			// A restored model works and round-trips.
			x := []float64{0.5, -1, 2}
			if _, err := o.Predict(x); err != nil && !errors.Is(err, serving.ErrModel) {
				t.Fatalf("Predict after restore: %v", err)
			}
			b := snapshot(t, o)
			var again learning.Online
			if err := again.UnmarshalBinary(b); err != nil {
				t.Fatalf("re-restore: %v", err)
			}
			if !bytes.Equal(b, snapshot(t, &again)) {
				t.Fatal("snapshot does not round-trip")
			}
			y := learning.Label("c1")
			if o.Task() == "regression" {
				y = learning.Value(1)
			}
			o.Learn(x, y) // may fail on a label limit, must not panic
			o.Stats()
		}
	})
}

// FuzzLearn: inputs with a NaN or an infinity (or a squared norm that overflows) are errors
// that leave the model unchanged; every other input is learned from.
func FuzzLearn(f *testing.F) {
	f.Add(1.0, 2.0, 3.0, 0.5, uint8(0))
	f.Add(math.NaN(), 0.0, 0.0, 1.0, uint8(1))
	f.Add(0.0, math.Inf(1), 0.0, 1.0, uint8(2))
	f.Add(1e300, 1e300, 0.0, 1.0, uint8(3))
	f.Add(0.0, 0.0, 0.0, math.Inf(-1), uint8(4))
	f.Add(-0.0, 5e-324, 1e-300, 1e10, uint8(5))
	f.Fuzz(func(t *testing.T, a, b, c, v float64, which uint8) {
		algos := serving.LearningAlgorithms
		algo := algos[int(which)%len(algos)]
		task := "multiclass"
		if which%3 == 0 && (algo == "pa" || algo == "pa1" || algo == "pa2") {
			task = "regression"
		}
		o := mustNew(t, desc(algo, task, 3, nil, nil, "adwin"))
		for _, s := range synth(9, 20, 3, 3) {
			if _, err := o.Learn(s.x, target(task, s)); err != nil {
				t.Fatal(err)
			}
		}
		before := snapshot(t, o)
		x := []float64{a, b, c}
		y := learning.Label("c" + string('0'+which%5))
		if task == "regression" {
			y = learning.Value(v)
		}
		bad := a*a+b*b+c*c > math.MaxFloat64 || math.IsNaN(a+b+c) || math.IsInf(a+b+c, 0) ||
			(task == "regression" && (math.IsNaN(v) || math.IsInf(v, 0)))
		_, err := o.Learn(x, y)
		if bad {
			if !errors.Is(err, learning.ErrInvalidInput) {
				t.Fatalf("Learn(%v, %v) = %v, want ErrInvalidInput", x, y, err)
			}
			if !bytes.Equal(before, snapshot(t, o)) {
				t.Fatal("rejected input changed the model")
			}
			return
		}
		if err != nil {
			t.Fatalf("Learn(%v, %v) = %v", x, y, err)
		}
		if _, err := o.Predict(x); err != nil && !errors.Is(err, serving.ErrModel) {
			t.Fatalf("Predict: %v", err)
		}
	})
}
