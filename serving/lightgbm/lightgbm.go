package lightgbm

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/actorserve/actorserve/serving"
	"github.com/actorserve/actorserve/serving/source"
)

// Format is the descriptor format name this package registers.
const Format = "lightgbm"

// Limits on what [Load] accepts. They bound memory and load time for hostile or corrupt
// uploads; real models are far below them.
const (
	MaxModelBytes = 256 << 20 // size of model.txt
	MaxTrees      = 1 << 20   // trees in one model
	MaxNodes      = 1 << 25   // nodes (splits and leaves) in all trees together
	MaxFeatures   = 1 << 20   // max_feature_idx + 1
	MaxClasses    = 1 << 12   // num_class
)

// kZeroThreshold is LightGBM's kZeroThreshold (1e-35f as a double): inputs with
// |x| <= kZeroThreshold are zero to LightGBM's predictor.
const kZeroThreshold = 1.0000000180025095e-35

// Register adds the "lightgbm" format to r.
func Register(r *serving.Registry) { r.Register(Format, Load) }

type objective uint8

const (
	objIdentity   objective = iota // regression value = raw
	objSqrt                        // regression sqrt: value = sign(raw) * raw²
	objExp                         // poisson, gamma, tweedie: value = exp(raw)
	objXentropy                    // cross_entropy: value = sigmoid(raw)
	objBinary                      // binary: p = sigmoid(k * raw)
	objMulticlass                  // multiclass: softmax
	objOVA                         // multiclassova: per-class sigmoid(k * raw)
)

var objectives = map[string]objective{
	"regression": objIdentity, "regression_l2": objIdentity, "l2": objIdentity, "mean_squared_error": objIdentity,
	"mse": objIdentity, "l2_root": objIdentity, "root_mean_squared_error": objIdentity, "rmse": objIdentity,
	"regression_l1": objIdentity, "l1": objIdentity, "mean_absolute_error": objIdentity, "mae": objIdentity,
	"huber": objIdentity, "fair": objIdentity, "quantile": objIdentity,
	"mape": objIdentity, "mean_absolute_percentage_error": objIdentity,
	"lambdarank": objIdentity, "rank_xendcg": objIdentity, "xendcg": objIdentity,
	"poisson": objExp, "gamma": objExp, "tweedie": objExp,
	"cross_entropy": objXentropy, "xentropy": objXentropy,
	"binary":     objBinary,
	"multiclass": objMulticlass, "softmax": objMulticlass,
	"multiclassova": objOVA, "multiclass_ova": objOVA, "ova": objOVA, "ovr": objOVA,
}

func supportedObjectives() string {
	names := make([]string, 0, len(objectives))
	for k := range objectives {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Node flags in the high bits of node.feature (features are below MaxFeatures).
const (
	flagCategorical = 1 << 31
	flagDefaultLeft = 1 << 30
	flagMissingNaN  = 1 << 29 // missing type NaN: NaN follows the default direction
	flagMissingZero = 1 << 28 // missing type Zero: 0 (and NaN, read as 0) follow it
	featureMask     = 1<<28 - 1
)

// node is one tree node. A leaf has left < 0 and its value in threshold. Trees are laid out
// breadth first so that a node's right child directly follows its left child.
type node struct {
	threshold float64 // numerical: go left when x <= threshold; categorical: index into model.cats
	feature   uint32  // feature index | flags
	left      int32   // absolute index into model.nodes of the left child; -1 for a leaf
}

// catRange locates one categorical split's bitset in model.catWords.
type catRange struct{ start, end int32 }

// model is an immutable LightGBM model; safe for concurrent use.
type model struct {
	obj        objective
	sigmoid    float64 // binary and multiclassova: the sigmoid:k parameter
	width      int
	classes    int // num_tree_per_iteration
	average    bool
	iterations int
	roots      []int32 // tree i belongs to class i % classes
	nodes      []node
	cats       []catRange
	catWords   []uint32
	labels     []string // classification only
}

func loadErr(format string, args ...any) error {
	return fmt.Errorf("%w: lightgbm: %s", serving.ErrInvalidModel, fmt.Sprintf(format, args...))
}

// Load builds a model from d, whose data is the base64 of a LightGBM text model (model.txt,
// as save_model writes it) of at most [MaxModelBytes].
//
// Binary models classify into two labels, multiclass models into num_class labels: d.Labels
// names them in class order, or is empty for "0", "1", .... Regression objectives take no
// labels. Errors wrap [serving.ErrInvalidModel] and say what is wrong.
func Load(d *serving.Descriptor) (serving.Model, error) {
	b, err := source.Load(d, "lightgbm", "the base64 of model.txt", MaxModelBytes)
	if err != nil {
		return nil, err
	}
	m, err := parse(b)
	if err != nil {
		return nil, err
	}
	if err := m.setLabels(d.Labels); err != nil {
		return nil, err
	}
	if n := len(d.Features); n > 0 && n != m.width {
		return nil, loadErr("model takes %d features (max_feature_idx+1) but the descriptor lists %d", m.width, n)
	}
	return m, nil
}

func (m *model) classifier() bool {
	return m.obj == objBinary || m.obj == objMulticlass || m.obj == objOVA
}

func (m *model) setLabels(labels []string) error {
	if !m.classifier() {
		if len(labels) > 0 {
			return loadErr("objective is regression and takes no labels, descriptor has %d", len(labels))
		}
		return nil
	}
	k := max(2, m.classes)
	if len(labels) == 0 {
		m.labels = make([]string, k)
		for i := range m.labels {
			m.labels[i] = strconv.Itoa(i)
		}
		return nil
	}
	if len(labels) != k {
		return loadErr("model has %d classes, descriptor has %d labels", k, len(labels))
	}
	seen := make(map[string]struct{}, k)
	for i, l := range labels {
		if _, dup := seen[l]; dup {
			return loadErr("labels[%d] %q repeats an earlier label", i, l)
		}
		seen[l] = struct{}{}
	}
	m.labels = slices.Clone(labels)
	return nil
}

// parse reads and validates a LightGBM text model.
func parse(b []byte) (*model, error) {
	if len(b) > MaxModelBytes {
		return nil, loadErr("model is %d bytes, over the limit of %d", len(b), MaxModelBytes)
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return nil, loadErr("model data is JSON (dump_model?); want the text model that save_model writes")
	}
	h, err := split(b)
	if err != nil {
		return nil, err
	}
	if h.first != "tree" {
		return nil, loadErr("not a LightGBM text model: the first line is %.40q, want \"tree\"", h.first)
	}
	if !h.sawEndOfTrees {
		return nil, loadErr("no \"end of trees\" line: the model is truncated")
	}
	m := &model{average: h.averageOutput}

	numClass, err := intParam(h, "num_class", 1, 1, MaxClasses)
	if err != nil {
		return nil, err
	}
	if m.classes, err = intParam(h, "num_tree_per_iteration", numClass, 1, MaxClasses); err != nil {
		return nil, err
	}
	maxFeature, err := intParam(h, "max_feature_idx", -1, 0, MaxFeatures-1)
	if err != nil {
		return nil, err
	}
	m.width = maxFeature + 1
	if names, ok := h.values["feature_names"]; ok {
		if n := len(strings.Fields(names)); n != m.width {
			return nil, loadErr("header: feature_names has %d names, max_feature_idx says %d features", n, m.width)
		}
	}

	objLine, ok := h.values["objective"]
	if !ok {
		return nil, loadErr("header has no objective line (custom objective?); the output transform is unknown")
	}
	name, params := parseObjective(objLine)
	obj, ok := objectives[name]
	switch {
	case name == "cross_entropy_lambda" || name == "xentlambda":
		return nil, loadErr("objective %q is not supported", name)
	case !ok:
		return nil, loadErr("objective %q is not supported (supported: %s)", name, supportedObjectives())
	}
	m.obj = obj
	if obj == objIdentity && slices.Contains(strings.Fields(objLine)[1:], "sqrt") {
		m.obj = objSqrt
	}
	if obj == objBinary || obj == objOVA {
		m.sigmoid = 1
		if s, ok := params["sigmoid"]; ok {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				return nil, loadErr("objective %q: sigmoid:%s is not a positive number", objLine, s)
			}
			m.sigmoid = v
		}
	}
	switch obj {
	case objMulticlass, objOVA:
		if numClass < 2 || m.classes != numClass {
			return nil, loadErr("objective %s needs num_class >= 2 trees per iteration; header has num_class=%d, num_tree_per_iteration=%d",
				name, numClass, m.classes)
		}
		if s, ok := params["num_class"]; ok && s != strconv.Itoa(numClass) {
			return nil, loadErr("objective %q disagrees with num_class=%d", objLine, numClass)
		}
	default:
		if numClass != 1 || m.classes != 1 {
			return nil, loadErr("objective %s has one output, but the header has num_class=%d, num_tree_per_iteration=%d",
				name, numClass, m.classes)
		}
	}

	if len(h.trees) == 0 {
		return nil, loadErr("model has no trees")
	}
	if len(h.trees)%m.classes != 0 {
		return nil, loadErr("%d trees are not a whole number of iterations of %d trees", len(h.trees), m.classes)
	}
	m.iterations = len(h.trees) / m.classes
	total := 0
	for _, t := range h.trees {
		total += 2*t.numLeaves - 1
		if total > MaxNodes {
			return nil, loadErr("model has more than %d nodes", MaxNodes)
		}
	}
	m.nodes = make([]node, 0, total)
	m.roots = make([]int32, len(h.trees))
	var v validator
	for i, t := range h.trees {
		m.roots[i] = int32(len(m.nodes))
		if err := v.addTree(m, i, t); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// validator checks trees and appends them to a model, reusing its scratch space. Node ids
// below num_leaves-1 are splits; id num_leaves-1+j is leaf j.
type validator struct {
	seen  []bool
	order []int32 // node ids in breadth-first order
	pos   []int32 // node id -> position in order
}

// addTree validates tree t (index ti) and appends its nodes to m.nodes: every child, feature,
// decision type and category index must be in range, and walking from the root must reach no
// node twice (so there is no cycle and no shared subtree).
func (v *validator) addTree(m *model, ti int, t *rawTree) error {
	nl := t.numLeaves
	ni := nl - 1 // splits
	if nl == 1 {
		m.nodes = append(m.nodes, node{threshold: t.leafValue[0], left: -1})
		return nil
	}
	n := ni + nl
	catBase := int32(len(m.cats))
	for c := 0; c < t.numCat; c++ {
		m.cats = append(m.cats, catRange{
			start: int32(len(m.catWords)) + int32(t.catBoundaries[c]),
			end:   int32(len(m.catWords)) + int32(t.catBoundaries[c+1]),
		})
	}
	for _, w := range t.catThreshold {
		m.catWords = append(m.catWords, uint32(w))
	}
	id := func(child int64) (int32, bool) {
		if child >= 0 {
			return int32(child), child < int64(ni)
		}
		leaf := ^child
		return int32(int64(ni) + leaf), leaf < int64(nl)
	}
	v.seen = slices.Grow(v.seen[:0], n)[:n]
	clear(v.seen)
	v.pos = slices.Grow(v.pos[:0], n)[:n]
	v.order = append(v.order[:0], 0)
	v.seen[0] = true
	for k := 0; k < len(v.order); k++ {
		i := v.order[k]
		v.pos[i] = int32(k)
		if int(i) >= ni {
			continue // a leaf
		}
		if f := t.splitFeature[i]; f >= int64(m.width) {
			return loadErr("Tree=%d: split %d is on feature %d, model has %d features", ti, i, f, m.width)
		}
		dt := t.decisionType[i]
		if dt&^0b1111 != 0 || (dt>>2)&3 == 3 {
			return loadErr("Tree=%d: split %d has decision_type %d (want categorical bit 1, default-left bit 2, missing type 0-2 in bits 3-4)", ti, i, dt)
		}
		if dt&1 != 0 {
			c := t.threshold[i]
			if c != math.Trunc(c) || c < 0 || c >= float64(t.numCat) {
				return loadErr("Tree=%d: categorical split %d has threshold %v, not a category set in [0, num_cat=%d)", ti, i, c, t.numCat)
			}
		}
		for _, c := range [2]int64{t.leftChild[i], t.rightChild[i]} {
			cid, ok := id(c)
			if !ok {
				return loadErr("Tree=%d: split %d has child %d, outside the tree's %d splits and %d leaves", ti, i, c, ni, nl)
			}
			if v.seen[cid] {
				return loadErr("Tree=%d: node %d is reached twice from the root (a cycle or a shared subtree)", ti, c)
			}
			v.seen[cid] = true
			v.order = append(v.order, cid)
		}
	}

	base := int32(len(m.nodes))
	for _, i := range v.order {
		if int(i) >= ni {
			m.nodes = append(m.nodes, node{threshold: t.leafValue[int(i)-ni], left: -1})
			continue
		}
		l, _ := id(t.leftChild[i])
		nd := node{threshold: t.threshold[i], feature: uint32(t.splitFeature[i]), left: base + v.pos[l]}
		dt := t.decisionType[i]
		if dt&1 != 0 {
			nd.feature |= flagCategorical
			nd.threshold = float64(catBase) + t.threshold[i]
		} else {
			switch (dt >> 2) & 3 {
			case 1:
				nd.feature |= flagMissingZero
			case 2:
				nd.feature |= flagMissingNaN
			}
		}
		if dt&2 != 0 {
			nd.feature |= flagDefaultLeft
		}
		m.nodes = append(m.nodes, nd)
	}
	return nil
}

func (m *model) NumFeatures() int { return m.width }

// String describes the model's shape, for logs.
func (m *model) String() string {
	kind := "regression"
	switch m.obj {
	case objBinary:
		kind = "binary classifier"
	case objMulticlass, objOVA:
		kind = fmt.Sprintf("%d-class classifier", m.classes)
	}
	return fmt.Sprintf("lightgbm %s, %d trees, %d nodes, %d features", kind, len(m.roots), len(m.nodes), m.width)
}

// rootLanes starts every lane of walk at root.
func rootLanes(root int32) (idx [laneWidth]int32) {
	for l := range idx {
		idx[l] = root
	}
	return idx
}

// sameRow fills every lane with x.
func sameRow(x []float64) (lanes [laneWidth][]float64) {
	for l := range lanes {
		lanes[l] = x
	}
	return lanes
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// leaf walks the tree rooted at i for x and returns its leaf value.
func (m *model) leaf(i int32, x []float64) float64 {
	nodes := m.nodes
	for {
		n := &nodes[i]
		if n.left < 0 {
			return n.threshold
		}
		v := x[n.feature&featureMask]
		if n.feature&(flagCategorical|flagMissingZero) != 0 || v != v {
			i = m.slowStep(n, v)
			continue
		}
		if math.Abs(v) <= kZeroThreshold {
			v = 0
		}
		i = n.left + b2i(!(v <= n.threshold))
	}
}

// slowStep is the step from split n for a missing value, a Zero missing type or a categorical
// split, following LightGBM's Tree::NumericalDecision and Tree::CategoricalDecision.
func (m *model) slowStep(n *node, v float64) int32 {
	if math.Abs(v) <= kZeroThreshold {
		v = 0
	}
	if n.feature&flagCategorical != 0 {
		// NaN and negative categories go right; C++'s int cast truncates, so (-1, 0) is 0.
		if !(v > -1 && v < math.MaxInt32) {
			return n.left + 1
		}
		c := uint32(int32(v))
		r := m.cats[int(n.threshold)]
		w := r.start + int32(c/32)
		if w < r.end && m.catWords[w]>>(c%32)&1 != 0 {
			return n.left
		}
		return n.left + 1
	}
	nanType := n.feature&flagMissingNaN != 0
	if v != v && !nanType {
		v = 0
	}
	if (n.feature&flagMissingZero != 0 && v == 0) || (nanType && v != v) {
		return n.left + b2i(n.feature&flagDefaultLeft == 0)
	}
	return n.left + b2i(!(v <= n.threshold))
}

// laneWidth is how many paths walk follows at once.
const laneWidth = 8

// walk walks laneWidth independent paths at once, lane l from node idx[l] for row x[l], and
// returns the leaf values they reach. The walks do not depend on each other, so the CPU
// overlaps their loads instead of waiting on one chain of dependent loads: one row through
// several trees (Predict) or several rows through one tree (PredictBatch).
func (m *model) walk(idx [laneWidth]int32, x *[laneWidth][]float64) (out [laneWidth]float64) {
	nodes := m.nodes
	for {
		active := false
		for l := range idx {
			n := &nodes[idx[l]]
			if n.left < 0 {
				continue
			}
			active = true
			v := x[l][n.feature&featureMask]
			if n.feature&(flagCategorical|flagMissingZero) != 0 || v != v {
				idx[l] = m.slowStep(n, v)
				continue
			}
			if math.Abs(v) <= kZeroThreshold {
				v = 0
			}
			idx[l] = n.left + b2i(!(v <= n.threshold))
		}
		if !active {
			for l, i := range idx {
				out[l] = nodes[i].threshold
			}
			return out
		}
	}
}

// raw sums the trees' outputs for x into out (len m.classes) in tree order, as
// GBDT::PredictRaw does, and averages them for random-forest models. It walks laneWidth trees
// at a time.
func (m *model) raw(x []float64, out []float64) {
	clear(out)
	k := m.classes
	rows := sameRow(x)
	for start := 0; start < len(m.roots); start += laneWidth {
		roots := m.roots[start:min(start+laneWidth, len(m.roots))]
		var idx [laneWidth]int32
		for l := range idx {
			idx[l] = roots[min(l, len(roots)-1)] // spare lanes repeat the last tree
		}
		v := m.walk(idx, &rows)
		for l := range roots {
			out[(start+l)%k] += v[l]
		}
	}
	if m.average {
		for c := range out {
			out[c] /= float64(m.iterations)
		}
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

var errOverflow = fmt.Errorf("%w: lightgbm: a score is not finite (feature values or model leaves too large?)", serving.ErrModel)

// maxStackClasses is how many classes Predict scores without allocating scratch space.
const maxStackClasses = 32

func (m *model) check(x []float64) error {
	if len(x) != m.width {
		return fmt.Errorf("%w: lightgbm: expected %d features, got %d", serving.ErrSchemaMismatch, m.width, len(x))
	}
	return nil
}

// Predict scores x. NaN values are missing (see the package documentation for where they go).
func (m *model) Predict(x []float64) (serving.Prediction, error) {
	if err := m.check(x); err != nil {
		return serving.Prediction{}, err
	}
	var buf [maxStackClasses]float64
	z := buf[:]
	if m.classes > len(z) {
		z = make([]float64, m.classes)
	}
	z = z[:m.classes]
	m.raw(x, z)
	var p serving.Prediction
	v, hasValue, err := m.finish(z, &p)
	if err != nil {
		return serving.Prediction{}, err
	}
	if hasValue {
		p.Value = &v
	}
	return p, nil
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// finish turns raw scores z (overwritten) into p's label and scores, as the objective's
// ConvertOutput does, and returns the value of a regression.
func (m *model) finish(z []float64, p *serving.Prediction) (value float64, hasValue bool, err error) {
	for _, v := range z {
		if !finite(v) {
			return 0, false, errOverflow
		}
	}
	switch m.obj {
	case objIdentity, objSqrt, objExp, objXentropy:
		v := z[0]
		switch m.obj {
		case objSqrt:
			v = math.Copysign(v*v, v)
		case objExp:
			v = math.Exp(v)
		case objXentropy:
			v = sigmoid(v)
		}
		if !finite(v) {
			return 0, false, errOverflow
		}
		return v, true, nil
	case objBinary:
		pr := sigmoid(m.sigmoid * z[0])
		label := m.labels[0]
		if pr > 0.5 {
			label = m.labels[1]
		}
		p.Label = label
		p.Scores = map[string]float64{m.labels[0]: 1 - pr, m.labels[1]: pr}
		return 0, false, nil
	}
	best := 0
	for k, v := range z {
		if v > z[best] {
			best = k
		}
	}
	scores := make(map[string]float64, len(z))
	if m.obj == objOVA {
		for k, v := range z {
			scores[m.labels[k]] = sigmoid(m.sigmoid * v)
		}
	} else { // Common::Softmax
		hi := z[best]
		var sum float64
		for k, v := range z {
			z[k] = math.Exp(v - hi)
			sum += z[k]
		}
		for k, e := range z {
			scores[m.labels[k]] = e / sum
		}
	}
	p.Label = m.labels[best]
	p.Scores = scores
	return 0, false, nil
}

// batchBlock is how many rows PredictBatch walks through each tree before moving to the next
// tree.
const batchBlock = 64

// PredictBatch scores xs into out; errs[i] reports a row's failure (then out[i] is empty). It
// allocates one slice for the batch's raw scores, one for its values (regression), and for
// classifiers each row's scores map; nothing else per row. Results equal Predict's exactly.
func (m *model) PredictBatch(xs [][]float64, out []serving.Prediction, errs []error) error {
	if len(out) != len(xs) || len(errs) != len(xs) {
		return fmt.Errorf("%w: lightgbm: batch of %d rows needs %d outputs and errors, got %d and %d",
			serving.ErrModel, len(xs), len(xs), len(out), len(errs))
	}
	var vals []float64
	if !m.classifier() {
		vals = make([]float64, len(xs))
	}
	k := m.classes
	acc := make([]float64, min(len(xs), batchBlock)*k)
	var laneBuf [batchBlock][]float64
	var zeros []float64 // stands in for rows of the wrong width, whose results are discarded
	for _, x := range xs {
		if len(x) != m.width {
			zeros = make([]float64, m.width)
			break
		}
	}
	for start := 0; start < len(xs); start += batchBlock {
		rows := xs[start:min(start+batchBlock, len(xs))]
		lanes := laneBuf[:0]
		for r, x := range rows {
			out[start+r], errs[start+r] = serving.Prediction{}, m.check(x)
			if len(x) != m.width {
				x = zeros
			}
			lanes = append(lanes, x)
		}
		clear(acc)
		for ti, root := range m.roots {
			c := ti % k
			r := 0
			for ; r+laneWidth <= len(lanes); r += laneWidth {
				v := m.walk(rootLanes(root), (*[laneWidth][]float64)(lanes[r:r+laneWidth]))
				for l := range v {
					acc[(r+l)*k+c] += v[l]
				}
			}
			for ; r < len(lanes); r++ {
				acc[r*k+c] += m.leaf(root, lanes[r])
			}
		}
		for r := range rows {
			i := start + r
			if errs[i] != nil {
				continue
			}
			z := acc[r*k : (r+1)*k]
			if m.average {
				for c := range z {
					z[c] /= float64(m.iterations)
				}
			}
			v, ok, err := m.finish(z, &out[i])
			if err != nil {
				out[i], errs[i] = serving.Prediction{}, err
				continue
			}
			if ok {
				vals[i] = v
				out[i].Value = &vals[i]
			}
		}
	}
	return nil
}
