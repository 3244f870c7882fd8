package serving

import (
	"fmt"
	"math"
	"strings"
)

// Schema turns an event's [Features] into a model's input vector, following the descriptor's
// features list and its options.on_nan policy.
//
// A Schema is NOT safe for concurrent use: under the "mean" policy it keeps running means of
// the features it has seen. Give each model actor (or goroutine) its own.
type Schema struct {
	id     string
	names  []string
	index  map[string]int
	width  int
	policy string
	err    error // a construction problem, returned by every Vector call

	seen  []bool    // scratch for named input
	mean  []float64 // running means ("mean" policy)
	count []int64
}

// NewSchema returns the schema of d for a model of the given width (model.NumFeatures()).
// d.Features may be empty: then only positional input is accepted. A width that contradicts a
// non-empty d.Features, or an on_nan value outside its set, makes every Vector call fail.
func NewSchema(d *Descriptor, width int) *Schema {
	s := &Schema{width: width, policy: OnNaNReject}
	if d == nil {
		d = &Descriptor{}
	}
	s.id = d.ID
	s.policy = d.Options.NaNPolicy()
	switch {
	case width < 0:
		s.err = fmt.Errorf("%w: model %q: width %d is negative", ErrSchemaMismatch, d.ID, width)
		return s
	case len(d.Features) > 0 && len(d.Features) != width:
		s.err = fmt.Errorf("%w: model %q takes %d features but its descriptor lists %d", ErrSchemaMismatch, d.ID, width, len(d.Features))
		return s
	case s.policy != OnNaNReject && s.policy != OnNaNZero && s.policy != OnNaNMean && s.policy != OnNaNKeep:
		s.err = fmt.Errorf("%w: options.on_nan: %q is not one of %s", ErrInvalidDescriptor, s.policy, strings.Join(onNaNValues, ", "))
		return s
	}
	if len(d.Features) > 0 {
		s.names = append([]string(nil), d.Features...)
		s.index = make(map[string]int, len(s.names))
		for i, n := range s.names {
			if _, dup := s.index[n]; !dup {
				s.index[n] = i
			}
		}
		s.seen = make([]bool, width)
	}
	if s.policy == OnNaNMean {
		s.mean = make([]float64, width)
		s.count = make([]int64, width)
	}
	return s
}

// Width is the length of the vectors Vector returns.
func (s *Schema) Width() int { return s.width }

// featureName names input position j in errors.
func (s *Schema) featureName(j int) string {
	if j < len(s.names) {
		return fmt.Sprintf("feature %q", s.names[j])
	}
	return fmt.Sprintf("features[%d]", j)
}

// Vector writes the model input for f into dst (grown if needed) and returns it.
//
// Named input must carry every descriptor feature (the error names the missing ones) and no
// others (the error names the unknown ones); a name given twice is an [ErrInvalidEvent].
// Positional input must have exactly Width values ("expected 4 features, got 3"). Missing
// values (NaN) follow on_nan: "reject" fails with [ErrNaNRejected] naming the feature, "zero"
// uses 0, "mean" uses the running mean of that feature over the events this Schema accepted so
// far (0 before any). Infinite values are an [ErrInvalidEvent]. A failed call leaves the running
// means unchanged.
func (s *Schema) Vector(f *Features, dst []float64) ([]float64, error) {
	if s.err != nil {
		return dst, s.err
	}
	if f == nil {
		return dst, fmt.Errorf("%w: model %q: features are missing", ErrInvalidEvent, s.id)
	}
	if cap(dst) < s.width {
		dst = make([]float64, s.width)
	}
	dst = dst[:s.width]

	if f.Names != nil {
		if err := s.named(f, dst); err != nil {
			return dst, err
		}
	} else {
		if len(f.Values) != s.width {
			return dst, fmt.Errorf("%w: model %q: expected %d features, got %d", ErrSchemaMismatch, s.id, s.width, len(f.Values))
		}
		copy(dst, f.Values)
	}

	nan := false
	for j, v := range dst {
		switch {
		case v != v:
			if s.policy == OnNaNReject {
				return dst, fmt.Errorf("%w: model %q: %s is missing (NaN or null) and options.on_nan is reject", ErrNaNRejected, s.id, s.featureName(j))
			}
			nan = true
		case math.IsInf(v, 0):
			return dst, fmt.Errorf("%w: model %q: %s is %v, want a finite number", ErrInvalidEvent, s.id, s.featureName(j), v)
		}
	}
	switch s.policy {
	case OnNaNZero:
		if nan {
			for j, v := range dst {
				if v != v {
					dst[j] = 0
				}
			}
		}
	case OnNaNMean:
		for j, v := range dst {
			if v != v {
				dst[j] = s.mean[j]
				continue
			}
			s.count[j]++
			s.mean[j] += (v - s.mean[j]) / float64(s.count[j])
		}
	}
	return dst, nil
}

// named places named features into dst by descriptor position.
func (s *Schema) named(f *Features, dst []float64) error {
	if len(f.Names) != len(f.Values) {
		return fmt.Errorf("%w: model %q: features have %d names but %d values", ErrInvalidEvent, s.id, len(f.Names), len(f.Values))
	}
	if len(s.names) == 0 {
		return fmt.Errorf("%w: model %q has no feature names in its descriptor; send features as an array of %d numbers",
			ErrSchemaMismatch, s.id, s.width)
	}
	clear(s.seen)
	unknown := 0
	for i, n := range f.Names {
		j, ok := s.index[n]
		if !ok {
			unknown++
			continue
		}
		if s.seen[j] {
			return fmt.Errorf("%w: model %q: feature %q appears twice", ErrInvalidEvent, s.id, n)
		}
		s.seen[j] = true
		dst[j] = f.Values[i]
	}
	if unknown == 0 && len(f.Names) == s.width {
		return nil
	}
	// The slow path: say exactly which names are wrong.
	var bad, missing []string
	for _, n := range f.Names {
		if _, ok := s.index[n]; !ok {
			bad = append(bad, n)
		}
	}
	for j, ok := range s.seen {
		if !ok {
			missing = append(missing, s.names[j])
		}
	}
	var parts []string
	if len(bad) > 0 {
		parts = append(parts, plural(len(bad), "unknown feature")+" "+quoteList(bad))
	}
	if len(missing) > 0 {
		parts = append(parts, plural(len(missing), "missing feature")+" "+quoteList(missing))
	}
	return fmt.Errorf("%w: model %q: %s", ErrSchemaMismatch, s.id, strings.Join(parts, "; "))
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// quoteList quotes up to 5 names and counts the rest.
func quoteList(names []string) string {
	const max = 5
	var b strings.Builder
	for i, n := range names {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(names)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}
