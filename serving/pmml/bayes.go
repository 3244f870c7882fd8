package pmml

import (
	"math"
)

type bayesInput struct {
	field string
	bins  *discretize // optional DerivedField discretizing a continuous input
	// discrete inputs
	pairs []bayesPair
	sums  map[string]float64 // per class: sum of counts over the pairs
	// continuous inputs
	stats map[string]dist
}

type bayesPair struct {
	val    value
	counts map[string]float64
}

type dist struct {
	kind       string // gaussian | poisson
	mean, vari float64
}

func (d dist) density(x float64) float64 {
	if d.kind == "poisson" {
		if x < 0 || x != math.Trunc(x) {
			return 0
		}
		lg, _ := math.Lgamma(x + 1)
		return math.Exp(x*math.Log(d.mean) - d.mean - lg)
	}
	z := x - d.mean
	return math.Exp(-z*z/(2*d.vari)) / math.Sqrt(2*math.Pi*d.vari)
}

type naiveBayes struct {
	inputs    []bayesInput
	priors    map[string]float64
	classes   []string
	threshold float64
}

func (nb *naiveBayes) eval(f *frame) (*result, error) {
	logp := make(map[string]float64, len(nb.classes))
	for _, c := range nb.classes {
		logp[c] = math.Log(nb.priors[c])
	}
	for _, in := range nb.inputs {
		if err := f.run.step(); err != nil {
			return nil, err
		}
		v, err := f.get(in.field)
		if err != nil {
			return nil, err
		}
		if v.k == kMissing {
			continue // missing inputs are ignored
		}
		if in.stats != nil {
			x, ok := v.number()
			if !ok {
				continue
			}
			for c, d := range in.stats {
				logp[c] += math.Log(math.Max(d.density(x), nb.threshold))
			}
			continue
		}
		if in.bins != nil {
			fr := newFrame(&frameDef{}, nil, f.run)
			fr.vals[in.bins.field] = v
			if v, err = in.bins.eval(fr); err != nil {
				return nil, err
			}
			if v.k == kMissing {
				continue
			}
		}
		var counts map[string]float64
		for _, p := range in.pairs {
			if equalValues(v, p.val) {
				counts = p.counts
				break
			}
		}
		if counts == nil {
			continue // an unseen value is ignored
		}
		for c, n := range counts {
			p := nb.threshold
			if n != 0 {
				p = n / in.sums[c]
			}
			logp[c] += math.Log(p)
		}
	}
	y := make([]float64, len(nb.classes))
	for i, c := range nb.classes {
		y[i] = logp[c]
	}
	p := softmax(y)
	r := &result{probs: make(map[string]float64, len(p))}
	for i, c := range nb.classes {
		r.probs[c] = p[i]
	}
	r.label = argmax(r.probs, nb.classes)
	return r, nil
}

func (c *compiler) naiveBayes(e *elem, m *modelDef, sc *scope) error {
	if !m.classify() {
		return errf(e, "a NaiveBayesModel needs functionName classification")
	}
	nb := &naiveBayes{priors: map[string]float64{}}
	var err error
	if nb.threshold, err = finiteAttr(e, "threshold", math.NaN()); err != nil {
		return err
	}
	if nb.threshold <= 0 {
		return errf(e, "threshold %v must be positive", nb.threshold)
	}
	be := e.child("BayesOutput")
	if be == nil {
		return errf(e, "BayesOutput is missing")
	}
	tvc := be.child("TargetValueCounts")
	if tvc == nil {
		return errf(be, "TargetValueCounts is missing")
	}
	for _, t := range tvc.children("TargetValueCount") {
		n, err := finiteAttr(t, "count", math.NaN())
		if err != nil {
			return err
		}
		if n < 0 {
			return errf(t, "count %v is negative", n)
		}
		cl := t.get("value")
		nb.priors[cl] = n
		addClass(&nb.classes, cl)
	}
	if len(m.classes) > 0 {
		for _, cl := range m.classes {
			if _, ok := nb.priors[cl]; !ok {
				return errf(tvc, "has no count for target category %q", cl)
			}
		}
		nb.classes = m.classes
	}
	m.classes = nb.classes
	ie := e.child("BayesInputs")
	if ie == nil {
		return errf(e, "BayesInputs is missing")
	}
	for _, bi := range ie.children("BayesInput") {
		name := bi.get("fieldName")
		if name == "" {
			name = bi.get("field")
		}
		if !sc.has(name) {
			return errf(bi, "field %q is not defined", name)
		}
		in := bayesInput{field: name}
		if st := bi.child("TargetValueStats"); st != nil {
			in.stats = map[string]dist{}
			for _, s := range st.children("TargetValueStat") {
				var d dist
				switch {
				case s.child("GaussianDistribution") != nil:
					g := s.child("GaussianDistribution")
					d.kind = "gaussian"
					if d.mean, err = finiteAttr(g, "mean", math.NaN()); err != nil {
						return err
					}
					if d.vari, err = finiteAttr(g, "variance", math.NaN()); err != nil {
						return err
					}
					if d.vari <= 0 {
						return errf(g, "variance %v must be positive", d.vari)
					}
				case s.child("PoissonDistribution") != nil:
					p := s.child("PoissonDistribution")
					d.kind = "poisson"
					if d.mean, err = finiteAttr(p, "mean", math.NaN()); err != nil {
						return err
					}
				default:
					return errf(s, "needs a GaussianDistribution or PoissonDistribution")
				}
				cl := s.get("value")
				if _, ok := nb.priors[cl]; !ok {
					return errf(s, "target category %q is not in the BayesOutput", cl)
				}
				in.stats[cl] = d
			}
			nb.inputs = append(nb.inputs, in)
			continue
		}
		if de := bi.child("DerivedField"); de != nil {
			xe := de.child("Discretize")
			if xe == nil {
				return errf(de, "a BayesInput DerivedField must be a Discretize")
			}
			bsc := c.newScope(sc)
			x, err := c.compileExpr(xe, bsc)
			if err != nil {
				return err
			}
			in.bins = x.(*discretize)
		}
		in.sums = map[string]float64{}
		dt := sc.typeOf(name)
		if in.bins != nil {
			dt = dtUnknown
		}
		for _, pc := range bi.children("PairCounts") {
			v, ok := parseLiteral(pc.get("value"), dt)
			if !ok {
				return errf(pc, "value %q does not fit field %q", pc.get("value"), name)
			}
			p := bayesPair{val: v, counts: map[string]float64{}}
			tv := pc.child("TargetValueCounts")
			if tv == nil {
				return errf(pc, "TargetValueCounts is missing")
			}
			for _, t := range tv.children("TargetValueCount") {
				n, err := finiteAttr(t, "count", math.NaN())
				if err != nil {
					return err
				}
				cl := t.get("value")
				if _, ok := nb.priors[cl]; !ok {
					return errf(t, "target category %q is not in the BayesOutput", cl)
				}
				p.counts[cl] = n
				in.sums[cl] += n
			}
			in.pairs = append(in.pairs, p)
		}
		nb.inputs = append(nb.inputs, in)
	}
	m.eval = nb.eval
	return nil
}
