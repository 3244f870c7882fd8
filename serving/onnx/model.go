package onnx

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/actorserve/actorserve/serving"
)

// maxStackClasses is how many scores a prediction collects without allocating scratch space.
const maxStackClasses = 32

type task uint8

const (
	taskRegression task = iota // one value per row
	taskClassify               // a label and per-class scores
)

// model is a loaded ONNX model; immutable and safe for concurrent use.
type model struct {
	g     *graph
	width int
	feeds []feed
	batch bool      // one graph run scores a whole batch (rows stay apart along axis 0)
	probe []*tensor // outputs for a row of zeros, computed at load

	task      task
	label     int      // graph output holding labels, or -1 (then the label is the top score)
	score     int      // graph output holding scores (a tensor or a ZipMap), or the value; -1 for none
	labels    []string // class labels, in score column order
	binaryOne bool     // one score column for two classes: the probability of labels[1]
	labelIdx  bool     // the label output holds int64 indices into labels (no classes declared)
}

// feed is one graph input: its slice of the feature vector and its shape.
type feed struct {
	name   string
	dt     dtype
	offset int
	width  int
	dims   []int // dims after the batch dim, or the whole shape when fixed
	fixed  bool  // a fixed shape (no batch dim): one row per run
}

func (m *model) NumFeatures() int { return m.width }

// String describes the model, for logs.
func (m *model) String() string {
	kind := "regression"
	if m.task == taskClassify {
		kind = fmt.Sprintf("%d-class classifier", len(m.labels))
	}
	return fmt.Sprintf("onnx %s, %d operators, %d features, batch=%v", kind, len(m.g.steps), m.width, m.batch)
}

// setHead decides how graph outputs become predictions (see Load) and checks labels.
func (m *model) setHead(descLabels []string) error {
	outs := m.g.outputs
	for k, o := range outs {
		if !o.info.seq && (o.info.dt == dtInt64 || o.info.dt == dtString) {
			m.label = k
			break
		}
	}
	for k, o := range outs {
		if k != m.label && (o.info.seq || o.info.dt.real()) {
			m.score = k
			break
		}
	}
	var modelLabels []string
	switch {
	case m.label >= 0 && outs[m.label].info.classes != nil:
		modelLabels = outs[m.label].info.classes
	case m.score >= 0 && outs[m.score].info.classes != nil:
		modelLabels = outs[m.score].info.classes
	}
	// A model whose classes are the integers 0..K-1 (what scikit-learn
	// exports for integer targets) has indices, not names: the descriptor's
	// labels name them, as they name the classes of XGBoost, LightGBM and
	// linear models. Real names (strings, or other integers) must match.
	indexed := false
	if modelLabels != nil && len(descLabels) == len(modelLabels) && isIndexLabels(modelLabels) &&
		(m.label < 0 || outs[m.label].info.dt == dtInt64) {
		indexed = true
		modelLabels = descLabels
		if m.label >= 0 {
			m.labelIdx = true
		}
	}
	if modelLabels != nil && len(descLabels) > 0 && !slices.Equal(modelLabels, descLabels) {
		return loadErr("the model's class labels are %s but the descriptor's labels are %s; they must be equal (same order)",
			quoteList(modelLabels), quoteList(descLabels))
	}
	if m.score < 0 && m.label < 0 {
		return loadErr("no output holds a label, scores or a value (outputs: %s)", m.outputNames())
	}
	// Score width per row, from the probe.
	width := 0
	if m.score >= 0 {
		t := m.probe[m.score]
		width = t.size()
		if m.batch {
			width = t.size() / max(1, t.shape[0])
		}
		if t.seqMap {
			width = len(t.intKeys) + len(t.strKeys)
		}
	}
	isRegressor := m.score >= 0 && outs[m.score].info.regressor
	switch {
	case m.label >= 0 || modelLabels != nil:
		m.task = taskClassify
		m.labels = modelLabels
		if m.labels == nil {
			m.labels = descLabels
			// int64 labels without declared classes (an ArgMax) index the descriptor's labels.
			m.labelIdx = m.label >= 0 && outs[m.label].info.dt == dtInt64
		}
		if m.labels == nil {
			return loadErr("output %q holds labels but the model does not say which; set the descriptor's labels", outs[m.label].name)
		}
	case isRegressor || width == 1 && len(descLabels) != 2:
		m.task = taskRegression
		if width != 1 {
			return loadErr("output %q has %d values per row; a regression prediction holds one", outs[m.score].name, width)
		}
		if len(descLabels) > 0 {
			return loadErr("the model is a regressor (output %q) and takes no labels, the descriptor has %d", outs[m.score].name, len(descLabels))
		}
		return nil
	default: // one score column per class
		m.task = taskClassify
		m.labels = descLabels
		if m.labels == nil {
			m.labels = indexLabels(width)
		}
	}
	if len(m.labels) > MaxClasses {
		return loadErr("%d classes is over the limit of %d", len(m.labels), MaxClasses)
	}
	if m.score < 0 {
		return nil
	}
	sinfo := outs[m.score].info
	t := m.probe[m.score]
	switch {
	case t.seqMap:
		keys := t.strKeys
		if keys == nil {
			keys = make([]string, len(t.intKeys))
			for k, v := range t.intKeys {
				keys[k] = strconv.FormatInt(v, 10)
			}
		}
		want := m.labels
		if indexed {
			want = indexLabels(len(m.labels))
		}
		if !slices.Equal(keys, want) {
			return loadErr("the ZipMap's keys %s differ from the class labels %s", quoteList(keys), quoteList(want))
		}
	case sinfo.pairwise:
		m.score = -1 // one score per pair of classes: not per-class scores
	case width == len(m.labels):
	case width == 1 && len(m.labels) == 2:
		m.binaryOne = true
	default:
		return loadErr("output %q has %d scores per row for %d classes", outs[m.score].name, width, len(m.labels))
	}
	return nil
}

// isIndexLabels says whether labels are "0", "1", ..., "K-1" in order.
func isIndexLabels(labels []string) bool {
	for k, l := range labels {
		if l != strconv.Itoa(k) {
			return false
		}
	}
	return len(labels) > 0
}

// indexLabels returns "0", "1", ..., "n-1".
func indexLabels(n int) []string {
	out := make([]string, n)
	for k := range out {
		out[k] = strconv.Itoa(k)
	}
	return out
}

func (m *model) outputNames() string {
	var names []string
	for _, o := range m.g.outputs {
		names = append(names, strconv.Quote(o.name))
	}
	return strings.Join(names, ", ")
}

func quoteList(names []string) string {
	const most = 8
	var b strings.Builder
	b.WriteByte('[')
	for k, n := range names {
		if k == most {
			fmt.Fprintf(&b, " and %d more", len(names)-most)
			break
		}
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(n))
	}
	b.WriteByte(']')
	return b.String()
}

// checkRow reports whether x can be fed: its width, and integral values for int64 inputs.
func (m *model) checkRow(x []float64) error {
	if len(x) != m.width {
		return fmt.Errorf("%w: onnx: expected %d features, got %d", serving.ErrSchemaMismatch, m.width, len(x))
	}
	for _, f := range m.feeds {
		if f.dt != dtInt64 {
			continue
		}
		for j, v := range x[f.offset : f.offset+f.width] {
			if v != math.Trunc(v) || v < -(1<<63) || v >= 1<<63 {
				return fmt.Errorf("%w: onnx: feature %d is %v but input %q takes integers", serving.ErrInvalidEvent, f.offset+j, v, f.name)
			}
		}
	}
	return nil
}

// feedRows builds the graph inputs for rows xs (already checked): one batch of len(xs) rows,
// or, for a model that scores one row per run, the single row xs[0].
func (m *model) feedRows(xs [][]float64) ([]*tensor, error) {
	ts := make([]*tensor, len(m.feeds))
	for k, f := range m.feeds {
		t, err := newTensor(f.dt, m.feedShape(f, len(xs)))
		if err != nil {
			return nil, fmt.Errorf("%w: onnx: input %q: %w", serving.ErrModel, f.name, err)
		}
		for r, x := range xs {
			src := x[f.offset : f.offset+f.width]
			base := r * f.width
			switch f.dt {
			case dtFloat:
				for j, v := range src {
					t.f[base+j] = float32(v)
				}
			case dtDouble:
				copy(t.d[base:], src)
			case dtInt64:
				for j, v := range src {
					t.i[base+j] = int64(v)
				}
			}
		}
		ts[k] = t
	}
	return ts, nil
}

// run evaluates the graph on rows xs (already checked).
func (m *model) run(xs [][]float64) ([]*tensor, error) {
	feeds, err := m.feedRows(xs)
	if err != nil {
		return nil, err
	}
	return m.g.run(feeds)
}

// Predict scores one row.
func (m *model) Predict(x []float64) (serving.Prediction, error) {
	if err := m.checkRow(x); err != nil {
		return serving.Prediction{}, err
	}
	outs, err := m.run([][]float64{x})
	if err != nil {
		return serving.Prediction{}, err
	}
	var p serving.Prediction
	var v float64
	if err := m.predictRow(outs, 1, 0, &p, &v); err != nil {
		return serving.Prediction{}, err
	}
	return p, nil
}

// PredictBatch scores xs into out with one graph run per MaxBatchRows rows when the model
// keeps rows apart along its batch axis, else one run per row. errs[i] reports a row's
// failure (then out[i] is empty). If a batch run fails, its rows are rescored one at a time
// so that only the failing rows report errors.
func (m *model) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	if len(out) != len(xs) || len(errs) != len(xs) {
		return fmt.Errorf("%w: onnx: batch of %d rows needs %d outputs and errors, got %d and %d",
			serving.ErrModel, len(xs), len(xs), len(out), len(errs))
	}
	vals := make([]float64, len(xs))
	one := func(i int) {
		outs, err := m.run(xs[i : i+1])
		if err == nil {
			err = m.predictRow(outs, 1, 0, &out[i], &vals[i])
		}
		if err != nil {
			out[i], errs[i] = serving.Prediction{}, err
		}
	}
	// Rows per run: at most MaxBatchRows, and few enough for the input tensors' size limit.
	chunk := max(1, min(MaxBatchRows, MaxTensorElements/max(1, m.width)))
	ok := make([]int, 0, min(len(xs), chunk))
	for i, x := range xs {
		out[i], errs[i] = serving.Prediction{}, m.checkRow(x)
	}
	if !m.batch {
		for i := range xs {
			if errs[i] == nil {
				one(i)
			}
		}
		return nil
	}
	rows := make([][]float64, 0, cap(ok))
	for start := 0; start < len(xs); start += chunk {
		ok, rows = ok[:0], rows[:0]
		for i := start; i < min(start+chunk, len(xs)); i++ {
			if errs[i] == nil {
				ok = append(ok, i)
				rows = append(rows, xs[i])
			}
		}
		if len(ok) == 0 {
			continue
		}
		outs, err := m.run(rows)
		if err != nil {
			for _, i := range ok {
				one(i)
			}
			continue
		}
		for r, i := range ok {
			if err := m.predictRow(outs, len(ok), r, &out[i], &vals[i]); err != nil {
				out[i], errs[i] = serving.Prediction{}, err
			}
		}
	}
	return nil
}

func finite64(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

var errNotFinite = fmt.Errorf("%w: onnx: the model computed a score that is not finite (NaN or infinite)", serving.ErrModel)

// rowSlice returns the part of output t that belongs to row r of n.
func rowSlice(t *tensor, n, r int) (int, int, error) {
	size := t.size()
	if n == 1 {
		return 0, size, nil
	}
	if t.rank() == 0 || t.shape[0] != n {
		return 0, 0, fmt.Errorf("%w: onnx: an output has shape %s for a batch of %d rows", serving.ErrModel, shapeString(t.shape), n)
	}
	w := size / n
	return r * w, (r + 1) * w, nil
}

// predictRow fills p from row r of the graph outputs of a run over n rows; val is where a
// regression value is stored.
func (m *model) predictRow(outs []*tensor, n, r int, p *serving.Prediction, val *float64) error {
	var scores []float64
	var buf [maxStackClasses]float64
	if m.score >= 0 {
		t := outs[m.score]
		lo, hi, err := rowSlice(t, n, r)
		if err != nil {
			return err
		}
		scores = buf[:0]
		if hi-lo > len(buf) {
			scores = make([]float64, 0, hi-lo)
		}
		for k := lo; k < hi; k++ {
			v := t.float64At(k)
			if !finite64(v) {
				return errNotFinite
			}
			scores = append(scores, v)
		}
	}
	if m.task == taskRegression {
		if len(scores) != 1 {
			return fmt.Errorf("%w: onnx: the regression output has %d values for a row", serving.ErrModel, len(scores))
		}
		*val = scores[0]
		p.Value = val
		return nil
	}
	if scores != nil {
		if m.binaryOne {
			if len(scores) != 1 {
				return fmt.Errorf("%w: onnx: the score output has %d values for a row, want 1", serving.ErrModel, len(scores))
			}
			scores = append(scores[:0], 1-scores[0], scores[0])
		}
		if len(scores) != len(m.labels) {
			return fmt.Errorf("%w: onnx: the score output has %d values for a row, want %d", serving.ErrModel, len(scores), len(m.labels))
		}
		p.Scores = make(map[string]float64, len(scores))
		for k, v := range scores {
			p.Scores[m.labels[k]] = v
		}
	}
	if m.label >= 0 {
		t := outs[m.label]
		lo, hi, err := rowSlice(t, n, r)
		if err != nil {
			return err
		}
		if hi-lo != 1 {
			return fmt.Errorf("%w: onnx: the label output has %d values for a row, want 1", serving.ErrModel, hi-lo)
		}
		switch {
		case t.dt == dtString:
			p.Label = t.s[lo]
		case m.labelIdx:
			k := t.i[lo]
			if k < 0 || k >= int64(len(m.labels)) {
				return fmt.Errorf("%w: onnx: the label output holds class index %d, outside the %d labels", serving.ErrModel, k, len(m.labels))
			}
			p.Label = m.labels[k]
		default:
			p.Label = strconv.FormatInt(t.i[lo], 10)
		}
		return nil
	}
	if m.binaryOne {
		p.Label = m.labels[0]
		if scores[1] > 0.5 {
			p.Label = m.labels[1]
		}
		return nil
	}
	best := 0
	for k, v := range scores {
		if v > scores[best] {
			best = k
		}
	}
	p.Label = m.labels[best]
	return nil
}
