package mojo

import (
	"fmt"
	"math"

	"github.com/actorserve/actorserve/serving"
)

// glmKind is the shape of a GLM's output.
type glmKind uint8

const (
	glmSingle      glmKind = iota // regression or binomial: one linear predictor and a link
	glmMultinomial                // one linear predictor per class, softmax
	glmOrdinal                    // cumulative logits
)

// glm is a generalized linear model: categorical columns first (one coefficient per level),
// then numeric columns, then the intercept; multinomial and ordinal models repeat that
// block per class.
type glm struct {
	kind       glmKind
	binomial   bool
	allLevels  bool // use_all_factor_levels: level 0 has its own coefficient
	cats, nums int
	catOffsets []int
	catModes   []int
	numMeans   []float64
	impute     bool
	beta       []float64
	p          int // coefficients per class block
	link       string
	tweediePow float64
	names      []string
}

func readGLM(m *Model, p *ini, _ *archive) error {
	h := &m.h
	g := &glm{names: h.columns}
	var err error
	if g.allLevels, err = p.boolOr("use_all_factor_levels", false); err != nil {
		return err
	}
	if g.cats, err = p.intOr("cats", -1); err != nil {
		return err
	}
	if g.nums, err = p.intOr("nums", -1); err != nil {
		return err
	}
	if g.cats < 0 || g.nums < 0 || g.cats+g.nums != h.nfeatures {
		return loadErr("GLM cats %d + nums %d must equal n_features %d", g.cats, g.nums, h.nfeatures)
	}
	if err := h.checkCategoricalFirst("GLM", g.cats); err != nil {
		return err
	}
	if g.catOffsets, _, err = p.ints("cat_offsets"); err != nil {
		return err
	}
	if len(g.catOffsets) != g.cats+1 || g.catOffsets[0] != 0 {
		return loadErr("GLM cat_offsets has %d values, want cats+1 = %d starting at 0", len(g.catOffsets), g.cats+1)
	}
	for i := 1; i < len(g.catOffsets); i++ {
		if g.catOffsets[i] < g.catOffsets[i-1] {
			return loadErr("GLM cat_offsets decrease at %d", i)
		}
	}
	if g.impute, err = p.boolOr("mean_imputation", false); err != nil {
		return err
	}
	if g.impute {
		if g.catModes, _, err = p.ints("cat_modes"); err != nil {
			return err
		}
		if g.numMeans, _, err = p.floats("num_means"); err != nil {
			return err
		}
		if len(g.catModes) != g.cats || len(g.numMeans) != g.nums {
			return loadErr("GLM mean_imputation needs %d cat_modes and %d num_means, model has %d and %d", g.cats, g.nums, len(g.catModes), len(g.numMeans))
		}
		for i, c := range g.catModes {
			if c < 0 {
				return loadErr("GLM cat_modes[%d] is %d", i, c)
			}
		}
	}
	var ok bool
	if g.beta, ok, err = p.floats("beta"); err != nil {
		return err
	} else if !ok {
		return loadErr("model.ini has no beta")
	}
	family, err := p.str("family")
	if err != nil {
		return err
	}
	if v, ok := p.get("interactions"); ok && v != "" {
		return loadErr("GLM interactions are not supported")
	}
	need := g.catOffsets[g.cats] + g.nums + 1
	switch family {
	case "multinomial", "ordinal":
		if err := h.checkClassifier("GLM " + family); err != nil {
			return err
		}
		g.kind = glmMultinomial
		if family == "ordinal" {
			g.kind = glmOrdinal
		}
		k := h.nclasses
		if len(g.beta)%k != 0 || len(g.beta)/k != need {
			return loadErr("GLM %s beta has %d coefficients, want %d classes x %d", family, len(g.beta), k, need)
		}
		g.p = need
		m.task, m.predsLen = taskClass, k+1
	default:
		if len(g.beta) != need {
			return loadErr("GLM beta has %d coefficients, want %d (levels %d + numeric %d + intercept)", len(g.beta), need, g.catOffsets[g.cats], g.nums)
		}
		g.p = need
		if g.link, err = p.str("link"); err != nil {
			return err
		}
		if g.tweediePow, err = p.floatOr("tweedie_link_power", 0); err != nil {
			return err
		}
		switch g.link {
		case "identity", "logit", "log", "inverse", "tweedie":
		default:
			return loadErr("GLM link %q is not supported", clip(g.link))
		}
		switch family {
		case "binomial", "fractionalbinomial", "quasibinomial":
			if h.nclasses != 2 {
				return loadErr("GLM family %s has n_classes %d, want 2", family, h.nclasses)
			}
			g.binomial = true
			m.task, m.predsLen = taskClass, 3
		default:
			m.task, m.predsLen = taskRegress, 2
		}
	}
	m.sc = g
	return nil
}

// eta is class block c's linear predictor for row (imputed), without the intercept.
func (g *glm) eta(row []float64, c int) (float64, error) {
	base := c * g.p
	var eta float64
	for i := range g.cats {
		v := row[i]
		if v != v {
			return 0, fmt.Errorf("%w: mojo: feature %q is missing and the GLM has no mean imputation", serving.ErrModel, g.names[i])
		}
		iv := int(v)
		if !g.allLevels {
			if v == 0 {
				continue
			}
			iv--
		}
		iv += g.catOffsets[i]
		if iv >= g.catOffsets[i] && iv < g.catOffsets[i+1] {
			eta += g.beta[base+iv]
		}
	}
	noff := g.catOffsets[g.cats]
	for i := range g.nums {
		eta += g.beta[base+noff+i] * row[g.cats+i]
	}
	return eta, nil
}

func (g *glm) score(h *header, row, preds []float64) error {
	if g.impute {
		for i := range g.cats {
			if row[i] != row[i] {
				row[i] = float64(g.catModes[i])
			}
		}
		for i := range g.nums {
			if row[g.cats+i] != row[g.cats+i] {
				row[g.cats+i] = g.numMeans[i]
			}
		}
	}
	switch g.kind {
	case glmSingle:
		eta, err := g.eta(row, 0)
		if err != nil {
			return err
		}
		eta += g.beta[g.p-1]
		eta += 0 // offset
		mu := g.linkInv(eta)
		if g.binomial {
			preds[0] = 0
			if mu >= h.threshold {
				preds[0] = 1
			}
			preds[1], preds[2] = 1.0-mu, mu
		} else {
			preds[0] = mu
		}
	case glmMultinomial:
		for c := range h.nclasses {
			eta, err := g.eta(row, c)
			if err != nil {
				return err
			}
			preds[c+1] = eta + g.beta[c*g.p+g.p-1]
		}
		maxRow := 0.0
		for _, v := range preds[1:] {
			if v > maxRow {
				maxRow = v
			}
		}
		var sum float64
		for c := 1; c < len(preds); c++ {
			preds[c] = math.Exp(preds[c] - maxRow)
			sum += preds[c]
		}
		sum = 1 / sum
		maxP := 0.0
		preds[0] = 0
		for c := 1; c < len(preds); c++ {
			preds[c] *= sum
			if preds[c] > maxP {
				maxP, preds[0] = preds[c], float64(c-1)
			}
		}
	case glmOrdinal:
		last := h.nclasses - 1
		for c := range last {
			eta, err := g.eta(row, c)
			if err != nil {
				return err
			}
			preds[c+1] = eta + g.beta[c*g.p+g.p-1]
		}
		prev := 0.0
		for c := range last {
			cdf := 1.0 / (1 + math.Exp(-(preds[c+1] + 0)))
			preds[c+1] = cdf - prev
			prev = cdf
		}
		preds[h.nclasses] = 1 - prev
		preds[0] = 0
		best := 0
		for i := 1; i < len(preds); i++ {
			if preds[i] > preds[best] {
				best = i
			}
		}
		preds[0] = float64(best - 1)
	}
	return nil
}

func (g *glm) linkInv(x float64) float64 {
	switch g.link {
	case "logit":
		return 1.0 / (math.Exp(-x) + 1.0)
	case "log":
		return math.Exp(x)
	case "inverse":
		xx := math.Max(1e-5, x)
		if x < 0 {
			xx = math.Min(-1e-5, x)
		}
		return 1.0 / xx
	case "tweedie":
		if g.tweediePow == 0 {
			return math.Max(2e-16, math.Exp(x))
		}
		return math.Pow(x, 1.0/g.tweediePow)
	}
	return x
}
