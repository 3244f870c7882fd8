package serving

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Prediction is a model's answer for one event: a class label with per-label scores
// (classification) or a value (regression).
type Prediction struct {
	Label  string             `json:"label,omitempty" msgpack:"label,omitempty"`
	Scores map[string]float64 `json:"scores,omitempty" msgpack:"scores,omitempty"`
	Value  *float64           `json:"value,omitempty" msgpack:"value,omitempty"`
}

// Empty reports whether the prediction carries nothing: no label, no scores, no value.
// What happens to an empty prediction is the descriptor's options.on_empty.
func (p Prediction) Empty() bool {
	return p.Label == "" && len(p.Scores) == 0 && p.Value == nil
}

// Model is a loaded, immutable model. All methods may be called from any number of goroutines
// at once.
type Model interface {
	// NumFeatures is the input width the model expects; safe for concurrent use.
	NumFeatures() int
	// Predict scores one feature vector, already in descriptor order with len == NumFeatures();
	// safe for concurrent use, and it must not retain x.
	Predict(x []float64) (Prediction, error)
	// PredictBatch scores xs into out (len(out) == len(xs)); errs[i] non-nil marks a per-row
	// failure (errs has len(xs)); the returned error is for whole-batch failures only. Safe for
	// concurrent use with distinct out and errs; it must not retain xs.
	PredictBatch(xs [][]float64, out []Prediction, errs []error) error
}

// Loader builds a Model from a descriptor of its format. Loaders must not retain d and should
// return errors wrapping [ErrInvalidModel] that say what is wrong with the model data.
type Loader func(d *Descriptor) (Model, error)

// Registry maps format names ("linear", "onnx", ...) to loaders. It is safe for concurrent use.
type Registry struct {
	mu      sync.RWMutex
	loaders map[string]Loader
}

// NewRegistry returns an empty registry; format packages add themselves with their Register
// function (for example linear.Register(reg)).
func NewRegistry() *Registry {
	return &Registry{loaders: make(map[string]Loader)}
}

// Register makes l the loader for format, replacing any earlier one. It panics if format is
// empty or l is nil: that is a programming error, not an input error.
func (r *Registry) Register(format string, l Loader) {
	if format == "" || l == nil {
		panic("serving: Register needs a format name and a non-nil loader")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loaders[format] = l
}

// Formats returns the registered format names, sorted.
func (r *Registry) Formats() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.loaders))
	for f := range r.loaders {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// Has reports whether format has a loader.
func (r *Registry) Has(format string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.loaders[format]
	return ok
}

// Load validates d (see [Descriptor.Validate]) and builds its model with the loader of its
// format. Errors name the model id and version; an unregistered format wraps [ErrUnknownFormat].
// A loader that panics is reported as an error wrapping [ErrModel] instead of crashing the node,
// and a model whose NumFeatures differs from a non-empty d.Features is rejected with
// [ErrInvalidModel].
func (r *Registry) Load(d *Descriptor) (m Model, err error) {
	if d == nil {
		return nil, fmt.Errorf("%w: load: descriptor is nil", ErrInvalidDescriptor)
	}
	if err := d.Validate(r); err != nil {
		return nil, fmt.Errorf("load model %q version %d: %w", d.ID, d.Version, err)
	}
	r.mu.RLock()
	l := r.loaders[d.Format]
	r.mu.RUnlock()
	if l == nil { // unregistered between Validate and here
		return nil, fmt.Errorf("load model %q version %d: %w %q (registered: %s)",
			d.ID, d.Version, ErrUnknownFormat, d.Format, strings.Join(r.Formats(), ", "))
	}
	defer func() {
		if p := recover(); p != nil {
			m = nil
			err = fmt.Errorf("load model %q version %d: %w: %s loader panicked: %v", d.ID, d.Version, ErrModel, d.Format, p)
		}
	}()
	m, err = l(d)
	if err != nil {
		return nil, fmt.Errorf("load model %q version %d: %w", d.ID, d.Version, err)
	}
	if m == nil {
		return nil, fmt.Errorf("load model %q version %d: %w: %s loader returned no model", d.ID, d.Version, ErrModel, d.Format)
	}
	if n := len(d.Features); n > 0 && m.NumFeatures() != n {
		return nil, fmt.Errorf("load model %q version %d: %w: model takes %d features, descriptor lists %d",
			d.ID, d.Version, ErrInvalidModel, m.NumFeatures(), n)
	}
	return m, nil
}
