package mojo

import (
	"fmt"
	"math"
)

// readForest reads the trees/tCC_GGG.bin files of a GBM, DRF or isolation forest MOJO.
func readForest(m *Model, p *ini, a *archive) (*forest, error) {
	h := &m.h
	groups, err := p.intKey("n_trees")
	if err != nil {
		return nil, err
	}
	perGroup, err := p.intOr("n_trees_per_class", -1)
	if err != nil {
		return nil, err
	}
	if perGroup < 0 { // MOJO 1.0 did not write it
		double, err := p.boolOr("binomial_double_trees", false)
		if err != nil {
			return nil, err
		}
		perGroup = h.nclasses
		if h.nclasses == 2 && !double {
			perGroup = 1
		}
	}
	if groups < 0 || perGroup < 1 || int64(groups)*int64(perGroup) > MaxTrees {
		return nil, loadErr("model.ini: n_trees %d x n_trees_per_class %d is not in [0, %d] trees", groups, perGroup, MaxTrees)
	}
	if cls := h.nclasses; perGroup != 1 && perGroup != cls {
		return nil, loadErr("model.ini: n_trees_per_class %d, want 1 or n_classes = %d", perGroup, cls)
	}
	f := &forest{groups: groups, trees: make([][]int32, perGroup)}
	switch {
	case h.version < 1.05:
		f.scheme = 0
	case h.version < 1.15:
		f.scheme = 1
	default:
		f.scheme = 2
	}
	dec := &decoder{f: f, domains: h.domains[:h.nfeatures]}
	for k := range perGroup {
		for g := range groups {
			name := fmt.Sprintf("trees/t%02d_%03d.bin", k, g)
			if !a.exists(name) {
				continue // an empty tree
			}
			b, err := a.read(name)
			if err != nil {
				return nil, err
			}
			dec.b, dec.name = b, name
			root, err := dec.decode(0, 0)
			if err != nil {
				return nil, err
			}
			f.trees[k] = append(f.trees[k], root)
		}
	}
	return f, nil
}

// gbm is a gradient boosting machine: summed trees, init_f and the distribution's link.
type gbm struct {
	f      *forest
	family string
	link   string
	initF  float64
}

func readGBM(m *Model, p *ini, a *archive) error {
	f, err := readForest(m, p, a)
	if err != nil {
		return err
	}
	g := &gbm{f: f}
	if g.family, err = p.str("distribution"); err != nil {
		return err
	}
	if g.initF, err = p.float("init_f"); err != nil {
		return err
	}
	link, ok := p.get("link_function")
	if !ok {
		link = defaultLink(g.family)
	}
	g.link = link
	switch link {
	case "identity", "log", "logit", "ologit", "ologlog", "inverse":
	default:
		return loadErr("GBM link_function %q is not supported", clip(link))
	}
	if _, err := calibration(p); err != nil {
		return err
	}
	h := &m.h
	switch g.family {
	case "bernoulli", "quasibinomial", "modified_huber":
		if h.nclasses != 2 || len(f.trees) != 1 {
			return loadErr("GBM distribution %s needs 2 classes and one tree per group, model has %d and %d", g.family, h.nclasses, len(f.trees))
		}
		m.task, m.predsLen = taskClass, 3
	case "multinomial":
		if err := h.checkClassifier("GBM"); err != nil {
			return err
		}
		if h.nclasses > 2 && len(f.trees) != h.nclasses {
			return loadErr("GBM multinomial with %d classes has %d trees per group, want %d", h.nclasses, len(f.trees), h.nclasses)
		}
		m.task, m.predsLen = taskClass, h.nclasses+1
	case "gaussian", "poisson", "gamma", "tweedie", "huber", "laplace", "quantile", "fractionalbinomial", "negativebinomial":
		if h.nclasses != 1 || len(f.trees) != 1 {
			return loadErr("GBM regression (distribution %s) has n_classes %d and %d trees per group, want 1 and 1", g.family, h.nclasses, len(f.trees))
		}
		m.task, m.predsLen = taskRegress, 2
	default:
		return loadErr("GBM distribution %q is not supported", clip(g.family))
	}
	if m.task == taskClass {
		if err := h.checkClassifier("GBM"); err != nil {
			return err
		}
	}
	m.sc = g
	return nil
}

// calibration rejects calibrated models' settings it cannot honour: calibrated
// probabilities are extra outputs in genmodel, the plain ones are served here.
func calibration(p *ini) (string, error) {
	c, _ := p.get("calib_method")
	switch c {
	case "", "platt", "isotonic":
		return c, nil
	}
	return "", loadErr("calib_method %q is not supported", clip(c))
}

func defaultLink(family string) string {
	switch family {
	case "bernoulli", "fractionalbinomial", "quasibinomial", "modified_huber", "ordinal":
		return "logit"
	case "multinomial", "poisson", "gamma", "tweedie":
		return "log"
	}
	return "identity"
}

// gbmExp is GbmMojoModel.exp: exp capped at 1e19.
func gbmExp(x float64) float64 { return math.Min(1e19, math.Exp(x)) }

func gbmLinkInv(link string, f float64) float64 {
	switch link {
	case "log":
		return gbmExp(f)
	case "logit", "ologit":
		return 1 / (1 + gbmExp(-f))
	case "ologlog":
		return 1 - gbmExp(-1*gbmExp(f))
	case "inverse":
		var xx float64
		if f < 0 {
			xx = math.Min(-1e-5, f)
		} else {
			xx = math.Max(-1e-5, f) // sic: genmodel clamps at -1e-5 on both sides
		}
		return 1.0 / xx
	}
	return f
}

func (g *gbm) score(h *header, row, preds []float64) error {
	switch g.family {
	case "bernoulli", "quasibinomial", "modified_huber":
		g.f.sums(row, preds, 1)
		f := preds[1] + g.initF + 0 // offset 0
		preds[2] = gbmLinkInv(g.link, f)
		preds[1] = 1.0 - preds[2]
	case "multinomial":
		g.f.sums(row, preds, 1)
		if h.nclasses == 2 && len(g.f.trees) == 1 {
			preds[1] += g.initF + 0
			preds[2] = -preds[1]
		}
		maxv := math.Inf(-1)
		for _, v := range preds[1:] {
			maxv = math.Max(maxv, v)
		}
		var sum float64
		for k := 1; k < len(preds); k++ {
			preds[k] = math.Exp(preds[k] - maxv)
			sum += preds[k]
		}
		for k := 1; k < len(preds); k++ {
			preds[k] /= sum
		}
	default:
		g.f.sums(row, preds, 0)
		preds[0] = gbmLinkInv(g.link, preds[0]+g.initF+0)
		return nil
	}
	h.label(preds, row)
	return nil
}

// drf is a distributed random forest: averaged trees (votes for regression and binomial,
// normalized class votes for multinomial).
type drf struct {
	f      *forest
	double bool // binomial_double_trees
}

func readDRF(m *Model, p *ini, a *archive) error {
	f, err := readForest(m, p, a)
	if err != nil {
		return err
	}
	d := &drf{f: f}
	if d.double, err = p.boolOr("binomial_double_trees", false); err != nil {
		return err
	}
	if _, err := calibration(p); err != nil {
		return err
	}
	h := &m.h
	if h.nclasses == 1 {
		m.task, m.predsLen = taskRegress, 2
	} else {
		if err := h.checkClassifier("DRF"); err != nil {
			return err
		}
		want := h.nclasses
		if h.nclasses == 2 && !d.double {
			want = 1
		}
		if len(f.trees) != want {
			return loadErr("DRF with %d classes (binomial_double_trees %v) has %d trees per group, want %d", h.nclasses, d.double, len(f.trees), want)
		}
		m.task, m.predsLen = taskClass, h.nclasses+1
	}
	m.sc = d
	return nil
}

func (d *drf) score(h *header, row, preds []float64) error {
	n := float64(d.f.groups)
	if h.nclasses == 1 {
		d.f.sums(row, preds, 0)
		preds[0] /= n
		return nil
	}
	d.f.sums(row, preds, 1)
	if h.nclasses == 2 && !d.double {
		preds[1] /= n
		preds[2] = 1.0 - preds[1]
	} else {
		var sum float64
		for k := 1; k < len(preds); k++ {
			sum += preds[k]
		}
		if sum > 0 {
			for k := 1; k < len(preds); k++ {
				preds[k] /= sum
			}
		}
	}
	h.label(preds, row)
	return nil
}

// isoFor is an isolation forest: leaves hold path lengths.
type isoFor struct {
	f            *forest
	minPath      int
	maxPath      int
	hasFlagLabel bool
}

func readIsoFor(m *Model, p *ini, a *archive) error {
	f, err := readForest(m, p, a)
	if err != nil {
		return err
	}
	if len(f.trees) != 1 {
		return loadErr("isolation forest has %d trees per group, want 1", len(f.trees))
	}
	s := &isoFor{f: f}
	if s.minPath, err = p.intOr("min_path_length", 0); err != nil {
		return err
	}
	if s.maxPath, err = p.intOr("max_path_length", 0); err != nil {
		return err
	}
	if m.anomFlag, err = p.boolOr("output_anomaly_flag", false); err != nil {
		return err
	}
	m.task, m.predsLen, m.sc = taskAnomaly, 2, s
	return nil
}

func (s *isoFor) score(h *header, row, preds []float64) error {
	s.f.sums(row, preds, 0)
	sum := preds[0]
	var mean float64
	if s.f.groups >= 1 {
		mean = sum / float64(s.f.groups)
	}
	score := 1.0
	if s.maxPath > s.minPath {
		score = (float64(s.maxPath) - sum) / float64(s.maxPath-s.minPath)
	}
	preds[0], preds[1] = score, mean
	return nil
}
