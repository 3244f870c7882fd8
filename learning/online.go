package learning

import (
	"fmt"
	"math"
	"time"

	"github.com/actorserve/actorserve/learning/drift"
	"github.com/actorserve/actorserve/learning/logreg"
	"github.com/actorserve/actorserve/learning/metrics"
	"github.com/actorserve/actorserve/learning/pa"
	"github.com/actorserve/actorserve/learning/scale"
	"github.com/actorserve/actorserve/serving"
)

// Format is the descriptor format name of online models.
const Format = "online"

// Register adds the "online" format to r: its loader returns a fresh, untrained *Online built
// by [New] (or one restored from the descriptor's data, if set).
func Register(r *serving.Registry) {
	r.Register(Format, func(d *serving.Descriptor) (serving.Model, error) { return New(d) })
}

// Target is what Learn learns from: a class label ([Label]) or a value ([Value]).
type Target struct {
	label   string
	value   float64
	isValue bool
}

// Label is a classification target.
func Label(s string) Target { return Target{label: s} }

// Value is a regression target.
func Value(v float64) Target { return Target{value: v, isValue: true} }

// String returns the label, or the value in %g.
func (t Target) String() string {
	if t.isValue {
		return fmt.Sprintf("%g", t.value)
	}
	return t.label
}

// Update reports what one Learn call did.
type Update struct {
	Label    string  // classification: the label predicted before learning ("" with no classes yet)
	Value    float64 // regression: the value predicted before learning
	Correct  bool    // classification: the prediction was the target
	Loss     float64 // the error fed to the drift detector: 0/1, or |prediction − target|
	Changed  bool    // the learner's weights changed (PA steps are often passive)
	NewClass bool    // the label was new and grew the class set
	Drift    bool    // the drift detector fired on this example (and the reset policy ran)
}

// Stats are an online model's learning statistics, shaped for JSON. Classification fills
// accuracy, accuracy_recent, kappa and kappa_t; regression fills mae and mae_recent; the other
// task's fields stay 0.
type Stats struct {
	Task           string    `json:"task"`
	Updates        uint64    `json:"updates"` // labelled examples learned from, passive steps included
	Changes        uint64    `json:"changes"` // updates that changed the weights
	Accuracy       float64   `json:"accuracy"`
	AccuracyRecent float64   `json:"accuracy_recent"` // over the last `window` examples
	Kappa          float64   `json:"kappa"`
	KappaT         float64   `json:"kappa_t"`   // against the no-change classifier
	NoChange       float64   `json:"no_change"` // accuracy of repeating the previous label
	MAE            float64   `json:"mae"`
	MAERecent      float64   `json:"mae_recent"`
	Classes        int       `json:"classes"`
	Drifts         uint64    `json:"drifts"`
	LastDrift      time.Time `json:"last_drift,omitzero"`
}

// Online is an online linear model: a serving.Model that answers predictions from the first
// event on and learns from each labelled example (test-then-train). Build it with [New].
//
// Concurrency: an Online belongs to one goroutine (its model actor). Learn, LearnAfter,
// Predict, PredictBatch, Decide, Stats, MarshalBinary and UnmarshalBinary all share scratch
// buffers and mutable state, so none of them may run concurrently with another — not even two
// Predicts. This is narrower than the serving.Model contract: callers that share a model
// between goroutines must serialise access themselves.
type Online struct {
	cfg      config
	learning serving.Learning // as given, for snapshots

	labels []string
	index  map[string]int

	cls classifier // classification
	reg regressor  // regression

	scaler *scale.Scaler  // nil when params.scale is false
	det    drift.Detector // nil when drift is none
	cm     *metrics.Classification
	rm     *metrics.Regression

	updates, changes uint64
	drifts           uint64
	lastDrift        int64 // unix nanoseconds, 0 for none

	now     func() time.Time
	buf     []float64 // the learner's input: scaled features, then the bias input
	margins []float64
}

// Option changes how [New] builds an Online.
type Option func(*Online)

// WithClock sets the clock that timestamps drifts (time.Now by default).
func WithClock(now func() time.Time) Option { return func(o *Online) { o.now = now } }

// New builds an untrained online model from d: d.Features gives the width (and must be
// non-empty), d.Labels the initial classes in order (for a binary task labels[1] is the
// positive class; new labels of a multiclass stream are added up to params.max_classes), and
// d.Learning the algorithm, task, drift detector and parameters:
//
//	every model:  scale (true), bias ("feature" | "intercept" | "none"), window (1000)
//	multiclass:   max_classes (64)
//	pa1, pa2:     C (1)
//	scw1, scw2:   C (1), eta (0.75), covariance ("auto" | "full" | "diag")
//	arow:         r (1), covariance
//	logreg:       lr (0.5), adagrad (true), l2 (0)
//	regression:   epsilon (0.1)
//	with a drift: drift_reset ("covariance" for scw/arow/logreg, else "none"; or "model")
//	ddm:          ddm_warm_start (30), ddm_warning (2), ddm_threshold (3)
//	adwin:        adwin_delta (0.002), adwin_clock (32), adwin_max_buckets (5),
//	              adwin_min_window (5), adwin_grace_period (10), adwin_both (false)
//	ph:           ph_min_instances (30), ph_delta (0.005), ph_threshold (50), ph_alpha (0.9999)
//
// Covariance "auto" is full up to [AutoFullMaxFeatures] features and diagonal beyond.
// Unknown or inapplicable parameters are errors. If d.Data is set it must be a base64
// snapshot from [Online.MarshalBinary] of a compatible model, which the new model starts from.
// Errors wrap [ErrInvalidConfig] and serving.ErrInvalidModel.
func New(d *serving.Descriptor, opts ...Option) (*Online, error) {
	if d == nil {
		return nil, configErrorf("descriptor is nil")
	}
	cfg, err := parseConfig(d.Learning, len(d.Features))
	if err != nil {
		return nil, err
	}
	o, err := build(cfg, *d.Learning, d.Labels)
	if err != nil {
		return nil, err
	}
	for _, opt := range opts {
		opt(o)
	}
	if len(d.Data) > 0 {
		b, err := d.DataBytes()
		if err != nil {
			return nil, configErrorf("data: %v", err)
		}
		if len(b) > MaxStateBytes {
			return nil, configErrorf("data: %d bytes of snapshot, over the limit of %d", len(b), MaxStateBytes)
		}
		if err := o.UnmarshalBinary(b); err != nil {
			return nil, configErrorf("data: %v", err)
		}
	}
	return o, nil
}

func build(cfg config, l serving.Learning, labels []string) (*Online, error) {
	o := &Online{cfg: cfg, learning: cloneLearning(l), index: map[string]int{}, now: time.Now}
	o.buf = make([]float64, cfg.dim())
	if cfg.bias == BiasFeature {
		o.buf[cfg.width] = 1
	}
	if cfg.scale {
		o.scaler = scale.New(cfg.width)
	}
	var err error
	switch cfg.drift {
	case DriftDDM:
		o.det, err = drift.NewDDM(cfg.ddm)
	case DriftADWIN:
		o.det, err = drift.NewADWIN(cfg.adwin)
	case DriftPH:
		o.det, err = drift.NewPageHinkley(cfg.ph)
	}
	if err != nil {
		return nil, configErrorf("learning.drift %s: %v", cfg.drift, err)
	}
	if cfg.task == TaskRegression {
		if len(labels) > 0 {
			return nil, configErrorf("labels: a regression model has no labels, got %d", len(labels))
		}
		r, err := pa.NewRegressor(cfg.dim(), paConfig(&cfg))
		if err != nil {
			return nil, configErrorf("%v", err)
		}
		o.reg = r
		o.rm = metrics.NewRegression(cfg.window)
		return o, nil
	}
	limit := cfg.maxClasses
	if cfg.task == TaskBinary {
		limit = 2
	}
	if len(labels) > limit {
		return nil, configErrorf("labels: %d labels, a %s model takes at most %d", len(labels), cfg.task, limit)
	}
	cls, err := newClassifier(&cfg, 0)
	if err != nil {
		return nil, configErrorf("%v", err)
	}
	o.cls = cls
	o.cm = metrics.NewClassification(cfg.window)
	for i, s := range labels {
		if s == "" {
			return nil, configErrorf("labels[%d] is empty", i)
		}
		if _, dup := o.index[s]; dup {
			return nil, configErrorf("labels[%d]: %q repeats", i, s)
		}
		if err := o.addLabel(s); err != nil {
			return nil, configErrorf("%v", err)
		}
	}
	return o, nil
}

func cloneLearning(l serving.Learning) serving.Learning {
	p := make(map[string]any, len(l.Params))
	for k, v := range l.Params {
		p[k] = v
	}
	l.Params = p
	return l
}

func (o *Online) addLabel(s string) error {
	if err := o.cls.addClass(); err != nil {
		return err
	}
	o.index[s] = len(o.labels)
	o.labels = append(o.labels, s)
	o.margins = append(o.margins, 0)
	return nil
}

// NumFeatures returns the input width.
func (o *Online) NumFeatures() int { return o.cfg.width }

// Labels returns the classes in index order (a copy).
func (o *Online) Labels() []string { return append([]string(nil), o.labels...) }

// Algorithm returns the learning algorithm; Task the task.
func (o *Online) Algorithm() string { return o.cfg.algorithm }

// Task returns "binary", "multiclass" or "regression".
func (o *Online) Task() string { return o.cfg.task }

// checkInput validates x without touching the model.
func (o *Online) checkInput(x []float64) error {
	if len(x) != o.cfg.width {
		return fmt.Errorf("%w: %w: got %d features, the model takes %d", ErrInvalidInput, serving.ErrSchemaMismatch, len(x), o.cfg.width)
	}
	var sq float64
	for i, v := range x {
		if math.IsNaN(v) {
			return fmt.Errorf("%w: %w: feature %d is NaN", ErrInvalidInput, serving.ErrNaNRejected, i)
		}
		if math.IsInf(v, 0) {
			return fmt.Errorf("%w: %w: feature %d is %v", ErrInvalidInput, serving.ErrInvalidEvent, i, v)
		}
		sq += v * v
	}
	if math.IsInf(sq, 0) {
		return fmt.Errorf("%w: %w: the squared norm of the features overflows", ErrInvalidInput, serving.ErrInvalidEvent)
	}
	return nil
}

// load puts the learner's view of x into o.buf: scaled with the current statistics (unless
// scaling is off), then the bias input.
func (o *Online) load(x []float64) []float64 {
	if o.scaler != nil {
		o.scaler.Transform(o.buf, x)
	} else {
		copy(o.buf, x)
	}
	return o.buf
}

// decide returns the predicted class index (-1 with no classes) or value for x.
func (o *Online) decide(x []float64) (int, float64) {
	v := o.load(x)
	if o.reg != nil {
		return 0, o.reg.Predict(v)
	}
	k := len(o.labels)
	if k == 0 {
		return -1, 0
	}
	o.cls.margins(v, o.margins)
	if o.cfg.binaryModel() {
		if k == 2 && o.margins[1] > 0 {
			return 1, 0
		}
		return 0, 0
	}
	best := 0
	for r := 1; r < k; r++ {
		if o.margins[r] > o.margins[best] {
			best = r
		}
	}
	return best, 0
}

// Decide predicts x without per-label scores: Label for classification (empty while no class
// is known), Value for regression. It does not allocate for classification.
func (o *Online) Decide(x []float64) (serving.Prediction, error) {
	if err := o.checkInput(x); err != nil {
		return serving.Prediction{}, err
	}
	c, v := o.decide(x)
	if o.reg != nil {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return serving.Prediction{}, fmt.Errorf("%w: the prediction is %v", serving.ErrModel, v)
		}
		return serving.Prediction{Value: &v}, nil
	}
	if c < 0 {
		return serving.Prediction{}, nil
	}
	return serving.Prediction{Label: o.labels[c]}, nil
}

// Predict scores x. Classification returns the label (the highest margin; ties go to the
// lowest class index; an untrained model predicts the first label) and Scores: for a binary
// model {labels[0]: 1 − σ(f), labels[1]: σ(f)} with f the margin — the probability for logreg,
// a monotone squashing of the margin for the others — and for multiclass the softmax of the
// per-class margins. With no label known yet the prediction is empty. Regression returns Value.
func (o *Online) Predict(x []float64) (serving.Prediction, error) {
	if err := o.checkInput(x); err != nil {
		return serving.Prediction{}, err
	}
	c, v := o.decide(x)
	if o.reg != nil {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return serving.Prediction{}, fmt.Errorf("%w: the prediction is %v", serving.ErrModel, v)
		}
		return serving.Prediction{Value: &v}, nil
	}
	k := len(o.labels)
	if c < 0 {
		return serving.Prediction{}, nil
	}
	scores := make(map[string]float64, k)
	if o.cfg.binaryModel() {
		if k == 1 {
			scores[o.labels[0]] = 1
		} else {
			p := logreg.Sigmoid(o.margins[1])
			scores[o.labels[0]], scores[o.labels[1]] = 1-p, p
		}
	} else {
		logreg.SoftmaxInPlace(o.margins[:k])
		for r, s := range o.labels {
			scores[s] = o.margins[r]
		}
	}
	for _, p := range scores {
		if math.IsNaN(p) {
			return serving.Prediction{}, fmt.Errorf("%w: a score is NaN", serving.ErrModel)
		}
	}
	return serving.Prediction{Label: o.labels[c], Scores: scores}, nil
}

// PredictBatch predicts each row; per-row errors go to errs.
func (o *Online) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	if len(out) != len(xs) || len(errs) != len(xs) {
		return fmt.Errorf("%w: predict batch: %d rows, %d outputs, %d error slots", ErrInvalidInput, len(xs), len(out), len(errs))
	}
	for i, x := range xs {
		out[i], errs[i] = o.Predict(x)
	}
	return nil
}

// resolve maps a classification target to its class index, adding nothing; isNew says the
// label would be a new class. It fails, without changing anything, on a regression target, an
// empty label, or a label beyond the class limit.
func (o *Online) resolve(y Target) (cls int, isNew bool, err error) {
	if o.reg != nil {
		if !y.isValue {
			return 0, false, fmt.Errorf("%w: a regression model learns from a Value, got label %q", ErrInvalidInput, y.label)
		}
		if math.IsNaN(y.value) || math.IsInf(y.value, 0) {
			return 0, false, fmt.Errorf("%w: %w: target value %v is not finite", ErrInvalidInput, serving.ErrInvalidEvent, y.value)
		}
		return 0, false, nil
	}
	if y.isValue {
		return 0, false, fmt.Errorf("%w: a %s model learns from a Label, got value %g", ErrInvalidInput, o.cfg.task, y.value)
	}
	if y.label == "" {
		return 0, false, fmt.Errorf("%w: the label is empty", ErrInvalidInput)
	}
	if c, ok := o.index[y.label]; ok {
		return c, false, nil
	}
	if o.cfg.task == TaskBinary && len(o.labels) >= 2 {
		return 0, false, fmt.Errorf("%w: %q is neither %q nor %q of this binary model", ErrUnknownLabel, y.label, o.labels[0], o.labels[1])
	}
	if len(o.labels) >= o.cfg.maxClasses {
		return 0, false, fmt.Errorf("%w: label %q would be class %d; learning.params.max_classes is %d", ErrTooManyClasses, y.label, len(o.labels)+1, o.cfg.maxClasses)
	}
	return len(o.labels), true, nil
}

// Learn is test-then-train on one labelled example: it predicts x with the current model,
// scores that prediction against y (metrics, then the drift detector), updates the scaler with
// x, and takes one learning step on the rescaled x. On a drift it counts it, timestamps it and
// applies learning.params.drift_reset before the step. A label not seen before grows the
// class set (multiclass up to max_classes; binary up to two).
//
// Invalid input (wrong width, NaN or infinite features or target, the wrong kind of target, an
// unknown or excess label) returns an error and leaves the model exactly as it was.
func (o *Online) Learn(x []float64, y Target) (Update, error) {
	if err := o.checkInput(x); err != nil {
		return Update{}, err
	}
	cls, isNew, err := o.resolve(y)
	if err != nil {
		return Update{}, err
	}
	c, v := o.decide(x)
	return o.learn(x, y, cls, isNew, c, v)
}

// LearnAfter learns from a label that arrives after its prediction p was made and served
// (delayed feedback): p, not a fresh prediction, is scored against y; then the scaler and the
// learner are updated as in Learn. For classification p.Label names the predicted class (an
// empty or unknown label counts as wrong); for regression p.Value must be set.
func (o *Online) LearnAfter(x []float64, y Target, p serving.Prediction) (Update, error) {
	if err := o.checkInput(x); err != nil {
		return Update{}, err
	}
	cls, isNew, err := o.resolve(y)
	if err != nil {
		return Update{}, err
	}
	c, v := -1, 0.0
	if o.reg != nil {
		if p.Value == nil || math.IsNaN(*p.Value) || math.IsInf(*p.Value, 0) {
			return Update{}, fmt.Errorf("%w: the earlier prediction of a regression model has no finite value", ErrInvalidInput)
		}
		v = *p.Value
	} else if i, ok := o.index[p.Label]; ok {
		c = i
	}
	return o.learn(x, y, cls, isNew, c, v)
}

// learn runs everything after the prediction; its inputs are valid. Growing the class set is
// the first change, so that its (never expected) failure leaves the model as it was.
func (o *Online) learn(x []float64, y Target, cls int, isNew bool, pred int, value float64) (Update, error) {
	var u Update
	if isNew {
		if err := o.addLabel(y.label); err != nil {
			return Update{}, fmt.Errorf("add label %q: %w", y.label, err)
		}
		u.NewClass = true
	}
	if o.reg != nil {
		u.Value = value
		u.Loss = math.Abs(value - y.value)
		o.rm.Add(y.value, value)
	} else {
		if pred >= 0 {
			u.Label = o.labels[pred]
		}
		u.Correct = pred == cls
		if !u.Correct {
			u.Loss = 1
		}
		o.cm.Add(cls, pred)
	}
	if o.det != nil && o.det.Add(u.Loss) {
		u.Drift = true
		o.drifts++
		o.lastDrift = o.now().UnixNano()
		switch o.cfg.driftReset {
		case ResetCovariance:
			if o.cls != nil {
				o.cls.resetCovariance()
			}
		case ResetModel:
			if o.cls != nil {
				o.cls.reset()
			} else {
				o.reg.Reset()
			}
		}
	}
	if o.scaler != nil {
		o.scaler.Update(x)
	}
	in := o.load(x)
	if o.reg != nil {
		u.Changed = o.reg.Learn(in, y.value)
	} else {
		u.Changed = o.cls.learn(in, cls)
	}
	o.updates++
	if u.Changed {
		o.changes++
	}
	return u, nil
}

// Stats returns the learning statistics.
func (o *Online) Stats() Stats {
	s := Stats{Task: o.cfg.task, Updates: o.updates, Changes: o.changes, Classes: len(o.labels), Drifts: o.drifts}
	if o.lastDrift != 0 {
		s.LastDrift = time.Unix(0, o.lastDrift).UTC()
	}
	if o.cm != nil {
		s.Accuracy = o.cm.Accuracy()
		s.AccuracyRecent = o.cm.RecentAccuracy()
		s.Kappa = o.cm.Kappa()
		s.KappaT = o.cm.KappaTemporal()
		s.NoChange = o.cm.NoChangeAccuracy()
	}
	if o.rm != nil {
		s.MAE = o.rm.MAE()
		s.MAERecent = o.rm.RecentMAE()
	}
	return s
}
