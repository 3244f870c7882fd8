package onnx

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// mlOps are the operators of the ai.onnx.ml domain this package implements.
var mlOps map[string]opDef

func init() {
	mlOps = map[string]opDef{
		"LinearClassifier":       {1, 1, 2, 2, buildLinearClassifier},
		"LinearRegressor":        {1, 1, 1, 1, buildLinearRegressor},
		"TreeEnsembleClassifier": {1, 1, 2, 2, buildTreeClassifier},
		"TreeEnsembleRegressor":  {1, 1, 1, 1, buildTreeRegressor},
		"TreeEnsemble":           {1, 1, 1, 1, buildTreeEnsemble},
		"SVMClassifier":          {1, 1, 2, 2, buildSVMClassifier},
		"SVMRegressor":           {1, 1, 1, 1, buildSVMRegressor},
		"Scaler":                 {1, 1, 1, 1, buildScaler},
		"Normalizer":             {1, 1, 1, 1, buildNormalizer},
		"ZipMap":                 {1, 1, 1, 1, buildZipMap},
		"LabelEncoder":           {1, 1, 1, 1, buildLabelEncoder},
		"OneHotEncoder":          {1, 1, 1, 1, buildOneHotEncoder},
		"Imputer":                {1, 1, 1, 1, buildImputer},
		"ArrayFeatureExtractor":  {2, 2, 1, 1, buildArrayFeatureExtractor},
		"Binarizer":              {1, 1, 1, 1, buildBinarizer},
		"FeatureVectorizer":      {1, -1, 1, 1, buildFeatureVectorizer},
	}
}

// --- post transforms, as onnxruntime computes them (float32) -------------------------------

type postTransform uint8

const (
	ptNone postTransform = iota
	ptLogistic
	ptSoftmax
	ptSoftmaxZero
	ptProbit
)

var postTransforms = map[string]postTransform{
	"NONE": ptNone, "LOGISTIC": ptLogistic, "SOFTMAX": ptSoftmax, "SOFTMAX_ZERO": ptSoftmaxZero, "PROBIT": ptProbit,
}

func (n *node) postTransform() (postTransform, error) {
	s, err := n.attrString("post_transform", "NONE")
	if err != nil {
		return 0, err
	}
	p, ok := postTransforms[s]
	if !ok {
		return 0, n.errf("post_transform %q is not one of NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO, PROBIT", s)
	}
	return p, nil
}

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }

// logistic32 is onnxruntime's ComputeLogistic.
func logistic32(x float32) float32 {
	v := 1 / (1 + exp32(-float32(math.Abs(float64(x)))))
	if x < 0 {
		return 1 - v
	}
	return v
}

// erfInv32 is the approximation of the inverse error function onnxruntime uses for PROBIT
// (Winitzki's formula with a = 0.147, in float32). It is within about 2e-3 of the exact
// value; ONNX models are judged against onnxruntime, so we compute what it computes.
func erfInv32(x float32) float32 {
	sgn := float32(1)
	if x < 0 {
		sgn = -1
	}
	var pi, a, two, one, half float32 = math.Pi, 0.147, 2, 1, 0.5
	x = (one - x) * (one + x)
	lg := float32(math.Log(float64(x)))
	v := two/(pi*a) + half*lg
	v2 := one / a * lg
	v3 := -v + float32(math.Sqrt(float64(v*v-v2)))
	return sgn * float32(math.Sqrt(float64(v3)))
}

func probit32(x float32) float32 {
	var sqrt2, two, one float32 = math.Sqrt2, 2, 1
	return sqrt2 * erfInv32(two*x-one)
}

// softmax32 is onnxruntime's ComputeSoftmax: float32 exponentials and sum.
func softmax32(v []float32) {
	hi := float32(-math.MaxFloat32)
	for _, x := range v {
		if x > hi {
			hi = x
		}
	}
	var sum float32
	for k, x := range v {
		e := exp32(x - hi)
		v[k] = e
		sum += e
	}
	for k := range v {
		v[k] /= sum
	}
}

// softmaxZero32 is onnxruntime's ComputeSoftmaxZero: zero scores stay (almost) zero.
func softmaxZero32(v []float32) {
	hi := float32(-math.MaxFloat32)
	for _, x := range v {
		if x > hi {
			hi = x
		}
	}
	expNeg := exp32(-hi)
	var sum float32
	for k, x := range v {
		if x > 0.0000001 || x < -0.0000001 {
			e := exp32(x - hi)
			v[k] = e
			sum += e
		} else {
			v[k] = x * expNeg
		}
	}
	for k := range v {
		v[k] /= sum
	}
}

// logisticMLAS is the rational approximation of the logistic function that onnxruntime's
// MLAS uses (Eigen's coefficients, clamped to [-18, 18], FMA steps) for Sigmoid and for the
// LOGISTIC transform of rows of scores.
func logisticMLAS(x float32) float32 {
	if x != x {
		return x
	}
	v := min(max(x, -18), 18)
	v2 := v * v
	p := fma32(v2, 4.37031012579801e-11, 1.15627324459942e-07)
	p = fma32(p, v2, 6.08574864600143e-05)
	p = fma32(p, v2, 8.51377133304701e-03)
	p = fma32(p, v2, 2.48287947061529e-01)
	p *= v
	q := fma32(v2, 6.10247389755681e-13, 5.76102136993427e-09)
	q = fma32(q, v2, 6.29106785017040e-06)
	q = fma32(q, v2, 1.70198817374094e-03)
	q = fma32(q, v2, 1.16817656904453e-01)
	q = fma32(q, v2, 9.93151921023180e-01)
	return p/q + 0.5
}

// applyBatched transforms a row of scores as onnxruntime's batched_update_scores_inplace
// does (linear models, SVMs): like apply, but LOGISTIC through MLAS.
func (p postTransform) applyBatched(v []float32) {
	if p == ptLogistic {
		for k, x := range v {
			v[k] = logisticMLAS(x)
		}
		return
	}
	p.apply(v)
}

// apply transforms one row of two or more scores in place.
func (p postTransform) apply(v []float32) {
	switch p {
	case ptProbit:
		for k, x := range v {
			v[k] = probit32(x)
		}
	case ptLogistic:
		for k, x := range v {
			v[k] = logistic32(x)
		}
	case ptSoftmax:
		softmax32(v)
	case ptSoftmaxZero:
		softmaxZero32(v)
	}
}

// classLabels reads classlabels_ints/_int64s or classlabels_strings: exactly one may be set.
// It returns the labels as strings and the int labels when they are ints.
func (n *node) classLabels(intName string, required bool) (labels []string, ints []int64, isString bool, err error) {
	ints, err = n.attrInts(intName)
	if err != nil {
		return nil, nil, false, err
	}
	strs, err := n.attrStrings("classlabels_strings")
	if err != nil {
		return nil, nil, false, err
	}
	switch {
	case ints != nil && strs != nil:
		return nil, nil, false, n.errf("both %s and classlabels_strings are set", intName)
	case strs != nil:
		labels, isString = strs, true
	case ints != nil:
		labels = make([]string, len(ints))
		for k, v := range ints {
			labels[k] = strconv.FormatInt(v, 10)
		}
	case required:
		return nil, nil, false, n.errf("one of %s and classlabels_strings is required", intName)
	}
	if len(labels) > MaxClasses {
		return nil, nil, false, n.errf("%d classes is over the limit of %d", len(labels), MaxClasses)
	}
	return labels, ints, isString, nil
}

// labelTensor builds the label output of a classifier for N rows.
type labeler struct {
	isString bool
	strs     []string
	ints     []int64
}

func (l *labeler) tensor(n int) *tensor {
	if l.isString {
		return &tensor{dt: dtString, shape: []int{n}, s: make([]string, n)}
	}
	return &tensor{dt: dtInt64, shape: []int{n}, i: make([]int64, n)}
}

// set writes class index k, or when k < 0 the literal fallback (used by binary classifiers
// without two labels: "1"/"0" or 1/0).
func (l *labeler) set(t *tensor, r, k int, fallback int64) {
	if l.isString {
		if k >= 0 {
			t.s[r] = l.strs[k]
		} else {
			t.s[r] = strconv.FormatInt(fallback, 10)
		}
		return
	}
	if k >= 0 {
		t.i[r] = l.ints[k]
	} else {
		t.i[r] = fallback
	}
}

// mlInput checks the input of a classic ML operator: a numeric tensor of rank 1 ([F]) or 2
// ([N, F]), converted to float32. It returns the static feature count (or -1).
func mlInput(n *node, want int, types func(dtype) bool, what string) (int, error) {
	if err := wantTypes(n, 0, types, what); err != nil {
		return 0, err
	}
	s := n.in[0].shape
	if s == nil {
		return -1, nil
	}
	if len(s) != 1 && len(s) != 2 {
		return 0, n.errf("input has shape %s, want [N, F]", staticString(s))
	}
	f := s[len(s)-1]
	if want >= 0 && knownDim(f) && f != want {
		return 0, n.errf("input has %d features (shape %s), the operator's parameters are for %d", f, staticString(s), want)
	}
	return f, nil
}

// batchOf returns N and F for an [N, F] or [F] input tensor.
func batchOf(t *tensor) (int, int, error) {
	switch t.rank() {
	case 1:
		return 1, t.shape[0], nil
	case 2:
		return t.shape[0], t.shape[1], nil
	}
	return 0, 0, fmt.Errorf("input has shape %s, want [N, F]", shapeString(t.shape))
}

// rowsOut is the row dependency of an [N, ...] output of an operator that scores rows
// independently: row-wise when its input is [N, F] with the batch first.
func rowsOut(n *node) rowDep {
	r := n.rows()
	if r == rowsAxis0 && (n.in[0].shape == nil || len(n.in[0].shape) != 2) {
		return rowsMixed
	}
	return r
}

func outN(n *node) int {
	s := n.in[0].shape
	if len(s) == 2 {
		return s[0]
	}
	if len(s) == 1 {
		return 1
	}
	return dimUnknown
}

// --- LinearClassifier, LinearRegressor -----------------------------------------------------

func buildLinearClassifier(n *node) (kernel, []vinfo, error) {
	coef, err := n.attrFloats("coefficients")
	if err != nil {
		return nil, nil, err
	}
	inter, err := n.attrFloats("intercepts")
	if err != nil {
		return nil, nil, err
	}
	post, err := n.postTransform()
	if err != nil {
		return nil, nil, err
	}
	labels, ints, isStr, err := n.classLabels("classlabels_ints", true)
	if err != nil {
		return nil, nil, err
	}
	if len(coef) == 0 || len(inter) == 0 {
		return nil, nil, n.errf("coefficients and intercepts are required")
	}
	if k := finite32(coef); k >= 0 {
		return nil, nil, n.errf("coefficients[%d] is not finite", k)
	}
	if k := finite32(inter); k >= 0 {
		return nil, nil, n.errf("intercepts[%d] is not finite", k)
	}
	targets := len(inter)
	if len(coef)%targets != 0 {
		return nil, nil, n.errf("%d coefficients do not split into %d rows (one per intercept)", len(coef), targets)
	}
	f := len(coef) / targets
	if _, err := mlInput(n, f, isNumeric, "float, double or int64"); err != nil {
		return nil, nil, err
	}
	second := targets == 1 && len(labels) == 2
	if targets > 1 && len(labels) != targets {
		return nil, nil, n.errf("%d coefficient rows but %d class labels", targets, len(labels))
	}
	if second && post == ptProbit {
		return nil, nil, n.errf("post_transform PROBIT with one coefficient row and two classes is not supported")
	}
	width := targets
	if second {
		width = 2
	}
	lab := &labeler{isString: isStr, strs: labels, ints: ints}
	rows := rowsOut(n)
	outs := []vinfo{
		{dt: lab.tensor(0).dt, shape: []int{outN(n)}, rows: rows, classes: labels},
		{dt: dtFloat, shape: []int{outN(n), width}, rows: rows, classes: labels},
	}
	k := kernelFunc(func(rc *runCtx, in []*tensor) ([]*tensor, error) {
		nr, nf, err := batchOf(in[0])
		if err != nil {
			return nil, err
		}
		if nf != f {
			return nil, fmt.Errorf("input has %d features, coefficients are for %d", nf, f)
		}
		if err := rc.work(nr, targets, f); err != nil {
			return nil, err
		}
		x := in[0].asFloat32()
		y := lab.tensor(nr)
		z := &tensor{dt: dtFloat, shape: []int{nr, width}, f: make([]float32, nr*width)}
		raw := make([]float32, targets)
		for r := 0; r < nr; r++ {
			copy(raw, inter)
			gemmRow(x[r*f:(r+1)*f], coef, raw, 1, true)
			zr := z.f[r*width : (r+1)*width]
			if targets == 1 {
				s := raw[0]
				if s > 0 {
					lab.set(y, r, positive(len(labels)), 1)
				} else {
					lab.set(y, r, negative(len(labels)), 0)
				}
				switch {
				case second: // onnxruntime writes (1-p, p): p is s, or its logistic for LOGISTIC
					if post == ptLogistic {
						s = logistic32(s)
					}
					zr[0], zr[1] = 1-s, s
				case post == ptProbit:
					zr[0] = probit32(s)
				default:
					zr[0] = s
				}
				continue
			}
			best := 0
			for t := 1; t < targets; t++ {
				if raw[t] > raw[best] {
					best = t
				}
			}
			lab.set(y, r, best, 0)
			copy(zr, raw)
			post.applyBatched(zr)
		}
		return []*tensor{y, z}, nil
	})
	return k, outs, nil
}

func positive(nlabels int) int {
	if nlabels == 2 {
		return 1
	}
	return -1
}

func negative(nlabels int) int {
	if nlabels == 2 {
		return 0
	}
	return -1
}

func buildLinearRegressor(n *node) (kernel, []vinfo, error) {
	coef, err := n.attrFloats("coefficients")
	if err != nil {
		return nil, nil, err
	}
	inter, err := n.attrFloats("intercepts")
	if err != nil {
		return nil, nil, err
	}
	targets64, err := n.attrInt("targets", 1)
	if err != nil {
		return nil, nil, err
	}
	post, err := n.postTransform()
	if err != nil {
		return nil, nil, err
	}
	if targets64 < 1 || targets64 > MaxClasses {
		return nil, nil, n.errf("targets %d is out of range", targets64)
	}
	targets := int(targets64)
	if len(coef) == 0 || len(coef)%targets != 0 {
		return nil, nil, n.errf("%d coefficients do not split into %d targets", len(coef), targets)
	}
	if inter != nil && len(inter) != targets {
		return nil, nil, n.errf("%d intercepts for %d targets", len(inter), targets)
	}
	if k := finite32(coef); k >= 0 {
		return nil, nil, n.errf("coefficients[%d] is not finite", k)
	}
	f := len(coef) / targets
	if _, err := mlInput(n, f, isNumeric, "float, double or int64"); err != nil {
		return nil, nil, err
	}
	outs := []vinfo{{dt: dtFloat, shape: []int{outN(n), targets}, rows: rowsOut(n), regressor: true}}
	return kernelFunc(func(rc *runCtx, in []*tensor) ([]*tensor, error) {
		nr, nf, err := batchOf(in[0])
		if err != nil {
			return nil, err
		}
		if nf != f {
			return nil, fmt.Errorf("input has %d features, coefficients are for %d", nf, f)
		}
		if err := rc.work(nr, targets, f); err != nil {
			return nil, err
		}
		x := in[0].asFloat32()
		z := &tensor{dt: dtFloat, shape: []int{nr, targets}, f: make([]float32, nr*targets)}
		for r := 0; r < nr; r++ {
			zr := z.f[r*targets : (r+1)*targets]
			copy(zr, inter)
			gemmRow(x[r*f:(r+1)*f], coef, zr, 1, inter != nil)
			if targets == 1 {
				if post == ptProbit {
					zr[0] = probit32(zr[0])
				}
				continue
			}
			post.applyBatched(zr)
		}
		return []*tensor{z}, nil
	}), outs, nil
}

// --- Scaler, Normalizer, Binarizer, Imputer -----------------------------------------------

func buildScaler(n *node) (kernel, []vinfo, error) {
	scale, err := n.attrFloats("scale")
	if err != nil {
		return nil, nil, err
	}
	offset, err := n.attrFloats("offset")
	if err != nil {
		return nil, nil, err
	}
	if len(scale) == 0 || len(scale) != len(offset) {
		return nil, nil, n.errf("scale (%d values) and offset (%d values) must be non-empty and of equal length", len(scale), len(offset))
	}
	if err := wantTypes(n, 0, isNumeric, "float, double or int64"); err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	if in.shape != nil && len(scale) > 1 {
		if len(in.shape) == 0 {
			return nil, nil, n.errf("input is a scalar")
		}
		if s := stride(in.shape); knownDim(s) && s != len(scale) {
			return nil, nil, n.errf("scale has %d values, input has %d features (shape %s)", len(scale), s, staticString(in.shape))
		}
	}
	out := vinfo{dt: dtFloat, shape: cloneShape(in.shape), rows: n.rows()}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		if t.rank() == 0 {
			return nil, fmt.Errorf("input is a scalar")
		}
		st := t.shape[0]
		if t.rank() > 1 {
			st = t.shape[1]
		}
		if len(scale) > 1 && st != len(scale) {
			return nil, fmt.Errorf("scale has %d values, input has %d features", len(scale), st)
		}
		o, err := newTensor(dtFloat, t.shape)
		if err != nil {
			return nil, err
		}
		for k := range o.f {
			j := 0
			if len(scale) > 1 {
				j = k % st
			}
			switch t.dt {
			case dtFloat:
				o.f[k] = (t.f[k] - offset[j]) * scale[j]
			default:
				o.f[k] = float32((t.float64At(k) - float64(offset[j])) * float64(scale[j]))
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

// stride is onnxruntime's feature count of a Scaler input: dim 0 of a vector, else dim 1.
func stride(s []int) int {
	if len(s) == 1 {
		return s[0]
	}
	return s[1]
}

func buildNormalizer(n *node) (kernel, []vinfo, error) {
	norm, err := n.attrString("norm", "MAX")
	if err != nil {
		return nil, nil, err
	}
	if norm != "MAX" && norm != "L1" && norm != "L2" {
		return nil, nil, n.errf("norm %q is not one of MAX, L1, L2", norm)
	}
	if _, err := mlInput(n, -1, isNumeric, "float, double or int64"); err != nil {
		return nil, nil, err
	}
	out := vinfo{dt: dtFloat, shape: cloneShape(n.in[0].shape), rows: rowsOut(n)}
	return kernelFunc(func(rc *runCtx, in []*tensor) ([]*tensor, error) {
		t := in[0]
		nr, nf, err := batchOf(t)
		if err != nil {
			return nil, err
		}
		o, err := newTensor(dtFloat, t.shape)
		if err != nil {
			return nil, err
		}
		for r := 0; r < nr; r++ {
			y := o.f[r*nf : (r+1)*nf]
			switch norm {
			case "MAX":
				hi := float32(-math.MaxFloat32)
				for j := range y {
					hi = max32(hi, float32(t.float64At(r*nf+j)))
				}
				for j := range y {
					y[j] = float32(t.float64At(r*nf + j))
					if hi != 0 {
						y[j] /= hi
					}
				}
			case "L1":
				var sum float32
				for j := range y {
					sum += float32(math.Abs(t.float64At(r*nf + j)))
				}
				for j := range y {
					y[j] = float32(t.float64At(r*nf + j))
					if sum != 0 {
						y[j] /= sum
					}
				}
			case "L2":
				var sum float32
				for j := range y {
					x := t.float64At(r*nf + j)
					var sq float32
					if t.dt == dtFloat {
						sq = float32(x) * float32(x)
					} else {
						sq = float32(x * x)
					}
					y[j] = sq
					sum += sq
				}
				for j := range y {
					x := t.float64At(r*nf + j)
					if sum == 0 {
						y[j] = float32(x)
						continue
					}
					v := float32(math.Sqrt(float64(y[j] / sum)))
					if x < 0 {
						v = -v
					}
					y[j] = v
				}
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

// max32 is std::max(a, b): b only when a < b, so a NaN b is ignored.
func max32(a, b float32) float32 {
	if a < b {
		return b
	}
	return a
}

func buildBinarizer(n *node) (kernel, []vinfo, error) {
	th, err := n.attrFloat("threshold", 0)
	if err != nil {
		return nil, nil, err
	}
	if err := wantTypes(n, 0, isReal, "float or double"); err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	out := vinfo{dt: in.dt, shape: cloneShape(in.shape), rows: n.rows()}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		o, err := newTensor(t.dt, t.shape)
		if err != nil {
			return nil, err
		}
		for k := range t.size() {
			v := t.float64At(k)
			y := 0.0
			switch {
			case v != v: // as onnxruntime
				return nil, fmt.Errorf("input element %d is NaN", k)
			case v > float64(th):
				y = 1
			}
			if t.dt == dtFloat {
				o.f[k] = float32(y)
			} else {
				o.d[k] = y
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

func buildImputer(n *node) (kernel, []vinfo, error) {
	fl, err := n.attrFloats("imputed_value_floats")
	if err != nil {
		return nil, nil, err
	}
	is, err := n.attrInts("imputed_value_int64s")
	if err != nil {
		return nil, nil, err
	}
	rf, err := n.attrFloat("replaced_value_float", 0)
	if err != nil {
		return nil, nil, err
	}
	ri, err := n.attrInt("replaced_value_int64", 0)
	if err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	switch in.dt {
	case dtFloat, dtDouble:
		if len(fl) == 0 {
			return nil, nil, n.errf("a %s input needs imputed_value_floats", in.dt)
		}
	case dtInt64:
		if len(is) == 0 {
			return nil, nil, n.errf("an int64 input needs imputed_value_int64s")
		}
	default:
		return nil, nil, n.errf("input is %s, want float, double or int64", in.dt)
	}
	count := len(fl)
	if in.dt == dtInt64 {
		count = len(is)
	}
	if count > 1 && in.shape != nil && len(in.shape) > 0 {
		if s := in.shape[len(in.shape)-1]; knownDim(s) && s != count {
			return nil, nil, n.errf("%d imputed values for %d features (shape %s)", count, s, staticString(in.shape))
		}
	}
	out := vinfo{dt: in.dt, shape: cloneShape(in.shape), rows: n.rows()}
	nanReplaced := rf != rf
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		if t.rank() == 0 {
			return nil, fmt.Errorf("input is a scalar")
		}
		last := t.shape[t.rank()-1]
		if count > 1 && last != count {
			return nil, fmt.Errorf("%d imputed values for %d features", count, last)
		}
		o, err := newTensor(t.dt, t.shape)
		if err != nil {
			return nil, err
		}
		for k := range t.size() {
			j := 0
			if count > 1 {
				j = k % last
			}
			switch t.dt {
			case dtFloat:
				v := t.f[k]
				if v == rf || nanReplaced && v != v {
					v = fl[j]
				}
				o.f[k] = v
			case dtDouble:
				v := t.d[k]
				if v == float64(rf) || nanReplaced && v != v {
					v = float64(fl[j])
				}
				o.d[k] = v
			case dtInt64:
				v := t.i[k]
				if v == ri {
					v = is[j]
				}
				o.i[k] = v
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

// --- ZipMap --------------------------------------------------------------------------------

func buildZipMap(n *node) (kernel, []vinfo, error) {
	labels, ints, isStr, err := n.classLabels("classlabels_int64s", true)
	if err != nil {
		return nil, nil, err
	}
	if err := wantTypes(n, 0, func(d dtype) bool { return d == dtFloat }, "float"); err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	if in.shape != nil {
		if len(in.shape) != 2 {
			return nil, nil, n.errf("input has shape %s, want [N, classes]", staticString(in.shape))
		}
		if c := in.shape[1]; knownDim(c) && c != len(labels) {
			return nil, nil, n.errf("input has %d columns for %d class labels", c, len(labels))
		}
	}
	out := vinfo{dt: dtFloat, seq: true, shape: []int{outN(n)}, rows: rowsOut(n), classes: labels}
	var strs []string
	if isStr {
		strs = labels
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		if t.rank() != 2 || t.shape[1] != len(labels) {
			return nil, fmt.Errorf("input has shape %s, want [N, %d]", shapeString(t.shape), len(labels))
		}
		return []*tensor{{dt: dtFloat, shape: t.shape, f: t.f, seqMap: true, intKeys: ints, strKeys: strs}}, nil
	}), []vinfo{out}, nil
}

// --- LabelEncoder --------------------------------------------------------------------------

// leKey is a LabelEncoder key: numbers by value (NaN matches NaN when nanMatches), strings
// by content.
type leKey struct {
	f float64
	i int64
	s string
}

func buildLabelEncoder(n *node) (kernel, []vinfo, error) {
	in := n.in[0]
	if n.ver < 2 {
		return buildLabelEncoderV1(n)
	}
	type column struct {
		dt  dtype
		f   []float64
		i   []int64
		s   []string
		set bool
	}
	read := func(prefix string) (column, error) {
		var c column
		fs, err := n.attrFloats(prefix + "_floats")
		if err != nil {
			return c, err
		}
		is, err := n.attrInts(prefix + "_int64s")
		if err != nil {
			return c, err
		}
		ss, err := n.attrStrings(prefix + "_strings")
		if err != nil {
			return c, err
		}
		t, err := n.attrTensor(prefix + "_tensor")
		if err != nil {
			return c, err
		}
		set := 0
		if fs != nil {
			set++
			c.dt, c.f = dtFloat, make([]float64, len(fs))
			for k, v := range fs {
				c.f[k] = float64(v)
			}
		}
		if is != nil {
			set++
			c.dt, c.i = dtInt64, is
		}
		if ss != nil {
			set++
			c.dt, c.s = dtString, ss
		}
		if t != nil {
			set++
			c.dt = t.dt
			switch t.dt {
			case dtFloat, dtDouble:
				c.f = t.asFloat64()
			case dtInt64:
				c.i = t.i
			case dtString:
				c.s = t.s
			}
		}
		if set != 1 {
			return c, n.errf("exactly one of %s_floats, %s_int64s, %s_strings, %s_tensor must be set, %d are", prefix, prefix, prefix, prefix, set)
		}
		c.set = true
		return c, nil
	}
	keys, err := read("keys")
	if err != nil {
		return nil, nil, err
	}
	vals, err := read("values")
	if err != nil {
		return nil, nil, err
	}
	nk := max(len(keys.f), len(keys.i), len(keys.s))
	nv := max(len(vals.f), len(vals.i), len(vals.s))
	if nk != nv {
		return nil, nil, n.errf("%d keys but %d values", nk, nv)
	}
	if in.dt != keys.dt {
		return nil, nil, n.errf("input is %s but the keys are %s", in.dt, keys.dt)
	}
	// Defaults.
	def := leKey{f: math.Copysign(0, -1), i: -1, s: "_Unused"}
	if f, err := n.attrFloat("default_float", float32(math.Copysign(0, -1))); err != nil {
		return nil, nil, err
	} else {
		def.f = float64(f)
	}
	if i, err := n.attrInt("default_int64", -1); err != nil {
		return nil, nil, err
	} else {
		def.i = i
	}
	if s, err := n.attrString("default_string", "_Unused"); err != nil {
		return nil, nil, err
	} else {
		def.s = s
	}
	if t, err := n.attrTensor("default_tensor"); err != nil {
		return nil, nil, err
	} else if t != nil {
		if t.size() != 1 || t.dt != vals.dt {
			return nil, nil, n.errf("default_tensor must hold one %s value", vals.dt)
		}
		switch t.dt {
		case dtFloat, dtDouble:
			def.f = t.float64At(0)
		case dtInt64:
			def.i = t.i[0]
		case dtString:
			def.s = t.s[0]
		}
	}
	nanMatches := n.ver >= 4
	m := make(map[leKey]int, nk)
	nanIdx := -1
	for k := range nk {
		var key leKey
		switch keys.dt {
		case dtFloat, dtDouble:
			if keys.f[k] != keys.f[k] {
				if nanIdx < 0 {
					nanIdx = k
				}
				continue
			}
			key.f = keys.f[k] + 0 // -0 and +0 are one key
		case dtInt64:
			key.i = keys.i[k]
		case dtString:
			key.s = keys.s[k]
		}
		if _, dup := m[key]; !dup {
			m[key] = k // the first occurrence wins, as in onnxruntime
		}
	}
	if !nanMatches {
		nanIdx = -1
	}
	out := vinfo{dt: vals.dt, shape: cloneShape(in.shape), rows: n.rows()}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		o, err := newTensor(vals.dt, t.shape)
		if err != nil {
			return nil, err
		}
		for k := range t.size() {
			idx := -1
			var key leKey
			switch t.dt {
			case dtFloat:
				key.f = float64(t.f[k]) + 0
			case dtDouble:
				key.f = t.d[k] + 0
			case dtInt64:
				key.i = t.i[k]
			case dtString:
				key.s = t.s[k]
			}
			if t.dt.real() && key.f != key.f {
				idx = nanIdx
			} else if j, ok := m[key]; ok {
				idx = j
			}
			switch vals.dt {
			case dtFloat:
				if idx >= 0 {
					o.f[k] = float32(vals.f[idx])
				} else {
					o.f[k] = float32(def.f)
				}
			case dtDouble:
				if idx >= 0 {
					o.d[k] = vals.f[idx]
				} else {
					o.d[k] = def.f
				}
			case dtInt64:
				if idx >= 0 {
					o.i[k] = vals.i[idx]
				} else {
					o.i[k] = def.i
				}
			case dtString:
				if idx >= 0 {
					o.s[k] = vals.s[idx]
				} else {
					o.s[k] = def.s
				}
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

// buildLabelEncoderV1 is LabelEncoder-1: classes_strings maps strings to their index and
// int64 indices back to strings.
func buildLabelEncoderV1(n *node) (kernel, []vinfo, error) {
	classes, err := n.attrStrings("classes_strings")
	if err != nil {
		return nil, nil, err
	}
	defInt, err := n.attrInt("default_int64", -1)
	if err != nil {
		return nil, nil, err
	}
	defStr, err := n.attrString("default_string", "_Unused")
	if err != nil {
		return nil, nil, err
	}
	in := n.in[0]
	var outDt dtype
	switch in.dt {
	case dtString:
		outDt = dtInt64
	case dtInt64:
		outDt = dtString
	default:
		return nil, nil, n.errf("input is %s, want string or int64", in.dt)
	}
	idx := make(map[string]int64, len(classes))
	for k, c := range classes {
		idx[c] = int64(k) // the last occurrence wins, as in onnxruntime
	}
	out := vinfo{dt: outDt, shape: cloneShape(in.shape), rows: n.rows()}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		o, err := newTensor(outDt, t.shape)
		if err != nil {
			return nil, err
		}
		if t.dt == dtString {
			for k, s := range t.s {
				if v, ok := idx[s]; ok {
					o.i[k] = v
				} else {
					o.i[k] = defInt
				}
			}
		} else {
			for k, v := range t.i {
				if v >= 0 && v < int64(len(classes)) {
					o.s[k] = classes[v]
				} else {
					o.s[k] = defStr
				}
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

// --- OneHotEncoder, ArrayFeatureExtractor, FeatureVectorizer -------------------------------

func buildOneHotEncoder(n *node) (kernel, []vinfo, error) {
	ci, err := n.attrInts("cats_int64s")
	if err != nil {
		return nil, nil, err
	}
	cs, err := n.attrStrings("cats_strings")
	if err != nil {
		return nil, nil, err
	}
	zeros, err := n.attrInt("zeros", 1)
	if err != nil {
		return nil, nil, err
	}
	if (ci == nil) == (cs == nil) {
		return nil, nil, n.errf("exactly one of cats_int64s and cats_strings must be set")
	}
	in := n.in[0]
	if cs != nil && in.dt != dtString || ci != nil && in.dt == dtString {
		return nil, nil, n.errf("input is %s, which does not match the categories", in.dt)
	}
	if in.shape != nil && len(in.shape) > 2 {
		return nil, nil, n.errf("input has shape %s, want rank 1 or 2", staticString(in.shape))
	}
	nc := max(len(ci), len(cs))
	if nc == 0 {
		return nil, nil, n.errf("no categories")
	}
	intIdx := make(map[int64]int, len(ci))
	for k, c := range ci {
		intIdx[c] = k // the last occurrence wins, as in onnxruntime
	}
	strIdx := make(map[string]int, len(cs))
	for k, c := range cs {
		strIdx[c] = k
	}
	out := vinfo{dt: dtFloat, rows: n.rows()}
	if in.shape != nil {
		out.shape = append(cloneShape(in.shape), nc)
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t := ins[0]
		if t.rank() > 2 {
			return nil, fmt.Errorf("input has shape %s, want rank 1 or 2", shapeString(t.shape))
		}
		o, err := newTensor(dtFloat, append(slices.Clone(t.shape), nc))
		if err != nil {
			return nil, err
		}
		for k := range t.size() {
			j, ok := 0, false
			if t.dt == dtString {
				j, ok = strIdx[t.s[k]]
			} else {
				v := t.float64At(k)
				if t.dt == dtInt64 {
					j, ok = intIdx[t.i[k]]
				} else if v == v {
					j, ok = intIdx[float64ToInt64(v)]
				}
			}
			if ok {
				o.f[k*nc+j] = 1
			} else if zeros == 0 {
				return nil, fmt.Errorf("unknown category and zeros = 0")
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

func buildArrayFeatureExtractor(n *node) (kernel, []vinfo, error) {
	x, y := n.in[0], n.in[1]
	if y.dt != dtInt64 {
		return nil, nil, n.errf("indices are %s, want int64", y.dt)
	}
	out := vinfo{dt: x.dt, rows: n.rows()}
	if y.rows != rowsNone && out.rows != rowsNone {
		out.rows = rowsMixed
	}
	if x.shape != nil {
		if len(x.shape) == 0 {
			return nil, nil, n.errf("input is a scalar")
		}
		last := x.shape[len(x.shape)-1]
		if y.konst != nil {
			if len(y.konst.i) == 0 {
				return nil, nil, n.errf("no indices")
			}
			for _, v := range y.konst.i {
				if v < 0 || knownDim(last) && v >= int64(last) {
					return nil, nil, n.errf("index %d is out of range for %s", v, staticString(x.shape))
				}
			}
			if len(x.shape) == 1 {
				out.shape = []int{1, len(y.konst.i)}
				if out.rows == rowsAxis0 {
					out.rows = rowsMixed
				}
			} else {
				out.shape = append(cloneShape(x.shape[:len(x.shape)-1]), len(y.konst.i))
			}
		}
		if len(x.shape) == 1 && out.rows == rowsAxis0 {
			out.rows = rowsMixed
		}
	}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		t, idx := ins[0], ins[1].i
		if t.rank() == 0 {
			return nil, fmt.Errorf("input is a scalar")
		}
		if len(idx) == 0 {
			return nil, fmt.Errorf("no indices")
		}
		st := t.shape[t.rank()-1]
		for _, v := range idx {
			if v < 0 || v >= int64(st) {
				return nil, fmt.Errorf("index %d is out of range for %s", v, shapeString(t.shape))
			}
		}
		var shape []int
		if t.rank() == 1 {
			shape = []int{1, len(idx)}
		} else {
			shape = append(slices.Clone(t.shape[:t.rank()-1]), len(idx))
		}
		o, err := newTensor(t.dt, shape)
		if err != nil {
			return nil, err
		}
		outer := 1
		if st > 0 {
			outer = t.size() / st
		}
		for p := 0; p < outer; p++ {
			for j, v := range idx {
				copyElem(o, p*len(idx)+j, t, p*st+int(v))
			}
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}

func buildFeatureVectorizer(n *node) (kernel, []vinfo, error) {
	dims, err := n.attrInts("inputdimensions")
	if err != nil {
		return nil, nil, err
	}
	if len(dims) != len(n.in) {
		return nil, nil, n.errf("%d inputdimensions for %d inputs", len(dims), len(n.in))
	}
	total := 0
	for k, d := range dims {
		if d < 0 || d > MaxTensorElements {
			return nil, nil, n.errf("inputdimensions[%d] = %d", k, d)
		}
		total += int(d)
		if total > MaxTensorElements {
			return nil, nil, n.errf("output width over the limit")
		}
	}
	rows := n.rows()
	for k, v := range n.in {
		if v == nil {
			return nil, nil, n.errf("input %d is missing", k)
		}
		if !v.dt.numeric() {
			return nil, nil, n.errf("input %d is %s, want a number type", k, v.dt)
		}
		if v.dt != n.in[0].dt {
			return nil, nil, n.errf("input %d is %s, input 0 is %s; all must have the same type", k, v.dt, n.in[0].dt)
		}
		if v.rows != rowsNone && (v.shape == nil || len(v.shape) != 2 && len(v.shape) != 1) {
			rows = rowsMixed
		}
	}
	out := vinfo{dt: dtFloat, shape: []int{outN(n), total}, rows: rows}
	return kernelFunc(func(rc *runCtx, ins []*tensor) ([]*tensor, error) {
		nr := -1
		for k, t := range ins {
			var r int
			switch t.rank() {
			case 1:
				r = 1
			case 2:
				r = t.shape[0]
			default:
				return nil, fmt.Errorf("input %d has shape %s, want [N, F]", k, shapeString(t.shape))
			}
			if nr >= 0 && r != nr {
				return nil, fmt.Errorf("inputs have %d and %d rows", nr, r)
			}
			nr = r
		}
		o, err := newTensor(dtFloat, []int{nr, total})
		if err != nil {
			return nil, err
		}
		off := 0
		for k, t := range ins {
			w := t.size() / max(nr, 1)
			d := int(dims[k])
			for r := 0; r < nr; r++ {
				for j := 0; j < d && j < w; j++ {
					o.f[r*total+off+j] = float32(t.float64At(r*w + j))
				}
			}
			off += d
		}
		return []*tensor{o}, nil
	}), []vinfo{out}, nil
}
