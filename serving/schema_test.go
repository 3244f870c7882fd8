package serving_test

import (
	"errors"
	"math"
	"testing"

	"github.com/actorserve/actorserve/serving"
)

func named(kv ...any) *serving.Features {
	f := &serving.Features{Names: []string{}}
	for i := 0; i < len(kv); i += 2 {
		f.Names = append(f.Names, kv[i].(string))
		f.Values = append(f.Values, kv[i+1].(float64))
	}
	return f
}

func positional(v ...float64) *serving.Features { return &serving.Features{Values: v} }

func TestSchemaVector(t *testing.T) {
	iris := []string{"sl", "sw", "pl", "pw"}
	tests := []struct {
		name     string
		features []string
		onNaN    string
		width    int
		in       *serving.Features
		want     []float64
		wantErr  error
		wantText string
	}{
		{name: "positional", features: iris, width: 4, in: positional(1, 2, 3, 4), want: []float64{1, 2, 3, 4}},
		{name: "positional without names", width: 3, in: positional(1, 2, 3), want: []float64{1, 2, 3}},
		{name: "named reordered", features: iris, width: 4, in: named("pw", 4.0, "sl", 1.0, "pl", 3.0, "sw", 2.0), want: []float64{1, 2, 3, 4}},
		{name: "too few", features: iris, width: 4, in: positional(1, 2, 3),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris": expected 4 features, got 3`},
		{name: "too many", width: 2, in: positional(1, 2, 3),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris": expected 2 features, got 3`},
		{name: "missing", features: iris, width: 4, in: named("sl", 1.0, "sw", 2.0, "pl", 3.0),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris": missing feature "pw"`},
		{name: "missing two", features: iris, width: 4, in: named("sl", 1.0, "pl", 3.0),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris": missing features "sw", "pw"`},
		{name: "unknown", features: iris, width: 4, in: named("sl", 1.0, "sw", 2.0, "pl", 3.0, "pw", 4.0, "colour", 5.0),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris": unknown feature "colour"`},
		{name: "misspelt", features: iris, width: 4, in: named("sl", 1.0, "sw", 2.0, "pl", 3.0, "p_w", 4.0),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris": unknown feature "p_w"; missing feature "pw"`},
		{name: "many unknown", features: []string{"a"}, width: 1, in: named("a", 1.0, "b", 1.0, "c", 1.0, "d", 1.0, "e", 1.0, "f", 1.0, "g", 1.0),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris": unknown features "b", "c", "d", "e", "f" and 1 more`},
		{name: "empty named", features: iris, width: 4, in: named(),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris": missing features "sl", "sw", "pl", "pw"`},
		{name: "duplicate", features: iris, width: 4, in: named("sl", 1.0, "sl", 2.0, "pl", 3.0, "pw", 4.0),
			wantErr: serving.ErrInvalidEvent, wantText: `invalid event: model "iris": feature "sl" appears twice`},
		{name: "named without descriptor names", width: 2, in: named("a", 1.0, "b", 2.0),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris" has no feature names in its descriptor; send features as an array of 2 numbers`},
		{name: "names and values differ", features: iris, width: 4, in: &serving.Features{Names: []string{"sl"}, Values: []float64{1, 2}},
			wantErr: serving.ErrInvalidEvent, wantText: `invalid event: model "iris": features have 1 names but 2 values`},
		{name: "nil features", width: 2, wantErr: serving.ErrInvalidEvent, wantText: `invalid event: model "iris": features are missing`},
		{name: "reject named", features: iris, width: 4, in: named("sl", 1.0, "sw", 2.0, "pl", nan, "pw", 4.0),
			wantErr: serving.ErrNaNRejected, wantText: `nan rejected: model "iris": feature "pl" is missing (NaN or null) and options.on_nan is reject`},
		{name: "reject positional", features: iris, onNaN: "reject", width: 4, in: positional(1, nan, 3, 4),
			wantErr: serving.ErrNaNRejected, wantText: `nan rejected: model "iris": feature "sw" is missing (NaN or null) and options.on_nan is reject`},
		{name: "reject positional unnamed", width: 3, in: positional(1, 2, nan),
			wantErr: serving.ErrNaNRejected, wantText: `nan rejected: model "iris": features[2] is missing (NaN or null) and options.on_nan is reject`},
		{name: "zero", features: iris, onNaN: "zero", width: 4, in: named("sl", nan, "sw", 2.0, "pl", nan, "pw", 4.0), want: []float64{0, 2, 0, 4}},
		{name: "zero positional", onNaN: "zero", width: 2, in: positional(nan, 7), want: []float64{0, 7}},
		{name: "mean with nothing seen", features: iris, onNaN: "mean", width: 4, in: positional(nan, 2, 3, nan), want: []float64{0, 2, 3, 0}},
		{name: "infinite", features: iris, onNaN: "zero", width: 4, in: positional(1, math.Inf(-1), 3, 4),
			wantErr: serving.ErrInvalidEvent, wantText: `invalid event: model "iris": feature "sw" is -Inf, want a finite number`},
		{name: "width contradicts descriptor", features: iris, width: 3, in: positional(1, 2, 3),
			wantErr: serving.ErrSchemaMismatch, wantText: `schema mismatch: model "iris" takes 3 features but its descriptor lists 4`},
		{name: "bad policy", onNaN: "drop", width: 1, in: positional(1),
			wantErr: serving.ErrInvalidDescriptor, wantText: `invalid descriptor: options.on_nan: "drop" is not one of reject, zero, mean, keep`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &serving.Descriptor{ID: "iris", Features: tt.features, Options: serving.Options{OnNaN: tt.onNaN}}
			s := serving.NewSchema(d, tt.width)
			got, err := s.Vector(tt.in, nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Vector = %v, %v; want error wrapping %v", got, err, tt.wantErr)
				}
				if err.Error() != tt.wantText {
					t.Errorf("error\n got %s\nwant %s", err, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatalf("Vector: %v", err)
			}
			if !sameFloats(got, tt.want) {
				t.Errorf("Vector = %v, want %v", got, tt.want)
			}
		})
	}
}

// The mean policy imputes the running mean of the values seen so far, per feature, and a
// rejected event does not move the means.
func TestSchemaMean(t *testing.T) {
	d := &serving.Descriptor{ID: "m", Features: []string{"a", "b"}, Options: serving.Options{OnNaN: "mean"}}
	s := serving.NewSchema(d, 2)
	steps := []struct {
		in      *serving.Features
		want    []float64
		wantErr error
	}{
		{in: named("a", nan, "b", nan), want: []float64{0, 0}},                // nothing seen: 0
		{in: named("a", 2.0, "b", nan), want: []float64{2, 0}},                // a: mean 2
		{in: positional(4, 10), want: []float64{4, 10}},                       // a: mean 3, b: mean 10
		{in: named("a", nan, "b", nan), want: []float64{3, 10}},               // imputed
		{in: named("a", 1e9, "zzz", 1.0), wantErr: serving.ErrSchemaMismatch}, // rejected: means unchanged
		{in: positional(1e9, math.Inf(1)), wantErr: serving.ErrInvalidEvent},  // rejected: means unchanged
		{in: positional(9, 20), want: []float64{9, 20}},                       // a: mean 5, b: mean 15
		{in: positional(nan, nan), want: []float64{5, 15}},
	}
	dst := make([]float64, 0, 2)
	for i, st := range steps {
		got, err := s.Vector(st.in, dst)
		if st.wantErr != nil {
			if !errors.Is(err, st.wantErr) {
				t.Fatalf("step %d: err = %v, want %v", i, err, st.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if !sameFloats(got, st.want) {
			t.Fatalf("step %d: Vector = %v, want %v", i, got, st.want)
		}
		if &got[0] != &dst[:1][0] {
			t.Fatalf("step %d: Vector did not reuse dst", i)
		}
	}
}

func TestSchemaVectorAllocs(t *testing.T) {
	d := &serving.Descriptor{ID: "m", Features: []string{"a", "b", "c", "d"}, Options: serving.Options{OnNaN: "mean"}}
	s := serving.NewSchema(d, 4)
	in := named("d", 4.0, "c", nan, "b", 2.0, "a", 1.0)
	dst := make([]float64, 4)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := s.Vector(in, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Vector allocates %v times per call, want 0", allocs)
	}
}

func TestRegistry(t *testing.T) {
	r := serving.NewRegistry()
	loads := 0
	r.Register("b", func(d *serving.Descriptor) (serving.Model, error) { loads++; return fakeModel{len(d.Features)}, nil })
	r.Register("a", func(d *serving.Descriptor) (serving.Model, error) { return nil, errors.New("corrupt weights") })
	r.Register("nil", func(d *serving.Descriptor) (serving.Model, error) { return nil, nil })
	r.Register("panics", func(d *serving.Descriptor) (serving.Model, error) { panic("boom") })
	r.Register("narrow", func(d *serving.Descriptor) (serving.Model, error) { return fakeModel{1}, nil })
	if got := r.Formats(); len(got) != 5 || got[0] != "a" || got[1] != "b" || got[4] != "panics" {
		t.Errorf("Formats = %v", got)
	}

	m, err := r.Load(&serving.Descriptor{ID: "m", Version: 2, Format: "b", Features: []string{"x", "y"}})
	if err != nil || m.NumFeatures() != 2 || loads != 1 {
		t.Fatalf("Load = %v, %v (loads %d)", m, err, loads)
	}
	tests := []struct {
		name string
		d    *serving.Descriptor
		is   error
		want string
	}{
		{"unknown format", &serving.Descriptor{ID: "m", Version: 2, Format: "onnx"}, serving.ErrUnknownFormat,
			`load model "m" version 2: invalid descriptor: format: unknown model format "onnx" (registered: a, b, narrow, nil, panics)`},
		{"invalid", &serving.Descriptor{ID: "m m", Format: "b"}, serving.ErrInvalidDescriptor,
			`load model "m m" version 0: invalid descriptor: id: "m m" has ' ' at byte 1; use only letters, digits, '.', '_' and '-'`},
		{"loader error", &serving.Descriptor{ID: "m", Version: 7, Format: "a"}, nil,
			`load model "m" version 7: corrupt weights`},
		{"no model", &serving.Descriptor{ID: "m", Version: 1, Format: "nil"}, serving.ErrModel,
			`load model "m" version 1: model error: nil loader returned no model`},
		{"panic", &serving.Descriptor{ID: "m", Version: 1, Format: "panics"}, serving.ErrModel,
			`load model "m" version 1: model error: panics loader panicked: boom`},
		{"width", &serving.Descriptor{ID: "m", Version: 1, Format: "narrow", Features: []string{"x", "y"}}, serving.ErrInvalidModel,
			`load model "m" version 1: invalid model: model takes 1 features, descriptor lists 2`},
		{"nil", nil, serving.ErrInvalidDescriptor, `invalid descriptor: load: descriptor is nil`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := r.Load(tt.d)
			if err == nil || m != nil {
				t.Fatalf("Load = %v, %v; want error", m, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestPredictionEmpty(t *testing.T) {
	v := 0.0
	for _, tt := range []struct {
		p    serving.Prediction
		want bool
	}{
		{serving.Prediction{}, true},
		{serving.Prediction{Scores: map[string]float64{}}, true},
		{serving.Prediction{Label: "a"}, false},
		{serving.Prediction{Scores: map[string]float64{"a": 1}}, false},
		{serving.Prediction{Value: &v}, false},
	} {
		if got := tt.p.Empty(); got != tt.want {
			t.Errorf("%+v.Empty() = %v, want %v", tt.p, got, tt.want)
		}
	}
}

// Registry and models are used from many goroutines at once; run with -race.
func TestRegistryConcurrent(t *testing.T) {
	r := fakeRegistry()
	d := &serving.Descriptor{ID: "m", Format: "fake", Features: []string{"a", "b"}}
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 100 {
				if g == 0 && i%10 == 0 {
					r.Register("fake", func(d *serving.Descriptor) (serving.Model, error) { return fakeModel{len(d.Features)}, nil })
				}
				m, err := r.Load(d)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := serving.NewSchema(d, m.NumFeatures()).Vector(named("b", 1.0, "a", 2.0), nil); err != nil {
					t.Error(err)
					return
				}
				_ = r.Formats()
			}
		}()
	}
	for range 8 {
		<-done
	}
}
