package linear

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/actorserve/actorserve/serving"
)

// Format is the descriptor format name this package loads.
const Format = "linear"

// MaxDataBytes is the largest descriptor data a linear model may have.
const MaxDataBytes = 32 << 20

// Links, the function applied to the linear scores.
const (
	LinkIdentity = "identity" // one row: regression, prediction {"value": w·x+b}
	LinkLogistic = "logistic" // one row, two labels: binary classification
	LinkSoftmax  = "softmax"  // one row per label: multiclass classification
)

// Register adds the "linear" format to r.
func Register(r *serving.Registry) { r.Register(Format, Load) }

type kind uint8

const (
	regression kind = iota
	binary
	multiclass
)

// maxStackClasses is how many classes Predict scores without allocating a scratch slice.
const maxStackClasses = 32

// model is an immutable linear model; safe for concurrent use.
type model struct {
	kind   kind
	width  int
	rows   int
	w      []float64 // rows × width, row-major
	b      []float64 // one per row
	labels []string  // binary: [negative, positive]; multiclass: one per row
}

// num is a float64 that, unlike encoding/json's float64, refuses null.
type num float64

var errNull = errors.New("got null, want a number")

func (n *num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return errNull
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		if len(b) > 0 && (b[0] == '-' || '0' <= b[0] && b[0] <= '9') {
			return fmt.Errorf("%s does not fit in a float64", b)
		}
		return fmt.Errorf("got %s, want a number", jsonKind(b))
	}
	*n = num(v)
	return nil
}

func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "a number"
}

func loadErr(format string, args ...any) error {
	return fmt.Errorf("%w: linear: %s", serving.ErrInvalidModel, fmt.Sprintf(format, args...))
}

// decodeNums decodes a JSON array of numbers, naming field in errors.
func decodeNums(raw json.RawMessage, field string) ([]num, error) {
	if string(raw) == "null" {
		return nil, fmt.Errorf("%w: linear: %s: got null, want an array of numbers", serving.ErrInvalidModel, field)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("%w: linear: %s: got %s, want an array of numbers", serving.ErrInvalidModel, field, jsonKind(raw))
	}
	out := make([]num, len(elems))
	for i, e := range elems {
		if err := out[i].UnmarshalJSON(e); err != nil {
			return nil, fmt.Errorf("%w: linear: %s[%d]: %s", serving.ErrInvalidModel, field, i, err.Error())
		}
		if f := float64(out[i]); math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: linear: %s[%d]: %v is not finite", serving.ErrInvalidModel, field, i, f)
		}
	}
	return out, nil
}

// Load builds a linear model from d.Data, a JSON object
//
//	{"coefficients": [[...], ...], "intercepts": [...], "link": "identity|logistic|softmax"}
//
// of at most [MaxDataBytes]. The combinations it accepts:
//
//   - link "identity", one coefficient row, no labels: regression, prediction {"value": w·x+b};
//   - link "logistic", one row, exactly two labels: binary; p = sigmoid(w·x+b) is the
//     probability of labels[1], the label is labels[1] when p >= 0.5, else labels[0], and
//     scores are {labels[0]: 1-p, labels[1]: p};
//   - link "softmax", K >= 2 rows and K labels: multiclass; scores are softmax(Wx+b) and the
//     label is the argmax (ties go to the lowest index).
//
// Intercepts has one value per row, or is absent (zeros). Every row has the same width, which
// must equal len(d.Features) when d.Features is set. Coefficients and intercepts must be finite
// numbers. Anything else is an error wrapping [serving.ErrInvalidModel] that says what is wrong.
func Load(d *serving.Descriptor) (serving.Model, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: linear: descriptor is nil", serving.ErrInvalidModel)
	}
	if len(d.Data) == 0 {
		if d.Location != "" {
			return nil, loadErr("location is not supported; put the model inline in data")
		}
		return nil, loadErr("data is missing; want {\"coefficients\": [[...]], \"intercepts\": [...], \"link\": \"...\"}")
	}
	if len(d.Data) > MaxDataBytes {
		return nil, loadErr("data is %d bytes, over the limit of %d", len(d.Data), MaxDataBytes)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(d.Data, &top); err != nil || top == nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, loadErr("data: malformed JSON at byte %d: %s", se.Offset, se.Error())
		}
		return nil, loadErr("data: got %s, want an object", jsonKind(d.Data))
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k != "coefficients" && k != "intercepts" && k != "link" {
			return nil, loadErr("data: unknown field %q (want coefficients, intercepts, link)", k)
		}
	}

	var link string
	rawLink, ok := top["link"]
	if !ok || string(rawLink) == "null" {
		return nil, loadErr("data.link is missing; want one of identity, logistic, softmax")
	}
	if err := json.Unmarshal(rawLink, &link); err != nil {
		return nil, loadErr("data.link: got %s, want a string", jsonKind(rawLink))
	}
	if link != LinkIdentity && link != LinkLogistic && link != LinkSoftmax {
		return nil, loadErr("link %q is not one of identity, logistic, softmax", link)
	}

	rawCoef, ok := top["coefficients"]
	if !ok || string(rawCoef) == "null" {
		return nil, loadErr("data.coefficients is missing; want an array of rows, like [[0.5, -1.2]]")
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(rawCoef, &rows); err != nil {
		return nil, loadErr("data.coefficients: got %s, want an array of rows", jsonKind(rawCoef))
	}
	if len(rows) == 0 {
		return nil, loadErr("data.coefficients has no rows")
	}
	m := &model{rows: len(rows)}
	for i, raw := range rows {
		row, err := decodeNums(raw, fmt.Sprintf("data.coefficients[%d]", i))
		if err != nil {
			return nil, err
		}
		if i == 0 {
			if len(row) == 0 {
				return nil, loadErr("data.coefficients[0] is empty")
			}
			m.width = len(row)
			m.w = make([]float64, 0, len(rows)*len(row))
		} else if len(row) != m.width {
			return nil, loadErr("data.coefficients[%d] has %d values, data.coefficients[0] has %d", i, len(row), m.width)
		}
		for _, v := range row {
			m.w = append(m.w, float64(v))
		}
	}

	m.b = make([]float64, m.rows)
	if raw, ok := top["intercepts"]; ok && string(raw) != "null" {
		ic, err := decodeNums(raw, "data.intercepts")
		if err != nil {
			return nil, err
		}
		if len(ic) != m.rows {
			return nil, loadErr("data.intercepts has %d values, want %d (one per coefficient row)", len(ic), m.rows)
		}
		for i, v := range ic {
			m.b[i] = float64(v)
		}
	}

	if n := len(d.Features); n > 0 && n != m.width {
		return nil, loadErr("coefficient rows have %d values but the descriptor lists %d features", m.width, n)
	}

	nl := len(d.Labels)
	switch link {
	case LinkIdentity:
		if m.rows != 1 {
			return nil, loadErr("link %q needs exactly 1 coefficient row, data has %d", link, m.rows)
		}
		if nl != 0 {
			return nil, loadErr("link %q is regression and takes no labels, descriptor has %d", link, nl)
		}
		m.kind = regression
	case LinkLogistic:
		if m.rows != 1 {
			return nil, loadErr("link %q needs exactly 1 coefficient row, data has %d (use softmax for more classes)", link, m.rows)
		}
		if nl != 2 {
			return nil, loadErr("link %q needs exactly 2 labels, descriptor has %d", link, nl)
		}
		m.kind = binary
	case LinkSoftmax:
		if nl < 2 {
			return nil, loadErr("link %q needs at least 2 labels, descriptor has %d", link, nl)
		}
		if m.rows != nl {
			return nil, loadErr("link %q needs one coefficient row per label: data has %d rows, descriptor has %d labels", link, m.rows, nl)
		}
		m.kind = multiclass
	}
	if nl > 0 {
		m.labels = slices.Clone(d.Labels)
		seen := make(map[string]struct{}, nl)
		for i, l := range m.labels {
			if _, dup := seen[l]; dup {
				return nil, loadErr("labels[%d] %q repeats an earlier label", i, l)
			}
			seen[l] = struct{}{}
		}
	}
	return m, nil
}

func (m *model) NumFeatures() int { return m.width }

// String describes the model's shape, for logs.
func (m *model) String() string {
	switch m.kind {
	case binary:
		return fmt.Sprintf("linear binary classifier, %d features, labels %s", m.width, strings.Join(m.labels, ", "))
	case multiclass:
		return fmt.Sprintf("linear %d-class classifier, %d features", m.rows, m.width)
	}
	return fmt.Sprintf("linear regression, %d features", m.width)
}

func dot(w, x []float64) float64 {
	w = w[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += w[i] * x[i]
		s1 += w[i+1] * x[i+1]
		s2 += w[i+2] * x[i+2]
		s3 += w[i+3] * x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += w[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (m *model) check(x []float64) error {
	if len(x) != m.width {
		return fmt.Errorf("%w: linear: expected %d features, got %d", serving.ErrSchemaMismatch, m.width, len(x))
	}
	return nil
}

var errOverflow = fmt.Errorf("%w: linear: a score is not finite (feature values too large?)", serving.ErrModel)

// Predict scores x; it allocates only the prediction's value or scores map.
func (m *model) Predict(x []float64) (serving.Prediction, error) {
	if err := m.check(x); err != nil {
		return serving.Prediction{}, err
	}
	if m.kind == regression {
		v := dot(m.w, x) + m.b[0]
		if !finite(v) {
			return serving.Prediction{}, errOverflow
		}
		return serving.Prediction{Value: &v}, nil
	}
	var p serving.Prediction
	err := m.classify(x, &p)
	return p, err
}

// classify fills p for the binary and multiclass kinds.
func (m *model) classify(x []float64, p *serving.Prediction) error {
	if m.kind == binary {
		z := dot(m.w, x) + m.b[0]
		if !finite(z) {
			return errOverflow
		}
		pr := sigmoid(z)
		label := m.labels[0]
		if pr >= 0.5 {
			label = m.labels[1]
		}
		p.Label = label
		p.Scores = map[string]float64{m.labels[0]: 1 - pr, m.labels[1]: pr}
		return nil
	}
	var buf [maxStackClasses]float64
	var z []float64
	if m.rows <= maxStackClasses {
		z = buf[:m.rows]
	} else {
		z = make([]float64, m.rows)
	}
	best := 0
	for k := range z {
		v := dot(m.w[k*m.width:(k+1)*m.width], x) + m.b[k]
		if !finite(v) {
			return errOverflow
		}
		z[k] = v
		if v > z[best] {
			best = k
		}
	}
	hi := z[best]
	var sum float64
	for k, v := range z {
		e := math.Exp(v - hi)
		z[k] = e
		sum += e
	}
	scores := make(map[string]float64, m.rows)
	for k, e := range z {
		scores[m.labels[k]] = e / sum
	}
	p.Label = m.labels[best]
	p.Scores = scores
	return nil
}

// PredictBatch scores xs into out; errs[i] reports a row's failure (then out[i] is empty).
func (m *model) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	if len(out) != len(xs) || len(errs) != len(xs) {
		return fmt.Errorf("%w: linear: batch of %d rows needs %d outputs and errors, got %d and %d",
			serving.ErrModel, len(xs), len(xs), len(out), len(errs))
	}
	if m.kind == regression {
		vals := make([]float64, len(xs)) // one allocation for the whole batch
		for i, x := range xs {
			out[i], errs[i] = serving.Prediction{}, m.check(x)
			if errs[i] != nil {
				continue
			}
			v := dot(m.w, x) + m.b[0]
			if !finite(v) {
				errs[i] = errOverflow
				continue
			}
			vals[i] = v
			out[i].Value = &vals[i]
		}
		return nil
	}
	for i, x := range xs {
		out[i], errs[i] = serving.Prediction{}, m.check(x)
		if errs[i] != nil {
			continue
		}
		if err := m.classify(x, &out[i]); err != nil {
			out[i], errs[i] = serving.Prediction{}, err
		}
	}
	return nil
}
