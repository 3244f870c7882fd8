package learning

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/actorserve/actorserve/learning/drift"
	"github.com/actorserve/actorserve/learning/metrics"
	"github.com/actorserve/actorserve/serving"
)

// Algorithms, tasks, bias rules, covariance forms, drift detectors and drift resets accepted in
// a descriptor's learning section.
const (
	AlgoPA     = "pa"     // passive-aggressive, τ = ℓ/‖x‖²
	AlgoPA1    = "pa1"    // PA-I, τ = min(C, ℓ/‖x‖²)
	AlgoPA2    = "pa2"    // PA-II, τ = ℓ/(‖x‖² + 1/(2C))
	AlgoSCW1   = "scw1"   // soft confidence-weighted, SCW-I
	AlgoSCW2   = "scw2"   // SCW-II
	AlgoAROW   = "arow"   // adaptive regularisation of weights
	AlgoLogReg = "logreg" // logistic regression, SGD with AdaGrad

	TaskBinary     = "binary"
	TaskMulticlass = "multiclass"
	TaskRegression = "regression"

	BiasFeature   = "feature"   // a constant-1 input appended after scaling; it is in ‖x‖² (default)
	BiasIntercept = "intercept" // a separate intercept left out of ‖x‖² (scikit-learn's rule; pa*, logreg)
	BiasNone      = "none"      // no bias

	CovarianceAuto = "auto" // full when the model has at most AutoFullMaxFeatures features, else diag
	CovarianceFull = "full"
	CovarianceDiag = "diag"

	DriftNone  = "none"
	DriftDDM   = "ddm"
	DriftADWIN = "adwin"
	DriftPH    = "ph"

	ResetCovariance = "covariance" // SCW/AROW: Σ ← I; logreg: AdaGrad sums ← 0 (default for those)
	ResetModel      = "model"      // the learner starts again from zero (scaler and metrics stay)
	ResetNone       = "none"       // only count the drift (default for pa, pa1, pa2)
)

// AutoFullMaxFeatures is the largest feature count for which covariance "auto" picks a full
// covariance matrix for SCW and AROW (O(d²) memory and time per update and class); wider
// models keep only its diagonal.
const AutoFullMaxFeatures = 64

// Limits on what a descriptor may ask for, so that a model's memory stays bounded.
const (
	DefaultMaxClasses = 64
	MaxClassesLimit   = 4096
	// MaxParameters bounds the number of float64 parameters a learner may reach at
	// max_classes classes (128 MiB).
	MaxParameters = 1 << 24
)

// config is a parsed learning section.
type config struct {
	algorithm, task string
	width           int
	scale           bool
	bias            string
	covariance      string // resolved: full or diag (SCW, AROW); "" otherwise
	maxClasses      int
	window          int
	c, eta, epsilon float64
	r, lr, l2       float64
	adagrad         bool
	drift           string
	driftReset      string
	ddm             drift.DDMConfig
	adwin           drift.ADWINConfig
	ph              drift.PageHinkleyConfig
}

// params reads typed parameters and remembers which names were read.
type params struct {
	m    map[string]any
	used map[string]bool
	errs []string
}

func (p *params) num(name string, def float64) float64 {
	p.used[name] = true
	v, ok := p.m[name]
	if !ok {
		return def
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			p.errs = append(p.errs, fmt.Sprintf("learning.params.%s: %q is not a number", name, string(x)))
			return def
		}
	default:
		p.errs = append(p.errs, fmt.Sprintf("learning.params.%s: got %T, want a number", name, v))
		return def
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		p.errs = append(p.errs, fmt.Sprintf("learning.params.%s: %v is not finite", name, f))
		return def
	}
	return f
}

// positive reads a number that must be > 0.
func (p *params) positive(name string, def float64) float64 {
	f := p.num(name, def)
	if !(f > 0) {
		p.errs = append(p.errs, fmt.Sprintf("learning.params.%s: %v, want a number > 0", name, f))
	}
	return f
}

func (p *params) integer(name string, def, lo, hi int) int {
	f := p.num(name, float64(def))
	if f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		p.errs = append(p.errs, fmt.Sprintf("learning.params.%s: %v, want a whole number from %d to %d", name, f, lo, hi))
		return def
	}
	return int(f)
}

func (p *params) boolean(name string, def bool) bool {
	p.used[name] = true
	v, ok := p.m[name]
	if !ok {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		p.errs = append(p.errs, fmt.Sprintf("learning.params.%s: got %T, want true or false", name, v))
		return def
	}
	return b
}

func (p *params) choice(name, def string, allowed ...string) string {
	p.used[name] = true
	v, ok := p.m[name]
	if !ok {
		return def
	}
	s, ok := v.(string)
	if !ok || !slices.Contains(allowed, s) {
		p.errs = append(p.errs, fmt.Sprintf("learning.params.%s: %v, want one of %s", name, v, strings.Join(allowed, ", ")))
		return def
	}
	return s
}

// parseConfig checks a learning section for a model of width features.
func parseConfig(l *serving.Learning, width int) (config, error) {
	if l == nil {
		return config{}, configErrorf("the descriptor has no learning section; an online model needs learning.algorithm and learning.task")
	}
	c := config{algorithm: l.Algorithm, task: l.Task, width: width, drift: l.Drift}
	if c.drift == "" {
		c.drift = DriftNone
	}
	if !slices.Contains(serving.LearningAlgorithms, c.algorithm) {
		return c, configErrorf("learning.algorithm: %q is not one of %s", c.algorithm, strings.Join(serving.LearningAlgorithms, ", "))
	}
	if !slices.Contains(serving.LearningTasks, c.task) {
		return c, configErrorf("learning.task: %q is not one of %s", c.task, strings.Join(serving.LearningTasks, ", "))
	}
	if !slices.Contains(serving.DriftDetectors, c.drift) {
		return c, configErrorf("learning.drift: %q is not one of %s", c.drift, strings.Join(serving.DriftDetectors, ", "))
	}
	if width < 1 || width > serving.MaxFeatures {
		return c, configErrorf("features: %d names, an online model needs 1 to %d", width, serving.MaxFeatures)
	}
	isPA := c.algorithm == AlgoPA || c.algorithm == AlgoPA1 || c.algorithm == AlgoPA2
	isCW := c.algorithm == AlgoSCW1 || c.algorithm == AlgoSCW2 || c.algorithm == AlgoAROW
	if c.task == TaskRegression && !isPA {
		return c, configErrorf("learning.task regression needs algorithm pa, pa1 or pa2; %s classifies only", c.algorithm)
	}
	if c.task == TaskRegression && c.drift == DriftDDM {
		return c, configErrorf("learning.drift ddm watches 0/1 errors; for regression use adwin or ph")
	}

	p := &params{m: l.Params, used: map[string]bool{}}
	c.scale = p.boolean("scale", true)
	biases := []string{BiasFeature, BiasNone}
	if isPA || c.algorithm == AlgoLogReg {
		biases = append(biases, BiasIntercept)
	}
	c.bias = p.choice("bias", BiasFeature, biases...)
	c.window = p.integer("window", metrics.DefaultWindow, 1, metrics.MaxWindow)
	switch c.task {
	case TaskMulticlass:
		c.maxClasses = p.integer("max_classes", DefaultMaxClasses, 2, MaxClassesLimit)
	case TaskBinary:
		c.maxClasses = 2
	}
	switch c.algorithm {
	case AlgoPA1, AlgoPA2:
		c.c = p.positive("C", 1)
	case AlgoSCW1, AlgoSCW2:
		c.c = p.positive("C", 1)
		c.eta = p.num("eta", 0.75)
		if !(c.eta > 0.5 && c.eta < 1) {
			p.errs = append(p.errs, fmt.Sprintf("learning.params.eta: %v, want 0.5 < eta < 1", c.eta))
		}
	case AlgoAROW:
		c.r = p.positive("r", 1)
	case AlgoLogReg:
		c.lr = p.positive("lr", 0.5)
		c.adagrad = p.boolean("adagrad", true)
		c.l2 = p.num("l2", 0)
		if c.l2 < 0 {
			p.errs = append(p.errs, fmt.Sprintf("learning.params.l2: %v, want a number >= 0", c.l2))
		}
	}
	if c.task == TaskRegression {
		c.epsilon = p.num("epsilon", 0.1)
		if c.epsilon < 0 {
			p.errs = append(p.errs, fmt.Sprintf("learning.params.epsilon: %v, want a number >= 0", c.epsilon))
		}
	}
	if isCW {
		c.covariance = p.choice("covariance", CovarianceAuto, CovarianceAuto, CovarianceFull, CovarianceDiag)
		if c.covariance == CovarianceAuto {
			c.covariance = CovarianceDiag
			if width <= AutoFullMaxFeatures {
				c.covariance = CovarianceFull
			}
		}
	}
	switch c.drift {
	case DriftNone:
	default:
		resets := []string{ResetModel, ResetNone}
		def := ResetNone
		if isCW || c.algorithm == AlgoLogReg {
			resets = append(resets, ResetCovariance)
			def = ResetCovariance
		}
		c.driftReset = p.choice("drift_reset", def, resets...)
	}
	switch c.drift {
	case DriftDDM:
		c.ddm = drift.DefaultDDM()
		c.ddm.WarmStart = p.integer("ddm_warm_start", c.ddm.WarmStart, 1, math.MaxInt32)
		c.ddm.WarningLevel = p.positive("ddm_warning", c.ddm.WarningLevel)
		c.ddm.DriftThreshold = p.positive("ddm_threshold", c.ddm.DriftThreshold)
		if err := c.ddm.Validate(); err != nil && len(p.errs) == 0 {
			p.errs = append(p.errs, "learning.params: "+err.Error())
		}
	case DriftADWIN:
		c.adwin = drift.DefaultADWIN()
		c.adwin.Delta = p.num("adwin_delta", c.adwin.Delta)
		c.adwin.Clock = p.integer("adwin_clock", c.adwin.Clock, 1, 1<<20)
		c.adwin.MaxBuckets = p.integer("adwin_max_buckets", c.adwin.MaxBuckets, 2, 1000)
		c.adwin.MinWindow = p.integer("adwin_min_window", c.adwin.MinWindow, 1, math.MaxInt32)
		c.adwin.GracePeriod = p.integer("adwin_grace_period", c.adwin.GracePeriod, 0, math.MaxInt32)
		c.adwin.Both = p.boolean("adwin_both", false)
		if err := c.adwin.Validate(); err != nil && len(p.errs) == 0 {
			p.errs = append(p.errs, "learning.params: "+err.Error())
		}
	case DriftPH:
		c.ph = drift.DefaultPageHinkley()
		c.ph.MinInstances = p.integer("ph_min_instances", c.ph.MinInstances, 1, math.MaxInt32)
		c.ph.Delta = p.num("ph_delta", c.ph.Delta)
		c.ph.Threshold = p.positive("ph_threshold", c.ph.Threshold)
		c.ph.Alpha = p.num("ph_alpha", c.ph.Alpha)
		if err := c.ph.Validate(); err != nil && len(p.errs) == 0 {
			p.errs = append(p.errs, "learning.params: "+err.Error())
		}
	}
	var unknown []string
	for k := range p.m {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		known := make([]string, 0, len(p.used))
		for k := range p.used {
			known = append(known, k)
		}
		slices.Sort(known)
		p.errs = append(p.errs, fmt.Sprintf("learning.params: %s not used by algorithm %s, task %s, drift %s (parameters: %s)",
			strings.Join(unknown, ", "), c.algorithm, c.task, c.drift, strings.Join(known, ", ")))
	}
	if len(p.errs) > 0 {
		return c, configErrorf("%s", strings.Join(p.errs, "; "))
	}
	if n := c.parameters(); n > MaxParameters {
		return c, configErrorf("%s with %d features and max_classes %d needs %d parameters, over the limit of %d; lower max_classes or use covariance diag",
			c.algorithm, width, c.maxClasses, n, MaxParameters)
	}
	return c, nil
}

// dim is the learner's input width: the features plus the constant-1 bias input.
func (c *config) dim() int {
	if c.bias == BiasFeature {
		return c.width + 1
	}
	return c.width
}

// binaryModel reports whether the classifier is one binary learner (task binary; PA multiclass
// and logreg multiclass have one vector per class; SCW/AROW multiclass are one-vs-rest).
func (c *config) binaryModel() bool { return c.task == TaskBinary }

// minStateBytes is the least a snapshot of this model with k classes can weigh: each learned
// float takes 8 bytes. UnmarshalBinary checks it before allocating, so that a short, forged
// snapshot cannot make it allocate much more than its own size.
func (c *config) minStateBytes(k int) int {
	d := c.dim()
	per := d
	switch c.algorithm {
	case AlgoLogReg:
		per = 2 * d
	case AlgoSCW1, AlgoSCW2, AlgoAROW:
		if c.covariance == CovarianceFull {
			per = d*d + d
		} else {
			per = 2 * d
		}
	}
	if c.task != TaskMulticlass {
		k = 1
	}
	n := per * k
	if c.scale {
		n += 2 * c.width
	}
	return 8 * n
}

// parameters is the number of float64 parameters at max_classes.
func (c *config) parameters() int {
	d := c.dim() + 1
	per := d
	switch c.algorithm {
	case AlgoLogReg:
		per = 2 * d
	case AlgoSCW1, AlgoSCW2, AlgoAROW:
		if c.covariance == CovarianceFull {
			per = d*d + d
		} else {
			per = 2 * d
		}
	}
	k := 1
	if c.task == TaskMulticlass {
		k = c.maxClasses
	}
	return per * k
}
