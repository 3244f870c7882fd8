package pmml

import (
	"fmt"
	"math"
)

type numericPredictor struct {
	field    string
	exponent float64
	coef     float64
}

type categoricalPredictor struct {
	field string
	val   value
	coef  float64
}

type predictorTerm struct {
	fields []string
	coef   float64
}

type regressionTable struct {
	category  string
	intercept float64
	numeric   []numericPredictor
	cat       []categoricalPredictor
	terms     []predictorTerm
}

// eval returns the table's linear value; ok is false when a numeric input is missing.
func (t *regressionTable) eval(f *frame) (float64, bool, error) {
	if err := f.run.step(); err != nil {
		return 0, false, err
	}
	s := t.intercept
	for _, p := range t.numeric {
		v, err := f.get(p.field)
		if err != nil {
			return 0, false, err
		}
		if v.k == kMissing {
			return 0, false, nil
		}
		x, ok := v.number()
		if !ok {
			return 0, false, fmt.Errorf("NumericPredictor %q: %q is not a number", p.field, v.String())
		}
		if p.exponent != 1 {
			x = math.Pow(x, p.exponent)
		}
		s += p.coef * x
	}
	for _, p := range t.cat {
		v, err := f.get(p.field)
		if err != nil {
			return 0, false, err
		}
		if v.k != kMissing && equalValues(v, p.val) { // a missing categorical input contributes nothing
			s += p.coef
		}
	}
	for _, p := range t.terms {
		prod := p.coef
		for _, name := range p.fields {
			v, err := f.get(name)
			if err != nil {
				return 0, false, err
			}
			if v.k == kMissing {
				return 0, false, nil
			}
			x, ok := v.number()
			if !ok {
				return 0, false, fmt.Errorf("PredictorTerm field %q: %q is not a number", name, v.String())
			}
			prod *= x
		}
		s += prod
	}
	return s, true, nil
}

func (c *compiler) regressionTable(e *elem, sc *scope) (*regressionTable, error) {
	t := &regressionTable{category: e.get("targetCategory")}
	var err error
	if t.intercept, err = finiteAttr(e, "intercept", 0); err != nil {
		return nil, err
	}
	for _, k := range e.kids {
		switch k.name {
		case "NumericPredictor":
			name, err := c.nameAttr(k, sc)
			if err != nil {
				return nil, err
			}
			p := numericPredictor{field: name}
			if p.coef, err = finiteAttr(k, "coefficient", math.NaN()); err != nil {
				return nil, err
			}
			if p.exponent, err = finiteAttr(k, "exponent", 1); err != nil {
				return nil, err
			}
			t.numeric = append(t.numeric, p)
		case "CategoricalPredictor":
			name, err := c.nameAttr(k, sc)
			if err != nil {
				return nil, err
			}
			p := categoricalPredictor{field: name}
			if p.coef, err = finiteAttr(k, "coefficient", math.NaN()); err != nil {
				return nil, err
			}
			v, ok := parseLiteral(k.get("value"), sc.typeOf(name))
			if !ok {
				return nil, errf(k, "value %q does not fit field %q", k.get("value"), name)
			}
			p.val = v
			t.cat = append(t.cat, p)
		case "PredictorTerm":
			p := predictorTerm{}
			if p.coef, err = finiteAttr(k, "coefficient", math.NaN()); err != nil {
				return nil, err
			}
			for _, fr := range k.children("FieldRef") {
				name, err := c.fieldAttr(fr, sc)
				if err != nil {
					return nil, err
				}
				p.fields = append(p.fields, name)
			}
			if len(p.fields) == 0 {
				return nil, errf(k, "has no FieldRef")
			}
			t.terms = append(t.terms, p)
		}
	}
	return t, nil
}

// nameAttr reads the field a predictor names: "name" in PMML 4.x, "field" in 4.4.
func (c *compiler) nameAttr(e *elem, sc *scope) (string, error) {
	name := e.get("name")
	if name == "" {
		name = e.get("field")
	}
	if name == "" {
		return "", errf(e, "attribute name is missing")
	}
	if !sc.has(name) {
		return "", errf(e, "field %q is not defined", name)
	}
	return name, nil
}

// Normalizations shared by RegressionModel and GeneralRegressionModel.
func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
func probit(x float64) float64   { return stdNormalCDF(x) }
func cloglog(x float64) float64  { return 1 - math.Exp(-math.Exp(x)) }
func loglog(x float64) float64   { return math.Exp(-math.Exp(-x)) }
func cauchit(x float64) float64  { return 0.5 + math.Atan(x)/math.Pi }

var binaryLinks = map[string]func(float64) float64{
	"logit": logistic, "probit": probit, "cloglog": cloglog, "loglog": loglog, "cauchit": cauchit,
}

func (c *compiler) regressionModel(e *elem, m *modelDef, sc *scope) error {
	norm := e.get("normalizationMethod")
	if norm == "" {
		norm = "none"
	}
	var tables []*regressionTable
	for _, te := range e.children("RegressionTable") {
		t, err := c.regressionTable(te, sc)
		if err != nil {
			return err
		}
		tables = append(tables, t)
	}
	if len(tables) == 0 {
		return errf(e, "has no RegressionTable")
	}
	if !m.classify() {
		if len(tables) != 1 {
			return errf(e, "a regression has one RegressionTable, this one has %d", len(tables))
		}
		var link func(float64) float64
		switch norm {
		case "none":
			link = func(x float64) float64 { return x }
		case "softmax", "logit":
			link = logistic
		case "exp":
			link = math.Exp
		case "probit", "cloglog", "loglog", "cauchit":
			link = binaryLinks[norm]
		default:
			return errf(e, "normalizationMethod %q does not apply to regression", norm)
		}
		t := tables[0]
		m.eval = func(f *frame) (*result, error) {
			y, ok, err := t.eval(f)
			if err != nil || !ok {
				return &result{missing: true}, err
			}
			return &result{value: link(y)}, nil
		}
		return nil
	}
	if len(tables) < 2 {
		return errf(e, "a classification needs at least two RegressionTables, this one has %d", len(tables))
	}
	cats := make([]string, len(tables))
	seen := map[string]bool{}
	for i, t := range tables {
		if t.category == "" {
			return errf(e, "RegressionTable %d has no targetCategory", i+1)
		}
		if seen[t.category] {
			return errf(e, "targetCategory %q appears in two RegressionTables", t.category)
		}
		seen[t.category] = true
		cats[i] = t.category
	}
	if len(m.classes) == 0 {
		m.classes = cats
	}
	ordinal := c.fields[m.target] != nil && c.fields[m.target].optype == "ordinal"
	var combine func(y []float64) []float64
	switch norm {
	case "softmax":
		combine = softmax
	case "simplemax":
		combine = simplemax
	case "none", "logit", "probit", "cloglog", "loglog", "cauchit":
		link := binaryLinks[norm]
		if norm == "none" {
			link = func(x float64) float64 { return x }
		}
		switch {
		case ordinal:
			combine = func(y []float64) []float64 { // cumulative: p_j = F_j - F_{j-1}
				out := make([]float64, len(y))
				prev := 0.0
				for j := 0; j < len(y)-1; j++ {
					cum := link(y[j])
					if norm == "none" {
						cum = math.Min(math.Max(cum, 0), 1)
					}
					out[j] = cum - prev
					prev = cum
				}
				out[len(y)-1] = 1 - prev
				return out
			}
		case len(tables) == 2:
			combine = func(y []float64) []float64 {
				p := link(y[0])
				if norm == "none" {
					p = math.Min(math.Max(p, 0), 1)
				}
				return []float64{p, 1 - p}
			}
		case norm == "none":
			combine = func(y []float64) []float64 { // the last category takes the rest
				out := make([]float64, len(y))
				s := 0.0
				for j := 0; j < len(y)-1; j++ {
					out[j] = y[j]
					s += y[j]
				}
				out[len(y)-1] = 1 - s
				return out
			}
		case norm == "logit":
			combine = func(y []float64) []float64 { // one-vs-rest logits, renormalized
				out := make([]float64, len(y))
				for j, v := range y {
					out[j] = logistic(v)
				}
				return simplemax(out)
			}
		default:
			return errf(e, "normalizationMethod %q needs two target categories (or an ordinal target), this model has %d", norm, len(tables))
		}
	case "exp":
		return errf(e, "normalizationMethod exp does not apply to classification")
	default:
		return errf(e, "normalizationMethod %q is not supported", norm)
	}
	m.eval = func(f *frame) (*result, error) {
		y := make([]float64, len(tables))
		for i, t := range tables {
			v, ok, err := t.eval(f)
			if err != nil || !ok {
				return &result{missing: true}, err
			}
			y[i] = v
		}
		p := combine(y)
		r := &result{probs: make(map[string]float64, len(p))}
		for i, c := range cats {
			r.probs[c] = p[i]
		}
		r.label = argmax(r.probs, cats)
		return r, nil
	}
	return nil
}

func softmax(y []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range y {
		mx = math.Max(mx, v)
	}
	out := make([]float64, len(y))
	s := 0.0
	for i, v := range y {
		out[i] = math.Exp(v - mx)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func simplemax(y []float64) []float64 {
	out := make([]float64, len(y))
	s := 0.0
	for _, v := range y {
		s += v
	}
	for i, v := range y {
		out[i] = v / s
	}
	return out
}
