package onnx

import (
	"fmt"
	"math"
)

type svmKernel uint8

const (
	kLinear svmKernel = iota
	kPoly
	kRBF
	kSigmoid
)

// svmCommon holds the kernel of SVMClassifier and SVMRegressor.
type svmCommon struct {
	kernel               svmKernel
	gamma, coef0, degree float32
}

func readSVMKernel(n *node) (svmCommon, error) {
	var c svmCommon
	name, err := n.attrString("kernel_type", "LINEAR")
	if err != nil {
		return c, err
	}
	k, ok := map[string]svmKernel{"LINEAR": kLinear, "POLY": kPoly, "RBF": kRBF, "SIGMOID": kSigmoid}[name]
	if !ok {
		return c, n.errf("kernel_type %q is not one of LINEAR, POLY, RBF, SIGMOID", name)
	}
	c.kernel = k
	params, err := n.attrFloats("kernel_params")
	if err != nil {
		return c, err
	}
	if len(params) > 0 {
		if len(params) != 3 {
			return c, n.errf("kernel_params has %d values, want 3 (gamma, coef0, degree)", len(params))
		}
		c.gamma, c.coef0, c.degree = params[0], params[1], params[2]
	}
	return c, nil
}

// dots computes the kernel between row x and each of the n rows of v (len n*len(x)), as
// onnxruntime's batched_kernel_dot does in float32; c is added for the linear kernel.
func (s *svmCommon) dots(x, v []float32, n int, c float32, out []float32) {
	f := len(x)
	for j := range n {
		sv := v[j*f : (j+1)*f]
		switch s.kernel {
		case kRBF:
			var sum float32
			for k, xv := range x {
				d := xv - sv[k]
				sum += d * d
			}
			out[j] = exp32(-s.gamma * sum)
		case kLinear:
			out[j] = fma32(1, dotFMA32(x, sv), c)
		default:
			y := fma32(s.gamma, dotFMA32(x, sv), s.coef0)
			if s.kernel == kPoly {
				switch s.degree {
				case 2:
					y = y * y
				case 3:
					y = y * y * y
				default:
					y = float32(math.Pow(float64(y), float64(s.degree)))
				}
			} else {
				y = tanhMLAS(y)
			}
			out[j] = y
		}
	}
}

// tanhMLAS is the rational approximation of tanh that onnxruntime's MLAS uses (Eigen's
// coefficients, clamped to [-9, 9], FMA steps); within a few float32 ulps of tanh.
func tanhMLAS(x float32) float32 {
	if x != x {
		return x
	}
	v := min(max(x, -9), 9)
	v2 := v * v
	p := fma32(v2, -2.76076847742355e-16, 2.00018790482477e-13)
	p = fma32(p, v2, -8.60467152213735e-11)
	p = fma32(p, v2, 5.12229709037114e-08)
	p = fma32(p, v2, 1.48572235717979e-05)
	p = fma32(p, v2, 6.37261928875436e-04)
	p = fma32(p, v2, 4.89352455891786e-03)
	p *= v
	q := fma32(v2, 1.19825839466702e-06, 1.18534705686654e-04)
	q = fma32(q, v2, 2.26843463243900e-03)
	q = fma32(q, v2, 4.89352518554385e-03)
	return p / q
}

type svmClassifier struct {
	svmCommon
	svc         bool // support vectors (libsvm) rather than one weight row per class (liblinear)
	nClasses    int
	perClass    []int
	start       []int
	nVectors    int
	nFeat       int
	rho         []float32
	probA       []float32
	probB       []float32
	coef        []float32
	sv          []float32
	post        postTransform
	allPositive bool
	lab         *labeler
}

func buildSVMClassifier(n *node) (kernel, []vinfo, error) {
	kc, err := readSVMKernel(n)
	if err != nil {
		return nil, nil, err
	}
	s := &svmClassifier{svmCommon: kc}
	perClass, err := n.attrInts("vectors_per_class")
	if err != nil {
		return nil, nil, err
	}
	if s.probA, err = n.attrFloats("prob_a"); err != nil {
		return nil, nil, err
	}
	if s.probB, err = n.attrFloats("prob_b"); err != nil {
		return nil, nil, err
	}
	if s.sv, err = n.attrFloats("support_vectors"); err != nil {
		return nil, nil, err
	}
	if s.rho, err = n.attrFloats("rho"); err != nil {
		return nil, nil, err
	}
	if s.coef, err = n.attrFloats("coefficients"); err != nil {
		return nil, nil, err
	}
	if s.post, err = n.postTransform(); err != nil {
		return nil, nil, err
	}
	labels, ints, isStr, err := n.classLabels("classlabels_ints", true)
	if err != nil {
		return nil, nil, err
	}
	s.lab = &labeler{isString: isStr, strs: labels, ints: ints}
	s.nClasses = len(labels)
	if len(s.probA) != len(s.probB) {
		return nil, nil, n.errf("prob_a has %d values, prob_b %d", len(s.probA), len(s.probB))
	}
	if len(s.coef) == 0 || len(s.rho) == 0 {
		return nil, nil, n.errf("coefficients and rho are required")
	}
	for _, arr := range [][]float32{s.coef, s.rho, s.sv, s.probA, s.probB} {
		if k := finite32(arr); k >= 0 {
			return nil, nil, n.errf("a parameter is not finite")
		}
	}
	for _, v := range perClass {
		if v < 0 || v > MaxTreeNodes {
			return nil, nil, n.errf("vectors_per_class has %d", v)
		}
		s.start = append(s.start, s.nVectors)
		s.perClass = append(s.perClass, int(v))
		s.nVectors += int(v)
	}
	pairs := s.nClasses * (s.nClasses - 1) / 2
	if s.nVectors > 0 {
		s.svc = true
		if len(s.sv)%s.nVectors != 0 || len(s.sv) == 0 {
			return nil, nil, n.errf("%d support vector values do not split into %d vectors", len(s.sv), s.nVectors)
		}
		s.nFeat = len(s.sv) / s.nVectors
		if len(perClass) != s.nClasses {
			return nil, nil, n.errf("vectors_per_class has %d entries for %d classes", len(perClass), s.nClasses)
		}
		if s.nClasses < 2 {
			return nil, nil, n.errf("%d classes; a classifier needs at least 2", s.nClasses)
		}
		if len(s.coef) < (s.nClasses-1)*s.nVectors {
			return nil, nil, n.errf("%d coefficients, want %d (classes-1 × vectors)", len(s.coef), (s.nClasses-1)*s.nVectors)
		}
		if len(s.rho) < pairs {
			return nil, nil, n.errf("%d rho values for %d class pairs", len(s.rho), pairs)
		}
		if len(s.probA) > 0 && len(s.probA) < pairs {
			return nil, nil, n.errf("%d prob_a values for %d class pairs", len(s.probA), pairs)
		}
	} else {
		s.kernel = kLinear
		if s.nClasses < 1 || len(s.coef)%s.nClasses != 0 {
			return nil, nil, n.errf("%d coefficients do not split into %d classes", len(s.coef), s.nClasses)
		}
		s.nFeat = len(s.coef) / s.nClasses
	}
	s.allPositive = true
	for _, c := range s.coef {
		if c < 0 {
			s.allPositive = false
		}
	}
	if _, err := mlInput(n, s.nFeat, isNumeric, "float, double or int64"); err != nil {
		return nil, nil, err
	}
	rows := rowsOut(n)
	outs := []vinfo{
		{dt: s.lab.tensor(0).dt, shape: []int{outN(n)}, rows: rows, classes: labels},
		{dt: dtFloat, shape: []int{outN(n), s.width()}, rows: rows, classes: labels},
	}
	if s.width() != s.nClasses && !(s.nClasses == 2 && s.width() == 2) {
		outs[1].classes, outs[1].pairwise = nil, true // one score per pair of classes
	}
	return s, outs, nil
}

// width is the number of scores per row.
func (s *svmClassifier) width() int {
	if s.svc && len(s.probA) == 0 {
		if s.nClasses > 2 {
			return s.nClasses * (s.nClasses - 1) / 2
		}
		return 2
	}
	return s.nClasses
}

func (s *svmClassifier) run(rc *runCtx, in []*tensor) ([]*tensor, error) {
	nr, nf, err := batchOf(in[0])
	if err != nil {
		return nil, err
	}
	if nf != s.nFeat {
		return nil, fmt.Errorf("input has %d features, the model has %d", nf, s.nFeat)
	}
	vecs := s.nVectors
	if !s.svc {
		vecs = s.nClasses
	}
	if err := rc.work(nr, vecs, nf); err != nil {
		return nil, err
	}
	x := in[0].asFloat32()
	w := s.width()
	y := s.lab.tensor(nr)
	z := &tensor{dt: dtFloat, shape: []int{nr, w}, f: make([]float32, nr*w)}
	pairs := s.nClasses * (s.nClasses - 1) / 2
	kern := make([]float32, vecs)
	scores := make([]float32, max(pairs, s.nClasses))
	votes := make([]int, s.nClasses)
	for r := 0; r < nr; r++ {
		xr := x[r*nf : (r+1)*nf]
		zr := z.f[r*w : (r+1)*w]
		if !s.svc {
			s.dots(xr, s.coef, s.nClasses, s.rho[0], zr)
			best := 0
			for k := range zr {
				if zr[k] > zr[best] {
					best = k
				}
			}
			s.choose(y, r, zr[best], best, pairs)
			if s.nClasses > 1 || s.post == ptProbit {
				s.post.applyN(zr)
			}
			continue
		}
		s.dots(xr, s.sv, s.nVectors, 0, kern)
		clear(votes)
		idx := 0
		for i := 0; i < s.nClasses-1; i++ {
			for j := i + 1; j < s.nClasses; j++ {
				var sum float64
				ci := s.coef[(j-1)*s.nVectors+s.start[i]:]
				for m := range s.perClass[i] {
					sum += float64(ci[m] * kern[s.start[i]+m])
				}
				cj := s.coef[i*s.nVectors+s.start[j]:]
				for m := range s.perClass[j] {
					sum += float64(cj[m] * kern[s.start[j]+m])
				}
				sum += float64(s.rho[idx])
				scores[idx] = float32(sum)
				idx++
				if sum > 0 {
					votes[i]++
				} else {
					votes[j]++
				}
			}
		}
		best := 0
		for k, v := range votes {
			if v > votes[best] {
				best = k
			}
		}
		if len(s.probA) > 0 {
			s.probabilities(scores[:pairs], zr)
			s.choose(y, r, 0, best, pairs)
			s.post.applyN(zr)
			continue
		}
		s.choose(y, r, 0, best, pairs)
		if s.nClasses > 2 {
			copy(zr, scores[:pairs])
			s.post.applyN(zr)
			continue
		}
		// Two classes, no probabilities: one score, expanded to two.
		v := scores[0]
		switch {
		case s.post == ptProbit:
			zr[0], zr[1] = probit32(v), 0
		case s.post == ptNone:
			zr[0], zr[1] = -v, v
		default:
			zr[0], zr[1] = 1-v, v
		}
	}
	return []*tensor{y, z}, nil
}

// applyN applies the transform to a row of scores of any length, as
// batched_update_scores_inplace does for rows of more than one score.
func (p postTransform) applyN(v []float32) {
	if len(v) == 1 {
		if p == ptProbit {
			v[0] = probit32(v[0])
		}
		return
	}
	p.applyBatched(v)
}

// choose writes the label of row r, as onnxruntime's ChooseClass.
func (s *svmClassifier) choose(y *tensor, r int, maxWeight float32, best, pairs int) {
	if pairs != 1 { // multiclass
		s.lab.set(y, r, best, 0)
		return
	}
	if s.nClasses == 2 {
		switch {
		case len(s.probA) == 0 && s.allPositive && maxWeight >= 0.5:
			s.lab.set(y, r, 1, 0)
		case len(s.probA) == 0 && maxWeight > 0 && !s.allPositive:
			s.lab.set(y, r, 1, 0)
		default:
			s.lab.set(y, r, best, 0)
		}
		return
	}
	if maxWeight > 0 {
		s.lab.set(y, r, -1, 1)
	} else {
		s.lab.set(y, r, -1, 0)
	}
}

// probabilities turns pairwise decision values into class probabilities: Platt scaling per
// pair, then libsvm's pairwise coupling (multiclass_probability), in float32.
func (s *svmClassifier) probabilities(scores []float32, p []float32) {
	k := s.nClasses
	r := make([]float32, k*k)
	idx := 0
	for i := 0; i < k-1; i++ {
		for j := i + 1; j < k; j++ {
			v := 1 - logistic32(scores[idx]*s.probA[idx]+s.probB[idx])
			v = min(max(v, 1e-7), 1-1e-7)
			r[i*k+j] = v
			r[j*k+i] = 1 - v
			idx++
		}
	}
	multiclassProbability(k, r, p)
}

func multiclassProbability(k int, r, p []float32) {
	q := make([]float32, k*k)
	qp := make([]float32, k)
	eps := 0.005 / float32(k)
	for i := range k {
		p[i] = 1 / float32(k)
		for j := 0; j < i; j++ {
			q[i*k+i] += r[j*k+i] * r[j*k+i]
			q[i*k+j] = q[j*k+i]
		}
		for j := i + 1; j < k; j++ {
			q[i*k+i] += r[j*k+i] * r[j*k+i]
			q[i*k+j] = -r[j*k+i] * r[i*k+j]
		}
	}
	for range 100 {
		var pqp float32
		for i := range k {
			qp[i] = 0
			for j := range k {
				qp[i] += q[i*k+j] * p[j]
			}
			pqp += p[i] * qp[i]
		}
		var maxErr float32
		for i := range k {
			if e := float32(math.Abs(float64(qp[i] - pqp))); e > maxErr {
				maxErr = e
			}
		}
		if maxErr < eps {
			break
		}
		for i := range k {
			diff := (-qp[i] + pqp) / q[i*k+i]
			p[i] += diff
			pqp = (pqp + diff*(diff*q[i*k+i]+2*qp[i])) / (1 + diff) / (1 + diff)
			for j := range k {
				qp[j] = (qp[j] + diff*q[i*k+j]) / (1 + diff)
				p[j] /= 1 + diff
			}
		}
	}
}

type svmRegressor struct {
	svmCommon
	svc      bool
	nVectors int
	nFeat    int
	rho      []float32
	coef     []float32
	sv       []float32
	oneClass bool
}

func buildSVMRegressor(n *node) (kernel, []vinfo, error) {
	kc, err := readSVMKernel(n)
	if err != nil {
		return nil, nil, err
	}
	s := &svmRegressor{svmCommon: kc}
	nv, err := n.attrInt("n_supports", 0)
	if err != nil {
		return nil, nil, err
	}
	if !n.has("n_supports") {
		return nil, nil, n.errf("attribute \"n_supports\" is required")
	}
	if s.sv, err = n.attrFloats("support_vectors"); err != nil {
		return nil, nil, err
	}
	if s.rho, err = n.attrFloats("rho"); err != nil {
		return nil, nil, err
	}
	if s.coef, err = n.attrFloats("coefficients"); err != nil {
		return nil, nil, err
	}
	oc, err := n.attrInt("one_class", 0)
	if err != nil {
		return nil, nil, err
	}
	s.oneClass = oc != 0
	if len(s.coef) == 0 || len(s.rho) == 0 {
		return nil, nil, n.errf("coefficients and rho are required")
	}
	for _, arr := range [][]float32{s.coef, s.rho, s.sv} {
		if k := finite32(arr); k >= 0 {
			return nil, nil, n.errf("a parameter is not finite")
		}
	}
	if nv < 0 || nv > MaxTreeNodes {
		return nil, nil, n.errf("n_supports is %d", nv)
	}
	if nv > 0 {
		s.svc = true
		s.nVectors = int(nv)
		if len(s.sv) == 0 || len(s.sv)%s.nVectors != 0 {
			return nil, nil, n.errf("%d support vector values do not split into %d vectors", len(s.sv), nv)
		}
		s.nFeat = len(s.sv) / s.nVectors
		if len(s.coef) < s.nVectors {
			return nil, nil, n.errf("%d coefficients for %d support vectors", len(s.coef), nv)
		}
	} else {
		s.kernel = kLinear
		s.nFeat = len(s.coef)
	}
	if err := wantTypes(n, 0, func(d dtype) bool { return d == dtFloat }, "float"); err != nil {
		return nil, nil, err
	}
	if _, err := mlInput(n, s.nFeat, isReal, "float"); err != nil {
		return nil, nil, err
	}
	return s, []vinfo{{dt: dtFloat, shape: []int{outN(n), 1}, rows: rowsOut(n), regressor: true}}, nil
}

func (s *svmRegressor) run(rc *runCtx, in []*tensor) ([]*tensor, error) {
	nr, nf, err := batchOf(in[0])
	if err != nil {
		return nil, err
	}
	if nf != s.nFeat {
		return nil, fmt.Errorf("input has %d features, the model has %d", nf, s.nFeat)
	}
	if err := rc.work(nr, max(s.nVectors, 1), nf); err != nil {
		return nil, err
	}
	x := in[0].f
	z := &tensor{dt: dtFloat, shape: []int{nr, 1}, f: make([]float32, nr)}
	kern := make([]float32, s.nVectors)
	for r := 0; r < nr; r++ {
		xr := x[r*nf : (r+1)*nf]
		var v float32
		if s.svc {
			s.dots(xr, s.sv, s.nVectors, 0, kern)
			one := [1]float32{s.rho[0]}
			gemmRow(kern, s.coef[:s.nVectors], one[:], 1, true)
			v = one[0]
		} else {
			var one [1]float32
			s.dots(xr, s.coef, 1, s.rho[0], one[:])
			v = one[0]
		}
		if s.oneClass {
			if v > 0 {
				v = 1
			} else {
				v = -1
			}
		}
		z.f[r] = v
	}
	return []*tensor{z}, nil
}
