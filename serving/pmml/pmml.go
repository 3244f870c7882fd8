package pmml

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/source"
)

// Format is the descriptor format name this package registers.
const Format = "pmml"

// Limits bound what a document may cost to load and to evaluate.
type Limits struct {
	MaxBytes    int // document size
	MaxDepth    int // element nesting
	MaxElements int // elements in the document
	MaxNodes    int // tree nodes and neurons, all models together
	MaxModels   int // models, counting every segment
	MaxSteps    int // evaluation steps (expressions, predicates, tree levels) per prediction
}

// DefaultLimits are the limits [Load] applies.
var DefaultLimits = Limits{
	MaxBytes:    64 << 20,
	MaxDepth:    1000,
	MaxElements: 4_000_000,
	MaxNodes:    2_000_000,
	MaxModels:   100_000,
	MaxSteps:    10_000_000,
}

// Register adds the "pmml" format to r.
func Register(r *serving.Registry) { r.Register(Format, Load) }

func loadErr(format string, args ...any) error {
	return fmt.Errorf("%w: pmml: %s", serving.ErrInvalidModel, fmt.Sprintf(format, args...))
}

// Load builds a model from d. The document comes from d.Data (a JSON string holding either
// the base64 of the document or, for convenience, the XML text itself) or from d.Location
// (file, http or https, read by [source.ModelBytes]); d.SHA256 is checked when set.
//
// The model's inputs are d.Features in order when the descriptor lists them, otherwise the
// active MiningFields of the top-level model in document order; every input must be a
// DataField. A classification model's scores are keyed by the target's categories; when the
// descriptor lists labels they must be exactly those categories.
func Load(d *serving.Descriptor) (serving.Model, error) {
	if d == nil {
		return nil, loadErr("descriptor is nil")
	}
	b, err := documentBytes(d)
	if err != nil {
		return nil, err
	}
	m, err := Compile(b, Options{Features: d.Features, Labels: d.Labels})
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", d.ID, err)
	}
	return m, nil
}

func documentBytes(d *serving.Descriptor) ([]byte, error) {
	if len(d.Data) > 0 && d.Location == "" {
		var s string
		if json.Unmarshal(d.Data, &s) == nil && strings.HasPrefix(strings.TrimSpace(s), "<") {
			b := []byte(s)
			if len(b) > DefaultLimits.MaxBytes {
				return nil, loadErr("model %q: document is %d bytes, over the limit of %d", d.ID, len(b), DefaultLimits.MaxBytes)
			}
			if err := d.CheckSHA256(b); err != nil {
				return nil, fmt.Errorf("%w: pmml: %w", serving.ErrInvalidModel, err)
			}
			return b, nil
		}
	}
	if len(d.Data) == 0 && d.Location == "" {
		return nil, loadErr("model %q: data is missing; want the PMML document as base64 (or XML text) in data, or a location", d.ID)
	}
	b, err := source.ModelBytes(context.Background(), d, source.Options{
		MaxBytes:       int64(DefaultLimits.MaxBytes),
		MaxInlineBytes: int64(DefaultLimits.MaxBytes),
	})
	if err != nil {
		if errors.Is(err, serving.ErrInvalidModel) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: pmml: %w", serving.ErrInvalidModel, err)
	}
	return b, nil
}

// Options configure [Compile].
type Options struct {
	Features []string // input names in order; empty: the top model's active fields
	Labels   []string // expected target categories (any order); empty: no check
	Limits   *Limits  // nil: DefaultLimits
}

type compiler struct {
	lim       Limits
	fields    map[string]*dataField
	funcs     map[string]*userFunc
	transDict *elem
	models    int
	nodes     int
	exprs     int
}

// Model is a compiled PMML document. It is immutable and safe for concurrent use.
type Model struct {
	top     *modelDef
	inputs  []string
	types   []*dataField
	version string
	lim     Limits
}

// Compile parses and compiles a PMML 3.x or 4.x document. Errors wrap
// [serving.ErrInvalidModel] and name the element, its line and what is wrong.
func Compile(b []byte, opts Options) (*Model, error) {
	lim := DefaultLimits
	if opts.Limits != nil {
		lim = *opts.Limits
	}
	root, err := parseDocument(trimBOM(b), lim)
	if err != nil {
		return nil, loadErr("%s", err.Error())
	}
	m, err := compileDocument(root, opts, lim)
	if err != nil {
		return nil, loadErr("%s", err.Error())
	}
	return m, nil
}

func compileDocument(root *elem, opts Options, lim Limits) (*Model, error) {
	c := &compiler{lim: lim, funcs: map[string]*userFunc{}}
	var err error
	if c.fields, _, err = parseDataDictionary(root.child("DataDictionary")); err != nil {
		return nil, err
	}
	c.transDict = root.child("TransformationDictionary")
	if err := c.parseFunctions(c.transDict); err != nil {
		return nil, err
	}
	rootScope := c.newScope(nil)
	global, err := c.parseDerivedFields(c.transDict, rootScope)
	if err != nil {
		return nil, err
	}
	me, err := modelChild(root)
	if err != nil {
		return nil, err
	}
	top, err := c.compileModel(me, rootScope, global)
	if err != nil {
		return nil, err
	}
	m := &Model{top: top, version: root.get("version"), lim: lim}
	m.inputs = slices.Clone(opts.Features)
	if len(m.inputs) == 0 {
		m.inputs = slices.Clone(top.mining.active)
	}
	if len(m.inputs) == 0 {
		return nil, errors.New("the model has no active MiningField and the descriptor lists no features")
	}
	for _, name := range m.inputs {
		df := c.fields[name]
		if df == nil {
			return nil, fmt.Errorf("input %q is not a DataField of the document", name)
		}
		m.types = append(m.types, df)
	}
	for _, name := range top.mining.active {
		if c.fields[name] != nil && !slices.Contains(m.inputs, name) {
			return nil, fmt.Errorf("active field %q is not among the descriptor's features (%s)", name, quoteList(m.inputs))
		}
	}
	if len(opts.Labels) > 0 {
		if !top.classify() {
			return nil, fmt.Errorf("the model is a regression; the descriptor's labels do not apply")
		}
		if len(top.classes) > 0 {
			a, b := slices.Clone(opts.Labels), slices.Clone(top.classes)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				return nil, fmt.Errorf("descriptor labels %s differ from the model's target categories %s", quoteList(opts.Labels), quoteList(top.classes))
			}
		}
	}
	return m, nil
}

// NumFeatures is the number of inputs.
func (m *Model) NumFeatures() int { return len(m.inputs) }

// Inputs returns the input field names in the order Predict takes them.
func (m *Model) Inputs() []string { return slices.Clone(m.inputs) }

// Classes returns the target categories of a classification, in model order (nil for a
// regression).
func (m *Model) Classes() []string { return slices.Clone(m.top.classes) }

// String describes the model, for logs.
func (m *Model) String() string {
	return fmt.Sprintf("pmml %s %s %s, %d inputs", m.version, m.top.elemName, m.top.fn, len(m.inputs))
}

// Predict scores one input vector. NaN is a missing value; for string DataFields a number is
// passed as its decimal text (1 → "1"), for boolean ones non-zero is true. A null prediction
// (for example a tree whose nodes do not cover the input) is an empty Prediction.
func (m *Model) Predict(x []float64) (serving.Prediction, error) {
	if len(x) != len(m.inputs) {
		return serving.Prediction{}, fmt.Errorf("%w: pmml model takes %d features, got %d", serving.ErrSchemaMismatch, len(m.inputs), len(x))
	}
	r := &run{limit: m.lim.MaxSteps}
	root := newFrame(nil, nil, r)
	for i, name := range m.inputs {
		root.vals[name] = inputValue(x[i], m.types[i].dt)
	}
	res, _, err := m.top.run(root)
	if err != nil {
		if errors.Is(err, errInvalidValue) {
			return serving.Prediction{}, fmt.Errorf("%w: pmml: %w", serving.ErrInvalidEvent, err)
		}
		return serving.Prediction{}, fmt.Errorf("%w: pmml: %w", serving.ErrModel, err)
	}
	return toPrediction(res, m.top)
}

func inputValue(x float64, dt dataType) value {
	if math.IsNaN(x) {
		return missing
	}
	switch dt {
	case dtString:
		return str(formatNum(x))
	case dtBoolean:
		return boolean(x != 0)
	case dtFloat:
		return num(float64(float32(x)))
	}
	return num(x)
}

// PredictBatch scores xs into out; a row's failure is in errs.
func (m *Model) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	if len(out) != len(xs) || len(errs) != len(xs) {
		return fmt.Errorf("%w: pmml: batch of %d rows with %d outputs and %d error slots", serving.ErrModel, len(xs), len(out), len(errs))
	}
	for i, x := range xs {
		out[i], errs[i] = m.Predict(x)
	}
	return nil
}

// trimBOM drops a UTF-8 byte order mark, which encoding/xml rejects.
func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }
