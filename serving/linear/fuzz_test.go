package linear_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/linear"
)

func FuzzLinearLoad(f *testing.F) {
	seeds := []struct {
		data             string
		features, labels uint8
	}{
		{`{"coefficients": [[0.5, -1, 2]], "intercepts": [0.25], "link": "identity"}`, 3, 0},
		{`{"coefficients": [[1, -2]], "intercepts": [0.5], "link": "logistic"}`, 2, 2},
		{`{"coefficients": [[1, 0], [0, 1], [-1, -1]], "intercepts": [0, 0, 1], "link": "softmax"}`, 0, 3},
		{`{"coefficients": [[1e308, 1e308]], "link": "identity"}`, 2, 0},
		{`{"coefficients": [[1], null], "link": "softmax"}`, 1, 2},
		{`{"coefficients": [[1, null]], "intercepts": [null], "link": "logistic"}`, 2, 2},
		{`{"coefficients": [[]], "link": "identity"}`, 0, 0},
		{`{"coefficients": [[1]], "link": "identity", "link": "softmax"}`, 1, 0},
		{`{"coefficients": [[-0.0]], "intercepts": [], "link": "logistic"}`, 1, 2},
		{`"AAAA"`, 0, 0},
		{`{"coefficients": [[1e-400, 5e-324]], "link": "identity"}`, 2, 0},
	}
	for _, s := range seeds {
		f.Add([]byte(s.data), s.features, s.labels, 1.5)
	}
	f.Fuzz(func(t *testing.T, data []byte, nf, nl uint8, x0 float64) {
		d := &serving.Descriptor{ID: "fuzz", Format: "linear", Data: json.RawMessage(data)}
		for i := range int(nf % 9) {
			d.Features = append(d.Features, fmt.Sprintf("f%d", i))
		}
		for i := range int(nl % 7) {
			d.Labels = append(d.Labels, fmt.Sprintf("l%d", i))
		}
		m, err := linear.Load(d)
		if err != nil {
			if !errors.Is(err, serving.ErrInvalidModel) {
				t.Fatalf("Load error %v does not wrap ErrInvalidModel", err)
			}
			return
		}
		if m.NumFeatures() < 1 || len(d.Features) > 0 && m.NumFeatures() != len(d.Features) {
			t.Fatalf("NumFeatures = %d with %d descriptor features", m.NumFeatures(), len(d.Features))
		}
		if math.IsNaN(x0) || math.IsInf(x0, 0) {
			x0 = 0
		}
		x := make([]float64, m.NumFeatures())
		for i := range x {
			x[i] = x0 * float64(i%3-1)
		}
		p, err := m.Predict(x)
		if err != nil {
			if !errors.Is(err, serving.ErrModel) {
				t.Fatalf("Predict error %v does not wrap ErrModel", err)
			}
			return
		}
		if len(d.Labels) == 0 {
			if p.Value == nil || math.IsNaN(*p.Value) || math.IsInf(*p.Value, 0) || p.Label != "" || p.Scores != nil {
				t.Fatalf("regression prediction %+v", p)
			}
		} else {
			if p.Value != nil || !slices.Contains(d.Labels, p.Label) || len(p.Scores) != len(d.Labels) {
				t.Fatalf("classification prediction %+v for labels %v", p, d.Labels)
			}
			sum, best := 0.0, -1.0
			for _, l := range d.Labels {
				s := p.Scores[l]
				if !(s >= 0 && s <= 1) {
					t.Fatalf("score %q = %v", l, s)
				}
				sum += s
				best = max(best, s)
			}
			if math.Abs(sum-1) > 1e-9 || p.Scores[p.Label] != best {
				t.Fatalf("scores %v sum to %v, label %q", p.Scores, sum, p.Label)
			}
		}
		// The batch path agrees.
		out := make([]serving.Prediction, 2)
		errs := make([]error, 2)
		if err := m.PredictBatch([][]float64{x, x}, out, errs); err != nil || errs[0] != nil || errs[1] != nil {
			t.Fatalf("PredictBatch: %v %v", err, errs)
		}
		if out[0].Label != p.Label || (out[0].Value == nil) != (p.Value == nil) || p.Value != nil && *out[0].Value != *p.Value {
			t.Fatalf("batch %+v, single %+v", out[0], p)
		}
	})
}
