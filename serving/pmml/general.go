package pmml

import (
	"math"
	"strconv"
)

type ppCell struct {
	predictor string
	factor    bool
	val       value   // factor level
	exponent  float64 // covariate exponent
}

type pCell struct {
	param    int
	category string
	beta     float64
}

type generalRegression struct {
	modelType   string
	params      [][]ppCell // per parameter: its cells (none: x = 1)
	cells       []pCell
	classify    bool
	classes     []string
	reference   string
	link        string
	linkParam   float64
	distParam   float64
	cumLink     string
	offsetVar   string
	offsetValue float64
	trialsVar   string
	trialsValue float64
}

// x returns the parameter values for the current inputs; ok is false when an input is missing.
func (g *generalRegression) x(f *frame) ([]float64, bool, error) {
	out := make([]float64, len(g.params))
	for i, cells := range g.params {
		x := 1.0
		for _, c := range cells {
			v, err := f.get(c.predictor)
			if err != nil {
				return nil, false, err
			}
			if v.k == kMissing {
				return nil, false, nil
			}
			if c.factor {
				if !equalValues(v, c.val) {
					x = 0
				}
				continue
			}
			n, ok := v.number()
			if !ok {
				return nil, false, nil
			}
			x *= math.Pow(n, c.exponent)
		}
		out[i] = x
	}
	return out, true, nil
}

func (g *generalRegression) linear(x []float64, category string) float64 {
	s := 0.0
	for _, c := range g.cells {
		if c.category == category {
			s += c.beta * x[c.param]
		}
	}
	return s
}

func (g *generalRegression) inverseLink(eta float64) float64 {
	d := g.linkParam
	switch g.link {
	case "identity":
		return eta
	case "log":
		return math.Exp(eta)
	case "logit":
		return logistic(eta)
	case "probit":
		return probit(eta)
	case "cloglog":
		return cloglog(eta)
	case "loglog":
		return loglog(eta)
	case "cauchit":
		return cauchit(eta)
	case "power":
		if d == 0 {
			return math.Exp(eta)
		}
		return math.Pow(eta, 1/d)
	case "oddspower":
		if d == 0 {
			return logistic(eta)
		}
		t := math.Pow(1+d*eta, 1/d)
		return t / (1 + t)
	case "negbin":
		return 1 / (g.distParam * (math.Exp(-eta) - 1))
	}
	return math.NaN()
}

func (g *generalRegression) eval(f *frame) (*result, error) {
	if err := f.run.step(); err != nil {
		return nil, err
	}
	x, ok, err := g.x(f)
	if err != nil || !ok {
		return &result{missing: true}, err
	}
	switch g.modelType {
	case "regression", "generalLinear", "generalizedLinear":
		eta := g.linear(x, "")
		if g.modelType != "generalizedLinear" {
			return &result{value: eta}, nil
		}
		off := g.offsetValue
		if g.offsetVar != "" {
			v, err := f.get(g.offsetVar)
			if err != nil {
				return nil, err
			}
			n, ok := v.number()
			if !ok {
				return &result{missing: true}, nil
			}
			off = n
		}
		mu := g.inverseLink(eta + off)
		trials := g.trialsValue
		if g.trialsVar != "" {
			v, err := f.get(g.trialsVar)
			if err != nil {
				return nil, err
			}
			n, ok := v.number()
			if !ok {
				return &result{missing: true}, nil
			}
			trials = n
		}
		if trials != 0 {
			mu *= trials
		}
		return &result{value: mu}, nil
	case "multinomialLogistic":
		r := &result{probs: make(map[string]float64, len(g.classes))}
		y := make([]float64, len(g.classes))
		for i, c := range g.classes {
			if c != g.reference {
				y[i] = g.linear(x, c)
			}
		}
		p := softmax(y)
		for i, c := range g.classes {
			r.probs[c] = p[i]
		}
		r.label = argmax(r.probs, g.classes)
		return r, nil
	}
	// ordinalMultinomial: P(Y <= c_j) = F(theta_j + x·beta), the last category takes the rest.
	link := binaryLinks[g.cumLink]
	shared := g.linear(x, "")
	r := &result{probs: make(map[string]float64, len(g.classes))}
	prev := 0.0
	for j, c := range g.classes {
		if j == len(g.classes)-1 {
			r.probs[c] = 1 - prev
			break
		}
		cum := link(g.linear(x, c) + shared)
		r.probs[c] = cum - prev
		prev = cum
	}
	r.label = argmax(r.probs, g.classes)
	return r, nil
}

func (c *compiler) generalRegression(e *elem, m *modelDef, sc *scope) error {
	g := &generalRegression{modelType: e.get("modelType"), classify: m.classify()}
	switch g.modelType {
	case "regression", "generalLinear", "generalizedLinear":
		if g.classify {
			return errf(e, "modelType %s with functionName classification is not supported", g.modelType)
		}
	case "multinomialLogistic", "ordinalMultinomial":
		if !g.classify {
			return errf(e, "modelType %s needs functionName classification", g.modelType)
		}
	case "CoxRegression":
		return errf(e, "modelType CoxRegression is not supported")
	default:
		return errf(e, "modelType %q is not supported", g.modelType)
	}
	paramIdx := map[string]int{}
	pl := e.child("ParameterList")
	if pl == nil {
		return errf(e, "ParameterList is missing")
	}
	for _, pe := range pl.children("Parameter") {
		name := pe.get("name")
		if _, dup := paramIdx[name]; dup || name == "" {
			return errf(pe, "parameter name %q is empty or repeated", name)
		}
		paramIdx[name] = len(g.params)
		g.params = append(g.params, nil)
	}
	factors, covariates := map[string]bool{}, map[string]bool{}
	for list, set := range map[string]map[string]bool{"FactorList": factors, "CovariateList": covariates} {
		if le := e.child(list); le != nil {
			for _, pe := range le.children("Predictor") {
				name, err := c.nameAttr(pe, sc)
				if err != nil {
					return err
				}
				set[name] = true
			}
		}
	}
	if pp := e.child("PPMatrix"); pp != nil {
		for _, ce := range pp.children("PPCell") {
			pi, ok := paramIdx[ce.get("parameterName")]
			if !ok {
				return errf(ce, "parameterName %q is not in the ParameterList", ce.get("parameterName"))
			}
			pred := ce.get("predictorName")
			cell := ppCell{predictor: pred}
			switch {
			case factors[pred]:
				cell.factor = true
				v, ok := parseLiteral(ce.get("value"), sc.typeOf(pred))
				if !ok {
					return errf(ce, "value %q does not fit factor %q", ce.get("value"), pred)
				}
				cell.val = v
			case covariates[pred]:
				x, err := strconv.ParseFloat(ce.get("value"), 64)
				if err != nil {
					return errf(ce, "covariate %q: value %q is not an exponent", pred, ce.get("value"))
				}
				cell.exponent = x
			default:
				return errf(ce, "predictorName %q is neither in the FactorList nor in the CovariateList", pred)
			}
			g.params[pi] = append(g.params[pi], cell)
		}
	}
	pm := e.child("ParamMatrix")
	if pm == nil {
		return errf(e, "ParamMatrix is missing")
	}
	catsWithCells := map[string]bool{}
	for _, ce := range pm.children("PCell") {
		pi, ok := paramIdx[ce.get("parameterName")]
		if !ok {
			return errf(ce, "parameterName %q is not in the ParameterList", ce.get("parameterName"))
		}
		beta, err := finiteAttr(ce, "beta", math.NaN())
		if err != nil {
			return err
		}
		cat := ce.get("targetCategory")
		if g.modelType == "multinomialLogistic" && cat == "" {
			return errf(ce, "a multinomialLogistic PCell needs a targetCategory")
		}
		catsWithCells[cat] = true
		g.cells = append(g.cells, pCell{param: pi, category: cat, beta: beta})
		if g.classify && cat != "" && len(m.classes) == 0 {
			addClass(&g.classes, cat)
		}
	}
	if g.classify {
		if len(m.classes) > 0 {
			g.classes = m.classes
		}
		g.reference = e.get("targetReferenceCategory")
		if g.modelType == "multinomialLogistic" && g.reference == "" {
			for _, cl := range g.classes {
				if !catsWithCells[cl] {
					g.reference = cl
				}
			}
		}
		if g.reference != "" {
			addClass(&g.classes, g.reference)
		}
		if len(g.classes) < 2 {
			return errf(e, "needs the target's categories in the DataDictionary (found %d)", len(g.classes))
		}
		m.classes = g.classes
	}
	var err error
	if g.modelType == "generalizedLinear" {
		g.link = e.get("linkFunction")
		switch g.link {
		case "identity", "log", "logit", "probit", "cloglog", "loglog", "cauchit", "power", "oddspower", "negbin":
		default:
			return errf(e, "linkFunction %q is not supported", g.link)
		}
		if g.linkParam, err = finiteAttr(e, "linkParameter", 1); err != nil {
			return err
		}
		if g.distParam, err = finiteAttr(e, "distParameter", 1); err != nil {
			return err
		}
		if g.offsetValue, err = finiteAttr(e, "offsetValue", 0); err != nil {
			return err
		}
		if g.trialsValue, err = finiteAttr(e, "trialsValue", 0); err != nil {
			return err
		}
		g.offsetVar, g.trialsVar = e.get("offsetVariable"), e.get("trialsVariable")
		for _, v := range []string{g.offsetVar, g.trialsVar} {
			if v != "" && !sc.has(v) {
				return errf(e, "field %q is not defined", v)
			}
		}
	}
	if g.modelType == "ordinalMultinomial" {
		g.cumLink = e.get("cumulativeLink")
		if binaryLinks[g.cumLink] == nil {
			return errf(e, "cumulativeLink %q is not logit, probit, cloglog, loglog or cauchit", g.cumLink)
		}
	}
	m.eval = g.eval
	return nil
}
