package mojo

import (
	"fmt"
	"math"
	"slices"

	"github.com/actorserve/actorserve/serving"
)

// layer is one fully connected layer of a deep learning model.
type layer struct {
	in, out int
	maxK    int       // Maxout channels; 1 otherwise
	w       []float32 // out x in (x maxK), row major; genmodel keeps weights in float32
	b       []float64
	act     string
	dropout float64
}

// deepLearning is H2O's feed-forward network: one-hot categoricals (with an extra NA level
// per column), standardized numerics, dense layers.
type deepLearning struct {
	cats, nums int
	catOffsets []int
	normMul    []float64
	normSub    []float64
	respMul    []float64
	respSub    []float64
	allLevels  bool
	family     string
	classifier bool
	layers     []layer
	inputs     int
	widest     int
}

var dlActivations = []string{"Rectifier", "RectifierWithDropout", "Tanh", "TanhWithDropout",
	"ExpRectifier", "ExpRectifierWithDropout", "Maxout", "MaxoutWithDropout"}

func readDeepLearning(m *Model, p *ini, _ *archive) error {
	h := &m.h
	dl := &deepLearning{}
	var err error
	if h.category == "AutoEncoder" {
		return loadErr("Deep Learning autoencoders are not supported")
	}
	if dl.nums, err = p.intKey("nums"); err != nil {
		return err
	}
	if dl.cats, err = p.intKey("cats"); err != nil {
		return err
	}
	if dl.cats < 0 || dl.nums < 0 || dl.cats+dl.nums != h.nfeatures {
		return loadErr("Deep Learning cats %d + nums %d must equal n_features %d", dl.cats, dl.nums, h.nfeatures)
	}
	if err := h.checkCategoricalFirst("Deep Learning", dl.cats); err != nil {
		return err
	}
	if dl.catOffsets, _, err = p.ints("cat_offsets"); err != nil {
		return err
	}
	if dl.cats == 0 && len(dl.catOffsets) == 0 {
		dl.catOffsets = []int{0}
	}
	if len(dl.catOffsets) != dl.cats+1 || dl.catOffsets[0] != 0 {
		return loadErr("Deep Learning cat_offsets has %d values, want cats+1 = %d starting at 0", len(dl.catOffsets), dl.cats+1)
	}
	for i := 1; i < len(dl.catOffsets); i++ {
		if dl.catOffsets[i] <= dl.catOffsets[i-1] {
			return loadErr("Deep Learning cat_offsets do not increase at %d", i)
		}
	}
	if dl.normMul, _, err = p.floats("norm_mul"); err != nil {
		return err
	}
	if dl.normSub, _, err = p.floats("norm_sub"); err != nil {
		return err
	}
	if len(dl.normMul) > 0 && (len(dl.normMul) != dl.nums || len(dl.normSub) != dl.nums) {
		return loadErr("Deep Learning norm_mul and norm_sub have %d and %d values, want nums = %d", len(dl.normMul), len(dl.normSub), dl.nums)
	}
	if dl.respMul, _, err = p.floats("norm_resp_mul"); err != nil {
		return err
	}
	if dl.respSub, _, err = p.floats("norm_resp_sub"); err != nil {
		return err
	}
	if dl.respMul != nil && (len(dl.respMul) < 1 || len(dl.respSub) < 1) {
		return loadErr("Deep Learning norm_resp_mul needs norm_resp_sub")
	}
	if dl.allLevels, err = p.boolOr("use_all_factor_levels", false); err != nil {
		return err
	}
	if dl.family, err = p.str("distribution"); err != nil {
		return err
	}
	switch dl.family {
	case "AUTO", "bernoulli", "quasibinomial", "multinomial", "ordinal", "gaussian", "poisson", "gamma",
		"tweedie", "huber", "laplace", "quantile", "fractionalbinomial", "negativebinomial":
	default:
		return loadErr("Deep Learning distribution %q is not supported", clip(dl.family))
	}
	act, err := p.str("activation")
	if err != nil {
		return err
	}
	if !slices.Contains(dlActivations, act) {
		return loadErr("Deep Learning activation %q is not supported", clip(act))
	}
	units, _, err := p.ints("neural_network_sizes")
	if err != nil {
		return err
	}
	if len(units) < 2 {
		return loadErr("Deep Learning neural_network_sizes has %d layers, want at least 2", len(units))
	}
	dl.inputs = dl.catOffsets[dl.cats] + dl.nums
	if units[0] != dl.inputs {
		return loadErr("Deep Learning input layer has %d units, the columns expand to %d", units[0], dl.inputs)
	}
	dropout, _, err := p.floats("hidden_dropout_ratios")
	if err != nil {
		return err
	}
	switch h.category {
	case "Binomial", "Multinomial", "Ordinal":
		dl.classifier = true
		if err := h.checkClassifier("Deep Learning"); err != nil {
			return err
		}
		if units[len(units)-1] != h.nclasses {
			return loadErr("Deep Learning output layer has %d units for %d classes", units[len(units)-1], h.nclasses)
		}
		m.task, m.predsLen = taskClass, h.nclasses+1
	case "Regression":
		if units[len(units)-1] != 1 {
			return loadErr("Deep Learning regression output layer has %d units, want 1", units[len(units)-1])
		}
		m.task, m.predsLen = taskRegress, 2
	default:
		return loadErr("Deep Learning model category %q is not supported", clip(h.category))
	}
	total := 0
	nl := len(units) - 1
	dl.layers = make([]layer, nl)
	for l := range nl {
		L := &dl.layers[l]
		L.in, L.out, L.maxK = units[l], units[l+1], 1
		if L.in < 1 || L.out < 1 {
			return loadErr("Deep Learning layer %d has %d inputs and %d units", l, L.in, L.out)
		}
		dl.widest = max(dl.widest, L.in, L.out)
		switch {
		case l < nl-1:
			L.act = act
		case dl.classifier:
			L.act = "Softmax"
		default:
			L.act = "Linear"
		}
		if l < len(dropout) {
			L.dropout = dropout[l]
		}
		if !(L.dropout >= 0 && L.dropout < 1) {
			return loadErr("Deep Learning hidden_dropout_ratios[%d] = %v is not in [0, 1)", l, L.dropout)
		}
		wkey, bkey := fmt.Sprintf("weight_layer%d", l), fmt.Sprintf("bias_layer%d", l)
		w, _, err := p.floats(wkey)
		if err != nil {
			return err
		}
		if L.b, _, err = p.floats(bkey); err != nil {
			return err
		}
		if total += len(w) + len(L.b); total > MaxWeights {
			return loadErr("Deep Learning has more than %d weights", MaxWeights)
		}
		if L.act == "Maxout" || L.act == "MaxoutWithDropout" {
			L.maxK = len(L.b) / L.out
			if L.maxK < 1 || L.maxK > 2 {
				return loadErr("Deep Learning layer %d: Maxout with %d channels is not supported (1 or 2)", l, L.maxK)
			}
		}
		if len(L.b) != L.out*L.maxK || len(w) != L.in*L.out*L.maxK {
			return loadErr("Deep Learning layer %d: %s has %d and %s %d values, want %d and %d",
				l, wkey, len(w), bkey, len(L.b), L.in*L.out*L.maxK, L.out*L.maxK)
		}
		L.w = make([]float32, len(w))
		for i, v := range w {
			L.w[i] = float32(v)
		}
		dl.widest = max(dl.widest, L.out*L.maxK)
	}
	m.sc = dl
	return nil
}

func (dl *deepLearning) score(h *header, row, preds []float64) error {
	buf := make([]float64, dl.inputs+3*dl.widest)
	in := buf[:dl.inputs]
	// One-hot categoricals: a missing level (and one past the block) takes the block's last
	// slot, which is the NA level; level 0 has no slot without use_all_factor_levels.
	for i := range dl.cats {
		var slot int
		if v := row[i]; v != v {
			slot = dl.catOffsets[i+1] - 1
		} else {
			c := int(javaInt(v))
			if dl.allLevels {
				slot = c + dl.catOffsets[i]
			} else if c != 0 {
				slot = c - 1 + dl.catOffsets[i]
			} else {
				slot = -1
			}
			if slot >= dl.catOffsets[i+1] {
				slot = dl.catOffsets[i+1] - 1
			}
		}
		if slot >= 0 {
			in[slot] = 1
		}
	}
	base := dl.catOffsets[dl.cats]
	for i := range dl.nums {
		d := row[dl.cats+i]
		if len(dl.normMul) > 0 {
			d = (d - dl.normSub[i]) * dl.normMul[i]
		}
		if d != d {
			d = 0
		}
		in[base+i] = d
	}
	pre := buf[dl.inputs : dl.inputs+dl.widest]
	outs := [2][]float64{buf[dl.inputs+dl.widest : dl.inputs+2*dl.widest], buf[dl.inputs+2*dl.widest:]}
	for l := range dl.layers {
		L := &dl.layers[l]
		in = L.forward(in, pre[:L.out*L.maxK], outs[l%2][:L.out])
	}
	if dl.classifier {
		for i, v := range in {
			if v != v {
				return fmt.Errorf("%w: mojo: Deep Learning predicted a NaN class probability", serving.ErrModel)
			}
			preds[i+1] = v
		}
		h.label(preds, row)
		return nil
	}
	v := in[0]
	if dl.respMul != nil {
		v = v/dl.respMul[0] + dl.respSub[0]
	}
	preds[0] = dlLinkInv(dl.family, v)
	return nil
}

func dlLinkInv(family string, f float64) float64 {
	switch family {
	case "bernoulli", "quasibinomial", "modified_huber", "ordinal":
		return 1 / (1 + math.Min(1e19, math.Exp(-f)))
	case "multinomial", "poisson", "gamma", "tweedie":
		return math.Min(1e19, math.Exp(f))
	}
	return f
}

// forward computes the layer's outputs for in into out (len L.out), using pre (len
// L.out*maxK) for the pre-activations. The sums follow genmodel's order exactly: eight
// partial sums over each block of eight inputs, then the rest, then the bias.
func (L *layer) forward(in, pre, out []float64) []float64 {
	if L.maxK == 1 {
		cols := L.in
		whole := cols - cols%8
		for r := range L.out {
			w := L.w[r*cols : (r+1)*cols]
			var p0, p1, p2, p3, p4, p5, p6, p7 float64
			for c := 0; c < whole; c += 8 {
				p0 += float64(w[c]) * in[c]
				p1 += float64(w[c+1]) * in[c+1]
				p2 += float64(w[c+2]) * in[c+2]
				p3 += float64(w[c+3]) * in[c+3]
				p4 += float64(w[c+4]) * in[c+4]
				p5 += float64(w[c+5]) * in[c+5]
				p6 += float64(w[c+6]) * in[c+6]
				p7 += float64(w[c+7]) * in[c+7]
			}
			s := 0.0
			s += p0 + p1 + p2 + p3
			s += p4 + p5 + p6 + p7
			for c := whole; c < cols; c++ {
				s += float64(w[c]) * in[c]
			}
			s += L.b[r]
			pre[r] = s
		}
	} else {
		k := L.maxK
		for j := range k {
			for r := range L.out {
				idx := k*r + j
				var s float64
				for c := range L.in {
					s += in[c] * float64(L.w[k*(r*L.in+c)+j])
				}
				pre[idx] = s + L.b[idx]
			}
		}
	}
	switch L.act {
	case "Linear":
		copy(out, pre[:L.out])
	case "Softmax":
		mx := pre[0]
		for _, v := range pre[:L.out] {
			if mx < v {
				mx = v
			}
		}
		var scale float64
		for i := range L.out {
			out[i] = math.Exp(pre[i] - mx)
			scale += out[i]
		}
		for i := range L.out {
			out[i] /= scale
		}
	case "Rectifier", "RectifierWithDropout":
		for i := range L.out {
			out[i] = 0.5 * (pre[i] + math.Abs(pre[i]))
		}
	case "Tanh", "TanhWithDropout":
		for i := range L.out {
			out[i] = 1. - 2./(1.+math.Exp(2.*pre[i]))
		}
	case "ExpRectifier", "ExpRectifierWithDropout":
		for i := range L.out {
			if x := pre[i]; x >= 0 {
				out[i] = x
			} else {
				out[i] = math.Exp(x) - 1
			}
		}
	case "Maxout", "MaxoutWithDropout":
		k := L.maxK
		for i := range L.out {
			at := i * k
			t := pre[at]
			for j := range k {
				at += j // sic: genmodel steps by 0, 1, 2, ...
				if !(t > pre[at]) {
					t = pre[at]
				}
			}
			out[i] = t
		}
	}
	switch L.act {
	case "RectifierWithDropout", "TanhWithDropout", "ExpRectifierWithDropout", "MaxoutWithDropout":
		if L.dropout > 0 {
			f := 1.0 - L.dropout
			for i := range L.out {
				out[i] *= f
			}
		}
	}
	return out
}
