package pmml

import (
	"math"
	"strconv"
)

type kernel struct {
	kind                 string // linear | poly | rbf | sigmoid
	gamma, coef0, degree float64
}

func (k kernel) eval(x, y []float64) float64 {
	if k.kind == "rbf" {
		s := 0.0
		for i := range x {
			d := x[i] - y[i]
			s += d * d
		}
		return math.Exp(-k.gamma * s)
	}
	dot := 0.0
	for i := range x {
		dot += x[i] * y[i]
	}
	switch k.kind {
	case "poly":
		return math.Pow(k.gamma*dot+k.coef0, k.degree)
	case "sigmoid":
		return math.Tanh(k.gamma*dot + k.coef0)
	}
	return dot
}

type machine struct {
	target, alternate string
	threshold         float64
	bias              float64
	vectors           [][]float64 // support vectors (SupportVectors representation)
	coefs             []float64
}

type svmModel struct {
	fields   []string // VectorFields
	kernel   kernel
	machines []machine
	ovo      bool
	maxWins  bool
	classify bool
	classes  []string
}

func (s *svmModel) decision(mc *machine, x []float64) float64 {
	v := mc.bias
	if mc.vectors == nil { // Coefficients representation: one coefficient per field
		for i, c := range mc.coefs {
			v += c * x[i]
		}
		return v
	}
	for i, sv := range mc.vectors {
		v += mc.coefs[i] * s.kernel.eval(x, sv)
	}
	return v
}

func (s *svmModel) eval(f *frame) (*result, error) {
	x := make([]float64, len(s.fields))
	for i, name := range s.fields {
		v, err := f.get(name)
		if err != nil {
			return nil, err
		}
		n, ok := v.number()
		if v.k == kMissing || !ok {
			return &result{missing: true}, nil
		}
		x[i] = n
	}
	if err := f.run.step(); err != nil {
		return nil, err
	}
	if !s.classify {
		if err := f.run.add(len(s.machines[0].vectors)); err != nil {
			return nil, err
		}
		return &result{value: s.decision(&s.machines[0], x)}, nil
	}
	if len(s.machines) == 1 && s.machines[0].alternate != "" || s.ovo {
		votes := map[string]float64{}
		for i := range s.machines {
			mc := &s.machines[i]
			if err := f.run.add(len(mc.vectors) + 1); err != nil {
				return nil, err
			}
			if s.decision(mc, x) < mc.threshold {
				votes[mc.target]++
			} else {
				votes[mc.alternate]++
			}
		}
		return &result{label: argmax(votes, s.classes)}, nil
	}
	best, bv := "", 0.0
	for i := range s.machines {
		mc := &s.machines[i]
		if err := f.run.add(len(mc.vectors) + 1); err != nil {
			return nil, err
		}
		v := s.decision(mc, x)
		if best == "" || (s.maxWins && v > bv) || (!s.maxWins && v < bv) {
			best, bv = mc.target, v
		}
	}
	return &result{label: best}, nil
}

func (c *compiler) svmModel(e *elem, m *modelDef, sc *scope) error {
	s := &svmModel{classify: m.classify(), maxWins: e.get("maxWins") == "true"}
	switch cm := e.get("classificationMethod"); cm {
	case "", "OneAgainstAll":
	case "OneAgainstOne":
		s.ovo = true
	default:
		return errf(e, "classificationMethod %q is not OneAgainstAll or OneAgainstOne", cm)
	}
	threshold, err := finiteAttr(e, "threshold", 0)
	if err != nil {
		return err
	}
	switch {
	case e.child("LinearKernelType") != nil:
		s.kernel.kind = "linear"
	case e.child("PolynomialKernelType") != nil:
		k := e.child("PolynomialKernelType")
		s.kernel.kind = "poly"
		if s.kernel.gamma, err = finiteAttr(k, "gamma", 1); err != nil {
			return err
		}
		if s.kernel.coef0, err = finiteAttr(k, "coef0", 1); err != nil {
			return err
		}
		if s.kernel.degree, err = finiteAttr(k, "degree", 1); err != nil {
			return err
		}
	case e.child("RadialBasisKernelType") != nil:
		s.kernel.kind = "rbf"
		if s.kernel.gamma, err = finiteAttr(e.child("RadialBasisKernelType"), "gamma", 1); err != nil {
			return err
		}
	case e.child("SigmoidKernelType") != nil:
		k := e.child("SigmoidKernelType")
		s.kernel.kind = "sigmoid"
		if s.kernel.gamma, err = finiteAttr(k, "gamma", 1); err != nil {
			return err
		}
		if s.kernel.coef0, err = finiteAttr(k, "coef0", 1); err != nil {
			return err
		}
	default:
		return errf(e, "no kernel (want LinearKernelType, PolynomialKernelType, RadialBasisKernelType or SigmoidKernelType)")
	}
	coefRep := e.get("svmRepresentation") == "Coefficients"
	vd := e.child("VectorDictionary")
	if vd == nil {
		return errf(e, "VectorDictionary is missing")
	}
	vf := vd.child("VectorFields")
	if vf == nil {
		return errf(vd, "VectorFields is missing")
	}
	for _, k := range vf.kids {
		if k.name != "FieldRef" {
			if k.name == "CategoricalPredictor" {
				return errf(k, "CategoricalPredictor vector fields are not supported; one-hot encode with derived fields")
			}
			continue
		}
		name, err := c.fieldAttr(k, sc)
		if err != nil {
			return err
		}
		s.fields = append(s.fields, name)
	}
	width := len(s.fields)
	if width == 0 {
		return errf(vf, "has no FieldRef")
	}
	vectors := map[string][]float64{}
	for _, vi := range vd.children("VectorInstance") {
		id := vi.get("id")
		vec, err := readVector(vi, width)
		if err != nil {
			return err
		}
		vectors[id] = vec
	}
	for _, me := range e.children("SupportVectorMachine") {
		mc := machine{target: me.get("targetCategory"), alternate: me.get("alternateTargetCategory")}
		if mc.threshold, err = finiteAttr(me, "threshold", threshold); err != nil {
			return err
		}
		ce := me.child("Coefficients")
		if ce == nil {
			return errf(me, "Coefficients is missing")
		}
		if mc.bias, err = finiteAttr(ce, "absoluteValue", 0); err != nil {
			return err
		}
		for _, k := range ce.children("Coefficient") {
			v, err := finiteAttr(k, "value", 0)
			if err != nil {
				return err
			}
			mc.coefs = append(mc.coefs, v)
		}
		if coefRep {
			if len(mc.coefs) != width {
				return errf(ce, "has %d coefficients for %d vector fields", len(mc.coefs), width)
			}
		} else {
			sv := me.child("SupportVectors")
			if sv == nil {
				return errf(me, "SupportVectors is missing")
			}
			mc.vectors = [][]float64{}
			for _, k := range sv.children("SupportVector") {
				v, ok := vectors[k.get("vectorId")]
				if !ok {
					return errf(k, "vectorId %q is not a VectorInstance", k.get("vectorId"))
				}
				mc.vectors = append(mc.vectors, v)
			}
			if len(mc.vectors) != len(mc.coefs) {
				return errf(me, "has %d support vectors and %d coefficients", len(mc.vectors), len(mc.coefs))
			}
		}
		if s.classify {
			if mc.target == "" {
				return errf(me, "targetCategory is missing")
			}
			if len(m.classes) == 0 {
				addClass(&s.classes, mc.target)
				if mc.alternate != "" {
					addClass(&s.classes, mc.alternate)
				}
			}
			if s.ovo && mc.alternate == "" {
				return errf(me, "OneAgainstOne needs alternateTargetCategory")
			}
		}
		s.machines = append(s.machines, mc)
	}
	if len(s.machines) == 0 {
		return errf(e, "has no SupportVectorMachine")
	}
	if !s.classify && len(s.machines) != 1 {
		return errf(e, "a regression has one SupportVectorMachine, this one has %d", len(s.machines))
	}
	if len(m.classes) > 0 {
		s.classes = m.classes
	}
	m.classes = s.classes
	m.eval = s.eval
	return nil
}

// readVector reads a VectorInstance's REAL-SparseArray or (REAL-)Array of width values.
func readVector(vi *elem, width int) ([]float64, error) {
	out := make([]float64, width)
	if sa := vi.child("REAL-SparseArray"); sa != nil {
		idx, vals := sa.child("Indices"), sa.child("REAL-Entries")
		var is, vs []string
		var err error
		if idx != nil {
			if is, err = parseArray(idx.text); err != nil {
				return nil, errf(idx, "%s", err.Error())
			}
		}
		if vals != nil {
			if vs, err = parseArray(vals.text); err != nil {
				return nil, errf(vals, "%s", err.Error())
			}
		}
		if len(is) != len(vs) {
			return nil, errf(sa, "has %d indices and %d entries", len(is), len(vs))
		}
		for k := range is {
			i, err := strconv.Atoi(is[k])
			if err != nil || i < 1 || i > width {
				return nil, errf(sa, "index %q is not in 1..%d", is[k], width)
			}
			v, err := strconv.ParseFloat(vs[k], 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errf(sa, "entry %q is not a finite number", vs[k])
			}
			out[i-1] = v
		}
		return out, nil
	}
	ae := vi.child("REAL-Array")
	if ae == nil {
		ae = vi.child("Array")
	}
	if ae == nil {
		return nil, errf(vi, "needs a REAL-SparseArray or an Array")
	}
	toks, err := parseArray(ae.text)
	if err != nil {
		return nil, errf(ae, "%s", err.Error())
	}
	if len(toks) != width {
		return nil, errf(ae, "has %d values for %d vector fields", len(toks), width)
	}
	for i, t := range toks {
		v, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errf(ae, "value %q is not a finite number", t)
		}
		out[i] = v
	}
	return out, nil
}
