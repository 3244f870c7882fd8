package learning_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/actorserve/actorserve/learning"
	"github.com/actorserve/actorserve/serving"
)

// desc builds a descriptor for an online model with d features.
func desc(algo, task string, d int, labels []string, params map[string]any, drift string) *serving.Descriptor {
	ds := &serving.Descriptor{ID: "m", Format: learning.Format, Labels: labels,
		Learning: &serving.Learning{Algorithm: algo, Task: task, Params: params, Drift: drift}}
	for i := range d {
		ds.Features = append(ds.Features, "f"+strconv.Itoa(i))
	}
	return ds
}

func mustNew(t testing.TB, d *serving.Descriptor, opts ...learning.Option) *learning.Online {
	t.Helper()
	o, err := learning.New(d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// sample is one synthetic example.
type sample struct {
	x     []float64
	label string
	value float64
}

// synth returns n examples over d features on different scales: the class is which of k
// hyperplane scores is largest (k = 2: the sign of one), and the value a linear function with
// noise. Deterministic for a seed.
func synth(seed uint64, n, d, k int) []sample {
	rng := rand.New(rand.NewPCG(seed, 99))
	wts := make([][]float64, max(k, 1))
	for c := range wts {
		wts[c] = make([]float64, d)
		for j := range wts[c] {
			wts[c][j] = rng.NormFloat64()
		}
	}
	out := make([]sample, n)
	for i := range out {
		x := make([]float64, d)
		for j := range x {
			x[j] = rng.NormFloat64()*float64(j+1) + float64(j)
		}
		best, bestS := 0, math.Inf(-1)
		for c, w := range wts {
			s := 0.0
			for j := range x {
				s += w[j] * (x[j] - float64(j)) / float64(j+1)
			}
			if k == 2 && c == 1 {
				s = 0 // binary: class 0 when score 0 is positive
			}
			if s > bestS {
				best, bestS = c, s
			}
		}
		v := 0.0
		for j := range x {
			v += wts[0][j] * x[j]
		}
		out[i] = sample{x: x, label: "c" + strconv.Itoa(best), value: v + 3 + 0.1*rng.NormFloat64()}
	}
	return out
}

func labelsOf(k int) []string {
	var out []string
	for c := range k {
		out = append(out, "c"+strconv.Itoa(c))
	}
	return out
}

func target(task string, s sample) learning.Target {
	if task == learning.TaskRegression {
		return learning.Value(s.value)
	}
	return learning.Label(s.label)
}

func snapshot(t testing.TB, o *learning.Online) []byte {
	t.Helper()
	b, err := o.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// samePrediction compares two predictions bit for bit.
func samePrediction(a, b serving.Prediction) bool {
	if a.Label != b.Label || len(a.Scores) != len(b.Scores) || (a.Value == nil) != (b.Value == nil) {
		return false
	}
	if a.Value != nil && math.Float64bits(*a.Value) != math.Float64bits(*b.Value) {
		return false
	}
	for k, v := range a.Scores {
		w, ok := b.Scores[k]
		if !ok || math.Float64bits(v) != math.Float64bits(w) {
			return false
		}
	}
	return true
}
